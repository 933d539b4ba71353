// sisimai_compare: see sisimai_compare.h.
#include "core/sisimai_compare.h"

#include <chrono>
#include <sstream>

#include "ldapmda/report.h"
#include "ldapmda/text.h"
#include "support/process.h"

namespace ldapmda::testing {
namespace {

constexpr char kMissing[] = "(missing)";

// ParseReport's verdicts: a bounce's recipients, or a complaint's
// Original-Rcpt-To (Sisimai calls those "feedback").
Verdicts Ours(const Report& report) {
  Verdicts out;
  for (const DsnRecipient& r : report.recipients) {
    if (r.reason.empty()) continue;  // delivered, relayed, expanded
    out[AsciiLower(r.final_recipient)] = {r.status, r.reason};
  }
  // Who complained: Original-Rcpt-To, else the original's To.
  const auto& complained = report.original_rcpt_to.empty()
                               ? report.original_to
                               : report.original_rcpt_to;
  for (const std::string& rcpt : complained) {
    out[AsciiLower(rcpt)] = {"", "feedback"};
  }
  return out;
}

std::string Family(const Report& report, bool sisimai_vacation,
                   bool sisimai_found) {
  if (!report.format.empty()) return report.format;
  if (sisimai_vacation) return "rfc3834";
  return sisimai_found ? "unrecognised" : "none";
}

std::string Shown(const std::string& v) { return v.empty() ? "-" : v; }

}  // namespace

std::string BaseName(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

SisimaiRun RunSisimai(const std::vector<std::string>& paths) {
  std::vector<std::string> argv = {
      "/usr/bin/perl",
      std::string(LDAPMDA_SOURCE_DIR) + "/tests/tools/sisimai_dump.pl"};
  argv.insert(argv.end(), paths.begin(), paths.end());
  const ProcessResult r = RunProcess(argv, "", std::chrono::seconds(600));
  SisimaiRun run;
  run.exit_status = r.exit_code;
  run.err = r.err;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> f;
    std::istringstream cols(line);
    for (std::string col; std::getline(cols, col, '\t');) f.push_back(col);
    if (f.size() < 4) continue;
    run.files.insert(f[0]);
    if (f[3] == "vacation") {
      run.vacation[f[0]] = true;
    } else if (!f[1].empty()) {
      run.found[f[0]][AsciiLower(f[1])] = {f[2], f[3]};
    }
  }
  return run;
}

std::vector<FileComparison> Compare(const std::vector<std::string>& paths,
                                    const SisimaiRun& run) {
  std::vector<FileComparison> out;
  for (const std::string& path : paths) {
    const Report report = ParseReport(ReadFile(path));
    FileComparison c;
    c.path = path;
    c.ours = Ours(report);
    if (auto it = run.found.find(path); it != run.found.end()) {
      c.theirs = it->second;
    }
    c.sisimai_vacation = run.vacation.count(path) > 0;
    c.ours_auto_reply = !report.auto_submitted.empty();
    c.family = Family(report, c.sisimai_vacation, !c.theirs.empty());
    out.push_back(std::move(c));
  }
  return out;
}

bool IsPseudoStatus(const std::string& status) {
  // 5.0.9xx: a detail of three digits beginning with 9.
  return status.size() == 7 && status.compare(1, 3, ".0.") == 0 &&
         status[4] == '9';
}

std::map<std::string, Tally> TallyFamilies(
    const std::vector<FileComparison>& files,
    std::set<Disagreement>* disagreements) {
  std::map<std::string, Tally> tallies;
  for (const FileComparison& c : files) {
    const std::string file = BaseName(c.path);
    for (Tally* t : {&tallies[c.family], &tallies["all"]}) {
      if (c.sisimai_vacation) {
        ++t->auto_replies;
        if (c.ours_auto_reply) ++t->auto_marked;
      }
    }
    if (c.sisimai_vacation && !c.ours_auto_reply) {
      disagreements->insert({file, "", "auto-reply", "unmarked", "vacation"});
    }
    std::set<std::string> all;
    for (const auto& [rcpt, v] : c.ours) all.insert(rcpt);
    for (const auto& [rcpt, v] : c.theirs) all.insert(rcpt);
    for (const std::string& rcpt : all) {
      const auto o = c.ours.find(rcpt);
      const auto t = c.theirs.find(rcpt);
      const bool ours = o != c.ours.end(), theirs = t != c.theirs.end();
      for (Tally* tally : {&tallies[c.family], &tallies["all"]}) {
        if (theirs) ++tally->sisimai_recipients;
        if (theirs && ours) ++tally->found;
        if (ours && !theirs) ++tally->extra;
      }
      if (!ours || !theirs) {
        disagreements->insert({file, rcpt, "recipient",
                               ours ? o->second.reason : kMissing,
                               theirs ? t->second.reason : kMissing});
        continue;
      }
      const Verdict& a = o->second;
      const Verdict& b = t->second;
      const bool real =
          !a.status.empty() && !b.status.empty() && !IsPseudoStatus(b.status);
      for (Tally* tally : {&tallies[c.family], &tallies["all"]}) {
        ++tally->reasons;
        if (a.reason == b.reason) ++tally->same_reason;
        if (real) ++tally->statuses;
        if (real && a.status == b.status) ++tally->same_status;
      }
      if (real && a.status != b.status) {
        disagreements->insert({file, rcpt, "status", a.status, b.status});
      }
      if (a.reason != b.reason) {
        disagreements->insert({file, rcpt, "reason", a.reason, b.reason});
      }
    }
  }
  return tallies;
}

std::string Rate(int n, int total) {
  return std::to_string(n) + "/" + std::to_string(total) + " (" +
         std::to_string(total == 0 ? 100 : (100 * n + total / 2) / total) +
         "%)";
}

std::string Table(const std::map<std::string, Tally>& tallies) {
  std::ostringstream out;
  out << "family\trecipients found\tsame status\tsame reason\textra\t"
         "auto-replies marked\n";
  const auto line = [&](const std::string& name, const Tally& t) {
    out << name << "\t" << Rate(t.found, t.sisimai_recipients) << "\t"
        << Rate(t.same_status, t.statuses) << "\t"
        << Rate(t.same_reason, t.reasons) << "\t" << t.extra << "\t"
        << Rate(t.auto_marked, t.auto_replies) << "\n";
  };
  for (const auto& [name, t] : tallies) {
    if (name != "all") line(name, t);
  }
  if (auto it = tallies.find("all"); it != tallies.end()) {
    line("all", it->second);
  }
  return out.str();
}

std::string Listing(const std::set<Disagreement>& disagreements,
                    const std::map<Disagreement, std::string>& causes) {
  std::ostringstream out;
  for (const Disagreement& d : disagreements) {
    out << "  " << d.file << "\t" << Shown(d.recipient) << "\t" << d.what
        << "\tours " << Shown(d.ours) << "\tsisimai " << Shown(d.sisimai)
        << "\n";
    if (const auto it = causes.find(d); it != causes.end()) {
      out << "    cause: " << it->second << "\n";
    }
  }
  return out.str();
}

}  // namespace ldapmda::testing
