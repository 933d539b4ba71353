// dovecot_server: see dovecot_server.h. Runs "dovecot -F -c FILE" (the
// master stays in the foreground, our child, in its own process group)
// with its own output in dovecot.out; Dovecot itself logs to dovecot.log.
#include "support/dovecot_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#ifndef LDAPMDA_SOURCE_DIR
#error "LDAPMDA_SOURCE_DIR must be defined as the source tree's root"
#endif
#ifndef LDAPMDA_DOVECOT_MODULE_DIR
#error "LDAPMDA_DOVECOT_MODULE_DIR must name the plugin's build directory"
#endif

namespace ldapmda::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kDovecot[] = "/usr/sbin/dovecot";
constexpr char kDoveadm[] = "/usr/bin/doveadm";
constexpr char kPgrep[] = "/usr/bin/pgrep";
constexpr char kShippedConf[] = LDAPMDA_SOURCE_DIR "/conf/dovecot-ldapmda.conf";
constexpr char kShippedExt[] =
    LDAPMDA_SOURCE_DIR "/conf/dovecot-ldapmda-ldap.conf.ext";
constexpr char kExtName[] = "dovecot-ldapmda-ldap.conf.ext";
constexpr char kPlugin[] = "lib20_ldapmda_plugin.so";
// The mail processes' user (mail_uid in the shipped file).
constexpr char kMailUser[] = "nobody";
constexpr std::chrono::seconds kStartTimeout(30);
constexpr std::chrono::seconds kStopTimeout(15);
constexpr int kStartAttempts = 3;

// Replaces every `from` in `text`; throws when there is none, so that a
// change of the shipped file cannot go unnoticed.
void Substitute(std::string& text, const std::string& from,
                const std::string& to, const std::string& file) {
  std::size_t pos = text.find(from);
  if (pos == std::string::npos) {
    throw std::runtime_error(file + " no longer contains " + from +
                             ": adapt tests/support/dovecot_server.cpp");
  }
  for (; pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
}

// Throws when `text` still holds a placeholder nobody replaced.
void CheckSubstituted(const std::string& text, const std::string& file) {
  std::smatch m;
  if (std::regex_search(text, m, std::regex("@[A-Z_]+@"))) {
    throw std::runtime_error(file +
                             " has a placeholder the tests do not "
                             "know: " +
                             m.str());
  }
}

// True when a server on 127.0.0.1:`port` sends a first line starting with
// `greeting` within `timeout`.
bool Greets(int port, const std::string& greeting,
            std::chrono::milliseconds timeout) {
  const UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(0x7F000001U);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (!fd.valid() || connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr),
                             sizeof addr) != 0) {
    return false;
  }
  std::string line;
  const auto deadline = Clock::now() + timeout;
  while (line.find('\n') == std::string::npos && Clock::now() < deadline) {
    pollfd p{fd.get(), POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[256];
    const ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n <= 0) return false;
    line.append(buf, static_cast<std::size_t>(n));
  }
  return line.rfind(greeting, 0) == 0;
}

passwd MailUser() {
  const passwd* pw = getpwnam(kMailUser);
  if (pw == nullptr) {
    throw std::runtime_error(std::string("DovecotServer: no user ") +
                             kMailUser + " for the mail processes");
  }
  return *pw;
}

void Chown(const std::string& path, const passwd& who) {
  if (chown(path.c_str(), who.pw_uid, who.pw_gid) != 0) {
    throw std::runtime_error("chown " + path + ": " +
                             std::system_category().message(errno));
  }
}

}  // namespace

