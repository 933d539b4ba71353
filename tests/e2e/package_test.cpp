// The Debian packages (ldapmda, dovecot-ldapmda), end to end on this
// machine (root): packaging/build-deb builds them from the working tree,
// lintian finds no error in them, their files are the layout
// `cmake --install` produces, `apt-get install`
// puts them in place, the installed ldapmda delivers with the installed
// /etc/ldapmda/ldapmda.conf as the pipe(8) user would, the installed
// schema and slapd examples load in slapd, and `apt-get purge` leaves
// nothing behind. It fails, never skips, when a tool is missing, and a
// failure never leaves the package installed.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "support/process.h"
#include "support/slapd_server.h"

namespace ldapmda {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;
using testing::ReadFile;
using testing::RunProcess;
using testing::SlapdServer;
using testing::TempDir;
using testing::UniqueFd;
using testing::WriteFile;

constexpr char kSource[] = LDAPMDA_SOURCE_DIR;
constexpr char kConf[] = "/etc/ldapmda/ldapmda.conf";
constexpr char kBindPw[] = "/etc/ldapmda/bind.pw";
constexpr char kExamples[] = "/usr/share/doc/ldapmda/examples";
constexpr char kSchemaDir[] = "/usr/share/ldapmda/schema";
// Test runs of several build trees on one machine take turns: each one
// installs and purges the same package.
constexpr char kLockFile[] = "/tmp/ldapmda-package-test.lock";
const std::vector<std::string> kAptEnv = {"DEBIAN_FRONTEND=noninteractive"};
// The binary packages: ldapmda, and the Dovecot driver.
const std::vector<std::string> kPackages = {"ldapmda", "dovecot-ldapmda"};
constexpr char kPlugin[] = "/usr/lib/dovecot/modules/lib20_ldapmda_plugin.so";
// What the packages have that `cmake --install` does not: Debian's own
// docs.
const std::set<std::string> kDebianOnly = {
    "usr/share/doc/ldapmda/README.Debian",
    "usr/share/doc/ldapmda/changelog.Debian.gz",
    "usr/share/lintian/overrides/ldapmda",
    "usr/share/doc/dovecot-ldapmda/changelog.Debian.gz",
    "usr/share/doc/dovecot-ldapmda/copyright",
    "usr/share/lintian/overrides/dovecot-ldapmda"};

const std::string kMessage =
    "From: Sender <sender@example.org>\n"
    "To: alice@example.com\n"
    "Subject: installed from the package\n"
    "Message-ID: <pkg1@example.org>\n"
    "\n"
    "Delivered by /usr/sbin/ldapmda.\n";

std::string Describe(const ProcessResult& r) {
  return "exit " + std::to_string(r.exit_code) + " signal " +
         std::to_string(r.signal) + "\n--- stdout ---\n" + r.out +
         "\n--- stderr ---\n" + r.err;
}

// Regular files and symlinks below `root` ("usr/sbin/ldapmda"), and with
// `dirs` the directories too.
std::set<std::string> Tree(const std::string& root, bool dirs = false) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (dirs || !e.is_directory() || e.is_symlink()) {
      out.insert(fs::relative(e.path(), root).string());
    }
  }
  return out;
}

// The package's files as `cmake --install` names them: without Debian's
// own docs, man pages not compressed.
std::set<std::string> UpstreamLayout(const std::set<std::string>& deb) {
  std::set<std::string> out;
  for (std::string f : deb) {
    if (kDebianOnly.count(f) != 0) continue;
    if (f.rfind("usr/share/man/", 0) == 0 && f.ends_with(".gz")) {
      f.resize(f.size() - 3);
    }
    out.insert(f);
  }
  return out;
}

std::string PackageStatus(const std::string& package) {
  const ProcessResult r =
      RunProcess({"/usr/bin/dpkg-query", "-W", "-f=${Status}", package}, "");
  return r.exit_code == 0 ? r.out : "";
}

