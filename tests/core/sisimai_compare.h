// sisimai_compare: ParseReport beside Sisimai (Debian's libsisimai-perl),
// an independent bounce parser, on the same files: per recipient the
// status and the reason each one finds, tallied per format family, and
// every disagreement listed. tests/sisimai_test.cpp holds ParseReport to
// the fixtures' figures; the tool sisimai_compare (tests/tools/) prints
// the same table for any collection of messages.
#ifndef LDAPMDA_TESTS_SISIMAI_COMPARE_H_
#define LDAPMDA_TESTS_SISIMAI_COMPARE_H_

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace ldapmda::testing {

// What one parser says about one recipient.
struct Verdict {
  std::string status;  // "5.1.1", "" when none
  std::string reason;  // "userunknown"...; "feedback" for a complaint
};
using Verdicts = std::map<std::string, Verdict>;  // lower-case recipient

// What Sisimai found, by path; run.exit_status != 0 when it could not run.
struct SisimaiRun {
  int exit_status = -1;
  std::string err;
  std::map<std::string, Verdicts> found;
  std::map<std::string, bool> vacation;  // it took the file for one
  std::set<std::string> files;           // every path that yielded a line
};

// Runs tests/tools/sisimai_dump.pl on `paths` (any number).
SisimaiRun RunSisimai(const std::vector<std::string>& paths);

// One file, both ways.
struct FileComparison {
  std::string path;
  // ParseReport's format ("rfc3464", "gmail"...), "rfc3834" for an
  // automatic reply Sisimai also takes for one, "unrecognised" when only
  // Sisimai found a bounce, "none" when neither did.
  std::string family;
  Verdicts ours;
  Verdicts theirs;
  bool ours_auto_reply = false;  // mdaAutoSubmitted would be set
  bool sisimai_vacation = false;
};

std::vector<FileComparison> Compare(const std::vector<std::string>& paths,
                                    const SisimaiRun& run);

// A difference: which recipient, in what ("recipient", "status",
// "reason", "auto-reply"), and each side's value ("(missing)" for a
// recipient one side did not find).
struct Disagreement {
  std::string file;  // base name
  std::string recipient;
  std::string what;
  std::string ours;
  std::string sisimai;
  bool operator<(const Disagreement& o) const {
    return std::tie(file, recipient, what, ours, sisimai) <
           std::tie(o.file, o.recipient, o.what, o.ours, o.sisimai);
  }
};

// The counts of one family.
struct Tally {
  int sisimai_recipients = 0;  // recipients Sisimai found
  int found = 0;               // ... that ParseReport found too
  int extra = 0;               // found by ParseReport only
  int statuses = 0;            // both found, both gave a real status
  int same_status = 0;
  int reasons = 0;  // both found
  int same_reason = 0;
  int auto_replies = 0;  // Sisimai's vacation messages
  int auto_marked = 0;   // ... that ParseReport marked
};

// A Sisimai status made up from its reason (x.0.9xx), not read from the
// message.
bool IsPseudoStatus(const std::string& status);

// Tallies per family (and "all"), filling `disagreements`.
std::map<std::string, Tally> TallyFamilies(
    const std::vector<FileComparison>& files,
    std::set<Disagreement>* disagreements);

// The tallies as a table, one family a line, and the disagreements, one a
// line, each followed by its cause when `causes` knows it.
std::string Table(const std::map<std::string, Tally>& tallies);
std::string Listing(const std::set<Disagreement>& disagreements,
                    const std::map<Disagreement, std::string>& causes = {});

// "n/total (p%)".
std::string Rate(int n, int total);

// A file's name from its path.
std::string BaseName(const std::string& path);

}  // namespace ldapmda::testing

#endif  // LDAPMDA_TESTS_SISIMAI_COMPARE_H_
