// Integration tests of the Dovecot driver (src/dovecot): mail that ldapmda
// delivers into a real slapd, run from the SHIPPED conf/slapd.conf (its
// ACLs, indexes and syncprov), read and changed over IMAP and POP3 through
// a private Dovecot started from the SHIPPED conf/dovecot-ldapmda.conf
// (support/dovecot_server.h). The clients are Python's imaplib and poplib
// (tests/tools/imap_client.py), doveadm and mutt; one test brings the
// mail in through a private Postfix. The directory is inspected as its
// administrator. These tests fail, never skip, when Dovecot, the plugin
// or a tool is missing.
//
// What the protocols send is the stored message with two changes: every
// bare LF goes out as CRLF (most of what Postfix's pipe(8) hands over has
// LF line ends), and IMAP's FETCH BODY[] sends NUL bytes, which an IMAP
// literal may not hold, as 0x80 (Dovecot's choice; POP3 sends them as
// they are). RFC822.SIZE and POP3's LIST count the bytes sent.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <ldap.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ldapmda/text.h"
#include "support/dovecot_server.h"
#include "support/ldap_client.h"
#include "support/mda_fixture.h"
#include "support/postfix_server.h"
#include "support/process.h"
#include "support/slapd_server.h"

namespace ldapmda {
namespace {

using boost::property_tree::ptree;
using testing::DovecotOptions;
using testing::DovecotServer;
using testing::LdapError;
using testing::ProcessResult;
using testing::SlapdServer;
using testing::TestEntry;
using testing::WaitFor;
using Clock = std::chrono::steady_clock;

constexpr char kPython[] = "/usr/bin/python3";
constexpr char kClient[] = LDAPMDA_SOURCE_DIR "/tests/tools/imap_client.py";
const std::string kPeople = "ou=people,dc=example,dc=com";

testing::SlapdOptions Shipped(std::vector<std::string> extra_ldif = {}) {
  testing::SlapdOptions options;
  options.mode = testing::SlapdMode::kShipped;
  options.extra_ldif = std::move(extra_ldif);
  return options;
}

// ---- the scripted client (tests/tools/imap_client.py) ----

// One command and its arguments, e.g. {"select", "INBOX"}.
using Command = std::vector<std::string>;
using Script = std::vector<Command>;

// What the client printed: the login and one result per command run.
struct Session {
  ptree login;
  std::vector<ptree> results;
  std::string output;  // stdout and stderr, for failure messages

  const ptree& operator[](std::size_t i) const {
    if (i >= results.size()) {
      static const ptree missing;
      ADD_FAILURE() << "no result " << i << " in:\n" << output;
      return missing;
    }
    return results[i];
  }
};

std::string Str(const ptree& r, const std::string& key) {
  return r.get<std::string>(key, "");
}

long long Num(const ptree& r, const std::string& key) {
  return r.get<long long>(key, -1);
}

std::vector<std::string> Strings(const ptree& r, const std::string& key) {
  std::vector<std::string> out;
  if (const auto list = r.get_child_optional(key)) {
    for (const auto& [_, v] : *list) out.push_back(v.data());
  }
  return out;
}

// "OK", or the status and text (with its code) of a result that is not.
std::string Status(const ptree& r) {
  const std::string status = Str(r, "status");
  if (status == "OK") return status;
  return status + " " + Str(r, "text");
}

std::vector<std::string> ClientArgv(const std::vector<std::string>& options,
                                    int port, const std::string& uid,
                                    const Script& script) {
  std::vector<std::string> argv = {kPython, kClient};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back(std::to_string(port));
  argv.push_back(uid);
  argv.push_back(SlapdServer::UserPassword(uid));
  for (std::size_t i = 0; i < script.size(); ++i) {
    if (i > 0) argv.push_back(";");
    argv.insert(argv.end(), script[i].begin(), script[i].end());
  }
  return argv;
}

Session ParseSession(const std::string& out, const std::string& err) {
  Session s;
  s.output = out + err;
  ptree top;
  try {
    std::istringstream in(out);
    boost::property_tree::read_json(in, top);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "imap_client.py printed no JSON (" << e.what() << "):\n"
                  << s.output;
    return s;
  }
  s.login = top.get_child("login", {});
  if (const auto results = top.get_child_optional("results")) {
    for (const auto& [_, r] : *results) s.results.push_back(r);
  }
  return s;
}

// Logs in to IMAP as the sample user `uid` and runs `script`.
Session Imap(int port, const std::string& uid, const Script& script) {
  const ProcessResult r = testing::RunProcess(ClientArgv({}, port, uid, script),
                                              "", std::chrono::seconds(300));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  return ParseSession(r.out, r.err);
}

Session Pop3(int port, const std::string& uid, const Script& script) {
  const ProcessResult r = testing::RunProcess(
      ClientArgv({"--pop3"}, port, uid, script), "", std::chrono::seconds(300));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  return ParseSession(r.out, r.err);
}

// A client running while the test does something else: it can wait for
// files the test creates ("wait-file" File(name)) and create files the
// test waits for ("signal" File(name); IDLE creates File("idling") once
// the server is idling).
class BackgroundSession {
 public:
  BackgroundSession() = default;
  ~BackgroundSession() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  BackgroundSession(const BackgroundSession&) = delete;
  BackgroundSession& operator=(const BackgroundSession&) = delete;

  // A path for signal files, in a directory of this session's own.
  std::string File(const std::string& name) const { return dir_.File(name); }

  // Logs in to IMAP as the sample user `uid` and starts running `script`.
  void Start(int port, const std::string& uid, const Script& script) {
    const testing::UniqueFd null_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
    const testing::UniqueFd out(
        open(File("out").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    const testing::UniqueFd err(
        open(File("err").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    pid_ = testing::StartProcess(
        ClientArgv({"--ready-file", File("idling")}, port, uid, script),
        null_fd.get(), out.get(), err.get());
  }

  // Waits until the client created File(name); false after `timeout` or
  // when the client has exited without.
  bool WaitForFile(const std::string& name, std::chrono::milliseconds timeout =
                                                std::chrono::seconds(60)) {
    const auto exists = [&] { return std::filesystem::exists(File(name)); };
    WaitFor([&] { return exists() || !Running(); }, timeout);
    return exists();
  }
  void Signal(const std::string& name) { testing::WriteFile(File(name), ""); }

  // Waits for the client to finish (killing it after `timeout`).
  Session Finish(
      std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
    WaitFor([&] { return !Running(); }, timeout);
    if (pid_ > 0) {
      ADD_FAILURE() << "imap_client.py still running after the timeout";
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    return ParseSession(testing::ReadFile(File("out")),
                        testing::ReadFile(File("err")));
  }

 private:
  bool Running() {
    if (pid_ <= 0) return false;
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) pid_ = -1;
    return pid_ > 0;
  }

  testing::TempDir dir_;
  pid_t pid_ = -1;
};

// A message as FETCH (imap_client.py "fetch", "fetch-meta") reported it.
struct Fetched {
  long long uid = 0;
  std::vector<std::string> flags;
  long long size = 0;  // RFC822.SIZE
  std::string internaldate;
  std::string guid;    // X-GUID: the mdaKey
  std::string sha256;  // of BODY[] as sent ("fetch" only)
  long long length = -1;
};

std::vector<Fetched> Messages(const ptree& r) {
  std::vector<Fetched> out;
  if (const auto list = r.get_child_optional("messages")) {
    for (const auto& [_, m] : *list) {
      Fetched f;
      f.uid = Num(m, "uid");
      f.flags = Strings(m, "flags");
      f.size = Num(m, "size");
      f.internaldate = Str(m, "internaldate");
      f.guid = Str(m, "guid");
      f.sha256 = Str(m, "sha256");
      f.length = Num(m, "length");
      out.push_back(std::move(f));
    }
  }
  return out;
}

std::vector<long long> Uids(const std::vector<Fetched>& messages) {
  std::vector<long long> uids;
  for (const Fetched& m : messages) uids.push_back(m.uid);
  return uids;
}

std::set<std::string> FolderNames(const ptree& list_result) {
  std::set<std::string> names;
  if (const auto folders = list_result.get_child_optional("folders")) {
    for (const auto& [_, f] : *folders) names.insert(Str(f, "name"));
  }
  return names;
}

// `raw` as POP3 sends it: every bare LF preceded by a CR.
std::string Crlf(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() + raw.size() / 20);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) out += '\r';
    out += raw[i];
  }
  return out;
}

// `raw` as IMAP's FETCH BODY[] sends it: CRLF line ends, and NUL bytes
// (not allowed in an IMAP literal) as 0x80, as Dovecot replaces them.
std::string ImapForm(std::string_view raw) {
  std::string out = Crlf(raw);
  std::replace(out.begin(), out.end(), '\0', '\x80');
  return out;
}

std::string Sha(std::string_view data) { return Sha256Hex({data}); }

// The mdaKey a delivery to `rcpt` (or an APPEND by that user) gives `raw`.
std::string Key(const std::string& rcpt, std::string_view raw) {
  return Sha256Hex({AsciiLower(rcpt), "\n", raw});
}

std::string MailboxDn(const std::string& uid) {
  return "cn=mailbox,uid=" + uid + "," + kPeople;
}

std::string FolderDn(const std::string& uid, const std::string& folder) {
  return "mdaFolder=" + folder + "," + MailboxDn(uid);
}

std::string SimpleMessage(const std::string& subject,
                          const std::string& body = "Hello.\n") {
  return "From: Sender <sender@example.org>\n"
         "To: Alice <alice@example.com>\n"
         "Subject: " +
         subject +
         "\n"
         "Date: Tue, 01 Jul 2003 10:52:37 +0200\n"
         "Message-ID: <" +
         Sha(subject).substr(0, 16) +
         "@example.org>\n"
         "\n" +
         body;
}

// GUID (mdaKey) -> message.
std::map<std::string, Fetched> ByGuid(const std::vector<Fetched>& messages) {
  std::map<std::string, Fetched> out;
  for (const Fetched& m : messages) out[m.guid] = m;
  return out;
}

std::set<std::string> FlagSet(const std::vector<std::string>& flags) {
  std::set<std::string> out;
  for (const std::string& f : flags) {
    if (f != "\\Recent") out.insert(f);
  }
  return out;
}

// Lines of `text` that start with `prefix`, without it.
std::vector<std::string> LinesAfter(const std::string& text,
                                    const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) out.push_back(line.substr(prefix.size()));
  }
  return out;
}

// Options for a Dovecot whose driver has `key` = `value` in ldapmda.conf.
DovecotOptions DriverSetting(const std::string& key, const std::string& value) {
  DovecotOptions options;
  options.ldapmda_conf = {{key, value}};
  return options;
}

// ---- fixtures ----

// A shipped slapd, ldapmda deliveries into it (bound as cn=ldapmda, run as
// the pipe user), and Dovecots serving it.
class DovecotTest : public testing::MdaTest {
 protected:
  explicit DovecotTest(std::vector<std::string> extra_ldif = {})
      : slapd_(Shipped(std::move(extra_ldif))) {}

