// message: header extraction with GMime 3 (see message.h).
#include "ldapmda/message.h"

#include <glib.h>
#include <gmime/gmime.h>

#include <algorithm>
#include <exception>
#include <memory>

#include "core/mime.h"

namespace ldapmda {
namespace {

// RAII for GObjects and g_malloc'ed memory.
struct GObjectUnref {
  void operator()(gpointer p) const { g_object_unref(p); }
};
template <typename T>
using GObjectPtr = std::unique_ptr<T, GObjectUnref>;

struct GFree {
  void operator()(gpointer p) const { g_free(p); }
};
using GString = std::unique_ptr<char, GFree>;

struct ParserOptionsFree {
  void operator()(GMimeParserOptions* p) const {
    g_mime_parser_options_free(p);
  }
};

// The header block only: everything up to the first empty line. GMime then
// never sees (or copies) a multi-megabyte body it has no use for here.
std::string_view HeaderBlock(std::string_view raw) {
  // An mbox "From " line is not a header; GMime would stop at it.
  if (raw.substr(0, 5) == "From ") {
    const auto nl = raw.find('\n');
    raw =
        nl == std::string_view::npos ? std::string_view() : raw.substr(nl + 1);
  }
  for (std::size_t pos = 0; pos < raw.size();) {
    const auto nl = raw.find('\n', pos);
    if (nl == std::string_view::npos) break;
    const auto line = raw.substr(pos, nl - pos);
    if (line.empty() || line == "\r") return raw.substr(0, pos);
    pos = nl + 1;
  }
  return raw;
}

std::optional<std::string> Clean(const char* text) {
  if (text == nullptr) return std::nullopt;
  return SanitizeText(text, kMaxHeaderValue);
}

// The decoded address list of `header`; when GMime cannot parse it into
// addresses, the decoded header text, so that searches still find it.
std::optional<std::string> Addresses(GMimeMessage* message, const char* header,
                                     InternetAddressList* list,
                                     GMimeParserOptions* options) {
  if (list != nullptr && internet_address_list_length(list) > 0) {
    GString text(internet_address_list_to_string(list, nullptr, FALSE));
    if (auto clean = Clean(text.get())) return clean;
  }
  const char* raw = g_mime_object_get_header(GMIME_OBJECT(message), header);
  if (raw == nullptr) return std::nullopt;
  GString decoded(g_mime_utils_header_decode_text(options, raw));
  return Clean(decoded.get());
}

}  // namespace

void InitMessageLibrary() { InitMime(); }

std::string ReturnPathSender(std::string_view raw) {
  std::size_t pos = 0;
  while (pos < raw.size()) {
    const std::size_t eol = std::min(raw.find('\n', pos), raw.size());
    std::string_view line = raw.substr(pos, eol - pos);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) break;  // the end of the header
    if (line.size() > 12 && AsciiLower(line.substr(0, 12)) == "return-path:") {
      std::string_view v = line.substr(12);
      const std::size_t open = v.find('<'), close = v.rfind('>');
      if (open != std::string_view::npos && close != std::string_view::npos &&
          open < close) {
        return std::string(v.substr(open + 1, close - open - 1));
      }
      v.remove_prefix(std::min(v.find_first_not_of(" \t"), v.size()));
      return std::string(v.substr(0, v.find_first_of(" \t")));
    }
    pos = eol + 1;
  }
  return "";
}

std::vector<std::string> DeliveredToAddresses(std::string_view raw) {
  constexpr std::string_view kName = "delivered-to";
  std::vector<std::string> found;
  std::string* value = nullptr;  // the header being unfolded, if ours
  std::size_t pos = 0;
  while (pos < raw.size()) {
    const std::size_t eol = std::min(raw.find('\n', pos), raw.size());
    std::string_view line = raw.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) break;  // the end of the header section
    if (line.front() == ' ' || line.front() == '\t') {
      if (value != nullptr) value->append(line);  // a folded value
      continue;
    }
    const std::size_t colon = line.find(':');
    // Not a header (nor an mbox "From " line, as Postfix writes none
    // here): the body has begun.
    if (colon == std::string_view::npos || colon == 0) break;
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) {
      name.remove_suffix(1);
    }
    value = nullptr;
    if (EqualsIgnoreCase(name, kName)) {
      value = &found.emplace_back(line.substr(colon + 1));
    }
  }
  for (std::string& v : found) {
    const std::size_t first = v.find_first_not_of(" \t");
    const std::size_t last = v.find_last_not_of(" \t");
    v = first == std::string::npos
            ? ""
            : AsciiLower(v.substr(first, last - first + 1));
  }
  return found;
}

MessageInfo ParseMessage(std::string_view raw) {
  InitMessageLibrary();
  MessageInfo info;
  info.size = raw.size();

  const std::string_view headers = HeaderBlock(raw);
  // No header bytes at all (empty input, or only an mbox "From " line):
  // nothing to parse, and GMime refuses a NULL buffer.
  if (headers.empty()) return info;
  // Recognising a report is a convenience: a parser fault must not keep
  // the message from being stored (as ordinary mail, then).
  try {
    info.report = ParseReport(raw);
  } catch (const std::exception&) {
    info.report = Report{};
  }
  GObjectPtr<GMimeStream> stream(
      g_mime_stream_mem_new_with_buffer(headers.data(), headers.size()));
  GObjectPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);

  // Be as lenient as GMime allows: real mail breaks every rule, and 8-bit
  // headers in a legacy charset are more likely windows-1252 than anything.
  std::unique_ptr<GMimeParserOptions, ParserOptionsFree> options(
      g_mime_parser_options_new());
  g_mime_parser_options_set_rfc2047_compliance_mode(options.get(),
                                                    GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_address_compliance_mode(options.get(),
                                                    GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_allow_addresses_without_domain(options.get(), TRUE);
  const char* fallback[] = {"UTF-8", "windows-1252", nullptr};
  g_mime_parser_options_set_fallback_charsets(options.get(), fallback);

  GObjectPtr<GMimeMessage> message(
      g_mime_parser_construct_message(parser.get(), options.get()));
  if (!message) return info;  // Not even headers: the raw bytes suffice.

  if (const char* id = g_mime_message_get_message_id(message.get())) {
    info.message_id = SanitizeText(id, kMaxHeaderValue);
  }
  info.subject = Clean(g_mime_message_get_subject(message.get()));
  info.from = Addresses(message.get(), "From",
                        g_mime_message_get_from(message.get()), options.get());
  info.to = Addresses(message.get(), "To", g_mime_message_get_to(message.get()),
                      options.get());
  info.cc = Addresses(message.get(), "Cc", g_mime_message_get_cc(message.get()),
                      options.get());
  if (GDateTime* date = g_mime_message_get_date(message.get())) {
    info.date = GeneralizedTime(g_date_time_to_unix(date));
  }
  return info;
}

}  // namespace ldapmda
