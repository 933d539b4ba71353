// Fault injection with real processes: slapd SIGKILLed between the lookup
// and the store and in the middle of a large store, slapd hung during the
// add, the database full, slapd killed under an LMTP session. Every fault
// must end in a deferral (exit 75 and one 4.x.x line, or an LMTP 4xx
// reply), never a bounce, never a half-stored entry; and the retry must
// store the message exactly once. (ldapmda itself SIGKILLed at random
// while a real Postfix delivers a batch: tests/e2e/fault_postfix_test.cpp.)
//
// The slapd faults are placed exactly with LdapProxy (tests/support/
// fault.h), which sits between ldapmda and slapd and acts on the first
// AddRequest it sees, after the lookup (SearchRequest) went through.
#include "support/fault.h"

#include <gtest/gtest.h>
#include <ldap.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ldapmda/message.h"
#include "support/ldap_client.h"
#include "support/mda_fixture.h"
#include "support/process.h"
#include "support/slapd_server.h"

namespace ldapmda {
namespace {

using testing::kLdapAddRequest;
using testing::kLdapBindRequest;
using testing::kLdapSearchRequest;
using testing::LdapError;
using testing::LdapProxy;
using testing::LdapRequestInfo;
using testing::LmtpChild;
using testing::ProcessResult;
using testing::ProxyAction;
using testing::SignalAndAwaitDeath;
using testing::SlapdOptions;
using testing::SlapdServer;
using testing::StopAndAwait;
using testing::StoredDn;
using testing::TestEntry;

constexpr char kRcpt[] = "alice@example.com";

std::string SmallMessage(const std::string& tag) {
  return "From: Sender <sender@example.org>\n"
         "To: alice@example.com\n"
         "Subject: fault " +
         tag +
         "\n"
         "Message-ID: <fault-" +
         tag +
         "@example.org>\n"
         "\n"
         "Body of " +
         tag + ".\n";
}

// About `size` bytes: headers, then lines of every byte value but NUL and
// LF, so that a cut anywhere would show in a byte-exact comparison.
std::string LargeMessage(const std::string& tag, std::size_t size) {
  std::string m = SmallMessage(tag);
  m.reserve(size + 128);
  unsigned x = 2463534242U;
  while (m.size() < size) {
    for (int i = 0; i < 75; ++i) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      char c = static_cast<char>(x >> 24);
      if (c == '\n' || c == '\0') c = 'x';
      m += c;
    }
    m += '\n';
  }
  return m;
}

std::string MessageDn(const SlapdServer& slapd, const std::string& uid,
                      const std::string& rcpt, const std::string& raw) {
  return "mdaKey=" + Sha256Hex({rcpt, "\n", raw}) +
         ",mdaFolder=INBOX,cn=mailbox," + slapd.UserDn(uid);
}

// ldapmda deferred the way Postfix needs: exit 75, no signal, exactly one
// line "4.x.x text" at byte 0 and nothing on stderr.
void ExpectDeferred(const ProcessResult& r) {
  EXPECT_EQ(r.signal, 0) << "ldapmda died of a signal: Postfix would defer "
                            "only by luck (exit 141 bounces)";
  EXPECT_EQ(r.exit_code, 75) << r.out << r.err;
  EXPECT_TRUE(r.out.size() > 6 && r.out.rfind("4.", 0) == 0 &&
              r.out[3] == '.' && r.out.find(' ') < 8)
      << "not one 4.x.x line: \"" << r.out << "\"";
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_EQ(r.out.back(), '\n') << r.out;
  EXPECT_EQ(r.err, "");
}

// The messages stored below `uid`'s mailbox (none when it does not exist).
std::vector<TestEntry> MailboxEntries(const SlapdServer& slapd,
                                      const std::string& uid,
                                      const std::vector<std::string>& attrs) {
  try {
    return slapd.Admin().Search("cn=mailbox," + slapd.UserDn(uid),
                                LDAP_SCOPE_SUBTREE, "(objectClass=mdaMessage)",
                                attrs);
  } catch (const LdapError& e) {
    if (e.code() == LDAP_NO_SUCH_OBJECT) return {};
    throw;
  }
}

// Whether the entry for `raw` exists; if it does, it must be complete:
// the raw message byte-exact and its size right. Never partial.
bool StoredCompletely(const SlapdServer& slapd, const std::string& dn,
                      const std::string& raw) {
  const auto e = slapd.Admin().Read(dn, {"mdaRawMessage", "mdaSize", "mdaKey",
                                         "mdaSubject", "mdaEnvelopeSender"});
  if (!e) return false;
  const std::string& stored = e->First("mdaRawMessage");
  EXPECT_EQ(stored.size(), raw.size()) << dn << ": a partial entry";
  EXPECT_TRUE(stored == raw) << dn << ": mdaRawMessage differs";
  EXPECT_EQ(e->First("mdaSize"), std::to_string(raw.size())) << dn;
  EXPECT_FALSE(e->First("mdaSubject").empty()) << dn;
  EXPECT_FALSE(e->First("mdaEnvelopeSender").empty()) << dn;
  return true;
}

// A rule acting once, on the first AddRequest larger than `min_size`.
// `action` is what to do with it; `seen_search` records whether the
// lookup went through on the same connection first.
struct OnFirstAdd {
  std::size_t min_size = 0;
  std::function<ProxyAction(const LdapRequestInfo&)> action;
  std::shared_ptr<std::atomic<bool>> fired =
      std::make_shared<std::atomic<bool>>(false);
  ProxyAction operator()(const LdapRequestInfo& r) const {
    if (r.op != kLdapAddRequest || r.size < min_size) return {};
    if (fired->exchange(true)) return {};
    return action(r);
  }
};

class FaultTest : public testing::MdaTest {
 protected:
  // Delivers `raw` to alice through `proxy`, timeout and deadline as given.
  ProcessResult DeliverVia(const LdapProxy& proxy, const std::string& conf,
                           const std::string& raw, int timeout = 5,
                           int deadline = 30) {
    return Deliver(conf, kRcpt, raw,
                   {"-o", "server_host=" + proxy.uri(), "-o",
                    "timeout=" + std::to_string(timeout), "-o",
                    "deadline=" + std::to_string(deadline)});
  }

