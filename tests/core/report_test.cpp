// Unit tests: ParseReport on real reports from the public corpus, on
// hand-written fixtures of every recognised form, and on malformed and
// hostile input.
#include "ldapmda/report.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ldapmda/message.h"
#include "support/process.h"

namespace ldapmda {
namespace {

using testing::ReadFile;

std::string Corpus(const std::string& name) {
  return ReadFile(std::string(LDAPMDA_CORPUS_DIR) + "/" + name);
}

std::string Fixture(const std::string& name) {
  return ReadFile(std::string(LDAPMDA_SOURCE_DIR) + "/tests/data/reports/" +
                  name);
}

std::string Crlf(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

std::string Lf(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    out += s[i];
  }
  return out;
}

// Everything in a Report, one field a line, for whole-result comparisons.
std::string Dump(const Report& r) {
  std::ostringstream out;
  out << "kind=" << static_cast<int>(r.kind) << "\nformat=" << r.format
      << "\nreporting_mta=" << r.reporting_mta
      << "\nenvid=" << r.original_envelope_id
      << "\noriginal=" << r.original_message_id
      << "\nfeedback=" << r.feedback_type << "\nua=" << r.user_agent
      << "\nmail_from=" << r.original_mail_from
      << "\narrival=" << r.arrival_date << "\nauto=" << r.auto_submitted;
  for (const auto& v : r.original_rcpt_to) out << "\nrcpt_to=" << v;
  for (const auto& v : r.source_ip) out << "\nsource_ip=" << v;
  for (const auto& v : r.reported_domain) out << "\ndomain=" << v;
  for (const DsnRecipient& d : r.recipients) {
    out << "\nrcpt=" << d.final_recipient << "|" << d.original_recipient << "|"
        << d.action << "|" << d.status << "|" << d.diagnostic << "|"
        << d.remote_mta;
  }
  return out.str();
}

// ---------------------------------------------------------------------------
// The public corpus.

TEST(ReportCorpusTest, PostfixBounceWithFiveRecipients) {
  const Report r =
      ParseReport(Corpus("mikel-mail/multipart_report_emails/"
                         "multi_address_bounce1.eml"));
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  EXPECT_EQ(r.format, "rfc3464");
  EXPECT_EQ(r.reporting_mta, "lvmail01.LL.com");
  EXPECT_EQ(r.auto_submitted, "auto-replied");
  EXPECT_EQ(r.original_message_id,
            "118707422.15521266992174819.JavaMail.root@lvmail01");
  const std::vector<std::string> want = {
      "bbbbvhvbbvkjbhfbvbvjhb@gmail.com",
      "bscdbcjhasbcjhbdscbhbsdhcbj@gmail.com", "egyfefsdvsfvvhjsd@gmail.com",
      "kfhejkfbsjkjsbhds@gmail.com",
      "qfvhgsvhgsduiohncdhcvhsdfvsfygusd@gmail.com"};
  ASSERT_EQ(r.recipients.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    const DsnRecipient& d = r.recipients[i];
    EXPECT_EQ(d.final_recipient, want[i]);
    EXPECT_EQ(d.original_recipient, want[i]);
    EXPECT_EQ(d.action, "failed");
    EXPECT_EQ(d.status, "5.1.1");
    EXPECT_EQ(d.remote_mta, "gmail-smtp-in.l.google.com");
    // Folded over five lines, the "smtp;" type gone.
    EXPECT_EQ(d.diagnostic,
              "550-5.1.1 The email account that you tried to reach does not "
              "exist. Please try 550-5.1.1 double-checking the recipient's "
              "email address for typos or 550-5.1.1 unnecessary spaces. Learn "
              "more at 550 5.1.1 "
              "http://mail.google.com/support/bin/answer.py?answer=6596 "
              "41si5422799iwn.27");
  }
}

TEST(ReportCorpusTest, TwoDeliveryStatusPartsOneOfThemProse) {
  // The first message/delivery-status part holds prose, not fields.
  const Report r =
      ParseReport(Corpus("mikel-mail/multipart_report_emails/"
                         "multipart_report_multiple_status.eml"));
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  EXPECT_EQ(r.reporting_mta, "schemailmta04.ci.com");
  EXPECT_EQ(r.original_message_id,
            "4c2a146147ac8_61ff157c4ec1652df@s.h.c.mail");
  EXPECT_EQ(r.auto_submitted, "");
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].final_recipient, "u@ci.com");  // was "<u@ci.com>"
  EXPECT_EQ(r.recipients[0].original_recipient, "u@ci.com");
  EXPECT_EQ(r.recipients[0].action, "failed");
  EXPECT_EQ(r.recipients[0].status, "5.3.0");
  EXPECT_EQ(r.recipients[0].diagnostic, "");
}

