// slapd_server: a real /usr/sbin/slapd (back-mdb, slapd.conf) per test, on
// 127.0.0.1 at a free port and on an ldapi socket in its own temporary
// directory, with the project schema, sample data and ACLs that give the
// ldapmda service identities write access. It can be stopped, restarted on
// the same data and port, paused (SIGSTOP), resumed and killed, so tests
// can exercise fail-over and hung servers. When started from the main
// thread, slapd is also killed if the test process dies (PR_SET_PDEATHSIG),
// so a crashed test leaves no slapd behind.
//
// Besides a standalone server it can run as a node of a replicated
// directory: a provider of the two-node multi-provider pair, configured
// from the SHIPPED conf/slapd-multiprovider.conf (or, with cn_config, from
// conf/slapd-multiprovider.ldif loaded with slapadd -n0 into a cn=config
// directory) with only paths, URLs and passwords substituted, so the tests
// prove the shipped files work; the search replica of the shipped
// conf/slapd-replica.conf (.ldif) consuming from that pair; or a generated
// read-only syncrepl consumer. It can
// also run the SHIPPED single-server conf/slapd.conf (kShipped), so tests
// prove its limits and ACLs, and serve TLS (StartTLS, and ldaps:// on a
// second port) with certificates the test provides.
//
// ldapmda-test-slapd (slapd_main.cpp) runs it from the command line, for
// bench/run and scripts/demo.
#ifndef LDAPMDA_TESTS_SUPPORT_SLAPD_SERVER_H_
#define LDAPMDA_TESTS_SUPPORT_SLAPD_SERVER_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/ldap_client.h"
#include "support/process.h"

namespace ldapmda::testing {

enum class SlapdMode {
  // A generated slapd.conf as described by the options below.
  kStandalone,
  // Node `server_id` (1 or 2) of conf/slapd-multiprovider.conf (.ldif with
  // cn_config) replicating with `peer_uri`. That file decides the schema,
  // sizes, limits, indexes and ACLs (those of conf/slapd.conf): the
  // options load_ldapmda_schema, maxentrysize, sockbuf_max_incoming_auth,
  // maxsize, sizelimit and dbnosync do not apply, and suffix must be
  // dc=example,dc=com. The sample data adds the replicator entry; load it
  // on one node only: the other one replicates it.
  kProvider,
  // A generated slapd.conf (as kStandalone) whose database is a read-only
  // syncrepl consumer of `provider_uri` (a kProvider node), bound as the
  // replicator. It loads no data (sample or extra_ldif): everything
  // replicates. Writes other than its own replication are refused: with
  // `update_referral` by a referral to the provider (10), without it by
  // "shadow context" (53, unwillingToPerform).
  kConsumer,
  // The shipped conf/slapd.conf, with only the paths (pid and args files,
  // database directory, the ldapmda schema include) substituted, a rootdn
  // and rootpw line uncommented for loading the data, and its TLS lines
  // uncommented with the tls_* files when those are set. That file decides
  // the schema, sizes, limits, indexes and ACLs: the options
  // load_ldapmda_schema, maxentrysize, sockbuf_max_incoming_auth, maxsize,
  // sizelimit and dbnosync do not apply, and suffix must be
  // dc=example,dc=com. The sample data loads as with kStandalone.
  kShipped,
  // The search replica of conf/slapd-replica.conf (.ldif with cn_config):
  // a read-only syncrepl consumer of both `replica_providers` (nodes 1
  // and 2 of a kProvider pair, as the file names ldap1 and ldap2), with
  // the search indexes. Only paths, URLs, passwords and a rootpw (for
  // WaitForEntry) are substituted; the file decides the rest, as for
  // kProvider. It loads no data: everything replicates.
  kReplica,
};

struct SlapdOptions {
  bool load_ldapmda_schema = true;  // include the project's ldapmda.schema
  // With load_ldapmda_schema: this file instead of the project's
  // conf/ldapmda.schema (for instance an older version of it).
  std::string schema_file;
  // Base entries, ou=people, ou=services, the service entries (ldapmda,
  // dovecot) and the sample users: uid=alice|bob|carol (<uid>@example.com)
  // and uid=dup1|dup2 (both mail: dup@example.com), all inetOrgPerson
  // below ou=people, each with the userPassword UserPassword(uid).
  bool load_sample_data = true;
  std::string suffix = "dc=example,dc=com";
  long maxentrysize = 20 * 1024 * 1024;  // back-mdb maxentrysize (0: unset)
  long sockbuf_max_incoming_auth = 32 * 1024 * 1024;
  long maxsize = 1L << 30;  // back-mdb maxsize (map size)
  int sizelimit = 500;
  // When not empty, replaces "sizelimit N" as the whole directive's
  // arguments, e.g. "size.soft=500 size.hard=500 size.prtotal=unlimited"
  // (paged results may then go past the limit).
  std::string sizelimit_directive;
  std::vector<std::string> extra_ldif;  // applied as rootdn after the above
  // back-mdb dbnosync: commits skip fsync (a killed slapd still keeps
  // them; only a machine crash would not). Set false for timing runs.
  bool dbnosync = true;
  // slapd -d level. "none" keeps quiet but still prints fatal errors;
  // "0" would hide even those. "stats" logs every operation. With any
  // level but "none" the configuration's loglevel becomes 0: slapd then
  // logs once, into its log file (as a syslog daemon would), not also
  // to syslog (on a machine without /dev/log every syslog() call fails
  // slowly).
  std::string debug_level = "none";

