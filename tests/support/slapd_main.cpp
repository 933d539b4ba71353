// slapd_main: ldapmda-test-slapd, the command-line front end of
// SlapdServer, so that bench/run and scripts/demo start their slapd the
// way the tests do. It starts a throwaway slapd (or the two-provider
// pair), prints how to reach it on stdout, as shell assignments or one
// JSON object, and closes stdout: a caller reads to the end and has
// everything, or nothing if the start failed (the reason and slapd's log
// are on stderr, exit 1). It then waits for SIGTERM, SIGINT or SIGHUP,
// also sent when the process that started it exits (PR_SET_PDEATHSIG),
// stops slapd and removes its temporary directory. If slapd dies on its
// own meanwhile, it says so on stderr and exits 1.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "support/dovecot_server.h"
#include "support/process.h"
#include "support/slapd_server.h"

namespace ldapmda::testing {
namespace {

constexpr char kUsage[] =
    R"(Usage: ldapmda-test-slapd [OPTION]...
Starts a throwaway slapd on 127.0.0.1 at a free port, with an ldapi socket,
in a new temporary directory (below $TMPDIR), with the project schema and
the sample data of the tests (dc=example,dc=com: the service DN and the
users alice, bob and carol@example.com). Prints how to reach it, then keeps
it running until SIGTERM, SIGINT or SIGHUP, or until its parent exits;
then stops slapd and removes the directory.

  --config standalone  a generated slapd.conf, as the tests use (default)
  --config shipped     conf/slapd.conf: its limits, indexes and ACLs; only
                       the paths and a rootdn differ
  --config pair        nodes 1 and 2 of conf/slapd-multiprovider.conf; the
                       data goes to node 1, node 2 replicates it
  --config replica     the pair, and the search replica of
                       conf/slapd-replica.conf consuming from both; returns
                       once the replica has the data
  --fsync              back-mdb syncs every commit (standalone: without
                       dbnosync; the shipped files: fail if they set it)
  --provider-nosync    pair and replica: uncomment the providers' #dbnosync
                       and #checkpoint lines (the documented trade-off)
  --indexes-from FILE  shipped: the "index" lines of FILE (a slapd.conf)
                       replace those of conf/slapd.conf
  --private            random passwords, stored as {SSHA} hashes; with
                       standalone, anonymous may read nothing
  --ldif FILE          also add FILE as the rootdn after the sample data
                       (repeatable)
  --debug-level LEVEL  slapd -d (default none: fatal errors only; stats:
                       every operation), into the log
  --keep               leave the temporary directory behind
  --json               print one JSON object instead of shell assignments
  --dovecot            also start a Dovecot from conf/dovecot-ldapmda.conf
                       with the plugin this build made (needs root), which
                       serves node 1's mailboxes over IMAP and POP3
  --dovecot-maildir    also start a Dovecot from the same file with
                       Dovecot's own maildir driver instead (mail under its
                       directory's maildir/%u): the reference bench/run
                       compares the driver with

Printed (shell: SLAPD_URI='...', JSON: "uri": "..."): uri, port,
ldapi_uri, ldapi_path, pid, dir, log (slapd's output), and node2_ the same
for the pair's node 2 and replica_ for the search replica; suffix, people_dn, admin_dn, admin_password,
admin_pw_file, service_dn, service_password, service_pw_file (the password
files are mode 0600 and have no line end, for ldapadd -y and ldapmda's
bind_pw_file); replicator_dn and replicator_password for the pair and the replica;
alice_password, bob_password and carol_password, the sample users'
userPasswords (their IMAP and POP3 logins);
with --dovecot, dovecot_imap_port, dovecot_pop3_port, dovecot_dir and
dovecot_config; with --dovecot-maildir, maildir_ the same;
launcher_pid, this process, to send SIGTERM to.
)";

struct Args {
  std::string config = "standalone";
  bool fsync = false;
  bool provider_nosync = false;
  std::string indexes_from;
  bool private_server = false;
  std::vector<std::string> ldif_files;
  std::string debug_level = "none";
  bool keep = false;
  bool json = false;
  bool dovecot = false;
  bool dovecot_maildir = false;
};

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

Args ParseArgs(const std::vector<std::string>& argv) {
  Args args;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 == argv.size()) throw UsageError(a + " needs a value");
      return argv[++i];
    };
    if (a == "--config") {
      args.config = value();
      if (args.config != "standalone" && args.config != "shipped" &&
          args.config != "pair" && args.config != "replica") {
        throw UsageError("--config: standalone, shipped, pair or replica");
      }
    } else if (a == "--fsync") {
      args.fsync = true;
    } else if (a == "--provider-nosync") {
      args.provider_nosync = true;
    } else if (a == "--indexes-from") {
      args.indexes_from = value();
    } else if (a == "--private") {
      args.private_server = true;
    } else if (a == "--ldif") {
      args.ldif_files.push_back(value());
    } else if (a == "--debug-level") {
      args.debug_level = value();
    } else if (a == "--keep") {
      args.keep = true;
    } else if (a == "--json") {
      args.json = true;
    } else if (a == "--dovecot") {
      args.dovecot = true;
    } else if (a == "--dovecot-maildir") {
      args.dovecot_maildir = true;
    } else {
      throw UsageError("unknown argument " + a);
    }
  }
  const bool providers = args.config == "pair" || args.config == "replica";
  if (args.provider_nosync && (!providers || args.fsync)) {
    throw UsageError(
        "--provider-nosync: with pair or replica, without --fsync");
  }
  if (!args.indexes_from.empty() && args.config != "shipped") {
    throw UsageError("--indexes-from: with --config shipped only");
  }
  return args;
}

