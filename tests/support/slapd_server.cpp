// slapd_server: see slapd_server.h. Writes a slapd.conf into the temporary
// directory (generated, or the shipped multi-provider file with paths, URLs
// and passwords substituted; or a cn=config directory made with slapadd
// -n0), runs slapd in the foreground (-d keeps it from detaching, so it
// stays our child) with its output appended to slapd.log, and loads the
// data over LDAP as the rootdn.
#include "support/slapd_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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
constexpr char kSlapadd[] = "/usr/sbin/slapadd";
constexpr char kSlappasswd[] = "/usr/sbin/slappasswd";
constexpr char kProjectSchema[] = LDAPMDA_SOURCE_DIR "/conf/ldapmda.schema";
constexpr char kMultiProviderConf[] =
    LDAPMDA_SOURCE_DIR "/conf/slapd-multiprovider.conf";
constexpr char kMultiProviderLdif[] =
    LDAPMDA_SOURCE_DIR "/conf/slapd-multiprovider.ldif";
constexpr char kShippedConf[] = LDAPMDA_SOURCE_DIR "/conf/slapd.conf";
constexpr char kReplicaConf[] = LDAPMDA_SOURCE_DIR "/conf/slapd-replica.conf";
constexpr char kReplicaLdif[] = LDAPMDA_SOURCE_DIR "/conf/slapd-replica.ldif";
// What the shipped multi-provider files name, replaced per test node.
constexpr char kShippedSchemaPrefix[] = "/usr/share/ldapmda/schema/ldapmda.";
constexpr char kTestSchemaPrefix[] = LDAPMDA_SOURCE_DIR "/conf/ldapmda.";
constexpr char kShippedNode1[] = "ldap://ldap1.example.com";
constexpr char kShippedNode2[] = "ldap://ldap2.example.com";
constexpr char kShippedSuffix[] = "dc=example,dc=com";
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

// Whether `value` can stand in slapd.conf as it is, quoted or not.
bool FitsSlapdConf(const std::string& value) {
  return !value.empty() && std::none_of(value.begin(), value.end(), [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) != 0 || c == '"' ||
           c == '\\';
  });
}

[[noreturn]] void TemplateChanged(const std::string& file,
                                  const std::string& what) {
  throw std::runtime_error(file + " no longer contains \"" + what +
                           "\": adapt tests/support/slapd_server.cpp");
}

// Replaces every `from` in `text` by `to`; throws when there is none, so a
// change of the shipped file cannot silently leave a production value.
void ReplaceAll(std::string& text, const std::string& from,
                const std::string& to, const std::string& file) {
  std::size_t pos = text.find(from);
  if (pos == std::string::npos) TemplateChanged(file, from);
  for (; pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
}

// Replaces the first line that starts with `prefix` by `line`.
void ReplaceLine(std::string& text, const std::string& prefix,
                 const std::string& line, const std::string& file) {
  const std::size_t pos = text.find("\n" + prefix);
  if (pos == std::string::npos) TemplateChanged(file, prefix);
  const std::size_t end = text.find('\n', pos + 1);
  text.replace(pos + 1, end - pos - 1, line);
}

// Replaces the "index" directives of a slapd.conf `text` by `lines`, where
// the first of them was.
void ReplaceIndexes(std::string& text, const std::vector<std::string>& lines,
                    const std::string& file) {
  std::string out;
  bool placed = false;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const bool index = line.starts_with("index") && line.size() > 5 &&
                       std::isspace(static_cast<unsigned char>(line[5])) != 0;
    if (!index) {
      out += line + "\n";
    } else if (!placed) {
      for (const std::string& l : lines) out += l + "\n";
      placed = true;
    }
  }
  if (!placed) TemplateChanged(file, "index");
  text = out;
}

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
  CheckOptions();
  if (ldapi_path().size() >= sizeof(sockaddr_un{}.sun_path)) {
    throw std::runtime_error("socket path too long: " + ldapi_path());
  }
  std::filesystem::create_directory(dir_.File("data"));
  stored_admin_password_ = Stored(options_.admin_password);
  stored_service_password_ = Stored(options_.service_password);
  stored_replicator_password_ = Stored(options_.replicator_password);
  port_ = options_.port;  // the config names it only when it is fixed
  WriteConfig();
  if (options_.port != 0) {
    PickLdapsPort();
    Start();
  }
  for (int attempt = 1; !running(); ++attempt) {
    port_ = FreeTcpPort();
    PickLdapsPort();
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
  if (options_.keep_dir) dir_.Release();
}

