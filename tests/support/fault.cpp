// fault: see fault.h.
#include "support/fault.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "support/postfix_server.h"

namespace ldapmda::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kChunk = 64 * 1024;

[[noreturn]] void ThrowErrno(const std::string& what, int error = errno) {
  throw std::runtime_error(what + ": " + std::system_category().message(error));
}

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(0x7F000001U);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

UniqueFd ConnectLoopback(int port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fd;
  const sockaddr_in addr = Loopback(port);
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr),
              sizeof addr) != 0) {
    fd.Reset();
  }
  return fd;
}

// Blocking send of everything; false on any error (never SIGPIPE).
bool SendAll(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// The header of the LDAPMessage at the start of `b`: 1 with `op` and
// `total` (the whole message's size) set, 0 when more bytes are needed,
// -1 when this is not an LDAPMessage.
int ParseHeader(std::string_view b, unsigned char* op, std::size_t* total) {
  if (b.empty()) return 0;
  if (static_cast<unsigned char>(b[0]) != 0x30) return -1;  // SEQUENCE
  if (b.size() < 2) return 0;
  const auto first = static_cast<unsigned char>(b[1]);
  std::size_t header = 2;
  std::size_t length = first;
  if (first & 0x80) {
    const std::size_t n = first & 0x7f;
    if (n == 0 || n > 4) return -1;
    if (b.size() < 2 + n) return 0;
    length = 0;
    for (std::size_t i = 0; i < n; ++i) {
      length = length << 8 | static_cast<unsigned char>(b[2 + i]);
    }
    header += n;
  }
  // messageID INTEGER, then the protocolOp's tag.
  if (b.size() < header + 2) return 0;
  if (static_cast<unsigned char>(b[header]) != 0x02) return -1;
  const auto id_length = static_cast<unsigned char>(b[header + 1]);
  if (id_length == 0 || id_length > 4) return -1;
  const std::size_t op_at = header + 2 + id_length;
  if (b.size() <= op_at) return 0;
  *op = static_cast<unsigned char>(b[op_at]);
  *total = header + length;
  return 1;
}

// Polls `done` every millisecond until true or `timeout`.
bool Await(const std::function<bool()>& done, milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= end) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

// True when `pid` has reached one of `states` (WEXITED, WSTOPPED),
// leaving its status to be collected by its owner.
bool Reached(pid_t pid, int states) {
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid), &info,
             states | WNOHANG | WNOWAIT) != 0) {
    // Not our child: all we can see is whether it still exists.
    return errno == ECHILD && (states & WEXITED) != 0 && kill(pid, 0) != 0;
  }
  return info.si_pid == pid;
}

