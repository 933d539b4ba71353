// mailbox_store: one recipient's mailbox seen through the Directory seam,
// for ldapmbox: list message metadata with server-side filters, read the
// raw bytes of one message, add a message exactly as a delivery stores it
// (but without the quota and account-status checks: a migration must not
// bounce), delete messages. Every multi-entry search is paged (RFC 2696),
// and a server that still cuts one short is an error, never a silently
// shorter answer.
#ifndef LDAPMDA_MAILBOX_STORE_H_
#define LDAPMDA_MAILBOX_STORE_H_

#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "ldapmda/config.h"
#include "ldapmda/deadline.h"
#include "ldapmda/delivery.h"
#include "ldapmda/directory.h"
#include "ldapmda/status.h"

namespace ldapmda {

// Entries per page of every search over a mailbox.
inline constexpr int kMailboxPageSize = 500;

// A stored message without its raw bytes.
struct StoredMessage {
  std::string dn;
  std::string key;
  std::string folder;
  std::string from;
  std::string subject;
  std::string message_id;
  std::string envelope_sender;  // "<>" for the null sender
  std::string date;             // mdaDate (generalizedTime) or ""
  std::string delivered;        // mdaDeliveredAt (generalizedTime) or ""
  long long size = 0;

  // The date shown and sorted on: mdaDate, else mdaDeliveredAt.
  const std::string& ShownDate() const {
    return date.empty() ? delivered : date;
  }
};

// A stored report (mdaReport) without its raw bytes: what ldapmbox
// bounces and complaints show. Multi-valued attributes keep the server's
// order, which means none.
struct StoredReport {
  std::string dn;
  std::string key;
  std::string delivered;  // mdaDeliveredAt (generalizedTime) or ""
  std::string format;     // mdaReportFormat
  std::string reporting_mta;
  std::string reported_message_id;
  std::vector<std::string> results;  // mdaDsnResult
  // mdaDsnReason; for a report stored without them (a schema of before
  // mdaDsnReason, or an older ldapmda), ldapmbox reads the stored message
  // again and fills them in.
  std::vector<std::string> reasons;
  std::vector<std::string> diagnostics;  // mdaDsnDiagnostic
  // Lower-case recipient -> its diagnostic, from the stored message parsed
  // again (ldapmbox does that for reports about several recipients, whose
  // mdaDsnDiagnostic values cannot be matched to them).
  std::map<std::string, std::string> recipient_diagnostics;
  // The To addresses of a complaint's returned original (Report::
  // original_to), read again from the stored message when it names no
  // Original-Rcpt-To: ldapmbox suppressions.
  std::vector<std::string> original_to;
  std::string feedback_type;
  std::string user_agent;
  std::string original_mail_from;
  std::string arrival_date;  // generalizedTime or ""
  std::vector<std::string> original_rcpt_to;
  std::vector<std::string> source_ip;
  std::vector<std::string> reported_domain;
};

// The reports of one type ("delivery-status" or "feedback-report")
// delivered from `since` (inclusive) to `before` (exclusive), both
// generalizedTime or "" for no bound; every value RFC 4515-escaped.
std::string ReportFilterString(std::string_view type, const std::string& since,
                               const std::string& before);

// Server-side conditions; empty members do not restrict. Times are
// generalizedTime values ("20261122000000Z").
struct MessageFilter {
  std::optional<std::string> folder;  // exact mdaFolder
  std::string since;                  // ShownDate() >= since
  std::string before;                 // ShownDate() < before
  std::string delivered_before;       // mdaDeliveredAt < delivered_before
  std::string from;                   // substring of mdaFrom, any case
  std::string subject;                // substring of mdaSubject, any case
};

// The LDAP filter for `filter`, every value RFC 4515-escaped.
std::string MessageFilterString(const MessageFilter& filter);

class MailboxStore {
 public:
  MailboxStore(const Config& config, Directory& directory,
               const Deadline& deadline)
      : config_(config), directory_(directory), deadline_(deadline) {}

  // Looks `address` up as a delivery would (Resolver, mailbox_dn).
  // 2.0.0, or why not (5.1.1 unknown, 4.x directory trouble).
  Outcome Open(const std::string& address);

  // Messages matching `filter`, in server order. A mailbox that does not
  // exist yet is empty.
  Outcome List(const MessageFilter& filter, std::vector<StoredMessage>* out);

  // The reports of `type` delivered in [since, before) (ReportFilterString).
  Outcome Reports(std::string_view type, const std::string& since,
                  const std::string& before, std::vector<StoredReport>* out);

  // The keys of all stored messages (to skip what is already there).
  Outcome Keys(std::unordered_set<std::string>* keys);

  // The metadata of the message `key`; `found` false when there is none.
  Outcome Get(const std::string& key, StoredMessage* out, bool* found);

  // The raw bytes of the message `key`; `found` false when there is none.
  Outcome ReadRaw(const std::string& key, std::string* raw, bool* found);

  // The raw bytes of each message of `keys`, all asked for before any
  // answer is read (Directory::SearchMany): (*raws)[i] is keys[i]'s,
  // nullopt when there is none. Not ok when any read failed.
  Outcome ReadRawMany(const std::vector<std::string>& keys,
                      std::vector<std::optional<std::string>>* raws);

  // Adds `entry` below its folder, creating the folder and the mailbox if
  // needed; `created` is false when the message was already stored.
  Outcome Add(const MessageEntry& entry, bool* created);

  // Deletes the message `key` (from every folder that has it); `found`
  // false when there was none.
  Outcome Delete(const std::string& key, bool* found);

  // Recomputes the usage counters (when quota_attribute is set).
  Outcome RecountUsage(Usage* after);

  const std::string& address() const { return address_; }
  const std::string& mailbox_dn() const { return mailbox_dn_; }
  // The folder a delivery to address() would use (an extension's).
  const std::string& default_folder() const { return default_folder_; }

 private:
  // A paged subtree search below the mailbox.
  Outcome Search(const std::string& filter,
                 const std::vector<std::string>& attributes,
                 std::vector<Entry>* entries);
  // The messages with key `key`.
  Outcome Read(const std::string& key, const std::vector<std::string>& attrs,
               std::vector<Entry>* entries);
  Outcome Failure(DirOp op, const DirResult& result,
                  const std::string& doing) const;

  const Config& config_;
  Directory& directory_;
  const Deadline& deadline_;
  std::string address_;
  std::string mailbox_dn_;
  std::string default_folder_ = "INBOX";
};

}  // namespace ldapmda

#endif  // LDAPMDA_MAILBOX_STORE_H_
