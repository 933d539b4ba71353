// progress: the terminal progress bar (see progress.h).
#include "ldapmbox/progress.h"

#include <unistd.h>

#include <cstdio>

namespace ldapmda {
namespace {

constexpr std::size_t kWidth = 30;  // characters of the bar itself
constexpr auto kRedraw = std::chrono::milliseconds(100);

void Write(int fd, const std::string& text) {
  // A lost frame of a progress bar is harmless: no retry.
  [[maybe_unused]] const ssize_t n = write(fd, text.data(), text.size());
}

}  // namespace

Progress::Progress(std::string label, std::size_t total, int fd)
    : label_(std::move(label)),
      total_(total),
      fd_(fd),
      enabled_(total > 0 && isatty(fd) == 1) {
  if (enabled_) Draw();
}

Progress::~Progress() {
  if (!enabled_) return;
  Draw();
  Write(fd_, "\n");
}

void Progress::Step(std::size_t n) {
  done_ += n;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ >= kRedraw || done_ >= total_) Draw();
}

void Progress::Draw() {
  last_draw_ = std::chrono::steady_clock::now();
  const std::size_t done = done_ < total_ ? done_ : total_;
  const std::size_t filled = done * kWidth / total_;
  char line[256];
  std::snprintf(line, sizeof line, "\r%s [%s%s] %zu/%zu %3zu%%", label_.c_str(),
                std::string(filled, '#').c_str(),
                std::string(kWidth - filled, '.').c_str(), done, total_,
                done * 100 / total_);
  Write(fd_, line);
}

}  // namespace ldapmda
