// LdapDirectory against a real slapd: SearchMany, several searches sent at
// once on one connection, answered each as Search() would answer it; and
// searches sent ahead, answered later.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "ldapmda/directories.h"
#include "ldapmda/directory.h"
#include "support/ldap_client.h"
#include "support/slapd_server.h"

namespace ldapmda {
namespace {

using testing::SlapdServer;

class LdapDirectoryTest : public ::testing::Test {
 protected:
  LdapDirectoryTest() {
    config_.server_host = {server_.uri()};
    config_.bind = BindMethod::kSimple;
    config_.bind_dn = server_.admin_dn();
    config_.timeout = std::chrono::seconds(5);
  }

  std::unique_ptr<Directory> Open(std::vector<std::string> uris) {
    return OpenDirectory(config_, std::move(uris), server_.admin_password(),
                         deadline_);
  }

  static SearchRequest Base(const std::string& dn) {
    return {dn, Scope::kBase, "(objectClass=*)", {"uid", "mail"}};
  }

  SlapdServer server_;
  Config config_;
  Deadline deadline_{std::chrono::seconds(30)};
};

TEST_F(LdapDirectoryTest, SearchManyAnswersEachRequestInItsPlace) {
  const auto dir = Open({server_.uri()});
  const std::string people = server_.people_dn();
  const std::vector<SearchRequest> requests = {
      Base("uid=carol," + people),
      Base("uid=nobody," + people),  // no such object: this one only
      {people, Scope::kOne, "(mail=dup@example.com)", {"uid"}},
      Base("uid=alice," + people),
      {people, Scope::kOne, "(uid=*)", {}, 1},  // cut short by the limit
  };
  std::vector<std::vector<Entry>> entries;
  std::vector<DirResult> results;
  const DirResult r = dir->SearchMany(requests, &entries, &results);
  ASSERT_TRUE(r.ok()) << r.Describe();
  ASSERT_EQ(results.size(), requests.size());
  ASSERT_EQ(entries.size(), requests.size());

  EXPECT_TRUE(results[0].ok()) << results[0].Describe();
  ASSERT_EQ(entries[0].size(), 1u);
  EXPECT_EQ(entries[0][0].First("uid"), "carol");
  EXPECT_EQ(entries[0][0].First("MAIL"), "carol@example.com");

  EXPECT_TRUE(results[1].no_such_object()) << results[1].Describe();
  EXPECT_TRUE(entries[1].empty());

  EXPECT_TRUE(results[2].ok());
  std::vector<std::string> dups;
  for (const Entry& e : entries[2]) dups.push_back(e.First("uid"));
  std::sort(dups.begin(), dups.end());
  EXPECT_EQ(dups, (std::vector<std::string>{"dup1", "dup2"}));

  EXPECT_TRUE(results[3].ok());
  ASSERT_EQ(entries[3].size(), 1u);
  EXPECT_EQ(entries[3][0].First("uid"), "alice");

  EXPECT_TRUE(results[4].size_limit_exceeded()) << results[4].Describe();
  EXPECT_EQ(entries[4].size(), 1u);
  EXPECT_TRUE(entries[4][0].attributes.empty());  // DNs only
}

// More requests than SearchMany keeps unanswered at once (64): they go
// out in a window, and each still gets its own answer.
TEST_F(LdapDirectoryTest, SearchManyAnswersMoreRequestsThanItSendsAtOnce) {
  const auto dir = Open({server_.uri()});
  const std::string people = server_.people_dn();
  const std::vector<std::string> uids = {"alice", "bob", "nobody"};
  std::vector<SearchRequest> requests;
  for (std::size_t i = 0; i < 300; ++i) {
    requests.push_back(Base("uid=" + uids[i % 3] + "," + people));
  }
  std::vector<std::vector<Entry>> entries;
  std::vector<DirResult> results;
  const DirResult r = dir->SearchMany(requests, &entries, &results);
  ASSERT_TRUE(r.ok()) << r.Describe();
  ASSERT_EQ(results.size(), requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i) {
    if (i % 3 == 2) {
      EXPECT_TRUE(results[i].no_such_object()) << i;
      EXPECT_TRUE(entries[i].empty()) << i;
      continue;
    }
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].Describe();
    ASSERT_EQ(entries[i].size(), 1u) << i;
    EXPECT_EQ(entries[i][0].First("uid"), uids[i % 3]) << i;
  }
}

TEST_F(LdapDirectoryTest, SearchManyCollectsEveryPageOfPagedRequests) {
  // 60 entries below one parent, read in pages of 7 while other searches
  // are answered around them.
  testing::LdapClient admin(server_.uri(), server_.admin_dn(),
                            server_.admin_password());
  const std::string parent = "ou=many," + server_.suffix();
  ASSERT_EQ(admin.Add(parent, {{"objectClass", {"organizationalUnit"}},
                               {"ou", {"many"}}}),
            0);
  for (int i = 0; i < 60; ++i) {
    const std::string ou = "n" + std::to_string(i);
    ASSERT_EQ(
        admin.Add("ou=" + ou + "," + parent,
                  {{"objectClass", {"organizationalUnit"}}, {"ou", {ou}}}),
        0);
  }
  const auto dir = Open({server_.uri()});
  SearchRequest paged{parent, Scope::kOne, "(ou=*)", {"ou"}, 0, 7};
  const std::vector<SearchRequest> requests = {
      paged, Base("uid=bob," + server_.people_dn()), paged};
  std::vector<std::vector<Entry>> entries;
  std::vector<DirResult> results;
  ASSERT_TRUE(dir->SearchMany(requests, &entries, &results).ok());
  for (std::size_t i : {0u, 2u}) {
    EXPECT_TRUE(results[i].ok()) << results[i].Describe();
    std::vector<std::string> names;
    for (const Entry& e : entries[i]) names.push_back(e.First("ou"));
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names.size(), 60u);
    EXPECT_EQ(std::unique(names.begin(), names.end()), names.end());
  }
  ASSERT_EQ(entries[1].size(), 1u);
  EXPECT_EQ(entries[1][0].First("uid"), "bob");
}

