// End-to-end tests: mail sent over SMTP to a private Postfix, configured
// exactly as README documents, reaches ldapmda through pipe(8) and is
// stored in a real slapd. Every test starts its own slapd and Postfix and
// fails (never skips) when either is missing; every wait is bounded.
// Postfix's own bounces and delay notices, submitted locally, come back
// through ldapmda as searchable reports.
#include <gtest/gtest.h>
#include <ldap.h>

#include <chrono>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/ldap_client.h"
#include "support/postfix_server.h"
#include "support/slapd_server.h"

namespace ldapmda {
namespace {

using testing::LdapError;
using testing::PostfixOptions;
using testing::PostfixServer;
using testing::SendMail;
using testing::Setting;
using testing::SlapdServer;
using testing::SmtpOptions;
using testing::SmtpSession;
using testing::TestEntry;
using testing::WaitFor;

constexpr std::chrono::seconds kWait(30);
const std::string kSender = "sender@example.org";

const std::string kPlain =
    "From: Sender <sender@example.org>\n"
    "To: Alice <alice@example.com>\n"
    "Subject: plain end-to-end\n"
    "Date: Tue, 01 Jul 2003 10:52:37 +0200\n"
    "Message-ID: <e2e-plain@example.org>\n"
    "\n"
    "Hello Alice.\n"
    ".this line starts with a dot (dot-stuffed on the wire)\n"
    "..\n"
    "\n"
    "Bye.\n";

PostfixOptions Options(std::vector<Setting> main_cf = {}) {
  PostfixOptions o;
  o.ldapmda_binary = LDAPMDA_BINARY;
  o.source_dir = LDAPMDA_SOURCE_DIR;
  o.main_cf = std::move(main_cf);
  o.ldapmda_conf = {{"timeout", "5"}, {"deadline", "30"}};
  return o;
}

// The messages in `uid`'s mailbox; none when it does not exist yet.
std::vector<TestEntry> Mailbox(const SlapdServer& slapd,
                               const std::string& uid) {
  try {
    return slapd.Admin().Search("cn=mailbox," + slapd.UserDn(uid),
                                LDAP_SCOPE_SUBTREE, "(objectClass=mdaMessage)");
  } catch (const LdapError& e) {
    if (e.code() == LDAP_NO_SUCH_OBJECT) return {};
    throw;
  }
}

std::vector<TestEntry> AllStored(const SlapdServer& slapd) {
  return slapd.Admin().Search(slapd.suffix(), LDAP_SCOPE_SUBTREE,
                              "(objectClass=mdaMessage)");
}

// Postfix's log lines about delivering `qid` to `rcpt` through ldapmda
// with `status` ("sent", "deferred", "bounced").
std::vector<std::string> Deliveries(const PostfixServer& postfix,
                                    const std::string& qid,
                                    const std::string& rcpt,
                                    const std::string& status) {
  return postfix.MailLogLines({" " + qid + ": ", "to=<" + rcpt + ">",
                               "relay=ldapmda", "status=" + status});
}

// Postfix's log lines about `qid` to `rcpt` with `status`, whatever the
// transport (LMTP's relay= is the socket).
std::vector<std::string> LoggedResults(const PostfixServer& postfix,
                                       const std::string& qid,
                                       const std::string& rcpt,
                                       const std::string& status) {
  return postfix.MailLogLines(
      {" " + qid + ": ", "to=<" + rcpt + ">", "status=" + status});
}

// Waits until Postfix logged a final result (sent or bounced) for each
// of `rcpts` in message `qid`.
bool WaitForResults(const PostfixServer& postfix, const std::string& qid,
                    const std::vector<std::string>& rcpts) {
  return WaitFor(
      [&] {
        for (const std::string& rcpt : rcpts) {
          if (Deliveries(postfix, qid, rcpt, "sent").empty() &&
              Deliveries(postfix, qid, rcpt, "bounced").empty()) {
            return false;
          }
        }
        return true;
      },
      kWait);
}

// postqueue -j's line for `qid`, or "".
std::string QueueEntry(const PostfixServer& postfix, const std::string& qid) {
  std::istringstream in(postfix.Postqueue());
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("\"queue_id\": \"" + qid + "\"") != std::string::npos) {
      return line;
    }
  }
  return "";
}

