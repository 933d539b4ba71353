// What a recognised report becomes in the directory, without a server:
// the mdaReport attributes of the message entry, the VERP decoding of an
// extension, the report filters, and how ldapmbox shows bounces and
// complaints (table, CSV, JSON).
#include <gtest/gtest.h>
#include <ldap.h>

#include <algorithm>
#include <map>

#include "addr.h"
#include "fake_directory.h"
#include "ldapmbox/ldapmbox.h"
#include "ldapmbox/listing.h"
#include "ldapmbox/suppressions.h"
#include "ldapmda/config.h"
#include "ldapmda/delivery.h"
#include "ldapmda/mailbox_store.h"
#include "ldapmda/recipient.h"
#include "mda/cli.h"

namespace ldapmda {
namespace {

using testing::Addr;
using Values = std::vector<std::string>;

// The entry's attributes as name -> values (copied out of the views).
std::map<std::string, Values> AsMap(const std::vector<AttributeView>& attrs) {
  std::map<std::string, Values> out;
  for (const auto& a : attrs) {
    EXPECT_EQ(out.count(a.name), 0u) << "attribute twice: " << a.name;
    for (auto v : a.values) out[a.name].emplace_back(v);
  }
  return out;
}

MessageInfo BounceInfo() {
  MessageInfo info;
  info.report.kind = ReportKind::kDeliveryStatus;
  info.report.format = "rfc3464";
  info.report.reporting_mta = "mx.example.com";
  info.report.original_envelope_id = "Env-42";
  info.report.original_message_id = "orig.1@example.com";
  info.report.auto_submitted = "auto-replied";
  info.report.recipients = {
      {"bob@example.org", "bob@example.org", "failed", "5.1.1",
       "550 5.1.1 <bob@example.org>: User unknown", "mx.example.org",
       "userunknown", "hard", "smtp", "RCPT"},
      {"Carol@Example.org", "", "delayed", "4.4.1", "connect timed out",
       "mx.example.org", "expired", "soft", "", ""},
      // The same address twice (some MTAs repeat a block): one value each.
      {"bob@EXAMPLE.org", "", "failed", "5.1.1", "", "", "userunknown", "hard",
       "", ""},
      // Equal to caseIgnoreMatch only beyond ASCII: also one value.
      {"J\xc3\x96RG@example.org", "", "failed", "5.1.1", "", "", "userunknown",
       "hard", "", ""},
      {"j\xc3\xb6rg@example.org", "", "failed", "5.1.1", "", "", "userunknown",
       "hard", "", ""},
  };
  return info;
}

TEST(ReportEntryTest, DeliveryStatusBecomesMdaReportAttributes) {
  const MessageInfo info = BounceInfo();
  const MessageEntry entry("k", "raw", info, {"", "", "", ""},
                           "bounces@example.com", "INBOX", 1795338187);
  ASSERT_TRUE(entry.has_report());
  auto a = AsMap(entry.attributes());
  EXPECT_EQ(a["objectClass"], (Values{"mdaMessage", "mdaReport"}));
  EXPECT_EQ(a["mdaReportType"], Values{"delivery-status"});
  EXPECT_EQ(a["mdaReportFormat"], Values{"rfc3464"});
  EXPECT_EQ(a["mdaDsnReportingMta"], Values{"mx.example.com"});
  EXPECT_EQ(a["mdaDsnEnvelopeId"], Values{"Env-42"});
  EXPECT_EQ(a["mdaReportedMessageId"], Values{"orig.1@example.com"});
  EXPECT_EQ(a["mdaAutoSubmitted"], Values{"auto-replied"});
  EXPECT_EQ(a["mdaDsnRecipient"],
            (Values{"bob@example.org", "Carol@Example.org",
                    "J\xc3\x96RG@example.org"}));
  EXPECT_EQ(a["mdaDsnOriginalRecipient"], Values{"bob@example.org"});
  EXPECT_EQ(a["mdaDsnAction"], (Values{"failed", "delayed"}));
  EXPECT_EQ(a["mdaDsnStatus"], (Values{"5.1.1", "4.4.1"}));
  EXPECT_EQ(a["mdaDsnDiagnostic"],
            (Values{"550 5.1.1 <bob@example.org>: User unknown",
                    "connect timed out"}));
  EXPECT_EQ(a["mdaDsnRemoteMta"], Values{"mx.example.org"});
  EXPECT_EQ(
      a["mdaDsnResult"],
      (Values{"failed;5.1.1;bob@example.org", "delayed;4.4.1;carol@example.org",
              "failed;5.1.1;j\xc3\x96rg@example.org"}));
  EXPECT_EQ(a["mdaDsnReason"],
            (Values{"userunknown;hard;bob@example.org",
                    "expired;soft;carol@example.org",
                    "userunknown;hard;j\xc3\x96rg@example.org"}));
  EXPECT_EQ(a.count("mdaArfFeedbackType"), 0u);
  // mdaDsnReason comes last: without it, the rest as it was.
  ASSERT_TRUE(entry.has_reasons());
  const auto without = entry.attributes_without_reasons();
  EXPECT_EQ(without.size() + 1, entry.attributes().size());
  auto w = AsMap(without);
  EXPECT_EQ(w.count("mdaDsnReason"), 0u);
  EXPECT_EQ(w["mdaDsnResult"], a["mdaDsnResult"]);
  EXPECT_EQ(w["objectClass"], (Values{"mdaMessage", "mdaReport"}));
}

TEST(ReportEntryTest, WithoutReportIsWhatAnOlderSchemaAccepts) {
  const MessageEntry entry("k", "raw", BounceInfo(), {"", "", "", ""},
                           "bounces@example.com", "INBOX", 1795338187);
  auto plain = AsMap(entry.attributes_without_report());
  EXPECT_EQ(plain["objectClass"], Values{"mdaMessage"});
  for (const auto& [name, values] : plain) {
    EXPECT_FALSE(name.starts_with("mdaDsn") || name.starts_with("mdaReport") ||
                 name.starts_with("mdaArf") || name == "mdaAutoSubmitted")
        << name;
  }
  EXPECT_EQ(plain["mdaKey"], Values{"k"});
  EXPECT_EQ(plain["mdaRawMessage"], Values{"raw"});
  // The full entry still has them: the fallback is a copy.
  EXPECT_EQ(AsMap(entry.attributes())["objectClass"].size(), 2u);
}

TEST(ReportEntryTest, FeedbackReportAttributes) {
  MessageInfo info;
  info.report.kind = ReportKind::kFeedback;
  info.report.format = "arf";
  info.report.feedback_type = "abuse";
  info.report.user_agent = "SomeISP-FBL/1.0";
  info.report.original_mail_from = "news@example.com";
  info.report.original_rcpt_to = {"user1@example.net", "user2@example.net",
                                  "USER1@example.net"};
  info.report.arrival_date = "20261130120000Z";
  info.report.source_ip = {"192.0.2.25"};
  info.report.reported_domain = {"example.com"};
  info.report.original_message_id = "n.1@example.com";
  const MessageEntry entry("k", "raw", info, {"", "", "", ""},
                           "abuse@example.com", "INBOX", 1795338187);
  auto a = AsMap(entry.attributes());
  EXPECT_EQ(a["mdaReportType"], Values{"feedback-report"});
  EXPECT_EQ(a["mdaArfFeedbackType"], Values{"abuse"});
  EXPECT_EQ(a["mdaArfUserAgent"], Values{"SomeISP-FBL/1.0"});
  EXPECT_EQ(a["mdaArfOriginalMailFrom"], Values{"news@example.com"});
  EXPECT_EQ(a["mdaArfOriginalRcptTo"],
            (Values{"user1@example.net", "user2@example.net"}));
  EXPECT_EQ(a["mdaArfArrivalDate"], Values{"20261130120000Z"});
  EXPECT_EQ(a["mdaArfSourceIp"], Values{"192.0.2.25"});
  EXPECT_EQ(a["mdaArfReportedDomain"], Values{"example.com"});
  EXPECT_EQ(a["mdaReportedMessageId"], Values{"n.1@example.com"});
  EXPECT_EQ(a.count("mdaDsnResult"), 0u);
}

TEST(ReportEntryTest, OrdinaryMailHasNoReportButVerpAndAutoReplyCount) {
  MessageInfo info;
  const MessageEntry plain("k", "raw", info, {"", "", "", ""},
                           "alice@example.com", "INBOX", 1795338187);
  EXPECT_FALSE(plain.has_report());
  EXPECT_EQ(AsMap(plain.attributes())["objectClass"], Values{"mdaMessage"});

  const MessageEntry verp("k", "raw", info, {"", "", "", "bob=example.org"},
                          "bounces+bob=example.org@example.com", "INBOX",
                          1795338187, "bob@example.org");
  ASSERT_TRUE(verp.has_report());
  auto a = AsMap(verp.attributes());
  EXPECT_EQ(a["mdaVerpRecipient"], Values{"bob@example.org"});
  EXPECT_EQ(a.count("mdaReportType"), 0u);

  info.report.auto_submitted = "auto-replied";
  auto b = AsMap(MessageEntry("k", "raw", info, {"", "", "", ""},
                              "alice@example.com", "INBOX", 1795338187)
                     .attributes());
  EXPECT_EQ(b["objectClass"], (Values{"mdaMessage", "mdaReport"}));
  EXPECT_EQ(b["mdaAutoSubmitted"], Values{"auto-replied"});
}

TEST(ReportEntryTest, ValuesAreSanitisedAndEmptyOnesLeftOut) {
  MessageInfo info;
  info.report.kind = ReportKind::kDeliveryStatus;
  info.report.format = "rfc3464";
  info.report.recipients = {
      {"", "", "failed", "", "", "", "undefined", "soft", "", ""},
      {"x@example.org", "", "", "", "a\tb\r\nc", "", "", "", "", ""}};
  auto a = AsMap(MessageEntry("k", "raw", info, {"", "", "", ""},
                              "bounces@example.com", "INBOX", 1795338187)
                     .attributes());
  EXPECT_EQ(a["mdaDsnRecipient"], Values{"x@example.org"});
  EXPECT_EQ(a["mdaDsnDiagnostic"], Values{"a b c"});
  // A block without a recipient gives no result value, nor a reason.
  EXPECT_EQ(a["mdaDsnResult"], Values{";;x@example.org"});
  EXPECT_EQ(a.count("mdaDsnReason"), 0u);
  EXPECT_EQ(a.count("mdaDsnStatus"), 0u);
  EXPECT_EQ(a.count("mdaDsnReportingMta"), 0u);
}

// A bounce stored through `directory`, which answers the adds with
// `add_codes` (then success): the outcome, and the entry's attributes as
// last added.
struct StoredBounce {
  Outcome outcome = Outcome::Ok("");
  bool created = false;
  std::map<std::string, Values> attributes;
};
StoredBounce StoreBounce(testing::FakeDirectory& directory,
                         std::initializer_list<int> add_codes) {
  Config config;
  config.search_base = "dc=x";
  directory.add_codes = add_codes;
  const Deadline deadline(std::chrono::seconds(10));
  Delivery delivery(config, directory, directory, deadline);
  const MessageEntry entry("k", "raw", BounceInfo(), {"", "", "", ""},
                           "bounces@example.com", "INBOX", 1795338187);
  StoredBounce out;
  out.outcome =
      delivery.Store("cn=mailbox,uid=b,dc=x", "mdaKey=k,cn=mailbox,uid=b,dc=x",
                     entry, &out.created);
  for (const auto& a :
       directory.last_attributes["mdaKey=k,cn=mailbox,uid=b,dc=x"]) {
    out.attributes[a.name] = a.values;
  }
  return out;
}

TEST(ReportEntryTest, ASchemaOfBeforeReasonsGetsTheReportWithoutThem) {
  testing::FakeDirectory directory;
  const StoredBounce b = StoreBounce(directory, {LDAP_UNDEFINED_TYPE});
  EXPECT_EQ(b.outcome.disposition(), Disposition::kSent) << b.outcome.text;
  ASSERT_EQ(directory.added.size(), 2u);
  EXPECT_EQ(b.attributes.count("mdaDsnReason"), 0u);
  EXPECT_EQ(b.attributes.at("mdaDsnResult").size(), 3u);
  EXPECT_EQ(b.attributes.at("objectClass"),
            (Values{"mdaMessage", "mdaReport"}));
}

TEST(ReportEntryTest, AnOlderSchemaGetsTheMessageWithoutTheReport) {
  testing::FakeDirectory directory;
  // Refused with the reasons, and without them.
  const StoredBounce b =
      StoreBounce(directory, {LDAP_UNDEFINED_TYPE, LDAP_UNDEFINED_TYPE});
  EXPECT_EQ(b.outcome.disposition(), Disposition::kSent) << b.outcome.text;
  EXPECT_TRUE(b.created);
  ASSERT_EQ(directory.added.size(), 3u);
  for (const auto& [name, values] : b.attributes) {
    EXPECT_FALSE(name.starts_with("mdaDsn")) << name;
    if (name == "objectClass") {
      EXPECT_EQ(values, Values{"mdaMessage"});
    }
  }
}

TEST(ReportEntryTest, ValuesTheServerTakesForOneGetTheMessageWithoutReport) {
  testing::FakeDirectory directory;
  const StoredBounce b = StoreBounce(directory, {LDAP_TYPE_OR_VALUE_EXISTS});
  EXPECT_EQ(b.outcome.disposition(), Disposition::kSent);
  EXPECT_EQ(directory.added.size(), 2u);
  EXPECT_EQ(b.attributes.count("mdaDsnResult"), 0u);
}

TEST(ReportEntryTest, OtherRefusalsAreNotRetriedWithoutTheReport) {
  testing::FakeDirectory directory;
  const StoredBounce b = StoreBounce(directory, {LDAP_INSUFFICIENT_ACCESS});
  EXPECT_NE(b.outcome.disposition(), Disposition::kSent);
  EXPECT_EQ(directory.added.size(), 1u);
}

TEST(VerpTest, DecodesTheOriginalRecipient) {
  EXPECT_EQ(DecodeVerp("bob=example.org", "+="), "bob@example.org");
  // The @ is the last '=': a local part may hold one.
  EXPECT_EQ(DecodeVerp("a=b=example.org", "+="), "a=b@example.org");
  EXPECT_EQ(DecodeVerp("bob%example.org", "-%"), "bob@example.org");
}

TEST(VerpTest, AnythingElseIsNotVerp) {
  for (const char* ext :
       {"lists", "bob=", "=example.org", "bob=localhost", "bob=example.",
        "bob=.example.org", "bob=exa..mple.org", "b ob=example.org",
        "bob=exam<ple.org", "bob@x=example.org", "bob=example.org\n", ""}) {
    EXPECT_EQ(DecodeVerp(ext, "+="), std::nullopt) << ext;
  }
  EXPECT_EQ(DecodeVerp("bob=example.org", ""), std::nullopt);
}

TEST(VerpTest, ResolverDecodesAVerpExtensionAndKeepsInbox) {
  Config config;
  config.search_base = "dc=example,dc=com";
  config.recipient_delimiter = "+";
  config.verp_delimiters = "+=";
  testing::FakeDirectory directory;
  directory.by_filter["(mail=bounces@example.com)"] = {
      {"uid=bounces,dc=example,dc=com", {}}};
  const Deadline deadline(std::chrono::seconds(10));
  Resolver resolver(config, directory, deadline);

  Resolution verp;
  ASSERT_EQ(
      resolver.Resolve(Addr("bounces+bob=example.org@example.com"), "", &verp)
          .disposition(),
      Disposition::kSent);
  EXPECT_EQ(verp.verp_recipient, "bob@example.org");
  EXPECT_EQ(verp.folder, "INBOX");

  Resolution folder;
  ASSERT_EQ(resolver.Resolve(Addr("bounces+lists@example.com"), "", &folder)
                .disposition(),
            Disposition::kSent);
  EXPECT_EQ(folder.verp_recipient, "");
  EXPECT_EQ(folder.folder, "lists");

  // Postfix's ${extension} works the same way.
  Resolution hinted;
  ASSERT_EQ(resolver
                .Resolve(Addr("bounces+bob=example.org@example.com"),
                         "bob=example.org", &hinted)
                .disposition(),
            Disposition::kSent);
  EXPECT_EQ(hinted.verp_recipient, "bob@example.org");
}

TEST(VerpTest, ConfigChecksTheDelimiters) {
  const auto load = [](std::vector<std::string> overrides) {
    overrides.insert(overrides.begin(), "search_base=dc=example,dc=com");
    return LoadConfig("/dev/null", overrides);
  };
  EXPECT_EQ(load({"verp_delimiters=+="}).verp_delimiters, "+=");
  for (const char* bad : {"+", "++", "+=-", "a=", "+@", "+ "}) {
    EXPECT_THROW(load({std::string("verp_delimiters=") + bad}), ConfigError)
        << bad;
  }
  EXPECT_THROW(load({"recipient_delimiter=-", "verp_delimiters=+="}),
               ConfigError);
  EXPECT_EQ(
      load({"recipient_delimiter=+-", "verp_delimiters=-="}).verp_delimiters,
      "-=");
}

TEST(ReportListingTest, FilterEscapesAndBoundsDeliveryTime) {
  EXPECT_EQ(ReportFilterString("delivery-status", "", ""),
            "(&(objectClass=mdaMessage)(mdaReportType=delivery-status))");
  EXPECT_EQ(
      ReportFilterString("feedback-report", "20261130000000Z",
                         "20261201000000Z"),
      "(&(objectClass=mdaMessage)(mdaReportType=feedback-report)"
      "(mdaDeliveredAt>=20261130000000Z)(!(mdaDeliveredAt>=20261201000000Z)))");
  EXPECT_EQ(ReportFilterString("x*)(uid=*", "", ""),
            "(&(objectClass=mdaMessage)(mdaReportType=x\\2a\\29\\28uid=\\2a))");
}

TEST(ReportListingTest, ParseDsnResultAndReason) {
  const auto r = ParseDsnResult("failed;5.1.1;bob@example.org");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->action, "failed");
  EXPECT_EQ(r->status, "5.1.1");
  EXPECT_EQ(r->recipient, "bob@example.org");
  const auto empty = ParseDsnResult(";;x;y@example.org");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->action, "");
  EXPECT_EQ(empty->recipient, "x;y@example.org");
  EXPECT_EQ(ParseDsnResult("failed;5.1.1"), std::nullopt);
  EXPECT_EQ(ParseDsnResult("failed;5.1.1;"), std::nullopt);
  // mdaDsnReason has the same form.
  const auto why = ParseDsnReason("userunknown;hard;bob@example.org");
  ASSERT_TRUE(why);
  EXPECT_EQ(why->reason + "|" + why->type + "|" + why->recipient,
            "userunknown|hard|bob@example.org");
  EXPECT_EQ(ParseDsnReason("userunknown;hard"), std::nullopt);
}

