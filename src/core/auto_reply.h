// auto_reply: whether a message was sent automatically (RFC 3834), from
// Auto-Submitted or from the markers vacation programs and mail clients
// set instead: X-Autoreply and its relatives, Precedence: auto_reply,
// Exchange's X-Auto-Response-Suppress, Apple's X-Apple-Action, and the
// subjects automatic replies start with, in the languages they are sent
// in. Internal to ParseReport.
#ifndef LDAPMDA_CORE_AUTO_REPLY_H_
#define LDAPMDA_CORE_AUTO_REPLY_H_

#include <string>

#include "core/report_syntax.h"

namespace ldapmda {

// Auto-Submitted's keyword when not "no" (RFC 3834 5), lower case;
// without the field, "auto-replied" for the markers of an automatic
// reply; "" for a message sent by a person. An explicit "Auto-Submitted:
// no" is the sender's word and wins over any other marker.
std::string AutoSubmitted(const report_syntax::Fields& headers);

// The Subject, RFC 2047 words decoded, as one line of UTF-8.
std::string DecodedSubject(const report_syntax::Fields& headers);

}  // namespace ldapmda

#endif  // LDAPMDA_CORE_AUTO_REPLY_H_
