// process: see process.h. Children are started with fork/execve; errors of
// the exec itself come back through a close-on-exec pipe. RunProcess pumps
// stdin, stdout and stderr with poll(2) on non-blocking pipes.
#include "support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#ifndef LDAPMDA_BINARY
#error "LDAPMDA_BINARY must be defined as the ldapmda binary under test"
#endif

namespace ldapmda::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kChunk = 64 * 1024;

[[noreturn]] void ThrowErrno(const std::string& what, int error = errno) {
  throw std::runtime_error(what + ": " + std::system_category().message(error));
}

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Pipe MakePipe() {
  std::array<int, 2> fds{};
  if (pipe2(fds.data(), O_CLOEXEC) != 0) ThrowErrno("pipe2");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

void SetNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    ThrowErrno("fcntl(O_NONBLOCK)");
  }
}

// True when `entry` ("NAME=value") sets a name that `extra` also sets.
bool Overridden(std::string_view entry, const std::vector<std::string>& extra) {
  const std::size_t eq = entry.find('=');
  if (eq == std::string_view::npos) return false;
  const std::string_view name = entry.substr(0, eq + 1);
  return std::any_of(extra.begin(), extra.end(), [&](const std::string& e) {
    return std::string_view(e).substr(0, name.size()) == name;
  });
}

std::vector<std::string> MergeEnv(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!Overridden(*e, extra)) env.emplace_back(*e);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// argv, after the words of LDAPMDA_WRAPPER when argv runs the ldapmda
// binary under test, or of LDAPMDA_DOVEADM_WRAPPER when it runs doveadm
// (which loads the Dovecot plugin under test): scripts/valgrind runs
// both under memcheck that way.
std::vector<std::string> Wrapped(const std::vector<std::string>& argv) {
  const char* variable = argv[0] == LDAPMDA_BINARY ? "LDAPMDA_WRAPPER"
                         : argv[0] == "/usr/bin/doveadm"
                             ? "LDAPMDA_DOVEADM_WRAPPER"
                             : nullptr;
  const char* wrapper = variable ? std::getenv(variable) : nullptr;
  if (wrapper == nullptr || *wrapper == '\0') return argv;
  std::vector<std::string> out;
  std::istringstream words(wrapper);
  for (std::string word; words >> word;) out.push_back(word);
  if (out.empty() || out[0].front() != '/') {
    throw std::runtime_error(std::string(variable) +
                             " must start with an absolute path: " + wrapper);
  }
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

// Everything the child needs, prepared before fork: between fork and exec
// only async-signal-safe calls are allowed.
struct ChildPlan {
  char** argv;
  char** envp;
  std::array<int, 3> fds;  // stdin, stdout, stderr
  int status_fd;           // close-on-exec; receives errno on failure
  bool kill_with_parent;
  pid_t parent;
  const RunAs* run_as;  // null: keep this process's identity
};

[[noreturn]] void ChildFail(int status_fd) {
  const int error = errno;
  [[maybe_unused]] ssize_t n = write(status_fd, &error, sizeof error);
  _exit(127);
}

// dup2 that also works when `from` already is `to`.
bool MoveFd(int from, int to) {
  if (from == to) return fcntl(to, F_SETFD, 0) == 0;
  return dup2(from, to) == to;
}

void ResetSignals() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

[[noreturn]] void ExecChild(const ChildPlan& plan) {
  setpgid(0, 0);
  if (plan.kill_with_parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != plan.parent) _exit(127);
  }
  ResetSignals();
  // Groups first: after setuid there is no right left to change them.
  if (plan.run_as != nullptr &&
      (setgroups(1, &plan.run_as->gid) != 0 || setgid(plan.run_as->gid) != 0 ||
       setuid(plan.run_as->uid) != 0)) {
    ChildFail(plan.status_fd);
  }
  for (int i = 0; i < 3; ++i) {
    if (!MoveFd(plan.fds[static_cast<std::size_t>(i)], i)) {
      ChildFail(plan.status_fd);
    }
  }
  close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  execve(plan.argv[0], plan.argv, plan.envp);
  ChildFail(plan.status_fd);
}

