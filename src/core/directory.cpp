// directory: the one mapping from directory results to outcomes
// (directory.h).
#include "ldapmda/directory.h"

#include "ldapmda/text.h"

namespace ldapmda {

const std::vector<std::string>& Entry::All(std::string_view name) const {
  static const std::vector<std::string> none;
  for (const auto& a : attributes) {
    if (EqualsIgnoreCase(a.name, name)) return a.values;
  }
  return none;
}

const std::string& Entry::First(std::string_view name) const {
  static const std::string empty;
  const std::vector<std::string>& values = All(name);
  return values.empty() ? empty : values.front();
}

DirResult Directory::SearchMany(const std::vector<SearchRequest>& requests,
                                std::vector<std::vector<Entry>>* entries,
                                std::vector<DirResult>* results) {
  entries->assign(requests.size(), {});
  results->assign(requests.size(), {});
  for (std::size_t i = 0; i < requests.size(); ++i) {
    (*results)[i] = Search(requests[i], &(*entries)[i]);
  }
  return {};
}

std::uint64_t Directory::SendAhead(const SearchRequest& request) {
  const std::uint64_t ticket = NextTicket();
  ahead_.emplace(ticket, request);
  return ticket;
}

DirResult Directory::Receive(std::uint64_t ticket,
                             std::vector<Entry>* entries) {
  entries->clear();
  const auto it = ahead_.find(ticket);
  if (it == ahead_.end()) {
    return {DirStatus::kOther, 0, "unknown ticket",
            "no search sent ahead as " + std::to_string(ticket)};
  }
  const SearchRequest request = std::move(it->second);
  ahead_.erase(it);
  return Search(request, entries);
}

void Directory::Forget(std::uint64_t ticket) { ahead_.erase(ticket); }

std::string DirResult::Describe() const {
  std::string s = name.empty() ? "result" : name;
  s += " (" + std::to_string(code) + ")";
  if (!message.empty()) s += ": " + message;
  return s;
}

Outcome ClassifyDirResult(DirOp op, const DirResult& r) {
  const std::string what = r.Describe();
  if (r.tls_failure && !r.ok()) {
    return {kDsnConfig, "directory configuration: " + what};
  }
  switch (r.status) {
    case DirStatus::kOk:
      return Outcome::Ok();

    case DirStatus::kAlreadyExists:
      // The message's DN is derived from its bytes: it is a retry.
      if (op == DirOp::kAddMessage) return Outcome::Ok();
      if (op == DirOp::kAddMailbox) return Outcome::Ok();
      return {kDsnConfig, "directory: " + what};

    case DirStatus::kTooLarge:
      // back-mdb maxentrysize: the site's directory refuses entries this
      // large, as Postfix's message_size_limit would. Not our fault, final.
      if (op == DirOp::kAddMessage) {
        return {kDsnTooBig, "message too large for the directory: " + what};
      }
      return {kDsnDirectoryUnavailable, "directory: " + what};

    // The server or the path to it is in trouble; another node, or the
    // same one later, will do.
    case DirStatus::kUnavailable:
      return {kDsnDirectoryUnavailable, "directory unavailable: " + what};

    // The configuration and the directory do not fit together: a human
    // must act, and the mail waits for them.
    case DirStatus::kSetup:
    case DirStatus::kNoSuchObject:
    case DirStatus::kSchema:
      return {kDsnConfig, "directory configuration: " + what};

    case DirStatus::kNoMemory:
      return {kDsnInternal, "out of memory: " + what};

    case DirStatus::kSizeLimit:
    case DirStatus::kValueExists:
    case DirStatus::kNoSuchValue:
    case DirStatus::kOther:
      break;
  }
  // Everything unknown is temporary.
  return {kDsnInternal, "directory: " + what};
}

Outcome DirectoryFailure(DirOp op, const DirResult& result,
                         const Deadline& deadline) {
  if (deadline.Expired()) {
    return {kDsnInternal, "deadline exceeded (last directory result: " +
                              ClassifyDirResult(op, result).text + ")"};
  }
  return ClassifyDirResult(op, result);
}

}  // namespace ldapmda
