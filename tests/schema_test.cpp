// The schema ships twice, for slapd.conf and for cn=config: they must
// define the same things, under the project's OID arc.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Definitions "( ... )" with white space collapsed, from either format.
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
    out.insert(body);
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
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c, d);
  EXPECT_EQ(e, f);
  EXPECT_EQ(e.count("ldapmdaOID 2.25.49376967382688701373961826340274596301"),
            1u);
}

TEST(SchemaTest, EveryAttributeTheCoreWritesIsDefined) {
  const std::string schema = Read(LDAPMDA_SOURCE_DIR "/conf/ldapmda.schema");
  for (const char* name :
       {"mdaKey", "mdaRawMessage", "mdaSize", "mdaMessageId", "mdaSubject",
        "mdaFrom", "mdaTo", "mdaCc", "mdaDate", "mdaDeliveredAt",
        "mdaEnvelopeSender", "mdaEnvelopeRecipient", "mdaOriginalRecipient",
        "mdaQueueId", "mdaFolder", "mdaMailbox", "mdaMessage"}) {
    EXPECT_NE(schema.find("NAME '" + std::string(name) + "'"),
              std::string::npos)
        << name;
  }
}

}  // namespace
