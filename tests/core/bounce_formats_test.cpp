// Unit tests: ParseReport on a bounce of every non-standard format it
// knows (tests/data/reports/bounce_*.eml, see the README there), and the
// recognition rules that keep ordinary mail out.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ldapmda/report.h"
#include "support/process.h"

namespace ldapmda {
namespace {

using testing::ReadFile;

std::string Fixture(const std::string& name) {
  return ReadFile(std::string(LDAPMDA_SOURCE_DIR) + "/tests/data/reports/" +
                  name);
}

struct Want {
  std::string address;
  std::string action;
  std::string status;
  std::string reason;
  std::string bounce_type;
  std::string diagnostic_has;  // a part of the diagnostic
  std::string remote_mta = "";
};

struct Case {
  std::string file;
  std::string format;
  std::string reporting_mta;
  std::string original_message_id;
  std::vector<Want> recipients;
};

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"bounce_gmail.eml",
       "gmail",
       "googlemail.com",
       "AANLkTik-gmail-1@mail.gmail.com",
       // "(state 14)": refused at RCPT; no code but the reply's class.
       {{"pat@example.net", "failed", "5.0.0", "userunknown", "hard",
         "<pat@example.net>: User unknown (state 14)."}}},
      {"bounce_gmail_delayed.eml",
       "gmail",
       "googlemail.com",
       "AANLkTik-gmail-2@mail.gmail.com",
       {{"quinn@example.org", "delayed", "4.2.2", "mailboxfull", "soft",
         "Mailbox full"}}},
      {"bounce_googlegroups.eml",
       "googlegroups",
       "googlemail.com",
       "groups-post-1@example.com",
       // The group refuses the poster.
       {{"team@example.org", "failed", "5.0.0", "rejected", "soft",
         "may not have permission to post"}}},
      {"bounce_yahoo.eml",
       "yahoo",
       "yahoo.com",
       "yahoo-sent-1@example.com",
       {{"rita@example.net", "failed", "5.1.1", "userunknown", "hard",
         "[RCPT_TO]"},
        {"sam@example.org", "failed", "5.0.0", "suspend", "soft",
         "disabled or discontinued"}}},
      {"bounce_exchange2003.eml",
       "exchange2003",
       "example.org",
       "exch2003-sent-1@example.com",
       {{"tom@example.org", "failed", "5.0.0", "userunknown", "hard",
         "(000C05A6) Unknown Recipient"},
        {"uma@example.org", "failed", "5.1.1", "userunknown", "hard",
         "#5.1.1"}}},
      // Exchange 2003's other wording, its recipient lines indented.
      {"bounce_exchange2003_reached.eml",
       "exchange2003",
       "corp.example.com",
       "",
       {{"kim@example.org", "failed", "5.1.1", "userunknown", "hard",
         "smtp;550 5.1.1 <kim@example.org>... User unknown"},
        {"lars@example.org", "failed", "5.2.2", "mailboxfull", "soft",
         "552 5.2.2 Mailbox full"}}},
      {"bounce_exchange.eml",
       "exchange",
       "mail1.example.org",
       "exch-sent-1@example.com",
       {{"vera@example.org", "failed", "5.1.1", "userunknown", "hard",
         "RESOLVER.ADR.RecipNotFound"}}},
      {"bounce_exchange_fr.eml",
       "exchange",
       "example.fr",
       "exch-fr-sent-1@example.com",
       {{"walter@example.fr", "failed", "5.2.2", "mailboxfull", "soft",
         "STOREDRV.Deliver: mailbox full"}}},
      {"bounce_exchange_html.eml",
       "exchange",
       "mx.example.net",
       "html-sent-1@example.com",
       {{"yuri@example.net", "failed", "5.1.1", "userunknown", "hard",
         "couldn't be found"}}},
      {"bounce_office365.eml",
       "office365",
       "AM6PR02MB1234.eurprd02.prod.outlook.com",
       "o365-sent-1@example.com",
       // 5.1.10: Office 365's "recipient not found by SMTP address lookup".
       {{"xena@example.net", "failed", "5.1.10", "userunknown", "hard",
         "RESOLVER.ADR.RecipientNotFound"}}},
      {"bounce_workmail.eml",
       "workmail",
       "a8-1.smtp-out.us-west-2.amazonses.com",
       "",
       {{"zoe@example.org", "failed", "5.1.1", "userunknown", "hard",
         "Recipient address rejected"}}},
      {"bounce_zoho.eml",
       "zoho",
       "mail.zoho.com",
       "",
       {{"adam@example.net", "failed", "5.1.1", "userunknown", "hard",
         "Invalid Address"},
        {"bea@example.org", "failed", "4.0.0", "expired", "soft",
         "Host not reachable"}}},
      {"bounce_opensmtpd.eml",
       "opensmtpd",
       "mx.example.com",
       "smtpd-sent-1@example.com",
       {{"carl@example.net", "failed", "5.1.1", "userunknown", "hard",
         "Recipient address rejected"}}},
      {"bounce_domino.eml",
       "domino",
       "example.org",
       "domino-sent-1@example.com",
       {{"dora@example.org", "failed", "5.0.0", "userunknown", "hard",
         "not listed in Domino Directory"}}},
      {"bounce_notes.eml",
       "notes",
       "example.org",
       "notes-sent-1@example.com",
       {{"evan@example.org", "failed", "5.0.0", "userunknown", "hard",
         "User not listed in public Name & Address Book"}}},
      // In ISO-2022-JP: read, and stored, as UTF-8.
      {"bounce_notes_ja.eml",
       "notes",
       "example.jp",
       "notes-ja-sent-1@example.com",
       {{"taro@example.jp", "failed", "5.0.0", "userunknown", "hard",
         "ユーザー taro@example.jp は ディレクトリのリストにありません"}}},
      {"bounce_mailru.eml",
       "mailru",
       "corp.mail.ru",
       "mailru-sent-1@example.com",
       {{"fay@example.net", "failed", "5.1.1", "userunknown", "hard",
         "after RCPT TO", "mx.example.net"}}},
      {"bounce_gmx.eml",
       "gmx",
       "gmx.net",
       "gmx-sent-1@example.com",
       {{"ida@example.org", "failed", "5.1.1", "userunknown", "hard",
         "after RCPT command", "mx.example.org"}}},
      {"bounce_1and1.eml",
       "gmx",
       "kundenserver.de",
       "1and1-sent-1@example.com",
       {{"hank@example.net", "failed", "5.0.0", "mesgtoobig", "soft",
         "Mail size limit exceeded"}}},
      {"bounce_courier.eml",
       "courier",
       "mx.example.org",
       "",
       {{"jack@example.net", "failed", "5.1.1", "userunknown", "hard",
         "<<< 550 5.1.1"}}},
      {"bounce_messagingserver.eml",
       "messagingserver",
       "mx.example.org",
       "",
       {{"kim@example.org", "failed", "5.1.1", "userunknown", "hard",
         "Diagnostic code: smtp;550 5.1.1", "mx.example.org"}}},
      {"bounce_postfix_text.eml",
       "postfix",
       "mx.example.com",
       "postfix-sent-1@example.com",
       {{"leo@example.net", "failed", "5.1.1", "userunknown", "hard",
         "(in reply to RCPT TO command)", "mx.example.net"},
        // "(expanded from <team@example.com>)": the address that failed.
        {"mia@example.org", "failed", "5.2.2", "mailboxfull", "soft",
         "Mailbox full", "mx.example.org"}}},
      {"bounce_sendmail_v5.eml",
       "sendmail",
       "mx.example.com",
       "v5-sent-1@example.com",
       {{"nina@example.net", "failed", "5.1.1", "userunknown", "hard",
         ">>> RCPT To:<nina@example.net>"}}},
      {"bounce_imail.eml",
       "imail",
       "example.org",
       "imail-sent-1@example.com",
       {{"oscar@example.org", "failed", "5.0.0", "userunknown", "hard",
         "Unknown user"}}},
      {"bounce_x_failed_recipients.eml",
       "x-failed-recipients",
       "mx.example.com",
       "",
       {{"paula@example.net", "failed", "5.0.0", "undefined", "soft", ""}}},
      {"bounce_text.eml",
       "text",
       "mail.example.net",
       "text-sent-1@example.com",
       {{"quinn@example.net", "failed", "5.1.1", "userunknown", "hard",
         "User unknown"}}},
      {"bounce_x2.eml",
       "x2",
       "yahoo.com",
       "x2-sent-1@example.com",
       // An unknown user, but not said to be refused at RCPT.
       {{"ruth@example.com", "failed", "5.0.0", "filtered", "soft",
         "doesn't have a yahoo.com account"}}},
      {"bounce_dsn_text.eml",
       "dsn-text",
       "mx.example.net",
       "dsntext-sent-1@example.com",
       {{"sara@example.org", "failed", "5.2.2", "mailboxfull", "soft",
         "552 5.2.2 Mailbox full"}}},
  };
  return cases;
}

