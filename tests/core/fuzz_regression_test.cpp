// Regression tests for what the libFuzzer harnesses (tests/fuzz, run by
// scripts/fuzz) found: each case is a minimised reproducer, as bytes, with
// the harness that found it and what went wrong.
#include <glib.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "addr.h"
#include "ldapmda/config.h"
#include "ldapmda/escape.h"
#include "ldapmda/ldap_syntax.h"
#include "ldapmda/message.h"
#include "mda/lmtp.h"
#include "support/process.h"

namespace ldapmda {
namespace {

using testing::Addr;

using namespace std::literals;

// Counts GLib criticals (g_return_if_fail failures: a NULL or wrong
// argument handed to GLib or GMime) while alive.
class CriticalCounter {
 public:
  CriticalCounter() {
    InitMessageLibrary();
    previous_ = g_log_set_default_handler(Handler, this);
  }
  ~CriticalCounter() { g_log_set_default_handler(previous_, nullptr); }
  CriticalCounter(const CriticalCounter&) = delete;
  CriticalCounter& operator=(const CriticalCounter&) = delete;

  std::vector<std::string> criticals;

 private:
  static void Handler(const gchar* domain, GLogLevelFlags level,
                      const gchar* text, gpointer self) {
    if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR)) {
      static_cast<CriticalCounter*>(self)->criticals.push_back(
          std::string(domain ? domain : "glib") + ": " + (text ? text : ""));
    }
  }
  GLogFunc previous_;
};

// fuzz_message: a message that is nothing but an mbox "From " line without
// a line end. HeaderBlock() returned a default std::string_view, whose
// data() is NULL, and g_mime_stream_mem_new_with_buffer(NULL, 0) failed
// "assertion 'buffer != NULL'", followed by two more criticals from the
// parser given no stream (with G_DISABLE_CHECKS GMime would dereference
// it). The same happens for ParseMessage(std::string_view()).
TEST(FuzzRegressionTest, MboxFromLineWithoutLineEnd) {
  for (const std::string_view raw :
       {"From "sv, "From sender@example.com Mon Jan  1 00:00:00 2024"sv,
        std::string_view()}) {
    CriticalCounter counter;
    const MessageInfo info = ParseMessage(raw);
    EXPECT_EQ(info.size, raw.size());
    EXPECT_FALSE(info.subject.has_value());
    EXPECT_TRUE(counter.criticals.empty())
        << "input \"" << raw << "\": " << counter.criticals.front();
  }
}

class AcceptAll : public LmtpBackend {
 public:
  Outcome Accept(const Address&, Resolution*) override {
    return Outcome::Sent("found");
  }
  Outcome Deliver(std::string_view, const MessageInfo&, const Envelope&,
                  const Address&, const Resolution&) override {
    return Outcome::Sent("stored");
  }
};

// fuzz_lmtp: a MAIL parameter "SIZE" or "BODY" without "=value".
// LmtpSession::Mail took p.substr(5) of the 4-byte parameter before
// checking its length: std::out_of_range escaped Feed(), RunLmtp, and
// RunLmtpMode answered "421 4.3.5 basic_string_view::substr: ..." and
// closed the connection. Minimised input: "LHLO c\nMAIL FROM:<>SIZE\n".
TEST(FuzzRegressionTest, MailParameterWithoutValue) {
  for (const std::string param :
       {"SIZE", "size", "BODY", "body", "SIZE=", "BODY="}) {
    AcceptAll backend;
    LmtpSession session(LmtpSettings{}, backend);
    std::string replies;
    ASSERT_NO_THROW(
        replies = session.Feed("LHLO c\r\nMAIL FROM:<s@x> " + param + "\r\n"))
        << param;
    ASSERT_GE(replies.size(), 2u);
    const std::string last =
        replies.substr(replies.rfind("\r\n", replies.size() - 3) + 2);
    EXPECT_EQ(last.substr(0, 10), "501 5.5.4 ") << param << ": " << last;
    // The session goes on.
    EXPECT_EQ(session.Feed("MAIL FROM:<s@x>\r\n"), "250 2.1.0 Ok\r\n") << param;
  }
  // The minimised reproducer, parameter glued to the path.
  AcceptAll backend;
  LmtpSession session(LmtpSettings{}, backend);
  EXPECT_NO_THROW(session.Feed("LHLO c\nMAIL FROM:<>SIZE\n"));
}

