// TLS: the real ldapmda binary against a real slapd that serves StartTLS
// and ldaps:// with certificates of a CA the test generates. A server
// certificate that cannot be trusted (unknown CA, another host name) is a
// setup error that a human must fix: the mail defers with 4.3.5, and the
// bind password never travels before TLS is up. tls_require_cert = no
// turns the check off, as documented in ldapmda.conf(5).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "support/mda_fixture.h"
#include "support/process.h"
#include "support/slapd_server.h"
#include "support/test_ca.h"

namespace ldapmda {
namespace {

using testing::CertFiles;
using testing::ProcessResult;
using testing::SlapdOptions;
using testing::SlapdServer;
using testing::TestCa;

const std::string kMessage =
    "From: sender@example.org\n"
    "To: alice@example.com\n"
    "Subject: over TLS\n"
    "Message-ID: <tls@example.org>\n"
    "\n"
    "Hello.\n";

// What a connection that slapd logs at "stats" shows: StartTLS is this
// extended operation, an ldaps:// or StartTLS session "TLS established",
// and a simple bind of the service DN its DN.
constexpr char kStartTlsOid[] = "oid=1.3.6.1.4.1.1466.20037";
constexpr char kTlsEstablished[] = "TLS established";
constexpr char kServiceBind[] =
    "BIND dn=\"cn=ldapmda,ou=services,dc=example,dc=com\"";

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return s;
}

class TlsTest : public testing::MdaTest {
 protected:
  // A slapd with StartTLS on uri() and ldaps on ldaps_uri(), presenting
  // `cert`, logging every connection and operation.
  static SlapdOptions TlsServer(const CertFiles& cert) {
    SlapdOptions options;
    options.tls_cert_file = cert.cert;
    options.tls_key_file = cert.key;
    options.ldaps = true;
    options.debug_level = "stats";
    return options;
  }

  // The certificate of a correctly set up server: 127.0.0.1 and localhost.
  CertFiles GoodCert() {
    return ca_.IssueServer("good", {"localhost", "127.0.0.1"});
  }

  // Config() for StartTLS (`start_tls`) trusting `ca_file`, plus `extra`.
  std::string TlsConfig(const SlapdServer& server, const std::string& ca_file,
                        bool start_tls, const std::string& extra = "") {
    return Config(server, std::string("start_tls = ") +
                              (start_tls ? "yes" : "no") +
                              "\ntls_ca_cert_file = " + ca_file + "\n" + extra);
  }

  // A deferral for a server certificate ldapmda must not trust: 4.3.5 (a
  // human must fix the setup, no other server would do better), a text
  // that names the certificate problem, nothing stored, and the password
  // never sent.
  void ExpectUntrustedCertificateDefers(const SlapdServer& server,
                                        const ProcessResult& r,
                                        const std::string& problem) {
    EXPECT_EQ(r.exit_code, 75) << r.out << r.err;
    EXPECT_EQ(r.out.rfind("4.3.5 <alice@example.com>: ", 0), 0u) << r.out;
    EXPECT_NE(Lower(r.out).find("certificate"), std::string::npos)
        << "the text should say the server certificate is the problem ("
        << problem << "): " << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    EXPECT_TRUE(Stored(server).empty());
    EXPECT_EQ(server.log().find(kServiceBind), std::string::npos)
        << "the bind password was sent to an untrusted server";
  }

  TestCa ca_;
  TestCa other_ca_{"another test CA"};
};

TEST_F(TlsTest, StartTlsWithTheTestCaDelivers) {
  SlapdServer server(TlsServer(GoodCert()));
  const ProcessResult r = Deliver(TlsConfig(server, ca_.cert_file(), true),
                                  "alice@example.com", kMessage);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Stored(server, Mailbox(server, "alice")).size(), 1u);
  const std::string log = server.log();
  const std::size_t starttls = log.find(kStartTlsOid);
  ASSERT_NE(starttls, std::string::npos) << "no StartTLS:\n" << log;
  EXPECT_NE(log.find(kTlsEstablished), std::string::npos) << log;
  // The password went over TLS: the bind came after StartTLS.
  const std::size_t bind = log.find(kServiceBind);
  ASSERT_NE(bind, std::string::npos) << log;
  EXPECT_GT(bind, starttls) << log;
}