TEST(BounceFormatsTest, EveryFormat) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.file);
    const Report r = ParseReport(Fixture(c.file));
    EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
    EXPECT_EQ(r.format, c.format);
    EXPECT_EQ(r.reporting_mta, c.reporting_mta);
    EXPECT_EQ(r.original_message_id, c.original_message_id);
    ASSERT_EQ(r.recipients.size(), c.recipients.size());
    for (std::size_t i = 0; i < c.recipients.size(); ++i) {
      const DsnRecipient& got = r.recipients[i];
      const Want& want = c.recipients[i];
      SCOPED_TRACE(want.address);
      EXPECT_EQ(got.final_recipient, want.address);
      EXPECT_EQ(got.action, want.action);
      EXPECT_EQ(got.status, want.status);
      EXPECT_EQ(got.reason, want.reason);
      EXPECT_EQ(got.bounce_type, want.bounce_type);
      EXPECT_NE(got.diagnostic.find(want.diagnostic_has), std::string::npos)
          << got.diagnostic;
      EXPECT_EQ(got.remote_mta, want.remote_mta);
    }
  }
}

TEST(BounceFormatsTest, CrlfAndFoldedBase64GiveTheSameResult) {
  for (const Case& c : Cases()) {
    std::string lf = Fixture(c.file);
    std::string crlf;
    for (char ch : lf) {
      if (ch == '\n') crlf += '\r';
      crlf += ch;
    }
    const Report a = ParseReport(lf);
    const Report b = ParseReport(crlf);
    ASSERT_EQ(a.recipients.size(), b.recipients.size()) << c.file;
    for (std::size_t i = 0; i < a.recipients.size(); ++i) {
      EXPECT_EQ(a.recipients[i].final_recipient,
                b.recipients[i].final_recipient)
          << c.file;
      EXPECT_EQ(a.recipients[i].reason, b.recipients[i].reason) << c.file;
      EXPECT_EQ(a.recipients[i].diagnostic, b.recipients[i].diagnostic)
          << c.file;
    }
  }
}

