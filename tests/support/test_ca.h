// test_ca: a throw-away certificate authority for TLS tests, made with
// openssl(1) in a temporary directory: the CA's self-signed certificate
// and server certificates it signs for chosen host names and addresses.
// Two TestCa objects are unrelated, so one serves as "the wrong CA" for
// the other's certificates. Keys are ECDSA P-256: quick to generate.
#ifndef LDAPMDA_TESTS_SUPPORT_TEST_CA_H_
#define LDAPMDA_TESTS_SUPPORT_TEST_CA_H_

#include <string>
#include <vector>

#include "support/process.h"

namespace ldapmda::testing {

// A certificate and its private key, both PEM files.
struct CertFiles {
  std::string cert;
  std::string key;
};

class TestCa {
 public:
  // Creates the CA key and certificate (subject CN=`common_name`, valid
  // for a day, CA:TRUE). Throws std::runtime_error with openssl's output.
  explicit TestCa(const std::string& common_name = "ldapmda test CA");

  // The CA certificate (PEM): what tls_ca_cert_file names.
  const std::string& cert_file() const { return cert_file_; }

  // Issues a server certificate for `names`, each a DNS name or an IPv4
  // address, all in subjectAltName; the first is also the subject's CN.
  // `label` names the files (label.crt, label.key; a label issued twice
  // is overwritten). Throws std::runtime_error.
  CertFiles IssueServer(const std::string& label,
                        const std::vector<std::string>& names);

 private:
  void OpenSsl(const std::vector<std::string>& args) const;

  TempDir dir_;
  std::string cert_file_;
  std::string key_file_;
  int serial_ = 1;
};

}  // namespace ldapmda::testing

#endif  // LDAPMDA_TESTS_SUPPORT_TEST_CA_H_
