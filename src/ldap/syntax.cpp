// syntax: DN and URI parsing with libldap (ldapmda/ldap_syntax.h).
#include <ldap.h>

#include "ldapmda/ldap_syntax.h"

namespace ldapmda {

bool IsValidDn(const std::string& dn) {
  LDAPDN parsed = nullptr;
  if (ldap_str2dn(dn.c_str(), &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS) {
    return false;
  }
  ldap_dnfree(parsed);
  return true;
}

std::optional<std::string> FirstRdnValue(const std::string& dn) {
  LDAPDN parsed = nullptr;
  if (ldap_str2dn(dn.c_str(), &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS ||
      parsed == nullptr || parsed[0] == nullptr) {
    if (parsed) ldap_dnfree(parsed);
    return std::nullopt;
  }
  const LDAPAVA* ava = parsed[0][0];
  std::string value(ava->la_value.bv_val, ava->la_value.bv_len);
  ldap_dnfree(parsed);
  return value;
}

bool IsLdapUri(const std::string& uri) {
  LDAPURLDesc* desc = nullptr;
  if (ldap_url_parse(uri.c_str(), &desc) != LDAP_URL_SUCCESS) return false;
  ldap_free_urldesc(desc);
  return true;
}

}  // namespace ldapmda
