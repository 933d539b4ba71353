// ldap_directory: Directory over libldap. Connects lazily on first use,
// tries the URIs in order and fails over past refused, dead, hung and
// read-only (referral, shadow context) servers, with every call bounded by
// the per-operation timeout and the run's deadline.
#ifndef LDAPMDA_LDAP_DIRECTORY_H_
#define LDAPMDA_LDAP_DIRECTORY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ldapmda/config.h"
#include "ldapmda/deadline.h"
#include "ldapmda/directories.h"
#include "ldapmda/directory.h"

namespace ldapmda {

// The DirResult of an LDAP result code: the one place where LDAP codes
// get their DirStatus.
DirResult LdapResult(int code, std::string message = "");

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
  DirResult SearchMany(const std::vector<SearchRequest>& requests,
                       std::vector<std::vector<Entry>>* entries,
                       std::vector<DirResult>* results) override;
  // Sent on the connection in use (if there is one), answered from it
  // unless it was dropped meanwhile.
  std::uint64_t SendAhead(const SearchRequest& request) override;
  DirResult Receive(std::uint64_t ticket, std::vector<Entry>* entries) override;
  void Forget(std::uint64_t ticket) override;
  DirResult Add(const std::string& dn,
                const std::vector<AttributeView>& attributes) override;
  DirResult Modify(const std::string& dn,
                   const std::vector<Modification>& changes) override;
  DirResult ModifyPermissive(const std::string& dn,
                             const std::vector<Modification>& changes) override;
  DirResult Delete(const std::string& dn) override;
  DirResult Move(const std::string& dn, const std::string& new_parent) override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Keeps Cyrus SASL from loading plugins the configured bind does not use
// (none for simple binds and SASL EXTERNAL). Takes effect only before
// libldap's first use; LdapDirectory's constructor calls it.
void SkipUnusedSaslPlugins(const Config& config);

}  // namespace ldapmda

#endif  // LDAPMDA_LDAP_DIRECTORY_H_
