// ldapmbox against a real slapd, through the real binary: the public
// corpus delivered, exported (mbox, Maildir), read by Python's mailbox
// module and imported back byte-exact; paging past a server size limit;
// list, show, delete, totals; errors and exit codes.
#include <gtest/gtest.h>
#include <ldap.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "ldapmbox/mbox.h"
#include "ldapmda/delivery.h"
#include "ldapmda/message.h"
#include "support/mda_fixture.h"

namespace ldapmda {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;
using testing::RunProcess;
using testing::SlapdOptions;
using testing::SlapdServer;
using Digests = std::multiset<std::string>;
using Pair = std::pair<std::string, std::string>;
using namespace std::string_literals;

constexpr char kTools[] = LDAPMDA_SOURCE_DIR "/tests/tools/";
constexpr std::time_t kNov2026 = 1795338187;  // Sun Nov 22 09:03:07 2026
constexpr std::time_t kJan2020 = 1577836800;  // Wed Jan  1 00:00:00 2020

struct CorpusMessage {
  std::string path;
  std::string sha;
  std::string raw;
};

std::vector<CorpusMessage> Corpus() {
  std::ifstream manifest(LDAPMDA_CORPUS_DIR "/MANIFEST.tsv");
  std::vector<CorpusMessage> corpus;
  std::string line;
  std::getline(manifest, line);  // header
  while (std::getline(manifest, line)) {
    std::istringstream cols(line);
    CorpusMessage m;
    std::string size;
    std::getline(cols, m.path, '\t');
    std::getline(cols, size, '\t');
    std::getline(cols, m.sha, '\t');
    m.raw = testing::ReadFile(std::string(LDAPMDA_CORPUS_DIR) + "/" + m.path);
    corpus.push_back(std::move(m));
  }
  return corpus;
}

// Sample users plus erin (quota 1000 bytes) and dave (disabled).
SlapdOptions Directory() {
  SlapdOptions options;
  const auto user = [](const std::string& uid, const std::string& extra) {
    return "dn: uid=" + uid + ",ou=people,dc=example,dc=com\n" +
           "objectClass: inetOrgPerson\nobjectClass: mdaRecipient\nuid: " +
           uid + "\ncn: " + uid + "\nsn: " + uid + "\nmail: " + uid +
           "@example.com\n" + extra;
  };
  options.extra_ldif = {user("erin", "mdaQuota: 1000\n"),
                        user("dave", "mdaAccountStatus: disabled\n")};
  return options;
}

// One mbox message as any mboxrd writer would put it.
std::string MboxEntry(const std::string& sender, const std::string& date,
                      const std::string& raw) {
  return "From " + sender + " " + date + "\n" + MboxQuote(raw) + "\n";
}

class LdapmboxTest : public testing::MdaTest {
 protected:
  explicit LdapmboxTest(SlapdOptions options = Directory())
      : server_(std::move(options)) {
    conf_ = Config(server_,
                   "quota_attribute = mdaQuota\n"
                   "account_status_attribute = mdaAccountStatus\n");
  }

  ProcessResult Run(std::vector<std::string> args,
                    std::string_view input = "") {
    args.insert(args.begin(), {LDAPMDA_LDAPMBOX_BINARY, "-c", conf_});
    return RunProcess(args, input, std::chrono::seconds(300));
  }

  ProcessResult Python(const std::string& tool, std::vector<std::string> args,
                       std::string_view input = "") {
    args.insert(args.begin(), {"/usr/bin/python3", kTools + tool});
    return RunProcess(args, input, std::chrono::seconds(120));
  }

  // Folder and SHA-256 of each message Python's mailbox module reads.
  std::multiset<Pair> PythonDigests(const std::string& flag,
                                    const std::string& path) {
    const ProcessResult r = Python("mailbox_digests.py", {flag, path});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::multiset<Pair> out;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      const std::size_t tab = line.find('\t');
      out.emplace(line.substr(0, tab), line.substr(tab + 1));
    }
    return out;
  }

