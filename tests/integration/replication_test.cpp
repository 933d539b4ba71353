// Replication tests: the real ldapmda binary against a replicated
// directory started on 127.0.0.1 for each test: the two providers of the
// shipped conf/slapd-multiprovider.conf (one node also from the cn=config
// form, conf/slapd-multiprovider.ldif) and read-only syncrepl consumers.
// Mail stored through one node must reach the other byte-exact, and
// ldapmda must fail over past dead, hung and read-only nodes without ever
// bouncing. Every wait is bounded.
#include <gtest/gtest.h>
#include <ldap.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ldapmda/message.h"
#include "support/ldap_client.h"
#include "support/process.h"
#include "support/slapd_server.h"

namespace ldapmda {
namespace {

using testing::LdapClient;
using testing::ProcessResult;
using testing::RunProcess;
using testing::SlapdMode;
using testing::SlapdOptions;
using testing::SlapdServer;
using testing::TempDir;
using testing::TestEntry;
using testing::WriteFile;

// Bound of every wait for replication or a restart.
constexpr std::chrono::seconds kWait(30);
constexpr char kRecipient[] = "alice@example.com";

// A distinct message per delivery, so each one gets its own key.
std::string Message(const std::string& tag) {
  return "From: Sender <sender@example.org>\n"
         "To: alice@example.com\n"
         "Subject: replication " +
         tag +
         "\n"
         "Date: Tue, 01 Jul 2003 10:52:37 +0200\n"
         "Message-ID: <" +
         tag +
         "@example.org>\n"
         "\n"
         "Hello from " +
         tag +
         ".\r\nBinary \x01\xff and a long line: " + std::string(3000, 'x') +
         "\n";
}

SlapdOptions ConsumerOptions(const SlapdServer& provider, bool referral) {
  SlapdOptions options;
  options.mode = SlapdMode::kConsumer;
  options.provider_uri = provider.uri();
  options.update_referral = referral;
  return options;
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

class ReplicationTest : public ::testing::Test {
 protected:
  // Starts nodes 1 (a_) and 2 (b_) of the shipped multi-provider setup,
  // node 1 from the cn=config form if asked, and waits until node 2 has
  // replicated what the tests need. Use with ASSERT_NO_FATAL_FAILURE.
  void StartPair(bool node1_cn_config = false) {
    SlapdOptions node1;
    node1.cn_config = node1_cn_config;
    SlapdOptions node2;
    node2.load_sample_data = false;  // it replicates node 1's
    testing::ProviderPair pair = testing::StartProviderPair(node1, node2);
    a_ = std::move(pair.node1);
    b_ = std::move(pair.node2);
    ASSERT_NO_FATAL_FAILURE(WaitForSampleData(*b_));
  }

  // Waits until `node` has the entries a delivery needs.
  static void WaitForSampleData(const SlapdServer& node) {
    for (const std::string& dn :
         {node.service_dn(), node.UserDn("alice"), node.replicator_dn()}) {
      ASSERT_TRUE(node.WaitForEntry(dn, kWait))
          << dn << " not on " << node.uri() << " within " << kWait.count()
          << " s\n"
          << node.log();
    }
  }

  // An ldapmda.conf bound as the service DN, logging to stderr.
  std::string Config(const std::string& server_host,
                     const std::string& timeout = "5",
                     const std::string& deadline = "30") {
    const std::string pw = dir_.File("bind.pw");
    WriteFile(pw, a_->service_password() + "\n", 0600);
    const std::string path =
        dir_.File("ldapmda-" + std::to_string(++configs_) + ".conf");
    WriteFile(path, "server_host = " + server_host +
                        "\nsearch_base = " + a_->people_dn() +
                        "\nbind = simple\nbind_dn = " + a_->service_dn() +
                        "\nbind_pw_file = " + pw + "\ntimeout = " + timeout +
                        "\ndeadline = " + deadline + "\nlog = stderr\n");
    return path;
  }

  // `extra`: more options, before -d.
  static ProcessResult Deliver(const std::string& conf,
                               const std::string& message,
                               const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {
        LDAPMDA_BINARY, "-c",       conf, "-f",     "sender@example.org",
        "-a",           kRecipient, "-q", "4QREPL1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("-d");
    argv.push_back(kRecipient);
    return RunProcess(argv, message, std::chrono::seconds(90));
  }

  // Where ldapmda stores `message` for alice.
  std::string MessageDn(const std::string& message) const {
    return "mdaKey=" + Sha256Hex({std::string(kRecipient) + "\n", message}) +
           ",mdaFolder=INBOX,cn=mailbox," + a_->UserDn("alice");
  }

  // Waits until `node` has the message, and checks it byte-exact.
  static void ExpectStored(const SlapdServer& node, const std::string& dn,
                           const std::string& message) {
    const std::optional<TestEntry> entry = node.WaitForEntry(dn, kWait);
    ASSERT_TRUE(entry) << dn << " not on " << node.uri() << " within "
                       << kWait.count() << " s\n"
                       << node.log();
    EXPECT_EQ(entry->First("mdaRawMessage"), message) << node.uri();
    EXPECT_EQ(entry->First("mdaSize"), std::to_string(message.size()));
  }

  static std::string Describe(const ProcessResult& r) {
    return "exit " + std::to_string(r.exit_code) + " after " +
           std::to_string(r.seconds) + " s\nstdout: " + r.out +
           "\nstderr: " + r.err;
  }

  std::unique_ptr<SlapdServer> a_;
  std::unique_ptr<SlapdServer> b_;
  TempDir dir_;
  int configs_ = 0;
};

TEST_F(ReplicationTest, MessageStoredThroughOneProviderAppearsOnTheOther) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  const std::string message = Message("a-to-b");
  const ProcessResult r = Deliver(Config(a_->uri()), message);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const std::string dn = MessageDn(message);
  EXPECT_EQ(r.out, "stored as " + dn + "\n");
  ASSERT_NO_FATAL_FAILURE(ExpectStored(*b_, dn, message));

  // The same entry, not a look-alike: every attribute, operational ones
  // (entryUUID, entryCSN with node 1's serverID) included, is identical.
  const std::vector<std::string> all = {"*", "+"};
  const std::optional<TestEntry> on_a = a_->Admin().Read(dn, all);
  const std::optional<TestEntry> on_b = b_->WaitForEntry(dn, kWait, all);
  ASSERT_TRUE(on_a && on_b);
  EXPECT_EQ(on_a->First("entryUUID"), on_b->First("entryUUID"));
  EXPECT_EQ(on_a->First("entryCSN"), on_b->First("entryCSN"));
  EXPECT_NE(on_a->First("entryCSN").find("#001#"), std::string::npos)
      << on_a->First("entryCSN");
  for (const char* attr : {"mdaKey", "mdaSubject", "mdaMessageId", "mdaDate",
                           "mdaDeliveredAt", "mdaEnvelopeSender",
                           "mdaEnvelopeRecipient", "mdaQueueId", "mdaFolder"}) {
    EXPECT_EQ(on_a->Values(attr), on_b->Values(attr)) << attr;
  }

  // And the other way round: node 2 replicates to node 1 as well.
  const std::string back = Message("b-to-a");
  const ProcessResult r2 = Deliver(Config(b_->uri()), back);
  ASSERT_EQ(r2.exit_code, 0) << Describe(r2);
  ASSERT_NO_FATAL_FAILURE(ExpectStored(*a_, MessageDn(back), back));
}

TEST_F(ReplicationTest, DeadProviderIsSkippedAndCatchesUpAfterRestart) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  a_->Kill();  // SIGKILL, like a crash
  const std::string message = Message("while-a-dead");
  const ProcessResult r = Deliver(Config(a_->uri() + " " + b_->uri()), message);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const std::string dn = MessageDn(message);
  EXPECT_EQ(r.out, "stored as " + dn + "\n");
  EXPECT_TRUE(b_->Admin().Read(dn)) << "not stored through node 2";

  a_->Start();
  ASSERT_NO_FATAL_FAILURE(ExpectStored(*a_, dn, message));
}

TEST_F(ReplicationTest, HungProviderIsSkippedAfterOneTimeoutNotTheDeadline) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  a_->Pause();  // SIGSTOP: connections are accepted, nothing answers
  const std::string message = Message("while-a-hung");
  const ProcessResult r =
      Deliver(Config(a_->uri() + " " + b_->uri(), "1", "60"), message);
  RecordProperty("failover_seconds", std::to_string(r.seconds));
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const std::string dn = MessageDn(message);
  EXPECT_EQ(r.out, "stored as " + dn + "\n");
  // One per-operation timeout (1 s) on node 1, then node 2 answers at
  // once: far below the 60 s deadline.
  EXPECT_GE(r.seconds, 0.9) << "node 1 was not tried first?\n" << r.err;
  EXPECT_LT(r.seconds, 10.0) << Describe(r);
  EXPECT_TRUE(b_->Admin().Read(dn)) << "not stored through node 2";

