// confirm: replica confirmation, the optional write concern of a
// replicated directory (ARCHITECTURE.md §5). After the add on a provider
// succeeded, the new entry must be visible on confirm_count of the
// confirm_host replicas within confirm_timeout; otherwise the delivery
// defers (4.4.3), so that Postfix keeps its copy until the directory holds
// the message in more than one place. The retry finds the entry already
// stored (its DN derives from the bytes) and only confirms again.
#ifndef LDAPMDA_CONFIRM_H_
#define LDAPMDA_CONFIRM_H_

#include <chrono>
#include <string>
#include <vector>

#include "ldapmda/config.h"
#include "ldapmda/deadline.h"
#include "ldapmda/directory.h"
#include "ldapmda/status.h"

namespace ldapmda {

struct Replica {
  std::string name;  // the URI, for texts and the log
  Directory* directory;
};

class ReplicaConfirmer {
 public:
  // `window` is the deadline the replicas' directories were made with:
  // each Confirm() restarts it with confirm_timeout, capped by what is left
  // of `deadline`, so that no search on a replica outlives either.
  ReplicaConfirmer(const Config& config, std::vector<Replica> replicas,
                   Deadline& window, const Deadline& deadline)
      : config_(config),
        replicas_(std::move(replicas)),
        window_(window),
        deadline_(deadline) {}

  bool enabled() const { return !replicas_.empty(); }

  // Polls the replicas for `dn` (base searches, asking for no attributes)
  // until enough have it or the window closes. 2.0.0 with "confirmed by K
  // of N replicas", else 4.4.3 naming what each missing replica said.
  Outcome Confirm(const std::string& dn);

 private:
  const Config& config_;
  std::vector<Replica> replicas_;
  Deadline& window_;
  const Deadline& deadline_;
};

}  // namespace ldapmda

#endif  // LDAPMDA_CONFIRM_H_
