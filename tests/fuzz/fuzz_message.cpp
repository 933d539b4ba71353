// libFuzzer harness: ParseMessage (GMime header extraction, and with it
// ParseReport) and SanitizeText on arbitrary bytes.
//
// Invariants (message.h): ParseMessage never throws; every field it
// returns is a non-empty one-line UTF-8 Directory String of at most
// kMaxHeaderValue bytes; the date is generalizedTime "YYYYMMDDHHMMSSZ";
// size is the input size. SanitizeText's result is such a string of at
// most max_bytes, is a fixed point, and is the longest prefix of the
// unlimited result that fits.
#include <glib.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "ldapmda/message.h"

namespace {

using ldapmda::fuzz::CheckDirectoryString;

// GLib criticals are API misuse (ours or GMime's): a finding. Warnings
// about odd mail are expected and only slow fuzzing down.
void QuietLog(const gchar* domain, GLogLevelFlags level, const gchar* text,
              gpointer) {
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
    ldapmda::fuzz::Fail(
        __FILE__, __LINE__, "GLib critical",
        std::string(domain ? domain : "glib") + ": " + (text ? text : ""));
  }
}

void CheckField(const std::optional<std::string>& field, const char* name) {
  if (field) CheckDirectoryString(*field, ldapmda::kMaxHeaderValue, name);
}

bool IsGeneralizedTime(const std::string& s) {
  if (s.size() != 15 || s.back() != 'Z') return false;
  for (std::size_t i = 0; i < 14; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

std::size_t Utf8Length(std::string_view s, std::size_t pos) {
  const auto b = static_cast<unsigned char>(s[pos]);
  return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

void CheckSanitize(std::string_view text, std::size_t max_bytes) {
  const auto full =
      ldapmda::SanitizeText(text, std::numeric_limits<std::size_t>::max());
  if (full)
    CheckDirectoryString(*full, full->size(), "SanitizeText(unlimited)");
  const auto cut = ldapmda::SanitizeText(text, max_bytes);
  if (!cut) {
    // Nothing usable, or not even the first character fits.
    FUZZ_CHECK(!full || Utf8Length(*full, 0) > max_bytes, full.value_or(""));
    return;
  }
  CheckDirectoryString(*cut, max_bytes, "SanitizeText");
  FUZZ_CHECK(full && full->compare(0, cut->size(), *cut) == 0, *cut);
  if (cut->size() < full->size()) {
    // Cut at a character boundary, and the next character did not fit.
    std::size_t next = cut->size();
    std::size_t extra = 0;
    if ((*full)[next] == ' ') {
      extra = 1;
      ++next;
    }
    extra += Utf8Length(*full, next);
    FUZZ_CHECK(cut->size() + extra > max_bytes, *cut);
  }
  // A sanitised value is left alone.
  FUZZ_CHECK(ldapmda::SanitizeText(*cut, max_bytes) == cut, *cut);
}

void CheckValue(const std::string& v, const char* name) {
  if (!v.empty()) CheckDirectoryString(v, ldapmda::kMaxHeaderValue, name);
}

void CheckValues(const std::vector<std::string>& values, const char* name) {
  FUZZ_CHECK(values.size() <= 1000, name);
  for (const auto& v : values) {
    FUZZ_CHECK(!v.empty(), name);
    CheckValue(v, name);
  }
}

bool IsStatusCode(const std::string& s) {
  static const std::regex code("[245]\\.[0-9]{1,3}\\.[0-9]{1,3}");
  return std::regex_match(s, code);
}

bool IsReason(const std::string& r) {
  static const std::set<std::string> reasons = {
      "blocked",       "contenterror", "exceedlimit",     "expired",
      "filtered",      "hasmoved",     "hostunknown",     "mailboxfull",
      "mailererror",   "mesgtoobig",   "networkerror",    "norelaying",
      "notaccept",     "onhold",       "policyviolation", "rejected",
      "securityerror", "spamdetected", "suspend",         "syntaxerror",
      "systemerror",   "systemfull",   "toomanyconn",     "undefined",
      "userunknown",   "virusdetected"};
  return reasons.count(r) > 0;
}

// report.h: every value a Directory String or ""; statuses d.d.d; the
// arrival date generalizedTime; an ordinary message reports nothing.
void CheckReport(const ldapmda::Report& r) {
  using ldapmda::ReportKind;
  CheckValue(r.format, "format");
  CheckValue(r.reporting_mta, "reporting_mta");
  CheckValue(r.original_envelope_id, "original_envelope_id");
  CheckValue(r.original_message_id, "original_message_id");
  CheckValue(r.feedback_type, "feedback_type");
  CheckValue(r.user_agent, "user_agent");
  CheckValue(r.original_mail_from, "original_mail_from");
  CheckValue(r.auto_submitted, "auto_submitted");
  CheckValues(r.original_rcpt_to, "original_rcpt_to");
  CheckValues(r.source_ip, "source_ip");
  CheckValues(r.reported_domain, "reported_domain");
  if (!r.arrival_date.empty()) {
    FUZZ_CHECK(IsGeneralizedTime(r.arrival_date), r.arrival_date);
  }
  FUZZ_CHECK(r.recipients.size() <= 1000, "recipients");
  for (const ldapmda::DsnRecipient& d : r.recipients) {
    FUZZ_CHECK(!d.final_recipient.empty(), "final_recipient");
    CheckValue(d.final_recipient, "final_recipient");
    CheckValue(d.original_recipient, "original_recipient");
    CheckValue(d.action, "action");
    CheckValue(d.diagnostic, "diagnostic");
    CheckValue(d.remote_mta, "remote_mta");
    if (!d.status.empty()) FUZZ_CHECK(IsStatusCode(d.status), d.status);
    // A reason is one of bounce_reason.h's names and comes with a type.
    FUZZ_CHECK(d.reason.empty() || IsReason(d.reason), d.reason);
    FUZZ_CHECK(d.reason.empty() == d.bounce_type.empty(), d.bounce_type);
    FUZZ_CHECK(d.bounce_type.empty() || d.bounce_type == "hard" ||
                   d.bounce_type == "soft",
               d.bounce_type);
  }
  for (const std::string& to : r.original_to) CheckValue(to, "original_to");
  FUZZ_CHECK((r.kind == ReportKind::kNone) == r.format.empty(), r.format);
  if (r.kind != ReportKind::kDeliveryStatus) {
    FUZZ_CHECK(r.recipients.empty() && r.reporting_mta.empty(), "kind");
  }
  if (r.kind != ReportKind::kFeedback) {
    FUZZ_CHECK(r.feedback_type.empty() && r.source_ip.empty(), "kind");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ldapmda::InitMessageLibrary();
  g_log_set_default_handler(QuietLog, nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);

  const ldapmda::MessageInfo info = ldapmda::ParseMessage(raw);
  FUZZ_CHECK(info.size == size, raw.substr(0, 100));
  CheckField(info.message_id, "message_id");
  CheckField(info.subject, "subject");
  CheckField(info.from, "from");
  CheckField(info.to, "to");
  CheckField(info.cc, "cc");
  if (info.date) FUZZ_CHECK(IsGeneralizedTime(*info.date), *info.date);
  CheckReport(info.report);

  // SanitizeText on (a bounded prefix of) the same bytes, with a limit
  // taken from the input.
  if (size > 0) {
    const std::size_t max_bytes = data[0] % 80;
    CheckSanitize(raw.substr(0, 4096), max_bytes);
    CheckSanitize(raw.substr(0, 4096), ldapmda::kMaxHeaderValue);
  }
  return 0;
}
