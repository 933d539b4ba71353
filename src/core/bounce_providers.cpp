// bounce_providers: the notices of mailbox providers and filtering
// appliances -- Google (Gmail, Groups), Yahoo, Microsoft (Exchange 2000
// to Office 365), Amazon (WorkMail, SES), Zoho, IBM Lotus (Domino,
// Notes), and smaller ones -- and the words of their own they put into
// standard reports. Each is described from the provider's documentation
// or from notices people have published; the phrases that name reasons
// are the providers' own words.
#include <string>
#include <string_view>
#include <vector>

#include "core/bounce_formats.h"
#include "core/bounce_reason.h"

namespace ldapmda::bounce_text {
namespace {

using report_syntax::Lines;
using report_syntax::StartsWithNoCase;
using report_syntax::Trim;

bool FromGoogle(const BounceMessage& m) {
  return FromHas(m, "mailer-daemon@googlemail.com") ||
         FromHas(m, "mailer-daemon@google.com");
}

// ---------------------------------------------------------------------------
// Google: Gmail's own notices (before Gmail sent RFC 3464 reports) and
// Google Groups'.

constexpr std::string_view kGmailStarts[] = {
    "delivery to the following recipient",
};
constexpr std::string_view kGmailDelay[] = {
    "delivery to the following recipient has been delayed",
    "delivery to the following recipients has been delayed",
};
// Gmail's "(state N)" names the step of the SMTP session that failed.
constexpr HintPhrase kGmailHints[] = {
    {"(state 6).", "systemerror"},
    {"(state 8).", "systemerror"},
    {"(state 9).", "systemerror"},
    {"(state 12).", "norelaying"},
    {"(state 13).", "blocked"},
    {"(state 14).", "userunknown"},
    {"(state 15).", "filtered"},
    {"(state 17).", "filtered"},
    {"(state 18).", "filtered"},
    {"dns error: could not contact dns servers", "expired"},
    {"the recipient server did not accept our requests to connect", "expired"},
    {"dns error: domain name not found", "hostunknown"},
    {"dns error: dns server returned answer with no data", "hostunknown"},
};

bool IsGmail(const BounceMessage& m) {
  return FromGoogle(m) && SubjectHas(m, "delivery status notification") &&
         !m.HasHeader("x-google-smtp-source");
}

void GmailHook(const BounceMessage&, std::vector<Block>& blocks, Report&) {
  for (Block& b : blocks) {
    // A specific code from the other server says more than the state;
    // without either, a delay is only a delay.
    if (!SpecificStatusIn(b.diagnostic).empty()) {
      b.hint.clear();
    } else if (b.hint.empty() && b.delayed) {
      b.hint = "expired";
    }
  }
}

bool IsGoogleGroups(const BounceMessage& m) {
  return FromGoogle(m) && SubjectHas(m, "delivery status notification") &&
         m.HasHeader("x-failed-recipients") &&
         m.HasHeader("x-google-smtp-source");
}

void GoogleGroupsHook(const BounceMessage& m, std::vector<Block>& blocks,
                      Report&) {
  // Four bullet points: the group refuses the poster (not a member, not
  // open to posting); fewer: it may not exist.
  int bullets = 0;
  Lines lines(m.text);
  std::string_view line;
  while (lines.Next(line)) {
    if (Trim(line).starts_with("*")) ++bullets;
  }
  for (Block& b : blocks) b.hint = bullets == 4 ? "rejected" : "onhold";
}

// ---------------------------------------------------------------------------
// Yahoo.

constexpr std::string_view kYahooStarts[] = {
    "sorry, we were unable to deliver your message",
};

bool IsYahoo(const BounceMessage& m) {
  return m.HasHeader("x-ymailisg") ||
         (FromHas(m, "mailer-daemon@") && FromHas(m, "yahoo"));
}

void YahooHook(const BounceMessage&, std::vector<Block>& blocks, Report&) {
  for (Block& b : blocks) {
    // "Remote host said: 550 ... <a@b>... User Unknown [RCPT_TO]"
    if (b.command.empty() && b.diagnostic.find('<') != std::string::npos &&
        b.diagnostic.find('@') != std::string::npos) {
      const std::string command = SmtpCommandIn(b.diagnostic);
      b.command = command.empty() ? "RCPT" : command;
    }
  }
}

// ---------------------------------------------------------------------------
// Microsoft: Exchange 2007 and later, Office 365 and Outlook.com write
// "Diagnostic information for administrators", in the sender's language.

constexpr std::string_view kExchangeStarts[] = {
    "diagnostic information for administrators",
    "informations de diagnostic pour les administrateurs",
    "informazioni di diagnostica per gli amministratori",
    "diagnoseinformationen f",
    "información de diagnóstico para administradores",
    "delivery has failed to these recipients or groups",
    "original message details",
};
constexpr std::string_view kExchangeStops[] = {
    "original message headers",
    "en-têtes de message d'origine",
    "intestazioni originali del messaggio",
    "ursprüngliche nachrichtenkopfzeilen",
    "encabezados del mensaje original",
    "message hops",
};
// Exchange's enhanced status texts ("#550 5.1.1 RESOLVER.ADR.RecipNotFound").
constexpr HintPhrase kExchangeHints[] = {
    {"smtpsend.dns.nonexistentdomain", "hostunknown"},
    {"smtpsend.dns.mxloopback", "networkerror"},
    {"resolver.adr.badprimary", "systemerror"},
    {"resolver.adr.recipnotfound", "userunknown"},
    {"resolver.adr.exrecipnotfound", "userunknown"},
    {"resolver.adr.reciplimit", "toomanyconn"},
    {"resolver.adr.invalidinsmtp", "systemerror"},
    {"resolver.adr.ambiguous", "systemerror"},
    {"resolver.rst.authrequired", "securityerror"},
    {"resolver.rst.notauthorized", "rejected"},
    {"resolver.rst.recipsizelimit", "mesgtoobig"},
    {"queue.expired", "expired"},
};

int Office365Signals(const BounceMessage& m) {
  int n = 0;
  for (std::string_view h :
       {"x-ms-exchange-message-is-ndr", "x-microsoft-antispam-prvs",
        "x-exchange-antispam-report-test",
        "x-exchange-antispam-report-cfa-test",
        "x-ms-exchange-crosstenant-originalarrivaltime",
        "x-ms-exchange-crosstenant-fromentityheader",
        "x-ms-exchange-transport-crosstenantheadersstamped"}) {
    n += m.HasHeader(h);
  }
  n += SubjectHas(m, "undeliverable:");
  n += ReceivedHas(m, ".outbound.protection.outlook.com") ||
       ReceivedHas(m, ".prod.outlook.com");
  n += HeaderHas(m, "message-id", ".prod.outlook.com") ||
       HeaderHas(m, "message-id", ".outbound.protection.outlook.com");
  return n;
}

bool IsOffice365(const BounceMessage& m) { return Office365Signals(m) >= 2; }

bool IsExchange(const BounceMessage& m) {
  for (std::string_view s :
       {"undeliverable:", "non remis", "non recapitabile", "unzustellbar",
        "no se puede entregar", "onbestelbaar", "delivery has failed"}) {
    if (SubjectStarts(m, s)) return true;
  }
  return FromHas(m, "microsoftexchange") ||
         m.HasHeader("x-ms-exchange-message-is-ndr");
}

// Office 365's own meanings of some codes (its NDR reference).
struct StatusHint {
  std::string_view prefix;  // a status, or its start followed by '*'
  std::string_view reason;
};
constexpr StatusHint kOffice365Statuses[] = {
    {"4.4.7", "expired"},         {"4.4.312", "networkerror"},
    {"4.4.316", "expired"},       {"4.7.26", "securityerror"},
    {"4.7.5*", "blocked"},        {"4.7.6*", "blocked"},
    {"4.7.85*", "blocked"},       {"4.7.86*", "blocked"},
    {"4.7.87*", "blocked"},       {"4.7.88*", "blocked"},
    {"4.7.89*", "blocked"},       {"5.0.350", "contenterror"},
    {"5.1.10", "userunknown"},    {"5.4.1", "norelaying"},
    {"5.4.6", "networkerror"},    {"5.4.312", "networkerror"},
    {"5.4.316", "expired"},       {"5.6.11", "contenterror"},
    {"5.7.1", "rejected"},        {"5.7.12", "rejected"},
    {"5.7.13", "rejected"},       {"5.7.124", "rejected"},
    {"5.7.133", "rejected"},      {"5.7.134", "rejected"},
    {"5.7.135", "rejected"},      {"5.7.136", "rejected"},
    {"5.7.23", "blocked"},        {"5.7.25", "networkerror"},
    {"5.7.501", "spamdetected"},  {"5.7.502", "spamdetected"},
    {"5.7.503", "spamdetected"},  {"5.7.504", "filtered"},
    {"5.7.505", "filtered"},      {"5.7.506", "blocked"},
    {"5.7.507", "blocked"},       {"5.7.508", "toomanyconn"},
    {"5.7.509", "securityerror"}, {"5.7.510", "notaccept"},
    {"5.7.511", "rejected"},      {"5.7.512", "securityerror"},
    {"5.7.57", "securityerror"},  {"5.7.606", "blocked"},
    {"5.7.607", "blocked"},       {"5.7.608", "blocked"},
    {"5.7.609", "blocked"},       {"5.7.61*", "blocked"},
    {"5.7.62*", "blocked"},       {"5.7.63*", "blocked"},
    {"5.7.64*", "blocked"},       {"5.7.70*", "toomanyconn"},
    {"5.7.71*", "toomanyconn"},   {"5.7.72*", "toomanyconn"},
    {"5.7.73*", "toomanyconn"},   {"5.7.74*", "toomanyconn"},
};

std::string Office365Reason(std::string_view status) {
  for (const StatusHint& s : kOffice365Statuses) {
    // "4.7.5*" stands for 4.7.500 to 4.7.599: a detail of three digits.
    const bool wide = s.prefix.ends_with('*');
    const std::string_view p =
        wide ? s.prefix.substr(0, s.prefix.size() - 1) : s.prefix;
    if (wide ? status.starts_with(p) && status.size() == 7 : status == p) {
      return std::string(s.reason);
    }
  }
  return {};
}

void ExchangeHook(const BounceMessage& m, std::vector<Block>& blocks,
                  Report& report) {
  const std::string host = RemoteHostIn(m.text.substr(0, 16384));
  if (!host.empty() && report.reporting_mta.empty()) {
    report.reporting_mta = host;
  }
  const bool office365 = IsOffice365(m);
  for (Block& b : blocks) {
    b.remote_in_text = false;  // "Generating server": the reporting host
    if (!office365) continue;
    const std::string reason =
        Office365Reason(report_syntax::StatusInText(b.diagnostic));
    if (!reason.empty()) b.hint = reason;
    if (ContainsNoCase(b.diagnostic,
                       "unknown recipient or mailbox unavailable ->")) {
      b.command = "RCPT";
    }
  }
}

// Exchange 2003 and Exchange 5.5's Internet Mail Service: "did not reach
// the following recipient(s)", with an MSEXCH code per recipient.
constexpr std::string_view kExchange2003Starts[] = {
    "did not reach the following recipient",
    // Exchange 2003 after "did not reach some or all of the intended
    // recipients".
    "the following recipient(s) could not be reached",
};

bool IsExchange2003(const BounceMessage& m) {
  if (m.HasHeader("x-ms-embedded-report")) return true;
  if (StartsWithNoCase(m.Header("x-mailer"), "internet mail service (") ||
      StartsWithNoCase(m.Header("x-mailer"),
                       "microsoft exchange server internet mail connector") ||
      StartsWithNoCase(m.Header("x-mimeole"),
                       "produced by microsoft exchange")) {
    return true;
  }
  return ReceivedHas(m, " with internet mail service (") ||
         SubjectStarts(m, "undeliverable:");
}

struct MsexchCode {
  std::string_view code;
  std::string_view reason;
};
constexpr MsexchCode kMsexchCodes[] = {
    {"000b099c", "onhold"},       {"000b09aa", "onhold"},
    {"000b09b6", "onhold"},       {"000c05a6", "userunknown"},
    {"00010256", "systemerror"},  {"000d06b5", "systemerror"},
    {"00120270", "networkerror"}, {"00050311", "contenterror"},
    {"000502cc", "contenterror"}, {"000b0981", "securityerror"},
    {"000c0595", "filtered"},
};

void Exchange2003Hook(const BounceMessage&, std::vector<Block>& blocks,
                      Report&) {
  for (Block& b : blocks) {
    const std::string lower = LowerTrim(b.diagnostic);
    const std::size_t msexch = lower.find("msexch:");
    if (msexch == std::string::npos) continue;
    for (const MsexchCode& c : kMsexchCodes) {
      if (lower.find("(" + std::string(c.code) + ")", msexch) !=
          std::string::npos) {
        b.hint = std::string(c.reason);
        break;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Amazon: WorkMail and SES write RFC 3464 fields into their text.

constexpr std::string_view kWorkMailStarts[] = {"technical report:"};

bool IsWorkMail(const BounceMessage& m) {
  const std::string_view mailer = m.HasHeader("x-original-mailer")
                                      ? m.Header("x-original-mailer")
                                      : m.Header("x-mailer");
  return Trim(mailer) == "Amazon WorkMail" && m.HasHeader("x-ses-outgoing");
}

constexpr std::string_view kSesStarts[] = {
    "the following message to <",
    "an error occurred while trying to deliver the mail",
};

bool IsAmazonSes(const BounceMessage& m) {
  return (m.HasHeader("x-aws-outgoing") || m.HasHeader("x-ses-outgoing")) &&
         !ContainsNoCase(m.Header("x-mailer"), "amazon workmail");
}

// ---------------------------------------------------------------------------
// Zoho Mail.

constexpr std::string_view kZohoStarts[] = {
    "this message was created automatically by mail delivery",
};
constexpr HintPhrase kZohoHints[] = {{"host not reachable", "expired"}};

bool IsZoho(const BounceMessage& m) { return m.HasHeader("x-zohomail"); }

bool IsInterScan(const BounceMessage& m) {
  return StartsWithNoCase(m.Header("from"), "\"interscan") ||
         Trim(m.subject) == "Mail could not be delivered";
}

void InterScanHook(const BounceMessage&, std::vector<Block>& blocks, Report&) {
  for (Block& b : blocks) {
    if (ContainsNoCase(b.diagnostic, "unable to deliver"))
      b.hint = "userunknown";
  }
}

bool IsMailFoundry(const BounceMessage& m) {
  return Trim(m.subject) == "Message delivery has failed" &&
         ReceivedHas(m, "(mailfoundry) id");
}

constexpr std::string_view kMailMarshalStarts[] = {
    "could not be delivered because of",
};

bool IsMailMarshal(const BounceMessage& m) {
  return SubjectStarts(m, "undeliverable mail: \"");
}

bool IsSurfControl(const BounceMessage& m) {
  return m.HasHeader("x-sef-processed") &&
         Trim(m.Header("x-mailer")) == "SurfControl E-mail Filter";
}

constexpr std::string_view kProblemsStarts[] = {
    "the following addresses had delivery problems",
    "the following addresses had permanent fatal errors",
    "the following addresses had delivery errors",
};
constexpr HintPhrase kBiglobeHints[] = {
    {"mail delivery failed... user unknown", "filtered"},
    {"the number of messages in recipient's mailbox exceeded the local limit",
     "mailboxfull"},
};
constexpr HintPhrase kMcAfeeHints[] = {
    {"no such user", "userunknown"},
    {" unknown. ", "userunknown"},
    {"550 unknown user ", "userunknown"},
    {"... user not exist", "userunknown"},
};

bool IsMcAfee(const BounceMessage& m) {
  return ContainsNoCase(m.Header("x-nai-header"), "modified by mcafee");
}
bool IsBiglobe(const BounceMessage& m) {
  return FromHas(m, "postmaster@") &&
         (FromHas(m, "biglobe.ne.jp") || FromHas(m, "inacatv.ne.jp") ||
          FromHas(m, "tmtv.ne.jp") || FromHas(m, "ttv.ne.jp"));
}
bool IsActivehunter(const BounceMessage& m) {
  return m.HasHeader("x-ahmailid");
}

bool IsMFilter(const BounceMessage& m) {
  return Trim(m.Header("x-mailer")) == "m-FILTER";
}
constexpr std::string_view kMFilterStops[] = {"-------original"};

void MFilterHook(const BounceMessage&, std::vector<Block>& blocks, Report&) {
  for (Block& b : blocks) {
    const std::string lower = LowerTrim(b.diagnostic);
    const std::size_t at = lower.find("-------smtp command");
    if (at == std::string::npos) continue;
    std::string_view word = Trim(std::string_view(lower).substr(at + 19));
    word = word.substr(0, word.find(' '));
    for (std::string_view c : {"ehlo", "helo", "mail", "rcpt", "data"}) {
      if (word == c) {
        b.command = std::string(word);
        for (char& ch : b.command) ch = static_cast<char>(ch - 'a' + 'A');
      }
    }
  }
}

bool IsEzweb(const BounceMessage& m) {
  int n =
      FromHas(m, "postmaster@ezweb.ne.jp") + FromHas(m, "postmaster@au.com");
  n += Trim(m.subject) == "Mail System Error - Returned Mail";
  n += ReceivedHas(m, "ezweb.ne.jp (ezweb mail) with");
  n += HeaderHas(m, "message-id", ".ezweb.ne.jp>");
  return n >= 2;
}
constexpr HintPhrase kEzwebHints[] = {
    {"the user(s) account is temporarily over quota", "mailboxfull"},
    {"the user(s) account is disabled", "suspend"},
    {"the user(s) account is temporarily limited", "suspend"},
    {"your message was not delivered within ", "expired"},
};

bool IsVerizon(const BounceMessage& m) {
  return ReceivedHas(m, ".vtext.com (") && FromHas(m, "post_master@vtext.com");
}
constexpr HintPhrase kVerizonHints[] = {
    {"550 - requested action not taken: no such user here", "userunknown"},
};

// ---------------------------------------------------------------------------
// IBM Lotus Domino and Lotus Notes.

constexpr std::string_view kDominoStarts[] = {"was not delivered to:"};
constexpr HintPhrase kDominoHints[] = {
    {"not listed in domino directory", "userunknown"},
    {"not listed in public name & address book", "userunknown"},
    {"non répertorié dans l'annuaire domino", "userunknown"},
    {"cannot route mail to user", "filtered"},
    {"several matches found in domino directory", "systemerror"},
};

bool IsDomino(const BounceMessage& m) {
  return SubjectStarts(m, "delivery failure:") ||
         SubjectStarts(m, "delivery_failure:");
}

constexpr std::string_view kNotesStarts[] = {"------- failure reasons"};
constexpr std::string_view kNotesStops[] = {"------- returned message"};
constexpr HintPhrase kNotesHints[] = {
    {"user not listed in public name & address book", "userunknown"},
    // The same in the Japanese edition ("not in the directory's list").
    {"ディレクトリのリストにありません", "userunknown"},
    {"message has exceeded maximum hop count", "networkerror"},
};

bool IsNotes(const BounceMessage& m) {
  return SubjectStarts(m, "undeliverable message");
}

// ---------------------------------------------------------------------------
// Providers' own words in standard reports.

bool IsOutlookCom(const BounceMessage& m) {
  int n = SubjectHas(m, "delivery status notification");
  n += m.HasHeader("x-message-delivery") + m.HasHeader("x-message-info");
  n += ReceivedHas(m, ".hotmail.com");
  return n >= 2;
}
constexpr HintPhrase kOutlookHints[] = {
    {"the mail could not be delivered to the recipient because the domain is "
     "not reachable",
     "hostunknown"},
    {"requested action not taken: mailbox unavailable", "userunknown"},
};

bool IsGoogleReport(const BounceMessage& m) {
  return FromGoogle(m) && SubjectHas(m, "delivery status notification") &&
         m.HasHeader("x-gm-message-state");
}
constexpr HintPhrase kGoogleHints[] = {
    {"because the address couldn't be found. check for typos or unnecessary "
     "spaces and try again.",
     "userunknown"},
    {"null mx", "notaccept"},
    {" had no relevant answers.", "networkerror"},
    {" responded with code nxdomain", "networkerror"},
};

bool IsAol(const BounceMessage& m) { return m.HasHeader("x-aol-ip"); }
constexpr HintPhrase kAolHints[] = {
    {"host or domain name not found", "hostunknown"},
    {"type=mx: malformed or unexpected name server reply", "notaccept"},
};

bool IsAmavis(const BounceMessage& m) {
  return StartsWithNoCase(Trim(m.Header("from")), "\"content-filter at ");
}
constexpr HintPhrase kAmavisHints[] = {
    {" - spam", "spamdetected"},
    {" - infected", "virusdetected"},
    {" - bad header:", "contenterror"},
    {" - message size exceeds recipient", "exceedlimit"},
    {" - temporary mta failure on relaying", "systemerror"},
    {" - rejected by next-hop mta on relaying", "systemerror"},
    {" - unable to relay message back to mta", "systemerror"},
};

bool IsMessageLabs(const BounceMessage& m) {
  return m.HasHeader("x-msg-ref") &&
         FromHas(m, "mailer-daemon@messagelabs.com");
}
constexpr HintPhrase kMessageLabsHints[] = {
    {"no such user", "userunknown"},
    {"please turn on smtp authentication in your mail client", "securityerror"},
};

bool IsReceivingSes(const BounceMessage& m) {
  return m.HasHeader("x-ses-outgoing") &&
         TextHas(m, "this message could not be delivered.");
}
constexpr HintPhrase kReceivingSesHints[] = {
    {"mailbox does not exist", "filtered"},
    {"message too large", "mesgtoobig"},
    {"mailbox full", "mailboxfull"},
    {"message content rejected", "contenterror"},
};

constexpr Words kProviders[] = {
    {IsOffice365, kExchangeHints},
    {IsOutlookCom, kOutlookHints},
    {IsExchange, kExchangeHints},
    {IsGoogleReport, kGoogleHints},
    {IsAol, kAolHints},
    {IsAmavis, kAmavisHints},
    {IsMessageLabs, kMessageLabsHints},
    {IsReceivingSes, kReceivingSesHints},
    {IsDomino, kDominoHints},
    {IsMcAfee, kMcAfeeHints},
};

// The NDR text of Exchange 2007 and later, and of Office 365.
constexpr TextFormat Exchange(std::string_view name,
                              bool (*detect)(const BounceMessage&)) {
  return {.name = name,
          .detect = detect,
          .starts = kExchangeStarts,
          .stops = kExchangeStops,
          .recipients = kBare | kMailto | kLabelled,
          .continuation = Continuation::kAll,
          .hints = kExchangeHints,
          .hook = ExchangeHook,
          .max_indent = 0};
}

const TextFormat kFormats[] = {
    {.name = "googlegroups",
     .detect = IsGoogleGroups,
     .recipients = 0,
     .continuation = Continuation::kAll,
     .hook = GoogleGroupsHook,
     .preamble = Preamble::kYes},
    {.name = "gmail",
     .detect = IsGmail,
     .starts = kGmailStarts,
     .recipients = kBare,
     .continuation = Continuation::kAll,
     .hints = kGmailHints,
     .delay_markers = kGmailDelay,
     .hook = GmailHook,
     .preamble = Preamble::kStartLine},
    {.name = "yahoo",
     .detect = IsYahoo,
     .starts = kYahooStarts,
     .recipients = kAngle,
     .continuation = Continuation::kAll,
     .hook = YahooHook},
    Exchange("office365", IsOffice365),
    Exchange("exchange", IsExchange),
    {.name = "exchange2003",
     .detect = IsExchange2003,
     .starts = kExchange2003Starts,
     .recipients = kLeading | kBare,
     .continuation = Continuation::kAll,
     .hook = Exchange2003Hook,
     .max_indent = 8},
    {.name = "workmail",
     .detect = IsWorkMail,
     .starts = kWorkMailStarts,
     .dsn_fields = true},
    {.name = "amazonses",
     .detect = IsAmazonSes,
     .starts = kSesStarts,
     .dsn_fields = true},
    {.name = "zoho",
     .detect = IsZoho,
     .starts = kZohoStarts,
     .recipients = kLeading | kEmbedded,
     .continuation = Continuation::kParagraph,
     .hints = kZohoHints},
    {.name = "domino",
     .detect = IsDomino,
     .starts = kDominoStarts,
     .recipients = kBare,
     .continuation = Continuation::kAll,
     .hints = kDominoHints},
    {.name = "notes",
     .detect = IsNotes,
     .starts = kNotesStarts,
     .stops = kNotesStops,
     .recipients = kBare,
     .continuation = Continuation::kParagraph,
     .hints = kNotesHints,
     .preamble = Preamble::kYes},
    {.name = "interscan",
     .detect = IsInterScan,
     .recipients = kEmbedded | kLabelled,
     .continuation = Continuation::kAll,
     .hook = InterScanHook},
    {.name = "mailfoundry",
     .detect = IsMailFoundry,
     .recipients = kLabelled,
     .continuation = Continuation::kAll},
    {.name = "mailmarshal",
     .detect = IsMailMarshal,
     .starts = kMailMarshalStarts,
     .recipients = kBare,
     .continuation = Continuation::kParagraph,
     .min_indent = 1,
     .preamble = Preamble::kYes},
    {.name = "surfcontrol",
     .detect = IsSurfControl,
     .recipients = kLabelled,
     .continuation = Continuation::kAll},
    {.name = "mcafee",
     .detect = IsMcAfee,
     .starts = kProblemsStarts,
     .recipients = kAngle,
     .continuation = Continuation::kParagraph,
     .hints = kMcAfeeHints},
    {.name = "biglobe",
     .detect = IsBiglobe,
     .starts = kProblemsStarts,
     .recipients = kBare,
     .continuation = Continuation::kAll,
     .hints = kBiglobeHints},
    {.name = "activehunter",
     .detect = IsActivehunter,
     .recipients = kEmbedded,
     .continuation = Continuation::kAll},
    {.name = "mfilter",
     .detect = IsMFilter,
     .stops = kMFilterStops,
     .recipients = kBare,
     .continuation = Continuation::kAll,
     .hook = MFilterHook},
    {.name = "ezweb",
     .detect = IsEzweb,
     .recipients = kAngle | kLabelled,
     .continuation = Continuation::kAll,
     .hints = kEzwebHints},
    {.name = "verizon",
     .detect = IsVerizon,
     .recipients = kLabelled,
     .continuation = Continuation::kAll,
     .hints = kVerizonHints},
};

}  // namespace

std::span<const TextFormat> ProviderFormats() { return kFormats; }

std::optional<std::string> ProviderWords(const BounceMessage& m,
                                         const DsnRecipient& r,
                                         std::string_view about) {
  // Office 365 documents what its own codes mean.
  if (IsOffice365(m)) {
    std::string status = r.status;
    if (status.empty() || status.ends_with(".0.0")) {
      const std::string inner = report_syntax::StatusInText(r.diagnostic);
      if (!inner.empty()) status = inner;
    }
    const std::string reason = Office365Reason(status);
    if (!reason.empty()) return reason;
  }
  return WordsFrom(kProviders, m, r, about);
}

}  // namespace ldapmda::bounce_text
