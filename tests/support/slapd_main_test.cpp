// slapd_main_test: ldapmda-test-slapd, the command-line front end of
// SlapdServer that bench/run and scripts/demo use, as those callers use
// it: read its output to the end, reach slapd with what it printed, stop
// it with SIGTERM (or by exiting), and find nothing left behind.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <ldap.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/ldap_client.h"
#include "support/postfix_server.h"
#include "support/process.h"
#include "support/support_test_util.h"

#ifndef LDAPMDA_TEST_SLAPD
#error "LDAPMDA_TEST_SLAPD must be defined as ldapmda-test-slapd's path"
#endif

namespace ldapmda::testing {
namespace {

using std::chrono::seconds;
using Info = std::map<std::string, std::string>;

// The launcher, running; its stdout read to the end (it closes it once
// slapd is up, or exits).
class Launcher {
 public:
  // Runs ldapmda-test-slapd with `args`; without `launcher_first`, runs
  // `args` as they are (a shell that runs it).
  explicit Launcher(std::vector<std::string> args, bool launcher_first = true) {
    std::array<int, 2> out{};
    if (pipe2(out.data(), O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    UniqueFd read_end(out[0]);
    UniqueFd write_end(out[1]);
    const UniqueFd null_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
    const UniqueFd err(open(dir_.File("stderr").c_str(),
                            O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    if (launcher_first) args.insert(args.begin(), LDAPMDA_TEST_SLAPD);
    pid_ = StartProcess(args, null_fd.get(), write_end.get(), err.get());
    write_end.Reset();  // only the launcher writes: EOF when it is done
    char buf[4096];
    for (ssize_t n; (n = read(read_end.get(), buf, sizeof buf)) != 0;) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw std::runtime_error("read");
      out_.append(buf, static_cast<std::size_t>(n));
    }
  }
  ~Launcher() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      Wait();
    }
  }
  Launcher(const Launcher&) = delete;
  Launcher& operator=(const Launcher&) = delete;

  // Its exit code, once it exited (-1: killed by a signal).
  int Wait() {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  int Terminate() {
    kill(pid_, SIGTERM);
    return Wait();
  }

  pid_t pid() const { return pid_; }
  const std::string& out() const { return out_; }
  std::string err() const { return ReadFile(dir_.File("stderr")); }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  std::string out_;
};

// SLAPD_NAME='value' lines (values without quotes) -> name: value.
Info ParseShell(const std::string& text) {
  Info info;
  static const std::regex line(R"(^SLAPD_([A-Z0-9_]+)='([^']*)'$)");
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    EXPECT_TRUE(std::regex_match(l, m, line)) << l;
    std::string name = m[1];
    for (char& c : name) c = static_cast<char>(std::tolower(c));
    info[name] = m[2];
  }
  return info;
}

// One flat JSON object of strings and numbers -> name: value.
Info ParseJson(const std::string& text) {
  Info info;
  static const std::regex field(
      R"re("([a-z0-9_]+)": ("([^"\\]*)"|([0-9]+)))re");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), field);
       it != std::sregex_iterator(); ++it) {
    info[(*it)[1]] = (*it)[3].matched ? (*it)[3] : (*it)[4];
  }
  return info;
}

bool Alive(const std::string& pid) { return kill(std::stoi(pid), 0) == 0; }

// Whether `dir` is gone within 20 s.
bool Removed(const std::string& dir) {
  return WaitFor([&] { return !std::filesystem::exists(dir); }, seconds(20));
}

TEST(LaunchTest, PrintsWhereSlapdIsAndCleansUpOnSigterm) {
  Launcher launcher({});
  Info info = ParseShell(launcher.out());
  ASSERT_TRUE(info.count("uri")) << launcher.out() << launcher.err();
  EXPECT_EQ(info["uri"], "ldap://127.0.0.1:" + info["port"]);
  EXPECT_EQ(info["log"], info["dir"] + "/slapd.log");
  EXPECT_EQ(info["launcher_pid"], std::to_string(launcher.pid()));
  EXPECT_EQ(info["admin_dn"], "cn=admin,dc=example,dc=com");
  EXPECT_EQ(info.count("node2_uri"), 0u);
  // The password files have no line end: ldapadd -y reads them whole.
  EXPECT_EQ(ReadFile(info["service_pw_file"]), info["service_password"]);
  EXPECT_EQ(ReadFile(info["admin_pw_file"]), info["admin_password"]);
  LdapClient service(info["uri"], info["service_dn"], info["service_password"]);
  EXPECT_EQ(service
                .Search(info["people_dn"], LDAP_SCOPE_ONELEVEL,
                        "(mail=alice@example.com)", {"1.1"})
                .size(),
            1u);
  EXPECT_EQ(LdapClient::External(info["ldapi_uri"]).WhoAmI().rfind("dn:", 0),
            0u);
  ASSERT_TRUE(Alive(info["pid"]));
  EXPECT_EQ(launcher.Terminate(), 0) << launcher.err();
  EXPECT_FALSE(Alive(info["pid"]));
  EXPECT_FALSE(std::filesystem::exists(info["dir"]));
}

TEST(LaunchTest, PrivateShippedServerInJson) {
  Launcher launcher({"--json", "--private", "--config", "shipped", "--fsync"});
  Info info = ParseJson(launcher.out());
  ASSERT_TRUE(info.count("uri")) << launcher.out() << launcher.err();
  EXPECT_EQ(info["admin_password"].size(), 24u);
  EXPECT_NE(info["service_password"], "mdapass");
  LdapClient admin(info["uri"], info["admin_dn"], info["admin_password"]);
  const auto service = admin.Read(info["service_dn"], {"userPassword"});
  ASSERT_TRUE(service.has_value());
  EXPECT_EQ(service->First("userPassword").rfind("{SSHA}", 0), 0u);
  const std::string conf = ReadFile(info["dir"] + "/slapd.conf");
  EXPECT_FALSE(Contains(conf, "dbnosync"));
  EXPECT_TRUE(Contains(conf, "rootpw {SSHA}"));
  EXPECT_EQ(launcher.Terminate(), 0) << launcher.err();
  EXPECT_FALSE(std::filesystem::exists(info["dir"]));
}

TEST(LaunchTest, PairLoadsNodeOneAndNodeTwoReplicates) {
  TempDir dir;
  const std::string ldif = dir.File("mailbox.ldif");
  WriteFile(ldif,
            "dn: cn=mailbox,uid=alice,ou=people,dc=example,dc=com\n"
            "objectClass: mdaMailbox\ncn: mailbox\n");
  Launcher launcher({"--config", "pair", "--private", "--ldif", ldif});
  Info info = ParseShell(launcher.out());
  ASSERT_TRUE(info.count("node2_uri")) << launcher.out() << launcher.err();
  EXPECT_EQ(info["replicator_dn"],
            "cn=replicator,ou=services,dc=example,dc=com");
  const std::string mailbox =
      "cn=mailbox,uid=alice,ou=people,dc=example,dc=com";
  EXPECT_TRUE(WaitFor(
      [&] {
        try {
          LdapClient node2(info["node2_uri"], info["admin_dn"],
                           info["admin_password"]);
          return node2.Read(mailbox).has_value();
        } catch (const LdapError&) {
          return false;
        }
      },
      seconds(30)))
      << ReadFile(info["node2_log"]);
  EXPECT_EQ(launcher.Terminate(), 0) << launcher.err();
  EXPECT_FALSE(Alive(info["pid"]));
  EXPECT_FALSE(Alive(info["node2_pid"]));
  EXPECT_FALSE(std::filesystem::exists(info["dir"]));
  EXPECT_FALSE(std::filesystem::exists(info["node2_dir"]));
}

// The shipped search replica behind the pair, with fsync everywhere; and
// the providers' documented dbnosync trade, uncommented on request.
TEST(LaunchTest, ReplicaFollowsThePairAndNosyncIsOptIn) {
  Launcher launcher({"--json", "--config", "replica", "--private", "--fsync"});
  Info info = ParseJson(launcher.out());
  ASSERT_TRUE(info.count("replica_uri")) << launcher.out() << launcher.err();
  LdapClient replica(info["replica_uri"], info["admin_dn"],
                     info["admin_password"]);
  EXPECT_TRUE(replica.Read(info["replicator_dn"]).has_value());
  for (const char* node : {"dir", "node2_dir", "replica_dir"}) {
    EXPECT_FALSE(std::regex_search(
        ReadFile(info[node] + "/slapd.conf"),
        std::regex("^(dbnosync|checkpoint)", std::regex::multiline)))
        << node;
  }
  EXPECT_EQ(launcher.Terminate(), 0) << launcher.err();
  EXPECT_FALSE(Alive(info["replica_pid"]));
  EXPECT_FALSE(std::filesystem::exists(info["replica_dir"]));

  Launcher nosync({"--json", "--config", "pair", "--provider-nosync"});
  info = ParseJson(nosync.out());
  ASSERT_TRUE(info.count("node2_uri")) << nosync.out() << nosync.err();
  for (const char* node : {"dir", "node2_dir"}) {
    const std::string conf = ReadFile(info[node] + "/slapd.conf");
    EXPECT_TRUE(Contains(conf, "\ndbnosync\n")) << node;
    EXPECT_TRUE(Contains(conf, "\ncheckpoint\t0 1\n")) << node;
  }
  EXPECT_EQ(nosync.Terminate(), 0) << nosync.err();

  Launcher both({"--config", "pair", "--provider-nosync", "--fsync"});
  EXPECT_EQ(both.Wait(), 64);
  EXPECT_EQ(both.out(), "");
}

TEST(LaunchTest, AFailedStartPrintsNothingAndExitsWithTheReason) {
  TempDir dir;
  const std::string ldif = dir.File("bad.ldif");
  WriteFile(ldif, "dn: uid=x,ou=nowhere,dc=example,dc=com\nobjectClass: top\n");
  Launcher launcher({"--ldif", ldif});
  EXPECT_EQ(launcher.out(), "");
  EXPECT_EQ(launcher.Wait(), 1);
  EXPECT_TRUE(Contains(launcher.err(), "ou=nowhere")) << launcher.err();
  Launcher usage({"--config", "nonsense"});
  EXPECT_EQ(usage.Wait(), 64);
  EXPECT_TRUE(Contains(usage.err(), "Usage:")) << usage.err();
}

TEST(LaunchTest, ExitsWhenSlapdDies) {
  Launcher launcher({});
  Info info = ParseShell(launcher.out());
  ASSERT_TRUE(info.count("pid")) << launcher.out() << launcher.err();
  kill(std::stoi(info["pid"]), SIGKILL);
  EXPECT_EQ(launcher.Wait(), 1);
  EXPECT_TRUE(
      Contains(launcher.err(), "slapd (pid " + info["pid"] + ") exited"))
      << launcher.err();
  EXPECT_FALSE(std::filesystem::exists(info["dir"]));
}

TEST(LaunchTest, ASigintIgnoredOnEntryStaysIgnored) {
  // As a non-interactive shell starts a background job: Ctrl-C is the
  // shell's business, which then sends SIGTERM.
  Launcher launcher(
      {"/bin/sh", "-c", "trap '' INT; exec '" LDAPMDA_TEST_SLAPD "'"}, false);
  Info info = ParseShell(launcher.out());
  ASSERT_TRUE(info.count("pid")) << launcher.out() << launcher.err();
  kill(launcher.pid(), SIGINT);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(std::filesystem::exists(info["dir"]));
  EXPECT_TRUE(Alive(info["pid"]));
  EXPECT_EQ(launcher.Terminate(), 0) << launcher.err();
  EXPECT_FALSE(std::filesystem::exists(info["dir"]));
}

TEST(LaunchTest, StopsWhenItsParentExits) {
  TempDir dir;
  const std::string out = dir.File("out");
  // The shell starts it in the background and exits a moment later (a
  // parent gone before the launcher ran at all is not noticed).
  const ProcessResult r = RunProcess(
      {"/bin/sh", "-c",
       "'" LDAPMDA_TEST_SLAPD "' >'" + out + "' 2>&1 </dev/null & sleep 1"},
      "", seconds(30));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitFor([&] { return Contains(ReadFile(out), "LAUNCHER_PID"); },
                      seconds(30)))
      << ReadFile(out);
  Info info = ParseShell(ReadFile(out));
  EXPECT_TRUE(Removed(info["dir"])) << info["dir"];
  EXPECT_TRUE(
      WaitFor([&] { return !Alive(info["launcher_pid"]); }, seconds(10)));
  EXPECT_FALSE(Alive(info["pid"]));
}

}  // namespace
}  // namespace ldapmda::testing
