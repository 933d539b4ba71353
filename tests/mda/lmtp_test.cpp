// Unit tests: the LMTP protocol state machine, fed bytes as a client
// would send them (pipelined, split anywhere), with a scripted backend.
#include "mda/lmtp.h"

#include <gtest/gtest.h>

#include <map>

namespace ldapmda {
namespace {

using namespace std::string_literals;

// Accepts every recipient except those scripted otherwise; records what
// was delivered.
class ScriptedBackend : public LmtpBackend {
 public:
  Outcome Accept(const Address& address, Resolution* where) override {
    const std::string& recipient = address.text;
    accepted.push_back(recipient);
    const auto it = at_rcpt.find(recipient);
    if (it != at_rcpt.end()) return it->second;
    where->entry.dn = "uid=" + recipient;
    return Outcome::Sent("found");
  }
  Outcome Deliver(std::string_view raw, const MessageInfo& info,
                  const Envelope& envelope, const Address& address,
                  const Resolution& where) override {
    const std::string& recipient = address.text;
    EXPECT_EQ(where.entry.dn, "uid=" + recipient);
    delivered.push_back({recipient, std::string(raw)});
    senders.push_back(envelope.sender);
    subjects.push_back(info.subject.value_or(""));
    const auto it = at_data.find(recipient);
    return it != at_data.end() ? it->second : Outcome::Sent("stored as x");
  }

  std::map<std::string, Outcome> at_rcpt, at_data;
  std::vector<std::string> accepted, senders, subjects;
  std::vector<std::pair<std::string, std::string>> delivered;
};

class LmtpTest : public ::testing::Test {
 protected:
  LmtpTest() : session_(Settings(), backend_) {}
  static LmtpSettings Settings() {
    LmtpSettings s;
    s.hostname = "mx.test";
    s.max_message_size = 1000;
    s.max_recipients = 100;
    s.max_line = 512;
    return s;
  }
  // The reply lines of feeding `input`, without CRLF.
  std::vector<std::string> Feed(std::string_view input) {
    return Lines(session_.Feed(input));
  }
  static std::vector<std::string> Lines(const std::string& replies) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    for (std::size_t end;
         (end = replies.find("\r\n", pos)) != std::string::npos;
         pos = end + 2) {
      out.push_back(replies.substr(pos, end - pos));
    }
    EXPECT_EQ(pos, replies.size()) << "reply not CRLF-terminated";
    return out;
  }
  // A transaction up to and including DATA's 354.
  void Begin(const std::vector<std::string>& rcpts) {
    std::string cmds = "LHLO client\r\nMAIL FROM:<s@x>\r\n";
    for (const auto& r : rcpts) cmds += "RCPT TO:<" + r + ">\r\n";
    cmds += "DATA\r\n";
    const auto replies = Feed(cmds);
    ASSERT_FALSE(replies.empty());
    ASSERT_EQ(replies.back().substr(0, 3), "354");
  }