  std::vector<testing::TestEntry> Messages(const std::string& uid) {
    try {
      return server_.Admin().Search(Mailbox(server_, uid), LDAP_SCOPE_SUBTREE,
                                    "(objectClass=mdaMessage)");
    } catch (const testing::LdapError& e) {
      if (e.code() == LDAP_NO_SUCH_OBJECT) return {};
      throw;
    }
  }

  Digests StoredDigests(const std::string& uid) {
    Digests d;
    for (const auto& e : Messages(uid)) {
      d.insert(Sha256Hex({e.First("mdaRawMessage")}));
    }
    return d;
  }

  std::string Counter(const std::string& uid, const std::string& attr) {
    const auto box = server_.Admin().Read(Mailbox(server_, uid));
    return box ? box->First(attr) : "";
  }

  std::string Path(const std::string& name) { return dir_.File(name); }

  SlapdServer server_;
  std::string conf_;
};

std::string Summary(int imported, int present, int failed) {
  return "imported " + std::to_string(imported) + ", already present " +
         std::to_string(present) + ", failed " + std::to_string(failed) + "\n";
}

std::size_t Lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

TEST_F(LdapmboxTest, CorpusRoundTripsByteExactThroughMboxAndMaildir) {
  const std::vector<CorpusMessage> corpus = Corpus();
  ASSERT_EQ(corpus.size(), 299u);
  Digests manifest, python_mbox_expected;
  for (const auto& m : corpus) {
    ASSERT_EQ(Sha256Hex({m.raw}), m.sha) << m.path;
    manifest.insert(m.sha);
    // The one documented difference for other readers: an added newline.
    const bool ends = m.raw.empty() || m.raw.back() == '\n';
    python_mbox_expected.insert(ends ? m.sha : Sha256Hex({m.raw, "\n"}));
    const ProcessResult r = Deliver(conf_, "alice@example.com", m.raw);
    ASSERT_EQ(r.exit_code, 0) << m.path << ": " << r.out;
  }
  ASSERT_EQ(StoredDigests("alice"), manifest);

  const std::string mbox = Path("alice.mbox"), maildir = Path("Maildir");
  ProcessResult r = Run({"export", "alice@example.com", "--mbox", mbox});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "exported 299 messages to " + mbox + "\n");
  EXPECT_EQ(r.err, "");  // no progress bar: stderr is not a terminal
  r = Run({"export", "alice@example.com", "--maildir", maildir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "exported 299 messages to " + maildir + ", 0 already there\n");

  // An independent parser reads every message.
  Digests python;
  for (const auto& [folder, sha] : PythonDigests("--mbox", mbox)) {
    python.insert(sha);
  }
  EXPECT_EQ(python, python_mbox_expected);
  python.clear();
  for (const auto& [folder, sha] : PythonDigests("--maildir", maildir)) {
    EXPECT_EQ(folder, "INBOX");
    python.insert(sha);
  }
  EXPECT_EQ(python, manifest);

  // Into other mailboxes: byte-exact, envelope and delivery time kept.
  r = Run({"import", "bob@example.com", "--mbox", mbox});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, Summary(299, 0, 0));
  EXPECT_EQ(StoredDigests("bob"), manifest);
  r = Run({"import", "carol@example.com", "--maildir", maildir});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, Summary(299, 0, 0));
  EXPECT_EQ(StoredDigests("carol"), manifest);
  std::map<std::string, std::string> delivered;  // SHA-256 -> time
  for (const auto& e : Messages("alice")) {
    delivered[Sha256Hex({e.First("mdaRawMessage")})] =
        e.First("mdaDeliveredAt");
  }
  for (const auto& uid : {"bob", "carol"}) {
    for (const auto& e : Messages(uid)) {
      const std::string sha = Sha256Hex({e.First("mdaRawMessage")});
      EXPECT_EQ(e.First("mdaDeliveredAt"), delivered[sha]) << uid;
      EXPECT_EQ(e.First("mdaEnvelopeRecipient"),
                uid + std::string("@example.com"));
      EXPECT_EQ(e.First("mdaFolder"), "INBOX");
    }
  }
  for (const auto& e : Messages("bob")) {
    EXPECT_EQ(e.First("mdaEnvelopeSender"), "sender@example.org") << e.dn;
  }

  // What was delivered, or imported before, is already present.
  for (const auto& [flag, path] :
       {std::pair{"--mbox", mbox}, std::pair{"--maildir", maildir}}) {
    r = Run({"import", "alice@example.com", flag, path});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, Summary(0, 299, 0)) << flag;
    r = Run({"import", "bob@example.com", flag, path});
    EXPECT_EQ(r.out, Summary(0, 299, 0)) << flag;
  }
  EXPECT_EQ(Messages("alice").size(), 299u);

  // Exporting again writes nothing new.
  r = Run({"export", "alice@example.com", "--maildir", maildir});
  EXPECT_EQ(r.out,
            "exported 0 messages to " + maildir + ", 299 already there\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(maildir + "/cur"),
                          fs::directory_iterator()),
            299);
  // And the mbox to stdout is the same file.
  r = Run({"export", "alice@example.com", "--mbox", "-"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(Sha256Hex({r.out}), Sha256Hex({testing::ReadFile(mbox)}));
}

TEST_F(LdapmboxTest, ListFiltersSortsAndWritesJson) {
  const std::vector<std::string> raw = {
      "From: \"Alice Example\" <a@example.org>\nSubject: Invoice 42\n"
      "Date: Mon, 02 Feb 2026 10:00:00 +0000\n\nPlease pay.\n",
      "From: bob@example.net\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= \"q\" \\b\n"
      "Date: Sun, 15 Mar 2026 08:30:00 +0100\n\nHallo\n" +
          std::string(300, 'x'),
      "From: mallory@example.com\nSubject: weird *)(x=\\ chars\n"
      "Date: Wed, 01 Jan 2025 00:00:00 +0000\n\n.\n",
  };
  std::string mbox;
  for (const auto& m : raw)
    mbox += FormatMboxMessage("s@example.org", kNov2026, m);
  ProcessResult r = Run({"import", "alice@example.com", "--mbox", "-"}, mbox);
  ASSERT_EQ(r.out, Summary(3, 0, 0)) << r.err;
  const std::string undated = "Subject: no date\n\nbody\n";  // lists folder
  r = Run({"import", "alice@example.com", "--mbox", "-", "--folder", "lists"},
          FormatMboxMessage("", kNov2026, undated));
  ASSERT_EQ(r.out, Summary(1, 0, 0)) << r.err;
  std::vector<std::string> key;
  for (const auto& m : raw) key.push_back(MessageKey("alice@example.com", m));
  key.push_back(MessageKey("alice@example.com", undated));

  const auto keys_of = [](const std::string& out) {
    std::string keys;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      keys += line.substr(line.rfind('\t') + 1, 4) + " ";
    }
    return keys;
  };
  const auto k = [&](std::initializer_list<int> order) {
    std::string s;
    for (int i : order)
      s += key[static_cast<std::size_t>(i)].substr(0, 4) + " ";
    return s;
  };
  r = Run({"list", "alice@example.com"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(keys_of(r.out), k({2, 0, 1, 3}));  // by date; undated: delivery
  const auto stored = server_.Admin().Read(
      "mdaKey=" + key[0] + ",mdaFolder=INBOX," + Mailbox(server_, "alice"));
  ASSERT_TRUE(stored);
  EXPECT_NE(r.out.find("2026-02-02 10:00\t" + stored->First("mdaFrom") +
                       "\tInvoice 42\t" + std::to_string(raw[0].size()) +
                       "\tINBOX\t" + key[0] + "\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("2026-11-22 09:03\t\tno date\t"), std::string::npos);

  r = Run({"list", "alice@example.com", "--reverse"});
  EXPECT_EQ(keys_of(r.out), k({3, 1, 0, 2}));
  r = Run({"list", "alice@example.com", "--sort", "size", "--reverse"});
  EXPECT_EQ(keys_of(r.out), k({1, 0, 2, 3}));
  r = Run({"list", "alice@example.com", "--from", "ALICE EXAMPLE"});
  EXPECT_EQ(keys_of(r.out), k({0}));
  r = Run({"list", "alice@example.com", "--subject", "*)(x=\\"});  // escaped
  EXPECT_EQ(keys_of(r.out), k({2}));
  r = Run({"list", "alice@example.com", "--subject", "I*42"});  // no wildcard
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.exit_code, 0);
  r = Run({"list", "alice@example.com", "--since", "2026-02-02", "--before",
           "2026-03-16"});
  EXPECT_EQ(keys_of(r.out), k({0, 1}));
  r = Run({"list", "alice@example.com", "--folder", "lists"});
  EXPECT_EQ(keys_of(r.out), k({3}));

  r = Run({"list", "alice@example.com", "--json", "--sort", "subject"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const ProcessResult json = Python(
      "json_fields.py",
      {"key", "subject", "size", "folder", "date", "delivered", "messageId"},
      r.out);
  ASSERT_EQ(json.exit_code, 0) << json.err << r.out;
  EXPECT_EQ(json.out,
            key[1] + "\tGrüße \"q\" \\b\t" + std::to_string(raw[1].size()) +
                "\tINBOX\t2026-03-15T07:30:00Z\t2026-11-22T09:03:07Z\t\n" +
                key[0] + "\tInvoice 42\t" + std::to_string(raw[0].size()) +
                "\tINBOX\t2026-02-02T10:00:00Z\t2026-11-22T09:03:07Z\t\n" +
                key[3] + "\tno date\t" + std::to_string(undated.size()) +
                "\tlists\t2026-11-22T09:03:07Z\t2026-11-22T09:03:07Z\t\n" +
                key[2] + "\tweird *)(x=\\ chars\t" +
                std::to_string(raw[2].size()) +
                "\tINBOX\t2025-01-01T00:00:00Z\t2026-11-22T09:03:07Z\t\n");
  r = Run({"list", "bob@example.com", "--json"});  // no mailbox yet
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[]\n");
}

TEST_F(LdapmboxTest, ShowWritesTheStoredBytes) {
  const std::string raw =
      "From strange@example.org Sat Jan  1 00:00:00 2000\r\n"
      "Subject: binary\r\n\r\n\0\x01\xff\r\n>From x\r\nno final newline"s;
  ASSERT_EQ(Deliver(conf_, "alice@example.com", raw).exit_code, 0);
  const std::string key = MessageKey("alice@example.com", raw);
  ProcessResult r = Run({"show", "alice@example.com", key});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, raw);
  r = Run({"show", "alice@example.com", std::string(64, '0')});
  EXPECT_EQ(r.exit_code, 66);
  EXPECT_NE(r.err.find("no message 0000"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(LdapmboxTest, DeleteByKeyAndByAgeAndRecount) {
  std::string mbox;
  const std::vector<std::pair<std::string, std::string>> old = {
      {"Mon Jan  1 12:00:00 2001", "Subject: 2001\n\nold\n"},
      {"Tue Mar  1 12:00:00 2005", "Subject: 2005\n\nolder\n"}};
  for (const auto& [date, raw] : old) mbox += MboxEntry("a@b", date, raw);
  ASSERT_EQ(Run({"import", "alice@example.com", "--mbox", "-"}, mbox).out,
            Summary(2, 0, 0));
  const std::string fresh = "Subject: fresh\n\nnew\n";
  const std::string aged = "Subject: aged\n\nforty days\n";
  const std::string gone = "Subject: gone\n\nby key\n";
  for (const auto& m : {fresh, aged, gone}) {
    ASSERT_EQ(Deliver(conf_, "alice@example.com", m).exit_code, 0);
  }
  const auto k = [](const std::string& raw) {
    return MessageKey("alice@example.com", raw);
  };
  const std::string box = Mailbox(server_, "alice");
  // Delivered 40 days ago, as far as the directory knows.
  ASSERT_EQ(server_.Admin().Modify(
                "mdaKey=" + k(aged) + ",mdaFolder=INBOX," + box,
                {{LDAP_MOD_REPLACE,
                  "mdaDeliveredAt",
                  {*GeneralizedTime(std::time(nullptr) - 40 * 86400)}}}),
            LDAP_SUCCESS);

  ProcessResult r =
      Run({"delete", "alice@example.com", "--key", k(gone), "--dry-run"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("would delete 1 messages, " +
                       std::to_string(gone.size()) + " bytes\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(Messages("alice").size(), 5u);
  r = Run({"delete", "alice@example.com", "--key", k(gone)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "deleted 1 messages, " + std::to_string(gone.size()) + " bytes\n");
  EXPECT_EQ(Counter("alice", "mdaMessageCount"), "4");
  r = Run({"delete", "alice@example.com", "--key", k(gone)});
  EXPECT_EQ(r.exit_code, 66);
  EXPECT_NE(r.err.find("no message " + k(gone)), std::string::npos);

  r = Run({"delete", "alice@example.com", "--before", "2003-01-01"});
  EXPECT_EQ(r.out, "deleted 1 messages, " +
                       std::to_string(old[0].second.size()) + " bytes\n");
  r = Run({"delete", "alice@example.com", "--older-than", "30", "--dry-run"});
  EXPECT_EQ(Lines(r.out), 3u) << r.out;  // two messages and the summary
  r = Run({"delete", "alice@example.com", "--older-than", "30"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "deleted 2 messages, " +
                       std::to_string(old[1].second.size() + aged.size()) +
                       " bytes\n");
  const auto left = Messages("alice");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].First("mdaKey"), k(fresh));
  EXPECT_EQ(Counter("alice", "mdaMessageCount"), "1");
  EXPECT_EQ(Counter("alice", "mdaMailboxSize"), std::to_string(fresh.size()));
}

TEST_F(LdapmboxTest, TotalsInAllAndPerFolder) {
  std::string inbox, lists;
  for (int i = 0; i < 2; ++i) {
    inbox +=
        FormatMboxMessage("", kNov2026, "Subject: " + std::to_string(i) + "\n");
  }
  lists = FormatMboxMessage("", kNov2026, "Subject: l\n\n1234567890");
  ASSERT_EQ(Run({"import", "alice@example.com", "--mbox", "-"}, inbox).out,
            Summary(2, 0, 0));
  ASSERT_EQ(
      Run({"import", "alice@example.com", "--mbox", "-", "--folder", "lists"},
          lists)
          .out,
      Summary(1, 0, 0));
  ProcessResult r = Run({"totals", "alice@example.com"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "all: 3 messages, 44 bytes\n"
            "folder INBOX: 2 messages, 22 bytes\n"
            "folder lists: 1 messages, 22 bytes\n");
  r = Run({"totals", "alice@example.com", "--json"});
  EXPECT_EQ(r.out,
            "{\"messages\": 3, \"bytes\": 44, \"folders\": {\"INBOX\": "
            "{\"messages\": 2, \"bytes\": 22}, \"lists\": {\"messages\": 1, "
            "\"bytes\": 22}}}\n");
  r = Run({"totals", "bob@example.com"});
  EXPECT_EQ(r.out, "all: 0 messages, 0 bytes\n");
}

TEST_F(LdapmboxTest, ImportBypassesQuotaAndStatusThenRecounts) {
  std::string mbox;
  for (int i = 0; i < 3; ++i) {
    std::string m = "Subject: " + std::to_string(i) + "\n\n";
    m.resize(600, 'x');
    mbox += FormatMboxMessage("", kNov2026, m);
  }
  ProcessResult r = Run({"import", "erin@example.com", "--mbox", "-"}, mbox);
  EXPECT_EQ(r.out, Summary(3, 0, 0)) << r.err;
  EXPECT_EQ(Counter("erin", "mdaMailboxSize"), "1800");
  EXPECT_EQ(Counter("erin", "mdaMessageCount"), "3");
  // The counters are what the quota check reads: erin is full now.
  EXPECT_EQ(Deliver(conf_, "erin@example.com", "one more").exit_code, 69);
  r = Run({"import", "dave@example.com", "--mbox", "-"}, mbox);
  EXPECT_EQ(r.out, Summary(3, 0, 0)) << r.err;
}

TEST_F(LdapmboxTest, MaildirFoldersAndForeignMaildirs) {
  const std::string a = "Subject: a\n\nfolder with a slash\n";
  ASSERT_EQ(
      Run({"import", "alice@example.com", "--mbox", "-", "--folder", "été/x"},
          FormatMboxMessage("", kNov2026, a))
          .out,
      Summary(1, 0, 0));
  const std::string maildir = Path("Maildir");
  ProcessResult r = Run({"export", "alice@example.com", "--maildir", maildir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string encoded = ".&AOk-t&AOkALw-x";  // é t é/ x
  EXPECT_TRUE(fs::is_regular_file(
      maildir + "/" + encoded + "/cur/" + std::to_string(kNov2026) + "." +
      MessageKey("alice@example.com", a) + ".ldapmbox:2,S"));
  const auto python = PythonDigests("--maildir", maildir);
  EXPECT_EQ(python, (std::multiset<Pair>{{encoded.substr(1), Sha256Hex({a})}}));

  // A Maildir written by another server: new/ files, names without keys.
  const std::string foreign = Path("foreign");
  for (const auto& d : {"/cur", "/new", "/tmp", "/.Sent Items/cur",
                        "/.Sent Items/new", "/.&AOk-t&AOk-/cur"}) {
    fs::create_directories(foreign + d);
  }
  testing::WriteFile(foreign + "/new/1700000000.M1P2.host",
                     "Return-Path: <x@example.org>\nSubject: 1\n\nb\n");
  testing::WriteFile(foreign + "/.Sent Items/new/1700000001.M3P4.host",
                     "Subject: 2\n\nb\n");
  testing::WriteFile(foreign + "/.&AOk-t&AOk-/cur/1700000002.M5P6.host:2,S",
                     "Return-Path: <>\r\nSubject: 3\r\n\r\nb");
  r = Run({"import", "bob@example.com", "--maildir", foreign});
  EXPECT_EQ(r.out, Summary(3, 0, 0)) << r.err;
  std::map<std::string, std::pair<std::string, std::string>> by_subject;
  for (const auto& e : Messages("bob")) {
    by_subject[e.First("mdaSubject")] = {e.First("mdaFolder"),
                                         e.First("mdaEnvelopeSender")};
    if (e.First("mdaSubject") == "1") {
      EXPECT_EQ(e.First("mdaDeliveredAt"), "20231114221320Z");
    }
  }
  EXPECT_EQ(by_subject["1"], Pair("INBOX", "x@example.org"));
  EXPECT_EQ(by_subject["2"].first, "Sent Items");
  EXPECT_EQ(by_subject["3"], Pair("été", "<>"));
  // --folder takes one folder of a Maildir.
  r = Run({"import", "carol@example.com", "--maildir", foreign, "--folder",
           "Sent Items"});
  EXPECT_EQ(r.out, Summary(1, 0, 0)) << r.err;
}

TEST_F(LdapmboxTest, ImportsAnMboxWrittenByPython) {
  const std::string file = Path("python.mbox");
  const std::string one =
      "Return-Path: <r@example.org>\nSubject: one\n\n"
      "From the start\n";
  const ProcessResult py =
      RunProcess({"/usr/bin/python3", "-c",
                  "import mailbox, sys, time\n"
                  "box = mailbox.mbox(sys.argv[1])\n"
                  "box.add(sys.argv[2].encode())\n"
                  "m = mailbox.mboxMessage(b'Subject: two\\n\\nbody\\n')\n"
                  "m.set_from('s@example.org', time.gmtime(1577836800))\n"
                  "box.add(m)\n"
                  "box.flush()\n",
                  file, one},
                 "");
  ASSERT_EQ(py.exit_code, 0) << py.err;
  const ProcessResult r = Run({"import", "alice@example.com", "--mbox", file});
  ASSERT_EQ(r.out, Summary(2, 0, 0)) << r.err;
  std::map<std::string, testing::TestEntry> by_subject;
  for (const auto& e : Messages("alice")) by_subject[e.First("mdaSubject")] = e;
  // MAILER-DAEMON on the From_ line: the Return-Path header tells.
  EXPECT_EQ(by_subject["one"].First("mdaEnvelopeSender"), "r@example.org");
  EXPECT_EQ(by_subject["one"].First("mdaRawMessage"), one);  // unquoted
  EXPECT_EQ(by_subject["two"].First("mdaEnvelopeSender"), "s@example.org");
  EXPECT_EQ(by_subject["two"].First("mdaDeliveredAt"), "20200101000000Z");
}

TEST_F(LdapmboxTest, MalformedInputStoresNothing) {
  ProcessResult r =
      Run({"import", "alice@example.com", "--mbox", "-"},
          "garbage\n" + FormatMboxMessage("", kNov2026, "Subject: 1\n\n.\n"));
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("line 1: not an mbox"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");

  std::string mbox;
  for (int i = 0; i < 3; ++i) {
    mbox += FormatMboxMessage("", kNov2026,
                              "Subject: " + std::to_string(i) + "\n\nbody\n");
  }
  const std::string file = Path("cut.mbox");
  testing::WriteFile(file, mbox.substr(0, mbox.size() - 4));
  r = Run({"import", "alice@example.com", "--mbox", file});
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("message 3 does not end with an empty line"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("nothing imported"), std::string::npos) << r.err;
  EXPECT_TRUE(Messages("alice").empty());

  r = Run({"import", "alice@example.com", "--mbox", Path("missing.mbox")});
  EXPECT_EQ(r.exit_code, 66);
  EXPECT_NE(r.err.find("cannot open"), std::string::npos) << r.err;
  r = Run({"import", "alice@example.com", "--maildir", Path("missing")});
  EXPECT_EQ(r.exit_code, 66);
  EXPECT_NE(r.err.find("is not a Maildir"), std::string::npos) << r.err;
  EXPECT_TRUE(Messages("alice").empty());

  // One message the directory refuses: the others go in, exit 65.
  r = Run({"import", "alice@example.com", "--mbox", "-", "-o",
           "max_message_size=100"},
          mbox + FormatMboxMessage("", kNov2026, std::string(200, 'x')));
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_EQ(r.out, Summary(3, 0, 1));
  EXPECT_NE(r.err.find("message 4 (line 16): larger than max_message_size"),
            std::string::npos)
      << r.err;
}

TEST_F(LdapmboxTest, UnknownAddressAndUsageErrors) {
  ProcessResult r = Run({"list", "nobody@example.com"});
  EXPECT_EQ(r.exit_code, 67);
  EXPECT_NE(r.err.find("ldapmbox: unknown address nobody@example.com"),
            std::string::npos)
      << r.err;
  r = Run({"import", "nobody@example.com", "--mbox", "-"},
          FormatMboxMessage("", kNov2026, "x\n"));
  EXPECT_EQ(r.exit_code, 67);
  r = Run({"list", "no address"});
  EXPECT_EQ(r.exit_code, 67);

  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{},
        {"frobnicate", "a@b"},
        {"list"},
        {"export", "alice@example.com"},
        {"export", "alice@example.com", "--mbox", "x", "--maildir", "y"},
        {"delete", "alice@example.com"},
        {"delete", "alice@example.com", "--before", "2026-13-01"},
        {"list", "alice@example.com", "--sort", "colour"},
        {"list", "alice@example.com", "--bogus"},
        {"show", "alice@example.com"}}) {
    r = Run(bad);
    EXPECT_EQ(r.exit_code, 64) << ::testing::PrintToString(bad);
    EXPECT_EQ(r.err.rfind("ldapmbox: ", 0), 0u) << r.err;
  }
  r = Run({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("usage: ldapmbox", 0), 0u) << r.out;
  r = Run({"list", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--subject"), std::string::npos) << r.out;
  r = RunProcess({LDAPMDA_LDAPMBOX_BINARY, "-c", Path("none.conf"), "list",
                  "alice@example.com"},
                 "");
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_NE(r.err.find("configuration"), std::string::npos) << r.err;
}

// slapd's paged results obey size.prtotal, which defaults to the hard
// limit: allow them explicitly, keep plain searches at 500.
SlapdOptions LimitedDirectory() {
  SlapdOptions options = Directory();
  options.sizelimit_directive =
      "size.soft=500 size.hard=500 size.prtotal=unlimited";
  return options;
}

class LdapmboxPagingTest : public LdapmboxTest {
 protected:
  LdapmboxPagingTest() : LdapmboxTest(LimitedDirectory()) {}
};

TEST_F(LdapmboxPagingTest, SixHundredMessagesPastASizeLimitOf500) {
  std::string mbox;
  for (int i = 0; i < 600; ++i) {
    mbox += FormatMboxMessage(
        "gen@example.org", kJan2020 + i,
        "Subject: message " + std::to_string(i) + "\n\nbody\n");
  }
  ProcessResult r = Run({"import", "bob@example.com", "--mbox", "-"}, mbox);
  ASSERT_EQ(r.out, Summary(600, 0, 0)) << r.err;

  // A plain search as the same identity stops at the limit.
  try {
    server_.Service().Search(Mailbox(server_, "bob"), LDAP_SCOPE_SUBTREE,
                             "(objectClass=mdaMessage)", {"1.1"});
    ADD_FAILURE() << "no size limit";
  } catch (const testing::LdapError& e) {
    EXPECT_EQ(e.code(), LDAP_SIZELIMIT_EXCEEDED) << e.what();
  }

  r = Run({"list", "bob@example.com"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out), 600u);
  r = Run({"totals", "bob@example.com"});
  EXPECT_EQ(r.out.rfind("all: 600 messages, ", 0), 0u) << r.out;
  const std::string file = Path("bob.mbox");
  r = Run({"export", "bob@example.com", "--mbox", file});
  EXPECT_EQ(r.out, "exported 600 messages to " + file + "\n") << r.err;
  EXPECT_EQ(PythonDigests("--mbox", file).size(), 600u);
  EXPECT_EQ(testing::ReadFile(file), mbox);  // in delivery order, same bytes
  r = Run({"import", "bob@example.com", "--mbox", file});
  EXPECT_EQ(r.out, Summary(0, 600, 0)) << r.err;
  r = Run({"delete", "bob@example.com", "--older-than", "0"});
  EXPECT_EQ(r.out.rfind("deleted 600 messages", 0), 0u) << r.out << r.err;
  EXPECT_EQ(Counter("bob", "mdaMessageCount"), "0");
}

TEST_F(LdapmboxTest, ASearchCutShortByTheServerIsAnErrorNotAShortList) {
  // The default limits: paged results stop at the hard limit (500) too.
  std::string mbox;
  for (int i = 0; i < 501; ++i) {
    mbox +=
        FormatMboxMessage("", kJan2020, "Subject: " + std::to_string(i) + "\n");
  }
  ProcessResult r = Run(
      {"import", "bob@example.com", "--mbox", "-", "-o", "quota_attribute="},
      mbox);
  ASSERT_EQ(r.out, Summary(501, 0, 0)) << r.err;
  for (const auto& command : {"list", "totals"}) {
    r = Run({command, "bob@example.com"});
    EXPECT_EQ(r.exit_code, 78) << command;
    EXPECT_EQ(r.out, "") << command;
    EXPECT_NE(r.err.find("at 500 entries (size limit)"), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("size.prtotal=unlimited"), std::string::npos);
  }
}

}  // namespace
}  // namespace ldapmda
