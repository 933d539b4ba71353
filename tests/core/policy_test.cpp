// Unit tests: mailbox policy logic (extensions, catch-all, account status,
// quota) against a scripted directory. The same rules against a real slapd
// are in policy_integration_test.cpp.
#include <gtest/gtest.h>
#include <ldap.h>

#include "addr.h"
#include "fake_directory.h"
#include "ldapmda/delivery.h"
#include "ldapmda/recipient.h"

namespace ldapmda {
namespace {

using testing::Addr;
using testing::FakeDirectory;

struct SplitRow {
  std::string address;
  std::string delimiters;
  std::optional<std::string> base;  // nullopt: no extension
  std::string extension;
};

TEST(SplitExtensionTest, FollowsPostfixSplitAddr) {
  const SplitRow rows[] = {
      {"alice+lists@example.com", "+", "alice@example.com", "lists"},
      {"alice+a+b@example.com", "+", "alice@example.com", "a+b"},
      {"alice-lists@example.com", "+-", "alice@example.com", "lists"},
      {"alice-x+y@example.com", "+-", "alice@example.com", "x+y"},
      {"alice@example.com", "+", std::nullopt, ""},
      {"alice+@example.com", "+", std::nullopt, ""},  // nothing after it
      {"+lists@example.com", "+", std::nullopt, ""},  // nothing before it
      {"alice+lists@example.com", "", std::nullopt, ""},
      {"owner-list@example.com", "-", std::nullopt, ""},
      {"list-request@example.com", "-", std::nullopt, ""},
      {"owner-list@example.com", "+", std::nullopt, ""},
      {"bob+x", "+", "bob", "x"},  // no domain
      {"\"a+b\"@example.com", "+", "\"a@example.com", "b\""},
  };
  for (const auto& row : rows) {
    const auto got = SplitExtension(Addr(row.address), row.delimiters);
    ASSERT_EQ(got.has_value(), row.base.has_value()) << row.address;
    if (got) {
      EXPECT_EQ(got->address.text, *row.base) << row.address;
      EXPECT_EQ(got->extension, row.extension) << row.address;
    }
  }
}

TEST(StripExtensionTest, UsesTheGivenExtension) {
  auto e = StripExtension(Addr("alice+lists@example.com"), "lists");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->address.text, "alice@example.com");
  EXPECT_EQ(e->extension, "lists");
  e = StripExtension(Addr("alice-x+y@example.com"), "x+y");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->address.text, "alice@example.com");
  EXPECT_FALSE(StripExtension(Addr("alice@example.com"), "lists"));
  EXPECT_FALSE(StripExtension(Addr("alice+lists@example.com"), ""));
  EXPECT_FALSE(StripExtension(Addr("+lists@example.com"), "lists"));
}

TEST(FolderNameTest, SanitisedWithASafeDefault) {
  EXPECT_EQ(FolderName("lists"), "lists");
  EXPECT_EQ(FolderName("inbox"), "INBOX");
  EXPECT_EQ(FolderName(""), "INBOX");
  EXPECT_EQ(FolderName("\x01\x02\r\n"), "INBOX");
  EXPECT_EQ(FolderName("a\tb\nc"), "a b c");
  EXPECT_EQ(FolderName(std::string(200, 'x')),
            std::string(kMaxFolderBytes, 'x'));
  EXPECT_EQ(FolderName("caf\xc3\xa9"), "café");
  EXPECT_EQ(FolderName("bad\xff"), "bad\xef\xbf\xbd");  // repaired UTF-8
}

TEST(FitsQuotaTest, ExactlyAtTheLimitFitsOneByteOverDoesNot) {
  EXPECT_TRUE(FitsQuota({900, 1}, 100, 1000));
  EXPECT_FALSE(FitsQuota({900, 1}, 101, 1000));
  EXPECT_TRUE(FitsQuota({0, 0}, 0, 0));
  EXPECT_FALSE(FitsQuota({0, 0}, 1, 0));
  EXPECT_FALSE(FitsQuota({2000, 5}, 0, 1000));  // already over
}

