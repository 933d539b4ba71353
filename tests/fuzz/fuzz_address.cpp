// libFuzzer harness: recipient addresses and the values derived from them
// that reach LDAP filters and DNs (escape.h, recipient.h).
//
// Input (FuzzedDataProvider): address, query_filter template, recipient
// delimiters, mailbox_dn template, each a "random length string" (a
// backslash followed by any other byte ends it, "\\" is one backslash),
// then the entry DN as the rest. tests/fuzz/seeds.sh writes seeds in
// this form.
//
// Invariants checked against libldap's own parsers:
// - EscapeFilterValue: printable ASCII only, no unescaped ( ) * NUL, each
//   backslash starts a hex pair; "(mail=<escaped>)" parses as an equality
//   filter whose assertion value is the input, byte for byte.
// - EscapeDnValue: "cn=<escaped>" parses as one RDN with one AVA whose
//   value is the input (valid UTF-8 input), also via FirstRdnValue.
// - ParseAddress accepts exactly what escape.h documents.
// - ExpandQueryFilter / ExpandMailboxDn: when a template gives a valid
//   filter / DN for harmless addresses, it gives one of the same shape
//   for every address ParseAddress accepts.
// - SplitExtension, StripExtension, FolderName: as recipient.h says.
#include <fuzzer/FuzzedDataProvider.h>
#include <lber.h>
#include <ldap.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "ldapmda/escape.h"
#include "ldapmda/ldap_syntax.h"
#include "ldapmda/recipient.h"
#include "ldapmda/text.h"

// libldap's RFC 4515 filter parser (ldap_pvt.h is not installed; the
// symbol is exported by libldap 2.5).
extern "C" int ldap_pvt_put_filter(BerElement* ber, const char* str);

