// config: ldapmda.conf and -o overrides, read with Boost.ProgramOptions.
// Every key has its name, default and check here; conf/ldapmda.conf and
// ldapmda.conf(5) document them. Lookup keys reuse Postfix ldap_table(5) names.
#ifndef LDAPMDA_CONFIG_H_
#define LDAPMDA_CONFIG_H_

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace ldapmda {

inline constexpr char kDefaultConfigFile[] = "/etc/ldapmda/ldapmda.conf";

enum class Scope { kBase, kOne, kSub };
enum class BindMethod { kNone, kSimple, kSasl };
enum class TlsRequireCert { kNever, kAllow, kTry, kDemand };
enum class LogTarget { kSyslog, kStderr };

struct Config {
  // Directory access (ldap_table(5) names).
  std::vector<std::string> server_host{"ldap://localhost"};
  std::vector<std::string> store_host;  // empty: use server_host
  // ldapmbox's reads (lookup, listing, reports, export): a search
  // replica with the search indexes. Empty: use server_host.
  std::vector<std::string> search_host;
  std::string search_base;  // required
  Scope scope = Scope::kSub;
  std::string query_filter = "(mail=%s)";
  BindMethod bind = BindMethod::kNone;
  std::string bind_dn;
  std::string bind_pw_file;
  std::string sasl_mech = "EXTERNAL";
  bool start_tls = false;
  std::string tls_ca_cert_file;
  TlsRequireCert tls_require_cert = TlsRequireCert::kDemand;
  std::chrono::milliseconds timeout{10000};
  int version = 3;
  // Recipients (ldapmda.conf(5) "MAILBOX POLICY").
  std::string recipient_delimiter;  // empty: no address extensions
  bool extension_folder = true;     // the extension names the folder
  // Two characters: the delimiter before a VERP extension and the one
  // that stands for @ in it ("+=": bounces+bob=example.org@...); empty:
  // extensions are never decoded as VERP.
  std::string verp_delimiters;
  std::string catchall_query_filter;     // empty: no catch-all lookup
  std::string account_status_attribute;  // empty: no status check
  std::vector<std::string> account_disabled_values{"disabled"};
  std::string quota_attribute;  // empty: no quota, no usage counters
  bool quota_full_tempfail = false;
  // Replica confirmation, a write concern (ldapmda.conf(5) "REPLICATED
  // DIRECTORIES"): after the add, the entry must be visible on
  // confirm_count of the confirm_host replicas within confirm_timeout.
  std::vector<std::string> confirm_host;  // empty: no confirmation
  std::size_t confirm_count = 0;          // 0: all of confirm_host
  std::chrono::milliseconds confirm_timeout{10000};
  // Storage and limits.
  std::string mailbox_dn = "cn=mailbox,{dn}";
  std::size_t max_message_size = 10485760;
  std::chrono::milliseconds deadline{60000};
  LogTarget log = LogTarget::kSyslog;
  // LMTP mode (--lmtp).
  std::chrono::milliseconds lmtp_timeout{300000};  // idle, as RFC 5321
  std::size_t lmtp_max_recipients = 1000;          // per transaction
  // How long a session reuses a recipient lookup; 0: never.
  std::chrono::milliseconds lmtp_lookup_cache{1000};

  bool tracks_usage() const { return !quota_attribute.empty(); }
  // How many replicas must confirm a store; 0 when none are asked.
  std::size_t RequiredConfirmations() const {
    return confirm_count == 0 ? confirm_host.size() : confirm_count;
  }
  const std::vector<std::string>& StoreHosts() const {
    return store_host.empty() ? server_host : store_host;
  }
  const std::vector<std::string>& SearchHosts() const {
    return search_host.empty() ? server_host : search_host;
  }
};

// A configuration problem, with the file and line (or the -o option) in
// what(). Reported as 4.3.5: a broken configuration defers, never bounces.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An unusable command line (ldapmda's argv from master.cf, ldapmbox's).
// ldapmda reports it as 4.3.5, so that the mail defers.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads `path`, then applies each "key=value" of `overrides` on top.
// Unknown keys, bad values and a missing search_base are errors.
// Throws ConfigError.
Config LoadConfig(const std::string& path,
                  const std::vector<std::string>& overrides);

// Every key LoadConfig knows, sorted (for the documentation test).
std::vector<std::string> ConfigKeys();

// Reads the bind password: the first line of the file, without its line
// end. Throws ConfigError when the file cannot be read.
std::string ReadPasswordFile(const std::string& path);

}  // namespace ldapmda

#endif  // LDAPMDA_CONFIG_H_
