// bounce_text: bounces without a delivery-status part, read from their
// human-readable text -- the prose of qmail, Exim, Postfix and Sendmail
// without DSN, Gmail, Yahoo, Exchange and Office 365, Domino, OpenSMTPD
// and the like. A format is mostly data (TextFormat): how to know it,
// where its list of failed recipients starts and ends, what a recipient
// line looks like, and phrases that name a reason in the provider's own
// words; a few formats add a hook of their own. Recognition stays
// conservative: only a message that looks like a bounce (bounce_text.cpp,
// LooksLikeBounce) is read at all. Internal to ParseReport.
#ifndef LDAPMDA_CORE_BOUNCE_TEXT_H_
#define LDAPMDA_CORE_BOUNCE_TEXT_H_

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/report_syntax.h"
#include "ldapmda/report.h"

namespace ldapmda::bounce_text {

// The message as the formats see it.
struct BounceMessage {
  const report_syntax::Fields* headers = nullptr;  // top level
  std::string from;                                // From, lower case
  std::string subject;   // Subject as sent (RFC 2047 words undecoded)
  std::string envelope;  // the mbox "From " line's sender, lower case
  std::string text;      // the human-readable part, decoded
  // The returned original, when a part of its own (message/rfc822,
  // text/rfc822-headers); else what follows a format's copy marker.
  std::string original;
  bool has_original_part = false;
  // A multipart/report whose delivery-status part named nobody.
  bool empty_report = false;