std::vector<StoredReport> SampleBounces() {
  StoredReport one;
  one.key = "bbb";
  one.delivered = "20261201100000Z";
  one.reporting_mta = "mx.example.com";
  one.reported_message_id = "m1@example.com";
  one.results = {"failed;5.1.1;bob@example.org"};
  one.reasons = {"userunknown;hard;bob@example.org"};
  one.diagnostics = {"550 5.1.1 user unknown, \"bob\""};
  StoredReport two;
  two.key = "aaa";
  two.delivered = "20261130090000Z";
  two.results = {"failed;5.2.2;carol@example.org", "delayed;4.4.1;dan@x.org",
                 "garbage"};
  two.reasons = {"mailboxfull;soft;carol@example.org",
                 "expired;soft;dan@x.org"};
  two.diagnostics = {"over quota", "timeout"};
  return {one, two};
}

TEST(ReportListingTest, BounceRowsOnePerRecipientInTimeOrder) {
  const Rows rows = BounceRows(SampleBounces());
  ASSERT_EQ(rows.cells.size(), 3u);
  EXPECT_EQ(rows.columns.front(), "delivered");
  EXPECT_EQ(rows.cells[0], (Values{"2026-11-30T09:00:00Z", "failed", "5.2.2",
                                   "carol@example.org", "", "", "", "aaa",
                                   "mailboxfull", "soft"}));
  EXPECT_EQ(rows.cells[1][3], "dan@x.org");
  EXPECT_EQ(rows.cells[1][1], "delayed");
  EXPECT_EQ(rows.cells[1][4], "");  // two diagnostics, two recipients
  // Parsed again from the stored message, each gets its own.
  auto reports = SampleBounces();
  reports[1].recipient_diagnostics = {{"dan@x.org", "timeout"},
                                      {"carol@example.org", "over quota"}};
  const Rows matched = BounceRows(reports);
  EXPECT_EQ(matched.cells[0][4], "over quota");
  EXPECT_EQ(matched.cells[1][4], "timeout");
  // One recipient: its diagnostic is known.
  EXPECT_EQ(
      rows.cells[2],
      (Values{"2026-12-01T10:00:00Z", "failed", "5.1.1", "bob@example.org",
              "550 5.1.1 user unknown, \"bob\"", "mx.example.com",
              "m1@example.com", "bbb", "userunknown", "hard"}));
  // Reasons are the last columns: the others keep their places.
  EXPECT_EQ(rows.columns,
            (Values{"delivered", "action", "status", "recipient", "diagnostic",
                    "reportingMta", "messageId", "key", "reason", "type"}));
  // A report stored without reasons shows none.
  reports[0].reasons.clear();
  EXPECT_EQ(BounceRows(reports).cells[2][8], "");
}

