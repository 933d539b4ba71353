// Reports through the real binary into a real slapd: a DSN, an ARF
// complaint, a VERP bounce, provider bounces and a corpus bounce become
// mdaReport attributes (with a reason per recipient, mdaDsnReason), found
// with the searches README shows; ldapmbox lists them as a table, CSV and
// JSON, and the addresses to suppress; a directory with the schema of
// before mdaReport or mdaDsnReason still gets every message.
#include <gtest/gtest.h>
#include <ldap.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "support/mda_fixture.h"

namespace ldapmda {
namespace {

using testing::ProcessResult;
using testing::RunProcess;
using testing::SlapdOptions;
using testing::SlapdServer;
using testing::TestEntry;
using Values = std::vector<std::string>;

std::string ReadFixture(const std::string& name) {
  return testing::ReadFile(LDAPMDA_SOURCE_DIR "/tests/data/reports/" + name);
}

// A DSN with two recipients (failed, delayed), as a Postfix would send it
// to bob; tests/sisimai_test.cpp compares it with Sisimai too.
std::string Dsn() { return ReadFixture("dsn_two_recipients.eml"); }

class ReportIntegrationTest : public testing::MdaTest {
 protected:
  explicit ReportIntegrationTest(SlapdOptions options = {})
      : server_(std::move(options)) {
    conf_ = Config(server_, "recipient_delimiter = +\nverp_delimiters = +=\n");
  }

  // Delivers `raw` to `rcpt`; the stored entry.
  TestEntry DeliverOne(const std::string& rcpt, const std::string& raw) {
    const ProcessResult r = Deliver(conf_, rcpt, raw);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    const std::string dn = testing::StoredDn(r.out);
    EXPECT_FALSE(dn.empty()) << r.out;
    const auto entry = server_.Admin().Read(dn);
    EXPECT_TRUE(entry.has_value()) << dn;
    return entry.value_or(TestEntry{});
  }

  // The DNs the filter finds below ou=people, sorted.
  std::set<std::string> Find(const std::string& filter) {
    std::set<std::string> dns;
    for (const auto& e : server_.Admin().Search(
             server_.people_dn(), LDAP_SCOPE_SUBTREE, filter, {"1.1"})) {
      dns.insert(e.dn);
    }
    return dns;
  }

  ProcessResult Ldapmbox(std::vector<std::string> args) {
    args.insert(args.begin(), {LDAPMDA_LDAPMBOX_BINARY, "-c", conf_});
    return RunProcess(args, "", std::chrono::seconds(60));
  }

  static Values Sorted(Values v) {
    std::sort(v.begin(), v.end());
    return v;
  }