// Blocks until the child exec'd (EOF) or reported an errno.
void AwaitExec(pid_t pid, UniqueFd status, const std::string& program) {
  int error = 0;
  ssize_t n;
  do {
    n = read(status.get(), &error, sizeof error);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof error)) return;
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  ThrowErrno("cannot execute " + program, error);
}

// Ignores SIGPIPE while at least one instance lives (in any thread), then
// restores the old disposition.
class SigpipeIgnorer {
 public:
  SigpipeIgnorer() {
    const std::lock_guard<std::mutex> lock(state().mu);
    if (state().depth++ > 0) return;
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &state().old);
  }
  ~SigpipeIgnorer() {
    const std::lock_guard<std::mutex> lock(state().mu);
    if (--state().depth == 0) sigaction(SIGPIPE, &state().old, nullptr);
  }
  SigpipeIgnorer(const SigpipeIgnorer&) = delete;
  SigpipeIgnorer& operator=(const SigpipeIgnorer&) = delete;

 private:
  struct State {
    std::mutex mu;
    int depth = 0;
    struct sigaction old {};
  };
  static State& state() {
    static State s;
    return s;
  }
};

// Moves data between the child's pipes and memory until all three pipes
// are closed or the deadline passes.
class Pump {
 public:
  Pump(std::string_view input, UniqueFd in, UniqueFd out, UniqueFd err,
       ProcessResult* result)
      : input_(input),
        in_(std::move(in)),
        out_(std::move(out)),
        err_(std::move(err)),
        result_(result) {
    for (const UniqueFd* fd : {&in_, &out_, &err_}) SetNonBlocking(fd->get());
    if (input_.empty()) in_.Reset();
  }

  // Returns false if the deadline passed first.
  bool Run(Clock::time_point deadline) {
    while (in_.valid() || out_.valid() || err_.valid()) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      PollOnce(static_cast<int>(std::min<long long>(left.count(), 1000)));
    }
    return true;
  }

  // After a kill: drains what is left, for at most `grace`.
  void Drain(std::chrono::milliseconds grace) {
    in_.Reset();
    Run(Clock::now() + grace);
  }

 private:
  void PollOnce(int timeout_ms) {
    std::array<pollfd, 3> fds{{{in_.get(), POLLOUT, 0},
                               {out_.get(), POLLIN, 0},
                               {err_.get(), POLLIN, 0}}};
    const int n = poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0 && errno != EINTR) ThrowErrno("poll");
    if (n <= 0) return;
    if (fds[0].revents != 0) WriteSome();
    if (fds[1].revents != 0) ReadSome(out_, result_->out);
    if (fds[2].revents != 0) ReadSome(err_, result_->err);
  }

  void WriteSome() {
    const std::size_t len = std::min(kChunk, input_.size() - written_);
    const ssize_t n = write(in_.get(), input_.data() + written_, len);
    if (n > 0) written_ += static_cast<std::size_t>(n);
    const bool retry = n < 0 && (errno == EAGAIN || errno == EINTR);
    // EPIPE: the child closed its stdin or exited; stop feeding it.
    if ((n < 0 && !retry) || written_ == input_.size()) in_.Reset();
  }

  void ReadSome(UniqueFd& fd, std::string& sink) {
    std::array<char, kChunk> buf;
    const ssize_t n = read(fd.get(), buf.data(), buf.size());
    if (n > 0) {
      sink.append(buf.data(), static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      fd.Reset();
    }
  }

  std::string_view input_;
  std::size_t written_ = 0;
  UniqueFd in_;
  UniqueFd out_;
  UniqueFd err_;
  ProcessResult* result_;
};

void KillGroup(pid_t pid) {
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
}

// Reaps `pid`, killing its group if it is still running at `deadline`.
int Reap(pid_t pid, Clock::time_point deadline) {
  int status = 0;
  auto pause = std::chrono::microseconds(100);
  for (;;) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) ThrowErrno("waitpid");
    if (Clock::now() >= deadline) {
      KillGroup(pid);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return status;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) Reset(other.Release());
  return *this;
}

int UniqueFd::Release() { return std::exchange(fd_, -1); }

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