void SlapdServer::CheckOptions() const {
  const SlapdOptions& o = options_;
  auto require = [](bool ok, const char* what) {
    if (!ok) throw std::invalid_argument(std::string("SlapdOptions: ") + what);
  };
  require(o.port >= 0 && o.port < 65536, "bad port");
  for (const std::string* pw :
       {&o.admin_password, &o.service_password, &o.replicator_password}) {
    require(FitsSlapdConf(*pw),
            "passwords must be non-empty, without white space, quotes or "
            "backslashes");
  }
  require(!o.cn_config || o.mode == SlapdMode::kProvider ||
              o.mode == SlapdMode::kReplica,
          "cn_config needs kProvider or kReplica");
  require(!o.provider_nosync || o.mode == SlapdMode::kProvider,
          "provider_nosync needs kProvider");
  if (o.mode == SlapdMode::kReplica) {
    require(o.replica_providers.size() == 2,
            "a search replica needs the URIs of both providers");
    require(o.suffix == kShippedSuffix,
            "the shipped replica files serve dc=example,dc=com only");
  }
  if (o.mode == SlapdMode::kProvider) {
    require(o.server_id == 1 || o.server_id == 2, "server_id must be 1 or 2");
    require(o.port != 0, "a provider needs a fixed port (its peer names it)");
    require(!o.peer_uri.empty(), "a provider needs peer_uri");
    require(o.suffix == kShippedSuffix,
            "the shipped multi-provider files serve dc=example,dc=com only");
  }
  if (o.mode == SlapdMode::kConsumer) {
    require(!o.provider_uri.empty(), "a consumer needs provider_uri");
  }
  if (o.mode == SlapdMode::kShipped) {
    require(o.suffix == kShippedSuffix,
            "the shipped slapd.conf serves dc=example,dc=com only");
  } else {
    require(o.shipped_edits.empty(), "shipped_edits needs kShipped");
    require(o.index_lines.empty(), "index_lines needs kShipped");
  }
  const bool tls = !o.tls_ca_cert_file.empty() || !o.tls_cert_file.empty() ||
                   !o.tls_key_file.empty();
  require(
      !tls || (o.mode != SlapdMode::kProvider && o.mode != SlapdMode::kReplica),
      "no TLS with kProvider or kReplica");
  require(!o.ldaps || (!o.tls_cert_file.empty() && !o.tls_key_file.empty()),
          "ldaps needs tls_cert_file and tls_key_file");
}

std::string SlapdServer::Stored(const std::string& password) const {
  if (!options_.hash_passwords) return password;
  // From a file, not argv, which other local users could read.
  const std::string file = dir_.File("password");
  WriteFile(file, password, 0600);
  const ProcessResult r =
      RunProcess({kSlappasswd, "-h", "{SSHA}", "-T", file}, "");
  std::filesystem::remove(file);
  const std::string hash = r.out.substr(0, r.out.find('\n'));
  if (r.exit_code != 0 || hash.rfind("{SSHA}", 0) != 0) {
    throw std::runtime_error("SlapdServer: slappasswd failed (exit " +
                             std::to_string(r.exit_code) + "): " + r.out +
                             r.err);
  }
  return hash;
}

void SlapdServer::PickLdapsPort() {
  if (!options_.ldaps) return;
  do {
    ldaps_port_ = FreeTcpPort();
  } while (ldaps_port_ == port_);
}