namespace {

using ldapmda::fuzz::Fail;
using ldapmda::fuzz::IsValidUtf8;
using ldapmda::fuzz::Lower;

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// A parsed filter: its BER encoding, and the shape (the tags, with the
// primitive values left out).
struct Filter {
  std::string ber;
  std::vector<unsigned> shape;
};

// Walks DER: appends each tag, recursing into constructed ones.
bool Shape(std::string_view der, std::vector<unsigned>* out) {
  std::size_t pos = 0;
  while (pos < der.size()) {
    const auto tag = static_cast<unsigned char>(der[pos++]);
    if ((tag & 0x1F) == 0x1F || pos >= der.size()) return false;
    std::size_t len = static_cast<unsigned char>(der[pos++]);
    if (len & 0x80) {
      const std::size_t n = len & 0x7F;
      if (n == 0 || n > 4 || pos + n > der.size()) return false;
      len = 0;
      for (std::size_t k = 0; k < n; ++k) {
        len = (len << 8) | static_cast<unsigned char>(der[pos++]);
      }
    }
    if (len > der.size() - pos) return false;
    out->push_back(tag);
    if ((tag & 0x20) && !Shape(der.substr(pos, len), out)) return false;
    pos += len;
  }
  return true;
}

std::optional<Filter> ParseFilter(const std::string& text) {
  if (text.find('\0') != std::string::npos) return std::nullopt;
  BerElement* ber = ber_alloc_t(LBER_USE_DER);
  if (ber == nullptr) return std::nullopt;
  std::optional<Filter> out;
  berval bv{};
  if (ldap_pvt_put_filter(ber, text.c_str()) == 0 &&
      ber_flatten2(ber, &bv, 0) == 0) {
    Filter f{std::string(bv.bv_val, bv.bv_len), {}};
    if (!Shape(f.ber, &f.shape)) Fail(__FILE__, __LINE__, "bad BER", text);
    out = std::move(f);
  }
  ber_free(ber, 1);
  return out;
}

// The assertion value of an equality filter "(attr=value)".
std::optional<std::string> EqualityValue(const Filter& f) {
  berval in{static_cast<ber_len_t>(f.ber.size()),
            const_cast<char*>(f.ber.data())};
  BerElement* ber = ber_init(&in);
  if (ber == nullptr) return std::nullopt;
  std::optional<std::string> out;
  ber_len_t len = 0;
  berval attr{}, value{};
  if (ber_peek_tag(ber, &len) == LDAP_FILTER_EQUALITY &&
      ber_scanf(ber, "{mm}", &attr, &value) != LBER_ERROR) {
    out = std::string(value.bv_val, value.bv_len);
  }
  ber_free(ber, 1);  // ber_init copied the bytes
  return out;
}

// The AVAs of each RDN of `dn`, as (attribute, value); nullopt when
// libldap does not take it as an LDAPv3 DN.
using Rdns = std::vector<std::vector<std::pair<std::string, std::string>>>;
std::optional<Rdns> ParseDn(const std::string& dn) {
  if (dn.find('\0') != std::string::npos) return std::nullopt;
  LDAPDN parsed = nullptr;
  if (ldap_str2dn(dn.c_str(), &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS) {
    return std::nullopt;
  }
  Rdns out;
  for (int i = 0; parsed != nullptr && parsed[i] != nullptr; ++i) {
    auto& rdn = out.emplace_back();
    for (int j = 0; parsed[i][j] != nullptr; ++j) {
      const LDAPAVA* ava = parsed[i][j];
      rdn.emplace_back(std::string(ava->la_attr.bv_val, ava->la_attr.bv_len),
                       std::string(ava->la_value.bv_val, ava->la_value.bv_len));
    }
  }
  if (parsed) ldap_dnfree(parsed);
  return out;
}

void CheckFilterEscape(const std::string& value) {
  const std::string e = ldapmda::EscapeFilterValue(value);
  std::string unescaped;
  for (std::size_t i = 0; i < e.size(); ++i) {
    const auto c = static_cast<unsigned char>(e[i]);
    FUZZ_CHECK(c >= 0x20 && c < 0x7F, e);
    FUZZ_CHECK(c != '(' && c != ')' && c != '*', e);
    if (c == '\\') {
      FUZZ_CHECK(i + 2 < e.size() && IsHex(e[i + 1]) && IsHex(e[i + 2]), e);
      unescaped +=
          static_cast<char>(HexValue(e[i + 1]) * 16 + HexValue(e[i + 2]));
      i += 2;
    } else {
      unescaped += e[i];
    }
  }
  FUZZ_CHECK(unescaped == value, e);

  const auto filter = ParseFilter("(mail=" + e + ")");
  FUZZ_CHECK(filter.has_value(), e);
  FUZZ_CHECK(EqualityValue(*filter) == value, e);
}

void CheckDnEscape(const std::string& value) {
  const std::string e = ldapmda::EscapeDnValue(value);
  const auto rdns = ParseDn("cn=" + e);
  if (!IsValidUtf8(value)) {
    // libldap may refuse such a value; if it takes it, it must be exact.
    if (rdns && rdns->size() == 1 && (*rdns)[0].size() == 1) {
      FUZZ_CHECK((*rdns)[0][0].second == value, e);
    }
    return;
  }
  FUZZ_CHECK(rdns.has_value(), e);
  FUZZ_CHECK(rdns->size() == 1 && (*rdns)[0].size() == 1, e);
  FUZZ_CHECK((*rdns)[0][0].first == "cn", e);
  FUZZ_CHECK((*rdns)[0][0].second == value, e);
  FUZZ_CHECK(ldapmda::FirstRdnValue("cn=" + e + ",dc=example,dc=com") == value,
             e);
}

// What address.h documents for ParseAddress.
std::optional<ldapmda::Address> ExpectedAddress(const std::string& a) {
  if (a.empty() || a.size() > 1024) return std::nullopt;
  for (char ch : a) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) return std::nullopt;
  }
  const auto at = a.rfind('@');
  if (at == std::string::npos) return ldapmda::Address{a, a, ""};
  if (at == 0 || at + 1 == a.size()) return std::nullopt;
  return ldapmda::Address{a, a.substr(0, at), a.substr(at + 1)};
}

void CheckParseAddress(const std::string& address) {
  const auto got = ldapmda::ParseAddress(address);
  const auto want = ExpectedAddress(address);
  FUZZ_CHECK(got.has_value() == want.has_value(), address);
  if (got) {
    FUZZ_CHECK(got->text == want->text && got->local == want->local &&
                   got->domain == want->domain,
               address);
  }
}

