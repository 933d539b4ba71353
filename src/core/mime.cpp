// mime: see mime.h.
#include "core/mime.h"

#include <glib.h>
#include <gmime/gmime.h>

#include <mutex>
#include <string>

#include "ldapmda/log.h"

namespace ldapmda {
namespace {

void GlibToLog(const gchar* domain, GLogLevelFlags level, const gchar* text,
               gpointer) {
  const LogLevel l = (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
                         ? LogLevel::kError
                         : LogLevel::kWarning;
  Log(l, std::string(domain ? domain : "glib") + ": " + (text ? text : ""));
}

}  // namespace

void InitMime() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_log_set_default_handler(GlibToLog, nullptr);
    g_mime_init();
  });
}

}  // namespace ldapmda