// Formats that have no fixture file: a short notice of each, written
// here after the format's markers, so that every reading still runs.
TEST(BounceFormatsTest, FormatsWithoutAFixtureFile) {
  struct Short {
    std::string raw;
    std::string format;
    std::string address;
    std::string status;
    std::string reason;
  };
  const Short cases[] = {
      {"Return-Path: <>\nFrom: \"InterScan MSS\" <postmaster@gw.example.net>\n"
       "Subject: Mail could not be delivered\n\n"
       "Unable to deliver message to <uma@example.net>.\n\n"
       "Sent <<< RCPT TO:<uma@example.net>\n"
       "Received >>> 550 5.1.1 <uma@example.net>... User unknown\n",
       "interscan", "uma@example.net", "5.1.1", "userunknown"},
      {"Return-Path: <>\nFrom: postmaster@mx.example.net\n"
       "Subject: Delivery Status Notification (Failure)\n"
       "X-NAI-Header: Modified by McAfee Email Gateway\n\n"
       "The following addresses had delivery problems:\n\n"
       "<tom@example.net>\n"
       "   Permanent Failure: 550 Unknown user tom@example.net\n",
       "mcafee", "tom@example.net", "5.0.0", "userunknown"},
      {"Return-Path: <>\n"
       "From: Mail Delivery System <MAILER-DAEMON@mail.example.net>\n"
       "Subject: Delivery status notification\n\n"
       "This is an automatically generated Delivery Status Notification.\n\n"
       "Delivery to the following recipients failed permanently:\n\n"
       "  * vera@example.net\n\nReason: 550 5.1.1 mailbox not found\n",
       "x3", "vera@example.net", "5.1.1", "userunknown"},
  };
  for (const Short& c : cases) {
    const Report r = ParseReport(c.raw);
    EXPECT_EQ(r.format, c.format) << c.raw;
    ASSERT_EQ(r.recipients.size(), 1u) << c.raw;
    EXPECT_EQ(r.recipients[0].final_recipient, c.address);
    EXPECT_EQ(r.recipients[0].action, "failed");
    EXPECT_EQ(r.recipients[0].status, c.status) << c.format;
    EXPECT_EQ(r.recipients[0].reason, c.reason) << c.format;
    EXPECT_EQ(r.recipients[0].bounce_type, "hard") << c.format;
  }
}