  // The delivery configuration, with address extensions (alice+lists@).
  const std::string& DeliveryConfig(const std::string& extra = "") {
    if (conf_.empty()) {
      conf_ = Config(slapd_, "recipient_delimiter = +\n" + extra);
    }
    return conf_;
  }

  // Delivers `message` to `rcpt` with the ldapmda binary (pipe mode) and
  // returns the DN it was stored as.
  std::string Store(const std::string& rcpt, const std::string& message) {
    const ProcessResult r = Deliver(DeliveryConfig(), rcpt, message);
    EXPECT_EQ(r.exit_code, 0) << rcpt << ": " << r.out << r.err;
    return testing::StoredDn(r.out);
  }

  DovecotServer& Dovecot(DovecotOptions options = {}) {
    dovecots_.push_back(
        std::make_unique<DovecotServer>(slapd_, std::move(options)));
    return *dovecots_.back();
  }

  // The messages of `folder` (its mdaFolder) in `uid`'s mailbox.
  std::vector<TestEntry> InFolder(const std::string& uid,
                                  const std::string& folder) {
    try {
      return slapd_.Admin().Search(FolderDn(uid, folder), LDAP_SCOPE_ONELEVEL,
                                   "(objectClass=mdaMessage)");
    } catch (const LdapError& e) {
      if (e.code() == LDAP_NO_SUCH_OBJECT) return {};
      throw;
    }
  }

  // Every entry below `uid`'s mailbox, by DN.
  std::map<std::string, TestEntry> Everything(const std::string& uid) {
    std::map<std::string, TestEntry> out;
    try {
      for (TestEntry& e :
           slapd_.Admin().Search(MailboxDn(uid), LDAP_SCOPE_SUBTREE,
                                 "(objectClass=*)", {"*", "entryCSN"})) {
        out[AsciiLower(e.dn)] = std::move(e);
      }
    } catch (const LdapError& e) {
      if (e.code() != LDAP_NO_SUCH_OBJECT) throw;
    }
    return out;
  }

  // Folder entries of `uid`: mdaFolderName -> entry.
  std::map<std::string, TestEntry> Folders(const std::string& uid) {
    std::map<std::string, TestEntry> out;
    for (TestEntry& e :
         slapd_.Admin().Search(MailboxDn(uid), LDAP_SCOPE_ONELEVEL,
                               "(objectClass=mdaMailFolder)")) {
      out[e.First("mdaFolderName")] = std::move(e);
    }
    return out;
  }

  // The flags (mdaFlag) in the state entry of message entry `dn`.
  std::set<std::string> StoredFlags(const std::string& dn) {
    const auto state = slapd_.Admin().Read("cn=state," + dn, {"mdaFlag"});
    if (!state) return {"(no state)"};
    return FlagSet(state->Values("mdaFlag"));
  }

  // The message entry of `folder` with mdaKey `key`.
  std::optional<TestEntry> Message(const std::string& uid,
                                   const std::string& folder,
                                   const std::string& key) {
    for (TestEntry& e : InFolder(uid, folder)) {
      if (e.First("mdaKey") == key) return e;
    }
    return std::nullopt;
  }

  // A file holding `data`, for APPEND.
  std::string MessageFile(const std::string& name, const std::string& data) {
    const std::string path = dir_.File(name);
    testing::WriteFile(path, data, 0644);
    return path;
  }

  // Stops every Dovecot and checks that none left a process behind.
  void StopDovecots() {
    for (auto& d : dovecots_) {
      d->Stop();
      EXPECT_TRUE(d->Processes().empty()) << d->base_dir();
    }
  }

  void TearDown() override { StopDovecots(); }

