// Unit tests: the one table from LDAP result codes (through LdapResult)
// to outcomes.
#include "ldapmda/directory.h"

#include <gtest/gtest.h>
#include <ldap.h>

#include "ldap/ldap_directory.h"

namespace ldapmda {
namespace {

struct Row {
  DirOp op;
  int code;
  Dsn want;
};

TEST(ClassifyLdapResultTest, Table) {
  const Row rows[] = {
      {DirOp::kAddMessage, LDAP_SUCCESS, kDsnStored},
      {DirOp::kAddMessage, LDAP_ALREADY_EXISTS, kDsnStored},  // a retry
      {DirOp::kAddMailbox, LDAP_ALREADY_EXISTS, kDsnStored},  // a race
      {DirOp::kSearch, LDAP_ALREADY_EXISTS, kDsnConfig},
      {DirOp::kAddMessage, LDAP_ADMINLIMIT_EXCEEDED, kDsnTooBig},
      {DirOp::kSearch, LDAP_ADMINLIMIT_EXCEEDED, kDsnDirectoryUnavailable},
      {DirOp::kSearch, LDAP_SERVER_DOWN, kDsnDirectoryUnavailable},
      {DirOp::kConnect, LDAP_CONNECT_ERROR, kDsnDirectoryUnavailable},
      {DirOp::kSearch, LDAP_TIMEOUT, kDsnDirectoryUnavailable},
      {DirOp::kSearch, LDAP_TIMELIMIT_EXCEEDED, kDsnDirectoryUnavailable},
      {DirOp::kAddMessage, LDAP_BUSY, kDsnDirectoryUnavailable},
      {DirOp::kAddMessage, LDAP_UNAVAILABLE, kDsnDirectoryUnavailable},
      {DirOp::kAddMessage, LDAP_OTHER, kDsnDirectoryUnavailable},
      {DirOp::kAddMessage, LDAP_REFERRAL, kDsnDirectoryUnavailable},
      {DirOp::kAddMessage, LDAP_UNWILLING_TO_PERFORM, kDsnDirectoryUnavailable},
      {DirOp::kConnect, LDAP_INVALID_CREDENTIALS, kDsnConfig},
      {DirOp::kConnect, LDAP_INAPPROPRIATE_AUTH, kDsnConfig},
      {DirOp::kAddMessage, LDAP_INSUFFICIENT_ACCESS, kDsnConfig},
      {DirOp::kConnect, LDAP_STRONG_AUTH_REQUIRED, kDsnConfig},
      {DirOp::kSearch, LDAP_NO_SUCH_OBJECT, kDsnConfig},
      {DirOp::kAddMessage, LDAP_UNDEFINED_TYPE, kDsnConfig},
      {DirOp::kAddMessage, LDAP_OBJECT_CLASS_VIOLATION, kDsnConfig},
      {DirOp::kAddMessage, LDAP_INVALID_SYNTAX, kDsnConfig},
      {DirOp::kSearch, LDAP_FILTER_ERROR, kDsnConfig},
      {DirOp::kAddMailbox, LDAP_INVALID_DN_SYNTAX, kDsnConfig},
      {DirOp::kAddMailbox, LDAP_NAMING_VIOLATION, kDsnConfig},
      {DirOp::kSearch, LDAP_NO_MEMORY, kDsnInternal},
      {DirOp::kSearch, 4711, kDsnInternal},  // unknown: defer
      {DirOp::kAddMessage, LDAP_NO_RESULTS_RETURNED, kDsnInternal},
  };
  for (const auto& row : rows) {
    const Outcome o = ClassifyDirResult(row.op, LdapResult(row.code, "diag"));
    EXPECT_EQ(o.dsn, row.want) << "code " << row.code;
  }
}

TEST(ClassifyLdapResultTest, NoLdapCodeBouncesExceptTheSizeLimitOnAnAdd) {
  for (int code = -20; code < 200; ++code) {
    for (DirOp op : {DirOp::kConnect, DirOp::kSearch, DirOp::kAddMessage,
                     DirOp::kAddMailbox}) {
      const Outcome o = ClassifyDirResult(op, LdapResult(code));
      if (o.disposition() == Disposition::kBounce) {
        EXPECT_EQ(code, LDAP_ADMINLIMIT_EXCEEDED);
        EXPECT_EQ(op, DirOp::kAddMessage);
      }
    }
  }
}

TEST(ClassifyLdapResultTest, TextCarriesTheServerDiagnostic) {
  const Outcome o = ClassifyDirResult(
      DirOp::kAddMessage,
      LdapResult(LDAP_UNWILLING_TO_PERFORM, "shadow context"));
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
    DirResult r =
        LdapResult(row.code, "StartTLS with ldap://x failed: certificate");
    EXPECT_EQ(ClassifyDirResult(DirOp::kConnect, r).dsn, row.unflagged)
        << row.code;
    r.tls_failure = true;
    const Outcome o = ClassifyDirResult(DirOp::kConnect, r);
    EXPECT_EQ(o.dsn, kDsnConfig) << row.code;
    EXPECT_EQ(o.disposition(), Disposition::kDefer) << row.code;
    EXPECT_NE(o.text.find("certificate"), std::string::npos) << o.text;
  }
  // The flag never turns a success into a failure.
  DirResult ok = LdapResult(LDAP_SUCCESS);
  ok.tls_failure = true;
  EXPECT_EQ(ClassifyDirResult(DirOp::kConnect, ok).dsn, kDsnStored);
}

}  // namespace
}  // namespace ldapmda
