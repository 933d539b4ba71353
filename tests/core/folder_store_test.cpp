// Integration tests: FolderStore (folders, UIDs, flags for IMAP) against a
// real slapd run from the shipped conf/slapd.conf -- its ACLs, indexes and
// syncprov -- bound as the Dovecot driver's identity, with deliveries
// through the delivery core bound as ldapmda's.
#include "ldapmda/folder_store.h"

#include <gtest/gtest.h>
#include <ldap.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "addr.h"
#include "ldapmda/delivery.h"
#include "ldapmda/directories.h"
#include "ldapmda/layout.h"
#include "ldapmda/message.h"
#include "ldapmda/text.h"
#include "support/ldap_client.h"
#include "support/slapd_server.h"

namespace ldapmda {
namespace {

using testing::Addr;
using testing::SlapdServer;

testing::SlapdOptions Shipped() {
  testing::SlapdOptions options;
  options.mode = testing::SlapdMode::kShipped;
  return options;
}

// One IMAP server's view: a FolderStore bound as the Dovecot identity.
class Session {
 public:
  Session(const SlapdServer& server, const std::string& user,
          const Config& config)
      : config_(config),
        directory_(OpenDirectory(config_, {server.uri()},
                                 server.dovecot_password(), deadline_)),
        store_(config_, *directory_, *directory_, deadline_) {
    const StoreResult r = store_.Open(Addr(user));
    EXPECT_TRUE(r.ok()) << r.text;
  }
  FolderStore& operator*() { return store_; }
  FolderStore* operator->() { return &store_; }

 private:
  Config config_;
  Deadline deadline_{std::chrono::seconds(30)};
  std::unique_ptr<Directory> directory_;
  FolderStore store_;
};

class FolderStoreTest : public ::testing::Test {
 protected:
  FolderStoreTest() : server_(Shipped()) {
    config_.server_host = {server_.uri()};
    config_.search_base = server_.people_dn();
    config_.bind = BindMethod::kSimple;
    config_.bind_dn = server_.dovecot_dn();
    config_.recipient_delimiter = "+";
    config_.timeout = std::chrono::seconds(5);
  }

  // Delivers `raw` to `rcpt` as ldapmda does (bound as ldapmda).
  std::string Deliver(const std::string& rcpt, const std::string& raw) {
    Config c = config_;
    c.bind_dn = server_.service_dn();
    const Deadline deadline(std::chrono::seconds(30));
    const auto dir =
        OpenDirectory(c, {server_.uri()}, server_.service_password(), deadline);
    Delivery delivery(c, *dir, *dir, deadline);
    const DeliveryResult r = delivery.Deliver(
        raw, ParseMessage(raw), {"s@example.org", "", "", ""}, rcpt);
    EXPECT_EQ(r.outcome.dsn, kDsnStored) << r.outcome.text;
    return r.stored_dn;
  }

  std::unique_ptr<Session> Open(const std::string& user = "alice@example.com") {
    return std::make_unique<Session>(server_, user, config_);
  }

  static std::string Message(int n) {
    return "Subject: message " + std::to_string(n) + "\n\nbody " +
           std::to_string(n) + "\n";
  }

  static std::vector<std::uint32_t> Uids(const FolderSnapshot& s) {
    std::vector<std::uint32_t> uids;
    for (const auto& m : s.messages) uids.push_back(m.uid);
    return uids;
  }
  // The UIDs of the messages that are new to a caller holding the token:
  // a delta may report the states a sync wrote itself once more, with
  // their flags only.
  static std::vector<std::uint32_t> NewUids(const FolderSnapshot& s) {
    std::vector<std::uint32_t> uids;
    for (const auto& m : s.messages) {
      if (!m.flags_only) uids.push_back(m.uid);
    }
    return uids;
  }

