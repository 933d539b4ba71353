// mbox_commands: ldapmbox's commands, each working on a mailbox that is
// already resolved (MailboxStore::Open). Results go to standard output;
// per-message problems to standard error; a failure that ends a command
// is thrown as CommandError. Each returns the exit status.
//
// mbox_commands.cpp holds list, show, totals, delete and the report
// listings; mbox_transfer.cpp holds export and import.
#ifndef LDAPMDA_MBOX_COMMANDS_H_
#define LDAPMDA_MBOX_COMMANDS_H_

#include <memory>
#include <string_view>
#include <vector>

#include "ldapmbox/ldapmbox.h"
#include "ldapmda/config.h"
#include "ldapmda/mailbox_store.h"
#include "ldapmda/status.h"

namespace ldapmda {

int ListCommand(const MboxCommand& command, MailboxStore& store);
int ShowCommand(const MboxCommand& command, MailboxStore& store);
int TotalsCommand(const MboxCommand& command, MailboxStore& store);
// bounces and complaints: the reports ldapmda recognised (mdaReport).
int ReportsCommand(const MboxCommand& command, MailboxStore& store);
// suppressions: over the bounces and complaints of several mailboxes.
int SuppressionsCommand(
    const MboxCommand& command,
    const std::vector<std::unique_ptr<MailboxStore>>& stores);
int DeleteCommand(const MboxCommand& command, const Config& config,
                  MailboxStore& store);
int ExportCommand(const MboxCommand& command, MailboxStore& store);
int ImportCommand(const MboxCommand& command, const Config& config,
                  MailboxStore& store);

// Throws CommandError unless `o` succeeded.
void Require(const Outcome& o);

// Writes all of `data` to `fd`; throws CommandError (74) on failure.
void WriteOut(int fd, std::string_view data);

}  // namespace ldapmda

#endif  // LDAPMDA_MBOX_COMMANDS_H_
