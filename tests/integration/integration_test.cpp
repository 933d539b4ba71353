// Integration tests: the real ldapmda binary against a real slapd started
// on 127.0.0.1 for each test, exactly as Postfix's pipe(8) would run it.
#include <gtest/gtest.h>
#include <ldap.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "ldapmda/message.h"
#include "support/ldap_client.h"
#include "support/mda_fixture.h"
#include "support/process.h"
#include "support/slapd_server.h"

namespace ldapmda {
namespace {

using testing::LdapClient;
using testing::ProcessResult;
using testing::RunProcess;
using testing::SlapdOptions;
using testing::SlapdServer;
using testing::TempDir;
using testing::TestEntry;
using testing::WriteFile;

const std::string kMessage =
    "From: Sender <sender@example.org>\n"
    "To: alice@example.com\n"
    "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\n"
    "Date: Tue, 01 Jul 2003 10:52:37 +0200\n"
    "Message-ID: <m1@example.org>\n"
    "\n"
    "Hello.\n";

using IntegrationTest = testing::MdaTest;
using testing::StoredDn;

TEST_F(IntegrationTest, StoresOneMessageWithAllAttributes) {
  SlapdServer server;
  const ProcessResult r =
      Deliver(Config(server), "alice@example.com", kMessage);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string dn = StoredDn(r.out);
  ASSERT_FALSE(dn.empty()) << r.out;
  EXPECT_EQ(dn, "mdaKey=" + Sha256Hex({"alice@example.com\n", kMessage}) +
                    ",mdaFolder=INBOX," + Mailbox(server, "alice"));

  const auto entry = server.Admin().Read(dn);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->First("mdaRawMessage"), kMessage);
  EXPECT_EQ(entry->First("mdaSize"), std::to_string(kMessage.size()));
  EXPECT_EQ(entry->First("mdaSubject"), "Grüße");
  EXPECT_EQ(entry->First("mdaFrom"), "Sender <sender@example.org>");
  EXPECT_EQ(entry->First("mdaTo"), "alice@example.com");
  EXPECT_EQ(entry->First("mdaMessageId"), "m1@example.org");
  EXPECT_EQ(entry->First("mdaDate"), "20030701085237Z");
  EXPECT_EQ(entry->First("mdaDeliveredAt").size(), 15u);
  EXPECT_EQ(entry->First("mdaEnvelopeSender"), "sender@example.org");
  EXPECT_EQ(entry->First("mdaEnvelopeRecipient"), "alice@example.com");
  EXPECT_EQ(entry->First("mdaOriginalRecipient"), "alice@example.com");
  EXPECT_EQ(entry->First("mdaQueueId"), "4QID123");
  EXPECT_EQ(entry->First("mdaFolder"), "INBOX");

