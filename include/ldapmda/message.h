// message: what ldapmda learns from the raw message with GMime. Parsing
// never fails a delivery: whatever cannot be parsed or sanitised into the
// attribute's LDAP syntax is simply left out; the raw bytes are stored.
#ifndef LDAPMDA_MESSAGE_H_
#define LDAPMDA_MESSAGE_H_

#include <cstddef>
#include <ctime>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "ldapmda/report.h"

namespace ldapmda {

// Header values, each valid non-empty one-line UTF-8 (Directory String),
// or absent.
struct MessageInfo {
  std::optional<std::string> message_id;  // without < >
  std::optional<std::string> subject;
  std::optional<std::string> from;
  std::optional<std::string> to;
  std::optional<std::string> cc;
  std::optional<std::string> date;  // generalizedTime, UTC: YYYYMMDDHHMMSSZ
  std::size_t size = 0;
  // What the message reports about other mail (bounces, complaints,
  // automatic replies): kind kNone for ordinary mail.
  Report report;
};

// Longest header value kept, in bytes (cut at a UTF-8 boundary).
inline constexpr std::size_t kMaxHeaderValue = 1024;

// Parses the headers of `raw` (any line endings, an mbox "From " first
// line tolerated), and with ParseReport the body of what may be a report.
// Never throws on bad input.
MessageInfo ParseMessage(std::string_view raw);

// Makes `text` a Directory String value: invalid UTF-8 repaired, control
// characters turned into spaces, runs of white space collapsed, trimmed,
// cut to `max_bytes`. nullopt when nothing is left.
std::optional<std::string> SanitizeText(std::string_view text,
                                        std::size_t max_bytes);

// `text` (UTF-8) in a form where values that LDAP's caseIgnoreMatch
// takes for one are equal: NFKC-normalised and Unicode case-folded. It
// may merge a little more than slapd does, never less that we know of.
std::string FoldForMatching(std::string_view text);

// `t` as generalizedTime in UTC, "YYYYMMDDHHMMSSZ"; nullopt outside the
// years 1 to 9999.
std::optional<std::string> GeneralizedTime(std::time_t t);

// Lower-case hex SHA-256 of the concatenation of `parts`.
std::string Sha256Hex(std::initializer_list<std::string_view> parts);

// Routes GLib/GMime diagnostics to ldapmda's log; call once at start.
void InitMessageLibrary();

}  // namespace ldapmda

#endif  // LDAPMDA_MESSAGE_H_
