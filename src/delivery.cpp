// delivery: the delivery core (see delivery.h). A short, linear sequence
// of guarded steps; every early return is one Outcome.
#include "ldapmda/delivery.h"

#include <ldap.h>

#include "ldapmda/escape.h"

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

MessageEntry::MessageEntry(std::string_view key, std::string_view raw,
                           const MessageInfo& info, const Envelope& envelope,
                           std::string_view recipient,
                           std::time_t delivered_at) {
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
  Add("mdaFolder", "INBOX");
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
    return {{kDsnBadAddress, "invalid recipient address"}, ""};
  }

  // Lookup: exactly one entry, or a reason.
  std::string entry_dn;
  if (Outcome o = Lookup(recipient, &entry_dn);
      o.disposition() != Disposition::kSent) {
    return {o, ""};
  }

  // Store: the DN derives from the bytes, so a retry finds its own entry.
  const std::string key = MessageKey(recipient, raw);
  const std::string mailbox_dn =
      ExpandMailboxDn(config_.mailbox_dn, entry_dn, recipient);
  const std::string message_dn = "mdaKey=" + key + "," + mailbox_dn;
  const MessageEntry entry(key, raw, info, envelope, recipient,
                           std::time(nullptr));
  Outcome o = Store(mailbox_dn, message_dn, entry);
  if (o.disposition() != Disposition::kSent) return {o, ""};
  return {o, message_dn};
}

Outcome Delivery::Lookup(const std::string& recipient, std::string* entry_dn) {
  const auto filter = ExpandQueryFilter(config_.query_filter, recipient);
  if (!filter) {
    // As Postfix does: a %d query for an address without a domain finds
    // nothing.
    return {kDsnNoSuchUser, "no such user here (address has no domain)"};
  }
  SearchRequest request{config_.search_base, config_.scope, *filter, {}, 2};
  std::vector<Entry> entries;
  const DirResult r = lookup_.Search(request, &entries);
  if (r.code == LDAP_SIZELIMIT_EXCEEDED || entries.size() > 1) {
    // Which mailbox is meant is a question for the administrator.
    return {kDsnConfig,
            "recipient lookup is ambiguous: more than one entry "
            "matches " +
                *filter + " below " + config_.search_base};
  }
  if (!r.ok()) {
    Outcome o = Failure(LdapOp::kSearch, r);
    o.text = "lookup below " + config_.search_base + ": " + o.text;
    return o;
  }
  if (entries.empty()) {
    return {kDsnNoSuchUser, "no such user here"};
  }
  *entry_dn = entries.front().dn;
  return Outcome::Sent("found");
}

Outcome Delivery::Store(const std::string& mailbox_dn,
                        const std::string& message_dn,
                        const MessageEntry& entry) {
  // Hot path: one add. The mailbox is created only when the add says it
  // does not exist yet; a concurrent creator's entryAlreadyExists is fine.
  DirResult r = store_.Add(message_dn, entry.attributes());
  if (r.code == LDAP_NO_SUCH_OBJECT) {
    const auto cn = FirstRdnValue(mailbox_dn);
    if (!cn) {
      return {kDsnConfig, "mailbox_dn expands to an invalid DN: " + mailbox_dn};
    }
    const std::vector<AttributeView> mailbox = {{"objectClass", {"mdaMailbox"}},
                                                {"cn", {*cn}}};
    const DirResult m = store_.Add(mailbox_dn, mailbox);
    if (!m.ok() && m.code != LDAP_ALREADY_EXISTS) {
      Outcome o = Failure(LdapOp::kAddMailbox, m);
      o.text = "creating mailbox " + mailbox_dn + ": " + o.text;
      return o;
    }
    r = store_.Add(message_dn, entry.attributes());
  }
  if (r.ok()) return Outcome::Sent("stored as " + message_dn);
  if (r.code == LDAP_ALREADY_EXISTS) {
    return Outcome::Sent("already stored as " + message_dn);
  }
  Outcome o = Failure(LdapOp::kAddMessage, r);
  o.text = "storing below " + mailbox_dn + ": " + o.text;
  return o;
}

Outcome Delivery::Failure(LdapOp op, const DirResult& result) const {
  if (deadline_.Expired()) {
    return {kDsnInternal, "deadline exceeded (last directory result: " +
                              ClassifyLdapResult(op, result).text + ")"};
  }
  return ClassifyLdapResult(op, result);
}

}  // namespace ldapmda
