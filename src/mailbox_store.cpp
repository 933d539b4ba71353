// mailbox_store: a mailbox through the Directory seam (see
// mailbox_store.h).
#include "ldapmda/mailbox_store.h"

#include <ldap.h>

#include "ldapmda/escape.h"
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

const std::vector<std::string>& All(const Entry& entry, std::string_view name) {
  static const std::vector<std::string> none;
  for (const auto& a : entry.attributes) {
    if (AsciiLower(a.name) == AsciiLower(name)) return a.values;
  }
  return none;
}

const std::string& First(const Entry& entry, std::string_view name) {
  static const std::string empty;
  const std::vector<std::string>& values = All(entry, name);
  return values.empty() ? empty : values.front();
}

// mdaKey, or the RDN's value when the attribute was not returned.
std::string KeyOf(const Entry& e) {
  const std::string& key = First(e, "mdaKey");
  return key.empty() ? FirstRdnValue(e.dn).value_or("") : key;
}

const std::vector<std::string>& ReportAttributes() {
  static const std::vector<std::string> attrs = {"mdaKey",
                                                 "mdaDeliveredAt",
                                                 "mdaReportFormat",
                                                 "mdaDsnReportingMta",
                                                 "mdaReportedMessageId",
                                                 "mdaDsnResult",
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
  r.delivered = First(e, "mdaDeliveredAt");
  r.format = First(e, "mdaReportFormat");
  r.reporting_mta = First(e, "mdaDsnReportingMta");
  r.reported_message_id = First(e, "mdaReportedMessageId");
  r.results = All(e, "mdaDsnResult");
  r.diagnostics = All(e, "mdaDsnDiagnostic");
  r.feedback_type = First(e, "mdaArfFeedbackType");
  r.user_agent = First(e, "mdaArfUserAgent");
  r.original_mail_from = First(e, "mdaArfOriginalMailFrom");
  r.arrival_date = First(e, "mdaArfArrivalDate");
  r.original_rcpt_to = All(e, "mdaArfOriginalRcptTo");
  r.source_ip = All(e, "mdaArfSourceIp");
  r.reported_domain = All(e, "mdaArfReportedDomain");
  return r;
}

StoredMessage ToStored(const Entry& e) {
  StoredMessage m;
  m.dn = e.dn;
  m.key = KeyOf(e);
  m.folder = First(e, "mdaFolder");
  m.from = First(e, "mdaFrom");
  m.subject = First(e, "mdaSubject");
  m.message_id = First(e, "mdaMessageId");
  m.envelope_sender = First(e, "mdaEnvelopeSender");
  m.date = First(e, "mdaDate");
  m.delivered = First(e, "mdaDeliveredAt");
  try {
    m.size = std::stoll(First(e, "mdaSize"));
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

std::optional<std::time_t> ParseGeneralizedTime(std::string_view text) {
  if (text.size() != 15 || text.back() != 'Z') return std::nullopt;
  int v[6] = {};
  const int widths[6] = {4, 2, 2, 2, 2, 2};
  std::size_t pos = 0;
  for (int i = 0; i < 6; ++i) {
    for (int k = 0; k < widths[i]; ++k, ++pos) {
      const char c = text[pos];
      if (c < '0' || c > '9') return std::nullopt;
      v[i] = v[i] * 10 + (c - '0');
    }
  }
  std::tm tm{};
  tm.tm_year = v[0] - 1900;
  tm.tm_mon = v[1] - 1;
  tm.tm_mday = v[2];
  tm.tm_hour = v[3];
  tm.tm_min = v[4];
  tm.tm_sec = v[5];
  return timegm(&tm);
}

Outcome MailboxStore::Open(const std::string& address) {
  if (!ParseAddress(address)) {
    return {kDsnBadAddress, "invalid address: " + OneLine(address)};
  }
  Resolver resolver(config_, directory_, deadline_);
  Resolution where;
  if (Outcome o = resolver.Resolve(address, "", &where);
      o.disposition() != Disposition::kSent) {
    return o;
  }
  address_ = address;
  default_folder_ = where.folder;
  mailbox_dn_ =
      ExpandMailboxDn(config_.mailbox_dn, where.entry.dn, where.lookup);
  return Outcome::Sent("mailbox " + mailbox_dn_);
}

std::string MailboxStore::MessageDn(const std::string& key) const {
  return "mdaKey=" + EscapeDnValue(key) + "," + mailbox_dn_;
}

Outcome MailboxStore::Failure(LdapOp op, const DirResult& result,
                              const std::string& doing) const {
  Outcome o = DirectoryFailure(op, result, deadline_);
  o.text = doing + ": " + o.text;
  return o;
}

Outcome MailboxStore::Search(const std::string& filter,
                             const std::vector<std::string>& attributes,
                             std::vector<Entry>* entries) {
  const SearchRequest request{mailbox_dn_, Scope::kOne, filter,
                              attributes,  0,           kMailboxPageSize};
  const DirResult r = directory_.Search(request, entries);
  if (r.code == LDAP_NO_SUCH_OBJECT) {
    entries->clear();  // no message delivered yet: no mailbox either
    return Outcome::Sent("no mailbox yet");
  }
  if (r.code == LDAP_SIZELIMIT_EXCEEDED) {
    // Paged results are limited by size.prtotal (default: the hard limit).
    return {kDsnConfig, "the directory stopped the search below " +
                            mailbox_dn_ + " at " +
                            std::to_string(entries->size()) +
                            " entries (size limit) although it was paged: "
                            "allow paged searches for this bind identity "
                            "(slapd limits size.prtotal=unlimited)"};
  }
  if (!r.ok()) return Failure(LdapOp::kSearch, r, "searching " + mailbox_dn_);
  return Outcome::Sent("searched");
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
  for (const auto& e : entries) keys->insert(AsciiLower(First(e, "mdaKey")));
  return o;
}

Outcome MailboxStore::Read(const std::string& key,
                           const std::vector<std::string>& attrs,
                           std::vector<Entry>* entries) {
  const SearchRequest request{
      MessageDn(key), Scope::kBase, "(objectClass=mdaMessage)", attrs, 1, 0};
  const DirResult r = directory_.Search(request, entries);
  if (r.code == LDAP_NO_SUCH_OBJECT) {
    entries->clear();
    return Outcome::Sent("no such message");
  }
  if (!r.ok()) return Failure(LdapOp::kSearch, r, "reading " + MessageDn(key));
  return Outcome::Sent("read");
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
  if (*found) *raw = First(entries.front(), "mdaRawMessage");
  return o;
}

Outcome MailboxStore::Add(const std::string& key, const MessageEntry& entry,
                          bool* created) {
  // Exactly as a delivery stores, without its policy checks.
  Delivery delivery(config_, directory_, directory_, deadline_);
  return delivery.Store(mailbox_dn_, MessageDn(key), entry, created);
}

Outcome MailboxStore::Delete(const std::string& key, bool* found) {
  *found = false;
  const DirResult r = directory_.Delete(MessageDn(key));
  if (r.code == LDAP_NO_SUCH_OBJECT) return Outcome::Sent("no such message");
  if (!r.ok()) return Failure(LdapOp::kDelete, r, "deleting " + MessageDn(key));
  *found = true;
  return Outcome::Sent("deleted");
}

Outcome MailboxStore::RecountUsage(Usage* after) {
  std::string mailbox;
  Usage before;
  return Recount(config_, directory_, deadline_, address_, &mailbox, &before,
                 after);
}

}  // namespace ldapmda