// Known to dpkg in any state but "not installed": installed, half
// installed, or only its configuration files left.
bool PackagePresent(const std::string& package) {
  const std::string status = PackageStatus(package);
  return !status.empty() && !status.ends_with(" not-installed");
}

bool AnyPackagePresent() {
  for (const std::string& p : kPackages) {
    if (PackagePresent(p)) return true;
  }
  return false;
}

// Byte for byte; names the files rather than printing them.
void ExpectSameFile(const std::string& installed, const std::string& source) {
  EXPECT_TRUE(ReadFile(installed) == ReadFile(source))
      << installed << " differs from " << source;
}

// Sets the active "key = value" line of a configuration file; false when
// there is none.
bool SetKey(std::string& conf, const std::string& key,
            const std::string& value) {
  const std::string head = key + " = ";
  std::size_t pos = conf.rfind(head, 0) == 0 ? 0 : conf.find("\n" + head);
  if (pos == std::string::npos) return false;
  if (pos != 0) ++pos;
  const std::size_t end = conf.find('\n', pos);
  conf.replace(pos, end - pos, head + value);
  return true;
}

// The build tree the test binary belongs to, for `cmake --install`: the
// nearest directory above the ldapmda binary with a cache.
std::string BuildTree() {
  for (fs::path p = fs::path(LDAPMDA_BINARY).parent_path(); !p.empty();
       p = p.parent_path()) {
    if (fs::exists(p / "CMakeCache.txt")) return p.string();
    if (p == p.root_path()) break;
  }
  return "";
}

class PackageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lock_ = UniqueFd(open(kLockFile, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    ASSERT_TRUE(lock_.valid()) << kLockFile;
    ASSERT_EQ(flock(lock_.get(), LOCK_EX), 0) << kLockFile;
    // It installs and purges the packages: never those of the machine's
    // owner.
    for (const std::string& p : kPackages) {
      ASSERT_FALSE(PackagePresent(p))
          << p << " is installed (" << PackageStatus(p)
          << "); this test would replace and purge it: apt-get purge " << p;
    }
    for (const char* path :
         {"/usr/sbin/ldapmda", "/usr/bin/ldapmbox", "/etc/ldapmda", kPlugin}) {
      ASSERT_FALSE(fs::exists(path))
          << path << " exists but belongs to no package: remove it first";
    }
  }

  // Purges whatever this test installed, whether it passed or not, and
  // removes the bind.pw it wrote should the purge have left it, so that
  // one failure does not fail the next run's SetUp too.
  void TearDown() override {
    if (!installed_) return;
    if (AnyPackagePresent()) {
      std::vector<std::string> argv = {"/usr/bin/apt-get", "purge", "-y"};
      argv.insert(argv.end(), kPackages.begin(), kPackages.end());
      const ProcessResult r =
          RunProcess(argv, "", std::chrono::minutes(5), kAptEnv);
      EXPECT_EQ(r.exit_code, 0) << "cleanup purge: " << Describe(r);
    }
    if (!PackagePresent("ldapmda")) {
      std::error_code ignored;
      fs::remove(kBindPw, ignored);
      fs::remove("/etc/ldapmda", ignored);  // only when empty
    }
  }

  // packaging/build-deb into dir_/out; sets debs_ (one per package of
  // kPackages) and version_.
  void BuildPackage() {
    const ProcessResult r = RunProcess(
        {std::string(kSource) + "/packaging/build-deb", dir_.File("out")}, "",
        std::chrono::minutes(12));
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
    for (const auto& e : fs::directory_iterator(dir_.File("out"))) {
      const std::string name = e.path().filename().string();
      for (const std::string& p : kPackages) {
        if (name.starts_with(p + "_") && name.ends_with(".deb")) {
          ASSERT_EQ(debs_.count(p), 0u) << "two " << p << " packages";
          debs_[p] = e.path().string();
          const std::size_t v = p.size() + 1;
          version_ = name.substr(v, name.find('-', v) - v);  // upstream part
        }
      }
      if (name.ends_with(".changes")) changes_ = e.path().string();
    }
    for (const std::string& p : kPackages) {
      ASSERT_EQ(debs_.count(p), 1u) << "no " << p << "_*.deb:\n" << Describe(r);
    }
  }

  // Errors fail the test; warnings are in debian/ldapmda.lintian-overrides
  // with their reasons, or shown here.
  void Lint() {
    const ProcessResult r = RunProcess(
        {"/usr/bin/lintian", "--fail-on", "error", "--info", changes_}, "",
        std::chrono::minutes(5));
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    if (r.exit_code == 0 && !r.out.empty()) std::cout << r.out;
  }

  // The package holds exactly what `cmake --install --prefix /usr` of this
  // build tree lays out, which is also what CPack packs (it installs with
  // that prefix into a DESTDIR; cpack itself is not run here because it
  // first rebuilds the tree). Notes which of its paths exist already.
  void CheckSameLayoutAsCmake() {
    for (const auto& [package, deb] : debs_) {
      ASSERT_EQ(
          RunProcess({"/usr/bin/dpkg-deb", "-x", deb, dir_.File("deb")}, "")
              .exit_code,
          0)
          << package;
    }
    const std::set<std::string> deb = UpstreamLayout(Tree(dir_.File("deb")));
    const std::string build = BuildTree();
    ASSERT_FALSE(build.empty()) << "no CMakeCache.txt above " LDAPMDA_BINARY;

    const ProcessResult r = RunProcess(
        {"/usr/bin/cmake", "--install", build, "--prefix", "/usr"}, "",
        std::chrono::minutes(2), {"DESTDIR=" + dir_.File("cmake")});
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
    EXPECT_EQ(Tree(dir_.File("cmake")), deb) << "cmake --install differs";

    for (const std::string& path : Tree(dir_.File("deb"), true)) {
      existed_before_[path] = fs::exists("/" + path);
    }
  }

  void Install() {
    installed_ = true;  // from here on, TearDown purges
    std::vector<std::string> argv = {
        "/usr/bin/apt-get",        "install", "-y",
        "--no-install-recommends", "-o",      "DPkg::Lock::Timeout=120"};
    for (const auto& [package, deb] : debs_) argv.push_back(deb);
    const ProcessResult r =
        RunProcess(argv, "", std::chrono::minutes(5), kAptEnv);
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
    for (const std::string& p : kPackages) {
      ASSERT_EQ(PackageStatus(p), "install ok installed") << p;
    }
  }

  void CheckInstalledFiles() {
    for (const char* program : {"/usr/sbin/ldapmda", "/usr/bin/ldapmbox"}) {
      const ProcessResult r = RunProcess({program, "--version"}, "");
      EXPECT_EQ(r.out,
                fs::path(program).filename().string() + " " + version_ + "\n")
          << Describe(r);
    }
    for (const auto& e :
         fs::directory_iterator(std::string(kSource) + "/packaging/man")) {
      const std::string page = e.path().filename().string();
      EXPECT_TRUE(fs::exists("/usr/share/man/man" +
                             page.substr(page.size() - 1) + "/" + page + ".gz"))
          << page;
    }
    // The configuration is a conffile, world-readable: no secret in it.
    const ProcessResult conffiles = RunProcess(
        {"/usr/bin/dpkg-query", "-W", "-f=${Conffiles}", "ldapmda"}, "");
    EXPECT_NE(conffiles.out.find(std::string(" ") + kConf + " "),
              std::string::npos)
        << conffiles.out;
    struct stat st {};
    ASSERT_EQ(stat("/etc/ldapmda", &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0755u);
    EXPECT_EQ(st.st_uid, 0u);
    ASSERT_EQ(stat(kConf, &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
    EXPECT_EQ(st.st_uid, 0u);
    EXPECT_EQ(st.st_gid, 0u);
    const std::string conf = std::string(kSource) + "/conf/";
    ExpectSameFile(kConf, conf + "ldapmda.conf");
    // Schema and examples are the source's.
    for (const char* name : {"ldapmda.schema", "ldapmda.ldif"}) {
      ExpectSameFile(std::string(kSchemaDir) + "/" + name, conf + name);
    }
    for (const char* name :
         {"ldapmda.conf", "main.cf", "master.cf", "main-lmtp.cf",
          "master-lmtp.cf", "ldapmda-recipients.cf", "slapd.conf",
          "slapd-multiprovider.conf", "slapd-multiprovider.ldif",
          "slapd-replica.conf", "slapd-replica.ldif"}) {
      ExpectSameFile(std::string(kExamples) + "/" + name, conf + name);
    }
    for (const char* name :
         {"dovecot-ldapmda.conf", "dovecot-ldapmda-ldap.conf.ext"}) {
      ExpectSameFile(
          std::string("/usr/share/doc/dovecot-ldapmda/examples/") + name,
          conf + name);
    }
  }

  // The driver is where Dovecot loads plugins from, and the package
  // depends on the ABI of the Dovecot it was built for.
  void CheckDovecotPlugin() {
    ASSERT_TRUE(fs::exists(kPlugin));
    const ProcessResult ldd = RunProcess({"/usr/bin/ldd", kPlugin}, "");
    EXPECT_EQ(ldd.exit_code, 0) << Describe(ldd);
    EXPECT_EQ(ldd.out.find("not found"), std::string::npos) << ldd.out;
    const std::string abi =
        ReadFile("/usr/share/dovecot/dovecot-abi").substr(0, 12);
    const ProcessResult depends = RunProcess(
        {"/usr/bin/dpkg-query", "-W", "-f=${Depends}", "dovecot-ldapmda"}, "");
    EXPECT_NE(depends.out.find("dovecot-abi-" + abi), std::string::npos)
        << depends.out;
  }

  // The slapd examples name the installed schema files: slapd accepts
  // them as installed (slaptest parses slapd.conf, the include of
  // ldapmda.schema with it; slapadd builds a cn=config directory from the
  // LDIF, ldapmda.ldif included).
  void CheckSlapdLoadsInstalledSchema() {
    ProcessResult r = RunProcess({"/usr/sbin/slaptest", "-u", "-f",
                                  std::string(kExamples) + "/slapd.conf"},
                                 "");
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    fs::create_directory(dir_.File("slapd.d"));
    r = RunProcess({"/usr/sbin/slapadd", "-n0", "-F", dir_.File("slapd.d"),
                    "-l", std::string(kExamples) + "/slapd-multiprovider.ldif"},
                   "");
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    bool loaded = false;  // slapd.d/cn=config/cn=schema/cn={N}ldapmda.ldif
    const std::string schemas = dir_.File("slapd.d/cn=config/cn=schema");
    if (fs::is_directory(schemas)) {
      for (const auto& e : fs::directory_iterator(schemas)) {
        loaded =
            loaded || e.path().filename().string().ends_with("}ldapmda.ldif");
      }
    }
    EXPECT_TRUE(loaded) << "no ldapmda schema in " << schemas;
  }

  // As README.Debian says: the installed ldapmda.conf with the directory's
  // names, the password in bind.pw readable by the pipe(8) user's group;
  // ldapmda run as that user (nobody here) with its default -c.
  void DeliverThroughInstalledBinary() {
    const SlapdServer server;
    std::string conf = ReadFile(kConf);
    for (const auto& [key, value] :
         std::vector<std::pair<std::string, std::string>>{
             {"server_host", server.uri()},
             {"search_base", server.people_dn()},
             {"bind", "simple"},
             {"bind_dn", server.service_dn()},
             {"bind_pw_file", kBindPw}}) {
      ASSERT_TRUE(SetKey(conf, key, value)) << "no " << key << " in " << kConf;
    }
    WriteFile(kConf, conf, 0644);
    const group* nogroup = getgrnam("nogroup");
    ASSERT_NE(nogroup, nullptr);
    WriteFile(kBindPw, server.service_password() + "\n", 0640);
    ASSERT_EQ(chown(kBindPw, 0, nogroup->gr_gid), 0);

    const ProcessResult r =
        RunProcess({"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup",
                    "--clear-groups", "/usr/sbin/ldapmda", "-o", "log=stderr",
                    "-f", "sender@example.org", "-d", "alice@example.com"},
                   kMessage);
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
    ASSERT_TRUE(r.out.starts_with("stored as ")) << Describe(r);
    const std::string dn = r.out.substr(10, r.out.size() - 11);
    const auto entry = server.Admin().Read(dn);
    ASSERT_TRUE(entry) << dn;
    EXPECT_EQ(entry->First("mdaRawMessage"), kMessage);
    EXPECT_EQ(entry->First("mdaEnvelopeRecipient"), "alice@example.com");
  }

  // Every path the package brought is gone again, the edited conffile and
  // bind.pw with /etc/ldapmda included, and dpkg has forgotten it.
  void PurgeAndCheckNothingLeft() {
    std::vector<std::string> listed;
    for (const std::string& p : kPackages) {
      ProcessResult r = RunProcess({"/usr/bin/dpkg", "-L", p}, "");
      ASSERT_EQ(r.exit_code, 0) << Describe(r);
      std::istringstream lines(r.out);
      for (std::string line; std::getline(lines, line);) listed.push_back(line);
    }
    EXPECT_GT(listed.size(), 25u);

    std::vector<std::string> argv = {"/usr/bin/apt-get", "purge", "-y", "-o",
                                     "DPkg::Lock::Timeout=120"};
    argv.insert(argv.end(), kPackages.begin(), kPackages.end());
    const ProcessResult r =
        RunProcess(argv, "", std::chrono::minutes(5), kAptEnv);
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
    for (const std::string& p : kPackages) {
      EXPECT_FALSE(PackagePresent(p)) << PackageStatus(p);
    }
    for (const std::string& path : listed) {
      const std::string rel = fs::path(path).lexically_relative("/").string();
      if (rel == "." || existed_before_[rel]) continue;  // "/." is listed
      EXPECT_FALSE(fs::exists(fs::symlink_status(path))) << path << " left";
    }
    EXPECT_FALSE(fs::exists("/etc/ldapmda")) << "/etc/ldapmda left";
    for (const auto& e : fs::directory_iterator("/var/lib/dpkg/info")) {
      for (const std::string& p : kPackages) {
        EXPECT_FALSE(e.path().filename().string().starts_with(p + "."))
            << e.path() << " left";
      }
    }
  }

  UniqueFd lock_;
  TempDir dir_;
  std::map<std::string, std::string> debs_;  // package -> .deb
  std::string changes_;
  std::string version_;
  std::map<std::string, bool> existed_before_;  // package path -> existed
  bool installed_ = false;
};

TEST_F(PackageTest, BuildsInstallsDeliversAndPurgesWithoutTrace) {
  ASSERT_NO_FATAL_FAILURE(BuildPackage());
  Lint();
  ASSERT_NO_FATAL_FAILURE(CheckSameLayoutAsCmake());
  ASSERT_NO_FATAL_FAILURE(Install());
  CheckInstalledFiles();
  CheckSlapdLoadsInstalledSchema();
  CheckDovecotPlugin();
  ASSERT_NO_FATAL_FAILURE(DeliverThroughInstalledBinary());
  PurgeAndCheckNothingLeft();
}

}  // namespace
}  // namespace ldapmda
