// Unit tests: what an LMTP session keeps of its recipient lookups, and
// for how long.
#include "mda/lookup_cache.h"

#include <gtest/gtest.h>

namespace ldapmda {
namespace {

using std::chrono::milliseconds;

Resolution At(const std::string& dn) {
  Resolution r;
  r.entry.dn = dn;
  r.mailbox_dn = "cn=mailbox," + dn;
  return r;
}

TEST(LookupCacheTest, KeptForItsLifetimeOnly) {
  LookupCache cache(milliseconds(1000));
  const auto t0 = LookupCache::Clock::now();
  EXPECT_EQ(cache.Find("a@x", t0), nullptr);
  cache.Keep("a@x", At("uid=a"), t0);
  const Resolution* found = cache.Find("a@x", t0 + milliseconds(999));
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->mailbox_dn, "cn=mailbox,uid=a");
  // The address exactly as given: another spelling is looked up.
  EXPECT_EQ(cache.Find("A@x", t0), nullptr);
  EXPECT_EQ(cache.Find("a@x", t0 + milliseconds(1000)), nullptr);
  // A clock that went back is no reason to trust an answer.
  cache.Keep("a@x", At("uid=a"), t0 + milliseconds(10));
  EXPECT_EQ(cache.Find("a@x", t0), nullptr);
}

TEST(LookupCacheTest, ForgetAsksTheDirectoryAgain) {
  LookupCache cache(milliseconds(1000));
  const auto t0 = LookupCache::Clock::now();
  cache.Keep("a@x", At("uid=a"), t0);
  cache.Keep("b@x", At("uid=b"), t0);
  cache.Forget("a@x");
  EXPECT_EQ(cache.Find("a@x", t0), nullptr);
  EXPECT_NE(cache.Find("b@x", t0), nullptr);
}

TEST(LookupCacheTest, LifetimeZeroKeepsNothing) {
  LookupCache cache(milliseconds(0));
  const auto t0 = LookupCache::Clock::now();
  cache.Keep("a@x", At("uid=a"), t0);
  EXPECT_EQ(cache.Find("a@x", t0), nullptr);
}

TEST(LookupCacheTest, FullCacheDropsExpiredThenEverything) {
  LookupCache cache(milliseconds(1000), 2);
  const auto t0 = LookupCache::Clock::now();
  cache.Keep("a@x", At("uid=a"), t0);
  cache.Keep("b@x", At("uid=b"), t0 + milliseconds(600));
  // a@x has expired by now: it makes room for c@x.
  cache.Keep("c@x", At("uid=c"), t0 + milliseconds(1100));
  EXPECT_NE(cache.Find("b@x", t0 + milliseconds(1100)), nullptr);
  EXPECT_NE(cache.Find("c@x", t0 + milliseconds(1100)), nullptr);
  // Nothing has expired: all of it goes, the new one stays.
  cache.Keep("d@x", At("uid=d"), t0 + milliseconds(1200));
  EXPECT_EQ(cache.Find("b@x", t0 + milliseconds(1200)), nullptr);
  EXPECT_EQ(cache.Find("c@x", t0 + milliseconds(1200)), nullptr);
  EXPECT_NE(cache.Find("d@x", t0 + milliseconds(1200)), nullptr);
}

}  // namespace
}  // namespace ldapmda