class PolicyTest : public ::testing::Test {
 protected:
  PolicyTest() {
    config_.search_base = "dc=x";
    config_.recipient_delimiter = "+";
  }
  DeliveryResult Deliver(const std::string& rcpt, std::string ext = "") {
    Delivery d(config_, dir_, dir_, deadline_);
    return d.Deliver(raw_, info_, {"s@x", "", "Q", std::move(ext)}, rcpt);
  }
  std::vector<std::string> Filters() const {
    std::vector<std::string> out;
    for (const auto& s : dir_.searches) {
      if (s.scope != Scope::kBase) out.push_back(s.filter);
    }
    return out;
  }
  static Entry User(const std::string& dn,
                    std::vector<Attribute> attributes = {}) {
    return {dn, std::move(attributes)};
  }

  Config config_;
  FakeDirectory dir_;
  Deadline deadline_{std::chrono::seconds(60)};
  std::string raw_ = std::string(100, 'x');
  MessageInfo info_;
};

TEST_F(PolicyTest, ExactAddressFirstThenWithoutExtension) {
  dir_.by_filter["(mail=alice@x)"] = {User("uid=alice,dc=x")};
  const DeliveryResult r = Deliver("alice+lists@x");
  EXPECT_EQ(r.outcome.dsn, kDsnStored);
  EXPECT_EQ(r.folder, "lists");
  EXPECT_EQ(Filters(), (std::vector<std::string>{"(mail=alice+lists@x)",
                                                 "(mail=alice@x)"}));
  // Independent, so both went out at once: one round trip.
  EXPECT_EQ(dir_.search_many_calls, 1);
  EXPECT_EQ(
      r.stored_dn.find(",cn=mailbox,uid=alice,dc=x"),
      r.stored_dn.size() - std::string(",cn=mailbox,uid=alice,dc=x").size());
}

TEST_F(PolicyTest, DelimiterThatIsPartOfARealAddressKeepsTheAddress) {
  config_.recipient_delimiter = "-";
  dir_.by_filter["(mail=mary-ann@x)"] = {User("uid=mary-ann,dc=x")};
  dir_.by_filter["(mail=mary@x)"] = {User("uid=mary,dc=x")};
  const DeliveryResult r = Deliver("mary-ann@x");
  EXPECT_EQ(r.outcome.dsn, kDsnStored);
  EXPECT_EQ(r.folder, "INBOX");
  EXPECT_NE(r.stored_dn.find("uid=mary-ann,dc=x"), std::string::npos);
}

// The address as given wins: what the lookup without the extension
// answered (here: an ambiguous match) does not count then.
TEST_F(PolicyTest, ExactMatchWinsWhateverTheOtherLookupAnswered) {
  config_.recipient_delimiter = "-";
  dir_.by_filter["(mail=mary-ann@x)"] = {User("uid=mary-ann,dc=x")};
  dir_.by_filter["(mail=mary@x)"] = {User("uid=mary,dc=x"),
                                     User("uid=mary2,dc=x")};
  const DeliveryResult r = Deliver("mary-ann@x");
  EXPECT_EQ(r.outcome.dsn, kDsnStored);
  EXPECT_NE(r.stored_dn.find("uid=mary-ann,dc=x"), std::string::npos);
  // Without the exact match, the ambiguity defers.
  EXPECT_EQ(Deliver("mary-bob@x").outcome.dsn, kDsnConfig);
}

TEST_F(PolicyTest, ExtensionIgnoredWhenItMayNotChooseTheFolder) {
  config_.extension_folder = false;
  dir_.by_filter["(mail=alice@x)"] = {User("uid=alice,dc=x")};
  EXPECT_EQ(Deliver("alice+lists@x").folder, "INBOX");
}

TEST_F(PolicyTest, ExtensionFromArgvWinsOverSplitting) {
  config_.recipient_delimiter = "";  // ldapmda would not split itself
  dir_.by_filter["(mail=alice@x)"] = {User("uid=alice,dc=x")};
  const DeliveryResult r = Deliver("alice+lists@x", "lists");
  EXPECT_EQ(r.outcome.dsn, kDsnStored);
  EXPECT_EQ(r.folder, "lists");
}

