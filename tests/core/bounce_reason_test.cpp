// Unit tests: the reason table (core/bounce_reason.h), one row per rule.
#include "core/bounce_reason.h"

#include <gtest/gtest.h>

#include <string>

namespace ldapmda {
namespace {

struct Row {
  const char* name;
  const char* status;
  const char* diagnostic;
  const char* command;
  const char* action;
  const char* want;
  bool hard;
  const char* hint = "";
  const char* type = "smtp";
};

const Row kRows[] = {
    // The status code alone.
    {"unknown user by code", "5.1.1", "", "", "failed", "userunknown", true},
    {"bad domain by code", "5.1.2", "", "", "failed", "hostunknown", true},
    {"moved by code", "5.1.6", "", "", "failed", "hasmoved", true},
    {"full by code", "5.2.2", "", "", "failed", "mailboxfull", false},
    {"full, temporary", "4.2.2", "", "", "delayed", "mailboxfull", false},
    {"too big by code", "5.3.4", "", "", "failed", "mesgtoobig", false},
    {"over the limit by code", "5.2.3", "", "", "failed", "exceedlimit", false},
    {"disabled mailbox", "5.2.1", "", "", "failed", "filtered", false},
    {"null MX", "5.1.10", "", "", "failed", "notaccept", true},
    {"not accepting, temporary", "4.3.2", "", "", "delayed", "notaccept",
     false},
    {"sender refused by code", "5.1.8", "", "", "failed", "rejected", false},
    {"no answer", "4.4.1", "", "", "delayed", "expired", false},
    {"content", "5.6.0", "", "", "failed", "contenterror", false},
    {"security family", "5.7.9", "", "", "failed", "securityerror", false},
    {"security, no detail known", "5.7.99", "", "", "failed", "securityerror",
     false},
    {"system", "5.3.0", "", "", "failed", "systemerror", false},
    {"delivered", "2.1.5", "250 ok", "", "delivered", "delivered", false},
    // A code that names a cause yields to words that name another.
    {"5.1.1 but the mailbox is full", "5.1.1", "550 5.1.1 mailbox is full",
     "RCPT", "failed", "mailboxfull", false},
    {"5.1.1 but relaying denied", "5.1.1",
     "550 5.1.1 <a@example.net>: Relay access denied", "", "failed",
     "norelaying", false},
    {"5.1.1 but the client is listed", "5.1.1",
     "550 5.1.1 Client host rejected: blocked using zen.spamhaus.org", "",
     "failed", "blocked", false},
    {"5.1.2 but no route", "5.1.2", "550 5.1.2 no route to host", "", "failed",
     "networkerror", false},
    {"5.7.1 spam", "5.7.1",
     "550 5.7.1 Message rejected as spam by Content Filtering", "DATA",
     "failed", "spamdetected", false},
    {"5.7.1 relay", "5.7.1", "554 5.7.1 <x@example.org>: Relay access denied",
     "RCPT", "failed", "norelaying", false},
    {"5.7.1 policy", "5.7.1", "550 5.7.1 Email not accepted for policy reasons",
     "", "failed", "policyviolation", false},
    {"5.7.1 virus", "5.7.1", "554 5.7.1 Virus detected: Eicar-Test", "DATA",
     "failed", "virusdetected", false},
    {"5.7.1 nothing else", "5.7.1", "550 5.7.1 Message refused", "", "failed",
     "securityerror", false},
    {"4.7.1 greylisted client", "4.7.1",
     "450 4.7.1 Client host rejected: cannot find your hostname", "RCPT",
     "delayed", "blocked", false},
    // Without a code the SMTP command decides between neighbours.
    {"unknown user refused at RCPT", "", "550 User unknown", "RCPT", "failed",
     "userunknown", true},
    {"unknown user after DATA", "", "550 User unknown", "DATA", "failed",
     "filtered", false},
    {"unknown user, step unknown", "", "550 No such user here", "", "failed",
     "filtered", false},
    {"one word wildcard", "", "550 user jo@example.com does not exist", "RCPT",
     "failed", "userunknown", true},
    {"wildcard spans one word only", "", "550 user jo smith does not exist",
     "RCPT", "failed", "onhold", false},
    {"sender refused at MAIL", "", "553 sender address rejected", "MAIL",
     "failed", "rejected", false},
    {"full without a code", "", "mailbox is full (quota exceeded)", "",
     "failed", "mailboxfull", false},
    {"host unknown", "", "Host or domain name not found", "", "failed",
     "hostunknown", true},
    {"domain without an apostrophe", "", "As the remote domain doesnt exist.",
     "", "failed", "hostunknown", true},
    {"relay error", "", "Due to the following SMTP relay error", "", "failed",
     "norelaying", false},
    {"suspended", "5.0.0", "550 This account has been suspended", "", "failed",
     "suspend", false},
    {"too many connections", "", "421 Too many connections from your host.", "",
     "delayed", "toomanyconn", false},
    {"spam words refused at RCPT", "5.0.0", "554 Message looks like spam",
     "RCPT", "failed", "spamdetected", false},
    {"spam after DATA", "5.0.0", "554 Message looks like spam", "DATA",
     "failed", "spamdetected", false},
    {"expired in the text", "", "Connection timed out", "", "failed", "expired",
     false},
    {"queue too long", "4.4.7", "Delivery time expired", "", "failed",
     "expired", false},
    {"content words", "", "552 Too many \"Received\" headers", "", "failed",
     "contenterror", false},
    {"system words", "", "Local configuration error", "", "failed",
     "systemerror", false},
    {"network words", "", "Network is unreachable", "", "failed",
     "networkerror", false},
    {"mailer words", "", "Command died with status 1: procmail", "", "failed",
     "mailererror", false},
    {"not accepting words", "", "Host does not accept mail", "", "failed",
     "notaccept", true},
    {"syntax reply", "", "503 Bad sequence of commands", "", "failed",
     "syntaxerror", false},
    {"greeting refused", "", "Connected but greeting refused", "EHLO", "failed",
     "blocked", false},
    {"delayed, nothing known", "", "", "", "delayed", "expired", false},
    {"nothing at all", "", "", "", "failed", "undefined", false},
    {"words nobody knows", "", "Der Empfang ist gestoert", "", "failed",
     "onhold", false},
    // A format's own reason: a specific one stands, a weak one yields.
    {"specific hint", "5.0.0", "Unknown Recipient", "", "failed", "mailboxfull",
     false, "mailboxfull"},
    {"weak hint stands", "", "state 14", "", "failed", "userunknown", true,
     "userunknown"},
    {"weak hint yields to words", "5.2.2", "552 5.2.2 Mailbox full", "",
     "failed", "mailboxfull", false, "userunknown"},
    // A local program's failure.
    {"x-unix", "5.0.0", "127", "", "failed", "mailererror", false, "",
     "x-unix"},
};

TEST(BounceReasonTest, Table) {
  for (const Row& row : kRows) {
    const std::string reason = BounceReason({.status = row.status,
                                             .diagnostic = row.diagnostic,
                                             .diagnostic_type = row.type,
                                             .action = row.action,
                                             .command = row.command,
                                             .hint = row.hint});
    EXPECT_EQ(reason, row.want) << row.name;
    EXPECT_EQ(IsHardBounce(reason, row.status), row.hard) << row.name;
  }
}

TEST(BounceReasonTest, SmtpCommand) {
  struct Case {
    const char* text;
    const char* want;
  };
  const Case cases[] = {
      {"550 5.1.1 <a@b.example>: Recipient address rejected: User unknown "
       "(in reply to RCPT TO command)",
       "RCPT"},
      {"552 5.7.0 spam (in reply to end of DATA command)", "DATA"},
      {"SMTP error from remote mail server after RCPT TO:<a@b.example>: 550 "
       "No such user",
       "RCPT"},
      {"SMTP error from remote mail server after end of data: 554 rejected",
       "DATA"},
      {"SMTP error from remote mail server after pipelined MAIL FROM:<x@y> "
       "SIZE=1234: 550 no",
       "MAIL"},
      {"SMTP error from remote mail server after initial connection: 554", ""},
      {">>> MAIL From:<x@y>\n<<< 250 ok\n>>> RCPT To:<a@b>\n<<< 550 no",
       "RCPT"},
      {"192.0.2.1 does not like recipient. Remote host said: 550 no", "RCPT"},
      {"Connected to 192.0.2.1 but sender was rejected.", "MAIL"},
      {"Remote host said: 550 5.1.1 <a@b>... User Unknown [RCPT_TO]", "RCPT"},
      {"550 5.1.1 User unknown", ""},
  };
  for (const Case& c : cases)
    EXPECT_EQ(SmtpCommandIn(c.text), c.want) << c.text;
}

TEST(BounceReasonTest, StatusAndReplyCodes) {
  EXPECT_EQ(SpecificStatusIn("550 5.1.1 <a@b>... User unknown"), "5.1.1");
  EXPECT_EQ(SpecificStatusIn("550 5.0.0 failed"), "");           // not specific
  EXPECT_EQ(SpecificStatusIn("554 5.7.510 Access denied"), "");  // detail > 9
  EXPECT_EQ(SpecificStatusIn("Sorry, no mailbox here (#5.1.1)"), "5.1.1");
  // A code after a reply code wins over an earlier bare one.
  EXPECT_EQ(SpecificStatusIn("host 4.4.1 said: 550 5.2.2 full"), "5.2.2");
  EXPECT_EQ(SpecificStatusIn("connect to 192.0.2.5.1: refused"), "");
  EXPECT_EQ(ReplyCodeIn("host mx[192.0.2.1] said: 550-5.1.1 no"), "550");
  EXPECT_EQ(ReplyCodeIn("450 4.2.2 over quota"), "450");
  EXPECT_EQ(ReplyCodeIn("192.0.2.1 does not like recipient"), "");
  EXPECT_EQ(ReplyCodeIn("Exim 4.550 x5501 550x"), "");
  EXPECT_EQ(ReplyCodeIn(""), "");
}

}  // namespace
}  // namespace ldapmda