  a_->Resume();
  ASSERT_NO_FATAL_FAILURE(ExpectStored(*a_, dn, message));
}

TEST_F(ReplicationTest, ReadOnlyConsumersAreSkippedAndNeverBounce) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  SlapdServer referring(ConsumerOptions(*a_, /*referral=*/true));
  SlapdServer shadow(ConsumerOptions(*a_, /*referral=*/false));
  struct Case {
    const char* name;
    const SlapdServer& consumer;
    int write_result;  // what the consumer answers a write with
  };
  for (const Case& c : {Case{"updateref", referring, LDAP_REFERRAL},
                        Case{"shadow", shadow, LDAP_UNWILLING_TO_PERFORM}}) {
    SCOPED_TRACE(c.name);
    ASSERT_NO_FATAL_FAILURE(WaitForSampleData(c.consumer));
    // What the consumer really answers ldapmda's identity.
    LdapClient service = c.consumer.Service();
    EXPECT_EQ(service.Add(
                  "cn=probe,ou=services," + c.consumer.suffix(),
                  {{"objectClass", {"organizationalRole"}}, {"cn", {"probe"}}}),
              c.write_result)
        << service.last_message();

    // Consumer first, then a provider: stored on the provider.
    const std::string message = Message(std::string("via-") + c.name);
    const ProcessResult r =
        Deliver(Config(c.consumer.uri() + " " + a_->uri()), message);
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    const std::string dn = MessageDn(message);
    EXPECT_EQ(r.out, "stored as " + dn + "\n");
    EXPECT_TRUE(a_->Admin().Read(dn)) << "not stored on the provider";
    // The consumer answered the lookup and refused the write once; it is
    // not asked to write a second time.
    std::size_t refusals = 0;
    for (std::size_t pos = 0;
         (pos = r.err.find(c.consumer.uri() + ": ", pos)) != std::string::npos;
         ++pos) {
      ++refusals;
    }
    EXPECT_EQ(refusals, 1u) << r.err;

    // Only the consumer: defer (never bounce), one 4.4.3 line.
    const std::string stuck = Message(std::string("only-") + c.name);
    const ProcessResult d = Deliver(Config(c.consumer.uri()), stuck);
    EXPECT_EQ(d.exit_code, 75) << Describe(d);
    EXPECT_TRUE(StartsWith(d.out, "4.4.3 ")) << Describe(d);
    EXPECT_EQ(d.out.find('\n'), d.out.size() - 1) << "one line: " << d.out;
    EXPECT_FALSE(a_->Admin().Read(MessageDn(stuck)));
  }
}

