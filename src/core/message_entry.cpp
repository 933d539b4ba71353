// message_entry: the attributes of a stored message (message_entry.h).
#include "ldapmda/message_entry.h"

#include <algorithm>

#include "ldapmda/layout.h"
#include "ldapmda/text.h"

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

}  // namespace

std::string MessageKey(std::string_view recipient, std::string_view raw) {
  return Sha256Hex({AsciiLower(recipient), "\n", raw});
}

std::string FormatDsnResult(const DsnRecipient& r) {
  return r.action + ";" + r.status + ";" + AsciiLower(r.final_recipient);
}

std::string FormatDsnReason(const DsnRecipient& r) {
  if (r.reason.empty() || r.final_recipient.empty()) return {};
  return r.reason + ";" + r.bounce_type + ";" + AsciiLower(r.final_recipient);
}

MessageEntry::MessageEntry(std::string_view key, std::string_view raw,
                           const MessageInfo& info, const Envelope& envelope,
                           std::string_view recipient, std::string_view folder,
                           std::time_t delivered_at,
                           std::string_view verp_recipient)
    : key_(key), folder_(folder) {
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

std::vector<AttributeView> MessageEntry::attributes_without_reasons() const {
  std::vector<AttributeView> out = attributes_;
  if (has_reasons()) {
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(reasons_));
  }
  return out;
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
      result, reason;
  for (const DsnRecipient& r : report.recipients) {
    final.push_back(r.final_recipient);
    original.push_back(r.original_recipient);
    action.push_back(r.action);
    status.push_back(r.status);
    diagnostic.push_back(r.diagnostic);
    remote.push_back(r.remote_mta);
    if (!r.final_recipient.empty()) result.push_back(FormatDsnResult(r));
    reason.push_back(FormatDsnReason(r));
  }
  AddSet("mdaDsnRecipient", final);
  AddSet("mdaDsnOriginalRecipient", original);
  AddSet("mdaDsnAction", action);
  AddSet("mdaDsnStatus", status);
  AddSet("mdaDsnDiagnostic", diagnostic);
  AddSet("mdaDsnRemoteMta", remote);
  AddSet("mdaDsnResult", result);
  // Last, so that attributes_without_reasons() is the rest.
  const std::size_t before = attributes_.size();
  AddSet("mdaDsnReason", reason);
  if (attributes_.size() > before) reasons_ = before;
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

FolderEntry::FolderEntry(std::string id, std::string name,
                         std::uint32_t uid_validity)
    : id_(std::move(id)),
      name_(std::move(name)),
      uid_validity_(std::to_string(uid_validity)) {}

std::vector<AttributeView> FolderEntry::attributes() const {
  return {{"objectClass", {oc::kMailFolder}},
          {at::kFolder, {id_}},
          {at::kFolderName, {name_}},
          {at::kUidValidity, {uid_validity_}},
          {at::kUidNext, {"1"}},
          {at::kRemovals, {"0"}}};
}

}  // namespace ldapmda
