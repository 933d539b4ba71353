// lmtp_server: one LMTP connection on a pair of file descriptors, with one
// bound LDAP connection kept for the whole session (see lmtp.h).
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <memory>

#include "ldapmda/deadline.h"
#include "ldapmda/directories.h"
#include "ldapmda/escape.h"
#include "ldapmda/log.h"
#include "mda/lmtp.h"
#include "mda/lookup_cache.h"

namespace ldapmda {
namespace {

// The delivery core behind the protocol. Every call gets the full
// deadline of its own, and the SIGALRM backstop around it.
class CoreBackend : public LmtpBackend {
 public:
  CoreBackend(const Config& config, Delivery& delivery, Deadline& deadline,
              int out_fd)
      : config_(config),
        delivery_(delivery),
        deadline_(deadline),
        out_fd_(out_fd),
        cache_(config.lmtp_lookup_cache) {}

  Outcome Accept(const Address& recipient, Resolution* where) override {
    const auto now = LookupCache::Clock::now();
    if (const Resolution* kept = cache_.Find(recipient.text, now)) {
      *where = *kept;
      return Outcome::Ok("found");
    }
    Begin();
    Outcome o = delivery_.resolver().Resolve(recipient, "", where);
    DisarmBackstop();
    if (o.ok()) cache_.Keep(recipient.text, *where, now);
    if (!o.ok()) {
      Log(LogLevel::kInfo,
          FormatDeliveryLine({"", recipient.text, "", "", 0,
                              deadline_.Elapsed(), o, "at RCPT: " + o.text}));
    }
    return o;
  }

  Outcome Deliver(std::string_view raw, const MessageInfo& info,
                  const Envelope& envelope, const Address& recipient,
                  const Resolution& where) override {
    Begin();
    const DeliveryResult r =
        delivery_.Deliver(raw, info, envelope, recipient, where);
    DisarmBackstop();
    // Whatever went wrong may have to do with the entry: look it up again.
    if (!r.outcome.ok()) cache_.Forget(recipient.text);
    Log(LogLevel::kInfo,
        FormatDeliveryLine({"", recipient.text, "",
                            info.message_id.value_or(""), raw.size(),
                            deadline_.Elapsed(), r.outcome, ""}));
    return r.outcome;
  }

  void Refused(const Address& recipient, const MessageInfo& info,
               std::size_t size, const Outcome& why) override {
    Log(LogLevel::kInfo,
        FormatDeliveryLine({"", recipient.text, "",
                            info.message_id.value_or(""), size, 0.0, why, ""}));
  }

 private:
  void Begin() {
    deadline_.Restart(config_.deadline);
    ArmBackstop(config_.deadline, out_fd_,
                "421 4.3.0 deadline exceeded, closing connection\r\n");
  }

  const Config& config_;
  Delivery& delivery_;
  Deadline& deadline_;
  int out_fd_;
  LookupCache cache_;
};

bool WriteAll(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string HostName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') {
    return "localhost";
  }
  return name;
}

}  // namespace

int RunLmtp(const Config& config, int in_fd, int out_fd) {
  Deadline deadline(config.deadline);
  // One connection (two with store_host) for the whole session; it is
  // opened on first use and re-opened, with fail-over, when it breaks.
  Directories directories(config, deadline);
  Delivery delivery(config, directories.lookup(), directories.store(), deadline,
                    directories.confirmer());
  CoreBackend backend(config, delivery, deadline, out_fd);
  LmtpSession session(
      {HostName(), config.max_message_size, config.lmtp_max_recipients, 2048},
      backend);

  if (!WriteAll(out_fd, session.Greeting())) return 0;
  std::string buffer(64 * 1024, '\0');
  const auto idle = static_cast<int>(
      std::min<long long>(config.lmtp_timeout.count(), INT_MAX));
  while (!session.closed()) {
    pollfd p{in_fd, POLLIN, 0};
    const int ready = poll(&p, 1, idle);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      // Nothing of an unfinished transaction is kept; the client retries.
      WriteAll(out_fd, "421 4.4.2 idle timeout, closing connection\r\n");
      Log(LogLevel::kWarning, "LMTP client idle: connection closed");
      return 0;
    }
    const ssize_t n =
        ready < 0 ? -1 : read(in_fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      session.Eof();
      return 0;
    }
    if (!WriteAll(out_fd, session.Feed(std::string_view(
                              buffer.data(), static_cast<std::size_t>(n))))) {
      return 0;
    }
  }
  return 0;
}

}  // namespace ldapmda
