// layout: see layout.h.
#include "ldapmda/layout.h"

#include "ldapmda/escape.h"

namespace ldapmda {

namespace {

std::string Rdn(std::string_view type, std::string_view value,
                std::string_view parent) {
  std::string dn(type);
  dn += '=';
  dn += EscapeDnValue(value);
  dn += ',';
  dn += parent;
  return dn;
}

}  // namespace

std::string FolderDn(std::string_view mailbox_dn, std::string_view id) {
  return Rdn(at::kFolder, id, mailbox_dn);
}

std::string MessageDn(std::string_view folder_dn, std::string_view key) {
  return Rdn(at::kKey, key, folder_dn);
}

std::string FlatMessageDn(std::string_view mailbox_dn, std::string_view key) {
  return Rdn(at::kKey, key, mailbox_dn);
}

std::string ParentDn(std::string_view dn) {
  for (std::size_t i = 0; i < dn.size(); ++i) {
    if (dn[i] == '\\') {
      ++i;
    } else if (dn[i] == ',') {
      return std::string(dn.substr(i + 1));
    }
  }
  return "";
}

std::string StateDn(std::string_view message_dn) {
  return Rdn("cn", kStateCn, message_dn);
}

}  // namespace ldapmda