TEST(ReportCorpusTest, SendmailDelayWarningWithHeadersOnly) {
  const Report r =
      ParseReport(Corpus("mikel-mail/multipart_report_emails/report_422.eml"));
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  EXPECT_EQ(r.reporting_mta, "mail11.ttttt.com.au");
  EXPECT_EQ(r.auto_submitted, "auto-generated");
  EXPECT_EQ(
      r.original_message_id,
      "15655788.13.1200472642578.JavaMail.Administrator@mail.ttttt.com.au");
  ASSERT_EQ(r.recipients.size(), 1u);
  const DsnRecipient& d = r.recipients[0];
  EXPECT_EQ(d.final_recipient, "fraser@oooooooo.com.au");
  EXPECT_EQ(d.original_recipient, "");
  EXPECT_EQ(d.action, "delayed");
  EXPECT_EQ(d.status, "4.2.2");
  EXPECT_EQ(d.remote_mta, "mail.oooooooo.com.au");
  EXPECT_EQ(d.diagnostic, "452 4.2.2 <fraser@oooooooo.com.au>... Mailbox full");
}

TEST(ReportCorpusTest, SendmailFailureWithHeadersOnly) {
  const Report r =
      ParseReport(Corpus("mikel-mail/multipart_report_emails/report_530.eml"));
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  EXPECT_EQ(r.reporting_mta, "mail12.rrrr.com.au");
  EXPECT_EQ(r.auto_submitted, "auto-generated");
  // The returned headers are themselves those of a multipart/report: the
  // parser must not descend into them.
  EXPECT_EQ(r.original_message_id,
            "200712232303.lBNN3jDq002941@mail12.rrrr.com.au");
  ASSERT_EQ(r.recipients.size(), 1u);
  const DsnRecipient& d = r.recipients[0];
  EXPECT_EQ(d.final_recipient, "edwin@zzzzzzz.com");
  EXPECT_EQ(d.action, "failed");
  EXPECT_EQ(d.status, "5.3.0");
  EXPECT_EQ(d.remote_mta, "mail.zzzzzz.com");
  EXPECT_EQ(d.diagnostic,
            "553 5.3.0 <edwin@zzzzzzz.com>... Unknown E-Mail Address");
}

TEST(ReportCorpusTest, DelayWarningWithEmptyDiagnostic) {
  const Report r =
      ParseReport(Corpus("mikel-mail/mime_emails/"
                         "raw_email_with_mimepart_without_content_type.eml"));
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  EXPECT_EQ(r.reporting_mta, "antivirus.uqam.ca");
  EXPECT_EQ(r.original_message_id,
            "89d7557c0610181510r6fa5ebd8n66a7deec71ade118@mail.gmail.com");
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].final_recipient, "larose.julie@courrier.uqam.ca");
  EXPECT_EQ(r.recipients[0].action, "delayed");
  EXPECT_EQ(r.recipients[0].status, "4.5.0");
  EXPECT_EQ(r.recipients[0].diagnostic, "");  // "Diagnostic-Code: SMTP; "
}

TEST(ReportCorpusTest, MultipartReportWithoutBoundaryParameter) {
  // 1996: "Content-Type: multipart/report; report-type=delivery-status;"
  // and no boundary; the delimiter lines are found in the body.
  const Report r = ParseReport(Corpus("mailcore2/parser/input/mbox/jwz/132"));
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  EXPECT_EQ(r.reporting_mta, "mm1");
  EXPECT_EQ(r.original_message_id, "31FC7EB4.41C6@netscape.com");
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].final_recipient, "newsletter-request@imusic.com");
  EXPECT_EQ(r.recipients[0].action, "failed");
  EXPECT_EQ(r.recipients[0].status, "");  // there is no Status field
  EXPECT_EQ(r.recipients[0].diagnostic, "500 (err.nosuchuser)");  // X-LOCAL
}

TEST(ReportCorpusTest, AolFeedbackReportWithDraftFieldNames) {
  const Report r =
      ParseReport(Corpus("mailcore2/summary/input/2113-formatting.eml"));
  EXPECT_EQ(r.kind, ReportKind::kFeedback);
  EXPECT_EQ(r.format, "arf");
  EXPECT_EQ(r.feedback_type, "abuse");
  EXPECT_EQ(r.user_agent, "AOL SComp");
  // "Received-Date: Mon,  7 Feb 2011 09:28:58 -0500 (EST)".
  EXPECT_EQ(r.arrival_date, "20110207142858Z");
  EXPECT_EQ(r.source_ip, std::vector<std::string>{"76.12.18.82"});
  EXPECT_EQ(r.reported_domain,
            std::vector<std::string>{"email.dealcatcher.com"});
  EXPECT_TRUE(r.original_rcpt_to.empty());
  EXPECT_EQ(r.original_mail_from, "");
  EXPECT_EQ(r.original_message_id, "");  // the enclosed copy has none
  EXPECT_TRUE(r.recipients.empty());
}

