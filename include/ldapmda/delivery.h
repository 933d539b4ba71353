// delivery: the core shared by every front end. For one recipient: check
// the address, look it up, store the message below its mailbox, and fold
// every result into one Outcome. It knows nothing of argv, stdin or exit
// codes.
#ifndef LDAPMDA_DELIVERY_H_
#define LDAPMDA_DELIVERY_H_

#include <ctime>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ldapmda/config.h"
#include "ldapmda/deadline.h"
#include "ldapmda/directory.h"
#include "ldapmda/message.h"
#include "ldapmda/status.h"

namespace ldapmda {

// SMTP envelope data Postfix passes on the command line.
struct Envelope {
  std::string sender;              // "" for the null sender
  std::string original_recipient;  // "" when unknown
  std::string queue_id;            // "" when unknown
};

// Result of delivering to one recipient.
struct DeliveryResult {
  Outcome outcome;
  std::string stored_dn;  // set when the message is (already) stored
};

// The mdaKey of `raw` for `recipient`: hex SHA-256 of the lower-cased
// recipient, "\n", and the raw bytes.
std::string MessageKey(std::string_view recipient, std::string_view raw);

// The attributes of one mdaMessage entry. The raw message is referenced,
// not copied: `raw` must outlive the MessageEntry.
class MessageEntry {
 public:
  MessageEntry(std::string_view key, std::string_view raw,
               const MessageInfo& info, const Envelope& envelope,
               std::string_view recipient, std::time_t delivered_at);
  const std::vector<AttributeView>& attributes() const { return attributes_; }

 private:
  void Add(std::string name, std::string_view value);
  void AddText(std::string name, const std::optional<std::string>& value);

  std::deque<std::string> owned_;  // stable addresses for the views
  std::vector<AttributeView> attributes_;
};

class Delivery {
 public:
  // `lookup` answers searches, `store` takes adds; they may be the same.
  Delivery(const Config& config, Directory& lookup, Directory& store,
           const Deadline& deadline)
      : config_(config), lookup_(lookup), store_(store), deadline_(deadline) {}

  // Delivers `raw` (whose parsed headers are `info`) to `recipient`.
  // A message that is already stored counts as delivered.
  DeliveryResult Deliver(std::string_view raw, const MessageInfo& info,
                         const Envelope& envelope,
                         const std::string& recipient);

 private:
  // Finds the one entry for `recipient`, or says why not.
  Outcome Lookup(const std::string& recipient, std::string* entry_dn);
  // Adds the message, creating the mailbox when it does not exist yet.
  Outcome Store(const std::string& mailbox_dn, const std::string& message_dn,
                const MessageEntry& entry);
  // Turns a failed LDAP call into an outcome, preferring 4.3.0 when the
  // run's deadline is what made it fail.
  Outcome Failure(LdapOp op, const DirResult& result) const;

  const Config& config_;
  Directory& lookup_;
  Directory& store_;
  const Deadline& deadline_;
};

}  // namespace ldapmda

#endif  // LDAPMDA_DELIVERY_H_
