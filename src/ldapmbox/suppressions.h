// suppressions: the list of addresses a sender should stop mailing, from
// the bounces and complaints ldapmda stored (ldapmbox suppressions).
#ifndef LDAPMDA_SUPPRESSIONS_H_
#define LDAPMDA_SUPPRESSIONS_H_

#include <string_view>
#include <vector>

#include "ldapmbox/listing.h"
#include "ldapmda/mailbox_store.h"

namespace ldapmda {

// Whether a feedback report of `feedback_type` is a complaint about the
// mail (abuse, fraud, virus, other...), not "not-spam" nor a DMARC
// "auth-failure" report.
bool IsComplaint(std::string_view feedback_type);

// The addresses to stop sending to, from the bounces and complaints of
// one or more mailboxes: every address that bounced hard (a failed
// recipient whose mdaDsnReason type is hard), that complained (Original-
// Rcpt-To, else the returned original's To), or whose soft bounces (a
// failed recipient, type soft) are two or more, the first and the last
// `soft_days` days apart or more (0: any two). Delays do not count. One row per
// address, sorted: address, cause (complaint, hard or soft, the first that
// applies), reason and status of its last bounce or complaint ("feedback" for a
// complaint), count (its bounces and complaints), first and last (ISO 8601).
Rows SuppressionRows(const std::vector<StoredReport>& bounces,
                     const std::vector<StoredReport>& complaints,
                     int soft_days);

}  // namespace ldapmda

#endif  // LDAPMDA_SUPPRESSIONS_H_