TEST_F(PolicyTest, CatchAllOnlyWhenNothingElseMatches) {
  config_.catchall_query_filter = "(mail=@%d)";
  dir_.by_filter["(mail=@x)"] = {User("uid=catchall,dc=x")};
  DeliveryResult r = Deliver("nobody+ext@x");
  EXPECT_EQ(r.outcome.dsn, kDsnStored);
  EXPECT_EQ(Filters(),
            (std::vector<std::string>{"(mail=nobody+ext@x)", "(mail=nobody@x)",
                                      "(mail=@x)"}));
  EXPECT_NE(r.stored_dn.find("uid=catchall,dc=x"), std::string::npos);
  dir_.by_filter["(mail=@x)"] = {};
  EXPECT_EQ(Deliver("nobody@x").outcome.dsn, kDsnNoSuchUser);
}

TEST_F(PolicyTest, AmbiguousCatchAllDefers) {
  config_.catchall_query_filter = "(mail=@%d)";
  dir_.by_filter["(mail=@x)"] = {User("uid=a,dc=x"), User("uid=b,dc=x")};
  EXPECT_EQ(Deliver("nobody@x").outcome.dsn, kDsnConfig);
}

TEST_F(PolicyTest, DisabledAccountBounces521) {
  config_.account_status_attribute = "accountStatus";
  config_.account_disabled_values = {"disabled", "locked"};
  dir_.by_filter["(mail=a@x)"] = {
      User("uid=a,dc=x", {{"accountStatus", {"Locked"}}})};
  const DeliveryResult r = Deliver("a@x");
  EXPECT_EQ(r.outcome.dsn, kDsnDisabled);
  EXPECT_TRUE(dir_.added.empty());
  // The attribute is fetched with the lookup, no extra round trip.
  EXPECT_EQ(dir_.searches.front().attributes,
            std::vector<std::string>{"accountStatus"});
  dir_.by_filter["(mail=a@x)"] = {
      User("uid=a,dc=x", {{"accountStatus", {"active"}}})};
  EXPECT_EQ(Deliver("a@x").outcome.dsn, kDsnStored);
}

TEST_F(PolicyTest, QuotaRuleAndTempfailMode) {
  config_.quota_attribute = "mailQuota";
  const std::string box = "cn=mailbox,uid=a,dc=x";
  dir_.entries_by_dn[box] =
      User(box, {{"mdaMailboxSize", {"900"}}, {"mdaMessageCount", {"3"}}});
  dir_.by_filter["(mail=a@x)"] = {
      User("uid=a,dc=x", {{"mailQuota", {"1000"}}})};
  EXPECT_EQ(Deliver("a@x").outcome.dsn, kDsnStored);  // 900 + 100 = 1000
  ASSERT_EQ(dir_.modified, std::vector<std::string>{box});
  EXPECT_EQ(dir_.last_changes[0].op, Modification::Op::kIncrement);
  EXPECT_EQ(dir_.last_changes[0].values, std::vector<std::string>{"100"});
  EXPECT_EQ(dir_.last_changes[1].values, std::vector<std::string>{"1"});

  dir_.entries_by_dn[box] =
      User(box, {{"mdaMailboxSize", {"901"}}, {"mdaMessageCount", {"3"}}});
  raw_ += "y";  // another message
  EXPECT_EQ(Deliver("a@x").outcome.dsn, kDsnOverQuota);
  config_.quota_full_tempfail = true;
  EXPECT_EQ(Deliver("a@x").outcome.dsn, kDsnOverQuotaTemp);
}

TEST_F(PolicyTest, NoQuotaValueMeansUnlimitedAndNoCounting) {
  config_.quota_attribute = "mailQuota";
  dir_.by_filter["(mail=a@x)"] = {User("uid=a,dc=x")};
  EXPECT_EQ(Deliver("a@x").outcome.dsn, kDsnStored);
  config_.quota_attribute = "";
  EXPECT_EQ(Deliver("b@x").outcome.dsn, kDsnNoSuchUser);
  dir_.modified.clear();
  dir_.by_filter["(mail=b@x)"] = {User("uid=b,dc=x")};
  EXPECT_EQ(Deliver("b@x").outcome.dsn, kDsnStored);
  EXPECT_TRUE(dir_.modified.empty());
}

TEST_F(PolicyTest, BrokenQuotaValueDefers) {
  config_.quota_attribute = "mailQuota";
  dir_.by_filter["(mail=a@x)"] = {
      User("uid=a,dc=x", {{"mailQuota", {"lots"}}})};
  EXPECT_EQ(Deliver("a@x").outcome.dsn, kDsnConfig);
}