StoredReport Bounce(const std::string& key, const std::string& delivered,
                    const Values& results, const Values& reasons) {
  StoredReport r;
  r.key = key;
  r.delivered = delivered;
  r.results = results;
  r.reasons = reasons;
  return r;
}

StoredReport Complaint(const std::string& key, const std::string& delivered,
                       const std::string& type, const Values& rcpt_to,
                       const Values& original_to) {
  StoredReport r;
  r.key = key;
  r.delivered = delivered;
  r.feedback_type = type;
  r.original_rcpt_to = rcpt_to;
  r.original_to = original_to;
  return r;
}

TEST(ReportListingTest, SuppressionsListHardBouncesComplaintsRepeatedSoft) {
  const std::vector<StoredReport> bounces = {
      // Hard, then a soft one later: hard all the same, the last reason.
      Bounce("k1", "20261201100000Z", {"failed;5.1.1;Bob@Example.org"},
             {"userunknown;hard;bob@example.org"}),
      Bounce("k2", "20261203100000Z",
             {"failed;5.2.2;bob@example.org", "failed;5.2.2;carol@example.org",
              "delayed;4.4.1;dan@example.org"},
             {"mailboxfull;soft;bob@example.org",
              "mailboxfull;soft;carol@example.org",
              "expired;soft;dan@example.org"}),
      // carol again, four days later: repeated soft bounces.
      Bounce("k3", "20261207100000Z", {"failed;4.2.2;carol@example.org"},
             {"mailboxfull;soft;carol@example.org"}),
      // erin: two soft bounces on one day; frank: one; delays never count.
      Bounce("k4", "20261207110000Z",
             {"failed;5.7.1;erin@example.org", "failed;5.7.1;frank@example.org",
              "delayed;4.4.1;dan@example.org"},
             {"blocked;soft;erin@example.org", "blocked;soft;frank@example.org",
              "expired;soft;dan@example.org"}),
      Bounce("k5", "20261207120000Z", {"failed;5.7.1;erin@example.org"},
             {"blocked;soft;erin@example.org"}),
      // Stored without reasons (and none found again): not hard.
      Bounce("k6", "20261207130000Z", {"failed;5.0.0;gina@example.org"}, {}),
  };
  const std::vector<StoredReport> complaints = {
      Complaint("c1", "20261202100000Z", "abuse", {"hank@example.net"},
                {"other@example.net"}),
      // No Original-Rcpt-To: the returned original's To.
      Complaint("c2", "20261202110000Z", "fraud", {}, {"ivy@example.net"}),
      // Not complaints.
      Complaint("c3", "20261202120000Z", "not-spam", {"jim@example.net"}, {}),
      Complaint("c4", "20261202130000Z", "auth-failure", {"kim@example.net"},
                {}),
      // A complaint from an address that also bounced.
      Complaint("c5", "20261208100000Z", "abuse", {"carol@example.org"}, {}),
  };
  const Rows rows = SuppressionRows(bounces, complaints, 3);
  EXPECT_EQ(rows.columns, (Values{"address", "cause", "reason", "status",
                                  "count", "first", "last"}));
  ASSERT_EQ(rows.cells.size(), 4u) << RenderRows(rows, RowFormat::kTable);
  EXPECT_EQ(rows.cells[0],
            (Values{"bob@example.org", "hard", "mailboxfull", "5.2.2", "2",
                    "2026-12-01T10:00:00Z", "2026-12-03T10:00:00Z"}));
  EXPECT_EQ(rows.cells[1],
            (Values{"carol@example.org", "complaint", "feedback", "", "3",
                    "2026-12-03T10:00:00Z", "2026-12-08T10:00:00Z"}));
  EXPECT_EQ(rows.cells[2],
            (Values{"hank@example.net", "complaint", "feedback", "", "1",
                    "2026-12-02T10:00:00Z", "2026-12-02T10:00:00Z"}));
  EXPECT_EQ(rows.cells[3][0], "ivy@example.net");

  // Without the complaint, carol's soft bounces are four days apart:
  // listed with --soft-days 4, not with 5.
  const std::vector<StoredReport> no_complaints;
  const auto addresses = [&](int soft_days) {
    Values out;
    for (const auto& row :
         SuppressionRows(bounces, no_complaints, soft_days).cells) {
      out.push_back(row[0] + ":" + row[1]);
    }
    return out;
  };
  EXPECT_EQ(addresses(4),
            (Values{"bob@example.org:hard", "carol@example.org:soft"}));
  EXPECT_EQ(addresses(5), (Values{"bob@example.org:hard"}));
  // 0: any two soft bounces, even on one day (erin); one is never enough.
  EXPECT_EQ(addresses(0),
            (Values{"bob@example.org:hard", "carol@example.org:soft",
                    "erin@example.org:soft"}));
}

