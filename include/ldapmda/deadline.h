// deadline: the total time budget of one ldapmda run. Postfix bounces a
// command that outlives command_time_limit even when the store committed,
// so every blocking call takes its timeout from here.
#ifndef LDAPMDA_DEADLINE_H_
#define LDAPMDA_DEADLINE_H_

#include <chrono>
#include <string_view>

namespace ldapmda {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Deadline(std::chrono::milliseconds budget)
      : start_(Clock::now()), end_(start_ + budget) {}

  // Starts a new budget from now: an LMTP session gives each command its
  // own, and the directory objects keep referring to this one.
  void Restart(std::chrono::milliseconds budget) {
    start_ = Clock::now();
    end_ = start_ + budget;
  }

  // Time left, never negative.
  std::chrono::milliseconds Remaining() const;
  bool Expired() const { return Clock::now() >= end_; }
  // The smaller of `limit` and the time left.
  std::chrono::milliseconds Cap(std::chrono::milliseconds limit) const;
  // Seconds since construction, for the log's delay=.
  double Elapsed() const;

 private:
  Clock::time_point start_;
  Clock::time_point end_;
};

// A last resort for anything that ignores the per-call timeouts (name
// resolution, a stuck library, a stalled input): after `budget`, SIGALRM
// writes `line` to `fd` and the process exits 75. Safe at any point,
// because a retry of a message that was stored is deduplicated.
void ArmBackstop(std::chrono::milliseconds budget, int fd,
                 std::string_view line);
void DisarmBackstop();

}  // namespace ldapmda

#endif  // LDAPMDA_DEADLINE_H_