TEST(ReportCorpusTest, PreDsnSendmailBounce) {
  // 1995: "Returned mail: Host unknown", a transcript and no report part.
  const Report r = ParseReport(Corpus("mailcore2/parser/input/mbox/jwz/21"));
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  EXPECT_EQ(r.format, "sendmail");
  EXPECT_EQ(r.original_message_id, "199504270008.RAA17240@neon.netscape.com");
  ASSERT_EQ(r.recipients.size(), 1u);
  const DsnRecipient& d = r.recipients[0];
  EXPECT_EQ(d.final_recipient, "drwebb@maine.link.net");
  EXPECT_EQ(d.action, "failed");
  EXPECT_EQ(d.status, "5.0.0");  // "550": the class only
  EXPECT_EQ(d.diagnostic,
            "550 <drwebb@maine.link.net>... Host unknown (Name server: "
            "maine.link.net: host not found)");
  EXPECT_EQ(d.reason, "hostunknown");
  EXPECT_EQ(d.bounce_type, "hard");
}

TEST(ReportCorpusTest, AutoForwardedWithNullReturnPath) {
  const Report r =
      ParseReport(Corpus("mailcore2/summary/input/4850-russian.eml"));
  EXPECT_EQ(r.kind, ReportKind::kNone);
  EXPECT_EQ(r.auto_submitted, "auto-forwarded");
  EXPECT_TRUE(r.recipients.empty());
}

TEST(ReportCorpusTest, OnlyTheReportsAreReports) {
  // Every message of the corpus: no false positives, no crash.
  const std::set<std::string> reports = {
      "mikel-mail/multipart_report_emails/multi_address_bounce1.eml",
      "mikel-mail/multipart_report_emails/multipart_report_multiple_status.eml",
      "mikel-mail/multipart_report_emails/report_422.eml",
      "mikel-mail/multipart_report_emails/report_530.eml",
      "mikel-mail/mime_emails/raw_email_with_mimepart_without_content_type.eml",
      "mailcore2/parser/input/mbox/jwz/132",
      "mailcore2/parser/input/mbox/jwz/21",
      "mailcore2/summary/input/2113-formatting.eml",
  };
  std::istringstream manifest(Corpus("MANIFEST.tsv"));
  std::string line;
  std::getline(manifest, line);  // column names
  std::set<std::string> found;
  std::size_t files = 0;
  while (std::getline(manifest, line)) {
    const std::string path = line.substr(0, line.find('\t'));
    ++files;
    if (ParseReport(Corpus(path)).kind != ReportKind::kNone) found.insert(path);
  }
  EXPECT_EQ(files, 299u);
  EXPECT_EQ(found, reports);
}

// ---------------------------------------------------------------------------
// Hand-written fixtures.

TEST(ReportFixtureTest, PostfixFailedAndDelayed) {
  const Report r = ParseReport(Fixture("dsn_postfix.eml"));
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  EXPECT_EQ(r.format, "rfc3464");
  EXPECT_EQ(r.reporting_mta, "mx1.example.com");
  EXPECT_EQ(r.original_envelope_id, "2024-06-04-alice-0001");
  EXPECT_EQ(r.original_message_id, "a1b2c3d4-0001@client.example.com");
  EXPECT_EQ(r.auto_submitted, "auto-replied");
  ASSERT_EQ(r.recipients.size(), 2u);
  const DsnRecipient& bob = r.recipients[0];
  EXPECT_EQ(bob.final_recipient, "bob@example.net");
  EXPECT_EQ(bob.original_recipient, "bob@example.net");
  EXPECT_EQ(bob.action, "failed");
  EXPECT_EQ(bob.status, "5.1.1");
  EXPECT_EQ(bob.remote_mta, "mx.example.net");
  EXPECT_EQ(bob.diagnostic,
            "550 5.1.1 <bob@example.net>: Recipient address rejected: User "
            "unknown in virtual mailbox table");
  const DsnRecipient& carol = r.recipients[1];
  EXPECT_EQ(carol.final_recipient, "carol@example.org");
  EXPECT_EQ(carol.action, "delayed");
  EXPECT_EQ(carol.status, "4.4.1");
  EXPECT_EQ(carol.remote_mta, "");
  EXPECT_EQ(carol.diagnostic,
            "connect to mx.example.org[198.51.100.7]:25: Connection timed out");
}