  // The proxy saw: bind, the lookup, then the add (which it acted on).
  static void ExpectLookupThenAdd(const LdapProxy& proxy) {
    std::vector<unsigned char> ops;
    for (const auto& r : proxy.requests()) {
      if (r.connection == 1) ops.push_back(r.op);
    }
    ASSERT_GE(ops.size(), 3u);
    EXPECT_EQ(ops[0], kLdapBindRequest);
    EXPECT_EQ(ops[1], kLdapSearchRequest);
    EXPECT_EQ(ops[2], kLdapAddRequest);
  }

  // slapd died (the proxy's thread killed it): reap and start it again on
  // the same data and port.
  static void Restart(SlapdServer& slapd) {
    slapd.Kill();
    slapd.Start();
  }

  // A retry straight to slapd stores the message, or finds it stored
  // (`was_stored`; nullopt: either).
  void ExpectRetryStoresOnce(const SlapdServer& slapd, const std::string& conf,
                             const std::string& raw,
                             std::optional<bool> was_stored) {
    const ProcessResult r = Deliver(conf, kRcpt, raw);
    ASSERT_EQ(r.exit_code, 0) << r.out;
    const std::string dn = MessageDn(slapd, "alice", kRcpt, raw);
    if (was_stored) {
      EXPECT_EQ(r.out, (*was_stored ? "already stored as " : "stored as ") +
                           dn + "\n");
    } else {
      EXPECT_TRUE(r.out == "stored as " + dn + "\n" ||
                  r.out == "already stored as " + dn + "\n")
          << r.out;
    }
    EXPECT_TRUE(StoredCompletely(slapd, dn, raw));
  }
};

TEST_F(FaultTest, SlapdKilledBetweenLookupAndStoreDefers) {
  SlapdServer slapd;
  const std::string conf = Config(slapd);
  const pid_t pid = slapd.pid();
  // The lookup is answered; the add never reaches slapd, which dies.
  LdapProxy proxy(slapd.port(), OnFirstAdd{0, [pid](const LdapRequestInfo&) {
                                             ProxyAction a;
                                             a.kind = ProxyAction::Kind::kCut;
                                             a.before = [pid] {
                                               SignalAndAwaitDeath(pid);
                                             };
                                             return a;
                                           }});
  const std::string raw = SmallMessage("between lookup and store");
  const ProcessResult r = DeliverVia(proxy, conf, raw);
  ExpectDeferred(r);
  EXPECT_EQ(r.out.rfind("4.4.3 <alice@example.com>: ", 0), 0u) << r.out;
  ExpectLookupThenAdd(proxy);
  EXPECT_LT(r.seconds, 10.0);

  Restart(slapd);
  EXPECT_FALSE(
      StoredCompletely(slapd, MessageDn(slapd, "alice", kRcpt, raw), raw));
  EXPECT_TRUE(MailboxEntries(slapd, "alice", {"1.1"}).empty());
  ExpectRetryStoresOnce(slapd, conf, raw, false);
  EXPECT_EQ(MailboxEntries(slapd, "alice", {"1.1"}).size(), 1u);
}

TEST_F(FaultTest, SlapdKilledDuringTheStoreOfALargeMessageLeavesNoPartEntry) {
  SlapdServer slapd;
  const std::string conf = Config(slapd);
  constexpr std::size_t kSize = 5 << 20;
  // Where in the 5 MB AddRequest slapd dies: at its first byte, inside the
  // DN, inside the raw message, one byte short, and with all of it read
  // (then slapd dies while it parses, indexes or commits the entry).
  // With all of it forwarded, slapd is killed after a pause of 0 to 1000
  // ms: while it still reads, parses, indexes or commits the entry, or
  // after the commit with the answer not yet passed back.
  using Cut = std::function<std::size_t(std::size_t)>;
  struct Kill {
    std::string name;
    Cut cut;
    int pause_ms = 0;
  };
  const auto all = [](std::size_t size) { return size; };
  const std::vector<Kill> cuts = {
      {"first byte", [](std::size_t) { return 1; }},
      {"dn", [](std::size_t) { return 100; }},
      {"1 MiB", [](std::size_t) { return 1 << 20; }},
      {"half", [](std::size_t size) { return size / 2; }},
      {"one short", [](std::size_t size) { return size - 1; }},
      {"all", all},
      {"all + 10 ms", all, 10},
      {"all + 30 ms", all, 30},
      {"all + 100 ms", all, 100},
      {"all + 1000 ms", all, 1000}};
  std::string committed;
  for (const auto& [name, cut, pause_ms] : cuts) {
    SCOPED_TRACE("slapd killed after: " + name);
    const std::string raw = LargeMessage(name, kSize);
    const pid_t pid = slapd.pid();
    const bool whole = name.rfind("all", 0) == 0;
    LdapProxy proxy(
        slapd.port(),
        OnFirstAdd{1 << 20, [pid, cut = cut](const LdapRequestInfo& r) {
                     ProxyAction a;
                     a.kind = ProxyAction::Kind::kCut;
                     a.after_bytes = cut(r.size);
                     a.after = [pid] { SignalAndAwaitDeath(pid); };
                     return a;
                   }});
    const ProcessResult r = DeliverVia(proxy, conf, raw);
    ExpectDeferred(r);
    EXPECT_EQ(r.out.rfind("4.4.3 <alice@example.com>: ", 0), 0u) << r.out;
    ExpectLookupThenAdd(proxy);

    Restart(slapd);
    const std::string dn = MessageDn(slapd, "alice", kRcpt, raw);
    const bool stored = StoredCompletely(slapd, dn, raw);
    // Unless slapd had the whole request, it cannot have stored it.
    if (!whole) {
      EXPECT_FALSE(stored);
    }
    if (stored) committed += " [" + name + "]";
    ExpectRetryStoresOnce(slapd, conf, raw, stored);
  }
  // One entry per message, each complete (checked above), nothing else.
  const auto box = MailboxEntries(slapd, "alice", {"mdaSize"});
  EXPECT_EQ(box.size(), cuts.size());
  for (const auto& e : box) {
    EXPECT_GE(std::stoul(e.First("mdaSize")), kSize) << e.dn;
  }
  std::cout << "[          ] committed before slapd was killed:"
            << (committed.empty() ? " none" : committed) << "\n";
}

TEST_F(FaultTest, HungDirectoryDuringTheAddDefersWithinTheDeadline) {
  SlapdServer slapd;
  const std::string conf = Config(slapd);
  const auto stall = [](const LdapRequestInfo&) {
    ProxyAction a;
    a.kind = ProxyAction::Kind::kStall;
    return a;
  };
  {
    // The network path hangs after the lookup: the add's answer never
    // comes. The per-operation timeout gives up first: 4.4.3.
    LdapProxy proxy(slapd.port(), OnFirstAdd{0, stall});
    const std::string raw = SmallMessage("stalled add");
    const ProcessResult r = DeliverVia(proxy, conf, raw, 1, 10);
    ExpectDeferred(r);
    EXPECT_EQ(r.out.rfind("4.4.3 <alice@example.com>: ", 0), 0u) << r.out;
    EXPECT_LT(r.seconds, 10.0);
    ExpectLookupThenAdd(proxy);
    EXPECT_FALSE(
        StoredCompletely(slapd, MessageDn(slapd, "alice", kRcpt, raw), raw));
    ExpectRetryStoresOnce(slapd, conf, raw, false);
  }
  {
    // The deadline is shorter than the timeout: the deadline wins, 4.3.0.
    LdapProxy proxy(slapd.port(), OnFirstAdd{0, stall});
    const std::string raw = SmallMessage("stalled add, short deadline");
    const ProcessResult r = DeliverVia(proxy, conf, raw, 30, 2);
    ExpectDeferred(r);
    EXPECT_EQ(r.out.rfind("4.3.0 ", 0), 0u) << r.out;
    EXPECT_LT(r.seconds, 2.0 + 1.5);
    ExpectRetryStoresOnce(slapd, conf, raw, false);
  }
  {
    // A 5 MB add into a path that stopped reading: ldapmda's write blocks
    // once the socket buffers are full. It must still defer in time.
    LdapProxy proxy(slapd.port(), OnFirstAdd{0, stall});
    const std::string raw = LargeMessage("stalled large add", 5 << 20);
    const ProcessResult r = DeliverVia(proxy, conf, raw, 1, 5);
    ExpectDeferred(r);
    EXPECT_LT(r.seconds, 5.0 + 1.5);
    ExpectRetryStoresOnce(slapd, conf, raw, false);
  }
  {
    // slapd itself hangs (SIGSTOP) right after answering the lookup, with
    // the add on its way to it.
    const pid_t pid = slapd.pid();
    LdapProxy proxy(slapd.port(), OnFirstAdd{0, [pid](const LdapRequestInfo&) {
                                               ProxyAction a;
                                               a.before = [pid] {
                                                 StopAndAwait(pid);
                                               };
                                               return a;
                                             }});
    const std::string raw = SmallMessage("slapd stopped before the add");
    const ProcessResult r = DeliverVia(proxy, conf, raw, 1, 10);
    ExpectDeferred(r);
    EXPECT_EQ(r.out.rfind("4.4.3 <alice@example.com>: ", 0), 0u) << r.out;
    EXPECT_LT(r.seconds, 10.0);
    ExpectLookupThenAdd(proxy);
    slapd.Pause();  // takes note of the stop
    slapd.Resume();
    // Woken up, slapd may still carry out the add it had received: then
    // completely, and the retry finds it.
    StoredCompletely(slapd, MessageDn(slapd, "alice", kRcpt, raw), raw);
    ExpectRetryStoresOnce(slapd, conf, raw, std::nullopt);
  }
  EXPECT_EQ(MailboxEntries(slapd, "alice", {"1.1"}).size(), 4u);
}

TEST_F(FaultTest, FullDatabaseDefersAndStoresNothingPartial) {
  SlapdOptions options;
  options.maxsize = 1 << 20;  // back-mdb map size: 1 MiB
  SlapdServer slapd(options);
  const std::string conf = Config(slapd);
  std::vector<std::string> stored;
  ProcessResult full;
  for (int i = 0; i < 100; ++i) {
    const std::string raw = LargeMessage("fill " + std::to_string(i), 48 << 10);
    const ProcessResult r = Deliver(conf, kRcpt, raw);
    if (r.exit_code != 0) {
      full = r;
      break;
    }
    ASSERT_FALSE(StoredDn(r.out).empty()) << r.out;
    stored.push_back(raw);
  }
  ASSERT_FALSE(stored.empty()) << full.out;
  ASSERT_NE(full.exit_code, -1) << "1 MiB never filled up";
  // The message that did not fit: deferred, not bounced, and not stored.
  ExpectDeferred(full);
  EXPECT_EQ(full.out.rfind("4.", 0), 0u) << full.out;
  std::cout << "[          ] database full after " << stored.size()
            << " messages of 48 KiB: " << full.out;

  // More of the same, also into a mailbox that does not exist yet (then
  // creating it fails first), and through LMTP.
  for (int i = 0; i < 3; ++i) {
    const std::string raw = LargeMessage("more " + std::to_string(i), 48 << 10);
    ExpectDeferred(Deliver(conf, kRcpt, raw));
    ExpectDeferred(Deliver(conf, "carol@example.com", raw));
  }
  {
    LmtpChild lmtp(LDAPMDA_BINARY, {"-c", conf, "--lmtp"});
    EXPECT_EQ(lmtp.Reply().substr(0, 3), "220");
    lmtp.Send("LHLO test\r\n");
    EXPECT_EQ(lmtp.Reply().substr(0, 3), "250");
    const auto replies =
        lmtp.Transaction("sender@example.org", {kRcpt, "bob@example.com"},
                         LargeMessage("lmtp", 48 << 10));
    ASSERT_EQ(replies.size(), 2u) << replies[0];
    for (const std::string& reply : replies) {
      EXPECT_EQ(reply[0], '4') << reply;
      EXPECT_EQ(reply.substr(3, 3), " 4.") << reply;
    }
    lmtp.Send("QUIT\r\n");
    EXPECT_EQ(lmtp.Reply().substr(0, 3), "221");
    EXPECT_EQ(lmtp.Finish(), 0);
  }

  // Exactly what was accepted is there, each complete; nothing else.
  const auto box = MailboxEntries(slapd, "alice", {"mdaRawMessage"});
  EXPECT_EQ(box.size(), stored.size());
  std::set<std::string> expected(stored.begin(), stored.end());
  for (const auto& e : box) {
    EXPECT_EQ(expected.count(e.First("mdaRawMessage")), 1u)
        << e.dn << ": not one of the stored messages, or not complete";
  }
  EXPECT_TRUE(MailboxEntries(slapd, "carol", {"1.1"}).empty());
  EXPECT_TRUE(MailboxEntries(slapd, "bob", {"1.1"}).empty());
  // A retry of a stored message still succeeds on the full database.
  const ProcessResult again = Deliver(conf, kRcpt, stored.front());
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_EQ(again.out.rfind("already stored as ", 0), 0u) << again.out;
}

TEST_F(FaultTest, LmtpSessionDefersWhenSlapdDiesAndRecovers) {
  SlapdServer slapd;
  const std::string conf = Config(slapd);
  const pid_t pid = slapd.pid();
  // Both mailboxes exist beforehand, so that every add below is a
  // message's (a first delivery also adds the mailbox container).
  for (const char* rcpt : {kRcpt, "bob@example.com"}) {
    ASSERT_EQ(Deliver(conf, rcpt, "Subject: earlier\n\nhello\n").exit_code, 0);
  }
  // The first add goes through; slapd dies on the second, after the
  // RCPT-time lookup of that transaction was answered.
  auto adds = std::make_shared<std::atomic<int>>(0);
  LdapProxy proxy(slapd.port(), [pid, adds](const LdapRequestInfo& r) {
    ProxyAction a;
    if (r.op == kLdapAddRequest && ++*adds == 2) {
      a.kind = ProxyAction::Kind::kCut;
      a.before = [pid] { SignalAndAwaitDeath(pid); };
    }
    return a;
  });
  LmtpChild lmtp(LDAPMDA_BINARY,
                 {"-c", conf, "--lmtp", "-o", "server_host=" + proxy.uri()});
  ASSERT_EQ(lmtp.Reply().substr(0, 3), "220");
  lmtp.Send("LHLO postfix\r\n");
  ASSERT_EQ(lmtp.Reply().substr(0, 3), "250");
  const std::string first = "Subject: first\r\n\r\nstored\r\n";
  const std::string second = "Subject: second\r\n\r\ndeferred, then stored\r\n";
  auto replies = lmtp.Transaction("s@example.org", {kRcpt}, first);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].rfind("250 2.0.0 <alice@example.com>: stored as ", 0),
            0u)
      << replies[0];
  replies = lmtp.Transaction("s@example.org", {"bob@example.com"}, second);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].rfind("451 4.4.3 <bob@example.com>: ", 0), 0u)
      << replies[0];

  // slapd back: Postfix retries both in the same cached session.
  Restart(slapd);
  replies = lmtp.Transaction("s@example.org", {"bob@example.com"}, second);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].rfind("250 2.0.0 <bob@example.com>: stored as ", 0), 0u)
      << replies[0];
  replies = lmtp.Transaction("s@example.org", {kRcpt}, first);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(
      replies[0].rfind("250 2.0.0 <alice@example.com>: already stored as ", 0),
      0u)
      << replies[0];
  lmtp.Send("QUIT\r\n");
  EXPECT_EQ(lmtp.Reply(), "221 2.0.0 Bye");
  EXPECT_EQ(lmtp.Finish(), 0);
  // The earlier message and this session's one, each once.
  EXPECT_EQ(MailboxEntries(slapd, "alice", {"1.1"}).size(), 2u);
  EXPECT_EQ(MailboxEntries(slapd, "bob", {"1.1"}).size(), 2u);
}

}  // namespace
}  // namespace ldapmda