  SlapdServer server_;
  std::string conf_;
};

TEST_F(ReportIntegrationTest, DeliveryStatusIsSearchable) {
  const TestEntry e = DeliverOne("bob@example.com", Dsn());
  EXPECT_EQ(e.First("mdaRawMessage"), Dsn());  // byte-exact as always
  EXPECT_EQ(Sorted(e.Values("objectClass")),
            (Values{"mdaMessage", "mdaReport"}));
  EXPECT_EQ(e.First("mdaReportType"), "delivery-status");
  EXPECT_EQ(e.First("mdaReportFormat"), "rfc3464");
  EXPECT_EQ(e.First("mdaDsnReportingMta"), "mx1.example.com");
  EXPECT_EQ(e.First("mdaDsnEnvelopeId"), "env-0001");
  EXPECT_EQ(e.First("mdaReportedMessageId"), "minutes.7@example.com");
  EXPECT_EQ(e.First("mdaAutoSubmitted"), "auto-replied");
  EXPECT_EQ(Sorted(e.Values("mdaDsnRecipient")),
            (Values{"dan@example.net", "erin@example.org"}));
  EXPECT_EQ(Sorted(e.Values("mdaDsnAction")), (Values{"delayed", "failed"}));
  EXPECT_EQ(Sorted(e.Values("mdaDsnStatus")), (Values{"4.4.1", "5.1.1"}));
  EXPECT_EQ(Sorted(e.Values("mdaDsnResult")),
            (Values{"delayed;4.4.1;erin@example.org",
                    "failed;5.1.1;dan@example.net"}));
  EXPECT_EQ(Sorted(e.Values("mdaDsnReason")),
            (Values{"expired;soft;erin@example.org",
                    "userunknown;hard;dan@example.net"}));
  EXPECT_EQ(e.Values("mdaDsnRemoteMta"), Values{"mx.example.net"});
  EXPECT_EQ(Sorted(e.Values("mdaDsnDiagnostic")),
            (Values{"550 5.1.1 <dan@example.net>: User unknown",
                    "connect to mx.example.org: timed out"}));

  // The searches README shows.
  const std::set<std::string> one = {e.dn};
  EXPECT_EQ(Find("(&(objectClass=mdaReport)(mdaDsnResult=failed;5.*))"), one);
  EXPECT_EQ(Find("(mdaDsnResult=failed;5.*;dan@example.net)"), one);
  EXPECT_EQ(Find("(mdaDsnResult=failed;5.*;erin@example.org)"),
            std::set<std::string>{});
  EXPECT_EQ(Find("(&(mdaDsnRecipient=erin@example.org)(mdaDsnAction=delayed))"),
            one);
  EXPECT_EQ(Find("(&(objectClass=mdaReport)(mdaDsnResult=failed;5.*)"
                 "(mdaDeliveredAt>=20200101000000Z))"),
            one);
  EXPECT_EQ(Find("(&(mdaReportType=delivery-status)"
                 "(mdaDeliveredAt>=99990101000000Z))"),
            std::set<std::string>{});
  EXPECT_EQ(Find("(mdaReportedMessageId=minutes.7@example.com)"), one);
  // Reasons: by reason, by bounce type, for one address.
  EXPECT_EQ(Find("(mdaDsnReason=userunknown;*)"), one);
  EXPECT_EQ(Find("(mdaDsnReason=*;hard;dan@example.net)"), one);
  EXPECT_EQ(Find("(mdaDsnReason=*;hard;erin@example.org)"),
            std::set<std::string>{});
  EXPECT_EQ(Find("(&(objectClass=mdaReport)(mdaDsnReason=mailboxfull;*))"),
            std::set<std::string>{});

  // ldapmbox: one row per recipient, as a table, CSV and JSON.
  ProcessResult table = Ldapmbox({"bounces", "bob@example.com"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  std::istringstream lines(table.out);
  std::string header, row1, row2, extra;
  std::getline(lines, header);
  std::getline(lines, row1);
  std::getline(lines, row2);
  EXPECT_FALSE(std::getline(lines, extra)) << table.out;
  EXPECT_TRUE(header.starts_with("delivered")) << header;
  const std::string both = row1 + "\n" + row2;
  EXPECT_NE(both.find("failed"), std::string::npos) << table.out;
  EXPECT_NE(both.find("dan@example.net"), std::string::npos) << table.out;
  EXPECT_NE(both.find("4.4.1"), std::string::npos) << table.out;

  ProcessResult csv = Ldapmbox({"bounces", "bob@example.com", "--csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_TRUE(csv.out.starts_with("delivered,action,status,recipient,"))
      << csv.out;
  // Each recipient with its own diagnostic, read again from the message.
  EXPECT_NE(csv.out.find(",failed,5.1.1,dan@example.net,550 5.1.1 "
                         "<dan@example.net>: User unknown,mx1.example.com,"),
            std::string::npos)
      << csv.out;
  EXPECT_NE(csv.out.find(",delayed,4.4.1,erin@example.org,connect to "
                         "mx.example.org: timed out,"),
            std::string::npos)
      << csv.out;
  EXPECT_EQ(std::count(csv.out.begin(), csv.out.end(), '\n'), 3);
  // The reason and bounce type come last.
  EXPECT_NE(csv.out.find(",key,reason,type\r\n"), std::string::npos) << csv.out;
  EXPECT_NE(csv.out.find(",userunknown,hard\r\n"), std::string::npos)
      << csv.out;
  EXPECT_NE(csv.out.find(",expired,soft\r\n"), std::string::npos) << csv.out;

  ProcessResult json = Ldapmbox({"bounces", "bob@example.com", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_NE(json.out.find("\"recipient\": \"erin@example.org\""),
            std::string::npos)
      << json.out;
  EXPECT_NE(json.out.find("\"messageId\": \"minutes.7@example.com\""),
            std::string::npos)
      << json.out;
  EXPECT_NE(json.out.find("\"reason\": \"userunknown\", \"type\": \"hard\""),
            std::string::npos)
      << json.out;

  // --since bounds by delivery time; nothing delivered tomorrow.
  ProcessResult later =
      Ldapmbox({"bounces", "bob@example.com", "--since", "9999-01-01"});
  ASSERT_EQ(later.exit_code, 0) << later.err;
  EXPECT_EQ(std::count(later.out.begin(), later.out.end(), '\n'), 1)
      << later.out;
  // No complaints in bob's mailbox: only the header line.
  ProcessResult none = Ldapmbox({"complaints", "bob@example.com", "--csv"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(std::count(none.out.begin(), none.out.end(), '\n'), 1);
}

// Two recipients that differ only in the case of a non-ASCII letter are
// one value to slapd's caseIgnoreMatch: an add with both would be refused
// (typeOrValueExists), and the message must be stored all the same.
TEST_F(ReportIntegrationTest, ValuesEqualOnlyToTheServerStillStore) {
  std::string raw = Dsn();
  const std::string block = "Final-Recipient: rfc822; erin@example.org\n";
  const std::size_t at = raw.find(block);
  ASSERT_NE(at, std::string::npos);
  raw.insert(at,
             "Final-Recipient: rfc822; J\xc3\x96RG@example.net\n"
             "Action: failed\nStatus: 5.1.1\n\n"
             "Final-Recipient: rfc822; j\xc3\xb6rg@example.net\n"
             "Action: failed\nStatus: 5.1.1\n\n");
  const TestEntry e = DeliverOne("bob@example.com", raw);
  EXPECT_EQ(e.First("mdaRawMessage"), raw);
  EXPECT_EQ(e.First("mdaReportType"), "delivery-status");
  EXPECT_EQ(e.Values("mdaDsnRecipient").size(), 3u);
}

TEST_F(ReportIntegrationTest, ComplaintIsSearchable) {
  const TestEntry e =
      DeliverOne("carol@example.com", ReadFixture("arf_abuse.eml"));
  EXPECT_EQ(e.First("mdaReportType"), "feedback-report");
  EXPECT_EQ(e.First("mdaReportFormat"), "arf");
  EXPECT_EQ(e.First("mdaArfFeedbackType"), "abuse");
  EXPECT_FALSE(e.First("mdaArfSourceIp").empty());
  EXPECT_FALSE(e.Values("mdaArfOriginalRcptTo").empty());
  EXPECT_EQ(e.First("mdaArfArrivalDate").size(), 15u)
      << e.First("mdaArfArrivalDate");
  EXPECT_EQ(Find("(&(mdaReportType=feedback-report)(mdaArfFeedbackType=abuse)"
                 "(mdaArfSourceIp=" +
                 e.First("mdaArfSourceIp") + "))"),
            std::set<std::string>{e.dn});

  ProcessResult csv = Ldapmbox({"complaints", "carol@example.com", "--csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_TRUE(csv.out.starts_with("delivered,type,recipients,sourceIp,"))
      << csv.out;
  EXPECT_NE(csv.out.find(",abuse,"), std::string::npos) << csv.out;
  EXPECT_NE(csv.out.find(e.First("mdaArfSourceIp")), std::string::npos);
  EXPECT_EQ(std::count(csv.out.begin(), csv.out.end(), '\n'), 2);
}

TEST_F(ReportIntegrationTest, VerpBounceNamesTheOriginalRecipient) {
  const TestEntry e = DeliverOne("alice+dan=example.net@example.com", Dsn());
  EXPECT_EQ(e.First("mdaVerpRecipient"), "dan@example.net");
  EXPECT_EQ(e.First("mdaFolder"), "INBOX");
  EXPECT_EQ(e.dn.find("uid=alice,"), e.dn.find("cn=mailbox,") + 11) << e.dn;
  EXPECT_EQ(Find("(mdaVerpRecipient=dan@example.net)"),
            std::set<std::string>{e.dn});

  // Postfix's -e ${extension} is decoded the same way.
  const std::string other = Dsn() + "\n";
  const ProcessResult r = Deliver(conf_, "alice+erin=example.org@example.com",
                                  other, {"-e", "erin=example.org"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto stored = server_.Admin().Read(testing::StoredDn(r.out));
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->First("mdaVerpRecipient"), "erin@example.org");

  // An ordinary extension is still a folder.
  const TestEntry lists =
      DeliverOne("alice+lists@example.com", "Subject: x\n\nx\n");
  EXPECT_EQ(lists.First("mdaFolder"), "lists");
  EXPECT_FALSE(lists.Has("mdaVerpRecipient"));
  EXPECT_EQ(lists.Values("objectClass"), Values{"mdaMessage"});
}

TEST_F(ReportIntegrationTest, CorpusBounceWithFiveRecipients) {
  const std::string raw =
      testing::ReadFile(LDAPMDA_CORPUS_DIR
                        "/mikel-mail/multipart_report_emails/"
                        "multi_address_bounce1.eml");
  const TestEntry e = DeliverOne("bob@example.com", raw);
  EXPECT_EQ(e.First("mdaRawMessage"), raw);
  EXPECT_EQ(e.First("mdaDsnReportingMta"), "lvmail01.LL.com");
  EXPECT_EQ(e.Values("mdaDsnRecipient").size(), 5u);
  EXPECT_EQ(e.Values("mdaDsnStatus"), Values{"5.1.1"});
  EXPECT_EQ(e.Values("mdaDsnAction"), Values{"failed"});
  EXPECT_EQ(e.First("mdaReportedMessageId"),
            "118707422.15521266992174819.JavaMail.root@lvmail01");
  ProcessResult csv = Ldapmbox({"bounces", "bob@example.com", "--csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(std::count(csv.out.begin(), csv.out.end(), '\n'), 6) << csv.out;
  EXPECT_NE(csv.out.find("failed,5.1.1,egyfefsdvsfvvhjsd@gmail.com"),
            std::string::npos)
      << csv.out;
}

// `raw` with one more header line at the top: another message (another
// key), the same report.
std::string Another(const std::string& raw, int n) {
  return "X-Copy: " + std::to_string(n) + "\n" + raw;
}

// The "address:cause" of each row of `ldapmbox suppressions ... --csv`.
Values Suppressed(const ProcessResult& csv) {
  EXPECT_EQ(csv.exit_code, 0) << csv.err;
  std::istringstream lines(csv.out);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "address,cause,reason,status,count,first,last\r");
  Values out;
  while (std::getline(lines, line)) {
    const std::size_t a = line.find(','), b = line.find(',', a + 1);
    out.push_back(line.substr(0, a) + ":" + line.substr(a + 1, b - a - 1));
  }
  return out;
}

TEST_F(ReportIntegrationTest, SuppressionsListWhoToStopSendingTo) {
  // The bounce mailbox (bob): an RFC 3464 report (dan failed, userunknown;
  // erin delayed), provider bounces (Gmail: pat, userunknown; Zoho: adam
  // userunknown, bea expired) and the same 1&1 size refusal twice (hank,
  // mesgtoobig, soft).
  const TestEntry dsn = DeliverOne("bob@example.com", Dsn());
  const TestEntry gmail =
      DeliverOne("bob@example.com", ReadFixture("bounce_gmail.eml"));
  const TestEntry zoho =
      DeliverOne("bob@example.com", ReadFixture("bounce_zoho.eml"));
  const std::string size = ReadFixture("bounce_1and1.eml");
  DeliverOne("bob@example.com", size);
  DeliverOne("bob@example.com", Another(size, 2));
  // The abuse mailbox (carol): a complaint naming frank and grace, and one
  // that names nobody, whose returned original went to ivy.
  const std::string arf = ReadFixture("arf_abuse.eml");
  DeliverOne("carol@example.com", arf);
  std::string redacted = arf;
  for (const char* rcpt : {"Original-Rcpt-To: <frank@example.net>\n",
                           "Original-Rcpt-To: <grace@example.net>\n"}) {
    const std::size_t at = redacted.find(rcpt);
    ASSERT_NE(at, std::string::npos);
    redacted.erase(at, std::string_view(rcpt).size());
  }
  const std::size_t to = redacted.find("To: frank@example.net\n");
  ASSERT_NE(to, std::string::npos);
  redacted.replace(to, 21, "To: ivy@example.net");
  DeliverOne("carol@example.com", Another(redacted, 2));

  // The reasons are searchable beside the results.
  EXPECT_EQ(gmail.Values("mdaDsnReason"),
            Values{"userunknown;hard;pat@example.net"});
  EXPECT_EQ(Find("(mdaDsnReason=*;hard;pat@example.net)"),
            std::set<std::string>{gmail.dn});
  EXPECT_EQ(Find("(mdaDsnReason=userunknown;hard;*)").size(), 3u);
  EXPECT_EQ(Find("(mdaDsnReason=mesgtoobig;soft;hank@example.net)").size(), 2u);
  EXPECT_EQ(Find("(&(mdaDsnReason=*;hard;*)(mdaDsnResult=failed;5.1.1;*))"),
            (std::set<std::string>{dsn.dn, zoho.dn}));

  // Hard bounces and complaints; hank's two soft bounces came the same
  // day, bea's is alone, erin was only delayed.
  const Values expected = {
      "adam@example.net:hard",       "dan@example.net:hard",
      "frank@example.net:complaint", "grace@example.net:complaint",
      "ivy@example.net:complaint",   "pat@example.net:hard"};
  EXPECT_EQ(Suppressed(Ldapmbox({"suppressions", "bob@example.com",
                                 "carol@example.com", "--csv"})),
            expected);
  // Two soft bounces on any days count with --soft-days 0.
  Values with_soft = expected;
  with_soft.insert(with_soft.begin() + 4, "hank@example.net:soft");
  EXPECT_EQ(
      Suppressed(Ldapmbox({"suppressions", "bob@example.com",
                           "carol@example.com", "--soft-days", "0", "--csv"})),
      with_soft);
  // One mailbox at a time; nothing delivered from tomorrow on.
  EXPECT_EQ(
      Suppressed(Ldapmbox({"suppressions", "carol@example.com", "--csv"})),
      (Values{"frank@example.net:complaint", "grace@example.net:complaint",
              "ivy@example.net:complaint"}));
  EXPECT_EQ(Suppressed(Ldapmbox({"suppressions", "bob@example.com",
                                 "carol@example.com", "--since", "9999-01-01",
                                 "--csv"})),
            Values{});
  // The details, as JSON.
  const ProcessResult json =
      Ldapmbox({"suppressions", "bob@example.com", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_NE(json.out.find("{\"address\": \"pat@example.net\", \"cause\": "
                          "\"hard\", \"reason\": \"userunknown\", "
                          "\"status\": \"5.0.0\", \"count\": \"1\""),
            std::string::npos)
      << json.out;
  // An unknown mailbox is an error, as for the other commands.
  const ProcessResult unknown =
      Ldapmbox({"suppressions", "bob@example.com", "nobody@example.com"});
  EXPECT_EQ(unknown.exit_code, 67) << unknown.out << unknown.err;
}

// The schema as it was before `what` (testing::SchemaBefore).
SlapdOptions OlderSchema(const std::string& what) {
  static const testing::TempDir dir;  // lives as long as the test program
  const std::string path = dir.File("ldapmda-before-" + what + ".schema");
  std::ofstream(path) << testing::SchemaBefore(what);
  SlapdOptions options;
  options.schema_file = path;
  return options;
}

class OlderSchemaTest : public ReportIntegrationTest {
 protected:
  OlderSchemaTest() : ReportIntegrationTest(OlderSchema("mdaReport")) {}
};

class SchemaWithoutReasonsTest : public ReportIntegrationTest {
 protected:
  SchemaWithoutReasonsTest()
      : ReportIntegrationTest(OlderSchema("mdaDsnReason")) {}
};

TEST_F(SchemaWithoutReasonsTest, ReportIsStoredWithoutItsReasons) {
  const TestEntry e = DeliverOne("bob@example.com", Dsn());
  EXPECT_EQ(e.First("mdaRawMessage"), Dsn());
  EXPECT_EQ(Sorted(e.Values("objectClass")),
            (Values{"mdaMessage", "mdaReport"}));
  EXPECT_EQ(e.Values("mdaDsnResult").size(), 2u);
  EXPECT_FALSE(e.Has("mdaDsnReason"));
  // ldapmbox reads the reasons from the stored message instead.
  const ProcessResult csv = Ldapmbox({"bounces", "bob@example.com", "--csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_NE(csv.out.find(",userunknown,hard\r\n"), std::string::npos)
      << csv.out;
  EXPECT_EQ(Suppressed(Ldapmbox({"suppressions", "bob@example.com", "--csv"})),
            Values{"dan@example.net:hard"});

  // More reports than ldapmbox reads in one round trip (50): every one is
  // read again, the last batch too.
  for (int n = 2; n <= 51; ++n)
    DeliverOne("bob@example.com", Another(Dsn(), n));
  const ProcessResult all = Ldapmbox({"bounces", "bob@example.com", "--csv"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  std::size_t reasons = 0;
  for (std::size_t at = 0;
       (at = all.out.find(",userunknown,hard\r\n", at)) != std::string::npos;
       ++at) {
    ++reasons;
  }
  EXPECT_EQ(reasons, 51u) << all.out;
  const ProcessResult json =
      Ldapmbox({"suppressions", "bob@example.com", "--json"});
  EXPECT_NE(json.out.find("\"address\": \"dan@example.net\", \"cause\": "
                          "\"hard\", \"reason\": \"userunknown\", "
                          "\"status\": \"5.1.1\", \"count\": \"51\""),
            std::string::npos)
      << json.out;
}

TEST_F(OlderSchemaTest, ReportIsStoredWithoutItsAttributes) {
  const TestEntry e = DeliverOne("bob@example.com", Dsn());
  EXPECT_EQ(e.First("mdaRawMessage"), Dsn());
  EXPECT_EQ(e.Values("objectClass"), Values{"mdaMessage"});
  EXPECT_FALSE(e.Has("mdaDsnRecipient"));
  EXPECT_EQ(e.First("mdaSubject"), "Undelivered Mail Returned to Sender");
  // A retry finds it: still exactly one message.
  const ProcessResult again = Deliver(conf_, "bob@example.com", Dsn());
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_EQ(again.out, "already stored as " + e.dn + "\n");
  EXPECT_EQ(Stored(server_).size(), 1u);
}

}  // namespace
}  // namespace ldapmda