  // The passwords of the rootdn, the service DN and the replicator. The
  // defaults suit tests; a server that other local users could reach for
  // longer (ldapmda-test-slapd --private) gets random ones. No white
  // space, quotes or backslashes: they go into slapd.conf as they are.
  std::string admin_password = "secret";
  std::string service_password = "mdapass";
  std::string replicator_password = "replpass";
  // Store them (rootpw, userPassword) as {SSHA} hashes made by slappasswd,
  // as a real directory would, instead of in the clear.
  bool hash_passwords = false;
  // kStandalone and kConsumer: anonymous may read everything but the
  // passwords; false: nothing (it may still bind). The root DSE and the
  // schema stay readable.
  bool anonymous_read = true;
  // Leave the temporary directory behind when the server goes (its
  // configuration, data and log).
  bool keep_dir = false;

  SlapdMode mode = SlapdMode::kStandalone;
  // TCP port on 127.0.0.1; 0 picks a free one. Replicating nodes name each
  // other in their configuration, so pick their ports first (FreeTcpPort).
  int port = 0;
  // kProvider: which node of the shipped files this is (1 or 2) and the
  // other node's URI, "ldap://127.0.0.1:PORT" (that node's uri()).
  int server_id = 1;
  std::string peer_uri;
  // kProvider: run from a cn=config directory (slapd -F) made with
  // slapadd -n0 from conf/slapd-multiprovider.ldif, instead of slapd -f
  // with conf/slapd-multiprovider.conf.
  bool cn_config = false;
  // kReplica: the URIs of provider nodes 1 and 2 ("ldap://127.0.0.1:PORT").
  std::vector<std::string> replica_providers;
  // kProvider: uncomment the shipped file's "#dbnosync" and "#checkpoint"
  // lines (cn=config: olcDbNoSync, olcDbCheckpoint), the documented
  // off-by-default durability trade, to measure it.
  bool provider_nosync = false;
  // kShipped: when not empty, these "index ..." lines replace every index
  // directive of conf/slapd.conf (to measure what indexes cost).
  std::vector<std::string> index_lines;
  // kConsumer: the provider's URI, and whether writes get a referral to it.
  std::string provider_uri;
  bool update_referral = true;

