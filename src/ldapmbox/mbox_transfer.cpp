// mbox_transfer: export and import (see mbox_commands.h). Export reads
// the metadata with one paged search and each message's bytes with its own
// base search, so memory stays bounded by the largest message. Import
// reads and checks the whole input before it stores anything, so a
// malformed file leaves the mailbox as it was.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <unordered_set>

#include "ldapmbox/listing.h"
#include "ldapmbox/maildir.h"
#include "ldapmbox/mbox.h"
#include "ldapmbox/mbox_commands.h"
#include "ldapmbox/progress.h"
#include "ldapmda/delivery.h"
#include "ldapmda/escape.h"
#include "ldapmda/message.h"
#include "ldapmda/recipient.h"

namespace ldapmda {
namespace {

std::string Errno() { return std::strerror(errno); }

// The bytes of an input file: mapped when it is a regular file, read
// otherwise ("-" is standard input).
class InputFile {
 public:
  explicit InputFile(const std::string& path) {
    const int fd =
        path == "-" ? STDIN_FILENO : open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      throw CommandError(kExitNoInput, "cannot open " + path + ": " + Errno());
    struct stat st {};
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
      size_ = static_cast<std::size_t>(st.st_size);
      map_ = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (map_ == MAP_FAILED) map_ = nullptr;
    }
    const bool ok = map_ != nullptr || ReadAll(fd);
    const std::string error = Errno();
    if (fd != STDIN_FILENO) close(fd);
    if (!ok)
      throw CommandError(kExitNoInput, "cannot read " + path + ": " + error);
  }
  ~InputFile() {
    if (map_ != nullptr) munmap(map_, size_);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  std::string_view data() const {
    return map_ ? std::string_view(static_cast<const char*>(map_), size_)
                : std::string_view(buffer_);
  }

 private:
  bool ReadAll(int fd) {
    char chunk[65536];
    for (;;) {
      const ssize_t n = read(fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return false;
      if (n == 0) return true;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  void* map_ = nullptr;
  std::size_t size_ = 0;
  std::string buffer_;
};

// An mbox being written: FILE through a temporary file that replaces it
// only when complete, or standard output for "-".
class MboxOutput {
 public:
  explicit MboxOutput(const std::string& path) : path_(path) {
    if (path == "-") {
      fd_ = STDOUT_FILENO;
      return;
    }
    tmp_ = path + ".ldapmbox-XXXXXX";
    fd_ = mkostemp(tmp_.data(), O_CLOEXEC);
    if (fd_ < 0)
      throw CommandError(kExitCantCreate,
                         "cannot create " + tmp_ + ": " + Errno());
  }
  ~MboxOutput() {
    if (tmp_.empty() || committed_) return;
    close(fd_);
    unlink(tmp_.c_str());
  }
  MboxOutput(const MboxOutput&) = delete;
  MboxOutput& operator=(const MboxOutput&) = delete;

  void Write(std::string_view data) { WriteOut(fd_, data); }

  void Commit() {
    if (tmp_.empty()) return;
    if (fsync(fd_) != 0 || close(fd_) != 0) {
      throw CommandError(kExitIoErr, "cannot write " + tmp_ + ": " + Errno());
    }
    committed_ = true;
    if (rename(tmp_.c_str(), path_.c_str()) != 0) {
      const std::string error = Errno();
      unlink(tmp_.c_str());
      throw CommandError(kExitCantCreate,
                         "cannot create " + path_ + ": " + error);
    }
  }

 private:
  std::string path_;
  std::string tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

std::time_t DeliveryTime(const StoredMessage& m) {
  for (const std::string* t : {&m.delivered, &m.date}) {
    if (auto parsed = ParseGeneralizedTime(*t)) return *parsed;
  }
  return std::time(nullptr);
}

// The raw bytes of `m`; nullopt (with a warning) when it vanished.
std::optional<std::string> ReadMessage(MailboxStore& store,
                                       const StoredMessage& m) {
  std::string raw;
  bool found = false;
  Require(store.ReadRaw(m.key, &raw, &found));
  if (!found) {
    std::cerr << "ldapmbox: message " << m.key << " was deleted meanwhile\n";
    return std::nullopt;
  }
  return raw;
}

int ExportMbox(const MboxCommand& c, MailboxStore& store,
               const std::vector<StoredMessage>& messages) {
  MboxOutput out(c.mbox);
  std::size_t written = 0;
  {
    Progress progress("exporting", messages.size());
    for (const auto& m : messages) {
      if (auto raw = ReadMessage(store, m)) {
        out.Write(FormatMboxMessage(m.envelope_sender, DeliveryTime(m), *raw));
        ++written;
      }
      progress.Step();
    }
  }
  out.Commit();
  if (c.mbox != "-") {
    WriteOut(STDOUT_FILENO, "exported " + std::to_string(written) +
                                " messages to " + c.mbox + "\n");
  }
  return kExitOk;
}

int ExportMaildir(const MboxCommand& c, MailboxStore& store,
                  const std::vector<StoredMessage>& messages) {
  std::size_t written = 0, present = 0;
  try {
    MaildirWriter maildir(c.maildir);
    Progress progress("exporting", messages.size());
    for (const auto& m : messages) {
      progress.Step();
      const std::string folder = m.folder.empty() ? kInbox : m.folder;
      if (maildir.Has(folder, m.key)) {
        ++present;
      } else if (auto raw = ReadMessage(store, m)) {
        maildir.Write(folder, m.key, DeliveryTime(m), *raw);
        ++written;
      }
    }
  } catch (const MaildirError& e) {
    throw CommandError(kExitCantCreate, e.what());
  }
  WriteOut(STDOUT_FILENO, "exported " + std::to_string(written) +
                              " messages to " + c.maildir + ", " +
                              std::to_string(present) + " already there\n");
  return kExitOk;
}

// One message to import and where its bytes are.
struct ImportItem {
  std::string where;  // for messages: "line N" or a path
  std::string folder;
  std::optional<std::string> sender;  // nullopt: from Return-Path
  std::time_t time = 0;
  std::string key_hint;               // an exported Maildir file's key
  const MboxMessage* mbox = nullptr;  // the bytes: in the mbox, or
  std::string path;                   // in this file
};

std::string LoadRaw(const ImportItem& item) {
  if (item.mbox != nullptr) return item.mbox->Raw();
  const InputFile file(item.path);
  return std::string(file.data());
}

std::vector<ImportItem> MboxItems(const std::vector<MboxMessage>& messages,
                                  const std::string& folder) {
  std::vector<ImportItem> items;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const MboxMessage& m = messages[i];
    // Writers that know no sender put MAILER-DAEMON or "-" there.
    const bool unknown = m.sender.empty() || m.sender == "-";
    items.push_back({"message " + std::to_string(i + 1) + " (line " +
                         std::to_string(m.line) + ")",
                     folder, unknown ? std::nullopt : std::optional(m.sender),
                     m.time.value_or(std::time(nullptr)), "", &m, ""});
  }
  return items;
}

std::vector<ImportItem> MaildirItems(const MboxCommand& c) {
  std::vector<MaildirFile> files;
  try {
    files = ScanMaildir(c.maildir);
  } catch (const MaildirError& e) {
    throw CommandError(kExitNoInput, e.what());
  }
  std::vector<ImportItem> items;
  for (auto& f : files) {
    const std::string folder = FolderName(f.folder);
    if (c.folder && folder != FolderName(*c.folder)) continue;
    items.push_back(
        {f.path, folder, std::nullopt, f.time, f.key_hint, nullptr, f.path});
  }
  return items;
}

struct ImportCounts {
  std::size_t imported = 0, present = 0, failed = 0;
};

// Stores one message. A directory failure of class 4 is returned, to
// stop the import; anything else is counted.
Outcome ImportOne(const ImportItem& item, const Config& config,
                  MailboxStore& store, std::unordered_set<std::string>& keys,
                  ImportCounts& counts) {
  const auto fail = [&](const std::string& why) {
    std::cerr << "ldapmbox: " << item.where << ": " << why << "\n";
    ++counts.failed;
    return Outcome::Ok("counted");
  };
  std::string raw;
  try {
    raw = LoadRaw(item);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  if (raw.size() > config.max_message_size) {
    return fail("larger than max_message_size (" +
                std::to_string(config.max_message_size) + " bytes)");
  }
  const std::string key = MessageKey(store.address(), raw);
  if (keys.count(key) ||
      (!item.key_hint.empty() && keys.count(item.key_hint))) {
    ++counts.present;
    return Outcome::Ok("present");
  }
  Envelope envelope;
  envelope.sender = item.sender ? *item.sender : ReturnPathSender(raw);
  const MessageEntry entry(key, raw, ParseMessage(raw), envelope,
                           store.address(), item.folder, item.time);
  bool created = false;
  Outcome o = store.Add(entry, &created);
  if (o.ok()) {
    ++(created ? counts.imported : counts.present);
    keys.insert(key);
    return o;
  }
  if (o.dsn.klass() == 4) return o;
  return fail(o.text);
}

int Import(const Config& config, MailboxStore& store,
           const std::vector<ImportItem>& items) {
  std::unordered_set<std::string> keys;
  Require(store.Keys(&keys));
  ImportCounts counts;
  Outcome stop = Outcome::Ok("done");
  {
    Progress progress("importing", items.size());
    for (const auto& item : items) {
      stop = ImportOne(item, config, store, keys, counts);
      if (!stop.ok()) {
        stop.text = "stopped at " + item.where + ": " + stop.text;
        break;
      }
      progress.Step();
    }
  }
  if (config.tracks_usage() && counts.imported > 0) {
    Usage usage;
    const Outcome o = store.RecountUsage(&usage);
    if (stop.ok()) stop = o;
  }
  WriteOut(STDOUT_FILENO, "imported " + std::to_string(counts.imported) +
                              ", already present " +
                              std::to_string(counts.present) + ", failed " +
                              std::to_string(counts.failed) + "\n");
  Require(stop);
  return counts.failed > 0 ? kExitDataErr : kExitOk;
}

}  // namespace

int ExportCommand(const MboxCommand& c, MailboxStore& store) {
  MessageFilter filter;
  filter.folder = c.folder;
  std::vector<StoredMessage> messages;
  Require(store.List(filter, &messages));
  SortMessages(&messages, SortKey::kDelivered, false);
  if (!c.mbox.empty()) return ExportMbox(c, store, messages);
  return ExportMaildir(c, store, messages);
}

int ImportCommand(const MboxCommand& c, const Config& config,
                  MailboxStore& store) {
  if (!c.maildir.empty()) return Import(config, store, MaildirItems(c));
  const InputFile input(c.mbox);
  std::vector<MboxMessage> messages;
  try {
    messages = ParseMbox(input.data());
  } catch (const MboxError& e) {
    throw CommandError(kExitDataErr,
                       (c.mbox == "-" ? "standard input" : c.mbox) + ": " +
                           e.what() + "; nothing imported");
  }
  const std::string folder =
      FolderName(c.folder.value_or(store.default_folder()));
  return Import(config, store, MboxItems(messages, folder));
}

}  // namespace ldapmda
