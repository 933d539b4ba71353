// ldapmda: Postfix pipe(8) delivery agent storing mail in LDAP. All logic
// is in the library; this only keeps stdout for the verdict line.
#include <fcntl.h>
#include <unistd.h>

#include <exception>

#include "ldapmda/exit_codes.h"
#include "mda/cli.h"

int main(int argc, char** argv) {
  // Postfix reads the verdict from stdout (and stderr) at byte 0: keep a
  // private copy of stdout for it and point fds 1 and 2 at /dev/null, so
  // no library can ever print in front of it. log = stderr reopens 2.
  const int out = dup(STDOUT_FILENO);
  const int null_fd = open("/dev/null", O_RDWR);
  if (out < 0 || null_fd < 0) return ldapmda::kExitTempFail;
  dup2(null_fd, STDOUT_FILENO);
  std::set_terminate([] { _exit(ldapmda::kExitTempFail); });
  return ldapmda::Run(argc, argv, STDIN_FILENO, out);
}