// Whether `tmpl` (after %% handling) uses %d.
bool UsesDomain(const std::string& tmpl) {
  for (std::size_t i = 0; i + 1 < tmpl.size(); ++i) {
    if (tmpl[i] != '%') continue;
    if (tmpl[i + 1] == 'd') return true;
    ++i;
  }
  return false;
}

// Harmless addresses a sensible template must work for; the second has
// every character the escaping changes.
const char* const kProbes[] = {"user@example.com", "a(*)\\b@example.com"};

void CheckQueryFilter(const std::string& tmpl, const std::string& address,
                      bool need_local_part) {
  if (!ldapmda::ValidateQueryFilter(tmpl, need_local_part).empty()) return;
  const auto parsed = ldapmda::ParseAddress(address);
  if (!parsed) return;  // the front end refuses it before any lookup
  const auto expanded = ldapmda::ExpandQueryFilter(tmpl, *parsed);
  const bool no_domain = parsed->domain.empty();
  FUZZ_CHECK(expanded.has_value() == !(UsesDomain(tmpl) && no_domain),
             tmpl + " | " + address);
  if (!expanded) return;

  std::optional<Filter> probe;
  for (const char* p : kProbes) {
    const auto f = ParseFilter(
        *ldapmda::ExpandQueryFilter(tmpl, *ldapmda::ParseAddress(p)));
    if (!f || (probe && f->shape != probe->shape)) return;  // not sensible
    probe = f;
  }
  const auto f = ParseFilter(*expanded);
  FUZZ_CHECK(f.has_value(), tmpl + " | " + *expanded);
  FUZZ_CHECK(f->shape == probe->shape, tmpl + " | " + *expanded);
}

void CheckFixedFilters(const std::string& address) {
  const auto parsed = ldapmda::ParseAddress(address);
  if (!parsed) return;
  const auto s = ParseFilter(*ldapmda::ExpandQueryFilter("(mail=%s)", *parsed));
  FUZZ_CHECK(s && EqualityValue(*s) == address, address);
  const auto u = ParseFilter(*ldapmda::ExpandQueryFilter("(uid=%u)", *parsed));
  FUZZ_CHECK(u && EqualityValue(*u) == parsed->local, address);
  const auto d = ldapmda::ExpandQueryFilter("(associatedDomain=%d)", *parsed);
  FUZZ_CHECK(d.has_value() == !parsed->domain.empty(), address);
  if (d) {
    const auto f = ParseFilter(*d);
    FUZZ_CHECK(f && EqualityValue(*f) == parsed->domain, address);
  }
}

void CheckMailboxDn(const std::string& tmpl, const std::string& entry_dn,
                    const std::string& address) {
  const auto parsed = ldapmda::ParseAddress(address);
  if (!parsed || !IsValidUtf8(address)) return;

  // A fixed template: each placeholder's value comes back exactly.
  const std::string fixed = ldapmda::ExpandMailboxDn(
      "cn={user}+uid={domain},cn={address},{dn}", "dc=example,dc=com", *parsed);
  const auto rdns = ParseDn(fixed);
  FUZZ_CHECK(rdns.has_value(), fixed);
  FUZZ_CHECK(rdns->size() == 4, fixed);
  FUZZ_CHECK((*rdns)[0].size() == 2, fixed);
  FUZZ_CHECK((*rdns)[0][0].second == parsed->local, fixed);
  FUZZ_CHECK((*rdns)[0][1].second == parsed->domain, fixed);
  FUZZ_CHECK((*rdns)[1].size() == 1 && (*rdns)[1][0].second == address, fixed);

  // The fuzzed template, when it is sensible.
  if (!ldapmda::ValidateMailboxDn(tmpl).empty() || !ParseDn(entry_dn)) return;
  std::optional<Rdns> probe;
  for (const char* p : kProbes) {
    const auto dn = ParseDn(
        ldapmda::ExpandMailboxDn(tmpl, entry_dn, *ldapmda::ParseAddress(p)));
    if (!dn) return;
    if (probe && dn->size() != probe->size()) return;
    probe = dn;
  }
  const std::string out = ldapmda::ExpandMailboxDn(tmpl, entry_dn, *parsed);
  const auto dn = ParseDn(out);
  FUZZ_CHECK(dn.has_value(), tmpl + " | " + out);
  FUZZ_CHECK(dn->size() == probe->size(), tmpl + " | " + out);
}

