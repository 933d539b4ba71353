// mbox: the mboxrd writer and reader (see mbox.h).
#include "ldapmbox/mbox.h"

#include <array>
#include <cstdio>

#include "ldapmda/escape.h"
#include "ldapmda/text.h"

namespace ldapmda {
namespace {

constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                              "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr",
                                                 "May", "Jun", "Jul", "Aug",
                                                 "Sep", "Oct", "Nov", "Dec"};
constexpr std::size_t kAscTimeSize = 24;  // "Thu Nov  5 09:03:07 2026"

// Whether `line` matches ^>*"From " with at least `min_quotes` '>'.
bool IsQuotedFrom(std::string_view line, std::size_t min_quotes) {
  const std::size_t i = line.find_first_not_of('>');
  return i != std::string_view::npos && i >= min_quotes &&
         line.substr(i).starts_with("From ");
}

// Calls `f` with each line of `text`, line end included.
template <typename F>
void ForEachLine(std::string_view text, F f) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t eol = text.find('\n', pos);
    const std::size_t next =
        eol == std::string_view::npos ? text.size() : eol + 1;
    f(text.substr(pos, next - pos));
    pos = next;
  }
}

// Parses `digits` (all decimal digits) into `out`.
bool Number(std::string_view digits, int* out) {
  if (digits.empty()) return false;
  int n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  *out = n;
  return true;
}

int IndexOf(const auto& names, std::string_view name) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (name == names[i]) return static_cast<int>(i);
  }
  return -1;
}

// A sender fit for the "From " line: one line, never empty.
std::string FromLineSender(std::string_view sender) {
  if (sender.empty() || sender == "<>") return kMailerDaemon;
  std::string s(sender);
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '_';
  }
  return s;
}

std::string ReadSender(std::string_view word) {
  if (word.size() >= 2 && word.front() == '<' && word.back() == '>') {
    word = word.substr(1, word.size() - 2);
  }
  if (EqualsIgnoreCase(word, kMailerDaemon)) return "";
  return std::string(word);
}

// Takes the separator (and the newline a marked message got) off the
// content `c` of a message; false when they are not there.
bool StripTrailer(std::string_view* c, bool no_final_newline) {
  const std::size_t n = c->size();
  if (n >= 1 && c->back() == '\n' && (n == 1 || (*c)[n - 2] == '\n')) {
    c->remove_suffix(1);
  } else if (n >= 2 && c->ends_with("\r\n") &&
             (n == 2 || (*c)[n - 3] == '\n')) {
    c->remove_suffix(2);  // an mbox with CRLF line ends throughout
  } else {
    return false;
  }
  if (!no_final_newline) return true;
  if (c->empty() || c->back() != '\n') return false;
  c->remove_suffix(1);
  return true;
}

}  // namespace

std::string AscTime(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s %s %2d %02d:%02d:%02d %d",
                kDays[static_cast<std::size_t>(tm.tm_wday) % 7],
                kMonths[static_cast<std::size_t>(tm.tm_mon) % 12], tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
  return buf;
}

std::optional<std::time_t> ParseAscTime(std::string_view s) {
  if (s.size() != kAscTimeSize || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' ||
      s[13] != ':' || s[16] != ':' || s[19] != ' ') {
    return std::nullopt;
  }
  std::tm tm{};
  int day = 0;
  const std::string_view day_text =
      s[8] == ' ' ? s.substr(9, 1) : s.substr(8, 2);
  if (IndexOf(kDays, s.substr(0, 3)) < 0 ||
      (tm.tm_mon = IndexOf(kMonths, s.substr(4, 3))) < 0 ||
      !Number(day_text, &day) || !Number(s.substr(11, 2), &tm.tm_hour) ||
      !Number(s.substr(14, 2), &tm.tm_min) ||
      !Number(s.substr(17, 2), &tm.tm_sec) ||
      !Number(s.substr(20, 4), &tm.tm_year)) {
    return std::nullopt;
  }
  if (day < 1 || day > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return std::nullopt;
  }
  tm.tm_mday = day;
  tm.tm_year -= 1900;
  return timegm(&tm);
}

