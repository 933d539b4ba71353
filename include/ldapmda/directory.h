// directory: the abstract seam between the delivery core and LDAP. The
// core sees results and entries; src/ldap talks to slapd, tests may
// substitute fakes for pure logic. ClassifyDirResult is the only place
// where directory results become delivery outcomes.
#ifndef LDAPMDA_DIRECTORY_H_
#define LDAPMDA_DIRECTORY_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ldapmda/config.h"
#include "ldapmda/deadline.h"
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

  // The values of the attribute `name` (names compare in any ASCII case);
  // empty when the entry has none.
  const std::vector<std::string>& All(std::string_view name) const;
  // The first of them; "" when there is none.
  const std::string& First(std::string_view name) const;
};

// What a directory call's result means to ldapmda. The LDAP part sets it
// from the LDAP result code in one place (src/ldap, LdapResult); the core
// asks DirResult's predicates and never sees a raw code.
enum class DirStatus {
  kOk,
  kSizeLimit,      // the server cut the answer short (sizeLimitExceeded)
  kNoSuchObject,   // the base or the parent does not exist
  kAlreadyExists,  // an entry with that DN exists
  kSchema,         // the schema refuses a type, class or syntax
  kValueExists,    // a value its equality rule takes for another one
  kNoSuchValue,    // a modify deleted a value the entry does not hold
  kTooLarge,       // an administrative limit (back-mdb maxentrysize)
  kUnavailable,    // down, hung, busy, read-only or the wrong node
  kSetup,          // credentials, access, naming, DN or filter syntax...
  kNoMemory,
  kOther,  // anything else: unknown, so temporary
};

// One result: the status, and for texts and logs the LDAP code (negative
// for client-side errors such as LDAP_SERVER_DOWN), its name and the
// server's or library's diagnostic.
struct DirResult {
  DirStatus status = DirStatus::kOk;
  int code = 0;
  std::string name;     // "No such object"
  std::string message;  // the diagnostic; may be empty
  // TLS could not be set up with the server (its certificate was not
  // accepted, the handshake failed, or it offers no StartTLS): a setup
  // problem a human must fix, whatever `code` the library reported.
  bool tls_failure = false;

  bool ok() const { return status == DirStatus::kOk; }
  bool size_limit_exceeded() const { return status == DirStatus::kSizeLimit; }
  bool no_such_object() const { return status == DirStatus::kNoSuchObject; }
  bool already_exists() const { return status == DirStatus::kAlreadyExists; }
  // What slapd answers an add that uses attributes or classes its schema
  // does not define, or values their syntax refuses.
  bool schema_refusal() const { return status == DirStatus::kSchema; }
  bool value_exists() const { return status == DirStatus::kValueExists; }
  bool no_such_value() const { return status == DirStatus::kNoSuchValue; }
  // "Name (code): diagnostic", for outcome texts and logs.
  std::string Describe() const;
};

struct SearchRequest {
  std::string base;
  Scope scope = Scope::kSub;
  std::string filter;
  std::vector<std::string> attributes;  // empty: no attributes, DNs only
  int size_limit = 0;                   // 0: none
  int page_size = 0;  // > 0: RFC 2696 paged results, all pages collected
};

// One change of a modify: RFC 4525 increment, replace, or add or delete
// the given values (deleting a value the entry does not hold fails with
// no_such_value(): a modify that deletes the old value and adds the new
// one is a compare-and-swap).
struct Modification {
  enum class Op { kIncrement, kReplace, kAdd, kDelete };
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

  // Several searches at once: a directory that can (LDAP) sends them all
  // before it waits for any answer, so they cost one round trip instead
  // of one each. The server may answer them in any order and may run
  // them at the same time, so none may depend on another's effect
  // (slapd runs one paged search per connection at a time: the first
  // paged request goes with the others, the other paged ones after it).
  // (*results)[i] and (*entries)[i] answer requests[i], each as Search()
  // would. The return value is not ok only when no answer counts (the
  // connection or the run's deadline failed): then `results` says the
  // same for each.
  virtual DirResult SearchMany(const std::vector<SearchRequest>& requests,
                               std::vector<std::vector<Entry>>* entries,
                               std::vector<DirResult>* results);

  // Reading ahead: SendAhead() puts a search on the wire and returns at
  // once with a ticket; Receive() waits for its answer, which it gives
  // as Search() would. The caller works meanwhile, and the server with
  // it. Every ticket is received once or dropped with Forget(). A search
  // that cannot go out now (no connection yet, a paged one) or whose
  // connection failed meanwhile is made by Receive(), with Search()'s
  // fail-over. This base class makes every search in Receive().
  virtual std::uint64_t SendAhead(const SearchRequest& request);
  virtual DirResult Receive(std::uint64_t ticket, std::vector<Entry>* entries);
  virtual void Forget(std::uint64_t ticket);

  // Adds one entry. Returns the server's result code.
  virtual DirResult Add(const std::string& dn,
                        const std::vector<AttributeView>& attributes) = 0;

  // Modifies one entry, all changes at once. Returns the result code.
  virtual DirResult Modify(const std::string& dn,
                           const std::vector<Modification>& changes) = 0;

  // Modify, where adding a value the entry holds already or deleting one
  // it does not hold is no error (the permissive-modify control): for
  // changes that must not depend on what another writer did meanwhile.
  virtual DirResult ModifyPermissive(
      const std::string& dn, const std::vector<Modification>& changes) = 0;

  // Deletes one leaf entry. Returns the result code.
  virtual DirResult Delete(const std::string& dn) = 0;

  // Moves the entry `dn` below `new_parent`, keeping its RDN.
  virtual DirResult Move(const std::string& dn,
                         const std::string& new_parent) = 0;

 protected:
  // Tickets: the next one, and the requests of those not received yet.
  std::uint64_t NextTicket() { return ++last_ticket_; }
  std::map<std::uint64_t, SearchRequest> ahead_;

 private:
  std::uint64_t last_ticket_ = 0;
};

// What a directory call was doing, because some results mean different
// things for different calls (entryAlreadyExists is a retry for a message
// add).
enum class DirOp {
  kConnect,
  kSearch,
  kAddMessage,
  kAddMailbox,
  kModify,
  kDelete
};

// The one mapping from a directory result to an outcome. Unknown results
// defer.
Outcome ClassifyDirResult(DirOp op, const DirResult& result);

// A failed directory call as an outcome: ClassifyDirResult, but 4.3.0
// when the run's deadline is what made it fail.
Outcome DirectoryFailure(DirOp op, const DirResult& result,
                         const Deadline& deadline);

}  // namespace ldapmda

#endif  // LDAPMDA_DIRECTORY_H_
