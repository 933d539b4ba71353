// ParseReport against Sisimai (libsisimai-perl 4.25), an independent
// bounce parser, on every report and bounce the tests use: per format
// family, the recipients Sisimai finds that ParseReport finds too, the
// same status where both read a real one (Sisimai's made-up x.0.9xx codes
// do not count), the same reason, and the automatic replies both mark.
// Every disagreement must be a known one, listed below with its cause, and
// the rates must not fall below what was measured. The same comparison
// runs on any collection with tests/tools/sisimai_compare.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/sisimai_compare.h"

namespace ldapmda::testing {
namespace {

const std::string kCorpus = LDAPMDA_CORPUS_DIR;
const std::string kFixtures =
    std::string(LDAPMDA_SOURCE_DIR) + "/tests/data/reports";

// The reports of the public corpus, the demo bounce and every fixture.
std::vector<std::string> Files() {
  std::vector<std::string> files = {
      kCorpus + "/mikel-mail/multipart_report_emails/multi_address_bounce1.eml",
      kCorpus +
          "/mikel-mail/multipart_report_emails/"
          "multipart_report_multiple_status.eml",
      kCorpus + "/mikel-mail/multipart_report_emails/report_422.eml",
      kCorpus + "/mikel-mail/multipart_report_emails/report_530.eml",
      kCorpus +
          "/mikel-mail/mime_emails/"
          "raw_email_with_mimepart_without_content_type.eml",
      kCorpus + "/mailcore2/parser/input/mbox/jwz/132",
      kCorpus + "/mailcore2/parser/input/mbox/jwz/21",
      kCorpus + "/mailcore2/summary/input/2113-formatting.eml",
      std::string(LDAPMDA_SOURCE_DIR) + "/conf/demo/bounce.eml",
  };
  std::vector<std::string> fixtures;
  for (const auto& e : std::filesystem::directory_iterator(kFixtures)) {
    if (e.path().extension() == ".eml") fixtures.push_back(e.path().string());
  }
  std::sort(fixtures.begin(), fixtures.end());
  files.insert(files.end(), fixtures.begin(), fixtures.end());
  return files;
}

// Every known disagreement, with its cause.
struct Known {
  Disagreement d;
  const char* cause;
};
const Known kKnown[] = {
    {{"dsn_global.eml", "jörg@example.net", "recipient", "userunknown",
      "(missing)"},
     "Sisimai 4.25 reads neither message/global-delivery-status (RFC 6533) "
     "nor a UTF-8 address, and finds nothing"},
    {{"multipart_report_multiple_status.eml", "u@ci.com", "reason",
      "systemerror", "filtered"},
     "the report's explanation ('has restricted SMS e-mail') is prose in a "
     "message/delivery-status part, which Sisimai reads as the diagnostic; "
     "ParseReport has only Status 5.3.0"},
    {{"bounce_postfix_text.eml", "leo@example.net", "recipient", "userunknown",
      "(missing)"},
     "Sisimai's Postfix reader keeps one recipient of a report without a "
     "delivery-status part, the last"},
    {{"bounce_exchange_html.eml", "yuri@example.net", "recipient",
      "userunknown", "(missing)"},
     "an NDR in HTML only: Sisimai 4.25 does not read it"},
    {{"bounce_office365.eml", "xena@example.net", "reason", "userunknown",
      "filtered"},
     "Sisimai 4.25 knows the Office 365 NDR of before 2017 only; it reads "
     "this one generically and calls 'not found by SMTP address lookup' "
     "filtered, where Office 365 documents 5.1.10 as recipient not found"},
    {{"bounce_dsn_text.eml", "sara@example.org", "reason", "mailboxfull",
      "onhold"},
     "the report's fields are in its text: Sisimai's generic reader takes "
     "the prose above them for the diagnostic, ParseReport reads the "
     "fields (Status 5.2.2, 'Mailbox full')"},
};

std::map<Disagreement, std::string> KnownCauses() {
  std::map<Disagreement, std::string> known;
  for (const Known& k : kKnown) known.emplace(k.d, k.cause);
  return known;
}

TEST(SisimaiTest, AgreesWithParseReportPerFamily) {
  const std::vector<std::string> files = Files();
  const SisimaiRun run = RunSisimai(files);
  // Sisimai is a test dependency (scripts/install-deps): its absence is a
  // failure, never a skip.
  ASSERT_EQ(run.exit_status, 0)
      << "perl or Sisimai (libsisimai-perl) missing, or a file unreadable: "
      << run.err;
  for (const std::string& path : files) {
    EXPECT_TRUE(run.files.count(path)) << "no output for " << path;
  }

  std::set<Disagreement> seen;
  const auto tallies = TallyFamilies(Compare(files, run), &seen);
  const std::map<Disagreement, std::string> known = KnownCauses();
  std::cout << Table(tallies) << "disagreements:\n" << Listing(seen, known);
  for (const auto& [family, t] : tallies) {
    RecordProperty("sisimai_" + family,
                   "recipients " + Rate(t.found, t.sisimai_recipients) +
                       ", statuses " + Rate(t.same_status, t.statuses) +
                       ", reasons " + Rate(t.same_reason, t.reasons));
  }

  // Each disagreement is a known one, and each known one still occurs.
  for (const Disagreement& d : seen) {
    EXPECT_TRUE(known.count(d))
        << "new disagreement: " << d.file << " " << d.recipient << " " << d.what
        << " ours " << d.ours << " sisimai " << d.sisimai;
  }
  for (const Known& k : kKnown) {
    EXPECT_TRUE(seen.count(k.d))
        << "no longer disagrees, drop it from the table: " << k.d.file << " "
        << k.d.recipient << " " << k.d.what;
  }

  // Floors, as measured when this test was written; they may only go up.
  const Tally& all = tallies.at("all");
  ASSERT_GE(all.sisimai_recipients, 57);
  EXPECT_GE(100 * all.found, 98 * all.sisimai_recipients);
  EXPECT_GE(100 * all.same_status, 100 * all.statuses);
  EXPECT_GE(100 * all.same_reason, 94 * all.reasons);
  EXPECT_EQ(all.auto_marked, all.auto_replies);
  const Tally& dsn = tallies.at("rfc3464");
  EXPECT_EQ(dsn.found, dsn.sisimai_recipients);
  EXPECT_EQ(dsn.same_status, dsn.statuses);
}

}  // namespace
}  // namespace ldapmda::testing
