// pipe_user: the unprivileged account the tests run ldapmda as. Postfix's
// pipe(8) refuses to run a command as root or as the postfix user; it runs
// ldapmda as master.cf's user= (vmail in the documentation), so the tests
// do the same with "ldapmda-test" whenever they themselves run as root.
#ifndef LDAPMDA_TESTS_SUPPORT_PIPE_USER_H_
#define LDAPMDA_TESTS_SUPPORT_PIPE_USER_H_

#include <optional>
#include <string>

#include "support/process.h"

namespace ldapmda::testing {

// The account the PostfixServer harness also names in master.cf's user=.
inline constexpr char kPipeUserName[] = "ldapmda-test";

// The uid and primary gid of account `name`, created first (a system
// account without home and login shell) when it does not exist. Test
// processes running in parallel may race to create it: that is fine.
// Throws std::runtime_error when it cannot be created.
RunAs EnsureAccount(const std::string& name);

// EnsureAccount(kPipeUserName) when this process runs as root, nullopt
// otherwise: an unprivileged test run cannot switch users and runs
// ldapmda as itself, unprivileged too.
std::optional<RunAs> PipeUser();

// Makes `path` owned by `who` (when set), e.g. a bind_pw_file of mode
// 0600 that the pipe user must read. Throws std::runtime_error.
void GiveTo(const std::string& path, const std::optional<RunAs>& who);

}  // namespace ldapmda::testing

#endif  // LDAPMDA_TESTS_SUPPORT_PIPE_USER_H_
