// config: see config.h. Boost.ProgramOptions does the INI parsing and
// rejects unknown keys; this file adds line numbers and value checks.
#include "ldapmda/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <map>
#include <sstream>
#include <utility>

#include "ldapmda/escape.h"
#include "ldapmda/ldap_syntax.h"
#include "ldapmda/text.h"

namespace po = boost::program_options;

namespace ldapmda {
namespace {

// One key's setter: parses the text into `config` or returns what is wrong.
using Setter = std::function<std::string(Config&, const std::string&)>;

std::string Trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::string SetBool(bool& field, const std::string& v) {
  const std::string s = AsciiLower(v);
  if (s == "yes" || s == "true" || s == "on" || s == "1") {
    field = true;
  } else if (s == "no" || s == "false" || s == "off" || s == "0") {
    field = false;
  } else {
    return "expected yes or no";
  }
  return "";
}

// One of a fixed set of words (case-insensitive).
template <typename E>
std::string SetChoice(E& field, const std::string& v,
                      std::initializer_list<std::pair<const char*, E>> words) {
  const std::string s = AsciiLower(v);
  std::string expected;
  for (const auto& [word, value] : words) {
    if (s == word) {
      field = value;
      return "";
    }
    expected += (expected.empty() ? "" : ", ") + std::string(word);
  }
  return "expected one of " + expected;
}

// Seconds, decimals allowed ("0.5"), optional "s" suffix.
std::string SetSeconds(std::chrono::milliseconds& field, const std::string& v,
                       double max_seconds) {
  std::string s = v;
  if (!s.empty() && s.back() == 's') s.pop_back();
  double seconds = 0;
  const auto [end, ec] =
      std::from_chars(s.data(), s.data() + s.size(), seconds);
  if (ec != std::errc() || end != s.data() + s.size() || !(seconds > 0) ||
      seconds > max_seconds) {
    return "expected seconds, more than 0 and at most " +
           std::to_string(static_cast<int>(max_seconds));
  }
  field = std::chrono::milliseconds(std::llround(seconds * 1000));
  if (field.count() == 0) field = std::chrono::milliseconds(1);
  return "";
}

// A whole number from `min` to `max`; `unit` ("bytes") names it in the
// error.
std::string SetCount(std::size_t& field, const std::string& v, std::size_t min,
                     std::size_t max, const std::string& unit = "") {
  std::size_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n < min || n > max) {
    return "expected " + (unit.empty() ? "" : unit + ", ") +
           std::to_string(min) + " to " + std::to_string(max);
  }
  field = n;
  return "";
}

std::string SetUris(std::vector<std::string>& field, const std::string& v) {
  std::vector<std::string> uris;
  std::string item;
  std::istringstream in(v);
  while (in >> item) {
    while (!item.empty() && item.back() == ',') item.pop_back();
    if (item.empty()) continue;
    // Postfix ldap_table also accepts bare host[:port].
    if (item.find("://") == std::string::npos) item = "ldap://" + item;
    if (!IsLdapUri(item)) return "not an LDAP URI: " + item;
    uris.push_back(item);
  }
  if (uris.empty()) return "expected one or more LDAP URIs";
  field = std::move(uris);
  return "";
}

std::string CheckDn(const std::string& v) {
  return IsValidDn(v) ? "" : "not a valid DN";
}

// Words separated by white space or commas.
std::vector<std::string> SplitList(const std::string& v) {
  std::vector<std::string> out;
  std::string word;
  for (char ch : v + " ") {
    if (ch == ' ' || ch == '\t' || ch == ',') {
      if (!word.empty()) out.push_back(word);
      word.clear();
    } else {
      word += ch;
    }
  }
  return out;
}

// An attribute description as RFC 4512 allows: a name or an OID.
std::string CheckAttributeName(const std::string& v) {
  if (v.empty()) return "";
  for (char ch : v) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' &&
        ch != '.' && ch != ';') {
      return "not an attribute name";
    }
  }
  return "";
}

// Two different printable ASCII characters, neither a letter, digit or
// @: the VERP form of Postfix's verp_delimiter_filter, e.g. "+=".
std::string CheckVerpDelimiters(const std::string& v) {
  if (v.empty()) return "";
  if (v.size() != 2 || v[0] == v[1]) {
    return "two different characters, e.g. +=";
  }
  for (char ch : v) {
    const auto u = static_cast<unsigned char>(ch);
    if (u <= 0x20 || u >= 0x7F || ch == '@' || std::isalnum(u)) {
      return "delimiters must be printable ASCII punctuation, not @";
    }
  }
  return "";
}

