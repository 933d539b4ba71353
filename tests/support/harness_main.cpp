// harness_main: ldapmda_harness, for watching the whole path by hand. It
// starts a throwaway slapd with the sample users and a private Postfix
// configured as README documents (see support/postfix_server.h), prints
// how to send mail and where to look, and keeps both running until
// Ctrl-C, SIGTERM, SIGHUP or the end of standard input, then removes
// everything. Lines typed meanwhile: "stop" and "start" stop and restart slapd,
// "hold" and "release" set and clear defer_transports = ldapmda (to see
// ldapmda defer mail that Postfix accepted), "flush" retries the queue.
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <stdexcept>
#include <string>

#include "support/postfix_server.h"
#include "support/process.h"
#include "support/slapd_server.h"

namespace ldapmda::testing {
namespace {

// A python3 command line that sends one message to the recipient given
// as its argument and prints the RCPT and DATA replies.
std::string SendCommand(int port) {
  return "python3 -c 'import smtplib,sys; r=sys.argv[1]; "
         "s=smtplib.SMTP(\"127.0.0.1\"," +
         std::to_string(port) +
         "); s.ehlo(); s.mail(\"sender@example.org\"); c=s.rcpt(r); "
         "print(\"RCPT\",*c); c[0]==250 and print(\"DATA\",*s.data(\"From: "
         "sender@example.org\\nTo: \"+r+\"\\nSubject: hello\\n\\nHello."
         "\\n\")); s.quit()' alice@example.com";
}

std::string SearchCommand(const SlapdServer& slapd) {
  return "ldapsearch -x -LLL -H " + slapd.uri() + " -D " + slapd.admin_dn() +
         " -w " + slapd.admin_password() + " -b " + slapd.people_dn() +
         " '(objectClass=mdaMessage)' mdaEnvelopeRecipient mdaFolder "
         "mdaSubject mdaQueueId";
}

void PrintInstructions(const SlapdServer& slapd, const PostfixServer& postfix) {
  const std::string etc = postfix.config_dir();
  std::cout << "ldapmda harness: slapd and a private Postfix, set up as README "
               "documents.\n\n"
            << "  SMTP     127.0.0.1:" << postfix.smtp_port() << "\n"
            << "  LDAP     " << slapd.uri() << "  (" << slapd.admin_dn()
            << " / " << slapd.admin_password() << ")\n"
            << "  Postfix  " << etc << "/main.cf, master.cf (postconf -c "
            << etc << " -n)\n"
            << "  ldapmda  " << postfix.ldapmda_conf_path() << "  (pipe user "
            << postfix.pipe_user() << ")\n"
            << "  maillog  tail -f " << postfix.maillog_path() << "\n\n"
            << "Send a message (try bob@, carol+lists@ and nobody@example.com "
               "too):\n  "
            << SendCommand(postfix.smtp_port()) << "\n\n"
            << "What was stored:\n  " << SearchCommand(slapd) << "\n\n"
            << "The queue:\n"
            << "  postqueue -c " << etc << " -p     (retry now: postqueue -c "
            << etc << " -f)\n\n"
            << "Commands: \"stop\" and \"start\" slapd; \"hold\" mail for "
               "ldapmda in the queue,\n"
            << "\"release\" it, \"flush\" the queue. Ctrl-C or end of input "
               "stops everything.\n"
            << std::flush;
}

void RunCommand(const std::string& line, SlapdServer& slapd,
                PostfixServer& postfix) {
  if (line == "stop") {
    slapd.Stop();
    std::cout << "slapd stopped: Postfix now answers RCPT with 451 4.3.0\n";
  } else if (line == "start") {
    slapd.Start();
    std::cout << "slapd running at " << slapd.uri() << "\n";
  } else if (line == "hold") {
    postfix.Configure({{"defer_transports", "ldapmda"}});
    std::cout << "mail for ldapmda now waits in the queue\n";
  } else if (line == "release") {
    postfix.Configure({{"defer_transports", ""}});
    postfix.Flush();
    std::cout << "released and flushed\n";
  } else if (line == "flush") {
    postfix.Flush();
    std::cout << "flushed\n";
  } else if (!line.empty()) {
    std::cout << "commands: stop, start (slapd), hold, release, flush "
                 "(Postfix); Ctrl-C quits\n";
  }
  std::cout << std::flush;
}

// Serves stdin commands until a termination signal or end of input.
void Serve(int signal_fd, SlapdServer& slapd, PostfixServer& postfix) {
  std::string pending;
  for (;;) {
    pollfd fds[2] = {{signal_fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("poll failed");
    }
    if (fds[0].revents != 0) return;
    char buf[256];
    const ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) return;
    pending.append(buf, static_cast<std::size_t>(n));
    for (auto nl = pending.find('\n'); nl != std::string::npos;
         nl = pending.find('\n')) {
      try {
        RunCommand(pending.substr(0, nl), slapd, postfix);
      } catch (const std::exception& e) {
        std::cout << "failed: " << e.what() << "\n" << std::flush;
      }
      pending.erase(0, nl + 1);
    }
  }
}

int Main() {
  const UniqueFd signals = BlockTerminationSignals();
  SlapdServer slapd;
  PostfixOptions options;
  options.ldapmda_binary = LDAPMDA_BINARY;
  options.source_dir = LDAPMDA_SOURCE_DIR;
  // Retry deferred mail within seconds, not minutes.
  options.main_cf = {{"queue_run_delay", "10s"},
                     {"minimal_backoff_time", "10s"},
                     {"maximal_backoff_time", "30s"}};
  PostfixServer postfix(slapd, options);
  PrintInstructions(slapd, postfix);
  Serve(signals.get(), slapd, postfix);
  std::cout << "stopping Postfix and slapd\n" << std::flush;
  return 0;
}

}  // namespace
}  // namespace ldapmda::testing

int main() {
  try {
    return ldapmda::testing::Main();
  } catch (const std::exception& e) {
    std::cerr << "ldapmda_harness: " << e.what() << "\n";
    return 1;
  }
}
