// test_ca: see test_ca.h. Each step is one openssl(1) run; a failure
// throws with its output, so a broken openssl setup is reported as such.
#include "support/test_ca.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <chrono>
#include <stdexcept>

namespace ldapmda::testing {
namespace {

constexpr char kOpenSsl[] = "/usr/bin/openssl";

bool IsIpv4(const std::string& name) {
  in_addr addr{};
  return inet_pton(AF_INET, name.c_str(), &addr) == 1;
}

// subjectAltName=DNS:a,IP:b plus what a TLS server certificate carries.
std::string ServerExtensions(const std::vector<std::string>& names) {
  // Appended piece by piece: GCC 12 -O3 warns (-Wrestrict, a false
  // positive) about "literal" + std::string here, and the Release builds
  // of bench/run and scripts/demo build this file.
  std::string out = "subjectAltName=";
  for (const std::string& name : names) {
    if (&name != &names.front()) out += ",";
    out += IsIpv4(name) ? "IP:" : "DNS:";
    out += name;
  }
  out +=
      "\nbasicConstraints=critical,CA:FALSE"
      "\nkeyUsage=critical,digitalSignature"
      "\nextendedKeyUsage=serverAuth\n";
  return out;
}

}  // namespace

TestCa::TestCa(const std::string& common_name)
    : cert_file_(dir_.File("ca.crt")), key_file_(dir_.File("ca.key")) {
  // Certificates are public; the unprivileged pipe user must read the CA
  // file (openssl writes keys with mode 0600).
  chmod(dir_.path().c_str(), 0755);
  OpenSsl({"req", "-x509", "-newkey", "ec", "-pkeyopt",
           "ec_paramgen_curve:P-256", "-nodes", "-keyout", key_file_, "-out",
           cert_file_, "-days", "1", "-subj", "/CN=" + common_name, "-addext",
           "basicConstraints=critical,CA:TRUE", "-addext",
           "keyUsage=critical,keyCertSign,cRLSign"});
}

CertFiles TestCa::IssueServer(const std::string& label,
                              const std::vector<std::string>& names) {
  if (names.empty()) throw std::invalid_argument("IssueServer: no names");
  const CertFiles files{dir_.File(label + ".crt"), dir_.File(label + ".key")};
  const std::string csr = dir_.File(label + ".csr");
  const std::string ext = dir_.File(label + ".ext");
  WriteFile(ext, ServerExtensions(names));
  OpenSsl({"req", "-new", "-newkey", "ec", "-pkeyopt",
           "ec_paramgen_curve:P-256", "-nodes", "-keyout", files.key, "-out",
           csr, "-subj", "/CN=" + names.front()});
  OpenSsl({"x509", "-req", "-in", csr, "-CA", cert_file_, "-CAkey", key_file_,
           "-set_serial", std::to_string(++serial_), "-days", "1", "-extfile",
           ext, "-out", files.cert});
  return files;
}

void TestCa::OpenSsl(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {kOpenSsl};
  argv.insert(argv.end(), args.begin(), args.end());
  const ProcessResult r = RunProcess(argv, "", std::chrono::seconds(30));
  if (r.exit_code != 0) {
    std::string command;
    for (const std::string& a : argv) command += " " + a;
    throw std::runtime_error("TestCa:" + command + " failed (exit " +
                             std::to_string(r.exit_code) + "):\n" + r.out +
                             r.err);
  }
}

}  // namespace ldapmda::testing
