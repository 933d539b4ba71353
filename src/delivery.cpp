// delivery: the delivery core (see delivery.h). A short, linear sequence
// of guarded steps; every early return is one Outcome.
#include "ldapmda/delivery.h"

#include <ldap.h>

#include <algorithm>
#include <charconv>

#include "ldapmda/escape.h"
#include "ldapmda/log.h"

namespace ldapmda {
namespace {

// The null sender is stored as "<>", as Postfix logs it.
std::string SenderValue(const std::string& sender) {
  return sender.empty() ? "<>" : sender;
}

bool IsPrintableAscii(std::string_view s) {
  for (char c : s) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return !s.empty();
}

const std::vector<std::string>* Values(const Entry& entry,
                                       std::string_view name) {
  for (const auto& a : entry.attributes) {
    if (AsciiLower(a.name) == AsciiLower(name)) return &a.values;
  }
  return nullptr;
}

std::optional<long long> ParseCount(std::string_view text) {
  long long n = 0;
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < 0) {
    return std::nullopt;
  }
  return n;
}

// What slapd answers an add that uses attributes or classes its schema
// does not define, values their syntax refuses, or two values its
// matching rule takes for one (AddSet folds as closely as it can).
bool RefusedReportAttributes(const DirResult& r) {
  return r.code == LDAP_UNDEFINED_TYPE ||
         r.code == LDAP_OBJECT_CLASS_VIOLATION ||
         r.code == LDAP_INVALID_SYNTAX || r.code == LDAP_TYPE_OR_VALUE_EXISTS;
}

}  // namespace

std::string MessageKey(std::string_view recipient, std::string_view raw) {
  return Sha256Hex({AsciiLower(recipient), "\n", raw});
}

bool FitsQuota(const Usage& usage, std::size_t size, long long limit) {
  return usage.bytes >= 0 &&
         static_cast<unsigned long long>(usage.bytes) + size <=
             static_cast<unsigned long long>(limit);
}

std::string FormatDsnResult(const DsnRecipient& r) {
  return r.action + ";" + r.status + ";" + AsciiLower(r.final_recipient);
}

MessageEntry::MessageEntry(std::string_view key, std::string_view raw,
                           const MessageInfo& info, const Envelope& envelope,
                           std::string_view recipient, std::string_view folder,
                           std::time_t delivered_at,
                           std::string_view verp_recipient) {
  Add("objectClass", "mdaMessage");
  Add("mdaKey", key);
  attributes_.push_back({"mdaRawMessage", {raw}});  // a view, never a copy
  Add("mdaSize", std::to_string(raw.size()));
  AddText("mdaMessageId", info.message_id);
  AddText("mdaSubject", info.subject);
  AddText("mdaFrom", info.from);
  AddText("mdaTo", info.to);
  AddText("mdaCc", info.cc);
  AddText("mdaDate", info.date);
  AddText("mdaDeliveredAt", GeneralizedTime(delivered_at));
  AddText("mdaEnvelopeSender",
          SanitizeText(SenderValue(envelope.sender), kMaxHeaderValue));
  AddText("mdaEnvelopeRecipient", SanitizeText(recipient, kMaxHeaderValue));
  AddText("mdaOriginalRecipient",
          SanitizeText(envelope.original_recipient, kMaxHeaderValue));
  // IA5 String: Postfix queue IDs are ASCII; anything else is left out.
  if (IsPrintableAscii(envelope.queue_id)) Add("mdaQueueId", envelope.queue_id);
  Add("mdaFolder", folder);
  report_begin_ = attributes_.size();
  AddReport(info.report, verp_recipient);
  if (has_report()) attributes_.front().values.push_back("mdaReport");
}

std::vector<AttributeView> MessageEntry::attributes_without_report() const {
  std::vector<AttributeView> out(
      attributes_.begin(),
      attributes_.begin() + static_cast<std::ptrdiff_t>(report_begin_));
  out.front().values = {"mdaMessage"};
  return out;
}

