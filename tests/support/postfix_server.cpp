// postfix_server: see postfix_server.h.
//
// How the private instance is run. As root, "postfix -c DIR start" needs
// nothing in /etc/postfix: alternate_config_directories is checked only
// for set-gid commands (postqueue, postdrop) run by other users, and this
// Debian package needs no /etc/postfix/main.cf at all ("No configuration").
// But "postfix start" leaves master(8) as a daemon that outlives a test
// killed by a timeout or a crash, holding a port forever. So the harness
// does what "postfix start-fg" does, minus the shell in between: "postfix
// -c DIR check" (the integrity check that also creates the queue and data
// directories with Postfix's owners and modes), then master(8) itself as
// our child. "-d" keeps it from calling setsid(), which fails for a
// process group leader; StartProcess already gives it a process group of
// its own, which "postfix stop" (SIGTERM: master signals its whole group)
// needs so that it does not signal the test itself, and kills it with the
// test (PR_SET_PDEATHSIG). Stop and reload go through postfix(1) as usual.
// dynamicmaps.cf (the ldap: map type) is read from meta_directory, which
// stays at Debian's /etc/postfix, read-only.
#include "support/postfix_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#ifndef LDAPMDA_SOURCE_DIR
#error "LDAPMDA_SOURCE_DIR must be defined as the source tree's root"
#endif

namespace ldapmda::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kMaster[] = "/usr/lib/postfix/sbin/master";
constexpr char kLdapMap[] = "/usr/lib/postfix/postfix-ldap.so";
constexpr char kCommandDir[] = "/usr/sbin/";
constexpr char kUseradd[] = "/usr/sbin/useradd";
constexpr seconds kStartTimeout(30);
constexpr seconds kStopTimeout(15);
constexpr seconds kCommandTimeout(60);
constexpr int kStartAttempts = 3;

// What README's conf/ files say, and what the tests put instead.
constexpr char kDocumentedBinary[] = "argv=/usr/sbin/ldapmda ";
constexpr char kDocumentedUser[] = "user=vmail";
constexpr char kDocumentedRecipientsCf[] = "/etc/postfix/ldapmda-recipients.cf";

// Services of a minimal instance, none chrooted. The SMTP listener's line
// is added in front with the port; conf/master.cf's entry after them.
constexpr char kBaseMasterCf[] =
    "pickup    unix  n       -       n       60      1       pickup\n"
    "cleanup   unix  n       -       n       -       0       cleanup\n"
    "qmgr      unix  n       -       n       300     1       qmgr\n"
    "rewrite   unix  -       -       n       -       -       trivial-rewrite\n"
    "bounce    unix  -       -       n       -       0       bounce\n"
    "defer     unix  -       -       n       -       0       bounce\n"
    "trace     unix  -       -       n       -       0       bounce\n"
    "verify    unix  -       -       n       -       1       verify\n"
    "flush     unix  n       -       n       1000?   0       flush\n"
    "proxymap  unix  -       -       n       -       -       proxymap\n"
    "showq     unix  n       -       n       -       -       showq\n"
    "error     unix  -       -       n       -       -       error\n"
    "retry     unix  -       -       n       -       -       error\n"
    "discard   unix  -       -       n       -       -       discard\n"
    "anvil     unix  -       -       n       -       1       anvil\n"
    "scache    unix  -       -       n       -       1       scache\n"
    // The lmtp(8) client of every stock master.cf (LMTP mode uses it).
    "lmtp      unix  -       -       n       -       -       lmtp\n"
    // Postfix 3.7 writes maillog_file through postlogd(8).
    "postlog   unix-dgram n  -       n       -       1       postlogd\n";

[[noreturn]] void ThrowErrno(const std::string& what, int error = errno) {
  throw std::runtime_error(what + ": " + std::system_category().message(error));
}

std::string Trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

