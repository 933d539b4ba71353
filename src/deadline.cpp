// deadline: see deadline.h.
#include "ldapmda/deadline.h"

#include <algorithm>

namespace ldapmda {

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