void SlapdServer::WriteConfig() {
  if (options_.mode == SlapdMode::kShipped) {
    WriteFile(dir_.File("slapd.conf"), ShippedText());
    return;
  }
  const bool replica = options_.mode == SlapdMode::kReplica;
  if (options_.mode != SlapdMode::kProvider && !replica) {
    WriteFile(dir_.File("slapd.conf"), ConfigText());
    return;
  }
  if (!options_.cn_config) {
    WriteFile(dir_.File("slapd.conf"), replica
                                           ? ReplicaText(kReplicaConf)
                                           : ProviderText(kMultiProviderConf));
    return;
  }
  WriteFile(dir_.File("config.ldif"), replica
                                          ? ReplicaText(kReplicaLdif)
                                          : ProviderText(kMultiProviderLdif));
  std::filesystem::create_directory(dir_.File("slapd.d"));
  const ProcessResult r =
      RunProcess({kSlapadd, "-n0", "-F", dir_.File("slapd.d"), "-l",
                  dir_.File("config.ldif")},
                 "", std::chrono::seconds(30));
  if (r.exit_code != 0) {
    throw std::runtime_error("SlapdServer: slapadd -n0 of " +
                             dir_.File("config.ldif") + " failed (exit " +
                             std::to_string(r.exit_code) + "):\n" + r.out +
                             r.err);
  }
}

// The shipped file is written for node 1 (ldap1) replicating from node 2
// (ldap2); node 2 differs only in the syncrepl provider, as its comments
// say. The listener (-h) is this node's URL, as in its serverID line.
std::string SlapdServer::ProviderText(const std::string& file) const {
  std::string text = ReadFile(file);
  const bool node1 = options_.server_id == 1;
  const std::string& peer = options_.peer_uri;
  ReplaceAll(text, std::string("provider=") + kShippedNode2, "provider=" + peer,
             file);
  ReplaceAll(text, kShippedNode1, node1 ? uri() : peer, file);
  ReplaceAll(text, kShippedNode2, node1 ? peer : uri(), file);
  SubstituteLocal(text, file);
  if (options_.provider_nosync) {
    if (options_.cn_config) {
      ReplaceAll(text, "#olcDbNoSync:", "olcDbNoSync:", file);
      ReplaceAll(text, "#olcDbCheckpoint:", "olcDbCheckpoint:", file);
    } else {
      ReplaceLine(text, "#dbnosync", "dbnosync", file);
      ReplaceAll(text, "#checkpoint\t", "checkpoint\t", file);
    }
  }
  return text;
}

void SlapdServer::SubstituteLocal(std::string& text,
                                  const std::string& file) const {
  ReplaceAll(text, kShippedSchemaPrefix, kTestSchemaPrefix, file);
  ReplaceAll(text, "/var/run/slapd/slapd.", dir_.File("slapd."), file);
  ReplaceAll(text, "/var/lib/ldap", dir_.File("data"), file);
  ReplaceAll(text, "change-this-replicator-password", replicator_password(),
             file);
  if (options_.cn_config) {
    ReplaceLine(text, "#olcRootPW:", "olcRootPW: " + stored_admin_password_,
                file);
    if (LogsToItsFile())
      ReplaceLine(text, "olcLogLevel:", "olcLogLevel: 0", file);
  } else {
    ReplaceLine(text, "#rootpw", "rootpw " + stored_admin_password_, file);
    if (LogsToItsFile()) ReplaceLine(text, "loglevel", "loglevel 0", file);
  }
}

// The shipped replica names provider nodes 1 (ldap1) and 2 (ldap2), in
// its syncrepl and updateref lines.
std::string SlapdServer::ReplicaText(const std::string& file) const {
  std::string text = ReadFile(file);
  ReplaceAll(text, kShippedNode1, options_.replica_providers[0], file);
  ReplaceAll(text, kShippedNode2, options_.replica_providers[1], file);
  SubstituteLocal(text, file);
  return text;
}

