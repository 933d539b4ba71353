// layout: see layout.h.
#include "ldapmda/layout.h"

#include "ldapmda/escape.h"

namespace ldapmda {

std::string MessageDn(std::string_view mailbox_dn, std::string_view key) {
  std::string dn = at::kKey;
  dn += '=';
  dn += EscapeDnValue(key);
  dn += ',';
  dn += mailbox_dn;
  return dn;
}

}  // namespace ldapmda
