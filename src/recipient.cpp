// recipient: see recipient.h.
#include "ldapmda/recipient.h"

#include <ldap.h>

#include <algorithm>

#include "ldapmda/escape.h"
#include "ldapmda/message.h"

namespace ldapmda {
namespace {

bool EndsWithNoCase(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         AsciiLower(s.substr(s.size() - suffix.size())) == suffix;
}

std::string Join(std::string_view local, std::string_view domain) {
  return domain.empty() ? std::string(local)
                        : std::string(local) + "@" + std::string(domain);
}

}  // namespace

std::optional<Extension> SplitExtension(std::string_view address,
                                        std::string_view delimiters) {
  const auto parsed = ParseAddress(address);
  if (delimiters.empty() || !parsed) return std::nullopt;
  const std::string& local = parsed->local;
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
  return Extension{Join(local.substr(0, at), parsed->domain),
                   local.substr(at + 1)};
}

std::optional<Extension> StripExtension(std::string_view address,
                                        std::string_view extension) {
  const auto parsed = ParseAddress(address);
  if (extension.empty() || !parsed) return std::nullopt;
  const std::string& local = parsed->local;
  if (local.size() < extension.size() + 2 ||
      local.compare(local.size() - extension.size(), extension.size(),
                    extension) != 0) {
    return std::nullopt;
  }
  return Extension{Join(local.substr(0, local.size() - extension.size() - 1),
                        parsed->domain),
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

Outcome DirectoryFailure(LdapOp op, const DirResult& result,
                         const Deadline& deadline) {
  if (deadline.Expired()) {
    return {kDsnInternal, "deadline exceeded (last directory result: " +
                              ClassifyLdapResult(op, result).text + ")"};
  }
  return ClassifyLdapResult(op, result);
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

Outcome Resolver::Find(const std::string& filter_template,
                       const std::string& address,
                       std::optional<Entry>* found) {
  found->reset();
  const auto filter = ExpandQueryFilter(filter_template, address);
  // As Postfix does: a %d query for an address without a domain finds
  // nothing.
  if (!filter) return Outcome::Sent("no domain");
  SearchRequest request{config_.search_base, config_.scope, *filter,
                        PolicyAttributes(), 2};
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
    Outcome o = DirectoryFailure(LdapOp::kSearch, r, deadline_);
    o.text = "lookup below " + config_.search_base + ": " + o.text;
    return o;
  }
  if (!entries.empty()) *found = std::move(entries.front());
  return Outcome::Sent("looked up");
}

Outcome Resolver::Resolve(const std::string& recipient,
                          const std::string& extension_hint, Resolution* out) {
  std::optional<Entry> entry;
  // 1. The address as given: a user may own "mary-ann" although "-" is
  //    also a delimiter.
  Outcome o = Find(config_.query_filter, recipient, &entry);
  if (o.disposition() != Disposition::kSent) return o;
  out->lookup = recipient;

  // 2. Without the extension, which then names the folder.
  if (!entry) {
    auto ext = StripExtension(recipient, extension_hint);
    if (!ext) ext = SplitExtension(recipient, config_.recipient_delimiter);
    if (ext) {
      o = Find(config_.query_filter, ext->address, &entry);
      if (o.disposition() != Disposition::kSent) return o;
      out->lookup = ext->address;
      // A VERP extension names a bounced address, not a folder.
      auto verp = DecodeVerp(ext->extension, config_.verp_delimiters);
      if (entry && verp) {
        out->verp_recipient = std::move(*verp);
      } else if (entry && config_.extension_folder) {
        out->folder = FolderName(ext->extension);
      }
    }
  }

  // 3. The catch-all entry of the domain.
  if (!entry && !config_.catchall_query_filter.empty()) {
    o = Find(config_.catchall_query_filter, recipient, &entry);
    if (o.disposition() != Disposition::kSent) return o;
    const auto parsed = ParseAddress(recipient);
    out->lookup = "@" + (parsed ? parsed->domain : "");
  }

  if (!entry) return {kDsnNoSuchUser, "no such user here"};
  out->entry = std::move(*entry);
  return Outcome::Sent("found");
}

}  // namespace ldapmda
