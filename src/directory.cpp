// directory: the one mapping from LDAP results to outcomes (directory.h).
#include "ldapmda/directory.h"

#include <ldap.h>

namespace ldapmda {
namespace {

std::string Describe(const DirResult& r) {
  std::string s = ldap_err2string(r.code);
  s += " (" + std::to_string(r.code) + ")";
  if (!r.message.empty()) s += ": " + r.message;
  return s;
}

}  // namespace

Outcome ClassifyLdapResult(LdapOp op, const DirResult& r) {
  const std::string what = Describe(r);
  if (r.tls_failure && r.code != LDAP_SUCCESS) {
    return {kDsnConfig, "directory configuration: " + what};
  }
  switch (r.code) {
    case LDAP_SUCCESS:
      return Outcome::Sent("ok");

    case LDAP_ALREADY_EXISTS:
      // The message's DN is derived from its bytes: it is a retry.
      if (op == LdapOp::kAddMessage) return Outcome::Sent("already stored");
      if (op == LdapOp::kAddMailbox) return Outcome::Sent("mailbox exists");
      return {kDsnConfig, "directory: " + what};

    case LDAP_ADMINLIMIT_EXCEEDED:
      // back-mdb maxentrysize: the site's directory refuses entries this
      // large, as Postfix's message_size_limit would. Not our fault, final.
      if (op == LdapOp::kAddMessage) {
        return {kDsnTooBig, "message too large for the directory: " + what};
      }
      return {kDsnDirectoryUnavailable, "directory: " + what};

    // The server or the path to it is in trouble; another node, or the
    // same one later, will do.
    case LDAP_SERVER_DOWN:
    case LDAP_CONNECT_ERROR:
    case LDAP_TIMEOUT:
    case LDAP_TIMELIMIT_EXCEEDED:
    case LDAP_BUSY:
    case LDAP_UNAVAILABLE:
    case LDAP_OTHER:
    case LDAP_REFERRAL:
    case LDAP_UNWILLING_TO_PERFORM:
    case LDAP_LOOP_DETECT:
      return {kDsnDirectoryUnavailable, "directory unavailable: " + what};

    // The configuration and the directory do not fit together: a human
    // must act, and the mail waits for them.
    case LDAP_INVALID_CREDENTIALS:
    case LDAP_INAPPROPRIATE_AUTH:
    case LDAP_INSUFFICIENT_ACCESS:
    case LDAP_AUTH_METHOD_NOT_SUPPORTED:
    case LDAP_STRONG_AUTH_REQUIRED:
    case LDAP_CONFIDENTIALITY_REQUIRED:
    case LDAP_AUTH_UNKNOWN:
    case LDAP_NO_SUCH_OBJECT:
    case LDAP_UNDEFINED_TYPE:
    case LDAP_OBJECT_CLASS_VIOLATION:
    case LDAP_INVALID_SYNTAX:
    case LDAP_INAPPROPRIATE_MATCHING:
    case LDAP_INVALID_DN_SYNTAX:
    case LDAP_NAMING_VIOLATION:
    case LDAP_FILTER_ERROR:
    case LDAP_PARAM_ERROR:
    case LDAP_NOT_SUPPORTED:
    case LDAP_LOCAL_ERROR:
      return {kDsnConfig, "directory configuration: " + what};

    case LDAP_NO_MEMORY:
      return {kDsnInternal, "out of memory: " + what};

    default:
      break;
  }
  // Everything unknown is temporary.
  return {kDsnInternal, "directory: " + what};
}

}  // namespace ldapmda