void MessageEntry::AddReport(const Report& report,
                             std::string_view verp_recipient) {
  AddText("mdaVerpRecipient", SanitizeText(verp_recipient, kMaxHeaderValue));
  AddText("mdaAutoSubmitted", SanitizeText(report.auto_submitted, 64));
  if (report.kind == ReportKind::kNone) return;
  Add("mdaReportType", report.kind == ReportKind::kFeedback
                           ? "feedback-report"
                           : "delivery-status");
  AddText("mdaReportFormat", SanitizeText(report.format, 64));
  AddText("mdaReportedMessageId",
          SanitizeText(report.original_message_id, kMaxHeaderValue));
  if (report.kind == ReportKind::kFeedback) {
    AddText("mdaArfFeedbackType", SanitizeText(report.feedback_type, 64));
    AddText("mdaArfUserAgent",
            SanitizeText(report.user_agent, kMaxHeaderValue));
    AddText("mdaArfOriginalMailFrom",
            SanitizeText(report.original_mail_from, kMaxHeaderValue));
    AddSet("mdaArfOriginalRcptTo", report.original_rcpt_to);
    AddText("mdaArfArrivalDate", SanitizeText(report.arrival_date, 15));
    AddSet("mdaArfSourceIp", report.source_ip);
    AddSet("mdaArfReportedDomain", report.reported_domain);
    return;
  }
  AddText("mdaDsnReportingMta",
          SanitizeText(report.reporting_mta, kMaxHeaderValue));
  AddText("mdaDsnEnvelopeId",
          SanitizeText(report.original_envelope_id, kMaxHeaderValue));
  std::vector<std::string> final, original, action, status, diagnostic, remote,
      result;
  for (const DsnRecipient& r : report.recipients) {
    final.push_back(r.final_recipient);
    original.push_back(r.original_recipient);
    action.push_back(r.action);
    status.push_back(r.status);
    diagnostic.push_back(r.diagnostic);
    remote.push_back(r.remote_mta);
    if (!r.final_recipient.empty()) result.push_back(FormatDsnResult(r));
  }
  AddSet("mdaDsnRecipient", final);
  AddSet("mdaDsnOriginalRecipient", original);
  AddSet("mdaDsnAction", action);
  AddSet("mdaDsnStatus", status);
  AddSet("mdaDsnDiagnostic", diagnostic);
  AddSet("mdaDsnRemoteMta", remote);
  AddSet("mdaDsnResult", result);
}

void MessageEntry::AddSet(std::string name,
                          const std::vector<std::string>& values) {
  // An attribute's values are a set under its (case-ignoring) equality
  // rule: a duplicate would make slapd refuse the whole entry.
  std::vector<std::string> seen;
  AttributeView attribute{std::move(name), {}};
  for (const std::string& value : values) {
    auto clean = SanitizeText(value, kMaxHeaderValue);
    if (!clean) continue;
    const std::string folded = FoldForMatching(*clean);
    if (std::find(seen.begin(), seen.end(), folded) != seen.end()) continue;
    seen.push_back(folded);
    owned_.push_back(std::move(*clean));
    attribute.values.push_back(owned_.back());
  }
  if (!attribute.values.empty()) attributes_.push_back(std::move(attribute));
}

void MessageEntry::Add(std::string name, std::string_view value) {
  owned_.emplace_back(value);
  attributes_.push_back({std::move(name), {owned_.back()}});
}

void MessageEntry::AddText(std::string name,
                           const std::optional<std::string>& value) {
  if (value) Add(std::move(name), *value);
}

DeliveryResult Delivery::Deliver(std::string_view raw, const MessageInfo& info,
                                 const Envelope& envelope,
                                 const std::string& recipient) {
  // Sanity: an address we cannot even put into a filter is the sender's
  // problem, and final.
  if (!ParseAddress(recipient)) {
    return {{kDsnBadAddress, "invalid recipient address"}, "", ""};
  }

  // Lookup: exactly one entry (exact, without extension, catch-all).
  Resolution where;
  if (Outcome o = resolver_.Resolve(recipient, envelope.extension, &where);
      o.disposition() != Disposition::kSent) {
    return {o, "", ""};
  }
  return Deliver(raw, info, envelope, recipient, where);
}

DeliveryResult Delivery::Deliver(std::string_view raw, const MessageInfo& info,
                                 const Envelope& envelope,
                                 const std::string& recipient,
                                 const Resolution& where) {
  // The DN derives from the bytes, so a retry finds its own entry.
  const std::string key = MessageKey(recipient, raw);
  const std::string mailbox_dn =
      ExpandMailboxDn(config_.mailbox_dn, where.entry.dn, where.lookup);
  const std::string message_dn = "mdaKey=" + key + "," + mailbox_dn;

  // Policy: account status and quota.
  if (Outcome o = CheckPolicy(where.entry, mailbox_dn, raw.size());
      o.disposition() != Disposition::kSent) {
    o = RefuseUnlessStored(o, message_dn);
    if (o.disposition() != Disposition::kSent) return {o, "", ""};
    o = ConfirmStored(std::move(o), message_dn);
    return {o, o.disposition() == Disposition::kSent ? message_dn : "",
            where.folder};
  }

  // Store.
  const MessageEntry entry(key, raw, info, envelope, recipient, where.folder,
                           std::time(nullptr), where.verp_recipient);
  bool created = false;
  Outcome o = Store(mailbox_dn, message_dn, entry, &created);
  if (o.disposition() != Disposition::kSent) return {o, "", ""};
  // Only a new entry counts; a retry was counted when it was stored.
  if (config_.tracks_usage() && created) CountStored(mailbox_dn, raw.size());
  o = ConfirmStored(std::move(o), message_dn);
  if (o.disposition() != Disposition::kSent) return {o, "", ""};
  return {o, message_dn, where.folder};
}

