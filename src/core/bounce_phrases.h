// bounce_phrases: the data bounce_reason decides with -- what mail
// servers write when they refuse a recipient, grouped by reason, and the
// reason each enhanced status code names. Phrases are lower case, "*"
// stands for one word. The servers' own words: Postfix, Exim, Sendmail,
// qmail, Exchange, the big mailbox providers; the grouping follows
// Sisimai's reason names. Internal to bounce_reason.
#ifndef LDAPMDA_CORE_BOUNCE_PHRASES_H_
#define LDAPMDA_CORE_BOUNCE_PHRASES_H_

#include <span>
#include <string_view>

namespace ldapmda::bounce_phrases {

using Phrases = std::span<const std::string_view>;

extern const Phrases kMailboxFull;
extern const Phrases kMesgTooBig;
extern const Phrases kExceedLimit;
extern const Phrases kSuspend;
extern const Phrases kHasMoved;
extern const Phrases kNoRelaying;
extern const Phrases kUserUnknown;
extern const Phrases kFiltered;
extern const Phrases kRejected;
extern const Phrases kNotRejected;
extern const Phrases kHostUnknown;
extern const Phrases kSpamDetected;
extern const Phrases kTooManyConn;
extern const Phrases kBlocked;
extern const Phrases kPolicyViolation;
extern const Phrases kVirusDetected;
extern const Phrases kSecurityError;
extern const Phrases kSystemError;
extern const Phrases kNetworkError;
extern const Phrases kExpired;
extern const Phrases kContentError;
extern const Phrases kSystemFull;
extern const Phrases kNotAccept;
extern const Phrases kMailerError;

// The reason an enhanced status code names (RFC 3463 and the IANA
// registry: 5.1.1 userunknown, 5.2.2 mailboxfull...), "" for a code that
// names none.
std::string_view ReasonOfStatus(std::string_view status);

}  // namespace ldapmda::bounce_phrases

#endif  // LDAPMDA_CORE_BOUNCE_PHRASES_H_
