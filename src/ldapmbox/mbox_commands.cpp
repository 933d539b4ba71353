// mbox_commands: list, show, totals and delete (see mbox_commands.h).
#include "ldapmbox/mbox_commands.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>

#include "ldapmbox/listing.h"
#include "ldapmbox/progress.h"
#include "ldapmda/escape.h"
#include "ldapmda/message.h"

namespace ldapmda {
namespace {

// "YYYY-MM-DD" as generalizedTime at midnight UTC ("" stays "").
std::string DayTime(const std::string& day) {
  if (day.empty()) return "";
  const auto t = ParseDay(day);
  if (!t) throw CommandError(kExitUsage, "not a day: " + day);
  return GeneralizedTime(*t).value_or("");
}

// The messages `command` means to delete, with `missing` keys counted.
std::vector<StoredMessage> DeleteSelection(const MboxCommand& c,
                                           MailboxStore& store,
                                           std::size_t* missing) {
  std::vector<StoredMessage> selected;
  if (!c.keys.empty()) {
    for (const auto& key : c.keys) {
      StoredMessage m;
      bool found = false;
      Require(store.Get(key, &m, &found));
      if (found && (!c.folder || m.folder == *c.folder)) {
        selected.push_back(std::move(m));
        continue;
      }
      std::cerr << "ldapmbox: no message " << key << " in "
                << (c.folder ? "folder " + *c.folder + " of " : "")
                << store.mailbox_dn() << "\n";
      ++*missing;
    }
    return selected;
  }
  MessageFilter filter;
  filter.folder = c.folder;
  if (c.older_than) {
    const std::time_t cut =
        std::time(nullptr) - static_cast<std::time_t>(*c.older_than) * 86400;
    filter.delivered_before = GeneralizedTime(cut).value_or("");
  } else {
    filter.delivered_before = DayTime(c.before);
  }
  Require(store.List(filter, &selected));
  SortMessages(&selected, SortKey::kDelivered, false);
  return selected;
}

// The diagnostics of reports about several recipients, which the stored
// attributes cannot match to them: from the stored message, parsed again
// as the delivery did. One read per such report.
void AddRecipientDiagnostics(MailboxStore& store,
                             std::vector<StoredReport>* reports) {
  for (StoredReport& r : *reports) {
    if (r.results.size() < 2 || r.diagnostics.empty()) continue;
    std::string raw;
    bool found = false;
    Require(store.ReadRaw(r.key, &raw, &found));
    if (!found) continue;  // deleted meanwhile
    // ParseReport's values are already what the delivery stored.
    for (const DsnRecipient& d : ParseReport(raw).recipients) {
      if (d.diagnostic.empty()) continue;
      r.recipient_diagnostics.emplace(AsciiLower(d.final_recipient),
                                      d.diagnostic);
    }
  }
}

}  // namespace

void Require(const Outcome& o) {
  if (!o.ok()) {
    throw CommandError(ExitCodeForFailure(o), o.text);
  }
}

void WriteOut(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EPIPE) {
      throw CommandError(kExitIoErr, "");  // the reader left: say nothing
    }
    if (n < 0) {
      throw CommandError(kExitIoErr, std::string("cannot write the output: ") +
                                         std::strerror(errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

int ListCommand(const MboxCommand& c, MailboxStore& store) {
  MessageFilter filter;
  filter.folder = c.folder;
  filter.since = DayTime(c.since);
  filter.before = DayTime(c.before);
  filter.from = c.from;
  filter.subject = c.subject;
  std::vector<StoredMessage> messages;
  Require(store.List(filter, &messages));
  SortMessages(&messages, ParseSortKey(c.sort).value_or(SortKey::kDate),
               c.reverse);
  if (c.json) {
    WriteOut(STDOUT_FILENO, ListJson(messages));
    return kExitOk;
  }
  std::string out;
  for (const auto& m : messages) out += ListLine(m);
  WriteOut(STDOUT_FILENO, out);
  return kExitOk;
}

int ReportsCommand(const MboxCommand& c, MailboxStore& store) {
  const bool bounces = c.name == "bounces";
  std::vector<StoredReport> reports;
  Require(store.Reports(bounces ? "delivery-status" : "feedback-report",
                        DayTime(c.since), DayTime(c.before), &reports));
  if (bounces) AddRecipientDiagnostics(store, &reports);
  const Rows rows = bounces ? BounceRows(reports) : ComplaintRows(reports);
  const RowFormat format = c.json  ? RowFormat::kJson
                           : c.csv ? RowFormat::kCsv
                                   : RowFormat::kTable;
  WriteOut(STDOUT_FILENO, RenderRows(rows, format));
  return kExitOk;
}

int ShowCommand(const MboxCommand& c, MailboxStore& store) {
  std::string raw;
  bool found = false;
  Require(store.ReadRaw(c.keys.front(), &raw, &found));
  if (!found) {
    throw CommandError(kExitNoInput, "no message " + c.keys.front() + " in " +
                                         store.mailbox_dn());
  }
  WriteOut(STDOUT_FILENO, raw);
  return kExitOk;
}

int TotalsCommand(const MboxCommand& c, MailboxStore& store) {
  MessageFilter filter;
  filter.folder = c.folder;
  std::vector<StoredMessage> messages;
  Require(store.List(filter, &messages));
  const Totals totals = Count(messages);
  WriteOut(STDOUT_FILENO, c.json ? TotalsJson(totals) : TotalsText(totals));
  return kExitOk;
}

int DeleteCommand(const MboxCommand& c, const Config& config,
                  MailboxStore& store) {
  std::size_t missing = 0;
  const std::vector<StoredMessage> selected =
      DeleteSelection(c, store, &missing);
  Tally done;
  const auto recount = [&] {
    Usage usage;
    if (!c.dry_run && done.messages > 0 && config.tracks_usage()) {
      return store.RecountUsage(&usage);
    }
    return Outcome::Ok("nothing to recount");
  };
  try {
    Progress progress("deleting", c.dry_run ? 0 : selected.size());
    for (const auto& m : selected) {
      bool found = true;
      if (c.dry_run) {
        WriteOut(STDOUT_FILENO, ListLine(m));
      } else {
        Require(store.Delete(m.key, &found));
      }
      progress.Step();
      if (!found) continue;  // deleted meanwhile by someone else
      ++done.messages;
      done.bytes += m.size;
    }
  } catch (const CommandError&) {
    recount();  // what was deleted stays deleted: keep the counters right
    throw;
  }
  Require(recount());
  WriteOut(STDOUT_FILENO,
           std::string(c.dry_run ? "would delete " : "deleted ") +
               std::to_string(done.messages) + " messages, " +
               std::to_string(done.bytes) + " bytes\n");
  return missing > 0 ? kExitNoInput : kExitOk;
}

}  // namespace ldapmda
