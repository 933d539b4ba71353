// delivery: the delivery steps shared by every front end. For one
// recipient: check the address, look it up, apply the policy, store the
// message below its mailbox, and fold every result into one Outcome. It
// knows nothing of argv, stdin or exit codes.
#ifndef LDAPMDA_DELIVERY_H_
#define LDAPMDA_DELIVERY_H_

#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ldapmda/config.h"
#include "ldapmda/confirm.h"
#include "ldapmda/deadline.h"
#include "ldapmda/directory.h"
#include "ldapmda/message.h"
#include "ldapmda/message_entry.h"
#include "ldapmda/recipient.h"
#include "ldapmda/status.h"
#include "ldapmda/usage.h"

namespace ldapmda {

// Result of delivering to one recipient.
struct DeliveryResult {
  Outcome outcome;
  std::string stored_dn;  // set when the message is (already) stored
  std::string folder;     // set when the message is (already) stored
};

class Delivery {
 public:
  // `lookup` answers searches, `store` takes adds; they may be the same.
  // With a `confirmer`, a store counts only once the replicas confirm it.
  Delivery(const Config& config, Directory& lookup, Directory& store,
           const Deadline& deadline, ReplicaConfirmer* confirmer = nullptr)
      : config_(config),
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

  // The same for a recipient already parsed and looked up with
  // resolver() (LMTP looks recipients up at RCPT time).
  DeliveryResult Deliver(std::string_view raw, const MessageInfo& info,
                         const Envelope& envelope, const Address& recipient,
                         const Resolution& where);

  Resolver& resolver() { return resolver_; }

  // Adds the message below its folder in `mailbox_dn`, creating the
  // folder and the mailbox when they do not exist yet (with a schema from
  // before folders: right below the mailbox). `created` tells a new entry
  // from one an earlier attempt stored; `stored_dn` gets its DN.
  Outcome Store(const std::string& mailbox_dn, const MessageEntry& entry,
                bool* created, std::string* stored_dn);

  // Creates the folder `id` named `name` in `mailbox_dn`, and the mailbox
  // when that is missing too. A folder that exists already is fine.
  Outcome CreateFolder(const std::string& mailbox_dn, const std::string& id,
                       const std::string& name);
  // Creates the mailbox `mailbox_dn`; one that exists already is fine.
  Outcome CreateMailbox(const std::string& mailbox_dn);

  // Account status and quota for a message of `size` bytes to the
  // recipient `entry` with mailbox `mailbox_dn`. 2.0.0 when it may be
  // stored (ldapmda --query asks this with size 0).
  Outcome CheckPolicy(const Entry& entry, const std::string& mailbox_dn,
                      std::size_t size);

 private:
  // A policy refusal, unless an earlier attempt stored this very message
  // at one of `message_dns`: then it is delivered (a retry), whatever the
  // policy says now, and `stored_dn` tells where.
  Outcome RefuseUnlessStored(Outcome refusal,
                             const std::vector<std::string>& message_dns,
                             std::string* stored_dn);
  // Adds the folder entry, and the mailbox when that is missing too.
  DirResult AddFolder(const std::string& mailbox_dn,
                      const std::string& folder_dn, const std::string& id,
                      const std::string& name);
  // `stored` (a message in the directory) once the replicas confirm
  // `message_dn`; their 4.4.3 when they do not. Without confirm_host:
  // `stored` as it is.
  Outcome ConfirmStored(Outcome stored, const std::string& message_dn);
  // Adds the message entry; where the directory's schema refuses the
  // mdaReport attributes, adds it again without them.
  DirResult AddMessage(const std::string& message_dn,
                       const MessageEntry& entry);
  const Config& config_;
  Directory& store_;
  const Deadline& deadline_;
  ReplicaConfirmer* confirmer_;
  Resolver resolver_;
};

}  // namespace ldapmda

#endif  // LDAPMDA_DELIVERY_H_
