// folder_store: folders, UIDs and flags in the directory (folder_store.h).
#include "ldapmda/folder_store.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <set>
#include <thread>
#include <tuple>
#include <utility>

#include "ldapmda/delivery.h"
#include "ldapmda/escape.h"
#include "ldapmda/layout.h"
#include "ldapmda/ldap_syntax.h"
#include "ldapmda/log.h"
#include "ldapmda/message.h"
#include "ldapmda/message_entry.h"
#include "ldapmda/recipient.h"
#include "ldapmda/text.h"
#include "ldapmda/usage.h"

namespace ldapmda {
namespace {

// Entries per page when a folder is listed.
constexpr int kPageSize = 1000;
// How often a compare-and-swap of mdaUidNext is tried before giving up.
constexpr int kCasAttempts = 50;
// Without a contextCSN, a change is looked for this far back behind the
// newest entryCSN seen: a write that took its CSN earlier may commit later.
constexpr std::time_t kCsnLookback = 60;
// Keys in one search of ReadRawMany: an OR of equality terms, each
// answered from the mdaKey index.
constexpr std::size_t kKeysPerRead = 64;
// Ancestors of a mailbox whose contextCSN Open() reads (one of them is
// the naming context).
constexpr std::size_t kMaxAncestors = 8;
// Longest folder name, in bytes.
constexpr std::size_t kMaxFolderName = 255;

constexpr std::pair<ImapFlag, const char*> kSystemFlags[] = {
    {kFlagAnswered, "\\Answered"}, {kFlagFlagged, "\\Flagged"},
    {kFlagDeleted, "\\Deleted"},   {kFlagSeen, "\\Seen"},
    {kFlagDraft, "\\Draft"},
};

template <typename T>
T ParseNumber(std::string_view text, T fallback) {
  T n{};
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) return fallback;
  return n;
}

bool IsInbox(std::string_view name) { return EqualsIgnoreCase(name, "inbox"); }

// A folder entry, read by its DN.
SearchRequest FolderRead(const std::string& dn) {
  return {dn,
          Scope::kBase,
          "(objectClass=*)",
          {at::kFolder, at::kFolderName, at::kUidValidity, at::kUidNext,
           at::kRemovals},
          1};
}

// The contextCSN of the naming context `suffix`.
SearchRequest CsnRead(const std::string& suffix) {
  return {suffix, Scope::kBase, "(objectClass=*)", {at::kContextCsn}, 1};
}

// The folder entries of a mailbox.
SearchRequest FolderList(const std::string& mailbox_dn) {
  return {mailbox_dn,
          Scope::kOne,
          std::string("(objectClass=") + oc::kMailFolder + ")",
          {at::kFolder, at::kFolderName, at::kUidValidity, at::kUidNext,
           at::kRemovals},
          0,
          kPageSize};
}

// A folder name the store accepts: valid one-line UTF-8 without control
// characters, levels separated by single '/', at most kMaxFolderName bytes.
bool ValidFolderName(const std::string& name) {
  if (name.empty() || name.size() > kMaxFolderName) return false;
  if (name.front() == '/' || name.back() == '/') return false;
  if (name.find("//") != std::string::npos) return false;
  const auto clean = SanitizeText(name, kMaxFolderName);
  return clean && *clean == name;
}

FolderInfo ToFolder(const Entry& e) {
  FolderInfo f;
  f.id = e.First(at::kFolder);
  f.name = e.First(at::kFolderName);
  if (f.name.empty()) f.name = f.id;
  f.dn = e.dn;
  f.uid_validity = ParseNumber<std::uint32_t>(e.First(at::kUidValidity), 0);
  f.uid_next = ParseNumber<std::uint32_t>(e.First(at::kUidNext), 1);
  f.removals = ParseNumber<std::uint64_t>(e.First(at::kRemovals), 0);
  return f;
}

bool IsFolderEntry(const Entry& e) { return !e.All(at::kUidNext).empty(); }
// The key of a message DN (lower case): its first RDN's value. Keys are
// hex digests, so "mdaKey=<key>," is read directly; anything else goes
// through the DN parser.
std::string KeyOfMessageDn(std::string_view dn) {
  constexpr std::string_view kPrefix = "mdakey=";
  const std::size_t comma = dn.find(',');
  if (dn.size() > kPrefix.size() && comma != std::string_view::npos &&
      EqualsIgnoreCase(dn.substr(0, kPrefix.size()), kPrefix)) {
    const std::string_view value =
        dn.substr(kPrefix.size(), comma - kPrefix.size());
    if (std::all_of(value.begin(), value.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
        })) {
      return AsciiLower(value);
    }
  }
  return AsciiLower(FirstRdnValue(std::string(dn)).value_or(""));
}

bool IsMessageEntry(const Entry& e) { return !e.All(at::kKey).empty(); }
bool IsStateEntry(const Entry& e) { return !e.All(at::kUid).empty(); }

FolderMessage ToMessage(const Entry& e) {
  FolderMessage m;
  m.key = AsciiLower(e.First(at::kKey));
  m.dn = e.dn;
  m.size = ParseNumber<std::uint64_t>(e.First(at::kSize), 0);
  m.received = ParseGeneralizedTime(e.First(at::kDeliveredAt)).value_or(0);
  return m;
}

// The token of a Sync(): "csn|removals|uidvalidity".
struct Token {
  std::string csn;
  std::uint64_t removals = 0;
  std::uint32_t uid_validity = 0;
};

std::string FormatToken(const Token& t) {
  return t.csn + "|" + std::to_string(t.removals) + "|" +
         std::to_string(t.uid_validity);
}

std::optional<Token> ParseToken(const std::string& text) {
  const auto a = text.find('|');
  const auto b = text.find('|', a == std::string::npos ? a : a + 1);
  if (a == std::string::npos || b == std::string::npos || a == 0) {
    return std::nullopt;
  }
  Token t;
  t.csn = text.substr(0, a);
  t.removals = ParseNumber<std::uint64_t>(text.substr(a + 1, b - a - 1), 0);
  t.uid_validity = ParseNumber<std::uint32_t>(text.substr(b + 1), 0);
  return t;
}

// `csn` moved kCsnLookback seconds back ("" when it does not parse).
std::string CsnBefore(const std::string& csn) {
  if (csn.size() < 14) return "";
  const auto t = ParseGeneralizedTime(csn.substr(0, 14) + "Z");
  if (!t) return "";
  const auto earlier = GeneralizedTime(*t - kCsnLookback);
  if (!earlier) return "";
  return earlier->substr(0, 14) + ".000000Z#000000#000#000000";
}