DovecotServer::DovecotServer(const SlapdServer& slapd, DovecotOptions options)
    : slapd_(slapd), options_(std::move(options)) {
  if (options_.module_dir.empty()) {
    options_.module_dir = LDAPMDA_DOVECOT_MODULE_DIR;
  }
  if (options_.bind_dn.empty()) options_.bind_dn = slapd_.dovecot_dn();
  if (options_.bind_password.empty()) {
    options_.bind_password = slapd_.dovecot_password();
  }
  const std::string plugin = options_.module_dir + "/" + kPlugin;
  if (access(plugin.c_str(), R_OK) != 0) {
    throw std::runtime_error("DovecotServer: the storage plugin " + plugin +
                             " is missing (build the ldapmda_dovecot target)");
  }
  if (access(kDovecot, X_OK) != 0) {
    throw std::runtime_error(std::string("DovecotServer: ") + kDovecot +
                             " is missing (install dovecot-imapd and "
                             "dovecot-pop3d)");
  }
  WriteFiles();
  for (int attempt = 1; !running(); ++attempt) {
    imap_port_ = FreeTcpPort();
    do {
      pop3_port_ = FreeTcpPort();
    } while (pop3_port_ == imap_port_);
    WriteConfig();
    if (!TryStart() && attempt == kStartAttempts) {
      Fail("no free ports after " + std::to_string(attempt) + " attempts");
    }
  }
}

DovecotServer::~DovecotServer() {
  try {
    Stop();
  } catch (...) {  // NOLINT(bugprone-empty-catch): nothing left to do
  }
}

std::string DovecotServer::config_path() const {
  return dir_.File("dovecot-ldapmda.conf");
}

std::string DovecotServer::index_dir() const { return dir_.File("index"); }

std::string DovecotServer::ldapmda_conf_path() const {
  return dir_.File("ldapmda.conf");
}

// Everything but the ports: the base directory (reachable, as Dovecot's
// processes run as several users), the index directory the mail user
// writes, the driver's ldapmda.conf and the password only the mail user
// may read (ldapmda refuses a bind_pw_file others can read), and the
// LDAP lookups, which hold a password too and are read by root.
void DovecotServer::WriteFiles() {
  const passwd mail_user = MailUser();
  chmod(base_dir().c_str(), 0755);
  std::filesystem::create_directory(index_dir());
  Chown(index_dir(), mail_user);
  chmod(index_dir().c_str(), 0700);

  const std::string pw = dir_.File("bind.pw");
  WriteFile(pw, options_.bind_password + "\n", 0600);
  Chown(pw, mail_user);
  std::vector<std::pair<std::string, std::string>> settings = {
      {"server_host", slapd_.uri()},
      {"search_base", slapd_.people_dn()},
      {"bind", "simple"},
      {"bind_dn", options_.bind_dn},
      {"bind_pw_file", pw},
      {"recipient_delimiter", "+"},
      {"timeout", "5"},
      {"deadline", "30"}};
  for (const auto& [key, value] : options_.ldapmda_conf) {
    bool replaced = false;
    for (auto& s : settings) {
      if (s.first == key) {
        s.second = value;
        replaced = true;
      }
    }
    if (!replaced) settings.emplace_back(key, value);
  }
  std::string conf;
  for (const auto& [key, value] : settings) conf += key + " = " + value + "\n";
  WriteFile(ldapmda_conf_path(), conf, 0644);

  std::string ext = ReadFile(kShippedExt);
  Substitute(ext, "@LDAP_URI@", slapd_.uri(), kShippedExt);
  Substitute(ext, "@DOVECOT_PASSWORD@", slapd_.dovecot_password(), kShippedExt);
  // Its comments name the directory it is copied to.
  if (ext.find("@BASE_DIR@") != std::string::npos) {
    Substitute(ext, "@BASE_DIR@", base_dir(), kShippedExt);
  }
  CheckSubstituted(ext, kShippedExt);
  WriteFile(dir_.File(kExtName), ext, 0600);
}

