// Unit tests of replica confirmation (confirm.h) against scripted
// replicas, and of how Delivery folds it into the verdict. The real thing,
// a two-provider pair, is in replication_test.cpp.
#include "ldapmda/confirm.h"

#include <gtest/gtest.h>
#include <ldap.h>

#include <chrono>
#include <string>
#include <vector>

#include "fake_directory.h"
#include "ldapmda/delivery.h"

namespace ldapmda {
namespace {

using std::chrono::milliseconds;
using testing::FakeDirectory;

constexpr char kDn[] = "mdaKey=k,cn=mailbox,uid=alice,dc=x";

// A replica that has the entry from its `visible_after`-th search on, or
// answers every search with `code` (a replica that is down).
class ScriptedReplica : public FakeDirectory {
 public:
  DirResult Search(const SearchRequest& request,
                   std::vector<Entry>* entries) override {
    searches.push_back(request);
    entries->clear();
    if (code != LDAP_SUCCESS) return LdapResult(code, "scripted");
    if (static_cast<int>(searches.size()) < visible_after) {
      return LdapResult(LDAP_NO_SUCH_OBJECT);
    }
    entries->push_back({request.base, {}});
    return {};
  }
  int visible_after = 1;
  int code = LDAP_SUCCESS;
};

class ConfirmTest : public ::testing::Test {
 protected:
  ConfirmTest() {
    config_.search_base = "dc=x";
    config_.confirm_host = {"ldap://r1", "ldap://r2"};
    config_.confirm_timeout = milliseconds(300);
  }
  ReplicaConfirmer Confirmer() {
    return ReplicaConfirmer(config_, {{"ldap://r1", &r1_}, {"ldap://r2", &r2_}},
                            window_, deadline_);
  }

