// How ldapmbox shows bounces and complaints, without a server: the rows
// made of stored reports (one per recipient, in delivery order), the
// table, CSV and JSON renderings, and the options of "ldapmbox bounces"
// and "ldapmbox complaints". (What a report becomes in the directory:
// tests/core/report_store_test.cpp.)
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ldapmbox/ldapmbox.h"
#include "ldapmbox/listing.h"
#include "ldapmda/config.h"
#include "ldapmda/mailbox_store.h"

namespace ldapmda {
namespace {

using Values = std::vector<std::string>;

TEST(ReportListingTest, ParseDsnResult) {
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
}

std::vector<StoredReport> SampleBounces() {
  StoredReport one;
  one.key = "bbb";
  one.delivered = "20261201100000Z";
  one.reporting_mta = "mx.example.com";
  one.reported_message_id = "m1@example.com";
  one.results = {"failed;5.1.1;bob@example.org"};
  one.diagnostics = {"550 5.1.1 user unknown, \"bob\""};
  StoredReport two;
  two.key = "aaa";
  two.delivered = "20261130090000Z";
  two.results = {"failed;5.2.2;carol@example.org", "delayed;4.4.1;dan@x.org",
                 "garbage"};
  two.diagnostics = {"over quota", "timeout"};
  return {one, two};
}

TEST(ReportListingTest, BounceRowsOnePerRecipientInTimeOrder) {
  const Rows rows = BounceRows(SampleBounces());
  ASSERT_EQ(rows.cells.size(), 3u);
  EXPECT_EQ(rows.columns.front(), "delivered");
  EXPECT_EQ(rows.cells[0], (Values{"2026-11-30T09:00:00Z", "failed", "5.2.2",
                                   "carol@example.org", "", "", "", "aaa"}));
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
  EXPECT_EQ(rows.cells[2],
            (Values{"2026-12-01T10:00:00Z", "failed", "5.1.1",
                    "bob@example.org", "550 5.1.1 user unknown, \"bob\"",
                    "mx.example.com", "m1@example.com", "bbb"}));
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
  EXPECT_NE(MboxUsage("complaints").find("--csv"), std::string::npos);
}

}  // namespace
}  // namespace ldapmda
