// directory: the abstract seam between the delivery core and LDAP. The
// core sees result codes and entries; LdapDirectory talks to slapd, tests
// may substitute fakes for pure logic. ClassifyLdapResult is the only
// place where LDAP result codes become delivery outcomes.
#ifndef LDAPMDA_DIRECTORY_H_
#define LDAPMDA_DIRECTORY_H_

#include <string>
#include <string_view>
#include <vector>

#include "ldapmda/config.h"
#include "ldapmda/status.h"

namespace ldapmda {

// One attribute with binary-safe values, as a search returns it.
struct Attribute {
  std::string name;
  std::vector<std::string> values;
};

// One attribute of an entry to add; the values are views, so a message of
// many megabytes is never copied on its way to libldap. The caller keeps
// what they point to alive for the call.
struct AttributeView {
  std::string name;
  std::vector<std::string_view> values;
};

struct Entry {
  std::string dn;
  std::vector<Attribute> attributes;
};

// An LDAP result code (negative for client-side errors such as
// LDAP_SERVER_DOWN) with the server's or library's text.
struct DirResult {
  int code = 0;
  std::string message;
  // TLS could not be set up with the server (its certificate was not
  // accepted, the handshake failed, or it offers no StartTLS): a setup
  // problem a human must fix, whatever `code` the library reported.
  bool tls_failure = false;
  bool ok() const { return code == 0; }
};

struct SearchRequest {
  std::string base;
  Scope scope = Scope::kSub;
  std::string filter;
  std::vector<std::string> attributes;  // empty: no attributes, DNs only
  int size_limit = 0;                   // 0: none
  int page_size = 0;  // > 0: RFC 2696 paged results, all pages collected
};

// One change of a modify: RFC 4525 increment, or replace.
struct Modification {
  enum class Op { kIncrement, kReplace };
  Op op;
  std::string name;
  std::vector<std::string> values;
};

class Directory {
 public:
  virtual ~Directory() = default;

  // Searches. On success (code 0) or sizeLimitExceeded (4) `entries` holds
  // what the server returned. Any other code is an error.
  virtual DirResult Search(const SearchRequest& request,
                           std::vector<Entry>* entries) = 0;

  // Adds one entry. Returns the server's result code.
  virtual DirResult Add(const std::string& dn,
                        const std::vector<AttributeView>& attributes) = 0;

  // Modifies one entry, all changes at once. Returns the result code.
  virtual DirResult Modify(const std::string& dn,
                           const std::vector<Modification>& changes) = 0;

  // Deletes one leaf entry. Returns the result code.
  virtual DirResult Delete(const std::string& dn) = 0;
};

// What an LDAP call was doing, because some codes mean different things
// for different calls (entryAlreadyExists is a retry for a message add).
enum class LdapOp {
  kConnect,
  kSearch,
  kAddMessage,
  kAddMailbox,
  kModify,
  kDelete
};

// The one mapping from an LDAP result to an outcome. Unknown codes defer.
Outcome ClassifyLdapResult(LdapOp op, const DirResult& result);

}  // namespace ldapmda

#endif  // LDAPMDA_DIRECTORY_H_
