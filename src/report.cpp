// report: delivery status notifications, feedback reports, automatic
// replies and non-standard bounces (see report.h).
//
// The MIME structure is walked here rather than with GMime: only the top
// level and one nested multipart/report are of interest, the delivery-status
// and feedback-report bodies need a field parser of their own anyway, and a
// hand-written walk over string_views lets every step be capped (input size,
// parts, fields, value lengths) so that hostile input costs linear time and
// bounded memory. GMime is used only for dates and encoded-word subjects.
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

#include "ldapmda/message.h"

namespace ldapmda {
namespace {

// Work limits. A report puts its machine-readable parts first, so the
// first few MB hold everything worth reading even when a multi-megabyte
// original is returned with it.
constexpr std::size_t kMaxInput = std::size_t{4} << 20;
constexpr std::size_t kMaxParts = 100;           // per multipart
constexpr std::size_t kMaxFields = 1000;         // per header block
constexpr std::size_t kMaxRawValue = 8192;       // unfolded, before cleaning
constexpr std::size_t kMaxRecipients = 1000;     // also for ARF lists
constexpr std::size_t kMaxOriginal = 256 << 10;  // decoded for its headers

// ---------------------------------------------------------------------------
// Text helpers.

char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

bool IsWsp(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsWsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsWsp(s.back())) s.remove_suffix(1);
  return s;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (AsciiLower(s[i]) != AsciiLower(prefix[i])) return false;
  }
  return true;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A value as stored: one-line valid UTF-8, capped; "" when nothing is left.
std::string Clean(std::string_view text) {
  return SanitizeText(text, kMaxHeaderValue).value_or("");
}

// `s` without parenthesised comments (RFC 5322 CFWS, nesting allowed).
std::string StripComments(std::string_view s) {
  std::string out;
  int depth = 0;
  for (char c : s) {
    if (c == '(') {
      ++depth;
    } else if (c == ')' && depth > 0) {
      --depth;
    } else if (depth == 0) {
      out += c;
    }
  }
  return out;
}

// The leading token of `s` (up to white space, ';' or '('), lower case.
std::string FirstTokenLower(std::string_view s) {
  s = Trim(s);
  const auto end = s.find_first_of(" \t;(");
  return Lower(Trim(s.substr(0, end)));
}

// Splits text into lines without "\n" or "\r\n".
class Lines {
 public:
  explicit Lines(std::string_view text) : text_(text) {}

