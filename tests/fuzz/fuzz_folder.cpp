// libFuzzer harness: the DNs of folders, messages and message states
// (layout.h) and the IMAP flag values (folder_store.h), for any folder
// name, key and flag set a client or a directory may bring.
//
// Invariants:
// - FolderDn, MessageDn and StateDn of a valid mailbox DN are valid DNs
//   (libldap parses them) whose first RDN value is exactly the name or
//   key, for every valid UTF-8 name; ParentDn takes each apart again, so
//   no name can climb out of its mailbox.
// - FlagValues gives IA5 values without white space, each once
//   (case-insensitively), system flags with their backslash; reading them
//   back (ParseFlagValues) gives the same flags and the usable keywords.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "ldapmda/folder_store.h"
#include "ldapmda/layout.h"
#include "ldapmda/ldap_syntax.h"
#include "ldapmda/text.h"

namespace {

constexpr char kMailbox[] = "cn=mailbox,uid=alice,ou=people,dc=example,dc=com";

void CheckDns(const std::string& name) {
  const std::string folder = ldapmda::FolderDn(kMailbox, name);
  const std::string message = ldapmda::MessageDn(folder, name);
  const std::string state = ldapmda::StateDn(message);
  FUZZ_CHECK(ldapmda::ParentDn(folder) == kMailbox, folder);
  FUZZ_CHECK(ldapmda::ParentDn(message) == folder, message);
  FUZZ_CHECK(ldapmda::ParentDn(state) == message, state);
  if (!ldapmda::fuzz::IsValidUtf8(name)) return;
  for (const std::string* dn : {&folder, &message, &state}) {
    FUZZ_CHECK(ldapmda::IsValidDn(*dn), *dn);
  }
  FUZZ_CHECK(ldapmda::FirstRdnValue(folder) == name, folder);
  FUZZ_CHECK(ldapmda::FirstRdnValue(message) == name, message);
  FUZZ_CHECK(ldapmda::FirstRdnValue(state) == "state", state);
}

void CheckFlags(unsigned flags, const std::vector<std::string>& keywords) {
  const std::vector<std::string> values = ldapmda::FlagValues(flags, keywords);
  std::set<std::string> seen;
  for (const std::string& v : values) {
    FUZZ_CHECK(!v.empty(), v);
    FUZZ_CHECK(std::all_of(v.begin(), v.end(),
                           [](char c) { return c > 0x20 && c < 0x7F; }),
               v);
    FUZZ_CHECK(seen.insert(ldapmda::AsciiLower(v)).second, v);
  }
  unsigned back = 0;
  std::vector<std::string> words;
  ldapmda::ParseFlagValues(values, &back, &words);
  FUZZ_CHECK(back == (flags & 0x1Fu), std::to_string(flags));
  for (const std::string& w : words) {
    FUZZ_CHECK(std::find(keywords.begin(), keywords.end(), w) != keywords.end(),
               w);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // Folder name / key: the whole input, then the input split at NULs as
  // keywords with the first byte as the system flags.
  CheckDns(std::string(input));
  std::vector<std::string> keywords;
  std::size_t start = size > 0 ? 1 : 0;
  for (std::size_t i = start; i <= size; ++i) {
    if (i == size || input[i] == '\0') {
      keywords.emplace_back(input.substr(start, i - start));
      start = i + 1;
    }
  }
  CheckFlags(size > 0 ? static_cast<unsigned char>(input[0]) : 0u, keywords);
  return 0;
}
