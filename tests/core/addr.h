// Addr: an Address from a literal, for tests of code that takes addresses
// already parsed by a front end.
#ifndef LDAPMDA_TESTS_CORE_ADDR_H_
#define LDAPMDA_TESTS_CORE_ADDR_H_

#include <stdexcept>
#include <string>
#include <string_view>

#include "ldapmda/address.h"

namespace ldapmda::testing {

// REQUIRES: `text` is a usable recipient address (ParseAddress).
inline Address Addr(std::string_view text) {
  auto address = ParseAddress(text);
  if (!address)
    throw std::invalid_argument("not an address: " + std::string(text));
  return *address;
}

}  // namespace ldapmda::testing

#endif  // LDAPMDA_TESTS_CORE_ADDR_H_