const std::map<std::string, Setter>& Setters() {
  static const std::map<std::string, Setter> setters = {
      {"server_host",
       [](Config& c, const std::string& v) {
         return SetUris(c.server_host, v);
       }},
      {"store_host",
       [](Config& c, const std::string& v) {
         return SetUris(c.store_host, v);
       }},
      {"search_host",
       [](Config& c, const std::string& v) {
         return SetUris(c.search_host, v);
       }},
      {"confirm_host",
       [](Config& c, const std::string& v) {
         return SetUris(c.confirm_host, v);
       }},
      {"confirm_count",
       [](Config& c, const std::string& v) {
         return SetCount(c.confirm_count, v, 1, 100);
       }},
      {"confirm_timeout",
       [](Config& c, const std::string& v) {
         return SetSeconds(c.confirm_timeout, v, 900);
       }},
      {"search_base",
       [](Config& c, const std::string& v) {
         c.search_base = v;
         return v.empty() ? std::string("must not be empty") : CheckDn(v);
       }},
      {"scope",
       [](Config& c, const std::string& v) {
         return SetChoice(c.scope, v,
                          {{"sub", Scope::kSub},
                           {"one", Scope::kOne},
                           {"base", Scope::kBase}});
       }},
      {"query_filter",
       [](Config& c, const std::string& v) {
         c.query_filter = v;
         return ValidateQueryFilter(v);
       }},
      {"bind",
       [](Config& c, const std::string& v) {
         // yes and no are Postfix ldap_table's spellings.
         return SetChoice(c.bind, v,
                          {{"none", BindMethod::kNone},
                           {"simple", BindMethod::kSimple},
                           {"sasl", BindMethod::kSasl},
                           {"no", BindMethod::kNone},
                           {"yes", BindMethod::kSimple}});
       }},
      {"bind_dn",
       [](Config& c, const std::string& v) {
         c.bind_dn = v;
         return v.empty() ? std::string() : CheckDn(v);
       }},
      {"bind_pw_file",
       [](Config& c, const std::string& v) {
         c.bind_pw_file = v;
         return std::string();
       }},
      {"sasl_mech",
       [](Config& c, const std::string& v) {
         c.sasl_mech = v;
         return v.empty() ? std::string("must not be empty") : std::string();
       }},
      {"start_tls",
       [](Config& c, const std::string& v) { return SetBool(c.start_tls, v); }},
      {"tls_ca_cert_file",
       [](Config& c, const std::string& v) {
         c.tls_ca_cert_file = v;
         return std::string();
       }},
      {"tls_require_cert",
       [](Config& c, const std::string& v) {
         // yes and no as in Postfix, the rest as in ldap.conf(5).
         return SetChoice(c.tls_require_cert, v,
                          {{"yes", TlsRequireCert::kDemand},
                           {"no", TlsRequireCert::kNever},
                           {"never", TlsRequireCert::kNever},
                           {"allow", TlsRequireCert::kAllow},
                           {"try", TlsRequireCert::kTry},
                           {"demand", TlsRequireCert::kDemand},
                           {"hard", TlsRequireCert::kDemand}});
       }},
      {"timeout",
       [](Config& c, const std::string& v) {
         return SetSeconds(c.timeout, v, 3600);
       }},
      {"version",
       [](Config& c, const std::string& v) {
         c.version = 3;
         return v == "3" ? std::string()
                         : std::string("only LDAP version 3 is supported");
       }},
      {"recipient_delimiter",
       [](Config& c, const std::string& v) {
         c.recipient_delimiter = v;
         for (char ch : v) {
           const auto u = static_cast<unsigned char>(ch);
           if (u <= 0x20 || u >= 0x7F || ch == '@') {
             return std::string("delimiters must be printable ASCII, not @");
           }
         }
         return std::string();
       }},
      {"extension_folder",
       [](Config& c, const std::string& v) {
         return SetBool(c.extension_folder, v);
       }},
      {"verp_delimiters",
       [](Config& c, const std::string& v) {
         c.verp_delimiters = v;
         return CheckVerpDelimiters(v);
       }},
      {"catchall_query_filter",
       [](Config& c, const std::string& v) {
         c.catchall_query_filter = v;
         return ValidateQueryFilter(v, /*need_local_part=*/false);
       }},
      {"account_status_attribute",
       [](Config& c, const std::string& v) {
         c.account_status_attribute = v;
         return CheckAttributeName(v);
       }},
      {"account_disabled_values",
       [](Config& c, const std::string& v) {
         c.account_disabled_values = SplitList(v);
         return c.account_disabled_values.empty()
                    ? std::string("expected one or more values")
                    : std::string();
       }},
      {"quota_attribute",
       [](Config& c, const std::string& v) {
         c.quota_attribute = v;
         return CheckAttributeName(v);
       }},
      {"quota_full_tempfail",
       [](Config& c, const std::string& v) {
         return SetBool(c.quota_full_tempfail, v);
       }},
      {"lmtp_timeout",
       [](Config& c, const std::string& v) {
         return SetSeconds(c.lmtp_timeout, v, 3600);
       }},
      {"lmtp_lookup_cache",
       [](Config& c, const std::string& v) {
         if (v == "0") {
           c.lmtp_lookup_cache = std::chrono::milliseconds(0);
           return std::string();
         }
         return SetSeconds(c.lmtp_lookup_cache, v, 60);
       }},
      {"lmtp_max_recipients",
       [](Config& c, const std::string& v) {
         // RFC 5321 4.5.3.1.8: at least 100 recipients must be taken.
         return SetCount(c.lmtp_max_recipients, v, 100, 100000);
       }},
      {"mailbox_dn",
       [](Config& c, const std::string& v) {
         c.mailbox_dn = v;
         return ValidateMailboxDn(v);
       }},
      {"max_message_size",
       [](Config& c, const std::string& v) {
         return SetCount(c.max_message_size, v, 1, std::size_t{1} << 31,
                         "bytes");
       }},
      {"deadline",
       [](Config& c, const std::string& v) {
         // Postfix bounces at command_time_limit (default 1000 s).
         return SetSeconds(c.deadline, v, 900);
       }},
      {"log",
       [](Config& c, const std::string& v) {
         return SetChoice(
             c.log, v,
             {{"syslog", LogTarget::kSyslog}, {"stderr", LogTarget::kStderr}});
       }},
  };
  return setters;
}