  SlapdServer slapd_;
  std::string conf_;
  std::vector<std::unique_ptr<DovecotServer>> dovecots_;
};

struct CorpusMessage {
  std::string path;
  std::string eol;
  std::string raw;
};

std::vector<CorpusMessage> Corpus() {
  std::ifstream manifest(LDAPMDA_CORPUS_DIR "/MANIFEST.tsv");
  EXPECT_TRUE(manifest) << "corpus missing at " << LDAPMDA_CORPUS_DIR;
  std::vector<CorpusMessage> corpus;
  std::string line;
  std::getline(manifest, line);  // header
  while (std::getline(manifest, line)) {
    std::istringstream cols(line);
    CorpusMessage m;
    std::string size, sha;
    std::getline(cols, m.path, '\t');
    std::getline(cols, size, '\t');
    std::getline(cols, sha, '\t');
    std::getline(cols, m.eol, '\t');
    m.raw = testing::ReadFile(std::string(LDAPMDA_CORPUS_DIR) + "/" + m.path);
    EXPECT_EQ(Sha(m.raw), sha) << m.path << ": corpus file damaged";
    corpus.push_back(std::move(m));
  }
  return corpus;
}

// ---- the tests ----

// Every message of the public corpus, delivered by ldapmda, comes out of
// IMAP FETCH BODY[] and POP3 RETR exactly as stored (with CRLF line ends,
// see the top of this file), with RFC822.SIZE and POP3 LIST sizes that
// count what is sent, and GUIDs and UIDLs that are the mdaKeys.
TEST_F(DovecotTest, CorpusComesOutByteExactOverImapAndPop3) {
  const std::vector<CorpusMessage> corpus = Corpus();
  ASSERT_EQ(corpus.size(), 299u);
  std::map<std::string, const CorpusMessage*> by_key;
  for (const CorpusMessage& m : corpus) {
    Store("alice@example.com", m.raw);
    by_key[Key("alice@example.com", m.raw)] = &m;
  }
  ASSERT_EQ(InFolder("alice", "INBOX").size(), by_key.size());
  DovecotServer& dovecot = Dovecot();

  const auto start = Clock::now();
  const Session imap =
      Imap(dovecot.imap_port(), "alice", {{"select", "INBOX"}, {"fetch"}});
  ASSERT_EQ(Status(imap.login), "OK");
  ASSERT_EQ(Status(imap[0]), "OK");
  EXPECT_EQ(Num(imap[0], "exists"), static_cast<long long>(by_key.size()));
  ASSERT_EQ(Status(imap[1]), "OK");
  const std::vector<Fetched> fetched = Messages(imap[1]);
  EXPECT_EQ(fetched.size(), by_key.size());
  std::vector<std::string> wrong;
  std::set<std::string> seen;
  for (const Fetched& f : fetched) {
    const auto it = by_key.find(f.guid);
    if (it == by_key.end() || !seen.insert(f.guid).second) {
      wrong.push_back("UID " + std::to_string(f.uid) + ": unknown GUID " +
                      f.guid);
      continue;
    }
    const CorpusMessage& m = *it->second;
    const std::string sent = ImapForm(m.raw);
    if (f.sha256 != Sha(sent) ||
        f.length != static_cast<long long>(sent.size())) {
      wrong.push_back(m.path + " (" + m.eol + "): BODY[] of " +
                      std::to_string(f.length) + " bytes differs from the " +
                      std::to_string(sent.size()) + " expected");
    }
    if (f.size != f.length) {
      wrong.push_back(m.path + ": RFC822.SIZE " + std::to_string(f.size) +
                      " but BODY[] has " + std::to_string(f.length));
    }
  }
  EXPECT_TRUE(wrong.empty()) << wrong.size() << " messages:\n"
                             << ::testing::PrintToString(wrong);
  std::cout << "[          ] IMAP FETCH of " << fetched.size() << " messages: "
            << std::chrono::duration<double>(Clock::now() - start).count()
            << " s\n";

  // POP3: the same messages; RETR ends every message with a line end.
  const Session pop3 = Pop3(dovecot.pop3_port(), "alice",
                            {{"stat"}, {"list"}, {"uidl"}, {"retr-digests"}});
  ASSERT_EQ(Status(pop3.login), "OK");
  EXPECT_EQ(Num(pop3[0], "count"), static_cast<long long>(by_key.size()));
  std::map<long long, std::string> key_of;  // POP3 message number -> key
  for (const auto& [_, u] : pop3[2].get_child("uidls", {})) {
    key_of[Num(u, "msg")] = Str(u, "uidl");
  }
  EXPECT_EQ(key_of.size(), by_key.size());
  std::map<long long, long long> size_of;
  for (const auto& [_, s] : pop3[1].get_child("sizes", {})) {
    size_of[Num(s, "msg")] = Num(s, "size");
  }
  wrong.clear();
  long long total = 0;
  for (const auto& [_, r] : pop3[3].get_child("messages", {})) {
    const long long n = Num(r, "msg");
    const auto it = by_key.find(key_of[n]);
    if (it == by_key.end()) {
      wrong.push_back("message " + std::to_string(n) + ": UIDL " + key_of[n] +
                      " is no mdaKey");
      continue;
    }
    // LIST counts the message; RETR ends a message that lacks a final
    // line end with one before the terminating ".".
    const std::string message = Crlf(it->second->raw);
    const bool ended = message.size() >= 2 &&
                       message.compare(message.size() - 2, 2, "\r\n") == 0;
    const std::string sent = ended ? message : message + "\r\n";
    if (Str(r, "sha256") != Sha(sent)) {
      wrong.push_back(it->second->path + ": RETR differs");
    }
    if (size_of[n] != static_cast<long long>(message.size())) {
      wrong.push_back(it->second->path + ": LIST says " +
                      std::to_string(size_of[n]) + " for " +
                      std::to_string(message.size()) + " bytes");
    }
    total += size_of[n];
  }
  EXPECT_EQ(Num(pop3[0], "size"), total);
  EXPECT_TRUE(wrong.empty()) << wrong.size() << " messages:\n"
                             << ::testing::PrintToString(wrong);
}

// A message bigger than a prefetch batch should hold (1 MiB) among small
// ones: once its size is in Dovecot's cache it is read on its own when
// wanted, not held in a batch; every message still comes out byte-exact,
// in both the first FETCH (sizes not cached yet) and the next.
TEST_F(DovecotTest, ABigMessageAmongSmallOnesComesOutByteExact) {
  std::map<std::string, std::string> by_key;
  for (int i = 0; i < 12; ++i) {
    std::string raw = "Subject: message " + std::to_string(i) + "\n\n";
    const std::size_t body = i == 5 ? 3 * 1024 * 1024 : 2000;
    for (std::size_t n = 0; raw.size() < body; ++n) {
      raw += "line " + std::to_string(n) + " of message " + std::to_string(i) +
             "\n";
    }
    Store("alice@example.com", raw);
    by_key[Key("alice@example.com", raw)] = raw;
  }
  DovecotServer& dovecot = Dovecot();
  const Session imap = Imap(dovecot.imap_port(), "alice",
                            {{"select", "INBOX"}, {"fetch"}, {"fetch"}});
  ASSERT_EQ(Status(imap.login), "OK");
  ASSERT_EQ(Status(imap[0]), "OK");
  for (std::size_t step = 1; step <= 2; ++step) {
    ASSERT_EQ(Status(imap[step]), "OK");
    const std::vector<Fetched> fetched = Messages(imap[step]);
    ASSERT_EQ(fetched.size(), by_key.size()) << "FETCH " << step;
    for (const Fetched& f : fetched) {
      const auto it = by_key.find(f.guid);
      ASSERT_NE(it, by_key.end()) << f.guid;
      const std::string sent = ImapForm(it->second);
      EXPECT_EQ(f.length, static_cast<long long>(sent.size()))
          << "FETCH " << step << ", UID " << f.uid;
      EXPECT_EQ(f.sha256, Sha(sent)) << "FETCH " << step << ", UID " << f.uid;
    }
  }
}

// Folders are entries: one made by a delivery to alice+lists@ is listed,
// and IMAP CREATE, RENAME and DELETE change the directory. A renamed
// folder keeps its identifier, so the extension keeps feeding it.
TEST_F(DovecotTest, FoldersAreEntriesForExtensionsAndImap) {
  Store("alice@example.com", SimpleMessage("inbox"));
  Store("alice+lists@example.com", SimpleMessage("list 1"));
  DovecotServer& dovecot = Dovecot();
  const int port = dovecot.imap_port();

  const Session s = Imap(port, "alice",
                         {{"list"},
                          {"select", "lists"},
                          {"create", "Archive/2024"},
                          {"create", "Archive/2024"},
                          {"create", "Entw&APw-rfe"},  // "Entwürfe"
                          {"create", "Projects"},
                          {"create", "Projects/Alpha"},
                          {"rename", "lists", "Mailing Lists"},
                          {"rename", "Projects", "Old Projects"},
                          {"list"},
                          {"subscribe", "Entw&APw-rfe"},
                          {"lsub"}});
  ASSERT_EQ(Status(s.login), "OK");
  EXPECT_EQ(FolderNames(s[0]), (std::set<std::string>{"INBOX", "lists"}));
  EXPECT_EQ(Status(s[1]), "OK");
  EXPECT_EQ(Num(s[1], "exists"), 1);
  EXPECT_EQ(Status(s[2]), "OK");
  EXPECT_EQ(Str(s[3], "code"), "ALREADYEXISTS") << Status(s[3]);
  for (std::size_t i = 4; i <= 8; ++i) EXPECT_EQ(Status(s[i]), "OK") << i;
  EXPECT_EQ(FolderNames(s[9]),
            (std::set<std::string>{"INBOX", "Mailing Lists", "Archive/2024",
                                   "Entw&APw-rfe", "Old Projects",
                                   "Old Projects/Alpha"}));
  // Subscriptions are Dovecot's own, in the index directory.
  EXPECT_EQ(Status(s[10]), "OK");
  EXPECT_EQ(FolderNames(s[11]), std::set<std::string>{"Entw&APw-rfe"});
  EXPECT_TRUE(std::filesystem::exists(dovecot.index_dir() +
                                      "/alice@example.com/subscriptions"));

  // The directory: one entry per folder, with the IMAP name in UTF-8.
  auto folders = Folders("alice");
  EXPECT_EQ(folders.size(), 6u);
  for (const char* name : {"INBOX", "Mailing Lists", "Archive/2024", "Entwürfe",
                           "Old Projects", "Old Projects/Alpha"}) {
    EXPECT_EQ(folders.count(name), 1u) << name;
  }
  EXPECT_EQ(folders["Mailing Lists"].First("mdaFolder"), "lists");
  EXPECT_EQ(AsciiLower(folders["Mailing Lists"].dn),
            AsciiLower(FolderDn("alice", "lists")));

  // The extension still delivers into the renamed folder.
  Store("alice+lists@example.com", SimpleMessage("list 2"));
  EXPECT_EQ(InFolder("alice", "lists").size(), 2u);

  const Session t = Imap(port, "alice",
                         {{"select", "Mailing Lists"},
                          {"select", "INBOX"},
                          {"delete", "Archive/2024"},
                          {"delete", "Mailing Lists"},
                          {"delete", "INBOX"},
                          {"delete", "nosuch"},
                          {"list"}});
  EXPECT_EQ(Num(t[0], "exists"), 2);
  EXPECT_EQ(Status(t[2]), "OK");
  EXPECT_EQ(Status(t[3]), "OK");
  EXPECT_EQ(Str(t[4], "status"), "NO");
  EXPECT_EQ(Str(t[5], "code"), "NONEXISTENT") << Status(t[5]);
  const std::set<std::string> left = {"INBOX", "Entw&APw-rfe", "Old Projects",
                                      "Old Projects/Alpha"};
  EXPECT_EQ(FolderNames(t[6]), left);
  folders = Folders("alice");
  EXPECT_EQ(folders.count("Archive/2024"), 0u);
  EXPECT_EQ(folders.count("Mailing Lists"), 0u);
  // The deleted folder went with its messages and their state.
  for (const auto& [dn, e] : Everything("alice")) {
    EXPECT_EQ(dn.find("mdafolder=lists,"), std::string::npos) << dn;
  }
  EXPECT_EQ(InFolder("alice", "INBOX").size(), 1u);

  // A second server with an empty index lists the same.
  DovecotServer& other = Dovecot();
  const Session u = Imap(other.imap_port(), "alice", {{"list"}});
  EXPECT_EQ(FolderNames(u[0]), left);
}

// A server with an empty index sees the UIDs, UIDVALIDITY and flags that
// another one set, and flag changes made on both at once all survive.
TEST_F(DovecotTest, TwoServersAgreeOnUidsAndFlags) {
  for (int i = 1; i <= 3; ++i) {
    Store("alice@example.com", SimpleMessage("flags " + std::to_string(i)));
  }
  DovecotServer& a = Dovecot();
  const Session first = Imap(a.imap_port(), "alice",
                             {{"select", "INBOX"},
                              {"store", "1", "+FLAGS", "\\Seen", "\\Flagged"},
                              {"store", "2", "+FLAGS", "\\Answered", "$Label1"},
                              {"store", "3", "+FLAGS", "\\Deleted", "\\Draft"},
                              {"fetch-meta"}});
  ASSERT_EQ(Status(first[0]), "OK");
  const std::vector<Fetched> on_a = Messages(first[4]);
  ASSERT_EQ(Uids(on_a), (std::vector<long long>{1, 2, 3}));
  const std::map<long long, std::set<std::string>> flags = {
      {1, {"\\Seen", "\\Flagged"}},
      {2, {"\\Answered", "$Label1"}},
      {3, {"\\Deleted", "\\Draft"}}};
  for (const Fetched& m : on_a) EXPECT_EQ(FlagSet(m.flags), flags.at(m.uid));

  // In the directory: each message's state entry.
  for (const Fetched& m : on_a) {
    const auto e = Message("alice", "INBOX", m.guid);
    ASSERT_TRUE(e) << m.guid;
    EXPECT_EQ(StoredFlags(e->dn), flags.at(m.uid)) << m.uid;
    EXPECT_EQ(slapd_.Admin().Read("cn=state," + e->dn)->First("mdaUid"),
              std::to_string(m.uid));
  }

  DovecotServer& b = Dovecot();
  const Session second =
      Imap(b.imap_port(), "alice", {{"select", "INBOX"}, {"fetch-meta"}});
  ASSERT_EQ(Status(second[0]), "OK");
  EXPECT_EQ(Num(second[0], "uidvalidity"), Num(first[0], "uidvalidity"));
  EXPECT_EQ(Num(second[0], "uidnext"), 4);
  const std::vector<Fetched> on_b = Messages(second[1]);
  ASSERT_EQ(on_b.size(), on_a.size());
  for (std::size_t i = 0; i < on_a.size(); ++i) {
    EXPECT_EQ(on_b[i].uid, on_a[i].uid);
    EXPECT_EQ(on_b[i].guid, on_a[i].guid);
    EXPECT_EQ(FlagSet(on_b[i].flags), FlagSet(on_a[i].flags));
    EXPECT_EQ(on_b[i].size, on_a[i].size);
    EXPECT_EQ(on_b[i].internaldate, on_a[i].internaldate);
  }

  // A has message 3 selected with the flags it knows; meanwhile B adds
  // \Answered; then A adds \Flagged: both stay. B's removal of \Flagged
  // from message 1 reaches A.
  BackgroundSession on_a_again;
  on_a_again.Start(a.imap_port(), "alice",
                   {{"select", "INBOX"},
                    {"signal", on_a_again.File("selected")},
                    {"wait-file", on_a_again.File("go"), "60"},
                    {"store", "3", "+FLAGS", "\\Flagged"},
                    {"noop"},
                    {"fetch-meta"}});
  ASSERT_TRUE(on_a_again.WaitForFile("selected"));
  const Session meanwhile = Imap(b.imap_port(), "alice",
                                 {{"select", "INBOX"},
                                  {"store", "3", "+FLAGS", "\\Answered"},
                                  {"store", "1", "-FLAGS", "\\Flagged"}});
  EXPECT_EQ(Status(meanwhile[1]), "OK");
  on_a_again.Signal("go");
  const Session after = on_a_again.Finish();
  const std::map<long long, std::set<std::string>> expected = {
      {1, {"\\Seen"}},
      {2, {"\\Answered", "$Label1"}},
      {3, {"\\Deleted", "\\Draft", "\\Answered", "\\Flagged"}}};
  for (const Fetched& m : Messages(after[5])) {
    EXPECT_EQ(FlagSet(m.flags), expected.at(m.uid)) << "A, UID " << m.uid;
  }
  const Session on_b_again =
      Imap(b.imap_port(), "alice", {{"select", "INBOX"}, {"fetch-meta"}});
  for (const Fetched& m : Messages(on_b_again[1])) {
    EXPECT_EQ(FlagSet(m.flags), expected.at(m.uid)) << "B, UID " << m.uid;
  }

  // A new delivery gets one UID, the same on both.
  Store("alice@example.com", SimpleMessage("flags 4"));
  const Session b4 =
      Imap(b.imap_port(), "alice", {{"select", "INBOX"}, {"fetch-meta"}});
  const Session a4 =
      Imap(a.imap_port(), "alice", {{"select", "INBOX"}, {"fetch-meta"}});
  EXPECT_EQ(Uids(Messages(b4[1])), (std::vector<long long>{1, 2, 3, 4}));
  EXPECT_EQ(Uids(Messages(a4[1])), (std::vector<long long>{1, 2, 3, 4}));
  ASSERT_EQ(Messages(a4[1]).size(), 4u);
  EXPECT_EQ(Messages(a4[1])[3].guid, Messages(b4[1])[3].guid);

  // An EXPUNGE on A (of 2 and of 3, which has \Deleted) reaches a
  // session that has INBOX open on B.
  BackgroundSession open_on_b;
  open_on_b.Start(b.imap_port(), "alice",
                  {{"select", "INBOX"},
                   {"signal", open_on_b.File("selected")},
                   {"wait-file", open_on_b.File("expunged"), "60"},
                   {"noop"},
                   {"fetch-meta"}});
  ASSERT_TRUE(open_on_b.WaitForFile("selected"));
  const Session expunge = Imap(a.imap_port(), "alice",
                               {{"select", "INBOX"},
                                {"store", "2", "+FLAGS", "\\Deleted"},
                                {"expunge"}});
  EXPECT_EQ(Status(expunge[2]), "OK");
  EXPECT_EQ(Strings(expunge[2], "expunged").size(), 2u) << expunge.output;
  open_on_b.Signal("expunged");
  const Session on_b_open = open_on_b.Finish();
  EXPECT_EQ(Strings(on_b_open[3], "expunged").size(), 2u) << on_b_open.output;
  EXPECT_EQ(Uids(Messages(on_b_open[4])), (std::vector<long long>{1, 4}));
  EXPECT_EQ(InFolder("alice", "INBOX").size(), 2u);
}

// APPEND, COPY and MOVE store what a delivery to the user would store
// (same mdaKey, attributes and bytes); EXPUNGE, MOVE and COPY keep the
// usage counters (quota_attribute) right, as "ldapmda --recount" finds.
TEST_F(DovecotTest, AppendCopyMoveAndExpungeWriteWhatADeliveryWould) {
  const std::string conf = DeliveryConfig("quota_attribute = mdaQuota\n");
  const std::vector<std::string> inbox = {
      SimpleMessage("one"), SimpleMessage("two"), SimpleMessage("three")};
  for (const std::string& m : inbox) Store("alice@example.com", m);
  // CRLF, as a client sends it, and bytes a parser must decode.
  const std::string listed = testing::ReadFile(
      std::string(LDAPMDA_CORPUS_DIR) +
      "/mikel-mail/attachment_emails/attachment_nonascii_filename.eml");
  const std::string listed_dn = Store("alice+lists@example.com", listed);
  ASSERT_FALSE(listed_dn.empty());
  const std::string appended =
      "From: Alice <alice@example.com>\r\nTo: Bob <bob@example.com>\r\n"
      "Subject: =?UTF-8?Q?Entw=C3=BCrfe?=\r\n"
      "Date: Wed, 02 Jul 2003 08:00:00 +0000\r\n"
      "Message-ID: <appended@example.com>\r\n\r\nA draft.\r\n";
  const std::string file = MessageFile("appended.eml", appended);
  DovecotServer& dovecot =
      Dovecot(DriverSetting("quota_attribute", "mdaQuota"));
  const int port = dovecot.imap_port();

  const Session s = Imap(port, "alice",
                         {{"create", "Archive"},
                          {"append", "INBOX", file, "\\Draft"},
                          {"append", "INBOX", file},
                          {"select", "lists"},
                          {"store", "1", "+FLAGS", "\\Flagged"},
                          {"copy", "1", "INBOX"},
                          {"select", "INBOX"},
                          {"fetch-meta"},
                          {"append", "No such folder", file}});
  ASSERT_EQ(Status(s.login), "OK");
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(Status(s[i]), "OK") << i;
  EXPECT_EQ(Str(s[8], "code"), "TRYCREATE") << Status(s[8]);
  // The same bytes appended twice are one message with one UID.
  ASSERT_EQ(Strings(s[1], "appenduid").size(), 2u) << s.output;
  EXPECT_EQ(Strings(s[2], "appenduid"), Strings(s[1], "appenduid"));
  EXPECT_EQ(Strings(s[5], "copyuid").size(), 3u) << s.output;
  const std::string append_key = Key("alice@example.com", appended);
  const std::string copy_key = Key("alice@example.com", listed);
  const auto in_inbox = ByGuid(Messages(s[7]));
  ASSERT_EQ(in_inbox.size(), 5u) << s.output;
  ASSERT_EQ(in_inbox.count(append_key), 1u);
  ASSERT_EQ(in_inbox.count(copy_key), 1u);
  EXPECT_EQ(FlagSet(in_inbox.at(append_key).flags),
            std::set<std::string>{"\\Draft"});
  EXPECT_EQ(FlagSet(in_inbox.at(copy_key).flags),
            std::set<std::string>{"\\Flagged"});

  // The appended entry: exactly the bytes sent, and what a delivery of
  // them to alice@ would store -- which is why delivering them now finds
  // the message there already.
  const auto append_entry = Message("alice", "INBOX", append_key);
  ASSERT_TRUE(append_entry);
  EXPECT_EQ(append_entry->First("mdaRawMessage"), appended);
  EXPECT_EQ(append_entry->First("mdaEnvelopeRecipient"), "alice@example.com");
  EXPECT_EQ(append_entry->First("mdaSubject"), "Entwürfe");
  EXPECT_EQ(append_entry->First("mdaMessageId"), "appended@example.com");
  EXPECT_EQ(append_entry->First("mdaSize"), std::to_string(appended.size()));
  EXPECT_EQ(StoredFlags(append_entry->dn), std::set<std::string>{"\\Draft"});
  const ProcessResult again = Deliver(conf, "alice@example.com", appended);
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_EQ(AsciiLower(again.out),
            AsciiLower("already stored as " + append_entry->dn + "\n"));

  // The copy: the source's bytes, parsed like a delivery to alice@.
  const auto source = slapd_.Admin().Read(listed_dn);
  const auto copy = Message("alice", "INBOX", copy_key);
  ASSERT_TRUE(source && copy);
  EXPECT_EQ(copy->First("mdaRawMessage"), listed);
  EXPECT_EQ(copy->First("mdaEnvelopeRecipient"), "alice@example.com");
  EXPECT_EQ(copy->First("mdaFolder"), "INBOX");
  for (const char* attr : {"mdaSubject", "mdaFrom", "mdaTo", "mdaMessageId",
                           "mdaDate", "mdaSize", "mdaDeliveredAt"}) {
    EXPECT_EQ(copy->Values(attr), source->Values(attr)) << attr;
  }
  EXPECT_EQ(StoredFlags(copy->dn), std::set<std::string>{"\\Flagged"});
  EXPECT_EQ(InFolder("alice", "lists").size(), 1u);  // COPY keeps the source

  // MOVE one to Archive, EXPUNGE another.
  const std::string moved_key = Key("alice@example.com", inbox[0]);
  const std::string gone_key = Key("alice@example.com", inbox[1]);
  ASSERT_EQ(in_inbox.count(moved_key), 1u);
  ASSERT_EQ(in_inbox.count(gone_key), 1u);
  const auto moved_before = Message("alice", "INBOX", moved_key);
  ASSERT_TRUE(moved_before);
  const std::string moved_uid = std::to_string(in_inbox.at(moved_key).uid);
  const std::string gone_uid = std::to_string(in_inbox.at(gone_key).uid);
  const Session t = Imap(port, "alice",
                         {{"select", "INBOX"},
                          {"move", moved_uid, "Archive"},
                          {"store", gone_uid, "+FLAGS", "\\Deleted"},
                          {"expunge"},
                          {"fetch-meta"},
                          {"select", "Archive"},
                          {"fetch-meta"}});
  for (std::size_t i = 0; i < 7; ++i) EXPECT_EQ(Status(t[i]), "OK") << i;
  EXPECT_EQ(Strings(t[1], "copyuid").size(), 3u) << t.output;
  EXPECT_EQ(Messages(t[4]).size(), 3u);
  EXPECT_FALSE(Message("alice", "INBOX", moved_key));
  EXPECT_FALSE(Message("alice", "INBOX", gone_key));
  const auto moved = Message("alice", "Archive", moved_key);
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->First("mdaRawMessage"), inbox[0]);
  EXPECT_EQ(moved->First("mdaSubject"), "one");
  EXPECT_EQ(moved->First("mdaEnvelopeRecipient"), "alice@example.com");
  EXPECT_EQ(moved->First("mdaDeliveredAt"),
            moved_before->First("mdaDeliveredAt"));
  const auto archive = Messages(t[6]);
  ASSERT_EQ(archive.size(), 1u);
  EXPECT_EQ(archive[0].guid, moved_key);
  // Removals are counted on the folder, so that other servers notice.
  EXPECT_EQ(
      slapd_.Admin().Read(FolderDn("alice", "INBOX"))->First("mdaRemovals"),
      "2");