  SlapdServer server_;
  Config config_;
};

TEST_F(FolderStoreTest, OpenCreatesTheMailboxWithItsInbox) {
  auto s = Open();
  std::vector<FolderInfo> folders;
  ASSERT_TRUE((*s)->ListFolders(&folders).ok());
  ASSERT_EQ(folders.size(), 1u);
  EXPECT_EQ(folders[0].name, "INBOX");
  EXPECT_GT(folders[0].uid_validity, 0u);
  EXPECT_EQ(folders[0].uid_next, 1u);
  EXPECT_TRUE(server_.Admin().Read("mdaFolder=INBOX,cn=mailbox," +
                                   server_.UserDn("alice")));
}

TEST_F(FolderStoreTest, DeliveriesGetUidsAndSyncSinceATokenIsIncremental) {
  for (int i = 1; i <= 3; ++i) Deliver("alice@example.com", Message(i));
  auto s = Open();
  FolderSnapshot full;
  ASSERT_TRUE((*s)->Sync("INBOX", "", &full).ok());
  EXPECT_TRUE(full.full);
  EXPECT_EQ(Uids(full), (std::vector<std::uint32_t>{1, 2, 3}));
  EXPECT_EQ(full.folder.uid_next, 4u);
  for (const auto& m : full.messages) {
    EXPECT_EQ(m.key.size(), 64u);
    EXPECT_GT(m.size, 0u);
    EXPECT_GT(m.received, 0);
    EXPECT_FALSE(m.flags_only);
  }

  // Nothing changed: an incremental answer with no new message (the
  // states the last sync wrote come again, flags only).
  FolderSnapshot same;
  ASSERT_TRUE((*s)->Sync("INBOX", full.token, &same).ok());
  EXPECT_FALSE(same.full);
  EXPECT_TRUE(NewUids(same).empty());
  EXPECT_LE(same.messages.size(), 3u);

  // A new delivery: only it is new, with the next UID.
  Deliver("alice@example.com", Message(4));
  FolderSnapshot more;
  ASSERT_TRUE((*s)->Sync("INBOX", same.token, &more).ok());
  EXPECT_FALSE(more.full);
  EXPECT_EQ(NewUids(more), std::vector<std::uint32_t>{4});
  EXPECT_EQ(more.folder.uid_next, 5u);
  FolderSnapshot after;
  ASSERT_TRUE((*s)->Sync("INBOX", more.token, &after).ok());
  EXPECT_TRUE(NewUids(after).empty());

  // A second server with no index sees the same UIDs.
  auto other = Open();
  FolderSnapshot theirs;
  ASSERT_TRUE((*other)->Sync("INBOX", "", &theirs).ok());
  EXPECT_EQ(Uids(theirs), (std::vector<std::uint32_t>{1, 2, 3, 4}));
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(theirs.messages[i].key, full.messages[i].key);
  }
}

// GetFolder() reads the folder and the contextCSN for the Sync() that
// follows: what changes in between is in that Sync() (the next one may
// list it once more, which a caller holding the UID takes as no change),
// and a folder that changed in between (UIDs given out) is read again,
// not taken from GetFolder().
TEST_F(FolderStoreTest, WhatChangesBetweenGetFolderAndSyncIsInTheSync) {
  using UidList = std::vector<std::uint32_t>;
  Deliver("alice@example.com", Message(1));
  auto s = Open();
  FolderSnapshot full;
  ASSERT_TRUE((*s)->Sync("INBOX", "", &full).ok());
  ASSERT_EQ(Uids(full), UidList{1});

  FolderInfo before;
  ASSERT_TRUE((*s)->GetFolder("INBOX", &before).ok());
  EXPECT_EQ(before.uid_next, 2u);
  Deliver("alice@example.com", Message(2));
  FolderSnapshot delta;
  ASSERT_TRUE((*s)->Sync("INBOX", full.token, &delta).ok());
  EXPECT_EQ(NewUids(delta), UidList{2});
  EXPECT_EQ(delta.folder.uid_next, 3u);

  // Another server gives out a UID after GetFolder(): the Sync() sees the
  // new message and the folder as it is now.
  ASSERT_TRUE((*s)->GetFolder("INBOX", &before).ok());
  EXPECT_EQ(before.uid_next, 3u);
  Deliver("alice@example.com", Message(3));
  auto other = Open();
  FolderSnapshot theirs;
  ASSERT_TRUE((*other)->Sync("INBOX", "", &theirs).ok());
  ASSERT_EQ(Uids(theirs), (UidList{1, 2, 3}));
  FolderSnapshot mine;
  ASSERT_TRUE((*s)->Sync("INBOX", delta.token, &mine).ok());
  const UidList got = NewUids(mine);
  EXPECT_NE(std::find(got.begin(), got.end(), 3u), got.end());
  for (std::uint32_t uid : got) EXPECT_TRUE(uid == 2 || uid == 3) << uid;
  EXPECT_EQ(mine.folder.uid_next, 4u);

  // Nothing new after that: at most message 3 once more, then nothing.
  FolderSnapshot again;
  ASSERT_TRUE((*s)->Sync("INBOX", mine.token, &again).ok());
  for (std::uint32_t uid : NewUids(again)) EXPECT_EQ(uid, 3u);
  EXPECT_EQ(again.folder.uid_next, 4u);
  FolderSnapshot last;
  ASSERT_TRUE((*s)->Sync("INBOX", again.token, &last).ok());
  EXPECT_TRUE(NewUids(last).empty());
}

TEST_F(FolderStoreTest, FlagsAreSeenByAnotherServerAndDeltasDoNotClash) {
  Deliver("alice@example.com", Message(1));
  auto a = Open();
  auto b = Open();
  FolderSnapshot sa, sb;
  ASSERT_TRUE((*a)->Sync("INBOX", "", &sa).ok());
  ASSERT_TRUE((*b)->Sync("INBOX", "", &sb).ok());
  ASSERT_EQ(sa.messages.size(), 1u);

  // Two servers change different flags of one message at once.
  ASSERT_TRUE(
      (*a)->ModifyFlags("INBOX", 1, kFlagSeen, 0, {"$Label1"}, {}).ok());
  ASSERT_TRUE((*b)->ModifyFlags("INBOX", 1, kFlagFlagged, 0, {}, {}).ok());
  FolderSnapshot changed;
  ASSERT_TRUE((*b)->Sync("INBOX", sb.token, &changed).ok());

  ASSERT_EQ(changed.messages.size(), 1u);
  EXPECT_EQ(changed.messages[0].flags, kFlagSeen | kFlagFlagged);
  EXPECT_EQ(changed.messages[0].keywords, std::vector<std::string>{"$Label1"});
  EXPECT_TRUE(changed.messages[0].flags_only);

  // Removing what is not there is no error; the rest stays.
  const StoreResult removed =
      (*a)->ModifyFlags("INBOX", 1, 0, kFlagDraft | kFlagSeen, {}, {"$x"});
  ASSERT_TRUE(removed.ok()) << removed.text;
  auto fresh = Open();
  FolderSnapshot seen;
  ASSERT_TRUE((*fresh)->Sync("INBOX", "", &seen).ok());
  EXPECT_EQ(seen.messages[0].flags, kFlagFlagged);
  EXPECT_EQ(seen.messages[0].keywords, std::vector<std::string>{"$Label1"});

  // A flag change rewrites the small state entry, never the message.
  const std::string message = seen.messages[0].dn;
  const auto before = server_.Admin().Read(message, {"entryCSN"});
  ASSERT_TRUE((*a)->SetFlags("INBOX", 1, kFlagAnswered, {}).ok());
  EXPECT_EQ(server_.Admin().Read(message, {"entryCSN"})->First("entryCSN"),
            before->First("entryCSN"));
}

TEST_F(FolderStoreTest, ExpungeIsSeenElsewhereAndKeepsTheCountersRight) {
  config_.quota_attribute = "mdaQuota";
  for (int i = 1; i <= 3; ++i) Deliver("alice@example.com", Message(i));
  auto a = Open();
  auto b = Open();
  FolderSnapshot sa, sb;
  ASSERT_TRUE((*a)->Sync("INBOX", "", &sa).ok());
  ASSERT_TRUE((*b)->Sync("INBOX", "", &sb).ok());
  ASSERT_TRUE((*a)->Expunge("INBOX", 2).ok());
  EXPECT_EQ((*a)->Expunge("INBOX", 2).status, StoreStatus::kNotFound);
  EXPECT_FALSE(server_.Admin().Read(sa.messages[1].dn));

  // The other server learns that something went and lists in full.
  FolderSnapshot after;
  ASSERT_TRUE((*b)->Sync("INBOX", sb.token, &after).ok());
  EXPECT_TRUE(after.full);
  EXPECT_EQ(Uids(after), (std::vector<std::uint32_t>{1, 3}));

  const auto box =
      server_.Admin().Read("cn=mailbox," + server_.UserDn("alice"));
  ASSERT_TRUE(box);
  EXPECT_EQ(box->First("mdaMessageCount"), "2");
  EXPECT_EQ(box->First("mdaMailboxSize"),
            std::to_string(Message(1).size() + Message(3).size()));
}

// Bodies come in batches of 64 keys per search: more than a batch, with
// keys the caller knows (in any case) and UIDs it only has, reads each
// body once and only what is there.
TEST_F(FolderStoreTest, ReadRawManyReadsEveryBatchAndSkipsWhatIsGone) {
  constexpr int kCount = 70;
  for (int i = 1; i <= kCount; ++i) Deliver("alice@example.com", Message(i));
  auto s = Open();
  FolderSnapshot full;
  ASSERT_TRUE((*s)->Sync("INBOX", "", &full).ok());
  ASSERT_EQ(full.messages.size(), static_cast<std::size_t>(kCount));
  std::string gone;
  ASSERT_TRUE((*s)->ReadRaw("INBOX", 5, &gone).ok());
  ASSERT_TRUE((*s)->Expunge("INBOX", 5).ok());

  std::vector<std::uint32_t> uids;
  std::map<std::uint32_t, std::string> keys;
  for (const auto& m : full.messages) {
    uids.push_back(m.uid);
    if (m.uid % 2 == 0) {
      std::string key = m.key;
      for (char& c : key) c = static_cast<char>(std::toupper(c));
      keys[m.uid] = key;
    }
  }
  uids.push_back(kCount + 100);  // never was
  uids.push_back(3);             // asked twice
  std::map<std::uint32_t, std::string> raws;
  ASSERT_TRUE((*s)->ReadRawMany("INBOX", uids, keys, &raws).ok());
  EXPECT_EQ(raws.size(), static_cast<std::size_t>(kCount - 1));
  EXPECT_EQ(raws.count(5), 0u);
  std::set<std::string> read;
  for (const auto& [uid, raw] : raws) read.insert(raw);
  std::set<std::string> delivered;
  for (int i = 1; i <= kCount; ++i) delivered.insert(Message(i));
  delivered.erase(gone);
  EXPECT_EQ(read, delivered);
}

// Read-ahead: the searches go out first; a ReadRawMany that asks for one
// of their messages gets the whole batch, without a message that has
// gone (the answer is what the directory held when they went out).
// Dropped searches are simply read again.
TEST_F(FolderStoreTest, ReadAheadAnswersTheReadThatFollows) {
  for (int i = 1; i <= 4; ++i) Deliver("alice@example.com", Message(i));
  auto s = Open();
  FolderSnapshot full;
  ASSERT_TRUE((*s)->Sync("INBOX", "", &full).ok());
  ASSERT_EQ(Uids(full), (std::vector<std::uint32_t>{1, 2, 3, 4}));
  std::map<std::uint32_t, std::string> keys;
  for (const auto& m : full.messages) keys[m.uid] = m.key;
  std::map<std::uint32_t, std::string> bodies;
  for (const auto& m : full.messages) {
    ASSERT_TRUE((*s)->ReadRaw("INBOX", m.uid, &bodies[m.uid]).ok());
  }

  ASSERT_TRUE((*s)->Expunge("INBOX", 2).ok());
  (*s)->ReadAhead("INBOX", {1, 2, 3}, {{1, keys[1]}, {2, keys[2]}});
  std::map<std::uint32_t, std::string> raws;
  ASSERT_TRUE((*s)->ReadRawMany("INBOX", {1}, {}, &raws).ok());
  EXPECT_EQ(raws, (std::map<std::uint32_t, std::string>{{1, bodies[1]},
                                                        {3, bodies[3]}}));
  // Taken: asked again, read again.
  ASSERT_TRUE((*s)->ReadRawMany("INBOX", {3, 4}, {}, &raws).ok());
  EXPECT_EQ(raws, (std::map<std::uint32_t, std::string>{{3, bodies[3]},
                                                        {4, bodies[4]}}));

  (*s)->ReadAhead("INBOX", {4}, keys);
  (*s)->ForgetReadAhead();
  ASSERT_TRUE((*s)->ReadRawMany("INBOX", {4}, keys, &raws).ok());
  EXPECT_EQ(raws, (std::map<std::uint32_t, std::string>{{4, bodies[4]}}));
}

// A new session's first GetFolder() takes what Open() read (folders and
// contextCSN): what is delivered after Open() is still in the Sync() that
// follows, incremental from another session's token.
TEST_F(FolderStoreTest, WhatArrivesAfterOpenIsInTheFirstSync) {
  Deliver("alice@example.com", Message(1));
  std::string token;
  {
    auto first = Open();
    FolderSnapshot full;
    ASSERT_TRUE((*first)->Sync("INBOX", "", &full).ok());
    token = full.token;
  }
  auto s = Open();
  Deliver("alice@example.com", Message(2));
  FolderInfo folder;
  ASSERT_TRUE((*s)->GetFolder("INBOX", &folder).ok());
  FolderSnapshot delta;
  ASSERT_TRUE((*s)->Sync("INBOX", token, &delta).ok());
  EXPECT_EQ(NewUids(delta), std::vector<std::uint32_t>{2});
  EXPECT_EQ(delta.folder.uid_next, 3u);
}

TEST_F(FolderStoreTest, AppendStoresWhatADeliveryStoresAndIdenticalBytesOnce) {
  auto s = Open();
  const std::string raw = Message(7);
  std::uint32_t uid = 0, again = 0;
  std::string key, key2;
  ASSERT_TRUE(
      (*s)->Append("INBOX", raw, 1795338187, kFlagSeen, {"$Work"}, &uid, &key)
          .ok());
  EXPECT_EQ(uid, 1u);
  EXPECT_EQ(key, MessageKey("alice@example.com", raw));
  ASSERT_TRUE((*s)->Append("INBOX", raw, 0, 0, {}, &again, &key2).ok());
  EXPECT_EQ(again, uid);
  EXPECT_EQ(key2, key);

  FolderSnapshot snap;
  ASSERT_TRUE((*s)->Sync("INBOX", "", &snap).ok());
  ASSERT_EQ(snap.messages.size(), 1u);
  EXPECT_EQ(snap.messages[0].flags, kFlagSeen);
  EXPECT_EQ(snap.messages[0].keywords, std::vector<std::string>{"$Work"});
  EXPECT_EQ(snap.messages[0].received, 1795338187);
  const auto entry = server_.Admin().Read(snap.messages[0].dn);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->First("mdaRawMessage"), raw);
  EXPECT_EQ(entry->First("mdaSubject"), "message 7");
  EXPECT_EQ(entry->First("mdaEnvelopeRecipient"), "alice@example.com");
  EXPECT_EQ(entry->First("mdaFolder"), "INBOX");
  EXPECT_EQ(entry->First("mdaDeliveredAt"), "20261122090307Z");

