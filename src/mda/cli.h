// cli: pipe mode, the front end Postfix's pipe(8) runs. Parses argv, reads
// the configuration and stdin, delivers to each -d recipient and turns the
// outcomes into an exit code and one report line.
#ifndef LDAPMDA_CLI_H_
#define LDAPMDA_CLI_H_

#include <optional>
#include <string>
#include <vector>

#include "ldapmda/config.h"

namespace ldapmda {

// The command line of pipe mode.
struct Options {
  std::string config_file;
  std::vector<std::string> overrides;  // -o key=value, --log=X as log=X
  std::string sender;                  // "" = null sender
  // pipe(8) expands ${original_recipient} like ${recipient}, one argument
  // per recipient: the Nth belongs to the Nth recipient.
  std::vector<std::string> original_recipients;
  // Postfix's ${extension}, one per recipient, like -a.
  std::vector<std::string> extensions;
  std::string queue_id;
  std::vector<std::string> recipients;
  std::string recount;  // --recount ADDRESS: repair usage counters
  bool lmtp = false;    // --lmtp: speak LMTP on stdin/stdout
  bool check = false;   // --check [ADDRESS]: validate the setup
  std::string query;    // --query ADDRESS: how it resolves

  // The original recipient of recipients[i]: "" when unknown.
  std::string OriginalRecipient(std::size_t i) const;
  // The ${extension} of recipients[i]: "" when not given.
  std::string ExtensionOf(std::size_t i) const;
  bool help = false;
  bool version = false;
};

// Parses argv. Throws UsageError.
Options ParseOptions(int argc, const char* const* argv);

// Usage text for --help.
std::string UsageText();

// Runs ldapmda and returns the process exit status. `out_fd` receives the
// report line (Postfix reads it from stdout); `in_fd` is the message.
int Run(int argc, const char* const* argv, int in_fd, int out_fd);

}  // namespace ldapmda

#endif  // LDAPMDA_CLI_H_