TEST(ReportFixtureTest, QuotedPrintableStatusAndRfc822Headers) {
  const Report r = ParseReport(Fixture("dsn_rfc822_headers.eml"));
  // report-type="Delivery-Status": quoted and in mixed case.
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  EXPECT_EQ(r.reporting_mta, "relay.example.org");
  EXPECT_EQ(r.original_message_id, "20240604100340.GA7781@client.example.org");
  EXPECT_EQ(r.auto_submitted, "auto-generated");
  ASSERT_EQ(r.recipients.size(), 1u);
  const DsnRecipient& d = r.recipients[0];
  EXPECT_EQ(d.final_recipient, "erin@example.com");
  EXPECT_EQ(d.action, "failed");  // "FAILED"
  EXPECT_EQ(d.status, "5.7.1");   // "5.7.1 (relaying denied)"
  EXPECT_EQ(d.diagnostic,         // QP soft line break joined
            "550 5.7.1 <erin@example.com>... Relaying denied for this client");
  EXPECT_EQ(d.remote_mta, "mx.example.com");
}

TEST(ReportFixtureTest, GlobalDeliveryStatusInBase64) {
  const Report r = ParseReport(Fixture("dsn_global.eml"));
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  EXPECT_EQ(r.format, "rfc3464");
  EXPECT_EQ(r.reporting_mta, "mail.example.net");
  EXPECT_EQ(r.original_message_id, "global-7f3e@example.com");
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].final_recipient, "jörg@example.net");  // utf-8;
  EXPECT_EQ(r.recipients[0].action, "failed");
  EXPECT_EQ(r.recipients[0].status, "5.1.1");
  EXPECT_EQ(r.recipients[0].remote_mta, "mx.example.net");
  EXPECT_EQ(r.recipients[0].diagnostic, "550 5.1.1 mailbox unavailable");
}

TEST(ReportFixtureTest, ArfAbuseReportWithEveryField) {
  const Report r = ParseReport(Fixture("arf_abuse.eml"));
  EXPECT_EQ(r.kind, ReportKind::kFeedback);
  EXPECT_EQ(r.format, "arf");
  EXPECT_EQ(r.feedback_type, "abuse");  // "Abuse"
  EXPECT_EQ(r.user_agent, "ExampleFBL/2.1");
  EXPECT_EQ(r.original_mail_from, "newsletter-bounces@example.com");
  EXPECT_EQ(r.original_rcpt_to, (std::vector<std::string>{
                                    "frank@example.net", "grace@example.net"}));
  EXPECT_EQ(r.arrival_date, "20240606075801Z");  // 09:58:01 +0200
  EXPECT_EQ(r.source_ip, std::vector<std::string>{"192.0.2.44"});
  EXPECT_EQ(r.reported_domain,
            (std::vector<std::string>{"example.com", "lists.example.com"}));
  EXPECT_EQ(r.original_message_id, "news-2024-23.frank@lists.example.com");
  EXPECT_EQ(r.auto_submitted, "");
  EXPECT_TRUE(r.recipients.empty());
  EXPECT_EQ(r.reporting_mta, "");  // a DSN field, not read from an ARF
}

TEST(ReportFixtureTest, QmailBounce) {
  const Report r = ParseReport(Fixture("qmail.eml"));
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  EXPECT_EQ(r.format, "qmail");
  EXPECT_EQ(r.reporting_mta, "mail.example.org");
  EXPECT_EQ(r.original_message_id,
            "20240607112230.31330.qmail@mail.example.org");
  ASSERT_EQ(r.recipients.size(), 3u);
  EXPECT_EQ(r.recipients[0].final_recipient, "ivy@example.net");
  EXPECT_EQ(r.recipients[0].action, "failed");
  EXPECT_EQ(r.recipients[0].status, "5.1.1");
  EXPECT_EQ(r.recipients[0].diagnostic,
            "192.0.2.25 does not like recipient. Remote host said: 550 5.1.1 "
            "<ivy@example.net>: Recipient address rejected: User unknown "
            "Giving up on 192.0.2.25.");
  EXPECT_EQ(r.recipients[1].final_recipient, "jack@nohost.example.com");
  EXPECT_EQ(r.recipients[1].status, "5.1.2");  // "(#5.1.2)"
  EXPECT_EQ(r.recipients[1].diagnostic,
            "Sorry, I couldn't find any host named nohost.example.com. "
            "(#5.1.2)");
  EXPECT_EQ(r.recipients[2].final_recipient, "kate@example.net");
  EXPECT_EQ(r.recipients[2].status, "5.1.1");
}

