// Integration tests: the C interface of the Dovecot driver
// (src/dovecot/ldapmda_store.h) as the C glue calls it, against the
// shipped slapd: error codes, C strings and arrays, tokens, and that
// nothing throws across it. (Dovecot itself: dovecot_test.cpp.)
#include <gtest/gtest.h>
#include <ldap.h>
#include <sys/stat.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "dovecot/ldapmda_store.h"
#include "ldapmda/message_entry.h"
#include "support/ldap_client.h"
#include "support/process.h"
#include "support/slapd_server.h"

namespace ldapmda {
namespace {

using testing::SlapdServer;
using testing::TempDir;
using testing::WriteFile;

std::vector<std::string> g_log;

void CollectLog(enum ldapmda_log_level, const char* text) {
  g_log.emplace_back(text);
}

class StoreApiTest : public ::testing::Test {
 protected:
  StoreApiTest() : server_(Shipped()) {
    WriteFile(dir_.File("dovecot.pw"), server_.dovecot_password() + "\n", 0600);
    conf_ = dir_.File("ldapmda.conf");
    WriteFile(conf_, "server_host = " + server_.uri() +
                         "\nsearch_base = " + server_.people_dn() +
                         "\nbind = simple\nbind_dn = " + server_.dovecot_dn() +
                         "\nbind_pw_file = " + dir_.File("dovecot.pw") +
                         "\ntimeout = 3\ndeadline = 10\n");
    ldapmda_store_set_log(CollectLog);
    g_log.clear();
  }
  ~StoreApiTest() override {
    if (store_ != nullptr) ldapmda_store_close(store_);
    ldapmda_store_set_log(nullptr);
  }

  static testing::SlapdOptions Shipped() {
    testing::SlapdOptions options;
    options.mode = testing::SlapdMode::kShipped;
    return options;
  }

  ldapmda_store* Open(const char* user, int* code, std::string* error) {
    char* text = nullptr;
    ldapmda_store* store = ldapmda_store_open(conf_.c_str(), user, code, &text);
    if (text != nullptr) {
      *error = text;
      std::free(text);
    }
    return store;
  }

  void OpenAlice() {
    int code = 0;
    std::string error;
    store_ = Open("alice@example.com", &code, &error);
    ASSERT_NE(store_, nullptr) << code << " " << error;
    EXPECT_EQ(code, LDAPMDA_OK);
  }

  std::vector<std::string> Folders() {
    std::vector<std::string> names;
    EXPECT_EQ(
        ldapmda_store_list_folders(
            store_,
            [](const char* name, void* ctx) {
              static_cast<std::vector<std::string>*>(ctx)->push_back(name);
            },
            &names),
        LDAPMDA_OK)
        << ldapmda_store_error(store_);
    return names;
  }

