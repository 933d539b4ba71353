// delivery: the delivery core (see delivery.h). A short, linear sequence
// of guarded steps; every early return is one Outcome.
#include "ldapmda/delivery.h"

#include "ldapmda/layout.h"
#include "ldapmda/ldap_syntax.h"
#include "ldapmda/log.h"
#include "ldapmda/text.h"

namespace ldapmda {
namespace {

// What slapd answers an add that uses attributes or classes its schema
// does not define, values their syntax refuses, or two values its
// matching rule takes for one (AddSet folds as closely as it can).
bool RefusedReportAttributes(const DirResult& r) {
  return r.schema_refusal() || r.value_exists();
}

}  // namespace

DeliveryResult Delivery::Deliver(std::string_view raw, const MessageInfo& info,
                                 const Envelope& envelope,
                                 const std::string& recipient) {
  // Sanity: an address we cannot even put into a filter is the sender's
  // problem, and final.
  const std::optional<Address> address = ParseAddress(recipient);
  if (!address) {
    return {{kDsnBadAddress, "invalid recipient address"}, "", ""};
  }

  // Lookup: exactly one entry (exact, without extension, catch-all).
  Resolution where;
  if (Outcome o = resolver_.Resolve(*address, envelope.extension, &where);
      !o.ok()) {
    return {o, "", ""};
  }
  return Deliver(raw, info, envelope, *address, where);
}

DeliveryResult Delivery::Deliver(std::string_view raw, const MessageInfo& info,
                                 const Envelope& envelope,
                                 const Address& recipient,
                                 const Resolution& where) {
  // The DN derives from the bytes, so a retry finds its own entry.
  const std::string key = MessageKey(recipient.text, raw);
  const std::string& mailbox_dn = where.mailbox_dn;
  const std::string message_dn =
      MessageDn(FolderDn(mailbox_dn, where.folder), key);

  // Policy: account status and quota.
  if (Outcome o = CheckPolicy(where.entry, mailbox_dn, raw.size()); !o.ok()) {
    std::string stored_dn;
    o = RefuseUnlessStored(o, {message_dn, FlatMessageDn(mailbox_dn, key)},
                           &stored_dn);
    if (!o.ok()) return {o, "", ""};
    o = ConfirmStored(std::move(o), stored_dn);
    return {o, o.ok() ? stored_dn : "", where.folder};
  }

  // Store.
  const MessageEntry entry(key, raw, info, envelope, recipient.text,
                           where.folder, std::time(nullptr),
                           where.verp_recipient);
  bool created = false;
  std::string stored_dn;
  Outcome o = Store(mailbox_dn, entry, &created, &stored_dn);
  if (!o.ok()) return {o, "", ""};
  // Only a new entry counts; a retry was counted when it was stored.
  if (config_.tracks_usage() && created) {
    CountUsage(store_, mailbox_dn, static_cast<long long>(raw.size()), 1);
  }
  o = ConfirmStored(std::move(o), stored_dn);
  if (!o.ok()) return {o, "", ""};
  return {o, stored_dn, where.folder};
}

Outcome Delivery::ConfirmStored(Outcome stored, const std::string& message_dn) {
  if (confirmer_ == nullptr || !confirmer_->enabled()) return stored;
  Outcome confirmed = confirmer_->Confirm(message_dn);
  if (!confirmed.ok()) {
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
    for (const auto& value : entry.All(config_.account_status_attribute)) {
      for (const auto& disabled : config_.account_disabled_values) {
        if (EqualsIgnoreCase(value, disabled)) {
          return {kDsnDisabled, "mailbox disabled (" +
                                    config_.account_status_attribute + ": " +
                                    value + ")"};
        }
      }
    }
  }
  if (config_.quota_attribute.empty()) return Outcome::Ok("ok");
  const std::string& quota = entry.First(config_.quota_attribute);
  if (quota.empty()) return Outcome::Ok("unlimited");
  const auto limit = ParseCount(quota);
  if (!limit) {
    // A broken value in the directory is for the administrator to fix.
    return {kDsnConfig, "quota attribute " + config_.quota_attribute + " of " +
                            entry.dn + " is not a byte count: " + quota};
  }
  Usage usage;
  if (Outcome o = ReadUsage(store_, mailbox_dn, deadline_, &usage); !o.ok()) {
    return o;
  }
  if (FitsQuota(usage, size, *limit)) return Outcome::Ok("fits");
  return {config_.quota_full_tempfail ? kDsnOverQuotaTemp : kDsnOverQuota,
          "mailbox full: " + std::to_string(usage.bytes) + " of " +
              std::to_string(*limit) + " bytes used, message is " +
              std::to_string(size) + " bytes"};
}

Outcome Delivery::RefuseUnlessStored(
    Outcome refusal, const std::vector<std::string>& message_dns,
    std::string* stored_dn) {
  // Only on this rare path does the extra round trip happen: one for all
  // the places, which do not depend on each other; the first found wins.
  std::vector<SearchRequest> requests;
  for (const std::string& dn : message_dns) {
    requests.push_back({dn, Scope::kBase, "(objectClass=*)", {}, 1});
  }
  std::vector<std::vector<Entry>> entries;
  std::vector<DirResult> results;
  store_.SearchMany(requests, &entries, &results);
  for (std::size_t i = 0; i < message_dns.size(); ++i) {
    if (results[i].ok() && !entries[i].empty()) {
      *stored_dn = message_dns[i];
      return Outcome::Sent("already stored as " + message_dns[i]);
    }
  }
  // A place the directory could not answer for may hold it: refusing
  // then could bounce a message that is stored, for a fault of ours.
  for (const DirResult& r : results) {
    if (!r.ok() && !r.no_such_object()) {
      Outcome o = DirectoryFailure(DirOp::kSearch, r, deadline_);
      o.text = "checking whether the message is stored already: " + o.text;
      return o;
    }
  }
  return refusal;
}

Outcome Delivery::Store(const std::string& mailbox_dn,
                        const MessageEntry& entry, bool* created,
                        std::string* stored_dn) {
  *created = false;
  const std::string folder_dn = FolderDn(mailbox_dn, entry.folder());
  *stored_dn = MessageDn(folder_dn, entry.key());
  // Hot path: one add. The folder (and before it the mailbox) is created
  // only when the add says it does not exist yet; a concurrent creator's
  // entryAlreadyExists is fine.
  DirResult r = AddMessage(*stored_dn, entry);
  if (r.no_such_object()) {
    const DirResult f =
        AddFolder(mailbox_dn, folder_dn, entry.folder(), entry.folder());
    if (f.schema_refusal()) {
      // A schema from before folders (no mdaMailFolder): the message
      // goes right below the mailbox, where older ldapmda put it; the
      // Dovecot driver moves it into its folder once the schema is new.
      Log(LogLevel::kWarning,
          "the directory's schema has no folders (mdaMailFolder): storing "
          "below " +
              mailbox_dn + "; load the current ldapmda.schema");
      *stored_dn = FlatMessageDn(mailbox_dn, entry.key());
      // slapd checked the schema before the parent: it may be missing.
      if (Outcome o = CreateMailbox(mailbox_dn); !o.ok()) return o;
    } else if (!f.ok() && !f.already_exists()) {
      Outcome o = DirectoryFailure(DirOp::kAddMailbox, f, deadline_);
      o.text = "creating folder " + folder_dn + ": " + o.text;
      return o;
    }
    r = AddMessage(*stored_dn, entry);
  }
  if (r.ok()) {
    *created = true;
    return Outcome::Sent("stored as " + *stored_dn);
  }
  if (r.already_exists()) {
    return Outcome::Sent("already stored as " + *stored_dn);
  }
  Outcome o = DirectoryFailure(DirOp::kAddMessage, r, deadline_);
  o.text = "storing below " + ParentDn(*stored_dn) + ": " + o.text;
  return o;
}

DirResult Delivery::AddFolder(const std::string& mailbox_dn,
                              const std::string& folder_dn,
                              const std::string& id, const std::string& name) {
  const FolderEntry entry(id, name,
                          static_cast<std::uint32_t>(std::time(nullptr)));
  DirResult r = store_.Add(folder_dn, entry.attributes());
  if (r.no_such_object()) {
    if (Outcome o = CreateMailbox(mailbox_dn); !o.ok()) {
      // Reported as the folder's failure, with the mailbox's text.
      r.message = o.text;
      return r;
    }
    r = store_.Add(folder_dn, entry.attributes());
  }
  return r;
}

Outcome Delivery::CreateFolder(const std::string& mailbox_dn,
                               const std::string& id, const std::string& name) {
  const std::string folder_dn = FolderDn(mailbox_dn, id);
  const DirResult r = AddFolder(mailbox_dn, folder_dn, id, name);
  if (!r.ok() && !r.already_exists()) {
    Outcome o = DirectoryFailure(DirOp::kAddMailbox, r, deadline_);
    o.text = "creating folder " + folder_dn + ": " + o.text;
    return o;
  }
  return Outcome::Ok("folder exists");
}

Outcome Delivery::CreateMailbox(const std::string& mailbox_dn) {
  const auto cn = FirstRdnValue(mailbox_dn);
  if (!cn) {
    return {kDsnConfig, "mailbox_dn expands to an invalid DN: " + mailbox_dn};
  }
  std::vector<AttributeView> mailbox = {{"objectClass", {oc::kMailbox}},
                                        {"cn", {*cn}}};
  if (config_.tracks_usage()) {
    mailbox.push_back({at::kMailboxSize, {"0"}});
    mailbox.push_back({at::kMessageCount, {"0"}});
  }
  const DirResult r = store_.Add(mailbox_dn, mailbox);
  if (!r.ok() && !r.already_exists()) {
    Outcome o = DirectoryFailure(DirOp::kAddMailbox, r, deadline_);
    o.text = "creating mailbox " + mailbox_dn + ": " + o.text;
    return o;
  }
  return Outcome::Ok("mailbox exists");
}

DirResult Delivery::AddMessage(const std::string& message_dn,
                               const MessageEntry& entry) {
  DirResult r = store_.Add(message_dn, entry.attributes());
  if (!RefusedReportAttributes(r) || !entry.has_report()) return r;
  // A schema of before mdaDsnReason: the report without the reasons.
  if (r.schema_refusal() && entry.has_reasons()) {
    const DirResult without =
        store_.Add(message_dn, entry.attributes_without_reasons());
    if (!RefusedReportAttributes(without)) {
      if (without.ok()) {
        Log(LogLevel::kWarning,
            "storing " + message_dn +
                " without mdaDsnReason: the directory's schema predates it; "
                "load the current ldapmda.schema");
      }
      return without;
    }
    r = without;
  }
  // A directory whose schema predates mdaReport (slapd checks the schema
  // before the parent exists), or report values it will not take: the
  // message matters, its report data does not. Store it without them,
  // and say so.
  const char* advice =
      r.value_exists() ? "" : "; load the current ldapmda.schema (mdaReport)";
  Log(LogLevel::kWarning,
      "storing " + message_dn + " without its report attributes: " +
          ClassifyDirResult(DirOp::kAddMessage, r).text + advice);
  return store_.Add(message_dn, entry.attributes_without_report());
}

}  // namespace ldapmda
