// slapd_server: see slapd_server.h. Writes a slapd.conf into the temporary
// directory, runs slapd in the foreground (-d keeps it from detaching, so
// it stays our child) with its output appended to slapd.log, and loads the
// data over LDAP as the rootdn.
#include "support/slapd_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

#ifndef LDAPMDA_SOURCE_DIR
#error "LDAPMDA_SOURCE_DIR must be defined as the source tree's root"
#endif

namespace ldapmda::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kSlapd[] = "/usr/sbin/slapd";
constexpr char kProjectSchema[] = LDAPMDA_SOURCE_DIR "/conf/ldapmda.schema";
constexpr std::chrono::seconds kStartTimeout(10);
constexpr std::chrono::seconds kStopTimeout(5);
constexpr int kStartAttempts = 3;

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || std::strchr("-._~", ch) != nullptr) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

bool Connects(int fd, const sockaddr* addr, socklen_t len) {
  const UniqueFd owned(fd);
  return owned.valid() && connect(fd, addr, len) == 0;
}

bool CanConnectTcp(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(0x7F000001U);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return Connects(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
                  reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
}

bool CanConnectUnix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof addr.sun_path - 1);
  return Connects(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0),
                  reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
}

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

// The attribute type and value of the first RDN: "dc", "example".
std::pair<std::string, std::string> FirstRdn(const std::string& dn) {
  const std::string rdn = dn.substr(0, dn.find(','));
  const std::size_t eq = rdn.find('=');
  if (eq == std::string::npos) throw std::invalid_argument("bad DN " + dn);
  return {rdn.substr(0, eq), rdn.substr(eq + 1)};
}

void MustAdd(LdapClient& client, const std::string& dn, const AttrMap& attrs) {
  const int rc = client.Add(dn, attrs);
  if (rc != LDAP_SUCCESS) {
    throw LdapError(rc, "add " + dn + ": " + ldap_err2string(rc) + ": " +
                            client.last_message());
  }
}

}  // namespace

SlapdServer::SlapdServer(SlapdOptions options) : options_(std::move(options)) {
  if (ldapi_path().size() >= sizeof(sockaddr_un{}.sun_path)) {
    throw std::runtime_error("socket path too long: " + ldapi_path());
  }
  std::filesystem::create_directory(dir_.File("data"));
  WriteFile(dir_.File("slapd.conf"), ConfigText());
  for (int attempt = 1; !running(); ++attempt) {
    port_ = FreeTcpPort();
    if (!TryStart() && attempt == kStartAttempts) {
      Fail("no free port after " + std::to_string(attempt) + " attempts");
    }
  }
  try {
    LoadSampleData();
  } catch (...) {
    Kill();
    throw;
  }
}

SlapdServer::~SlapdServer() {
  try {
    Stop();
  } catch (...) {  // NOLINT(bugprone-empty-catch): nothing left to do
  }
}

std::string SlapdServer::ConfigText() const {
  std::ostringstream c;
  for (const char* schema : {"core", "cosine", "inetorgperson"}) {
    c << "include /etc/ldap/schema/" << schema << ".schema\n";
  }
  if (options_.load_ldapmda_schema)
    c << "include " << Quote(kProjectSchema) << "\n";
  c << "pidfile " << Quote(dir_.File("slapd.pid")) << "\n"
    << "argsfile " << Quote(dir_.File("slapd.args")) << "\n"
    << "modulepath /usr/lib/ldap\n"
    << "moduleload back_mdb\n"
    << "sockbuf_max_incoming_auth " << options_.sockbuf_max_incoming_auth
    << "\n\n"
    << "database mdb\n"
    << "directory " << Quote(dir_.File("data")) << "\n"
    << "maxsize " << options_.maxsize << "\n";
  if (options_.maxentrysize > 0) {
    c << "maxentrysize " << options_.maxentrysize << "\n";
  }
  if (options_.dbnosync) c << "dbnosync\n";
  c << "suffix " << Quote(suffix()) << "\n"
    << "rootdn " << Quote(admin_dn()) << "\n"
    << "rootpw " << admin_password() << "\n"
    << "sizelimit " << options_.sizelimit << "\n"
    << "index objectClass eq\nindex mail eq\nindex uid eq\n";
  if (options_.load_ldapmda_schema) c << "index mdaKey eq\n";
  return c.str() + AccessText();
}

// The service DN and this uid's SASL EXTERNAL identity (ldapi peer
// credentials) may write; anonymous may read, except passwords, which it
// may only use to bind. The rootdn needs no rule.
std::string SlapdServer::AccessText() const {
  const std::string writers =
      "  by dn.exact=" + Quote(service_dn()) + " write\n" +
      "  by dn.regex=\"^gidNumber=[0-9]+[+]uidNumber=" +
      std::to_string(geteuid()) + ",cn=peercred,cn=external,cn=auth$\" write\n";
  return "access to attrs=userPassword\n" + writers +
         "  by anonymous auth\n  by * none\n" + "access to *\n" + writers +
         "  by * read\n";
}

void SlapdServer::Start() {
  if (running()) return;
  if (!TryStart()) Fail("port " + std::to_string(port_) + " is taken");
}