// A folder's UIDVALIDITY is the second it was made. A folder made under a
// name that another one gave up must get a greater UIDVALIDITY (RFC 3501
// 2.3.1.1), or clients and other servers' indexes take its UIDs for the
// old folder's messages. So before a folder gives up its name (DELETE,
// RENAME), the clock must have passed its UIDVALIDITY: a wait of at most
// a second, and only for a folder made that second. (A clock stepped
// back, or another host's ahead, is not waited for.)
void WaitUntilPast(std::uint32_t uid_validity) {
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  while (static_cast<std::uint64_t>(std::time(nullptr)) <= uid_validity &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// The attributes a folder listing asks for.
const std::vector<std::string>& SyncAttributes() {
  static const std::vector<std::string> attrs = {
      at::kKey,     at::kSize,     at::kDeliveredAt, at::kUid,
      at::kFlag,    at::kFolder,   at::kFolderName,  at::kUidValidity,
      at::kUidNext, at::kRemovals, at::kEntryCsn};
  return attrs;
}

}  // namespace

StoreResult StoreResult::From(const Outcome& outcome) {
  if (outcome.ok()) return Ok();
  StoreStatus status = StoreStatus::kTemp;
  if (outcome.dsn == kDsnConfig) {
    status = StoreStatus::kConfig;
  } else if (outcome.dsn == kDsnTooBig) {
    status = StoreStatus::kTooLarge;
  } else if (outcome.dsn.klass() == 5 && outcome.dsn.subject() == 1) {
    status = StoreStatus::kNotFound;
  } else if (outcome.dsn.klass() == 5) {
    status = StoreStatus::kNotAllowed;
  }
  return {status, outcome.text};
}

std::vector<std::string> FlagValues(unsigned flags,
                                    const std::vector<std::string>& keywords) {
  std::vector<std::string> values;
  for (const auto& [bit, name] : kSystemFlags) {
    if (flags & bit) values.emplace_back(name);
  }
  std::set<std::string> seen;
  for (const std::string& k : keywords) {
    // IA5 values without white space; the same keyword once.
    const bool usable = !k.empty() && k.front() != '\\' &&
                        std::all_of(k.begin(), k.end(), [](char c) {
                          return c > 0x20 && c < 0x7F;
                        });
    if (usable && seen.insert(AsciiLower(k)).second) values.push_back(k);
  }
  return values;
}

void ParseFlagValues(const std::vector<std::string>& values, unsigned* flags,
                     std::vector<std::string>* keywords) {
  *flags = 0;
  keywords->clear();
  for (const std::string& v : values) {
    if (!v.empty() && v.front() == '\\') {
      for (const auto& [bit, name] : kSystemFlags) {
        if (EqualsIgnoreCase(v, name)) *flags |= bit;
      }
    } else if (!v.empty()) {
      keywords->push_back(v);
    }
  }
}

StoreResult RemoveMessage(Directory& directory, const Deadline& deadline,
                          const std::string& message_dn,
                          const std::string& folder_dn) {
  // The state first: a message entry with a child cannot be deleted.
  DirResult r = directory.Delete(StateDn(message_dn));
  if (!r.ok() && !r.no_such_object()) {
    return StoreResult::From(DirectoryFailure(DirOp::kDelete, r, deadline));
  }
  r = directory.Delete(message_dn);
  if (r.no_such_object()) return {StoreStatus::kNotFound, "already removed"};
  if (!r.ok()) {
    return StoreResult::From(DirectoryFailure(DirOp::kDelete, r, deadline));
  }
  // The message is gone whatever happens now; a reader that misses the
  // count notices at its next full listing.
  r = directory.Modify(folder_dn,
                       {{Modification::Op::kIncrement, at::kRemovals, {"1"}}});
  if (r.no_such_value()) {
    r = directory.Modify(folder_dn,
                         {{Modification::Op::kAdd, at::kRemovals, {"1"}}});
  }
  if (!r.ok()) {
    Log(LogLevel::kWarning, "removal from " + folder_dn + " not counted (" +
                                ClassifyDirResult(DirOp::kModify, r).text +
                                "); IMAP servers see it at their next full "
                                "listing");
  }
  return StoreResult::Ok();
}

StoreResult FolderStore::Failure(DirOp op, const DirResult& r,
                                 const std::string& doing) {
  StoreResult s = StoreResult::From(DirectoryFailure(op, r, deadline_));
  s.text = doing + ": " + s.text;
  return s;
}

StoreResult FolderStore::Open(const Address& user) {
  Resolver resolver(config_, lookup_, deadline_);
  Resolution where;
  if (Outcome o = resolver.Resolve(user, "", &where); !o.ok()) {
    StoreResult s = StoreResult::From(o);
    // Dovecot authenticated this user: without a directory entry the
    // lookup and the user database disagree, which is set-up.
    if (s.status == StoreStatus::kNotFound) s.status = StoreStatus::kConfig;
    s.text = "mailbox of " + user.text + ": " + s.text;
    return s;
  }
  user_ = user;
  mailbox_dn_ = where.mailbox_dn;

  // In one round trip: the naming context holding the mailbox (its
  // contextCSN tells how far this server has seen changes), whether
  // messages of the layout before folders are left, the folders, and
  // the contextCSN of each of the mailbox's ancestors (which of them is
  // the naming context is known only from the answer): the first
  // GetFolder() needs no round trip of its own.
  std::vector<SearchRequest> requests = {
      {"", Scope::kBase, "(objectClass=*)", {"namingContexts"}, 1},
      {mailbox_dn_,
       Scope::kOne,
       std::string("(objectClass=") + oc::kMessage + ")",
       {"1.1"},
       1},
      FolderList(mailbox_dn_)};
  constexpr std::size_t kFirstAncestor = 3;
  for (std::string dn = ParentDn(mailbox_dn_);
       !dn.empty() && requests.size() < kFirstAncestor + kMaxAncestors;
       dn = ParentDn(dn)) {
    requests.push_back(CsnRead(dn));
  }
  std::vector<std::vector<Entry>> answers;
  std::vector<DirResult> results;
  if (DirResult r = store_.SearchMany(requests, &answers, &results); !r.ok()) {
    return Failure(DirOp::kSearch, r, "opening " + mailbox_dn_);
  }
  if (!results[0].ok()) {
    return Failure(DirOp::kSearch, results[0], "reading the root DSE");
  }
  const std::string lower_mailbox = AsciiLower(mailbox_dn_);
  for (const Entry& e : answers[0]) {
    for (const std::string& nc : e.All("namingContexts")) {
      const std::string lower = AsciiLower(nc);
      if (!lower.empty() && lower.size() > suffix_.size() &&
          lower_mailbox.size() > lower.size() &&
          lower_mailbox.compare(lower_mailbox.size() - lower.size(),
                                lower.size(), lower) == 0) {
        suffix_ = nc;
      }
    }
  }
  open_csn_.reset();
  for (std::size_t i = kFirstAncestor; i < requests.size(); ++i) {
    std::string csn;
    if (!suffix_.empty() && EqualsIgnoreCase(requests[i].base, suffix_) &&
        CsnFrom(results[i], answers[i], &csn).ok()) {
      open_csn_ = std::move(csn);
    }
  }
  // No mailbox entry yet (nothing delivered): made below with INBOX.
  const bool no_mailbox =
      results[1].no_such_object() || results[2].no_such_object();
  if (!no_mailbox) {
    if (!results[1].ok() && !results[1].size_limit_exceeded()) {
      return Failure(DirOp::kSearch, results[1], "listing " + mailbox_dn_);
    }
    if (!answers[1].empty()) {
      if (StoreResult s = MigrateFlatMessages(); !s.ok()) return s;
      if (StoreResult s = LoadFolders(); !s.ok()) return s;  // changed
    } else if (StoreResult s = UseFolders(results[2], answers[2]); !s.ok()) {
      return s;
    }
    if (FindFolder(kInbox) != nullptr) return StoreResult::Ok();
  }
  Delivery delivery(config_, lookup_, store_, deadline_);
  if (Outcome o = delivery.CreateFolder(mailbox_dn_, kInbox, kInbox); !o.ok()) {
    return StoreResult::From(o);
  }
  return LoadFolders();
}

StoreResult FolderStore::MigrateFlatMessages() {
  // ldapmda before folders stored messages right below the mailbox.
  std::vector<Entry> flat;
  const DirResult r =
      store_.Search({mailbox_dn_,
                     Scope::kOne,
                     std::string("(objectClass=") + oc::kMessage + ")",
                     {at::kFolder},
                     0,
                     kPageSize},
                    &flat);
  if (!r.ok()) return Failure(DirOp::kSearch, r, "listing " + mailbox_dn_);
  if (flat.empty()) return StoreResult::Ok();
  Delivery delivery(config_, lookup_, store_, deadline_);
  std::size_t moved = 0;
  for (const Entry& e : flat) {
    std::string id = e.First(at::kFolder);
    if (id.empty()) id = kInbox;
    if (Outcome o = delivery.CreateFolder(mailbox_dn_, id, id); !o.ok()) {
      return StoreResult::From(o);
    }
    DirResult m = store_.Move(e.dn, FolderDn(mailbox_dn_, id));
    if (m.already_exists()) {
      // The same bytes were delivered to that folder since: one copy.
      m = store_.Delete(e.dn);
    }
    if (!m.ok() && !m.no_such_object()) {
      return Failure(DirOp::kModify, m, "moving " + e.dn + " into its folder");
    }
    ++moved;
  }
  Log(LogLevel::kInfo, "moved " + std::to_string(moved) + " messages of " +
                           mailbox_dn_ + " into folders");
  return StoreResult::Ok();
}

StoreResult FolderStore::LoadFolders() {
  std::vector<Entry> entries;
  const DirResult r = store_.Search(FolderList(mailbox_dn_), &entries);
  return UseFolders(r, entries);
}

StoreResult FolderStore::UseFolders(const DirResult& r,
                                    const std::vector<Entry>& entries) {
  if (r.no_such_object()) {
    folders_.clear();
    return {StoreStatus::kTemp, mailbox_dn_ + " has gone"};
  }
  if (!r.ok()) return Failure(DirOp::kSearch, r, "listing " + mailbox_dn_);
  std::vector<FolderInfo> folders;
  for (const Entry& e : entries) folders.push_back(ToFolder(e));
  // INBOX first, then by name; of two folders with one name (a delivery
  // made "lists" after the user renamed another folder to "lists") the
  // older keeps it and the other is shown as "lists~<id>".
  std::sort(folders.begin(), folders.end(),
            [](const FolderInfo& a, const FolderInfo& b) {
              const bool ia = a.id == kInbox, ib = b.id == kInbox;
              if (ia != ib) return ia;
              if (a.name != b.name) return a.name < b.name;
              return a.uid_validity < b.uid_validity;
            });
  std::set<std::string> names;
  for (FolderInfo& f : folders) {
    if (f.id != kInbox && (IsInbox(f.name) || !names.insert(f.name).second)) {
      f.name += "~" + f.id;
      names.insert(f.name);
      const DirResult m = store_.Modify(
          f.dn, {{Modification::Op::kReplace, at::kFolderName, {f.name}}});
      if (!m.ok()) return Failure(DirOp::kModify, m, "renaming " + f.dn);
    }
  }
  folders_ = std::move(folders);
  return StoreResult::Ok();
}

const FolderInfo* FolderStore::FindFolder(const std::string& name) const {
  for (const FolderInfo& f : folders_) {
    if (IsInbox(name) ? f.id == kInbox : f.name == name) return &f;
  }
  return nullptr;
}

StoreResult FolderStore::Folder(const std::string& name, FolderInfo* folder) {
  const FolderInfo* f = FindFolder(name);
  if (f == nullptr) {
    if (StoreResult s = LoadFolders(); !s.ok()) return s;
    f = FindFolder(name);
  }
  if (f == nullptr) return {StoreStatus::kNotFound, "no folder " + name};
  *folder = *f;
  return StoreResult::Ok();
}

StoreResult FolderStore::ReadFolder(const std::string& dn, FolderInfo* folder) {
  std::vector<Entry> entries;
  const DirResult r = store_.Search(FolderRead(dn), &entries);
  return FolderFrom(dn, r, entries, folder);
}

StoreResult FolderStore::FolderFrom(const std::string& dn, const DirResult& r,
                                    const std::vector<Entry>& entries,
                                    FolderInfo* folder) {
  if (r.no_such_object() || (r.ok() && entries.empty())) {
    return {StoreStatus::kNotFound, dn + " has gone"};
  }
  if (!r.ok()) return Failure(DirOp::kSearch, r, "reading " + dn);
  *folder = ToFolder(entries.front());
  return StoreResult::Ok();
}

StoreResult FolderStore::ListFolders(std::vector<FolderInfo>* folders) {
  if (StoreResult s = LoadFolders(); !s.ok()) return s;
  *folders = folders_;
  return StoreResult::Ok();
}

StoreResult FolderStore::GetFolder(const std::string& name,
                                   FolderInfo* folder) {
  read_before_sync_.reset();
  FolderInfo cached;
  if (StoreResult s = Folder(name, &cached); !s.ok()) return s;
  if (suffix_.empty()) return ReadFolder(cached.dn, folder);
  if (open_csn_) {
    // Open() read the folders and the contextCSN moments ago, before any
    // listing: as good for the Sync() that follows, once.
    *folder = cached;
    read_before_sync_ = ReadBeforeSync{cached, std::move(*open_csn_)};
    open_csn_.reset();
    return StoreResult::Ok();
  }
  // With the contextCSN, in one round trip: a Sync() of this folder that
  // follows uses both (they were read before its listing, as it needs).
  std::vector<std::vector<Entry>> answers;
  std::vector<DirResult> results;
  if (DirResult r = store_.SearchMany({FolderRead(cached.dn), CsnRead(suffix_)},
                                      &answers, &results);
      !r.ok()) {
    return Failure(DirOp::kSearch, r, "reading " + cached.dn);
  }
  if (StoreResult s = FolderFrom(cached.dn, results[0], answers[0], folder);
      !s.ok()) {
    return s;
  }
  std::string csn;
  if (StoreResult s = CsnFrom(results[1], answers[1], &csn); !s.ok()) return s;
  read_before_sync_ = ReadBeforeSync{*folder, std::move(csn)};
  return StoreResult::Ok();
}

StoreResult FolderStore::CreateFolder(const std::string& name) {
  if (!ValidFolderName(name)) {
    return {StoreStatus::kBadName, "not a usable folder name"};
  }
  if (StoreResult s = LoadFolders(); !s.ok()) return s;
  if (FindFolder(name) != nullptr) {
    return {StoreStatus::kExists, "folder " + name + " exists"};
  }
  // The identifier is the name, cut to what a delivery's folder may be,
  // unless another folder (since renamed) holds it already.
  const std::string base = SanitizeText(name, kMaxFolderBytes).value_or("F");
  const FolderEntry probe(base, name, 0);
  Delivery delivery(config_, lookup_, store_, deadline_);
  for (int n = 1; n < 1000; ++n) {
    const std::string id = n == 1 ? base : base + "~" + std::to_string(n);
    if (IsInbox(id)) continue;
    const FolderEntry entry(id, name,
                            static_cast<std::uint32_t>(std::time(nullptr)));
    DirResult r = store_.Add(FolderDn(mailbox_dn_, id), entry.attributes());
    if (r.no_such_object()) {
      if (Outcome o = delivery.CreateMailbox(mailbox_dn_); !o.ok()) {
        return StoreResult::From(o);
      }
      r = store_.Add(FolderDn(mailbox_dn_, id), entry.attributes());
    }
    if (r.already_exists()) continue;
    if (!r.ok()) return Failure(DirOp::kAddMailbox, r, "creating " + name);
    return LoadFolders();
  }
  return {StoreStatus::kTemp, "no free identifier for folder " + name};
}

StoreResult FolderStore::RenameFolder(const std::string& from,
                                      const std::string& to) {
  if (!ValidFolderName(to)) {
    return {StoreStatus::kBadName, "not a usable folder name"};
  }
  if (StoreResult s = LoadFolders(); !s.ok()) return s;
  const FolderInfo* source = FindFolder(from);
  if (source == nullptr) return {StoreStatus::kNotFound, "no folder " + from};
  if (source->id == kInbox) {
    return {StoreStatus::kNotAllowed, "INBOX cannot be renamed"};
  }
  if (FindFolder(to) != nullptr) {
    return {StoreStatus::kExists, "folder " + to + " exists"};
  }
  const std::string old_name = source->name;
  // The folder and every folder below it, each one attribute.
  std::vector<std::pair<std::string, std::string>> renames;  // dn, new name
  std::uint32_t newest = 0;                                  // UIDVALIDITY
  for (const FolderInfo& f : folders_) {
    if (f.name == old_name) {
      renames.push_back({f.dn, to});
    } else if (f.name.rfind(old_name + "/", 0) == 0) {
      const std::string renamed = to + f.name.substr(old_name.size());
      if (FindFolder(renamed) != nullptr) {
        return {StoreStatus::kExists, "folder " + renamed + " exists"};
      }
      renames.push_back({f.dn, renamed});
    } else {
      continue;
    }
    newest = std::max(newest, f.uid_validity);
  }
  WaitUntilPast(newest);
  for (const auto& [dn, name] : renames) {
    const DirResult r = store_.Modify(
        dn, {{Modification::Op::kReplace, at::kFolderName, {name}}});
    if (!r.ok()) return Failure(DirOp::kModify, r, "renaming " + dn);
  }
  return LoadFolders();
}

StoreResult FolderStore::DeleteFolder(const std::string& name) {
  FolderInfo folder;
  if (StoreResult s = Folder(name, &folder); !s.ok()) return s;
  if (folder.id == kInbox) {
    return {StoreStatus::kNotAllowed, "INBOX cannot be deleted"};
  }
  WaitUntilPast(folder.uid_validity);
  std::vector<Entry> entries;
  const DirResult r = store_.Search({folder.dn,
                                     Scope::kSub,
                                     "(objectClass=*)",
                                     {at::kSize, at::kUid},
                                     0,
                                     kPageSize},
                                    &entries);
  if (r.no_such_object()) return {StoreStatus::kNotFound, "no folder " + name};
  if (!r.ok()) return Failure(DirOp::kSearch, r, "listing " + folder.dn);
  // Leaves first: states, then messages, then the folder.
  Usage removed;
  for (int pass = 0; pass < 3; ++pass) {
    for (const Entry& e : entries) {
      const bool state = IsStateEntry(e), message = !e.All(at::kSize).empty();
      const bool wanted = pass == 0   ? state
                          : pass == 1 ? message && !state
                                      : !state && !message;
      if (!wanted) continue;
      const DirResult d = store_.Delete(e.dn);
      if (!d.ok() && !d.no_such_object()) {
        return Failure(DirOp::kDelete, d, "deleting " + e.dn);
      }
      if (message && d.ok()) {
        removed.bytes += ParseNumber<long long>(e.First(at::kSize), 0);
        ++removed.messages;
      }
    }
  }
  if (config_.tracks_usage() && removed.messages > 0) {
    CountUsage(store_, mailbox_dn_, -removed.bytes, -removed.messages);
  }
  located_.erase(folder.id);
  return LoadFolders();
}

StoreResult FolderStore::ContextCsn(std::string* csn) {
  csn->clear();
  if (suffix_.empty()) return StoreResult::Ok();
  std::vector<Entry> entries;
  const DirResult r = store_.Search(CsnRead(suffix_), &entries);
  return CsnFrom(r, entries, csn);
}

StoreResult FolderStore::CsnFrom(const DirResult& r,
                                 const std::vector<Entry>& entries,
                                 std::string* csn) {
  csn->clear();
  if (!r.ok()) return Failure(DirOp::kSearch, r, "reading " + suffix_);
  if (entries.empty()) return StoreResult::Ok();
  // One value per server a multi-provider directory has: what this server
  // has from each. The lowest is safe for all.
  for (const std::string& v : entries.front().All(at::kContextCsn)) {
    if (csn->empty() || v < *csn) *csn = v;
  }
  return StoreResult::Ok();
}

StoreResult FolderStore::Sync(const std::string& name, const std::string& token,
                              FolderSnapshot* snapshot) {
  *snapshot = {};
  // What GetFolder() read just before, if it was this folder: used once.
  std::optional<ReadBeforeSync> read_before;
  read_before.swap(read_before_sync_);
  FolderInfo folder;
  if (StoreResult s = Folder(name, &folder); !s.ok()) return s;
  if (read_before && read_before->folder.id != folder.id) read_before.reset();
  const std::optional<Token> since = ParseToken(token);
  std::string now;
  if (read_before) {
    now = read_before->csn;
  } else if (StoreResult s = ContextCsn(&now); !s.ok()) {
    return s;
  }

  const bool full = !since || since->csn.empty();
  // After the token: the change that set the contextCSN the token holds
  // had committed before the last listing, which saw it.
  const std::string after = since ? EscapeFilterValue(since->csn) : "";
  const std::string filter = full ? std::string("(objectClass=*)")
                                  : "(&(" + std::string(at::kEntryCsn) +
                                        ">=" + after + ")(!(" + at::kEntryCsn +
                                        "=" + after + ")))";
  std::vector<Entry> entries;
  const DirResult r = store_.Search(
      {folder.dn, Scope::kSub, filter, SyncAttributes(), 0, kPageSize},
      &entries);
  if (r.no_such_object()) {
    LoadFolders();
    return {StoreStatus::kNotFound, "folder " + name + " has gone"};
  }
  if (r.size_limit_exceeded()) {
    return {StoreStatus::kConfig,
            "the directory cut the listing of " + folder.dn +
                " short although it was paged: allow paged searches for this "
                "bind identity (slapd limits size.prtotal=unlimited)"};
  }
  if (!r.ok()) return Failure(DirOp::kSearch, r, "listing " + folder.dn);

  std::map<std::string, FolderMessage> messages;  // by DN
  std::map<std::string, const Entry*> states;     // by the message's DN
  std::string newest_csn = since ? since->csn : "";
  bool folder_seen = false;
  for (const Entry& e : entries) {
    const std::string& csn = e.First(at::kEntryCsn);
    if (csn > newest_csn) newest_csn = csn;
    if (IsFolderEntry(e)) {
      folder = ToFolder(e);
      folder_seen = true;
    } else if (IsMessageEntry(e)) {
      messages[e.dn] = ToMessage(e);
    } else if (IsStateEntry(e)) {
      states[ParentDn(e.dn)] = &e;
    }
  }
  // Something was removed, or the folder was made anew: list it whole.
  if (!full && folder_seen &&
      (folder.removals != since->removals ||
       folder.uid_validity != since->uid_validity)) {
    return Sync(name, "", snapshot);
  }

  std::vector<FolderMessage*> fresh;
  for (auto& [dn, m] : messages) {
    const auto it = states.find(dn);
    if (it == states.end()) {
      fresh.push_back(&m);
      continue;
    }
    m.uid = ParseNumber<std::uint32_t>(it->second->First(at::kUid), 0);
    ParseFlagValues(it->second->All(at::kFlag), &m.flags, &m.keywords);
    states.erase(it);
  }
  if (StoreResult s = AssignUids(folder.dn, &fresh); !s.ok()) return s;
  auto& located = located_[folder.id];
  if (full) located.clear();
  for (auto& [dn, m] : messages) {
    located[m.uid] = {m.dn, StateDn(m.dn), m.size, m.key};
    snapshot->messages.push_back(std::move(m));
  }
  // Changed states whose message did not change: flags only. The caller
  // knows the message by its UID (or lists the folder whole).
  for (const auto& [message_dn, e] : states) {
    FolderMessage m;
    m.uid = ParseNumber<std::uint32_t>(e->First(at::kUid), 0);
    m.dn = message_dn;
    m.flags_only = true;
    located[m.uid] = {message_dn, e->dn, 0,
                      AsciiLower(FirstRdnValue(message_dn).value_or(""))};
    ParseFlagValues(e->All(at::kFlag), &m.flags, &m.keywords);
    snapshot->messages.push_back(std::move(m));
  }
  std::sort(snapshot->messages.begin(), snapshot->messages.end(),
            [](const FolderMessage& a, const FolderMessage& b) {
              return a.uid < b.uid;
            });
  if (!folder_seen && fresh.empty() && read_before) {
    // Not in the answer, so unchanged since the token up to the listing,
    // which came after GetFolder() read it: that reading is current.
    folder = read_before->folder;
  } else if (!folder_seen || !fresh.empty()) {
    // Not in the answer, or changed since by giving out UIDs.
    if (StoreResult s = ReadFolder(folder.dn, &folder); !s.ok()) return s;
  }
  for (FolderInfo& f : folders_) {
    if (f.id == folder.id) f = folder;
  }
  snapshot->folder = folder;
  snapshot->full = full;
  Token next{now.empty() ? CsnBefore(newest_csn) : now, folder.removals,
             folder.uid_validity};
  snapshot->token = FormatToken(next);
  return StoreResult::Ok();
}

StoreResult FolderStore::AllocateUids(const std::string& folder_dn,
                                      std::uint32_t count,
                                      std::uint32_t* first) {
  for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
    FolderInfo folder;
    if (StoreResult s = ReadFolder(folder_dn, &folder); !s.ok()) return s;
    const std::uint64_t next = std::uint64_t{folder.uid_next} + count;
    if (next > 0xFFFFFFFFu) {
      return {StoreStatus::kNotAllowed,
              "the UIDs of " + folder_dn + " are used up"};
    }
    // Compare-and-swap: the delete fails when another server was quicker.
    const DirResult r = store_.Modify(
        folder_dn,
        {{Modification::Op::kDelete,
          at::kUidNext,
          {std::to_string(folder.uid_next)}},
         {Modification::Op::kAdd, at::kUidNext, {std::to_string(next)}}});
    if (r.ok()) {
      *first = folder.uid_next;
      return StoreResult::Ok();
    }
    if (!r.no_such_value()) {
      return Failure(DirOp::kModify, r, "giving out UIDs in " + folder_dn);
    }
  }
  return {StoreStatus::kTemp, "too many servers giving out UIDs in " +
                                  folder_dn + " at once; try again"};
}

