// report: delivery status notifications, feedback reports, automatic
// replies and non-standard bounces (see report.h).
//
// The MIME structure is walked by report_syntax rather than with GMime:
// only the top level and one nested multipart/report are of interest, the
// delivery-status and feedback-report bodies need a field parser of their
// own anyway, and a hand-written walk over string_views lets every step be
// capped (input size, parts, fields, value lengths) so that hostile input
// costs linear time and bounded memory. GMime is used only for dates and
// encoded-word subjects.
#include "ldapmda/report.h"

#include <glib.h>
#include <gmime/gmime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/mime.h"
#include "core/report_syntax.h"
#include "ldapmda/text.h"

namespace ldapmda {
namespace {

// The parser's vocabulary (report_syntax.h).
using report_syntax::Address;
using report_syntax::AppendCapped;
using report_syntax::BlockMode;
using report_syntax::Clean;
using report_syntax::DateField;
using report_syntax::DecodedBody;
using report_syntax::Entity;
using report_syntax::Field;
using report_syntax::Fields;
using report_syntax::Find;
using report_syntax::FirstTokenLower;
using report_syntax::Get;
using report_syntax::IsMultipart;
using report_syntax::IsWsp;
using report_syntax::kMaxInput;
using report_syntax::Lines;
using report_syntax::Lower;
using report_syntax::MessageIdOf;
using report_syntax::ParseEntity;
using report_syntax::ParseFields;
using report_syntax::SplitMultipart;
using report_syntax::StartsWithNoCase;
using report_syntax::StatusField;
using report_syntax::StatusInText;
using report_syntax::StripComments;
using report_syntax::StripType;
using report_syntax::Trim;

constexpr std::size_t kMaxRecipients = 1000;     // also for ARF lists
constexpr std::size_t kMaxOriginal = 256 << 10;  // decoded for its headers

// ---------------------------------------------------------------------------
// RFC 3834 automatic replies.

struct GFree {
  void operator()(gpointer p) const { g_free(p); }
};

std::string DecodedSubject(const Fields& headers) {
  const std::string* raw = Find(headers, "subject");
  if (raw == nullptr) return {};
  std::unique_ptr<char, GFree> text(
      g_mime_utils_header_decode_text(nullptr, raw->c_str()));
  return text ? Clean(text.get()) : std::string();
}

bool IsVacationSubject(std::string_view subject) {
  for (std::string_view prefix : {"Auto:", "Automatic reply:", "Out of Office",
                                  "Autoreply", "Auto-Reply"}) {
    if (StartsWithNoCase(subject, prefix)) return true;
  }
  return false;
}

// Auto-Submitted's keyword when not "no" (RFC 3834 5); without the field,
// "auto-replied" for the markers vacation programs set instead. An explicit
// "Auto-Submitted: no" is the sender's word and wins over a subject.
std::string AutoSubmitted(const Fields& headers) {
  if (const std::string* value = Find(headers, "auto-submitted")) {
    const std::string keyword = FirstTokenLower(StripComments(*value));
    return keyword == "no" ? std::string() : Clean(keyword);
  }
  const bool marked =
      Find(headers, "x-autoreply") != nullptr ||
      Find(headers, "x-autorespond") != nullptr ||
      FirstTokenLower(Get(headers, "precedence")) == "auto_reply" ||
      IsVacationSubject(DecodedSubject(headers));
  return marked ? "auto-replied" : "";
}

// ---------------------------------------------------------------------------
// RFC 3464 and RFC 5965 report bodies.

// Calls `block` for every header-like block of `text` (blank-line
// separated), junk lines skipped.
template <typename F>
void ForEachBlock(std::string_view text, F block) {
  while (!text.empty()) {
    const std::size_t before = text.size();
    const Fields fields = ParseFields(text, BlockMode::kReport, &text);
    if (!fields.empty()) block(fields);
    // ParseFields consumes at least a line of non-empty text; should it
    // ever not, stop rather than loop.
    if (text.size() >= before) break;
  }
}

std::optional<DsnRecipient> RecipientBlock(const Fields& fields) {
  DsnRecipient r;
  r.original_recipient = Address(Get(fields, "original-recipient"));
  r.final_recipient = Address(Get(fields, "final-recipient"));
  // Without Final-Recipient, the original address is the best name left.
  if (r.final_recipient.empty()) r.final_recipient = r.original_recipient;
  if (r.final_recipient.empty()) return std::nullopt;
  r.action = Clean(FirstTokenLower(Get(fields, "action")));
  r.status = StatusField(Get(fields, "status"));
  r.diagnostic = Clean(StripType(Get(fields, "diagnostic-code")));
  r.remote_mta = Clean(StripType(Get(fields, "remote-mta")));
  return r;
}

void ParseDeliveryStatus(std::string_view text, Report& report) {
  ForEachBlock(text, [&report](const Fields& fields) {
    // Per-message fields are taken from any block: some MTAs omit the
    // blank line between the per-message and the first recipient block.
    if (report.reporting_mta.empty()) {
      report.reporting_mta = Clean(StripType(Get(fields, "reporting-mta")));
    }
    if (report.original_envelope_id.empty()) {
      report.original_envelope_id = Clean(Get(fields, "original-envelope-id"));
    }
    if (report.recipients.size() >= kMaxRecipients) return;
    if (auto r = RecipientBlock(fields)) {
      report.recipients.push_back(std::move(*r));
    }
  });
}

void AddAll(const Fields& fields, std::string_view name,
            std::vector<std::string>& out, bool address) {
  for (const Field& f : fields) {
    if (f.name != name || out.size() >= kMaxRecipients) continue;
    std::string v = address ? Address(f.value) : Clean(f.value);
    if (!v.empty()) out.push_back(std::move(v));
  }
}

void ParseFeedback(std::string_view text, Report& report) {
  ForEachBlock(text, [&report](const Fields& fields) {
    if (report.feedback_type.empty()) {
      report.feedback_type =
          Clean(FirstTokenLower(Get(fields, "feedback-type")));
    }
    if (report.user_agent.empty()) {
      report.user_agent = Clean(Get(fields, "user-agent"));
    }
    if (report.original_mail_from.empty()) {
      report.original_mail_from = Address(Get(fields, "original-mail-from"));
    }
    if (report.arrival_date.empty()) {
      // Received-Date is the field's name in the drafts before RFC 5965,
      // still sent by some feedback loops.
      const std::string* date = Find(fields, "arrival-date");
      if (date == nullptr) date = Find(fields, "received-date");
      if (date != nullptr) report.arrival_date = DateField(*date);
    }
    AddAll(fields, "original-rcpt-to", report.original_rcpt_to, true);
    AddAll(fields, "source-ip", report.source_ip, false);
    AddAll(fields, "reported-domain", report.reported_domain, false);
  });
}

bool IsStatusType(std::string_view t) {
  return t == "message/delivery-status" ||
         t == "message/global-delivery-status";
}

bool IsOriginalType(std::string_view t) {
  return t == "message/rfc822" || t == "text/rfc822-headers" ||
         t == "message/global" || t == "message/global-headers";
}

// The Message-ID of a returned message or of its headers.
std::string OriginalMessageId(const Entity& original) {
  const std::string text = DecodedBody(original, kMaxOriginal);
  return MessageIdOf(ParseEntity(text).headers);
}

// The parts a report is made of, found at the top level or one multipart
// below it (a report forwarded inside multipart/mixed).
struct ReportParts {
  bool container = false;  // a multipart/report was found
  std::string report_type;
  std::vector<Entity> status;
  std::optional<Entity> feedback;
  std::optional<Entity> original;
};

void Classify(std::vector<Entity> parts, ReportParts& found) {
  for (Entity& part : parts) {
    const std::string& type = part.media.type;
    if (IsStatusType(type)) {
      found.status.push_back(std::move(part));
    } else if (type == "message/feedback-report") {
      if (!found.feedback) found.feedback = std::move(part);
    } else if (IsOriginalType(type)) {
      if (!found.original) found.original = std::move(part);
    }
  }
}

ReportParts FindReportParts(const Entity& top) {
  ReportParts found;
  if (IsStatusType(top.media.type)) {
    found.status.push_back(top);
    return found;
  }
  if (top.media.type == "message/feedback-report") {
    found.feedback = top;
    return found;
  }
  if (!IsMultipart(top)) return found;
  std::vector<Entity> parts = SplitMultipart(top);
  const Entity* container =
      top.media.type == "multipart/report" ? &top : nullptr;
  if (container == nullptr) {
    for (const Entity& part : parts) {
      if (part.media.type == "multipart/report") {
        container = &part;
        break;
      }
    }
  }
  if (container != nullptr) {
    found.container = true;
    found.report_type = container->media.report_type;
    if (container != &top) {
      Classify(SplitMultipart(*container), found);
      return found;
    }
  }
  Classify(std::move(parts), found);
  return found;
}

// Fills `report` from a standard report; false when there is none.
bool ParseStandardReport(const Entity& top, Report& report) {
  const ReportParts found = FindReportParts(top);
  const bool feedback_wanted = found.report_type == "feedback-report";
  const bool is_dsn =
      (!found.status.empty() && !(feedback_wanted && found.feedback)) ||
      (!found.feedback && found.report_type == "delivery-status");
  const bool is_arf = !is_dsn && (found.feedback || feedback_wanted);
  if (!is_dsn && !is_arf) return false;
  if (is_dsn) {
    report.kind = ReportKind::kDeliveryStatus;
    report.format = "rfc3464";
    for (const Entity& part : found.status) {
      ParseDeliveryStatus(DecodedBody(part), report);
    }
  } else {
    report.kind = ReportKind::kFeedback;
    report.format = "arf";
    if (found.feedback) ParseFeedback(DecodedBody(*found.feedback), report);
  }
  if (found.original)
    report.original_message_id = OriginalMessageId(*found.original);
  return true;
}

// ---------------------------------------------------------------------------
// Non-standard bounces.

bool LooksLikeBounceSender(const Fields& headers) {
  std::string return_path = StripComments(Get(headers, "return-path"));
  std::erase_if(return_path, [](char c) { return IsWsp(c); });
  if (return_path == "<>") return true;
  const std::string from = Lower(Get(headers, "from"));
  return from.find("mailer-daemon") != std::string::npos ||
         from.find("postmaster@") != std::string::npos ||
         from.find("mail delivery system") != std::string::npos ||
         from.find("mail delivery subsystem") != std::string::npos;
}

// The domain of the From address, which for a MAILER-DAEMON is usually the
// reporting host.
std::string FromDomain(const Fields& headers) {
  const std::string from = Address(Get(headers, "from"));
  const auto at = from.rfind('@');
  if (at == std::string::npos) return {};
  return Clean(from.substr(at + 1));
}

// The Message-ID in the headers at the start of `rest`, the quoted copy of
// the original after its marker line; leading blank lines skipped.
std::string QuotedMessageId(std::string_view rest) {
  Lines lines(rest);
  std::string_view line;
  std::size_t start = 0;
  while (lines.Next(line) && Trim(line).empty()) start = lines.pos();
  return MessageIdOf(ParseEntity(rest.substr(start)).headers);
}

void AddRecipient(Report& report, std::string address, std::string diagnostic,
                  std::string remote_mta, bool delayed) {
  if (address.empty() || report.recipients.size() >= kMaxRecipients) return;
  DsnRecipient r;
  r.final_recipient = std::move(address);
  r.action = delayed ? "delayed" : "failed";
  r.diagnostic = Clean(diagnostic);
  r.status = StatusInText(r.diagnostic);
  if (r.status.empty()) r.status = delayed ? "4.0.0" : "5.0.0";
  r.remote_mta = std::move(remote_mta);
  report.recipients.push_back(std::move(r));
}

// qmail-send's bounce (qmail-send.c): "<addr>:" paragraphs, all permanent
// failures: qmail sends no delay warnings.
bool ParseQmail(std::string_view text, Report& report) {
  constexpr std::string_view kIntro = "This is the qmail-send program at ";
  Lines lines(text);
  std::string_view line;
  std::optional<std::string> host;
  while (!host && lines.Next(line)) {
    const auto at = line.find(kIntro);
    if (at == std::string_view::npos) continue;
    std::string_view h = Trim(line.substr(at + kIntro.size()));
    if (!h.empty() && h.back() == '.') h.remove_suffix(1);
    host = Clean(h);
  }
  if (!host) return false;
  report.reporting_mta = std::move(*host);

  std::string address;
  std::string diagnostic;
  bool in_paragraph = false;
  while (lines.Next(line)) {
    if (line.starts_with("--- ")) {  // "--- Below this line is a copy..."
      report.original_message_id = QuotedMessageId(lines.Rest());
      break;
    }
    const auto close = line.find(">:");
    if (!line.empty() && line.front() == '<' &&
        close != std::string_view::npos) {
      AddRecipient(report, std::move(address), std::move(diagnostic), "",
                   false);
      address = Clean(line.substr(1, close - 1));
      diagnostic = std::string(Trim(line.substr(close + 2)));
      in_paragraph = true;
    } else if (Trim(line).empty()) {
      in_paragraph = false;
    } else if (in_paragraph) {
      AppendCapped(diagnostic, " ");
      AppendCapped(diagnostic, Trim(line));
    }
  }
  AddRecipient(report, std::move(address), std::move(diagnostic), "", false);
  report.kind = ReportKind::kDeliveryStatus;
  report.format = "qmail";
  return true;
}

bool IsEximCopyMarker(std::string_view line) {
  return line.starts_with("------ This is a copy of the message");
}

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

// Exim's own bounce and delay warning (exim's deliver.c): an indented list
// of addresses, each with more deeply indented explanation lines.
bool ParseExim(std::string_view text, const Fields& headers, Report& report) {
  Lines lines(text);
  std::string_view line;
  bool intro = false;
  std::optional<bool> delayed;
  while (!delayed && lines.Next(line)) {
    const std::string_view t = Trim(line);
    if (IsEximCopyMarker(t)) return false;
    if (t.find("created automatically by mail delivery software") !=
        std::string_view::npos) {
      intro = true;
    } else if (intro && !t.empty() && t.back() == ':') {
      if (t.find("failed:") != std::string_view::npos) delayed = false;
      if (t.find("not yet been delivered") != std::string_view::npos) {
        delayed = true;
      }
    }
  }
  if (!delayed) return false;

  std::string address;
  std::string diagnostic;
  std::string remote;
  while (lines.Next(line)) {
    const std::string_view t = Trim(line);
    if (IsEximCopyMarker(t)) {
      report.original_message_id = QuotedMessageId(lines.Rest());
      break;
    }
    if (t.empty()) continue;
    const std::size_t indent = Indent(line);
    if (indent == 0) break;  // the text after the list
    const std::string_view token = t.substr(0, t.find_first_of(" \t"));
    if (indent < 4 && token.find('@') != std::string_view::npos) {
      AddRecipient(report, std::move(address), std::move(diagnostic),
                   std::move(remote), *delayed);
      address = Address(token);
      if (!address.empty() && address.back() == ':') address.pop_back();
      diagnostic = std::string(Trim(t.substr(token.size())));
      remote.clear();
      continue;
    }
    if (address.empty()) continue;
    if (remote.empty() && t.starts_with("host ")) {
      const std::string_view host = Trim(t.substr(5));
      remote = Clean(host.substr(0, host.find_first_of(" \t[:")));
    }
    if (!diagnostic.empty()) AppendCapped(diagnostic, " ");
    AppendCapped(diagnostic, t);
  }
  AddRecipient(report, std::move(address), std::move(diagnostic),
               std::move(remote), *delayed);
  report.kind = ReportKind::kDeliveryStatus;
  report.format = "exim";
  report.reporting_mta = FromDomain(headers);
  return true;
}

// The human-readable text of a bounce (its first text/plain part when it is
// a multipart) and the returned original, when a part of its own.
void ParseNonStandardBounce(const Entity& top, Report& report) {
  if (!LooksLikeBounceSender(top.headers)) return;
  std::string text;
  std::optional<Entity> original;
  if (IsMultipart(top)) {
    for (Entity& part : SplitMultipart(top)) {
      if (part.media.type == "text/plain" && text.empty()) {
        text = DecodedBody(part);
      } else if (IsOriginalType(part.media.type) && !original) {
        original = std::move(part);
      }
    }
  } else if (top.media.type.compare(0, 5, "text/") == 0) {
    text = DecodedBody(top);
  }
  if (!ParseQmail(text, report) && !ParseExim(text, top.headers, report)) {
    return;
  }
  if (report.original_message_id.empty() && original) {
    report.original_message_id = OriginalMessageId(*original);
  }
}

}  // namespace

Report ParseReport(std::string_view raw) {
  InitMime();
  Report report;
  const Entity top = ParseEntity(raw.substr(0, kMaxInput));
  report.auto_submitted = AutoSubmitted(top.headers);
  if (!ParseStandardReport(top, report)) ParseNonStandardBounce(top, report);
  return report;
}

}  // namespace ldapmda
