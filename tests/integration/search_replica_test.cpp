// The search replica: the shipped topology, started exactly from conf/
// (the two providers of slapd-multiprovider.conf and .ldif, the replica of
// slapd-replica.conf and .ldif; only paths, URLs and passwords differ).
// The providers carry only the indexes delivery, the Dovecot driver and
// replication need; the replica carries the search indexes, follows both
// providers, refuses writes, and answers the README's searches, through
// ldapmbox with search_host = the replica and as plain LDAP filters.
#include <gtest/gtest.h>
#include <ldap.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "ldapmda/message.h"
#include "support/ldap_client.h"
#include "support/process.h"
#include "support/slapd_server.h"

namespace ldapmda {
namespace {

namespace fs = std::filesystem;
using testing::LdapClient;
using testing::ProcessResult;
using testing::RunProcess;
using testing::SlapdOptions;
using testing::SlapdServer;
using testing::TempDir;
using testing::WriteFile;
using Dns = std::set<std::string>;

constexpr std::chrono::seconds kWait(30);
// Refuses connections at once: a client that used it would fail.
constexpr char kNowhere[] = "ldap://127.0.0.1:1";

// The searches of the indexes the providers left to the replica.
const char* const kSearchIndexes[] = {
    "mdaMessageId",   "mdaSubject",     "mdaFrom",         "mdaDate",
    "mdaDeliveredAt", "mdaFolder",      "mdaReportType",   "mdaDsnRecipient",
    "mdaDsnResult",   "mdaArfSourceIp", "mdaVerpRecipient"};

std::string Fixture(const std::string& name) {
  return testing::ReadFile(LDAPMDA_SOURCE_DIR "/tests/data/reports/" + name);
}

std::string Plain(const std::string& tag, const std::string& subject) {
  return "From: Sender <sender@example.org>\nTo: alice@example.com\n"
         "Subject: " +
         subject + "\nDate: Tue, 01 Dec 2026 10:52:37 +0000\nMessage-ID: <" +
         tag + "@example.org>\n\nHello.\n";
}

// "attribute types" of each index directive of a running server's
// configuration: slapd.conf, or the database entry of slapd.d/.
std::map<std::string, std::string> Indexes(const SlapdServer& s) {
  std::string text;
  std::regex line;
  if (fs::exists(s.dir() + "/slapd.conf")) {
    text = testing::ReadFile(s.dir() + "/slapd.conf");
    line = std::regex(R"(^index\s+(\S+)\s+(\S+)\s*$)", std::regex::multiline);
  } else {
    text = testing::ReadFile(s.dir() +
                             "/slapd.d/cn=config/olcDatabase={1}mdb.ldif");
    line = std::regex(R"(^olcDbIndex: (\S+) (\S+)\s*$)", std::regex::multiline);
  }
  std::map<std::string, std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), line);
       it != std::sregex_iterator(); ++it) {
    std::string attrs = (*it)[1];
    std::replace(attrs.begin(), attrs.end(), ',', ' ');
    std::istringstream names(attrs);
    for (std::string name; names >> name;) out[name] = (*it)[2];
  }
  return out;
}

class SearchReplicaTest : public ::testing::Test {
 protected:
  // Nodes 1 and 2 of the shipped pair (node 2 from the cn=config form
  // when asked) and the shipped replica consuming from both (from its
  // cn=config form when asked), all in sync with node 1's sample data.
  void Start(bool node2_cn_config, bool replica_cn_config) {
    SlapdOptions node1;
    SlapdOptions node2;
    node2.load_sample_data = false;
    node2.cn_config = node2_cn_config;
    pair_ = testing::StartProviderPair(node1, node2);
    SlapdOptions replica;
    replica.cn_config = replica_cn_config;
    replica_ = testing::StartSearchReplica(pair_, replica);
    for (const SlapdServer* s : {pair_.node2.get(), replica_.get()}) {
      ASSERT_TRUE(s->WaitForEntry(s->replicator_dn(), kWait))
          << s->uri() << " did not replicate the sample data\n"
          << s->log();
    }
  }

  // An ldapmda.conf for `identity` ("ldapmda" or "dovecot").
  std::string Config(const std::string& identity,
                     const std::string& server_host,
                     const std::string& extra = "") {
    const SlapdServer& s = *pair_.node1;
    const bool dovecot = identity == "dovecot";
    const std::string pw = dir_.File(identity + ".pw");
    WriteFile(pw,
              (dovecot ? s.dovecot_password() : s.service_password()) + "\n",
              0600);
    const std::string path =
        dir_.File("ldapmda-" + std::to_string(++configs_) + ".conf");
    WriteFile(path, "server_host = " + server_host + "\nsearch_base = " +
                        s.people_dn() + "\nbind = simple\nbind_dn = " +
                        (dovecot ? s.dovecot_dn() : s.service_dn()) +
                        "\nbind_pw_file = " + pw +
                        "\ntimeout = 5\nlog = stderr\n"
                        "recipient_delimiter = +\nverp_delimiters = +=\n" +
                        extra);
    return path;
  }

