// dsn_fields: see dsn_fields.h.
#include "core/dsn_fields.h"

#include <cstddef>
#include <optional>
#include <utility>

#include "core/report_syntax.h"

namespace ldapmda {
namespace {

using report_syntax::Address;
using report_syntax::Clean;
using report_syntax::Fields;
using report_syntax::FirstTokenLower;
using report_syntax::Get;
using report_syntax::StatusField;
using report_syntax::StripType;
using report_syntax::Trim;
using report_syntax::TypeOf;

constexpr std::size_t kMaxRecipients = 1000;

std::optional<DsnRecipient> RecipientBlock(const Fields& fields) {
  DsnRecipient r;
  r.original_recipient = Address(Get(fields, "original-recipient"));
  r.final_recipient = Address(Get(fields, "final-recipient"));
  // Without Final-Recipient, the original address is the best name left;
  // so it is when Final-Recipient names no mailbox the sender could use
  // (an X.400 address, a source route, "user@sims-ms-daemon").
  if (r.final_recipient.empty() ||
      (!report_syntax::IsMailAddress(r.final_recipient) &&
       report_syntax::IsMailAddress(r.original_recipient))) {
    r.final_recipient = r.original_recipient;
  }
  if (r.final_recipient.empty()) return std::nullopt;
  r.action = Clean(FirstTokenLower(Get(fields, "action")));
  const std::string_view status = Get(fields, "status");
  r.status = StatusField(status);
  r.diagnostic = Clean(StripType(Get(fields, "diagnostic-code")));
  r.diagnostic_type = Clean(TypeOf(Get(fields, "diagnostic-code")));
  // "Status: 553 Exceeded maximum inbound message size": no code, but
  // the only words the report has about the failure.
  if (r.status.empty() && r.diagnostic.empty()) {
    r.diagnostic = Clean(Trim(status));
  }
  r.remote_mta = Clean(StripType(Get(fields, "remote-mta")));
  return r;
}

}  // namespace

void ParseDeliveryStatus(std::string_view text, Report& report) {
  report_syntax::ForEachBlock(text, [&report](const Fields& fields) {
    // Per-message fields are taken from any block: some MTAs omit the
    // blank line between the per-message and the first recipient block.
    if (report.reporting_mta.empty()) {
      report.reporting_mta = Clean(StripType(Get(fields, "reporting-mta")));
    }
    if (report.original_envelope_id.empty()) {
      report.original_envelope_id = Clean(Get(fields, "original-envelope-id"));
    }
    if (report.recipients.size() >= kMaxRecipients) return;
    if (auto r = RecipientBlock(fields)) {
      report.recipients.push_back(std::move(*r));
    }
  });
}

}  // namespace ldapmda
