// admin: the administrator's commands of ldapmda. --check validates a
// configuration against the directory it names; --query shows how one
// address resolves, like postmap -q. Both write a readable report.
#ifndef LDAPMDA_ADMIN_H_
#define LDAPMDA_ADMIN_H_

#include <ostream>
#include <string>

#include "ldapmda/config.h"

namespace ldapmda {

// Checks, each reported on its own line as "ok", "FAIL" or "--" (not
// checked): every URI of server_host and store_host answers and takes
// the bind; search_base exists; the ldapmda schema is loaded; and, given
// a probe `address`, that the bind identity may add and delete a probe
// message below that address's mailbox, and that the server accepts an
// entry holding a message of max_message_size bytes. Returns true when
// nothing failed.
bool CheckSetup(const Config& config, const std::string& address,
                std::ostream& out);

// How `address` resolves: entry, mailbox, folder, account status, quota
// and usage, and the verdict a delivery would get now. Returns that
// verdict's exit code (0, 67, 69 or 75).
// `extension` is Postfix's ${extension} as -e gives it ("" for none).
int QueryAddress(const Config& config, const std::string& address,
                 const std::string& extension, std::ostream& out);

// The mdaKey of --check's probe messages. The shipped slapd ACLs let the
// delivery identity delete entries with this key, and nothing else.
inline constexpr char kProbeKey[] = "ldapmda-check-probe";

}  // namespace ldapmda

#endif  // LDAPMDA_ADMIN_H_