  // Delivers through `conf`; the stored DN.
  static std::string Deliver(const std::string& conf, const std::string& rcpt,
                             const std::string& message) {
    const ProcessResult r =
        RunProcess({LDAPMDA_BINARY, "-c", conf, "-f", "sender@example.org",
                    "-a", rcpt, "-q", "4QSEARCH1", "-d", rcpt},
                   message, std::chrono::seconds(60));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    const std::string prefix = "stored as ";
    if (r.exit_code != 0 || !r.out.starts_with(prefix)) return "";
    return r.out.substr(prefix.size(), r.out.find('\n') - prefix.size());
  }

  ProcessResult Ldapmbox(const std::string& conf,
                         std::vector<std::string> args) {
    args.insert(args.begin(), {LDAPMDA_LDAPMBOX_BINARY, "-c", conf});
    return RunProcess(args, "", std::chrono::seconds(60));
  }

  // The DNs `filter` finds below ou=people on the replica (as its rootdn).
  Dns Find(const std::string& filter, const std::string& base = "") {
    Dns dns;
    LdapClient admin = replica_->Admin();
    for (const auto& e :
         admin.Search(base.empty() ? replica_->people_dn() : base,
                      LDAP_SCOPE_SUBTREE, filter, {"1.1"})) {
      dns.insert(e.dn);
    }
    return dns;
  }

  testing::ProviderPair pair_;
  std::unique_ptr<SlapdServer> replica_;
  TempDir dir_;
  int configs_ = 0;
};

TEST_F(SearchReplicaTest, ProvidersKeepOnlyTheIndexesDeliveryNeeds) {
  ASSERT_NO_FATAL_FAILURE(Start(/*node2_cn_config=*/true,
                                /*replica_cn_config=*/false));
  // What delivery (mail, uid: the lookup; mdaKey), the Dovecot driver
  // (objectClass, mdaKey, mdaUid, entryCSN) and syncrepl (entryCSN,
  // entryUUID) search for, equality only; nothing else.
  const std::map<std::string, std::string> lean = {
      {"objectClass", "eq"}, {"mail", "eq"},   {"uid", "eq"},
      {"mdaKey", "eq"},      {"mdaUid", "eq"}, {"entryCSN", "eq"},
      {"entryUUID", "eq"}};
  EXPECT_EQ(Indexes(*pair_.node1), lean) << "conf/slapd-multiprovider.conf";
  EXPECT_EQ(Indexes(*pair_.node2), lean) << "conf/slapd-multiprovider.ldif";
  // The replica has those and the search indexes, substrings included.
  const auto replica = Indexes(*replica_);
  for (const auto& [attr, kind] : lean) {
    EXPECT_EQ(replica.count(attr), 1u) << attr;
  }
  for (const char* attr : kSearchIndexes) {
    EXPECT_EQ(replica.count(attr), 1u) << attr;
  }
  for (const char* attr : {"mdaSubject", "mdaFrom", "mdaMessageId",
                           "mdaDsnRecipient", "mdaDsnResult"}) {
    EXPECT_NE(replica.at(attr).find("sub"), std::string::npos) << attr;
  }
}