TEST(ReportFixtureTest, EximBounceWithTwoAddresses) {
  const Report r = ParseReport(Fixture("exim_failed.eml"));
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  EXPECT_EQ(r.format, "exim");
  EXPECT_EQ(r.reporting_mta, "smtp.example.com");  // From's domain
  EXPECT_EQ(r.original_message_id, "E1sFqRs-000Abb-1w@smtp.example.com");
  EXPECT_EQ(r.auto_submitted, "auto-replied");
  ASSERT_EQ(r.recipients.size(), 2u);
  const DsnRecipient& mia = r.recipients[0];
  EXPECT_EQ(mia.final_recipient, "mia@example.net");
  EXPECT_EQ(mia.action, "failed");
  EXPECT_EQ(mia.status, "5.1.1");
  EXPECT_EQ(mia.remote_mta, "mx.example.net");
  EXPECT_EQ(mia.diagnostic,
            "host mx.example.net [192.0.2.25] SMTP error from remote mail "
            "server after RCPT TO:<mia@example.net>: 550 5.1.1 "
            "<mia@example.net>: Recipient address rejected: User unknown");
  const DsnRecipient& noah = r.recipients[1];
  EXPECT_EQ(noah.final_recipient, "noah@example.org");
  EXPECT_EQ(noah.status, "5.0.0");  // "552 mailbox over quota": no d.d.d
  EXPECT_EQ(noah.remote_mta, "mx.example.org");
}

TEST(ReportFixtureTest, EximDelayWarning) {
  const Report r = ParseReport(Fixture("exim_delayed.eml"));
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  EXPECT_EQ(r.format, "exim");
  EXPECT_EQ(r.reporting_mta, "relay.example.net");
  EXPECT_EQ(r.original_message_id, "");  // a warning returns no copy
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].final_recipient, "peter@example.org");
  EXPECT_EQ(r.recipients[0].action, "delayed");
  EXPECT_EQ(r.recipients[0].status, "4.7.1");
  EXPECT_EQ(r.recipients[0].remote_mta, "mx.example.org");
}

TEST(ReportFixtureTest, VacationWithAutoSubmitted) {
  const Report r = ParseReport(Fixture("vacation_auto_submitted.eml"));
  Report want;
  want.auto_submitted = "auto-replied";  // "Auto-Replied (vacation)"
  EXPECT_EQ(Dump(r), Dump(want));
}

TEST(ReportFixtureTest, VacationWithXAutoreplyOnly) {
  const Report r = ParseReport(Fixture("vacation_x_autoreply.eml"));
  Report want;
  want.auto_submitted = "auto-replied";
  EXPECT_EQ(Dump(r), Dump(want));
}

TEST(ReportFixtureTest, VacationFromExchangeAndAppleMail) {
  for (const char* name : {"vacation_exchange.eml", "vacation_apple.eml"}) {
    Report want;
    want.auto_submitted = "auto-replied";
    EXPECT_EQ(Dump(ParseReport(Fixture(name))), Dump(want)) << name;
  }
}

TEST(ReportFixtureTest, OrdinaryMessageLooksLikeNothing) {
  // Report-like text in its parts, an "Out of the office" subject: nothing.
  EXPECT_EQ(Dump(ParseReport(Fixture("ordinary.eml"))), Dump(Report{}));
}

const char* const kFixtures[] = {"dsn_postfix.eml",
                                 "dsn_rfc822_headers.eml",
                                 "dsn_global.eml",
                                 "arf_abuse.eml",
                                 "qmail.eml",
                                 "exim_failed.eml",
                                 "exim_delayed.eml",
                                 "vacation_auto_submitted.eml",
                                 "vacation_x_autoreply.eml",
                                 "vacation_exchange.eml",
                                 "vacation_apple.eml",
                                 "ordinary.eml"};

TEST(ReportFixtureTest, CrlfAndLfGiveTheSameResult) {
  for (const char* name : kFixtures) {
    const std::string lf = Lf(Fixture(name));
    EXPECT_EQ(Dump(ParseReport(Crlf(lf))), Dump(ParseReport(lf))) << name;
  }
  for (const char* name :
       {"mikel-mail/multipart_report_emails/multi_address_bounce1.eml",
        "mikel-mail/multipart_report_emails/report_422.eml"}) {
    const std::string crlf = Corpus(name);  // stored with CRLF
    EXPECT_EQ(Dump(ParseReport(Lf(crlf))), Dump(ParseReport(crlf))) << name;
  }
}

TEST(ReportFixtureTest, MboxFromLineIsSkipped) {
  for (const char* name : kFixtures) {
    const std::string raw = Fixture(name);
    const std::string mbox =
        "From someone@example.com  Tue Jun  4 09:12:03 2024\n" + raw;
    EXPECT_EQ(Dump(ParseReport(mbox)), Dump(ParseReport(raw))) << name;
  }
  // Its sender counts: MAILER-DAEMON's mail is a bounce.
  std::string exim = Lf(Fixture("exim_failed.eml"));
  exim.replace(exim.find("Return-path: <>"), 15, "Return-path: <l@x>");
  exim.replace(exim.find("From: Mail Delivery System <Mailer-Daemon@"), 42,
               "From: Liam <liam@");
  exim.replace(exim.find("X-Failed-Recipients:"), 20, "X-Whatever:");
  exim.replace(exim.find("Subject: Mail delivery failed: returning message "
                         "to sender"),
               57, "Subject: plans");
  EXPECT_EQ(ParseReport(exim).kind, ReportKind::kNone);
  EXPECT_EQ(ParseReport("From MAILER-DAEMON Tue Jun  4 09:12:03 2024\n" + exim)
                .recipients.size(),
            2u);
  EXPECT_EQ(ParseReport("From x@example.com Tue Jun  4 09:12:03 2024\n" +
                        Fixture("dsn_postfix.eml"))
                .recipients.size(),
            2u);
}

