// Load: 8 concurrent deliverers into 8 mailboxes at once, through pipe
// mode (250 messages each: 2,000 runs of the real binary) and through
// LMTP (8 sessions, 2,000 messages each), against one real slapd. Every
// message must be stored exactly once, complete: the counts are verified
// in the directory, per mailbox and overall. The sizes prove the
// properties (the deliverers race to create every mailbox and folder,
// and keep writing side by side) in CI time; throughput is measured by
// bench/run, not here.
#include <gtest/gtest.h>
#include <ldap.h>

#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ldapmda/message.h"
#include "support/fault.h"
#include "support/ldap_client.h"
#include "support/mda_fixture.h"
#include "support/process.h"
#include "support/slapd_server.h"

namespace ldapmda {
namespace {

using testing::LmtpChild;
using testing::ProcessResult;
using testing::SlapdOptions;
using testing::SlapdServer;
using testing::TestEntry;

constexpr int kDeliverers = 8;
constexpr int kPipePerDeliverer = 250;
constexpr int kLmtpPerDeliverer = 2000;
constexpr int kUsers = 8;
constexpr int kMaxErrorsKept = 20;

std::string User(int u) { return "load" + std::to_string(u); }
std::string Address(int u) { return User(u) + "@example.com"; }

// Eight recipients load0..load7 besides the sample users.
SlapdOptions LoadDirectory() {
  SlapdOptions options;
  for (int u = 0; u < kUsers; ++u) {
    options.extra_ldif.push_back("dn: uid=" + User(u) +
                                 ",ou=people,dc=example,dc=com\n"
                                 "objectClass: inetOrgPerson\n"
                                 "uid: " +
                                 User(u) + "\ncn: " + User(u) + "\nsn: " +
                                 User(u) + "\nmail: " + Address(u) + "\n");
  }
  return options;
}

// Deliverer `t`'s message `j` goes to user (t + j) % 8: all deliverers
// write into all mailboxes at once (and race to create each mailbox).
int UserOf(int t, int j) { return (t + j) % kUsers; }

std::string Subject(const std::string& mode, int t, int j) {
  return "load " + mode + " " + std::to_string(t) + "-" + std::to_string(j);
}

// About 1.5 KB, distinct per (mode, t, j).
std::string LoadMessage(const std::string& mode, int t, int j) {
  std::string m =
      "From: Load <load@example.org>\n"
      "To: " +
      Address(UserOf(t, j)) + "\nSubject: " + Subject(mode, t, j) +
      "\nMessage-ID: <" + mode + "-" + std::to_string(t) + "-" +
      std::to_string(j) +
      "@load.example.org>\n"
      "Date: Tue, 01 Jul 2003 10:52:37 +0200\n"
      "\n";
  for (int line = 0; line < 20; ++line) {
    m += "line " + std::to_string(line) +
         " of a load test message, padded to a realistic size ..........\n";
  }
  return m;
}

// Per deliverer: failures (the first few kept) and the time taken.
struct DelivererResult {
  int failures = 0;
  std::vector<std::string> errors;
  void Fail(const std::string& what) {
    if (++failures <= kMaxErrorsKept) errors.push_back(what);
  }
};

class LoadTest : public testing::MdaTest {
 protected:
  // Checks the directory: 8 x `per_deliverer` messages of `mode`, each
  // once, each byte-exact as `expected_raw` says, evenly spread over the
  // mailboxes.
  void VerifyDirectory(
      const SlapdServer& slapd, const std::string& mode, int per_deliverer,
      const std::function<std::string(int, int)>& expected_raw) {
    // The rootdn is not subject to slapd's sizelimit (500).
    testing::LdapClient admin = slapd.Admin();
    std::set<std::string> keys;
    std::map<std::string, int> subjects;
    std::size_t total = 0;
    int wrong_raw = 0;
    for (int u = 0; u < kUsers; ++u) {
      const auto box =
          admin.Search("cn=mailbox," + slapd.UserDn(User(u)),
                       LDAP_SCOPE_SUBTREE, "(objectClass=mdaMessage)",
                       {"mdaKey", "mdaSubject", "mdaRawMessage", "mdaSize"});
      EXPECT_EQ(box.size(),
                static_cast<std::size_t>(kDeliverers * per_deliverer / kUsers))
          << User(u);
      total += box.size();
      for (const TestEntry& e : box) {
        keys.insert(e.First("mdaKey"));
        const std::string subject = e.First("mdaSubject");
        ++subjects[subject];
        int t = -1, j = -1;
        const std::string prefix = "load " + mode + " ";
        if (subject.rfind(prefix, 0) != 0 ||
            std::sscanf(subject.c_str() + prefix.size(), "%d-%d", &t, &j) !=
                2 ||
            UserOf(t, j) != u) {
          ADD_FAILURE() << e.dn << ": unexpected subject " << subject;
          continue;
        }
        const std::string raw = expected_raw(t, j);
        if (e.First("mdaRawMessage") != raw ||
            e.First("mdaSize") != std::to_string(raw.size())) {
          if (++wrong_raw <= kMaxErrorsKept) {
            ADD_FAILURE() << e.dn << ": not stored byte-exact";
          }
        }
      }
    }
    const std::size_t all =
        static_cast<std::size_t>(kDeliverers * per_deliverer);
    EXPECT_EQ(total, all);
    EXPECT_EQ(keys.size(), all) << "duplicate mdaKey";
    EXPECT_EQ(subjects.size(), all) << "messages missing or duplicated";
    int duplicated = 0;
    for (const auto& [subject, n] : subjects) {
      if (n != 1 && ++duplicated <= kMaxErrorsKept) {
        ADD_FAILURE() << subject << " stored " << n << " times";
      }
    }
    EXPECT_EQ(wrong_raw, 0);
    // And nothing anywhere else.
    EXPECT_EQ(admin
                  .Search(slapd.suffix(), LDAP_SCOPE_SUBTREE,
                          "(objectClass=mdaMessage)", {"1.1"})
                  .size(),
              all);
  }