// The "index" lines of a slapd.conf.
std::vector<std::string> IndexLines(const std::string& file) {
  static const std::regex kIndex(R"(^index\s.*$)", std::regex::multiline);
  const std::string text = ReadFile(file);
  std::vector<std::string> lines;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kIndex);
       it != std::sregex_iterator(); ++it) {
    lines.push_back(it->str());
  }
  if (lines.empty()) throw std::runtime_error(file + " has no index lines");
  return lines;
}

// 24 hex digits from getrandom(2).
std::string RandomPassword() {
  unsigned char bytes[12];
  if (getrandom(bytes, sizeof bytes, 0) != sizeof bytes) {
    throw std::runtime_error("getrandom failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

SlapdOptions Options(const Args& args) {
  SlapdOptions o;
  if (args.config == "shipped") o.mode = SlapdMode::kShipped;
  o.dbnosync = !args.fsync;
  if (!args.indexes_from.empty()) o.index_lines = IndexLines(args.indexes_from);
  if (args.private_server) {
    o.admin_password = RandomPassword();
    o.service_password = RandomPassword();
    o.replicator_password = RandomPassword();
    o.hash_passwords = true;
    o.anonymous_read = false;
  }
  for (const std::string& file : args.ldif_files) {
    o.extra_ldif.push_back(ReadFile(file));
  }
  o.debug_level = args.debug_level;
  o.keep_dir = args.keep;
  return o;
}

// --fsync with the shipped files: they decide, so check what they say.
void CheckFsync(const SlapdServer& server) {
  static const std::regex kNoSync(R"(^\s*dbnosync\b)",
                                  std::regex::multiline | std::regex::icase);
  const std::string conf = server.dir() + "/slapd.conf";
  if (std::regex_search(ReadFile(conf), kNoSync)) {
    throw std::runtime_error(conf + " sets dbnosync: no fsync");
  }
}

// Waits until `replica` has what `node1` was loaded with (the last sample
// entry; the extra LDIF is the caller's to wait for).
void WaitForData(const SlapdServer& node1, const SlapdServer& replica) {
  const std::string dn = node1.replicator_dn();
  if (!replica.WaitForEntry(dn, std::chrono::seconds(60), {"cn"})) {
    throw std::runtime_error("the search replica did not replicate " + dn +
                             " within 60 s\n--- " + replica.log_path() +
                             " ---\n" + replica.log());
  }
}

// What is printed, in this order.
struct Field {
  std::string name;
  std::string value;
  bool number = false;  // a JSON number, not a string
};
using Fields = std::vector<Field>;

void AddServer(Fields& fields, const std::string& prefix,
               const SlapdServer& s) {
  fields.insert(fields.end(),
                {{prefix + "uri", s.uri()},
                 {prefix + "port", std::to_string(s.port()), true},
                 {prefix + "ldapi_uri", s.ldapi_uri()},
                 {prefix + "ldapi_path", s.ldapi_path()},
                 {prefix + "pid", std::to_string(s.pid()), true},
                 {prefix + "dir", s.dir()},
                 {prefix + "log", s.log_path()}});
}

// Writes the password files into node 1's directory.
Fields Describe(const SlapdServer& node1, const SlapdServer* node2,
                const SlapdServer* replica) {
  const std::string admin_pw_file = node1.dir() + "/admin.pw";
  const std::string service_pw_file = node1.dir() + "/service.pw";
  WriteFile(admin_pw_file, node1.admin_password(), 0600);
  WriteFile(service_pw_file, node1.service_password(), 0600);
  Fields fields;
  AddServer(fields, "", node1);
  if (node2 != nullptr) AddServer(fields, "node2_", *node2);
  if (replica != nullptr) AddServer(fields, "replica_", *replica);
  fields.insert(fields.end(), {{"suffix", node1.suffix()},
                               {"people_dn", node1.people_dn()},
                               {"admin_dn", node1.admin_dn()},
                               {"admin_password", node1.admin_password()},
                               {"admin_pw_file", admin_pw_file},
                               {"service_dn", node1.service_dn()},
                               {"service_password", node1.service_password()},
                               {"service_pw_file", service_pw_file}});
  if (node2 != nullptr) {
    fields.insert(fields.end(),
                  {{"replicator_dn", node1.replicator_dn()},
                   {"replicator_password", node1.replicator_password()}});
  }
  for (const char* uid : {"alice", "bob", "carol"}) {
    fields.push_back(
        {std::string(uid) + "_password", SlapdServer::UserPassword(uid)});
  }
  return fields;
}

void AddDovecot(Fields& fields, const std::string& prefix,
                const DovecotServer& d) {
  fields.insert(fields.end(),
                {{prefix + "imap_port", std::to_string(d.imap_port()), true},
                 {prefix + "pop3_port", std::to_string(d.pop3_port()), true},
                 {prefix + "dir", d.base_dir()},
                 {prefix + "config", d.config_path()}});
}

std::string ShellQuoted(const std::string& s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'') {
      out += "'\\''";  // end the quote, a quoted ', quote again
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string JsonQuoted(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Render(const Fields& fields, bool json) {
  std::string out;
  for (const auto& [name, value, number] : fields) {
    if (json) {
      out += (out.empty() ? "{" : ", ") + JsonQuoted(name) + ": " +
             (number ? value : JsonQuoted(value));
    } else {
      std::string upper;
      for (const char c : name) upper += static_cast<char>(std::toupper(c));
      out += "SLAPD_" + upper + "=" + ShellQuoted(value) + "\n";
    }
  }
  return json ? out + "}\n" : out;
}

// Prints, then points stdout at /dev/null: the reader sees the end.
void Publish(const std::string& text) {
  std::cout << text << std::flush;
  if (!std::cout) throw std::runtime_error("cannot write to stdout");
  const UniqueFd null_fd(open("/dev/null", O_WRONLY | O_CLOEXEC));
  if (!null_fd.valid() || dup2(null_fd.get(), STDOUT_FILENO) < 0) {
    throw std::runtime_error("cannot close stdout");
  }
}

// Whether `server`'s slapd has exited; leaves it for Stop() to reap.
bool Exited(const SlapdServer& server) {
  siginfo_t info{};
  return waitid(P_PID, static_cast<id_t>(server.pid()), &info,
                WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid != 0;
}

// Until a termination signal (0), or until a slapd exits (1).
int Wait(int signal_fd, const std::vector<const SlapdServer*>& servers) {
  for (;;) {
    signalfd_siginfo si{};
    const ssize_t n = read(signal_fd, &si, sizeof si);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof si)) {
      throw std::runtime_error("reading the signalfd failed");
    }
    if (si.ssi_signo != SIGCHLD) return 0;
    for (const SlapdServer* s : servers) {
      if (Exited(*s)) {
        std::cerr << "ldapmda-test-slapd: slapd (pid " << s->pid()
                  << ") exited\n--- " << s->log_path() << " ---\n"
                  << s->log();
        return 1;
      }
    }
  }
}

int Main(const std::vector<std::string>& argv) {
  // The caller's exit ends us too, as SIGTERM.
  const pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) return 1;
  // Blocked before anything starts: a signal during the start waits.
  const UniqueFd signals = BlockTerminationSignals({SIGCHLD});
  const Args args = ParseArgs(argv);
  const SlapdOptions options = Options(args);
  std::unique_ptr<SlapdServer> node1;
  std::unique_ptr<SlapdServer> node2;
  std::unique_ptr<SlapdServer> replica;
  if (args.config == "pair" || args.config == "replica") {
    SlapdOptions first = options;
    first.provider_nosync = args.provider_nosync;
    SlapdOptions second = first;
    second.load_sample_data = false;
    second.extra_ldif.clear();
    ProviderPair pair = StartProviderPair(first, second);
    if (args.config == "replica") {
      SlapdOptions third = options;
      third.load_sample_data = false;
      third.extra_ldif.clear();
      replica = StartSearchReplica(pair, third);
      WaitForData(*pair.node1, *replica);
    }
    node1 = std::move(pair.node1);
    node2 = std::move(pair.node2);
  } else {
    node1 = std::make_unique<SlapdServer>(options);
  }
  std::vector<const SlapdServer*> servers = {node1.get()};
  if (node2) servers.push_back(node2.get());
  if (replica) servers.push_back(replica.get());
  if (args.fsync && args.config != "standalone") {
    for (const SlapdServer* s : servers) CheckFsync(*s);
  }
  std::unique_ptr<DovecotServer> dovecot;
  std::unique_ptr<DovecotServer> maildir;
  Fields fields = Describe(*node1, node2.get(), replica.get());
  if (args.dovecot) {
    dovecot = std::make_unique<DovecotServer>(*node1);
    AddDovecot(fields, "dovecot_", *dovecot);
  }
  if (args.dovecot_maildir) {
    DovecotOptions reference;
    reference.mail_location = "maildir:@BASE_DIR@/maildir/%u";
    maildir = std::make_unique<DovecotServer>(*node1, reference);
    AddDovecot(fields, "maildir_", *maildir);
  }
  fields.push_back({"launcher_pid", std::to_string(getpid()), true});
  Publish(Render(fields, args.json));
  return Wait(signals.get(), servers);
}

}  // namespace
}  // namespace ldapmda::testing

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << ldapmda::testing::kUsage;
    return 0;
  }
  try {
    return ldapmda::testing::Main(args);
  } catch (const ldapmda::testing::UsageError& e) {
    std::cerr << "ldapmda-test-slapd: " << e.what() << "\n"
              << ldapmda::testing::kUsage;
    return 64;
  } catch (const std::exception& e) {
    std::cerr << "ldapmda-test-slapd: " << e.what() << "\n";
    return 1;
  }
}
