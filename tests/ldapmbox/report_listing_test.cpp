// How ldapmbox shows bounces and complaints, without a server: the rows
// made of stored reports (one per recipient, in delivery order), the
// table, CSV and JSON renderings, the suppression list, and the options
// of "ldapmbox bounces", "complaints" and "suppressions". (What a report
// becomes in the directory: tests/core/report_store_test.cpp.)
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ldapmbox/ldapmbox.h"
#include "ldapmbox/listing.h"
#include "ldapmbox/suppressions.h"
#include "ldapmda/config.h"
#include "ldapmda/mailbox_store.h"

namespace ldapmda {
namespace {

using Values = std::vector<std::string>;

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
