// ldapmda --check and --query against real slapd servers: every broken
// setup --check claims to detect, and how addresses resolve.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "support/mda_fixture.h"

namespace ldapmda {
namespace {

using testing::ProcessResult;
using testing::RunProcess;
using testing::SlapdOptions;
using testing::SlapdServer;

class AdminTest : public testing::MdaTest {
 protected:
  ProcessResult Check(const std::string& conf,
                      std::vector<std::string> args = {}) {
    std::vector<std::string> argv = {LDAPMDA_BINARY, "-c", conf, "--check"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, "");
  }
  ProcessResult Query(const std::string& conf, const std::string& address,
                      std::vector<std::string> args = {}) {
    std::vector<std::string> argv = {LDAPMDA_BINARY, "-c", conf, "--query",
                                     address};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, "");
  }
  static bool Has(const ProcessResult& r, const std::string& line_start) {
    return r.out.find("\n" + line_start) != std::string::npos;
  }
  // --check against a slapd with the schema of before `what`
  // (testing::SchemaBefore).
  ProcessResult CheckWithSchemaBefore(const std::string& what) {
    const std::string old_schema = dir_.File("before-" + what + ".schema");
    testing::WriteFile(old_schema, testing::SchemaBefore(what), 0644);
    SlapdOptions options;
    options.schema_file = old_schema;
    SlapdServer server(options);
    return Check(Config(server));
  }
};

TEST_F(AdminTest, CheckPassesOnAGoodSetup) {
  SlapdServer server;
  const ProcessResult r = Check(Config(server), {"alice@example.com"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Has(r, "  ok  server " + server.uri() + ": answers")) << r.out;
  EXPECT_TRUE(Has(r, "  ok  search_base: ")) << r.out;
  EXPECT_TRUE(Has(r, "  ok  schema: ")) << r.out;
  EXPECT_TRUE(Has(r,
                  "  ok  write: added and deleted a probe message below "
                  "cn=mailbox,uid=alice,"))
      << r.out;
  EXPECT_TRUE(Has(r, "  ok  size: ")) << r.out;
  EXPECT_NE(r.out.find("all checks passed"), std::string::npos);
  // The probe is gone; the check stored no mail.
  EXPECT_TRUE(Stored(server).empty());
}

TEST_F(AdminTest, CheckWithoutAddressSkipsTheWriteTest) {
  SlapdServer server;
  const ProcessResult r = Check(Config(server));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Has(r, "  --  write: not checked")) << r.out;
}

struct Broken {
  const char* name;
  std::vector<std::string> overrides;
  std::string failing;  // the start of the FAIL line
};

TEST_F(AdminTest, CheckFailsClearlyOnEachBrokenSetup) {
  SlapdServer server;
  const std::string conf = Config(server);
  const std::string dead =
      "ldap://127.0.0.1:" + std::to_string(testing::FreeTcpPort());
  const Broken cases[] = {
      {"dead server",
       {"-o", "server_host=" + dead + " " + server.uri()},
       "FAIL  server " + dead + ": Can't contact LDAP server"},
      {"missing base",
       {"-o", "search_base=ou=nowhere,dc=example,dc=com"},
       "FAIL  search_base: ou=nowhere,dc=example,dc=com does not exist"},
      {"no write access", {"-o", "bind=none"}, "FAIL  write: "},
      {"unknown probe address",
       {"-o", "bind=simple"},
       "FAIL  probe address: nobody@example.com: 5.1.1"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = c.overrides;
    args.push_back(c.name == std::string("unknown probe address")
                       ? "nobody@example.com"
                       : "alice@example.com");
    const ProcessResult r = Check(conf, args);
    EXPECT_EQ(r.exit_code, 1) << c.name << ":\n" << r.out;
    EXPECT_TRUE(Has(r, c.failing)) << c.name << ":\n" << r.out;
    EXPECT_NE(r.out.find("check(s) failed"), std::string::npos) << c.name;
  }
}

TEST_F(AdminTest, CheckDetectsAWrongPassword) {
  SlapdServer server;
  const ProcessResult r = Check(Config(server, "", "wrong"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r, "FAIL  server " + server.uri() + ": Invalid credentials"))
      << r.out;
}

TEST_F(AdminTest, CheckDetectsAMissingSchema) {
  SlapdOptions options;
  options.load_ldapmda_schema = false;
  SlapdServer server(options);
  const ProcessResult r = Check(Config(server));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r, "FAIL  schema: not loaded: mdaMessage, mdaMailbox"))
      << r.out;
}