// The header fields (continuation lines joined with "\n") of `headers`.
std::vector<std::string> Fields(std::string_view headers) {
  std::vector<std::string> fields;
  std::istringstream in{std::string(headers)};
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t') &&
        !fields.empty()) {
      fields.back() += "\n" + line;
    } else {
      fields.push_back(line);
    }
  }
  return fields;
}

// Checks that `raw` is exactly what was sent, preceded by the three
// header fields Postfix adds: pipe(8)'s Return-Path: (flag R) and
// Delivered-To: (flag D), and cleanup(8)'s Received:.
void ExpectSentPlusPostfixHeaders(const std::string& raw,
                                  const std::string& sent,
                                  const std::string& rcpt,
                                  const std::string& qid) {
  ASSERT_GT(raw.size(), sent.size()) << raw;
  ASSERT_EQ(raw.substr(raw.size() - sent.size()), sent)
      << "the sent message is not stored unchanged after Postfix's headers";
  const auto added = Fields(raw.substr(0, raw.size() - sent.size()));
  ASSERT_EQ(added.size(), 3u) << raw.substr(0, raw.size() - sent.size());
  EXPECT_EQ(added[0], "Return-Path: <" + kSender + ">");
  EXPECT_EQ(added[1], "Delivered-To: " + rcpt);
  EXPECT_EQ(added[2].rfind("Received: from ", 0), 0u) << added[2];
  EXPECT_NE(added[2].find(" id " + qid), std::string::npos) << added[2];
}

std::string Base64(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  const auto byte = [&](std::size_t i) -> unsigned {
    return i < data.size() ? static_cast<unsigned char>(data[i]) : 0U;
  };
  for (std::size_t i = 0; i < data.size(); i += 3) {
    const unsigned n = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < data.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < data.size() ? kAlphabet[n & 63] : '=';
    if (out.size() % 77 == 76) out += '\n';  // 76 characters per line
  }
  return out.empty() || out.back() == '\n' ? out : out + "\n";
}

// multipart/mixed: an 8-bit UTF-8 text part and a base64 attachment
// holding every byte value.
std::string EightBitMessage() {
  std::string attachment;
  for (int i = 0; i < 512; ++i) attachment += static_cast<char>(i % 256);
  return "From: =?UTF-8?Q?J=C3=BCrgen?= <juergen@example.org>\n"
         "To: Alice <alice@example.com>\n"
         "Subject: =?UTF-8?Q?Bericht_f=C3=BCr_K=C3=B6ln?=\n"
         "Date: Wed, 02 Jul 2003 08:00:00 +0000\n"
         "Message-ID: <e2e-8bit@example.org>\n"
         "MIME-Version: 1.0\n"
         "Content-Type: multipart/mixed; boundary=\"=-e2e-boundary\"\n"
         "\n"
         "This is a multi-part message in MIME format.\n"
         "--=-e2e-boundary\n"
         "Content-Type: text/plain; charset=UTF-8\n"
         "Content-Transfer-Encoding: 8bit\n"
         "\n"
         "Grüße aus Köln – äöü ß € 日本語 🙂\n"
         ".Zeile mit Punkt am Anfang\n"
         "\n"
         "--=-e2e-boundary\n"
         "Content-Type: application/octet-stream; name=\"bytes.bin\"\n"
         "Content-Disposition: attachment; filename=\"bytes.bin\"\n"
         "Content-Transfer-Encoding: base64\n"
         "\n" +
         Base64(attachment) + "--=-e2e-boundary--\n";
}

// A message accepted for `rcpts`: every RCPT and the DATA answered 250.
std::string SendAccepted(const PostfixServer& postfix,
                         const std::vector<std::string>& rcpts,
                         const std::string& message,
                         const SmtpOptions& options = {}) {
  const SmtpSession s =
      SendMail(postfix.smtp_port(), kSender, rcpts, message, options);
  EXPECT_EQ(s.greeting.code, 220) << s.greeting.text;
  EXPECT_EQ(s.rcpt.size(), rcpts.size());
  for (std::size_t i = 0; i < s.rcpt.size(); ++i) {
    EXPECT_EQ(s.rcpt[i].code, 250) << rcpts[i] << ": " << s.rcpt[i].text;
  }
  EXPECT_EQ(s.message.code, 250) << s.message.text;
  return s.QueueId();
}

