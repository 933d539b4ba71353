// ParseReport against Sisimai (libsisimai-perl), an independent bounce
// parser: per file, the set of (recipient, status) pairs each one finds.
// Every disagreement must be a known one, listed below with its reason, and
// the agreement rates must not fall below what was measured.
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "ldapmda/escape.h"
#include "ldapmda/report.h"
#include "ldapmda/text.h"
#include "support/process.h"

namespace ldapmda {
namespace {

const std::string kCorpus = LDAPMDA_CORPUS_DIR;
const std::string kFixtures =
    std::string(LDAPMDA_SOURCE_DIR) + "/tests/data/reports/";

// The RFC 3464 bounces the report tests use.
const std::vector<std::string> kRfc3464Files = {
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
    kFixtures + "dsn_postfix.eml",
    kFixtures + "dsn_rfc822_headers.eml",
    kFixtures + "dsn_global.eml",
    kFixtures + "dsn_two_recipients.eml",
    std::string(LDAPMDA_SOURCE_DIR) + "/conf/demo/bounce.eml",
};

// Bounces without a delivery-status part: qmail, Exim, and a pre-DSN
// sendmail bounce.
const std::vector<std::string> kNonStandardFiles = {
    kFixtures + "qmail.eml",
    kFixtures + "exim_failed.eml",
    kFixtures + "exim_delayed.eml",
    kCorpus + "/mailcore2/parser/input/mbox/jwz/21",
};

// A file's name from its path, as it is listed in kKnownDisagreements.
std::string BaseName(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

struct Disagreement {
  std::string file;       // base name
  std::string recipient;  // lower case
  std::string ours;       // status, or "(missing)"
  std::string sisimai;    // status, or "(missing)"
  bool operator<(const Disagreement& o) const {
    return std::tie(file, recipient, ours, sisimai) <
           std::tie(o.file, o.recipient, o.ours, o.sisimai);
  }
};

// Every known disagreement, with the reason it is not ParseReport's error.
struct Known {
  Disagreement d;
  const char* reason;
};
const Known kKnownDisagreements[] = {
    {{"132", "newsletter-request@imusic.com", "", "5.0.902"},
     "the DSN has no Status field; Sisimai makes up a pseudo-status "
     "(5.0.9xx, its 'syntaxerror') from the '500' in Diagnostic-Code"},
    {{"dsn_global.eml", "jörg@example.net", "5.1.1", "(missing)"},
     "Sisimai 4.25 reads neither message/global-delivery-status (RFC 6533) "
     "nor a UTF-8 address, and finds nothing"},
    {{"exim_failed.eml", "noah@example.org", "5.0.0", "5.0.922"},
     "'552 mailbox over quota' has no enhanced code: ParseReport reports the "
     "generic 5.0.0, Sisimai its pseudo-status for 'mailboxfull'"},
    {{"21", "drwebb@maine.link.net", "5.0.0", "5.0.912"},
     "a 1995 sendmail bounce without delivery-status part: '550 ... Host "
     "unknown' has no enhanced code; ParseReport reports the class 5.0.0, "
     "Sisimai its pseudo-status for 'hostunknown'"},
};

using Pairs = std::map<std::string, std::string>;  // recipient -> status

Pairs Ours(const std::string& path) {
  Pairs pairs;
  for (const DsnRecipient& r :
       ParseReport(testing::ReadFile(path)).recipients) {
    pairs[AsciiLower(r.final_recipient)] = r.status;
  }
  return pairs;
}

struct SisimaiRun {
  int exit_status = -1;
  std::string err;                     // its standard error
  std::map<std::string, Pairs> found;  // by path
  std::set<std::string> files;         // every path that yielded a line
};

// Runs tests/tools/sisimai_dump.pl on `paths`.
SisimaiRun RunSisimai(const std::vector<std::string>& paths) {
  std::vector<std::string> argv = {
      "/usr/bin/perl",
      std::string(LDAPMDA_SOURCE_DIR) + "/tests/tools/sisimai_dump.pl"};
  argv.insert(argv.end(), paths.begin(), paths.end());
  const testing::ProcessResult r =
      testing::RunProcess(argv, "", std::chrono::seconds(120));
  SisimaiRun run;
  run.exit_status = r.exit_code;
  run.err = r.err;
  const std::string& out = r.out;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> f;
    std::istringstream cols(line);
    for (std::string col; std::getline(cols, col, '\t');) f.push_back(col);
    if (f.size() < 3) continue;
    run.files.insert(f[0]);
    if (!f[1].empty()) run.found[f[0]][AsciiLower(f[1])] = f[2];
  }
  return run;
}

struct Agreement {
  int recipients = 0;  // found by both
  int statuses = 0;    // found by both, with the same status
  int total = 0;       // found by either
  std::set<Disagreement> disagreements;
};

Agreement Compare(const std::vector<std::string>& paths, const SisimaiRun& run,
                  std::ostream& table) {
  Agreement a;
  for (const std::string& path : paths) {
    const Pairs ours = Ours(path);
    const auto it = run.found.find(path);
    const Pairs theirs = it == run.found.end() ? Pairs() : it->second;
    std::set<std::string> all;
    for (const auto& [rcpt, status] : ours) all.insert(rcpt);
    for (const auto& [rcpt, status] : theirs) all.insert(rcpt);
    for (const std::string& rcpt : all) {
      const auto o = ours.find(rcpt);
      const auto t = theirs.find(rcpt);
      const std::string os = o == ours.end() ? "(missing)" : o->second;
      const std::string ts = t == theirs.end() ? "(missing)" : t->second;
      ++a.total;
      if (o != ours.end() && t != theirs.end()) ++a.recipients;
      if (os == ts) {
        ++a.statuses;
      } else {
        a.disagreements.insert({BaseName(path), rcpt, os, ts});
      }
      table << "  " << (os == ts ? "  " : "* ") << BaseName(path) << "\t"
            << rcpt << "\tours " << (os.empty() ? "-" : os) << "\tsisimai "
            << (ts.empty() ? "-" : ts) << "\n";
    }
  }
  return a;
}

std::string Rate(int n, int total) {
  return std::to_string(n) + "/" + std::to_string(total) + " (" +
         std::to_string(total == 0 ? 0 : (100 * n + total / 2) / total) + "%)";
}

std::set<Disagreement> KnownSet() {
  std::set<Disagreement> known;
  for (const Known& k : kKnownDisagreements) known.insert(k.d);
  return known;
}

TEST(SisimaiTest, AgreesWithParseReportOnBounces) {
  std::vector<std::string> all = kRfc3464Files;
  all.insert(all.end(), kNonStandardFiles.begin(), kNonStandardFiles.end());
  const SisimaiRun run = RunSisimai(all);
  // Sisimai is a test dependency (scripts/install-deps): its absence is a
  // failure, never a skip.
  ASSERT_EQ(run.exit_status, 0)
      << "perl or Sisimai (libsisimai-perl) missing, or a file unreadable: "
      << run.err;
  for (const std::string& path : all) {
    EXPECT_TRUE(run.files.count(path)) << "no output for " << path;
  }

  std::ostringstream table;
  table << "RFC 3464:\n";
  const Agreement dsn = Compare(kRfc3464Files, run, table);
  table << "qmail, Exim, pre-DSN:\n";
  const Agreement other = Compare(kNonStandardFiles, run, table);
  const std::string dsn_line = "Sisimai agreement (RFC 3464): recipients " +
                               Rate(dsn.recipients, dsn.total) + ", statuses " +
                               Rate(dsn.statuses, dsn.total);
  const std::string other_line =
      "Sisimai agreement (qmail/Exim/pre-DSN): recipients " +
      Rate(other.recipients, other.total) + ", statuses " +
      Rate(other.statuses, other.total);
  std::cout << table.str() << dsn_line << "\n" << other_line << "\n";
  RecordProperty("sisimai_rfc3464", dsn_line);
  RecordProperty("sisimai_nonstandard", other_line);

  // Each disagreement is a known one, and each known one still occurs.
  std::set<Disagreement> seen = dsn.disagreements;
  seen.insert(other.disagreements.begin(), other.disagreements.end());
  for (const Disagreement& d : seen) {
    EXPECT_TRUE(KnownSet().count(d))
        << "new disagreement: " << d.file << " " << d.recipient << " ours "
        << d.ours << " sisimai " << d.sisimai;
  }
  for (const Known& k : kKnownDisagreements) {
    EXPECT_TRUE(seen.count(k.d))
        << "no longer disagrees, drop it from the table: " << k.d.file << " "
        << k.d.recipient;
  }

  // Floors: the rates measured when this test was written (RFC 3464
  // recipients 13/14, statuses 12/14), which may only go up.
  ASSERT_GE(dsn.total, 14);
  EXPECT_GE(100 * dsn.recipients, 92 * dsn.total);
  EXPECT_GE(100 * dsn.statuses, 85 * dsn.total);
}

}  // namespace
}  // namespace ldapmda