po::options_description Description() {
  po::options_description desc;
  for (const auto& [name, setter] : Setters()) {
    desc.add_options()(name.c_str(), po::value<std::string>());
  }
  return desc;
}

// Line number of each key's first occurrence, for error messages.
std::map<std::string, int> KeyLines(const std::string& text) {
  std::map<std::string, int> lines;
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = Trim(line.substr(0, eq));
    if (!key.empty() && key[0] != '#') lines.emplace(key, n);
  }
  return lines;
}

// The number of the first line Boost's config parser refuses: neither
// empty, nor a comment, nor a [section], nor "key = value". 0 if none.
int FirstLineWithoutKey(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const std::string content = Trim(line.substr(0, line.find('#')));
    if (content.empty() || (content.front() == '[' && content.back() == ']')) {
      continue;
    }
    if (content.find('=') == std::string::npos) return n;
  }
  return 0;
}

// Where a value came from: "FILE:LINE" or "-o KEY=...".
struct Setting {
  std::string value;
  std::string origin;
};

// Parses `text` into `settings`. `origin` names it in errors, with line
// numbers when `number_lines` (a file, not an -o option).
void ParseInto(const std::string& text, const std::string& origin,
               bool number_lines, std::map<std::string, Setting>& settings) {
  const std::map<std::string, int> lines =
      number_lines ? KeyLines(text) : std::map<std::string, int>();
  const auto where = [&](const std::string& key) {
    const auto it = lines.find(key);
    return it == lines.end() ? origin
                             : origin + ":" + std::to_string(it->second);
  };
  po::parsed_options parsed(nullptr);
  try {
    std::istringstream in(text);
    parsed = po::parse_config_file(in, Description(), false);
  } catch (const po::unknown_option& e) {
    throw ConfigError(where(e.get_option_name()) + ": unknown key \"" +
                      e.get_option_name() + "\"");
  } catch (const po::error&) {
    // Not e.what(): Boost 1.74 substitutes the offending line into its
    // message template and loops forever when the line itself contains a
    // placeholder such as "%invalid_line%" (found by fuzz_config).
    const int bad = number_lines ? FirstLineWithoutKey(text) : 0;
    throw ConfigError(origin + (bad > 0 ? ":" + std::to_string(bad) : "") +
                      ": expected \"key = value\", a comment or an empty "
                      "line");
  }
  std::map<std::string, int> seen;
  for (const auto& opt : parsed.options) {
    if (++seen[opt.string_key] > 1) {
      throw ConfigError(where(opt.string_key) + ": key \"" + opt.string_key +
                        "\" is set more than once");
    }
    std::string value = opt.value.empty() ? "" : Trim(opt.value.front());
    // Every value ends up in a C string (a DN, a URI, a file name, a
    // filter): a NUL or other control byte would make what was checked
    // differ from what is used.
    for (const char c : value) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) {
        throw ConfigError(where(opt.string_key) + ": " + opt.string_key +
                          ": control character in the value");
      }
    }
    settings[opt.string_key] = {std::move(value), where(opt.string_key)};
  }
}

}  // namespace

