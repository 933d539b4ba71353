// sisimai_compare: ParseReport beside Sisimai on any messages, one file
// each (directories are read recursively):
//
//   sisimai_compare [-v] FILE|DIR...
//   sisimai_compare -d FILE...   (what ParseReport finds, one line each)
//
// Prints, per format family, the recipients Sisimai found that ParseReport
// found too, the same status (where both read a real one), the same reason,
// the recipients only ParseReport found and the automatic replies marked;
// then every disagreement. With -v, also each file's family.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "core/sisimai_compare.h"
#include "ldapmda/message.h"
#include "ldapmda/report.h"
#include "support/process.h"

namespace fs = std::filesystem;
using ldapmda::testing::ReadFile;
using namespace ldapmda::testing;

int main(int argc, char** argv) {
  bool verbose = false;
  if (argc > 2 && std::string(argv[1]) == "-d") {
    ldapmda::InitMessageLibrary();
    for (int i = 2; i < argc; ++i) {
      const ldapmda::Report r = ldapmda::ParseReport(ReadFile(argv[i]));
      std::cout << argv[i] << "\tformat=" << r.format
                << "\tmta=" << r.reporting_mta
                << "\tid=" << r.original_message_id << "\n";
      for (const ldapmda::DsnRecipient& d : r.recipients) {
        std::cout << "  " << d.final_recipient << "\t" << d.action << "\t"
                  << d.status << "\t" << d.reason << "/" << d.bounce_type
                  << "\tcmd=" << d.smtp_command << "\tremote=" << d.remote_mta
                  << "\n    " << d.diagnostic << "\n";
      }
    }
    return 0;
  }
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-v") {
      verbose = true;
    } else if (fs::is_directory(arg)) {
      for (const auto& e : fs::recursive_directory_iterator(arg)) {
        if (e.is_regular_file()) paths.push_back(e.path().string());
      }
    } else {
      paths.push_back(arg);
    }
  }
  if (paths.empty()) {
    std::cerr << "usage: sisimai_compare [-v] FILE|DIR...\n";
    return 64;
  }
  std::sort(paths.begin(), paths.end());
  ldapmda::InitMessageLibrary();
  const SisimaiRun run = RunSisimai(paths);
  if (run.exit_status != 0) {
    std::cerr << "sisimai_compare: Sisimai failed: " << run.err;
    return 1;
  }
  const std::vector<FileComparison> files = Compare(paths, run);
  if (verbose) {
    for (const FileComparison& f : files) {
      std::cout << f.family << "\t" << f.path << "\n";
    }
  }
  std::set<Disagreement> disagreements;
  const auto tallies = TallyFamilies(files, &disagreements);
  std::cout << Table(tallies) << "\ndisagreements:\n" << Listing(disagreements);
  return 0;
}
