// maildir: ldapmbox's Maildir++ writer and reader. INBOX is the top
// directory (cur/ new/ tmp/), every other folder F is the subdirectory
// ".<EncodeMaildirFolder(F)>" with its own cur/ new/ tmp/ and an empty
// "maildirfolder" file, as Courier and Dovecot lay them out.
//
// Folder names use IMAP's modified UTF-7 (RFC 3501 5.1.3), which Courier
// and Dovecot decode: printable ASCII stands for itself, "&" is "&-",
// anything else is "&<modified base64 of UTF-16>-". On top of that '/'
// (which no file name may hold) and a '.' at the start, at the end or next
// to another '.' (which would make an empty Maildir++ hierarchy level, or
// the names "." and "..") are written in the base64 form too, so every
// folder name gives a safe directory name and decodes back to itself.
//
// Each message is one file holding its exact bytes, named
// "<delivered>.<mdaKey>.ldapmbox:2,S" (seen): written into tmp/, synced,
// then renamed into cur/. A message whose key already names a file in cur/
// or new/ is not written again, so exporting twice changes nothing.
#ifndef LDAPMDA_MAILDIR_H_
#define LDAPMDA_MAILDIR_H_

#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ldapmda {

// The folder that is the Maildir's top directory.
inline constexpr char kInbox[] = "INBOX";

// A folder name (UTF-8) as a Maildir++ directory name, without the
// leading '.'. Invalid UTF-8 bytes are encoded as U+FFFD.
std::string EncodeMaildirFolder(std::string_view folder);
// The inverse. Bytes >= 0x80 pass through (folders of Maildirs that keep
// names in raw UTF-8); a malformed "&...-" section gives nullopt.
std::optional<std::string> DecodeMaildirFolder(std::string_view name);

// The directory of `folder` below `root`.
std::string MaildirFolderPath(const std::string& root, std::string_view folder);

// "<delivered>.<key>.ldapmbox:2,S".
std::string MaildirFileName(std::string_view key, std::time_t delivered);

// The first 64-digit lower-case hexadecimal word of a file name (the
// mdaKey of the files this module writes), or "".
std::string KeyInFileName(std::string_view name);

// A Maildir that cannot be read or written; what() says which path.
class MaildirError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class MaildirWriter {
 public:
  // Creates `root` with cur/ new/ tmp/ as needed. Throws MaildirError.
  explicit MaildirWriter(std::string root);

  // Whether a file of `key` is already in `folder`.
  bool Has(std::string_view folder, std::string_view key);

  // Writes `raw` as a seen message of `folder`. Returns false, writing
  // nothing, when a file of this key is already there. Throws
  // MaildirError.
  bool Write(std::string_view folder, std::string_view key,
             std::time_t delivered, std::string_view raw);

 private:
  // The folder's directory, created on first use, and the keys in it.
  const std::string& Folder(std::string_view folder);

  std::string root_;
  std::map<std::string, std::string, std::less<>> dirs_;
  std::map<std::string, std::set<std::string>, std::less<>> keys_;
};

// One message file found by ScanMaildir.
struct MaildirFile {
  std::string path;
  std::string folder;    // decoded folder name; kInbox for the top
  std::time_t time = 0;  // delivery time: from the name, else mtime
  std::string key_hint;  // KeyInFileName of the file name
};

// Every message file in cur/ and new/ of `root` and of its Maildir++
// folders (".NAME" directories holding cur/), sorted by folder, time and
// name. Throws MaildirError when `root` is no Maildir (no cur/ or new/).
std::vector<MaildirFile> ScanMaildir(const std::string& root);

}  // namespace ldapmda

#endif  // LDAPMDA_MAILDIR_H_
