// log: syslog (facility mail, ident ldapmda) or stderr for manual runs.
// One Postfix-style line per recipient; library diagnostics come here too,
// never to stdout, which belongs to the verdict line.
#ifndef LDAPMDA_LOG_H_
#define LDAPMDA_LOG_H_

#include <string>
#include <string_view>

#include "ldapmda/config.h"
#include "ldapmda/status.h"

namespace ldapmda {

enum class LogLevel { kInfo, kWarning, kError };

// Selects the target; before this is called, messages go to syslog.
void OpenLog(LogTarget target);
void Log(LogLevel level, std::string_view text);

// A host program's log (the Dovecot driver's): when set, every line goes
// there instead, already one line.
using LogSink = void (*)(LogLevel level, std::string_view line);
void SetLogSink(LogSink sink);

// The per-recipient line, in the shape Postfix administrators grep for:
// "QUEUEID: to=<rcpt>, orig_to=<orig>, msgid=<id>, size=N, delay=D,
// dsn=X.Y.Z, status=sent (stored as DN)".
struct DeliveryLogLine {
  std::string queue_id;
  std::string recipient;
  std::string original_recipient;
  std::string message_id;
  std::size_t size = 0;
  double delay = 0;
  Outcome outcome;
  std::string detail;  // text in parentheses; defaults to outcome.text
};
std::string FormatDeliveryLine(const DeliveryLogLine& line);

}  // namespace ldapmda

#endif  // LDAPMDA_LOG_H_
