// A fixture for tests that run the real ldapmda binary against a real
// slapd: writes a configuration bound as the service DN, delivers, and
// reads back what was stored.
#ifndef LDAPMDA_TESTS_MDA_FIXTURE_H_
#define LDAPMDA_TESTS_MDA_FIXTURE_H_

#include <gtest/gtest.h>
#include <ldap.h>

#include <string>
#include <string_view>
#include <vector>

#include "support/ldap_client.h"
#include "support/process.h"
#include "support/slapd_server.h"

namespace ldapmda::testing {

class MdaTest : public ::testing::Test {
 protected:
  // A config file for `server`, bound as the service DN; `extra` lines
  // are appended (later keys are -o overrides in the tests instead).
  std::string Config(const SlapdServer& server, const std::string& extra = "",
                     const std::string& password = "") {
    const std::string pw = dir_.File("bind.pw");
    WriteFile(pw,
              (password.empty() ? server.service_password() : password) + "\n",
              0600);
    const std::string path = dir_.File("ldapmda.conf");
    WriteFile(path, "server_host = " + server.uri() +
                        "\nsearch_base = " + server.people_dn() +
                        "\nbind = simple\nbind_dn = " + server.service_dn() +
                        "\nbind_pw_file = " + pw +
                        "\ntimeout = 5\ndeadline = 30\n" + extra);
    return path;
  }

  ProcessResult Deliver(const std::string& conf, const std::string& rcpt,
                        std::string_view message,
                        std::vector<std::string> extra_args = {}) {
    std::vector<std::string> argv = {
        LDAPMDA_BINARY, "-c", conf, "-f",     "sender@example.org",
        "-a",           rcpt, "-q", "4QID123"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    argv.push_back("-d");
    argv.push_back(rcpt);
    return RunProcess(argv, message, std::chrono::seconds(120));
  }

  // Messages stored anywhere below `base` (default: the whole suffix).
  std::vector<TestEntry> Stored(const SlapdServer& server,
                                const std::string& base = "") {
    return server.Admin().Search(base.empty() ? server.suffix() : base,
                                 LDAP_SCOPE_SUBTREE,
                                 "(objectClass=mdaMessage)");
  }

  std::string Mailbox(const SlapdServer& server, const std::string& uid) {
    return "cn=mailbox," + server.UserDn(uid);
  }

  TempDir dir_;
};

// The DN in "stored as <dn>\n"; "" for any other output.
inline std::string StoredDn(const std::string& out) {
  const std::string prefix = "stored as ";
  if (out.rfind(prefix, 0) != 0 || out.empty() || out.back() != '\n') return "";
  return out.substr(prefix.size(), out.size() - prefix.size() - 1);
}

// Sample data plus users for the policy rules: mary-ann and mary (a
// delimiter that is legal in local parts), catchall (@example.net), dave
// (disabled), frank (active), erin (quota 1000 bytes).
inline SlapdOptions PolicyDirectory() {
  SlapdOptions options;
  const auto user = [](const std::string& uid, const std::string& mail,
                       const std::string& extra) {
    return "dn: uid=" + uid + ",ou=people,dc=example,dc=com\n" +
           "objectClass: inetOrgPerson\nobjectClass: mdaRecipient\n" +
           "uid: " + uid + "\ncn: " + uid + "\nsn: " + uid + "\nmail: " + mail +
           "\n" + extra + "\n";
  };
  options.extra_ldif = {
      user("mary-ann", "mary-ann@example.com", ""),
      user("mary", "mary@example.com", ""),
      user("catchall", "@example.net", ""),
      user("dave", "dave@example.com", "mdaAccountStatus: disabled\n"),
      user("frank", "frank@example.com", "mdaAccountStatus: active\n"),
      user("erin", "erin@example.com", "mdaQuota: 1000\n"),
  };
  return options;
}

}  // namespace ldapmda::testing

#endif  // LDAPMDA_TESTS_MDA_FIXTURE_H_