StoreResult FolderStore::AssignUids(const std::string& folder_dn,
                                    std::vector<FolderMessage*>* fresh) {
  if (fresh->empty()) return StoreResult::Ok();
  // In delivery order, so that UIDs grow with INTERNALDATE.
  std::sort(fresh->begin(), fresh->end(),
            [](const FolderMessage* a, const FolderMessage* b) {
              return std::tie(a->received, a->key) <
                     std::tie(b->received, b->key);
            });
  std::uint32_t first = 0;
  const auto count = static_cast<std::uint32_t>(fresh->size());
  if (StoreResult s = AllocateUids(folder_dn, count, &first); !s.ok()) {
    return s;
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    FolderMessage* m = (*fresh)[i];
    const std::string uid = std::to_string(first + i);
    const std::vector<AttributeView> state = {
        {"objectClass", {oc::kMessageState}},
        {"cn", {kStateCn}},
        {at::kUid, {uid}}};
    const DirResult r = store_.Add(StateDn(m->dn), state);
    if (r.ok()) {
      m->uid = first + i;
      continue;
    }
    if (!r.already_exists()) {
      return Failure(DirOp::kAddMessage, r, "giving " + m->dn + " a UID");
    }
    // Another server gave it one first: that one counts.
    std::vector<Entry> found;
    const DirResult s = store_.Search({StateDn(m->dn),
                                       Scope::kBase,
                                       "(objectClass=*)",
                                       {at::kUid, at::kFlag},
                                       1},
                                      &found);
    if (!s.ok() || found.empty()) {
      return Failure(DirOp::kSearch, s, "reading the state of " + m->dn);
    }
    m->uid = ParseNumber<std::uint32_t>(found.front().First(at::kUid), 0);
    ParseFlagValues(found.front().All(at::kFlag), &m->flags, &m->keywords);
  }
  return StoreResult::Ok();
}

