// A scripted Directory for unit tests of pure delivery logic (the real
// thing, against slapd, is tested in integration_test.cpp).
#ifndef LDAPMDA_TESTS_CORE_FAKE_DIRECTORY_H_
#define LDAPMDA_TESTS_CORE_FAKE_DIRECTORY_H_

#include <ldap.h>

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "ldap/ldap_directory.h"
#include "ldapmda/directory.h"

namespace ldapmda::testing {

// Scripted directory: search results and add codes (LDAP result codes,
// turned into DirResults by src/ldap's LdapResult) are queued by the test;
// every request is recorded.
class FakeDirectory : public Directory {
 public:
  // Subtree searches answer `search_entries` (or, when set, the entries
  // of `by_filter` for that filter); base searches read `entries_by_dn`.
  DirResult Search(const SearchRequest& request,
                   std::vector<Entry>* entries) override {
    searches.push_back(request);
    entries->clear();
    if (request.scope == Scope::kBase) {
      if (base_search_code != LDAP_SUCCESS) {
        return LdapResult(base_search_code);
      }
      const auto it = entries_by_dn.find(request.base);
      if (it == entries_by_dn.end()) return LdapResult(LDAP_NO_SUCH_OBJECT);
      entries->push_back(it->second);
      return {};
    }
    if (!by_filter.empty()) {
      const auto it = by_filter.find(request.filter);
      if (it != by_filter.end()) *entries = it->second;
      return LdapResult(search_code);
    }
    *entries = search_entries;
    return LdapResult(search_code);
  }
  // Counts the calls; answers as Search() does, one after another.
  DirResult SearchMany(const std::vector<SearchRequest>& requests,
                       std::vector<std::vector<Entry>>* entries,
                       std::vector<DirResult>* results) override {
    ++search_many_calls;
    return Directory::SearchMany(requests, entries, results);
  }
  DirResult Delete(const std::string& dn) override {
    deleted.push_back(dn);
    return {};
  }
  DirResult ModifyPermissive(
      const std::string& dn,
      const std::vector<Modification>& changes) override {
    return Modify(dn, changes);
  }
  DirResult Move(const std::string& dn, const std::string& parent) override {
    moved.push_back({dn, parent});
    return {};
  }
  DirResult Modify(const std::string& dn,
                   const std::vector<Modification>& changes) override {
    modified.push_back(dn);
    last_changes = changes;
    return LdapResult(modify_code);
  }
  DirResult Add(const std::string& dn,
                const std::vector<AttributeView>& attributes) override {
    added.push_back(dn);
    auto& copy = last_attributes[dn];  // the views die with the call
    copy.clear();
    for (const auto& a : attributes) {
      copy.push_back({a.name, {a.values.begin(), a.values.end()}});
    }
    if (add_codes.empty()) return {};
    const int code = add_codes.front();
    add_codes.pop_front();
    return LdapResult(code);
  }

  std::vector<Entry> search_entries = {{"uid=alice,dc=x", {}}};
  std::map<std::string, std::vector<Entry>> by_filter;
  std::map<std::string, Entry> entries_by_dn;
  int search_code = LDAP_SUCCESS;
  int base_search_code = LDAP_SUCCESS;  // not success: every base search
  int modify_code = LDAP_SUCCESS;
  std::vector<std::string> modified;
  std::vector<std::string> deleted;
  std::vector<std::pair<std::string, std::string>> moved;
  std::vector<Modification> last_changes;
  std::deque<int> add_codes;
  std::vector<SearchRequest> searches;
  int search_many_calls = 0;
  std::vector<std::string> added;
  std::map<std::string, std::vector<Attribute>> last_attributes;
};

}  // namespace ldapmda::testing

#endif  // LDAPMDA_TESTS_CORE_FAKE_DIRECTORY_H_