  bool Next(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    auto nl = text_.find('\n', pos_);
    if (nl == std::string_view::npos) nl = text_.size();
    line = text_.substr(pos_, nl - pos_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos_ = nl + 1;
    return true;
  }
  // Where the next line starts.
  std::size_t pos() const { return std::min(pos_, text_.size()); }
  std::string_view Rest() const { return text_.substr(pos()); }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// ---------------------------------------------------------------------------
// Header blocks: message and MIME part headers, and the header-like blocks
// of message/delivery-status (RFC 3464 2.1) and message/feedback-report.

struct Field {
  std::string name;   // lower case
  std::string value;  // unfolded, uncleaned
};
using Fields = std::vector<Field>;

enum class BlockMode {
  // Message or part headers: a line that is no field starts the body.
  kMessage,
  // A report block: junk lines (and their continuations) are skipped.
  kReport,
};

// "Name:" with a valid field name (printable ASCII, no space, RFC 5322
// 2.2); white space before the colon is tolerated (obsolete syntax).
std::optional<std::size_t> FieldColon(std::string_view line) {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view name = Trim(line.substr(0, colon));
  if (name.empty()) return std::nullopt;
  for (char c : name) {
    if (c <= ' ' || c > '~') return std::nullopt;
  }
  return colon;
}

void AppendCapped(std::string& value, std::string_view more) {
  if (value.size() >= kMaxRawValue) return;
  value.append(more.substr(0, kMaxRawValue - value.size()));
}

// Reads one header block from the start of `text`, up to and including the
// blank line that ends it; `*rest` is what follows.
Fields ParseFields(std::string_view text, BlockMode mode,
                   std::string_view* rest) {
  Fields fields;
  Lines lines(text);
  std::string_view line;
  std::size_t end = text.size();
  bool skipping = true;  // continuation lines of nothing kept
  for (std::size_t start = 0; lines.Next(line); start = lines.pos()) {
    if (Trim(line).empty()) {
      end = lines.pos();
      break;
    }
    if (IsWsp(line.front())) {
      if (!skipping) {
        AppendCapped(fields.back().value, " ");
        AppendCapped(fields.back().value, Trim(line));
      }
      continue;
    }
    const auto colon = FieldColon(line);
    if (!colon && mode == BlockMode::kMessage) {
      end = start;
      break;
    }
    skipping = !colon || fields.size() >= kMaxFields;
    if (skipping) continue;
    fields.push_back({Lower(Trim(line.substr(0, *colon))), {}});
    AppendCapped(fields.back().value, Trim(line.substr(*colon + 1)));
  }
  if (rest != nullptr) *rest = text.substr(end);
  return fields;
}

const std::string* Find(const Fields& fields, std::string_view name) {
  for (const Field& f : fields) {
    if (f.name == name) return &f.value;
  }
  return nullptr;
}

std::string_view Get(const Fields& fields, std::string_view name) {
  const std::string* v = Find(fields, name);
  return v == nullptr ? std::string_view() : std::string_view(*v);
}

// ---------------------------------------------------------------------------
// MIME entities.

struct MediaType {
  std::string type = "text/plain";  // lower case, RFC 2045 default
  std::string boundary;
  std::string report_type;  // lower case
};

// One "name=value" parameter, quotes and backslash escapes removed.
std::pair<std::string, std::string> ParseParameter(std::string_view param) {
  const auto eq = param.find('=');
  if (eq == std::string_view::npos) return {};
  std::string name = Lower(Trim(param.substr(0, eq)));
  std::string_view raw = Trim(param.substr(eq + 1));
  std::string value;
  if (!raw.empty() && raw.front() == '"') {
    for (std::size_t i = 1; i < raw.size() && raw[i] != '"'; ++i) {
      if (raw[i] == '\\' && i + 1 < raw.size()) ++i;
      value += raw[i];
    }
  } else {
    value = std::string(raw);
  }
  return {std::move(name), std::move(value)};
}

// Splits `s` at the semicolons outside quoted strings.
std::vector<std::string_view> SplitParameters(std::string_view s) {
  std::vector<std::string_view> out;
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && quoted) {
      ++i;
    } else if (s[i] == '"') {
      quoted = !quoted;
    } else if (s[i] == ';' && !quoted) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(s.substr(std::min(start, s.size())));
  return out;
}

MediaType ParseMediaType(const Fields& headers) {
  MediaType media;
  const std::string* value = Find(headers, "content-type");
  if (value == nullptr) return media;
  const std::vector<std::string_view> items = SplitParameters(*value);
  const std::string type = Lower(Trim(StripComments(items.front())));
  if (type.find('/') != std::string::npos) media.type = type;
  for (std::size_t i = 1; i < items.size(); ++i) {
    auto [name, param] = ParseParameter(items[i]);
    if (name == "boundary") media.boundary = std::move(param);
    if (name == "report-type") media.report_type = Lower(Trim(param));
  }
  return media;
}

struct Entity {
  Fields headers;
  MediaType media;
  std::string_view body;  // still transfer-encoded
};

Entity ParseEntity(std::string_view text) {
  // An mbox "From " line (top level, or an mbox-exported original) is no
  // header and would otherwise end the header block at once.
  if (text.substr(0, 5) == "From ") {
    Lines lines(text);
    std::string_view line;
    lines.Next(line);
    text = lines.Rest();
  }
  Entity entity;
  entity.headers = ParseFields(text, BlockMode::kMessage, &entity.body);
  entity.media = ParseMediaType(entity.headers);
  return entity;
}

bool IsMultipart(const Entity& e) {
  return e.media.type.compare(0, 10, "multipart/") == 0;
}

// The boundary of a multipart without a usable boundary parameter: the
// first line that looks like a delimiter ("--x", not the "-- " signature
// separator). Seen in the wild from old MTAs.
std::string InferBoundary(std::string_view body) {
  Lines lines(body);
  std::string_view line;
  while (lines.Next(line)) {
    line = Trim(line);
    if (line.size() > 2 && line.substr(0, 2) == "--" && !IsWsp(line[2])) {
      line.remove_prefix(2);
      if (line.size() > 2 && line.substr(line.size() - 2) == "--") {
        line.remove_suffix(2);
      }
      return std::string(line);
    }
  }
  return {};
}

// The body parts of `body` delimited by "--boundary" lines (RFC 2046
// 5.1.1). A missing close delimiter ends the last part at the end of the
// (capped) input.
std::vector<Entity> SplitAt(std::string_view body, std::string_view boundary) {
  std::vector<Entity> parts;
  const std::string delimiter = "--" + std::string(boundary);
  Lines lines(body);
  std::string_view line;
  std::optional<std::size_t> part_start;
  for (std::size_t start = 0; lines.Next(line); start = lines.pos()) {
    if (line.substr(0, delimiter.size()) != delimiter) continue;
    const std::string_view tail = Trim(line.substr(delimiter.size()));
    const bool close = tail.substr(0, 2) == "--";
    if (!tail.empty() && !close) continue;  // a longer boundary
    if (part_start) {
      // The line break before the delimiter belongs to the delimiter.
      std::size_t end = start;
      if (end > *part_start && body[end - 1] == '\n') --end;
      if (end > *part_start && body[end - 1] == '\r') --end;
      parts.push_back(ParseEntity(body.substr(*part_start, end - *part_start)));
      if (parts.size() >= kMaxParts) return parts;
    }
    if (close) return parts;
    part_start = lines.pos();
  }
  if (part_start) parts.push_back(ParseEntity(body.substr(*part_start)));
  return parts;
}

// The body parts of a multipart entity. When the boundary parameter is
// missing or never occurs, the first delimiter-like line is taken for it.
std::vector<Entity> SplitMultipart(const Entity& multipart) {
  const std::string& declared = multipart.media.boundary;
  if (!declared.empty()) {
    std::vector<Entity> parts = SplitAt(multipart.body, declared);
    if (!parts.empty()) return parts;
  }
  const std::string inferred = InferBoundary(multipart.body);
  if (inferred.empty() || inferred == declared) return {};
  return SplitAt(multipart.body, inferred);
}

// ---------------------------------------------------------------------------
// Content-Transfer-Encoding (RFC 2045 6), lenient: junk is skipped.

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (IsDigit(c)) return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::string DecodeBase64(std::string_view in) {
  std::string out;
  out.reserve(in.size() / 4 * 3);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = Base64Value(c);
    if (v < 0) continue;
    acc = ((acc << 6) | static_cast<std::uint32_t>(v)) & 0xFFFFFFu;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFFu);
    }
  }
  return out;
}