// README, "Finding mail in the directory", "Bounces and complaints" and
// "Reading mail back": each search answered by the replica.
TEST_F(SearchReplicaTest, ReadmeSearchesRunOnTheReplica) {
  ASSERT_NO_FATAL_FAILURE(Start(/*node2_cn_config=*/false,
                                /*replica_cn_config=*/false));
  const SlapdServer& p = *pair_.node1;
  // Deliveries go to the providers only.
  const std::string deliver =
      Config("ldapmda", p.uri() + " " + pair_.node2->uri());
  const std::string invoice =
      Deliver(deliver, "alice@example.com", Plain("inv-17", "Your invoice 17"));
  const std::string lunch =
      Deliver(deliver, "alice@example.com", Plain("lunch", "Lunch?"));
  const std::string bounce =
      Deliver(deliver, "bob@example.com", Fixture("dsn_two_recipients.eml"));
  const std::string complaint =
      Deliver(deliver, "carol@example.com", Fixture("arf_abuse.eml"));
  const std::string verp = Deliver(deliver, "alice+dan=example.net@example.com",
                                   Fixture("dsn_two_recipients.eml"));
  for (const std::string& dn : {invoice, lunch, bounce, complaint, verp}) {
    ASSERT_FALSE(dn.empty());
    ASSERT_TRUE(replica_->WaitForEntry(dn, kWait, {"1.1"}))
        << dn << " not on the replica\n"
        << replica_->log();
  }

  // ldapmbox reads only from search_host: server_host refuses connections.
  const std::string search =
      Config("dovecot", kNowhere, "search_host = " + replica_->uri() + "\n");
  ProcessResult r =
      Ldapmbox(search, {"list", "alice@example.com", "--subject", "invoice",
                        "--sort", "date", "--reverse"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Your invoice 17"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Lunch?"), std::string::npos) << r.out;
  r = Ldapmbox(
      search, {"list", "alice@example.com", "--since", "2026-11-01", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Lunch?"), std::string::npos) << r.out;
  r = Ldapmbox(search, {"bounces", "bob@example.com", "--csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(",failed,5.1.1,dan@example.net,"), std::string::npos)
      << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3) << r.out;
  r = Ldapmbox(search, {"complaints", "carol@example.com", "--csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(",abuse,"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
  r = Ldapmbox(search, {"totals", "alice@example.com"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Without search_host it would have used server_host: nothing answers.
  r = Ldapmbox(Config("dovecot", kNowhere),
               {"list", "alice@example.com", "--subject", "invoice"});
  EXPECT_EQ(r.exit_code, 75) << r.out << r.err;

  // The README's ldapsearch filters, on the replica.
  EXPECT_EQ(Find("(&(objectClass=mdaMessage)(mdaSubject=*invoice*))",
                 "cn=mailbox," + p.UserDn("alice")),
            Dns{invoice});
  EXPECT_EQ(Find("(&(mdaSize>=1)(mdaDeliveredAt>=20261101000000Z))").size(),
            5u);
  EXPECT_EQ(Find("(&(objectClass=mdaReport)(mdaDsnResult=failed;5.*)"
                 "(mdaDeliveredAt>=20261130000000Z))",
                 "cn=mailbox," + p.UserDn("bob")),
            Dns{bounce});
  EXPECT_EQ(Find("(mdaDsnResult=failed;5.*;dan@example.net)"),
            (Dns{bounce, verp}));
  EXPECT_EQ(Find("(&(mdaDsnRecipient=erin@example.org)(mdaDsnAction=delayed))"),
            (Dns{bounce, verp}));
  EXPECT_EQ(Find("(mdaReportedMessageId=minutes.7@example.com)"),
            (Dns{bounce, verp}));
  EXPECT_EQ(Find("(&(mdaArfFeedbackType=abuse)(mdaArfSourceIp=*))"),
            Dns{complaint});
  EXPECT_EQ(Find("(mdaVerpRecipient=dan@example.net)"), Dns{verp});

  // ldapmbox's writes still go to server_host (the providers): the
  // replica would answer them with a referral.
  const std::string mbox = dir_.File("in.mbox");
  WriteFile(mbox,
            "From sender@example.org Tue Dec  1 10:52:37 2026\n" +
                Plain("imported", "Imported") + "\n",
            0600);
  r = Ldapmbox(
      Config("dovecot", p.uri(), "search_host = " + replica_->uri() + "\n"),
      {"import", "bob@example.com", "--mbox", mbox});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("imported 1"), std::string::npos) << r.out;
}

// The cn=config replica follows node 2 while node 1 is down, and refuses
// writes with a referral to the providers.
TEST_F(SearchReplicaTest, CnConfigReplicaFollowsEitherProviderAndIsReadOnly) {
  ASSERT_NO_FATAL_FAILURE(Start(/*node2_cn_config=*/false,
                                /*replica_cn_config=*/true));
  EXPECT_TRUE(fs::is_directory(replica_->dir() + "/slapd.d/cn=config"));
  pair_.node1->Stop();
  const std::string dn =
      Deliver(Config("ldapmda", pair_.node2->uri()), "alice@example.com",
              Plain("while-node1-down", "Node 1 is down"));
  ASSERT_FALSE(dn.empty());
  ASSERT_TRUE(replica_->WaitForEntry(dn, kWait, {"1.1"})) << replica_->log();

  LdapClient admin = replica_->Admin();
  EXPECT_EQ(admin.Delete(dn), LDAP_REFERRAL) << admin.last_message();
  // ldapmda told to store on the replica first fails over to a provider.
  const std::string dn2 = Deliver(
      Config("ldapmda", replica_->uri() + " " + pair_.node2->uri()),
      "alice@example.com", Plain("past-the-replica", "Past the replica"));
  ASSERT_FALSE(dn2.empty());
  EXPECT_TRUE(pair_.node2->WaitForEntry(dn2, kWait, {"1.1"}));
}

}  // namespace
}  // namespace ldapmda
