// Unit tests of ldapmbox's formats: the mboxrd writer and reader (with the
// no-final-newline marker), the Maildir++ folder name encoding and files,
// JSON escaping, dates and the server-side filter.
#include "ldapmbox/mbox.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/fake_directory.h"
#include "ldapmbox/listing.h"
#include "ldapmbox/maildir.h"
#include "ldapmbox/progress.h"
#include "ldapmda/mailbox_store.h"
#include "support/process.h"

namespace ldapmda {
namespace {

using namespace std::string_literals;

constexpr std::time_t kTime = 1795338187;  // Sun Nov 22 09:03:07 2026 UTC

// Messages that are hard for an mbox: From_ lines, quoting depth, line
// ends, NUL bytes, no final newline, empty.
std::vector<std::string> TrickyMessages() {
  return {
      "Subject: plain\n\nbody\n",
      "From someone@example.org Thu Jan  1 00:00:00 1970\nSubject: x\n\nhi\n",
      "Subject: inside\n\nFrom here on\n>From quoted\n>>From deeper\n"
      ">>>From deepest\n>not from\nFrom\nFrom:header-like\n",
      "Subject: no final newline\n\nlast line",
      "Subject: ends in From\n\nFrom the end",
      "Subject: crlf\r\n\r\nFrom crlf\r\nline\r\n",
      "Subject: crlf, no final newline\r\n\r\nline",
      "",
      "\n",
      "\n\n\n",
      "Subject: nul\n\na\0b\0\n"s,
      "Subject: trailing blank lines\n\nbody\n\n\n",
      "Subject: a lone CR at the end\n\nbody\r",
      "From ",
      ">From ",
  };
}

TEST(MboxTest, RoundTripIsByteExact) {
  std::string mbox;
  const auto messages = TrickyMessages();
  for (const auto& m : messages) {
    mbox += FormatMboxMessage("sender@example.org", kTime, m);
  }
  const auto parsed = ParseMbox(mbox);
  ASSERT_EQ(parsed.size(), messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ(parsed[i].Raw(), messages[i]) << "message " << i;
    EXPECT_EQ(parsed[i].sender, "sender@example.org");
    EXPECT_EQ(parsed[i].time, kTime);
  }
}

TEST(MboxTest, QuotesEveryFromLineOneLevelDeeper) {
  EXPECT_EQ(MboxQuote("From a\n>From b\n>>From c\nFrom\n x From d\n"),
            ">From a\n>>From b\n>>>From c\nFrom\n x From d\n");
  EXPECT_EQ(MboxUnquote(">From a\n>>From b\n>>>From c\n>x\n"),
            "From a\n>From b\n>>From c\n>x\n");
  EXPECT_EQ(MboxQuote("From no newline"), ">From no newline");
}

TEST(MboxTest, MarksOnlyMessagesWithoutAFinalNewline) {
  const std::string with = FormatMboxMessage("", kTime, "a\n");
  EXPECT_EQ(with, "From MAILER-DAEMON Sun Nov 22 09:03:07 2026\na\n\n");
  const std::string without = FormatMboxMessage("<>", kTime, "a");
  EXPECT_EQ(without, "From MAILER-DAEMON Sun Nov 22 09:03:07 2026 "s +
                         kNoFinalNewline + "\na\n\n");
  EXPECT_EQ(FormatMboxMessage("x@y", kTime, ""),
            "From x@y Sun Nov 22 09:03:07 2026\n\n");
  // The null sender reads back as "".
  EXPECT_EQ(ParseMbox(without).front().sender, "");
}

TEST(MboxTest, AscTime) {
  EXPECT_EQ(AscTime(0), "Thu Jan  1 00:00:00 1970");
  EXPECT_EQ(AscTime(kTime), "Sun Nov 22 09:03:07 2026");
  EXPECT_EQ(ParseAscTime("Sun Nov 22 09:03:07 2026"), kTime);
  EXPECT_EQ(ParseAscTime("Thu Jan  1 00:00:00 1970"), 0);
  EXPECT_FALSE(ParseAscTime("Thu Jan 1 00:00:00 1970"));
  EXPECT_FALSE(ParseAscTime("Thu Foo  1 00:00:00 1970"));
  EXPECT_FALSE(ParseAscTime("Thu Jan  1 25:00:00 1970"));
}

TEST(MboxTest, ParsesFromLinesOfOtherWriters) {
  FromLine f = ParseFromLine("a@b Thu Nov  5 09:03:07 2026 +0100");
  EXPECT_EQ(f.sender, "a@b");
  EXPECT_TRUE(f.time.has_value());
  f = ParseFromLine("\"a b\"@c Sun Nov 22 09:03:07 2026");
  EXPECT_EQ(f.sender, "\"a b\"@c");
  EXPECT_EQ(f.time, kTime);
  f = ParseFromLine("<x@y> whenever\r\n");
  EXPECT_EQ(f.sender, "x@y");
  EXPECT_FALSE(f.time.has_value());
  f = ParseFromLine("mailer-daemon Sun Nov 22 09:03:07 2026 "s +
                    kNoFinalNewline);
  EXPECT_EQ(f.sender, "");
  EXPECT_TRUE(f.no_final_newline);
}

TEST(MboxTest, ReadsAnMboxWithCrlfSeparators) {
  const auto parsed = ParseMbox(
      "From a@b Sun Nov 22 09:03:07 2026\r\nX: 1\r\n\r\nbody\r\n\r\n"
      "From a@b Sun Nov 22 09:03:07 2026\r\nX: 2\r\n\r\n");
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[0].Raw(), "X: 1\r\n\r\nbody\r\n");
  EXPECT_EQ(parsed[1].Raw(), "X: 2\r\n");
}

TEST(MboxTest, EmptyInputHasNoMessages) { EXPECT_TRUE(ParseMbox("").empty()); }

TEST(MboxTest, RejectsGarbageBeforeTheFirstFromLine) {
  try {
    ParseMbox("Subject: not an mbox\n\nFrom a Sun Nov 22 09:03:07 2026\n\n");
    FAIL() << "no error";
  } catch (const MboxError& e) {
    EXPECT_NE(std::string(e.what()).find("line 1"), std::string::npos)
        << e.what();
  }
}

TEST(MboxTest, RejectsATruncatedFile) {
  std::string mbox;
  for (const auto& m : TrickyMessages()) {
    mbox += FormatMboxMessage("s@example.org", kTime, m);
  }
  // Cut anywhere inside the last message but after its From_ line.
  const std::size_t last = mbox.rfind("From s@example.org");
  for (std::size_t cut = mbox.find('\n', last) + 1; cut + 1 < mbox.size();
       ++cut) {
    EXPECT_THROW(ParseMbox(std::string_view(mbox).substr(0, cut)), MboxError)
        << "cut at " << cut;
  }
  EXPECT_THROW(ParseMbox("From a Sun Nov 22 09:03:07 2026"), MboxError);
  EXPECT_THROW(ParseMbox("From a Sun Nov 22 09:03:07 2026\nX: y\n"), MboxError);
  // A marked message must have the newline that was added.
  EXPECT_THROW(
      ParseMbox("From a Sun Nov 22 09:03:07 2026 "s + kNoFinalNewline + "\n\n"),
      MboxError);
}

TEST(MaildirTest, FolderNamesRoundTrip) {
  for (const std::string folder :
       {"lists",   "Sent Items", "a.b",       "été",  "&",
        "a&b-c",   "/",          "a/b",       ".",    "..",
        "...",     ".hidden",    "trailing.", "a..b", "日本語",
        "emoji 🎉", "~user",      "x=1,y=2",   "+-",   "&AOk-"}) {
    const std::string encoded = EncodeMaildirFolder(folder);
    EXPECT_EQ(DecodeMaildirFolder(encoded), folder) << encoded;
    EXPECT_EQ(encoded.find('/'), std::string::npos) << folder;
    const std::string dir = "." + encoded;
    EXPECT_NE(dir, "..");
    EXPECT_EQ(dir.find(".."), std::string::npos) << dir;
    for (char c : encoded) {
      EXPECT_TRUE(c >= 0x20 && c < 0x7F) << folder << " -> " << encoded;
    }
  }
}

TEST(MaildirTest, FolderNamesUseImapModifiedUtf7) {
  // RFC 3501 5.1.3's example (with '/' shifted), and Courier's forms.
  EXPECT_EQ(EncodeMaildirFolder("~peter/mail/台北/日本語"),
            "~peter&AC8-mail&AC9T8FMXAC9l5Wcsip4-");
  EXPECT_EQ(EncodeMaildirFolder("été"), "&AOk-t&AOk-");
  EXPECT_EQ(EncodeMaildirFolder("a&b"), "a&-b");
  EXPECT_EQ(EncodeMaildirFolder("Work.Projects"), "Work.Projects");
  EXPECT_EQ(DecodeMaildirFolder("&ZeVnLIqe-"), "日本語");
  EXPECT_EQ(DecodeMaildirFolder("raw-utf8-été"), "raw-utf8-été");
  EXPECT_FALSE(DecodeMaildirFolder("&broken"));
  EXPECT_FALSE(DecodeMaildirFolder("&2D3-"));  // a lone surrogate
}

TEST(MaildirTest, WritesOncePerKeyAndScansBack) {
  testing::TempDir dir;
  const std::string root = dir.File("Maildir");
  const std::string key(64, 'a'), other(64, 'b');
  {
    MaildirWriter w(root);
    EXPECT_TRUE(w.Write(kInbox, key, kTime, "one\n"));
    EXPECT_FALSE(w.Write(kInbox, key, kTime, "one\n"));
    EXPECT_TRUE(w.Write("été", other, kTime + 1, "two"));
  }
  MaildirWriter again(root);  // a second export finds the files
  EXPECT_TRUE(again.Has(kInbox, key));
  EXPECT_FALSE(again.Write("été", other, kTime, "two"));
  EXPECT_TRUE(std::filesystem::exists(root + "/.&AOk-t&AOk-/maildirfolder"));
  EXPECT_TRUE(std::filesystem::is_directory(root + "/.&AOk-t&AOk-/tmp"));
  const auto files = ScanMaildir(root);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].folder, kInbox);
  EXPECT_EQ(files[0].key_hint, key);
  EXPECT_EQ(files[0].time, kTime);
  EXPECT_EQ(testing::ReadFile(files[0].path), "one\n");
  EXPECT_EQ(files[0].path, root + "/cur/" + std::to_string(kTime) + "." + key +
                               ".ldapmbox:2,S");
  EXPECT_EQ(files[1].folder, "été");
  EXPECT_EQ(testing::ReadFile(files[1].path), "two");
  EXPECT_THROW(ScanMaildir(dir.File("nothing")), MaildirError);
}

