// slapd_server: a real /usr/sbin/slapd (back-mdb, slapd.conf) per test, on
// 127.0.0.1 at a free port and on an ldapi socket in its own temporary
// directory, with the project schema, sample data and ACLs that give the
// ldapmda service identities write access. It can be stopped, restarted on
// the same data and port, paused (SIGSTOP), resumed and killed, so tests
// can exercise fail-over and hung servers. When started from the main
// thread, slapd is also killed if the test process dies (PR_SET_PDEATHSIG),
// so a crashed test leaves no slapd behind.
#ifndef LDAPMDA_TESTS_SUPPORT_SLAPD_SERVER_H_
#define LDAPMDA_TESTS_SUPPORT_SLAPD_SERVER_H_

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "support/ldap_client.h"
#include "support/process.h"

namespace ldapmda::testing {

struct SlapdOptions {
  bool load_ldapmda_schema = true;  // include the project's ldapmda.schema
  // Base entries, ou=people, ou=services, the service entry and the sample
  // users: uid=alice|bob|carol (<uid>@example.com) and uid=dup1|dup2 (both
  // mail: dup@example.com), all inetOrgPerson below ou=people.
  bool load_sample_data = true;
  std::string suffix = "dc=example,dc=com";
  long maxentrysize = 20 * 1024 * 1024;  // back-mdb maxentrysize (0: unset)
  long sockbuf_max_incoming_auth = 32 * 1024 * 1024;
  long maxsize = 1L << 30;  // back-mdb maxsize (map size)
  int sizelimit = 500;
  std::vector<std::string> extra_ldif;  // applied as rootdn after the above
  // back-mdb dbnosync: commits skip fsync (a killed slapd still keeps
  // them; only a machine crash would not). Set false for timing runs.
  bool dbnosync = true;
  // slapd -d level. "none" keeps quiet but still prints fatal errors;
  // "0" would hide even those. "stats" logs every operation.
  std::string debug_level = "none";
};

class SlapdServer {
 public:
  // Starts slapd and loads the data. Throws std::runtime_error (with the
  // slapd log) when it does not come up within ~10 s.
  explicit SlapdServer(SlapdOptions options = {});
  // Stops slapd; the temporary directory goes with it.
  ~SlapdServer();
  SlapdServer(const SlapdServer&) = delete;
  SlapdServer& operator=(const SlapdServer&) = delete;

  // Starts slapd again (same config, data and port) after Stop() or Kill().
  // No-op while running. Throws like the constructor.
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

  bool running() const { return pid_ > 0; }
  bool paused() const { return paused_; }
  pid_t pid() const { return pid_; }

  std::string uri() const;        // "ldap://127.0.0.1:PORT"
  std::string ldapi_uri() const;  // "ldapi://%2Ftmp%2F...%2Fldapi"
  std::string ldapi_path() const;
  int port() const { return port_; }
  const std::string& suffix() const { return options_.suffix; }
  std::string admin_dn() const { return "cn=admin," + suffix(); }
  std::string admin_password() const { return "secret"; }
  std::string service_dn() const {
    return "cn=ldapmda,ou=services," + suffix();
  }
  std::string service_password() const { return "mdapass"; }
  std::string people_dn() const { return "ou=people," + suffix(); }
  // "uid=<uid>,ou=people,<suffix>".
  std::string UserDn(std::string_view uid) const;
  // The temporary directory holding slapd.conf, data/, the socket and log.
  const std::string& dir() const { return dir_.path(); }
  // slapd's stderr so far (all runs).
  std::string log() const;

  // Clients bound as the rootdn and as the service DN over TCP.
  LdapClient Admin() const;
  LdapClient Service() const;

 private:
  std::string ConfigText() const;
  std::string AccessText() const;
  // One attempt to run slapd; false if the port was taken meanwhile.
  bool TryStart();
  // Waits until TCP and ldapi accept connections or slapd exits.
  bool WaitUntilReady();
  [[noreturn]] void Fail(const std::string& why);
  void LoadSampleData();
  void AddBaseEntry(LdapClient& admin);
  void AddUser(LdapClient& admin, const std::string& uid,
               const std::string& mail);
  void Signal(int sig) const;
  void Reap();

  SlapdOptions options_;
  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool paused_ = false;
};

}  // namespace ldapmda::testing

#endif  // LDAPMDA_TESTS_SUPPORT_SLAPD_SERVER_H_
