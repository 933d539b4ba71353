// ldap_client: see ldap_client.h. Every libldap allocation is owned by a
// unique_ptr with the matching free function.
#include "support/ldap_client.h"

#include <ldif.h>
#include <strings.h>
#include <sys/time.h>

#include <algorithm>
#include <deque>
#include <utility>

namespace ldapmda::testing {
namespace {

struct MsgDeleter {
  void operator()(LDAPMessage* m) const { ldap_msgfree(m); }
};
struct BerDeleter {
  void operator()(BerElement* b) const { ber_free(b, 0); }
};
struct MemDeleter {
  void operator()(char* p) const { ldap_memfree(p); }
};
struct ValuesDeleter {
  void operator()(berval** v) const { ldap_value_free_len(v); }
};
struct BervalDeleter {
  void operator()(berval* b) const { ber_bvfree(b); }
};
struct LdifDeleter {
  void operator()(LDIFFP* f) const { ldif_close(f); }
};
// The buffer ldif_read_record grows with ber_memrealloc.
struct LdifBuffer {
  LdifBuffer() = default;
  ~LdifBuffer() { ber_memfree(data); }
  LdifBuffer(const LdifBuffer&) = delete;
  LdifBuffer& operator=(const LdifBuffer&) = delete;
  char* data = nullptr;
  int capacity = 0;
};
// An LDIFRecord's internals (the record itself lives on the stack).
struct LdifRecordDone {
  void operator()(LDIFRecord* r) const { ldap_ldif_record_done(r); }
};

using MsgPtr = std::unique_ptr<LDAPMessage, MsgDeleter>;
using BerPtr = std::unique_ptr<BerElement, BerDeleter>;
using MemPtr = std::unique_ptr<char, MemDeleter>;
using ValuesPtr = std::unique_ptr<berval*, ValuesDeleter>;

// A non-owning berval over `s`; libldap does not write through it.
berval View(const std::string& s) {
  return berval{s.size(), const_cast<char*>(s.data())};
}

// Builds the NULL-terminated LDAPMod* array libldap wants, pointing into
// storage owned here and into the caller's strings.
class ModList {
 public:
  void Add(int op, const std::string& attr,
           const std::vector<std::string>& values) {
    std::vector<berval>& vals = vals_.emplace_back();
    std::vector<berval*>& ptrs = ptrs_.emplace_back();
    for (const std::string& v : values) vals.push_back(View(v));
    for (berval& v : vals) ptrs.push_back(&v);
    ptrs.push_back(nullptr);
    LDAPMod& mod = mods_.emplace_back();
    mod.mod_op = op | LDAP_MOD_BVALUES;
    mod.mod_type = const_cast<char*>(attr.c_str());
    mod.mod_bvalues = values.empty() ? nullptr : ptrs.data();
  }

  LDAPMod** get() {
    list_.clear();
    for (LDAPMod& m : mods_) list_.push_back(&m);
    list_.push_back(nullptr);
    return list_.data();
  }

