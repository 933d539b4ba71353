// report_syntax: the lexical layer of the report parser (report.h):
// lines, header blocks (message and MIME part headers, and the header-like
// blocks of message/delivery-status and message/feedback-report), MIME
// entities and transfer encodings, and the value syntaxes of report fields
// (typed addresses, status codes, dates). Everything works on
// string_views of the input and is capped, so that hostile input costs
// linear time and bounded memory. Internal to ParseReport.
#ifndef LDAPMDA_REPORT_SYNTAX_H_
#define LDAPMDA_REPORT_SYNTAX_H_

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ldapmda::report_syntax {

// Work limits. A report puts its machine-readable parts first, so the
// first few MB hold everything worth reading even when a multi-megabyte
// original is returned with it.
constexpr std::size_t kMaxInput = std::size_t{4} << 20;

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

struct MediaType {
  std::string type = "text/plain";  // lower case, RFC 2045 default
  std::string boundary;
  std::string report_type;  // lower case
  std::string charset;      // lower case, "" when not given
};

struct Entity {
  Fields headers;
  MediaType media;
  std::string_view body;  // still transfer-encoded
};

// Text helpers. ASCII case only: field names and keywords are ASCII.
std::string Lower(std::string_view s);
bool IsWsp(char c);  // space, tab or CR
std::string_view Trim(std::string_view s);
bool StartsWithNoCase(std::string_view s, std::string_view prefix);
bool IsDigit(char c);
// A value as stored: one-line valid UTF-8, capped; "" when nothing is left.
std::string Clean(std::string_view text);
// `s` without parenthesised comments (RFC 5322 CFWS, nesting allowed).
std::string StripComments(std::string_view s);
// The leading token of `s` (up to white space, ';' or '('), lower case.
std::string FirstTokenLower(std::string_view s);

// Appends `more` to `value` up to the cap on raw field values.
void AppendCapped(std::string& value, std::string_view more);

// Reads one header block from the start of `text`, up to and including the
// blank line that ends it; `*rest` (when not null) is what follows.
Fields ParseFields(std::string_view text, BlockMode mode,
                   std::string_view* rest);
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
// The first field `name` (lower case), or null / "".
const std::string* Find(const Fields& fields, std::string_view name);
std::string_view Get(const Fields& fields, std::string_view name);

// The headers, media type and body of `text`; an mbox "From " first line
// is skipped.
Entity ParseEntity(std::string_view text);
bool IsMultipart(const Entity& e);
// The body parts of a multipart entity, at most a hundred. When the
// boundary parameter is missing or never occurs, the first delimiter-like
// line is taken for it.
std::vector<Entity> SplitMultipart(const Entity& multipart);
// The body of `e` without its transfer encoding (base64, quoted-printable;
// lenient: junk is skipped), from at most `max` input bytes.
std::string DecodedBody(const Entity& e, std::size_t max = kMaxInput);
// DecodedBody() of a text part, converted to UTF-8 from its charset
// (ISO-2022-JP, windows-1251, UTF-7...) when that is neither UTF-8 nor
// US-ASCII and known; bytes that do not convert become '?'. Unchanged
// when the charset is unknown.
std::string DecodedText(const Entity& e, std::size_t max = kMaxInput);

// Values of report fields.
// `value` without a leading "type;" (address-type, diagnostic-type,
// mta-name-type of RFC 3464 2.1.2), trimmed.
std::string_view StripType(std::string_view value);
// The type StripType removes, lower case; "" when there is none.
std::string TypeOf(std::string_view value);
// Whether `s` (no < >) is a plausible mail address: a local part without
// spaces or specials, "@", a domain with a dot (or a [literal]).
bool IsMailAddress(std::string_view s);
// An address without type, comment and < >.
std::string Address(std::string_view value);
// The Status field's code, class.subject.detail (RFC 3463), without
// trailing comments or text; "" if bad.
std::string StatusField(std::string_view value);
// The first enhanced status code in free text ("550 5.1.1 ...", "(#5.1.2)"),
// not part of a longer dotted number such as an IP address; "" if none.
std::string StatusInText(std::string_view text);
// The Message-ID of `headers`, without < >.
std::string MessageIdOf(const Fields& headers);
// An RFC 5322 date as generalizedTime; "" when GMime cannot parse it.
std::string DateField(std::string_view value);

}  // namespace ldapmda::report_syntax

#endif  // LDAPMDA_REPORT_SYNTAX_H_