TEST_F(ReplicationTest, ReplicaConfirmationWaitsForTheOtherProvider) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  const std::string conf = Config(a_->uri());
  const std::vector<std::string> confirm = {"-o", "confirm_host=" + b_->uri()};
  const std::string message = Message("confirmed");
  const ProcessResult r = Deliver(conf, message, confirm);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const std::string dn = MessageDn(message);
  EXPECT_EQ(r.out, "stored as " + dn + ", confirmed by 1 of 1 replicas\n");
  // Reported delivered only once node 2 had it: no waiting needed here.
  const std::optional<TestEntry> on_b = b_->Admin().Read(dn, {"mdaRawMessage"});
  ASSERT_TRUE(on_b) << "confirmed, but not on node 2";
  EXPECT_EQ(on_b->First("mdaRawMessage"), message);

  // ldapmda --check ADDRESS sees the probe replicated too.
  const ProcessResult check =
      RunProcess({LDAPMDA_BINARY, "-c", conf, "-o", "confirm_host=" + b_->uri(),
                  "--check", kRecipient},
                 "", std::chrono::seconds(90));
  EXPECT_EQ(check.exit_code, 0) << Describe(check);
  EXPECT_NE(check.out.find("  ok  server " + b_->uri() + ": answers"),
            std::string::npos)
      << check.out;
  EXPECT_NE(check.out.find("  ok  replication: the probe was confirmed by 1 "
                           "of 1 replicas"),
            std::string::npos)
      << check.out;
}