std::string MboxFromLine(std::string_view sender, std::time_t t,
                         bool no_final_newline) {
  std::string line = "From " + FromLineSender(sender) + " " + AscTime(t);
  if (no_final_newline) line += std::string(" ") + kNoFinalNewline;
  return line + "\n";
}

std::string MboxQuote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 64);
  ForEachLine(text, [&](std::string_view line) {
    if (IsQuotedFrom(line, 0)) out += '>';
    out += line;
  });
  return out;
}

std::string MboxUnquote(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  ForEachLine(text, [&](std::string_view line) {
    out += IsQuotedFrom(line, 1) ? line.substr(1) : line;
  });
  return out;
}

std::string FormatMboxMessage(std::string_view sender, std::time_t t,
                              std::string_view raw) {
  const bool no_final_newline = !raw.empty() && raw.back() != '\n';
  std::string out = MboxFromLine(sender, t, no_final_newline);
  out += MboxQuote(raw);
  if (no_final_newline) out += '\n';
  out += '\n';  // the empty line that ends every message
  return out;
}

FromLine ParseFromLine(std::string_view rest) {
  FromLine from;
  while (!rest.empty() && (rest.back() == '\r' || rest.back() == '\n')) {
    rest.remove_suffix(1);
  }
  const std::string marker = std::string(" ") + kNoFinalNewline;
  if (rest.ends_with(marker)) {
    from.no_final_newline = true;
    rest.remove_suffix(marker.size());
  }
  // Ours: "SENDER DATE", where SENDER may hold spaces ("a b"@example).
  if (rest.size() > kAscTimeSize &&
      rest[rest.size() - kAscTimeSize - 1] == ' ') {
    if (auto t = ParseAscTime(rest.substr(rest.size() - kAscTimeSize))) {
      from.time = t;
      std::string_view sender = rest.substr(0, rest.size() - kAscTimeSize - 1);
      while (sender.ends_with(' ')) sender.remove_suffix(1);
      from.sender = ReadSender(sender);
      return from;
    }
  }
  // Others: "SENDER DATE [timezone] [remote from HOST]".
  const std::size_t space = rest.find(' ');
  from.sender = ReadSender(rest.substr(0, space));
  if (space != std::string_view::npos) {
    std::string_view date = rest.substr(space);
    date.remove_prefix(std::min(date.find_first_not_of(' '), date.size()));
    from.time = ParseAscTime(date.substr(0, kAscTimeSize));
  }
  return from;
}

std::vector<MboxMessage> ParseMbox(std::string_view data) {
  std::vector<MboxMessage> messages;
  if (data.empty()) return messages;
  if (!data.starts_with("From ")) {
    throw MboxError(
        "line 1: not an mbox file: it must start with a \"From \" line");
  }
  std::size_t content_start = 0;
  FromLine from;
  std::size_t from_line = 0;
  const auto finish = [&](std::size_t end) {
    std::string_view content = data.substr(content_start, end - content_start);
    if (!StripTrailer(&content, from.no_final_newline)) {
      throw MboxError("line " + std::to_string(from_line) + ": message " +
                      std::to_string(messages.size() + 1) +
                      " does not end with an empty line: the file is cut "
                      "short or is not an mbox file");
    }
    messages.push_back({from.sender, from.time, content, from_line});
  };
  std::size_t pos = 0;
  std::size_t line_no = 1;
  ForEachLine(data, [&](std::string_view line) {
    if (line.starts_with("From ")) {
      if (from_line != 0) finish(pos);
      from = ParseFromLine(line.substr(5));
      from_line = line_no;
      content_start = pos + line.size();
    }
    pos += line.size();
    ++line_no;
  });
  finish(data.size());
  return messages;
}

}  // namespace ldapmda