// fuzz_config: a NUL byte inside a value. Boost.ProgramOptions keeps it,
// the checks (ldap_str2dn, ldap_url_parse: C strings) saw only the part
// before it, and LoadConfig returned a Config whose search_base was
// "dc=x\0junk" -- which every later C API call silently truncates
// differently from what was checked (bind_pw_file and tls_ca_cert_file
// would name another file, query_filter "(objectClass=*)\0%s" passes
// ValidateQueryFilter yet reaches the server as "(objectClass=*)").
TEST(FuzzRegressionTest, NulByteInConfigValue) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/ldapmda.conf";
  for (const std::string& text :
       {"search_base = dc=x\0junk\n"s,
        "search_base = dc=x\nserver_host = ldap://a\0b\n"s,
        "search_base = dc=x\nquery_filter = (objectClass=*)\0%s\n"s,
        "search_base = dc=x\nbind_pw_file = /etc/x\0y\n"s}) {
    testing::WriteFile(path, text);
    EXPECT_THROW(LoadConfig(path, {}), ConfigError)
        << "accepted: " << ::testing::PrintToString(text);
  }
}

// fuzz_config: a line without "=" that contains one of Boost's message
// placeholders. LoadConfig reported Boost's e.what(), and Boost 1.74's
// error_with_option_name::substitute_placeholders() replaces
// "%invalid_line%" with the line, finds the placeholder again in what it
// inserted, and loops forever: ldapmda hung until Postfix killed it.
// Minimised from the timeout artifact.
TEST(FuzzRegressionTest, PlaceholderInALineWithoutEqualsSign) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/ldapmda.conf";
  for (const std::string line :
       {"x%invalid_line%y", "%canonical_option%", "%prefix_option% %value%"}) {
    testing::WriteFile(path, "search_base = dc=x\n" + line + "\n");
    try {
      LoadConfig(path, {});
      ADD_FAILURE() << "accepted: " << line;
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()),
                path +
                    ":2: expected \"key = value\", a comment or an "
                    "empty line");
    }
  }
}

// fuzz_address: a mailbox_dn template with a literal '#' right after a
// placeholder that expands to nothing ({domain} of an address without a
// domain). The '#' then started the value, which RFC 4514 reads as a
// hex-encoded value: the DN did not parse. It is escaped now; so is a
// space there.
TEST(FuzzRegressionTest, LiteralSharpAfterAnEmptyPlaceholder) {
  const std::string entry = "cn=a\\,b+sn=c,dc=x";
  const std::string sharp =
      ExpandMailboxDn("cn={user}+uid={domain}#{dn}", entry, Addr("#hainbox"));
  EXPECT_EQ(sharp, "cn=\\#hainbox+uid=\\#cn=a\\,b+sn=c,dc=x");
  EXPECT_EQ(FirstRdnValue(sharp), "#hainbox");
  const std::string space =
      ExpandMailboxDn("cn={domain} x,{dn}", entry, Addr("alice"));
  EXPECT_EQ(space, "cn=\\ x,cn=a\\,b+sn=c,dc=x");
  EXPECT_EQ(FirstRdnValue(space), " x");
  // With a domain, or without a placeholder before it, nothing changes.
  EXPECT_EQ(ExpandMailboxDn("cn={domain}#1,{dn}", "dc=x", Addr("a@b.example")),
            "cn=b.example#1,dc=x");
  EXPECT_EQ(ExpandMailboxDn("cn=x{domain}#1,{dn}", "dc=x", Addr("a")),
            "cn=x#1,dc=x");
}

}  // namespace
}  // namespace ldapmda
