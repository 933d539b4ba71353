// message: what ldapmda learns from the raw message with GMime. Parsing
// never fails a delivery: whatever cannot be parsed or sanitised into the
// attribute's LDAP syntax is simply left out; the raw bytes are stored.
#ifndef LDAPMDA_MESSAGE_H_
#define LDAPMDA_MESSAGE_H_

#include <cstddef>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ldapmda/report.h"
#include "ldapmda/text.h"

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

// Parses the headers of `raw` (any line endings, an mbox "From " first
// line tolerated), and with ParseReport the body of what may be a report.
// Never throws on bad input.
MessageInfo ParseMessage(std::string_view raw);

// The envelope sender in a Return-Path header of `raw` (what Postfix's
// pipe(8) flag R and ldapmda's LMTP mode write); "" when there is none.
std::string ReturnPathSender(std::string_view raw);

// The values of the Delivered-To headers in the header section of `raw`
// (up to the first empty or non-header line), unfolded, trimmed and in
// ASCII lower case: the addresses this message was already delivered to
// on its way, which pipe(8)'s flag D compares with the recipient.
std::vector<std::string> DeliveredToAddresses(std::string_view raw);

// Routes GLib/GMime diagnostics to ldapmda's log; call once at start.
void InitMessageLibrary();

}  // namespace ldapmda

#endif  // LDAPMDA_MESSAGE_H_
