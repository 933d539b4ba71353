// slapd_server_test: tests of the support library's SlapdServer and
// LdapClient against a real slapd. No skips: without slapd these fail.
#include "support/slapd_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/ldap_client.h"
#include "support/process.h"
#include "support/support_test_util.h"

namespace ldapmda::testing {
namespace {

using std::chrono::seconds;

TEST(SlapdServerTest, StartsAndServesTheSuffix) {
  const SlapdServer server;
  EXPECT_TRUE(server.running());
  EXPECT_EQ(server.uri(), "ldap://127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(server.ldapi_uri().rfind("ldapi://%2F", 0), 0u);
  EXPECT_TRUE(Contains(server.ldapi_uri(), "%2Fldapi"));
  LdapClient admin = server.Admin();
  EXPECT_EQ(admin.WhoAmI(), "dn:" + server.admin_dn());
  const auto base = admin.Read(server.suffix());
  ASSERT_TRUE(base.has_value());
  EXPECT_EQ(base->First("dc"), "example");
  const std::string conf = ReadFile(server.dir() + "/slapd.conf");
  EXPECT_TRUE(Contains(conf, "maxentrysize 20971520\n"));
  EXPECT_TRUE(Contains(conf, "sockbuf_max_incoming_auth 33554432\n"));
  EXPECT_TRUE(Contains(conf, "maxsize 1073741824\n"));
  EXPECT_TRUE(Contains(conf, "index mdaKey eq\n"));
}

TEST(SlapdServerTest, SampleUsersAreSearchableAsTheServiceDn) {
  const SlapdServer server;
  LdapClient service = server.Service();
  EXPECT_EQ(service.WhoAmI(), "dn:" + server.service_dn());
  for (const char* uid : {"alice", "bob", "carol"}) {
    const auto found = service.Search(
        server.suffix(), LDAP_SCOPE_SUBTREE,
        "(mail=" + std::string(uid) + "@example.com)", {"uid", "mail"});
    ASSERT_EQ(found.size(), 1u) << uid;
    EXPECT_EQ(found[0].dn, server.UserDn(uid));
    EXPECT_EQ(found[0].First("uid"), uid);
    EXPECT_FALSE(found[0].Has("cn"));  // not requested
  }
  const auto dups = service.Search(server.suffix(), LDAP_SCOPE_SUBTREE,
                                   "(mail=dup@example.com)", {"1.1"});
  std::set<std::string> dns;
  for (const TestEntry& e : dups) dns.insert(e.dn);
  EXPECT_EQ(dns, (std::set<std::string>{server.UserDn("dup1"),
                                        server.UserDn("dup2")}));
  EXPECT_EQ(service
                .Search(server.people_dn(), LDAP_SCOPE_ONELEVEL,
                        "(objectClass=inetOrgPerson)")
                .size(),
            5u);
}

TEST(SlapdServerTest, AnonymousMayReadButNotWriteNorSeePasswords) {
  const SlapdServer server;
  LdapClient anonymous(server.uri(), "", "");
  EXPECT_EQ(anonymous.WhoAmI(), "");
  const auto service = anonymous.Read(server.service_dn(), {"*"});
  ASSERT_TRUE(service.has_value());
  EXPECT_EQ(service->First("cn"), "ldapmda");
  EXPECT_FALSE(service->Has("userPassword"));
  EXPECT_EQ(anonymous.Add("uid=eve," + server.people_dn(),
                          {{"objectClass", {"inetOrgPerson"}},
                           {"uid", {"eve"}},
                           {"cn", {"eve"}},
                           {"sn", {"eve"}}}),
            LDAP_STRONG_AUTH_REQUIRED);
}

TEST(SlapdServerTest, WrongPasswordIsRejected) {
  const SlapdServer server;
  try {
    LdapClient client(server.uri(), server.service_dn(), "wrong");
    FAIL() << "bind with a wrong password succeeded";
  } catch (const LdapError& e) {
    EXPECT_EQ(e.code(), LDAP_INVALID_CREDENTIALS) << e.what();
  }
}

TEST(SlapdServerTest, SaslExternalOverLdapiIsThePeerCredentialIdentity) {
  const SlapdServer server;
  const std::string identity = "dn:gidNumber=" + std::to_string(getegid()) +
                               "+uidNumber=" + std::to_string(geteuid()) +
                               ",cn=peercred,cn=external,cn=auth";
  const ProcessResult r = RunProcess(
      {"/usr/bin/ldapwhoami", "-Q", "-Y", "EXTERNAL", "-H", server.ldapi_uri()},
      "", seconds(30), {"LDAPNOINIT=1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, identity + "\n");
  // The same identity through LdapClient, and the ACL lets it write.
  LdapClient external = LdapClient::External(server.ldapi_uri());
  EXPECT_EQ(external.WhoAmI(), identity);
  EXPECT_EQ(
      external.Add("cn=mailbox," + server.UserDn("bob"),
                   {{"objectClass", {"mdaMailbox"}}, {"cn", {"mailbox"}}}),
      LDAP_SUCCESS)
      << external.last_message();
}

// What slapacl says `identity` may do on alice's entry (it reports on
// stderr).
std::string AccessOf(const SlapdServer& server, const std::string& identity) {
  const ProcessResult r = RunProcess(
      {"/usr/sbin/slapacl", "-f", server.dir() + "/slapd.conf", "-D", identity,
       "-b", server.UserDn("alice"), "mail/write", "userPassword/read"},
      "", seconds(30));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.err;
}

TEST(SlapdServerTest, AclsGiveWriteToTheServiceIdentitiesOnly) {
  const SlapdServer server;
  const std::string allowed =
      "write access to mail: ALLOWED\nread access to userPassword: ALLOWED";
  const std::string peercred = ",cn=peercred,cn=external,cn=auth";
  const std::string uid = std::to_string(geteuid());
  EXPECT_TRUE(Contains(AccessOf(server, server.service_dn()), allowed));
  EXPECT_TRUE(
      Contains(AccessOf(server, "gidNumber=12345+uidNumber=" + uid + peercred),
               allowed));
  const std::string other = std::to_string(geteuid() + 1);
  EXPECT_TRUE(Contains(
      AccessOf(server, "gidNumber=0+uidNumber=" + other + peercred),
      "write access to mail: DENIED\nread access to userPassword: DENIED"));
  EXPECT_TRUE(Contains(AccessOf(server, server.UserDn("bob")),
                       "write access to mail: DENIED"));
}

TEST(SlapdServerTest, StopAndStartKeepDataAndPort) {
  SlapdServer server;
  const int port = server.port();
  const std::string dn = "cn=mailbox," + server.UserDn("carol");
  ASSERT_EQ(server.Service().Add(
                dn, {{"objectClass", {"mdaMailbox"}}, {"cn", {"mailbox"}}}),
            LDAP_SUCCESS);
  server.Stop();
  server.Stop();  // idempotent
  EXPECT_FALSE(server.running());
  try {
    LdapClient client(server.uri(), "", "", seconds(2));
    FAIL() << "connected to a stopped server";
  } catch (const LdapError& e) {
    EXPECT_EQ(e.code(), LDAP_SERVER_DOWN) << e.what();
  }
  server.Start();
  EXPECT_EQ(server.port(), port);
  EXPECT_TRUE(server.Admin().Read(dn).has_value());
  server.Kill();  // a crash: mdb must still have the data, ldapi must work
  EXPECT_FALSE(server.running());
  server.Start();
  EXPECT_TRUE(LdapClient::External(server.ldapi_uri()).Read(dn).has_value());
}

TEST(SlapdServerTest, PausedServerTimesOutAndResumeRecovers) {
  SlapdServer server;
  const std::string filter = "(mail=alice@example.com)";
  LdapClient client(server.uri(), server.service_dn(),
                    server.service_password(), seconds(1));
  ASSERT_EQ(client.Search(server.suffix(), LDAP_SCOPE_SUBTREE, filter).size(),
            1u);
  server.Pause();
  server.Pause();  // no-op, must not block
  EXPECT_TRUE(server.paused());
  const auto start = Clock::now();
  try {
    client.Search(server.suffix(), LDAP_SCOPE_SUBTREE, filter);
    FAIL() << "a paused server answered";
  } catch (const LdapError& e) {
    EXPECT_EQ(e.code(), LDAP_TIMEOUT) << e.what();
  }
  EXPECT_GE(SecondsSince(start), 0.9);
  EXPECT_LT(SecondsSince(start), 5.0);
  server.Resume();
  EXPECT_FALSE(server.paused());
  LdapClient fresh(server.uri(), server.service_dn(), server.service_password(),
                   seconds(5));
  EXPECT_EQ(fresh.Search(server.suffix(), LDAP_SCOPE_SUBTREE, filter).size(),
            1u);
}

TEST(SlapdServerTest, StopWorksOnAPausedServer) {
  SlapdServer server;
  server.Pause();
  const auto start = Clock::now();
  server.Stop();
  EXPECT_FALSE(server.running());
  EXPECT_LT(SecondsSince(start), 4.0);  // SIGTERM worked, no SIGKILL
}

// The attributes of a minimal mdaMessage entry.
AttrMap MessageAttrs(const std::string& key, const std::string& raw) {
  return {{"objectClass", {"mdaMessage"}},
          {"mdaKey", {key}},
          {"mdaRawMessage", {raw}},
          {"mdaSize", {std::to_string(raw.size())}},
          {"mdaDeliveredAt", {"20240102030405Z"}},
          {"mdaEnvelopeRecipient", {"alice@example.com"}},
          {"mdaFolder", {"INBOX"}}};
}

AttrMap MailboxAttrs() {
  return {{"objectClass", {"mdaMailbox"}}, {"cn", {"mailbox"}}};
}

TEST(SlapdServerTest, StoresAnMdaMessageByteExact) {
  const SlapdServer server;
  LdapClient service = server.Service();
  const std::string mailbox = "cn=mailbox," + server.UserDn("alice");
  ASSERT_EQ(service.Add(mailbox, MailboxAttrs()), LDAP_SUCCESS)
      << service.last_message();
  std::string raw = "Subject: t\r\n\r\nbody\r\n";
  raw += std::string("\0\r\n\0", 4);
  for (int b = 0; b < 256; ++b) raw += static_cast<char>(b);
  const std::string key(64, 'c');
  const std::string dn = "mdaKey=" + key + "," + mailbox;
  ASSERT_EQ(service.Add(dn, MessageAttrs(key, raw)), LDAP_SUCCESS)
      << service.last_message();
  const auto got = service.Read(dn);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->First("mdaRawMessage").size(), raw.size());
  EXPECT_TRUE(got->First("mdaRawMessage") == raw);
  EXPECT_EQ(got->First("mdaSize"), std::to_string(raw.size()));
  EXPECT_EQ(got->First("mdaDeliveredAt"), "20240102030405Z");
  EXPECT_EQ(got->First("mdaEnvelopeRecipient"), "alice@example.com");
  EXPECT_EQ(got->First("mdafolder"), "INBOX");  // names are case-insensitive
  EXPECT_EQ(
      service
          .Search(mailbox, LDAP_SCOPE_ONELEVEL, "(mdaKey=" + key + ")", {"1.1"})
          .size(),
      1u);
  EXPECT_EQ(service.Add(dn, MessageAttrs(key, raw)), LDAP_ALREADY_EXISTS);
}

TEST(SlapdServerTest, LargeMessagesUpToMaxEntrySize) {
  const SlapdServer server;
  LdapClient service = server.Service();
  const std::string mailbox = "cn=mailbox," + server.UserDn("alice");
  ASSERT_EQ(service.Add(mailbox, MailboxAttrs()), LDAP_SUCCESS);
  const std::string big = RandomBytes(12 * kMiB, 5);
  const std::string big_dn = "mdaKey=" + std::string(64, 'b') + "," + mailbox;
  ASSERT_EQ(service.Add(big_dn, MessageAttrs(std::string(64, 'b'), big)),
            LDAP_SUCCESS)
      << service.last_message();
  EXPECT_TRUE(service.Read(big_dn)->First("mdaRawMessage") == big);
  // Over maxentrysize (20 MiB) but under sockbuf_max_incoming_auth
  // (32 MiB): a clean adminLimitExceeded, and the connection survives.
  const std::string huge = RandomBytes(25 * kMiB, 6);
  EXPECT_EQ(service.Add("mdaKey=" + std::string(64, 'h') + "," + mailbox,
                        MessageAttrs(std::string(64, 'h'), huge)),
            LDAP_ADMINLIMIT_EXCEEDED);
  EXPECT_EQ(service.WhoAmI(), "dn:" + server.service_dn());
}

TEST(SlapdServerTest, WithoutTheProjectSchemaMdaEntriesAreRejected) {
  SlapdOptions options;
  options.load_ldapmda_schema = false;
  const SlapdServer server(options);
  EXPECT_FALSE(Contains(ReadFile(server.dir() + "/slapd.conf"), "mdaKey"));
  LdapClient admin = server.Admin();
  const std::string mailbox = "cn=mailbox," + server.UserDn("alice");
  EXPECT_EQ(admin.Add(mailbox, MailboxAttrs()), LDAP_INVALID_SYNTAX)
      << admin.last_message();
  // An unknown attribute type in the RDN makes the DN itself invalid.
  const std::string key(64, 'd');
  EXPECT_EQ(admin.Add("mdaKey=" + key + "," + server.UserDn("alice"),
                      MessageAttrs(key, "raw")),
            LDAP_INVALID_DN_SYNTAX)
      << admin.last_message();
  AttrMap attrs = MessageAttrs(key, "raw");
  attrs["cn"] = {"message"};
  EXPECT_EQ(admin.Add("cn=message," + server.UserDn("alice"), attrs),
            LDAP_UNDEFINED_TYPE)
      << admin.last_message();
}

TEST(SlapdServerTest, AppliesExtraLdifAfterTheSampleData) {
  SlapdOptions options;
  options.extra_ldif = {
      "# a comment\n"
      "dn: uid=dave,ou=people,dc=example,dc=com\n"
      "objectClass: inetOrgPerson\n"
      "uid: dave\n"
      "cn: Dave\n"
      "sn: D\n"
      "mail: dave@exam\n"
      " ple.com\n"
      "description:: AAECAw==\n"
      "\n"
      "dn: uid=alice,ou=people,dc=example,dc=com\n"
      "changetype: modify\n"
      "add: mail\n"
      "mail: alice.alias@example.com\n",
      "dn: uid=bob,ou=people,dc=example,dc=com\n"
      "changetype: delete\n"};
  const SlapdServer server(options);
  LdapClient admin = server.Admin();
  const auto dave = admin.Read(server.UserDn("dave"));
  ASSERT_TRUE(dave.has_value());
  EXPECT_EQ(dave->First("mail"), "dave@example.com");
  EXPECT_EQ(dave->First("description"), std::string("\0\1\2\3", 4));
  EXPECT_EQ(admin.Read(server.UserDn("alice"))->Values("mail").size(), 2u);
  EXPECT_FALSE(admin.Read(server.UserDn("bob")).has_value());
}

TEST(SlapdServerTest, BadExtraLdifFailsTheStart) {
  SlapdOptions options;
  options.extra_ldif = {
      "dn: uid=x,ou=nowhere,dc=example,dc=com\n"
      "objectClass: inetOrgPerson\nuid: x\ncn: x\nsn: x\n"};
  try {
    const SlapdServer server(options);
    FAIL() << "started with an LDIF entry below a missing parent";
  } catch (const LdapError& e) {
    EXPECT_EQ(e.code(), LDAP_NO_SUCH_OBJECT) << e.what();
  }
}

TEST(SlapdServerTest, OtherSuffixWithoutSampleData) {
  SlapdOptions options;
  options.suffix = "o=test";
  options.load_sample_data = false;
  const SlapdServer server(options);
  LdapClient admin = server.Admin();
  EXPECT_FALSE(admin.Read("o=test").has_value());
  ASSERT_EQ(
      admin.Add("o=test", {{"objectClass", {"organization"}}, {"o", {"test"}}}),
      LDAP_SUCCESS);
  EXPECT_EQ(admin.Search("o=test", LDAP_SCOPE_SUBTREE).size(), 1u);
}

TEST(SlapdServerTest, BrokenConfigurationThrowsWithTheLog) {
  SlapdOptions options;
  options.suffix = "dc=example,dc=com\"\nbogusdirective \"x";
  try {
    const SlapdServer server(options);
    FAIL() << "slapd started with a broken slapd.conf";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(Contains(e.what(), "bogusdirective")) << e.what();
  }
}

TEST(SlapdServerTest, HashedPasswordsAreStoredAsSshaAndStillBind) {
  SlapdOptions options;
  options.admin_password = "admin-pw-1";
  options.service_password = "service-pw-2";
  options.hash_passwords = true;
  const SlapdServer server(options);
  EXPECT_EQ(server.admin_password(), "admin-pw-1");
  EXPECT_EQ(server.service_password(), "service-pw-2");
  LdapClient admin = server.Admin();  // rootpw {SSHA}...
  EXPECT_EQ(admin.WhoAmI(), "dn:" + server.admin_dn());
  EXPECT_EQ(server.Service().WhoAmI(), "dn:" + server.service_dn());
  const auto service = admin.Read(server.service_dn(), {"userPassword"});
  ASSERT_TRUE(service.has_value());
  EXPECT_EQ(service->First("userPassword").rfind("{SSHA}", 0), 0u)
      << service->First("userPassword");
  const std::string conf = ReadFile(server.dir() + "/slapd.conf");
  EXPECT_FALSE(Contains(conf, "admin-pw-1"));
  EXPECT_TRUE(Contains(conf, "rootpw {SSHA}"));
  EXPECT_THROW(LdapClient(server.uri(), server.service_dn(), "mdapass"),
               LdapError);
}

TEST(SlapdServerTest, PasswordsThatDoNotFitSlapdConfAreRefused) {
  for (const char* bad : {"", "two words", "quo\"te", "back\\slash"}) {
    SlapdOptions options;
    options.service_password = bad;
    EXPECT_THROW(SlapdServer server(options), std::invalid_argument) << bad;
  }
}

TEST(SlapdServerTest, WithoutAnonymousReadAnonymousSeesNothing) {
  SlapdOptions options;
  options.anonymous_read = false;
  const SlapdServer server(options);
  LdapClient anonymous(server.uri(), "", "");
  try {
    const auto alice = anonymous.Read(server.UserDn("alice"));
    EXPECT_FALSE(alice.has_value());
  } catch (const LdapError& e) {
    EXPECT_EQ(e.code(), LDAP_NO_SUCH_OBJECT) << e.what();
  }
  // The root DSE and the binds still work, and so do the writers.
  EXPECT_EQ(
      anonymous
          .Search("", LDAP_SCOPE_BASE, "(objectClass=*)", {"namingContexts"})[0]
          .First("namingContexts"),
      server.suffix());
  LdapClient service = server.Service();
  EXPECT_EQ(service
                .Search(server.people_dn(), LDAP_SCOPE_ONELEVEL,
                        "(mail=alice@example.com)", {"1.1"})
                .size(),
            1u);
}

TEST(SlapdServerTest, KeepDirLeavesTheDirectoryBehind) {
  SlapdOptions options;
  options.keep_dir = true;
  std::string dir;
  {
    const SlapdServer server(options);
    dir = server.dir();
  }
  EXPECT_TRUE(std::filesystem::exists(dir + "/slapd.log"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/data"));
  std::filesystem::remove_all(dir);
}

TEST(SlapdServerTest, AFixedPortThatIsTakenThrowsSlapdPortTaken) {
  const UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(0x7F000001U);
  socklen_t len = sizeof addr;
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  // Bound, not listening: slapd cannot bind it, a connect is refused.
  ASSERT_EQ(bind(fd.get(), sa, len), 0);
  ASSERT_EQ(getsockname(fd.get(), sa, &len), 0);
  SlapdOptions options;
  options.port = ntohs(addr.sin_port);
  EXPECT_THROW(SlapdServer server(options), SlapdPortTaken);
}

TEST(SlapdServerTest, ProviderPairReplicatesWithTheGivenPasswords) {
  SlapdOptions node1;
  node1.admin_password = "pair-admin";
  node1.replicator_password = "pair-repl";
  node1.hash_passwords = true;
  SlapdOptions node2 = node1;
  node2.load_sample_data = false;
  const ProviderPair pair = StartProviderPair(node1, node2);
  EXPECT_EQ(pair.node1->mode(), SlapdMode::kProvider);
  EXPECT_NE(pair.node1->port(), pair.node2->port());
  // Node 2 has what node 1 loaded, and the same rootdn password.
  EXPECT_TRUE(pair.node2->WaitForEntry(pair.node2->UserDn("alice")))
      << pair.node2->log();
  EXPECT_EQ(pair.node2->Admin().WhoAmI(), "dn:" + pair.node2->admin_dn());
}

// ------------------------------------------------------------ LdapClient

TEST(LdapClientTest, ModifyAndDelete) {
  const SlapdServer server;
  LdapClient service = server.Service();
  const std::string dn = server.UserDn("carol");
  ASSERT_EQ(service.Modify(dn, {{LDAP_MOD_REPLACE, "mail", {"c@example.org"}},
                                {LDAP_MOD_ADD, "description", {"x", "y"}}}),
            LDAP_SUCCESS)
      << service.last_message();
  auto carol = service.Read(dn);
  ASSERT_TRUE(carol.has_value());
  EXPECT_EQ(carol->Values("mail"), std::vector<std::string>{"c@example.org"});
  EXPECT_EQ(carol->Values("description").size(), 2u);
  ASSERT_EQ(service.Modify(dn, {{LDAP_MOD_DELETE, "description", {}}}),
            LDAP_SUCCESS);
  EXPECT_FALSE(service.Read(dn)->Has("description"));
  EXPECT_EQ(service.Delete(dn), LDAP_SUCCESS);
  EXPECT_FALSE(service.Read(dn).has_value());
  EXPECT_EQ(service.Delete(dn), LDAP_NO_SUCH_OBJECT);
}

TEST(LdapClientTest, SearchErrorsThrowWithTheirCode) {
  SlapdOptions options;
  options.sizelimit = 2;
  const SlapdServer server(options);
  LdapClient service = server.Service();
  const auto code_of = [&](const std::string& base, const std::string& f) {
    try {
      service.Search(base, LDAP_SCOPE_SUBTREE, f);
    } catch (const LdapError& e) {
      return e.code();
    }
    return LDAP_SUCCESS;
  };
  EXPECT_EQ(code_of("ou=nowhere," + server.suffix(), "(uid=*)"),
            LDAP_NO_SUCH_OBJECT);
  EXPECT_EQ(code_of(server.suffix(), "(uid=*"), LDAP_FILTER_ERROR);
  EXPECT_EQ(code_of(server.suffix(), "(uid=*)"), LDAP_SIZELIMIT_EXCEEDED);
  // The rootdn has no size limit.
  EXPECT_EQ(server.Admin()
                .Search(server.suffix(), LDAP_SCOPE_SUBTREE, "(uid=*)")
                .size(),
            5u);
}

}  // namespace
}  // namespace ldapmda::testing