TEST_F(ReplicationTest, UnconfirmedStoreDefersAndTheRetryIsNotADuplicate) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  b_->Pause();  // hung: takes connections, answers nothing, replicates nothing
  const std::string conf = Config(a_->uri(), "5", "30");
  const std::vector<std::string> confirm = {"-o", "confirm_host=" + b_->uri(),
                                            "-o", "confirm_timeout=1"};
  const std::string message = Message("unconfirmed");
  const std::string dn = MessageDn(message);
  const ProcessResult r = Deliver(conf, message, confirm);
  EXPECT_EQ(r.exit_code, 75) << Describe(r);
  EXPECT_TRUE(StartsWith(r.out, "4.4.3 <alice@example.com>: stored as " + dn +
                                    ", but replication not confirmed: 0 of "
                                    "1 required replicas"))
      << r.out;
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "one line: " << r.out;
  // The hung replica held ldapmda up for confirm_timeout, not for the
  // per-operation timeout (5 s) or the deadline (30 s).
  EXPECT_LT(r.seconds, 4.5) << Describe(r);
  EXPECT_TRUE(a_->Admin().Read(dn)) << "stored on node 1 all the same";

  // Node 2 is back and catches up; Postfix's retry finds the message
  // stored and replicated: delivered, one entry on each node.
  b_->Resume();
  ASSERT_NO_FATAL_FAILURE(ExpectStored(*b_, dn, message));
  const ProcessResult retry = Deliver(conf, message, confirm);
  EXPECT_EQ(retry.exit_code, 0) << Describe(retry);
  EXPECT_EQ(retry.out,
            "already stored as " + dn + ", confirmed by 1 of 1 replicas\n");
  for (const SlapdServer* node : {a_.get(), b_.get()}) {
    const auto box = node->Admin().Search("cn=mailbox," + a_->UserDn("alice"),
                                          LDAP_SCOPE_SUBTREE,
                                          "(objectClass=mdaMessage)", {"1.1"});
    EXPECT_EQ(box.size(), 1u) << node->uri();
  }
}

TEST_F(ReplicationTest, CnConfigNodeReplicatesWithSlapdConfNode) {
  // Node 1 from slapd-multiprovider.ldif (slapadd -n0, slapd -F), node 2
  // from slapd-multiprovider.conf; node 2 got the sample data from node 1.
  ASSERT_NO_FATAL_FAILURE(StartPair(/*node1_cn_config=*/true));
  EXPECT_TRUE(std::filesystem::is_directory(a_->dir() + "/slapd.d/cn=config"));
  EXPECT_FALSE(std::filesystem::exists(a_->dir() + "/slapd.conf"));

  const std::string message = Message("cn-config-node");
  const ProcessResult r = Deliver(Config(a_->uri()), message);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  ASSERT_NO_FATAL_FAILURE(ExpectStored(*b_, MessageDn(message), message));

  const std::string back = Message("slapd-conf-node");
  const ProcessResult r2 = Deliver(Config(b_->uri()), back);
  ASSERT_EQ(r2.exit_code, 0) << Describe(r2);
  ASSERT_NO_FATAL_FAILURE(ExpectStored(*a_, MessageDn(back), back));
}

}  // namespace
}  // namespace ldapmda
