// ldapmbox: the mailbox companion command of ldapmda, for administrators
// and migrations. It reads ldapmda.conf (same keys, same bind), resolves
// ADDRESS exactly as a delivery does, and lists, shows, exports (mbox,
// Maildir++), imports, deletes and totals the messages stored below that
// mailbox, lists the bounces and complaints among them, and the addresses
// that bounced hard or complained (suppressions). This module is the
// command line: argv, help texts, exit codes and the dispatch to the commands
// (mbox_commands.h).
#ifndef LDAPMDA_LDAPMBOX_H_
#define LDAPMDA_LDAPMBOX_H_

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ldapmda/config.h"
#include "ldapmda/exit_codes.h"
#include "ldapmda/status.h"

namespace ldapmda {

// Exit codes (ldapmda/exit_codes.h): "some messages failed" is
// kExitDataErr, never 1.

// The parsed command line.
struct MboxCommand {
  std::string name;  // list, show, export, import, delete, totals,
                     // bounces, complaints, suppressions
  std::string config_file = kDefaultConfigFile;
  std::vector<std::string> overrides;  // -o key=value
  std::string address;                 // the first ADDRESS
  std::vector<std::string> addresses;  // suppressions: every ADDRESS
  std::vector<std::string> keys;       // show: one; delete: --key
  std::optional<std::string> folder;   // --folder
  std::string since, before;           // YYYY-MM-DD
  std::optional<int> older_than;       // --older-than DAYS
  std::string from, subject;           // list: substrings
  std::string sort = "date";
  bool reverse = false;
  bool json = false;
  bool csv = false;     // bounces, complaints, suppressions: --csv
  int soft_days = 3;    // suppressions: --soft-days DAYS
  std::string mbox;     // --mbox FILE, "-" for stdin/stdout
  std::string maildir;  // --maildir DIR
  bool dry_run = false;
  bool help = false;     // --help: of `name`, or general when name is ""
  bool version = false;  // --version
};

// Parses argv: global options (-c, -o, --help, --version), COMMAND,
// then the command's arguments and options (-c and -o work there too).
// Throws UsageError (cli.h) with a message fit for the user.
MboxCommand ParseMboxCommand(int argc, const char* const* argv);

// The help text of `command`, or the general one for "".
std::string MboxUsage(std::string_view command);

// A failure that ends the command, with its exit code.
class CommandError : public std::runtime_error {
 public:
  CommandError(int exit_code, const std::string& what)
      : std::runtime_error(what), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// The exit code for an outcome that stops a command: 67 unknown or
// invalid address, 69 refused (5.x), 78 configuration or access (4.3.5),
// 75 otherwise (directory unavailable, timed out).
int ExitCodeForFailure(const Outcome& outcome);

// Runs ldapmbox. Results go to standard output, diagnostics ("ldapmbox:
// ...") to standard error. Returns the exit status.
int RunLdapmbox(int argc, const char* const* argv);

}  // namespace ldapmda

#endif  // LDAPMDA_LDAPMBOX_H_