TEST(PostfixE2ETest, PlainMessageIsStoredOnceWithPostfixHeaders) {
  SlapdServer slapd;
  PostfixServer postfix(slapd, Options());
  const std::string qid = SendAccepted(postfix, {"alice@example.com"}, kPlain);
  ASSERT_FALSE(qid.empty());
  ASSERT_TRUE(WaitForResults(postfix, qid, {"alice@example.com"}))
      << postfix.MailLog();

  const auto box = Mailbox(slapd, "alice");
  ASSERT_EQ(box.size(), 1u);
  const TestEntry& e = box[0];
  ExpectSentPlusPostfixHeaders(e.First("mdaRawMessage"), kPlain,
                               "alice@example.com", qid);
  EXPECT_EQ(e.First("mdaEnvelopeSender"), kSender);
  EXPECT_EQ(e.First("mdaEnvelopeRecipient"), "alice@example.com");
  EXPECT_EQ(e.First("mdaOriginalRecipient"), "alice@example.com");
  EXPECT_EQ(e.First("mdaQueueId"), qid);
  EXPECT_EQ(e.First("mdaSubject"), "plain end-to-end");

  // pipe(8) logs ldapmda's "stored as <dn>" (cut at 100 characters).
  const auto sent = Deliveries(postfix, qid, "alice@example.com", "sent");
  ASSERT_EQ(sent.size(), 1u) << postfix.MailLog();
  EXPECT_NE(sent[0].find("stored as mdaKey=" + e.First("mdaKey").substr(0, 32)),
            std::string::npos)
      << sent[0];
  EXPECT_TRUE(WaitFor([&] { return postfix.Postqueue().empty(); }, kWait))
      << postfix.Postqueue();
  EXPECT_EQ(AllStored(slapd).size(), 1u);
}

TEST(PostfixE2ETest, EachOfThreeRecipientsGetsItsOwnDelivery) {
  SlapdServer slapd;
  PostfixServer postfix(slapd, Options());
  const std::vector<std::string> rcpts = {
      "alice@example.com", "bob@example.com", "carol+lists@example.com"};
  // Postfix accepts carol+lists: recipient_delimiter = + makes its
  // virtual_mailbox_maps lookup fall back to carol@example.com.
  const std::string qid = SendAccepted(postfix, rcpts, kPlain);
  ASSERT_FALSE(qid.empty());
  ASSERT_TRUE(WaitForResults(postfix, qid, rcpts)) << postfix.MailLog();

  // ldapmda_destination_recipient_limit = 1: pipe(8) runs ldapmda once
  // per recipient, so each gets its own Delivered-To:, verdict and log
  // line with its own "stored as" DN.
  std::set<std::string> stored_as;
  for (const std::string uid : {"alice", "bob"}) {
    const std::string rcpt = uid + "@example.com";
    const auto box = Mailbox(slapd, uid);
    ASSERT_EQ(box.size(), 1u) << rcpt;
    ExpectSentPlusPostfixHeaders(box[0].First("mdaRawMessage"), kPlain, rcpt,
                                 qid);
    EXPECT_EQ(box[0].First("mdaEnvelopeRecipient"), rcpt);
    const auto sent = Deliveries(postfix, qid, rcpt, "sent");
    ASSERT_EQ(sent.size(), 1u) << postfix.MailLog();
    const auto pos = sent[0].find("stored as mdaKey=");
    ASSERT_NE(pos, std::string::npos) << sent[0];
    stored_as.insert(sent[0].substr(pos));
  }
  EXPECT_EQ(stored_as.size(), 2u);

  // The address extension: ldapmda receives the full address
  // carol+lists@example.com (pipe(8)'s ${recipient}) and the extension
  // (-e ${extension} in conf/master.cf), finds carol without it, as
  // Postfix did at RCPT time, and stores into her folder "lists".
  const auto carol = Mailbox(slapd, "carol");
  ASSERT_EQ(carol.size(), 1u)
      << "carol+lists@example.com was not stored in carol's mailbox:\n"
      << postfix.MailLog();
  ExpectSentPlusPostfixHeaders(carol[0].First("mdaRawMessage"), kPlain,
                               "carol+lists@example.com", qid);
  EXPECT_EQ(carol[0].First("mdaEnvelopeRecipient"), "carol+lists@example.com");
  EXPECT_EQ(carol[0].First("mdaFolder"), "lists");
  EXPECT_EQ(Deliveries(postfix, qid, "carol+lists@example.com", "sent").size(),
            1u);
  EXPECT_EQ(AllStored(slapd).size(), 3u);
}

