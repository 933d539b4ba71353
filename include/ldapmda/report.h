// report: what a stored message reports about other mail. Delivery status
// notifications (RFC 3464 multipart/report; report-type=delivery-status),
// abuse feedback reports (RFC 5965 ARF, message/feedback-report),
// automatic replies (RFC 3834 Auto-Submitted, vacation messages) and the
// widespread non-standard bounce bodies (qmail, Exim) become attributes of
// the message entry, so that a plain LDAP search answers "which addresses
// hard-bounced since Monday". Like ParseMessage, this never fails a
// delivery: whatever cannot be recognised is left out, the raw bytes are
// stored all the same.
#ifndef LDAPMDA_REPORT_H_
#define LDAPMDA_REPORT_H_

#include <string>
#include <string_view>
#include <vector>

namespace ldapmda {

// One per-recipient block of a DSN (RFC 3464 2.3), or one recipient of a
// non-standard bounce. Every value is a sanitised one-line Directory
// String (SanitizeText), "" when absent. Addresses are without the
// address-type prefix ("rfc822;") and without < >.
struct DsnRecipient {
  std::string final_recipient;     // Final-Recipient
  std::string original_recipient;  // Original-Recipient
  std::string action;      // Action, lower case: failed, delayed, delivered,
                           // relayed, expanded
  std::string status;      // Status, "5.1.1" (class.subject.detail only)
  std::string diagnostic;  // Diagnostic-Code, without the "smtp;" type
  std::string remote_mta;  // Remote-MTA, without the "dns;" type

  // What the report says beyond the fields. For a failed or delayed
  // recipient: why, in Sisimai's names (userunknown, mailboxfull,
  // blocked..., see core/bounce_reason.h), and whether the bounce is
  // "hard" (the address will not work) or "soft"; "" otherwise.
  std::string reason;
  std::string bounce_type;
  // The Diagnostic-Code type, lower case ("smtp", "x-unix"...), and the
  // SMTP command the remote server refused ("RCPT", "DATA"...), when the
  // report says: inputs of the reason.
  std::string diagnostic_type;
  std::string smtp_command;
};

enum class ReportKind {
  kNone,            // an ordinary message
  kDeliveryStatus,  // RFC 3464, or a recognised non-standard bounce
  kFeedback,        // RFC 5965 ARF
};

struct Report {
  ReportKind kind = ReportKind::kNone;
  // Where the data came from: "rfc3464", "arf", or for non-standard
  // bounces the format read ("gmail", "exchange", "qmail"..., see
  // core/bounce_formats.h); "" for kNone.
  std::string format;

  // Delivery status: the per-message block and the recipients.
  std::string reporting_mta;         // Reporting-MTA, without "dns;"
  std::string original_envelope_id;  // Original-Envelope-Id
  std::vector<DsnRecipient> recipients;
  // The Message-ID (without < >) of the returned original, from its
  // message/rfc822 or text/rfc822-headers part (or the quoted headers of
  // a non-standard bounce); "" when not included.
  std::string original_message_id;

  // Abuse feedback (RFC 5965 3.1, 3.2).
  std::string feedback_type;       // Feedback-Type, lower case: abuse, fraud...
  std::string user_agent;          // User-Agent
  std::string original_mail_from;  // Original-Mail-From, without < >
  std::vector<std::string> original_rcpt_to;  // Original-Rcpt-To, each
  std::string arrival_date;  // Arrival-Date as generalizedTime, "" if bad
  std::vector<std::string> source_ip;        // Source-IP
  std::vector<std::string> reported_domain;  // Reported-Domain
  // The To addresses of the returned original: who complained when
  // Original-Rcpt-To is left out (many feedback loops redact it). Not
  // stored; at most 100.
  std::vector<std::string> original_to;

  // RFC 3834: Auto-Submitted other than "no" (its value, lower case, e.g.
  // "auto-replied"), or "auto-replied" for the usual vacation markers
  // (X-Autoreply, X-Autorespond, Precedence: auto_reply, an "Auto:" or
  // "Out of Office" subject with Auto-Submitted missing). "" when none.
  // Set for any kind: a DSN is auto-generated too.
  std::string auto_submitted;
};

// Reads `raw` (any line endings). A message that is not multipart costs a
// header parse, unless its headers say it may be a report (message/
// feedback-report, message/delivery-status) or a bounce (a null or
// MAILER-DAEMON/postmaster sender with a known non-standard body). A
// multipart one is also split into its parts (one pass over at most 4 MB),
// since a report may be forwarded inside multipart/mixed; only the report
// parts are decoded. Never throws on bad input; a malformed report yields
// what could be read.
Report ParseReport(std::string_view raw);

}  // namespace ldapmda

#endif  // LDAPMDA_REPORT_H_