// The logical lines of a Postfix-style file: blank and comment lines
// dropped; a line that starts with white space continues the previous
// one and is kept with it, after a "\n".
std::vector<std::string> ActiveLines(std::string_view text) {
  std::vector<std::string> lines;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    if (first > 0 && !lines.empty()) {
      lines.back() += "\n" + line;
    } else {
      lines.push_back(line);
    }
  }
  return lines;
}

// "name = value" lines (continuations joined with one space).
std::vector<Setting> ParseSettings(std::string_view text,
                                   const std::string& file) {
  std::vector<Setting> settings;
  for (std::string line : ActiveLines(text)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) {
      throw std::runtime_error(file + ": not name = value: " + line);
    }
    std::replace(line.begin(), line.end(), '\n', ' ');
    settings.emplace_back(Trim(line.substr(0, eq)), Trim(line.substr(eq + 1)));
  }
  return settings;
}

std::vector<Setting>::iterator Find(std::vector<Setting>& settings,
                                    std::string_view name) {
  return std::find_if(settings.begin(), settings.end(),
                      [&](const Setting& s) { return s.first == name; });
}

// Replaces the value of `name` in place, or appends it.
void Set(std::vector<Setting>& settings, const std::string& name,
         const std::string& value) {
  const auto it = Find(settings, name);
  if (it != settings.end()) {
    it->second = value;
  } else {
    settings.emplace_back(name, value);
  }
}

// Like Set, but `name` must be there already: the documented file names
// it, and the test only changes its value.
void Replace(std::vector<Setting>& settings, const std::string& name,
             const std::string& value, const std::string& file) {
  const auto it = Find(settings, name);
  if (it == settings.end()) {
    throw std::runtime_error(file + " no longer sets " + name +
                             "; update tests/support/postfix_server.cpp");
  }
  it->second = value;
}

std::string Render(const std::vector<Setting>& settings) {
  std::string out;
  for (const auto& [name, value] : settings) {
    out += name + " = " + value + "\n";
  }
  return out;
}

// Replaces each `from` in `text`. The documented text must contain it,
// so that a changed README setup fails loudly instead of being tested
// half-substituted.
std::string Substitute(std::string text, std::string_view from,
                       std::string_view to, const std::string& file) {
  int found = 0;
  for (auto pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
    ++found;
  }
  if (found == 0) {
    throw std::runtime_error(file + " no longer contains \"" +
                             std::string(from) +
                             "\"; update tests/support/postfix_server.cpp");
  }
  return text;
}

struct Account {
  uid_t uid;
  gid_t gid;
};

// The pipe(8) user: looked up, or created once for all tests. Parallel
// test processes may race to create it (or hold useradd's lock): look
// again after each try.
Account EnsureUser(const std::string& name) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    if (const passwd* pw = getpwnam(name.c_str())) {
      return {pw->pw_uid, pw->pw_gid};
    }
    RunProcess({kUseradd, "--system", "--no-create-home", "--home-dir",
                "/nonexistent", "--shell", "/usr/sbin/nologin", name},
               "", seconds(30));
    if (attempt > 0) std::this_thread::sleep_for(milliseconds(200));
  }
  throw std::runtime_error("cannot create the pipe(8) user " + name);
}

gid_t PostfixGroup() {
  const group* gr = getgrnam("postfix");
  if (gr == nullptr) {
    throw std::runtime_error(
        "PostfixServer: no postfix group: install postfix and postfix-ldap "
        "(scripts/install-deps)");
  }
  return gr->gr_gid;
}

void RequireFile(const std::string& path) {
  if (access(path.c_str(), F_OK) != 0) {
    throw std::runtime_error("PostfixServer: " + path +
                             " is missing: install postfix and postfix-ldap "
                             "(scripts/install-deps)");
  }
}

void MakeDir(const std::string& path, mode_t mode) {
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    ThrowErrno("mkdir " + path);
  }
  if (chmod(path.c_str(), mode) != 0) ThrowErrno("chmod " + path);
}

