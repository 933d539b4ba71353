// folder_store: one user's mailbox as IMAP sees it -- folders, and in each
// folder messages with UIDs and flags -- kept in the directory, so that
// every IMAP server (and every Dovecot index built from scratch) sees the
// same UIDs and flags (docs/ARCHITECTURE.md §7). The Dovecot driver
// (src/dovecot) is its client; it knows no Dovecot.
//
// Where things live (layout.h): a folder is an mdaMailFolder entry below
// the mailbox, holding UIDVALIDITY, the next UID and a removals counter;
// its messages are mdaMessage entries below it, written once by a
// delivery or an APPEND and never modified; each message's UID and flags
// are a small mdaMessageState child entry, so a flag change rewrites (and
// replicates) a few dozen bytes, never the message.
//
// Changes are found with the entryCSN of what changed: Sync() with the
// token of the previous Sync() asks only for entries changed since, which
// back-mdb answers from its ordered entryCSN index. Removals cannot show
// that way (a deleted entry is gone); whoever removes messages increments
// the folder's mdaRemovals, and a reader that sees it change lists the
// whole folder again.
#ifndef LDAPMDA_FOLDER_STORE_H_
#define LDAPMDA_FOLDER_STORE_H_

#include <cstdint>
#include <ctime>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ldapmda/address.h"
#include "ldapmda/config.h"
#include "ldapmda/deadline.h"
#include "ldapmda/directory.h"
#include "ldapmda/status.h"

namespace ldapmda {

// What a FolderStore call came to. kTemp is "try again later" and must
// never be taken for "nothing there".
enum class StoreStatus {
  kOk,
  kTemp,        // directory down, slow, busy: try again
  kNotFound,    // no such folder or message
  kExists,      // the folder exists already
  kNotAllowed,  // e.g. renaming or deleting INBOX
  kBadName,     // not a usable folder name
  kTooLarge,    // larger than max_message_size or the directory takes
  kConfig,      // configuration or directory set-up: an administrator acts
};

struct StoreResult {
  StoreStatus status = StoreStatus::kOk;
  std::string text;

  bool ok() const { return status == StoreStatus::kOk; }
  static StoreResult Ok() { return {}; }
  // The store status of a failed delivery-core outcome: 4.3.5 kConfig,
  // 5.2.3 kTooLarge, 5.1.x kNotFound, other 5.x.x kNotAllowed, the rest
  // (4.x.x) kTemp.
  static StoreResult From(const Outcome& outcome);
};

// IMAP system flags, with the bit values Dovecot's enum mail_flags uses.
enum ImapFlag : unsigned {
  kFlagAnswered = 0x01,
  kFlagFlagged = 0x02,
  kFlagDeleted = 0x04,
  kFlagSeen = 0x08,
  kFlagDraft = 0x10,
};

struct FolderInfo {
  std::string id;    // mdaFolder: the identifier, fixed at creation
  std::string name;  // mdaFolderName: the IMAP name, UTF-8, '/' levels
  std::string dn;    // as the server spells it
  std::uint32_t uid_validity = 0;
  std::uint32_t uid_next = 1;
  std::uint64_t removals = 0;
};

// One message of a folder.
struct FolderMessage {
  std::uint32_t uid = 0;
  std::string key;  // mdaKey: Dovecot's GUID
  std::string dn;   // the message entry, as the server spells it
  std::uint64_t size = 0;
  std::time_t received = 0;  // mdaDeliveredAt: INTERNALDATE
  unsigned flags = 0;        // ImapFlag bits
  std::vector<std::string> keywords;
  // Only the UID, flags and keywords are known: the state changed, the
  // message did not (in a Sync() since a token).
  bool flags_only = false;
};

// What Sync() found.
struct FolderSnapshot {
  FolderInfo folder;
  // With `full`, every message of the folder; else those that are new or
  // changed since the token. Ordered by UID.
  std::vector<FolderMessage> messages;
  bool full = false;
  // For the next Sync() of this folder.
  std::string token;
};

// The mdaFlag values of `flags` and `keywords`.
std::vector<std::string> FlagValues(unsigned flags,
                                    const std::vector<std::string>& keywords);
// The other way round: system flags and keywords of mdaFlag `values`.
void ParseFlagValues(const std::vector<std::string>& values, unsigned* flags,
                     std::vector<std::string>* keywords);

// Deletes the message `message_dn` (its state first) and counts the
// removal on its folder `folder_dn`. NotFound when it is gone already.
// Every tool that removes messages goes through here, so that IMAP
// servers notice.
StoreResult RemoveMessage(Directory& directory, const Deadline& deadline,
                          const std::string& message_dn,
                          const std::string& folder_dn);

class FolderStore {
 public:
  // `lookup` finds the user's entry (server_host); `store` holds the
  // mailbox and takes every read and write of it (store_host, else
  // server_host): reads must see this store's own writes.
  FolderStore(const Config& config, Directory& lookup, Directory& store,
              const Deadline& deadline)
      : config_(config), lookup_(lookup), store_(store), deadline_(deadline) {}

