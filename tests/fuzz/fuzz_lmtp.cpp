// libFuzzer harness: the LMTP protocol state machine (LmtpSession) with a
// scripted backend, fed the input in chunks as a client's pipelined
// writes would arrive.
//
// Input (FuzzedDataProvider): the last byte picks the settings; then, from
// the end backwards, one byte per chunk gives its size (0: all the rest),
// and the chunk's bytes come from the front. So a plain LMTP session
// followed by "\0" and a settings byte is fed in one piece
// (tests/fuzz/seeds.sh writes seeds in this form).
//
// Invariants: every reply is CRLF-terminated, starts with a 3-digit code,
// has no control characters and is at most 512 bytes; continuation lines
// ("250-") are followed by a line with the same code. After DATA's 354
// come, all at once after the final dot, exactly one reply per accepted
// recipient, in RCPT order, naming it; in_data() agrees with that. What
// the backend is given is within max_message_size and starts with the
// Return-Path and Delivered-To lines; its MessageInfo is valid.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "ldapmda/escape.h"
#include "mda/lmtp.h"

namespace {

using ldapmda::Outcome;
using ldapmda::fuzz::CheckDirectoryString;

// Recipients are accepted unless their local part starts with a letter
// scripted otherwise; storing fails for "full", "temp", "later" in the
// address. The fuzzer finds these through the seeds and the dictionary.
class ScriptedBackend : public ldapmda::LmtpBackend {
 public:
  explicit ScriptedBackend(std::size_t max_message_size)
      : max_message_size_(max_message_size) {}

  Outcome Accept(const ldapmda::Address& address,
                 ldapmda::Resolution* where) override {
    const std::string& recipient = address.text;
    FUZZ_CHECK(ldapmda::ParseAddress(recipient).has_value(), recipient);
    switch (recipient.empty() ? 'x' : recipient[0]) {
      case 'n':
        return {ldapmda::kDsnNoSuchUser, "no such user here"};
      case 'c':
        return {ldapmda::kDsnConfig, "ambiguous"};
      case 'd':
        return {ldapmda::kDsnDirectoryUnavailable, "down"};
      case 'q':
        return {ldapmda::kDsnDisabled, "disabled"};
      default:
        break;
    }
    where->entry.dn = "uid=" + recipient;
    where->folder = "F" + recipient;
    accepted.push_back(recipient);
    return Outcome::Sent("found");
  }

  Outcome Deliver(std::string_view raw, const ldapmda::MessageInfo& info,
                  const ldapmda::Envelope& envelope,
                  const ldapmda::Address& address,
                  const ldapmda::Resolution& where) override {
    const std::string& recipient = address.text;
    FUZZ_CHECK(where.entry.dn == "uid=" + recipient, recipient);
    FUZZ_CHECK(where.folder == "F" + recipient, recipient);
    FUZZ_CHECK(raw.size() <= max_message_size_, raw.substr(0, 200));
    const std::string head =
        "Return-Path: <" + envelope.sender +
        ">\nDelivered-To: " + ldapmda::fuzz::Lower(recipient) + "\n";
    FUZZ_CHECK(raw.substr(0, head.size()) == head, raw.substr(0, 200));
    for (const auto* field : {&info.message_id, &info.subject, &info.from,
                              &info.to, &info.cc, &info.date}) {
      if (*field) {
        CheckDirectoryString(**field, ldapmda::kMaxHeaderValue, "header");
      }
    }
    ++delivered;
    if (recipient.find("full") != std::string::npos) {
      return {ldapmda::kDsnOverQuota, "mailbox full"};
    }
    if (recipient.find("temp") != std::string::npos) {
      return {ldapmda::kDsnOverQuotaTemp, "full for now"};
    }
    if (recipient.find("later") != std::string::npos) {
      return {ldapmda::kDsnDirectoryUnavailable, "down now"};
    }
    return Outcome::Sent("stored as cn=x");
  }

  std::deque<std::string> accepted;  // successful Accepts not yet replied
  std::size_t delivered = 0;

 private:
  std::size_t max_message_size_;
};

// Follows the reply stream and checks it against the protocol.
class ReplyChecker {
 public:
  ReplyChecker(ScriptedBackend& backend, std::size_t max_recipients)
      : backend_(backend), max_recipients_(max_recipients) {}

  // The replies of one Feed (or the greeting).
  void Check(const std::string& replies) {
    FUZZ_CHECK(replies.empty() || replies.size() >= 2, replies);
    FUZZ_CHECK(replies.empty() || replies.substr(replies.size() - 2) == "\r\n",
               replies);
    for (std::size_t pos = 0; pos < replies.size();) {
      const auto end = replies.find("\r\n", pos);
      FUZZ_CHECK(end != std::string::npos, replies.substr(pos));
      Line(replies.substr(pos, end - pos));
      pos = end + 2;
    }
    FUZZ_CHECK(continuation_.empty(), replies);  // a "250-" group ends here
    // Each successful Accept was answered 250 2.1.5.
    FUZZ_CHECK(backend_.accepted.empty(), replies);
    // The final replies of a transaction come all at once: after any
    // Feed, none or all of them are outstanding.
    FUZZ_CHECK(finals_.empty() || finals_.size() == group_size_, replies);
  }