void WriteOwnedFile(const std::string& path, std::string_view data, mode_t mode,
                    uid_t uid, gid_t gid) {
  WriteFile(path, data, mode);
  if (chown(path.c_str(), uid, gid) != 0) ThrowErrno("chown " + path);
}

std::string ReadIfExists(const std::string& path) {
  try {
    return ReadFile(path);
  } catch (const std::runtime_error&) {
    return "";
  }
}

// The live (not zombie) processes in process group `pgid` whose command
// name is `comm`, or all of them when `comm` is empty.
std::vector<pid_t> GroupMembers(pid_t pgid, std::string_view comm = "") {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::ifstream stat(entry.path() / "stat");
    std::string text;
    if (!std::getline(stat, text)) continue;
    // "pid (comm) state ppid pgrp ...": comm may hold anything but ')'.
    const auto open = text.find('(');
    const auto close = text.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 1));
    char state = 0;
    long ppid = 0;
    long pgrp = 0;
    if (!(rest >> state >> ppid >> pgrp) || pgrp != pgid || state == 'Z') {
      continue;
    }
    if (comm.empty() || text.substr(open + 1, close - open - 1) == comm) {
      pids.push_back(static_cast<pid_t>(std::stol(text)));
    }
  }
  return pids;
}

bool Reaped(pid_t pid) {
  int status = 0;
  const pid_t r = waitpid(pid, &status, WNOHANG);
  return r == pid || (r < 0 && errno == ECHILD);
}

// True when something listens on 127.0.0.1:`port` (bound as master binds,
// with SO_REUSEADDR).
bool PortTaken(int port) {
  const UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int on = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(0x7F000001U);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr),
              sizeof addr) != 0 &&
         errno == EADDRINUSE;
}

// An SMTP connection to 127.0.0.1 with a deadline per reply.
class SmtpConnection {
 public:
  SmtpConnection(int port, milliseconds timeout) : timeout_(timeout) {
    fd_.Reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd_.valid()) ThrowErrno("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(0x7F000001U);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr),
                sizeof addr) != 0) {
      ThrowErrno("SMTP connect to 127.0.0.1:" + std::to_string(port));
    }
  }

  SmtpReply Read() {
    const auto deadline = Clock::now() + timeout_;
    SmtpReply reply;
    for (;;) {
      const std::string line = ReadLine(deadline);
      if (line.size() < 3 ||
          !std::isdigit(static_cast<unsigned char>(line[0])) ||
          (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
        throw std::runtime_error("SMTP: malformed reply line: " + line);
      }
      reply.code = std::stoi(line.substr(0, 3));
      reply.text += (reply.text.empty() ? "" : "\n") + line;
      if (line.size() == 3 || line[3] == ' ') return reply;
    }
  }

  SmtpReply Command(const std::string& line) {
    Send(line + "\r\n");
    return Read();
  }

  void Send(std::string_view data) {
    const auto deadline = Clock::now() + timeout_;
    while (!data.empty()) {
      Wait(POLLOUT, deadline);
      const ssize_t n = send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno != EINTR && errno != EAGAIN) ThrowErrno("SMTP send");
      if (n > 0) data.remove_prefix(static_cast<std::size_t>(n));
    }
  }

 private:
  std::string ReadLine(Clock::time_point deadline) {
    for (;;) {
      const auto end = buffer_.find('\n');
      if (end != std::string::npos) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
      }
      Wait(POLLIN, deadline);
      char chunk[4096];
      const ssize_t n = recv(fd_.get(), chunk, sizeof chunk, 0);
      if (n == 0) throw std::runtime_error("SMTP: connection closed");
      if (n < 0 && errno != EINTR && errno != EAGAIN) ThrowErrno("SMTP recv");
      if (n > 0) buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  void Wait(short events, Clock::time_point deadline) {
    const auto left =
        std::chrono::ceil<milliseconds>(deadline - Clock::now()).count();
    pollfd pfd{fd_.get(), events, 0};
    const int n = left > 0 ? poll(&pfd, 1, static_cast<int>(left)) : 0;
    if (n < 0 && errno != EINTR) ThrowErrno("SMTP poll");
    if (n == 0) throw std::runtime_error("SMTP: no answer within timeout");
  }

  UniqueFd fd_;
  std::string buffer_;
  milliseconds timeout_;
};