Config LoadConfig(const std::string& path,
                  const std::vector<std::string>& overrides) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw ConfigError(path + ": cannot open: " + std::strerror(errno));
  }
  std::stringstream text;
  text << file.rdbuf();
  const std::string contents = text.str();

  std::map<std::string, Setting> settings;
  ParseInto(contents, path, true, settings);
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos) {
      throw ConfigError("-o " + o + ": expected key=value");
    }
    ParseInto(o + "\n", "-o " + o.substr(0, eq) + "=...", false, settings);
  }

  Config config;
  for (const auto& [key, setting] : settings) {
    const std::string problem = Setters().at(key)(config, setting.value);
    if (!problem.empty()) {
      throw ConfigError(setting.origin + ": " + key + ": " + problem);
    }
  }
  if (config.search_base.empty()) {
    throw ConfigError(path + ": search_base is required");
  }
  if (config.confirm_count > 0 &&
      config.confirm_count > config.confirm_host.size()) {
    throw ConfigError(
        settings.at("confirm_count").origin +
        ": confirm_count = " + std::to_string(config.confirm_count) +
        " needs that many replicas in "
        "confirm_host, which lists " +
        std::to_string(config.confirm_host.size()));
  }
  if (!config.confirm_host.empty() &&
      config.confirm_timeout >= config.deadline) {
    throw ConfigError(path +
                      ": confirm_timeout must be shorter than "
                      "deadline (the store comes first)");
  }
  if (!config.verp_delimiters.empty() && !config.recipient_delimiter.empty() &&
      config.recipient_delimiter.find(config.verp_delimiters[0]) ==
          std::string::npos) {
    throw ConfigError(settings.at("verp_delimiters").origin +
                      ": the first of verp_delimiters must be one of "
                      "recipient_delimiter (" +
                      config.recipient_delimiter + ")");
  }
  if (config.bind == BindMethod::kSimple &&
      (config.bind_dn.empty() || config.bind_pw_file.empty())) {
    throw ConfigError(path + ": bind = simple needs bind_dn and bind_pw_file");
  }
  return config;
}

std::vector<std::string> ConfigKeys() {
  std::vector<std::string> keys;
  for (const auto& [name, setter] : Setters()) keys.push_back(name);
  return keys;
}

std::string ReadPasswordFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw ConfigError("bind_pw_file " + path +
                      ": cannot open: " + std::strerror(errno));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { close(fd); }
  } closer{fd};
  // As ssh refuses a private key others can read: a password that every
  // local user could read or replace is not a secret any more.
  struct stat st {};
  if (fstat(fd, &st) != 0 ||
      (st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o",
                  static_cast<unsigned>(st.st_mode & 07777));
    throw ConfigError("bind_pw_file " + path + " has mode " + mode +
                      ": others may read or change it; chmod 0600 (or 0640 "
                      "with the pipe(8) user's group)");
  }
  std::string data(4096, '\0');
  const ssize_t n = read(fd, data.data(), data.size());
  if (n < 0) {
    throw ConfigError("bind_pw_file " + path +
                      ": cannot read: " + std::strerror(errno));
  }
  data.resize(static_cast<std::size_t>(n));
  std::string line = data.substr(0, data.find('\n'));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) throw ConfigError("bind_pw_file " + path + ": empty");
  return line;
}

}  // namespace ldapmda
