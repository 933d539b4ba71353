// text: see text.h. Unicode work is GLib's, SHA-256 nettle's.
#include "ldapmda/text.h"

#include <glib.h>
#include <nettle/sha2.h>

#include <cstdint>
#include <memory>

namespace ldapmda {
namespace {

struct GFree {
  void operator()(gpointer p) const { g_free(p); }
};
using GString = std::unique_ptr<char, GFree>;

bool IsControl(gunichar c) { return c < 0x20 || (c >= 0x7F && c < 0xA0); }

char AsciiLowerChar(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

std::optional<std::string> SanitizeText(std::string_view text,
                                        std::size_t max_bytes) {
  // NUL would end the C string below; it is a control character anyway.
  std::string bytes(text);
  for (char& c : bytes) {
    if (c == '\0') c = ' ';
  }
  GString valid(
      g_utf8_make_valid(bytes.data(), static_cast<gssize>(bytes.size())));
  std::string out;
  bool space = false;
  for (const char* p = valid.get(); *p != '\0'; p = g_utf8_next_char(p)) {
    const gunichar c = g_utf8_get_char(p);
    if (IsControl(c) || g_unichar_isspace(c)) {
      space = !out.empty();
      continue;
    }
    const char* next = g_utf8_next_char(p);
    const auto len = static_cast<std::size_t>(next - p);
    if (out.size() + (space ? 1 : 0) + len > max_bytes) break;
    if (space) out += ' ';
    space = false;
    out.append(p, len);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::string FoldForMatching(std::string_view text) {
  // GLib wants valid UTF-8; SanitizeText's values always are.
  GString valid(
      g_utf8_make_valid(text.data(), static_cast<gssize>(text.size())));
  GString normal(g_utf8_normalize(valid.get(), -1, G_NORMALIZE_ALL));
  if (!normal) return valid.get();
  GString folded(g_utf8_casefold(normal.get(), -1));
  return folded.get();
}

std::optional<std::string> GeneralizedTime(std::time_t t) {
  struct tm tm {};
  if (gmtime_r(&t, &tm) == nullptr || tm.tm_year + 1900 < 1 ||
      tm.tm_year + 1900 > 9999) {
    return std::nullopt;
  }
  char buf[32];
  if (std::strftime(buf, sizeof buf, "%Y%m%d%H%M%SZ", &tm) != 15) {
    return std::nullopt;
  }
  return std::string(buf);
}

std::string Sha256Hex(std::initializer_list<std::string_view> parts) {
  sha256_ctx ctx;
  sha256_init(&ctx);
  for (std::string_view part : parts) {
    sha256_update(&ctx, part.size(),
                  reinterpret_cast<const std::uint8_t*>(part.data()));
  }
  std::uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx, sizeof digest, digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * sizeof digest);
  for (const std::uint8_t b : digest) {
    hex += kHex[b >> 4];
    hex += kHex[b & 15];
  }
  return hex;
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLowerChar(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (AsciiLowerChar(a[i]) != AsciiLowerChar(b[i])) return false;
  }
  return true;
}

std::optional<std::time_t> ParseGeneralizedTime(std::string_view text) {
  if (text.size() != 15 || text.back() != 'Z') return std::nullopt;
  int v[6] = {};
  const int widths[6] = {4, 2, 2, 2, 2, 2};
  std::size_t pos = 0;
  for (int i = 0; i < 6; ++i) {
    for (int k = 0; k < widths[i]; ++k, ++pos) {
      const char c = text[pos];
      if (c < '0' || c > '9') return std::nullopt;
      v[i] = v[i] * 10 + (c - '0');
    }
  }
  std::tm tm{};
  tm.tm_year = v[0] - 1900;
  tm.tm_mon = v[1] - 1;
  tm.tm_mday = v[2];
  tm.tm_hour = v[3];
  tm.tm_min = v[4];
  tm.tm_sec = v[5];
  return timegm(&tm);
}

}  // namespace ldapmda