// True when the SMTP server on 127.0.0.1:`port` greets with 220 and
// `banner` (so not another instance that took the port meanwhile).
bool Greets(int port, const std::string& banner) {
  try {
    SmtpConnection c(port, seconds(2));
    const SmtpReply greeting = c.Read();
    c.Command("QUIT");
    return greeting.code == 220 &&
           greeting.text.find(banner) != std::string::npos;
  } catch (const std::runtime_error&) {
    return false;
  }
}

}  // namespace

PostfixServer::PostfixServer(const SlapdServer& slapd, PostfixOptions options)
    : options_(std::move(options)), port_(FreeTcpPort()) {
  if (options_.ldapmda_binary.empty()) {
    throw std::invalid_argument("PostfixOptions::ldapmda_binary is required");
  }
  if (geteuid() != 0) {
    throw std::runtime_error(
        "PostfixServer must run as root: master(8) and pipe(8) need it");
  }
  if (options_.source_dir.empty()) options_.source_dir = LDAPMDA_SOURCE_DIR;
  for (const std::string& path : {std::string(kMaster), std::string(kLdapMap),
                                  std::string(kCommandDir) + "postfix"}) {
    RequireFile(path);
  }
  WriteConfiguration(slapd);
  if (!options_.main_cf.empty()) Configure(options_.main_cf);
  Start();
}

PostfixServer::~PostfixServer() {
  try {
    Stop();
  } catch (const std::exception&) {
    // Destructors must not throw; the group was killed as a last resort.
  }
}

std::string PostfixServer::ldapmda_conf_path() const {
  return dir_.File("ldapmda/ldapmda.conf");
}

// Unique per instance: the temporary directory's name.
std::string PostfixServer::Banner() const {
  return std::filesystem::path(dir()).filename().string();
}

std::string PostfixServer::ConfText(std::string_view name) const {
  return ReadFile(options_.source_dir + "/conf/" + std::string(name));
}

void PostfixServer::WriteConfiguration(const SlapdServer& slapd) {
  // Postfix (after setuid postfix) and the pipe user must reach their
  // files below the temporary directory.
  MakeDir(dir(), 0755);
  MakeDir(config_dir(), 0755);
  MakeDir(queue_dir(), 0755);
  MakeDir(dir_.File("ldapmda"), 0755);
  const std::string recipients_cf = config_dir() + "/ldapmda-recipients.cf";
  WriteLdapmdaConf(slapd);
  WriteRecipientsCf(slapd, recipients_cf);
  WriteMainCf(recipients_cf);
  WriteMasterCf();
}

void PostfixServer::WriteMainCf(const std::string& recipients_cf) {
  const std::string no_outbound = "error:no outbound mail from this instance";
  std::vector<Setting> instance = {
      {"compatibility_level", "3.6"},
      {"queue_directory", queue_dir()},
      {"data_directory", dir_.File("data")},
      {"maillog_file", maillog_path()},
      {"maillog_file_prefixes", dir()},
      {"myhostname", options_.hostname},
      {"myorigin", "$myhostname"},
      {"smtpd_banner", "$myhostname ESMTP " + Banner()},
      {"mydestination", ""},
      {"inet_interfaces", "loopback-only"},
      {"inet_protocols", "ipv4"},
      {"mynetworks", "127.0.0.0/8"},
      // Bounces to the (fake) senders end here instead of in DNS.
      {"default_transport", no_outbound},
      {"relay_transport", no_outbound},
      {"alias_maps", ""},
      {"alias_database", ""},
      {"biff", "no"}};
  const std::string file = "conf/main.cf";
  std::vector<Setting> documented = ParseSettings(ConfText("main.cf"), file);
  for (auto& [name, value] : documented) {
    if (value.find(kDocumentedRecipientsCf) != std::string::npos) {
      value = Substitute(value, kDocumentedRecipientsCf, recipients_cf, file);
    }
    const auto it = Find(instance, name);
    if (it != instance.end()) instance.erase(it);
  }
  if (options_.lmtp) {
    for (const auto& [name, value] :
         ParseSettings(ConfText("main-lmtp.cf"), "conf/main-lmtp.cf")) {
      Set(documented, name, value);
    }
  }
  const auto maps = Find(documented, "virtual_mailbox_maps");
  if (maps == documented.end() ||
      maps->second.find(recipients_cf) == std::string::npos) {
    throw std::runtime_error(file + " no longer sets virtual_mailbox_maps to " +
                             kDocumentedRecipientsCf);
  }
  WriteFile(config_dir() + "/main.cf",
            "# Private Postfix instance of an ldapmda test.\n" +
                Render(instance) + "\n# " + file +
                " (README), test paths substituted:\n" + Render(documented),
            0644);
}

