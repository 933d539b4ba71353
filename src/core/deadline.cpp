// deadline: see deadline.h.
#include "ldapmda/deadline.h"

#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "ldapmda/exit_codes.h"

namespace ldapmda {
namespace {

// State for the SIGALRM handler, which must be async-signal-safe.
int g_backstop_fd = -1;
char g_backstop_line[256];
std::size_t g_backstop_len = 0;

void OnBackstop(int) {
  if (g_backstop_fd >= 0) {
    [[maybe_unused]] ssize_t n =
        write(g_backstop_fd, g_backstop_line, g_backstop_len);
  }
  _exit(kExitTempFail);
}

}  // namespace

void ArmBackstop(std::chrono::milliseconds budget, int fd,
                 std::string_view line) {
  g_backstop_fd = fd;
  g_backstop_len = std::min(line.size(), sizeof g_backstop_line);
  std::memcpy(g_backstop_line, line.data(), g_backstop_len);
  struct sigaction sa {};
  sa.sa_handler = OnBackstop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, nullptr);
  itimerval timer{};
  timer.it_value.tv_sec = static_cast<time_t>(budget.count() / 1000);
  timer.it_value.tv_usec =
      static_cast<suseconds_t>((budget.count() % 1000) * 1000);
  setitimer(ITIMER_REAL, &timer, nullptr);
}

void DisarmBackstop() {
  itimerval timer{};
  setitimer(ITIMER_REAL, &timer, nullptr);
}

std::chrono::milliseconds Deadline::Remaining() const {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      end_ - Clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

std::chrono::milliseconds Deadline::Cap(std::chrono::milliseconds limit) const {
  return std::min(limit, Remaining());
}

double Deadline::Elapsed() const {
  return std::chrono::duration<double>(Clock::now() - start_).count();
}

}  // namespace ldapmda