TEST_F(AdminTest, CheckWarnsAboutASchemaWithoutReports) {
  // The schema as it was before mdaReport: mail is stored, reports
  // without their attributes. Said, but not a failure.
  const ProcessResult r = CheckWithSchemaBefore("mdaReport");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Has(r,
                  "WARN  schema: mdaMessage and mdaMailbox are loaded, "
                  "mdaReport is not"))
      << r.out;
  EXPECT_TRUE(Has(r, "all checks passed")) << r.out;
}

TEST_F(AdminTest, CheckWarnsAboutASchemaWithoutReasons) {
  const ProcessResult r = CheckWithSchemaBefore("mdaDsnReason");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Has(r, "WARN  schema: mdaReport predates mdaDsnReason")) << r.out;
}

TEST_F(AdminTest, CheckDetectsAServerThatRefusesMaxMessageSize) {
  SlapdOptions options;
  options.maxentrysize = 1 << 20;  // below the default max_message_size
  SlapdServer server(options);
  ProcessResult r = Check(Config(server), {"alice@example.com"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r, "  ok  write: ")) << r.out;
  EXPECT_TRUE(Has(r,
                  "FAIL  size: a message of max_message_size (10485760 "
                  "bytes) is refused"))
      << r.out;
  // With max_message_size below the server's limit it passes.
  r = Check(Config(server),
            {"-o", "max_message_size=500000", "alice@example.com"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Stored(server).empty());
}

TEST_F(AdminTest, CheckDetectsBadFiles) {
  SlapdServer server;
  ProcessResult r = Check(Config(server), {"-o", "bind_pw_file=/nonexistent"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r, "FAIL  bind_pw_file: ")) << r.out;
  r = Check(dir_.File("missing.conf"));
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_EQ(r.out.rfind("FAIL  configuration: ", 0), 0u) << r.out;
}

TEST_F(AdminTest, QueryShowsHowAnAddressResolves) {
  SlapdServer server(testing::PolicyDirectory());
  const std::string conf =
      Config(server,
             "recipient_delimiter = +\nquota_attribute = mdaQuota\n"
             "account_status_attribute = mdaAccountStatus\n");
  ProcessResult r = Query(conf, "erin+lists@example.com");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out,
            "address   erin+lists@example.com\n"
            "entry     uid=erin,ou=people,dc=example,dc=com (matched "
            "erin@example.com)\n"
            "mailbox   cn=mailbox,uid=erin,ou=people,dc=example,dc=com "
            "(created on the first delivery)\n"
            "folder    lists\n"
            "status    mdaAccountStatus: (absent)\n"
            "quota     1000 bytes, using 0 bytes in 0 messages\n"
            "verdict   2.0.0 would deliver\n");

  // The pipe(8) set-up gives the extension with -e and no delimiter.
  r = Query(conf, "erin+lists@example.com",
            {"-o", "recipient_delimiter=", "-e", "lists"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("folder    lists\n"), std::string::npos) << r.out;

  r = Query(conf, "nobody@example.com");
  EXPECT_EQ(r.exit_code, 67);
  EXPECT_NE(r.out.find("verdict   5.1.1 would bounce: no such user here"),
            std::string::npos)
      << r.out;
  r = Query(conf, "dave@example.com");
  EXPECT_EQ(r.exit_code, 69);
  EXPECT_NE(r.out.find("verdict   5.2.1 would bounce: mailbox disabled"),
            std::string::npos)
      << r.out;
  r = Query(conf, "dup@example.com");
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_NE(r.out.find("verdict   4.3.5 would defer: recipient lookup is "
                       "ambiguous"),
            std::string::npos)
      << r.out;
  r = Query(conf, "a\x01@example.com");
  EXPECT_EQ(r.exit_code, 67);
  EXPECT_NE(r.out.find("verdict   5.1.3"), std::string::npos) << r.out;
  r = Query(conf, "alice@example.com",
            {"-o", "server_host=ldap://127.0.0.1:" +
                       std::to_string(testing::FreeTcpPort())});
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_NE(r.out.find("verdict   4.4.3 would defer"), std::string::npos)
      << r.out;
}

TEST_F(AdminTest, QueryShowsAFullMailbox) {
  SlapdServer server(testing::PolicyDirectory());
  const std::string conf = Config(server, "quota_attribute = mdaQuota\n");
  ASSERT_EQ(Deliver(conf, "erin@example.com", std::string(1000, 'x')).exit_code,
            0);
  const ProcessResult r = Query(conf, "erin@example.com");
  EXPECT_EQ(r.exit_code, 0) << r.out;  // a 0-byte message would still fit
  EXPECT_NE(r.out.find("quota     1000 bytes, using 1000 bytes in 1 messages"),
            std::string::npos)
      << r.out;
  EXPECT_NE(
      r.out.find("mailbox   cn=mailbox,uid=erin,ou=people,dc=example,dc=com\n"),
      std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace ldapmda
