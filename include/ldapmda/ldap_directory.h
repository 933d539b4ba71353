// ldap_directory: Directory over libldap. Connects lazily on first use,
// tries the URIs in order and fails over past refused, dead, hung and
// read-only (referral, shadow context) servers, with every call bounded by
// the per-operation timeout and the run's deadline.
#ifndef LDAPMDA_LDAP_DIRECTORY_H_
#define LDAPMDA_LDAP_DIRECTORY_H_

#include <memory>
#include <string>
#include <vector>

#include "ldapmda/config.h"
#include "ldapmda/confirm.h"
#include "ldapmda/deadline.h"
#include "ldapmda/directory.h"

namespace ldapmda {

class LdapDirectory : public Directory {
 public:
  // `uris` must not be empty. `password` is used for bind = simple.
  LdapDirectory(const Config& config, std::vector<std::string> uris,
                std::string password, const Deadline& deadline);
  ~LdapDirectory() override;
  LdapDirectory(const LdapDirectory&) = delete;
  LdapDirectory& operator=(const LdapDirectory&) = delete;

  DirResult Search(const SearchRequest& request,
                   std::vector<Entry>* entries) override;
  DirResult Add(const std::string& dn,
                const std::vector<AttributeView>& attributes) override;
  DirResult Modify(const std::string& dn,
                   const std::vector<Modification>& changes) override;
  DirResult Delete(const std::string& dn) override;

  // The URI of the server that answered last (for logs and tests).
  const std::string& current_uri() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The bind password of `config`: the first line of bind_pw_file for
// bind = simple, else empty. Throws ConfigError.
std::string BindPassword(const Config& config);

// The directories one run talks to: lookups on server_host, writes on
// store_host when that is set, else on the lookup connection.
// With confirm_host, also one connection per replica to confirm stores
// on, bounded by a deadline of their own (confirm.h).
class Directories {
 public:
  // Reads the bind password. Throws ConfigError.
  Directories(const Config& config, const Deadline& deadline);
  LdapDirectory& lookup() { return *lookup_; }
  Directory& store() { return store_ ? *store_ : *lookup_; }
  // For Delivery: nullptr without confirm_host.
  ReplicaConfirmer* confirmer() { return confirmer_.get(); }

 private:
  std::unique_ptr<LdapDirectory> lookup_;
  std::unique_ptr<LdapDirectory> store_;
  Deadline confirm_window_{std::chrono::milliseconds(0)};
  std::vector<std::unique_ptr<LdapDirectory>> replicas_;
  std::unique_ptr<ReplicaConfirmer> confirmer_;
};

// Makes liblber log through ldapmda's log, and ignores SIGPIPE (libldap
// does not protect against it). Call once at start.
void InitLdapLibrary();

// Keeps Cyrus SASL from loading plugins the configured bind does not use
// (none for simple binds and SASL EXTERNAL). Takes effect only before
// libldap's first use; LdapDirectory's constructor calls it.
void SkipUnusedSaslPlugins(const Config& config);

}  // namespace ldapmda

#endif  // LDAPMDA_LDAP_DIRECTORY_H_