  static void Report(const std::string& what, int per_deliverer,
                     std::chrono::steady_clock::time_point start) {
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    const int all = kDeliverers * per_deliverer;
    std::cout << "[          ] " << what << ": " << all << " messages in " << s
              << " s (" << static_cast<int>(all / s) << " per second)\n";
  }

  static void ExpectNoFailures(const std::vector<DelivererResult>& results) {
    for (std::size_t t = 0; t < results.size(); ++t) {
      EXPECT_EQ(results[t].failures, 0) << "deliverer " << t;
      for (const std::string& e : results[t].errors) {
        ADD_FAILURE() << "deliverer " << t << ": " << e;
      }
    }
  }
};

TEST_F(LoadTest, PipeModeEightDeliverersTwoHundredFiftyMessagesEach) {
  SlapdServer slapd(LoadDirectory());
  const std::string conf = Config(slapd);
  std::vector<DelivererResult> results(kDeliverers);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kDeliverers; ++t) {
    threads.emplace_back([&, t] {
      DelivererResult& result = results[static_cast<std::size_t>(t)];
      for (int j = 0; j < kPipePerDeliverer; ++j) {
        const std::string raw = LoadMessage("pipe", t, j);
        const std::string rcpt = Address(UserOf(t, j));
        const ProcessResult r = Deliver(conf, rcpt, raw);
        const std::string dn = "mdaKey=" + Sha256Hex({rcpt, "\n", raw}) +
                               ",mdaFolder=INBOX,cn=mailbox," +
                               slapd.UserDn(User(UserOf(t, j)));
        if (r.exit_code != 0 || r.out != "stored as " + dn + "\n") {
          result.Fail(Subject("pipe", t, j) + ": exit " +
                      std::to_string(r.exit_code) + " signal " +
                      std::to_string(r.signal) + ": " + r.out + r.err);
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  Report("pipe mode, 8 concurrent deliverers", kPipePerDeliverer, start);
  ExpectNoFailures(results);
  VerifyDirectory(slapd, "pipe", kPipePerDeliverer,
                  [](int t, int j) { return LoadMessage("pipe", t, j); });
}

// What lmtp(8) sends for `message` arrives as pipe(8) with flags=DRX
// would hand it over: Return-Path: and Delivered-To: first, LF line ends.
std::string LmtpStored(const std::string& sender, int t, int j) {
  return "Return-Path: <" + sender +
         ">\nDelivered-To: " + Address(UserOf(t, j)) + "\n" +
         LoadMessage("lmtp", t, j);
}

TEST_F(LoadTest, LmtpModeEightSessionsTwoThousandMessagesEach) {
  SlapdServer slapd(LoadDirectory());
  const std::string conf = Config(slapd);
  const std::string sender = "load@example.org";
  std::vector<DelivererResult> results(kDeliverers);
  std::vector<int> exits(kDeliverers, -2);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kDeliverers; ++t) {
    threads.emplace_back([&, t] {
      DelivererResult& result = results[static_cast<std::size_t>(t)];
      LmtpChild lmtp(LDAPMDA_BINARY, {"-c", conf, "--lmtp"});
      std::string reply = lmtp.Reply();
      if (reply.rfind("220 ", 0) != 0) return result.Fail("greeting " + reply);
      lmtp.Send("LHLO load.example.org\r\n");
      reply = lmtp.Reply();
      if (reply.rfind("250", 0) != 0) return result.Fail("LHLO " + reply);
      for (int j = 0; j < kLmtpPerDeliverer; ++j) {
        const std::string rcpt = Address(UserOf(t, j));
        // As lmtp(8) sends it: CRLF line ends; the stored form has LF.
        const auto replies =
            lmtp.Transaction(sender, {rcpt}, LoadMessage("lmtp", t, j));
        const std::string dn =
            "mdaKey=" + Sha256Hex({rcpt, "\n", LmtpStored(sender, t, j)}) +
            ",mdaFolder=INBOX,cn=mailbox," + slapd.UserDn(User(UserOf(t, j)));
        const std::string expected =
            "250 2.0.0 <" + rcpt + ">: stored as " + dn;
        if (replies.size() != 1 || replies[0] != expected) {
          result.Fail(Subject("lmtp", t, j) + ": " +
                      (replies.empty() ? "no reply" : replies[0]));
          if (!replies.empty() && replies[0][0] == '!') return;  // gone
        }
      }
      lmtp.Send("QUIT\r\n");
      reply = lmtp.Reply();
      if (reply != "221 2.0.0 Bye") result.Fail("QUIT " + reply);
      exits[static_cast<std::size_t>(t)] = lmtp.Finish();
    });
  }
  for (std::thread& th : threads) th.join();
  Report("LMTP mode, 8 concurrent sessions", kLmtpPerDeliverer, start);
  ExpectNoFailures(results);
  for (int t = 0; t < kDeliverers; ++t) {
    EXPECT_EQ(exits[static_cast<std::size_t>(t)], 0) << "session " << t;
  }
  VerifyDirectory(slapd, "lmtp", kLmtpPerDeliverer,
                  [&](int t, int j) { return LmtpStored(sender, t, j); });
}

}  // namespace
}  // namespace ldapmda
