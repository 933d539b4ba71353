// Unit tests: the one table from LDAP result codes to outcomes.
#include "ldapmda/directory.h"

#include <gtest/gtest.h>
#include <ldap.h>

namespace ldapmda {
namespace {

struct Row {
  LdapOp op;
  int code;
  Dsn want;
};

TEST(ClassifyLdapResultTest, Table) {
  const Row rows[] = {
      {LdapOp::kAddMessage, LDAP_SUCCESS, kDsnStored},
      {LdapOp::kAddMessage, LDAP_ALREADY_EXISTS, kDsnStored},  // a retry
      {LdapOp::kAddMailbox, LDAP_ALREADY_EXISTS, kDsnStored},  // a race
      {LdapOp::kSearch, LDAP_ALREADY_EXISTS, kDsnConfig},
      {LdapOp::kAddMessage, LDAP_ADMINLIMIT_EXCEEDED, kDsnTooBig},
      {LdapOp::kSearch, LDAP_ADMINLIMIT_EXCEEDED, kDsnDirectoryUnavailable},
      {LdapOp::kSearch, LDAP_SERVER_DOWN, kDsnDirectoryUnavailable},
      {LdapOp::kConnect, LDAP_CONNECT_ERROR, kDsnDirectoryUnavailable},
      {LdapOp::kSearch, LDAP_TIMEOUT, kDsnDirectoryUnavailable},
      {LdapOp::kSearch, LDAP_TIMELIMIT_EXCEEDED, kDsnDirectoryUnavailable},
      {LdapOp::kAddMessage, LDAP_BUSY, kDsnDirectoryUnavailable},
      {LdapOp::kAddMessage, LDAP_UNAVAILABLE, kDsnDirectoryUnavailable},
      {LdapOp::kAddMessage, LDAP_OTHER, kDsnDirectoryUnavailable},
      {LdapOp::kAddMessage, LDAP_REFERRAL, kDsnDirectoryUnavailable},
      {LdapOp::kAddMessage, LDAP_UNWILLING_TO_PERFORM,
       kDsnDirectoryUnavailable},
      {LdapOp::kConnect, LDAP_INVALID_CREDENTIALS, kDsnConfig},
      {LdapOp::kConnect, LDAP_INAPPROPRIATE_AUTH, kDsnConfig},
      {LdapOp::kAddMessage, LDAP_INSUFFICIENT_ACCESS, kDsnConfig},
      {LdapOp::kConnect, LDAP_STRONG_AUTH_REQUIRED, kDsnConfig},
      {LdapOp::kSearch, LDAP_NO_SUCH_OBJECT, kDsnConfig},
      {LdapOp::kAddMessage, LDAP_UNDEFINED_TYPE, kDsnConfig},
      {LdapOp::kAddMessage, LDAP_OBJECT_CLASS_VIOLATION, kDsnConfig},
      {LdapOp::kAddMessage, LDAP_INVALID_SYNTAX, kDsnConfig},
      {LdapOp::kSearch, LDAP_FILTER_ERROR, kDsnConfig},
      {LdapOp::kAddMailbox, LDAP_INVALID_DN_SYNTAX, kDsnConfig},
      {LdapOp::kAddMailbox, LDAP_NAMING_VIOLATION, kDsnConfig},
      {LdapOp::kSearch, LDAP_NO_MEMORY, kDsnInternal},
      {LdapOp::kSearch, 4711, kDsnInternal},  // unknown: defer
      {LdapOp::kAddMessage, LDAP_NO_RESULTS_RETURNED, kDsnInternal},
  };
  for (const auto& row : rows) {
    const Outcome o = ClassifyLdapResult(row.op, {row.code, "diag"});
    EXPECT_EQ(o.dsn, row.want) << "code " << row.code;
  }
}

TEST(ClassifyLdapResultTest, NoLdapCodeBouncesExceptTheSizeLimitOnAnAdd) {
  for (int code = -20; code < 200; ++code) {
    for (LdapOp op : {LdapOp::kConnect, LdapOp::kSearch, LdapOp::kAddMessage,
                      LdapOp::kAddMailbox}) {
      const Outcome o = ClassifyLdapResult(op, {code, ""});
      if (o.disposition() == Disposition::kBounce) {
        EXPECT_EQ(code, LDAP_ADMINLIMIT_EXCEEDED);
        EXPECT_EQ(op, LdapOp::kAddMessage);
      }
    }
  }
}

TEST(ClassifyLdapResultTest, TextCarriesTheServerDiagnostic) {
  const Outcome o = ClassifyLdapResult(
      LdapOp::kAddMessage, {LDAP_UNWILLING_TO_PERFORM, "shadow context"});
  EXPECT_NE(o.text.find("shadow context"), std::string::npos);
  EXPECT_NE(o.text.find("(53)"), std::string::npos);
}

TEST(ClassifyLdapResultTest, TlsFailureIsASetupProblemWhateverTheCode) {
  // libldap reports a failed TLS handshake as -1 (ldaps) or -11
  // (StartTLS), the codes of an unreachable server (4.4.3), and a server
  // without StartTLS as protocolError (4.3.0). Flagged as a TLS failure
  // each is the site's setup to fix: 4.3.5, a deferral, with the text.
  const struct {
    int code;
    Dsn unflagged;
  } rows[] = {{LDAP_SERVER_DOWN, kDsnDirectoryUnavailable},
              {LDAP_CONNECT_ERROR, kDsnDirectoryUnavailable},
              {LDAP_PROTOCOL_ERROR, kDsnInternal}};
  for (const auto& row : rows) {
    DirResult r{row.code, "StartTLS with ldap://x failed: certificate"};
    EXPECT_EQ(ClassifyLdapResult(LdapOp::kConnect, r).dsn, row.unflagged)
        << row.code;
    r.tls_failure = true;
    const Outcome o = ClassifyLdapResult(LdapOp::kConnect, r);
    EXPECT_EQ(o.dsn, kDsnConfig) << row.code;
    EXPECT_EQ(o.disposition(), Disposition::kDefer) << row.code;
    EXPECT_NE(o.text.find("certificate"), std::string::npos) << o.text;
  }
  // The flag never turns a success into a failure.
  DirResult ok{LDAP_SUCCESS, ""};
  ok.tls_failure = true;
  EXPECT_EQ(ClassifyLdapResult(LdapOp::kConnect, ok).dsn, kDsnStored);
}

}  // namespace
}  // namespace ldapmda