TEST_F(LdapDirectoryTest, SearchManyFailsOverToTheNextServerAsAWhole) {
  // The first URI refuses connections; the second answers everything.
  const auto dir =
      Open({"ldap://127.0.0.1:" + std::to_string(testing::FreeTcpPort()),
            server_.uri()});
  std::vector<std::vector<Entry>> entries;
  std::vector<DirResult> results;
  const DirResult r = dir->SearchMany({Base("uid=alice," + server_.people_dn()),
                                       Base("uid=bob," + server_.people_dn())},
                                      &entries, &results);
  ASSERT_TRUE(r.ok()) << r.Describe();
  ASSERT_EQ(entries.size(), 2u);
  ASSERT_EQ(entries[1].size(), 1u);
  EXPECT_EQ(entries[1][0].First("uid"), "bob");
}

// No server to ask at all (here: none accepts the bind): every request
// still gets an answer, the failure.
TEST_F(LdapDirectoryTest, SearchManyWithoutAConnectionAnswersEachRequest) {
  const auto dir =
      OpenDirectory(config_, {server_.uri()}, "wrong password", deadline_);
  std::vector<std::vector<Entry>> entries;
  std::vector<DirResult> results;
  const DirResult r = dir->SearchMany({Base("uid=alice," + server_.people_dn()),
                                       Base("uid=bob," + server_.people_dn())},
                                      &entries, &results);
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(results.size(), 2u);
  ASSERT_EQ(entries.size(), 2u);
  for (const DirResult& each : results) EXPECT_EQ(each.code, r.code);
}

TEST_F(LdapDirectoryTest, SearchManyOnAHungServerFailsEveryRequestInTime) {
  config_.timeout = std::chrono::seconds(1);
  const auto dir = Open({server_.uri()});
  std::vector<std::vector<Entry>> entries;
  std::vector<DirResult> results;
  // Connected first, so that the hang meets the searches, not the bind.
  ASSERT_TRUE(
      dir->SearchMany({Base(server_.people_dn())}, &entries, &results).ok());
  server_.Pause();
  const auto start = std::chrono::steady_clock::now();
  const DirResult r = dir->SearchMany({Base("uid=alice," + server_.people_dn()),
                                       Base("uid=bob," + server_.people_dn())},
                                      &entries, &results);
  const auto took = std::chrono::steady_clock::now() - start;
  server_.Resume();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status, DirStatus::kUnavailable) << r.Describe();
  ASSERT_EQ(results.size(), 2u);
  for (const DirResult& each : results) EXPECT_FALSE(each.ok());
  // One timeout for the batch (and one for the reconnection), not one per
  // request.
  EXPECT_LT(took, std::chrono::seconds(4));
  // The directory recovers on the next call.
  const DirResult again = dir->SearchMany(
      {Base("uid=carol," + server_.people_dn())}, &entries, &results);
  ASSERT_TRUE(again.ok()) << again.Describe();
  ASSERT_TRUE(results[0].ok());
  EXPECT_EQ(entries[0].size(), 1u);
}

