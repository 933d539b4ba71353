// ldap_syntax: the LDAP string forms the core checks and takes apart --
// distinguished names (RFC 4514) and LDAP URIs (RFC 4516) -- parsed by
// libldap itself, so that what passes here is what slapd and libldap
// accept. Implemented in src/ldap/, the one part that includes <ldap.h>;
// pure functions with no state.
#ifndef LDAPMDA_LDAP_SYNTAX_H_
#define LDAPMDA_LDAP_SYNTAX_H_

#include <optional>
#include <string>

namespace ldapmda {

// Whether `dn` is a valid LDAPv3 distinguished name.
bool IsValidDn(const std::string& dn);

// The value of the first RDN of `dn`, unescaped; nullopt when `dn` is not
// a valid DN or is empty.
std::optional<std::string> FirstRdnValue(const std::string& dn);

// Whether `uri` is an LDAP URI libldap can connect to (ldap://, ldaps://,
// ldapi://).
bool IsLdapUri(const std::string& uri);

}  // namespace ldapmda

#endif  // LDAPMDA_LDAP_SYNTAX_H_
