// A fixture for tests that run the real ldapmda binary against a real
// slapd: writes a configuration bound as the service DN, delivers, and
// reads back what was stored. Deliver() runs ldapmda as the unprivileged
// pipe user (support/pipe_user.h), as Postfix's pipe(8) does, whenever
// the configuration is the one Config() wrote for that user.
#ifndef LDAPMDA_TESTS_SUPPORT_MDA_FIXTURE_H_
#define LDAPMDA_TESTS_SUPPORT_MDA_FIXTURE_H_

#include <gtest/gtest.h>
#include <ldap.h>
#include <sys/stat.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/ldap_client.h"
#include "support/pipe_user.h"
#include "support/process.h"
#include "support/slapd_server.h"

namespace ldapmda::testing {

class MdaTest : public ::testing::Test {
 protected:
  // A config file for `server`, bound as the service DN; `extra` lines
  // are appended (later keys are -o overrides in the tests instead). It
  // and its bind_pw_file (mode 0600, owned by the pipe user) are readable
  // by the pipe user, as master.cf's user= must read them.
  std::string Config(const SlapdServer& server, const std::string& extra = "",
                     const std::string& password = "") {
    const std::optional<RunAs> user = PipeUser();
    if (user) chmod(dir_.path().c_str(), 0711);  // reach files by name
    const std::string pw = dir_.File("bind.pw");
    WriteFile(pw,
              (password.empty() ? server.service_password() : password) + "\n",
              0600);
    GiveTo(pw, user);
    const std::string path = dir_.File("ldapmda.conf");
    pipe_user_conf_ = path;
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
    return RunProcess(argv, message, std::chrono::seconds(120), {},
                      RunAsFor(conf));
  }

  // Whom to run ldapmda as with configuration file `conf`: the pipe user
  // for the file Config() wrote (nullopt when the tests are not root), the
  // test's own identity for any other file, which the pipe user may not
  // be able to read. For RunProcess's `run_as`.
  std::optional<RunAs> RunAsFor(const std::string& conf) const {
    return conf == pipe_user_conf_ ? PipeUser() : std::nullopt;
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
  std::string pipe_user_conf_;  // written by Config()
};

// The DN in "stored as <dn>\n"; "" for any other output.
inline std::string StoredDn(const std::string& out) {
  const std::string prefix = "stored as ";
  if (out.rfind(prefix, 0) != 0 || out.empty() || out.back() != '\n') return "";
  return out.substr(prefix.size(), out.size() - prefix.size() - 1);
}

// conf/ldapmda.schema as it was before `what`: "mdaReport" (no report
// attributes at all) or "mdaDsnReason" (reports without reasons).
inline std::string SchemaBefore(std::string_view what) {
  std::string schema =
      testing::ReadFile(LDAPMDA_SOURCE_DIR "/conf/ldapmda.schema");
  if (what == "mdaReport") {
    const std::size_t cut = schema.find("# Report attributes");
    EXPECT_NE(cut, std::string::npos);
    return schema.substr(0, cut);
  }
  const std::size_t from = schema.find("# Bounce reasons");
  const std::size_t to = schema.find("objectclass ( ldapmdaOC:4", from);
  const std::size_t may = schema.find(" $ mdaDsnReason");
  EXPECT_TRUE(from != std::string::npos && to != std::string::npos &&
              may != std::string::npos);
  schema.erase(may, std::string_view(" $ mdaDsnReason").size());
  return schema.erase(from, to - from);
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

#endif  // LDAPMDA_TESTS_SUPPORT_MDA_FIXTURE_H_