  // The counters are right: a recount finds what they say.
  const auto box = slapd_.Admin().Read(MailboxDn("alice"));
  ASSERT_TRUE(box);
  long long bytes = 0;
  const auto stored = Stored(slapd_, MailboxDn("alice"));
  for (const TestEntry& e : stored) {
    bytes += static_cast<long long>(e.First("mdaRawMessage").size());
  }
  EXPECT_EQ(box->First("mdaMessageCount"), std::to_string(stored.size()));
  EXPECT_EQ(box->First("mdaMailboxSize"), std::to_string(bytes));
  const ProcessResult recount = testing::RunProcess(
      {LDAPMDA_BINARY, "-c", conf, "--recount", "alice@example.com"}, "",
      std::chrono::seconds(60), {}, RunAsFor(conf));
  EXPECT_EQ(recount.exit_code, 0) << recount.out << recount.err;
  const std::string counts = std::to_string(stored.size()) + " messages, " +
                             std::to_string(bytes) + " bytes";
  EXPECT_NE(recount.out.find(": " + counts + " (counters said " + counts + ")"),
            std::string::npos)
      << recount.out;

  // A server with an empty index sees the same.
  DovecotServer& other = Dovecot();
  const Session u =
      Imap(other.imap_port(), "alice", {{"select", "INBOX"}, {"fetch-meta"}});
  EXPECT_EQ(ByGuid(Messages(u[1])).size(), 3u);
  for (const auto& [key, m] : ByGuid(Messages(t[4]))) {
    EXPECT_EQ(ByGuid(Messages(u[1])).count(key), 1u) << key;
  }
}