StoreResult FolderStore::LocateMany(const FolderInfo& folder,
                                    const std::vector<std::uint32_t>& uids) {
  auto& located = located_[folder.id];
  std::string any;
  for (std::uint32_t uid : uids) {
    if (located.count(uid) == 0) {
      any += "(" + std::string(at::kUid) + "=" + std::to_string(uid) + ")";
    }
  }
  if (any.empty()) return StoreResult::Ok();
  // The states name their messages: the parent's DN, whose RDN is the key.
  std::vector<Entry> states;
  const DirResult r = store_.Search(
      {folder.dn,
       Scope::kSub,
       "(&(objectClass=" + std::string(oc::kMessageState) + ")(|" + any + "))",
       {at::kUid},
       0,
       kPageSize},
      &states);
  if (!r.ok() && !r.no_such_object()) {
    return Failure(DirOp::kSearch, r, "finding messages by UID");
  }
  for (const Entry& e : states) {
    Located found;
    found.state_dn = e.dn;
    found.message_dn = ParentDn(e.dn);
    found.key = AsciiLower(FirstRdnValue(found.message_dn).value_or(""));
    located[ParseNumber<std::uint32_t>(e.First(at::kUid), 0)] = found;
  }
  return StoreResult::Ok();
}

StoreResult FolderStore::Locate(const FolderInfo& folder, std::uint32_t uid,
                                Located* where) {
  if (StoreResult s = LocateMany(folder, {uid}); !s.ok()) return s;
  const auto& located = located_[folder.id];
  const auto it = located.find(uid);
  if (it == located.end()) {
    return {
        StoreStatus::kNotFound,
        "no message with UID " + std::to_string(uid) + " in " + folder.name};
  }
  *where = it->second;
  return StoreResult::Ok();
}