TEST(ReportListingTest, RendersTableCsvAndJson) {
  Rows rows;
  rows.columns = {"a", "bb"};
  rows.cells = {{"x, \"y\"", ""}, {"ü", "z"}};
  EXPECT_EQ(RenderRows(rows, RowFormat::kTable),
            "a       bb\n"
            "x, \"y\"  -\n"
            "ü       z\n");
  EXPECT_EQ(RenderRows(rows, RowFormat::kCsv),
            "a,bb\r\n\"x, \"\"y\"\"\",\r\nü,z\r\n");
  EXPECT_EQ(RenderRows(rows, RowFormat::kJson),
            "[\n {\"a\": \"x, \\\"y\\\"\", \"bb\": null},\n"
            " {\"a\": \"ü\", \"bb\": \"z\"}\n]\n");
  EXPECT_EQ(RenderRows({{"a"}, {}}, RowFormat::kJson), "[]\n");
  EXPECT_EQ(RenderRows({{"a"}, {}}, RowFormat::kCsv), "a\r\n");
}

TEST(ReportListingTest, ComplaintRows) {
  StoredReport r;
  r.key = "k1";
  r.delivered = "20261201100000Z";
  r.feedback_type = "abuse";
  r.original_rcpt_to = {"u1@example.net", "u2@example.net"};
  r.source_ip = {"192.0.2.25"};
  r.reported_domain = {"example.com"};
  r.original_mail_from = "news@example.com";
  r.arrival_date = "20261201095900Z";
  r.user_agent = "FBL/1.0";
  r.reported_message_id = "n1@example.com";
  const Rows rows = ComplaintRows({r});
  ASSERT_EQ(rows.cells.size(), 1u);
  EXPECT_EQ(
      rows.cells[0],
      (Values{"2026-12-01T10:00:00Z", "abuse", "u1@example.net u2@example.net",
              "192.0.2.25", "example.com", "news@example.com",
              "2026-12-01T09:59:00Z", "FBL/1.0", "n1@example.com", "k1"}));
}

