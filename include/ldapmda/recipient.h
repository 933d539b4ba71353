// recipient: from an envelope recipient to its directory entry and the
// folder the message goes to. Lookups follow Postfix: the address as
// given, then without its extension, then the optional catch-all filter.
#ifndef LDAPMDA_RECIPIENT_H_
#define LDAPMDA_RECIPIENT_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ldapmda/address.h"
#include "ldapmda/config.h"
#include "ldapmda/deadline.h"
#include "ldapmda/directory.h"
#include "ldapmda/status.h"

namespace ldapmda {

// An address with its extension taken out: "alice+lists@example.com" is
// {"alice@example.com", "lists"}.
struct Extension {
  Address address;
  std::string extension;
};

// Splits at the first of `delimiters` in the local part, as Postfix's
// split_addr() does: never when the delimiter is the first character or
// nothing follows it, and when '-' is a delimiter not "owner-*" or
// "*-request". nullopt: no extension.
std::optional<Extension> SplitExtension(const Address& address,
                                        std::string_view delimiters);

// Takes a known extension (Postfix's ${extension}) off `address`: the
// local part must end with one delimiter character and `extension`.
std::optional<Extension> StripExtension(const Address& address,
                                        std::string_view extension);

// The folder for an extension: sanitised to one line of at most
// kMaxFolderBytes UTF-8 bytes; "INBOX" when nothing usable is left.
inline constexpr std::size_t kMaxFolderBytes = 64;
std::string FolderName(std::string_view extension);

// The original recipient a VERP extension stands for: with delimiters
// "+=" the extension of bounces+bob=example.org@example.com,
// "bob=example.org", is bob@example.org. The @ is the last `delimiters[1]`
// (a local part may contain one, a domain never); the local part must be
// non-empty and the domain dotted, neither may hold white space, control
// characters, < > or @. nullopt: not a VERP extension, or no delimiters.
std::optional<std::string> DecodeVerp(std::string_view extension,
                                      std::string_view delimiters);

// Where a recipient's mail goes.
struct Resolution {
  Entry entry;  // the recipient's entry
  std::string folder = "INBOX";
  // What matched: the address, the address without its extension, or
  // for the catch-all "@domain" (whole as its local part, no domain).
  Address lookup;
  // The recipient's mailbox: mailbox_dn expanded for `entry` and `lookup`.
  std::string mailbox_dn;
  // A VERP extension's original recipient (DecodeVerp); such mail goes to
  // INBOX, not to a folder per bounced address.
  std::string verp_recipient;
};

class Resolver {
 public:
  Resolver(const Config& config, Directory& lookup, const Deadline& deadline)
      : config_(config), lookup_(lookup), deadline_(deadline) {}

  // Finds the one entry for `recipient`. `extension_hint` is Postfix's
  // ${extension} when given on the command line, else empty. Returns
  // 2.0.0 and fills `out`, or the outcome that says why not.
  Outcome Resolve(const Address& recipient, const std::string& extension_hint,
                  Resolution* out);

  // The attributes the policy checks need from the recipient entry.
  std::vector<std::string> PolicyAttributes() const;

 private:
  // One lookup with `filter_template`: 2.0.0 with `found` set, 2.0.0
  // with nothing found, or the failure.
  Outcome Find(const std::string& filter_template, const Address& address,
               std::optional<Entry>* found);
  // The search for `address` with `filter_template`; nullopt when the
  // filter needs a domain the address does not have (nothing is found).
  std::optional<SearchRequest> Request(const std::string& filter_template,
                                       const Address& address) const;
  // What the answer `r`, `entries` to `request` means, as for Find; takes
  // the entry out of `entries`.
  Outcome Found(const SearchRequest& request, const DirResult& r,
                std::vector<Entry>& entries, std::optional<Entry>* found) const;

  const Config& config_;
  Directory& lookup_;
  const Deadline& deadline_;
};

}  // namespace ldapmda

#endif  // LDAPMDA_RECIPIENT_H_
