// bounce_reason: why a recipient bounced, in the words bulk senders use
// (Sisimai's reason names: userunknown, mailboxfull, blocked...), and
// whether the bounce is hard or soft. Table-driven: the enhanced status
// code gives a first answer (RFC 3463 classes and details), lists of
// phrases that mail servers use refine or override it, in a fixed order
// of precedence, and the SMTP command that failed decides between
// neighbours (an unknown user refused at RCPT is "userunknown", after
// DATA "filtered"). The names and the order follow Sisimai 4.25 so that
// results can be compared with it (tests/core/sisimai_test.cpp); the tables are
// this project's own. Internal to ParseReport, and pure.
#ifndef LDAPMDA_CORE_BOUNCE_REASON_H_
#define LDAPMDA_CORE_BOUNCE_REASON_H_

#include <string>
#include <string_view>

namespace ldapmda {

// What is known about one failed or delayed recipient.
struct BounceFacts {
  // The enhanced status code the report states for this recipient, ""
  // when it states none (a class made up from the bounce kind, such as
  // 5.0.0 for a non-standard bounce without a code, is no statement).
  std::string_view status;
  // The remote server's words (Diagnostic-Code without its type, or the
  // text of a non-standard bounce).
  std::string_view diagnostic;
  // The Diagnostic-Code type, lower case ("smtp", "x-unix"...); "" for
  // none, which counts as "smtp".
  std::string_view diagnostic_type;
  std::string_view action;   // failed, delayed... ("" counts as failed)
  std::string_view command;  // SmtpCommandIn(), or "" when unknown
  // A reason the bounce format itself states (a provider's own error
  // code, say), or "". A "weak" one (userunknown, hostunknown,
  // systemerror, securityerror, networkerror, undefined) only stands when
  // the text says nothing more specific.
  std::string_view hint;
};

// The reason for `facts`: one of blocked, contenterror, exceedlimit,
// expired, filtered, hasmoved, hostunknown, mailboxfull, mailererror,
// mesgtoobig, networkerror, norelaying, notaccept, onhold (a diagnostic
// that says nothing recognisable), policyviolation, rejected (the sender
// was refused), securityerror, spamdetected, suspend, syntaxerror,
// systemerror, systemfull, toomanyconn, undefined (nothing to go by),
// userunknown, virusdetected; "delivered" for a 2.x.x status.
std::string BounceReason(const BounceFacts& facts);

// Whether a bounce for `reason` is hard (the address will not work:
// userunknown, hostunknown, hasmoved, and notaccept unless `status` is of
// class 4), as Sisimai classifies them. Every other reason is soft.
bool IsHardBounce(std::string_view reason, std::string_view status);

// The SMTP command a diagnostic says the remote server refused: "CONN",
// "EHLO", "MAIL", "RCPT" or "DATA" ("in reply to RCPT TO command", "SMTP
// error from remote mail server after end of data", ">>> DATA", qmail's
// "does not like recipient"...); "" when it does not say.
std::string SmtpCommandIn(std::string_view text);

// The enhanced status code in `text` that names a specific condition
// (class 4 or 5, subject and detail 1 to 9: "550 5.1.1 ..."), as a
// report's Status field is read beside its Diagnostic-Code; "" if none.
std::string SpecificStatusIn(std::string_view text);

// The three-digit SMTP reply code in `text` (4xx or 5xx, not part of an
// IP address or longer number: "550 ...", "said: 452-..."); "" if none.
std::string ReplyCodeIn(std::string_view text);

}  // namespace ldapmda

#endif  // LDAPMDA_CORE_BOUNCE_REASON_H_