  // Finds the mailbox of `user` as a delivery would (same lookup, same
  // mailbox_dn), creates it and its INBOX when missing, and moves messages
  // that an older ldapmda stored directly below the mailbox into their
  // folders.
  StoreResult Open(const Address& user);

  // Every folder, INBOX first, then by name.
  StoreResult ListFolders(std::vector<FolderInfo>* folders);
  StoreResult CreateFolder(const std::string& name);
  // Renames `from` and every folder below it ("from/..."). Like
  // DeleteFolder, it first waits (up to a second) until the clock has
  // passed the UIDVALIDITY of the folders that give up their names, so
  // that a folder made under one of them later gets a greater one.
  StoreResult RenameFolder(const std::string& from, const std::string& to);
  // Deletes the folder and all its messages.
  StoreResult DeleteFolder(const std::string& name);
  StoreResult GetFolder(const std::string& name, FolderInfo* folder);

  // The messages of `name`: all of them with an empty `token`, else what
  // changed since the Sync() that returned `token` (or all, with
  // snapshot->full set, when something may have been removed). Messages
  // without a UID (new deliveries) get one here.
  StoreResult Sync(const std::string& name, const std::string& token,
                   FolderSnapshot* snapshot);

  // The raw bytes of message `uid` of folder `name`.
  StoreResult ReadRaw(const std::string& name, std::uint32_t uid,
                      std::string* raw);
  // The raw bytes of several messages at once, in one round trip (one
  // search of the folder's children by key for every 64 messages, sent
  // together): `raws` gets those found, by UID. `keys` has the keys
  // (GUIDs) the caller knows, by UID: those need no lookup of their UID
  // first.
  // Bodies read ahead are taken from their searches' answers: `raws`
  // then also gets the other messages those searches found.
  StoreResult ReadRawMany(const std::string& name,
                          const std::vector<std::uint32_t>& uids,
                          const std::map<std::uint32_t, std::string>& keys,
                          std::map<std::uint32_t, std::string>* raws);
  // Sends the searches ReadRawMany would make for these messages now,
  // without waiting for them (Directory::SendAhead): the directory works
  // while the caller does, and a ReadRawMany that asks for any of them
  // takes the answers. Nothing is reported: trouble shows there. At most
  // kMaxReadAhead searches wait; older ones are dropped.
  void ReadAhead(const std::string& name,
                 const std::vector<std::uint32_t>& uids,
                 const std::map<std::uint32_t, std::string>& keys);
  // Drops every search sent ahead (the caller will not ask for them).
  void ForgetReadAhead();
  static constexpr std::size_t kMaxReadAhead = 64;

  // Sets the flags and keywords of message `uid` to exactly these.
  StoreResult SetFlags(const std::string& name, std::uint32_t uid,
                       unsigned flags,
                       const std::vector<std::string>& keywords);
  // Adds `add_flags` and `add_keywords` to message `uid` and takes
  // `remove_flags` and `remove_keywords` away, in one change that does not
  // depend on the flags the message has: two servers changing different
  // flags of one message at once both get their way.
  StoreResult ModifyFlags(const std::string& name, std::uint32_t uid,
                          unsigned add_flags, unsigned remove_flags,
                          const std::vector<std::string>& add_keywords,
                          const std::vector<std::string>& remove_keywords);
  // Removes message `uid`; NotFound when it is gone already.
  StoreResult Expunge(const std::string& name, std::uint32_t uid);
  // Adds `raw` to folder `name` as a delivery would store it (same
  // attributes and key), with `flags`, `keywords` and INTERNALDATE
  // `received` (0: now). The same bytes in the same folder again are the
  // same message: its UID is returned.
  StoreResult Append(const std::string& name, std::string_view raw,
                     std::time_t received, unsigned flags,
                     const std::vector<std::string>& keywords,
                     std::uint32_t* uid, std::string* key);
  // Gives message `uid` a new UID (above every UID given so far), for a
  // server whose index has already passed `uid`.
  StoreResult Renumber(const std::string& name, std::uint32_t uid,
                       std::uint32_t* new_uid);

