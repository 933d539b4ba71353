// postfix_server: a private Postfix instance per test, built from Debian's
// postfix and postfix-ldap packages and configured exactly as README
// documents (conf/main.cf, conf/master.cf, conf/ldapmda-recipients.cf and
// conf/ldapmda.conf, with only the paths, the pipe(8) user and the
// directory's address replaced), so that mail travels the whole path:
// SMTP -> smtpd (recipient check in LDAP) -> queue -> pipe(8) -> ldapmda
// -> slapd. Everything lives in a temporary directory: config, queue, data
// and the maillog_file Postfix writes through postlogd(8); the machine's
// own Postfix (/etc/postfix, /var/spool/postfix) is never touched. Also a
// minimal SMTP client that reports each RCPT reply on its own.
#ifndef LDAPMDA_TESTS_SUPPORT_POSTFIX_SERVER_H_
#define LDAPMDA_TESTS_SUPPORT_POSTFIX_SERVER_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/process.h"
#include "support/slapd_server.h"

namespace ldapmda::testing {

// One "name = value" of main.cf or ldapmda.conf.
using Setting = std::pair<std::string, std::string>;

struct PostfixOptions {
  // The ldapmda that pipe(8) runs instead of /usr/sbin/ldapmda. Required
  // (the tests pass LDAPMDA_BINARY).
  std::string ldapmda_binary;
  // Source tree whose conf/ holds the documented setup; empty: the tree
  // this library was built from.
  std::string source_dir;
  // main.cf settings applied last, with "postconf -e", before the start.
  std::vector<Setting> main_cf;
  // ldapmda.conf keys set after the documented ones (replacing them).
  std::vector<Setting> ldapmda_conf;
  // The pipe(8) user= account (README: vmail). Created as a system user
  // without home or shell when missing.
  std::string pipe_user = "ldapmda-test";
  // LMTP mode as README documents it: conf/master-lmtp.cf instead of
  // master.cf, and conf/main-lmtp.cf on top of main.cf.
  bool lmtp = false;
  std::string hostname = "mx.ldapmda.test";  // myhostname
};

class PostfixServer {
 public:
  // Writes the instance's configuration for `slapd` and starts Postfix.
  // Throws std::runtime_error (with the logs) when not run as root, when
  // Postfix is not installed, or when smtpd does not greet within 30 s.
  PostfixServer(const SlapdServer& slapd, PostfixOptions options);
  // Stops Postfix; the temporary directory goes with it.
  ~PostfixServer();
  PostfixServer(const PostfixServer&) = delete;
  PostfixServer& operator=(const PostfixServer&) = delete;

  // Starts the master daemon again after Stop(). No-op while running.
  void Start();
  // "postfix stop", then waits for every Postfix process. Idempotent.
  void Stop();
  bool running() const { return master_pid_ > 0; }

  // Sets main.cf parameters with "postconf -e" and, while running,
  // "postfix reload" so that new processes use them. Throws on failure.
  void Configure(const std::vector<Setting>& settings);
  // "postfix reload". Throws on failure.
  void Reload();
  // "postqueue -f": retry all deferred mail now. Throws on failure.
  void Flush();

  // "postqueue -j": one JSON object per queued message and line; "" when
  // the queue is empty. Throws on failure.
  std::string Postqueue() const;
  // Postfix's maillog_file so far ("" before the first line).
  std::string MailLog() const;
  // The contents of master_log_path().
  std::string MasterLog() const;
  // The lines of MailLog() that contain every one of `needles`.
  std::vector<std::string> MailLogLines(
      const std::vector<std::string>& needles) const;

  // Runs a Postfix command (postconf, postfix, postqueue, postsuper, ...
  // from /usr/sbin) with "-c config_dir()" and `args`.
  ProcessResult Command(const std::string& program,
                        const std::vector<std::string>& args) const;

  int smtp_port() const { return port_; }
  const std::string& dir() const { return dir_.path(); }
  std::string config_dir() const { return dir_.File("etc"); }
  std::string queue_dir() const { return dir_.File("queue"); }
  std::string maillog_path() const { return dir_.File("maillog"); }
  // master(8)'s own standard output and error (start-up failures).
  std::string master_log_path() const { return dir_.File("master.log"); }
  std::string ldapmda_conf_path() const;
  const std::string& pipe_user() const { return options_.pipe_user; }
  pid_t master_pid() const { return master_pid_; }

 private:
  void WriteConfiguration(const SlapdServer& slapd);
  void WriteMainCf(const std::string& recipients_cf);
  void WriteMasterCf();
  void WriteRecipientsCf(const SlapdServer& slapd, const std::string& path);
  void WriteLdapmdaConf(const SlapdServer& slapd);
  std::string ConfText(std::string_view name) const;
  std::string Banner() const;
  // One attempt: false if the SMTP port was taken meanwhile.
  bool TryStart();
  bool WaitUntilReady();
  void WaitForProcessGroup();
  [[noreturn]] void Fail(const std::string& why);
  ProcessResult MustRun(const std::string& program,
                        const std::vector<std::string>& args) const;

  PostfixOptions options_;
  TempDir dir_;
  int port_ = 0;
  pid_t master_pid_ = -1;
};

// Polls `done` every `interval` until it returns true (then true) or
// `timeout` has passed (then false, after one last try).
bool WaitFor(
    const std::function<bool()>& done, std::chrono::milliseconds timeout,
    std::chrono::milliseconds interval = std::chrono::milliseconds(50));

// One SMTP reply: its code (0 when none came) and its lines without CRLF,
// joined with "\n" ("250-first\n250 last").
struct SmtpReply {
  int code = 0;
  std::string text;
  // The enhanced status code of the last line ("5.1.1"), or "".
  std::string EnhancedCode() const;
};

struct SmtpOptions {
  std::string helo = "client.ldapmda.test";
  bool body_8bitmime = false;  // MAIL FROM:<...> BODY=8BITMIME
  std::chrono::milliseconds timeout = std::chrono::seconds(30);  // per reply
};

// What happened in one SMTP transaction. Replies to commands that were
// not sent (after a refusal) have code 0.
struct SmtpSession {
  SmtpReply greeting;
  SmtpReply ehlo;
  SmtpReply mail;
  std::vector<SmtpReply> rcpt;  // one per recipient, in order
  SmtpReply data;               // the reply to DATA (354)
  SmtpReply message;            // the reply after the final dot
  // The queue ID of "250 2.0.0 Ok: queued as ID", or "".
  std::string QueueId() const;
};

// Sends `message` (any line ends; converted to CRLF and dot-stuffed) from
// `sender` to `recipients` through the SMTP server on 127.0.0.1:`port`:
// EHLO, MAIL FROM, one RCPT TO per recipient, DATA when at least one was
// accepted, QUIT. Throws std::runtime_error on connection errors and
// timeouts.
SmtpSession SendMail(int port, const std::string& sender,
                     const std::vector<std::string>& recipients,
                     std::string_view message, const SmtpOptions& options = {});

// The DATA payload for `message`: CRLF line ends, lines starting with "."
// doubled, terminated by "CRLF.CRLF".
std::string SmtpDataPayload(std::string_view message);

}  // namespace ldapmda::testing

#endif  // LDAPMDA_TESTS_SUPPORT_POSTFIX_SERVER_H_
