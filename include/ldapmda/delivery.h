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
#include "ldapmda/confirm.h"
#include "ldapmda/deadline.h"
#include "ldapmda/directory.h"
#include "ldapmda/message.h"
#include "ldapmda/recipient.h"
#include "ldapmda/status.h"

namespace ldapmda {

// SMTP envelope data Postfix passes on the command line.
struct Envelope {
  std::string sender;              // "" for the null sender
  std::string original_recipient;  // "" when unknown
  std::string queue_id;            // "" when unknown
  std::string extension;           // Postfix's ${extension} when given, else ""
};

// Result of delivering to one recipient.
struct DeliveryResult {
  Outcome outcome;
  std::string stored_dn;  // set when the message is (already) stored
  std::string folder;     // set when the message is (already) stored
};

// The mdaKey of `raw` for `recipient`: hex SHA-256 of the lower-cased
// recipient, "\n", and the raw bytes.
std::string MessageKey(std::string_view recipient, std::string_view raw);

// One mdaDsnResult value, "action;status;recipient" ("failed;5.1.1;
// bob@example.org"): a recipient's action and status kept together,
// which separate multi-valued attributes (an unordered set) cannot.
std::string FormatDsnResult(const DsnRecipient& r);

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

  // Whether mdaReport attributes are among attributes().
  bool has_report() const { return report_begin_ < attributes_.size(); }
  // attributes() without mdaReport and its attributes: what a directory
  // whose schema predates mdaReport accepts.
  std::vector<AttributeView> attributes_without_report() const;

 private:
  void Add(std::string name, std::string_view value);
  void AddText(std::string name, const std::optional<std::string>& value);
  // Adds `name` with the non-empty `values`, each once (case-insensitive).
  void AddSet(std::string name, const std::vector<std::string>& values);
  void AddReport(const Report& report, std::string_view verp_recipient);

  std::size_t report_begin_ = 0;  // index of the first mdaReport attribute

  std::deque<std::string> owned_;  // stable addresses for the views
  std::vector<AttributeView> attributes_;
};

// The mailbox usage counters, as stored on the mailbox entry.
struct Usage {
  long long bytes = 0;
  long long messages = 0;
};

// Whether a message of `size` bytes fits: usage + size <= limit. A message
// that would cross the limit is refused whole; one that lands exactly on it
// is accepted.
bool FitsQuota(const Usage& usage, std::size_t size, long long limit);

class Delivery {
 public:
  // `lookup` answers searches, `store` takes adds; they may be the same.
  // With a `confirmer`, a store counts only once the replicas confirm it.
  Delivery(const Config& config, Directory& lookup, Directory& store,
           const Deadline& deadline, ReplicaConfirmer* confirmer = nullptr)
      : config_(config),
        lookup_(lookup),
        store_(store),
        deadline_(deadline),
        confirmer_(confirmer),
        resolver_(config, lookup, deadline) {}

  // Delivers `raw` (whose parsed headers are `info`) to `recipient`.
  // A message that is already stored counts as delivered (once confirmed
  // by the replicas, when confirm_host is set).
  DeliveryResult Deliver(std::string_view raw, const MessageInfo& info,
                         const Envelope& envelope,
                         const std::string& recipient);

  // The same for a recipient already looked up with resolver() (LMTP
  // looks recipients up at RCPT time).
  DeliveryResult Deliver(std::string_view raw, const MessageInfo& info,
                         const Envelope& envelope, const std::string& recipient,
                         const Resolution& where);

  Resolver& resolver() { return resolver_; }

  // Adds the message, creating the mailbox when it does not exist yet.
  // `created` tells a new entry from one an earlier attempt stored.
  Outcome Store(const std::string& mailbox_dn, const std::string& message_dn,
                const MessageEntry& entry, bool* created);

  // Account status and quota for a message of `size` bytes to the
  // recipient `entry` with mailbox `mailbox_dn`. 2.0.0 when it may be
  // stored (ldapmda --query asks this with size 0).
  Outcome CheckPolicy(const Entry& entry, const std::string& mailbox_dn,
                      std::size_t size);

 private:
  // A policy refusal, unless an earlier attempt stored this very message:
  // then it is delivered (a retry), whatever the policy says now.
  Outcome RefuseUnlessStored(Outcome refusal, const std::string& message_dn);
  // `stored` (a message in the directory) once the replicas confirm
  // `message_dn`; their 4.4.3 when they do not. Without confirm_host:
  // `stored` as it is.
  Outcome ConfirmStored(Outcome stored, const std::string& message_dn);
  // Adds the message entry; where the directory's schema refuses the
  // mdaReport attributes, adds it again without them.
  DirResult AddMessage(const std::string& message_dn,
                       const MessageEntry& entry);
  // Counts a newly stored message in the mailbox's usage. Failures are
  // logged, never reported: the message is stored; --recount repairs.
  void CountStored(const std::string& mailbox_dn, std::size_t size);

  const Config& config_;
  Directory& lookup_;
  Directory& store_;
  const Deadline& deadline_;
  ReplicaConfirmer* confirmer_;
  Resolver resolver_;
};

// Reads the usage counters of `mailbox_dn`: zero when the mailbox does not
// exist yet. Counters missing on an existing mailbox read as zero too.
Outcome ReadUsage(Directory& directory, const std::string& mailbox_dn,
                  const Deadline& deadline, Usage* usage);

// Recomputes the usage counters of the mailbox of `address` from the
// messages stored in it (paged search) and writes them. Counters drift
// when two providers of a replicated directory increment at once (each
// replicates its own result, one update is lost), or when an increment
// failed after a store; this repairs them. `before` gets what the
// counters said, `after` what they say now.
Outcome Recount(const Config& config, Directory& directory,
                const Deadline& deadline, const std::string& address,
                std::string* mailbox_dn, Usage* before, Usage* after);

}  // namespace ldapmda

#endif  // LDAPMDA_DELIVERY_H_