StoreResult FolderStore::ReadRaw(const std::string& name, std::uint32_t uid,
                                 std::string* raw) {
  FolderInfo folder;
  if (StoreResult s = Folder(name, &folder); !s.ok()) return s;
  Located where;
  if (StoreResult s = Locate(folder, uid, &where); !s.ok()) return s;
  std::vector<Entry> entries;
  const DirResult r = store_.Search(
      {where.message_dn, Scope::kBase, "(objectClass=*)", {at::kRawMessage}, 1},
      &entries);
  if (r.no_such_object() || (r.ok() && entries.empty())) {
    located_[folder.id].erase(uid);
    return {StoreStatus::kNotFound, where.message_dn + " has gone"};
  }
  if (!r.ok()) return Failure(DirOp::kSearch, r, "reading " + where.message_dn);
  *raw = entries.front().First(at::kRawMessage);
  return StoreResult::Ok();
}

StoreResult FolderStore::BodySearches(
    const FolderInfo& folder, const std::vector<std::uint32_t>& uids,
    const std::map<std::uint32_t, std::string>& keys,
    std::vector<SearchRequest>* requests,
    std::vector<std::map<std::string, std::uint32_t>>* uid_of_keys) {
  requests->clear();
  uid_of_keys->clear();
  std::vector<std::uint32_t> unknown;
  for (std::uint32_t uid : uids) {
    if (keys.count(uid) == 0) unknown.push_back(uid);
  }
  if (StoreResult s = LocateMany(folder, unknown); !s.ok()) return s;
  const auto& located = located_[folder.id];
  // The messages are the folder's children, found by their keys (an
  // equality index): one search returns a whole batch. slapd's work per
  // operation (thread hand-over, ACL walk, log lines) is then paid once
  // per batch instead of once per message (docs/ARCHITECTURE.md, "Round
  // trips").
  std::map<std::string, std::uint32_t> uid_of_key;
  for (std::uint32_t uid : uids) {
    std::string key;
    if (const auto k = keys.find(uid); k != keys.end()) {
      key = AsciiLower(k->second);
    } else if (const auto it = located.find(uid); it != located.end()) {
      key = it->second.key;
    } else {
      continue;  // gone: the caller sees it so
    }
    uid_of_key.emplace(std::move(key), uid);
  }
  std::string any;
  for (auto it = uid_of_key.begin(); it != uid_of_key.end();) {
    if (uid_of_keys->empty() || uid_of_keys->back().size() == kKeysPerRead) {
      uid_of_keys->emplace_back();
    }
    uid_of_keys->back().insert(*it);
    any +=
        "(" + std::string(at::kKey) + "=" + EscapeFilterValue(it->first) + ")";
    if (++it == uid_of_key.end() ||
        uid_of_keys->back().size() == kKeysPerRead) {
      const bool one = uid_of_keys->back().size() == 1;
      requests->push_back({folder.dn,
                           Scope::kOne,
                           one ? any : "(|" + any + ")",
                           {at::kRawMessage},
                           0});
      any.clear();
    }
  }
  return StoreResult::Ok();
}