  // A header's value, "" when absent.
  std::string_view Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
};

// Ways a line names a failed recipient (TextFormat::recipients).
enum RecipientForm : unsigned {
  kAngle = 1 << 0,     // "<a@b>:", "<a@b>: text", "<a@b>", "To: <a@b>:"
  kBare = 1 << 1,      // "a@b", "  a@b", "\"a@b\":", "* a@b", "a@b:"
  kLeading = 1 << 2,   // "a@b: text", "a@b text", "a@b [text]"
  kLabelled = 1 << 3,  // "Recipient address: a@b", "RCPT TO: <a@b>"...
  kSendmail = 1 << 4,  // "550 <a@b>... text", "<a@b>... text"
  kMailto = 1 << 5,    // "a@b<mailto:a@b>" (HTML turned into text)
  kTrailing = 1 << 6,  // "Unknown user: a@b" (text, colon, address)
  kEmbedded = 1 << 7,  // the first "<a@b>" anywhere on the line
  kPhrase = 1 << 8,    // "your message to a@b ...", "failed to deliver to"
};

// Which lines after a recipient line explain it.
enum class Continuation {
  kIndented,   // those indented deeper than the recipient line
  kParagraph,  // those up to the next blank line
  kAll,        // all up to the next recipient
  kBefore,     // like kAll, but an SMTP transcript (">>> RCPT TO",
               // "<<< 550 ...") belongs to the recipient line after it
};

// Whether the text above the list explains every recipient.
enum class Preamble {
  kNo,
  kYes,        // the lines between the start marker and the list
  kStartLine,  // also the line with the start marker
};

// A phrase (lower case) that names a reason in a format's own words.
struct HintPhrase {
  std::string_view phrase;
  std::string_view reason;
};

// One failed recipient while it is being read.
struct Block {
  std::string address;
  std::string diagnostic;  // raw, capped (AppendCapped)
  std::string remote_mta;
  bool remote_in_text = true;  // else no host named in the text is it
  std::string command;         // "RCPT"... when the format says
  std::string hint;            // a reason the format says
  bool delayed = false;
  std::size_t indent = 0;  // of the recipient line
};

struct TextFormat;

// What a format's hook may change after the lines are read: the
// recipients, and the report's per-message fields (the reporting MTA).
using Hook = void (*)(const BounceMessage&, std::vector<Block>&, Report&);

struct TextFormat {
  std::string_view name = {};  // mdaReportFormat
  // Whether the message is of this format, from its headers (and text).
  bool (*detect)(const BounceMessage&) = nullptr;
  // A line containing one of these (case ignored) starts the list; none
  // found: not this format. Empty: the list starts with the text.
  std::span<const std::string_view> starts = {};
  // A line starting with one of these (after white space, case ignored)
  // ends the text: the returned original follows.
  std::span<const std::string_view> stops = {};
  unsigned recipients = 0;  // RecipientForm bits; 0: X-Failed-Recipients
  Continuation continuation = Continuation::kAll;
  std::span<const HintPhrase> hints = {};
  // Phrases of a delay warning: every recipient is "delayed".
  std::span<const std::string_view> delay_markers = {};
  Hook hook = nullptr;
  // Recipient lines are indented this much (spaces; a tab counts 8).
  std::size_t min_indent = 0;
  std::size_t max_indent = 1000;
  // Used for a recipient whose own lines say nothing.
  Preamble preamble = Preamble::kNo;
  // The list is made of RFC 3464 fields (Final-Recipient, Status...) in
  // the text rather than recipient lines.
  bool dsn_fields = false;
};

// The formats in the order they are tried (bounce_formats.cpp).
std::span<const TextFormat> Formats();

// Whether the message looks like a bounce at all: a null or
// MAILER-DAEMON/postmaster sender; or a bounce subject and a second sign
// (a header bounces carry, a returned original). The text is read only
// when HasBounceSender or HasBounceSubject holds.
bool LooksLikeBounce(const BounceMessage& m);
// Its parts: a null, MAILER-DAEMON or postmaster sender (Return-Path, the
// mbox "From " line, From); a bounce subject; a header only bounces
// carry (X-Failed-Recipients, qmail's "invoked for bounce"...).
bool HasBounceSender(const BounceMessage& m);
bool HasBounceSubject(const BounceMessage& m);
bool HasBounceHeader(const BounceMessage& m);
// Whether `text` has a line that announces a returned original ("--- Below
// this line is a copy of the message.", "Original message follows"...).
bool HasCopyMarker(std::string_view text);

// Reads `m` as a non-standard bounce; false when it is none. Fills the
// recipients (with status, action, reason), the reporting MTA, the
// returned original's Message-ID and the format of `report`.
bool ParseBounceText(const BounceMessage& m, Report& report);

// Sets the reason, bounce type and SMTP command of each failed or delayed
// recipient of a report read from fields (RFC 3464, or fields in text).
// `human` is the report's human-readable text, read for the SMTP
// commands; `m`, when given, for a provider's own words (ProviderHint).
void ClassifyRecipients(Report& report, std::string_view human,
                        const BounceMessage* m);

// The reason a provider's own words name for `r` in a standard report
// (Office 365's status codes, Outlook.com's and Google's texts...), ""
// when none; `about` is the report's text about `r`.
std::string ProviderHint(const BounceMessage& m, const DsnRecipient& r,
                         std::string_view about);

// Helpers the formats share.
// The reason of the first phrase of `hints` in `text` (case ignored), "".
std::string_view HintIn(std::string_view text,
                        std::span<const HintPhrase> hints);
// `s` without leading and trailing white space, lower case.
std::string LowerTrim(std::string_view s);
bool ContainsNoCase(std::string_view text, std::string_view lower_needle);
// The address on `line` in one of the `forms`, with the rest of the line;
// nullopt when there is none.
struct RecipientLine {
  std::string address;
  std::string rest;
};
std::optional<RecipientLine> RecipientOn(std::string_view line, unsigned forms);
// The addresses of a header value ("a@b, C <c@d>"), at most `max`.
std::vector<std::string> AddressesIn(std::string_view value, std::size_t max);
// The host name in "host NAME[1.2.3.4]", "host NAME [..]", "host: NAME",
// "Remote system: dns;NAME"...; "" when none.
std::string RemoteHostIn(std::string_view text);

}  // namespace ldapmda::bounce_text

#endif  // LDAPMDA_CORE_BOUNCE_TEXT_H_