void PostfixServer::WriteMasterCf() {
  const std::string name = options_.lmtp ? "master-lmtp.cf" : "master.cf";
  const std::string file = "conf/" + name;
  std::string documented;
  for (const std::string& line : ActiveLines(ConfText(name))) {
    documented += line + "\n";
  }
  documented = Substitute(documented, kDocumentedUser,
                          "user=" + options_.pipe_user, file);
  documented = Substitute(
      documented, kDocumentedBinary,
      "argv=" + options_.ldapmda_binary + " -c " + ldapmda_conf_path() + " ",
      file);
  WriteFile(config_dir() + "/master.cf",
            "# Private Postfix instance of an ldapmda test: no chroot.\n" +
                std::to_string(port_) +
                "     inet  n       -       n       -       -       smtpd\n" +
                kBaseMasterCf + "\n# " + file +
                " (README), test paths substituted:\n" + documented,
            0644);
}

void PostfixServer::WriteRecipientsCf(const SlapdServer& slapd,
                                      const std::string& path) {
  const std::string file = "conf/ldapmda-recipients.cf";
  std::vector<Setting> s =
      ParseSettings(ConfText("ldapmda-recipients.cf"), file);
  Replace(s, "server_host", slapd.uri(), file);
  Replace(s, "search_base", slapd.people_dn(), file);
  Replace(s, "bind_dn", slapd.service_dn(), file);
  Replace(s, "bind_pw", slapd.service_password(), file);
  // As README says: readable by root and Postfix only.
  WriteOwnedFile(path,
                 "# " + file + ", test directory substituted.\n" + Render(s),
                 0640, 0, PostfixGroup());
}

void PostfixServer::WriteLdapmdaConf(const SlapdServer& slapd) {
  const Account user = EnsureUser(options_.pipe_user);
  const std::string pw_file = dir_.File("ldapmda/bind.pw");
  const std::string file = "conf/ldapmda.conf";
  std::vector<Setting> s = ParseSettings(ConfText("ldapmda.conf"), file);
  Set(s, "server_host", slapd.uri());
  Set(s, "search_base", slapd.people_dn());
  Set(s, "bind", "simple");
  Set(s, "bind_dn", slapd.service_dn());
  Set(s, "bind_pw_file", pw_file);
  for (const auto& [name, value] : options_.ldapmda_conf) Set(s, name, value);
  WriteOwnedFile(pw_file, slapd.service_password() + "\n", 0600, user.uid,
                 user.gid);
  WriteFile(ldapmda_conf_path(),
            "# " + file + ", test directory substituted.\n" + Render(s), 0644);
}

void PostfixServer::Start() {
  if (running()) return;
  for (int attempt = 1;; ++attempt) {
    if (TryStart()) return;
    if (attempt == kStartAttempts) {
      Fail("port " + std::to_string(port_) + " is taken");
    }
    port_ = FreeTcpPort();
    WriteMasterCf();
  }
}