TEST_F(PolicyTest, RetryOfAStoredMessageIsDeliveredEvenWhenNowOverQuota) {
  // Stored, then the process died before it could report; meanwhile the
  // mailbox filled. The retry must say delivered, not bounce.
  config_.quota_attribute = "mailQuota";
  const std::string box = "cn=mailbox,uid=a,dc=x";
  const std::string message =
      "mdaKey=" + MessageKey("a@x", raw_) + ",mdaFolder=INBOX," + box;
  dir_.entries_by_dn[box] =
      User(box, {{"mdaMailboxSize", {"1000"}}, {"mdaMessageCount", {"3"}}});
  dir_.entries_by_dn[message] = User(message);
  dir_.by_filter["(mail=a@x)"] = {
      User("uid=a,dc=x", {{"mailQuota", {"1000"}}})};
  const DeliveryResult r = Deliver("a@x");
  EXPECT_EQ(r.outcome.dsn, kDsnStored);
  EXPECT_EQ(r.outcome.text, "already stored as " + message);
  EXPECT_TRUE(dir_.modified.empty());
  // Where it may be (its folder, or right below the mailbox as an older
  // ldapmda stored it) was asked in one round trip, besides the lookup.
  EXPECT_EQ(dir_.search_many_calls, 2);
}

TEST_F(PolicyTest, OverQuotaDefersWhenTheDirectoryCannotSayIfItIsStored) {
  // The mailbox is full, but whether this very message was stored by an
  // earlier attempt cannot be read: a bounce could be for a stored one.
  config_.quota_attribute = "mailQuota";
  const std::string box = "cn=mailbox,uid=a,dc=x";
  dir_.entries_by_dn[box] =
      User(box, {{"mdaMailboxSize", {"1000"}}, {"mdaMessageCount", {"3"}}});
  dir_.by_filter["(mail=a@x)"] = {
      User("uid=a,dc=x", {{"mailQuota", {"1000"}}})};
  EXPECT_EQ(Deliver("a@x").outcome.dsn, kDsnOverQuota);
  dir_.base_search_code = LDAP_BUSY;
  const DeliveryResult r = Deliver("a@x");
  EXPECT_EQ(r.outcome.disposition(), Disposition::kDefer) << r.outcome.text;
  EXPECT_NE(r.outcome.text.find("stored already"), std::string::npos)
      << r.outcome.text;
  EXPECT_TRUE(dir_.modified.empty());
}

TEST_F(PolicyTest, FailedCounterUpdateNeverFailsAStoredMessage) {
  config_.quota_attribute = "mailQuota";
  dir_.modify_code = LDAP_NO_SUCH_ATTRIBUTE;
  dir_.by_filter["(mail=a@x)"] = {
      User("uid=a,dc=x", {{"mailQuota", {"1000"}}})};
  EXPECT_EQ(Deliver("a@x").outcome.dsn, kDsnStored);
  EXPECT_EQ(dir_.modified.size(), 1u);
}

TEST_F(PolicyTest, RetryIsNotCountedTwice) {
  config_.quota_attribute = "mailQuota";
  dir_.add_codes = {LDAP_ALREADY_EXISTS};
  dir_.by_filter["(mail=a@x)"] = {
      User("uid=a,dc=x", {{"mailQuota", {"1000"}}})};
  EXPECT_EQ(Deliver("a@x").outcome.dsn, kDsnStored);
  EXPECT_TRUE(dir_.modified.empty());
}

TEST_F(PolicyTest, NewMailboxStartsWithCountersWhenUsageIsTracked) {
  config_.quota_attribute = "mailQuota";
  dir_.add_codes = {LDAP_NO_SUCH_OBJECT, LDAP_NO_SUCH_OBJECT, LDAP_SUCCESS,
                    LDAP_SUCCESS, LDAP_SUCCESS};
  dir_.by_filter["(mail=a@x)"] = {User("uid=a,dc=x")};
  EXPECT_EQ(Deliver("a@x").outcome.dsn, kDsnStored);
  const auto& box = dir_.last_attributes["cn=mailbox,uid=a,dc=x"];
  ASSERT_EQ(box.size(), 4u);
  EXPECT_EQ(box[2].name, "mdaMailboxSize");
  EXPECT_EQ(box[2].values, std::vector<std::string>{"0"});
  EXPECT_EQ(box[3].name, "mdaMessageCount");
}

}  // namespace
}  // namespace ldapmda