  Config config_;
  ScriptedReplica r1_, r2_;
  Deadline window_{milliseconds(0)};
  Deadline deadline_{std::chrono::seconds(60)};
};

TEST_F(ConfirmTest, BothReplicasHaveItAtOnce) {
  const Outcome o = Confirmer().Confirm(kDn);
  EXPECT_EQ(o.dsn, kDsnStored);
  EXPECT_EQ(o.text, "confirmed by 2 of 2 replicas");
  // One base search each, asking for no attributes.
  ASSERT_EQ(r1_.searches.size(), 1u);
  EXPECT_EQ(r1_.searches[0].base, kDn);
  EXPECT_EQ(r1_.searches[0].scope, Scope::kBase);
  EXPECT_TRUE(r1_.searches[0].attributes.empty());
  EXPECT_EQ(r2_.searches.size(), 1u);
}

TEST_F(ConfirmTest, PollsUntilReplicationArrives) {
  r2_.visible_after = 4;
  const Outcome o = Confirmer().Confirm(kDn);
  EXPECT_EQ(o.dsn, kDsnStored) << o.text;
  EXPECT_EQ(r1_.searches.size(), 1u)
      << "a confirmed replica is not asked again";
  EXPECT_EQ(r2_.searches.size(), 4u);
}

TEST_F(ConfirmTest, OneOfTwoIsEnoughWithConfirmCountOne) {
  config_.confirm_count = 1;
  r1_.code = LDAP_SERVER_DOWN;
  const Outcome o = Confirmer().Confirm(kDn);
  EXPECT_EQ(o.dsn, kDsnStored) << o.text;
  EXPECT_EQ(o.text, "confirmed by 1 of 2 replicas");
}

TEST_F(ConfirmTest, StopsAskingOnceEnoughConfirmed) {
  config_.confirm_count = 1;
  Confirmer().Confirm(kDn);
  EXPECT_EQ(r1_.searches.size(), 1u);
  EXPECT_TRUE(r2_.searches.empty());
}

TEST_F(ConfirmTest, NotReplicatedWithinTheTimeoutDefers443) {
  r2_.visible_after = 1000000;
  const auto start = std::chrono::steady_clock::now();
  const Outcome o = Confirmer().Confirm(kDn);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(o.dsn, kDsnDirectoryUnavailable);
  EXPECT_EQ(o.disposition(), Disposition::kDefer);
  EXPECT_NE(o.text.find("1 of 2 required replicas"), std::string::npos)
      << o.text;
  EXPECT_NE(o.text.find("ldap://r2: not there yet"), std::string::npos)
      << o.text;
  EXPECT_EQ(o.text.find("ldap://r1"), std::string::npos)
      << "r1 confirmed: " << o.text;
  // It kept asking for the whole window (backing off, never more than
  // 20 ms apart: some 20 searches in 300 ms), and then stopped.
  EXPECT_GE(took, milliseconds(300));
  EXPECT_GE(r2_.searches.size(), 10u);
  EXPECT_TRUE(window_.Expired());
}

TEST_F(ConfirmTest, AReplicaThatIsDownIsNamedWithItsError) {
  r1_.code = LDAP_SERVER_DOWN;
  config_.confirm_timeout = milliseconds(20);
  const Outcome o = Confirmer().Confirm(kDn);
  EXPECT_EQ(o.dsn, kDsnDirectoryUnavailable);
  EXPECT_NE(o.text.find("ldap://r1: directory unavailable: Can't contact"),
            std::string::npos)
      << o.text;
}

TEST_F(ConfirmTest, TheWindowNeverOutlivesTheDeadline) {
  r2_.visible_after = 1000000;
  config_.confirm_timeout = std::chrono::seconds(30);
  const Deadline short_deadline{milliseconds(50)};
  ReplicaConfirmer confirmer(config_,
                             {{"ldap://r1", &r1_}, {"ldap://r2", &r2_}},
                             window_, short_deadline);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(confirmer.Confirm(kDn).dsn, kDsnDirectoryUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// Delivery: a store counts once confirmed; an unconfirmed one defers and
// its retry, finding the entry, confirms again without a second add.
class ConfirmedDeliveryTest : public ConfirmTest {
 protected:
  DeliveryResult Deliver(ReplicaConfirmer& confirmer) {
    Delivery d(config_, dir_, dir_, deadline_, &confirmer);
    return d.Deliver(raw_, ParseMessage(raw_), {"", "", "", ""}, "alice@x");
  }
  std::string MessageDn() const {
    return "mdaKey=" + MessageKey("alice@x", raw_) +
           ",mdaFolder=INBOX,cn=mailbox,uid=alice,dc=x";
  }
  FakeDirectory dir_;
  std::string raw_ = "Subject: hi\n\nbody\n";
};

TEST_F(ConfirmedDeliveryTest, ConfirmedStoreIsDelivered) {
  ReplicaConfirmer confirmer = Confirmer();
  const DeliveryResult r = Deliver(confirmer);
  EXPECT_EQ(r.outcome.dsn, kDsnStored);
  EXPECT_EQ(r.outcome.text,
            "stored as " + MessageDn() + ", confirmed by 2 of 2 replicas");
  EXPECT_EQ(r.stored_dn, MessageDn());
  ASSERT_EQ(r1_.searches.size(), 1u);
  EXPECT_EQ(r1_.searches[0].base, MessageDn());
}

TEST_F(ConfirmedDeliveryTest, UnconfirmedStoreDefersAndTheRetryConfirms) {
  config_.confirm_timeout = milliseconds(20);
  r2_.code = LDAP_SERVER_DOWN;
  ReplicaConfirmer confirmer = Confirmer();
  DeliveryResult r = Deliver(confirmer);
  EXPECT_EQ(r.outcome.dsn, kDsnDirectoryUnavailable);
  EXPECT_EQ(
      r.outcome.text.rfind(
          "stored as " + MessageDn() + ", but replication not confirmed", 0),
      0u)
      << r.outcome.text;
  EXPECT_TRUE(r.stored_dn.empty());
  ASSERT_EQ(dir_.added.size(), 1u);

  // Postfix retries; the replica is back.
  r2_.code = LDAP_SUCCESS;
  dir_.add_codes = {LDAP_ALREADY_EXISTS};
  r = Deliver(confirmer);
  EXPECT_EQ(r.outcome.dsn, kDsnStored) << r.outcome.text;
  EXPECT_EQ(r.outcome.text, "already stored as " + MessageDn() +
                                ", confirmed by 2 of 2 replicas");
  EXPECT_EQ(dir_.added.size(), 2u) << "the retry tried one add, no more";
}

TEST_F(ConfirmedDeliveryTest, RefusalsAreNotConfirmed) {
  dir_.search_entries.clear();  // unknown user: 5.1.1, nothing stored
  ReplicaConfirmer confirmer = Confirmer();
  EXPECT_EQ(Deliver(confirmer).outcome.dsn, kDsnNoSuchUser);
  EXPECT_TRUE(r1_.searches.empty());
}

}  // namespace
}  // namespace ldapmda