// ---------------------------------------------------------------------------
// RFC 3834 markers.

TEST(ReportAutoSubmittedTest, ValuesAndVacationMarkers) {
  struct Row {
    std::string headers;
    std::string want;
  };
  const Row rows[] = {
      {"Auto-Submitted: auto-generated\n", "auto-generated"},
      {"Auto-Submitted: AUTO-REPLIED; owner-email=\"x@example.com\"\n",
       "auto-replied"},
      {"Auto-Submitted: (comment) auto-notified\n", "auto-notified"},
      {"Auto-Submitted: no\n", ""},
      // An explicit "no" is the sender's word; the subject does not win.
      {"Auto-Submitted: no\nSubject: Auto: away\n", ""},
      {"X-Autorespond: on\n", "auto-replied"},
      {"Precedence: auto_reply\n", "auto-replied"},
      {"Precedence: bulk\n", ""},
      {"Subject: Auto: Re: hello\n", "auto-replied"},
      {"Subject: Automatic reply: Re: hello\n", "auto-replied"},
      {"Subject: =?UTF-8?Q?Automatic_reply=3A_Gr=C3=BC=C3=9Fe?=\n",
       "auto-replied"},
      {"Subject: OUT OF OFFICE until Monday\n", "auto-replied"},
      {"Subject: Autoreply: hello\n", "auto-replied"},
      {"Subject: Auto-Reply: hello\n", "auto-replied"},
      {"Subject: Automobiles for sale\n", ""},
      {"Subject: Re: Auto: parts\n", ""},
      // Exchange and Outlook, Apple Mail, control panels.
      {"X-Auto-Response-Suppress: DR, OOF, AutoReply\n", "auto-replied"},
      {"X-Auto-Response-Suppress: All\n", ""},
      {"X-Apple-Action: vacation\n", "auto-replied"},
      {"X-Autoresponder: yes\n", "auto-replied"},
      {"X-Vacation: yes\n", "auto-replied"},
      // Subjects in other words and languages.
      {"Subject: Auto Response: hello\n", "auto-replied"},
      {"Subject: Out of the office: back on Monday\n", "auto-replied"},
      {"Subject: Out of the office party\n", ""},
      {"Subject: Abwesenheitsnotiz: Angebot\n", "auto-replied"},
      {"Subject: =?UTF-8?Q?R=C3=A9ponse_automatique_:_devis?=\n",
       "auto-replied"},
      {"Subject: Risposta automatica: preventivo\n", "auto-replied"},
      {"Subject: =?UTF-8?B?6Ieq5Yqo5Zue5aSNOiDkvaDlpb0=?=\n", "auto-replied"},
  };
  for (const Row& row : rows) {
    const Report r =
        ParseReport("From: a@example.com\n" + row.headers + "\nbody\n");
    EXPECT_EQ(r.auto_submitted, row.want) << row.headers;
    EXPECT_EQ(r.kind, ReportKind::kNone) << row.headers;
  }
}

// ---------------------------------------------------------------------------
// Malformed and hostile input: whatever can be read, never more.

std::string Dsn(const std::string& status_body) {
  return "From: MAILER-DAEMON@example.com\n"
         "Content-Type: multipart/report; report-type=delivery-status;\n"
         " boundary=\"b\"\n\n"
         "--b\nContent-Type: text/plain\n\nIt failed.\n"
         "--b\nContent-Type: message/delivery-status\n\n" +
         status_body + "\n--b--\n";
}

TEST(ReportMalformedTest, TruncatedReportKeepsWhatWasRead) {
  const std::string full = Lf(Fixture("dsn_postfix.eml"));
  // Cut in the middle of the second recipient block.
  const std::string cut = full.substr(0, full.find("Status: 4.4.1"));
  const Report r = ParseReport(cut);
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  EXPECT_EQ(r.reporting_mta, "mx1.example.com");
  ASSERT_EQ(r.recipients.size(), 2u);
  EXPECT_EQ(r.recipients[0].status, "5.1.1");
  EXPECT_EQ(r.recipients[1].final_recipient, "carol@example.org");
  EXPECT_EQ(r.recipients[1].action, "delayed");
  EXPECT_EQ(r.recipients[1].status, "");
  EXPECT_EQ(r.original_message_id, "");
}