TEST_F(TlsTest, LdapsWithTheTestCaDelivers) {
  SlapdServer server(TlsServer(GoodCert()));
  const ProcessResult r =
      Deliver(TlsConfig(server, ca_.cert_file(), false), "alice@example.com",
              kMessage, {"-o", "server_host=" + server.ldaps_uri()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Stored(server, Mailbox(server, "alice")).size(), 1u);
  const std::string log = server.log();
  EXPECT_NE(log.find(kTlsEstablished), std::string::npos) << log;
  EXPECT_EQ(log.find(kStartTlsOid), std::string::npos) << log;
}

TEST_F(TlsTest, UnknownCaDefers435) {
  SlapdServer server(TlsServer(GoodCert()));
  // tls_require_cert defaults to yes (demand), and says so when set.
  for (const char* require : {"", "tls_require_cert = yes\n"}) {
    const std::string conf =
        TlsConfig(server, other_ca_.cert_file(), true, require);
    ProcessResult r = Deliver(conf, "alice@example.com", kMessage);
    ExpectUntrustedCertificateDefers(server, r, "StartTLS, unknown CA");
    r = Deliver(TlsConfig(server, other_ca_.cert_file(), false, require),
                "alice@example.com", kMessage,
                {"-o", "server_host=" + server.ldaps_uri()});
    ExpectUntrustedCertificateDefers(server, r, "ldaps, unknown CA");
  }
}

TEST_F(TlsTest, HostNameMismatchDefers435) {
  // Signed by the trusted CA, but for another host than the URI names.
  SlapdServer server(
      TlsServer(ca_.IssueServer("elsewhere", {"ldap.elsewhere.example"})));
  ProcessResult r = Deliver(TlsConfig(server, ca_.cert_file(), true),
                            "alice@example.com", kMessage);
  ExpectUntrustedCertificateDefers(server, r, "StartTLS, host name mismatch");
  r = Deliver(TlsConfig(server, ca_.cert_file(), false), "alice@example.com",
              kMessage, {"-o", "server_host=" + server.ldaps_uri()});
  ExpectUntrustedCertificateDefers(server, r, "ldaps, host name mismatch");
}

TEST_F(TlsTest, TlsRequireCertNoIsHonoured) {
  // No check at all: an unknown CA and a wrong host name both pass.
  SlapdServer server(TlsServer(
      other_ca_.IssueServer("elsewhere", {"ldap.elsewhere.example"})));
  const std::string conf =
      TlsConfig(server, ca_.cert_file(), true, "tls_require_cert = no\n");
  ProcessResult r = Deliver(conf, "alice@example.com", kMessage);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = Deliver(
      conf, "bob@example.com", kMessage,
      {"-o", "start_tls=no", "-o", "server_host=" + server.ldaps_uri()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Stored(server).size(), 2u);
  // OpenLDAP's own "never" means the same.
  r = Deliver(conf, "carol@example.com", kMessage,
              {"-o", "tls_require_cert=never"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(TlsTest, StartTlsAgainstAServerWithoutTlsNeverBindsInTheClear) {
  // start_tls = yes, but the server has no certificate: no fallback to a
  // plain connection. ldapmda defers; the password stays home.
  SlapdOptions options;
  options.debug_level = "stats";
  SlapdServer server(options);
  const ProcessResult r = Deliver(TlsConfig(server, ca_.cert_file(), true),
                                  "alice@example.com", kMessage);
  EXPECT_EQ(r.exit_code, 75) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("4.3.5 <alice@example.com>: ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("StartTLS"), std::string::npos) << r.out;
  EXPECT_TRUE(Stored(server).empty());
  EXPECT_EQ(server.log().find(kServiceBind), std::string::npos)
      << "the bind password was sent in the clear";
}

}  // namespace
}  // namespace ldapmda
