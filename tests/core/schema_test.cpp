// The schema ships twice, for slapd.conf and for cn=config: they must
// define the same things, under the project's OID arc.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <vector>

namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Definitions "( ... )" with white space collapsed, from either format.
// A definition given twice (slapd refuses the whole file then) fails the
// test.
std::set<std::string> Definitions(const std::string& text,
                                  const std::string& keyword_regex) {
  std::set<std::string> out;
  std::string joined;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    // Continuation lines start with white space in both formats.
    if (line[0] == ' ' || line[0] == '\t') {
      joined += " " + line;
    } else {
      joined += "\n" + line;
    }
  }
  const std::regex def("^(?:" + keyword_regex + ")\\s+(.*)$",
                       std::regex::icase | std::regex::multiline);
  for (auto it = std::sregex_iterator(joined.begin(), joined.end(), def);
       it != std::sregex_iterator(); ++it) {
    std::string body = (*it)[1];
    body = std::regex_replace(body, std::regex("\\s+"), " ");
    EXPECT_TRUE(out.insert(body).second) << "defined twice: " << body;
  }
  return out;
}

TEST(SchemaTest, SlapdConfAndCnConfigFormsAgree) {
  const std::string schema = Read(LDAPMDA_SOURCE_DIR "/conf/ldapmda.schema");
  const std::string ldif = Read(LDAPMDA_SOURCE_DIR "/conf/ldapmda.ldif");
  const auto a = Definitions(schema, "attributetype");
  const auto b = Definitions(ldif, "olcAttributeTypes:");
  const auto c = Definitions(schema, "objectclass");
  const auto d = Definitions(ldif, "olcObjectClasses:");
  const auto e = Definitions(schema, "objectIdentifier");
  const auto f = Definitions(ldif, "olcObjectIdentifier:");
  EXPECT_GE(a.size(), 15u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(c.size(), 6u);
  EXPECT_EQ(c, d);
  EXPECT_EQ(e, f);
  EXPECT_EQ(e.count("ldapmdaOID 2.25.49376967382688701373961826340274596301"),
            1u);
}

TEST(SchemaTest, EveryAttributeTheCoreWritesIsDefined) {
  const std::string schema = Read(LDAPMDA_SOURCE_DIR "/conf/ldapmda.schema");
  for (const char* name : {"mdaKey",
                           "mdaRawMessage",
                           "mdaSize",
                           "mdaMessageId",
                           "mdaSubject",
                           "mdaFrom",
                           "mdaTo",
                           "mdaCc",
                           "mdaDate",
                           "mdaDeliveredAt",
                           "mdaEnvelopeSender",
                           "mdaEnvelopeRecipient",
                           "mdaOriginalRecipient",
                           "mdaQueueId",
                           "mdaFolder",
                           "mdaMailbox",
                           "mdaMessage",
                           "mdaMailFolder",
                           "mdaFolderName",
                           "mdaUidValidity",
                           "mdaUidNext",
                           "mdaRemovals",
                           "mdaMessageState",
                           "mdaUid",
                           "mdaFlag"}) {
    EXPECT_NE(schema.find("NAME '" + std::string(name) + "'"),
              std::string::npos)
        << name;
  }
}

}  // namespace

namespace {

// The "access to" rules (slapd.conf form) or olcAccess values (cn=config
// form) of a file, each with white space collapsed and any {N} removed.
std::vector<std::string> AccessRules(const std::string& text, bool ldif) {
  std::vector<std::string> rules;
  std::istringstream in(text);
  std::string line;
  bool in_rule = false;
  while (std::getline(in, line)) {
    const bool start = ldif ? line.rfind("olcAccess: ", 0) == 0
                            : line.rfind("access to ", 0) == 0;
    const bool more = !line.empty() && (line[0] == ' ' || line[0] == '\t');
    if (start) {
      std::string body = line.substr(ldif ? 11 : 7);
      body = std::regex_replace(body, std::regex("^\\{[0-9]+\\}"), "");
      rules.push_back(body);
      in_rule = true;
    } else if (in_rule && more) {
      rules.back() += " " + line;
    } else {
      in_rule = false;
    }
  }
  for (auto& r : rules) r = std::regex_replace(r, std::regex("\\s+"), " ");
  return rules;
}

// The rules after the first one that contains `anchor`.
std::vector<std::string> After(const std::vector<std::string>& rules,
                               const std::string& anchor) {
  const auto it = std::find_if(rules.begin(), rules.end(), [&](auto& r) {
    return r.find(anchor) != std::string::npos;
  });
  EXPECT_NE(it, rules.end()) << anchor;
  return it == rules.end() ? rules
                           : std::vector<std::string>(it + 1, rules.end());
}

TEST(ShippedConfTest, AllSlapdSetupsHaveTheSameAccessRules) {
  // The database rules: in slapd.conf after the global subschema rule; in
  // the replicated setups after the replicator's rule, which comes first.
  const auto single =
      After(AccessRules(Read(LDAPMDA_SOURCE_DIR "/conf/slapd.conf"), false),
            "cn=Subschema");
  const auto multi = After(
      AccessRules(Read(LDAPMDA_SOURCE_DIR "/conf/slapd-multiprovider.conf"),
                  false),
      "cn=replicator");
  const auto ldif = After(
      AccessRules(Read(LDAPMDA_SOURCE_DIR "/conf/slapd-multiprovider.ldif"),
                  true),
      "cn=replicator");
  EXPECT_GE(single.size(), 9u);
  EXPECT_EQ(multi, single);
  EXPECT_EQ(ldif, single);
}

TEST(ShippedConfTest, DeliveryIdentityHasTheSameLimitsEverywhere) {
  const std::string want = "size=10 size.prtotal=unlimited time=10";
  EXPECT_NE(Read(LDAPMDA_SOURCE_DIR "/conf/slapd.conf").find("\t" + want),
            std::string::npos);
  EXPECT_NE(Read(LDAPMDA_SOURCE_DIR "/conf/slapd-multiprovider.conf")
                .find("\t" + want),
            std::string::npos);
  EXPECT_NE(Read(LDAPMDA_SOURCE_DIR "/conf/slapd-multiprovider.ldif")
                .find("ldapmda,ou=services,dc=example,dc=com\" " + want),
            std::string::npos);
}

}  // namespace
