// address: envelope addresses as ldapmda uses them. A front end parses
// the recipient once (ParseAddress) and passes the Address on; the lookup,
// the filters and the mailbox DN all take it apart the same way.
#ifndef LDAPMDA_ADDRESS_H_
#define LDAPMDA_ADDRESS_H_

#include <optional>
#include <string>
#include <string_view>

namespace ldapmda {

// An envelope address split at its last '@'.
struct Address {
  std::string text;    // the whole address, as given
  std::string local;   // before the last '@' (all of it without one)
  std::string domain;  // empty when the address has no '@'
};

// Splits `address`. Returns nullopt when it is not usable as a recipient:
// empty, longer than 1024 bytes, containing NUL or control characters, or
// with an empty local part or an empty domain after '@'.
std::optional<Address> ParseAddress(std::string_view address);

}  // namespace ldapmda

#endif  // LDAPMDA_ADDRESS_H_
