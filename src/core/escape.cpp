// escape: see escape.h.
#include "ldapmda/escape.h"

#include <array>

#include "ldapmda/text.h"

namespace ldapmda {
namespace {

constexpr std::array<char, 16> kHex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                       '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};

void AppendHex(std::string& out, unsigned char c) {
  out += '\\';
  out += kHex[c >> 4];
  out += kHex[c & 0x0F];
}

bool IsPrintableAscii(unsigned char c) { return c >= 0x20 && c < 0x7F; }

}  // namespace

std::string EscapeFilterValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (!IsPrintableAscii(c) || c == '*' || c == '(' || c == ')' || c == '\\') {
      AppendHex(out, c);
    } else {
      out += ch;
    }
  }
  return out;
}

std::string EscapeDnValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    const bool edge_space = c == ' ' && (i == 0 || i + 1 == value.size());
    if (!IsPrintableAscii(c)) {
      AppendHex(out, c);
    } else if (edge_space || (c == '#' && i == 0) || c == ',' || c == '+' ||
               c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' ||
               c == '=') {
      out += '\\';
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string ValidateQueryFilter(std::string_view filter, bool need_local_part) {
  if (filter.empty()) return "the filter is empty";
  for (std::size_t i = 0; i < filter.size(); ++i) {
    if (filter[i] != '%') continue;
    if (i + 1 == filter.size()) return "the filter ends with a lone %";
    const char next = filter[++i];
    if (next != 's' && next != 'u' && next != 'd' && next != '%') {
      return std::string("the filter has unsupported %") + next +
             " (use %s, %u, %d or %%)";
    }
  }
  if (need_local_part && filter.find("%s") == std::string_view::npos &&
      filter.find("%u") == std::string_view::npos) {
    return "the filter uses neither %s nor %u";
  }
  if (!need_local_part && filter.find("%s") == std::string_view::npos &&
      filter.find("%u") == std::string_view::npos &&
      filter.find("%d") == std::string_view::npos) {
    return "the filter uses none of %s, %u or %d";
  }
  return "";
}

std::optional<std::string> ExpandQueryFilter(std::string_view filter,
                                             const Address& address) {
  const std::string& local = address.local;
  const std::string& domain = address.domain;
  std::string out;
  for (std::size_t i = 0; i < filter.size(); ++i) {
    if (filter[i] != '%' || i + 1 == filter.size()) {
      out += filter[i];
      continue;
    }
    switch (filter[++i]) {
      case 's':
        out += EscapeFilterValue(address.text);
        break;
      case 'u':
        out += EscapeFilterValue(local);
        break;
      case 'd':
        if (domain.empty()) return std::nullopt;
        out += EscapeFilterValue(domain);
        break;
      default:
        out += filter[i];
        break;
    }
  }
  return out;
}

std::string ValidateMailboxDn(std::string_view tmpl) {
  if (AsciiLower(tmpl.substr(0, 3)) != "cn=") {
    return "mailbox_dn must start with cn= (objectClass mdaMailbox names "
           "its container by cn)";
  }
  std::string_view rest = tmpl;
  while (!rest.empty()) {
    const auto open = rest.find('{');
    if (open == std::string_view::npos) break;
    const auto close = rest.find('}', open);
    if (close == std::string_view::npos) return "mailbox_dn has an open {";
    const auto name = rest.substr(open + 1, close - open - 1);
    if (name != "dn" && name != "address" && name != "user" &&
        name != "domain") {
      return "mailbox_dn has unknown placeholder {" + std::string(name) +
             "} (use {dn}, {address}, {user} or {domain})";
    }
    rest = rest.substr(close + 1);
  }
  return "";
}

std::string ExpandMailboxDn(std::string_view tmpl, std::string_view entry_dn,
                            const Address& address) {
  std::string out;
  // Set when a placeholder expanded to nothing right after an '=': the
  // template's next character then starts the value, where '#' (a hex
  // value) or ' ' would change its meaning (RFC 4514 2.4), so it is
  // escaped. Found by fuzz_address: {domain} of an address without one.
  bool value_start = false;
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    const auto close = tmpl.find('}', i);
    if (tmpl[i] != '{' || close == std::string_view::npos) {
      if (value_start && (tmpl[i] == '#' || tmpl[i] == ' ')) out += '\\';
      value_start = false;
      out += tmpl[i];
      continue;
    }
    const std::size_t before = out.size();
    const auto name = tmpl.substr(i + 1, close - i - 1);
    if (name == "dn") {
      out += entry_dn;
    } else if (name == "address") {
      out += EscapeDnValue(address.text);
    } else if (name == "user") {
      out += EscapeDnValue(address.local);
    } else if (name == "domain") {
      out += EscapeDnValue(address.domain);
    } else {
      out += tmpl.substr(i, close - i + 1);
    }
    value_start = out.size() == before && !out.empty() && out.back() == '=';
    i = close;
  }
  return out;
}

}  // namespace ldapmda
