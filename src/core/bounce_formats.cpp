// bounce_formats: the order in which the non-standard formats are tried
// -- providers and appliances first (bounce_providers.cpp), then mail
// servers (bounce_mtas.cpp), then two generic readings -- and the helpers
// they share (bounce_formats.h).
#include "core/bounce_formats.h"

#include <vector>

#include "core/bounce_reason.h"

namespace ldapmda::bounce_text {

using report_syntax::Clean;
using report_syntax::Field;
using report_syntax::StartsWithNoCase;
using report_syntax::Trim;

// ---------------------------------------------------------------------------
// Signatures.

bool FromHas(const BounceMessage& m, std::string_view s) {
  return m.from.find(s) != std::string::npos;
}
bool SubjectStarts(const BounceMessage& m, std::string_view s) {
  return StartsWithNoCase(Trim(m.subject), s);
}
bool SubjectHas(const BounceMessage& m, std::string_view s) {
  return ContainsNoCase(m.subject, s);
}
bool HeaderHas(const BounceMessage& m, std::string_view name,
               std::string_view s) {
  return ContainsNoCase(m.Header(name), s);
}
bool ReceivedHas(const BounceMessage& m, std::string_view s) {
  for (const Field& f : *m.headers) {
    if (f.name == "received" && ContainsNoCase(f.value, s)) return true;
  }
  return false;
}
bool TextHas(const BounceMessage& m, std::string_view s) {
  return ContainsNoCase(m.text, s);
}

// ---------------------------------------------------------------------------
// Hooks shared by several formats.

// The reporting host a format's intro names ("... at host NAME.").
void ReportingHostAfter(const BounceMessage& m, std::string_view marker,
                        Report& report) {
  const std::string_view head = std::string_view(m.text).substr(0, 4096);
  const std::size_t at = report_syntax::Lower(head).find(marker);
  if (at == std::string::npos) return;
  std::string_view host = head.substr(at + marker.size());
  host = host.substr(0, host.find_first_of(" \t\r\n"));
  while (!host.empty() &&
         (host.back() == '.' || host.back() == ':' || host.back() == ',')) {
    host.remove_suffix(1);
  }
  if (host.find('.') != std::string_view::npos) {
    report.reporting_mta = Clean(host);
  }
}

// A refusal of the client or of the sender is the reason, whatever the
// text (qmail-remote, Exim and their relatives say which step failed).
void HintFromCommand(Block& b, std::string_view mail_reason) {
  const std::string command = SmtpCommandIn(b.diagnostic);
  if (command == "EHLO" || command == "HELO") b.hint = "blocked";
  if (command == "MAIL") b.hint = std::string(mail_reason);
}

std::optional<std::string> WordsFrom(std::span<const Words> table,
                                     const BounceMessage& m,
                                     const DsnRecipient& r,
                                     std::string_view about) {
  for (const Words& w : table) {
    if (!w.detect(m)) continue;
    const std::string_view hint = HintIn(r.diagnostic, w.hints);
    return std::string(hint.empty() ? HintIn(about, w.hints) : hint);
  }
  return std::nullopt;
}

namespace {

// ---------------------------------------------------------------------------
// Any bounce: RFC 3464 fields written into text (forwarded reports,
// gateways), then plain prose.

constexpr std::string_view kDsnTextStarts[] = {"final-recipient:"};

bool IsAnyBounce(const BounceMessage&) { return true; }

// Plain prose: a line that names an address the way bounces do. Only for
// a message with a bounce's sender and a second sign of one.
bool IsGenericBounce(const BounceMessage& m) {
  const bool second = HasBounceHeader(m) || m.has_original_part ||
                      m.empty_report || HasCopyMarker(m.text);
  const bool subject = HasBounceSubject(m);
  return (HasBounceSender(m) && (subject || second)) || (subject && second);
}

const TextFormat kGenericFormats[] = {
    {.name = "dsn-text",
     .detect = IsAnyBounce,
     .starts = kDsnTextStarts,
     .dsn_fields = true},
    {.name = "text",
     .detect = IsGenericBounce,
     .recipients = kAngle | kLabelled | kSendmail | kBare | kPhrase | kLeading,
     .continuation = Continuation::kAll},
};

}  // namespace

std::span<const TextFormat> Formats() {
  static const std::vector<TextFormat> formats = [] {
    std::vector<TextFormat> all;
    for (auto part : {ProviderFormats(), MtaFormats(),
                      std::span<const TextFormat>(kGenericFormats)}) {
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  }();
  return formats;
}

std::string ProviderHint(const BounceMessage& m, const DsnRecipient& r,
                         std::string_view about) {
  if (auto words = ProviderWords(m, r, about)) return *words;
  return MtaWords(m, r, about).value_or("");
}

}  // namespace ldapmda::bounce_text
