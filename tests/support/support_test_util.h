// Helpers of the support library's own tests (process_test.cpp,
// slapd_server_test.cpp).
#ifndef LDAPMDA_TESTS_SUPPORT_SUPPORT_TEST_UTIL_H_
#define LDAPMDA_TESTS_SUPPORT_SUPPORT_TEST_UTIL_H_

#include <chrono>
#include <cstddef>
#include <random>
#include <string>

namespace ldapmda::testing {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMiB = 1024 * 1024;

// `n` pseudo-random bytes, every value 0-255, the same for the same seed.
inline std::string RandomBytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(byte(gen));
  return out;
}

inline bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

inline double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace ldapmda::testing

#endif  // LDAPMDA_TESTS_SUPPORT_SUPPORT_TEST_UTIL_H_
