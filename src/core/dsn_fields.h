// dsn_fields: the fields of an RFC 3464 delivery-status body (2.2
// per-message, 2.3 per-recipient) read into a Report -- from a
// message/delivery-status part, or from a bounce that writes the same
// fields into its text. Internal to ParseReport.
#ifndef LDAPMDA_CORE_DSN_FIELDS_H_
#define LDAPMDA_CORE_DSN_FIELDS_H_

#include <string_view>

#include "ldapmda/report.h"

namespace ldapmda {

// Adds the recipient blocks of `text` to `report` (at most 1000 in all)
// and takes Reporting-MTA and Original-Envelope-Id from the first block
// that has them. Junk lines are skipped; a block without a recipient
// address is left out.
void ParseDeliveryStatus(std::string_view text, Report& report);

}  // namespace ldapmda

#endif  // LDAPMDA_CORE_DSN_FIELDS_H_