int HexValue(char c) {
  if (IsDigit(c)) return c - '0';
  c = AsciiLower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string DecodeQuotedPrintable(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '=') {
      out += in[i];
      continue;
    }
    std::size_t j = i + 1;
    while (j < in.size() && (in[j] == ' ' || in[j] == '\t')) ++j;
    if (j < in.size() && in[j] == '\r') ++j;
    if (j < in.size() && in[j] == '\n') {  // soft line break
      i = j;
      continue;
    }
    const int hi = i + 1 < in.size() ? HexValue(in[i + 1]) : -1;
    const int lo = i + 2 < in.size() ? HexValue(in[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      out += '=';
      continue;
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// The body of `e` without its transfer encoding, from at most `max` input
// bytes.
std::string DecodedBody(const Entity& e, std::size_t max = kMaxInput) {
  const std::string_view body = e.body.substr(0, max);
  const std::string cte = FirstTokenLower(
      StripComments(Get(e.headers, "content-transfer-encoding")));
  if (cte == "base64") return DecodeBase64(body);
  if (cte == "quoted-printable") return DecodeQuotedPrintable(body);
  return std::string(body);
}

// ---------------------------------------------------------------------------
// Values of report fields.

// `value` without a leading "type;" (address-type, diagnostic-type,
// mta-name-type of RFC 3464 2.1.2), trimmed.
std::string_view StripType(std::string_view value) {
  const auto semi = value.find(';');
  if (semi == std::string_view::npos) return Trim(value);
  const std::string_view type = Trim(value.substr(0, semi));
  for (char c : type) {
    const bool atom = IsDigit(c) ||
                      (AsciiLower(c) >= 'a' && AsciiLower(c) <= 'z') ||
                      c == '-' || c == '_' || c == '.';
    if (!atom) return Trim(value);
  }
  return Trim(value.substr(semi + 1));
}

// An address without type, comment and < >.
std::string Address(std::string_view value) {
  const std::string_view typed = StripType(value);
  const auto open = typed.find('<');
  if (open != std::string_view::npos) {
    const auto close = typed.find('>', open);
    if (close != std::string_view::npos) {
      return Clean(typed.substr(open + 1, close - open - 1));
    }
  }
  return Clean(StripComments(typed));
}

// Whether `s` is a status code, class "." subject "." detail (RFC 3463).
bool IsStatusCode(std::string_view s) {
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') ||
      s[1] != '.') {
    return false;
  }
  std::size_t digits = 0;
  int dots = 0;
  for (char c : s.substr(2)) {
    if (IsDigit(c)) {
      if (++digits > 3) return false;
    } else if (c == '.' && digits > 0 && ++dots == 1) {
      digits = 0;
    } else {
      return false;
    }
  }
  return dots == 1 && digits > 0;
}

// The Status field's code, without trailing comments or text; "" if bad.
std::string StatusField(std::string_view value) {
  value = Trim(value);
  std::size_t n = 0;
  while (n < value.size() && (IsDigit(value[n]) || value[n] == '.')) ++n;
  const std::string_view code = value.substr(0, n);
  return IsStatusCode(code) ? std::string(code) : std::string();
}

// The first enhanced status code in free text ("550 5.1.1 ...", "(#5.1.2)"),
// not part of a longer dotted number such as an IP address.
std::string StatusInText(std::string_view text) {
  for (std::size_t i = 0; i + 5 <= text.size(); ++i) {
    if (i > 0 && (IsDigit(text[i - 1]) || text[i - 1] == '.')) continue;
    std::size_t n = i;
    while (n < text.size() && (IsDigit(text[n]) || text[n] == '.')) ++n;
    if (n == i) continue;
    std::string_view code = text.substr(i, n - i);
    // A sentence may end right after the code.
    if (code.back() == '.') code.remove_suffix(1);
    if (IsStatusCode(code)) return std::string(code);
    i = n - 1;  // skip the rest of this dotted number
  }
  return {};
}

std::string MessageIdOf(const Fields& headers) {
  return Address(Get(headers, "message-id"));
}

struct GDateTimeUnref {
  void operator()(GDateTime* d) const { g_date_time_unref(d); }
};

// An RFC 5322 date as generalizedTime; "" when GMime cannot parse it.
std::string DateField(std::string_view value) {
  const std::string text(Trim(value));
  if (text.empty()) return {};
  std::unique_ptr<GDateTime, GDateTimeUnref> date(
      g_mime_utils_header_decode_date(text.c_str()));
  if (!date) return {};
  return GeneralizedTime(
             static_cast<std::time_t>(g_date_time_to_unix(date.get())))
      .value_or("");
}

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
    if (text.size() >= before)
      break;  // no progress: cannot happen, but
              // never loop on it
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
    if (line.substr(0, 4) == "--- ") {  // "--- Below this line is a copy..."
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
  return line.substr(0, 35) == "------ This is a copy of the message";
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
    if (remote.empty() && t.substr(0, 5) == "host ") {
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
  InitMessageLibrary();
  Report report;
  const Entity top = ParseEntity(raw.substr(0, kMaxInput));
  report.auto_submitted = AutoSubmitted(top.headers);
  if (!ParseStandardReport(top, report)) ParseNonStandardBounce(top, report);
  return report;
}

}  // namespace ldapmda