TEST(PostfixE2ETest, EightBitMimeWithAttachmentIsStoredByteExact) {
  SlapdServer slapd;
  PostfixServer postfix(slapd, Options());
  const std::string message = EightBitMessage();
  SmtpOptions eight_bit;
  eight_bit.body_8bitmime = true;
  const std::string qid =
      SendAccepted(postfix, {"alice@example.com"}, message, eight_bit);
  ASSERT_FALSE(qid.empty());
  ASSERT_TRUE(WaitForResults(postfix, qid, {"alice@example.com"}))
      << postfix.MailLog();
  ASSERT_EQ(Deliveries(postfix, qid, "alice@example.com", "sent").size(), 1u)
      << postfix.MailLog();

  const auto box = Mailbox(slapd, "alice");
  ASSERT_EQ(box.size(), 1u);
  ExpectSentPlusPostfixHeaders(box[0].First("mdaRawMessage"), message,
                               "alice@example.com", qid);
  EXPECT_EQ(box[0].First("mdaSubject"), "Bericht für Köln");
  EXPECT_EQ(box[0].First("mdaSize"),
            std::to_string(box[0].First("mdaRawMessage").size()));
}

TEST(PostfixE2ETest, UnknownRecipientIsRefusedAtRcptTime) {
  SlapdServer slapd;
  PostfixServer postfix(slapd, Options());
  const SmtpSession s =
      SendMail(postfix.smtp_port(), kSender, {"nobody@example.com"}, kPlain);
  ASSERT_EQ(s.rcpt.size(), 1u);
  EXPECT_EQ(s.rcpt[0].code, 550) << s.rcpt[0].text;
  EXPECT_EQ(s.rcpt[0].EnhancedCode(), "5.1.1") << s.rcpt[0].text;
  EXPECT_NE(s.rcpt[0].text.find("User unknown in virtual mailbox table"),
            std::string::npos)
      << s.rcpt[0].text;
  EXPECT_EQ(s.data.code, 0) << "DATA was sent without a recipient";

  EXPECT_TRUE(AllStored(slapd).empty());
  EXPECT_EQ(postfix.Postqueue(), "");
  EXPECT_TRUE(WaitFor(
      [&] {
        return !postfix
                    .MailLogLines({"NOQUEUE: reject: RCPT", "550 5.1.1",
                                   "<nobody@example.com>"})
                    .empty();
      },
      kWait))
      << postfix.MailLog();
}

TEST(PostfixE2ETest, MailWaitsInTheQueueWhileTheDirectoryIsDown) {
  SlapdServer slapd;
  // Fast retries, and mail for ldapmda held until released below.
  PostfixServer postfix(slapd, Options({{"defer_transports", "ldapmda"},
                                        {"queue_run_delay", "1s"},
                                        {"minimal_backoff_time", "1s"},
                                        {"maximal_backoff_time", "2s"}}));
  // Accepted while the directory answers Postfix's RCPT lookup.
  const std::string qid = SendAccepted(postfix, {"alice@example.com"}, kPlain);
  ASSERT_FALSE(qid.empty());
  ASSERT_TRUE(WaitFor(
      [&] {
        return QueueEntry(postfix, qid).find("deferred transport") !=
               std::string::npos;
      },
      kWait))
      << postfix.Postqueue() << postfix.MailLog();

  // Released while slapd is down: ldapmda defers with 4.4.3. Postfix
  // keeps the DSN code in the log (dsn=4.4.3) and ldapmda's text after
  // the code as the delay reason.
  slapd.Stop();
  postfix.Configure({{"defer_transports", ""}});
  postfix.Flush();
  std::string entry;
  ASSERT_TRUE(WaitFor(
      [&] {
        // Both at once: with 1 s back-off qmgr soon moves it to "active"
        // again for the next attempt.
        entry = QueueEntry(postfix, qid);
        return entry.find("directory unavailable") != std::string::npos &&
               entry.find("\"queue_name\": \"deferred\"") != std::string::npos;
      },
      kWait))
      << postfix.Postqueue() << postfix.MailLog();
  EXPECT_NE(entry.find("\"queue_name\": \"deferred\""), std::string::npos)
      << entry;
  EXPECT_NE(entry.find("\"delay_reason\": \"<alice@example.com>: "),
            std::string::npos)
      << entry;
  const auto deferred =
      Deliveries(postfix, qid, "alice@example.com", "deferred");
  ASSERT_FALSE(deferred.empty()) << postfix.MailLog();
  EXPECT_NE(deferred[0].find("dsn=4.4.3, status=deferred (<alice@example.com>: "
                             "lookup below ou=people,dc=example,dc=com: "
                             "directory unavailable"),
            std::string::npos)
      << deferred[0];
  EXPECT_TRUE(Deliveries(postfix, qid, "alice@example.com", "sent").empty());

  // Back up: the next attempt stores it, exactly once.
  slapd.Start();
  postfix.Flush();
  ASSERT_TRUE(WaitFor(
      [&] {
        return !Deliveries(postfix, qid, "alice@example.com", "sent").empty();
      },
      kWait))
      << postfix.Postqueue() << postfix.MailLog();
  EXPECT_TRUE(WaitFor([&] { return postfix.Postqueue().empty(); }, kWait))
      << postfix.Postqueue();
  const auto box = Mailbox(slapd, "alice");
  ASSERT_EQ(box.size(), 1u);
  ExpectSentPlusPostfixHeaders(box[0].First("mdaRawMessage"), kPlain,
                               "alice@example.com", qid);
  EXPECT_EQ(Deliveries(postfix, qid, "alice@example.com", "sent").size(), 1u);
  EXPECT_EQ(AllStored(slapd).size(), 1u);
}