TEST(ReportMalformedTest, MissingStatusPartStillADeliveryReport) {
  const Report r = ParseReport(
      "Content-Type: multipart/report; report-type=delivery-status; "
      "boundary=b\n\n--b\nContent-Type: text/plain\n\nIt failed.\n--b--\n");
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  EXPECT_EQ(r.format, "rfc3464");
  EXPECT_TRUE(r.recipients.empty());
}

TEST(ReportMalformedTest, StatusPartWithoutReportType) {
  const Report r = ParseReport(
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: message/delivery-status\n\n"
      "Reporting-MTA: dns;mx.example.com\n\n"
      "Final-Recipient: rfc822;a@example.net\nAction: failed\n"
      "Status: 5.2.2\n--b--\n");
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  EXPECT_EQ(r.reporting_mta, "mx.example.com");
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].status, "5.2.2");
}

TEST(ReportMalformedTest, GarbageInFields) {
  const Report r = ParseReport(
      Dsn("Reporting-MTA: dns; mx.example.com\n"
          "this line is no field at all\n"
          "\n"
          "Final-Recipient: rfc822; a@example.net\nAction: Failed (gave up)\n"
          "Status: banana\n\n"
          "Final-Recipient: rfc822; b@example.net\nStatus: 9.1.1\n\n"
          "Final-Recipient: rfc822; c@example.net\nStatus: 5.1\n\n"
          "Final-Recipient: rfc822; d@example.net\nStatus: 5.1.1234\n\n"
          "Final-Recipient: rfc822; e@example.net\nStatus: 4.7.0.1\n\n"
          "Final-Recipient: rfc822; f@example.net\nStatus: 5.1.10(x)\n\n"
          "Action: failed\nStatus: 5.1.1\n\n"  // no recipient: skipped
          "Original-Recipient: rfc822; <g@example.net>\nStatus: 4.2.2\n"));
  EXPECT_EQ(r.reporting_mta, "mx.example.com");
  ASSERT_EQ(r.recipients.size(), 7u);
  EXPECT_EQ(r.recipients[0].action, "failed");
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(r.recipients[i].status, "") << r.recipients[i].final_recipient;
  }
  EXPECT_EQ(r.recipients[5].status, "5.1.10");
  // Without Final-Recipient the original address stands in for it.
  EXPECT_EQ(r.recipients[6].final_recipient, "g@example.net");
  EXPECT_EQ(r.recipients[6].original_recipient, "g@example.net");
  EXPECT_EQ(r.recipients[6].status, "4.2.2");
}

TEST(ReportMalformedTest, BoundaryParameterThatNeverOccurs) {
  std::string raw = Lf(Fixture("dsn_postfix.eml"));
  raw.replace(raw.find("boundary=\""), 10, "boundary=\"wrong-");
  const Report r = ParseReport(raw);
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  ASSERT_EQ(r.recipients.size(), 2u);
  EXPECT_EQ(r.recipients[1].status, "4.4.1");
}

TEST(ReportMalformedTest, NoBlankLineAfterHeaders) {
  const Report r = ParseReport(
      "From: MAILER-DAEMON@example.com\n"
      "Content-Type: multipart/report; report-type=delivery-status; "
      "boundary=b\n"
      "--b\nContent-Type: message/delivery-status\n\n"
      "Reporting-MTA: dns; mx.example.com\n"
      "Final-Recipient: rfc822; a@example.net\nAction: failed\n"
      "Status: 5.1.1\n--b--\n");
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  // The per-message block lacks its blank line too.
  EXPECT_EQ(r.reporting_mta, "mx.example.com");
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].final_recipient, "a@example.net");
}

TEST(ReportMalformedTest, HugeLineIsCappedAndInputBeyondTheCapIgnored) {
  const std::string huge(10 << 20, 'x');
  const Report r = ParseReport(
      Dsn("Final-Recipient: rfc822; a@example.net\nStatus: 5.1.1\n"
          "Diagnostic-Code: smtp; " +
          huge + "\n\nFinal-Recipient: rfc822; beyond@example.net\n"));
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  ASSERT_EQ(r.recipients.size(), 1u);  // the second block is past 4 MB
  EXPECT_EQ(r.recipients[0].status, "5.1.1");
  EXPECT_EQ(r.recipients[0].diagnostic.size(), kMaxHeaderValue);
}

TEST(ReportMalformedTest, NulBytesBecomeSpaces) {
  using namespace std::string_literals;
  const Report r = ParseReport(
      Dsn("Reporting-MTA: dns; mx\0evil.example.com\n\n"
          "Final-Recipient: rfc822; a\0@example.net\nAction: fai\0led\n"
          "Status: 5.1.1\0\n"s));
  EXPECT_EQ(r.reporting_mta, "mx evil.example.com");
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].final_recipient, "a @example.net");
  EXPECT_EQ(r.recipients[0].status, "5.1.1");
  EXPECT_EQ(r.recipients[0].action.find('\0'), std::string::npos);
}