TEST(MaildirTest, KeyInFileName) {
  const std::string key(64, 'c');
  EXPECT_EQ(KeyInFileName("1." + key + ".host:2,S"), key);
  EXPECT_EQ(KeyInFileName("1." + key + ":2,RS"), key);
  EXPECT_EQ(KeyInFileName("1234.M5P6.host:2,S"), "");
  EXPECT_EQ(KeyInFileName("1." + std::string(64, 'C') + ".h"), "");
}

TEST(ListingTest, JsonStringEscapesControlsAndKeepsUtf8) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("q\"b\\s/"), "\"q\\\"b\\\\s/\"");
  EXPECT_EQ(JsonString("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
  EXPECT_EQ(JsonString("\x01\x1f\x7f"s), "\"\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(JsonString("a\0b"s), "\"a\\u0000b\"");
  EXPECT_EQ(JsonString("été 日本 🎉"), "\"été 日本 🎉\"");
  // Invalid UTF-8: stray continuation, overlong, surrogate, truncated.
  EXPECT_EQ(JsonString("\x80"), "\"\\ufffd\"");
  EXPECT_EQ(JsonString("\xc0\xaf"), "\"\\ufffd\\ufffd\"");
  EXPECT_EQ(JsonString("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
  EXPECT_EQ(JsonString("x\xe6\x97"), "\"x\\ufffd\\ufffd\"");
}

TEST(ListingTest, Dates) {
  EXPECT_EQ(ShortDate("20261122090307Z"), "2026-11-22 09:03");
  EXPECT_EQ(IsoDate("20261122090307Z"), "2026-11-22T09:03:07Z");
  EXPECT_EQ(ShortDate(""), "-");
  EXPECT_EQ(IsoDate("garbage"), "");
  EXPECT_EQ(ParseDay("1970-01-02"), 86400);
  EXPECT_FALSE(ParseDay("2026-02-30"));
  EXPECT_FALSE(ParseDay("2026-1-01"));
  EXPECT_EQ(ParseGeneralizedTime("20261122090307Z"), kTime);
}

TEST(ListingTest, SortsStablyWithTieBreaks) {
  std::vector<StoredMessage> m(3);
  m[0].key = "k0", m[0].date = "20260102000000Z", m[0].size = 5;
  m[1].key = "k1", m[1].delivered = "20260101000000Z", m[1].size = 5;
  m[2].key = "k2", m[2].date = "20250101000000Z", m[2].size = 1;
  m[0].subject = "b", m[1].subject = "A", m[2].subject = "c";
  const auto keys = [&] {
    std::string s;
    for (const auto& x : m) s += x.key;
    return s;
  };
  SortMessages(&m, SortKey::kDate, false);
  EXPECT_EQ(keys(), "k2k1k0");
  SortMessages(&m, SortKey::kSize, true);
  EXPECT_EQ(keys(), "k0k1k2");
  SortMessages(&m, SortKey::kSubject, false);
  EXPECT_EQ(keys(), "k1k0k2");
}

TEST(MailboxStoreTest, FilterEscapesEveryValue) {
  MessageFilter f;
  f.folder = "a)(b";
  f.from = "*)(objectClass=*";
  f.subject = "\\";
  EXPECT_EQ(MessageFilterString(f),
            "(&(objectClass=mdaMessage)(mdaFolder=a\\29\\28b)"
            "(mdaFrom=*\\2a\\29\\28objectClass=\\2a*)(mdaSubject=*\\5c*))");
  MessageFilter d;
  d.delivered_before = "20260101000000Z";
  EXPECT_EQ(MessageFilterString(d),
            "(&(objectClass=mdaMessage)(mdaDeliveredAt=*)"
            "(!(mdaDeliveredAt>=20260101000000Z)))");
}

TEST(MailboxStoreTest, ReadRawManyAnswersEachKeyInPlace) {
  testing::FakeDirectory directory;
  Config config;
  config.search_base = "dc=x";
  const Deadline deadline(std::chrono::seconds(10));
  MailboxStore store(config, directory, deadline);
  ASSERT_TRUE(store.Open("alice@example.com").ok());
  const auto key = [](const std::string& k) {
    return "(&(objectClass=mdaMessage)(mdaKey=" + k + "))";
  };
  directory.by_filter[key("k1")] = {
      {"mdaKey=k1,x", {{"mdaRawMessage", {"one"}}}}};
  directory.by_filter[key("k3")] = {
      {"mdaKey=k3,x", {{"mdaRawMessage", {"three"}}}}};
  directory.searches.clear();
  std::vector<std::optional<std::string>> raws;
  ASSERT_TRUE(store.ReadRawMany({"k1", "k2", "k3"}, &raws).ok());
  EXPECT_EQ(raws, (std::vector<std::optional<std::string>>{"one", std::nullopt,
                                                           "three"}));
  // One unpaged search per key, below the mailbox, for the raw bytes only.
  ASSERT_EQ(directory.searches.size(), 3u);
  EXPECT_EQ(directory.searches[1].filter, key("k2"));
  EXPECT_EQ(directory.searches[1].page_size, 0);
  EXPECT_EQ(directory.searches[1].attributes,
            std::vector<std::string>{"mdaRawMessage"});
  EXPECT_EQ(directory.searches[1].base, store.mailbox_dn());
  // A failing read fails them all; no keys, no searches.
  directory.search_code = LDAP_BUSY;
  EXPECT_FALSE(store.ReadRawMany({"k1"}, &raws).ok());
  directory.searches.clear();
  EXPECT_TRUE(store.ReadRawMany({}, &raws).ok());
  EXPECT_TRUE(raws.empty());
  EXPECT_TRUE(directory.searches.empty());
}

TEST(ProgressTest, DrawsOnATerminalOnly) {
  const int master = posix_openpt(O_RDWR | O_NOCTTY);
  ASSERT_GE(master, 0);
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  const int tty = open(ptsname(master), O_RDWR | O_NOCTTY);
  ASSERT_GE(tty, 0);
  {
    Progress progress("exporting", 4, tty);
    for (int i = 0; i < 4; ++i) progress.Step();
  }
  close(tty);
  std::string drawn;
  char buf[4096];
  for (ssize_t n; (n = read(master, buf, sizeof buf)) > 0;) {
    drawn.append(buf, static_cast<std::size_t>(n));
  }
  close(master);
  EXPECT_NE(drawn.find("\rexporting [" + std::string(30, '.') + "] 0/4   0%"),
            std::string::npos)
      << drawn;
  EXPECT_NE(drawn.find("] 4/4 100%"), std::string::npos) << drawn;

  testing::TempDir dir;  // a file is no terminal: nothing is drawn
  const std::string path = dir.File("err");
  const int file = open(path.c_str(), O_WRONLY | O_CREAT, 0600);
  {
    Progress progress("exporting", 4, file);
    progress.Step(4);
  }
  close(file);
  EXPECT_EQ(testing::ReadFile(path), "");
}

}  // namespace
}  // namespace ldapmda
