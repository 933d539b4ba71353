// Unit tests: filter and DN escaping, addresses, template expansion.
#include "ldapmda/escape.h"

#include <gtest/gtest.h>

#include "addr.h"
#include "ldapmda/ldap_syntax.h"
#include "ldapmda/text.h"

namespace ldapmda {
namespace {

using namespace std::string_literals;
using testing::Addr;

struct EscapeRow {
  std::string in;
  std::string filter;
  std::string dn;
};

TEST(EscapeTest, FilterAndDnTable) {
  const EscapeRow rows[] = {
      {"alice", "alice", "alice"},
      {"*", "\\2a", "*"},
      {"a*)(uid=*", "a\\2a\\29\\28uid=\\2a", "a*)(uid\\=*"},
      {"(", "\\28", "("},
      {")", "\\29", ")"},
      {"back\\slash", "back\\5cslash", "back\\\\slash"},
      {"nul\0byte"s, "nul\\00byte", "nul\\00byte"},
      {"caf\xc3\xa9", "caf\\c3\\a9", "caf\\c3\\a9"},
      {" lead", " lead", "\\ lead"},
      {"trail ", "trail ", "trail\\ "},
      {" ", " ", "\\ "},
      {"#hash", "#hash", "\\#hash"},
      {"mid#dle", "mid#dle", "mid#dle"},
      {"a,b+c=d;e<f>g\"h", "a,b+c=d;e<f>g\"h",
       "a\\,b\\+c\\=d\\;e\\<f\\>g\\\"h"},
      {"tab\there", "tab\\09here", "tab\\09here"},
      {"", "", ""},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(EscapeFilterValue(row.in), row.filter) << row.in;
    EXPECT_EQ(EscapeDnValue(row.in), row.dn) << row.in;
  }
}

TEST(EscapeTest, FilterEscapingLeavesNoMetacharacter) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  const std::string escaped = EscapeFilterValue(all);
  // Every ( ) * NUL is escaped; every backslash starts a hex pair.
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    EXPECT_NE(escaped[i], '(');
    EXPECT_NE(escaped[i], ')');
    EXPECT_NE(escaped[i], '*');
    EXPECT_NE(escaped[i], '\0');
    if (escaped[i] == '\\') {
      ASSERT_LT(i + 2, escaped.size());
      EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(escaped[i + 1])));
      EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(escaped[i + 2])));
      i += 2;
    }
  }
}

TEST(AddressTest, Parse) {
  auto a = ParseAddress("alice@example.com");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->local, "alice");
  EXPECT_EQ(a->domain, "example.com");
  a = ParseAddress("\"we@ird\"@example.com");  // split at the last @
  ASSERT_TRUE(a);
  EXPECT_EQ(a->local, "\"we@ird\"");
  a = ParseAddress("postmaster");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->domain, "");
  for (const std::string& bad :
       {""s, "@example.com"s, "alice@"s, "a\nb@x"s, "a\0b@x"s, "a\x7f@x"s,
        std::string(1025, 'a')}) {
    EXPECT_FALSE(ParseAddress(bad)) << bad;
  }
}

TEST(QueryFilterTest, ExpandsAndEscapesEveryValue) {
  EXPECT_EQ(*ExpandQueryFilter("(mail=%s)", Addr("alice@example.com")),
            "(mail=alice@example.com)");
  EXPECT_EQ(*ExpandQueryFilter("(&(uid=%u)(dc=%d))", Addr("alice@example.com")),
            "(&(uid=alice)(dc=example.com))");
  EXPECT_EQ(*ExpandQueryFilter("(mail=%s)(x=100%%)", Addr("a@b")),
            "(mail=a@b)(x=100%)");
  EXPECT_EQ(*ExpandQueryFilter("(mail=%s)", Addr("*)(uid=*@example.com")),
            "(mail=\\2a\\29\\28uid=\\2a@example.com)");
  EXPECT_EQ(*ExpandQueryFilter("(uid=%u)", Addr("a*@b(c)")), "(uid=a\\2a)");
  EXPECT_EQ(*ExpandQueryFilter("(mail=%s)", Addr("x\\00@y")),
            "(mail=x\\5c00@y)");
}

TEST(QueryFilterTest, DomainPlaceholderWithoutDomainFindsNothing) {
  EXPECT_FALSE(ExpandQueryFilter("(&(uid=%u)(dc=%d))", Addr("postmaster")));
  EXPECT_EQ(*ExpandQueryFilter("(uid=%u)", Addr("postmaster")),
            "(uid=postmaster)");
}

TEST(QueryFilterTest, Validation) {
  EXPECT_EQ(ValidateQueryFilter("(mail=%s)"), "");
  EXPECT_EQ(ValidateQueryFilter("(uid=%u)"), "");
  EXPECT_NE(ValidateQueryFilter(""), "");
  EXPECT_NE(ValidateQueryFilter("(mail=%x)"), "");
  EXPECT_NE(ValidateQueryFilter("(mail=%"), "");
  EXPECT_NE(ValidateQueryFilter("(mail=fixed)"), "");
  EXPECT_NE(ValidateQueryFilter("(dc=%d)"), "");
}

TEST(MailboxDnTest, ExpandsPlaceholders) {
  EXPECT_EQ(ExpandMailboxDn("cn=mailbox,{dn}",
                            "uid=alice,ou=people,dc=example,dc=com",
                            Addr("alice@example.com")),
            "cn=mailbox,uid=alice,ou=people,dc=example,dc=com");
  EXPECT_EQ(ExpandMailboxDn("cn={address},ou=mail", "ignored",
                            Addr("a,b+c@example.com")),
            "cn=a\\,b\\+c@example.com,ou=mail");
  EXPECT_EQ(ExpandMailboxDn("cn={user},dc={domain}", "x", Addr(" #u@d")),
            "cn=\\ #u,dc=d");  // # is special only in front
}

TEST(MailboxDnTest, Validation) {
  EXPECT_EQ(ValidateMailboxDn("cn=mailbox,{dn}"), "");
  EXPECT_EQ(ValidateMailboxDn("cn={address},ou=boxes,dc=x"), "");
  EXPECT_EQ(ValidateMailboxDn("Cn=mailbox,{dn}"), "");
  EXPECT_NE(ValidateMailboxDn("ou=mailbox,{dn}"), "");
  EXPECT_NE(ValidateMailboxDn("cn=mailbox,{nope}"), "");
  EXPECT_NE(ValidateMailboxDn("cn=mailbox,{dn"), "");
}

TEST(FirstRdnValueTest, UnescapesAndRejectsGarbage) {
  EXPECT_EQ(*FirstRdnValue("cn=mailbox,uid=a,dc=x"), "mailbox");
  EXPECT_EQ(*FirstRdnValue("cn=a\\,b\\+c@x,ou=m"), "a,b+c@x");
  EXPECT_FALSE(FirstRdnValue("not a dn"));
}

TEST(AsciiLowerTest, OnlyAscii) {
  EXPECT_EQ(AsciiLower("Alice@Example.COM"), "alice@example.com");
  EXPECT_EQ(AsciiLower("\xc3\x89"), "\xc3\x89");
}

}  // namespace
}  // namespace ldapmda
