// lmtp: the LMTP front end (RFC 2033), for Postfix's lmtp(8) client behind
// spawn(8), inetd or systemd socket activation. LmtpSession is the protocol
// over bytes without any I/O, so that pipelined input can be tested as it
// arrives; RunLmtp drives it on a pair of file descriptors.
//
// What is stored is what pipe(8) with flags=DRX would have handed over:
// "Return-Path: <sender>" and "Delivered-To: <recipient>" first, then the
// message with dot-stuffing undone and LF line ends. So mdaKey is the same
// in both modes and a retry deduplicates whichever mode stored first.
// Like flag D, a message whose header section already has a
// Delivered-To for a recipient is refused for that recipient with 5.4.6
// (a mail loop); the other recipients of the transaction are not affected.
#ifndef LDAPMDA_LMTP_H_
#define LDAPMDA_LMTP_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "ldapmda/config.h"
#include "ldapmda/delivery.h"
#include "ldapmda/message.h"
#include "ldapmda/recipient.h"
#include "ldapmda/status.h"

namespace ldapmda {

struct LmtpSettings {
  std::string hostname = "localhost";
  std::size_t max_message_size = 10485760;
  std::size_t max_recipients = 1000;  // per transaction
  std::size_t max_line = 2048;        // command lines (RFC 5321: >= 512)
};

// What the session needs from the delivery core.
class LmtpBackend {
 public:
  virtual ~LmtpBackend() = default;
  // At RCPT: looks the recipient up; 2.0.0 accepts it and fills `where`.
  virtual Outcome Accept(const Address& recipient, Resolution* where) = 0;
  // After the final dot: stores `raw` for one accepted recipient.
  virtual Outcome Deliver(std::string_view raw, const MessageInfo& info,
                          const Envelope& envelope, const Address& recipient,
                          const Resolution& where) = 0;
  // After the final dot: the session itself refused the message (`info`,
  // `size` bytes) for an accepted recipient with `why` (too large, a mail
  // loop); nothing was stored. For the log.
  virtual void Refused(const Address& /*recipient*/,
                       const MessageInfo& /*info*/, std::size_t /*size*/,
                       const Outcome& /*why*/) {}
};

// The reply code for a status: at RCPT time or after DATA.
int LmtpReplyCode(const Dsn& dsn);

class LmtpSession {
 public:
  LmtpSession(LmtpSettings settings, LmtpBackend& backend)
      : settings_(std::move(settings)), backend_(backend) {}

  // The 220 greeting.
  std::string Greeting() const;
  // Takes the next bytes from the client; returns the replies to send, in
  // order (several when commands are pipelined).
  std::string Feed(std::string_view input);
  // The client went away. Nothing of an unfinished DATA is stored.
  void Eof() { Reset(); }
  // QUIT was answered: close the connection.
  bool closed() const { return closed_; }
  // Inside DATA: the idle timeout applies, but the input is message data.
  bool in_data() const { return state_ == State::kData; }

 private:
  enum class State { kGreeted, kReady, kMail, kData };
  struct Accepted {
    Address recipient;
    Resolution where;
  };

  std::string Command(std::string_view line);
  std::string Lhlo(std::string_view argument);
  std::string Mail(std::string_view argument);
  std::string Rcpt(std::string_view argument);
  std::string Data();
  void DataLine(std::string_view line, std::string* replies);
  std::string EndOfData();
  // Back to "after LHLO": no sender, no recipients, no data.
  void Reset();

  LmtpSettings settings_;
  LmtpBackend& backend_;
  State state_ = State::kGreeted;
  bool closed_ = false;
  std::string pending_;      // input not yet ending in a line feed
  bool discarding_ = false;  // skipping the rest of an overlong line
  std::string sender_;
  std::vector<Accepted> accepted_;
  std::size_t rcpt_commands_ = 0;
  std::string body_;  // message data: unstuffed, LF line ends
  bool too_big_ = false;
};

// Serves one LMTP connection on `in_fd`/`out_fd` until QUIT, end of input
// or `idle` without input. Returns the process exit status.
int RunLmtp(const Config& config, int in_fd, int out_fd);

}  // namespace ldapmda

#endif  // LDAPMDA_LMTP_H_
