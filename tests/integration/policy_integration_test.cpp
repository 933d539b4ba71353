// Mailbox policy against a real slapd, through the real binary: address
// extensions, catch-all, account status, quota and --recount.
#include <gtest/gtest.h>
#include <ldap.h>

#include "support/mda_fixture.h"

namespace ldapmda {
namespace {

using testing::ProcessResult;
using testing::RunProcess;
using testing::SlapdServer;
using testing::StoredDn;

// A message of exactly `size` bytes.
std::string MessageOfSize(std::size_t size, const std::string& tag) {
  std::string m = "Subject: " + tag + "\n\n";
  m.resize(size, 'x');
  return m;
}

class PolicyIntegrationTest : public testing::MdaTest {
 protected:
  PolicyIntegrationTest() : server_(testing::PolicyDirectory()) {}

  std::string Conf(const std::string& extra) { return Config(server_, extra); }

  testing::TestEntry Read(const std::string& dn) {
    auto e = server_.Admin().Read(dn);
    EXPECT_TRUE(e) << dn;
    return e ? *e : testing::TestEntry{};
  }

  SlapdServer server_;
};

TEST_F(PolicyIntegrationTest, ExtensionSelectsTheFolderOfTheBaseMailbox) {
  const std::string conf = Conf("recipient_delimiter = +\n");
  const ProcessResult r = Deliver(conf, "alice+lists@example.com", "m1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string dn = StoredDn(r.out);
  EXPECT_NE(dn.find(",cn=mailbox,uid=alice,"), std::string::npos) << dn;
  const auto e = Read(dn);
  EXPECT_EQ(e.First("mdaFolder"), "lists");
  EXPECT_EQ(e.First("mdaEnvelopeRecipient"), "alice+lists@example.com");
}

TEST_F(PolicyIntegrationTest, ExtensionIgnoredWhenConfigured) {
  const std::string conf =
      Conf("recipient_delimiter = +\nextension_folder = no\n");
  const ProcessResult r = Deliver(conf, "alice+lists@example.com", "m1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Read(StoredDn(r.out)).First("mdaFolder"), "INBOX");
}

TEST_F(PolicyIntegrationTest, DelimiterThatIsLegalInLocalParts) {
  // "-" splits alice-news, but mary-ann is a real address and wins.
  const std::string conf = Conf("recipient_delimiter = +-\n");
  ProcessResult r = Deliver(conf, "mary-ann@example.com", "m1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find(",cn=mailbox,uid=mary-ann,"), std::string::npos);
  EXPECT_EQ(Read(StoredDn(r.out)).First("mdaFolder"), "INBOX");
  r = Deliver(conf, "alice-news@example.com", "m2");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find(",cn=mailbox,uid=alice,"), std::string::npos);
  EXPECT_EQ(Read(StoredDn(r.out)).First("mdaFolder"), "news");
  r = Deliver(conf, "mary-x@example.com", "m3");  // mary's, folder x
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find(",cn=mailbox,uid=mary,"), std::string::npos);
}

TEST_F(PolicyIntegrationTest, ExtensionFromPostfixArgv) {
  const std::string conf = Conf("");  // no recipient_delimiter at all
  ProcessResult r =
      Deliver(conf, "alice+lists@example.com", "m1", {"-e", "lists"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Read(StoredDn(r.out)).First("mdaFolder"), "lists");
  // Without the hint and without a delimiter, the address is unknown.
  r = Deliver(conf, "alice+lists@example.com", "m2");
  EXPECT_EQ(r.exit_code, 67) << r.out;
}

TEST_F(PolicyIntegrationTest, HostileExtensionsBecomeSafeFolderNames) {
  const std::string conf = Conf("recipient_delimiter = +\n");
  const std::string long_ext(300, 'f');
  ProcessResult r = Deliver(conf, "alice+" + long_ext + "@example.com", "m1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Read(StoredDn(r.out)).First("mdaFolder"), std::string(64, 'f'));
  r = Deliver(conf, "alice+INBOX@example.com", "m2");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Read(StoredDn(r.out)).First("mdaFolder"), "INBOX");
  r = Deliver(conf, "alice+*)(x=\\@example.com", "m3");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Read(StoredDn(r.out)).First("mdaFolder"), "*)(x=\\");
}

TEST_F(PolicyIntegrationTest, CatchAllEntryTakesUnknownAddressesOfItsDomain) {
  const std::string conf = Conf("catchall_query_filter = (mail=@%d)\n");
  ProcessResult r = Deliver(conf, "anyone@example.net", "m1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find(",cn=mailbox,uid=catchall,"), std::string::npos);
  // No catch-all entry for example.com: still unknown.
  r = Deliver(conf, "nobody@example.com", "m2");
  EXPECT_EQ(r.exit_code, 67);
  EXPECT_EQ(r.out.rfind("5.1.1 ", 0), 0u) << r.out;
  // Without the filter there is no catch-all.
  r = Deliver(Conf(""), "anyone@example.net", "m3");
  EXPECT_EQ(r.exit_code, 67) << r.out;
}

TEST_F(PolicyIntegrationTest, DisabledAccountBounces521) {
  const std::string conf = Conf(
      "account_status_attribute = mdaAccountStatus\n"
      "account_disabled_values = disabled, locked\n");
  ProcessResult r = Deliver(conf, "dave@example.com", "m1");
  EXPECT_EQ(r.exit_code, 69);
  EXPECT_EQ(r.out.rfind("5.2.1 <dave@example.com>: mailbox disabled", 0), 0u)
      << r.out;
  EXPECT_TRUE(Stored(server_).empty());
  r = Deliver(conf, "frank@example.com", "m1");  // active
  EXPECT_EQ(r.exit_code, 0) << r.out;
  r = Deliver(conf, "alice@example.com", "m1");  // attribute absent
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

TEST_F(PolicyIntegrationTest, QuotaExactlyAtLimitThenOneByteOver) {
  const std::string conf = Conf("quota_attribute = mdaQuota\n");
  const std::string box = Mailbox(server_, "erin");
  ProcessResult r = Deliver(conf, "erin@example.com", MessageOfSize(600, "a"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Read(box).First("mdaMailboxSize"), "600");
  EXPECT_EQ(Read(box).First("mdaMessageCount"), "1");

  // 600 + 400 = 1000 = the limit: accepted.
  r = Deliver(conf, "erin@example.com", MessageOfSize(400, "b"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Read(box).First("mdaMailboxSize"), "1000");
  EXPECT_EQ(Read(box).First("mdaMessageCount"), "2");

  // The same message again is a retry: delivered, not counted twice.
  r = Deliver(conf, "erin@example.com", MessageOfSize(400, "b"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Read(box).First("mdaMailboxSize"), "1000");

  // One byte more: bounced, or deferred in tempfail mode.
  const std::string one = "x";
  r = Deliver(conf, "erin@example.com", one);
  EXPECT_EQ(r.exit_code, 69);
  EXPECT_EQ(r.out.rfind("5.2.2 <erin@example.com>: mailbox full", 0), 0u)
      << r.out;
  r = Deliver(conf, "erin@example.com", one, {"-o", "quota_full_tempfail=yes"});
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_EQ(r.out.rfind("4.2.2 <erin@example.com>: mailbox full", 0), 0u)
      << r.out;
  EXPECT_EQ(Stored(server_, box).size(), 2u);
}

TEST_F(PolicyIntegrationTest, FirstMessageOneByteOverAnEmptyMailbox) {
  const std::string conf = Conf("quota_attribute = mdaQuota\n");
  ProcessResult r = Deliver(conf, "erin@example.com", MessageOfSize(1001, "a"));
  EXPECT_EQ(r.exit_code, 69) << r.out;
  r = Deliver(conf, "erin@example.com", MessageOfSize(1000, "b"));
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

TEST_F(PolicyIntegrationTest, NoQuotaAttributeMeansUnlimited) {
  const std::string conf = Conf("quota_attribute = mdaQuota\n");
  const ProcessResult r =
      Deliver(conf, "alice@example.com", MessageOfSize(100000, "big"));
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

TEST_F(PolicyIntegrationTest, RecountRepairsCorruptedCounters) {
  const std::string conf = Conf("quota_attribute = mdaQuota\n");
  const std::string box = Mailbox(server_, "erin");
  std::size_t total = 0;
  for (int i = 0; i < 3; ++i) {
    const std::string m = MessageOfSize(100 + static_cast<std::size_t>(i),
                                        "m" + std::to_string(i));
    total += m.size();
    ASSERT_EQ(Deliver(conf, "erin@example.com", m).exit_code, 0);
  }
  // Lost updates, as two providers incrementing at once would cause.
  ASSERT_EQ(server_.Admin().Modify(
                box, {{LDAP_MOD_REPLACE, "mdaMailboxSize", {"999"}},
                      {LDAP_MOD_REPLACE, "mdaMessageCount", {"1"}}}),
            LDAP_SUCCESS);
  // Now the quota check wrongly refuses a message that fits.
  EXPECT_EQ(
      Deliver(conf, "erin@example.com", MessageOfSize(500, "n")).exit_code, 69);

  ProcessResult r = RunProcess(
      {LDAPMDA_BINARY, "-c", conf, "--recount", "erin@example.com"}, "");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, box + ": 3 messages, " + std::to_string(total) +
                       " bytes (counters said 1 messages, 999 bytes)\n");
  EXPECT_EQ(Read(box).First("mdaMailboxSize"), std::to_string(total));
  EXPECT_EQ(Read(box).First("mdaMessageCount"), "3");
  EXPECT_EQ(
      Deliver(conf, "erin@example.com", MessageOfSize(500, "n")).exit_code, 0);

  // Counters removed altogether (a mailbox made before quotas were on):
  // the increment fails, the message is still stored and delivered.
  ASSERT_EQ(
      server_.Admin().Modify(box, {{LDAP_MOD_DELETE, "mdaMailboxSize", {}},
                                   {LDAP_MOD_DELETE, "mdaMessageCount", {}}}),
      LDAP_SUCCESS);
  r = Deliver(conf, "erin@example.com", MessageOfSize(50, "c"),
              {"--log", "stderr"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("stored as ", 0), 0u) << r.out;
  EXPECT_NE(r.err.find("usage counters of " + box + " not updated"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(Read(box).Has("mdaMailboxSize"));
  r = RunProcess({LDAPMDA_BINARY, "-c", conf, "--recount", "erin@example.com"},
                 "");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Read(box).First("mdaMessageCount"), "5");
}

TEST_F(PolicyIntegrationTest, RecountOfUnknownAddressSaysWhy) {
  const ProcessResult r = RunProcess(
      {LDAPMDA_BINARY, "-c", Conf(""), "--recount", "nobody@example.com"}, "");
  EXPECT_EQ(r.exit_code, 67);
  EXPECT_EQ(r.out, "5.1.1 no such user here\n");
}

}  // namespace
}  // namespace ldapmda