// A delivery during IDLE shows up within mailbox_idle_check_interval
// (5 s in the shipped file), and at the next NOOP.
TEST_F(DovecotTest, NewMailShowsUpDuringIdleAndOnNoop) {
  Store("alice@example.com", SimpleMessage("before"));
  DovecotServer& dovecot = Dovecot();
  BackgroundSession idle;
  idle.Start(dovecot.imap_port(), "alice",
             {{"select", "INBOX"}, {"idle", "2", "60"}});
  ASSERT_TRUE(idle.WaitForFile("idling"));
  const auto delivered = Clock::now();
  const std::string dn = Store("alice@example.com", SimpleMessage("during"));
  const Session s = idle.Finish();
  const double seconds =
      std::chrono::duration<double>(Clock::now() - delivered).count();
  EXPECT_EQ(Num(s[0], "exists"), 1);
  EXPECT_EQ(Status(s[1]), "OK");
  EXPECT_EQ(Num(s[1], "exists"), 2) << s.output;
  EXPECT_LT(seconds, 20.0);
  std::cout << "[          ] IDLE: the delivery showed after " << seconds
            << " s\n";

  BackgroundSession noop;
  noop.Start(dovecot.imap_port(), "alice",
             {{"select", "INBOX"},
              {"signal", noop.File("selected")},
              {"wait-file", noop.File("delivered"), "60"},
              {"noop"},
              {"fetch-meta"}});
  ASSERT_TRUE(noop.WaitForFile("selected"));
  const std::string third = SimpleMessage("after");
  Store("alice@example.com", third);
  noop.Signal("delivered");
  const Session t = noop.Finish();
  EXPECT_EQ(Num(t[0], "exists"), 2);
  EXPECT_EQ(Status(t[3]), "OK");
  EXPECT_EQ(Num(t[3], "exists"), 3) << t.output;
  EXPECT_EQ(ByGuid(Messages(t[4])).count(Key("alice@example.com", third)), 1u);
}

// With the directory down (stopped, or hung), nothing that needs it
// pretends: SELECT, STATUS, LIST, CREATE and APPEND answer NO
// [UNAVAILABLE], a FETCH of a body NO [SERVERBUG], a NOOP an untagged NO
// without expunging anything. Once it is back, the same messages are
// there.
TEST_F(DovecotTest, DirectoryDownIsAnErrorNeverAnEmptyMailbox) {
  for (int i = 1; i <= 3; ++i) {
    Store("alice@example.com", SimpleMessage("kept " + std::to_string(i)));
  }
  Store("alice+lists@example.com", SimpleMessage("kept in lists"));
  const std::string file = MessageFile("new.eml", SimpleMessage("new"));
  DovecotServer& dovecot = Dovecot();
  const Session before =
      Imap(dovecot.imap_port(), "alice", {{"select", "INBOX"}, {"fetch"}});
  const std::vector<Fetched> messages = Messages(before[1]);
  ASSERT_EQ(messages.size(), 3u);

  BackgroundSession bg;
  const Script outage = {{"noop"},
                         {"fetch-meta"},
                         {"fetch", "1:*"},
                         {"status", "lists"},
                         {"list"},
                         {"create", "New"},
                         {"append", "INBOX", file},
                         {"select", "INBOX"}};
  Script script = {{"select", "INBOX"},
                   {"signal", bg.File("ready")},
                   {"wait-file", bg.File("stopped"), "60"}};
  script.insert(script.end(), outage.begin(), outage.end());
  script.push_back({"signal", bg.File("tested")});
  script.push_back({"wait-file", bg.File("restarted"), "60"});
  script.push_back({"select", "INBOX"});
  script.push_back({"fetch"});
  script.push_back({"status", "lists"});
  script.push_back({"signal", bg.File("back")});
  script.push_back({"wait-file", bg.File("paused"), "60"});
  script.push_back({"status", "lists"});
  script.push_back({"select", "INBOX"});
  script.push_back({"signal", bg.File("hung")});
  script.push_back({"wait-file", bg.File("resumed"), "60"});
  script.push_back({"select", "INBOX"});
  script.push_back({"fetch"});
  bg.Start(dovecot.imap_port(), "alice", script);

  ASSERT_TRUE(bg.WaitForFile("ready"));
  slapd_.Stop();
  bg.Signal("stopped");
  const bool tested = bg.WaitForFile("tested", std::chrono::seconds(120));
  slapd_.Start();
  bg.Signal("restarted");
  ASSERT_TRUE(tested);
  ASSERT_TRUE(bg.WaitForFile("back", std::chrono::seconds(60)));
  slapd_.Pause();
  bg.Signal("paused");
  const bool hung = bg.WaitForFile("hung", std::chrono::seconds(120));
  slapd_.Resume();
  bg.Signal("resumed");
  ASSERT_TRUE(hung);
  const Session s = bg.Finish();
  ASSERT_EQ(s.results.size(), 24u) << s.output;
  EXPECT_EQ(Status(s[0]), "OK");

  // Stopped. A sync fails quietly; the index keeps every message.
  const ptree& noop = s[3];
  EXPECT_EQ(Str(noop, "status"), "OK");
  EXPECT_FALSE(Strings(noop, "untagged_no").empty()) << s.output;
  EXPECT_FALSE(noop.get_child_optional("expunged")) << s.output;
  EXPECT_EQ(Status(s[4]), "OK");  // flags and sizes from the index
  EXPECT_EQ(Messages(s[4]).size(), 3u);
  EXPECT_EQ(Str(s[5], "status"), "NO") << Status(s[5]);  // a body
  EXPECT_EQ(Str(s[5], "code"), "SERVERBUG") << Status(s[5]);
  for (std::size_t i = 6; i <= 10; ++i) {
    EXPECT_EQ(Str(s[i], "status"), "NO") << Status(s[i]);
    EXPECT_EQ(Str(s[i], "code"), "UNAVAILABLE") << Status(s[i]);
  }
  // Back: the same messages, bytes and flags.
  EXPECT_EQ(Status(s[13]), "OK");
  EXPECT_EQ(Num(s[13], "exists"), 3);
  const std::vector<Fetched> after = Messages(s[14]);
  ASSERT_EQ(after.size(), messages.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].uid, messages[i].uid);
    EXPECT_EQ(after[i].guid, messages[i].guid);
    EXPECT_EQ(after[i].sha256, messages[i].sha256);
  }
  EXPECT_EQ(Num(s[15], "messages"), 1);
  // Hung (SIGSTOP): the driver's timeout (5 s) turns into NO [UNAVAILABLE].
  for (std::size_t i = 18; i <= 19; ++i) {
    EXPECT_EQ(Str(s[i], "code"), "UNAVAILABLE") << Status(s[i]);
  }
  EXPECT_EQ(Num(s[22], "exists"), 3) << Status(s[22]);
  EXPECT_EQ(Messages(s[23]).size(), 3u);
  EXPECT_EQ(InFolder("alice", "INBOX").size(), 3u);  // nothing appended
  EXPECT_EQ(Folders("alice").count("New"), 0u);
}