  std::string read;
  ASSERT_TRUE((*s)->ReadRaw("INBOX", uid, &read).ok());
  EXPECT_EQ(read, raw);
}

TEST_F(FolderStoreTest, FoldersAreEntriesThatRenameAndDelete) {
  auto s = Open();
  ASSERT_TRUE((*s)->CreateFolder("Lists").ok());
  ASSERT_TRUE((*s)->CreateFolder("Lists/2026").ok());
  EXPECT_EQ((*s)->CreateFolder("Lists").status, StoreStatus::kExists);
  EXPECT_EQ((*s)->CreateFolder("inbox").status, StoreStatus::kExists);
  EXPECT_EQ((*s)->CreateFolder("a//b").status, StoreStatus::kBadName);
  std::uint32_t uid = 0;
  std::string key;
  ASSERT_TRUE(
      (*s)->Append("Lists/2026", Message(1), 0, 0, {}, &uid, &key).ok());

  // RENAME takes the folders below along and rewrites no message.
  const std::string message_dn =
      server_.Admin()
          .Search(server_.UserDn("alice"), LDAP_SCOPE_SUBTREE,
                  "(objectClass=mdaMessage)", {"entryCSN"})
          .front()
          .dn;
  ASSERT_TRUE((*s)->RenameFolder("Lists", "Archive").ok());
  std::vector<FolderInfo> folders;
  ASSERT_TRUE((*s)->ListFolders(&folders).ok());
  std::vector<std::string> names;
  for (const auto& f : folders) names.push_back(f.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"INBOX", "Archive", "Archive/2026"}));
  EXPECT_TRUE(server_.Admin().Read(message_dn));
  FolderSnapshot moved;
  ASSERT_TRUE((*s)->Sync("Archive/2026", "", &moved).ok());
  EXPECT_EQ(Uids(moved), std::vector<std::uint32_t>{uid});

  EXPECT_EQ((*s)->RenameFolder("INBOX", "Old").status,
            StoreStatus::kNotAllowed);
  EXPECT_EQ((*s)->DeleteFolder("INBOX").status, StoreStatus::kNotAllowed);
  ASSERT_TRUE((*s)->DeleteFolder("Archive/2026").ok());
  EXPECT_FALSE(server_.Admin().Read(message_dn));
  EXPECT_EQ((*s)->DeleteFolder("Archive/2026").status, StoreStatus::kNotFound);
}