bool SlapdServer::TryStart() {
  const std::size_t log_start = log().size();
  const UniqueFd null_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  const UniqueFd log_fd(open(dir_.File("slapd.log").c_str(),
                             O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!null_fd.valid() || !log_fd.valid()) Fail("cannot open slapd.log");
  unlink(ldapi_path().c_str());  // stale after Kill()
  const std::vector<std::string> argv = {kSlapd,
                                         "-d",
                                         options_.debug_level,
                                         "-f",
                                         dir_.File("slapd.conf"),
                                         "-h",
                                         uri() + "/ " + ldapi_uri() + "/"};
  // Only a main-thread start may tie slapd's life to its parent thread.
  const bool main_thread = gettid() == getpid();
  pid_ = StartProcess(argv, null_fd.get(), log_fd.get(), log_fd.get(), {},
                      main_thread);
  if (WaitUntilReady()) return true;
  if (log().find("Address already in use", log_start) != std::string::npos) {
    return false;
  }
  Fail("slapd exited during start-up");
}

bool SlapdServer::WaitUntilReady() {
  const auto deadline = Clock::now() + kStartTimeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    if (CanConnectTcp(port_) && CanConnectUnix(ldapi_path())) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Fail("slapd did not accept connections within 10 s");
}

void SlapdServer::Fail(const std::string& why) {
  Kill();
  throw std::runtime_error("SlapdServer: " + why + "\n--- " +
                           dir_.File("slapd.log") + " ---\n" + log());
}

void SlapdServer::Stop() {
  if (!running()) return;
  Signal(SIGCONT);
  Signal(SIGTERM);
  const auto deadline = Clock::now() + kStopTimeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      paused_ = false;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill();
}

void SlapdServer::Kill() {
  if (!running()) return;
  Signal(SIGKILL);
  Reap();
}

void SlapdServer::Pause() {
  if (!running() || paused_) return;
  Signal(SIGSTOP);
  int status = 0;
  while (waitpid(pid_, &status, WUNTRACED) < 0 && errno == EINTR) {
  }
  paused_ = WIFSTOPPED(status);
  if (!paused_) pid_ = -1;  // it died meanwhile
}

void SlapdServer::Resume() {
  if (!running() || !paused_) return;
  Signal(SIGCONT);
  paused_ = false;
}

void SlapdServer::Signal(int sig) const { kill(pid_, sig); }

void SlapdServer::Reap() {
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  paused_ = false;
}

std::string SlapdServer::uri() const {
  return "ldap://127.0.0.1:" + std::to_string(port_);
}

std::string SlapdServer::ldapi_path() const { return dir_.File("ldapi"); }

std::string SlapdServer::ldapi_uri() const {
  return "ldapi://" + UrlEncode(ldapi_path());
}

std::string SlapdServer::UserDn(std::string_view uid) const {
  return "uid=" + std::string(uid) + "," + people_dn();
}

std::string SlapdServer::log() const {
  try {
    return ReadFile(dir_.File("slapd.log"));
  } catch (const std::runtime_error&) {
    return "";
  }
}

LdapClient SlapdServer::Admin() const {
  return LdapClient(uri(), admin_dn(), admin_password());
}

LdapClient SlapdServer::Service() const {
  return LdapClient(uri(), service_dn(), service_password());
}

void SlapdServer::LoadSampleData() {
  LdapClient admin = Admin();
  if (options_.load_sample_data) {
    AddBaseEntry(admin);
    for (const char* ou : {"people", "services"}) {
      MustAdd(admin, std::string("ou=") + ou + "," + suffix(),
              {{"objectClass", {"organizationalUnit"}}, {"ou", {ou}}});
    }
    MustAdd(admin, service_dn(),
            {{"objectClass", {"organizationalRole", "simpleSecurityObject"}},
             {"cn", {"ldapmda"}},
             {"userPassword", {service_password()}}});
    for (const char* uid : {"alice", "bob", "carol"}) {
      AddUser(admin, uid, std::string(uid) + "@example.com");
    }
    AddUser(admin, "dup1", "dup@example.com");
    AddUser(admin, "dup2", "dup@example.com");
  }
  for (const std::string& ldif : options_.extra_ldif) admin.ApplyLdif(ldif);
}

void SlapdServer::AddBaseEntry(LdapClient& admin) {
  const auto [type, value] = FirstRdn(suffix());
  AttrMap attrs{{type, {value}}};
  if (type == "dc") {
    attrs["objectClass"] = {"dcObject", "organization"};
    attrs["o"] = {value};
  } else if (type == "o") {
    attrs["objectClass"] = {"organization"};
  } else if (type == "ou") {
    attrs["objectClass"] = {"organizationalUnit"};
  } else {
    throw std::invalid_argument("unsupported suffix " + suffix());
  }
  MustAdd(admin, suffix(), attrs);
}

void SlapdServer::AddUser(LdapClient& admin, const std::string& uid,
                          const std::string& mail) {
  MustAdd(admin, UserDn(uid),
          {{"objectClass", {"inetOrgPerson"}},
           {"uid", {uid}},
           {"cn", {uid}},
           {"sn", {uid}},
           {"mail", {mail}}});
}

}  // namespace ldapmda::testing