bool PostfixServer::TryStart() {
  MustRun("postfix", {"check"});
  const UniqueFd null_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  const UniqueFd log_fd(open(master_log_path().c_str(),
                             O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!null_fd.valid() || !log_fd.valid()) Fail("cannot open master.log");
  // Only a main-thread start may tie master's life to its parent thread.
  const bool main_thread = gettid() == getpid();
  master_pid_ = StartProcess({kMaster, "-c", config_dir(), "-d"}, null_fd.get(),
                             log_fd.get(), log_fd.get(), {}, main_thread);
  if (WaitUntilReady()) return true;
  // master logs its start-up failures to syslog (/dev/log), not to
  // maillog_file: look at the port instead.
  if (PortTaken(port_)) return false;
  Fail("master exited during start-up; see syslog or run " +
       std::string(kMaster) + " -c " + config_dir() + " -d -v");
}

bool PostfixServer::WaitUntilReady() {
  const auto deadline = Clock::now() + kStartTimeout;
  while (Clock::now() < deadline) {
    if (Reaped(master_pid_)) {
      master_pid_ = -1;
      return false;
    }
    if (Greets(port_, Banner())) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  Fail("smtpd did not greet on port " + std::to_string(port_) + " within 30 s");
}

void PostfixServer::Fail(const std::string& why) {
  if (running()) {
    kill(-master_pid_, SIGKILL);
    while (!Reaped(master_pid_)) std::this_thread::sleep_for(milliseconds(10));
    master_pid_ = -1;
  }
  throw std::runtime_error("PostfixServer: " + why + "\n--- " + maillog_path() +
                           " ---\n" + MailLog() + "--- " + master_log_path() +
                           " ---\n" + MasterLog());
}

void PostfixServer::Stop() {
  if (!running()) return;
  // SIGTERM to master, which passes it on to its process group.
  Command("postfix", {"stop"});
  if (!WaitFor([this] { return Reaped(master_pid_); }, kStopTimeout)) {
    kill(-master_pid_, SIGKILL);
    while (!Reaped(master_pid_)) std::this_thread::sleep_for(milliseconds(10));
  }
  WaitForProcessGroup();
  master_pid_ = -1;
}

// Master's children (smtpd, qmgr, pipe, ...) leave after it; wait so that
// none writes into the directory while it is being removed.
void PostfixServer::WaitForProcessGroup() {
  const pid_t pgid = master_pid_;
  if (!WaitFor([pgid] { return GroupMembers(pgid).empty(); }, seconds(5))) {
    kill(-pgid, SIGKILL);
  }
}

void PostfixServer::Configure(const std::vector<Setting>& settings) {
  for (const auto& [name, value] : settings) {
    MustRun("postconf", {"-e", name + " = " + value});
  }
  if (running()) Reload();
}

void PostfixServer::Reload() {
  const std::vector<pid_t> old = GroupMembers(master_pid_, "qmgr");
  MustRun("postfix", {"reload"});
  // "postfix reload" only signals master, which then replaces qmgr: a
  // flush request that reaches the old qmgr is lost, so wait for the new.
  const bool replaced = WaitFor(
      [&] {
        const std::vector<pid_t> now = GroupMembers(master_pid_, "qmgr");
        return !now.empty() &&
               std::none_of(now.begin(), now.end(), [&](pid_t pid) {
                 return std::find(old.begin(), old.end(), pid) != old.end();
               });
      },
      seconds(10));
  if (!replaced) Fail("qmgr was not restarted within 10 s of a reload");
}

void PostfixServer::Flush() { MustRun("postqueue", {"-f"}); }

std::string PostfixServer::Postqueue() const {
  return MustRun("postqueue", {"-j"}).out;
}

std::string PostfixServer::MailLog() const {
  return ReadIfExists(maillog_path());
}

std::string PostfixServer::MasterLog() const {
  return ReadIfExists(master_log_path());
}

std::vector<std::string> PostfixServer::MailLogLines(
    const std::vector<std::string>& needles) const {
  std::vector<std::string> lines;
  std::istringstream in(MailLog());
  std::string line;
  while (std::getline(in, line)) {
    if (std::all_of(needles.begin(), needles.end(), [&](const auto& n) {
          return line.find(n) != std::string::npos;
        })) {
      lines.push_back(line);
    }
  }
  return lines;
}

ProcessResult PostfixServer::Command(
    const std::string& program, const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {kCommandDir + program, "-c", config_dir()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv, "", kCommandTimeout);
}

ProcessResult PostfixServer::MustRun(
    const std::string& program, const std::vector<std::string>& args) const {
  ProcessResult r = Command(program, args);
  if (r.exit_code != 0) {
    std::string cmd = program;
    for (const std::string& a : args) cmd += " " + a;
    throw std::runtime_error("PostfixServer: \"" + cmd + "\" exited " +
                             std::to_string(r.exit_code) + ": " + r.out +
                             r.err);
  }
  return r;
}

bool WaitFor(const std::function<bool()>& done, milliseconds timeout,
             milliseconds interval) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(interval);
  }
  return done();
}