// The shipped single-server file: only what must differ on a test machine
// changes (paths, the schema's location, an administrator for loading
// data, the TLS files), so its limits and ACLs are what the tests prove.
std::string SlapdServer::ShippedText() const {
  const std::string file = kShippedConf;
  std::string text = ReadFile(file);
  ReplaceAll(text, kShippedSchemaPrefix, kTestSchemaPrefix, file);
  ReplaceAll(text, "/var/run/slapd/slapd.", dir_.File("slapd."), file);
  ReplaceAll(text, "/var/lib/ldap", dir_.File("data"), file);
  ReplaceLine(text, "#rootdn", "rootdn " + Quote(admin_dn()), file);
  ReplaceLine(text, "#rootpw", "rootpw " + stored_admin_password_, file);
  if (LogsToItsFile()) ReplaceLine(text, "loglevel", "loglevel 0", file);
  const std::pair<const char*, const std::string*> tls[] = {
      {"TLSCACertificateFile", &options_.tls_ca_cert_file},
      {"TLSCertificateFile", &options_.tls_cert_file},
      {"TLSCertificateKeyFile", &options_.tls_key_file}};
  for (const auto& [directive, value] : tls) {
    if (value->empty()) continue;
    ReplaceLine(text, std::string("#") + directive + "\t",
                std::string(directive) + " " + Quote(*value), file);
  }
  for (const auto& [from, to] : options_.shipped_edits) {
    ReplaceAll(text, from, to, file);
  }
  if (!options_.index_lines.empty()) {
    ReplaceIndexes(text, options_.index_lines, file);
  }
  return text;
}

std::string SlapdServer::TlsText() const {
  std::string text;
  if (!options_.tls_ca_cert_file.empty()) {
    text += "TLSCACertificateFile " + Quote(options_.tls_ca_cert_file) + "\n";
  }
  if (!options_.tls_cert_file.empty()) {
    text += "TLSCertificateFile " + Quote(options_.tls_cert_file) + "\n";
  }
  if (!options_.tls_key_file.empty()) {
    text += "TLSCertificateKeyFile " + Quote(options_.tls_key_file) + "\n";
  }
  return text;
}

std::string SlapdServer::ConfigText() const {
  std::ostringstream c;
  for (const char* schema : {"core", "cosine", "inetorgperson"}) {
    c << "include /etc/ldap/schema/" << schema << ".schema\n";
  }
  if (options_.load_ldapmda_schema)
    c << "include "
      << Quote(options_.schema_file.empty() ? std::string(kProjectSchema)
                                            : options_.schema_file)
      << "\n";
  if (LogsToItsFile()) c << "loglevel 0\n";
  c << "pidfile " << Quote(dir_.File("slapd.pid")) << "\n"
    << "argsfile " << Quote(dir_.File("slapd.args")) << "\n"
    << "modulepath /usr/lib/ldap\n"
    << "moduleload back_mdb\n"
    << "sockbuf_max_incoming_auth " << options_.sockbuf_max_incoming_auth
    << "\n"
    << TlsText() << "\n"
    << "database mdb\n"
    << "directory " << Quote(dir_.File("data")) << "\n"
    << "maxsize " << options_.maxsize << "\n";
  if (options_.maxentrysize > 0) {
    c << "maxentrysize " << options_.maxentrysize << "\n";
  }
  if (options_.dbnosync) c << "dbnosync\n";
  c << "suffix " << Quote(suffix()) << "\n"
    << "rootdn " << Quote(admin_dn()) << "\n"
    << "rootpw " << stored_admin_password_ << "\n"
    << "sizelimit "
    << (options_.sizelimit_directive.empty()
            ? std::to_string(options_.sizelimit)
            : options_.sizelimit_directive)
    << "\n"
    << "index objectClass eq\nindex mail eq\nindex uid eq\n";
  if (options_.load_ldapmda_schema) c << "index mdaKey eq\n";
  if (options_.mode == SlapdMode::kConsumer) c << ConsumerText();
  return c.str() + AccessText();
}

