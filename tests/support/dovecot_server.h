// dovecot_server: a private Dovecot 2.3 per test that serves the mail of a
// SlapdServer over IMAP and POP3 through ldapmda's storage driver
// (lib20_ldapmda_plugin.so). It runs from the SHIPPED
// conf/dovecot-ldapmda.conf and conf/dovecot-ldapmda-ldap.conf.ext with
// only their documented @PLACEHOLDERS@ replaced, so the tests prove the
// shipped files work: logins are LDAP binds as the user, the driver binds
// as the Dovecot service identity with an ldapmda.conf of its own.
//
// Everything lives in one temporary directory, the instance's base_dir:
// the substituted configuration (dovecot-ldapmda.conf: not dovecot.conf,
// the name of the symlink Dovecot makes there), the LDAP lookups, the
// driver's ldapmda.conf and password file, sockets, state, dovecot.log and
// the users' Dovecot indexes (index/<user>, owned by the mail user
// nobody). Several instances may serve one directory at once: a second
// one starts with an empty index. Dovecot must run as root (mail
// processes as nobody, logins as dovenull): the tests do.
#ifndef LDAPMDA_TESTS_SUPPORT_DOVECOT_SERVER_H_
#define LDAPMDA_TESTS_SUPPORT_DOVECOT_SERVER_H_

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "support/process.h"
#include "support/slapd_server.h"

namespace ldapmda::testing {

struct DovecotOptions {
  // The identity the driver binds as, and its password (written to the
  // bind_pw_file). Empty: the slapd's Dovecot identity (dovecot_dn()).
  std::string bind_dn;
  std::string bind_password;
  // ldapmda.conf keys for the driver, set after (replacing) the defaults:
  // server_host (the slapd), search_base (its people_dn()), bind = simple,
  // bind_dn, bind_pw_file, recipient_delimiter = +, timeout = 5,
  // deadline = 30. E.g. {"quota_attribute", "mdaQuota"}.
  std::vector<std::pair<std::string, std::string>> ldapmda_conf;
  // The directory holding lib20_ldapmda_plugin.so; empty: the one this
  // build made (LDAPMDA_DOVECOT_MODULE_DIR).
  std::string module_dir;
};

class DovecotServer {
 public:
  // Writes the configuration and starts Dovecot; returns once IMAP and
  // POP3 greet. Throws std::runtime_error (with Dovecot's output and log)
  // when the plugin or Dovecot is missing or it does not come up within
  // 30 s.
  explicit DovecotServer(const SlapdServer& slapd, DovecotOptions options = {});
  // Stops Dovecot; the temporary directory goes with it.
  ~DovecotServer();
  DovecotServer(const DovecotServer&) = delete;
  DovecotServer& operator=(const DovecotServer&) = delete;

  // Starts Dovecot again (same configuration, index and ports) after
  // Stop(). No-op while running. Throws like the constructor.
  void Start();
  // SIGTERM to the master, which stops every process of the instance;
  // waits up to 15 s for all of them (Processes()), then SIGKILLs what is
  // left. Idempotent.
  void Stop();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // The processes of this instance: those whose command line names
  // base_dir() (pgrep -f), the master included.
  std::vector<pid_t> Processes() const;

  // Runs "doveadm -c <config> ARGS...", e.g. {"-u", "alice@example.com",
  // "mailbox", "list"}.
  ProcessResult Doveadm(const std::vector<std::string>& args) const;

  int imap_port() const { return imap_port_; }
  int pop3_port() const { return pop3_port_; }
  const std::string& base_dir() const { return dir_.path(); }
  std::string config_path() const;
  // Where Dovecot keeps the users' indexes: index/<user>.
  std::string index_dir() const;
  std::string ldapmda_conf_path() const;
  // dovecot.log so far (all runs), then what the master printed.
  std::string log() const;

 private:
  void WriteFiles();
  void WriteConfig();
  // One attempt; false when a port was taken meanwhile.
  bool TryStart();
  bool WaitUntilReady();
  [[noreturn]] void Fail(const std::string& why);

  const SlapdServer& slapd_;
  DovecotOptions options_;
  TempDir dir_;
  int imap_port_ = 0;
  int pop3_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace ldapmda::testing

#endif  // LDAPMDA_TESTS_SUPPORT_DOVECOT_SERVER_H_