Outcome Delivery::ConfirmStored(Outcome stored, const std::string& message_dn) {
  if (confirmer_ == nullptr || !confirmer_->enabled()) return stored;
  Outcome confirmed = confirmer_->Confirm(message_dn);
  if (confirmed.disposition() != Disposition::kSent) {
    // Stored on the provider, but not yet anywhere else: Postfix keeps
    // its copy, and the retry finds the entry and confirms again.
    confirmed.text = stored.text + ", but " + confirmed.text;
    return confirmed;
  }
  stored.text += ", " + confirmed.text;
  return stored;
}

Outcome Delivery::CheckPolicy(const Entry& entry, const std::string& mailbox_dn,
                              std::size_t size) {
  if (!config_.account_status_attribute.empty()) {
    if (const auto* status = Values(entry, config_.account_status_attribute)) {
      for (const auto& value : *status) {
        for (const auto& disabled : config_.account_disabled_values) {
          if (AsciiLower(value) == AsciiLower(disabled)) {
            return {kDsnDisabled, "mailbox disabled (" +
                                      config_.account_status_attribute + ": " +
                                      value + ")"};
          }
        }
      }
    }
  }
  if (config_.quota_attribute.empty()) return Outcome::Sent("ok");
  const auto* quota = Values(entry, config_.quota_attribute);
  if (quota == nullptr || quota->empty()) return Outcome::Sent("unlimited");
  const auto limit = ParseCount(quota->front());
  if (!limit) {
    // A broken value in the directory is for the administrator to fix.
    return {kDsnConfig, "quota attribute " + config_.quota_attribute + " of " +
                            entry.dn +
                            " is not a byte count: " + quota->front()};
  }
  Usage usage;
  if (Outcome o = ReadUsage(store_, mailbox_dn, deadline_, &usage);
      o.disposition() != Disposition::kSent) {
    return o;
  }
  if (FitsQuota(usage, size, *limit)) return Outcome::Sent("fits");
  return {config_.quota_full_tempfail ? kDsnOverQuotaTemp : kDsnOverQuota,
          "mailbox full: " + std::to_string(usage.bytes) + " of " +
              std::to_string(*limit) + " bytes used, message is " +
              std::to_string(size) + " bytes"};
}

Outcome Delivery::RefuseUnlessStored(Outcome refusal,
                                     const std::string& message_dn) {
  // Only on this rare path does the extra round trip happen.
  SearchRequest request{message_dn, Scope::kBase, "(objectClass=*)", {}, 1};
  std::vector<Entry> entries;
  const DirResult r = store_.Search(request, &entries);
  if (r.ok() && !entries.empty()) {
    return Outcome::Sent("already stored as " + message_dn);
  }
  return refusal;
}

Outcome Delivery::Store(const std::string& mailbox_dn,
                        const std::string& message_dn,
                        const MessageEntry& entry, bool* created) {
  *created = false;
  // Hot path: one add. The mailbox is created only when the add says it
  // does not exist yet; a concurrent creator's entryAlreadyExists is fine.
  DirResult r = AddMessage(message_dn, entry);
  if (r.code == LDAP_NO_SUCH_OBJECT) {
    const auto cn = FirstRdnValue(mailbox_dn);
    if (!cn) {
      return {kDsnConfig, "mailbox_dn expands to an invalid DN: " + mailbox_dn};
    }
    std::vector<AttributeView> mailbox = {{"objectClass", {"mdaMailbox"}},
                                          {"cn", {*cn}}};
    if (config_.tracks_usage()) {
      mailbox.push_back({"mdaMailboxSize", {"0"}});
      mailbox.push_back({"mdaMessageCount", {"0"}});
    }
    const DirResult m = store_.Add(mailbox_dn, mailbox);
    if (!m.ok() && m.code != LDAP_ALREADY_EXISTS) {
      Outcome o = DirectoryFailure(LdapOp::kAddMailbox, m, deadline_);
      o.text = "creating mailbox " + mailbox_dn + ": " + o.text;
      return o;
    }
    r = AddMessage(message_dn, entry);
  }
  if (r.ok()) {
    *created = true;
    return Outcome::Sent("stored as " + message_dn);
  }
  if (r.code == LDAP_ALREADY_EXISTS) {
    return Outcome::Sent("already stored as " + message_dn);
  }
  Outcome o = DirectoryFailure(LdapOp::kAddMessage, r, deadline_);
  o.text = "storing below " + mailbox_dn + ": " + o.text;
  return o;
}

