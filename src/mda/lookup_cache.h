// lookup_cache: the recipient lookups an LMTP session keeps for a short
// while (lmtp_lookup_cache), so that a busy mailbox costs one add per
// message instead of a search and an add: at the directory's limit the
// search is a round trip in series with every add.
//
// Only found recipients are kept, never a refusal or a failure, and a
// delivery that does not end in 2.0.0 forgets its recipient, so the next
// RCPT asks the directory again. What a kept answer can miss is a change
// to the recipient's entry made less than the lifetime ago (its removal
// or move only defers: the add finds no parent). A lookup on a read
// replica (server_host) misses changes for its replication delay anyway.
#ifndef LDAPMDA_LOOKUP_CACHE_H_
#define LDAPMDA_LOOKUP_CACHE_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>

#include "ldapmda/recipient.h"

namespace ldapmda {

class LookupCache {
 public:
  using Clock = std::chrono::steady_clock;

  // `lifetime` 0 keeps nothing; at most `capacity` recipients are kept.
  explicit LookupCache(std::chrono::milliseconds lifetime,
                       std::size_t capacity = 1000)
      : lifetime_(lifetime), capacity_(capacity) {}

  // The resolution of `address` (exactly as given) looked up less than the
  // lifetime before `now`; nullptr when there is none.
  const Resolution* Find(const std::string& address, Clock::time_point now);
  // Keeps `where`, the resolution of `address` looked up at `now`.
  void Keep(const std::string& address, const Resolution& where,
            Clock::time_point now);
  // Looks `address` up afresh next time.
  void Forget(const std::string& address) { kept_.erase(address); }

 private:
  struct Kept {
    Resolution where;
    Clock::time_point at;
  };
  std::chrono::milliseconds lifetime_;
  std::size_t capacity_;
  std::unordered_map<std::string, Kept> kept_;
};

}  // namespace ldapmda

#endif  // LDAPMDA_LOOKUP_CACHE_H_