TEST_F(FolderStoreTest, AnExtensionFeedsTheFolderItMadeAfterARename) {
  Deliver("alice+lists@example.com", Message(1));
  auto s = Open();
  ASSERT_TRUE((*s)->RenameFolder("lists", "Mailing lists").ok());
  Deliver("alice+lists@example.com", Message(2));
  FolderSnapshot snap;
  ASSERT_TRUE((*s)->Sync("Mailing lists", "", &snap).ok());
  EXPECT_EQ(snap.messages.size(), 2u);
  // A new folder of the old name gets an identifier of its own.
  ASSERT_TRUE((*s)->CreateFolder("lists").ok());
  FolderInfo created;
  ASSERT_TRUE((*s)->GetFolder("lists", &created).ok());
  EXPECT_EQ(created.id, "lists~2");
}

TEST_F(FolderStoreTest, AUidGivenOutLateIsRenumbered) {
  Deliver("alice@example.com", Message(1));
  auto s = Open();
  FolderSnapshot snap;
  ASSERT_TRUE((*s)->Sync("INBOX", "", &snap).ok());
  std::uint32_t fresh = 0;
  ASSERT_TRUE((*s)->Renumber("INBOX", 1, &fresh).ok());
  EXPECT_EQ(fresh, 2u);
  ASSERT_TRUE((*s)->Sync("INBOX", "", &snap).ok());
  EXPECT_EQ(Uids(snap), std::vector<std::uint32_t>{2});
  EXPECT_EQ(snap.folder.uid_next, 3u);
}