  // TLS (not kProvider): PEM files for slapd's TLSCACertificateFile,
  // TLSCertificateFile and TLSCertificateKeyFile. With a certificate and
  // key, slapd offers StartTLS on uri(); with `ldaps` as well, it also
  // listens on ldaps_uri(), a second free port.
  std::string tls_ca_cert_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  bool ldaps = false;

  // kShipped: text replacements applied to conf/slapd.conf after the
  // substitutions, e.g. to try a changed ACL. Each `first` must occur in
  // the file (every occurrence is replaced), or the start fails.
  std::vector<std::pair<std::string, std::string>> shipped_edits;
};

// Thrown when slapd cannot listen on the fixed `port` it was given.
class SlapdPortTaken : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class SlapdServer {
 public:
  // Starts slapd and loads the data. Throws std::runtime_error (with the
  // slapd log) when it does not come up within ~10 s, SlapdPortTaken when
  // a fixed `port` is taken; std::invalid_argument for inconsistent
  // options.
  explicit SlapdServer(SlapdOptions options = {});
  // Stops slapd; the temporary directory goes with it.
  ~SlapdServer();
  SlapdServer(const SlapdServer&) = delete;
  SlapdServer& operator=(const SlapdServer&) = delete;

  // Starts slapd again (same config, data and port) after Stop() or Kill().
  // No-op while running. Throws like the constructor (SlapdPortTaken when
  // another process took the port meanwhile).
  void Start();
  // SIGCONT, SIGTERM, waits up to 5 s, then SIGKILL. Idempotent.
  void Stop();
  // SIGKILL, like a crash. Idempotent.
  void Kill();
  // SIGSTOP, returning once slapd is stopped: connections are still
  // accepted by the kernel but nothing answers, like a hung server.
  // No-op when already paused.
  void Pause();
  // SIGCONT.
  void Resume();

  // Polls (as the rootdn, reconnecting as needed, e.g. while slapd
  // restarts) until the entry `dn` exists, e.g. once it has replicated.
  // Returns it with `attrs` (default: all user attributes), or nullopt
  // when `timeout` has passed. Never waits much longer than `timeout`,
  // even on a hung server.
  std::optional<TestEntry> WaitForEntry(
      const std::string& dn,
      std::chrono::milliseconds timeout = std::chrono::seconds(30),
      const std::vector<std::string>& attrs = {}) const;

  bool running() const { return pid_ > 0; }
  bool paused() const { return paused_; }
  pid_t pid() const { return pid_; }

  std::string uri() const;  // "ldap://127.0.0.1:PORT"
  // "ldaps://127.0.0.1:PORT2" (option `ldaps`); throws std::logic_error
  // without that option.
  std::string ldaps_uri() const;
  std::string ldapi_uri() const;  // "ldapi://%2Ftmp%2F...%2Fldapi"
  std::string ldapi_path() const;
  int port() const { return port_; }
  const std::string& suffix() const { return options_.suffix; }
  std::string admin_dn() const { return "cn=admin," + suffix(); }
  const std::string& admin_password() const { return options_.admin_password; }
  std::string service_dn() const {
    return "cn=ldapmda,ou=services," + suffix();
  }
  const std::string& service_password() const {
    return options_.service_password;
  }
  // The identity the Dovecot driver binds as.
  std::string dovecot_dn() const {
    return "cn=dovecot,ou=services," + suffix();
  }
  std::string dovecot_password() const { return "dovecotpass"; }
  // The userPassword of a sample user (IMAP and POP3 logins).
  static std::string UserPassword(std::string_view uid) {
    return std::string(uid) + "pass";
  }
  // The identity syncrepl binds as (kProvider data, kConsumer config).
  std::string replicator_dn() const {
    return "cn=replicator,ou=services," + suffix();
  }
  const std::string& replicator_password() const {
    return options_.replicator_password;
  }
  SlapdMode mode() const { return options_.mode; }
  std::string people_dn() const { return "ou=people," + suffix(); }
  // "uid=<uid>,ou=people,<suffix>".
  std::string UserDn(std::string_view uid) const;
  // The temporary directory holding slapd.conf (or config.ldif and
  // slapd.d/ with cn_config), data/, the socket and log.
  const std::string& dir() const { return dir_.path(); }
  std::string log_path() const { return dir_.File("slapd.log"); }
  // slapd's stderr so far (all runs).
  std::string log() const;

