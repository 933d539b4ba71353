// status: outcomes to exit codes and the one report line (see status.h).
#include "ldapmda/status.h"

#include <cstdio>
#include <cstdlib>
#include <ostream>

#include "ldapmda/exit_codes.h"

namespace ldapmda {
namespace {

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
void CutUtf8(std::string& s, std::size_t max) {
  if (s.size() <= max) return;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
}

std::string FailureLine(const std::vector<RecipientOutcome>& outcomes,
                        Disposition which) {
  const RecipientOutcome* first = nullptr;
  std::string text;
  for (const auto& r : outcomes) {
    if (r.outcome.disposition() != which) continue;
    if (first == nullptr) first = &r;
    if (!text.empty()) text += "; ";
    text += "<" + r.recipient + ">: " + r.outcome.text;
  }
  std::string line = first->outcome.dsn.str() + " " + OneLine(text);
  CutUtf8(line, kMaxReportBytes - 1);
  return line + "\n";
}

}  // namespace

void Dsn::Invalid() {
  std::fputs("4.3.0 internal error: invalid status code\n", stdout);
  std::abort();
}

std::string Dsn::str() const {
  return std::to_string(klass_) + "." + std::to_string(subject_) + "." +
         std::to_string(detail_);
}

void PrintTo(const Dsn& dsn, std::ostream* os) { *os << dsn.str(); }

Disposition Outcome::disposition() const {
  switch (dsn.klass()) {
    case 2:
      return Disposition::kSent;
    case 5:
      return Disposition::kBounce;
    default:
      return Disposition::kDefer;
  }
}

int ExitCodeFor(const Outcome& outcome) {
  switch (outcome.disposition()) {
    case Disposition::kSent:
      return kExitOk;
    case Disposition::kBounce:
      // 5.1.x is about the address: EX_NOUSER; every other bounce is
      // EX_UNAVAILABLE. The DSN on the line is what Postfix reports.
      return outcome.dsn.subject() == 1 ? kExitNoUser : kExitUnavailable;
    case Disposition::kDefer:
      break;
  }
  return kExitTempFail;
}

std::string OneLine(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) c = ' ';
  }
  return out;
}

Verdict CombineVerdicts(const std::vector<RecipientOutcome>& outcomes) {
  // Any deferral defers the whole run: recipients that were stored are
  // deduplicated when Postfix retries, so nothing is lost or doubled.
  for (Disposition d : {Disposition::kDefer, Disposition::kBounce}) {
    for (const auto& r : outcomes) {
      if (r.outcome.disposition() == d) {
        return {ExitCodeFor(r.outcome), FailureLine(outcomes, d)};
      }
    }
  }
  // Success: Postfix logs up to 100 characters of this in the DSN.
  std::string line = OneLine(outcomes.front().outcome.text);
  CutUtf8(line, kMaxReportBytes - 1);
  return {kExitOk, line + "\n"};
}

Verdict ReportGlobal(const Outcome& outcome) {
  std::string line = outcome.dsn.str() + " " + OneLine(outcome.text);
  CutUtf8(line, kMaxReportBytes - 1);
  return {ExitCodeFor(outcome), line + "\n"};
}

}  // namespace ldapmda