TEST_F(FolderStoreTest, MessagesOfAnOlderLdapmdaMoveIntoTheirFolders) {
  // Stored as ldapmda did before folders: right below the mailbox.
  const std::string box = "cn=mailbox," + server_.UserDn("alice");
  testing::LdapClient admin = server_.Admin();
  ASSERT_EQ(
      admin.Add(box, {{"objectClass", {"mdaMailbox"}}, {"cn", {"mailbox"}}}),
      LDAP_SUCCESS);
  for (const char* folder : {"INBOX", "old"}) {
    const std::string raw = std::string("Subject: ") + folder + "\n\nx\n";
    const std::string key = MessageKey("alice@example.com", raw);
    ASSERT_EQ(admin.Add("mdaKey=" + key + "," + box,
                        {{"objectClass", {"mdaMessage"}},
                         {"mdaKey", {key}},
                         {"mdaRawMessage", {raw}},
                         {"mdaSize", {std::to_string(raw.size())}},
                         {"mdaDeliveredAt", {"20240101000000Z"}},
                         {"mdaEnvelopeRecipient", {"alice@example.com"}},
                         {"mdaFolder", {folder}}}),
              LDAP_SUCCESS);
  }
  auto s = Open();
  EXPECT_TRUE(
      admin
          .Search(box, LDAP_SCOPE_ONELEVEL, "(objectClass=mdaMessage)", {"1.1"})
          .empty());
  for (const char* folder : {"INBOX", "old"}) {
    FolderSnapshot snap;
    ASSERT_TRUE((*s)->Sync(folder, "", &snap).ok()) << folder;
    EXPECT_EQ(snap.messages.size(), 1u) << folder;
  }
}

