// lookup_cache: see lookup_cache.h.
#include "mda/lookup_cache.h"

namespace ldapmda {

const Resolution* LookupCache::Find(const std::string& address,
                                    Clock::time_point now) {
  const auto it = kept_.find(address);
  if (it == kept_.end()) return nullptr;
  if (now - it->second.at >= lifetime_ || now < it->second.at) {
    kept_.erase(it);
    return nullptr;
  }
  return &it->second.where;
}

void LookupCache::Keep(const std::string& address, const Resolution& where,
                       Clock::time_point now) {
  if (lifetime_.count() <= 0 || capacity_ == 0) return;
  if (kept_.size() >= capacity_ && !kept_.contains(address)) {
    // Full: drop what has expired, and when that is not enough, all.
    std::erase_if(
        kept_, [&](const auto& k) { return now - k.second.at >= lifetime_; });
    if (kept_.size() >= capacity_) kept_.clear();
  }
  kept_.insert_or_assign(address, Kept{where, now});
}

}  // namespace ldapmda
