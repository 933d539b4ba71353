// text: the string helpers every part shares -- Directory String
// sanitising, the case folding LDAP matching rules use, ASCII lower case,
// generalizedTime both ways, and the SHA-256 digest of mdaKey. No MIME and
// no LDAP here.
#ifndef LDAPMDA_TEXT_H_
#define LDAPMDA_TEXT_H_

#include <cstddef>
#include <ctime>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace ldapmda {

// Longest header value kept, in bytes (cut at a UTF-8 boundary).
inline constexpr std::size_t kMaxHeaderValue = 1024;

// Makes `text` a Directory String value: invalid UTF-8 repaired, control
// characters turned into spaces, runs of white space collapsed, trimmed,
// cut to `max_bytes`. nullopt when nothing is left.
std::optional<std::string> SanitizeText(std::string_view text,
                                        std::size_t max_bytes);

// `text` (UTF-8) in a form where values that LDAP's caseIgnoreMatch
// takes for one are equal: NFKC-normalised and Unicode case-folded. It
// may merge a little more than slapd does, never less that we know of.
std::string FoldForMatching(std::string_view text);

// `t` as generalizedTime in UTC, "YYYYMMDDHHMMSSZ"; nullopt outside the
// years 1 to 9999.
std::optional<std::string> GeneralizedTime(std::time_t t);

// Lower-case hex SHA-256 of the concatenation of `parts`.
std::string Sha256Hex(std::initializer_list<std::string_view> parts);

// ASCII lower case (addresses: the key rule lower-cases the recipient).
std::string AsciiLower(std::string_view s);
// Whether `a` and `b` are equal in ASCII case-insensitive comparison
// (attribute names, keywords), without making copies.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// The generalizedTime "YYYYMMDDHHMMSSZ" as a time_t; nullopt if malformed.
std::optional<std::time_t> ParseGeneralizedTime(std::string_view text);

}  // namespace ldapmda

#endif  // LDAPMDA_TEXT_H_
