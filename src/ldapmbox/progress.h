// progress: a one-line progress bar on standard error for ldapmbox's long
// runs (export, import, delete). It draws only when standard error is a
// terminal, so scripts and logs get nothing.
#ifndef LDAPMDA_PROGRESS_H_
#define LDAPMDA_PROGRESS_H_

#include <chrono>
#include <cstddef>
#include <string>

namespace ldapmda {

class Progress {
 public:
  // A bar for `total` steps, drawn on `fd` when it is a terminal.
  Progress(std::string label, std::size_t total, int fd = 2);
  // Ends the bar's line, so later messages start on a fresh one.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Step(std::size_t n = 1);

 private:
  void Draw();

  std::string label_;
  std::size_t total_;
  std::size_t done_ = 0;
  int fd_;
  bool enabled_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace ldapmda

#endif  // LDAPMDA_PROGRESS_H_
