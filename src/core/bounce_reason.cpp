// bounce_reason: see bounce_reason.h.
//
// The decision, in order:
//  1. A reason the format states stands, unless it is a weak one.
//  2. The status code and the phrases of the first group decide, each
//     reason with its own condition (kFirst below): a 5.1.1 is an unknown
//     user unless the text names another cause, "user unknown" without a
//     code is one only when refused at RCPT, and so on.
//  3. Otherwise the status code's own reason, unless it is vague; then the
//     phrases of the second group (kSecond), then the class of the code
//     (x.6.x content, x.7.x security), then SMTP syntax replies (50x).
//  4. A delay is "expired"; text nobody recognises "onhold"; nothing at
//     all "undefined".
#include "core/bounce_reason.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "core/bounce_phrases.h"
#include "core/report_syntax.h"

namespace ldapmda {
namespace {

using bounce_phrases::kBlocked;
using bounce_phrases::kContentError;
using bounce_phrases::kExceedLimit;
using bounce_phrases::kExpired;
using bounce_phrases::kFiltered;
using bounce_phrases::kHasMoved;
using bounce_phrases::kHostUnknown;
using bounce_phrases::kMailboxFull;
using bounce_phrases::kMailerError;
using bounce_phrases::kMesgTooBig;
using bounce_phrases::kNetworkError;
using bounce_phrases::kNoRelaying;
using bounce_phrases::kNotAccept;
using bounce_phrases::kNotRejected;
using bounce_phrases::kPolicyViolation;
using bounce_phrases::kRejected;
using bounce_phrases::kSecurityError;
using bounce_phrases::kSpamDetected;
using bounce_phrases::kSuspend;
using bounce_phrases::kSystemError;
using bounce_phrases::kSystemFull;
using bounce_phrases::kTooManyConn;
using bounce_phrases::kUserUnknown;
using bounce_phrases::kVirusDetected;
using bounce_phrases::Phrases;
using bounce_phrases::ReasonOfStatus;

// ---------------------------------------------------------------------------
// Matching.

// `text` lower case, runs of white space one space, trimmed.
std::string Normalised(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

// Whether `pattern` (with "*" for one word) occurs in `text` from `at`.
bool MatchesAt(std::string_view text, std::size_t at, std::string_view pattern);

// Whether `pattern` occurs anywhere in `text`.
bool Contains(std::string_view text, std::string_view pattern) {
  const std::size_t star = pattern.find('*');
  const std::string_view head = pattern.substr(0, star);
  if (star == std::string_view::npos) {
    return text.find(head) != std::string_view::npos;
  }
  for (std::size_t at = text.find(head); at != std::string_view::npos;
       at = text.find(head, at + 1)) {
    if (MatchesAt(text, at, pattern)) return true;
  }
  return false;
}

bool MatchesAt(std::string_view text, std::size_t at,
               std::string_view pattern) {
  const std::size_t star = pattern.find('*');
  const std::string_view head = pattern.substr(0, star);
  if (text.compare(at, head.size(), head) != 0) return false;
  if (star == std::string_view::npos) return true;
  const std::string_view rest = pattern.substr(star + 1);
  // The word "*" stands for ends where the rest begins: try each place
  // up to the end of the word.
  std::size_t word = at + head.size();
  for (std::size_t end = word + 1; end <= text.size(); ++end) {
    if (text[end - 1] == ' ') break;
    if (MatchesAt(text, end, rest)) return true;
  }
  return false;
}

bool Any(std::string_view text, Phrases phrases) {
  return std::any_of(phrases.begin(), phrases.end(),
                     [&](std::string_view p) { return Contains(text, p); });
}

// Reasons worth a second look when a code or a format names them: they
// say little about what to do next.
bool IsWeak(std::string_view reason) {
  for (std::string_view weak :
       {"undefined", "onhold", "systemerror", "securityerror", "networkerror",
        "hostunknown", "userunknown"}) {
    if (reason == weak) return true;
  }
  return false;
}

bool IsBeforeData(std::string_view command) {
  return command == "EHLO" || command == "HELO" || command == "MAIL" ||
         command == "RCPT";
}

// The inputs of one decision, prepared once.
struct Case {
  std::string text;          // normalised diagnostic
  std::string_view status;   // stated, or ""
  std::string_view by_code;  // ReasonOfStatus(status)
  std::string_view command;  // EHLO, HELO, MAIL, RCPT, DATA or ""
  std::string_view hint;     // a weak format reason, or ""
  std::string reply;         // the SMTP reply code, or ""
  bool smtp = true;          // an SMTP diagnostic (or none)
  bool mailer = false;       // a local program's (X-Unix)
};

// Step 2: the first group, each with its condition.
std::string_view FirstGroup(const Case& c) {
  const auto said = [&](std::string_view reason, Phrases phrases) {
    return c.hint == reason || c.by_code == reason || Any(c.text, phrases);
  };
  const bool coded = !c.status.empty();
  if (coded && said("mailboxfull", kMailboxFull)) return "mailboxfull";
  if (c.hint == "mesgtoobig" || c.by_code == "mesgtoobig" ||
      (c.by_code != "exceedlimit" && c.status != "5.2.3" &&
       Any(c.text, kMesgTooBig))) {
    return "mesgtoobig";
  }
  if (coded && said("exceedlimit", kExceedLimit)) return "exceedlimit";
  if (coded && (c.hint == "suspend" || Any(c.text, kSuspend))) {
    return "suspend";
  }
  if (c.hint == "hasmoved" || Any(c.text, kHasMoved)) return "hasmoved";
  if (c.hint != "securityerror" && c.hint != "systemerror" &&
      c.hint != "undefined" && c.command != "EHLO" && c.command != "HELO" &&
      Any(c.text, kNoRelaying)) {
    return "norelaying";
  }
  if (c.hint == "userunknown") return "userunknown";
  if (c.by_code == "userunknown") {
    const bool other = Any(c.text, kNoRelaying) || Any(c.text, kBlocked) ||
                       Any(c.text, kMailboxFull) || Any(c.text, kHasMoved) ||
                       (Any(c.text, kRejected) && !Any(c.text, kNotRejected)) ||
                       Any(c.text, kNotAccept);
    if (!other) return "userunknown";
  } else if (c.by_code != "suspend" && c.command == "RCPT" &&
             Any(c.text, kUserUnknown)) {
    return "userunknown";
  }
  if (c.hint == "filtered") return "filtered";
  if (c.by_code == "filtered") {
    if (Any(c.text, kUserUnknown) || Any(c.text, kFiltered)) return "filtered";
  } else if (c.by_code != "suspend" && !IsBeforeData(c.command) &&
             (Any(c.text, kFiltered) || Any(c.text, kUserUnknown))) {
    return "filtered";
  }
  const std::string_view coded_or_undefined =
      c.by_code.empty() ? "undefined" : c.by_code;
  const bool rejected_phrase =
      Any(c.text, kRejected) && !Any(c.text, kNotRejected);
  if (c.hint == "rejected" || c.by_code == "rejected") return "rejected";
  if (rejected_phrase &&
      (c.command == "MAIL" ||
       (c.command == "DATA" && c.by_code != "userunknown") ||
       (c.command != "DATA" &&
        (coded_or_undefined == "undefined" || coded_or_undefined == "onhold" ||
         coded_or_undefined == "securityerror" ||
         coded_or_undefined == "systemerror")))) {
    return "rejected";
  }
  if (c.hint == "hostunknown") return "hostunknown";
  if (c.by_code == "hostunknown") {
    if (!Any(c.text, kNetworkError)) return "hostunknown";
  } else if (Any(c.text, kHostUnknown)) {
    return "hostunknown";
  }
  if (coded && (c.hint == "spamdetected" || c.by_code == "spamdetected" ||
                (!IsBeforeData(c.command) && Any(c.text, kSpamDetected)))) {
    return "spamdetected";
  }
  if (said("toomanyconn", kTooManyConn)) return "toomanyconn";
  if (said("blocked", kBlocked)) return "blocked";
  return {};
}

// Step 3: the second group, tried on the text when the code is vague.
const std::pair<std::string_view, Phrases> kSecondGroup[] = {
    {"mailboxfull", kMailboxFull},
    {"spamdetected", kSpamDetected},
    {"policyviolation", kPolicyViolation},
    {"virusdetected", kVirusDetected},
    {"norelaying", kNoRelaying},
    {"securityerror", kSecurityError},
    {"systemerror", kSystemError},
    {"networkerror", kNetworkError},
    {"suspend", kSuspend},
    {"expired", kExpired},
    {"contenterror", kContentError},
    {"systemfull", kSystemFull},
    {"notaccept", kNotAccept},
    {"mailererror", kMailerError},
};

bool IsSyntaxReply(std::string_view reply) {
  return reply.size() == 3 && (reply[0] == '4' || reply[0] == '5') &&
         reply[1] == '0' && reply[2] >= '0' && reply[2] <= '7';
}

std::string_view SecondGroup(const Case& c, std::string_view action) {
  if (!c.hint.empty()) return c.hint;  // a weak one the text did not beat
  const std::string_view reason = c.by_code;
  const bool vague =
      reason.empty() || reason == "expired" || IsWeak(reason) || !c.smtp;
  if (!vague) return reason;
  for (const auto& [name, phrases] : kSecondGroup) {
    if (Any(c.text, phrases)) return name;
  }
  const std::string_view family = c.status.substr(0, 3);
  if (family == "5.6" || family == "4.6") return "contenterror";
  if (family == "5.7" || family == "4.7") return "securityerror";
  if (c.mailer) return "mailererror";
  if (IsSyntaxReply(c.reply)) return "syntaxerror";
  if (!reason.empty()) return reason;
  if (action == "delayed" || action == "expired") return "expired";
  if (c.command == "EHLO" || c.command == "HELO") return "blocked";
  return {};
}

}  // namespace

std::string BounceReason(const BounceFacts& facts) {
  if (facts.status.starts_with("2.")) return "delivered";
  if (!facts.hint.empty() && !IsWeak(facts.hint)) {
    return std::string(facts.hint);
  }
  Case c;
  c.text = Normalised(facts.diagnostic);
  c.status = facts.status;
  c.by_code = ReasonOfStatus(facts.status);
  c.command = facts.command;
  c.hint = facts.hint;
  c.reply = ReplyCodeIn(c.text);
  c.smtp = facts.diagnostic_type.empty() || facts.diagnostic_type == "smtp" ||
           facts.diagnostic_type == "x-postfix";
  c.mailer = facts.diagnostic_type == "x-unix";
  std::string_view reason;
  if (c.smtp) reason = FirstGroup(c);
  if (reason.empty() || reason == "undefined") {
    reason = SecondGroup(c, facts.action);
    if (reason == "undefined") reason = {};
    if (reason.empty() && facts.action == "delayed") reason = "expired";
    if (reason.empty()) return c.text.empty() ? "undefined" : "onhold";
  }
  return std::string(reason);
}

bool IsHardBounce(std::string_view reason, std::string_view status) {
  if (reason == "userunknown" || reason == "hostunknown" ||
      reason == "hasmoved") {
    return true;
  }
  return reason == "notaccept" && !status.starts_with("4");
}

namespace {

// The command named by the word at `at` in lower-case `text` ("rcpt",
// "data"...), "end of data" counted as DATA; "" when none.
std::string_view CommandWord(std::string_view text, std::size_t at) {
  std::string_view rest = text.substr(std::min(at, text.size()));
  for (std::string_view skip : {"end of ", "pipelined "}) {
    if (rest.starts_with(skip)) rest.remove_prefix(skip.size());
  }
  for (std::string_view command : {"ehlo", "helo", "mail", "rcpt", "data"}) {
    if (rest.starts_with(command) &&
        (rest.size() == command.size() ||
         !std::isalnum(static_cast<unsigned char>(rest[command.size()])))) {
      return command;
    }
  }
  if (rest.starts_with("text command")) return "data";  // 1&1
  return {};
}

std::string Upper(std::string_view command) {
  std::string out(command);
  for (char& c : out) c = static_cast<char>(c - 'a' + 'A');
  return out;
}

// Phrases after which an MTA names the command ("... after RCPT TO").
constexpr std::string_view kBeforeCommand[] = {
    "in reply to ",                          // Postfix
    "error from remote mail server after ",  // Exim
    "error from remote mailer after ",
    "error from remote server after ",  // GMX
    "error from remote server for ",    // 1&1
    "lmtp error after ",
    "error following ",
    "smtp:",
    "most progress was ",  // qmail-remote fallback patch
};

// Phrases that imply the command.
struct ImpliedCommand {
  std::string_view phrase;
  std::string_view command;
};
constexpr ImpliedCommand kImpliedCommands[] = {
    {"does not like recipient", "rcpt"},  // qmail-remote
    {"but sender was rejected", "mail"},
    {"but my name was rejected", "ehlo"},
    {"failed on data command", "data"},
    {"failed after i sent the message", "data"},
    {"[rcpt_to]", "rcpt"},  // Yahoo
    {"[mail_from]", "mail"},
    {"rcpt to generated following response", "rcpt"},  // IMail
    {"data command generated response", "data"},
    {"server response to mail from", "mail"},
    {"response to ehlo/helo", "ehlo"},
    {" rcpt command", "rcpt"},
    {" mail command", "mail"},
    {" data command", "data"},
};

}  // namespace

std::string SmtpCommandIn(std::string_view raw) {
  const std::string text = Normalised(raw);
  for (std::string_view before : kBeforeCommand) {
    for (std::size_t at = text.find(before); at != std::string::npos;
         at = text.find(before, at + 1)) {
      const std::string_view command = CommandWord(text, at + before.size());
      if (!command.empty()) return Upper(command);
    }
  }
  // A transcript: the last command sent (">>> RCPT TO:<...>").
  std::string_view last;
  for (std::string_view arrow : {">>> ", "<<< "}) {
    for (std::size_t at = text.find(arrow); at != std::string::npos;
         at = text.find(arrow, at + 1)) {
      const std::string_view command = CommandWord(text, at + arrow.size());
      if (!command.empty()) last = command;
    }
    if (!last.empty()) return Upper(last);
  }
  for (const ImpliedCommand& i : kImpliedCommands) {
    if (text.find(i.phrase) != std::string::npos) return Upper(i.command);
  }
  return {};
}

std::string SpecificStatusIn(std::string_view text) {
  const std::string code = report_syntax::StatusInText(text);
  const bool specific = code.size() == 5 &&
                        (code[0] == '4' || code[0] == '5') && code[2] >= '1' &&
                        code[2] <= '9' && code[4] >= '1' && code[4] <= '9';
  return specific ? code : std::string();
}

std::string ReplyCodeIn(std::string_view text) {
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  const auto word = [&](char c) {
    return digit(c) || std::isalpha(static_cast<unsigned char>(c)) || c == '_';
  };
  for (std::size_t i = 0; i + 3 <= text.size(); ++i) {
    if (i > 0 && (word(text[i - 1]) || text[i - 1] == '.')) continue;
    const char a = text[i], b = text[i + 1], c = text[i + 2];
    if ((a != '4' && a != '5') || b < '0' || b > '5' || !digit(c)) continue;
    if (i + 3 < text.size() && (word(text[i + 3]) || text[i + 3] == '.')) {
      continue;  // a longer number, a word, an address or a version
    }
    return std::string(text.substr(i, 3));
  }
  return {};
}

}  // namespace ldapmda
