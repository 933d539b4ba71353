// Unit tests: header extraction with GMime on tricky messages.
#include "ldapmda/message.h"

#include <glib.h>
#include <gtest/gtest.h>

namespace ldapmda {
namespace {

using namespace std::string_literals;

std::string Crlf(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

bool ValidDirectoryString(const std::optional<std::string>& v) {
  if (!v || v->empty()) return false;
  if (!g_utf8_validate(v->data(), static_cast<gssize>(v->size()), nullptr)) {
    return false;
  }
  for (const char ch : *v) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) return false;
  }
  return v->front() != ' ' && v->back() != ' ';
}

struct SubjectRow {
  std::string header;
  std::string want;
};

TEST(ParseMessageTest, EncodedWordsInSeveralCharsets) {
  const SubjectRow rows[] = {
      {"=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=", "Grüße aus Köln"},
      {"=?ISO-8859-1?Q?Caf=E9_cr=E8me?=", "Café crème"},
      {"=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=", "テスト"},
      {"=?KOI8-R?B?8NLJ18XU?=", "Привет"},
      {"=?EUC-KR?B?x9Gxub7u?=", "한국어"},
      {"=?windows-1252?Q?=93quoted=94?=", "“quoted”"},
      {"=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab"},  // adjacent words join
      {"plain =?utf-8?q?mixed?= text", "plain mixed text"},
      {"Gr\xc3\xbc\xc3\x9f"
       "e raw UTF-8",
       "Grüße raw UTF-8"},
      {"Caf\xe9 raw Latin-1", "Café raw Latin-1"},
      {"folded\n   subject\n\tline", "folded subject line"},
  };
  for (const auto& row : rows) {
    const MessageInfo info = ParseMessage(
        "From: a@example.com\nSubject: " + row.header + "\n\nbody\n");
    ASSERT_TRUE(info.subject) << row.header;
    EXPECT_EQ(*info.subject, row.want) << row.header;
  }
}

TEST(ParseMessageTest, InvalidUtf8IsRepairedNotDropped) {
  for (const std::string& subject :
       {"=?UTF-8?B?//5vaw==?="s, "bad \xff\xfe bytes"s,
        "=?x-unknown-charset?Q?abc?="s}) {
    const MessageInfo info = ParseMessage("Subject: " + subject + "\n\nb\n");
    EXPECT_TRUE(ValidDirectoryString(info.subject)) << subject;
  }
}

TEST(ParseMessageTest, AllFieldsFromACrlfMessage) {
  const std::string raw = Crlf(
      "Return-Path: <bounce@example.org>\n"
      "From: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.org>\n"
      "To: Alice <alice@example.com>, bob@example.com\n"
      "Cc: carol@example.com\n"
      "Subject: Hello\n"
      "Date: Tue, 01 Jul 2003 10:52:37 +0200\n"
      "Message-ID: <abc.123@example.org>\n"
      "MIME-Version: 1.0\n"
      "\n"
      "Body: not a header\n");
  const MessageInfo info = ParseMessage(raw);
  EXPECT_EQ(info.size, raw.size());
  EXPECT_EQ(info.message_id, "abc.123@example.org");
  EXPECT_EQ(info.subject, "Hello");
  ASSERT_TRUE(info.from);
  EXPECT_NE(info.from->find("Jörg"), std::string::npos);
  EXPECT_NE(info.from->find("joerg@example.org"), std::string::npos);
  ASSERT_TRUE(info.to);
  EXPECT_NE(info.to->find("alice@example.com"), std::string::npos);
  EXPECT_NE(info.to->find("bob@example.com"), std::string::npos);
  EXPECT_EQ(info.cc, "carol@example.com");
  EXPECT_EQ(info.date, "20030701085237Z");  // normalised to UTC
}

TEST(ParseMessageTest, BareLfAndCrlfGiveTheSameFields) {
  const std::string lf =
      "From: a@example.com\nSubject: same\nDate: Mon, 2 Jan 2006 15:04:05 "
      "-0700\nMessage-ID: <x@y>\n\nbody\n";
  const MessageInfo a = ParseMessage(lf);
  const MessageInfo b = ParseMessage(Crlf(lf));
  EXPECT_EQ(a.subject, b.subject);
  EXPECT_EQ(a.from, b.from);
  EXPECT_EQ(a.date, b.date);
  EXPECT_EQ(a.date, "20060102220405Z");
  EXPECT_EQ(a.message_id, b.message_id);
}

TEST(ParseMessageTest, MboxFromLineIsSkipped) {
  const MessageInfo info = ParseMessage(
      "From alice@example.com Mon Jan  2 15:04:05 2006\n"
      "Subject: after the From line\n\nbody\n");
  EXPECT_EQ(info.subject, "after the From line");
}

TEST(ParseMessageTest, MissingHeadersAreAbsent) {
  for (const std::string& raw :
       {""s, "\n\njust a body\n"s, "no colon here at all"s,
        "\x00\x01\x02 binary"s, "X-Only: one\n\nbody"s}) {
    const MessageInfo info = ParseMessage(raw);
    EXPECT_EQ(info.size, raw.size());
    EXPECT_FALSE(info.subject);
    EXPECT_FALSE(info.from);
    EXPECT_FALSE(info.to);
    EXPECT_FALSE(info.date);
    EXPECT_FALSE(info.message_id);
  }
}

TEST(ParseMessageTest, BadDateIsLeftOut) {
  for (const std::string& date :
       {"yesterday"s, "Mon, 32 Foo 2006 99:99:99 +9999"s, ""s}) {
    const MessageInfo info =
        ParseMessage("Subject: x\nDate: " + date + "\n\nbody\n");
    if (info.date) {
      // GMime may salvage something; then it must be valid syntax.
      EXPECT_EQ(info.date->size(), 15u) << date;
      EXPECT_EQ(info.date->back(), 'Z') << date;
    }
  }
  EXPECT_FALSE(ParseMessage("Subject: x\nDate: yesterday\n\nb").date);
}

TEST(ParseMessageTest, HugeAndHostileHeadersStayValid) {
  const MessageInfo info =
      ParseMessage("Subject: " + std::string(5000, 'x') + "\n" +
                   "From: \x01\x02<a@example.com>\n"
                   "To: \n"
                   "Message-ID: <nul\0in@id>\n\nbody"s);
  ASSERT_TRUE(info.subject);
  EXPECT_LE(info.subject->size(), kMaxHeaderValue);
  EXPECT_EQ(info.from, "<a@example.com>") << *info.from;
  EXPECT_FALSE(info.to);
  if (info.message_id) {
    EXPECT_TRUE(ValidDirectoryString(info.message_id));
  }
}

TEST(ParseMessageTest, BodyIsNotParsed) {
  // A header-looking line after the blank line must not become a header.
  const MessageInfo info =
      ParseMessage("From: a@example.com\n\nSubject: in the body\n");
  EXPECT_FALSE(info.subject);
}

TEST(SanitizeTextTest, Rules) {
  EXPECT_EQ(SanitizeText("  a \t b\r\n c  ", 100), "a b c");
  EXPECT_EQ(SanitizeText("nul\0byte"s, 100), "nul byte");
  EXPECT_EQ(SanitizeText("c1\xc2\x85"
                         "control",
                         100),
            "c1 control");
  EXPECT_FALSE(SanitizeText("", 100));
  EXPECT_FALSE(SanitizeText(" \t\r\n\x01 ", 100));
  EXPECT_EQ(SanitizeText("abcdef", 3), "abc");
  // Never cut inside a character: "é" is two bytes.
  EXPECT_EQ(SanitizeText("a\xc3\xa9", 2), "a");
  EXPECT_TRUE(ValidDirectoryString(SanitizeText("\xff\xfe\xfd", 100)));
}

TEST(GeneralizedTimeTest, Format) {
  EXPECT_EQ(GeneralizedTime(0), "19700101000000Z");
  EXPECT_EQ(GeneralizedTime(1057049557), "20030701085237Z");
  EXPECT_FALSE(GeneralizedTime(std::numeric_limits<std::time_t>::max()));
}

TEST(Sha256Test, KnownVectorsAndParts) {
  EXPECT_EQ(Sha256Hex({""}),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex({"abc"}),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex({"a", "b", "c"}), Sha256Hex({"abc"}));
}

// What pipe(8)'s flag D compares the recipient with: only headers of the
// header section, unfolded, trimmed, lower-cased.
TEST(DeliveredToAddressesTest, Table) {
  struct Row {
    const char* name;
    std::string raw;
    std::vector<std::string> want;
  };
  const Row rows[] = {
      {"none", "Subject: x\n\nbody\n", {}},
      {"several, any case, white space trimmed",
       "Received: a\nDelivered-To: Alice@Example.COM \n"
       "DELIVERED-TO:\tbob@example.com\nSubject: x\n\nb\n",
       {"alice@example.com", "bob@example.com"}},
      {"space before the colon", "Delivered-To : a@x\n\n", {"a@x"}},
      {"folded value", "Delivered-To:\n a@x\nSubject: y\n\n", {"a@x"}},
      {"CRLF line ends", "Delivered-To: a@x\r\n\r\n", {"a@x"}},
      {"in the body only", "Subject: x\n\nDelivered-To: a@x\n", {}},
      {"after a line that is no header",
       "Subject: x\nnot a header\nDelivered-To: a@x\n\n",
       {}},
      {"a continuation of another header",
       "Subject: x\n Delivered-To: a@x\n\n",
       {}},
      {"similar names", "X-Delivered-To: a@x\nDelivered-To-Not: b@x\n\n", {}},
      {"no empty line at all", "Delivered-To: a@x", {"a@x"}},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(DeliveredToAddresses(row.raw), row.want) << row.name;
  }
}

}  // namespace
}  // namespace ldapmda