// What looks like a bounce only in part is no bounce.
TEST(BounceFormatsTest, OrdinaryMailStaysOrdinary) {
  const std::string cases[] = {
      // A person quoting a bounce: no bounce sender, subject or header.
      "From: Olivia <olivia@example.com>\nTo: it@example.com\n"
      "Subject: why?\n\nDelivery to the following recipient failed "
      "permanently:\n\n     pat@example.net\n",
      // A bounce's subject alone.
      "From: Olivia <olivia@example.com>\nSubject: Undeliverable: ideas\n\n"
      "<pat@example.net>: what about this address?\n",
      // An automatic reply from a null sender, with an address in its text.
      "Return-Path: <>\nFrom: Pat <pat@example.net>\n"
      "Subject: Automatic reply: figures\nAuto-Submitted: auto-replied\n\n"
      "I am away. In urgent cases write to\n  quinn@example.net\n",
      // A forwarded bounce.
      "From: Olivia <olivia@example.com>\n"
      "Subject: Fwd: Undelivered Mail Returned to Sender\n\n"
      "<leo@example.net>: host mx.example.net[192.0.2.25] said: 550 5.1.1\n",
  };
  for (const std::string& raw : cases) {
    const Report r = ParseReport(raw);
    EXPECT_EQ(r.kind, ReportKind::kNone) << raw;
    EXPECT_TRUE(r.recipients.empty()) << raw;
  }
}

// A bounce the format cannot name: the generic reading still finds the
// recipient, never the bounce's own addresses.
TEST(BounceFormatsTest, GenericReadingSkipsTheBouncesOwnAddresses) {
  const Report r = ParseReport(
      "Return-Path: <>\nFrom: MAILER-DAEMON@mx.example.net\n"
      "To: olivia@example.com\nSubject: Returned mail: see transcript\n\n"
      "Your message could not be delivered to\n\n  rosa@example.org\n\n"
      "Contact postmaster@mx.example.net or write to\n"
      "olivia@example.com.\n\n--- Original message follows.\n\n"
      "From: olivia@example.com\nTo: rosa@example.org\n");
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].final_recipient, "rosa@example.org");
  EXPECT_EQ(r.format, "text");
}

}  // namespace
}  // namespace ldapmda
