// lmtp: the LMTP protocol (see lmtp.h).
#include "mda/lmtp.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include "ldapmda/escape.h"

namespace ldapmda {
namespace {

constexpr char kCrlf[] = "\r\n";

std::string Reply(int code, std::string_view dsn, std::string_view text) {
  std::string line = std::to_string(code);
  if (!dsn.empty()) line += " " + std::string(dsn);
  if (!text.empty()) line += " " + OneLine(text);
  // Keep replies within RFC 5321's 512 octets.
  if (line.size() > 510) line.resize(510);
  return line + kCrlf;
}

std::string Reply(const Outcome& o) {
  return Reply(LmtpReplyCode(o.dsn), o.dsn.str(), o.text);
}

// Case-insensitive "does `line` start with `prefix`".
bool StartsWith(std::string_view line, std::string_view prefix) {
  return line.size() >= prefix.size() &&
         AsciiLower(line.substr(0, prefix.size())) == prefix;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// "<address> PARAM PARAM..." after "FROM:" or "TO:". False when the path
// is not in angle brackets. The address keeps its quoting, as on the wire.
bool ParsePath(std::string_view text, std::string* address,
               std::vector<std::string>* params) {
  text = TrimSpaces(text);
  if (text.empty() || text.front() != '<') return false;
  bool quoted = false;
  std::size_t end = 1;
  for (; end < text.size(); ++end) {
    if (text[end] == '"') quoted = !quoted;
    if (text[end] == '\\')
      ++end;
    else if (text[end] == '>' && !quoted)
      break;
  }
  if (end >= text.size()) return false;
  *address = std::string(text.substr(1, end - 1));
  std::string_view rest = text.substr(end + 1);
  while (!(rest = TrimSpaces(rest)).empty()) {
    const auto space = rest.find(' ');
    params->emplace_back(rest.substr(0, space));
    rest = space == std::string_view::npos ? "" : rest.substr(space);
  }
  return true;
}

}  // namespace

int LmtpReplyCode(const Dsn& dsn) {
  switch (dsn.klass()) {
    case 2:
      return 250;
    case 4:
      // 452: insufficient storage (a full mailbox); else local trouble.
      return dsn.subject() == 2 ? 452 : 451;
    default:
      // 552: the message or the mailbox is too large.
      return dsn == kDsnOverQuota || dsn == kDsnTooBig ? 552 : 550;
  }
}

std::string LmtpSession::Greeting() const {
  return "220 " + settings_.hostname + " LMTP ldapmda ready" + kCrlf;
}

std::string LmtpSession::Feed(std::string_view input) {
  std::string replies;
  pending_.append(input);
  std::size_t pos = 0;
  for (std::size_t nl;
       !closed_ && (nl = pending_.find('\n', pos)) != std::string::npos;
       pos = nl + 1) {
    std::string_view line(pending_.data() + pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (discarding_) {
      discarding_ = false;  // the end of an overlong command line
    } else if (state_ == State::kData) {
      DataLine(line, &replies);
    } else {
      replies += Command(line);
    }
  }
  pending_.erase(0, pos);
  if (state_ != State::kData && pending_.size() > settings_.max_line) {
    // Answer once, then skip to the end of the line.
    replies += Reply(500, "5.5.2", "line too long");
    pending_.clear();
    discarding_ = true;
  } else if (state_ == State::kData && too_big_) {
    pending_.clear();  // nothing of it is kept; only the final dot matters
  }
  return replies;
}

std::string LmtpSession::Command(std::string_view line) {
  const auto space = line.find(' ');
  const std::string verb = AsciiLower(line.substr(0, space));
  const std::string_view argument =
      space == std::string_view::npos ? "" : line.substr(space + 1);
  if (verb == "lhlo") return Lhlo(argument);
  if (verb == "mail") return Mail(argument);
  if (verb == "rcpt") return Rcpt(argument);
  if (verb == "data") return Data();
  if (verb == "rset") {
    if (state_ != State::kGreeted) Reset();
    return Reply(250, "2.0.0", "Ok");
  }
  if (verb == "noop") return Reply(250, "2.0.0", "Ok");
  if (verb == "quit") {
    closed_ = true;
    return Reply(221, "2.0.0", "Bye");
  }
  if (verb == "vrfy") return Reply(252, "2.5.2", "Cannot VRFY user");
  if (verb == "helo" || verb == "ehlo") {
    return Reply(500, "5.5.1", "this is LMTP: use LHLO");
  }
  return Reply(500, "5.5.2", "command not recognized");
}

std::string LmtpSession::Lhlo(std::string_view argument) {
  if (TrimSpaces(argument).empty())
    return Reply(501, "5.5.4", "LHLO needs a name");
  Reset();
  state_ = State::kReady;
  return "250-" + settings_.hostname + kCrlf + "250-PIPELINING" + kCrlf +
         "250-ENHANCEDSTATUSCODES" + kCrlf + "250-8BITMIME" + kCrlf +
         "250 SIZE " + std::to_string(settings_.max_message_size) + kCrlf;
}

std::string LmtpSession::Mail(std::string_view argument) {
  if (state_ == State::kGreeted) return Reply(503, "5.5.1", "send LHLO first");
  if (state_ != State::kReady)
    return Reply(503, "5.5.1", "nested MAIL command");
  if (!StartsWith(argument, "from:"))
    return Reply(501, "5.5.4", "syntax: MAIL FROM:<address>");
  std::string sender;
  std::vector<std::string> params;
  if (!ParsePath(argument.substr(5), &sender, &params)) {
    return Reply(501, "5.1.7", "bad sender address syntax");
  }
  for (const auto& p : params) {
    const std::size_t eq = p.find('=');
    const std::string name = AsciiLower(p.substr(0, eq));
    // The value after "=", empty when there is none ("SIZE", "SIZE=").
    const std::string_view v = eq == std::string::npos
                                   ? std::string_view()
                                   : std::string_view(p).substr(eq + 1);
    if (name == "size") {
      std::size_t size = 0;
      const auto [end, ec] =
          std::from_chars(v.data(), v.data() + v.size(), size);
      if (v.empty() || ec != std::errc() || end != v.data() + v.size()) {
        return Reply(501, "5.5.4", "bad SIZE parameter");
      }
      if (size > settings_.max_message_size) {
        return Reply(552, "5.3.4", "message size exceeds fixed limit");
      }
    } else if (name == "body") {
      const std::string body = AsciiLower(v);
      if (body != "7bit" && body != "8bitmime") {
        return Reply(501, "5.5.4", "bad BODY parameter");
      }
    } else {
      return Reply(555, "5.5.4", "unsupported parameter " + p);
    }
  }
  sender_ = sender;
  state_ = State::kMail;
  return Reply(250, "2.1.0", "Ok");
}

std::string LmtpSession::Rcpt(std::string_view argument) {
  if (state_ != State::kMail) return Reply(503, "5.5.1", "need MAIL command");
  if (!StartsWith(argument, "to:"))
    return Reply(501, "5.5.4", "syntax: RCPT TO:<address>");
  std::string recipient;
  std::vector<std::string> params;
  if (!ParsePath(argument.substr(3), &recipient, &params)) {
    return Reply(501, "5.1.3", "bad recipient address syntax");
  }
  if (!params.empty())
    return Reply(555, "5.5.4", "unsupported parameter " + params.front());
  if (++rcpt_commands_ > settings_.max_recipients) {
    return Reply(452, "4.5.3", "too many recipients");
  }
  std::optional<Address> address = ParseAddress(recipient);
  if (!address) {
    return Reply(550, "5.1.3",
                 "<" + recipient + ">: invalid recipient address");
  }
  Resolution where;
  Outcome o = backend_.Accept(*address, &where);
  if (!o.ok()) {
    o.text = "<" + recipient + ">: " + o.text;
    return Reply(o);
  }
  accepted_.push_back({std::move(*address), std::move(where)});
  return Reply(250, "2.1.5", "Ok");
}

std::string LmtpSession::Data() {
  if (state_ != State::kMail) return Reply(503, "5.5.1", "need MAIL command");
  if (accepted_.empty()) return Reply(503, "5.5.1", "no valid recipients");
  state_ = State::kData;
  body_.clear();
  too_big_ = false;
  return Reply(354, "", "End data with <CR><LF>.<CR><LF>");
}

void LmtpSession::DataLine(std::string_view line, std::string* replies) {
  if (line == ".") {
    *replies += EndOfData();
    return;
  }
  if (too_big_) return;
  if (!line.empty() && line.front() == '.') line.remove_prefix(1);
  body_.append(line);
  body_ += '\n';
  if (body_.size() > settings_.max_message_size) {
    // Keep reading to the final dot, but keep nothing.
    too_big_ = true;
    body_.clear();
    body_.shrink_to_fit();
  }
}

std::string LmtpSession::EndOfData() {
  std::string replies;
  const MessageInfo info = ParseMessage(body_);
  const std::vector<std::string> delivered_to = DeliveredToAddresses(body_);
  for (const auto& a : accepted_) {
    const std::string delivered = AsciiLower(a.recipient.text);
    // What pipe(8) flags R and D would have written in front.
    const std::string raw = "Return-Path: <" + sender_ +
                            ">\nDelivered-To: " + delivered + "\n" + body_;
    std::optional<Outcome> refusal;
    if (too_big_ || raw.size() > settings_.max_message_size) {
      refusal = Outcome{kDsnTooBig, "message larger than max_message_size"};
    } else if (std::find(delivered_to.begin(), delivered_to.end(), delivered) !=
               delivered_to.end()) {
      // Flag D: this message already passed through this mailbox, so it
      // is looping (aliases or forwarding pointing back here); storing it
      // again would only feed the loop.
      refusal = Outcome{kDsnLoop, "mail forwarding loop for " + delivered};
    }
    if (refusal) {
      backend_.Refused(a.recipient, info, raw.size(), *refusal);
      refusal->text = "<" + a.recipient.text + ">: " + refusal->text;
      replies += Reply(*refusal);
      continue;
    }
    Outcome o = backend_.Deliver(raw, info, {sender_, "", "", ""}, a.recipient,
                                 a.where);
    o.text = "<" + a.recipient.text + ">: " + o.text;
    replies += Reply(o);
  }
  Reset();
  return replies;
}

void LmtpSession::Reset() {
  if (state_ != State::kGreeted) state_ = State::kReady;
  sender_.clear();
  accepted_.clear();
  rcpt_commands_ = 0;
  body_.clear();
  body_.shrink_to_fit();
  too_big_ = false;
}

}  // namespace ldapmda
