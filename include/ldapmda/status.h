// status: delivery outcomes and the one mapping from outcome to what
// Postfix's pipe(8) sees (exit code plus one enhanced-status line).
//
// Postfix treats only exit 75 and 71 as temporary; every other non-zero
// code bounces. A line starting at byte 0 with "D.S.N " overrides the exit
// code. So the rule here is: default to defer, bounce only for the explicit
// allow-list of recipient faults, and print exactly one line.
#ifndef LDAPMDA_STATUS_H_
#define LDAPMDA_STATUS_H_

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace ldapmda {

// An RFC 3463 enhanced status code. Constructing an invalid code is a
// programming error (the process aborts), never a delivery status.
class Dsn {
 public:
  constexpr Dsn(int klass, int subject, int detail)
      : klass_(klass), subject_(subject), detail_(detail) {
    if ((klass != 2 && klass != 4 && klass != 5) || subject < 0 ||
        subject > 999 || detail < 0 || detail > 999) {
      Invalid();
    }
  }
  int klass() const { return klass_; }
  int subject() const { return subject_; }
  int detail() const { return detail_; }
  std::string str() const;
  bool operator==(const Dsn&) const = default;

 private:
  [[noreturn]] static void Invalid();
  int klass_, subject_, detail_;
};

// For test frameworks: prints "4.4.3".
void PrintTo(const Dsn& dsn, std::ostream* os);

// The codes ldapmda reports (ARCHITECTURE.md §3).
inline constexpr Dsn kDsnStored{2, 0, 0};
inline constexpr Dsn kDsnNoSuchUser{5, 1, 1};
inline constexpr Dsn kDsnBadAddress{5, 1, 3};
inline constexpr Dsn kDsnDisabled{5, 2, 1};
inline constexpr Dsn kDsnOverQuota{5, 2, 2};
inline constexpr Dsn kDsnOverQuotaTemp{4, 2, 2};
inline constexpr Dsn kDsnTooBig{5, 2, 3};
inline constexpr Dsn kDsnLoop{5, 4, 6};
inline constexpr Dsn kDsnDirectoryUnavailable{4, 4, 3};
inline constexpr Dsn kDsnConfig{4, 3, 5};
inline constexpr Dsn kDsnInternal{4, 3, 0};

enum class Disposition { kSent, kDefer, kBounce };

// What happened to one recipient, or to one step on the way: a status
// code and a human-readable text.
struct Outcome {
  Dsn dsn;
  std::string text;

  Disposition disposition() const;
  // Whether the step went well (or the message is delivered).
  bool ok() const { return disposition() == Disposition::kSent; }

  // A step went well and the work carries on: not a delivery result.
  static Outcome Ok(std::string text = "ok") {
    return {kDsnStored, std::move(text)};
  }
  // The message is delivered: stored, or already stored by an earlier
  // attempt.
  static Outcome Sent(std::string text) {
    return {kDsnStored, std::move(text)};
  }
};

// What the process finally tells Postfix.
struct Verdict {
  int exit_code;
  std::string line;  // one line, newline-terminated; may be empty
};

// Exit code for one outcome: 0, 67 (EX_NOUSER), 69 (EX_UNAVAILABLE) or
// 75 (EX_TEMPFAIL). Never 64, 70, 74, 78 or 1: Postfix bounces those.
int ExitCodeFor(const Outcome& outcome);

struct RecipientOutcome {
  std::string recipient;
  Outcome outcome;
};

// The single place that turns the outcomes of all recipients of one run
// into the verdict: any deferral defers the run (delivered recipients are
// deduplicated on retry), else any bounce bounces, else success. The
// failure line starts with the DSN at byte 0, names the failing
// recipients and is at most kMaxReportBytes long.
// REQUIRES: !outcomes.empty()
Verdict CombineVerdicts(const std::vector<RecipientOutcome>& outcomes);

// The verdict for a failure before any recipient was looked at (bad
// argv, bad configuration, unreadable input).
Verdict ReportGlobal(const Outcome& outcome);

// Postfix keeps 4096 bytes of output; stay well inside.
inline constexpr std::size_t kMaxReportBytes = 1000;

// Replaces control characters with spaces so that `text` stays one line.
std::string OneLine(std::string_view text);

}  // namespace ldapmda

#endif  // LDAPMDA_STATUS_H_
