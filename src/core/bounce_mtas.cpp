// bounce_mtas: the notices of mail servers that write no delivery-status
// part, or did not always: qmail and its clones, Exim (and the services
// that run it with their own words: Mail.ru, GMX, 1&1), Postfix,
// Sendmail, OpenSMTPD, Courier, Oracle Messaging Server, Ipswitch IMail,
// Apache James and unnamed ones. Each is described from its source or
// documentation (qmail-send.c, Exim's deliver.c, Postfix's bounce(5)
// templates, OpenSMTPD's bounce.c, Sendmail's savemail.c, Courier's
// courierdsn(8)).
#include <string>
#include <string_view>
#include <vector>

#include "core/bounce_formats.h"
#include "core/bounce_reason.h"

namespace ldapmda::bounce_text {
namespace {

using report_syntax::StartsWithNoCase;
using report_syntax::Trim;

// ---------------------------------------------------------------------------
// OpenSMTPD (smtpd/bounce.c).

constexpr std::string_view kOpenSmtpdStarts[] = {
    "this is the mailer-daemon, please do not reply to this",
};
constexpr std::string_view kOpenSmtpdDelay[] = {
    "a message is delayed for more than",
};
constexpr HintPhrase kOpenSmtpdHints[] = {
    {"envelope expired", "expired"},
    {"invalid domain name", "hostunknown"},
    {"domain does not exist", "hostunknown"},
    {"destination seem to reject all mails", "notaccept"},
    {"address family mismatch on destination mxs", "networkerror"},
    {"all routes to destination blocked", "networkerror"},
    {"bad dns lookup error code", "networkerror"},
    {"could not retrieve source address", "networkerror"},
    {"loop detected", "networkerror"},
    {"network error on destination mxs", "networkerror"},
    {"no mx found for domain", "networkerror"},
    {"no mx found for destination", "networkerror"},
    {"no valid route to remote mx", "networkerror"},
    {"no valid route to destination", "networkerror"},
    {"temporary failure in mx lookup", "networkerror"},
    {"could not retrieve credentials", "securityerror"},
};

bool IsOpenSmtpd(const BounceMessage& m) {
  return SubjectHas(m, "delivery status notification") ||
         ReceivedHas(m, "(opensmtpd)");
}

// ---------------------------------------------------------------------------
// Exim (deliver.c) and the services that run it with their own texts:
// Mail.ru, GMX and 1&1.

constexpr std::string_view kEximStarts[] = {
    "failed:",
    "not yet been delivered",
    "router encountered the following error",
    "could not be delivered to all of its recipients",
};
constexpr std::string_view kEximDelay[] = {
    "has not yet been delivered to one or more",
    "message delayed",
    "warning: message",
};
// Exim's own texts (deliver.c, transports, routers), then the texts of a
// delay: the first match is the format's reason.
constexpr HintPhrase kEximHints[] = {
    {"user not found", "userunknown"},
    {"all host address lookups failed permanently", "hostunknown"},
    {"all relevant mx records point to non-existent hosts", "hostunknown"},
    {"unrouteable address", "hostunknown"},
    {"mailbox is full", "mailboxfull"},
    {"error: quota exceed", "mailboxfull"},
    {"an mx or srv record indicated no smtp service", "notaccept"},
    {"no host found for existing smtp connection", "notaccept"},
    {"angle-brackets nested too deep", "syntaxerror"},
    {"expected word or \"<\"", "syntaxerror"},
    {"domain missing in source-routed address", "syntaxerror"},
    {"malformed address:", "syntaxerror"},
    {"delivery to file forbidden", "systemerror"},
    {"delivery to pipe forbidden", "systemerror"},
    {"local delivery failed", "systemerror"},
    {"lmtp error after ", "systemerror"},
    {"too many \"received\" headers", "contenterror"},
    {"retry timeout exceeded", "expired"},
    {"no action is required on your part", "expired"},
    {"retry time not reached for any host after a long failure period",
     "expired"},
    {"all hosts have been failing for a long time", "expired"},
    {"delay reason: ", "expired"},
    {"has been frozen", "expired"},
    {"was frozen on arrival by ", "expired"},
};

bool IsEximLike(const BounceMessage& m) {
  for (std::string_view s :
       {"mail delivery failed", "warning: message",
        "delivery status notification", "mail failure", "message frozen",
        "error(s) in forwarding or filtering"}) {
    if (SubjectHas(m, s)) return true;
  }
  return FromHas(m, "mail delivery system") ||
         m.HasHeader("x-failed-recipients");
}

bool IsMailRu(const BounceMessage& m) {
  return FromHas(m, "mailer-daemon@") &&
         (FromHas(m, "mail.ru") || HeaderHas(m, "message-id", ".mail.ru>") ||
          HeaderHas(m, "message-id", ".smailru.net>")) &&
         IsEximLike(m);
}

bool IsExim(const BounceMessage& m) { return IsEximLike(m); }

void EximHook(const BounceMessage&, std::vector<Block>& blocks, Report&) {
  for (Block& b : blocks) {
    // "an undisclosed address\n    (generated from a@b)"
    const std::size_t generated = b.diagnostic.find("(generated from ");
    if (!report_syntax::IsMailAddress(b.address) &&
        generated != std::string::npos) {
      std::string_view rest =
          std::string_view(b.diagnostic).substr(generated + 16);
      const std::size_t close = rest.find(')');
      b.address = std::string(rest.substr(0, rest.find_first_of(") \t")));
      b.diagnostic.erase(generated, close == std::string_view::npos
                                        ? std::string::npos
                                        : 16 + close + 1);
    }
    HintFromCommand(b, "onhold");
  }
}

constexpr std::string_view kGmxStarts[] = {
    "created automatically by mail delivery software",
};
constexpr HintPhrase kGmxHints[] = {
    {"delivery retry timeout exceeded", "expired"},
    {"mail size limit exceeded", "mesgtoobig"},
};

bool IsGmx(const BounceMessage& m) {
  return m.HasHeader("x-gmx-antispam") ||
         TextHas(m, "--- the header of the original message is following");
}

// ---------------------------------------------------------------------------
// Courier (module.dsn), Oracle Messaging Server, and smaller MTAs and
// filters.

constexpr std::string_view kCourierStarts[] = {
    "undeliverable mail",
    "delays in delivering your message",
};
constexpr std::string_view kCourierDelay[] = {
    "delays in delivering your message",
    "warning: delayed mail",
};
constexpr HintPhrase kCourierHints[] = {
    {"no such domain.", "hostunknown"},
    {"this domain's dns violates rfc 1035.", "systemerror"},
    {"dns lookup failed.", "networkerror"},
};

void CourierHook(const BounceMessage& m, std::vector<Block>&, Report& report) {
  ReportingHostAfter(m, "delivery status notification from ", report);
}

bool IsCourier(const BounceMessage& m) {
  return FromHas(m, "courier mail server at ") ||
         SubjectHas(m, "notice: mail delivery status.") ||
         SubjectHas(m, "warning: delayed mail.") ||
         HeaderHas(m, "message-id", "<courier.");
}

constexpr std::string_view kMessagingServerStarts[] = {
    "this report relates to a message you sent",
    "your message cannot be delivered to the following recipients",
};
constexpr HintPhrase kMessagingServerHints[] = {
    {"illegal host/domain name found", "hostunknown"},
};

bool IsMessagingServer(const BounceMessage& m) {
  return HeaderHas(m, "content-type", "boundary_(id_") ||
         SubjectStarts(m, "delivery notification: ");
}

void MessagingServerHook(const BounceMessage&, std::vector<Block>& blocks,
                         Report&) {
  // "Original address:" names the address the sender used.
  for (Block& b : blocks) {
    const std::string lower = LowerTrim(b.diagnostic);
    const std::size_t at = lower.find("original address:");
    if (at == std::string::npos) continue;
    std::string_view rest =
        Trim(std::string_view(b.diagnostic).substr(at + 17));
    rest = rest.substr(0, rest.find_first_of(" \t"));
    if (report_syntax::IsMailAddress(rest)) b.address = std::string(rest);
  }
}

constexpr HintPhrase kIMailHints[] = {
    {"unknown host", "hostunknown"},
    {"unknown user", "userunknown"},
    {"invalid final delivery userid", "userunknown"},
    {"user mailbox exceeds allowed size", "mailboxfull"},
    {"requested action not taken: virus detected", "virusdetected"},
};

bool IsIMail(const BounceMessage& m) {
  return SubjectStarts(m, "undeliverable mail") ||
         StartsWithNoCase(m.Header("x-mailer"), "<smtp32 v");
}

// Unnamed MTAs (Sisimai calls them X1 to X6) and Apache James.
bool IsX1(const BounceMessage& m) {
  return SubjectStarts(m, "returned mail: ") &&
         StartsWithNoCase(Trim(m.Header("from")), "\"mail deliver system\"");
}
constexpr std::string_view kX2Starts[] = {
    "unable to deliver message to the following address",
};
bool IsX2(const BounceMessage& m) {
  return FromHas(m, "mailer-daemon@") &&
         (SubjectStarts(m, "delivery failure") ||
          SubjectStarts(m, "failure delivery") ||
          SubjectStarts(m, "failed delivery"));
}
constexpr std::string_view kX3Starts[] = {
    "this is an automatically generated delivery status notification",
};
bool IsX3(const BounceMessage& m) {
  return StartsWithNoCase(m.from, "mail delivery system") &&
         SubjectStarts(m, "delivery status notification");
}
constexpr std::string_view kX6Starts[] = {"error(s):"};
bool IsX6(const BounceMessage& m) {
  return SubjectStarts(m, "there was an error sending your mail");
}
bool IsJames(const BounceMessage& m) {
  return Trim(m.subject) == "[BOUNCE]" ||
         HeaderHas(m, "message-id", ".javamail.") ||
         ReceivedHas(m, "james smtp server");
}
constexpr std::string_view kJamesStarts[] = {"error message below:"};

// ---------------------------------------------------------------------------
// qmail (qmail-send.c, qmail-remote.c) and its many clones.

constexpr std::string_view kQmailStarts[] = {
    "qmail-send program",
    "hi. this is the qmail",
    "i'm afraid i wasn't able to deliver your message",
    "unable to deliver your message to the following address",
    "your mail message to the following address",
    "your message to the following addresses",
    "unfortunately, your mail was not delivered to the following address",
    "this is the machine generated message from mail service",
    "this is the mail delivery agent at",
    "su mensaje no pudo ser entregado",
    "we're sorry.",
    "is not a valid user",
};
constexpr std::string_view kQmailStops[] = {
    "--- enclosed are the original headers",
    "--- below this line is the original message",
};
constexpr HintPhrase kQmailHints[] = {
    {"no mailbox here by that name", "userunknown"},
    {"does not like recipient.", "userunknown"},
    {"disk quota exceeded", "mailboxfull"},
    {"message size exceeds fixed maximum message size:", "mesgtoobig"},
    {"sorry, i couldn't find any host ", "hostunknown"},
    {"requested action not taken: mailbox unavailable (not enough free space)",
     "systemfull"},
    {"bad interpreter: no such file or directory", "systemerror"},
    {"system error", "systemerror"},
    {"unable to", "systemerror"},
    {"sorry, i wasn't able to establish an smtp connection", "networkerror"},
    {"sorry, i couldn't find a mail exchanger or ip address", "networkerror"},
    {"although i'm listed as a best-preference mx or a for that host",
     "networkerror"},
    // qmail-ldap
    {"mailaddress is administratively disabled", "suspend"},
    {"mailaddress is administrativly disabled", "suspend"},
    {"the message exeeded the maximum size the user accepts", "exceedlimit"},
    {"automatic homedir creator crashed", "systemerror"},
    {"illegal value in ldap attribute", "systemerror"},
    {"ldap attribute is not given but mandatory", "systemerror"},
    {"timeout while performing search on ldap server", "systemerror"},
    {"too many results returned but needs to be unique", "systemerror"},
    {"temporary failure in ldap lookup", "systemerror"},
    {"unable to contact ldap server", "systemerror"},
    {"this message has been in the queue too long.", "expired"},
};

bool IsQmail(const BounceMessage& m) {
  return SubjectStarts(m, "failure notice") ||
         SubjectStarts(m, "permanent delivery failure") ||
         ReceivedHas(m, "invoked for bounce") ||
         ReceivedHas(m, "invoked from network") ||
         TextHas(m, "qmail-send program");
}

void QmailHook(const BounceMessage& m, std::vector<Block>& blocks,
               Report& report) {
  ReportingHostAfter(m, "qmail-send program at ", report);
  for (Block& b : blocks) {
    // A recipient refused, then the queue lifetime passed: the text does
    // not say why it was refused.
    const std::string lower = LowerTrim(b.diagnostic);
    if (lower.find("does not like recipient.") != std::string::npos &&
        lower.ends_with("this message has been in the queue too long.")) {
      b.hint = "onhold";
    }
    HintFromCommand(b, "rejected");
  }
}

// ---------------------------------------------------------------------------
// Postfix without a delivery-status part (bounce(5) templates).

constexpr std::string_view kPostfixStarts[] = {
    "the mail system",
    "the postfix program",
    "postfix program at host",
};
constexpr std::string_view kPostfixDelay[] = {
    "delayed mail (still being retried)",
    "this is a warning only",
};

bool IsPostfix(const BounceMessage& m) {
  return SubjectHas(m, "undelivered mail returned to sender") ||
         SubjectHas(m, "delayed mail (still being retried)") ||
         TextHas(m, "this is the mail system at host") ||
         TextHas(m, "postfix program");
}

void PostfixHook(const BounceMessage& m, std::vector<Block>&, Report& report) {
  ReportingHostAfter(m, "at host ", report);
}

// ---------------------------------------------------------------------------
// Sendmail without a delivery-status part (V5 and 8.x before DSN).

constexpr std::string_view kSendmailStarts[] = {
    "----- transcript of session follows -----",
    "----- the following addresses had permanent fatal errors -----",
    "----- the following addresses had transient non-fatal errors -----",
};
constexpr std::string_view kSendmailStops[] = {
    "----- unsent message follows",
    "----- no message was collected",
    "----- original message follows",
};
constexpr std::string_view kSendmailDelay[] = {
    "warning: could not send message",
    "transient non-fatal errors",
};

bool IsSendmail(const BounceMessage& m) {
  return SubjectStarts(m, "returned mail") ||
         SubjectStarts(m, "warning: could not send message") ||
         SubjectHas(m, "see transcript for details");
}

bool IsEximReport(const BounceMessage& m) {
  return IsEximLike(m) &&
         TextHas(m, "this message was created automatically by mail delivery");
}

constexpr Words kMtas[] = {
    {IsCourier, kCourierHints},
    {IsMessagingServer, kMessagingServerHints},
    {IsEximReport, kEximHints},
    {IsOpenSmtpd, kOpenSmtpdHints},
};

// Exim's notice, under another name for a service that runs Exim.
constexpr TextFormat Exim(std::string_view name,
                          bool (*detect)(const BounceMessage&)) {
  return {.name = name,
          .detect = detect,
          .starts = kEximStarts,
          .recipients = kBare | kLeading | kAngle,
          .continuation = Continuation::kIndented,
          .hints = kEximHints,
          .delay_markers = kEximDelay,
          .hook = EximHook,
          .min_indent = 1,
          .max_indent = 3};
}

const TextFormat kFormats[] = {
    {.name = "opensmtpd",
     .detect = IsOpenSmtpd,
     .starts = kOpenSmtpdStarts,
     .recipients = kLeading,
     .continuation = Continuation::kParagraph,
     .hints = kOpenSmtpdHints,
     .delay_markers = kOpenSmtpdDelay},
    Exim("mailru", IsMailRu),
    {.name = "gmx",
     .detect = IsGmx,
     .starts = kGmxStarts,
     .recipients = kBare | kAngle,
     .continuation = Continuation::kAll,
     .hints = kGmxHints,
     .hook = EximHook},
    {.name = "courier",
     .detect = IsCourier,
     .starts = kCourierStarts,
     .recipients = kAngle,
     .continuation = Continuation::kParagraph,
     .hints = kCourierHints,
     .delay_markers = kCourierDelay,
     .hook = CourierHook},
    {.name = "messagingserver",
     .detect = IsMessagingServer,
     .starts = kMessagingServerStarts,
     .recipients = kLabelled,
     .continuation = Continuation::kAll,
     .hints = kMessagingServerHints,
     .hook = MessagingServerHook},
    {.name = "imail",
     .detect = IsIMail,
     .recipients = kTrailing | kLabelled,
     .continuation = Continuation::kAll,
     .hints = kIMailHints},
    {.name = "x1",
     .detect = IsX1,
     .recipients = kLeading,
     .continuation = Continuation::kParagraph},
    {.name = "x2",
     .detect = IsX2,
     .starts = kX2Starts,
     .recipients = kAngle,
     .continuation = Continuation::kAll},
    {.name = "x3",
     .detect = IsX3,
     .starts = kX3Starts,
     .recipients = kBare,
     .continuation = Continuation::kAll},
    {.name = "x6",
     .detect = IsX6,
     .starts = kX6Starts,
     .recipients = kEmbedded,
     .continuation = Continuation::kParagraph},
    {.name = "james",
     .detect = IsJames,
     .starts = kJamesStarts,
     .recipients = kLabelled,
     .continuation = Continuation::kParagraph,
     .preamble = Preamble::kYes},
    {.name = "qmail",
     .detect = IsQmail,
     .starts = kQmailStarts,
     .stops = kQmailStops,
     .recipients = kAngle,
     .continuation = Continuation::kAll,
     .hints = kQmailHints,
     .hook = QmailHook},
    Exim("exim", IsExim),
    {.name = "postfix",
     .detect = IsPostfix,
     .starts = kPostfixStarts,
     .recipients = kAngle,
     .continuation = Continuation::kParagraph,
     .delay_markers = kPostfixDelay,
     .hook = PostfixHook,
     .max_indent = 0},
    {.name = "sendmail",
     .detect = IsSendmail,
     .starts = kSendmailStarts,
     .stops = kSendmailStops,
     .recipients = kSendmail | kAngle,
     .continuation = Continuation::kBefore,
     .delay_markers = kSendmailDelay},
};

}  // namespace

std::span<const TextFormat> MtaFormats() { return kFormats; }

std::optional<std::string> MtaWords(const BounceMessage& m,
                                    const DsnRecipient& r,
                                    std::string_view about) {
  return WordsFrom(kMtas, m, r, about);
}

}  // namespace ldapmda::bounce_text
