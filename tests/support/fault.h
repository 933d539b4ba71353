// fault: helpers for fault-injection and load tests with real processes.
//
// LdapProxy sits on 127.0.0.1 between ldapmda and slapd and understands
// just enough of LDAP's BER framing to see where each request starts and
// which operation it is, so a test can act at an exact protocol point:
// forward the lookup and SIGKILL slapd on the first AddRequest, cut the
// connection after N bytes of a 5 MB add, or hold a request forever like
// a hung server. Also: a one-connection SMTP client for many messages, an
// interactive `ldapmda --lmtp` child, and process helpers.
#ifndef LDAPMDA_TESTS_SUPPORT_FAULT_H_
#define LDAPMDA_TESTS_SUPPORT_FAULT_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/process.h"

namespace ldapmda::testing {

// protocolOp tags of LDAP requests (RFC 4511, [APPLICATION n]).
inline constexpr unsigned char kLdapBindRequest = 0x60;
inline constexpr unsigned char kLdapUnbindRequest = 0x42;
inline constexpr unsigned char kLdapSearchRequest = 0x63;
inline constexpr unsigned char kLdapModifyRequest = 0x66;
inline constexpr unsigned char kLdapAddRequest = 0x68;
inline constexpr unsigned char kLdapDelRequest = 0x4a;
inline constexpr unsigned char kLdapExtendedRequest = 0x77;

// One client request as the proxy saw its header.
struct LdapRequestInfo {
  int connection = 0;    // 1-based, in accept order
  int index = 0;         // 1-based, within its connection
  unsigned char op = 0;  // the protocolOp tag, e.g. kLdapAddRequest
  std::size_t size = 0;  // the whole LDAPMessage, header included
};

// What the proxy does with one request.
struct ProxyAction {
  enum class Kind {
    kForward,  // pass it on
    kCut,      // pass on `after_bytes` of it, then close both sides
    kStall,    // pass nothing more from this client; keep both sides open
               // (replies already under way still go back) until the
               // proxy is destroyed, like a server that stopped reading
  };
  Kind kind = Kind::kForward;
  std::size_t after_bytes = 0;  // kCut: may be 0 or the whole request
  // Run in the proxy's thread before any byte of the request is passed
  // on, and (kCut) after the last one, before closing: e.g. SIGKILL slapd.
  std::function<void()> before;
  std::function<void()> after;

  static ProxyAction Forward() { return {}; }
};

class LdapProxy {
 public:
  // Decides per request; may be called from several threads at once.
  using Rule = std::function<ProxyAction(const LdapRequestInfo&)>;

  // Listens on 127.0.0.1 at a free port and forwards every accepted
  // connection to 127.0.0.1:`upstream_port` (when that refuses, the
  // client's connection is closed at once). Throws std::runtime_error.
  explicit LdapProxy(int upstream_port, Rule rule = {});
  // Closes every connection and joins every thread.
  ~LdapProxy();
  LdapProxy(const LdapProxy&) = delete;
  LdapProxy& operator=(const LdapProxy&) = delete;

  int port() const { return port_; }
  std::string uri() const;  // "ldap://127.0.0.1:PORT"
  // Every request whose header was seen so far, in order.
  std::vector<LdapRequestInfo> requests() const;
  int connections() const { return connections_.load(); }

 private:
  struct Connection;
  void AcceptLoop();
  void Serve(int client_fd, int number);
  // Client bytes -> upstream, one request at a time. False: close.
  bool Relay(Connection& c, std::string& pending);

  int upstream_port_;
  Rule rule_;
  UniqueFd listen_fd_;
  UniqueFd wake_read_, wake_write_;  // a pipe that ends every poll
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::vector<LdapRequestInfo> requests_;
  std::vector<int> open_fds_;  // shut down on destruction
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

// SIGKILL (or `sig`) to `pid` and wait until it has died, without reaping
// it (waitid WNOWAIT), so that its owner (SlapdServer::Kill) still can.
// Returns false when it did not die within `timeout`.
bool SignalAndAwaitDeath(
    pid_t pid, int sig = 9,
    std::chrono::milliseconds timeout = std::chrono::seconds(10));
// SIGSTOP to `pid` and wait until it is stopped (waitid WSTOPPED|WNOWAIT).
bool StopAndAwait(pid_t pid,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A message for SendMails.
struct OutgoingMail {
  std::string recipient;
  std::string message;  // any line ends; sent with CRLF, dot-stuffed
};

// Sends all `mails` over one SMTP connection to 127.0.0.1:`port` (EHLO,
// then MAIL, RCPT, DATA per message, QUIT). Returns each message's queue
// ID from "250 ... queued as ID", or "" with the reply when refused:
// "!550 5.1.1 ...". Throws std::runtime_error on connection errors and
// when any reply takes longer than `timeout`.
std::vector<std::string> SendMails(
    int port, const std::string& sender, const std::vector<OutgoingMail>& mails,
    std::chrono::milliseconds timeout = std::chrono::seconds(60));

// An interactive `ldapmda --lmtp` child with its stdin and stdout as
// stream sockets and stderr to /dev/null. Every read is bounded by `timeout`.
class LmtpChild {
 public:
  LmtpChild(const std::string& binary, std::vector<std::string> args,
            std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // SIGKILL if still running.
  ~LmtpChild();
  LmtpChild(const LmtpChild&) = delete;
  LmtpChild& operator=(const LmtpChild&) = delete;

  // Writes `text` as is. False when the child closed its input.
  bool Send(std::string_view text);
  // The next complete reply (all its lines, CRLF removed, joined with
  // "\n"), or "" after a timeout or end of output.
  std::string Reply();
  // One transaction: MAIL FROM, RCPT TO per recipient and DATA pipelined,
  // then the dot-stuffed `message` (any line ends). Returns the replies
  // after DATA, one per accepted recipient, or {"!" + the first refusal}
  // when MAIL, all RCPTs or DATA were refused or a reply never came.
  std::vector<std::string> Transaction(const std::string& sender,
                                       const std::vector<std::string>& rcpts,
                                       std::string_view message);
  // Closes stdin and waits (bounded by the timeout, then SIGKILL) for the
  // exit status; -1 when killed.
  int Finish();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  UniqueFd to_, from_;
  std::string buffer_;
  std::chrono::milliseconds timeout_;
};

}  // namespace ldapmda::testing

#endif  // LDAPMDA_TESTS_SUPPORT_FAULT_H_