 private:
  std::deque<std::vector<berval>> vals_;
  std::deque<std::vector<berval*>> ptrs_;
  std::deque<LDAPMod> mods_;
  std::vector<LDAPMod*> list_;
};

TestEntry ParseEntry(LDAP* ld, LDAPMessage* msg) {
  TestEntry entry;
  const MemPtr dn(ldap_get_dn(ld, msg));
  if (dn) entry.dn = dn.get();
  BerElement* raw_ber = nullptr;
  MemPtr attr(ldap_first_attribute(ld, msg, &raw_ber));
  const BerPtr ber(raw_ber);
  for (; attr; attr.reset(ldap_next_attribute(ld, msg, ber.get()))) {
    std::vector<std::string>& out = entry.attrs[attr.get()];
    const ValuesPtr values(ldap_get_values_len(ld, msg, attr.get()));
    for (berval** v = values.get(); v != nullptr && *v != nullptr; ++v) {
      out.emplace_back((*v)->bv_val, (*v)->bv_len);
    }
  }
  return entry;
}

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

std::string Str(const berval& bv) {
  return bv.bv_val == nullptr ? std::string()
                              : std::string(bv.bv_val, bv.bv_len);
}

}  // namespace

bool AttrNameLess::operator()(std::string_view a, std::string_view b) const {
  const int c = strncasecmp(a.data(), b.data(), std::min(a.size(), b.size()));
  return c != 0 ? c < 0 : a.size() < b.size();
}

std::string TestEntry::First(std::string_view attr) const {
  const std::vector<std::string>& values = Values(attr);
  return values.empty() ? std::string() : values.front();
}

const std::vector<std::string>& TestEntry::Values(std::string_view attr) const {
  static const std::vector<std::string> kNone;
  const auto it = attrs.find(attr);
  return it == attrs.end() ? kNone : it->second;
}

void LdapClient::LdapDeleter::operator()(LDAP* ld) const {
  ldap_unbind_ext_s(ld, nullptr, nullptr);
}

LdapClient::LdapClient(const std::string& uri,
                       std::chrono::milliseconds timeout)
    : uri_(uri) {
  LDAP* ld = nullptr;
  const int rc = ldap_initialize(&ld, uri.c_str());
  if (rc != LDAP_SUCCESS) {
    throw LdapError(rc, "ldap_initialize " + uri + ": " + ldap_err2string(rc));
  }
  ld_.reset(ld);
  const int version = LDAP_VERSION3;
  ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
  ldap_set_option(ld, LDAP_OPT_REFERRALS, nullptr);  // LDAP_OPT_OFF
  SetTimeout(timeout);
}

LdapClient::LdapClient(const std::string& uri, const std::string& bind_dn,
                       const std::string& password,
                       std::chrono::milliseconds timeout)
    : LdapClient(uri, timeout) {
  berval cred = View(password);
  // LDAP_SASL_SIMPLE is a null mechanism.
  Bind(bind_dn.empty() ? nullptr : bind_dn.c_str(), nullptr, &cred);
}

LdapClient LdapClient::External(const std::string& uri,
                                std::chrono::milliseconds timeout) {
  LdapClient client(uri, timeout);
  // An empty initial response; without one slapd answers with a
  // challenge (saslBindInProgress) instead of binding.
  char empty[] = "";
  berval response{0, empty};
  client.Bind(nullptr, "EXTERNAL", &response);
  return client;
}

void LdapClient::Bind(const char* dn, const char* mechanism, berval* cred) {
  berval* server_cred = nullptr;
  const int rc = ldap_sasl_bind_s(ld_.get(), dn, mechanism, cred, nullptr,
                                  nullptr, &server_cred);
  ber_bvfree(server_cred);
  if (Finish(rc) != LDAP_SUCCESS) {
    Throw(rc, std::string("bind as ") + (dn != nullptr ? dn : "anonymous") +
                  (mechanism != nullptr ? std::string(" ") + mechanism : ""));
  }
}

void LdapClient::SetTimeout(std::chrono::milliseconds timeout) {
  const timeval tv = ToTimeval(timeout);
  ldap_set_option(ld_.get(), LDAP_OPT_TIMEOUT, &tv);
  ldap_set_option(ld_.get(), LDAP_OPT_NETWORK_TIMEOUT, &tv);
}

int LdapClient::Finish(int rc) {
  char* text = nullptr;
  ldap_get_option(ld_.get(), LDAP_OPT_DIAGNOSTIC_MESSAGE, &text);
  const MemPtr owned(text);
  last_message_ = text != nullptr ? text : "";
  return rc;
}

void LdapClient::Throw(int rc, const std::string& what) const {
  std::string text = uri_ + ": " + what + ": " + ldap_err2string(rc) + " (" +
                     std::to_string(rc) + ")";
  if (!last_message_.empty()) text += ": " + last_message_;
  throw LdapError(rc, text);
}

std::vector<TestEntry> LdapClient::Search(
    const std::string& base, int scope, const std::string& filter,
    const std::vector<std::string>& attrs) {
  std::vector<char*> names;
  for (const std::string& a : attrs)
    names.push_back(const_cast<char*>(a.c_str()));
  names.push_back(nullptr);
  LDAPMessage* raw = nullptr;
  // No timeout argument: libldap then waits for LDAP_OPT_TIMEOUT.
  const int rc =
      ldap_search_ext_s(ld_.get(), base.c_str(), scope, filter.c_str(),
                        attrs.empty() ? nullptr : names.data(), 0, nullptr,
                        nullptr, nullptr, 0, &raw);
  const MsgPtr result(raw);
  if (Finish(rc) != LDAP_SUCCESS) Throw(rc, "search " + base + " " + filter);
  std::vector<TestEntry> entries;
  for (LDAPMessage* m = ldap_first_entry(ld_.get(), raw); m != nullptr;
       m = ldap_next_entry(ld_.get(), m)) {
    entries.push_back(ParseEntry(ld_.get(), m));
  }
  return entries;
}

std::optional<TestEntry> LdapClient::Read(
    const std::string& dn, const std::vector<std::string>& attrs) {
  try {
    std::vector<TestEntry> found =
        Search(dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs);
    if (found.empty()) return std::nullopt;
    return std::move(found.front());
  } catch (const LdapError& e) {
    if (e.code() == LDAP_NO_SUCH_OBJECT) return std::nullopt;
    throw;
  }
}

int LdapClient::Add(const std::string& dn, const AttrMap& attrs) {
  ModList mods;
  for (const auto& [name, values] : attrs) mods.Add(LDAP_MOD_ADD, name, values);
  return Finish(
      ldap_add_ext_s(ld_.get(), dn.c_str(), mods.get(), nullptr, nullptr));
}

int LdapClient::Modify(const std::string& dn,
                       const std::vector<Modification>& changes) {
  ModList mods;
  for (const Modification& m : changes) mods.Add(m.op, m.attr, m.values);
  return Finish(
      ldap_modify_ext_s(ld_.get(), dn.c_str(), mods.get(), nullptr, nullptr));
}

int LdapClient::Delete(const std::string& dn) {
  return Finish(ldap_delete_ext_s(ld_.get(), dn.c_str(), nullptr, nullptr));
}

void LdapClient::ApplyLdif(std::string_view ldif) {
  std::string text(ldif);
  const std::unique_ptr<LDIFFP, LdifDeleter> file(
      ldif_open_mem(text.data(), text.size(), "r"));
  if (!file) throw LdapError(LDAP_OTHER, "ldif_open_mem failed");
  LdifBuffer buf;
  unsigned long next_line = 0;
  for (unsigned long line = 1;; line = next_line + 1) {
    const int rc =
        ldif_read_record(file.get(), &next_line, &buf.data, &buf.capacity);
    if (rc == 0) return;
    if (rc < 0) throw LdapError(LDAP_OTHER, "unreadable LDIF");
    ApplyRecord(buf.data, line);
  }
}

void LdapClient::ApplyRecord(char* record, unsigned long line) {
  berval text{0, record};  // bv_len is not used
  LDIFRecord lr{};
  const int parsed =
      ldap_parse_ldif_record(&text, line, &lr, "ldap_client", LDIF_DEFAULT_ADD);
  if (parsed != LDAP_SUCCESS) {
    throw LdapError(parsed, "bad LDIF record at line " + std::to_string(line));
  }
  const std::unique_ptr<LDIFRecord, LdifRecordDone> done(&lr);
  const char* dn = lr.lr_dn.bv_val;
  int rc = LDAP_SUCCESS;
  switch (lr.lr_op) {
    case 0:  // e.g. "version: 1" alone
      return;
    case LDAP_REQ_ADD:
      rc = ldap_add_ext_s(ld_.get(), dn, lr.lrop_mods, lr.lr_ctrls, nullptr);
      break;
    case LDAP_REQ_MODIFY:
      rc = ldap_modify_ext_s(ld_.get(), dn, lr.lrop_mods, lr.lr_ctrls, nullptr);
      break;
    case LDAP_REQ_DELETE:
      rc = ldap_delete_ext_s(ld_.get(), dn, lr.lr_ctrls, nullptr);
      break;
    case LDAP_REQ_MODRDN:
      rc = ldap_rename_s(ld_.get(), dn, lr.lrop_newrdn.bv_val,
                         lr.lrop_newsup.bv_val, lr.lrop_delold, lr.lr_ctrls,
                         nullptr);
      break;
    default:
      throw LdapError(LDAP_NOT_SUPPORTED, "LDIF line " + std::to_string(line) +
                                              ": unsupported changetype");
  }
  if (Finish(rc) != LDAP_SUCCESS) Throw(rc, "LDIF record " + Str(lr.lr_dn));
}

std::string LdapClient::WhoAmI() {
  berval* raw = nullptr;
  const int rc = ldap_whoami_s(ld_.get(), &raw, nullptr, nullptr);
  const std::unique_ptr<berval, BervalDeleter> authzid(raw);
  if (Finish(rc) != LDAP_SUCCESS) Throw(rc, "whoami");
  return authzid ? Str(*authzid) : std::string();
}

}  // namespace ldapmda::testing
