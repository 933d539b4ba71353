// Least privilege: slapd runs the SHIPPED conf/slapd.conf (its ACLs and
// limits, only paths substituted), ldapmda binds as the delivery identity
// cn=ldapmda,ou=services and runs as the unprivileged pipe user, as
// Postfix's pipe(8) runs it. The delivery identity can find recipients
// and add below their mailboxes, which is all a delivery, --check and
// --recount need; it can change no person, add nothing elsewhere, delete
// no mail and read no attribute of a person beyond the lookup's.
#include <gtest/gtest.h>
#include <ldap.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "support/ldap_client.h"
#include "support/mda_fixture.h"
#include "support/pipe_user.h"
#include "support/process.h"
#include "support/slapd_server.h"

namespace ldapmda {
namespace {

using testing::AttrMap;
using testing::LdapClient;
using testing::ProcessResult;
using testing::RunProcess;
using testing::SlapdMode;
using testing::SlapdOptions;
using testing::SlapdServer;
using testing::TestEntry;

const std::string kMessage =
    "From: sender@example.org\n"
    "To: erin@example.com\n"
    "Subject: private\n"
    "Message-ID: <secret@example.org>\n"
    "\n"
    "The content only erin may read.\n";

// erin has a quota (auxiliary class mdaRecipient) and a password to read
// her mail with. alice gets attributes the lookup does not need: a
// password, a phone number, a description. cn=backup is another service
// account.
const std::vector<std::string> kPeople = {
    "dn: uid=erin,ou=people,dc=example,dc=com\n"
    "objectClass: inetOrgPerson\nobjectClass: mdaRecipient\n"
    "uid: erin\ncn: erin\nsn: erin\nmail: erin@example.com\n"
    "userPassword: erinpass\nmdaQuota: 1000000\n",
    "dn: uid=alice,ou=people,dc=example,dc=com\n"
    "changetype: modify\n"
    "replace: userPassword\nuserPassword: alicepass\n-\n"
    "add: telephoneNumber\ntelephoneNumber: +1 555 0100\n-\n"
    "add: description\ndescription: private note\n-\n",
    "dn: cn=backup,ou=services,dc=example,dc=com\n"
    "objectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
    "cn: backup\nuserPassword: backuppass\n"};

// The message ACL that the issue asks for ("the delivery identity can
// only search recipients and add under mailboxes"): rule 3 of the shipped
// file lets ldapmda read every stored message, because OpenLDAP's "add"
// level includes "read". This keeps what ldapmda reads of a message (that
// it exists, and its size for --recount) and leaves the rest add-only.
const std::string kShippedMessageRule =
    "access to dn.regex=\"^mdakey=[^,]+,mdafolder=.+,cn=mailbox,(.+,ou=people,"
    "dc=example,dc=com)$\"\n"
    "\t\tfilter=(objectClass=mdaMessage)\n"
    "\tby dn.exact=\"cn=ldapmda,ou=services,dc=example,dc=com\" add\n";
const std::string kNarrowMessageRules =
    "access to dn.regex=\"^mdakey=[^,]+,mdafolder=.+,cn=mailbox,(.+,ou=people,"
    "dc=example,dc=com)$\"\n"
    "\t\tfilter=(objectClass=mdaMessage) attrs=entry,objectClass,mdaSize\n"
    "\tby dn.exact=\"cn=ldapmda,ou=services,dc=example,dc=com\" add\n"
    "\tby dn.exact,expand=\"$1\" read\n"
    "\tby * none\n"
    "access to dn.regex=\"^mdakey=[^,]+,mdafolder=.+,cn=mailbox,(.+,ou=people,"
    "dc=example,dc=com)$\"\n"
    "\t\tfilter=(objectClass=mdaMessage)\n"
    "\tby dn.exact=\"cn=ldapmda,ou=services,dc=example,dc=com\" =a\n";

// What `client` finds; a base it may not see counts as nothing found.
std::vector<TestEntry> Visible(LdapClient& client, const std::string& base,
                               const std::string& filter) {
  try {
    return client.Search(base, LDAP_SCOPE_SUBTREE, filter);
  } catch (const testing::LdapError& e) {
    if (e.code() != LDAP_NO_SUCH_OBJECT) throw;
    return {};
  }
}

SlapdOptions ShippedDirectory() {
  SlapdOptions options;
  options.mode = SlapdMode::kShipped;
  options.extra_ldif = kPeople;
  return options;
}

// The shipped file with the narrower message ACL, unless the shipped file
// already has it.
SlapdOptions NarrowDirectory() {
  SlapdOptions options = ShippedDirectory();
  const std::string shipped =
      testing::ReadFile(LDAPMDA_SOURCE_DIR "/conf/slapd.conf");
  if (shipped.find(kNarrowMessageRules) == std::string::npos) {
    options.shipped_edits = {{kShippedMessageRule, kNarrowMessageRules}};
  }
  return options;
}

class PrivilegeTest : public testing::MdaTest {
 protected:
  // ldapmda with `args` (e.g. --check ADDRESS), as the pipe user.
  ProcessResult Run(const std::string& conf,
                    const std::vector<std::string>& args) {
    std::vector<std::string> argv = {LDAPMDA_BINARY, "-c", conf};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, "", std::chrono::seconds(120), {}, RunAsFor(conf));
  }