void CheckFolder(std::string_view extension) {
  const std::string folder = ldapmda::FolderName(extension);
  ldapmda::fuzz::CheckDirectoryString(folder, ldapmda::kMaxFolderBytes,
                                      "FolderName");
  FUZZ_CHECK(folder == "INBOX" || Lower(folder) != "inbox", folder);
}

void CheckExtensions(const std::string& address, const std::string& delims) {
  CheckFolder(address);
  const auto parsed = ldapmda::ParseAddress(address);
  if (!parsed) return;  // the front end refuses it before any lookup
  const auto split = ldapmda::SplitExtension(*parsed, delims);
  if (split) {
    FUZZ_CHECK(!delims.empty(), address);
    FUZZ_CHECK(!split->extension.empty(), address);
    // address = base-local, one delimiter, extension, then "@domain".
    const std::string suffix =
        parsed->domain.empty() ? "" : "@" + parsed->domain;
    const std::string& local = parsed->local;
    const std::size_t base_len = local.size() - split->extension.size() - 1;
    FUZZ_CHECK(local.size() >= split->extension.size() + 2, address);
    FUZZ_CHECK(split->address.text == local.substr(0, base_len) + suffix,
               address);
    FUZZ_CHECK(delims.find(local[base_len]) != std::string::npos, address);
    FUZZ_CHECK(
        local.compare(base_len + 1, std::string::npos, split->extension) == 0,
        address);
    // Split at the first delimiter.
    FUZZ_CHECK(local.find_first_of(delims) == base_len, address);
    CheckFolder(split->extension);
  } else if (!delims.empty()) {
    const std::string& local = parsed->local;
    const auto at = local.find_first_of(delims);
    const bool list_name =
        delims.find('-') != std::string::npos &&
        (Lower(local).rfind("owner-", 0) == 0 ||
         (local.size() > 8 &&
          Lower(local).compare(local.size() - 8, 8, "-request") == 0));
    FUZZ_CHECK(list_name || at == 0 || at == std::string::npos ||
                   at + 1 == local.size(),
               address);
  }

  const auto strip = ldapmda::StripExtension(*parsed, delims);
  if (strip) {
    FUZZ_CHECK(strip->extension == delims, address);
    const std::string suffix =
        parsed->domain.empty() ? "" : "@" + parsed->domain;
    const std::string& local = parsed->local;
    FUZZ_CHECK(local.size() >= delims.size() + 2, address);
    const std::size_t base_len = local.size() - delims.size() - 1;
    FUZZ_CHECK(strip->address.text == local.substr(0, base_len) + suffix,
               address);
    FUZZ_CHECK(local.compare(base_len + 1, std::string::npos, delims) == 0,
               address);
  }
}

void CheckLower(const std::string& s) {
  const std::string l = ldapmda::AsciiLower(s);
  FUZZ_CHECK(l == Lower(s), s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  FuzzedDataProvider in(data, size);
  const std::string address = in.ConsumeRandomLengthString(2048);
  const std::string filter_tmpl = in.ConsumeRandomLengthString(512);
  const std::string delims = in.ConsumeRandomLengthString(16);
  const std::string dn_tmpl = in.ConsumeRandomLengthString(512);
  const std::string entry_dn = in.ConsumeRemainingBytesAsString();

  CheckFilterEscape(address);
  CheckDnEscape(address);
  CheckParseAddress(address);
  CheckLower(address);
  CheckFixedFilters(address);
  CheckQueryFilter(filter_tmpl, address, true);
  CheckQueryFilter(filter_tmpl, address, false);
  CheckMailboxDn(dn_tmpl, entry_dn, address);
  CheckExtensions(address, delims);
  CheckExtensions(address, "+");
  CheckExtensions(address, "-+");
  // The other strings go through the escapers too.
  CheckFilterEscape(filter_tmpl);
  CheckDnEscape(dn_tmpl);
  return 0;
}
