// recipient: see recipient.h.
#include "ldapmda/recipient.h"

#include <algorithm>

#include "ldapmda/escape.h"
#include "ldapmda/message.h"

namespace ldapmda {
namespace {

bool EndsWithNoCase(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         AsciiLower(s.substr(s.size() - suffix.size())) == suffix;
}

// The address `local`@`domain` (just `local` without a domain).
Address Join(std::string_view local, std::string_view domain) {
  Address a{std::string(local), std::string(local), std::string(domain)};
  if (!domain.empty()) a.text += "@" + a.domain;
  return a;
}

}  // namespace

std::optional<Extension> SplitExtension(const Address& address,
                                        std::string_view delimiters) {
  if (delimiters.empty()) return std::nullopt;
  const std::string& local = address.local;
  // Postfix keeps the list-manager conventions whole.
  if (delimiters.find('-') != std::string_view::npos &&
      (AsciiLower(local).rfind("owner-", 0) == 0 ||
       (local.size() > 8 && EndsWithNoCase(local, "-request")))) {
    return std::nullopt;
  }
  const auto at = local.find_first_of(delimiters);
  if (at == 0 || at == std::string::npos || at + 1 == local.size()) {
    return std::nullopt;
  }
  return Extension{Join(local.substr(0, at), address.domain),
                   local.substr(at + 1)};
}

std::optional<Extension> StripExtension(const Address& address,
                                        std::string_view extension) {
  if (extension.empty()) return std::nullopt;
  const std::string& local = address.local;
  if (local.size() < extension.size() + 2 ||
      local.compare(local.size() - extension.size(), extension.size(),
                    extension) != 0) {
    return std::nullopt;
  }
  return Extension{Join(local.substr(0, local.size() - extension.size() - 1),
                        address.domain),
                   std::string(extension)};
}

std::optional<std::string> DecodeVerp(std::string_view extension,
                                      std::string_view delimiters) {
  if (delimiters.size() != 2) return std::nullopt;
  const std::size_t at = extension.rfind(delimiters[1]);
  if (at == std::string_view::npos || at == 0) return std::nullopt;
  const std::string_view local = extension.substr(0, at);
  const std::string_view domain = extension.substr(at + 1);
  const auto bad = [](char ch) {
    const auto u = static_cast<unsigned char>(ch);
    return u <= 0x20 || u == 0x7F || ch == '<' || ch == '>' || ch == '@';
  };
  if (std::any_of(extension.begin(), extension.end(), bad)) return std::nullopt;
  const std::size_t dot = domain.find('.');
  if (dot == std::string_view::npos || dot == 0 || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos) {
    return std::nullopt;
  }
  auto address = SanitizeText(std::string(local) + "@" + std::string(domain),
                              kMaxHeaderValue);
  if (!address || !ParseAddress(*address)) return std::nullopt;
  return address;
}

std::string FolderName(std::string_view extension) {
  auto folder = SanitizeText(extension, kMaxFolderBytes);
  if (!folder || AsciiLower(*folder) == "inbox") return "INBOX";
  return *folder;
}

std::vector<std::string> Resolver::PolicyAttributes() const {
  std::vector<std::string> attrs;
  if (!config_.account_status_attribute.empty()) {
    attrs.push_back(config_.account_status_attribute);
  }
  if (!config_.quota_attribute.empty()) {
    attrs.push_back(config_.quota_attribute);
  }
  return attrs;
}

std::optional<SearchRequest> Resolver::Request(
    const std::string& filter_template, const Address& address) const {
  const auto filter = ExpandQueryFilter(filter_template, address);
  // As Postfix does: a %d query for an address without a domain finds
  // nothing.
  if (!filter) return std::nullopt;
  return SearchRequest{config_.search_base, config_.scope, *filter,
                       PolicyAttributes(), 2};
}

Outcome Resolver::Found(const SearchRequest& request, const DirResult& r,
                        std::vector<Entry>& entries,
                        std::optional<Entry>* found) const {
  found->reset();
  if (r.size_limit_exceeded() || entries.size() > 1) {
    // Which mailbox is meant is a question for the administrator.
    return {kDsnConfig,
            "recipient lookup is ambiguous: more than one entry "
            "matches " +
                request.filter + " below " + config_.search_base};
  }
  if (!r.ok()) {
    Outcome o = DirectoryFailure(DirOp::kSearch, r, deadline_);
    o.text = "lookup below " + config_.search_base + ": " + o.text;
    return o;
  }
  if (!entries.empty()) *found = std::move(entries.front());
  return Outcome::Ok("looked up");
}

Outcome Resolver::Find(const std::string& filter_template,
                       const Address& address, std::optional<Entry>* found) {
  found->reset();
  const auto request = Request(filter_template, address);
  if (!request) return Outcome::Ok("no domain");
  std::vector<Entry> entries;
  const DirResult r = lookup_.Search(*request, &entries);
  return Found(*request, r, entries, found);
}

Outcome Resolver::Resolve(const Address& recipient,
                          const std::string& extension_hint, Resolution* out) {
  auto ext = StripExtension(recipient, extension_hint);
  if (!ext) ext = SplitExtension(recipient, config_.recipient_delimiter);
  // 1. The address as given: a user may own "mary-ann" although "-" is
  //    also a delimiter. 2. Without the extension, which then names the
  //    folder. Neither depends on the other: with an extension both go
  //    out at once (one round trip, where the first one usually finds
  //    nothing), and the first that finds an entry wins as before.
  std::vector<Address> tried = {recipient};
  if (ext) tried.push_back(ext->address);
  std::vector<std::optional<SearchRequest>> requests;
  std::vector<SearchRequest> sent;
  for (const Address& a : tried) {
    requests.push_back(Request(config_.query_filter, a));
    if (requests.back()) sent.push_back(*requests.back());
  }
  std::vector<std::vector<Entry>> answers;
  std::vector<DirResult> results;
  lookup_.SearchMany(sent, &answers, &results);
  std::optional<Entry> entry;
  std::size_t matched = 0;
  for (std::size_t i = 0, k = 0; i < tried.size() && !entry; ++i) {
    if (!requests[i]) continue;  // no domain: nothing found
    Outcome o = Found(*requests[i], results[k], answers[k], &entry);
    ++k;
    if (!o.ok()) return o;
    matched = i;
  }
  out->lookup = tried[entry ? matched : tried.size() - 1];
  if (entry && matched == 1) {
    // A VERP extension names a bounced address, not a folder.
    auto verp = DecodeVerp(ext->extension, config_.verp_delimiters);
    if (verp) {
      out->verp_recipient = std::move(*verp);
    } else if (config_.extension_folder) {
      out->folder = FolderName(ext->extension);
    }
  }

  // 3. The catch-all entry of the domain.
  if (!entry && !config_.catchall_query_filter.empty()) {
    Outcome o = Find(config_.catchall_query_filter, recipient, &entry);
    if (!o.ok()) return o;
    const std::string at_domain = "@" + recipient.domain;
    out->lookup = Address{at_domain, at_domain, ""};
  }

  if (!entry) return {kDsnNoSuchUser, "no such user here"};
  out->entry = std::move(*entry);
  out->mailbox_dn =
      ExpandMailboxDn(config_.mailbox_dn, out->entry.dn, out->lookup);
  return Outcome::Ok("found");
}

}  // namespace ldapmda