TEST(PostfixE2ETest, SmtpPayloadIsDotStuffedWithCrlf) {
  EXPECT_EQ(testing::SmtpDataPayload("a\n.b\n..\nc"),
            "a\r\n..b\r\n...\r\nc\r\n.\r\n");
  EXPECT_EQ(testing::SmtpDataPayload("x\r\n\r\n"), "x\r\n\r\n.\r\n");
  EXPECT_EQ(testing::SmtpDataPayload(""), ".\r\n");
}

}  // namespace
}  // namespace ldapmda

namespace ldapmda {
namespace {

// LMTP mode as README documents it (master-lmtp.cf, main-lmtp.cf): one
// message to four recipients, each with its own verdict after DATA.
TEST(PostfixE2ETest, LmtpGivesEachRecipientOfOneMessageItsOwnVerdict) {
  // ghost@example.com is a valid recipient for Postfix's table (mail=%s)
  // but not for ldapmda's stricter query_filter: it reaches ldapmda's RCPT
  // and is unknown there. dup@example.com matches two entries: Postfix
  // accepts it, ldapmda defers it (4.3.5).
  testing::SlapdOptions directory;
  directory.extra_ldif = {
      "dn: cn=ghost,ou=people,dc=example,dc=com\n"
      "objectClass: organizationalRole\nobjectClass: extensibleObject\n"
      "cn: ghost\nmail: ghost@example.com\n"};
  SlapdServer slapd(directory);
  PostfixOptions o = Options();
  o.lmtp = true;
  o.ldapmda_conf.push_back(
      {"query_filter", "(&(mail=%s)(objectClass=inetOrgPerson))"});
  PostfixServer postfix(slapd, o);

  const std::vector<std::string> rcpts = {"alice@example.com",
                                          "ghost@example.com",
                                          "dup@example.com", "bob@example.com"};
  const std::string qid = SendAccepted(postfix, rcpts, kPlain);
  ASSERT_FALSE(qid.empty());
  const auto logged = [&](const std::string& rcpt, const std::string& status) {
    return LoggedResults(postfix, qid, rcpt, status);
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        return !logged("alice@example.com", "sent").empty() &&
               !logged("bob@example.com", "sent").empty() &&
               !logged("ghost@example.com", "bounced").empty() &&
               !logged("dup@example.com", "deferred").empty();
      },
      kWait))
      << postfix.MailLog();

