// ldap_client: a small synchronous LDAP client over libldap for tests, to
// prepare and inspect what ldapmda stores. Values are binary-safe strings.
// Searches and binds throw LdapError; writes return the result code so a
// test can assert on it.
#ifndef LDAPMDA_TESTS_SUPPORT_LDAP_CLIENT_H_
#define LDAPMDA_TESTS_SUPPORT_LDAP_CLIENT_H_

#include <ldap.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ldapmda::testing {

// Orders attribute names case-insensitively, as LDAP compares them.
struct AttrNameLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const;
};

// Attribute name -> values (binary-safe), names case-insensitive.
using AttrMap = std::map<std::string, std::vector<std::string>, AttrNameLess>;

struct TestEntry {
  std::string dn;
  AttrMap attrs;

  // The first value of `attr`, or "" when the entry has none.
  std::string First(std::string_view attr) const;
  // All values of `attr`; empty when the entry has none.
  const std::vector<std::string>& Values(std::string_view attr) const;
  bool Has(std::string_view attr) const { return attrs.count(attr) != 0; }
};

// A failed LDAP call: `code()` is the LDAP result code (negative for
// client-side errors such as LDAP_TIMEOUT or LDAP_SERVER_DOWN).
class LdapError : public std::runtime_error {
 public:
  LdapError(int code, const std::string& what)
      : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// One change of a Modify. `op` is LDAP_MOD_ADD, LDAP_MOD_DELETE,
// LDAP_MOD_REPLACE or LDAP_MOD_INCREMENT; no values with DELETE or
// REPLACE removes the whole attribute.
struct Modification {
  int op;
  std::string attr;
  std::vector<std::string> values;
};

class LdapClient {
 public:
  // Connects to `uri` and does a simple bind (an empty `bind_dn` binds
  // anonymously). `timeout` is set as LDAP_OPT_TIMEOUT and
  // LDAP_OPT_NETWORK_TIMEOUT; referrals are not chased. Throws LdapError.
  LdapClient(const std::string& uri, const std::string& bind_dn,
             const std::string& password,
             std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Connects and binds with SASL EXTERNAL (over ldapi:// that is the
  // peer credentials of this process). Throws LdapError.
  static LdapClient External(
      const std::string& uri,
      std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Entries below `base` with `scope` (LDAP_SCOPE_BASE, _ONELEVEL,
  // _SUBTREE) matching `filter`. No `attrs`: all user attributes; {"1.1"}:
  // none; {"*", "+"}: with operational ones. Any result other than success
  // (sizeLimitExceeded too) throws LdapError.
  std::vector<TestEntry> Search(const std::string& base, int scope,
                                const std::string& filter = "(objectClass=*)",
                                const std::vector<std::string>& attrs = {});
  // The entry at `dn`, or nullopt when it does not exist. Throws LdapError.
  std::optional<TestEntry> Read(const std::string& dn,
                                const std::vector<std::string>& attrs = {});

  // Write operations return the LDAP result code; last_message() has the
  // server's diagnostic text.
  int Add(const std::string& dn, const AttrMap& attrs);
  int Modify(const std::string& dn, const std::vector<Modification>& mods);
  int Delete(const std::string& dn);

  // Applies LDIF text: records without changetype are adds; changetype
  // add, modify, delete and modrdn work (libldap's LDIF parser, so
  // "attr:: base64", folded lines and comments too). Throws LdapError at
  // the first record that fails, naming its DN.
  void ApplyLdif(std::string_view ldif);

  // The authorization identity ("dn:..." or "") per RFC 4532. Throws.
  std::string WhoAmI();

  // Changes LDAP_OPT_TIMEOUT and LDAP_OPT_NETWORK_TIMEOUT.
  void SetTimeout(std::chrono::milliseconds timeout);

  const std::string& last_message() const { return last_message_; }
  LDAP* handle() const { return ld_.get(); }

 private:
  struct LdapDeleter {
    void operator()(LDAP* ld) const;
  };

  LdapClient(const std::string& uri, std::chrono::milliseconds timeout);
  void Bind(const char* dn, const char* mechanism, berval* cred);
  // Records the diagnostic message of the last operation and returns `rc`.
  int Finish(int rc);
  [[noreturn]] void Throw(int rc, const std::string& what) const;
  void ApplyRecord(char* record, unsigned long line);

  std::unique_ptr<LDAP, LdapDeleter> ld_;
  std::string uri_;
  std::string last_message_;
};

}  // namespace ldapmda::testing

#endif  // LDAPMDA_TESTS_SUPPORT_LDAP_CLIENT_H_
