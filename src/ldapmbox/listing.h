// listing: how ldapmbox shows messages and totals: sorting, the
// tab-separated text lines, JSON (with correct string escaping of any
// UTF-8 and control characters) and the date forms.
#ifndef LDAPMDA_LISTING_H_
#define LDAPMDA_LISTING_H_

#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ldapmda/mailbox_store.h"

namespace ldapmda {

enum class SortKey { kDate, kDelivered, kSize, kFrom, kSubject };

// "date", "delivered", "size", "from", "subject"; nullopt otherwise.
std::optional<SortKey> ParseSortKey(std::string_view name);

// Sorts by `key` (text keys ignore ASCII case), then by date and mdaKey
// so that the order is always the same; `reverse` turns it around.
void SortMessages(std::vector<StoredMessage>* messages, SortKey key,
                  bool reverse);

// A generalizedTime as "YYYY-MM-DD HH:MM" (UTC); "-" when malformed.
std::string ShortDate(std::string_view generalized_time);
// A generalizedTime as ISO 8601, "YYYY-MM-DDTHH:MM:SSZ"; "" when malformed.
std::string IsoDate(std::string_view generalized_time);

// "YYYY-MM-DD" as midnight UTC; nullopt unless a real calendar day.
std::optional<std::time_t> ParseDay(std::string_view day);

// One line: date, from, subject, size, folder, key, tab-separated (the
// stored values never hold tabs or line ends), newline-terminated.
std::string ListLine(const StoredMessage& m);

// `text` as a JSON string literal: '"', '\\' and control characters
// escaped, UTF-8 kept, invalid UTF-8 bytes replaced by U+FFFD.
std::string JsonString(std::string_view text);

// A JSON array of objects: date, delivered (ISO 8601 or null), from,
// subject, size, folder, key, dn, messageId, envelopeSender.
std::string ListJson(const std::vector<StoredMessage>& messages);

// Messages and bytes, in all and per folder.
struct Tally {
  long long messages = 0;
  long long bytes = 0;
};
struct Totals {
  Tally all;
  std::map<std::string, Tally> folders;
};
Totals Count(const std::vector<StoredMessage>& messages);

// "all: N messages, B bytes" and one such line per folder, or JSON.
std::string TotalsText(const Totals& totals);
std::string TotalsJson(const Totals& totals);

// A table of text cells: ldapmbox bounces and complaints.
struct Rows {
  std::vector<std::string> columns;  // JSON keys, and the header line
  std::vector<std::vector<std::string>> cells;  // one per row, as columns
};

enum class RowFormat {
  kTable,  // a header line and space-aligned columns, "-" for empty
  kCsv,    // RFC 4180: a header line, CRLF, fields quoted when needed
  kJson,   // an array of objects, one key per column
};

std::string RenderRows(const Rows& rows, RowFormat format);

// One mdaDsnResult value split up: {action, status, recipient}; nullopt
// unless it has the form "action;status;recipient".
struct DsnResult {
  std::string action;
  std::string status;
  std::string recipient;
};
std::optional<DsnResult> ParseDsnResult(std::string_view value);

// One mdaDsnReason value split up: {reason, type, recipient}; nullopt
// unless it has the form "reason;type;recipient".
struct DsnReason {
  std::string reason;
  std::string type;  // hard or soft
  std::string recipient;
};
std::optional<DsnReason> ParseDsnReason(std::string_view value);
// A report's mdaDsnReason values by lower-case recipient.
std::map<std::string, DsnReason> ReasonsByRecipient(const StoredReport& r);

// One row per recipient of each delivery status report: delivered,
// action, status, recipient, diagnostic, reportingMta, messageId, key,
// reason, type; sorted by delivery time, then key and recipient. The
// diagnostic is the report's recipient_diagnostics entry, or, for a
// report about one recipient, its one mdaDsnDiagnostic. reason and type
// (hard, soft) come from mdaDsnReason; they are the last columns so that
// scripts that read the others by position keep working.
Rows BounceRows(const std::vector<StoredReport>& reports);

// One row per feedback report: delivered, type, recipients, sourceIp,
// reportedDomain, mailFrom, arrival, userAgent, messageId, key; several
// values of one field separated by spaces.
Rows ComplaintRows(const std::vector<StoredReport>& reports);

}  // namespace ldapmda

#endif  // LDAPMDA_LISTING_H_