  const auto box = server.Admin().Read(Mailbox(server, "alice"));
  ASSERT_TRUE(box);
  EXPECT_EQ(box->Values("objectClass"), std::vector<std::string>{"mdaMailbox"});
  // Searches administrators run work with the schema's matching rules.
  EXPECT_EQ(server.Admin()
                .Search(server.suffix(), LDAP_SCOPE_SUBTREE,
                        "(&(mdaSubject=*GRÜ*)(mdaSize>=10)"
                        "(mdaDate<=20030702000000Z))")
                .size(),
            1u);
}

TEST_F(IntegrationTest, PublicCorpusIsStoredByteExact) {
  SlapdServer server;
  const std::string conf = Config(server);
  std::ifstream manifest(LDAPMDA_CORPUS_DIR "/MANIFEST.tsv");
  ASSERT_TRUE(manifest) << "corpus missing at " << LDAPMDA_CORPUS_DIR;
  std::string line;
  std::getline(manifest, line);                   // header
  std::map<std::string, std::string> sha_by_key;  // mdaKey -> SHA-256
  int files = 0;
  while (std::getline(manifest, line)) {
    std::istringstream cols(line);
    std::string path, size, sha;
    std::getline(cols, path, '\t');
    std::getline(cols, size, '\t');
    std::getline(cols, sha, '\t');
    const std::string raw =
        testing::ReadFile(std::string(LDAPMDA_CORPUS_DIR) + "/" + path);
    ASSERT_EQ(Sha256Hex({raw}), sha) << path << ": corpus file damaged";
    const ProcessResult r = Deliver(conf, "alice@example.com", raw);
    ASSERT_EQ(r.exit_code, 0) << path << ": " << r.out << r.err;
    ASSERT_FALSE(StoredDn(r.out).empty() &&
                 r.out.rfind("already stored as ", 0) != 0)
        << path << ": " << r.out;
    sha_by_key[Sha256Hex({"alice@example.com\n", raw})] = sha;
    ++files;
  }
  EXPECT_EQ(files, 299);

  const auto stored = Stored(server, Mailbox(server, "alice"));
  ASSERT_EQ(stored.size(), sha_by_key.size());
  for (const auto& e : stored) {
    const std::string key = e.First("mdaKey");
    ASSERT_EQ(sha_by_key.count(key), 1u) << e.dn;
    const std::string& raw = e.First("mdaRawMessage");
    EXPECT_EQ(Sha256Hex({raw}), sha_by_key[key]) << e.dn;
    EXPECT_EQ(e.First("mdaSize"), std::to_string(raw.size())) << e.dn;
  }
}

TEST_F(IntegrationTest, RetryOfTheSameInputStoresNothingNew) {
  SlapdServer server;
  const std::string conf = Config(server);
  const ProcessResult first = Deliver(conf, "alice@example.com", kMessage);
  ASSERT_EQ(first.exit_code, 0) << first.out;
  const ProcessResult again = Deliver(conf, "alice@example.com", kMessage);
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_EQ(again.out, "already " + first.out);
  // Recipient case does not matter for the key either.
  const ProcessResult upper = Deliver(conf, "ALICE@example.com", kMessage);
  EXPECT_EQ(upper.exit_code, 0);
  EXPECT_EQ(Stored(server).size(), 1u);
}

TEST_F(IntegrationTest, UnknownRecipientBounces511) {
  SlapdServer server;
  // Default log target: syslog. Then stdout holds exactly one line and
  // stderr nothing, as Postfix needs.
  const std::string conf = Config(server);
  const ProcessResult r = Deliver(conf, "nobody@example.com", kMessage);
  EXPECT_EQ(r.exit_code, 67);
  EXPECT_EQ(r.out, "5.1.1 <nobody@example.com>: no such user here\n");
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(Stored(server).empty());
}

TEST_F(IntegrationTest, FilterMetacharactersReachNoMailbox) {
  SlapdServer server;
  const std::string conf = Config(server);
  for (const std::string& rcpt : std::vector<std::string>{
           "*", "*@example.com", "alice@example.com)(mail=*", "*)(|(mail=*",
           "al*ce@example.com", "\\2a@example.com", "alice@example.com\\00",
           "(mail=alice@example.com)", "*)(objectClass=*"}) {
    const ProcessResult r = Deliver(conf, rcpt, kMessage);
    EXPECT_EQ(r.exit_code, 67) << rcpt << ": " << r.out;
    EXPECT_EQ(r.out.rfind("5.1.1 ", 0), 0u) << rcpt << ": " << r.out;
  }
  EXPECT_TRUE(Stored(server).empty());
}

TEST_F(IntegrationTest, InvalidAddressBounces513) {
  SlapdServer server;
  const ProcessResult r = Deliver(Config(server), "alice@", kMessage);
  EXPECT_EQ(r.exit_code, 67);
  EXPECT_EQ(r.out.rfind("5.1.3 <alice@>: ", 0), 0u) << r.out;
}

TEST_F(IntegrationTest, TwoEntriesForOneAddressDefer435) {
  SlapdServer server;
  const ProcessResult r = Deliver(Config(server), "dup@example.com", kMessage);
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_EQ(r.out.rfind("4.3.5 <dup@example.com>: ", 0), 0u) << r.out;
  EXPECT_TRUE(Stored(server).empty());
}

TEST_F(IntegrationTest, SeveralRecipientsEachDeliveredOnTheirOwn) {
  SlapdServer server;
  const std::string conf = Config(server, "log = stderr\n");
  ProcessResult r =
      RunProcess({LDAPMDA_BINARY, "-c", conf, "-q", "Q1", "-d",
                  "alice@example.com", "nobody@example.com", "bob@example.com"},
                 kMessage);
  EXPECT_EQ(r.exit_code, 67) << r.out;
  EXPECT_EQ(r.out, "5.1.1 <nobody@example.com>: no such user here\n");
  EXPECT_EQ(Stored(server).size(), 2u);
  // One log line per recipient.
  for (const char* rcpt : {"alice", "nobody", "bob"}) {
    EXPECT_NE(r.err.find("Q1: to=<" + std::string(rcpt) + "@example.com>"),
              std::string::npos)
        << r.err;
  }
  EXPECT_NE(r.err.find("dsn=2.0.0, status=sent (stored as mdaKey="),
            std::string::npos);
  EXPECT_NE(r.err.find("dsn=5.1.1, status=bounced"), std::string::npos);

  // A deferral anywhere defers the run; the stored one deduplicates later.
  r = RunProcess({LDAPMDA_BINARY, "-c", conf, "-d", "carol@example.com",
                  "dup@example.com"},
                 kMessage);
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_EQ(r.out.rfind("4.3.5 <dup@example.com>: ", 0), 0u) << r.out;
  EXPECT_EQ(Stored(server, Mailbox(server, "carol")).size(), 1u);
}

TEST_F(IntegrationTest, NullSenderIsStoredAsAngleBrackets) {
  SlapdServer server;
  const std::string conf = Config(server);
  for (const std::string& sender :
       std::vector<std::string>{"", "MAILER-DAEMON"}) {
    const std::string msg = kMessage + sender;  // a distinct message each
    const ProcessResult r = RunProcess(
        {LDAPMDA_BINARY, "-c", conf, "-f", sender, "-d", "bob@example.com"},
        msg);
    ASSERT_EQ(r.exit_code, 0) << r.out;
    const auto e = server.Admin().Read(StoredDn(r.out));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->First("mdaEnvelopeSender"), "<>");
    EXPECT_FALSE(e->Has("mdaQueueId"));
  }
}

