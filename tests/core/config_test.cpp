// Unit tests: configuration keys, defaults, and errors with file and line.
#include "ldapmda/config.h"

#include <gtest/gtest.h>

#include "support/process.h"

namespace ldapmda {
namespace {

using testing::TempDir;
using testing::WriteFile;

class ConfigTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    const std::string path = dir_.path() + "/ldapmda.conf";
    WriteFile(path, text);
    return path;
  }
  // The ConfigError text of loading `text` with `overrides`.
  std::string Error(const std::string& text,
                    const std::vector<std::string>& overrides = {}) {
    try {
      LoadConfig(Write(text), overrides);
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no ConfigError for:\n" << text;
    return "";
  }
  TempDir dir_;
};

TEST_F(ConfigTest, MinimalFileGivesDocumentedDefaults) {
  const Config c = LoadConfig(Write("search_base = dc=example,dc=com\n"), {});
  EXPECT_EQ(c.search_base, "dc=example,dc=com");
  EXPECT_EQ(c.server_host, std::vector<std::string>{"ldap://localhost"});
  EXPECT_TRUE(c.store_host.empty());
  EXPECT_EQ(c.StoreHosts(), c.server_host);
  EXPECT_TRUE(c.search_host.empty());
  EXPECT_EQ(c.SearchHosts(), c.server_host);
  EXPECT_EQ(c.scope, Scope::kSub);
  EXPECT_EQ(c.query_filter, "(mail=%s)");
  EXPECT_EQ(c.bind, BindMethod::kNone);
  EXPECT_EQ(c.sasl_mech, "EXTERNAL");
  EXPECT_FALSE(c.start_tls);
  EXPECT_EQ(c.tls_require_cert, TlsRequireCert::kDemand);
  EXPECT_EQ(c.timeout, std::chrono::seconds(10));
  EXPECT_EQ(c.mailbox_dn, "cn=mailbox,{dn}");
  EXPECT_EQ(c.max_message_size, 10485760u);
  EXPECT_EQ(c.deadline, std::chrono::seconds(60));
  EXPECT_EQ(c.log, LogTarget::kSyslog);
  EXPECT_EQ(c.recipient_delimiter, "");
  EXPECT_TRUE(c.extension_folder);
  EXPECT_EQ(c.catchall_query_filter, "");
  EXPECT_EQ(c.account_disabled_values, std::vector<std::string>{"disabled"});
  EXPECT_FALSE(c.tracks_usage());
  EXPECT_FALSE(c.quota_full_tempfail);
  EXPECT_EQ(c.lmtp_timeout, std::chrono::seconds(300));
  EXPECT_EQ(c.lmtp_max_recipients, 1000u);
  EXPECT_EQ(c.lmtp_lookup_cache, std::chrono::seconds(1));
  EXPECT_TRUE(c.confirm_host.empty());
  EXPECT_EQ(c.RequiredConfirmations(), 0u);
  EXPECT_EQ(c.confirm_timeout, std::chrono::seconds(10));
}

TEST_F(ConfigTest, EveryKeyParses) {
  const Config c = LoadConfig(Write(R"(# comment
server_host = ldap://a.example:389, ldaps://b.example ldapi://%2Frun%2Fslapd%2Fldapi
store_host = c.example:3389
search_host = ldap://search.example ldap://search2.example
search_base = ou=people,dc=example,dc=com
scope = one
query_filter = (&(uid=%u)(associatedDomain=%d))
bind = simple
bind_dn = cn=ldapmda,ou=services,dc=example,dc=com
bind_pw_file = /etc/ldapmda/bind.pw
sasl_mech = EXTERNAL
start_tls = yes
tls_ca_cert_file = /etc/ssl/certs/ca.pem
tls_require_cert = no
timeout = 0.5
version = 3
mailbox_dn = cn={address},ou=mailboxes,dc=example,dc=com
recipient_delimiter = +-
extension_folder = no
catchall_query_filter = (mail=@%d)
account_status_attribute = accountStatus
account_disabled_values = disabled, locked noaccess
quota_attribute = mailQuota
quota_full_tempfail = yes
max_message_size = 2048
deadline = 30s
log = stderr
lmtp_timeout = 60
lmtp_max_recipients = 200
lmtp_lookup_cache = 0
confirm_host = ldap://r1.example, ldap://r2.example ldap://r3.example
confirm_count = 2
confirm_timeout = 2.5
)"),
                              {});
  EXPECT_EQ(c.server_host, (std::vector<std::string>{
                               "ldap://a.example:389", "ldaps://b.example",
                               "ldapi://%2Frun%2Fslapd%2Fldapi"}));
  EXPECT_EQ(c.store_host, std::vector<std::string>{"ldap://c.example:3389"});
  EXPECT_EQ(c.SearchHosts(),
            (std::vector<std::string>{"ldap://search.example",
                                      "ldap://search2.example"}));
  EXPECT_EQ(c.StoreHosts(), c.store_host);
  EXPECT_EQ(c.scope, Scope::kOne);
  EXPECT_EQ(c.bind, BindMethod::kSimple);
  EXPECT_TRUE(c.start_tls);
  EXPECT_EQ(c.tls_require_cert, TlsRequireCert::kNever);
  EXPECT_EQ(c.timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(c.max_message_size, 2048u);
  EXPECT_EQ(c.recipient_delimiter, "+-");
  EXPECT_FALSE(c.extension_folder);
  EXPECT_EQ(c.catchall_query_filter, "(mail=@%d)");
  EXPECT_EQ(c.account_status_attribute, "accountStatus");
  EXPECT_EQ(c.account_disabled_values,
            (std::vector<std::string>{"disabled", "locked", "noaccess"}));
  EXPECT_EQ(c.quota_attribute, "mailQuota");
  EXPECT_TRUE(c.quota_full_tempfail);
  EXPECT_TRUE(c.tracks_usage());
  EXPECT_EQ(c.deadline, std::chrono::seconds(30));
  EXPECT_EQ(c.log, LogTarget::kStderr);
  EXPECT_EQ(c.lmtp_timeout, std::chrono::seconds(60));
  EXPECT_EQ(c.lmtp_max_recipients, 200u);
  EXPECT_EQ(c.lmtp_lookup_cache, std::chrono::milliseconds(0));
  EXPECT_EQ(c.confirm_host,
            (std::vector<std::string>{"ldap://r1.example", "ldap://r2.example",
                                      "ldap://r3.example"}));
  EXPECT_EQ(c.RequiredConfirmations(), 2u);
  EXPECT_EQ(c.confirm_timeout, std::chrono::milliseconds(2500));
}

TEST_F(ConfigTest, ConfirmCountDefaultsToEveryReplicaAndIsChecked) {
  const std::string path = dir_.path() + "/ldapmda.conf";
  const Config c = LoadConfig(
      Write("search_base = dc=x\nconfirm_host = ldap://r1 ldap://r2\n"), {});
  EXPECT_EQ(c.RequiredConfirmations(), 2u);
  EXPECT_EQ(Error("search_base = dc=x\nconfirm_host = ldap://r1\n"
                  "confirm_count = 2\n"),
            path +
                ":3: confirm_count = 2 needs that many replicas in "
                "confirm_host, which lists 1");
  EXPECT_NE(
      Error("search_base = dc=x\nconfirm_count = 1\n").find("which lists 0"),
      std::string::npos);
  // The confirmation waits after the store, inside the deadline.
  EXPECT_EQ(Error("search_base = dc=x\nconfirm_host = ldap://r1\n"
                  "deadline = 10\n"),
            path +
                ": confirm_timeout must be shorter than deadline (the "
                "store comes first)");
}

// conf/ldapmda.conf and ldapmda.conf(5) describe every key there is.
TEST_F(ConfigTest, EveryKeyIsDocumented) {
  const std::string example =
      testing::ReadFile(LDAPMDA_SOURCE_DIR "/conf/ldapmda.conf");
  const std::string manual =
      testing::ReadFile(LDAPMDA_SOURCE_DIR "/packaging/man/ldapmda.conf.5");
  ASSERT_GT(ConfigKeys().size(), 20u);
  for (const std::string& key : ConfigKeys()) {
    // "#key =" or "key =" in the example, ".BR key " in the manual.
    EXPECT_TRUE(example.find("\n#" + key + " =") != std::string::npos ||
                example.find("\n" + key + " =") != std::string::npos)
        << key << " is not in conf/ldapmda.conf";
    EXPECT_NE(manual.find("\n.BR " + key + " \""), std::string::npos)
        << key << " has no entry in ldapmda.conf(5)";
  }
}

TEST_F(ConfigTest, UnknownKeyNamesFileAndLine) {
  const std::string path = dir_.path() + "/ldapmda.conf";
  EXPECT_EQ(Error("search_base = dc=x\n\n# c\nserver_hots = ldap://x\n"),
            path + ":4: unknown key \"server_hots\"");
}

struct BadValue {
  std::string line;
  std::string key;
};

TEST_F(ConfigTest, BadValuesNameFileLineAndKey) {
  const BadValue rows[] = {
      {"scope = subtree", "scope"},
      {"bind = kerberos", "bind"},
      {"start_tls = maybe", "start_tls"},
      {"tls_require_cert = sometimes", "tls_require_cert"},
      {"timeout = 0", "timeout"},
      {"timeout = -1", "timeout"},
      {"timeout = soon", "timeout"},
      {"deadline = 1000", "deadline"},  // Postfix would bounce first
      {"version = 2", "version"},
      {"max_message_size = 0", "max_message_size"},
      {"max_message_size = 10MB", "max_message_size"},
      {"log = file", "log"},
      {"query_filter = (mail=%x)", "query_filter"},
      {"query_filter = (mail=nobody)", "query_filter"},
      {"mailbox_dn = ou=mailbox,{dn}", "mailbox_dn"},
      {"mailbox_dn = cn=mailbox,{entry}", "mailbox_dn"},
      {"server_host = http://example.com", "server_host"},
      {"bind_dn = not a dn", "bind_dn"},
      {"recipient_delimiter = @", "recipient_delimiter"},
      {"extension_folder = perhaps", "extension_folder"},
      {"catchall_query_filter = (mail=catchall)", "catchall_query_filter"},
      {"catchall_query_filter = (mail=@%%)", "catchall_query_filter"},
      {"account_status_attribute = bad attr", "account_status_attribute"},
      {"account_disabled_values = ,", "account_disabled_values"},
      {"quota_attribute = (quota)", "quota_attribute"},
      {"quota_full_tempfail = 2", "quota_full_tempfail"},
      {"lmtp_timeout = never", "lmtp_timeout"},
      {"lmtp_max_recipients = 99", "lmtp_max_recipients"},
      {"lmtp_lookup_cache = 61", "lmtp_lookup_cache"},
      {"lmtp_lookup_cache = -1", "lmtp_lookup_cache"},
      {"confirm_host = http://replica", "confirm_host"},
      {"confirm_count = 0", "confirm_count"},
      {"confirm_count = all", "confirm_count"},
      {"confirm_timeout = 0", "confirm_timeout"},
  };
  const std::string path = dir_.path() + "/ldapmda.conf";
  for (const auto& row : rows) {
    const std::string error =
        Error("search_base = dc=example,dc=com\n" + row.line + "\n");
    EXPECT_EQ(error.rfind(path + ":2: " + row.key + ": ", 0), 0u)
        << row.line << " -> " << error;
  }
}

TEST_F(ConfigTest, MissingFileIsAnError) {
  try {
    LoadConfig(dir_.path() + "/nope.conf", {});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("nope.conf: cannot open"),
              std::string::npos);
  }
}

TEST_F(ConfigTest, SearchBaseIsRequired) {
  EXPECT_NE(Error("scope = sub\n").find("search_base is required"),
            std::string::npos);
}

TEST_F(ConfigTest, SimpleBindNeedsDnAndPasswordFile) {
  EXPECT_NE(Error("search_base = dc=x\nbind = simple\n").find("bind_dn"),
            std::string::npos);
}

TEST_F(ConfigTest, DuplicateKeyIsAnError) {
  EXPECT_NE(Error("search_base = dc=x\nscope = sub\nscope = one\n")
                .find("more than once"),
            std::string::npos);
}

TEST_F(ConfigTest, LineWithoutEqualsIsAnError) {
  const std::string path = dir_.path() + "/ldapmda.conf";
  EXPECT_EQ(Error("search_base = dc=x\n# comment\n\n[section]\njunk line\n"),
            path + ":5: expected \"key = value\", a comment or an empty line");
}

TEST_F(ConfigTest, PasswordFileOthersCanReadOrChangeIsRefused) {
  const std::string path = dir_.path() + "/pw";
  for (const mode_t mode : {0644u, 0604u, 0602u, 0620u, 0666u}) {
    WriteFile(path, "s3cret\n", mode);
    try {
      ReadPasswordFile(path);
      ADD_FAILURE() << "mode " << std::oct << mode << " accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("others may read or change it"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST_F(ConfigTest, OverridesWinAndNameTheOption) {
  const Config c = LoadConfig(Write("search_base = dc=x\ntimeout = 5\n"),
                              {"timeout=2", "server_host=ldap://127.0.0.1:9"});
  EXPECT_EQ(c.timeout, std::chrono::seconds(2));
  EXPECT_EQ(c.server_host, std::vector<std::string>{"ldap://127.0.0.1:9"});
  EXPECT_EQ(Error("search_base = dc=x\n", {"scope=all"}),
            "-o scope=...: scope: expected one of sub, one, base");
  EXPECT_EQ(Error("search_base = dc=x\n", {"nokey=1"}),
            "-o nokey=...: unknown key \"nokey\"");
  EXPECT_EQ(Error("search_base = dc=x\n", {"noequals"}),
            "-o noequals: expected key=value");
}

TEST_F(ConfigTest, PasswordFileFirstLineWithoutLineEnd) {
  const std::string path = dir_.path() + "/pw";
  WriteFile(path, "s3cret\r\nsecond line\n", 0600);
  EXPECT_EQ(ReadPasswordFile(path), "s3cret");
  WriteFile(path, "group readable\n", 0640);
  EXPECT_EQ(ReadPasswordFile(path), "group readable");
  WriteFile(path, "", 0600);
  EXPECT_THROW(ReadPasswordFile(path), ConfigError);
  EXPECT_THROW(ReadPasswordFile(dir_.path() + "/none"), ConfigError);
}

}  // namespace
}  // namespace ldapmda
