// process_test: tests of the support library's process and file helpers
// (support/process.h) against real child processes: no server, seconds.
#include "support/process.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "support/support_test_util.h"

namespace ldapmda::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(RunProcessTest, ReportsExitCode) {
  const ProcessResult r = RunProcess({"/bin/sh", "-c", "exit 3"}, "");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.signal, 0);
  EXPECT_GE(r.seconds, 0.0);
}

TEST(RunProcessTest, CapturesStdoutAndStderrSeparately) {
  const ProcessResult r = RunProcess(
      {"/bin/sh", "-c", "printf 'o\\000ut'; printf 'err' >&2; exit 0"}, "");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, std::string("o\0ut", 4));
  EXPECT_EQ(r.err, "err");
}

TEST(RunProcessTest, PassesTenMegabytesOfStdinByteExact) {
  const std::string data = RandomBytes(10 * kMiB, 1);
  const ProcessResult r = RunProcess({"/bin/cat"}, data, seconds(60));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.size(), data.size());
  EXPECT_TRUE(r.out == data);
}

TEST(RunProcessTest, ChildThatIgnoresStdinNeitherHangsNorKillsUs) {
  struct sigaction before {};
  sigaction(SIGPIPE, nullptr, &before);
  const std::string data = RandomBytes(10 * kMiB, 2);
  const ProcessResult r = RunProcess({"/bin/true"}, data, seconds(30));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_LT(r.seconds, 10.0);
  struct sigaction after {};
  sigaction(SIGPIPE, nullptr, &after);
  EXPECT_EQ(after.sa_handler, before.sa_handler);  // restored
}

TEST(RunProcessTest, ConcurrentCallsFromThreads) {
  struct sigaction before {};
  sigaction(SIGPIPE, nullptr, &before);
  const std::string data = RandomBytes(2 * kMiB, 7);
  std::vector<std::thread> threads;
  std::vector<ProcessResult> results(8);
  for (std::size_t i = 0; i < results.size(); ++i) {
    const char* program = i % 2 == 0 ? "/bin/true" : "/bin/cat";
    threads.emplace_back(
        [&, i, program] { results[i] = RunProcess({program}, data); });
  }
  for (std::thread& t : threads) t.join();
  for (std::size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].exit_code, 0) << i;
    EXPECT_EQ(results[i].out.size(), i % 2 == 0 ? 0 : data.size()) << i;
  }
  struct sigaction after {};
  sigaction(SIGPIPE, nullptr, &after);
  EXPECT_EQ(after.sa_handler, before.sa_handler);
}

TEST(RunProcessTest, StdinIsFedAfterTheChildClosesItsOutput) {
  // wc only finishes (and exits 0) once it has read all of stdin.
  const ProcessResult r =
      RunProcess({"/bin/sh", "-c", "exec >&- 2>&-; /usr/bin/wc -c >/dev/null"},
                 RandomBytes(4 * kMiB, 8), seconds(30));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_LT(r.seconds, 10.0);
}

TEST(RunProcessTest, ChildThatReadsPartOfStdin) {
  const std::string data = RandomBytes(10 * kMiB, 3);
  const ProcessResult r =
      RunProcess({"/usr/bin/head", "-c", "10"}, data, seconds(30));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, data.substr(0, 10));
}

TEST(RunProcessTest, ChildStartsWithDefaultSignalDispositions) {
  // RunProcess ignores SIGPIPE in the parent; the child must not inherit.
  const ProcessResult r =
      RunProcess({"/bin/grep", "^SigIgn:", "/proc/self/status"}, "");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "SigIgn:\t0000000000000000\n");
}

TEST(RunProcessTest, TimeoutKillsTheChild) {
  const ProcessResult r =
      RunProcess({"/bin/sleep", "30"}, "", milliseconds(300));
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_GE(r.seconds, 0.29);
  EXPECT_LT(r.seconds, 5.0);
}

TEST(RunProcessTest, TimeoutKillsGrandchildrenHoldingThePipes) {
  const ProcessResult r =
      RunProcess({"/bin/sh", "-c", "/bin/sleep 30 & /bin/sleep 30; echo never"},
                 "", milliseconds(300));
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_LT(r.seconds, 5.0);
  EXPECT_EQ(r.out, "");
}

TEST(RunProcessTest, ExtraEnvironmentAddsAndOverrides) {
  const ProcessResult r =
      RunProcess({"/usr/bin/env"}, "", seconds(10),
                 {"LDAPMDA_SUPPORT_TEST=a b=c", "HOME=/nonexistent-home"});
  EXPECT_EQ(r.exit_code, 0);
  const std::string env = "\n" + r.out;
  EXPECT_TRUE(Contains(env, "\nLDAPMDA_SUPPORT_TEST=a b=c\n")) << r.out;
  EXPECT_TRUE(Contains(env, "\nHOME=/nonexistent-home\n")) << r.out;
  EXPECT_EQ(env.find("\nHOME="), env.rfind("\nHOME="));  // only once
}

TEST(RunProcessTest, MissingProgramThrows) {
  EXPECT_THROW(RunProcess({"/nonexistent/program"}, ""), std::runtime_error);
}

TEST(FilesTest, WriteAndReadAreBinaryAndSetTheMode) {
  const TempDir dir;
  const std::string path = dir.File("f");
  const std::string data = RandomBytes(300000, 4) + std::string(3, '\0');
  WriteFile(path, data, 0600);
  EXPECT_EQ(ReadFile(path), data);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  WriteFile(path, "short");  // truncates
  EXPECT_EQ(ReadFile(path), "short");
}

TEST(FilesTest, ReadingAMissingFileThrows) {
  const TempDir dir;
  EXPECT_THROW(ReadFile(dir.File("missing")), std::runtime_error);
}

TEST(TempDirTest, IsRemovedRecursively) {
  std::string path;
  {
    const TempDir dir;
    path = dir.path();
    EXPECT_TRUE(std::filesystem::is_directory(path));
    std::filesystem::create_directories(dir.File("a/b"));
    WriteFile(dir.File("a/b/c"), "x");
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(FreeTcpPortTest, ReturnsABindablePort) {
  const int port = FreeTcpPort();
  ASSERT_GT(port, 0);
  const UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(0x7F000001U);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
}

}  // namespace
}  // namespace ldapmda::testing
