// LMTP mode against a real slapd, through the real binary: whole sessions,
// one LDAP connection per session, reconnection, deduplication across the
// two modes, timeouts.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <ldap.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "ldapmda/message.h"
#include "support/mda_fixture.h"

namespace ldapmda {
namespace {

using testing::ProcessResult;
using testing::RunProcess;
using testing::SlapdOptions;
using testing::SlapdServer;
using testing::StoredDn;
using testing::UniqueFd;

// An interactive `ldapmda --lmtp` process: write commands, read replies.
class LmtpProcess {
 public:
  LmtpProcess(const std::string& conf,
              std::vector<std::string> extra_args = {}) {
    int in[2], out[2];
    EXPECT_EQ(pipe2(in, O_CLOEXEC), 0);
    EXPECT_EQ(pipe2(out, O_CLOEXEC), 0);
    std::vector<std::string> argv = {LDAPMDA_BINARY, "-c", conf, "--lmtp"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    const UniqueFd null_fd(open("/dev/null", O_WRONLY | O_CLOEXEC));
    pid_ = testing::StartProcess(argv, in[0], out[1], null_fd.get());
    close(in[0]);
    close(out[1]);
    to_.Reset(in[1]);
    from_.Reset(out[0]);
  }
  ~LmtpProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      Wait();
    }
  }

