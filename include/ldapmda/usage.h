// usage: the usage counters of a mailbox (mdaMailboxSize,
// mdaMessageCount on the mdaMailbox entry) -- reading them for the quota
// check, counting a stored or removed message, and recounting them from
// the messages themselves when they drifted.
#ifndef LDAPMDA_USAGE_H_
#define LDAPMDA_USAGE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "ldapmda/config.h"
#include "ldapmda/deadline.h"
#include "ldapmda/directory.h"
#include "ldapmda/status.h"

namespace ldapmda {

// The mailbox usage counters, as stored on the mailbox entry.
struct Usage {
  long long bytes = 0;
  long long messages = 0;
};

// Whether a message of `size` bytes fits: usage + size <= limit. A message
// that would cross the limit is refused whole; one that lands exactly on it
// is accepted.
bool FitsQuota(const Usage& usage, std::size_t size, long long limit);

// A non-negative decimal count ("123"); nullopt for anything else.
std::optional<long long> ParseCount(std::string_view text);

// Adds `messages` messages of `bytes` bytes in all (negative to take
// them away) to the counters of `mailbox_dn`, with RFC 4525 increments.
// Failures are logged, never reported: the messages are stored or gone
// all the same, and --recount repairs the counters.
void CountUsage(Directory& directory, const std::string& mailbox_dn,
                long long bytes, long long messages);

// Reads the usage counters of `mailbox_dn`: zero when the mailbox does not
// exist yet. Counters missing on an existing mailbox read as zero too.
Outcome ReadUsage(Directory& directory, const std::string& mailbox_dn,
                  const Deadline& deadline, Usage* usage);

// Recomputes the usage counters of `mailbox_dn` from the messages stored
// in it (paged search) and writes them; `after` gets the new values.
Outcome RecountMailbox(Directory& directory, const std::string& mailbox_dn,
                       const Deadline& deadline, Usage* after);

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

#endif  // LDAPMDA_USAGE_H_
