// Unit tests of the delivery core's logic against a fake directory.
// (The real thing, against slapd, is in integration_test.cpp.)
#include "ldapmda/delivery.h"

#include <gtest/gtest.h>
#include <ldap.h>

#include "fake_directory.h"

namespace ldapmda {
namespace {

using testing::FakeDirectory;

class DeliveryTest : public ::testing::Test {
 protected:
  DeliveryTest() { config_.search_base = "dc=x"; }
  DeliveryResult Deliver(const std::string& rcpt = "Alice@X") {
    Delivery d(config_, dir_, dir_, deadline_);
    return d.Deliver(raw_, info_, envelope_, rcpt);
  }
  std::string MessageDn() const {
    return "mdaKey=" + MessageKey("alice@x", raw_) +
           ",mdaFolder=INBOX,cn=mailbox,uid=alice,dc=x";
  }

  Config config_;
  FakeDirectory dir_;
  Deadline deadline_{std::chrono::seconds(60)};
  std::string raw_ = "Subject: hi\n\nbody\n";
  MessageInfo info_ = ParseMessage(raw_);
  Envelope envelope_{"", "orig@x", "ABC123", ""};
};

TEST_F(DeliveryTest, HotPathIsOneSearchAndOneAdd) {
  const DeliveryResult r = Deliver();
  EXPECT_EQ(r.outcome.dsn, kDsnStored);
  EXPECT_EQ(r.outcome.text, "stored as " + MessageDn());
  EXPECT_EQ(r.stored_dn, MessageDn());
  ASSERT_EQ(dir_.searches.size(), 1u);
  EXPECT_EQ(dir_.searches[0].filter, "(mail=Alice@X)");
  EXPECT_EQ(dir_.searches[0].size_limit, 2);
  EXPECT_EQ(dir_.added, std::vector<std::string>{MessageDn()});
}

TEST_F(DeliveryTest, MissingMailboxAndFolderAreCreatedThenTheAddRetried) {
  // message: no parent; folder: no parent; mailbox; folder; message.
  dir_.add_codes = {LDAP_NO_SUCH_OBJECT, LDAP_NO_SUCH_OBJECT, LDAP_SUCCESS,
                    LDAP_SUCCESS, LDAP_SUCCESS};
  EXPECT_EQ(Deliver().outcome.dsn, kDsnStored);
  const std::vector<std::string> want = {
      MessageDn(), "mdaFolder=INBOX,cn=mailbox,uid=alice,dc=x",
      "cn=mailbox,uid=alice,dc=x", "mdaFolder=INBOX,cn=mailbox,uid=alice,dc=x",
      MessageDn()};
  EXPECT_EQ(dir_.added, want);
  const auto& box = dir_.last_attributes["cn=mailbox,uid=alice,dc=x"];
  ASSERT_EQ(box.size(), 2u);
  EXPECT_EQ(box[0].values[0], "mdaMailbox");
  EXPECT_EQ(box[1].name, "cn");
  EXPECT_EQ(box[1].values[0], "mailbox");
  const auto& folder =
      dir_.last_attributes["mdaFolder=INBOX,cn=mailbox,uid=alice,dc=x"];
  ASSERT_GE(folder.size(), 4u);
  EXPECT_EQ(folder[0].values[0], "mdaMailFolder");
  EXPECT_EQ(folder[1].name, "mdaFolder");
  EXPECT_EQ(folder[1].values[0], "INBOX");
  EXPECT_EQ(folder[2].name, "mdaFolderName");
  EXPECT_EQ(folder[2].values[0], "INBOX");
}

TEST_F(DeliveryTest, MissingFolderIsCreatedInAnExistingMailbox) {
  dir_.add_codes = {LDAP_NO_SUCH_OBJECT, LDAP_SUCCESS, LDAP_SUCCESS};
  EXPECT_EQ(Deliver().outcome.dsn, kDsnStored);
  const std::vector<std::string> want = {
      MessageDn(), "mdaFolder=INBOX,cn=mailbox,uid=alice,dc=x", MessageDn()};
  EXPECT_EQ(dir_.added, want);
}

TEST_F(DeliveryTest, FolderAndMailboxCreatedConcurrentlyAreFine) {
  dir_.add_codes = {LDAP_NO_SUCH_OBJECT, LDAP_NO_SUCH_OBJECT,
                    LDAP_ALREADY_EXISTS, LDAP_ALREADY_EXISTS, LDAP_SUCCESS};
  EXPECT_EQ(Deliver().outcome.dsn, kDsnStored);
}

TEST_F(DeliveryTest, AlreadyStoredIsARetryAndDelivered) {
  dir_.add_codes = {LDAP_ALREADY_EXISTS};
  const DeliveryResult r = Deliver();
  EXPECT_EQ(r.outcome.dsn, kDsnStored);
  EXPECT_EQ(r.outcome.text, "already stored as " + MessageDn());
}

struct Case {
  const char* name;
  std::vector<Entry> entries;
  int search_code;
  std::deque<int> add_codes;
  std::string rcpt;
  Dsn want;
};

TEST_F(DeliveryTest, VerdictTable) {
  const Entry a{"uid=a,dc=x", {}}, b{"uid=b,dc=x", {}};
  const Case cases[] = {
      {"unknown user", {}, LDAP_SUCCESS, {}, "nobody@x", kDsnNoSuchUser},
      {"two entries", {a, b}, LDAP_SUCCESS, {}, "dup@x", kDsnConfig},
      {"size limit", {a}, LDAP_SIZELIMIT_EXCEEDED, {}, "dup@x", kDsnConfig},
      {"bad address", {a}, LDAP_SUCCESS, {}, "a\nb@x", kDsnBadAddress},
      {"empty address", {a}, LDAP_SUCCESS, {}, "", kDsnBadAddress},
      {"server down",
       {},
       LDAP_SERVER_DOWN,
       {},
       "a@x",
       kDsnDirectoryUnavailable},
      {"no base", {}, LDAP_NO_SUCH_OBJECT, {}, "a@x", kDsnConfig},
      {"add denied",
       {a},
       LDAP_SUCCESS,
       {LDAP_INSUFFICIENT_ACCESS},
       "a@x",
       kDsnConfig},
      {"schema missing",
       {a},
       LDAP_SUCCESS,
       {LDAP_UNDEFINED_TYPE},
       "a@x",
       kDsnConfig},
      {"entry too large",
       {a},
       LDAP_SUCCESS,
       {LDAP_ADMINLIMIT_EXCEEDED},
       "a@x",
       kDsnTooBig},
      {"store timed out",
       {a},
       LDAP_SUCCESS,
       {LDAP_TIMEOUT},
       "a@x",
       kDsnDirectoryUnavailable},
      {"mailbox vanished",
       {a},
       LDAP_SUCCESS,
       {LDAP_NO_SUCH_OBJECT, LDAP_SUCCESS, LDAP_NO_SUCH_OBJECT},
       "a@x",
       kDsnConfig},
      {"mailbox denied",
       {a},
       LDAP_SUCCESS,
       {LDAP_NO_SUCH_OBJECT, LDAP_INSUFFICIENT_ACCESS},
       "a@x",
       kDsnConfig},
  };
  for (const auto& c : cases) {
    FakeDirectory dir;
    dir.search_entries = c.entries;
    dir.search_code = c.search_code;
    dir.add_codes = c.add_codes;
    Delivery d(config_, dir, dir, deadline_);
    EXPECT_EQ(d.Deliver(raw_, info_, envelope_, c.rcpt).outcome.dsn, c.want)
        << c.name;
  }
}

TEST_F(DeliveryTest, FilterMetacharactersNeverReachTheFilterUnescaped) {
  Deliver("*)(mail=*@x");
  ASSERT_EQ(dir_.searches.size(), 1u);
  EXPECT_EQ(dir_.searches[0].filter, "(mail=\\2a\\29\\28mail=\\2a@x)");
}

TEST_F(DeliveryTest, DomainlessAddressWithDomainFilterIsUnknown) {
  config_.query_filter = "(&(uid=%u)(dc=%d))";
  EXPECT_EQ(Deliver("postmaster").outcome.dsn, kDsnNoSuchUser);
  EXPECT_TRUE(dir_.searches.empty());
}

TEST_F(DeliveryTest, SeparateStoreDirectoryTakesTheAdds) {
  FakeDirectory store;
  Delivery d(config_, dir_, store, deadline_);
  EXPECT_EQ(d.Deliver(raw_, info_, envelope_, "alice@x").outcome.dsn,
            kDsnStored);
  EXPECT_TRUE(dir_.added.empty());
  EXPECT_EQ(store.added.size(), 1u);
  EXPECT_TRUE(store.searches.empty());
}

TEST_F(DeliveryTest, ExpiredDeadlineTurnsFailuresInto430) {
  Deadline expired{std::chrono::milliseconds(0)};
  dir_.search_code = LDAP_TIMEOUT;
  Delivery d(config_, dir_, dir_, expired);
  const Outcome o = d.Deliver(raw_, info_, envelope_, "a@x").outcome;
  EXPECT_EQ(o.dsn, kDsnInternal);
  EXPECT_NE(o.text.find("deadline"), std::string::npos);
}

TEST(MessageKeyTest, LowerCasesTheRecipientAndCoversEveryByte) {
  EXPECT_EQ(MessageKey("Alice@Example.COM", "x"),
            MessageKey("alice@example.com", "x"));
  EXPECT_EQ(MessageKey("a@x", "body"), Sha256Hex({"a@x\nbody"}));
  EXPECT_NE(MessageKey("a@x", "body"), MessageKey("b@x", "body"));
  EXPECT_NE(MessageKey("a@x", "body\n"), MessageKey("a@x", "body\r\n"));
}

TEST(MessageEntryTest, AttributesAndNullSender) {
  const std::string raw = "Subject: =?UTF-8?Q?caf=C3=A9?=\n\nx";
  const MessageInfo info = ParseMessage(raw);
  const MessageEntry e("k", raw, info, {"", "orig@x", "4ABC", ""}, "rcpt@x",
                       "INBOX", 1057049557);
  std::map<std::string, std::string> got;
  for (const auto& a : e.attributes()) {
    ASSERT_EQ(a.values.size(), 1u) << a.name;
    got[a.name] = std::string(a.values[0]);
  }
  EXPECT_EQ(got["objectClass"], "mdaMessage");
  EXPECT_EQ(got["mdaKey"], "k");
  EXPECT_EQ(got["mdaRawMessage"], raw);
  EXPECT_EQ(got["mdaSize"], std::to_string(raw.size()));
  EXPECT_EQ(got["mdaSubject"], "café");
  EXPECT_EQ(got["mdaDeliveredAt"], "20030701085237Z");
  EXPECT_EQ(got["mdaEnvelopeSender"], "<>");
  EXPECT_EQ(got["mdaEnvelopeRecipient"], "rcpt@x");
  EXPECT_EQ(got["mdaOriginalRecipient"], "orig@x");
  EXPECT_EQ(got["mdaQueueId"], "4ABC");
  EXPECT_EQ(got["mdaFolder"], "INBOX");
  EXPECT_EQ(got.count("mdaFrom"), 0u);  // absent headers are left out
  EXPECT_EQ(got.count("mdaDate"), 0u);
}

TEST(MessageEntryTest, RawMessageIsReferencedNotCopied) {
  const std::string raw(1 << 20, 'x');
  const MessageEntry e("k", raw, {}, {}, "r@x", "INBOX", 0);
  for (const auto& a : e.attributes()) {
    if (a.name == "mdaRawMessage") {
      EXPECT_EQ(a.values[0].data(), raw.data());
    }
  }
}

TEST(MessageEntryTest, NonAsciiQueueIdIsLeftOut) {
  const MessageEntry e("k", "x", {}, {"s@x", "", "bad id\xff", ""}, "r@x",
                       "INBOX", 0);
  for (const auto& a : e.attributes()) {
    EXPECT_NE(a.name, "mdaQueueId");
    EXPECT_NE(a.name, "mdaOriginalRecipient");  // empty: unknown
  }
}

}  // namespace
}  // namespace ldapmda
