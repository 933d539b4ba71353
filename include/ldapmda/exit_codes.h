// exit_codes: the process exit statuses of ldapmda and ldapmbox, one set
// of names for the sysexits(3) codes. Postfix's pipe(8) defers only on
// kExitTempFail (and EX_OSERR) and bounces on every other non-zero code,
// so ldapmda's deliveries leave only through ExitCodeFor (status.h):
// kExitOk, kExitNoUser, kExitUnavailable or kExitTempFail.
#ifndef LDAPMDA_EXIT_CODES_H_
#define LDAPMDA_EXIT_CODES_H_

#include <sysexits.h>

namespace ldapmda {

inline constexpr int kExitOk = EX_OK;
inline constexpr int kExitUsage = EX_USAGE;              // bad command line
inline constexpr int kExitDataErr = EX_DATAERR;          // bad input
inline constexpr int kExitNoInput = EX_NOINPUT;          // no such file
inline constexpr int kExitNoUser = EX_NOUSER;            // unknown address
inline constexpr int kExitUnavailable = EX_UNAVAILABLE;  // refused
inline constexpr int kExitCantCreate = EX_CANTCREAT;     // cannot create
inline constexpr int kExitIoErr = EX_IOERR;              // cannot write
inline constexpr int kExitTempFail = EX_TEMPFAIL;        // try again later
inline constexpr int kExitConfig = EX_CONFIG;            // configuration

}  // namespace ldapmda

#endif  // LDAPMDA_EXIT_CODES_H_