std::string SlapdServer::ConsumerText() const {
  const std::string& provider = options_.provider_uri;
  std::string text = "index entryCSN,entryUUID eq\n";
  text += "syncrepl rid=001 provider=" + provider +
          " bindmethod=simple binddn=" + Quote(replicator_dn()) +
          " credentials=" + Quote(replicator_password()) +
          " searchbase=" + Quote(suffix()) +
          " type=refreshAndPersist retry=\"1 +\""
          " network-timeout=10\n";
  if (options_.update_referral) text += "updateref " + provider + "\n";
  return text;
}

// The service DN, the Dovecot identity and this uid's SASL EXTERNAL
// identity (ldapi peer credentials) may write; anonymous may read
// (without anonymous_read: nothing), except passwords, which it may only
// use to bind. The rootdn needs no rule.
std::string SlapdServer::AccessText() const {
  const std::string writers =
      "  by dn.exact=" + Quote(service_dn()) + " write\n" +
      "  by dn.exact=" + Quote(dovecot_dn()) + " write\n" +
      "  by dn.regex=\"^gidNumber=[0-9]+[+]uidNumber=" +
      std::to_string(geteuid()) + ",cn=peercred,cn=external,cn=auth$\" write\n";
  return "access to attrs=userPassword\n" + writers +
         "  by anonymous auth\n  by * none\n" + "access to *\n" + writers +
         (options_.anonymous_read ? "  by * read\n" : "  by * none\n");
}

void SlapdServer::Start() {
  if (running()) return;
  if (!TryStart()) {
    Fail("port " + std::to_string(port_) + " is taken", /*port_taken=*/true);
  }
}