TEST_F(FolderStoreTest, ADirectoryThatIsDownIsTemporaryNeverEmpty) {
  Deliver("alice@example.com", Message(1));
  auto s = Open();
  FolderSnapshot snap;
  ASSERT_TRUE((*s)->Sync("INBOX", "", &snap).ok());
  server_.Stop();
  EXPECT_EQ((*s)->Sync("INBOX", snap.token, &snap).status, StoreStatus::kTemp);
  EXPECT_EQ((*s)->Sync("INBOX", "", &snap).status, StoreStatus::kTemp);
  std::string raw;
  EXPECT_EQ((*s)->ReadRaw("INBOX", 1, &raw).status, StoreStatus::kTemp);
  std::vector<FolderInfo> folders;
  EXPECT_EQ((*s)->ListFolders(&folders).status, StoreStatus::kTemp);
  server_.Start();
  ASSERT_TRUE((*s)->Sync("INBOX", "", &snap).ok());
  EXPECT_EQ(snap.messages.size(), 1u);
}

TEST_F(FolderStoreTest, FolderNamesNeverReachAnotherMailbox) {
  Deliver("alice@example.com", Message(1));
  auto bob = Open("bob@example.com");
  const std::string sneaky =
      "x,cn=mailbox," + server_.UserDn("alice");  // escaped into one value
  ASSERT_TRUE((*bob)->CreateFolder(sneaky).ok());
  FolderSnapshot snap;
  ASSERT_TRUE((*bob)->Sync(sneaky, "", &snap).ok());
  EXPECT_TRUE(snap.messages.empty());
  FolderInfo folder;
  ASSERT_TRUE((*bob)->GetFolder(sneaky, &folder).ok());
  EXPECT_NE(AsciiLower(folder.dn).find(",cn=mailbox,uid=bob,"),
            std::string::npos)
      << folder.dn;
  EXPECT_EQ((*bob)->Sync("../alice", "", &snap).status, StoreStatus::kNotFound);
}

}  // namespace
}  // namespace ldapmda
