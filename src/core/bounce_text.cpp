// bounce_text: the engine that reads a non-standard bounce (see
// bounce_text.h). It tries each TextFormat in turn: the first whose
// signature matches and whose text names at least one recipient wins;
// failing all, a careful generic reading, and last the X-Failed-Recipients
// header. Every step works on a capped copy of the text.
#include "core/bounce_text.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>

#include "core/bounce_reason.h"
#include "core/dsn_fields.h"

namespace ldapmda::bounce_text {

using report_syntax::AppendCapped;
using report_syntax::Clean;
using report_syntax::Field;
using report_syntax::Fields;
using report_syntax::IsMailAddress;
using report_syntax::IsWsp;
using report_syntax::Lines;
using report_syntax::Lower;
using report_syntax::StartsWithNoCase;
using report_syntax::StatusInText;
using report_syntax::Trim;

namespace {

constexpr std::size_t kMaxRecipients = 1000;

}  // namespace

std::string_view BounceMessage::Header(std::string_view name) const {
  return headers == nullptr ? std::string_view()
                            : report_syntax::Get(*headers, name);
}

bool BounceMessage::HasHeader(std::string_view name) const {
  return headers != nullptr && report_syntax::Find(*headers, name) != nullptr;
}

std::string LowerTrim(std::string_view s) { return Lower(Trim(s)); }

bool ContainsNoCase(std::string_view text, std::string_view needle) {
  if (needle.empty()) return true;
  if (text.size() < needle.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= text.size(); ++i) {
    if (StartsWithNoCase(text.substr(i), needle)) return true;
  }
  return false;
}

std::string_view HintIn(std::string_view text,
                        std::span<const HintPhrase> hints) {
  for (const HintPhrase& h : hints) {
    if (ContainsNoCase(text, h.phrase)) return h.reason;
  }
  return {};
}

// ---------------------------------------------------------------------------
// Is it a bounce?

namespace {

constexpr std::string_view kBounceSenders[] = {
    "mailer-daemon",      "mailer daemon",
    "mailerdaemon",       "postmaster",
    "post_master",        "mail delivery",
    "mail administrator", "system administrator",
    "mail system",        "mail router",
    "microsoftexchange",  "interscan",
    "mdaemon@",           "<>",
};

constexpr std::string_view kBounceSubjects[] = {
    "undeliver",
    "undelivered",
    "returned mail",
    "delivery fail",
    "delivery status",
    "delivery notification",
    "delivery report",
    "delivery problem",
    "failure notice",
    "failed delivery",
    "mail delivery",
    "mail failure",
    "mail system error",
    "message delivery",
    "message not delivered",
    "non remis",
    "non recapitabile",
    "unzustellbar",
    "nicht zustellbar",
    "no entregable",
    "onbestelbaar",
    "non-deliverable",
    "nondeliverable",
    "notice: mail delivery",
    "warning: message",
    "warning: could not",
    "delayed mail",
    "delivery delayed",
    "delivery_failure",
    "permanent delivery",
    "returned mail:",
    "[bounce]",
    "could not be delivered",
    "there was an error sending your mail",
    "delivery has failed",
    "non-delivery",
    "mail failed",
    "returning message to sender",
};

}  // namespace

bool HasBounceSender(const BounceMessage& m) {
  std::string return_path = Lower(m.Header("return-path"));
  std::erase_if(return_path, [](char c) { return IsWsp(c); });
  if (return_path == "<>" ||
      return_path.find("mailer-daemon") != std::string::npos) {
    return true;
  }
  if (m.envelope == "<>" ||
      m.envelope.find("mailer-daemon") != std::string::npos) {
    return true;
  }
  return std::any_of(
      std::begin(kBounceSenders), std::end(kBounceSenders),
      [&](std::string_view s) { return m.from.find(s) != std::string::npos; });
}

bool HasBounceSubject(const BounceMessage& m) {
  const std::string subject = LowerTrim(m.subject);
  return std::any_of(std::begin(kBounceSubjects), std::end(kBounceSubjects),
                     [&](std::string_view s) {
                       return subject.find(s) != std::string::npos;
                     }) &&
         !subject.starts_with("re:") && !subject.starts_with("fw");
}

bool HasBounceHeader(const BounceMessage& m) {
  if (m.HasHeader("x-failed-recipients") ||
      m.HasHeader("x-ms-exchange-message-is-ndr") ||
      m.HasHeader("x-ms-embedded-report") || m.HasHeader("x-mx-bounce")) {
    return true;
  }
  for (const Field& f : *m.headers) {
    if (f.name == "received" &&
        f.value.find("invoked for bounce") != std::string::npos) {
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------
// Reading a format.

namespace {

std::size_t Indent(std::string_view line) {
  std::size_t n = 0;
  for (char c : line) {
    if (c == ' ') {
      ++n;
    } else if (c == '\t') {
      n += 8;
    } else {
      break;
    }
  }
  return n;
}

bool StartsAny(std::string_view line, std::span<const std::string_view> set) {
  const std::string_view t = Trim(line);
  return std::any_of(set.begin(), set.end(), [&](std::string_view s) {
    return StartsWithNoCase(t, s);
  });
}

bool ContainsAny(std::string_view line, std::span<const std::string_view> set) {
  return std::any_of(set.begin(), set.end(), [&](std::string_view s) {
    return ContainsNoCase(line, s);
  });
}

// Copy markers every format knows: the returned original follows.
constexpr std::string_view kCommonStops[] = {
    "--- below this line is a copy of the message",
    "------ this is a copy of the message",
    "----- original message",
    "-----original message",
    "--- original message follows",
    "original message follows",
    "----- unsent message follows",
    "----- returned message follows",
    "----- message header follows",
    "------- returned message",
    "original message headers:",
    "below is a copy of the original message",
    "--- the header of the original message is following",
    "included is a copy of the message header",
    "the attachment contains the original mail headers",
    "content-type: message/rfc822",
    "content-type: text/rfc822-headers",
};

// Phrases, anywhere on a line, that announce the returned original.
constexpr std::string_view kStopsAnywhere[] = {
    "original message follow",
    "lines of your original message",
    "copy of the original message",
    "copy of the first part of the message",
    "message text follows:",
    "your message reads (in part)",
    "unsent message below",
    "the non-delivered message is attached",
    "attachment is a copy of the message",
    "a summary of the undelivered message",
    "start of returned message",
    "returned mail follows",
    "----- message header follows",
    "--- returned mail ---",
};

}  // namespace

bool HasCopyMarker(std::string_view text) {
  Lines lines(text.substr(0, 64 << 10));
  std::string_view line;
  while (lines.Next(line)) {
    if (StartsAny(line, kCommonStops) || ContainsAny(line, kStopsAnywhere)) {
      return true;
    }
  }
  return false;
}

bool LooksLikeBounce(const BounceMessage& m) {
  return HasBounceSender(m) ||
         (HasBounceSubject(m) &&
          (HasBounceHeader(m) || m.has_original_part || HasCopyMarker(m.text)));
}

namespace {

// Where prose stops and a message's headers begin (generic reading).
constexpr std::string_view kHeaderStops[] = {
    "received:",      "return-path:",    "message-id:",
    "reporting-mta:", "dkim-signature:", "mime-version:",
};

// Adds `line` to the block's diagnostic.
void Append(std::string& diagnostic, std::string_view line) {
  line = Trim(line);
  if (line.empty()) return;
  if (!diagnostic.empty()) AppendCapped(diagnostic, " ");
  AppendCapped(diagnostic, line);
}

// A line of an SMTP transcript: what was sent, what came back.
bool IsTranscript(std::string_view line) {
  const std::string_view t = Trim(line);
  return t.starts_with(">>>") || t.starts_with("<<<") ||
         t.starts_with("... while talking to");
}

struct Reading {
  std::vector<Block> blocks;
  std::string preamble;  // the lines before the first recipient
  std::string rest;      // after the stop marker: the inline original
};

// The text after the start marker and before the stop marker, read line
// by line into blocks.
Reading ReadBlocks(const TextFormat& f, std::string_view text, bool generic) {
  Reading out;
  Lines lines(text);
  std::string_view line;
  if (!f.starts.empty()) {
    bool started = false;
    while (!started && lines.Next(line)) started = ContainsAny(line, f.starts);
    if (!started) return out;
    if (f.preamble == Preamble::kStartLine) Append(out.preamble, line);
  }
  std::vector<Block>& blocks = out.blocks;
  bool open = false;    // the last block still takes lines
  std::string pending;  // Continuation::kBefore: lines for the next one
  while (lines.Next(line)) {
    if (StartsAny(line, f.stops) || StartsAny(line, kCommonStops) ||
        ContainsAny(line, kStopsAnywhere) ||
        (generic && StartsAny(line, kHeaderStops))) {
      out.rest = std::string(lines.Rest());
      break;
    }
    const bool blank = Trim(line).empty();
    const std::size_t indent = Indent(line);
    if (blocks.size() < kMaxRecipients && indent >= f.min_indent &&
        indent <= f.max_indent) {
      if (auto r = RecipientOn(line, f.recipients)) {
        Block b;
        b.address = std::move(r->address);
        b.indent = indent;
        Append(b.diagnostic, r->rest);
        if (f.continuation == Continuation::kBefore) {
          Append(b.diagnostic, pending);
          pending.clear();
        }
        blocks.push_back(std::move(b));
        open = true;
        continue;
      }
    }
    if (f.continuation == Continuation::kBefore && IsTranscript(line)) {
      Append(pending, line);
      continue;
    }
    if (blocks.empty()) {
      Append(out.preamble, line);
      continue;
    }
    switch (f.continuation) {
      case Continuation::kIndented:
        if (blank) continue;
        if (indent <= blocks.back().indent) open = false;
        break;
      case Continuation::kParagraph:
        if (blank) open = false;
        break;
      default:
        break;
    }
    if (open) Append(blocks.back().diagnostic, line);
  }
  if (!pending.empty() && !blocks.empty()) {
    Append(blocks.back().diagnostic, pending);
  }
  return out;
}

std::string FromDomain(const BounceMessage& m) {
  const std::vector<std::string> from = AddressesIn(m.Header("from"), 1);
  if (from.empty()) return {};
  return Clean(from.front().substr(from.front().rfind('@') + 1));
}

// The blocks of the addresses X-Failed-Recipients names (Exim, Google).
std::vector<Block> HeaderBlocks(const BounceMessage& m,
                                const std::string& diagnostic) {
  std::vector<Block> blocks;
  for (const Field& f : *m.headers) {
    if (f.name != "x-failed-recipients") continue;
    for (std::string& a : AddressesIn(f.value, kMaxRecipients)) {
      Block b;
      b.address = std::move(a);
      b.diagnostic = diagnostic;
      blocks.push_back(std::move(b));
    }
  }
  return blocks;
}

}  // namespace

namespace {

// One recipient of `b`, classified.
DsnRecipient RecipientOf(const Block& b) {
  DsnRecipient r;
  r.final_recipient = Clean(b.address);
  r.action = b.delayed ? "delayed" : "failed";
  // The status the text states, else the class: of the SMTP reply code
  // when there is one, else of the kind of report.
  std::string stated = StatusInText(b.diagnostic);
  if (stated.starts_with("2.")) stated.clear();  // quoted text, not a verdict
  r.status = stated;
  if (r.status.empty()) {
    const std::string reply = ReplyCodeIn(b.diagnostic);
    const char klass = !reply.empty() ? reply[0] : b.delayed ? '4' : '5';
    r.status = std::string(1, klass) + ".0.0";
  }
  r.diagnostic = Clean(b.diagnostic);
  r.remote_mta = !b.remote_mta.empty() ? Clean(b.remote_mta)
                 : b.remote_in_text    ? RemoteHostIn(b.diagnostic)
                                       : std::string();
  r.diagnostic_type = "smtp";
  r.smtp_command = b.command.empty() ? SmtpCommandIn(b.diagnostic) : b.command;
  const std::string specific = SpecificStatusIn(b.diagnostic);
  r.reason = BounceReason({.status = specific.empty() ? stated : specific,
                           .diagnostic = b.diagnostic,
                           .diagnostic_type = "smtp",
                           .action = r.action,
                           .command = r.smtp_command,
                           .hint = b.hint});
  r.bounce_type = IsHardBounce(r.reason, r.status) ? "hard" : "soft";
  return r;
}

// The recipients of `blocks` into `report`, each once: an address named
// twice (a summary, then the details) gets both explanations.
void AddBlocks(std::vector<Block> blocks, Report& report) {
  std::vector<Block> merged;
  for (Block& b : blocks) {
    const std::string lower = Lower(b.address);
    const auto same =
        std::find_if(merged.begin(), merged.end(),
                     [&](const Block& m) { return Lower(m.address) == lower; });
    if (same == merged.end()) {
      merged.push_back(std::move(b));
      continue;
    }
    if (same->diagnostic.find(b.diagnostic) == std::string::npos) {
      Append(same->diagnostic, b.diagnostic);
    }
    if (same->hint.empty()) same->hint = b.hint;
  }
  for (const Block& b : merged) {
    if (report.recipients.size() >= kMaxRecipients) break;
    DsnRecipient r = RecipientOf(b);
    if (!r.final_recipient.empty()) report.recipients.push_back(std::move(r));
  }
}

// RFC 3464 fields in the text after the format's start marker.
bool ReadDsnFields(const TextFormat& f, const BounceMessage& m,
                   Report& report) {
  std::string_view text = m.text;
  Lines lines(text);
  std::string_view line;
  std::size_t start = 0;
  bool started = false;
  while (!started && lines.Next(line)) {
    started = ContainsAny(line, f.starts);
    if (!started) start = lines.pos();
  }
  if (!started) return false;
  // The marker may be the first field itself ("Final-Recipient: ...").
  const bool is_field = StartsWithNoCase(Trim(line), "final-recipient:");
  Report found;
  ParseDeliveryStatus(text.substr(is_field ? start : lines.pos()), found);
  if (found.recipients.empty()) return false;
  for (DsnRecipient& r : found.recipients) {
    // A gateway's "5.0.0" beside the server's "550 5.1.1 ...".
    if (r.status.ends_with(".0.0") || r.status.ends_with(".1.0")) {
      const std::string inner = StatusInText(r.diagnostic);
      if (!inner.empty()) r.status = inner;
    }
    if (r.action.empty())
      r.action = r.status.starts_with("4") ? "delayed" : "failed";
  }
  report.recipients = std::move(found.recipients);
  report.reporting_mta = found.reporting_mta;
  report.original_envelope_id = found.original_envelope_id;
  ClassifyRecipients(report, m.text, &m);
  return true;
}

// Reads `m` as format `f`; the blocks found, empty when not this format.
std::vector<Block> ReadFormat(const TextFormat& f, const BounceMessage& m,
                              Report& report, std::string* original) {
  Reading r = ReadBlocks(f, m.text, f.name == "text");
  if (f.recipients == 0) r.blocks = HeaderBlocks(m, r.preamble);
  *original = std::move(r.rest);
  if (r.blocks.empty()) return {};
  const bool delayed = ContainsAny(m.subject, f.delay_markers) ||
                       ContainsAny(m.text.substr(0, 4096), f.delay_markers);
  for (Block& b : r.blocks) {
    // Formats that put one explanation above the list.
    if (b.diagnostic.empty() && f.preamble != Preamble::kNo) {
      b.diagnostic = r.preamble;
    }
    b.delayed = delayed;
    if (b.hint.empty()) b.hint = HintIn(b.diagnostic, f.hints);
  }
  if (f.hook != nullptr) f.hook(m, r.blocks, report);
  std::erase_if(r.blocks,
                [](const Block& b) { return !IsMailAddress(b.address); });
  return std::move(r.blocks);
}

// The Message-ID of the original that follows a copy marker.
std::string QuotedMessageId(std::string_view rest) {
  Lines lines(rest);
  std::string_view line;
  std::size_t start = 0;
  while (lines.Next(line) && Trim(line).empty()) start = lines.pos();
  return report_syntax::MessageIdOf(
      report_syntax::ParseEntity(rest.substr(start)).headers);
}

// Whether `address` is the bounce's own (its sender, its recipient, the
// daemon): never a failed recipient in a generic reading.
bool IsOwnAddress(const BounceMessage& m, const std::string& address) {
  const std::string lower = Lower(address);
  if (lower.starts_with("postmaster@") || lower.starts_with("mailer-daemon@")) {
    return true;
  }
  for (std::string_view h :
       {"from", "to", "reply-to", "return-path", "sender"}) {
    for (const std::string& a : AddressesIn(m.Header(h), 16)) {
      if (Lower(a) == lower) return true;
    }
  }
  return false;
}

}  // namespace

bool ParseBounceText(const BounceMessage& m, Report& report) {
  if (m.headers == nullptr) return false;
  std::string original;
  bool found = false;
  for (const TextFormat& f : Formats()) {
    if (!f.detect(m)) continue;
    Report attempt;
    attempt.reporting_mta = report.reporting_mta;
    if (f.dsn_fields) {
      if (!ReadDsnFields(f, m, attempt)) continue;
    } else {
      std::vector<Block> blocks = ReadFormat(f, m, attempt, &original);
      if (f.name == "text") {
        std::erase_if(
            blocks, [&](const Block& b) { return IsOwnAddress(m, b.address); });
      }
      if (blocks.empty()) continue;
      AddBlocks(std::move(blocks), attempt);
    }
    attempt.format = std::string(f.name);
    report.recipients = std::move(attempt.recipients);
    report.reporting_mta = attempt.reporting_mta;
    report.original_envelope_id = attempt.original_envelope_id;
    report.format = std::move(attempt.format);
    found = true;
    break;
  }
  if (!found) {
    // Last: the addresses the MTA put into a header.
    std::vector<Block> blocks = HeaderBlocks(m, "");
    if (blocks.empty()) return false;
    AddBlocks(std::move(blocks), report);
    report.format = "x-failed-recipients";
  }
  report.kind = ReportKind::kDeliveryStatus;
  if (report.reporting_mta.empty()) report.reporting_mta = FromDomain(m);
  if (report.original_message_id.empty()) {
    report.original_message_id =
        QuotedMessageId(m.original.empty() ? std::string_view(original)
                                           : std::string_view(m.original));
  }
  return true;
}

// ---------------------------------------------------------------------------
// Reasons of reports read from fields.

namespace {

constexpr std::size_t kMaxHumanText = 64 << 10;  // read for SMTP commands

// The paragraph of `text` (lower case) about `address`: from the line that
// names it first, to the next blank line; "" when no line does.
std::string_view ParagraphAbout(std::string_view text,
                                const std::string& address) {
  if (address.empty()) return {};
  std::size_t at = text.find("<" + address + ">");
  if (at == std::string_view::npos) at = text.find(address);
  if (at == std::string_view::npos) return {};
  const std::size_t start = text.rfind('\n', at);
  const std::size_t begin = start == std::string_view::npos ? 0 : start + 1;
  const std::size_t end =
      std::min(text.find("\n\n", at), text.find("\n\r\n", at));
  return text.substr(begin, end == std::string_view::npos ? end : end - begin);
}

bool HasBounced(const DsnRecipient& r) {
  if (r.action == "delivered" || r.action == "relayed" ||
      r.action == "expanded") {
    return false;
  }
  return !r.status.starts_with("2.");
}

}  // namespace

void ClassifyRecipients(Report& report, std::string_view human,
                        const BounceMessage* m) {
  const std::string lower = Lower(human.substr(0, kMaxHumanText));
  std::optional<std::string> whole;  // SmtpCommandIn(lower), when needed
  for (DsnRecipient& r : report.recipients) {
    if (!HasBounced(r)) continue;
    const std::string_view about =
        ParagraphAbout(lower, Lower(r.final_recipient));
    if (r.smtp_command.empty()) r.smtp_command = SmtpCommandIn(r.diagnostic);
    if (r.smtp_command.empty() && !lower.empty()) {
      r.smtp_command = SmtpCommandIn(about);
      if (r.smtp_command.empty()) {
        if (!whole) whole = SmtpCommandIn(lower);
        r.smtp_command = *whole;
      }
    }
    const std::string hint = m == nullptr ? "" : ProviderHint(*m, r, about);
    // Without a Diagnostic-Code, the report's prose about the recipient
    // is the only explanation.
    const std::string_view words =
        r.diagnostic.empty() ? about : std::string_view(r.diagnostic);
    // A specific code in the server's words is more precise than the
    // reporting MTA's summary (Status: 5.0.0, "550 5.1.1 ...").
    std::string status = SpecificStatusIn(words);
    if (status.empty()) status = r.status;
    r.reason = BounceReason({.status = status,
                             .diagnostic = words,
                             .diagnostic_type = r.diagnostic_type,
                             .action = r.action,
                             .command = r.smtp_command,
                             .hint = hint});
    r.bounce_type = IsHardBounce(r.reason, r.status) ? "hard" : "soft";
  }
}

}  // namespace ldapmda::bounce_text