void FolderStore::TakeBodies(
    std::vector<Entry>* entries,
    const std::map<std::string, std::uint32_t>& uid_of_key,
    std::map<std::uint32_t, std::string>* raws) {
  for (Entry& e : *entries) {
    const auto it = uid_of_key.find(KeyOfMessageDn(e.dn));
    if (it == uid_of_key.end()) continue;
    for (Attribute& a : e.attributes) {
      if (EqualsIgnoreCase(a.name, at::kRawMessage) && !a.values.empty()) {
        (*raws)[it->second] = std::move(a.values.front());
        break;
      }
    }
  }
}

StoreResult FolderStore::ReadRawMany(
    const std::string& name, const std::vector<std::uint32_t>& uids,
    const std::map<std::uint32_t, std::string>& keys,
    std::map<std::uint32_t, std::string>* raws) {
  raws->clear();
  FolderInfo folder;
  if (StoreResult s = Folder(name, &folder); !s.ok()) return s;
  // First what was sent ahead: every search that asked for one of these.
  std::set<std::uint32_t> wanted(uids.begin(), uids.end());
  std::set<std::uint32_t> asked;
  for (auto ahead = bodies_ahead_.begin(); ahead != bodies_ahead_.end();) {
    const bool wants_it =
        ahead->folder_id == folder.id &&
        std::any_of(ahead->uid_of_key.begin(), ahead->uid_of_key.end(),
                    [&](const auto& k) { return wanted.count(k.second); });
    if (!wants_it) {
      ++ahead;
      continue;
    }
    std::vector<Entry> entries;
    const DirResult r = store_.Receive(ahead->ticket, &entries);
    if (!r.ok() && !r.no_such_object()) {  // no such object: folder gone
      for (auto& rest : bodies_ahead_) {
        if (rest.ticket != ahead->ticket) store_.Forget(rest.ticket);
      }
      bodies_ahead_.clear();
      return Failure(DirOp::kSearch, r, "reading messages of " + folder.dn);
    }
    TakeBodies(&entries, ahead->uid_of_key, raws);
    for (const auto& k : ahead->uid_of_key) asked.insert(k.second);
    ahead = bodies_ahead_.erase(ahead);
  }
  std::vector<std::uint32_t> rest;
  for (std::uint32_t uid : wanted) {
    if (asked.count(uid) == 0) rest.push_back(uid);
  }
  if (rest.empty()) return StoreResult::Ok();
  std::vector<SearchRequest> requests;
  std::vector<std::map<std::string, std::uint32_t>> uid_of_keys;
  if (StoreResult s = BodySearches(folder, rest, keys, &requests, &uid_of_keys);
      !s.ok()) {
    return s;
  }
  if (requests.empty()) return StoreResult::Ok();
  std::vector<std::vector<Entry>> answers;
  std::vector<DirResult> results;
  if (DirResult r = store_.SearchMany(requests, &answers, &results); !r.ok()) {
    return Failure(DirOp::kSearch, r, "reading messages of " + folder.dn);
  }
  for (std::size_t i = 0; i < requests.size(); ++i) {
    if (results[i].no_such_object()) continue;  // the folder has gone
    if (!results[i].ok()) {
      return Failure(DirOp::kSearch, results[i],
                     "reading messages of " + folder.dn);
    }
    TakeBodies(&answers[i], uid_of_keys[i], raws);
  }
  return StoreResult::Ok();
}

