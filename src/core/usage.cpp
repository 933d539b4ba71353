// usage: the mailbox usage counters (usage.h).
#include "ldapmda/usage.h"

#include <charconv>
#include <optional>
#include <vector>

#include "ldapmda/layout.h"
#include "ldapmda/log.h"
#include "ldapmda/recipient.h"

namespace ldapmda {

std::optional<long long> ParseCount(std::string_view text) {
  long long n = 0;
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < 0) {
    return std::nullopt;
  }
  return n;
}

bool FitsQuota(const Usage& usage, std::size_t size, long long limit) {
  return usage.bytes >= 0 &&
         static_cast<unsigned long long>(usage.bytes) + size <=
             static_cast<unsigned long long>(limit);
}

void CountUsage(Directory& directory, const std::string& mailbox_dn,
                long long bytes, long long messages) {
  const std::vector<Modification> changes = {
      {Modification::Op::kIncrement, at::kMailboxSize, {std::to_string(bytes)}},
      {Modification::Op::kIncrement,
       at::kMessageCount,
       {std::to_string(messages)}}};
  const DirResult r = directory.Modify(mailbox_dn, changes);
  if (!r.ok()) {
    Log(LogLevel::kWarning, "usage counters of " + mailbox_dn +
                                " not updated (" +
                                ClassifyDirResult(DirOp::kModify, r).text +
                                "); run ldapmda --recount to repair them");
  }
}

Outcome ReadUsage(Directory& directory, const std::string& mailbox_dn,
                  const Deadline& deadline, Usage* usage) {
  *usage = {};
  SearchRequest request{mailbox_dn,
                        Scope::kBase,
                        "(objectClass=*)",
                        {at::kMailboxSize, at::kMessageCount},
                        1};
  std::vector<Entry> entries;
  const DirResult r = directory.Search(request, &entries);
  if (r.no_such_object()) return Outcome::Ok("no mailbox yet");
  if (!r.ok()) {
    Outcome o = DirectoryFailure(DirOp::kSearch, r, deadline);
    o.text = "reading usage of " + mailbox_dn + ": " + o.text;
    return o;
  }
  if (entries.empty()) return Outcome::Ok("no mailbox yet");
  const std::string& bytes = entries.front().First(at::kMailboxSize);
  const std::string& count = entries.front().First(at::kMessageCount);
  if (bytes.empty() || count.empty()) {
    Log(LogLevel::kWarning, mailbox_dn +
                                " has no usage counters; run ldapmda "
                                "--recount to set them");
    return Outcome::Ok("no counters");
  }
  usage->bytes = ParseCount(bytes).value_or(0);
  usage->messages = ParseCount(count).value_or(0);
  return Outcome::Ok("read");
}

Outcome RecountMailbox(Directory& directory, const std::string& mailbox_dn,
                       const Deadline& deadline, Usage* after) {
  *after = {};
  // Paged, so that server size limits do not cut a large mailbox short;
  // every folder, and messages an older ldapmda stored right below.
  SearchRequest request{mailbox_dn,
                        Scope::kSub,
                        std::string("(objectClass=") + oc::kMessage + ")",
                        {at::kSize},
                        0,
                        500};
  std::vector<Entry> messages;
  DirResult r = directory.Search(request, &messages);
  if (r.no_such_object())
    return Outcome::Ok("no mailbox yet: nothing to count");
  if (!r.ok()) return DirectoryFailure(DirOp::kSearch, r, deadline);
  for (const auto& m : messages) {
    after->bytes += ParseCount(m.First(at::kSize)).value_or(0);
    ++after->messages;
  }
  const std::vector<Modification> changes = {
      {Modification::Op::kReplace,
       at::kMailboxSize,
       {std::to_string(after->bytes)}},
      {Modification::Op::kReplace,
       at::kMessageCount,
       {std::to_string(after->messages)}}};
  r = directory.Modify(mailbox_dn, changes);
  if (!r.ok()) return DirectoryFailure(DirOp::kModify, r, deadline);
  return Outcome::Ok("recounted");
}

Outcome Recount(const Config& config, Directory& directory,
                const Deadline& deadline, const std::string& address,
                std::string* mailbox_dn, Usage* before, Usage* after) {
  const std::optional<Address> parsed = ParseAddress(address);
  if (!parsed) return {kDsnBadAddress, "invalid address: " + OneLine(address)};
  Resolver resolver(config, directory, deadline);
  Resolution where;
  if (Outcome o = resolver.Resolve(*parsed, "", &where); !o.ok()) return o;
  *mailbox_dn = where.mailbox_dn;
  if (Outcome o = ReadUsage(directory, *mailbox_dn, deadline, before);
      !o.ok()) {
    return o;
  }
  return RecountMailbox(directory, *mailbox_dn, deadline, after);
}

}  // namespace ldapmda