pid_t StartProcess(const std::vector<std::string>& argv, int stdin_fd,
                   int stdout_fd, int stderr_fd,
                   const std::vector<std::string>& extra_env,
                   bool kill_with_parent, const std::optional<RunAs>& run_as) {
  if (argv.empty()) throw std::invalid_argument("StartProcess: empty argv");
  std::vector<std::string> args = Wrapped(argv);
  std::vector<std::string> env = MergeEnv(extra_env);
  std::vector<char*> cargs = CStrings(args);
  std::vector<char*> cenv = CStrings(env);
  Pipe status = MakePipe();
  const ChildPlan plan{cargs.data(),
                       cenv.data(),
                       {stdin_fd, stdout_fd, stderr_fd},
                       status.write.get(),
                       kill_with_parent,
                       getpid(),
                       run_as ? &*run_as : nullptr};
  const pid_t pid = fork();
  if (pid < 0) ThrowErrno("fork");
  if (pid == 0) ExecChild(plan);
  status.write.Reset();
  AwaitExec(pid, std::move(status.read), args[0]);
  return pid;
}

ProcessResult RunProcess(const std::vector<std::string>& argv,
                         std::string_view stdin_data,
                         std::chrono::milliseconds timeout,
                         const std::vector<std::string>& extra_env,
                         const std::optional<RunAs>& run_as) {
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  Pipe in = MakePipe();
  Pipe out = MakePipe();
  Pipe err = MakePipe();
  const SigpipeIgnorer ignore_sigpipe;
  const pid_t pid = StartProcess(argv, in.read.get(), out.write.get(),
                                 err.write.get(), extra_env, false, run_as);
  in.read.Reset();
  out.write.Reset();
  err.write.Reset();
  ProcessResult result;
  Pump pump(stdin_data, std::move(in.write), std::move(out.read),
            std::move(err.read), &result);
  if (!pump.Run(deadline)) {
    KillGroup(pid);
    pump.Drain(std::chrono::seconds(2));
  }
  const int status = Reap(pid, deadline);
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return result;
}

std::string ReadFile(const std::string& path) {
  const UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) ThrowErrno("open " + path);
  std::string data;
  std::array<char, kChunk> buf;
  for (;;) {
    const ssize_t n = read(fd.get(), buf.data(), buf.size());
    if (n == 0) return data;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowErrno("read " + path);
    data.append(buf.data(), static_cast<std::size_t>(n));
  }
}

void WriteFile(const std::string& path, std::string_view data, mode_t mode) {
  const UniqueFd fd(
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd.valid()) ThrowErrno("open " + path);
  if (fchmod(fd.get(), mode) != 0) ThrowErrno("fchmod " + path);
  while (!data.empty()) {
    const ssize_t n = write(fd.get(), data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowErrno("write " + path);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
  tmpl += "/ldapmda-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) ThrowErrno("mkdtemp " + tmpl);
  path_ = std::move(tmpl);
}

TempDir::~TempDir() { Remove(); }

TempDir::TempDir(TempDir&& other) noexcept
    : path_(std::exchange(other.path_, {})) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    Remove();
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

std::string TempDir::File(std::string_view name) const {
  return path_ + "/" + std::string(name);
}

std::string TempDir::Release() { return std::exchange(path_, {}); }

void TempDir::Remove() noexcept {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  path_.clear();
}

UniqueFd BlockTerminationSignals(std::initializer_list<int> extra) {
  sigset_t set;
  sigemptyset(&set);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) {
    // Ignored on entry stays ignored, as a shell wants it for a background
    // job (SIGINT) and nohup for SIGHUP: a blocked signal would still be
    // queued and read.
    struct sigaction current {};
    if (sigaction(sig, nullptr, &current) == 0 &&
        current.sa_handler == SIG_IGN) {
      continue;
    }
    sigaddset(&set, sig);
  }
  for (const int sig : extra) sigaddset(&set, sig);
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) ThrowErrno("sigprocmask");
  UniqueFd fd(signalfd(-1, &set, SFD_CLOEXEC));
  if (!fd.valid()) ThrowErrno("signalfd");
  return fd;
}

int FreeTcpPort() {
  const UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) ThrowErrno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(0x7F000001U);  // 127.0.0.1
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  if (bind(fd.get(), sa, len) != 0) ThrowErrno("bind 127.0.0.1:0");
  if (getsockname(fd.get(), sa, &len) != 0) ThrowErrno("getsockname");
  return ntohs(addr.sin_port);
}

}  // namespace ldapmda::testing
