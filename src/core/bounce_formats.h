// bounce_formats: what the per-family files of the non-standard formats
// (bounce_providers.cpp: mailbox providers and filtering appliances;
// bounce_mtas.cpp: mail servers) share -- signature tests on headers and
// text, and hooks several formats use. Internal to bounce_text.
#ifndef LDAPMDA_CORE_BOUNCE_FORMATS_H_
#define LDAPMDA_CORE_BOUNCE_FORMATS_H_

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/bounce_text.h"

namespace ldapmda::bounce_text {

// Signatures: From (lower case) contains; Subject starts with or contains
// (ASCII case ignored); a header contains; a Received header contains;
// the text contains.
bool FromHas(const BounceMessage& m, std::string_view s);
bool SubjectStarts(const BounceMessage& m, std::string_view s);
bool SubjectHas(const BounceMessage& m, std::string_view s);
bool HeaderHas(const BounceMessage& m, std::string_view name,
               std::string_view s);
bool ReceivedHas(const BounceMessage& m, std::string_view s);
bool TextHas(const BounceMessage& m, std::string_view s);

// Sets the reporting MTA to the host after `marker` (lower case) in the
// first lines of the text ("... at host NAME.").
void ReportingHostAfter(const BounceMessage& m, std::string_view marker,
                        Report& report);

// A refusal of the client (EHLO/HELO: "blocked") or of the sender (MAIL:
// `mail_reason`) is the reason, whatever the text says.
void HintFromCommand(Block& b, std::string_view mail_reason);

// The formats of each file, in the order they are tried.
std::span<const TextFormat> ProviderFormats();
std::span<const TextFormat> MtaFormats();

// Who writes words of its own into standard reports, and those words.
struct Words {
  bool (*detect)(const BounceMessage&);
  std::span<const HintPhrase> hints;
};
// The reason the words of the first of `table` that wrote `m` name for
// `r` (in its diagnostic, else in the report's text `about` it), "";
// nullopt when none of `table` wrote `m`.
std::optional<std::string> WordsFrom(std::span<const Words> table,
                                     const BounceMessage& m,
                                     const DsnRecipient& r,
                                     std::string_view about);

// ProviderHint (bounce_text.h) for the providers and for the MTAs that
// write words of their own into standard reports: nullopt when the
// report is from none of them.
std::optional<std::string> ProviderWords(const BounceMessage& m,
                                         const DsnRecipient& r,
                                         std::string_view about);
std::optional<std::string> MtaWords(const BounceMessage& m,
                                    const DsnRecipient& r,
                                    std::string_view about);

}  // namespace ldapmda::bounce_text

#endif  // LDAPMDA_CORE_BOUNCE_FORMATS_H_