DirResult Delivery::AddMessage(const std::string& message_dn,
                               const MessageEntry& entry) {
  const DirResult r = store_.Add(message_dn, entry.attributes());
  if (!RefusedReportAttributes(r) || !entry.has_report()) return r;
  // A directory whose schema predates mdaReport (slapd checks the schema
  // before the parent exists), or report values it will not take: the
  // message matters, its report data does not. Store it without them,
  // and say so.
  const char* advice = r.code == LDAP_TYPE_OR_VALUE_EXISTS
                           ? ""
                           : "; load the current ldapmda.schema (mdaReport)";
  Log(LogLevel::kWarning,
      "storing " + message_dn + " without its report attributes: " +
          ClassifyLdapResult(LdapOp::kAddMessage, r).text + advice);
  return store_.Add(message_dn, entry.attributes_without_report());
}

void Delivery::CountStored(const std::string& mailbox_dn, std::size_t size) {
  const std::vector<Modification> changes = {
      {Modification::Op::kIncrement, "mdaMailboxSize", {std::to_string(size)}},
      {Modification::Op::kIncrement, "mdaMessageCount", {"1"}}};
  const DirResult r = store_.Modify(mailbox_dn, changes);
  if (!r.ok()) {
    Log(LogLevel::kWarning,
        "usage counters of " + mailbox_dn + " not updated (" +
            ClassifyLdapResult(LdapOp::kModify, r).text +
            "); the message is stored; run ldapmda --recount to repair");
  }
}

Outcome ReadUsage(Directory& directory, const std::string& mailbox_dn,
                  const Deadline& deadline, Usage* usage) {
  *usage = {};
  SearchRequest request{mailbox_dn,
                        Scope::kBase,
                        "(objectClass=*)",
                        {"mdaMailboxSize", "mdaMessageCount"},
                        1};
  std::vector<Entry> entries;
  const DirResult r = directory.Search(request, &entries);
  if (r.code == LDAP_NO_SUCH_OBJECT) return Outcome::Sent("no mailbox yet");
  if (!r.ok()) {
    Outcome o = DirectoryFailure(LdapOp::kSearch, r, deadline);
    o.text = "reading usage of " + mailbox_dn + ": " + o.text;
    return o;
  }
  if (entries.empty()) return Outcome::Sent("no mailbox yet");
  const auto* bytes = Values(entries.front(), "mdaMailboxSize");
  const auto* count = Values(entries.front(), "mdaMessageCount");
  if (bytes == nullptr || count == nullptr || bytes->empty() ||
      count->empty()) {
    Log(LogLevel::kWarning, mailbox_dn +
                                " has no usage counters; run ldapmda "
                                "--recount to set them");
    return Outcome::Sent("no counters");
  }
  usage->bytes = ParseCount(bytes->front()).value_or(0);
  usage->messages = ParseCount(count->front()).value_or(0);
  return Outcome::Sent("read");
}

Outcome Recount(const Config& config, Directory& directory,
                const Deadline& deadline, const std::string& address,
                std::string* mailbox_dn, Usage* before, Usage* after) {
  Resolver resolver(config, directory, deadline);
  Resolution where;
  if (Outcome o = resolver.Resolve(address, "", &where);
      o.disposition() != Disposition::kSent) {
    return o;
  }
  *mailbox_dn =
      ExpandMailboxDn(config.mailbox_dn, where.entry.dn, where.lookup);
  if (Outcome o = ReadUsage(directory, *mailbox_dn, deadline, before);
      o.disposition() != Disposition::kSent) {
    return o;
  }
  // Paged, so that server size limits do not cut a large mailbox short.
  SearchRequest request{*mailbox_dn, Scope::kOne, "(objectClass=mdaMessage)",
                        {"mdaSize"}, 0,           500};
  std::vector<Entry> messages;
  DirResult r = directory.Search(request, &messages);
  if (r.code == LDAP_NO_SUCH_OBJECT) {
    *after = {};
    return Outcome::Sent("no mailbox yet: nothing to count");
  }
  if (!r.ok()) return DirectoryFailure(LdapOp::kSearch, r, deadline);
  *after = {};
  for (const auto& m : messages) {
    const auto* size = Values(m, "mdaSize");
    if (size && !size->empty())
      after->bytes += ParseCount(size->front()).value_or(0);
    ++after->messages;
  }
  const std::vector<Modification> changes = {
      {Modification::Op::kReplace,
       "mdaMailboxSize",
       {std::to_string(after->bytes)}},
      {Modification::Op::kReplace,
       "mdaMessageCount",
       {std::to_string(after->messages)}}};
  r = directory.Modify(*mailbox_dn, changes);
  if (!r.ok()) return DirectoryFailure(LdapOp::kModify, r, deadline);
  return Outcome::Sent("recounted");
}

}  // namespace ldapmda
