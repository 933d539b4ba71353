// What a recognised report becomes in the directory, without a server:
// the mdaReport attributes of the message entry, the VERP decoding of an
// extension and the report filters. (How ldapmbox shows bounces and
// complaints: tests/ldapmbox/report_listing_test.cpp.)
#include <gtest/gtest.h>
#include <ldap.h>

#include <algorithm>
#include <map>

#include "addr.h"
#include "fake_directory.h"
#include "ldapmda/config.h"
#include "ldapmda/delivery.h"
#include "ldapmda/mailbox_store.h"
#include "ldapmda/recipient.h"

namespace ldapmda {
namespace {

using testing::Addr;
using Values = std::vector<std::string>;

// The entry's attributes as name -> values (copied out of the views).
std::map<std::string, Values> AsMap(const std::vector<AttributeView>& attrs) {
  std::map<std::string, Values> out;
  for (const auto& a : attrs) {
    EXPECT_EQ(out.count(a.name), 0u) << "attribute twice: " << a.name;
    for (auto v : a.values) out[a.name].emplace_back(v);
  }
  return out;
}

MessageInfo BounceInfo() {
  MessageInfo info;
  info.report.kind = ReportKind::kDeliveryStatus;
  info.report.format = "rfc3464";
  info.report.reporting_mta = "mx.example.com";
  info.report.original_envelope_id = "Env-42";
  info.report.original_message_id = "orig.1@example.com";
  info.report.auto_submitted = "auto-replied";
  info.report.recipients = {
      {"bob@example.org", "bob@example.org", "failed", "5.1.1",
       "550 5.1.1 <bob@example.org>: User unknown", "mx.example.org",
       "userunknown", "hard", "smtp", "RCPT"},
      {"Carol@Example.org", "", "delayed", "4.4.1", "connect timed out",
       "mx.example.org", "expired", "soft", "", ""},
      // The same address twice (some MTAs repeat a block): one value each.
      {"bob@EXAMPLE.org", "", "failed", "5.1.1", "", "", "userunknown", "hard",
       "", ""},
      // Equal to caseIgnoreMatch only beyond ASCII: also one value.
      {"J\xc3\x96RG@example.org", "", "failed", "5.1.1", "", "", "userunknown",
       "hard", "", ""},
      {"j\xc3\xb6rg@example.org", "", "failed", "5.1.1", "", "", "userunknown",
       "hard", "", ""},
  };
  return info;
}

TEST(ReportEntryTest, DeliveryStatusBecomesMdaReportAttributes) {
  const MessageInfo info = BounceInfo();
  const MessageEntry entry("k", "raw", info, {"", "", "", ""},
                           "bounces@example.com", "INBOX", 1795338187);
  ASSERT_TRUE(entry.has_report());
  auto a = AsMap(entry.attributes());
  EXPECT_EQ(a["objectClass"], (Values{"mdaMessage", "mdaReport"}));
  EXPECT_EQ(a["mdaReportType"], Values{"delivery-status"});
  EXPECT_EQ(a["mdaReportFormat"], Values{"rfc3464"});
  EXPECT_EQ(a["mdaDsnReportingMta"], Values{"mx.example.com"});
  EXPECT_EQ(a["mdaDsnEnvelopeId"], Values{"Env-42"});
  EXPECT_EQ(a["mdaReportedMessageId"], Values{"orig.1@example.com"});
  EXPECT_EQ(a["mdaAutoSubmitted"], Values{"auto-replied"});
  EXPECT_EQ(a["mdaDsnRecipient"],
            (Values{"bob@example.org", "Carol@Example.org",
                    "J\xc3\x96RG@example.org"}));
  EXPECT_EQ(a["mdaDsnOriginalRecipient"], Values{"bob@example.org"});
  EXPECT_EQ(a["mdaDsnAction"], (Values{"failed", "delayed"}));
  EXPECT_EQ(a["mdaDsnStatus"], (Values{"5.1.1", "4.4.1"}));
  EXPECT_EQ(a["mdaDsnDiagnostic"],
            (Values{"550 5.1.1 <bob@example.org>: User unknown",
                    "connect timed out"}));
  EXPECT_EQ(a["mdaDsnRemoteMta"], Values{"mx.example.org"});
  EXPECT_EQ(
      a["mdaDsnResult"],
      (Values{"failed;5.1.1;bob@example.org", "delayed;4.4.1;carol@example.org",
              "failed;5.1.1;j\xc3\x96rg@example.org"}));
  EXPECT_EQ(a["mdaDsnReason"],
            (Values{"userunknown;hard;bob@example.org",
                    "expired;soft;carol@example.org",
                    "userunknown;hard;j\xc3\x96rg@example.org"}));
  EXPECT_EQ(a.count("mdaArfFeedbackType"), 0u);
  // mdaDsnReason comes last: without it, the rest as it was.
  ASSERT_TRUE(entry.has_reasons());
  const auto without = entry.attributes_without_reasons();
  EXPECT_EQ(without.size() + 1, entry.attributes().size());
  auto w = AsMap(without);
  EXPECT_EQ(w.count("mdaDsnReason"), 0u);
  EXPECT_EQ(w["mdaDsnResult"], a["mdaDsnResult"]);
  EXPECT_EQ(w["objectClass"], (Values{"mdaMessage", "mdaReport"}));
}

TEST(ReportEntryTest, WithoutReportIsWhatAnOlderSchemaAccepts) {
  const MessageEntry entry("k", "raw", BounceInfo(), {"", "", "", ""},
                           "bounces@example.com", "INBOX", 1795338187);
  auto plain = AsMap(entry.attributes_without_report());
  EXPECT_EQ(plain["objectClass"], Values{"mdaMessage"});
  for (const auto& [name, values] : plain) {
    EXPECT_FALSE(name.starts_with("mdaDsn") || name.starts_with("mdaReport") ||
                 name.starts_with("mdaArf") || name == "mdaAutoSubmitted")
        << name;
  }
  EXPECT_EQ(plain["mdaKey"], Values{"k"});
  EXPECT_EQ(plain["mdaRawMessage"], Values{"raw"});
  // The full entry still has them: the fallback is a copy.
  EXPECT_EQ(AsMap(entry.attributes())["objectClass"].size(), 2u);
}

TEST(ReportEntryTest, FeedbackReportAttributes) {
  MessageInfo info;
  info.report.kind = ReportKind::kFeedback;
  info.report.format = "arf";
  info.report.feedback_type = "abuse";
  info.report.user_agent = "SomeISP-FBL/1.0";
  info.report.original_mail_from = "news@example.com";
  info.report.original_rcpt_to = {"user1@example.net", "user2@example.net",
                                  "USER1@example.net"};
  info.report.arrival_date = "20261130120000Z";
  info.report.source_ip = {"192.0.2.25"};
  info.report.reported_domain = {"example.com"};
  info.report.original_message_id = "n.1@example.com";
  const MessageEntry entry("k", "raw", info, {"", "", "", ""},
                           "abuse@example.com", "INBOX", 1795338187);
  auto a = AsMap(entry.attributes());
  EXPECT_EQ(a["mdaReportType"], Values{"feedback-report"});
  EXPECT_EQ(a["mdaArfFeedbackType"], Values{"abuse"});
  EXPECT_EQ(a["mdaArfUserAgent"], Values{"SomeISP-FBL/1.0"});
  EXPECT_EQ(a["mdaArfOriginalMailFrom"], Values{"news@example.com"});
  EXPECT_EQ(a["mdaArfOriginalRcptTo"],
            (Values{"user1@example.net", "user2@example.net"}));
  EXPECT_EQ(a["mdaArfArrivalDate"], Values{"20261130120000Z"});
  EXPECT_EQ(a["mdaArfSourceIp"], Values{"192.0.2.25"});
  EXPECT_EQ(a["mdaArfReportedDomain"], Values{"example.com"});
  EXPECT_EQ(a["mdaReportedMessageId"], Values{"n.1@example.com"});
  EXPECT_EQ(a.count("mdaDsnResult"), 0u);
}

TEST(ReportEntryTest, OrdinaryMailHasNoReportButVerpAndAutoReplyCount) {
  MessageInfo info;
  const MessageEntry plain("k", "raw", info, {"", "", "", ""},
                           "alice@example.com", "INBOX", 1795338187);
  EXPECT_FALSE(plain.has_report());
  EXPECT_EQ(AsMap(plain.attributes())["objectClass"], Values{"mdaMessage"});

  const MessageEntry verp("k", "raw", info, {"", "", "", "bob=example.org"},
                          "bounces+bob=example.org@example.com", "INBOX",
                          1795338187, "bob@example.org");
  ASSERT_TRUE(verp.has_report());
  auto a = AsMap(verp.attributes());
  EXPECT_EQ(a["mdaVerpRecipient"], Values{"bob@example.org"});
  EXPECT_EQ(a.count("mdaReportType"), 0u);

  info.report.auto_submitted = "auto-replied";
  auto b = AsMap(MessageEntry("k", "raw", info, {"", "", "", ""},
                              "alice@example.com", "INBOX", 1795338187)
                     .attributes());
  EXPECT_EQ(b["objectClass"], (Values{"mdaMessage", "mdaReport"}));
  EXPECT_EQ(b["mdaAutoSubmitted"], Values{"auto-replied"});
}

TEST(ReportEntryTest, ValuesAreSanitisedAndEmptyOnesLeftOut) {
  MessageInfo info;
  info.report.kind = ReportKind::kDeliveryStatus;
  info.report.format = "rfc3464";
  info.report.recipients = {
      {"", "", "failed", "", "", "", "undefined", "soft", "", ""},
      {"x@example.org", "", "", "", "a\tb\r\nc", "", "", "", "", ""}};
  auto a = AsMap(MessageEntry("k", "raw", info, {"", "", "", ""},
                              "bounces@example.com", "INBOX", 1795338187)
                     .attributes());
  EXPECT_EQ(a["mdaDsnRecipient"], Values{"x@example.org"});
  EXPECT_EQ(a["mdaDsnDiagnostic"], Values{"a b c"});
  // A block without a recipient gives no result value, nor a reason.
  EXPECT_EQ(a["mdaDsnResult"], Values{";;x@example.org"});
  EXPECT_EQ(a.count("mdaDsnReason"), 0u);
  EXPECT_EQ(a.count("mdaDsnStatus"), 0u);
  EXPECT_EQ(a.count("mdaDsnReportingMta"), 0u);
}

// A bounce stored through `directory`, which answers the adds with
// `add_codes` (then success): the outcome, and the entry's attributes as
// last added.
struct StoredBounce {
  Outcome outcome = Outcome::Ok("");
  bool created = false;
  std::map<std::string, Values> attributes;
};
StoredBounce StoreBounce(testing::FakeDirectory& directory,
                         std::initializer_list<int> add_codes) {
  Config config;
  config.search_base = "dc=x";
  directory.add_codes = add_codes;
  const Deadline deadline(std::chrono::seconds(10));
  Delivery delivery(config, directory, directory, deadline);
  const MessageEntry entry("k", "raw", BounceInfo(), {"", "", "", ""},
                           "bounces@example.com", "INBOX", 1795338187);
  StoredBounce out;
  std::string dn;
  out.outcome =
      delivery.Store("cn=mailbox,uid=b,dc=x", entry, &out.created, &dn);
  for (const auto& a :
       directory
           .last_attributes["mdaKey=k,mdaFolder=INBOX,cn=mailbox,uid=b,dc=x"]) {
    out.attributes[a.name] = a.values;
  }
  return out;
}

TEST(ReportEntryTest, ASchemaOfBeforeReasonsGetsTheReportWithoutThem) {
  testing::FakeDirectory directory;
  const StoredBounce b = StoreBounce(directory, {LDAP_UNDEFINED_TYPE});
  EXPECT_EQ(b.outcome.disposition(), Disposition::kSent) << b.outcome.text;
  ASSERT_EQ(directory.added.size(), 2u);
  EXPECT_EQ(b.attributes.count("mdaDsnReason"), 0u);
  EXPECT_EQ(b.attributes.at("mdaDsnResult").size(), 3u);
  EXPECT_EQ(b.attributes.at("objectClass"),
            (Values{"mdaMessage", "mdaReport"}));
}

TEST(ReportEntryTest, AnOlderSchemaGetsTheMessageWithoutTheReport) {
  testing::FakeDirectory directory;
  // Refused with the reasons, and without them.
  const StoredBounce b =
      StoreBounce(directory, {LDAP_UNDEFINED_TYPE, LDAP_UNDEFINED_TYPE});
  EXPECT_EQ(b.outcome.disposition(), Disposition::kSent) << b.outcome.text;
  EXPECT_TRUE(b.created);
  ASSERT_EQ(directory.added.size(), 3u);
  for (const auto& [name, values] : b.attributes) {
    EXPECT_FALSE(name.starts_with("mdaDsn")) << name;
    if (name == "objectClass") {
      EXPECT_EQ(values, Values{"mdaMessage"});
    }
  }
}

TEST(ReportEntryTest, ValuesTheServerTakesForOneGetTheMessageWithoutReport) {
  testing::FakeDirectory directory;
  const StoredBounce b = StoreBounce(directory, {LDAP_TYPE_OR_VALUE_EXISTS});
  EXPECT_EQ(b.outcome.disposition(), Disposition::kSent);
  EXPECT_EQ(directory.added.size(), 2u);
  EXPECT_EQ(b.attributes.count("mdaDsnResult"), 0u);
}

TEST(ReportEntryTest, OtherRefusalsAreNotRetriedWithoutTheReport) {
  testing::FakeDirectory directory;
  const StoredBounce b = StoreBounce(directory, {LDAP_INSUFFICIENT_ACCESS});
  EXPECT_NE(b.outcome.disposition(), Disposition::kSent);
  EXPECT_EQ(directory.added.size(), 1u);
}

TEST(VerpTest, DecodesTheOriginalRecipient) {
  EXPECT_EQ(DecodeVerp("bob=example.org", "+="), "bob@example.org");
  // The @ is the last '=': a local part may hold one.
  EXPECT_EQ(DecodeVerp("a=b=example.org", "+="), "a=b@example.org");
  EXPECT_EQ(DecodeVerp("bob%example.org", "-%"), "bob@example.org");
}

TEST(VerpTest, AnythingElseIsNotVerp) {
  for (const char* ext :
       {"lists", "bob=", "=example.org", "bob=localhost", "bob=example.",
        "bob=.example.org", "bob=exa..mple.org", "b ob=example.org",
        "bob=exam<ple.org", "bob@x=example.org", "bob=example.org\n", ""}) {
    EXPECT_EQ(DecodeVerp(ext, "+="), std::nullopt) << ext;
  }
  EXPECT_EQ(DecodeVerp("bob=example.org", ""), std::nullopt);
}

TEST(VerpTest, ResolverDecodesAVerpExtensionAndKeepsInbox) {
  Config config;
  config.search_base = "dc=example,dc=com";
  config.recipient_delimiter = "+";
  config.verp_delimiters = "+=";
  testing::FakeDirectory directory;
  directory.by_filter["(mail=bounces@example.com)"] = {
      {"uid=bounces,dc=example,dc=com", {}}};
  const Deadline deadline(std::chrono::seconds(10));
  Resolver resolver(config, directory, deadline);

  Resolution verp;
  ASSERT_EQ(
      resolver.Resolve(Addr("bounces+bob=example.org@example.com"), "", &verp)
          .disposition(),
      Disposition::kSent);
  EXPECT_EQ(verp.verp_recipient, "bob@example.org");
  EXPECT_EQ(verp.folder, "INBOX");

  Resolution folder;
  ASSERT_EQ(resolver.Resolve(Addr("bounces+lists@example.com"), "", &folder)
                .disposition(),
            Disposition::kSent);
  EXPECT_EQ(folder.verp_recipient, "");
  EXPECT_EQ(folder.folder, "lists");

  // Postfix's ${extension} works the same way.
  Resolution hinted;
  ASSERT_EQ(resolver
                .Resolve(Addr("bounces+bob=example.org@example.com"),
                         "bob=example.org", &hinted)
                .disposition(),
            Disposition::kSent);
  EXPECT_EQ(hinted.verp_recipient, "bob@example.org");
}

TEST(VerpTest, ConfigChecksTheDelimiters) {
  const auto load = [](std::vector<std::string> overrides) {
    overrides.insert(overrides.begin(), "search_base=dc=example,dc=com");
    return LoadConfig("/dev/null", overrides);
  };
  EXPECT_EQ(load({"verp_delimiters=+="}).verp_delimiters, "+=");
  for (const char* bad : {"+", "++", "+=-", "a=", "+@", "+ "}) {
    EXPECT_THROW(load({std::string("verp_delimiters=") + bad}), ConfigError)
        << bad;
  }
  EXPECT_THROW(load({"recipient_delimiter=-", "verp_delimiters=+="}),
               ConfigError);
  EXPECT_EQ(
      load({"recipient_delimiter=+-", "verp_delimiters=-="}).verp_delimiters,
      "-=");
}

TEST(ReportListingTest, FilterEscapesAndBoundsDeliveryTime) {
  EXPECT_EQ(ReportFilterString("delivery-status", "", ""),
            "(&(objectClass=mdaMessage)(mdaReportType=delivery-status))");
  EXPECT_EQ(
      ReportFilterString("feedback-report", "20261130000000Z",
                         "20261201000000Z"),
      "(&(objectClass=mdaMessage)(mdaReportType=feedback-report)"
      "(mdaDeliveredAt>=20261130000000Z)(!(mdaDeliveredAt>=20261201000000Z)))");
  EXPECT_EQ(ReportFilterString("x*)(uid=*", "", ""),
            "(&(objectClass=mdaMessage)(mdaReportType=x\\2a\\29\\28uid=\\2a))");
}

}  // namespace
}  // namespace ldapmda
