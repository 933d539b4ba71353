// directories: the directory connections a run opens, for every part
// (ldapmda's front ends, ldapmbox, the Dovecot driver). They are LDAP
// connections (src/ldap); the parts see only the Directory seam.
#ifndef LDAPMDA_DIRECTORIES_H_
#define LDAPMDA_DIRECTORIES_H_

#include <memory>
#include <string>
#include <vector>

#include "ldapmda/config.h"
#include "ldapmda/confirm.h"
#include "ldapmda/deadline.h"
#include "ldapmda/directory.h"

namespace ldapmda {

// A Directory over LDAP on `uris` (must not be empty): connects lazily on
// first use, tries the URIs in order and fails over past refused, dead,
// hung and read-only servers, every call bounded by the per-operation
// timeout and `deadline`. `password` is used for bind = simple.
std::unique_ptr<Directory> OpenDirectory(const Config& config,
                                         std::vector<std::string> uris,
                                         std::string password,
                                         const Deadline& deadline);

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
  Directory& lookup() { return *lookup_; }
  Directory& store() { return store_ ? *store_ : *lookup_; }
  // For Delivery: nullptr without confirm_host.
  ReplicaConfirmer* confirmer() { return confirmer_.get(); }

 private:
  std::unique_ptr<Directory> lookup_;
  std::unique_ptr<Directory> store_;
  Deadline confirm_window_{std::chrono::milliseconds(0)};
  std::vector<std::unique_ptr<Directory>> replicas_;
  std::unique_ptr<ReplicaConfirmer> confirmer_;
};

// Makes liblber log through ldapmda's log, and ignores SIGPIPE (libldap
// does not protect against it). Call once at start.
void InitLdapLibrary();

// Makes liblber log through ldapmda's log, and ignores SIGPIPE (libldap
// does not protect against it). Call once at start.
void InitLdapLibrary();

}  // namespace ldapmda

#endif  // LDAPMDA_DIRECTORIES_H_