  const std::string& mailbox_dn() const { return mailbox_dn_; }

 private:
  struct Located {
    std::string message_dn;
    std::string state_dn;
    std::uint64_t size = 0;  // 0: not known yet
    std::string key;
  };

  // One search for bodies sent ahead: its ticket, the folder's id and
  // which UID each key (lower case) it asks for answers.
  struct BodiesAhead {
    std::uint64_t ticket = 0;
    std::string folder_id;
    std::map<std::string, std::uint32_t> uid_of_key;
  };

  // What GetFolder() read for the Sync() that follows it: the folder
  // entry and the contextCSN, both read before Sync()'s listing.
  struct ReadBeforeSync {
    FolderInfo folder;
    std::string csn;
  };

  StoreResult Failure(DirOp op, const DirResult& r, const std::string& doing);
  StoreResult LoadFolders();
  // folders_ from the answer to a listing of the folder entries.
  StoreResult UseFolders(const DirResult& r, const std::vector<Entry>& entries);
  const FolderInfo* FindFolder(const std::string& name) const;
  // FindFolder, reloading the folders once when not found.
  StoreResult Folder(const std::string& name, FolderInfo* folder);
  StoreResult ReadFolder(const std::string& dn, FolderInfo* folder);
  // ReadFolder()'s answer made a FolderInfo.
  StoreResult FolderFrom(const std::string& dn, const DirResult& r,
                         const std::vector<Entry>& entries, FolderInfo* folder);
  StoreResult MigrateFlatMessages();
  // Gives out `count` UIDs of `folder`: *first .. *first + count - 1.
  StoreResult AllocateUids(const std::string& folder_dn, std::uint32_t count,
                           std::uint32_t* first);
  // UIDs and state entries for messages that have none.
  StoreResult AssignUids(const std::string& folder_dn,
                         std::vector<FolderMessage*>* fresh);
  // Where the messages `uids` are, into located_: one search for those it
  // does not know yet. UIDs not found are left out (gone).
  StoreResult LocateMany(const FolderInfo& folder,
                         const std::vector<std::uint32_t>& uids);
  StoreResult Locate(const FolderInfo& folder, std::uint32_t uid,
                     Located* where);
  // The lowest contextCSN of the directory: everything changed before it
  // has been seen by this server. "" when the directory keeps none.
  StoreResult ContextCsn(std::string* csn);
  StoreResult CsnFrom(const DirResult& r, const std::vector<Entry>& entries,
                      std::string* csn);
  StoreResult AddFolderEntry(const std::string& id, const std::string& name);
  // The searches that read the bodies of `uids` (at most kKeysPerRead
  // keys each), with the UIDs their keys answer. UIDs whose key is
  // neither in `keys` nor found are left out (gone).
  StoreResult BodySearches(
      const FolderInfo& folder, const std::vector<std::uint32_t>& uids,
      const std::map<std::uint32_t, std::string>& keys,
      std::vector<SearchRequest>* requests,
      std::vector<std::map<std::string, std::uint32_t>>* uid_of_keys);
  // Puts the bodies of the entries of one body search into `raws`,
  // moving them out of `entries`.
  static void TakeBodies(std::vector<Entry>* entries,
                         const std::map<std::string, std::uint32_t>& uid_of_key,
                         std::map<std::uint32_t, std::string>* raws);

  const Config& config_;
  Directory& lookup_;
  Directory& store_;
  const Deadline& deadline_;
  Address user_;
  std::string mailbox_dn_;
  std::string suffix_;  // the naming context that holds the mailbox
  std::vector<FolderInfo> folders_;
  // Per folder id: where each UID's message is, as last seen.
  std::map<std::string, std::map<std::uint32_t, Located>> located_;
  std::optional<ReadBeforeSync> read_before_sync_;
  // The contextCSN Open() read with the folders, for the first
  // GetFolder().
  std::optional<std::string> open_csn_;
  std::deque<BodiesAhead> bodies_ahead_;  // oldest first
};

}  // namespace ldapmda

#endif  // LDAPMDA_FOLDER_STORE_H_
