// log: see log.h.
#include "ldapmda/log.h"

#include <syslog.h>

#include <cstdio>
#include <string>

namespace ldapmda {
namespace {

LogTarget g_target = LogTarget::kSyslog;
bool g_syslog_open = false;
LogSink g_sink = nullptr;

int Priority(LogLevel level) {
  switch (level) {
    case LogLevel::kInfo:
      return LOG_INFO;
    case LogLevel::kWarning:
      return LOG_WARNING;
    case LogLevel::kError:
      break;
  }
  return LOG_ERR;
}

const char* StatusWord(Disposition d) {
  switch (d) {
    case Disposition::kSent:
      return "sent";
    case Disposition::kBounce:
      return "bounced";
    case Disposition::kDefer:
      break;
  }
  return "deferred";
}

}  // namespace

void OpenLog(LogTarget target) {
  g_target = target;
  if (target == LogTarget::kSyslog && !g_syslog_open) {
    openlog("ldapmda", LOG_PID | LOG_NDELAY, LOG_MAIL);
    g_syslog_open = true;
  }
}

void SetLogSink(LogSink sink) { g_sink = sink; }

void Log(LogLevel level, std::string_view text) {
  const std::string line = OneLine(text);
  if (g_sink != nullptr) {
    g_sink(level, line);
    return;
  }
  if (g_target == LogTarget::kStderr) {
    std::fprintf(stderr, "ldapmda: %s\n", line.c_str());
    return;
  }
  if (!g_syslog_open) OpenLog(LogTarget::kSyslog);
  syslog(Priority(level), "%s", line.c_str());
}

std::string FormatDeliveryLine(const DeliveryLogLine& l) {
  char delay[32];
  std::snprintf(delay, sizeof delay, "%.3f", l.delay);
  std::string s = l.queue_id.empty() ? "NOQUEUE" : l.queue_id;
  s += ": to=<" + l.recipient + ">";
  if (!l.original_recipient.empty() && l.original_recipient != l.recipient) {
    s += ", orig_to=<" + l.original_recipient + ">";
  }
  if (!l.message_id.empty()) s += ", msgid=<" + l.message_id + ">";
  s += ", size=" + std::to_string(l.size) + ", delay=" + delay +
       ", dsn=" + l.outcome.dsn.str() +
       ", status=" + StatusWord(l.outcome.disposition()) + " (" +
       (l.detail.empty() ? l.outcome.text : l.detail) + ")";
  return s;
}

}  // namespace ldapmda
