// report_syntax: see report_syntax.h.
#include "core/report_syntax.h"

#include <gmime/gmime.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <utility>

#include "ldapmda/text.h"

namespace ldapmda::report_syntax {

namespace {
constexpr std::size_t kMaxParts = 100;      // per multipart
constexpr std::size_t kMaxFields = 1000;    // per header block
constexpr std::size_t kMaxRawValue = 8192;  // unfolded, before cleaning
}  // namespace

// ---------------------------------------------------------------------------
// Text helpers.

namespace {
char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
}  // namespace

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

// ---------------------------------------------------------------------------
// Header blocks: message and MIME part headers, and the header-like blocks
// of message/delivery-status (RFC 3464 2.1) and message/feedback-report.

namespace {
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
}  // namespace

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

namespace {
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
}  // namespace

namespace {
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
}  // namespace

namespace {
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
    if (name == "charset") media.charset = Lower(Trim(param));
  }
  return media;
}
}  // namespace

Entity ParseEntity(std::string_view text) {
  // An mbox "From " line (top level, or an mbox-exported original) is no
  // header and would otherwise end the header block at once.
  if (text.starts_with("From ")) {
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

namespace {
// The boundary of a multipart without a usable boundary parameter: the
// first line that looks like a delimiter ("--x", not the "-- " signature
// separator). Seen in the wild from old MTAs.
std::string InferBoundary(std::string_view body) {
  Lines lines(body);
  std::string_view line;
  while (lines.Next(line)) {
    line = Trim(line);
    if (line.size() > 2 && line.starts_with("--") && !IsWsp(line[2])) {
      line.remove_prefix(2);
      if (line.size() > 2 && line.substr(line.size() - 2) == "--") {
        line.remove_suffix(2);
      }
      return std::string(line);
    }
  }
  return {};
}
}  // namespace

namespace {
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
    const bool close = tail.starts_with("--");
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
}  // namespace

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

namespace {
int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (IsDigit(c)) return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

namespace {
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
}  // namespace

namespace {
int HexValue(char c) {
  if (IsDigit(c)) return c - '0';
  c = AsciiLower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}
}  // namespace

namespace {
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
}  // namespace

// The body of `e` without its transfer encoding, from at most `max` input
// bytes.
std::string DecodedBody(const Entity& e, std::size_t max) {
  const std::string_view body = e.body.substr(0, max);
  const std::string cte = FirstTokenLower(
      StripComments(Get(e.headers, "content-transfer-encoding")));
  if (cte == "base64") return DecodeBase64(body);
  if (cte == "quoted-printable") return DecodeQuotedPrintable(body);
  return std::string(body);
}

std::string DecodedText(const Entity& e, std::size_t max) {
  std::string text = DecodedBody(e, max);
  const std::string& charset = e.media.charset;
  if (charset.empty() || charset == "utf-8" || charset == "us-ascii" ||
      text.empty()) {
    return text;
  }
  // GMime knows the aliases mail uses ("unicode-1-1-utf-7", "x-sjis"...).
  const char* from = g_mime_charset_iconv_name(charset.c_str());
  gsize written = 0;
  std::unique_ptr<gchar, decltype(&g_free)> utf8(
      g_convert_with_fallback(text.data(), static_cast<gssize>(text.size()),
                              "UTF-8", from, "?", nullptr, &written, nullptr),
      &g_free);
  if (utf8 == nullptr) return text;  // a charset iconv does not know
  return std::string(utf8.get(), written);
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

std::string TypeOf(std::string_view value) {
  const std::string_view rest = StripType(value);
  const std::string_view trimmed = Trim(value);
  if (rest.size() == trimmed.size()) return {};
  return Lower(Trim(trimmed.substr(0, trimmed.find(';'))));
}

bool IsMailAddress(std::string_view s) {
  if (s.size() < 3 || s.size() > 254) return false;
  const std::size_t at = s.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= s.size()) {
    return false;
  }
  for (char c : s.substr(0, at)) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '<' || c == '>' ||
        c == '(' || c == ')' || c == ',' || c == ';' || c == ':' || c == '[' ||
        c == ']' || c == '"' || c == '\\' || c == '@') {
      return false;
    }
  }
  const std::string_view domain = s.substr(at + 1);
  if (domain.front() == '[') return domain.back() == ']';
  if (domain.find('.') == std::string_view::npos || domain.front() == '.' ||
      domain.back() == '.' || domain.front() == '-') {
    return false;
  }
  bool alpha = false;
  for (char c : domain) {
    const bool letter = AsciiLower(c) >= 'a' && AsciiLower(c) <= 'z';
    if (!IsDigit(c) && !letter && c != '-' && c != '.' && c != '_' &&
        static_cast<unsigned char>(c) < 0x80) {
      return false;
    }
    alpha = alpha || (!IsDigit(c) && c != '.');
  }
  return alpha || domain.front() == '[';
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

namespace {
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
}  // namespace

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
  // The one a server marks as such wins: "(#5.1.1)" (qmail), then one
  // after a reply code ("550 5.1.1", "550-5.1.1"), then the first.
  std::string_view best;
  int best_rank = 3;
  for (std::size_t i = 0; i + 5 <= text.size(); ++i) {
    if (i > 0 && (IsDigit(text[i - 1]) || text[i - 1] == '.')) continue;
    std::size_t n = i;
    while (n < text.size() && (IsDigit(text[n]) || text[n] == '.')) ++n;
    if (n == i) continue;
    std::string_view code = text.substr(i, n - i);
    // A sentence may end right after the code.
    if (code.back() == '.') code.remove_suffix(1);
    if (IsStatusCode(code)) {
      const std::string_view before = text.substr(0, i);
      const bool hash = before.ends_with("#");
      const std::string_view reply = before.substr(
          before.size() - std::min<std::size_t>(before.size(), hash ? 5 : 4));
      const bool after_reply = reply.size() >= 4 && IsDigit(reply[0]) &&
                               IsDigit(reply[1]) && IsDigit(reply[2]) &&
                               (reply[3] == ' ' || reply[3] == '-');
      const int rank = before.ends_with("(#") ? 0 : after_reply ? 1 : 2;
      if (rank < best_rank) {
        best = code;
        best_rank = rank;
        if (rank == 0) break;
      }
    }
    i = n - 1;  // skip the rest of this dotted number
  }
  return std::string(best);
}

std::string MessageIdOf(const Fields& headers) {
  return Address(Get(headers, "message-id"));
}

namespace {
struct GDateTimeUnref {
  void operator()(GDateTime* d) const { g_date_time_unref(d); }
};
}  // namespace

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

}  // namespace ldapmda::report_syntax