void FolderStore::ReadAhead(const std::string& name,
                            const std::vector<std::uint32_t>& uids,
                            const std::map<std::uint32_t, std::string>& keys) {
  const FolderInfo* found = FindFolder(name);
  if (found == nullptr) return;  // ReadRawMany will say
  const FolderInfo folder = *found;
  std::vector<SearchRequest> requests;
  std::vector<std::map<std::string, std::uint32_t>> uid_of_keys;
  if (!BodySearches(folder, uids, keys, &requests, &uid_of_keys).ok()) return;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    if (bodies_ahead_.size() == kMaxReadAhead) {
      store_.Forget(bodies_ahead_.front().ticket);
      bodies_ahead_.pop_front();
    }
    bodies_ahead_.push_back(
        {store_.SendAhead(requests[i]), folder.id, std::move(uid_of_keys[i])});
  }
}

void FolderStore::ForgetReadAhead() {
  for (const BodiesAhead& ahead : bodies_ahead_) store_.Forget(ahead.ticket);
  bodies_ahead_.clear();
}

StoreResult FolderStore::SetFlags(const std::string& name, std::uint32_t uid,
                                  unsigned flags,
                                  const std::vector<std::string>& keywords) {
  FolderInfo folder;
  if (StoreResult s = Folder(name, &folder); !s.ok()) return s;
  Located where;
  if (StoreResult s = Locate(folder, uid, &where); !s.ok()) return s;
  const DirResult r = store_.Modify(
      where.state_dn,
      {{Modification::Op::kReplace, at::kFlag, FlagValues(flags, keywords)}});
  if (r.no_such_object()) {
    located_[folder.id].erase(uid);
    return {StoreStatus::kNotFound, where.message_dn + " has gone"};
  }
  if (!r.ok()) return Failure(DirOp::kModify, r, "flagging " + where.state_dn);
  return StoreResult::Ok();
}