  for (const std::string uid : {"alice", "bob"}) {
    const std::string rcpt = uid + "@example.com";
    const auto box = Mailbox(slapd, uid);
    ASSERT_EQ(box.size(), 1u) << rcpt;
    // The same bytes pipe(8) with flags=DRX would have handed over.
    ExpectSentPlusPostfixHeaders(box[0].First("mdaRawMessage"), kPlain, rcpt,
                                 qid);
    const auto sent = logged(rcpt, "sent");
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_NE(sent[0].find("2.0.0 <" + rcpt + ">: stored as mdaKey="),
              std::string::npos)
        << sent[0];
  }
  const auto ghost = logged("ghost@example.com", "bounced");
  EXPECT_NE(ghost[0].find("dsn=5.1.1"), std::string::npos) << ghost[0];
  EXPECT_NE(ghost[0].find("no such user here"), std::string::npos) << ghost[0];
  const auto dup = logged("dup@example.com", "deferred");
  EXPECT_NE(dup[0].find("dsn=4.3.5"), std::string::npos) << dup[0];
  // Only dup@ waits in the queue; nothing else was stored.
  const std::string queue = postfix.Postqueue();
  EXPECT_NE(queue.find("\"dup@example.com\""), std::string::npos) << queue;
  EXPECT_EQ(queue.find("\"alice@example.com\""), std::string::npos) << queue;
  EXPECT_EQ(AllStored(slapd).size(), 2u);
}

// LMTP mode refuses a message that already went through a recipient's
// mailbox, as pipe(8)'s flag D does: its Delivered-To names the recipient
// (in another case here). Postfix bounces it for that recipient (5.4.6)
// and the other recipient of the same message gets it.
TEST(PostfixE2ETest, LmtpRefusesALoopForThatRecipientOnly) {
  SlapdServer slapd;
  PostfixOptions o = Options();
  o.lmtp = true;
  PostfixServer postfix(slapd, o);

  const std::string looped = "Delivered-To: Alice@Example.COM\n" + kPlain;
  const std::string qid =
      SendAccepted(postfix, {"alice@example.com", "bob@example.com"}, looped);
  ASSERT_FALSE(qid.empty());
  const auto logged = [&](const std::string& rcpt, const std::string& status) {
    return LoggedResults(postfix, qid, rcpt, status);
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        return !logged("alice@example.com", "bounced").empty() &&
               !logged("bob@example.com", "sent").empty();
      },
      kWait))
      << postfix.MailLog();
  const auto bounced = logged("alice@example.com", "bounced");
  EXPECT_NE(bounced[0].find("dsn=5.4.6"), std::string::npos) << bounced[0];
  EXPECT_NE(bounced[0].find("mail forwarding loop for alice@example.com"),
            std::string::npos)
      << bounced[0];
  EXPECT_TRUE(Mailbox(slapd, "alice").empty());
  const auto box = Mailbox(slapd, "bob");
  ASSERT_EQ(box.size(), 1u);
  ExpectSentPlusPostfixHeaders(box[0].First("mdaRawMessage"), looped,
                               "bob@example.com", qid);
}

// Waits until `uid`'s mailbox holds a delivery status report, flushing
// the queue meanwhile (a delay notice waits for a queue run); the first.
std::optional<TestEntry> WaitForReport(PostfixServer& postfix,
                                       const SlapdServer& slapd,
                                       const std::string& uid) {
  std::optional<TestEntry> found;
  WaitFor(
      [&] {
        for (const TestEntry& e : Mailbox(slapd, uid)) {
          if (e.First("mdaReportType") == "delivery-status") found = e;
        }
        if (!found) postfix.Flush();
        return found.has_value();
      },
      std::chrono::seconds(60), std::chrono::milliseconds(500));
  return found;
}

// What Sisimai (tests/tools/sisimai_dump.pl) finds in `raw`:
// "recipient<TAB>status" lines.
std::string SisimaiVerdict(const std::string& raw) {
  testing::TempDir dir;
  const std::string path = dir.File("bounce.eml");
  testing::WriteFile(path, raw, 0600);
  const testing::ProcessResult r = testing::RunProcess(
      {"/usr/bin/perl", LDAPMDA_SOURCE_DIR "/tests/tools/sisimai_dump.pl",
       path},
      "", std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string out;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream cols(line);
    std::string file, rcpt, status;
    std::getline(cols, file, '\t');
    std::getline(cols, rcpt, '\t');
    std::getline(cols, status, '\t');
    out += rcpt + "\t" + status + "\n";
  }
  return out;
}