// A line-oriented reader with a deadline per call, for SMTP and LMTP.
class ReplyReader {
 public:
  ReplyReader(int fd, std::string* buffer) : fd_(fd), buffer_(buffer) {}
  // The next complete reply ("250-a\n250 b"), or "" on timeout or EOF.
  std::string Read(milliseconds timeout) {
    const auto end = Clock::now() + timeout;
    std::string reply;
    for (;;) {
      const auto nl = buffer_->find("\r\n");
      if (nl != std::string::npos) {
        const std::string line = buffer_->substr(0, nl);
        buffer_->erase(0, nl + 2);
        if (!reply.empty()) reply += "\n";
        reply += line;
        if (line.size() < 4 || line[3] != '-') return reply;
        continue;
      }
      const auto left =
          std::chrono::ceil<milliseconds>(end - Clock::now()).count();
      pollfd p{fd_, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) return "";
      std::array<char, kChunk> chunk;
      const ssize_t n = read(fd_, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return "";
      buffer_->append(chunk.data(), static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  std::string* buffer_;
};

int ReplyCode(const std::string& reply) {
  const auto nl = reply.rfind('\n');
  const std::string last =
      reply.substr(nl == std::string::npos ? 0 : nl + 1, 3);
  return last.size() == 3 ? std::atoi(last.c_str()) : 0;
}

}  // namespace

// ---------------------------------------------------------------- LdapProxy

struct LdapProxy::Connection {
  int number = 0;
  int index = 0;  // requests seen
  int client = -1;
  int upstream = -1;
  std::size_t message_left = 0;  // bytes of the current request to pass on
  bool cutting = false;
  std::size_t cut_left = 0;
  std::function<void()> after;
  bool stalled = false;
};

LdapProxy::LdapProxy(int upstream_port, Rule rule)
    : upstream_port_(upstream_port), rule_(std::move(rule)) {
  listen_fd_.Reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listen_fd_.valid()) ThrowErrno("socket");
  sockaddr_in addr = Loopback(0);
  socklen_t len = sizeof addr;
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  if (bind(listen_fd_.get(), sa, len) != 0) ThrowErrno("bind");
  if (listen(listen_fd_.get(), 64) != 0) ThrowErrno("listen");
  if (getsockname(listen_fd_.get(), sa, &len) != 0) ThrowErrno("getsockname");
  port_ = ntohs(addr.sin_port);
  std::array<int, 2> wake{};
  if (pipe2(wake.data(), O_CLOEXEC) != 0) ThrowErrno("pipe2");
  wake_read_.Reset(wake[0]);
  wake_write_.Reset(wake[1]);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

LdapProxy::~LdapProxy() {
  stopping_ = true;
  const char byte = 0;
  [[maybe_unused]] const ssize_t n = write(wake_write_.get(), &byte, 1);
  {
    // Unblocks sends stuck on a peer that stopped reading.
    const std::lock_guard<std::mutex> lock(mu_);
    for (const int fd : open_fds_) shutdown(fd, SHUT_RDWR);
  }
  acceptor_.join();
  for (std::thread& t : threads_) t.join();
}

std::string LdapProxy::uri() const {
  return "ldap://127.0.0.1:" + std::to_string(port_);
}

std::vector<LdapRequestInfo> LdapProxy::requests() const {
  const std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

void LdapProxy::AcceptLoop() {
  for (;;) {
    std::array<pollfd, 2> p{
        {{listen_fd_.get(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}}};
    if (poll(p.data(), p.size(), -1) < 0 && errno != EINTR) return;
    if (stopping_ || p[1].revents != 0) return;
    if (p[0].revents == 0) continue;
    const int fd = accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    const int number = ++connections_;
    const std::lock_guard<std::mutex> lock(mu_);
    open_fds_.push_back(fd);
    threads_.emplace_back([this, fd, number] { Serve(fd, number); });
  }
}

void LdapProxy::Serve(int client_fd, int number) {
  Connection c;
  c.number = number;
  c.client = client_fd;
  UniqueFd upstream = ConnectLoopback(upstream_port_);
  if (upstream.valid()) {
    const std::lock_guard<std::mutex> lock(mu_);
    c.upstream = upstream.get();
    open_fds_.push_back(c.upstream);
  }
  std::string pending;
  std::array<char, kChunk> buf;
  while (c.upstream >= 0 && !stopping_) {
    std::array<pollfd, 3> p{{{c.client, POLLIN, 0},
                             {c.upstream, POLLIN, 0},
                             {wake_read_.get(), POLLIN, 0}}};
    // A stalled client is not read from (its end sees a full window).
    if (c.stalled) p[0].fd = -1;
    if (poll(p.data(), p.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[2].revents != 0) break;
    if (p[1].revents != 0) {
      const ssize_t n = read(c.upstream, buf.data(), buf.size());
      if (n <= 0) break;
      if (!SendAll(c.client, buf.data(), static_cast<std::size_t>(n))) break;
    }
    if (p[0].revents != 0) {
      const ssize_t n = read(c.client, buf.data(), buf.size());
      if (n <= 0) break;
      pending.append(buf.data(), static_cast<std::size_t>(n));
      if (!Relay(c, pending)) break;
    }
  }
  const std::lock_guard<std::mutex> lock(mu_);
  std::erase(open_fds_, c.client);
  std::erase(open_fds_, c.upstream);
  close(c.client);
  upstream.Reset();
}

bool LdapProxy::Relay(Connection& c, std::string& pending) {
  for (;;) {
    if (c.stalled) {
      pending.clear();
      return true;
    }
    if (c.message_left == 0) {
      LdapRequestInfo info;
      const int parsed = ParseHeader(pending, &info.op, &info.size);
      if (parsed == 0) return true;  // wait for more
      if (parsed < 0) return false;  // not LDAP: give up on it
      info.connection = c.number;
      info.index = ++c.index;
      {
        const std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(info);
      }
      ProxyAction action = rule_ ? rule_(info) : ProxyAction::Forward();
      if (action.before) action.before();
      c.cutting = false;
      switch (action.kind) {
        case ProxyAction::Kind::kStall:
          c.stalled = true;
          continue;
        case ProxyAction::Kind::kCut:
          c.cutting = true;
          c.cut_left = std::min(action.after_bytes, info.size);
          c.after = std::move(action.after);
          if (c.cut_left == 0) {
            if (c.after) c.after();
            return false;
          }
          break;
        case ProxyAction::Kind::kForward:
          break;
      }
      c.message_left = info.size;
    }
    std::size_t n = std::min(c.message_left, pending.size());
    if (c.cutting) n = std::min(n, c.cut_left);
    if (n == 0) return true;
    if (!SendAll(c.upstream, pending.data(), n)) return false;
    pending.erase(0, n);
    c.message_left -= n;
    if (c.cutting) {
      c.cut_left -= n;
      if (c.cut_left == 0) {
        if (c.after) c.after();
        return false;
      }
    }
  }
}

// ---------------------------------------------------------------- processes

bool SignalAndAwaitDeath(pid_t pid, int sig, milliseconds timeout) {
  if (pid <= 0) return false;
  kill(pid, sig);
  return Await([pid] { return Reached(pid, WEXITED); }, timeout);
}

bool StopAndAwait(pid_t pid, milliseconds timeout) {
  if (pid <= 0) return false;
  kill(pid, SIGSTOP);
  return Await([pid] { return Reached(pid, WSTOPPED); }, timeout);
}

// ---------------------------------------------------------------- SMTP

std::vector<std::string> SendMails(int port, const std::string& sender,
                                   const std::vector<OutgoingMail>& mails,
                                   milliseconds timeout) {
  UniqueFd fd = ConnectLoopback(port);
  if (!fd.valid()) ThrowErrno("connect to SMTP port " + std::to_string(port));
  std::string buffer;
  ReplyReader reader(fd.get(), &buffer);
  const auto command = [&](const std::string& line) {
    const std::string text = line + "\r\n";
    if (!SendAll(fd.get(), text.data(), text.size())) {
      throw std::runtime_error("SMTP: connection closed sending " + line);
    }
    std::string reply = reader.Read(timeout);
    if (reply.empty()) throw std::runtime_error("SMTP: no reply to " + line);
    return reply;
  };
  std::string reply = reader.Read(timeout);
  if (ReplyCode(reply) != 220) throw std::runtime_error("SMTP: " + reply);
  reply = command("EHLO client.ldapmda.test");
  if (ReplyCode(reply) != 250) throw std::runtime_error("SMTP: " + reply);
  std::vector<std::string> ids;
  for (const OutgoingMail& mail : mails) {
    reply = command("MAIL FROM:<" + sender + ">");
    if (ReplyCode(reply) == 250) {
      reply = command("RCPT TO:<" + mail.recipient + ">");
    }
    if (ReplyCode(reply) == 250) reply = command("DATA");
    if (ReplyCode(reply) == 354) {
      const std::string payload = SmtpDataPayload(mail.message);
      if (!SendAll(fd.get(), payload.data(), payload.size())) {
        throw std::runtime_error("SMTP: connection closed in DATA");
      }
      reply = reader.Read(timeout);
    }
    const std::string marker = "queued as ";
    const auto at = reply.find(marker);
    if (ReplyCode(reply) == 250 && at != std::string::npos) {
      const auto start = at + marker.size();
      ids.push_back(
          reply.substr(start, reply.find_first_of(" \n", start) - start));
    } else {
      ids.push_back("!" + reply);
      command("RSET");
    }
  }
  command("QUIT");
  return ids;
}

// ---------------------------------------------------------------- LMTP

LmtpChild::LmtpChild(const std::string& binary, std::vector<std::string> args,
                     milliseconds timeout)
    : timeout_(timeout) {
  // Stream sockets, as spawn(8), inetd or a systemd socket would hand
  // ldapmda --lmtp; one pair per direction so that closing our sending
  // end is an end of input for the child.
  std::array<int, 2> in{}, out{};
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in.data()) != 0 ||
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out.data()) != 0) {
    ThrowErrno("socketpair");
  }
  UniqueFd in_read(in[0]), out_write(out[1]);
  to_.Reset(in[1]);
  from_.Reset(out[0]);
  const UniqueFd null_fd(open("/dev/null", O_WRONLY | O_CLOEXEC));
  args.insert(args.begin(), binary);
  pid_ = StartProcess(args, in_read.get(), out_write.get(), null_fd.get());
}

LmtpChild::~LmtpChild() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

bool LmtpChild::Send(std::string_view text) {
  return to_.valid() && SendAll(to_.get(), text.data(), text.size());
}

std::string LmtpChild::Reply() {
  return ReplyReader(from_.get(), &buffer_).Read(timeout_);
}

std::vector<std::string> LmtpChild::Transaction(
    const std::string& sender, const std::vector<std::string>& rcpts,
    std::string_view message) {
  std::string commands = "MAIL FROM:<" + sender + ">\r\n";
  for (const std::string& r : rcpts) commands += "RCPT TO:<" + r + ">\r\n";
  commands += "DATA\r\n";
  if (!Send(commands)) return {"!cannot write to ldapmda --lmtp"};
  std::string reply = Reply();  // to MAIL
  if (reply.empty()) return {"!no reply to MAIL"};
  std::string refusal = ReplyCode(reply) / 100 == 2 ? "" : reply;
  std::size_t accepted = 0;
  for (std::size_t i = 0; i < rcpts.size(); ++i) {
    reply = Reply();
    if (reply.empty()) return {"!no reply to RCPT"};
    if (ReplyCode(reply) / 100 == 2) {
      ++accepted;
    } else if (refusal.empty()) {
      refusal = reply;
    }
  }
  reply = Reply();  // to DATA
  if (reply.empty()) return {"!no reply to DATA"};
  if (ReplyCode(reply) != 354) {
    return {"!" + (refusal.empty() ? reply : refusal)};
  }
  if (!Send(SmtpDataPayload(message))) return {"!cannot write the message"};
  std::vector<std::string> replies;
  for (std::size_t i = 0; i < accepted; ++i) {
    reply = Reply();
    if (reply.empty()) return {"!no reply after the message"};
    replies.push_back(reply);
  }
  return replies;
}

int LmtpChild::Finish() {
  to_.Reset();
  const auto end = Clock::now() + timeout_;
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (Clock::now() >= end) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace ldapmda::testing
