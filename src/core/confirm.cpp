// confirm: replica confirmation (confirm.h).
#include "ldapmda/confirm.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "ldapmda/log.h"

namespace ldapmda {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

// Replication of a small entry takes a few milliseconds (ARCHITECTURE.md §4a),
// of a large one tens: look again soon, then less and less often, so that a
// base search on a replica (a fraction of a millisecond) never adds more
// than about a third to the wait.
constexpr microseconds kFirstPause{500};
constexpr microseconds kMaxPause{20000};

std::string Seconds(milliseconds ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g s",
                static_cast<double>(ms.count()) / 1000.0);
  return text;
}

}  // namespace

Outcome ReplicaConfirmer::Confirm(const std::string& dn) {
  const std::size_t need = config_.RequiredConfirmations();
  const milliseconds window = deadline_.Cap(config_.confirm_timeout);
  window_.Restart(window);

  std::vector<bool> seen(replicas_.size(), false);
  std::vector<std::string> problem(replicas_.size(), "not there yet");
  std::size_t confirmed = 0;
  const SearchRequest request{dn, Scope::kBase, "(objectClass=*)", {}, 1};
  microseconds pause = kFirstPause;
  for (;;) {
    for (std::size_t i = 0; i < replicas_.size() && confirmed < need; ++i) {
      if (seen[i]) continue;
      std::vector<Entry> entries;
      const DirResult r = replicas_[i].directory->Search(request, &entries);
      if (r.ok() && !entries.empty()) {
        seen[i] = true;
        ++confirmed;
      } else if (!r.ok() && !r.no_such_object()) {
        // Down, hung, refusing: it may still come back within the window.
        problem[i] = ClassifyDirResult(DirOp::kSearch, r).text;
      } else {
        problem[i] = "not there yet";
      }
    }
    if (confirmed >= need) {
      return Outcome::Ok("confirmed by " + std::to_string(confirmed) + " of " +
                         std::to_string(replicas_.size()) + " replicas");
    }
    if (window_.Expired()) break;
    // Remaining() rounds down: sleep at least a millisecond at the end.
    std::this_thread::sleep_for(std::min<microseconds>(
        pause, std::max(window_.Remaining(), milliseconds(1))));
    pause = std::min(pause * 3 / 2, kMaxPause);
  }

  std::string missing;
  for (std::size_t i = 0; i < replicas_.size(); ++i) {
    if (seen[i]) continue;
    missing +=
        (missing.empty() ? "" : "; ") + replicas_[i].name + ": " + problem[i];
  }
  Log(LogLevel::kWarning,
      dn + " not confirmed by enough replicas (" + missing + ")");
  return {kDsnDirectoryUnavailable,
          "replication not confirmed: " + std::to_string(confirmed) + " of " +
              std::to_string(need) + " required replicas have " + dn +
              " after " + Seconds(window) + " (" + missing +
              "); deferred until a retry finds it replicated"};
}

}  // namespace ldapmda