// When only the store is unreachable (logins still work), every
// protocol says "try again later": IMAP NO [UNAVAILABLE], POP3 -ERR
// [SYS/TEMP], doveadm exit 75 (EX_TEMPFAIL).
TEST_F(DovecotTest, StoreUnreachableIsATemporaryFailureEverywhere) {
  Store("alice@example.com", SimpleMessage("unreachable"));
  const std::string nowhere =
      "ldap://127.0.0.1:" + std::to_string(testing::FreeTcpPort());
  DovecotServer& dovecot = Dovecot(DriverSetting("server_host", nowhere));
  const Session imap =
      Imap(dovecot.imap_port(), "alice",
           {{"select", "INBOX"}, {"list"}, {"status", "INBOX"}});
  ASSERT_EQ(Status(imap.login), "OK");
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(Str(imap[i], "code"), "UNAVAILABLE") << Status(imap[i]);
  }
  // pop3-login says "+OK Logged in." before the pop3 process opens INBOX;
  // its failure is the answer to the next command, then it hangs up.
  const Session pop3 = Pop3(dovecot.pop3_port(), "alice", {{"stat"}});
  EXPECT_EQ(Str(pop3[0], "status"), "ERR") << pop3.output;
  EXPECT_EQ(Str(pop3[0], "code"), "SYS/TEMP") << pop3.output;
  const ProcessResult doveadm =
      dovecot.Doveadm({"mailbox", "list", "-u", "alice@example.com"});
  EXPECT_EQ(doveadm.exit_code, 75) << doveadm.out << doveadm.err;
  EXPECT_NE(dovecot.log().find("ldapmda"), std::string::npos);
}

// An identity for the driver that the shipped ACLs give no rights on
// mailboxes: bound, so it may read the rest of the directory (rule 9).
const char kNoRightsLdif[] =
    "dn: cn=norights,ou=services,dc=example,dc=com\n"
    "objectClass: organizationalRole\n"
    "objectClass: simpleSecurityObject\n"
    "cn: norights\n"
    "userPassword: norightspass\n";

class DovecotIsolationTest : public DovecotTest {
 protected:
  DovecotIsolationTest() : DovecotTest({kNoRightsLdif}) {}

  // The same entries, none of them changed (entryCSN).
  static void ExpectUnchanged(const std::map<std::string, TestEntry>& before,
                              const std::map<std::string, TestEntry>& after) {
    EXPECT_EQ(after.size(), before.size());
    for (const auto& [dn, e] : before) {
      const auto it = after.find(dn);
      ASSERT_NE(it, after.end()) << dn;
      EXPECT_EQ(it->second.First("entryCSN"), e.First("entryCSN")) << dn;
    }
  }
};

// Bob can never reach Alice's mail: folder names that look like DNs or
// paths of hers are his own folders (or refused), other users'
// namespaces do not exist, and nothing of hers changes. A driver bound
// as an identity without rights gets errors, never mail.
TEST_F(DovecotIsolationTest, NoUserReachesAnotherUsersMail) {
  const std::string secret = SimpleMessage("alice secret");
  Store("alice@example.com", secret);
  Store("alice+lists@example.com", SimpleMessage("alice list"));
  Store("bob@example.com", SimpleMessage("bob's own"));
  const std::string alice_key = Key("alice@example.com", secret);
  const std::set<std::string> alice_keys = {
      alice_key, Key("alice+lists@example.com", SimpleMessage("alice list"))};
  const auto alice_before = Everything("alice");
  // The mailbox, two folders, two messages (no states before IMAP saw
  // them).
  ASSERT_EQ(alice_before.size(), 5u);
  const std::string bob_file = MessageFile("bob.eml", SimpleMessage("bob 2"));
  DovecotServer& dovecot = Dovecot();

  const std::vector<std::string> names = {
      "x,cn=mailbox,uid=alice,ou=people,dc=example,dc=com",
      "INBOX,cn=mailbox,uid=alice,ou=people,dc=example,dc=com",
      "mdaFolder=INBOX,cn=mailbox,uid=alice,ou=people,dc=example,dc=com",
      "mdaKey=" + alice_key +
          ",mdaFolder=INBOX,cn=mailbox,uid=alice,ou=people,dc=example,dc=com",
      "lists",
      "a+b\\,c=d;e<f>g\"h#i",
      "../alice",
      "~alice/INBOX",
      "#shared/alice/INBOX",
      "shared/alice/INBOX",
      "Other Users/alice/INBOX",
      "alice@example.com/INBOX"};
  Script script = {{"namespace"}, {"list"}};
  for (const std::string& name : names) {
    script.push_back({"select", name});
    script.push_back({"create", name});
    script.push_back({"append", name, bob_file});
    script.push_back({"select", name});
    script.push_back({"fetch"});
  }
  script.push_back({"list"});
  const Session s = Imap(dovecot.imap_port(), "bob", script);
  ASSERT_EQ(Status(s.login), "OK");
  ASSERT_EQ(s.results.size(), 3 + 5 * names.size()) << s.output;
  // Only the personal namespace.
  EXPECT_EQ(Str(s[0], "namespace"), "((\"\" \"/\")) NIL NIL");
  EXPECT_EQ(FolderNames(s[1]), std::set<std::string>{"INBOX"});
  std::set<std::string> created;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::size_t at = 2 + 5 * i;
    const std::string& name = names[i];
    EXPECT_NE(Str(s[at], "status"), "OK") << name << ": " << Status(s[at]);
    if (Str(s[at + 1], "status") != "OK") {
      // Refused by Dovecot's name checks ("..", "~"): nothing to open.
      EXPECT_EQ(Str(s[at + 1], "code"), "CANNOT") << name;
      EXPECT_NE(Str(s[at + 3], "status"), "OK") << name;
      continue;
    }
    created.insert(name);
    EXPECT_EQ(Status(s[at + 2]), "OK") << name;
    EXPECT_EQ(Num(s[at + 3], "exists"), 1) << name;
    const std::vector<Fetched> got = Messages(s[at + 4]);
    ASSERT_EQ(got.size(), 1u) << name;
    EXPECT_EQ(got[0].guid, Key("bob@example.com", SimpleMessage("bob 2")))
        << name;
  }
  for (const char* name : {"../alice", "~alice/INBOX"}) {
    EXPECT_EQ(created.count(name), 0u) << name;
  }
  // LIST "*" shows his folders (not their parents, which are none).
  std::set<std::string> his = created;
  his.insert("INBOX");
  EXPECT_EQ(FolderNames(s.results.back()), his);

  // Each folder Bob made is an entry below his own mailbox, named as he
  // named it; Alice's subtree did not change at all.
  const auto bob_folders = Folders("bob");
  for (const std::string& name : created) {
    ASSERT_EQ(bob_folders.count(name), 1u) << name;
    const std::string dn = AsciiLower(bob_folders.at(name).dn);
    const std::string parent = AsciiLower("," + MailboxDn("bob"));
    EXPECT_EQ(dn.substr(dn.size() - parent.size()), parent) << dn;
  }
  for (const auto& [dn, e] : Everything("bob")) {
    if (!e.Has("mdaKey")) continue;
    EXPECT_EQ(alice_keys.count(e.First("mdaKey")), 0u) << dn;
  }
  ExpectUnchanged(alice_before, Everything("alice"));
  // And Alice sees only her own.
  const Session a = Imap(dovecot.imap_port(), "alice",
                         {{"list"}, {"select", "INBOX"}, {"fetch-meta"}});
  EXPECT_EQ(FolderNames(a[0]), (std::set<std::string>{"INBOX", "lists"}));
  ASSERT_EQ(Messages(a[2]).size(), 1u);
  EXPECT_EQ(Messages(a[2])[0].guid, alice_key);
  const auto alice_seen = Everything("alice");  // with the UIDs she got

  // A driver bound as an identity without rights on mailboxes.
  DovecotOptions norights;
  norights.bind_dn = "cn=norights,ou=services,dc=example,dc=com";
  norights.bind_password = "norightspass";
  DovecotServer& powerless = Dovecot(norights);
  const Session n = Imap(powerless.imap_port(), "alice",
                         {{"select", "INBOX"},
                          {"status", "INBOX"},
                          {"list"},
                          {"select", "lists"},
                          {"fetch"}});
  ASSERT_EQ(Status(n.login), "OK");
  for (std::size_t i = 0; i < n.results.size(); ++i) {
    EXPECT_NE(Str(n[i], "status"), "OK") << Status(n[i]);
    EXPECT_FALSE(n[i].get_child_optional("messages")) << n.output;
    EXPECT_FALSE(n[i].get_child_optional("exists")) << n.output;
  }
  const Session np = Pop3(powerless.pop3_port(), "alice", {{"stat"}});
  EXPECT_EQ(Str(np[0], "status"), "ERR") << np.output;
  ExpectUnchanged(alice_seen, Everything("alice"));
}

