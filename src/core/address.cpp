// address: see address.h.
#include "ldapmda/address.h"

namespace ldapmda {

std::optional<Address> ParseAddress(std::string_view address) {
  if (address.empty() || address.size() > 1024) return std::nullopt;
  for (char ch : address) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) return std::nullopt;
  }
  const auto at = address.rfind('@');
  if (at == std::string_view::npos) {
    return Address{std::string(address), std::string(address), ""};
  }
  if (at == 0 || at + 1 == address.size()) return std::nullopt;
  return Address{std::string(address), std::string(address.substr(0, at)),
                 std::string(address.substr(at + 1))};
}

}  // namespace ldapmda