  void Send(std::string_view text) {
    while (!text.empty()) {
      const ssize_t n = write(to_.get(), text.data(), text.size());
      ASSERT_GT(n, 0);
      text.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // Reads `count` complete replies (a multi-line reply counts once);
  // returns their last lines, or what came before a 10 s timeout or EOF.
  std::vector<std::string> Replies(std::size_t count) {
    std::vector<std::string> out;
    const auto end =
        std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (out.size() < count) {
      const auto nl = buffer_.find("\r\n");
      if (nl != std::string::npos) {
        const std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 2);
        if (line.size() >= 4 && line[3] == ' ') out.push_back(line);
        continue;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      pollfd p{from_.get(), POLLIN, 0};
      if (left.count() <= 0 ||
          poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        break;
      }
      char chunk[4096];
      const ssize_t n = read(from_.get(), chunk, sizeof chunk);
      if (n <= 0) break;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
    return out;
  }
  void CloseInput() { to_.Reset(); }
  // The exit status, after the process ended.
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  UniqueFd to_, from_;
  std::string buffer_;
};

std::string Transaction(const std::string& sender,
                        const std::vector<std::string>& rcpts,
                        const std::string& body) {
  std::string s = "MAIL FROM:<" + sender + ">\r\n";
  for (const auto& r : rcpts) s += "RCPT TO:<" + r + ">\r\n";
  return s + "DATA\r\n" + body + ".\r\n";
}

// The greeting, LHLO and one message to `rcpt`, which must be stored.
void StoreOne(LmtpProcess& lmtp, const std::string& rcpt) {
  EXPECT_EQ(lmtp.Replies(1)[0].substr(0, 3), "220");
  lmtp.Send("LHLO postfix\r\n" +
            Transaction("s@x", {rcpt}, "Subject: 1\r\n\r\nx\r\n"));
  const auto replies = lmtp.Replies(5);
  ASSERT_EQ(replies.size(), 5u);
  ASSERT_EQ(replies[4].substr(0, 9), "250 2.0.0") << replies[4];
}

// The connections `dn` opened: slapd logs one BIND per connection. (Not
// ACCEPT lines: slapd's own readiness probes on ldapi may be logged late,
// which under valgrind raced with the count.)
int BindsAs(const SlapdServer& server, const std::string& dn) {
  const std::string log = server.log();
  const std::string needle = " BIND dn=\"" + dn + "\" method=";
  int n = 0;
  for (std::size_t pos = 0; (pos = log.find(needle, pos)) != std::string::npos;
       ++pos) {
    ++n;
  }
  return n;
}

class LmtpIntegrationTest : public testing::MdaTest {};

TEST_F(LmtpIntegrationTest, SessionWithMixedOutcomesAndTwoTransactions) {
  SlapdServer server;
  const std::string conf = Config(server);
  const std::string body1 = "Subject: one\r\n\r\n..dot-stuffed\r\nline\r\n";
  const std::string body2 = "Subject: two\r\n\r\n8 bit: caf\xc3\xa9\r\n";
  const ProcessResult r = RunProcess(
      {LDAPMDA_BINARY, "-c", conf, "--lmtp"},
      "LHLO postfix\r\n" +
          Transaction("s@example.org",
                      {"alice@example.com", "nobody@example.com",
                       "dup@example.com", "bob@example.com"},
                      body1) +
          Transaction("", {"carol@example.com"}, body2) + "QUIT\r\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(
      r.out.find("\r\n550 5.1.1 <nobody@example.com>: no such user here\r\n"),
      std::string::npos)
      << r.out;
  EXPECT_NE(
      r.out.find(
          "\r\n451 4.3.5 <dup@example.com>: recipient lookup is ambiguous"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\r\n250 2.0.0 <alice@example.com>: stored as mdaKey="),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\r\n250 2.0.0 <bob@example.com>: stored as mdaKey="),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\r\n250 2.0.0 <carol@example.com>: stored as mdaKey="),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.substr(r.out.size() - 15), "221 2.0.0 Bye\r\n");

  const auto alice = Stored(server, Mailbox(server, "alice"));
  ASSERT_EQ(alice.size(), 1u);
  EXPECT_EQ(alice[0].First("mdaRawMessage"),
            "Return-Path: <s@example.org>\nDelivered-To: alice@example.com\n"
            "Subject: one\n\n.dot-stuffed\nline\n");
  EXPECT_EQ(alice[0].First("mdaSubject"), "one");
  const auto carol = Stored(server, Mailbox(server, "carol"));
  ASSERT_EQ(carol.size(), 1u);
  EXPECT_EQ(carol[0].First("mdaEnvelopeSender"), "<>");
  EXPECT_EQ(carol[0].First("mdaRawMessage"),
            "Return-Path: <>\nDelivered-To: carol@example.com\n"
            "Subject: two\n\n8 bit: caf\xc3\xa9\n");
  EXPECT_EQ(Stored(server).size(), 3u);
}

TEST_F(LmtpIntegrationTest, OneLdapConnectionForTheWholeSession) {
  SlapdOptions options;
  options.debug_level = "stats";  // slapd logs each ACCEPT
  SlapdServer server(options);
  const std::string conf = Config(server);
  std::string script = "LHLO postfix\r\n";
  for (int i = 0; i < 5; ++i) {
    script +=
        Transaction("s@example.org", {"alice@example.com", "bob@example.com"},
                    "Subject: m" + std::to_string(i) + "\r\n\r\nx\r\n");
  }
  const ProcessResult r =
      RunProcess({LDAPMDA_BINARY, "-c", conf, "--lmtp"}, script + "QUIT\r\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(Stored(server).size(), 10u);
  EXPECT_EQ(BindsAs(server, server.service_dn()), 1) << server.log();
}

TEST_F(LmtpIntegrationTest, ReconnectsWhenTheDirectoryComesBack) {
  SlapdServer server;
  // alice's lookup is kept for the whole test.
  LmtpProcess lmtp(Config(server, "lmtp_lookup_cache = 60\n"));
  ASSERT_NO_FATAL_FAILURE(StoreOne(lmtp, "alice@example.com"));

  // Directory down: a lookup at RCPT time defers; a kept one is accepted,
  // and the store after DATA defers.
  server.Stop();
  lmtp.Send(
      "MAIL FROM:<s@x>\r\nRCPT TO:<bob@example.com>\r\nRSET\r\n" +
      Transaction("s@x", {"alice@example.com"}, "Subject: 3\r\n\r\nx\r\n"));
  auto replies = lmtp.Replies(7);
  ASSERT_EQ(replies.size(), 7u);
  EXPECT_EQ(replies[1].substr(0, 9), "451 4.4.3") << replies[1];
  EXPECT_EQ(replies[4].substr(0, 3), "250") << replies[4];
  EXPECT_EQ(replies[6].substr(0, 9), "451 4.4.3") << replies[6];

  // Back again: the same session reconnects.
  server.Start();
  lmtp.Send(
      Transaction("s@x", {"alice@example.com"}, "Subject: 2\r\n\r\nx\r\n") +
      "QUIT\r\n");
  replies = lmtp.Replies(5);
  ASSERT_EQ(replies.size(), 5u);
  EXPECT_EQ(replies[3].substr(0, 9), "250 2.0.0") << replies[3];
  EXPECT_EQ(replies[4], "221 2.0.0 Bye");
  EXPECT_EQ(lmtp.Wait(), 0);
  EXPECT_EQ(Stored(server).size(), 2u);
}

// A kept lookup of a recipient whose entry is gone meanwhile never
// stores anywhere: the store finds no parent and defers, and the next
// RCPT asks the directory again.
TEST_F(LmtpIntegrationTest, KeptLookupOfARemovedRecipientDefers) {
  SlapdServer server;
  LmtpProcess lmtp(Config(server, "lmtp_lookup_cache = 60\n"));
  ASSERT_NO_FATAL_FAILURE(StoreOne(lmtp, "carol@example.com"));

  // carol leaves: her messages, folder, mailbox and entry are removed.
  auto admin = server.Admin();
  auto gone = admin.Search(server.UserDn("carol"), LDAP_SCOPE_SUBTREE);
  std::sort(gone.begin(), gone.end(), [](const auto& a, const auto& b) {
    return a.dn.size() > b.dn.size();  // children first
  });
  for (const auto& e : gone) ASSERT_EQ(admin.Delete(e.dn), LDAP_SUCCESS);

  lmtp.Send(
      Transaction("s@x", {"carol@example.com"}, "Subject: 2\r\n\r\nx\r\n") +
      "MAIL FROM:<s@x>\r\nRCPT TO:<carol@example.com>\r\nRSET\r\n"
      "QUIT\r\n");
  auto replies = lmtp.Replies(8);
  ASSERT_EQ(replies.size(), 8u);
  EXPECT_EQ(replies[1].substr(0, 3), "250") << replies[1];  // kept
  EXPECT_EQ(replies[3].substr(0, 5), "451 4") << replies[3];
  EXPECT_EQ(replies[5].substr(0, 9), "550 5.1.1") << replies[5];
  EXPECT_EQ(replies[7], "221 2.0.0 Bye");
  EXPECT_EQ(lmtp.Wait(), 0);
  EXPECT_TRUE(Stored(server).empty());
}

TEST_F(LmtpIntegrationTest, RetryDeduplicatesAcrossModes) {
  SlapdServer server;
  const std::string conf = Config(server);
  const std::string body = "Subject: either way\r\n\r\nsame message\r\n";
  // What pipe(8) with flags=DRX hands over for the same message.
  const std::string piped =
      "Return-Path: <s@example.org>\nDelivered-To: alice@example.com\n"
      "Subject: either way\n\nsame message\n";

  ProcessResult r = RunProcess(
      {LDAPMDA_BINARY, "-c", conf, "--lmtp"},
      "LHLO p\r\n" + Transaction("s@example.org", {"alice@example.com"}, body));
  ASSERT_NE(r.out.find("250 2.0.0 <alice@example.com>: stored as"),
            std::string::npos)
      << r.out;
  r = Deliver(conf, "alice@example.com", piped);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("already stored as ", 0), 0u) << r.out;

  // And the other way round.
  const std::string piped_bob =
      "Return-Path: <s@example.org>\nDelivered-To: bob@example.com\n"
      "Subject: either way\n\nsame message\n";
  r = Deliver(conf, "bob@example.com", piped_bob);
  ASSERT_EQ(StoredDn(r.out).empty(), false) << r.out;
  r = RunProcess(
      {LDAPMDA_BINARY, "-c", conf, "--lmtp"},
      "LHLO p\r\n" + Transaction("s@example.org", {"bob@example.com"}, body));
  EXPECT_NE(r.out.find("250 2.0.0 <bob@example.com>: already stored as"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(Stored(server).size(), 2u);
}

TEST_F(LmtpIntegrationTest, EndOfInputInsideDataStoresNothing) {
  SlapdServer server;
  const ProcessResult r = RunProcess(
      {LDAPMDA_BINARY, "-c", Config(server), "--lmtp"},
      "LHLO p\r\nMAIL FROM:<s@x>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n"
      "Subject: cut off\r\n\r\nhalf");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("354 "), std::string::npos);
  EXPECT_TRUE(Stored(server).empty());
}

TEST_F(LmtpIntegrationTest, IdleClientIsDisconnected) {
  SlapdServer server;
  LmtpProcess lmtp(Config(server), {"-o", "lmtp_timeout=1"});
  EXPECT_EQ(lmtp.Replies(1)[0].substr(0, 3), "220");
  lmtp.Send("LHLO p\r\nMAIL FROM:<s@x>\r\n");
  const auto replies = lmtp.Replies(3);
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[2].substr(0, 9), "421 4.4.2");
  EXPECT_EQ(lmtp.Wait(), 0);
}

TEST_F(LmtpIntegrationTest, BrokenConfigurationIsAnsweredInTheProtocol) {
  const std::string conf = dir_.File("bad.conf");
  testing::WriteFile(conf, "search_base = dc=x\nnonsense = 1\n");
  const ProcessResult r =
      RunProcess({LDAPMDA_BINARY, "-c", conf, "--lmtp"}, "LHLO p\r\n");
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_EQ(r.out.rfind("421 4.3.5 ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("unknown key"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ldapmda