TEST_F(IntegrationTest, DirectoryRefusingConnectionsDefers443) {
  SlapdServer server;
  const std::string conf = Config(server);
  const ProcessResult r =
      Deliver(conf, "alice@example.com", kMessage,
              {"-o", "server_host=ldap://127.0.0.1:" +
                         std::to_string(testing::FreeTcpPort())});
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_EQ(r.out.rfind("4.4.3 <alice@example.com>: ", 0), 0u) << r.out;
}

TEST_F(IntegrationTest, HungDirectoryDefersWithinTheDeadline) {
  SlapdServer server;
  const std::string conf = Config(server);
  server.Pause();
  // The per-operation timeout gives up first: the directory is at fault.
  ProcessResult r = Deliver(conf, "alice@example.com", kMessage,
                            {"-o", "timeout=1", "-o", "deadline=10"});
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_EQ(r.out.rfind("4.4.3 <alice@example.com>: ", 0), 0u) << r.out;
  EXPECT_LT(r.seconds, 10.0);
  // The deadline is shorter than the timeout: the deadline wins.
  r = Deliver(conf, "alice@example.com", kMessage,
              {"-o", "timeout=30", "-o", "deadline=2"});
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_EQ(r.out.rfind("4.3.0 ", 0), 0u) << r.out;
  EXPECT_LT(r.seconds, 2.0 + 1.5);
  server.Resume();
  EXPECT_TRUE(Stored(server).empty());
}

