// message_entry: the schema mapping of a stored message -- the attributes
// of one mdaMessage entry (with mdaReport's when the message reports on
// other mail) and its key. Every writer (delivery, ldapmbox import, the
// Dovecot driver's APPEND) builds entries here, so that they are alike.
#ifndef LDAPMDA_MESSAGE_ENTRY_H_
#define LDAPMDA_MESSAGE_ENTRY_H_

#include <cstdint>
#include <ctime>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ldapmda/directory.h"
#include "ldapmda/message.h"

namespace ldapmda {

// SMTP envelope data Postfix passes on the command line.
struct Envelope {
  std::string sender;              // "" for the null sender
  std::string original_recipient;  // "" when unknown
  std::string queue_id;            // "" when unknown
  std::string extension;           // Postfix's ${extension} when given, else ""
};

// The mdaKey of `raw` for `recipient`: hex SHA-256 of the lower-cased
// recipient, "\n", and the raw bytes.
std::string MessageKey(std::string_view recipient, std::string_view raw);

// One mdaDsnResult value, "action;status;recipient" ("failed;5.1.1;
// bob@example.org"): a recipient's action and status kept together,
// which separate multi-valued attributes (an unordered set) cannot.
std::string FormatDsnResult(const DsnRecipient& r);

// One mdaDsnReason value, "reason;type;recipient" ("userunknown;hard;
// bob@example.org"): why a recipient bounced (core/bounce_reason.h) and
// whether hard or soft, beside mdaDsnResult. "" for a recipient without a
// reason (delivered, relayed, expanded).
std::string FormatDsnReason(const DsnRecipient& r);

// The attributes of one mdaMessage entry, with the auxiliary class
// mdaReport and its attributes when the message is a report, an automatic
// reply, or came through a VERP address (`verp_recipient`). The raw
// message is referenced, not copied: `raw` must outlive the MessageEntry.
class MessageEntry {
 public:
  MessageEntry(std::string_view key, std::string_view raw,
               const MessageInfo& info, const Envelope& envelope,
               std::string_view recipient, std::string_view folder,
               std::time_t delivered_at, std::string_view verp_recipient = "");
  const std::vector<AttributeView>& attributes() const { return attributes_; }
  const std::string& key() const { return key_; }
  // The folder's identifier (mdaFolder): the message's entry goes below
  // that folder's entry.
  const std::string& folder() const { return folder_; }

  // Whether mdaReport attributes are among attributes().
  bool has_report() const { return report_begin_ < attributes_.size(); }
  // attributes() without mdaReport and its attributes: what a directory
  // whose schema predates mdaReport accepts.
  std::vector<AttributeView> attributes_without_report() const;
  // Whether mdaDsnReason is among attributes().
  bool has_reasons() const { return reasons_ < attributes_.size(); }
  // attributes() without mdaDsnReason: what a directory whose schema
  // predates it (but not mdaReport) accepts.
  std::vector<AttributeView> attributes_without_reasons() const;

 private:
  void Add(std::string name, std::string_view value);
  void AddText(std::string name, const std::optional<std::string>& value);
  // Adds `name` with the non-empty `values`, each once (case-insensitive).
  void AddSet(std::string name, const std::vector<std::string>& values);
  void AddReport(const Report& report, std::string_view verp_recipient);

  std::string key_;
  std::string folder_;
  std::size_t report_begin_ = 0;  // index of the first mdaReport attribute
  std::size_t reasons_ = static_cast<std::size_t>(-1);  // of mdaDsnReason

  std::deque<std::string> owned_;  // stable addresses for the views
  std::vector<AttributeView> attributes_;
};

// The attributes of a new mdaMailFolder entry: identifier `id` (the RDN
// value), IMAP name `name`, UIDVALIDITY `uid_validity`, no UID given yet.
class FolderEntry {
 public:
  FolderEntry(std::string id, std::string name, std::uint32_t uid_validity);
  std::vector<AttributeView> attributes() const;

 private:
  std::string id_;
  std::string name_;
  std::string uid_validity_;
};

}  // namespace ldapmda

#endif  // LDAPMDA_MESSAGE_ENTRY_H_