  SlapdServer server_;
  TempDir dir_;
  std::string conf_;
  ldapmda_store* store_ = nullptr;
};

TEST_F(StoreApiTest, OpenFailsWithTheRightCodeAndText) {
  int code = 0;
  std::string error;
  EXPECT_EQ(Open("nobody@example.com", &code, &error), nullptr);
  EXPECT_EQ(code, LDAPMDA_ERR_CONFIG) << error;
  EXPECT_NE(error.find("nobody@example.com"), std::string::npos) << error;
  EXPECT_EQ(Open("", &code, &error), nullptr);
  EXPECT_EQ(code, LDAPMDA_ERR_CONFIG) << error;

  WriteFile(conf_, "no_such_key = 1\n");
  EXPECT_EQ(Open("alice@example.com", &code, &error), nullptr);
  EXPECT_EQ(code, LDAPMDA_ERR_CONFIG);
  EXPECT_NE(error.find("no_such_key"), std::string::npos) << error;
}

TEST_F(StoreApiTest, OpenWhileTheDirectoryIsDownIsTemporary) {
  server_.Stop();
  int code = 0;
  std::string error;
  EXPECT_EQ(Open("alice@example.com", &code, &error), nullptr);
  EXPECT_EQ(code, LDAPMDA_ERR_TEMP) << error;
}

TEST_F(StoreApiTest, FoldersMessagesFlagsAndTokensThroughTheCInterface) {
  OpenAlice();
  EXPECT_EQ(Folders(), std::vector<std::string>{"INBOX"});
  ASSERT_EQ(ldapmda_store_create_folder(store_, "Work"), LDAPMDA_OK);
  EXPECT_EQ(ldapmda_store_create_folder(store_, "Work"), LDAPMDA_ERR_EXISTS);
  EXPECT_EQ(ldapmda_store_create_folder(store_, "/bad"), LDAPMDA_ERR_PARAMS);
  EXPECT_EQ(ldapmda_store_rename_folder(store_, "INBOX", "x"),
            LDAPMDA_ERR_PERM);
  EXPECT_EQ(ldapmda_store_delete_folder(store_, "Nope"), LDAPMDA_ERR_NOTFOUND);

  const std::string raw = "Subject: via C\n\nhello\n";
  const char* keywords[] = {"$Work", nullptr};
  std::uint32_t uid = 0;
  const char* guid = nullptr;
  ASSERT_EQ(ldapmda_store_append(store_, "Work", raw.data(), raw.size(), 0,
                                 LDAPMDA_SEEN, keywords, &uid, &guid),
            LDAPMDA_OK)
      << ldapmda_store_error(store_);
  EXPECT_EQ(uid, 1u);
  EXPECT_EQ(std::string(guid), MessageKey("alice@example.com", raw));

  ldapmda_folder_status status{};
  const ldapmda_message* messages = nullptr;
  std::size_t count = 0;
  ASSERT_EQ(
      ldapmda_store_list_messages(store_, "Work", &status, &messages, &count),
      LDAPMDA_OK);
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(status.messages, 1u);
  EXPECT_EQ(status.uid_next, 2u);
  EXPECT_EQ(messages[0].uid, 1u);
  EXPECT_EQ(messages[0].size, raw.size());
  EXPECT_EQ(messages[0].flags, static_cast<unsigned>(LDAPMDA_SEEN));
  ASSERT_NE(messages[0].keywords[0], nullptr);
  EXPECT_EQ(std::string(messages[0].keywords[0]), "$Work");
  EXPECT_EQ(messages[0].keywords[1], nullptr);

  // An incremental answer after a token: no count, nothing new.
  const char* token = nullptr;
  int full = 1;
  ASSERT_EQ(ldapmda_store_changes(store_, "Work", "", &status, &token, &full,
                                  &messages, &count),
            LDAPMDA_OK);
  EXPECT_EQ(full, 1);
  const std::string kept = token;
  EXPECT_LE(kept.size(), static_cast<std::size_t>(LDAPMDA_TOKEN_MAX));
  ASSERT_EQ(ldapmda_store_changes(store_, "Work", kept.c_str(), &status, &token,
                                  &full, &messages, &count),
            LDAPMDA_OK);
  EXPECT_EQ(full, 0);
  EXPECT_EQ(status.messages, LDAPMDA_COUNT_UNKNOWN);
  for (std::size_t i = 0; i < count; ++i) EXPECT_EQ(messages[i].uid, 1u);

  // Flags as deltas; a flag change comes back without a GUID.
  ASSERT_EQ(ldapmda_store_modify_flags(store_, "Work", 1, LDAPMDA_FLAGGED,
                                       LDAPMDA_SEEN, nullptr, keywords),
            LDAPMDA_OK)
      << ldapmda_store_error(store_);
  const std::string after_flags = token;
  ASSERT_EQ(ldapmda_store_changes(store_, "Work", after_flags.c_str(), &status,
                                  &token, &full, &messages, &count),
            LDAPMDA_OK);
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(messages[0].guid, nullptr);
  EXPECT_EQ(messages[0].flags, static_cast<unsigned>(LDAPMDA_FLAGGED));
  EXPECT_EQ(messages[0].keywords[0], nullptr);

  const char* data = nullptr;
  std::size_t size = 0;
  ASSERT_EQ(ldapmda_store_read(store_, "Work", 1, &data, &size), LDAPMDA_OK);
  EXPECT_EQ(std::string(data, size), raw);
  const std::uint32_t uids[] = {1, 7};
  // read_many of the first `first` of `uids`, with `known` GUIDs.
  const auto read_many = [&](std::size_t first, const char* const* known) {
    std::map<std::uint32_t, std::string> many;
    EXPECT_EQ(
        ldapmda_store_read_many(
            store_, "Work", uids, known, first,
            [](std::uint32_t u, const char* d, std::size_t n, void* ctx) {
              (*static_cast<std::map<std::uint32_t, std::string>*>(ctx))[u] =
                  std::string(d, n);
            },
            &many),
        LDAPMDA_OK)
        << ldapmda_store_error(store_);
    return many;
  };
  const std::map<std::uint32_t, std::string> just_1 = {{1, raw}};
  EXPECT_EQ(read_many(2, nullptr), just_1);
  // With the GUID the caller knows, the same without a UID lookup.
  const std::string key = MessageKey("alice@example.com", raw);
  const char* guids[] = {key.c_str(), nullptr};
  EXPECT_EQ(read_many(2, guids), just_1);
  // Sent ahead, then read: the same answer; dropped, read afresh.
  for (const bool forget : {false, true}) {
    ldapmda_store_read_ahead(store_, "Work", uids, guids, 2);
    if (forget) ldapmda_store_forget_read_ahead(store_);
    EXPECT_EQ(read_many(1, nullptr), just_1);
  }

  std::uint32_t renumbered = 0;
  ASSERT_EQ(ldapmda_store_renumber(store_, "Work", 1, &renumbered), LDAPMDA_OK);
  EXPECT_EQ(renumbered, 2u);
  EXPECT_EQ(ldapmda_store_read(store_, "Work", 1, &data, &size),
            LDAPMDA_ERR_NOTFOUND);
  ASSERT_EQ(ldapmda_store_expunge(store_, "Work", 2), LDAPMDA_OK);
  EXPECT_EQ(ldapmda_store_expunge(store_, "Work", 2), LDAPMDA_ERR_NOTFOUND);
  ASSERT_EQ(ldapmda_store_rename_folder(store_, "Work", "Done"), LDAPMDA_OK);
  ASSERT_EQ(ldapmda_store_delete_folder(store_, "Done"), LDAPMDA_OK);
  EXPECT_EQ(Folders(), std::vector<std::string>{"INBOX"});
}

TEST_F(StoreApiTest, DirectoryTroubleIsTemporaryAndTheTextSaysWhy) {
  OpenAlice();
  ldapmda_folder_status status{};
  // The first status after opening is what the opening read (with the
  // contextCSN for the sync that follows); later ones ask the directory.
  ASSERT_EQ(ldapmda_store_folder_status(store_, "INBOX", &status), LDAPMDA_OK);
  server_.Stop();
  EXPECT_EQ(ldapmda_store_folder_status(store_, "INBOX", &status),
            LDAPMDA_ERR_TEMP);
  EXPECT_NE(std::string(ldapmda_store_error(store_)).find("unavailable"),
            std::string::npos)
      << ldapmda_store_error(store_);
  const ldapmda_message* messages = nullptr;
  std::size_t count = 0;
  EXPECT_EQ(
      ldapmda_store_list_messages(store_, "INBOX", &status, &messages, &count),
      LDAPMDA_ERR_TEMP);
  server_.Start();
  EXPECT_EQ(ldapmda_store_folder_status(store_, "INBOX", &status), LDAPMDA_OK);
}

TEST_F(StoreApiTest, TheStoreLogsThroughTheHost) {
  // A message stored as ldapmda did before folders: moved at open, and
  // the move is told to the host's log.
  const std::string box = "cn=mailbox," + server_.UserDn("alice");
  testing::LdapClient admin = server_.Admin();
  ASSERT_EQ(
      admin.Add(box, {{"objectClass", {"mdaMailbox"}}, {"cn", {"mailbox"}}}),
      LDAP_SUCCESS);
  ASSERT_EQ(admin.Add("mdaKey=" + std::string(64, 'a') + "," + box,
                      {{"objectClass", {"mdaMessage"}},
                       {"mdaKey", {std::string(64, 'a')}},
                       {"mdaRawMessage", {"Subject: old\n\nx\n"}},
                       {"mdaSize", {"17"}},
                       {"mdaDeliveredAt", {"20240101000000Z"}},
                       {"mdaEnvelopeRecipient", {"alice@example.com"}},
                       {"mdaFolder", {"INBOX"}}}),
            LDAP_SUCCESS);
  OpenAlice();
  bool told = false;
  for (const std::string& line : g_log) {
    told = told || line.find("moved 1 messages") != std::string::npos;
  }
  EXPECT_TRUE(told) << ::testing::PrintToString(g_log);
}

}  // namespace
}  // namespace ldapmda
