// Unit tests: pipe-mode command line.
#include "mda/cli.h"

#include <gtest/gtest.h>

#include "ldapmda/config.h"

namespace ldapmda {
namespace {

Options Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "ldapmda");
  return ParseOptions(static_cast<int>(args.size()), args.data());
}

TEST(ParseOptionsTest, PostfixArgv) {
  const Options o = Parse({"-f", "sender@example.org", "-a", "orig@example.com",
                           "-q", "4ABC123", "-d", "alice@example.com"});
  EXPECT_EQ(o.config_file, kDefaultConfigFile);
  EXPECT_EQ(o.sender, "sender@example.org");
  EXPECT_EQ(o.OriginalRecipient(0), "orig@example.com");
  EXPECT_EQ(o.queue_id, "4ABC123");
  EXPECT_EQ(o.recipients, std::vector<std::string>{"alice@example.com"});
}

TEST(ParseOptionsTest, NullSenderSpellings) {
  EXPECT_EQ(Parse({"-f", "", "-d", "a@x"}).sender, "");
  EXPECT_EQ(Parse({"-f", "MAILER-DAEMON", "-d", "a@x"}).sender, "");
  EXPECT_EQ(Parse({"-f", "mailer-daemon", "-d", "a@x"}).sender, "");
  EXPECT_EQ(Parse({"-d", "a@x"}).sender, "");
}

TEST(ParseOptionsTest, SeveralRecipients) {
  // pipe(8) expands ${recipient} into one argument per recipient.
  EXPECT_EQ(Parse({"-d", "a@x", "b@x", "c@x"}).recipients,
            (std::vector<std::string>{"a@x", "b@x", "c@x"}));
  EXPECT_EQ(Parse({"-d", "a@x", "-d", "b@x"}).recipients,
            (std::vector<std::string>{"a@x", "b@x"}));
}

TEST(ParseOptionsTest, OriginalRecipientsPairWithRecipients) {
  // With a recipient limit above 1, pipe(8) expands both macros into one
  // argument per recipient; no original recipient may become a recipient.
  const Options o =
      Parse({"-a", "o1@x", "o2@x", "-q", "Q", "-d", "r1@x", "r2@x"});
  EXPECT_EQ(o.recipients, (std::vector<std::string>{"r1@x", "r2@x"}));
  EXPECT_EQ(o.OriginalRecipient(0), "o1@x");
  EXPECT_EQ(o.OriginalRecipient(1), "o2@x");
  EXPECT_EQ(Parse({"-d", "r1@x", "r2@x"}).OriginalRecipient(1), "");
  EXPECT_THROW(Parse({"-a", "o1@x", "o2@x", "-d", "r1@x"}), UsageError);
}

TEST(ParseOptionsTest, ConfigAndOverrides) {
  const Options o = Parse({"-c", "/tmp/x.conf", "-o", "timeout=1", "-o",
                           "log=stderr", "-d", "a@x"});
  EXPECT_EQ(o.config_file, "/tmp/x.conf");
  EXPECT_EQ(o.overrides, (std::vector<std::string>{"timeout=1", "log=stderr"}));
}

TEST(ParseOptionsTest, LogShorthandIsTheLastOverride) {
  EXPECT_EQ(Parse({"--log=stderr", "-o", "log=syslog", "-d", "a@x"}).overrides,
            (std::vector<std::string>{"log=syslog", "log=stderr"}));
}

TEST(ParseOptionsTest, LmtpAndRecountTakeNoRecipients) {
  EXPECT_TRUE(Parse({"--lmtp"}).lmtp);
  EXPECT_THROW(Parse({"--lmtp", "-d", "a@x"}), UsageError);
  EXPECT_EQ(Parse({"--recount", "a@x"}).recount, "a@x");
  const Options o = Parse({"-e", "lists", "-d", "a+lists@x"});
  EXPECT_EQ(o.ExtensionOf(0), "lists");
  EXPECT_THROW(Parse({"-e", "a", "b", "-d", "a@x"}), UsageError);
}

TEST(ParseOptionsTest, HelpAndVersionNeedNoRecipient) {
  EXPECT_TRUE(Parse({"--help"}).help);
  EXPECT_TRUE(Parse({"--version"}).version);
}

TEST(ParseOptionsTest, UsageErrors) {
  EXPECT_THROW(Parse({}), UsageError);
  EXPECT_THROW(Parse({"-f", "a@x"}), UsageError);
  EXPECT_THROW(Parse({"--bogus", "-d", "a@x"}), UsageError);
  EXPECT_THROW(Parse({"-d"}), UsageError);
  EXPECT_THROW(Parse({"-c"}), UsageError);
}

TEST(UsageTextTest, MentionsEveryOption) {
  const std::string text = UsageText();
  for (const char* opt :
       {"-c", "-o", "-f", "-a", "-q", "-d", "--help", "--version"}) {
    EXPECT_NE(text.find(opt), std::string::npos) << opt;
  }
}

}  // namespace
}  // namespace ldapmda