  // Clients bound as the rootdn and as the service DN over TCP.
  LdapClient Admin() const;
  LdapClient Service() const;

 private:
  void CheckOptions() const;
  // How slapd stores `password`: as it is, or its {SSHA} hash.
  std::string Stored(const std::string& password) const;
  // Writes slapd.conf, or runs slapadd -n0 into slapd.d/ (cn_config).
  void WriteConfig();
  std::string ConfigText() const;
  // debug_level is set: slapd logs only into its log file.
  bool LogsToItsFile() const { return options_.debug_level != "none"; }
  std::string AccessText() const;
  // kConsumer: the syncrepl (and updateref) lines of the database.
  std::string ConsumerText() const;
  // kProvider: the shipped file (.conf or .ldif) for this node.
  std::string ProviderText(const std::string& shipped_file) const;
  // kReplica: the shipped file (.conf or .ldif), substituted.
  std::string ReplicaText(const std::string& shipped_file) const;
  // kProvider, kReplica: in the shipped .conf or .ldif `text`, the
  // schema's location, the paths, the replicator password and a rootpw.
  void SubstituteLocal(std::string& text, const std::string& file) const;
  // kShipped: conf/slapd.conf, substituted.
  std::string ShippedText() const;
  // The TLS directives for the tls_* options ("" when none is set).
  std::string TlsText() const;
  // Picks a free port for ldaps_uri() (option `ldaps`), not port_.
  void PickLdapsPort();
  std::vector<std::string> SlapdArgv() const;
  // One attempt to run slapd; false if the port was taken meanwhile.
  bool TryStart();
  // Waits until TCP and ldapi accept connections or slapd exits.
  bool WaitUntilReady();
  // Kills slapd and throws `why` with the log: SlapdPortTaken when
  // `port_taken`, else std::runtime_error.
  [[noreturn]] void Fail(const std::string& why, bool port_taken = false);
  void LoadSampleData();
  void AddBaseEntry(LdapClient& admin);
  void AddServiceEntry(LdapClient& admin, const std::string& dn,
                       const std::string& stored_password);
  void AddUser(LdapClient& admin, const std::string& uid,
               const std::string& mail);
  void Signal(int sig) const;
  void Reap();

  SlapdOptions options_;
  TempDir dir_;
  // The passwords as slapd stores them (Stored()).
  std::string stored_admin_password_;
  std::string stored_service_password_;
  std::string stored_replicator_password_;
  int port_ = 0;
  int ldaps_port_ = 0;
  pid_t pid_ = -1;
  bool paused_ = false;
};

// Nodes 1 and 2 of the shipped multi-provider pair (kProvider) on two
// free ports, each naming the other. `node1` and `node2` are their options
// but for mode, server_id, port and peer_uri, which this sets; load the
// sample data on node 1 only (node 2 replicates it). When a port was
// taken meanwhile, starts both again on two others (3 attempts). Throws
// like the SlapdServer constructor.
struct ProviderPair {
  std::unique_ptr<SlapdServer> node1;
  std::unique_ptr<SlapdServer> node2;
};
ProviderPair StartProviderPair(SlapdOptions node1, SlapdOptions node2);

// The search replica of conf/slapd-replica.conf (kReplica) consuming from
// both nodes of `pair`; `options` but for mode and replica_providers,
// which this sets. Returns once slapd answers, not once it has caught up
// (WaitForEntry). Throws like the SlapdServer constructor.
std::unique_ptr<SlapdServer> StartSearchReplica(const ProviderPair& pair,
                                                SlapdOptions options = {});

}  // namespace ldapmda::testing

#endif  // LDAPMDA_TESTS_SUPPORT_SLAPD_SERVER_H_
