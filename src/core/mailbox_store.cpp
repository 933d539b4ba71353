// mailbox_store: a mailbox through the Directory seam (see
// mailbox_store.h).
#include "ldapmda/mailbox_store.h"

#include "ldapmda/escape.h"
#include "ldapmda/folder_store.h"
#include "ldapmda/layout.h"
#include "ldapmda/ldap_syntax.h"
#include "ldapmda/recipient.h"

namespace ldapmda {
namespace {

// The attributes List() reads: everything but the raw message.
const std::vector<std::string>& ListAttributes() {
  static const std::vector<std::string> attrs = {
      "mdaKey",     "mdaFolder",      "mdaFrom",
      "mdaSubject", "mdaMessageId",   "mdaEnvelopeSender",
      "mdaDate",    "mdaDeliveredAt", "mdaSize"};
  return attrs;
}

// mdaKey, or the RDN's value when the attribute was not returned.
std::string KeyOf(const Entry& e) {
  const std::string& key = e.First("mdaKey");
  return key.empty() ? FirstRdnValue(e.dn).value_or("") : key;
}

const std::vector<std::string>& ReportAttributes() {
  static const std::vector<std::string> attrs = {"mdaKey",
                                                 "mdaDeliveredAt",
                                                 "mdaReportFormat",
                                                 "mdaDsnReportingMta",
                                                 "mdaReportedMessageId",
                                                 "mdaDsnResult",
                                                 "mdaDsnReason",
                                                 "mdaDsnDiagnostic",
                                                 "mdaArfFeedbackType",
                                                 "mdaArfUserAgent",
                                                 "mdaArfOriginalMailFrom",
                                                 "mdaArfArrivalDate",
                                                 "mdaArfOriginalRcptTo",
                                                 "mdaArfSourceIp",
                                                 "mdaArfReportedDomain"};
  return attrs;
}

StoredReport ToReport(const Entry& e) {
  StoredReport r;
  r.dn = e.dn;
  r.key = KeyOf(e);
  r.delivered = e.First("mdaDeliveredAt");
  r.format = e.First("mdaReportFormat");
  r.reporting_mta = e.First("mdaDsnReportingMta");
  r.reported_message_id = e.First("mdaReportedMessageId");
  r.results = e.All("mdaDsnResult");
  r.reasons = e.All("mdaDsnReason");
  r.diagnostics = e.All("mdaDsnDiagnostic");
  r.feedback_type = e.First("mdaArfFeedbackType");
  r.user_agent = e.First("mdaArfUserAgent");
  r.original_mail_from = e.First("mdaArfOriginalMailFrom");
  r.arrival_date = e.First("mdaArfArrivalDate");
  r.original_rcpt_to = e.All("mdaArfOriginalRcptTo");
  r.source_ip = e.All("mdaArfSourceIp");
  r.reported_domain = e.All("mdaArfReportedDomain");
  return r;
}

StoredMessage ToStored(const Entry& e) {
  StoredMessage m;
  m.dn = e.dn;
  m.key = KeyOf(e);
  m.folder = e.First("mdaFolder");
  m.from = e.First("mdaFrom");
  m.subject = e.First("mdaSubject");
  m.message_id = e.First("mdaMessageId");
  m.envelope_sender = e.First("mdaEnvelopeSender");
  m.date = e.First("mdaDate");
  m.delivered = e.First("mdaDeliveredAt");
  try {
    m.size = std::stoll(e.First("mdaSize"));
  } catch (const std::exception&) {
    m.size = 0;  // a missing size is shown as 0, never fatal
  }
  return m;
}

// The ShownDate() condition "attr >= t" (or < t when `less`).
std::string DateCondition(const std::string& t, bool less) {
  const std::string v = EscapeFilterValue(t);
  const std::string ge_date = "(mdaDate>=" + v + ")";
  const std::string ge_delivered = "(mdaDeliveredAt>=" + v + ")";
  if (!less) {
    return "(|" + ge_date + "(&(!(mdaDate=*))" + ge_delivered + "))";
  }
  return "(|(&(mdaDate=*)(!" + ge_date + "))(&(!(mdaDate=*))(!" + ge_delivered +
         ")))";
}

}  // namespace

std::string MessageFilterString(const MessageFilter& f) {
  std::string s = "(&(objectClass=mdaMessage)";
  if (f.folder) s += "(mdaFolder=" + EscapeFilterValue(*f.folder) + ")";
  if (!f.since.empty()) s += DateCondition(f.since, false);
  if (!f.before.empty()) s += DateCondition(f.before, true);
  if (!f.delivered_before.empty()) {
    s += "(mdaDeliveredAt=*)(!(mdaDeliveredAt>=" +
         EscapeFilterValue(f.delivered_before) + "))";
  }
  if (!f.from.empty()) s += "(mdaFrom=*" + EscapeFilterValue(f.from) + "*)";
  if (!f.subject.empty()) {
    s += "(mdaSubject=*" + EscapeFilterValue(f.subject) + "*)";
  }
  return s + ")";
}

std::string ReportFilterString(std::string_view type, const std::string& since,
                               const std::string& before) {
  std::string s =
      "(&(objectClass=mdaMessage)(mdaReportType=" + EscapeFilterValue(type) +
      ")";
  if (!since.empty()) {
    s += "(mdaDeliveredAt>=" + EscapeFilterValue(since) + ")";
  }
  if (!before.empty()) {
    s += "(!(mdaDeliveredAt>=" + EscapeFilterValue(before) + "))";
  }
  return s + ")";
}

Outcome MailboxStore::Open(const std::string& address) {
  const std::optional<Address> parsed = ParseAddress(address);
  if (!parsed) return {kDsnBadAddress, "invalid address: " + OneLine(address)};
  Resolver resolver(config_, directory_, deadline_);
  Resolution where;
  if (Outcome o = resolver.Resolve(*parsed, "", &where); !o.ok()) return o;
  address_ = address;
  default_folder_ = where.folder;
  mailbox_dn_ = where.mailbox_dn;
  return Outcome::Ok("mailbox " + mailbox_dn_);
}

Outcome MailboxStore::Failure(DirOp op, const DirResult& result,
                              const std::string& doing) const {
  Outcome o = DirectoryFailure(op, result, deadline_);
  o.text = doing + ": " + o.text;
  return o;
}

Outcome MailboxStore::Search(const std::string& filter,
                             const std::vector<std::string>& attributes,
                             std::vector<Entry>* entries) {
  // Messages are below their folders (and, stored by an ldapmda from
  // before folders, right below the mailbox).
  const SearchRequest request{mailbox_dn_, Scope::kSub, filter,
                              attributes,  0,           kMailboxPageSize};
  const DirResult r = directory_.Search(request, entries);
  if (r.no_such_object()) {
    entries->clear();  // no message delivered yet: no mailbox either
    return Outcome::Ok("no mailbox yet");
  }
  if (r.size_limit_exceeded()) {
    // Paged results are limited by size.prtotal (default: the hard limit).
    return {kDsnConfig, "the directory stopped the search below " +
                            mailbox_dn_ + " at " +
                            std::to_string(entries->size()) +
                            " entries (size limit) although it was paged: "
                            "allow paged searches for this bind identity "
                            "(slapd limits size.prtotal=unlimited)"};
  }
  if (!r.ok()) return Failure(DirOp::kSearch, r, "searching " + mailbox_dn_);
  return Outcome::Ok("searched");
}

Outcome MailboxStore::List(const MessageFilter& filter,
                           std::vector<StoredMessage>* out) {
  std::vector<Entry> entries;
  Outcome o = Search(MessageFilterString(filter), ListAttributes(), &entries);
  out->clear();
  out->reserve(entries.size());
  for (const auto& e : entries) out->push_back(ToStored(e));
  return o;
}

Outcome MailboxStore::Reports(std::string_view type, const std::string& since,
                              const std::string& before,
                              std::vector<StoredReport>* out) {
  std::vector<Entry> entries;
  Outcome o = Search(ReportFilterString(type, since, before),
                     ReportAttributes(), &entries);
  out->clear();
  out->reserve(entries.size());
  for (const auto& e : entries) out->push_back(ToReport(e));
  return o;
}

Outcome MailboxStore::Keys(std::unordered_set<std::string>* keys) {
  std::vector<Entry> entries;
  Outcome o = Search("(objectClass=mdaMessage)", {"mdaKey"}, &entries);
  keys->clear();
  for (const auto& e : entries) keys->insert(AsciiLower(e.First("mdaKey")));
  return o;
}

namespace {

// The message `key`, in any folder: a message copied into another folder
// has the same key there.
std::string KeyFilter(const std::string& key) {
  return "(&(objectClass=" + std::string(oc::kMessage) + ")(" + at::kKey + "=" +
         EscapeFilterValue(key) + "))";
}

}  // namespace

Outcome MailboxStore::Read(const std::string& key,
                           const std::vector<std::string>& attrs,
                           std::vector<Entry>* entries) {
  return Search(KeyFilter(key), attrs, entries);
}

Outcome MailboxStore::Get(const std::string& key, StoredMessage* out,
                          bool* found) {
  std::vector<Entry> entries;
  Outcome o = Read(key, ListAttributes(), &entries);
  *found = !entries.empty();
  if (*found) *out = ToStored(entries.front());
  return o;
}

Outcome MailboxStore::ReadRaw(const std::string& key, std::string* raw,
                              bool* found) {
  std::vector<Entry> entries;
  Outcome o = Read(key, {"mdaRawMessage"}, &entries);
  *found = !entries.empty();
  if (*found) *raw = entries.front().First("mdaRawMessage");
  return o;
}

Outcome MailboxStore::ReadRawMany(
    const std::vector<std::string>& keys,
    std::vector<std::optional<std::string>>* raws) {
  raws->assign(keys.size(), std::nullopt);
  if (keys.empty()) return Outcome::Ok("nothing to read");
  // Unpaged: each finds one entry (or its copies), and slapd runs paged
  // searches of one connection one after another.
  std::vector<SearchRequest> requests;
  for (const std::string& key : keys) {
    requests.push_back(
        {mailbox_dn_, Scope::kSub, KeyFilter(key), {"mdaRawMessage"}, 0, 0});
  }
  std::vector<std::vector<Entry>> entries;
  std::vector<DirResult> results;
  const DirResult all = directory_.SearchMany(requests, &entries, &results);
  if (!all.ok()) {
    return Failure(DirOp::kSearch, all, "searching " + mailbox_dn_);
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (results[i].no_such_object()) continue;  // no mailbox yet
    if (!results[i].ok()) {
      return Failure(DirOp::kSearch, results[i], "searching " + mailbox_dn_);
    }
    if (!entries[i].empty())
      (*raws)[i] = entries[i].front().First("mdaRawMessage");
  }
  return Outcome::Ok("read");
}

Outcome MailboxStore::Add(const MessageEntry& entry, bool* created) {
  // Exactly as a delivery stores, without its policy checks.
  Delivery delivery(config_, directory_, directory_, deadline_);
  std::string dn;
  return delivery.Store(mailbox_dn_, entry, created, &dn);
}

Outcome MailboxStore::Delete(const std::string& key, bool* found) {
  *found = false;
  std::vector<Entry> entries;
  if (Outcome o = Read(key, {}, &entries); !o.ok()) return o;
  for (const Entry& e : entries) {
    // Through RemoveMessage, so that IMAP servers see the removal.
    const StoreResult s =
        RemoveMessage(directory_, deadline_, e.dn, ParentDn(e.dn));
    if (s.status == StoreStatus::kNotFound) continue;
    if (!s.ok())
      return {kDsnDirectoryUnavailable, "deleting " + e.dn + ": " + s.text};
    *found = true;
  }
  return Outcome::Ok(*found ? "deleted" : "no such message");
}

Outcome MailboxStore::RecountUsage(Usage* after) {
  return RecountMailbox(directory_, mailbox_dn_, deadline_, after);
}

}  // namespace ldapmda