std::string SmtpReply::EnhancedCode() const {
  const auto nl = text.rfind('\n');
  const std::string last = text.substr(nl == std::string::npos ? 0 : nl + 1);
  if (last.size() < 5) return "";
  const std::string enhanced = last.substr(4, last.find(' ', 4) - 4);
  // class.subject.detail, e.g. "5.1.1" or "4.3.0".
  std::size_t dots = 0;
  for (const char c : enhanced) {
    if (c == '.') {
      ++dots;
    } else if (!std::isdigit(static_cast<unsigned char>(c))) {
      return "";
    }
  }
  const bool ok = dots == 2 && std::strchr("245", enhanced[0]) != nullptr &&
                  enhanced[1] == '.' && enhanced.back() != '.' &&
                  enhanced.find("..") == std::string::npos;
  return ok ? enhanced : "";
}

std::string SmtpSession::QueueId() const {
  const std::string marker = "queued as ";
  const auto pos = message.text.find(marker);
  if (pos == std::string::npos) return "";
  const auto start = pos + marker.size();
  return message.text.substr(start,
                             message.text.find_first_of(" \n", start) - start);
}

std::string SmtpDataPayload(std::string_view message) {
  std::string out;
  out.reserve(message.size() + message.size() / 32 + 8);
  std::size_t pos = 0;
  while (pos < message.size()) {
    auto end = message.find('\n', pos);
    if (end == std::string_view::npos) end = message.size();
    std::string_view line = message.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty() && line.front() == '.') out += '.';
    out.append(line);
    out += "\r\n";
    pos = end + 1;
  }
  return out + ".\r\n";
}

SmtpSession SendMail(int port, const std::string& sender,
                     const std::vector<std::string>& recipients,
                     std::string_view message, const SmtpOptions& options) {
  SmtpSession s;
  SmtpConnection c(port, options.timeout);
  s.greeting = c.Read();
  if (s.greeting.code != 220) return s;
  s.ehlo = c.Command("EHLO " + options.helo);
  if (s.ehlo.code == 250) {
    s.mail = c.Command("MAIL FROM:<" + sender + ">" +
                       (options.body_8bitmime ? " BODY=8BITMIME" : ""));
  }
  bool accepted = false;
  for (const std::string& rcpt : recipients) {
    if (s.mail.code != 250) break;
    s.rcpt.push_back(c.Command("RCPT TO:<" + rcpt + ">"));
    accepted = accepted || s.rcpt.back().code / 100 == 2;
  }
  if (accepted) s.data = c.Command("DATA");
  if (s.data.code == 354) {
    c.Send(SmtpDataPayload(message));
    s.message = c.Read();
  }
  c.Command("QUIT");
  return s;
}

}  // namespace ldapmda::testing
