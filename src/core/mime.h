// mime: GMime and GLib set up once per process, for the parts of the core
// that use them (message headers, report dates and encoded words).
#ifndef LDAPMDA_CORE_MIME_H_
#define LDAPMDA_CORE_MIME_H_

namespace ldapmda {

// Initialises GMime and routes GLib/GMime diagnostics to ldapmda's log.
// Safe to call any number of times, from any thread.
void InitMime();

}  // namespace ldapmda

#endif  // LDAPMDA_CORE_MIME_H_
