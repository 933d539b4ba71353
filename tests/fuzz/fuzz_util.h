// Shared helpers of the libFuzzer harnesses: invariant checks that abort
// (so that libFuzzer records a crash with the input), and the properties
// every Directory String value ldapmda produces must have.
#ifndef LDAPMDA_TESTS_FUZZ_FUZZ_UTIL_H_
#define LDAPMDA_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace ldapmda::fuzz {

// Prints what went wrong (with a quoted excerpt of `detail`) and aborts.
[[noreturn]] inline void Fail(const char* file, int line, const char* what,
                              std::string_view detail) {
  std::string quoted;
  for (char ch : detail.substr(0, 400)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      quoted += ch;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      quoted += buf;
    }
  }
  if (detail.size() > 400) quoted += "...";
  std::fprintf(stderr, "%s:%d: invariant failed: %s\n  value: \"%s\"\n", file,
               line, what, quoted.c_str());
  std::abort();
}

#define FUZZ_CHECK(cond, detail)                                  \
  do {                                                            \
    if (!(cond)) {                                                \
      ::ldapmda::fuzz::Fail(__FILE__, __LINE__, #cond, (detail)); \
    }                                                             \
  } while (false)

// Decodes the UTF-8 character at `s[*pos]` strictly (no overlong forms,
// surrogates or code points above U+10FFFF) and advances `*pos`; nullopt
// when the bytes there are not valid UTF-8.
inline std::optional<char32_t> NextUtf8(std::string_view s, std::size_t* pos) {
  const auto byte = [&](std::size_t i) {
    return static_cast<unsigned char>(s[i]);
  };
  const std::size_t i = *pos;
  const unsigned char b0 = byte(i);
  std::size_t len;
  char32_t cp;
  if (b0 < 0x80) {
    *pos = i + 1;
    return b0;
  } else if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0Fu;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07u;
  } else {
    return std::nullopt;
  }
  if (i + len > s.size()) return std::nullopt;
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (byte(i + k) & 0x3Fu);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return std::nullopt;
  }
  *pos = i + len;
  return cp;
}

inline bool IsValidUtf8(std::string_view s) {
  for (std::size_t pos = 0; pos < s.size();) {
    if (!NextUtf8(s, &pos)) return false;
  }
  return true;
}

// C0, DEL and C1: what SanitizeText turns into spaces.
inline bool IsControl(char32_t c) {
  return c < 0x20 || (c >= 0x7F && c < 0xA0);
}

// White space other than U+0020 that GLib's g_unichar_isspace knows and
// SanitizeText must have collapsed (Unicode Zs, Zl, Zp).
inline bool IsOtherSpace(char32_t c) {
  return c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// What message.h promises of every header value and SanitizeText result:
// non-empty, valid UTF-8, no control characters, white space collapsed to
// single spaces and trimmed, at most `max_bytes`.
inline void CheckDirectoryString(const std::string& v, std::size_t max_bytes,
                                 const char* what) {
  if (v.empty()) Fail(__FILE__, __LINE__, what, "empty value");
  if (v.size() > max_bytes) Fail(__FILE__, __LINE__, what, v);
  if (v.front() == ' ' || v.back() == ' ') Fail(__FILE__, __LINE__, what, v);
  if (v.find("  ") != std::string::npos) Fail(__FILE__, __LINE__, what, v);
  for (std::size_t pos = 0; pos < v.size();) {
    const auto c = NextUtf8(v, &pos);
    if (!c) Fail(__FILE__, __LINE__, what, v);
    if (IsControl(*c) || IsOtherSpace(*c)) Fail(__FILE__, __LINE__, what, v);
  }
}

// ASCII lower case, independently of the code under test.
inline std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace ldapmda::fuzz

#endif  // LDAPMDA_TESTS_FUZZ_FUZZ_UTIL_H_