bool SlapdServer::TryStart() {
  const std::size_t log_start = log().size();
  const UniqueFd null_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  const UniqueFd log_fd(open(log_path().c_str(),
                             O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!null_fd.valid() || !log_fd.valid()) Fail("cannot open slapd.log");
  unlink(ldapi_path().c_str());  // stale after Kill()
  // Only a main-thread start may tie slapd's life to its parent thread.
  const bool main_thread = gettid() == getpid();
  pid_ = StartProcess(SlapdArgv(), null_fd.get(), log_fd.get(), log_fd.get(),
                      {}, main_thread);
  if (WaitUntilReady()) return true;
  if (log().find("Address already in use", log_start) != std::string::npos) {
    return false;
  }
  Fail("slapd exited during start-up");
}

std::vector<std::string> SlapdServer::SlapdArgv() const {
  const bool config_dir = options_.cn_config;
  // The TCP URL exactly as in the serverID line (slapd compares strings:
  // no trailing slash).
  std::string listeners = uri() + " " + ldapi_uri() + "/";
  if (options_.ldaps) listeners += " " + ldaps_uri() + "/";
  return {kSlapd,
          "-d",
          options_.debug_level,
          config_dir ? "-F" : "-f",
          dir_.File(config_dir ? "slapd.d" : "slapd.conf"),
          "-h",
          listeners};
}

bool SlapdServer::WaitUntilReady() {
  const auto deadline = Clock::now() + kStartTimeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    if (CanConnectTcp(port_) && CanConnectUnix(ldapi_path()) &&
        (!options_.ldaps || CanConnectTcp(ldaps_port_))) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Fail("slapd did not accept connections within 10 s");
}

void SlapdServer::Fail(const std::string& why, bool port_taken) {
  Kill();
  const std::string what =
      "SlapdServer: " + why + "\n--- " + log_path() + " ---\n" + log();
  if (port_taken) throw SlapdPortTaken(what);
  throw std::runtime_error(what);
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

std::string SlapdServer::ldaps_uri() const {
  if (!options_.ldaps) throw std::logic_error("SlapdServer: no ldaps option");
  return "ldaps://127.0.0.1:" + std::to_string(ldaps_port_);
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
    return ReadFile(log_path());
  } catch (const std::runtime_error&) {
    return "";
  }
}

std::optional<TestEntry> SlapdServer::WaitForEntry(
    const std::string& dn, std::chrono::milliseconds timeout,
    const std::vector<std::string>& attrs) const {
  using std::chrono::milliseconds;
  const auto deadline = Clock::now() + timeout;
  std::optional<LdapClient> admin;
  for (;;) {
    // Each call may take what is left, at least 50 ms, at most 1 s.
    const milliseconds call = std::clamp(
        std::chrono::duration_cast<milliseconds>(deadline - Clock::now()),
        milliseconds(50), milliseconds(1000));
    try {
      if (!admin) {
        admin.emplace(uri(), admin_dn(), admin_password(), call);
      } else {
        admin->SetTimeout(call);
      }
      if (auto entry = admin->Read(dn, attrs)) return entry;
    } catch (const LdapError&) {
      admin.reset();  // down, restarting or hung: reconnect next time
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

LdapClient SlapdServer::Admin() const {
  return LdapClient(uri(), admin_dn(), admin_password());
}

LdapClient SlapdServer::Service() const {
  return LdapClient(uri(), service_dn(), service_password());
}

void SlapdServer::LoadSampleData() {
  if (options_.mode == SlapdMode::kConsumer ||
      options_.mode == SlapdMode::kReplica) {
    return;  // it replicates
  }
  LdapClient admin = Admin();
  if (options_.load_sample_data) {
    AddBaseEntry(admin);
    for (const char* ou : {"people", "services"}) {
      MustAdd(admin, std::string("ou=") + ou + "," + suffix(),
              {{"objectClass", {"organizationalUnit"}}, {"ou", {ou}}});
    }
    AddServiceEntry(admin, service_dn(), stored_service_password_);
    AddServiceEntry(admin, dovecot_dn(), Stored(dovecot_password()));
    for (const char* uid : {"alice", "bob", "carol"}) {
      AddUser(admin, uid, std::string(uid) + "@example.com");
    }
    AddUser(admin, "dup1", "dup@example.com");
    AddUser(admin, "dup2", "dup@example.com");
    if (options_.mode == SlapdMode::kProvider) {
      AddServiceEntry(admin, replicator_dn(), stored_replicator_password_);
    }
  }
  for (const std::string& ldif : options_.extra_ldif) admin.ApplyLdif(ldif);
}

void SlapdServer::AddServiceEntry(LdapClient& admin, const std::string& dn,
                                  const std::string& stored_password) {
  MustAdd(admin, dn,
          {{"objectClass", {"organizationalRole", "simpleSecurityObject"}},
           {"cn", {FirstRdn(dn).second}},
           {"userPassword", {stored_password}}});
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
           {"mail", {mail}},
           {"userPassword", {UserPassword(uid)}}});
}

ProviderPair StartProviderPair(SlapdOptions node1, SlapdOptions node2) {
  node1.mode = node2.mode = SlapdMode::kProvider;
  node1.server_id = 1;
  node2.server_id = 2;
  for (int attempt = 1;; ++attempt) {
    node1.port = FreeTcpPort();
    do {
      node2.port = FreeTcpPort();
    } while (node2.port == node1.port);
    node1.peer_uri = "ldap://127.0.0.1:" + std::to_string(node2.port);
    node2.peer_uri = "ldap://127.0.0.1:" + std::to_string(node1.port);
    try {
      ProviderPair pair;
      pair.node1 = std::make_unique<SlapdServer>(node1);
      pair.node2 = std::make_unique<SlapdServer>(node2);
      return pair;
    } catch (const SlapdPortTaken&) {
      if (attempt == kStartAttempts) throw;
    }
  }
}

std::unique_ptr<SlapdServer> StartSearchReplica(const ProviderPair& pair,
                                                SlapdOptions options) {
  options.mode = SlapdMode::kReplica;
  options.replica_providers = {pair.node1->uri(), pair.node2->uri()};
  return std::make_unique<SlapdServer>(std::move(options));
}

}  // namespace ldapmda::testing
