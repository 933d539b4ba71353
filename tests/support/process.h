// process: test helpers for child processes and files. RunProcess runs a
// program (no shell) with stdin data, captures stdout and stderr and
// enforces a timeout; StartProcess is the building block for long-lived
// children such as slapd. Also binary file I/O, a self-removing temporary
// directory and a free TCP port finder.
//
// Two ways to run the ldapmda binary under test differently, both off by
// default: a RunAs identity (the tests run it as an unprivileged user, as
// pipe(8) does), and the environment variable LDAPMDA_WRAPPER, whose
// words are put before every command line that runs the ldapmda binary
// (scripts/valgrind runs the integration tests with valgrind that way).
#ifndef LDAPMDA_TESTS_SUPPORT_PROCESS_H_
#define LDAPMDA_TESTS_SUPPORT_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ldapmda::testing {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership.
  int Release();
  // Closes the current descriptor (if any) and owns `fd`.
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct ProcessResult {
  int exit_code = -1;  // -1 if killed by a signal
  int signal = 0;      // the signal that killed it, 0 if it exited
  std::string out;
  std::string err;
  double seconds = 0;  // wall time from start to reaping
};

// A Unix identity for a child: before exec it drops its supplementary
// groups, then sets its group and user ID to these (only root can).
struct RunAs {
  uid_t uid;
  gid_t gid;
};

// Runs argv[0] (a path; no PATH search, no shell) with `stdin_data` on its
// stdin, `extra_env` ("NAME=value", overriding) added to this process's
// environment. Feeds stdin while draining stdout and stderr, so any sizes
// work; a child that exits without reading stdin is fine. Past `timeout`
// the child's process group gets SIGKILL. With `run_as` the child runs as
// that identity. Throws std::runtime_error when the program cannot be
// started.
ProcessResult RunProcess(
    const std::vector<std::string>& argv, std::string_view stdin_data,
    std::chrono::milliseconds timeout = std::chrono::seconds(120),
    const std::vector<std::string>& extra_env = {},
    const std::optional<RunAs>& run_as = std::nullopt);

// Starts argv[0] (a path) with the given descriptors as its stdin, stdout
// and stderr, in its own process group, with default signal dispositions.
// With `kill_with_parent`, the child gets SIGKILL when the calling thread
// exits (prctl PR_SET_PDEATHSIG), so a crashed test leaves no orphan.
// With `run_as` the child runs as that identity. When argv[0] is the
// ldapmda binary under test and LDAPMDA_WRAPPER is set (words separated
// by spaces, the first an absolute path, e.g. "/usr/bin/valgrind -q"),
// the wrapper runs instead, with argv after its words. Returns the pid
// once exec succeeded; throws std::runtime_error otherwise.
pid_t StartProcess(const std::vector<std::string>& argv, int stdin_fd,
                   int stdout_fd, int stderr_fd,
                   const std::vector<std::string>& extra_env = {},
                   bool kill_with_parent = false,
                   const std::optional<RunAs>& run_as = std::nullopt);

// Reads a whole file, binary. Throws std::runtime_error.
std::string ReadFile(const std::string& path);

// Creates or truncates `path`, writes `data` and sets exactly `mode`
// (umask does not apply). Throws std::runtime_error.
void WriteFile(const std::string& path, std::string_view data,
               mode_t mode = 0644);

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it
// by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string File(std::string_view name) const;
  // Gives the directory up: it stays when this object goes. Returns its
  // path; path() is empty afterwards.
  std::string Release();

 private:
  void Remove() noexcept;
  std::string path_;
};

// Blocks SIGINT, SIGTERM and SIGHUP (those not ignored on entry), and
// the `extra` signals, in the calling thread (a program's only one) and
// returns a signalfd that reads them: a program waits on it for the end
// and lets its destructors clean up. Children started here get their
// signals unblocked again. Throws std::runtime_error.
UniqueFd BlockTerminationSignals(std::initializer_list<int> extra = {});

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read
// the port back, close). Throws std::runtime_error.
int FreeTcpPort();

}  // namespace ldapmda::testing

#endif  // LDAPMDA_TESTS_SUPPORT_PROCESS_H_
