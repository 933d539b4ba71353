// mbox_commands: list, show, totals, delete, bounces, complaints and
// suppressions (see mbox_commands.h).
#include "ldapmbox/mbox_commands.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>
#include <iostream>
#include <iterator>
#include <optional>

#include "ldapmbox/listing.h"
#include "ldapmbox/progress.h"
#include "ldapmbox/suppressions.h"
#include "ldapmda/escape.h"
#include "ldapmda/message.h"
#include "ldapmda/message_entry.h"
#include "ldapmda/report.h"

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

// Whether a bounce report needs its stored message parsed again: for
// the diagnostics of a report about several recipients, which the stored
// attributes cannot match to them, or (`reasons`) for the reasons of one
// stored without mdaDsnReason (an older ldapmda, or an older schema).
bool NeedsRaw(const StoredReport& r, bool diagnostics, bool reasons) {
  if (diagnostics && r.results.size() >= 2 && !r.diagnostics.empty()) {
    return true;
  }
  return reasons && r.reasons.empty() &&
         std::any_of(r.results.begin(), r.results.end(), [](const auto& v) {
           return v.starts_with("failed;") || v.starts_with("delayed;");
         });
}

// Stored messages asked for in one round trip each.
constexpr std::size_t kRawBatch = 50;

// Calls `use` with each report of `reports` that `wanted` selects and its
// stored message, read kRawBatch at a time; a message deleted meanwhile is
// skipped.
void ForEachRaw(
    MailboxStore& store, std::vector<StoredReport>* reports,
    const std::function<bool(const StoredReport&)>& wanted,
    const std::function<void(StoredReport&, std::string_view)>& use) {
  std::vector<StoredReport*> batch;
  const auto flush = [&] {
    std::vector<std::string> keys;
    for (const StoredReport* r : batch) keys.push_back(r->key);
    std::vector<std::optional<std::string>> raws;
    Require(store.ReadRawMany(keys, &raws));
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (raws[i]) use(*batch[i], *raws[i]);
    }
    batch.clear();
  };
  for (StoredReport& r : *reports) {
    if (!wanted(r)) continue;
    batch.push_back(&r);
    if (batch.size() == kRawBatch) flush();
  }
  if (!batch.empty()) flush();
}

// Parses the stored message of each report that NeedsRaw() again, as the
// delivery did, and fills in what the attributes lack.
void ReadBouncesAgain(MailboxStore& store, std::vector<StoredReport>* reports,
                      bool diagnostics, bool reasons) {
  const auto wanted = [&](const StoredReport& r) {
    return NeedsRaw(r, diagnostics, reasons);
  };
  ForEachRaw(store, reports, wanted,
             [&](StoredReport& r, std::string_view raw) {
               const bool fill_reasons = reasons && r.reasons.empty();
               // ParseReport's values are already what the delivery stored.
               for (const DsnRecipient& d : ParseReport(raw).recipients) {
                 if (fill_reasons) {
                   if (std::string v = FormatDsnReason(d); !v.empty()) {
                     r.reasons.push_back(std::move(v));
                   }
                 }
                 if (!diagnostics || d.diagnostic.empty()) continue;
                 r.recipient_diagnostics.emplace(AsciiLower(d.final_recipient),
                                                 d.diagnostic);
               }
             });
}

// The To addresses of the returned original of each complaint that names
// no Original-Rcpt-To (many feedback loops leave it out).
void ReadComplaintsAgain(MailboxStore& store,
                         std::vector<StoredReport>* reports) {
  const auto wanted = [](const StoredReport& r) {
    return r.original_rcpt_to.empty() && IsComplaint(r.feedback_type);
  };
  ForEachRaw(store, reports, wanted, [](StoredReport& r, std::string_view raw) {
    r.original_to = ParseReport(raw).original_to;
  });
}

RowFormat FormatOf(const MboxCommand& c) {
  return c.json  ? RowFormat::kJson
         : c.csv ? RowFormat::kCsv
                 : RowFormat::kTable;
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
  if (bounces) ReadBouncesAgain(store, &reports, true, true);
  const Rows rows = bounces ? BounceRows(reports) : ComplaintRows(reports);
  WriteOut(STDOUT_FILENO, RenderRows(rows, FormatOf(c)));
  return kExitOk;
}

int SuppressionsCommand(
    const MboxCommand& c,
    const std::vector<std::unique_ptr<MailboxStore>>& stores) {
  const std::string since = DayTime(c.since), before = DayTime(c.before);
  std::vector<StoredReport> bounces, complaints;
  for (const auto& store : stores) {
    std::vector<StoredReport> found;
    Require(store->Reports("delivery-status", since, before, &found));
    ReadBouncesAgain(*store, &found, false, true);
    bounces.insert(bounces.end(), std::make_move_iterator(found.begin()),
                   std::make_move_iterator(found.end()));
    Require(store->Reports("feedback-report", since, before, &found));
    ReadComplaintsAgain(*store, &found);
    complaints.insert(complaints.end(), std::make_move_iterator(found.begin()),
                      std::make_move_iterator(found.end()));
  }
  const Rows rows = SuppressionRows(bounces, complaints, c.soft_days);
  WriteOut(STDOUT_FILENO, RenderRows(rows, FormatOf(c)));
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