void DovecotServer::WriteConfig() {
  std::string text = ReadFile(kShippedConf);
  // The header comment names every placeholder: replace all occurrences.
  Substitute(text, "@BASE_DIR@", base_dir(), kShippedConf);
  Substitute(text, "@IMAP_PORT@", std::to_string(imap_port_), kShippedConf);
  Substitute(text, "@POP3_PORT@", std::to_string(pop3_port_), kShippedConf);
  Substitute(text, "@LDAPMDA_CONF@", ldapmda_conf_path(), kShippedConf);
  Substitute(text, "@MODULE_DIR@", options_.module_dir, kShippedConf);
  // @LDAP_URI@ is only mentioned there: it belongs to the .ext file.
  Substitute(text, "@LDAP_URI@", slapd_.uri(), kShippedConf);
  CheckSubstituted(text, kShippedConf);
  WriteFile(config_path(), text, 0644);
}

void DovecotServer::Start() {
  if (running()) return;
  if (!TryStart()) Fail("a port is taken");
}

bool DovecotServer::TryStart() {
  const std::size_t log_start = log().size();
  const UniqueFd null_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  const UniqueFd out_fd(open(dir_.File("dovecot.out").c_str(),
                             O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!null_fd.valid() || !out_fd.valid()) Fail("cannot open dovecot.out");
  // Only a main-thread start may tie Dovecot's life to its parent thread.
  const bool main_thread = gettid() == getpid();
  pid_ = StartProcess({kDovecot, "-F", "-c", config_path()}, null_fd.get(),
                      out_fd.get(), out_fd.get(), {}, main_thread);
  if (WaitUntilReady()) return true;
  if (log().find("Address already in use", log_start) != std::string::npos) {
    Stop();
    return false;
  }
  Fail("Dovecot did not start");
}

bool DovecotServer::WaitUntilReady() {
  const auto deadline = Clock::now() + kStartTimeout;
  bool imap = false, pop3 = false;
  while (Clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    imap = imap || Greets(imap_port_, "* OK", std::chrono::seconds(2));
    pop3 = pop3 || Greets(pop3_port_, "+OK", std::chrono::seconds(2));
    if (imap && pop3) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Fail("IMAP or POP3 did not greet within 30 s");
}

void DovecotServer::Fail(const std::string& why) {
  const std::string text = log();
  Stop();
  throw std::runtime_error("DovecotServer: " + why + "\n--- " + base_dir() +
                           " ---\n" + text);
}

void DovecotServer::Stop() {
  if (running()) {
    kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + kStopTimeout;
    int status = 0;
    for (pid_t r; (r = waitpid(pid_, &status, WNOHANG)) != pid_;) {
      if (r < 0 && errno != EINTR) break;  // not ours to wait for
      if (Clock::now() >= deadline) {
        kill(-pid_, SIGKILL);
        while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  // The master stops its children; they may take a moment to exit.
  const pid_t group = pid_;
  pid_ = -1;
  const auto deadline = Clock::now() + kStopTimeout;
  while (!Processes().empty() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::vector<pid_t> left = Processes();
  if (left.empty()) return;
  // Still alive, so the group (our child's) cannot have been reused.
  if (group > 0) kill(-group, SIGKILL);
  for (const pid_t pid : left) kill(pid, SIGKILL);
}

std::vector<pid_t> DovecotServer::Processes() const {
  const ProcessResult r = RunProcess({kPgrep, "-f", "--", base_dir()}, "",
                                     std::chrono::seconds(30));
  std::vector<pid_t> pids;
  std::istringstream in(r.out);
  for (pid_t pid = 0; in >> pid;) pids.push_back(pid);
  return pids;
}

ProcessResult DovecotServer::Doveadm(
    const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {kDoveadm, "-c", config_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv, "", std::chrono::seconds(120));
}

std::string DovecotServer::log() const {
  std::string text;
  for (const char* name : {"dovecot.log", "dovecot.out"}) {
    try {
      text += ReadFile(dir_.File(name));
    } catch (const std::runtime_error&) {  // not written yet
    }
  }
  return text;
}

}  // namespace ldapmda::testing