  // Delivery, the retry of a delivery, a retry that policy would now
  // refuse, --check and --recount: everything ldapmda does with the
  // directory, under the ACLs of `server`.
  void ExpectEverythingLdapmdaDoesWorks(const SlapdServer& server) {
    const std::string conf = Config(server, "quota_attribute = mdaQuota\n");
    const std::string box = Mailbox(server, "erin");
    ProcessResult r = Deliver(conf, "erin@example.com", kMessage);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const std::string dn = testing::StoredDn(r.out);
    auto mailbox = server.Admin().Read(box);
    ASSERT_TRUE(mailbox);
    EXPECT_EQ(mailbox->First("mdaMailboxSize"),
              std::to_string(kMessage.size()));
    EXPECT_EQ(mailbox->First("mdaMessageCount"), "1");

    r = Deliver(conf, "erin@example.com", kMessage);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(r.out, "already stored as " + dn + "\n");
    // Now over quota: the retry still finds its stored message.
    ASSERT_EQ(server.Admin().Modify(server.UserDn("erin"),
                                    {{LDAP_MOD_REPLACE, "mdaQuota", {"1"}}}),
              LDAP_SUCCESS);
    r = Deliver(conf, "erin@example.com", kMessage);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(r.out, "already stored as " + dn + "\n");
    ASSERT_EQ(
        server.Admin().Modify(server.UserDn("erin"),
                              {{LDAP_MOD_REPLACE, "mdaQuota", {"100000000"}}}),
        LDAP_SUCCESS);

    // --check adds and deletes its probe (and one of max_message_size).
    r = Run(conf, {"--check", "erin@example.com"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("all checks passed"), std::string::npos) << r.out;
    EXPECT_EQ(Stored(server).size(), 1u);

    // --recount reads the sizes and rewrites the counters.
    ASSERT_EQ(server.Admin().Modify(
                  box, {{LDAP_MOD_REPLACE, "mdaMailboxSize", {"999"}},
                        {LDAP_MOD_REPLACE, "mdaMessageCount", {"7"}}}),
              LDAP_SUCCESS);
    r = Run(conf, {"--recount", "erin@example.com"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    mailbox = server.Admin().Read(box);
    ASSERT_TRUE(mailbox);
    EXPECT_EQ(mailbox->First("mdaMailboxSize"),
              std::to_string(kMessage.size()));
    EXPECT_EQ(mailbox->First("mdaMessageCount"), "1");
  }
};

TEST_F(PrivilegeTest, ShippedAclsLetLdapmdaDeliverCheckAndRecount) {
  SlapdServer server(ShippedDirectory());
  ExpectEverythingLdapmdaDoesWorks(server);
}

TEST_F(PrivilegeTest, DeliveryIdentityChangesNothingButMailboxes) {
  SlapdServer server(ShippedDirectory());
  const ProcessResult r = Deliver(Config(server), "erin@example.com", kMessage);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string message = testing::StoredDn(r.out);
  const std::string alice = server.UserDn("alice");
  const std::string box = Mailbox(server, "erin");
  LdapClient mda = server.Service();

  struct Denied {
    const char* what;
    int rc;
  };
  const AttrMap person = {{"objectClass", {"inetOrgPerson"}},
                          {"uid", {"mallory"}},
                          {"cn", {"m"}},
                          {"sn", {"m"}},
                          {"mail", {"alice@example.com"}}};
  const Denied cases[] = {
      {"replace a person's mail",
       mda.Modify(alice, {{LDAP_MOD_REPLACE, "mail", {"x@example.org"}}})},
      {"add a description to a person",
       mda.Modify(alice, {{LDAP_MOD_ADD, "description", {"owned"}}})},
      {"change a person's password",
       mda.Modify(alice, {{LDAP_MOD_REPLACE, "userPassword", {"x"}}})},
      {"delete a person", mda.Delete(alice)},
      {"add a person", mda.Add("uid=mallory," + server.people_dn(), person)},
      {"add a non-mailbox below a person",
       mda.Add("cn=notes," + alice,
               {{"objectClass", {"organizationalRole"}}, {"cn", {"notes"}}})},
      {"add a cn=mailbox that is no mdaMailbox",
       mda.Add("cn=mailbox," + alice,
               {{"objectClass", {"organizationalRole"}}, {"cn", {"mailbox"}}})},
      {"add a service account",
       mda.Add("cn=evil,ou=services," + server.suffix(),
               {{"objectClass", {"organizationalRole"}}, {"cn", {"evil"}}})},
      {"delete a stored message", mda.Delete(message)},
      {"change a stored message",
       mda.Modify(message, {{LDAP_MOD_REPLACE, "mdaFolder", {"Trash"}}})},
      {"delete a mailbox", mda.Delete(box)},
  };
  for (const Denied& c : cases) {
    EXPECT_EQ(c.rc, LDAP_INSUFFICIENT_ACCESS) << c.what;
  }
  const auto entry = server.Admin().Read(alice);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->First("mail"), "alice@example.com");
  EXPECT_EQ(entry->First("userPassword"), "alicepass");
  EXPECT_EQ(entry->Values("description"),
            std::vector<std::string>{"private note"});
  EXPECT_EQ(Stored(server).size(), 1u);
  EXPECT_TRUE(server.Admin().Read(box));
  EXPECT_FALSE(server.Admin().Read("uid=mallory," + server.people_dn()));
}

TEST_F(PrivilegeTest, DeliveryIdentityReadsOnlyWhatTheLookupNeeds) {
  SlapdServer server(ShippedDirectory());
  LdapClient mda = server.Service();
  const auto alice = mda.Read(server.UserDn("alice"), {"*", "+"});
  ASSERT_TRUE(alice);
  for (const auto& [attr, values] : alice->attrs) {
    EXPECT_TRUE(attr == "objectClass" || attr == "mail" || attr == "uid")
        << "the delivery identity reads " << attr;
  }
  EXPECT_EQ(alice->First("mail"), "alice@example.com");
  // Nor can it find entries by what it may not read.
  for (const char* filter : {"(telephoneNumber=*)", "(description=private*)",
                             "(userPassword=*)", "(cn=alice)"}) {
    EXPECT_TRUE(Visible(mda, server.people_dn(), filter).empty()) << filter;
  }
  // Nothing outside ou=people: not the base entry, not ou=services, no
  // other service account.
  for (const std::string& dn :
       {server.suffix(), "ou=services," + server.suffix(),
        "cn=backup,ou=services," + server.suffix()}) {
    EXPECT_TRUE(Visible(mda, dn, "(objectClass=*)").empty()) << dn;
  }
}

TEST_F(PrivilegeTest, ShippedMessageAclLetsLdapmdaReadMessages) {
  // What the shipped rule 2 gives today: "add" includes "read", so the
  // delivery identity can read any stored message. This documents it;
  // NarrowerMessageAcl... below is the proposed fix.
  SlapdServer server(ShippedDirectory());
  const ProcessResult r = Deliver(Config(server), "erin@example.com", kMessage);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto seen = server.Service().Read(testing::StoredDn(r.out));
  ASSERT_TRUE(seen);
  const bool narrow = testing::ReadFile(LDAPMDA_SOURCE_DIR "/conf/slapd.conf")
                          .find(kNarrowMessageRules) != std::string::npos;
  EXPECT_EQ(seen->Has("mdaRawMessage"), !narrow);
}

TEST_F(PrivilegeTest, NarrowerMessageAclKeepsEverythingWorking) {
  SlapdServer server(NarrowDirectory());
  ExpectEverythingLdapmdaDoesWorks(server);
  // The delivery identity sees that a message exists and its size, no
  // content, no headers, no envelope.
  const std::vector<TestEntry> stored = Stored(server);
  ASSERT_EQ(stored.size(), 1u);
  const auto seen = server.Service().Read(stored.front().dn, {"*", "+"});
  ASSERT_TRUE(seen);
  for (const auto& [attr, values] : seen->attrs) {
    EXPECT_TRUE(attr == "objectClass" || attr == "mdaSize")
        << "the delivery identity reads " << attr;
  }
  EXPECT_TRUE(server.Service()
                  .Search(Mailbox(server, "erin"), LDAP_SCOPE_SUBTREE,
                          "(mdaSubject=private)")
                  .empty());
  // The owner still reads her mail.
  const auto own = LdapClient(server.uri(), server.UserDn("erin"), "erinpass")
                       .Read(stored.front().dn);
  ASSERT_TRUE(own);
  EXPECT_EQ(own->First("mdaRawMessage"), kMessage);
}

TEST_F(PrivilegeTest, LdapmdaRunsAsThePipeUserNotAsRoot) {
  const std::optional<testing::RunAs> user = testing::PipeUser();
  if (!user) GTEST_SKIP() << "not root: the tests run ldapmda as themselves";
  SlapdServer server(ShippedDirectory());
  const std::string conf = Config(server);
  // The same password file, now root's alone: root could read it, the
  // pipe user cannot.
  ASSERT_EQ(chown(dir_.File("bind.pw").c_str(), 0, 0), 0);
  ProcessResult r = Deliver(conf, "erin@example.com", kMessage);
  EXPECT_EQ(r.exit_code, 75) << r.out;
  EXPECT_EQ(r.out, "4.3.5 <erin@example.com>: configuration: bind_pw_file " +
                       dir_.File("bind.pw") +
                       ": cannot open: Permission denied\n");
  // Given back to the pipe user (mode 0600): delivered.
  testing::GiveTo(dir_.File("bind.pw"), user);
  r = Deliver(conf, "erin@example.com", kMessage);
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

}  // namespace
}  // namespace ldapmda
