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

#include "core/auto_reply.h"
#include "core/bounce_text.h"
#include "core/dsn_fields.h"
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
using report_syntax::DecodedText;
using report_syntax::Entity;
using report_syntax::Field;
using report_syntax::Fields;
using report_syntax::Find;
using report_syntax::FirstTokenLower;
using report_syntax::ForEachBlock;
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
using report_syntax::TypeOf;

constexpr std::size_t kMaxRecipients = 1000;     // also for ARF lists
constexpr std::size_t kMaxOriginal = 256 << 10;  // decoded for its headers
constexpr std::size_t kMaxText = 256 << 10;      // of a human-readable part

// ---------------------------------------------------------------------------
// RFC 3464 and RFC 5965 report bodies.

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

// The To addresses of a returned message or of its headers.
std::vector<std::string> OriginalTo(const Entity& original) {
  const std::string text = DecodedBody(original, kMaxOriginal);
  std::vector<std::string> out;
  for (std::string& a :
       bounce_text::AddressesIn(Get(ParseEntity(text).headers, "to"), 100)) {
    std::string clean = Clean(a);
    if (!clean.empty()) out.push_back(std::move(clean));
  }
  return out;
}

// The parts a report is made of, found at the top level or one multipart
// below it (a report forwarded inside multipart/mixed).
struct ReportParts {
  bool container = false;  // a multipart/report was found
  std::string report_type;
  std::vector<Entity> status;
  std::optional<Entity> feedback;
  std::optional<Entity> original;
  std::optional<Entity> text;  // the first text/plain: the human part
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
    } else if (type == "text/plain") {
      if (!found.text) found.text = std::move(part);
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

// What the formats of bounce_text read: the headers, then (only for what
// looks like a bounce) the text and the returned original.
bounce_text::BounceMessage Describe(const Entity& top,
                                    std::string_view envelope) {
  bounce_text::BounceMessage m;
  m.headers = &top.headers;
  m.from = Lower(Get(top.headers, "from"));
  m.subject = std::string(Get(top.headers, "subject"));
  if (m.subject.find("=?") != std::string::npos) {
    m.subject = DecodedSubject(top.headers);
  }
  m.envelope = Lower(envelope);
  return m;
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
  if (is_arf && found.original)
    report.original_to = OriginalTo(*found.original);
  if (is_dsn) {
    const bounce_text::BounceMessage m = Describe(top, "");
    bounce_text::ClassifyRecipients(
        report, found.text ? DecodedText(*found.text, kMaxText) : std::string(),
        &m);
  }
  return true;
}

// ---------------------------------------------------------------------------
// Non-standard bounces.

// HTML as text: tags gone, ends of blocks as line ends, a few entities.
std::string HtmlText(std::string_view html) {
  std::string out;
  for (std::size_t i = 0; i < html.size(); ++i) {
    if (html[i] == '<') {
      const std::size_t close = html.find('>', i);
      if (close == std::string_view::npos) break;
      std::string name =
          Lower(html.substr(i + 1, std::min<std::size_t>(close - i - 1, 6)));
      name = name.substr(0, name.find_first_of(" \t\r\n>"));
      for (std::string_view block :
           {"br", "br/", "p", "/p", "div", "/div", "tr", "/tr", "li", "/li",
            "/h1", "/h2", "/h3", "/table"}) {
        if (name == block) out += '\n';
      }
      i = close;
      continue;
    }
    if (html[i] == '&') {
      bool known = false;
      for (auto [entity, text] :
           {std::pair<std::string_view, char>{"&nbsp;", ' '},
            {"&lt;", '<'},
            {"&gt;", '>'},
            {"&amp;", '&'},
            {"&quot;", '"'},
            {"&#39;", '\''}}) {
        if (html.substr(i).starts_with(entity)) {
          out += text;
          i += entity.size() - 1;
          known = true;
          break;
        }
      }
      if (known) continue;
    }
    out += html[i];
  }
  return out;
}

// The parts a bounce is read from, the top level and two multiparts down
// (multipart/mixed holding multipart/alternative).
struct BounceParts {
  std::optional<Entity> text;
  std::optional<Entity> html;
  std::optional<Entity> original;
};

void FindBounceParts(const Entity& e, int depth, BounceParts& found) {
  if (!IsMultipart(e)) {
    const std::string& type = e.media.type;
    if (type == "text/plain" && !found.text) found.text = e;
    if (type == "text/html" && !found.html) found.html = e;
    if (IsOriginalType(type) && !found.original) found.original = e;
    return;
  }
  if (depth >= 3) return;
  for (Entity& part : SplitMultipart(e))
    FindBounceParts(part, depth + 1, found);
}

// Reads `top` as a bounce without a delivery-status part, if it looks like
// one (bounce_text.h).
void ParseNonStandardBounce(const Entity& top, std::string_view envelope,
                            Report& report) {
  bounce_text::BounceMessage m = Describe(top, envelope);
  m.empty_report = report.kind == ReportKind::kDeliveryStatus;
  // Ordinary mail stops here, after a look at three headers.
  if (!bounce_text::HasBounceSender(m) && !bounce_text::HasBounceSubject(m)) {
    return;
  }
  BounceParts parts;
  FindBounceParts(top, 0, parts);
  m.has_original_part = parts.original.has_value();
  if (parts.text) {
    m.text = DecodedText(*parts.text, kMaxText);
  } else if (parts.html) {
    m.text = HtmlText(DecodedText(*parts.html, kMaxText));
  }
  if (!bounce_text::LooksLikeBounce(m)) return;
  if (parts.original) m.original = DecodedBody(*parts.original, kMaxOriginal);
  Report found;
  found.auto_submitted = report.auto_submitted;
  if (!bounce_text::ParseBounceText(m, found)) return;
  report = std::move(found);
}

// The sender of an mbox "From " line at the start of `raw`, or "".
std::string_view EnvelopeSender(std::string_view raw) {
  if (!raw.starts_with("From ")) return {};
  const std::string_view rest = raw.substr(5, 512);
  return rest.substr(0, rest.find_first_of(" \t\r\n"));
}

}  // namespace

Report ParseReport(std::string_view raw) {
  InitMime();
  Report report;
  const Entity top = ParseEntity(raw.substr(0, kMaxInput));
  report.auto_submitted = AutoSubmitted(top.headers);
  const bool standard = ParseStandardReport(top, report);
  // A report whose delivery-status part names nobody may still say who in
  // its text (a gateway's, a broken one).
  if (!standard || (report.kind == ReportKind::kDeliveryStatus &&
                    report.recipients.empty())) {
    ParseNonStandardBounce(top, EnvelopeSender(raw), report);
  }
  return report;
}

}  // namespace ldapmda
