// bounce_lines: the grammar of the lines of a bounce notice that name a
// recipient ("<a@b>:", "Recipient address: a@b", "550 <a@b>... User
// unknown"...), addresses in header values, and the host a notice names
// (bounce_text.h).
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bounce_text.h"

namespace ldapmda::bounce_text {

using report_syntax::Clean;
using report_syntax::IsMailAddress;
using report_syntax::IsWsp;
using report_syntax::StartsWithNoCase;
using report_syntax::Trim;

namespace {
bool IsAlnum(char c) {
  return report_syntax::IsDigit(c) || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z');
}
}  // namespace

// ---------------------------------------------------------------------------
// Addresses.

namespace {

// `s` without one pair of surrounding quotes or angle brackets and
// without trailing punctuation.
std::string_view Unwrapped(std::string_view s) {
  s = Trim(s);
  // "(a@b)" in prose, or half of it
  if (s.ends_with(")") && s.find('(') == std::string_view::npos) {
    s.remove_suffix(1);
  }
  if (s.starts_with("(") && s.find(')') == std::string_view::npos) {
    s.remove_prefix(1);
  }
  if (s.size() >= 2 && s.front() == '(' && s.back() == ')') {
    s = s.substr(1, s.size() - 2);
  }
  while (!s.empty() && (s.back() == ':' || s.back() == ',' || s.back() == ';' ||
                        s.back() == '.')) {
    s.remove_suffix(1);
  }
  for (int i = 0; i < 2; ++i) {
    if (s.size() >= 2 && ((s.front() == '"' && s.back() == '"') ||
                          (s.front() == '\'' && s.back() == '\'') ||
                          (s.front() == '<' && s.back() == '>'))) {
      s = Trim(s.substr(1, s.size() - 2));
    }
  }
  return s;
}

// The address in angle brackets at the start of `s`, and what follows.
std::optional<RecipientLine> AngleAt(std::string_view s) {
  if (s.empty() || s.front() != '<') return std::nullopt;
  const std::size_t close = s.find('>');
  if (close == std::string_view::npos) return std::nullopt;
  const std::string_view address = Trim(s.substr(1, close - 1));
  if (!IsMailAddress(address)) return std::nullopt;
  return RecipientLine{std::string(address),
                       std::string(Trim(s.substr(close + 1)))};
}

// Labels after which a line names the failed recipient.
constexpr std::string_view kLabels[] = {
    "recipient address:",
    "recipient:",
    "original recipient:",
    "failed recipient:",
    "intended recipient:",
    "addressed to:",
    "rcpt to:",
    "to address:",
    "final-recipient: rfc822;",
    "unable to deliver message to:",
    "unable to deliver message to",
    "could not be delivered to:",
    "undeliverable to",
    "undeliverable address:",
    "invalid recipient:",
    "delivery failed:",
    "address:",
};

std::optional<RecipientLine> Labelled(std::string_view line) {
  // "undeliverable  to a@b": labels are matched with single spaces.
  std::string squeezed;
  for (char c : line) {
    if (IsWsp(c) && !squeezed.empty() && squeezed.back() == ' ') continue;
    squeezed += IsWsp(c) ? ' ' : c;
  }
  const std::string_view t = squeezed;
  for (std::string_view label : kLabels) {
    if (!StartsWithNoCase(t, label)) continue;
    std::string_view rest = Trim(t.substr(label.size()));
    if (auto angle = AngleAt(rest)) return angle;
    const std::size_t end = rest.find_first_of(" \t,");
    const std::string_view address = Unwrapped(rest.substr(0, end));
    if (!IsMailAddress(address)) return std::nullopt;
    return RecipientLine{
        std::string(address),
        std::string(end == std::string_view::npos ? ""
                                                  : Trim(rest.substr(end)))};
  }
  return std::nullopt;
}

// "550 <a@b>... User unknown", "<a@b>... Deferred".
std::optional<RecipientLine> SendmailStyle(std::string_view t) {
  std::string_view s = t;
  if (s.size() > 4 && report_syntax::IsDigit(s[0]) &&
      report_syntax::IsDigit(s[1]) && report_syntax::IsDigit(s[2]) &&
      (s[3] == ' ' || s[3] == '-')) {
    s = Trim(s.substr(4));
    // "550 5.1.1 <a@b>... User unknown"
    if (!s.empty() && report_syntax::IsDigit(s[0]) && s.find(' ') != s.npos &&
        s.find('.') < s.find(' ')) {
      s = Trim(s.substr(s.find(' ')));
    }
  }
  const std::size_t dots = s.find("...");
  if (dots == std::string_view::npos) return std::nullopt;
  const std::string_view address = Unwrapped(s.substr(0, dots));
  if (!IsMailAddress(address)) return std::nullopt;
  return RecipientLine{std::string(address), std::string(Trim(t))};
}

}  // namespace

namespace {

// Phrases after which prose names the failed recipient (generic bounces).
constexpr std::string_view kAddressPhrases[] = {
    "your message to ",
    "you sent mail to ",
    "the following message to ",
    "could not be delivered to ",
    "could not be delivered to: ",
    "failed to deliver to ",
    "delivery to the following recipient failed permanently: ",
    "did not reach the following recipient: ",
    "mailbox is full: ",
    "error-for: ",
    "rejected recipient ",
    "the following recipients returned permanent errors: ",
    "originally addressed to ",
    "has reached our local address ",
    "addressed to ",
};

std::optional<RecipientLine> AfterPhrase(std::string_view t) {
  for (std::string_view phrase : kAddressPhrases) {
    for (std::size_t i = 0; i + phrase.size() <= t.size(); ++i) {
      if (!StartsWithNoCase(t.substr(i), phrase)) continue;
      const std::string_view rest = Trim(t.substr(i + phrase.size()));
      if (auto angle = AngleAt(rest)) {
        return RecipientLine{angle->address, std::string(t)};
      }
      const std::size_t end = rest.find_first_of(" \t,");
      const std::string_view address = Unwrapped(rest.substr(0, end));
      if (IsMailAddress(address)) {
        return RecipientLine{std::string(address), std::string(t)};
      }
    }
  }
  return std::nullopt;
}

// "<a@b> (expanded from <c@d>): text", "<a@b>   (reason)", "<a@b>: text".
std::optional<RecipientLine> AngleLine(std::string_view t) {
  if (StartsWithNoCase(t, "to:")) t = Trim(t.substr(3));
  auto r = AngleAt(t);
  if (!r) return std::nullopt;
  std::string_view rest = r->rest;
  if (StartsWithNoCase(rest, "(expanded from")) {
    const std::size_t close = rest.find(')');
    rest = close == std::string_view::npos ? "" : Trim(rest.substr(close + 1));
  }
  if (rest.starts_with(":") || rest.starts_with("...")) {
    rest = Trim(rest.substr(rest.starts_with(":") ? 1 : 3));
  } else if (rest.starts_with("(") && rest.ends_with(")")) {
    rest = Trim(rest.substr(1, rest.size() - 2));
  } else if (!rest.empty()) {
    return std::nullopt;  // an address inside a sentence
  }
  return RecipientLine{r->address, std::string(rest)};
}

}  // namespace

std::optional<RecipientLine> RecipientOn(std::string_view line,
                                         unsigned forms) {
  std::string_view t = Trim(line);
  // Exim: "an undisclosed address" with "(generated from a@b)" below; the
  // format's hook puts the address in.
  if ((forms & kBare) && t == "an undisclosed address") {
    return RecipientLine{std::string(t), ""};
  }
  if (t.empty() || t.find('@') == std::string_view::npos) return std::nullopt;
  if (forms & kSendmail) {
    if (auto r = SendmailStyle(t)) return r;
  }
  if (forms & kLabelled) {
    if (auto r = Labelled(t)) return r;
  }
  if (forms & kAngle) {
    if (auto r = AngleLine(t)) return r;
  }
  if (forms & kMailto) {
    const std::size_t mailto = t.find("<mailto:");
    if (mailto != std::string_view::npos) {
      const std::string_view address = Unwrapped(t.substr(0, mailto));
      if (IsMailAddress(address))
        return RecipientLine{std::string(address), ""};
    }
  }
  if (forms & kBare) {
    std::string_view s = t;
    for (std::string_view bullet : {"* ", "- ", "o "}) {
      if (s.starts_with(bullet)) s = Trim(s.substr(bullet.size()));
    }
    const std::string_view address = Unwrapped(s);
    if (IsMailAddress(address)) return RecipientLine{std::string(address), ""};
    // "\"Name\" <a@b>": a mailbox and nothing else.
    const std::size_t open = s.find('<');
    if (open != std::string_view::npos && s.starts_with("\"") &&
        s.ends_with(">") && s.substr(0, open).find_last_of('"') > 0) {
      if (auto r = AngleAt(s.substr(open))) return r;
    }
  }
  if (forms & kLeading) {
    const std::size_t end = t.find_first_of(" \t");
    if (end != std::string_view::npos) {
      std::string_view first = Unwrapped(t.substr(0, end));
      std::string_view rest = Trim(t.substr(end));
      // Exchange 5.5: "c=US;a= ;p=X;dda:SMTP=a@b; on 4/29/99 ...".
      const std::size_t smtp = t.find("SMTP=");
      if (smtp != std::string_view::npos) {
        const std::string_view from = t.substr(smtp + 5);
        const std::size_t stop = from.find_first_of("; \t");
        first = Unwrapped(from.substr(0, stop));
        rest =
            stop == std::string_view::npos ? "" : Trim(from.substr(stop + 1));
        if (rest.empty()) rest = "on";
      }
      if (IsMailAddress(first) && !rest.empty()) {
        if (rest.front() == ':') rest = Trim(rest.substr(1));
        return RecipientLine{std::string(first), std::string(rest)};
      }
    }
  }
  if (forms & kTrailing) {
    const std::size_t colon = t.rfind(':');
    if (colon != std::string_view::npos && colon > 0) {
      const std::string_view address = Unwrapped(t.substr(colon + 1));
      if (IsMailAddress(address)) {
        return RecipientLine{std::string(address),
                             std::string(Trim(t.substr(0, colon)))};
      }
    }
  }
  if (forms & kEmbedded) {
    for (std::size_t open = t.find('<'); open != std::string_view::npos;
         open = t.find('<', open + 1)) {
      if (auto r = AngleAt(t.substr(open))) {
        return RecipientLine{r->address, std::string(t)};
      }
    }
  }
  if (forms & kPhrase) {
    if (auto r = AfterPhrase(t)) return r;
  }
  return std::nullopt;
}

std::vector<std::string> AddressesIn(std::string_view value, std::size_t max) {
  std::vector<std::string> out;
  std::size_t start = 0;
  bool quoted = false;
  int angle = 0;
  for (std::size_t i = 0; i <= value.size() && out.size() < max; ++i) {
    const char c = i < value.size() ? value[i] : ',';
    if (c == '"') quoted = !quoted;
    if (c == '<') ++angle;
    if (c == '>' && angle > 0) --angle;
    if ((c != ',' && c != ';') || quoted || angle > 0) continue;
    std::string_view item = Trim(value.substr(start, i - start));
    start = i + 1;
    const std::size_t open = item.rfind('<');
    if (open != std::string_view::npos) item = item.substr(open);
    const std::string_view address = Unwrapped(item);
    if (IsMailAddress(address)) out.emplace_back(address);
  }
  return out;
}

std::string RemoteHostIn(std::string_view text) {
  struct Marker {
    std::string_view before;
    std::string_view stops;
  };
  constexpr Marker kMarkers[] = {
      {"remote system: dns;", " \t\r\n("},
      {"remote-mta: dns;", " \t\r\n("},
      {"generating server:", " \t\r\n"},
      {"host: ", " \t\r\n([:"},
      {"host ", " \t\r\n[:"},
      {"giving up on ", " \t\r\n"},
      {"connected to ", " \t\r\n"},
  };
  for (const Marker& m : kMarkers) {
    for (std::size_t i = 0; i + m.before.size() <= text.size(); ++i) {
      if (!StartsWithNoCase(text.substr(i), m.before)) continue;
      if (i > 0 && IsAlnum(text[i - 1])) continue;
      std::string_view host = Trim(text.substr(i + m.before.size()));
      host = host.substr(0, host.find_first_of(m.stops));
      while (!host.empty() && (host.back() == '.' || host.back() == ',')) {
        host.remove_suffix(1);
      }
      if (host.find('.') != std::string_view::npos && host.size() < 256 &&
          !host.starts_with("[")) {
        return Clean(host);
      }
    }
  }
  return {};
}

}  // namespace ldapmda::bounce_text