// POP3: STAT and LIST count what RETR sends, RETR is byte-exact (dot
// lines unstuffed), UIDLs are the mdaKeys on every server, and DELE
// removes the message from the directory.
TEST_F(DovecotTest, Pop3ListsRetrievesAndDeletesFromTheDirectory) {
  const std::vector<std::string> raws = {
      SimpleMessage("pop one", "line\n.dot line\n..\n.\nend\n"),
      testing::ReadFile(
          std::string(LDAPMDA_CORPUS_DIR) +
          "/mikel-mail/attachment_emails/attachment_content_disposition.eml"),
      SimpleMessage("pop three", "no final line end")};
  std::set<std::string> keys;
  for (const std::string& raw : raws) {
    Store("alice@example.com", raw);
    keys.insert(Key("alice@example.com", raw));
  }
  DovecotServer& a = Dovecot();
  DovecotServer& b = Dovecot();
  const Script look = {{"stat"}, {"list"}, {"uidl"}, {"retr-digests"}};
  const Session s = Pop3(a.pop3_port(), "alice", look);
  ASSERT_EQ(Status(s.login), "OK") << s.output;
  EXPECT_EQ(Num(s[0], "count"), 3);
  std::map<long long, std::string> uidl;
  for (const auto& [_, u] : s[2].get_child("uidls", {})) {
    uidl[Num(u, "msg")] = Str(u, "uidl");
  }
  std::set<std::string> uidls;
  for (const auto& [n, u] : uidl) uidls.insert(u);
  EXPECT_EQ(uidls, keys);
  std::map<std::string, std::string> raw_of;
  for (const std::string& raw : raws) {
    raw_of[Key("alice@example.com", raw)] = raw;
  }
  long long total = 0;
  for (const auto& [_, size] : s[1].get_child("sizes", {})) {
    const std::string message = Crlf(raw_of[uidl[Num(size, "msg")]]);
    EXPECT_EQ(Num(size, "size"), static_cast<long long>(message.size()));
    total += Num(size, "size");
  }
  EXPECT_EQ(Num(s[0], "size"), total);
  for (const auto& [_, r] : s[3].get_child("messages", {})) {
    std::string sent = Crlf(raw_of[uidl[Num(r, "msg")]]);
    if (sent.back() != '\n') sent += "\r\n";
    EXPECT_EQ(Str(r, "sha256"), Sha(sent)) << uidl[Num(r, "msg")];
  }

  // The same UIDLs from a server with an empty index.
  const Session t = Pop3(b.pop3_port(), "alice", {{"uidl"}});
  std::map<long long, std::string> uidl_b;
  for (const auto& [_, u] : t[0].get_child("uidls", {})) {
    uidl_b[Num(u, "msg")] = Str(u, "uidl");
  }
  EXPECT_EQ(uidl_b, uidl);

  // DELE takes effect at QUIT: the message leaves the directory.
  const Session d = Pop3(a.pop3_port(), "alice", {{"dele", "2"}, {"quit"}});
  EXPECT_EQ(Status(d[0]), "OK");
  EXPECT_EQ(Status(d[1]), "OK");
  EXPECT_FALSE(Message("alice", "INBOX", uidl[2]));
  EXPECT_EQ(InFolder("alice", "INBOX").size(), 2u);
  const Session e = Pop3(b.pop3_port(), "alice", {{"uidl"}});
  std::vector<std::string> left;
  for (const auto& [_, u] : e[0].get_child("uidls", {})) {
    left.push_back(Str(u, "uidl"));
  }
  EXPECT_EQ(left, (std::vector<std::string>{uidl[1], uidl[3]}));
  const Session i = Imap(a.imap_port(), "alice", {{"select", "INBOX"}});
  EXPECT_EQ(Num(i[0], "exists"), 2);
}

