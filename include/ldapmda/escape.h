// escape: addresses and the values ldapmda puts into LDAP filters and DNs.
// Every recipient-derived value goes through EscapeFilterValue (RFC 4515)
// or EscapeDnValue (RFC 4514) before it reaches the directory.
#ifndef LDAPMDA_ESCAPE_H_
#define LDAPMDA_ESCAPE_H_

#include <optional>
#include <string>
#include <string_view>

#include "ldapmda/address.h"

namespace ldapmda {

// RFC 4515 assertion value: NUL ( ) * \ and every byte outside printable
// ASCII become \XX.
std::string EscapeFilterValue(std::string_view value);

// RFC 4514 attribute value: , + " \ < > ; = are backslash-escaped, a
// leading space or #, and a trailing space, too; control and non-ASCII
// bytes become \XX.
std::string EscapeDnValue(std::string_view value);

// Expands a Postfix ldap_table(5) query_filter: %s the whole address,
// %u the local part, %d the domain, %% a percent sign, each value
// RFC 4515-escaped. Returns nullopt when the template uses %d and the
// address has no domain (Postfix then skips the query: not found).
// REQUIRES: `filter` passed ValidateQueryFilter.
std::optional<std::string> ExpandQueryFilter(std::string_view filter,
                                             const Address& address);

// Empty when `filter` is a usable template, else what is wrong with it.
// A recipient filter must use %s or %u; a catch-all filter need not.
std::string ValidateQueryFilter(std::string_view filter,
                                bool need_local_part = true);

// Expands mailbox_dn: {dn} the recipient entry's DN (as the server gave
// it), {address}, {user} and {domain} RFC 4514-escaped.
std::string ExpandMailboxDn(std::string_view tmpl, std::string_view entry_dn,
                            const Address& address);

// Empty when `tmpl` is a usable mailbox_dn template, else what is wrong.
std::string ValidateMailboxDn(std::string_view tmpl);

}  // namespace ldapmda

#endif  // LDAPMDA_ESCAPE_H_