TEST(ReportListingTest, LdapmboxOptions) {
  const char* csv[] = {"ldapmbox", "bounces",    "a@example.com",
                       "--since",  "2026-11-30", "--csv"};
  const MboxCommand c = ParseMboxCommand(6, csv);
  EXPECT_EQ(c.name, "bounces");
  EXPECT_TRUE(c.csv);
  EXPECT_EQ(c.since, "2026-11-30");
  const char* both[] = {"ldapmbox", "complaints", "a@example.com", "--csv",
                        "--json"};
  EXPECT_THROW(ParseMboxCommand(5, both), UsageError);
  const char* folder[] = {"ldapmbox", "bounces", "a@example.com", "--folder",
                          "x"};
  EXPECT_THROW(ParseMboxCommand(5, folder), UsageError);
  EXPECT_NE(MboxUsage("").find("bounces ADDRESS"), std::string::npos);
  const char* many[] = {"ldapmbox",      "suppressions", "a@example.com",
                        "b@example.com", "--soft-days",  "7",
                        "--json"};
  const MboxCommand s = ParseMboxCommand(7, many);
  EXPECT_EQ(s.addresses, (Values{"a@example.com", "b@example.com"}));
  EXPECT_EQ(s.address, "a@example.com");
  EXPECT_EQ(s.soft_days, 7);
  EXPECT_TRUE(s.json);
  const char* defaults[] = {"ldapmbox", "suppressions", "a@example.com"};
  EXPECT_EQ(ParseMboxCommand(3, defaults).soft_days, 3);
  const char* none[] = {"ldapmbox", "suppressions", "--csv"};
  EXPECT_THROW(ParseMboxCommand(3, none), UsageError);
  const char* negative[] = {"ldapmbox", "suppressions", "a@example.com",
                            "--soft-days", "-2"};
  EXPECT_THROW(ParseMboxCommand(5, negative), UsageError);
  // Other commands still want exactly one ADDRESS.
  const char* two[] = {"ldapmbox", "bounces", "a@example.com", "b@example.com"};
  EXPECT_THROW(ParseMboxCommand(4, two), UsageError);
  EXPECT_NE(MboxUsage("complaints").find("--csv"), std::string::npos);
}

}  // namespace
}  // namespace ldapmda
