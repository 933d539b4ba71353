// Unit tests: outcome -> (exit code, report line), the Postfix contract.
#include "ldapmda/status.h"

#include <gtest/gtest.h>

namespace ldapmda {
namespace {

struct ExitRow {
  Dsn dsn;
  int exit_code;
  Disposition disposition;
};

TEST(StatusTest, EveryReportedCodeMapsToAnExitPostfixUnderstands) {
  const ExitRow rows[] = {
      {kDsnStored, 0, Disposition::kSent},
      {kDsnNoSuchUser, 67, Disposition::kBounce},
      {kDsnBadAddress, 67, Disposition::kBounce},
      {kDsnDisabled, 69, Disposition::kBounce},
      {kDsnOverQuota, 69, Disposition::kBounce},
      {kDsnOverQuotaTemp, 75, Disposition::kDefer},
      {kDsnTooBig, 69, Disposition::kBounce},
      {kDsnDirectoryUnavailable, 75, Disposition::kDefer},
      {kDsnConfig, 75, Disposition::kDefer},
      {kDsnInternal, 75, Disposition::kDefer},
  };
  for (const auto& row : rows) {
    const Outcome o{row.dsn, "text"};
    EXPECT_EQ(ExitCodeFor(o), row.exit_code) << row.dsn.str();
    EXPECT_EQ(o.disposition(), row.disposition) << row.dsn.str();
  }
}

TEST(StatusTest, NeverUsesExitCodesPostfixBounces) {
  for (int klass : {2, 4, 5}) {
    for (int subject = 0; subject <= 7; ++subject) {
      const int code = ExitCodeFor({Dsn(klass, subject, 0), ""});
      for (int bad : {1, 64, 70, 74, 78}) EXPECT_NE(code, bad);
      if (klass == 4) {
        EXPECT_EQ(code, 75);
      }
    }
  }
}

TEST(StatusTest, DsnFormats) {
  EXPECT_EQ(kDsnDirectoryUnavailable.str(), "4.4.3");
  EXPECT_EQ(Dsn(5, 7, 12).str(), "5.7.12");
}

TEST(StatusDeathTest, InvalidDsnIsAProgrammingError) {
  EXPECT_DEATH(Dsn(3, 0, 0), "");
  EXPECT_DEATH(Dsn(4, -1, 0), "");
}

TEST(StatusTest, SingleSuccessPrintsTheText) {
  const Verdict v =
      CombineVerdicts({{"a@example.com", Outcome::Sent("stored as x")}});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.line, "stored as x\n");
}

TEST(StatusTest, FailureLineStartsWithTheDsnAtByteZeroAndNamesRecipient) {
  const Verdict v = CombineVerdicts(
      {{"a@example.com", {kDsnNoSuchUser, "no such user here"}}});
  EXPECT_EQ(v.exit_code, 67);
  EXPECT_EQ(v.line, "5.1.1 <a@example.com>: no such user here\n");
}

TEST(StatusTest, AnyDeferralDefersTheRun) {
  const Verdict v =
      CombineVerdicts({{"a@x", Outcome::Sent("stored")},
                       {"b@x", {kDsnNoSuchUser, "unknown"}},
                       {"c@x", {kDsnDirectoryUnavailable, "down"}}});
  EXPECT_EQ(v.exit_code, 75);
  EXPECT_EQ(v.line, "4.4.3 <c@x>: down\n");
}

TEST(StatusTest, BounceWithoutDeferralBouncesAndListsAllBounced) {
  const Verdict v = CombineVerdicts({{"a@x", {kDsnNoSuchUser, "unknown"}},
                                     {"b@x", Outcome::Sent("stored")},
                                     {"c@x", {kDsnTooBig, "too big"}}});
  EXPECT_EQ(v.exit_code, 67);
  EXPECT_EQ(v.line, "5.1.1 <a@x>: unknown; <c@x>: too big\n");
}

TEST(StatusTest, ReportIsOneBoundedLine) {
  const std::string text = "line1\nline2\r\x01" + std::string(5000, 'x');
  const Verdict v = CombineVerdicts({{"a@x", {kDsnInternal, text}}});
  EXPECT_LE(v.line.size(), kMaxReportBytes);
  EXPECT_EQ(v.line.find('\n'), v.line.size() - 1);
  EXPECT_EQ(v.line.find('\r'), std::string::npos);
  EXPECT_EQ(v.line.rfind("4.3.0 ", 0), 0u);
}

TEST(StatusTest, TruncationKeepsUtf8Whole) {
  // 2-byte characters straddling the cut must not be split.
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "\xc3\xa9";
  const Verdict v = ReportGlobal({kDsnConfig, text});
  const std::string body = v.line.substr(0, v.line.size() - 1);
  EXPECT_EQ((body.size() - 6) % 2, 0u);  // "4.3.5 " + whole characters
}

TEST(StatusTest, ReportGlobalHasNoRecipient) {
  const Verdict v = ReportGlobal({kDsnConfig, "usage error"});
  EXPECT_EQ(v.exit_code, 75);
  EXPECT_EQ(v.line, "4.3.5 usage error\n");
}

}  // namespace
}  // namespace ldapmda