TEST(ReportMalformedTest, Base64Garbage) {
  const Report r = ParseReport(
      "Content-Type: multipart/report; report-type=delivery-status; "
      "boundary=b\n\n--b\nContent-Type: message/delivery-status\n"
      "Content-Transfer-Encoding: base64\n\n"
      "!!!*** not base64 at all ***===\n\xff\xfe\x01\n--b--\n");
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  EXPECT_TRUE(r.recipients.empty());
  EXPECT_EQ(r.reporting_mta, "");
}

TEST(ReportMalformedTest, RecipientsAreCapped) {
  std::string blocks = "Reporting-MTA: dns; mx.example.com\n";
  for (int i = 0; i < 1500; ++i) {
    blocks += "\nFinal-Recipient: rfc822; u" + std::to_string(i) +
              "@example.net\nAction: failed\nStatus: 5.1.1\n";
  }
  const Report r = ParseReport(Dsn(blocks));
  ASSERT_EQ(r.recipients.size(), 1000u);
  EXPECT_EQ(r.recipients.back().final_recipient, "u999@example.net");
}

TEST(ReportMalformedTest, ManyPartsAndEmptyInputs) {
  std::string many =
      "Content-Type: multipart/report; report-type=delivery-status; "
      "boundary=b\n\n";
  for (int i = 0; i < 100000; ++i) many += "--b\n\n";
  many +=
      "--b\nContent-Type: message/delivery-status\n\n"
      "Final-Recipient: rfc822; late@example.net\n";
  const Report r = ParseReport(many);
  EXPECT_EQ(r.kind, ReportKind::kDeliveryStatus);
  EXPECT_TRUE(r.recipients.empty());  // past the part limit

  for (const std::string raw :
       {"", "\n", "From x Tue Jun  4 09:12:03 2024\n", "Subject: x",
        "Content-Type: multipart/report", "Content-Type: multipart/report;\n\n",
        "Content-Type: message/delivery-status\n\nFinal-Recipient:"}) {
    const Report e = ParseReport(raw);
    EXPECT_TRUE(e.recipients.empty()) << raw;
    EXPECT_EQ(e.reporting_mta, "") << raw;
  }
}

TEST(ReportMalformedTest, BareDeliveryStatusAndFeedbackBodies) {
  const Report dsn = ParseReport(
      "Content-Type: message/delivery-status\n\n"
      "Reporting-MTA: dns; mx.example.com\n\n"
      "Final-Recipient: rfc822; a@example.net\nAction: relayed\n"
      "Status: 2.0.0\n");
  EXPECT_EQ(dsn.kind, ReportKind::kDeliveryStatus);
  ASSERT_EQ(dsn.recipients.size(), 1u);
  EXPECT_EQ(dsn.recipients[0].action, "relayed");
  EXPECT_EQ(dsn.recipients[0].status, "2.0.0");

  const Report arf = ParseReport(
      "Content-Type: message/feedback-report\n\n"
      "Feedback-Type: fraud\nArrival-Date: not a date\n"
      "Source-IP: 198.51.100.3\n");
  EXPECT_EQ(arf.kind, ReportKind::kFeedback);
  EXPECT_EQ(arf.feedback_type, "fraud");
  EXPECT_EQ(arf.arrival_date, "");
  EXPECT_EQ(arf.source_ip, std::vector<std::string>{"198.51.100.3"});
}

TEST(ReportMalformedTest, BounceTextNeedsABouncesLook) {
  // A bounce's text quoted in ordinary mail: no bounce sender, subject or
  // header, nothing returned.
  std::string qmail = Lf(Fixture("qmail.eml"));
  qmail.replace(qmail.find("From: MAILER-DAEMON@"), 20, "From: henry2@");
  qmail.replace(qmail.find("Return-Path: <>"), 15, "Return-Path: <h@x>");
  qmail.replace(qmail.find("Subject: failure notice"), 23, "Subject: look");
  qmail.replace(qmail.find("invoked for bounce"), 18, "invoked by uid 7");
  EXPECT_EQ(ParseReport(qmail).kind, ReportKind::kNone);

  // A bounce's subject alone is not enough either.
  qmail.replace(qmail.find("Subject: look"), 13, "Subject: failure notice");
  qmail.replace(qmail.find("--- Below this line"), 19, "--- Above this line");
  EXPECT_EQ(ParseReport(qmail).kind, ReportKind::kNone);

  // A bounce without the lines of any format: nothing to read.
  std::string exim = Lf(Fixture("exim_failed.eml"));
  const std::size_t list = exim.find("  mia@example.net");
  exim.erase(list, exim.find("------ This is a copy") - list);
  exim.replace(exim.find("X-Failed-Recipients:"), 20, "X-Whatever:");
  EXPECT_EQ(ParseReport(exim).kind, ReportKind::kNone);
}

}  // namespace
}  // namespace ldapmda