TEST_F(IntegrationTest, StalledInputHitsTheDeadlineBackstop) {
  // Nothing but the deadline bounds a read from a writer that never
  // finishes: the SIGALRM backstop must defer, within the deadline.
  SlapdServer server;
  // A FIFO opened read-write as stdin: the reader itself holds a writer,
  // so end-of-file never comes.
  const std::string fifo = dir_.File("stdin.fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string cmd = "exec " + std::string(LDAPMDA_BINARY) + " -c " +
                          Config(server) +
                          " -o deadline=1 -d alice@example.com 0<>" + fifo;
  const ProcessResult r = RunProcess({"/bin/sh", "-c", cmd}, "");
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_EQ(r.out, "4.3.0 deadline of 1.000 seconds exceeded\n");
  EXPECT_LT(r.seconds, 1.0 + 1.5);
  EXPECT_TRUE(Stored(server).empty());
}

TEST_F(IntegrationTest, WrongPasswordDefers435) {
  SlapdServer server;
  const ProcessResult r = Deliver(Config(server, "", "wrong-password"),
                                  "alice@example.com", kMessage);
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_EQ(r.out.rfind("4.3.5 <alice@example.com>: ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("Invalid credentials"), std::string::npos) << r.out;
}

TEST_F(IntegrationTest, PasswordFileReadableByOthersDefers435) {
  SlapdServer server;
  const std::string conf = Config(server);
  chmod(dir_.File("bind.pw").c_str(), 0644);
  const ProcessResult r = Deliver(conf, "alice@example.com", kMessage);
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_EQ(r.out.rfind("4.3.5 <alice@example.com>: configuration: "
                        "bind_pw_file ",
                        0),
            0u)
      << r.out;
  EXPECT_NE(r.out.find("has mode 0644: others may read or change it"),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(Stored(server).empty());
}

TEST_F(IntegrationTest, SchemaNotLoadedDefers435) {
  SlapdOptions options;
  options.load_ldapmda_schema = false;
  SlapdServer server(options);
  const ProcessResult r =
      Deliver(Config(server), "alice@example.com", kMessage);
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_EQ(r.out.rfind("4.3.5 <alice@example.com>: ", 0), 0u) << r.out;
}

TEST_F(IntegrationTest, MissingSearchBaseDefers435) {
  SlapdServer server;
  const ProcessResult r =
      Deliver(Config(server), "alice@example.com", kMessage,
              {"-o", "search_base=ou=nowhere,dc=example,dc=com"});
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_EQ(r.out.rfind("4.3.5 <alice@example.com>: ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("No such object"), std::string::npos) << r.out;
}

TEST_F(IntegrationTest, BrokenConfigurationAndArgvDefer435) {
  SlapdServer server;
  const std::string conf = Config(server, "colour = blue\n");
  ProcessResult r = Deliver(conf, "alice@example.com", kMessage);
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_EQ(r.out, "4.3.5 <alice@example.com>: configuration: " + conf +
                       ":8: unknown key \"colour\"\n");
  r = RunProcess({LDAPMDA_BINARY, "-c", conf, "--no-such-option", "-d",
                  "alice@example.com"},
                 kMessage);
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_EQ(r.out.rfind("4.3.5 ", 0), 0u) << r.out;
  r = RunProcess({LDAPMDA_BINARY, "-c", conf}, kMessage);
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_EQ(r.out.rfind("4.3.5 ", 0), 0u) << r.out;
  r = Deliver(dir_.File("missing.conf"), "alice@example.com", kMessage);
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_EQ(r.out.rfind("4.3.5 ", 0), 0u) << r.out;
  EXPECT_TRUE(Stored(server).empty());
}

TEST_F(IntegrationTest, HelpAndVersion) {
  ProcessResult r = RunProcess({LDAPMDA_BINARY, "--help"}, "");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("usage: ldapmda"), std::string::npos);
  r = RunProcess({LDAPMDA_BINARY, "--version"}, "");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("ldapmda ", 0), 0u);
}

TEST_F(IntegrationTest, FailsOverPastADeadFirstServer) {
  SlapdServer server;
  const std::string dead =
      "ldap://127.0.0.1:" + std::to_string(testing::FreeTcpPort());
  const ProcessResult r =
      Deliver(Config(server), "alice@example.com", kMessage,
              {"-o", "server_host=" + dead + " " + server.uri()});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Stored(server).size(), 1u);
}

TEST_F(IntegrationTest, FailsOverPastAHungFirstServer) {
  SlapdServer hung;
  SlapdServer alive;
  hung.Pause();
  const ProcessResult r =
      Deliver(Config(alive), "alice@example.com", kMessage,
              {"-o", "server_host=" + hung.uri() + " " + alive.uri(), "-o",
               "timeout=1", "-o", "deadline=20"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Stored(alive).size(), 1u);
  hung.Resume();
  EXPECT_TRUE(Stored(hung).empty());
}

TEST_F(IntegrationTest, SeparateStoreHostTakesTheWrites) {
  SlapdServer server;
  const ProcessResult r =
      Deliver(Config(server), "alice@example.com", kMessage,
              {"-o",
               "server_host=ldap://127.0.0.1:" +
                   std::to_string(testing::FreeTcpPort()) + " " + server.uri(),
               "-o", "store_host=" + server.uri()});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Stored(server).size(), 1u);
}

TEST_F(IntegrationTest, LargerThanMaxMessageSizeBounces523) {
  SlapdServer server;
  const ProcessResult r =
      Deliver(Config(server), "alice@example.com", std::string(2000, 'x'),
              {"-o", "max_message_size=1000"});
  EXPECT_EQ(r.exit_code, 69);
  EXPECT_EQ(r.out.rfind("5.2.3 <alice@example.com>: ", 0), 0u) << r.out;
  EXPECT_TRUE(Stored(server).empty());
}

TEST_F(IntegrationTest, LargerThanTheServerAcceptsGetsAClearVerdict) {
  const std::string big = "Subject: big\n\n" + std::string(2 << 20, 'x');
  {
    // maxentrysize: the server answers adminLimitExceeded, a final 5.2.3.
    SlapdOptions options;
    options.maxentrysize = 1 << 20;
    SlapdServer server(options);
    const ProcessResult r = Deliver(Config(server), "alice@example.com", big);
    EXPECT_EQ(r.exit_code, 69) << r.out;
    EXPECT_EQ(r.out.rfind("5.2.3 <alice@example.com>: ", 0), 0u) << r.out;
  }
  {
    // sockbuf_max_incoming_auth: slapd drops the connection. ldapmda must
    // not die of SIGPIPE (exit 141 bounces); it defers.
    SlapdOptions options;
    options.maxentrysize = 0;
    options.sockbuf_max_incoming_auth = 1 << 20;
    SlapdServer server(options);
    const ProcessResult r = Deliver(Config(server), "alice@example.com", big);
    EXPECT_EQ(r.signal, 0);
    EXPECT_EQ(r.exit_code, 75) << r.out;
    EXPECT_EQ(r.out.rfind("4.", 0), 0u) << r.out;
  }
}

TEST_F(IntegrationTest, EightMegabyteMessageIsStoredByteExact) {
  SlapdServer server;
  std::string big = "Subject: eight megabytes\r\n\r\n";
  big.reserve(8 << 20);
  for (unsigned i = 0; big.size() < (8u << 20); ++i) {
    big += static_cast<char>((i * 2654435761u) >> 24);  // every byte value
  }
  const ProcessResult r = Deliver(Config(server), "alice@example.com", big);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto e = server.Admin().Read(StoredDn(r.out));
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->First("mdaRawMessage") == big);
  EXPECT_EQ(e->First("mdaSubject"), "eight megabytes");
}

TEST_F(IntegrationTest, SaslExternalOverLdapi) {
  SlapdServer server;
  const std::string conf = dir_.File("sasl.conf");
  WriteFile(conf, "server_host = " + server.ldapi_uri() +
                      "\nsearch_base = " + server.people_dn() +
                      "\nbind = sasl\nsasl_mech = EXTERNAL\n");
  const ProcessResult r = Deliver(conf, "bob@example.com", kMessage);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Stored(server, Mailbox(server, "bob")).size(), 1u);
}

TEST_F(IntegrationTest, BinaryAndLineEndingsAreKept) {
  SlapdServer server;
  const std::string conf = Config(server);
  using namespace std::string_literals;
  for (const std::string& raw :
       {"Subject: mixed\r\n\nbare LF\nCRLF\r\nCR only\r"s,
        "Subject: nul\n\n\0\0\0binary\xff\xfe"s,
        "no headers at all, no newline"s, ""s,
        "From mbox Mon Jan  2 15:04:05 2006\nSubject: mbox\n\nx\n"s}) {
    const ProcessResult r = Deliver(conf, "carol@example.com", raw);
    ASSERT_EQ(r.exit_code, 0) << r.out;
    const auto e = server.Admin().Read(StoredDn(r.out));
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->First("mdaRawMessage") == raw);
  }
}

}  // namespace
}  // namespace ldapmda