// Searches sent ahead are answered by Receive() in any order, with other
// operations in between on the same connection; each ticket once.
TEST_F(LdapDirectoryTest, SentAheadIsReceivedInAnyOrderAndOnce) {
  const auto dir = Open({server_.uri()});
  const std::string people = server_.people_dn();
  std::vector<Entry> entries;
  ASSERT_TRUE(dir->Search(Base(people), &entries).ok());  // connected
  const std::uint64_t alice = dir->SendAhead(Base("uid=alice," + people));
  const std::uint64_t nobody = dir->SendAhead(Base("uid=nobody," + people));
  const std::uint64_t bob = dir->SendAhead(Base("uid=bob," + people));
  const std::uint64_t dropped = dir->SendAhead(Base("uid=carol," + people));
  dir->Forget(dropped);
  // Something else meanwhile, answered first.
  ASSERT_TRUE(dir->Search(Base("uid=carol," + people), &entries).ok());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].First("uid"), "carol");

  DirResult r = dir->Receive(bob, &entries);
  ASSERT_TRUE(r.ok()) << r.Describe();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].First("uid"), "bob");
  r = dir->Receive(nobody, &entries);
  EXPECT_TRUE(r.no_such_object()) << r.Describe();
  EXPECT_TRUE(entries.empty());
  r = dir->Receive(alice, &entries);
  ASSERT_TRUE(r.ok()) << r.Describe();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].First("uid"), "alice");

  EXPECT_FALSE(dir->Receive(alice, &entries).ok());  // once
  EXPECT_FALSE(dir->Receive(dropped, &entries).ok());
  EXPECT_TRUE(entries.empty());
}

// Sent before there was a connection, or on one that went away (the server
// restarted): Receive() makes the search itself, on a new connection.
TEST_F(LdapDirectoryTest, SentAheadIsAnsweredAfterTheConnectionWent) {
  const auto dir = Open({server_.uri()});
  const std::string people = server_.people_dn();
  const std::uint64_t early = dir->SendAhead(Base("uid=alice," + people));
  std::vector<Entry> entries;
  DirResult r = dir->Receive(early, &entries);
  ASSERT_TRUE(r.ok()) << r.Describe();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].First("uid"), "alice");

  const std::uint64_t before = dir->SendAhead(Base("uid=bob," + people));
  server_.Stop();
  server_.Start();
  r = dir->Receive(before, &entries);
  ASSERT_TRUE(r.ok()) << r.Describe();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].First("uid"), "bob");
}

// A server that hangs after the search went out: the answer is a
// temporary failure (not an empty result), and the next call reconnects.
TEST_F(LdapDirectoryTest, SentAheadToAHungServerIsATemporaryFailure) {
  config_.timeout = std::chrono::seconds(1);
  const auto dir = Open({server_.uri()});
  const std::string people = server_.people_dn();
  std::vector<Entry> entries;
  ASSERT_TRUE(dir->Search(Base(people), &entries).ok());  // connected
  server_.Pause();
  const std::uint64_t ticket = dir->SendAhead(Base("uid=alice," + people));
  const DirResult r = dir->Receive(ticket, &entries);
  server_.Resume();
  EXPECT_EQ(r.status, DirStatus::kUnavailable) << r.Describe();
  EXPECT_TRUE(entries.empty());
  const DirResult again = dir->Search(Base("uid=bob," + people), &entries);
  ASSERT_TRUE(again.ok()) << again.Describe();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].First("uid"), "bob");
}

}  // namespace
}  // namespace ldapmda