  ScriptedBackend backend_;
  LmtpSession session_;
};

TEST_F(LmtpTest, GreetingAndLhloAdvertiseTheExtensions) {
  EXPECT_EQ(session_.Greeting(), "220 mx.test LMTP ldapmda ready\r\n");
  EXPECT_EQ(Feed("LHLO client.example\r\n"),
            (std::vector<std::string>{"250-mx.test", "250-PIPELINING",
                                      "250-ENHANCEDSTATUSCODES", "250-8BITMIME",
                                      "250 SIZE 1000"}));
}

TEST_F(LmtpTest, PipelinedTransactionWithMixedRecipientOutcomes) {
  backend_.at_rcpt.insert_or_assign(
      "nobody@x", Outcome{kDsnNoSuchUser, "no such user here"});
  backend_.at_rcpt.insert_or_assign("dup@x", Outcome{kDsnConfig, "ambiguous"});
  backend_.at_rcpt.insert_or_assign("down@x",
                                    Outcome{kDsnDirectoryUnavailable, "down"});
  backend_.at_data.insert_or_assign("full@x",
                                    Outcome{kDsnOverQuota, "mailbox full"});
  backend_.at_data.insert_or_assign(
      "later@x", Outcome{kDsnDirectoryUnavailable, "down now"});
  backend_.at_data.insert_or_assign("big@x",
                                    Outcome{kDsnOverQuotaTemp, "full for now"});
  const auto replies = Feed(
      "LHLO c\r\nMAIL FROM:<s@x> SIZE=100 BODY=8BITMIME\r\n"
      "RCPT TO:<a@x>\r\nRCPT TO:<nobody@x>\r\nRCPT TO:<dup@x>\r\n"
      "RCPT TO:<down@x>\r\nRCPT TO:<full@x>\r\nRCPT TO:<later@x>\r\n"
      "RCPT TO:<big@x>\r\nDATA\r\n");
  const std::vector<std::string> want_rcpt = {
      "250 2.1.0 Ok",
      "250 2.1.5 Ok",
      "550 5.1.1 <nobody@x>: no such user here",
      "451 4.3.5 <dup@x>: ambiguous",
      "451 4.4.3 <down@x>: down",
      "250 2.1.5 Ok",
      "250 2.1.5 Ok",
      "250 2.1.5 Ok",
      "354 End data with <CR><LF>.<CR><LF>"};
  ASSERT_EQ(replies.size(), 5 + want_rcpt.size());
  EXPECT_EQ(std::vector<std::string>(replies.begin() + 5, replies.end()),
            want_rcpt);
  // One reply per accepted recipient, in RCPT order.
  EXPECT_EQ(
      Feed("Subject: hi\r\n\r\nbody\r\n.\r\n"),
      (std::vector<std::string>{
          "250 2.0.0 <a@x>: stored as x", "552 5.2.2 <full@x>: mailbox full",
          "451 4.4.3 <later@x>: down now", "452 4.2.2 <big@x>: full for now"}));
  ASSERT_EQ(backend_.delivered.size(), 4u);
  EXPECT_EQ(backend_.subjects[0], "hi");
}

TEST_F(LmtpTest, StoresWhatPipeWouldHaveStored) {
  Begin({"Alice@X"});
  Feed("Subject: s\r\n\r\n..leading dot\r\n...two\r\n.x\r\nplain\r\n.\r\n");
  ASSERT_EQ(backend_.delivered.size(), 1u);
  EXPECT_EQ(backend_.delivered[0].second,
            "Return-Path: <s@x>\nDelivered-To: alice@x\n"
            "Subject: s\n\n.leading dot\n..two\nx\nplain\n");
  EXPECT_EQ(backend_.senders[0], "s@x");
}

// pipe(8)'s flag D: a Delivered-To in the header section naming a
// recipient (in any case) refuses the message for that recipient only.
TEST_F(LmtpTest, DeliveredToNamingARecipientIsALoop) {
  Begin({"Alice@X", "b@x", "c@x"});
  EXPECT_EQ(Feed("Delivered-To: alice@x\r\nDelivered-To: C@X\r\n"
                 "Subject: s\r\n\r\nDelivered-To: b@x\r\n.\r\n"),
            (std::vector<std::string>{
                "550 5.4.6 <Alice@X>: mail forwarding loop for alice@x",
                "250 2.0.0 <b@x>: stored as x",
                "550 5.4.6 <c@x>: mail forwarding loop for c@x"}));
  ASSERT_EQ(backend_.delivered.size(), 1u);
  EXPECT_EQ(backend_.delivered[0].first, "b@x");
  // The next transaction is not affected.
  Feed("MAIL FROM:<s@x>\r\nRCPT TO:<Alice@X>\r\nDATA\r\n");
  EXPECT_EQ(Feed("Delivered-To: other@x\r\n\r\nx\r\n.\r\n"),
            (std::vector<std::string>{"250 2.0.0 <Alice@X>: stored as x"}));
}

TEST_F(LmtpTest, NullSender) {
  Feed("LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<a@x>\r\nDATA\r\nx\r\n.\r\n");
  ASSERT_EQ(backend_.delivered.size(), 1u);
  EXPECT_EQ(backend_.delivered[0].second.rfind("Return-Path: <>\n", 0), 0u);
  EXPECT_EQ(backend_.senders[0], "");
}

TEST_F(LmtpTest, BareLineFeedsAndEightBitAndNulBytes) {
  const auto replies = Feed(
      "LHLO c\nMAIL FROM:<s@x>\nRCPT TO:<a@x>\nDATA\n"
      "Subject: caf\xc3\xa9\n\n\x80\xff\0bin\r\r\nlast\n.\n"s);
  EXPECT_EQ(replies.back(), "250 2.0.0 <a@x>: stored as x");
  ASSERT_EQ(backend_.delivered.size(), 1u);
  EXPECT_EQ(backend_.delivered[0].second,
            "Return-Path: <s@x>\nDelivered-To: a@x\n"
            "Subject: caf\xc3\xa9\n\n\x80\xff\0bin\r\nlast\n"s);
  EXPECT_EQ(backend_.subjects[0], "café");
}

TEST_F(LmtpTest, InputSplitAnywhereGivesTheSameResult) {
  const std::string script =
      "LHLO c\r\nMAIL FROM:<s@x>\r\nRCPT TO:<a@x>\r\nDATA\r\n"
      "Subject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n";
  std::string replies;
  for (char c : script) replies += session_.Feed(std::string(1, c));
  const auto lines = Lines(replies);
  ASSERT_EQ(lines.size(), 10u);  // 5 for LHLO, MAIL, RCPT, 354, dot, QUIT
  EXPECT_EQ(lines[8], "250 2.0.0 <a@x>: stored as x");
  EXPECT_EQ(lines[9], "221 2.0.0 Bye");
  EXPECT_TRUE(session_.closed());
  ASSERT_EQ(backend_.delivered.size(), 1u);
  EXPECT_EQ(backend_.delivered[0].second,
            "Return-Path: <s@x>\nDelivered-To: a@x\nSubject: x\n\n.dot\n");
}

TEST_F(LmtpTest, SeveralTransactionsOnOneConnection) {
  Begin({"a@x"});
  Feed("first\r\n.\r\n");
  EXPECT_EQ(Feed("MAIL FROM:<t@x>\r\nRCPT TO:<b@x>\r\nRSET\r\n"),
            (std::vector<std::string>{"250 2.1.0 Ok", "250 2.1.5 Ok",
                                      "250 2.0.0 Ok"}));
  EXPECT_EQ(Feed("MAIL FROM:<u@x>\r\nRCPT TO:<c@x>\r\nDATA\r\nsecond\r\n.\r\n")
                .back(),
            "250 2.0.0 <c@x>: stored as x");
  ASSERT_EQ(backend_.delivered.size(), 2u);
  EXPECT_EQ(backend_.delivered[1].second,
            "Return-Path: <u@x>\nDelivered-To: c@x\nsecond\n");
}

TEST_F(LmtpTest, EndOfInputInsideDataStoresNothing) {
  Begin({"a@x"});
  Feed("Subject: cut\r\n\r\nhalf a mess");
  session_.Eof();
  EXPECT_TRUE(backend_.delivered.empty());
}

TEST_F(LmtpTest, OverlongCommandLineIsRefusedOnceThenTheSessionGoesOn) {
  Feed("LHLO c\r\n");
  EXPECT_EQ(Feed(std::string(300, 'N')), std::vector<std::string>{});
  EXPECT_EQ(Feed(std::string(300, 'N')),
            std::vector<std::string>{"500 5.5.2 line too long"});
  EXPECT_EQ(Feed(std::string(5000, 'N') + "\r\nNOOP\r\n"),
            std::vector<std::string>{"250 2.0.0 Ok"});
}

TEST_F(LmtpTest, LongDataLinesAreFineUpToTheSizeLimit) {
  Begin({"a@x"});
  EXPECT_EQ(Feed(std::string(900, 'L') + "\r\n.\r\n").back(),
            "250 2.0.0 <a@x>: stored as x");
}

TEST_F(LmtpTest, SizeLimits) {
  Feed("LHLO c\r\n");
  EXPECT_EQ(
      Feed("MAIL FROM:<s@x> SIZE=1001\r\n"),
      std::vector<std::string>{"552 5.3.4 message size exceeds fixed limit"});
  // Larger than announced: refused for every recipient after the dot,
  // nothing stored, the session goes on.
  Feed("MAIL FROM:<s@x>\r\nRCPT TO:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n");
  std::vector<std::string> replies;
  for (int i = 0; i < 30; ++i) {
    const auto r = Feed(std::string(100, 'x') + "\r\n");
    replies.insert(replies.end(), r.begin(), r.end());
  }
  EXPECT_TRUE(replies.empty());
  const auto end = Feed(".\r\n");
  ASSERT_EQ(end.size(), 2u);
  EXPECT_EQ(end[0].rfind("552 5.2.3 <a@x>: ", 0), 0u);
  EXPECT_EQ(end[1].rfind("552 5.2.3 <b@x>: ", 0), 0u);
  EXPECT_TRUE(backend_.delivered.empty());
  EXPECT_EQ(Feed("NOOP\r\n"), std::vector<std::string>{"250 2.0.0 Ok"});
}

TEST_F(LmtpTest, TooManyRecipients) {
  Feed("LHLO c\r\nMAIL FROM:<s@x>\r\n");
  std::string rcpts;
  for (int i = 0; i < 101; ++i)
    rcpts += "RCPT TO:<r" + std::to_string(i) + "@x>\r\n";
  const auto replies = Feed(rcpts);
  ASSERT_EQ(replies.size(), 101u);
  EXPECT_EQ(replies[99], "250 2.1.5 Ok");
  EXPECT_EQ(replies[100], "452 4.5.3 too many recipients");
}

TEST_F(LmtpTest, SequenceAndSyntaxErrors) {
  EXPECT_EQ(Feed("MAIL FROM:<s@x>\r\n")[0].substr(0, 9), "503 5.5.1");
  EXPECT_EQ(Feed("HELO c\r\n")[0].substr(0, 9), "500 5.5.1");
  EXPECT_EQ(Feed("EHLO c\r\n")[0].substr(0, 9), "500 5.5.1");
  EXPECT_EQ(Feed("LHLO\r\n")[0].substr(0, 9), "501 5.5.4");
  Feed("LHLO c\r\n");
  EXPECT_EQ(Feed("RCPT TO:<a@x>\r\n")[0].substr(0, 9), "503 5.5.1");
  EXPECT_EQ(Feed("DATA\r\n")[0].substr(0, 9), "503 5.5.1");
  EXPECT_EQ(Feed("MAIL FROM:s@x\r\n")[0].substr(0, 9), "501 5.1.7");
  EXPECT_EQ(Feed("MAIL TO:<s@x>\r\n")[0].substr(0, 9), "501 5.5.4");
  EXPECT_EQ(Feed("MAIL FROM:<s@x> RET=FULL\r\n")[0].substr(0, 9), "555 5.5.4");
  EXPECT_EQ(Feed("MAIL FROM:<s@x> SIZE=big\r\n")[0].substr(0, 9), "501 5.5.4");
  EXPECT_EQ(Feed("MAIL FROM:<s@x>\r\n")[0], "250 2.1.0 Ok");
  EXPECT_EQ(Feed("MAIL FROM:<s@x>\r\n")[0].substr(0, 9), "503 5.5.1");
  EXPECT_EQ(Feed("RCPT TO:<a@x> NOTIFY=NEVER\r\n")[0].substr(0, 9),
            "555 5.5.4");
  EXPECT_EQ(Feed("RCPT TO:<a@>\r\n")[0].substr(0, 9), "550 5.1.3");
  EXPECT_EQ(Feed("RCPT TO:a@x\r\n")[0].substr(0, 9), "501 5.1.3");
  EXPECT_EQ(Feed("DATA\r\n")[0], "503 5.5.1 no valid recipients");
  EXPECT_EQ(Feed("VRFY a@x\r\n")[0].substr(0, 9), "252 2.5.2");
  EXPECT_EQ(Feed("NOOP\r\n")[0], "250 2.0.0 Ok");
  EXPECT_EQ(Feed("BDAT 10 LAST\r\n")[0].substr(0, 9), "500 5.5.2");
  EXPECT_EQ(Feed("quit\r\n")[0], "221 2.0.0 Bye");
  EXPECT_TRUE(session_.closed());
  EXPECT_TRUE(backend_.accepted.empty());  // nothing reached a lookup
}

TEST_F(LmtpTest, QuotedLocalPartWithAngleBracket) {
  Feed("LHLO c\r\nMAIL FROM:<\"odd>name\"@x>\r\n");
  EXPECT_EQ(Feed("RCPT TO:<\"we>ird\"@x>\r\n")[0], "250 2.1.5 Ok");
  EXPECT_EQ(backend_.accepted.back(), "\"we>ird\"@x");
}

TEST(LmtpReplyCodeTest, Table) {
  EXPECT_EQ(LmtpReplyCode(kDsnStored), 250);
  EXPECT_EQ(LmtpReplyCode(kDsnNoSuchUser), 550);
  EXPECT_EQ(LmtpReplyCode(kDsnBadAddress), 550);
  EXPECT_EQ(LmtpReplyCode(kDsnDisabled), 550);
  EXPECT_EQ(LmtpReplyCode(kDsnOverQuota), 552);
  EXPECT_EQ(LmtpReplyCode(kDsnTooBig), 552);
  EXPECT_EQ(LmtpReplyCode(kDsnOverQuotaTemp), 452);
  EXPECT_EQ(LmtpReplyCode(kDsnDirectoryUnavailable), 451);
  EXPECT_EQ(LmtpReplyCode(kDsnConfig), 451);
  EXPECT_EQ(LmtpReplyCode(kDsnInternal), 451);
}

}  // namespace
}  // namespace ldapmda