// Submits `message` from alice with Postfix's sendmail(1): local mail,
// which smtpd's recipient checks (they refuse error: and retry:
// destinations at RCPT time) never see.
void SubmitLocally(const PostfixServer& postfix, const std::string& rcpt,
                   const std::string& message) {
  const testing::ProcessResult r =
      testing::RunProcess({"/usr/sbin/sendmail", "-C", postfix.config_dir(),
                           "-f", "alice@example.com", "-i", rcpt},
                          message, std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
}

// Postfix's own bounce of a message alice sent to an address its
// transport refuses comes back to alice's mailbox, where ldapmda stores
// it as a searchable report; Sisimai reads it the same way.
TEST(PostfixE2ETest, PostfixBounceBecomesAReport) {
  SlapdServer slapd;
  PostfixServer postfix(
      slapd, Options({{"transport_maps",
                       "inline:{{remote.example=error:5.1.1 user unknown "
                       "here (test)}}"}}));
  const std::string sent =
      "From: Alice <alice@example.com>\n"
      "To: bob@remote.example\n"
      "Subject: will bounce\n"
      "Message-ID: <e2e-bounce@example.com>\n"
      "\n"
      "Hello.\n";
  SubmitLocally(postfix, "bob@remote.example", sent);

  const auto report = WaitForReport(postfix, slapd, "alice");
  ASSERT_TRUE(report) << postfix.MailLog();
  EXPECT_EQ(report->First("mdaEnvelopeSender"), "<>");
  EXPECT_EQ(report->First("mdaReportFormat"), "rfc3464");
  EXPECT_EQ(report->Values("mdaDsnRecipient"),
            std::vector<std::string>{"bob@remote.example"});
  EXPECT_EQ(report->Values("mdaDsnAction"), std::vector<std::string>{"failed"});
  EXPECT_EQ(report->Values("mdaDsnStatus"), std::vector<std::string>{"5.1.1"});
  EXPECT_EQ(report->Values("mdaDsnResult"),
            std::vector<std::string>{"failed;5.1.1;bob@remote.example"});
  EXPECT_EQ(report->Values("mdaDsnReason"),
            std::vector<std::string>{"userunknown;hard;bob@remote.example"});
  EXPECT_NE(report->First("mdaDsnDiagnostic").find("user unknown here"),
            std::string::npos)
      << report->First("mdaDsnDiagnostic");
  EXPECT_EQ(report->First("mdaDsnReportingMta"), "mx.ldapmda.test");
  EXPECT_EQ(report->First("mdaReportedMessageId"), "e2e-bounce@example.com");
  EXPECT_EQ(report->First("mdaAutoSubmitted"), "auto-replied");
  EXPECT_EQ(SisimaiVerdict(report->First("mdaRawMessage")),
            "bob@remote.example\t5.1.1\n");
}

// A message that keeps being deferred gets Postfix's delayed-mail notice
// (delay_warning_time); ldapmda stores it as a "delayed" report.
TEST(PostfixE2ETest, PostfixDelayNoticeBecomesAReport) {
  SlapdServer slapd;
  PostfixServer postfix(
      slapd, Options({{"transport_maps",
                       "inline:{{slow.example=retry:4.4.1 no answer (test)}}"},
                      {"delay_warning_time", "1s"},
                      {"minimal_backoff_time", "1s"},
                      {"maximal_backoff_time", "2s"},
                      {"queue_run_delay", "1s"}}));
  const std::string sent =
      "From: Alice <alice@example.com>\n"
      "To: carol@slow.example\n"
      "Subject: will wait\n"
      "Message-ID: <e2e-delay@example.com>\n"
      "\n"
      "Hello.\n";
  SubmitLocally(postfix, "carol@slow.example", sent);

  const auto report = WaitForReport(postfix, slapd, "alice");
  ASSERT_TRUE(report) << postfix.MailLog();
  EXPECT_EQ(report->Values("mdaDsnRecipient"),
            std::vector<std::string>{"carol@slow.example"});
  EXPECT_EQ(report->Values("mdaDsnAction"),
            std::vector<std::string>{"delayed"});
  EXPECT_EQ(report->Values("mdaDsnStatus"), std::vector<std::string>{"4.4.1"});
  EXPECT_EQ(report->First("mdaReportedMessageId"), "e2e-delay@example.com");
  // The original is still queued for carol: a warning, not a bounce.
  EXPECT_NE(postfix.Postqueue().find("carol@slow.example"), std::string::npos);
  EXPECT_EQ(SisimaiVerdict(report->First("mdaRawMessage")),
            "carol@slow.example\t4.4.1\n");
}

}  // namespace
}  // namespace ldapmda