// doveadm through the driver: mailbox list, fetch (GUIDs are mdaKeys),
// search, expunge, and force-resync, which rebuilds an index that a
// change made behind its back left stale.
TEST_F(DovecotTest, DoveadmListsFetchesSearchesExpungesAndResyncs) {
  const std::vector<std::string> raws = {SimpleMessage("doveadm one"),
                                         SimpleMessage("doveadm two"),
                                         SimpleMessage("doveadm three")};
  for (const std::string& raw : raws) Store("alice@example.com", raw);
  Store("alice+lists@example.com", SimpleMessage("doveadm list"));
  DovecotServer& dovecot = Dovecot();
  const std::string user = "alice@example.com";

  ProcessResult r = dovecot.Doveadm({"mailbox", "list", "-u", user});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::vector<std::string> listed = LinesAfter(r.out, "");
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()),
            (std::set<std::string>{"INBOX", "lists"}))
      << r.out;

  r = dovecot.Doveadm(
      {"fetch", "-u", user, "uid guid mailbox", "mailbox", "INBOX", "all"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::vector<std::string> uids = LinesAfter(r.out, "uid: ");
  const std::vector<std::string> guids = LinesAfter(r.out, "guid: ");
  ASSERT_EQ(uids.size(), 3u) << r.out;
  ASSERT_EQ(guids.size(), 3u) << r.out;
  std::map<std::string, std::string> uid_of;  // mdaKey -> UID
  for (std::size_t i = 0; i < 3; ++i) uid_of[guids[i]] = uids[i];
  for (const std::string& raw : raws) {
    EXPECT_EQ(uid_of.count(Key(user, raw)), 1u);
  }
  EXPECT_EQ(LinesAfter(r.out, "mailbox: "),
            std::vector<std::string>(3, "INBOX"));

  r = dovecot.Doveadm(
      {"search", "-u", user, "mailbox", "INBOX", "subject", "two"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::vector<std::string> found = LinesAfter(r.out, "");
  ASSERT_EQ(found.size(), 1u) << r.out;
  EXPECT_EQ(found[0].substr(found[0].rfind(' ') + 1),
            uid_of[Key(user, raws[1])]);

  r = dovecot.Doveadm({"expunge", "-u", user, "mailbox", "INBOX", "uid",
                       uid_of[Key(user, raws[0])]});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_FALSE(Message("alice", "INBOX", Key(user, raws[0])));
  EXPECT_EQ(InFolder("alice", "INBOX").size(), 2u);

  // Behind the index's back: the administrator removes a message without
  // counting the removal, so an incremental sync cannot notice.
  const auto hidden = Message("alice", "INBOX", Key(user, raws[2]));
  ASSERT_TRUE(hidden);
  const Session before =
      Imap(dovecot.imap_port(), "alice", {{"select", "INBOX"}});
  EXPECT_EQ(Num(before[0], "exists"), 2);
  {
    auto admin = slapd_.Admin();
    ASSERT_EQ(admin.Delete("cn=state," + hidden->dn), LDAP_SUCCESS);
    ASSERT_EQ(admin.Delete(hidden->dn), LDAP_SUCCESS);
  }
  const Session stale =
      Imap(dovecot.imap_port(), "alice", {{"select", "INBOX"}});
  EXPECT_EQ(Num(stale[0], "exists"), 2) << "the index noticed by itself";
  r = dovecot.Doveadm({"force-resync", "-u", user, "INBOX"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const Session fresh =
      Imap(dovecot.imap_port(), "alice", {{"select", "INBOX"}, {"fetch-meta"}});
  EXPECT_EQ(Num(fresh[0], "exists"), 1);
  ASSERT_EQ(Messages(fresh[1]).size(), 1u);
  EXPECT_EQ(Messages(fresh[1])[0].guid, Key(user, raws[1]));
}

// RFC 3501 2.3.1.1: a folder made again under the name of one that is
// gone must get a greater UIDVALIDITY, or a client (or a second server's
// index) takes the new folder's UIDs for the old folder's messages --
// however quickly it is made again.
TEST_F(DovecotTest, AFolderMadeAgainGetsAGreaterUidValidity) {
  const std::string x = MessageFile("x.eml", SimpleMessage("old folder"));
  const std::string y = MessageFile("y.eml", SimpleMessage("new folder"));
  DovecotServer& a = Dovecot();
  DovecotServer& b = Dovecot();

  // B has the first "Tmp" indexed when A deletes it, makes it again and
  // appends another message, all in a moment.
  BackgroundSession on_b;
  on_b.Start(b.imap_port(), "alice",
             {{"wait-file", on_b.File("made"), "60"},
              {"select", "Tmp"},
              {"fetch-meta"},
              {"signal", on_b.File("indexed")},
              {"wait-file", on_b.File("remade"), "60"},
              {"select", "INBOX"},
              {"select", "Tmp"},
              {"fetch"}});
  BackgroundSession on_a;
  on_a.Start(a.imap_port(), "alice",
             {{"create", "Tmp"},
              {"append", "Tmp", x},
              {"status", "Tmp"},
              {"signal", on_b.File("made")},
              {"wait-file", on_b.File("indexed"), "60"},
              {"delete", "Tmp"},
              {"create", "Tmp"},
              {"append", "Tmp", y},
              {"status", "Tmp"},
              {"signal", on_b.File("remade")},
              {"rename", "Tmp", "Kept"},
              {"create", "Tmp"},
              {"status", "Tmp"},
              {"status", "Kept"}});
  const Session sa = on_a.Finish();
  const Session sb = on_b.Finish();
  for (std::size_t i = 0; i < sa.results.size(); ++i) {
    EXPECT_EQ(Status(sa[i]), "OK") << i;
  }
  const long long first = Num(sa[2], "uidvalidity");
  const long long again = Num(sa[8], "uidvalidity");
  EXPECT_GT(again, first);
  // The same after a RENAME, which keeps the folder's UIDVALIDITY.
  EXPECT_GT(Num(sa[12], "uidvalidity"), again);
  EXPECT_EQ(Num(sa[13], "uidvalidity"), again);
  // B shows the new folder's message, not the old one's.
  ASSERT_EQ(Messages(sb[2]).size(), 1u) << sb.output;
  EXPECT_EQ(Messages(sb[2])[0].guid,
            Key("alice@example.com", SimpleMessage("old folder")));
  EXPECT_EQ(Status(sb[7]), "OK") << sb.output;
  const std::vector<Fetched> now = Messages(sb[7]);
  ASSERT_EQ(now.size(), 1u) << sb.output;
  EXPECT_EQ(now[0].guid, Key("alice@example.com", SimpleMessage("new folder")));
  EXPECT_EQ(now[0].sha256, Sha(ImapForm(SimpleMessage("new folder"))));
}

// STORE -FLAGS naming flags a message has together with flags it lacks
// (clients do that: "mark unread and unflag") changes what is there and
// nothing else. slapd 2.5's permissive modify refuses to delete a value
// the entry lacks when it comes last; a push that fails stays pending and
// fails every later sync, so the mailbox could not be opened any more.
TEST_F(DovecotTest, RemovingFlagsAMessageLacksIsNoError) {
  Store("alice@example.com", SimpleMessage("unflag 1"));
  Store("alice@example.com", SimpleMessage("unflag 2"));
  DovecotServer& dovecot = Dovecot();
  const Session s = Imap(dovecot.imap_port(), "alice",
                         {{"select", "INBOX"},
                          {"store", "1", "+FLAGS", "\\Seen", "$Work"},
                          {"noop"},
                          {"store", "1", "-FLAGS", "\\Seen", "\\Draft"},
                          {"noop"},
                          {"store", "1", "-FLAGS", "$Work", "$Other"},
                          {"noop"},
                          {"store", "2", "+FLAGS", "\\Flagged"},
                          {"store", "1:2", "-FLAGS", "\\Flagged"},
                          {"noop"},
                          {"fetch-meta"}});
  for (std::size_t i = 0; i < s.results.size(); ++i) {
    EXPECT_EQ(Status(s[i]), "OK") << i;
    EXPECT_TRUE(Strings(s[i], "untagged_no").empty()) << i << ": " << s.output;
  }
  for (const Fetched& m : Messages(s[10])) {
    EXPECT_EQ(FlagSet(m.flags), std::set<std::string>{}) << m.uid;
    const auto e = Message("alice", "INBOX", m.guid);
    ASSERT_TRUE(e);
    EXPECT_EQ(StoredFlags(e->dn), std::set<std::string>{}) << m.uid;
  }
  // The mailbox still syncs: new mail shows.
  Store("alice@example.com", SimpleMessage("unflag 3"));
  const Session t = Imap(dovecot.imap_port(), "alice", {{"select", "INBOX"}});
  EXPECT_EQ(Status(t[0]), "OK");
  EXPECT_EQ(Num(t[0], "exists"), 3);
}

// The whole way: SMTP into a private Postfix configured as README says,
// its pipe(8) running ldapmda into the directory, and out through IMAP:
// FETCH BODY[] is what ldapmda stored, Postfix's added header fields
// included, and the message as sent follows them unchanged.
TEST_F(DovecotTest, MailSentOverSmtpComesOutOfImap) {
  testing::PostfixOptions options;
  options.ldapmda_binary = LDAPMDA_BINARY;
  options.source_dir = LDAPMDA_SOURCE_DIR;
  options.ldapmda_conf = {{"timeout", "5"}, {"deadline", "30"}};
  testing::PostfixServer postfix(slapd_, options);
  DovecotServer& dovecot = Dovecot();
  const std::string plain = SimpleMessage(
      "over smtp", "Hello Alice.\n.a line that starts with a dot\n..\n");
  const std::string listed =
      testing::ReadFile(std::string(LDAPMDA_CORPUS_DIR) +
                        "/mikel-mail/multi_charset/japanese_attachment.eml");
  for (const auto& [rcpt, message] :
       std::vector<std::pair<std::string, std::string>>{
           {"alice@example.com", plain}, {"alice+lists@example.com", listed}}) {
    const testing::SmtpSession smtp = testing::SendMail(
        postfix.smtp_port(), "sender@example.org", {rcpt}, message);
    ASSERT_EQ(smtp.message.code, 250) << rcpt << ": " << smtp.message.text;
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        return InFolder("alice", "INBOX").size() == 1 &&
               InFolder("alice", "lists").size() == 1;
      },
      std::chrono::seconds(60)))
      << postfix.MailLog();

  const Session s =
      Imap(dovecot.imap_port(), "alice",
           {{"select", "INBOX"}, {"fetch"}, {"select", "lists"}, {"fetch"}});
  const std::pair<const char*, std::size_t> folders[] = {{"INBOX", 1},
                                                         {"lists", 3}};
  for (const auto& [folder, at] : folders) {
    const TestEntry stored = InFolder("alice", folder).at(0);
    const std::string raw = stored.First("mdaRawMessage");
    EXPECT_EQ(raw.rfind("Return-Path: <sender@example.org>\n", 0), 0u) << raw;
    const std::vector<Fetched> got = Messages(s[at]);
    ASSERT_EQ(got.size(), 1u) << folder << ": " << s.output;
    EXPECT_EQ(got[0].guid, stored.First("mdaKey"));
    EXPECT_EQ(got[0].sha256, Sha(ImapForm(raw))) << folder;
    EXPECT_EQ(got[0].length, static_cast<long long>(ImapForm(raw).size()));
    EXPECT_EQ(got[0].size, got[0].length);
  }
  // Postfix hands pipe(8) the message with LF line ends, after its own
  // header fields: what was sent is the tail of what is stored.
  const std::string inbox_raw =
      InFolder("alice", "INBOX").at(0).First("mdaRawMessage");
  ASSERT_GT(inbox_raw.size(), plain.size());
  EXPECT_EQ(inbox_raw.substr(inbox_raw.size() - plain.size()), plain);
}

// A real terminal client: mutt opens INBOX over IMAP in batch mode (in a
// pseudo-terminal, from script(1)), lists it, and copies every message
// into a local mbox, which then holds each delivered message.
TEST_F(DovecotTest, MuttReadsTheInboxOverImap) {
  const std::vector<std::string> raws = {
      SimpleMessage("mutt first", "First body line.\n"),
      SimpleMessage("mutt second", "Second body line.\n"),
      SimpleMessage("=?UTF-8?Q?mutt_dritte_Nachricht_=C3=BC?=",
                    "Third body line.\n")};
  for (const std::string& raw : raws) Store("alice@example.com", raw);
  DovecotServer& dovecot = Dovecot();
  const std::string home = dir_.File("mutt");
  std::filesystem::create_directory(home);
  const std::string url =
      "imap://alice@127.0.0.1:" + std::to_string(dovecot.imap_port()) + "/";
  const std::string muttrc = home + "/muttrc";
  const std::string mbox = home + "/copied.mbox";
  testing::WriteFile(muttrc,
                     "set folder=\"" + url +
                         "\"\n"
                         "set spoolfile=\"+INBOX\"\n"
                         "set imap_pass=\"" +
                         SlapdServer::UserPassword("alice") +
                         "\"\n"
                         "set ssl_starttls=no\nset ssl_force_tls=no\n"
                         "set header_cache=\"\"\nset message_cachedir=\"\"\n"
                         "set mbox_type=mbox\nset confirmcreate=no\n"
                         "set confirmappend=no\nset quit=yes\nset move=no\n"
                         "set sort=subject\n",
                     0600);
  const std::string command =
      "/usr/bin/mutt -n -F " + muttrc + " -f " + url +
      "INBOX -e 'push \"<tag-pattern>~A<enter><tag-prefix><copy-message>" +
      mbox + "<enter><quit>\"'";
  const ProcessResult r = testing::RunProcess(
      {"/usr/bin/script", "-qec", command, "/dev/null"}, "",
      std::chrono::seconds(60),
      {"TERM=vt100", "HOME=" + home, "SHELL=/bin/sh", "LANG=C.UTF-8"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // The index it drew: three new messages, the subjects decoded.
  EXPECT_NE(r.out.find("Msgs:3 New:3"), std::string::npos) << r.out;
  for (const char* subject : {"mutt first", "mutt second"}) {
    EXPECT_NE(r.out.find(subject), std::string::npos) << subject;
  }
  // The copies: mutt's mbox holds each message's header fields and body.
  const std::string copied = testing::ReadFile(mbox);
  EXPECT_EQ(LinesAfter(copied, "From ").size(), 3u) << copied;
  for (const std::string& raw : raws) {
    const std::string header = raw.substr(0, raw.find("\n\n") + 1);
    std::istringstream lines(header + raw.substr(raw.find("\n\n") + 2));
    for (std::string line; std::getline(lines, line);) {
      EXPECT_NE(copied.find(line + "\n"), std::string::npos) << line;
    }
  }
}

// Two servers giving out UIDs to the same new messages at the same
// moment end up with one UID per message, the same on both and in the
// directory.
TEST_F(DovecotTest, TwoServersGivingOutUidsAtOnceAgree) {
  DovecotServer& a = Dovecot();
  DovecotServer& b = Dovecot();
  std::set<std::string> keys;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 15; ++i) {
      const std::string raw = SimpleMessage("race " + std::to_string(round) +
                                            "." + std::to_string(i));
      Store("alice@example.com", raw);
      keys.insert(Key("alice@example.com", raw));
    }
    // Both log in, then select at the same moment.
    testing::TempDir gate;
    BackgroundSession on_a, on_b;
    const Script script = {{"wait-file", gate.File("go"), "60"},
                           {"select", "INBOX"},
                           {"fetch-meta"}};
    on_a.Start(a.imap_port(), "alice", script);
    on_b.Start(b.imap_port(), "alice", script);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    testing::WriteFile(gate.File("go"), "");
    const Session sa = on_a.Finish(), sb = on_b.Finish();
    std::map<long long, std::string> guid_a, guid_b;
    for (const Fetched& m : Messages(sa[2])) guid_a[m.uid] = m.guid;
    for (const Fetched& m : Messages(sb[2])) guid_b[m.uid] = m.guid;
    EXPECT_EQ(guid_a.size(), keys.size()) << "round " << round;
    EXPECT_EQ(guid_a, guid_b) << "round " << round;
    std::set<std::string> seen;
    for (const auto& [uid, guid] : guid_a) seen.insert(guid);
    EXPECT_EQ(seen, keys) << "round " << round;
  }
  // The directory: one state per message, the UIDs the servers show.
  const Session last =
      Imap(a.imap_port(), "alice", {{"select", "INBOX"}, {"fetch-meta"}});
  std::set<std::string> uids;
  for (const TestEntry& e : InFolder("alice", "INBOX")) {
    const auto state = slapd_.Admin().Read("cn=state," + e.dn, {"mdaUid"});
    ASSERT_TRUE(state) << e.dn;
    EXPECT_TRUE(uids.insert(state->First("mdaUid")).second) << e.dn;
    const auto shown = ByGuid(Messages(last[1]));
    ASSERT_EQ(shown.count(e.First("mdaKey")), 1u);
    EXPECT_EQ(std::to_string(shown.at(e.First("mdaKey")).uid),
              state->First("mdaUid"));
  }
  EXPECT_EQ(uids.size(), keys.size());
}

}  // namespace
}  // namespace ldapmda