  // Inside DATA exactly while the final replies are outstanding.
  bool awaiting_final() const { return !finals_.empty(); }

 private:
  void Line(const std::string& line) {
    FUZZ_CHECK(line.size() + 2 <= 512, line);
    FUZZ_CHECK(line.size() >= 3, line);
    for (char ch : line) {
      const auto c = static_cast<unsigned char>(ch);
      FUZZ_CHECK(c >= 0x20 && c != 0x7F, line);
    }
    for (std::size_t i = 0; i < 3; ++i) {
      FUZZ_CHECK(line[i] >= '0' && line[i] <= '9', line);
    }
    FUZZ_CHECK(line[0] >= '2' && line[0] <= '5', line);
    FUZZ_CHECK(line.size() == 3 || line[3] == ' ' || line[3] == '-', line);
    const std::string code = line.substr(0, 3);
    if (!continuation_.empty()) FUZZ_CHECK(code == continuation_, line);
    continuation_ = line.size() > 3 && line[3] == '-' ? code : "";

    if (!finals_.empty()) {
      // One final reply per accepted recipient, in RCPT order.
      FUZZ_CHECK(code == "250" || code == "451" || code == "452" ||
                     code == "550" || code == "552",
                 line);
      const std::string name = "<" + finals_.front() + ">: ";
      const auto at = line.find(' ', 4);
      FUZZ_CHECK(at != std::string::npos, line);
      const std::string text = line.substr(at + 1);
      FUZZ_CHECK(text.compare(0, name.size(), name, 0, text.size()) == 0, line);
      finals_.pop_front();
      return;
    }
    if (line == "250 2.1.0 Ok") {
      // MAIL is only taken after LHLO, RSET or the end of DATA: nothing of
      // an earlier transaction is left.
      transaction_.clear();
    } else if (line == "250 2.1.5 Ok") {  // RCPT accepted
      FUZZ_CHECK(!backend_.accepted.empty(), line);
      transaction_.push_back(backend_.accepted.front());
      backend_.accepted.pop_front();
      FUZZ_CHECK(transaction_.size() <= max_recipients_, line);
    } else if (code == "354") {
      FUZZ_CHECK(!transaction_.empty(), line);
      finals_.assign(transaction_.begin(), transaction_.end());
      group_size_ = finals_.size();
      transaction_.clear();
    }
  }

  ScriptedBackend& backend_;
  std::size_t max_recipients_;
  std::string continuation_;
  std::vector<std::string> transaction_;
  std::deque<std::string> finals_;  // recipients still owed a final reply
  std::size_t group_size_ = 0;      // recipients of the last DATA
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  FuzzedDataProvider in(data, size);
  const auto pick = in.ConsumeIntegral<std::uint8_t>();
  ldapmda::LmtpSettings settings;
  settings.hostname = "mx.fuzz.test";
  constexpr std::size_t kSizes[] = {300, 1000, 4096, 65536};
  constexpr std::size_t kRecipients[] = {1, 3, 100, 1000};
  constexpr std::size_t kLines[] = {512, 2048, 64, 1000};
  settings.max_message_size = kSizes[pick & 3];
  settings.max_recipients = kRecipients[(pick >> 2) & 3];
  settings.max_line = kLines[(pick >> 4) & 3];
  const bool eof_early = (pick & 0x40) != 0;

  ScriptedBackend backend(settings.max_message_size);
  ReplyChecker checker(backend, settings.max_recipients);
  ldapmda::LmtpSession session(settings, backend);
  checker.Check(session.Greeting());

  while (in.remaining_bytes() > 0 && !session.closed()) {
    const auto n = in.ConsumeIntegral<std::uint8_t>();
    const std::string chunk = n == 0 ? in.ConsumeRemainingBytesAsString()
                                     : in.ConsumeBytesAsString(n);
    std::string r;
    try {
      r = session.Feed(chunk);
    } catch (const std::out_of_range& e) {  // TEMP-KNOWN
      const std::string w = e.what();
      if (w.find("(which is 5)") != std::string::npos &&
          w.find("(which is 4)") != std::string::npos)
        return 0;
      throw;
    }
    checker.Check(r);
    FUZZ_CHECK(session.in_data() == checker.awaiting_final(), chunk);
    if (eof_early && n == 1) break;  // the client goes away mid-stream
  }
  session.Eof();
  FUZZ_CHECK(!session.in_data(), "in_data after Eof");
  return 0;
}