StoreResult FolderStore::ModifyFlags(
    const std::string& name, std::uint32_t uid, unsigned add_flags,
    unsigned remove_flags, const std::vector<std::string>& add_keywords,
    const std::vector<std::string>& remove_keywords) {
  FolderInfo folder;
  if (StoreResult s = Folder(name, &folder); !s.ok()) return s;
  Located where;
  if (StoreResult s = Locate(folder, uid, &where); !s.ok()) return s;
  std::vector<Modification> changes;
  if (auto add = FlagValues(add_flags, add_keywords); !add.empty()) {
    changes.push_back({Modification::Op::kAdd, at::kFlag, std::move(add)});
  }
  if (auto remove = FlagValues(remove_flags, remove_keywords);
      !remove.empty()) {
    changes.push_back(
        {Modification::Op::kDelete, at::kFlag, std::move(remove)});
  }
  if (changes.empty()) return StoreResult::Ok();
  DirResult r = store_.ModifyPermissive(where.state_dn, changes);
  if (r.no_such_value()) {
    // slapd 2.5's permissive modify forgives adding a value that is there
    // but not deleting one that is not: delete the flags one at a time,
    // each one gone already being fine.
    const std::vector<std::string> remove =
        FlagValues(remove_flags, remove_keywords);
    r = changes.front().op == Modification::Op::kAdd
            ? store_.ModifyPermissive(where.state_dn, {changes.front()})
            : DirResult{};
    for (std::size_t i = 0; r.ok() && i < remove.size(); ++i) {
      r = store_.Modify(where.state_dn,
                        {{Modification::Op::kDelete, at::kFlag, {remove[i]}}});
      if (r.no_such_value()) r = DirResult{};
    }
  }
  if (r.no_such_object()) {
    located_[folder.id].erase(uid);
    return {StoreStatus::kNotFound, where.message_dn + " has gone"};
  }
  if (!r.ok()) return Failure(DirOp::kModify, r, "flagging " + where.state_dn);
  return StoreResult::Ok();
}

StoreResult FolderStore::Expunge(const std::string& name, std::uint32_t uid) {
  FolderInfo folder;
  if (StoreResult s = Folder(name, &folder); !s.ok()) return s;
  Located where;
  if (StoreResult s = Locate(folder, uid, &where); !s.ok()) return s;
  located_[folder.id].erase(uid);
  if (config_.tracks_usage() && where.size == 0) {
    // What the usage counters lose with it.
    std::vector<Entry> message;
    const DirResult r = store_.Search(
        {where.message_dn, Scope::kBase, "(objectClass=*)", {at::kSize}, 1},
        &message);
    if (!r.ok() && !r.no_such_object()) {
      return Failure(DirOp::kSearch, r, "reading " + where.message_dn);
    }
    if (!message.empty()) {
      where.size =
          ParseNumber<std::uint64_t>(message.front().First(at::kSize), 0);
    }
  }
  StoreResult s = RemoveMessage(store_, deadline_, where.message_dn, folder.dn);
  if (s.ok() && config_.tracks_usage()) {
    CountUsage(store_, mailbox_dn_, -static_cast<long long>(where.size), -1);
  }
  return s;
}

StoreResult FolderStore::Append(const std::string& name, std::string_view raw,
                                std::time_t received, unsigned flags,
                                const std::vector<std::string>& keywords,
                                std::uint32_t* uid, std::string* key) {
  FolderInfo folder;
  if (StoreResult s = Folder(name, &folder); !s.ok()) return s;
  if (raw.size() > config_.max_message_size) {
    return {StoreStatus::kTooLarge,
            "message larger than max_message_size (" +
                std::to_string(config_.max_message_size) + " bytes)"};
  }
  // Exactly the entry a delivery to this user and folder would store.
  *key = MessageKey(user_.text, raw);
  Envelope envelope;
  envelope.sender = ReturnPathSender(raw);
  const MessageEntry entry(*key, raw, ParseMessage(raw), envelope, user_.text,
                           folder.id,
                           received != 0 ? received : std::time(nullptr));
  Delivery delivery(config_, lookup_, store_, deadline_);
  bool created = false;
  std::string dn;
  if (Outcome o = delivery.Store(mailbox_dn_, entry, &created, &dn); !o.ok()) {
    return StoreResult::From(o);
  }
  if (created && config_.tracks_usage()) {
    CountUsage(store_, mailbox_dn_, static_cast<long long>(raw.size()), 1);
  }
  FolderMessage m;
  m.key = *key;
  m.dn = dn;
  m.size = raw.size();
  m.received = received;
  std::vector<FolderMessage*> fresh = {&m};
  if (StoreResult s = AssignUids(folder.dn, &fresh); !s.ok()) return s;
  // A new message takes the flags it was appended with; the same bytes
  // appended again keep theirs.
  if (created && (flags != 0 || !keywords.empty())) {
    const DirResult r = store_.Modify(
        StateDn(m.dn),
        {{Modification::Op::kReplace, at::kFlag, FlagValues(flags, keywords)}});
    if (!r.ok()) return Failure(DirOp::kModify, r, "flagging " + m.dn);
  }
  located_[folder.id][m.uid] = {m.dn, StateDn(m.dn), m.size, m.key};
  *uid = m.uid;
  return StoreResult::Ok();
}

StoreResult FolderStore::Renumber(const std::string& name, std::uint32_t uid,
                                  std::uint32_t* new_uid) {
  FolderInfo folder;
  if (StoreResult s = Folder(name, &folder); !s.ok()) return s;
  Located where;
  if (StoreResult s = Locate(folder, uid, &where); !s.ok()) return s;
  std::uint32_t fresh = 0;
  if (StoreResult s = AllocateUids(folder.dn, 1, &fresh); !s.ok()) return s;
  const DirResult r = store_.Modify(
      where.state_dn,
      {{Modification::Op::kDelete, at::kUid, {std::to_string(uid)}},
       {Modification::Op::kAdd, at::kUid, {std::to_string(fresh)}}});
  auto& located = located_[folder.id];
  located.erase(uid);
  if (r.no_such_value()) {
    // Renumbered by another server meanwhile: take its number.
    std::vector<Entry> found;
    const DirResult s = store_.Search(
        {where.state_dn, Scope::kBase, "(objectClass=*)", {at::kUid}, 1},
        &found);
    if (!s.ok() || found.empty()) {
      return Failure(DirOp::kSearch, s, "reading " + where.state_dn);
    }
    fresh = ParseNumber<std::uint32_t>(found.front().First(at::kUid), 0);
  } else if (!r.ok()) {
    return Failure(DirOp::kModify, r, "renumbering " + where.state_dn);
  }
  located[fresh] = where;
  *new_uid = fresh;
  return StoreResult::Ok();
}

}  // namespace ldapmda
