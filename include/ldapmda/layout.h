// layout: where ldapmda's entries live and what their attributes are
// called (docs/ARCHITECTURE.md, "Storage layout"). The writer (delivery,
// ldapmbox import) and the readers (ldapmbox, the Dovecot driver) take
// DNs and names from here only.
//
//   <recipient entry>                       found with query_filter
//     cn=mailbox,<recipient entry>          mdaMailbox (mailbox_dn)
//       mdaFolder=<id>,cn=mailbox,...       mdaMailFolder
//         mdaKey=<hex>,mdaFolder=<id>,...   mdaMessage [+ mdaReport]
//           cn=state,mdaKey=<hex>,...       mdaMessageState (IMAP)
#ifndef LDAPMDA_LAYOUT_H_
#define LDAPMDA_LAYOUT_H_

#include <string>
#include <string_view>

namespace ldapmda {

// The DN of the folder `id` (its mdaFolder) in the mailbox `mailbox_dn`.
std::string FolderDn(std::string_view mailbox_dn, std::string_view id);

// The DN of the message `key` in the folder `folder_dn`. The key is
// RFC 4514-escaped: ldapmbox takes keys from its command line.
std::string MessageDn(std::string_view folder_dn, std::string_view key);

// Where ldapmda before folders stored the message `key` (and still does
// on a schema without mdaMailFolder): right below the mailbox.
std::string FlatMessageDn(std::string_view mailbox_dn, std::string_view key);

// The DN of the IMAP state of the message `message_dn`.
std::string StateDn(std::string_view message_dn);

// The DN of the parent of `dn` (what follows its first unescaped comma).
std::string ParentDn(std::string_view dn);

// The RDN value of a message state entry.
inline constexpr char kStateCn[] = "state";

// The folder every mailbox has, where mail without an extension goes.
inline constexpr char kInbox[] = "INBOX";

// Object classes.
namespace oc {
inline constexpr char kMailbox[] = "mdaMailbox";
inline constexpr char kMessage[] = "mdaMessage";
inline constexpr char kReport[] = "mdaReport";
inline constexpr char kMailFolder[] = "mdaMailFolder";
inline constexpr char kMessageState[] = "mdaMessageState";
}  // namespace oc

// Attribute types (conf/ldapmda.schema).
namespace at {
// mdaMailbox
inline constexpr char kMailboxSize[] = "mdaMailboxSize";
inline constexpr char kMessageCount[] = "mdaMessageCount";
// mdaMessage
inline constexpr char kKey[] = "mdaKey";
inline constexpr char kRawMessage[] = "mdaRawMessage";
inline constexpr char kSize[] = "mdaSize";
inline constexpr char kMessageId[] = "mdaMessageId";
inline constexpr char kSubject[] = "mdaSubject";
inline constexpr char kFrom[] = "mdaFrom";
inline constexpr char kTo[] = "mdaTo";
inline constexpr char kCc[] = "mdaCc";
inline constexpr char kDate[] = "mdaDate";
inline constexpr char kDeliveredAt[] = "mdaDeliveredAt";
inline constexpr char kEnvelopeSender[] = "mdaEnvelopeSender";
inline constexpr char kEnvelopeRecipient[] = "mdaEnvelopeRecipient";
inline constexpr char kOriginalRecipient[] = "mdaOriginalRecipient";
inline constexpr char kQueueId[] = "mdaQueueId";
inline constexpr char kFolder[] = "mdaFolder";
// mdaMailFolder (also mdaFolder)
inline constexpr char kFolderName[] = "mdaFolderName";
inline constexpr char kUidValidity[] = "mdaUidValidity";
inline constexpr char kUidNext[] = "mdaUidNext";
inline constexpr char kRemovals[] = "mdaRemovals";
// mdaMessageState
inline constexpr char kUid[] = "mdaUid";
inline constexpr char kFlag[] = "mdaFlag";
// operational
inline constexpr char kEntryCsn[] = "entryCSN";
inline constexpr char kContextCsn[] = "contextCSN";
// mdaReport
inline constexpr char kReportType[] = "mdaReportType";
inline constexpr char kReportFormat[] = "mdaReportFormat";
inline constexpr char kReportedMessageId[] = "mdaReportedMessageId";
inline constexpr char kAutoSubmitted[] = "mdaAutoSubmitted";
inline constexpr char kVerpRecipient[] = "mdaVerpRecipient";
inline constexpr char kDsnReportingMta[] = "mdaDsnReportingMta";
inline constexpr char kDsnEnvelopeId[] = "mdaDsnEnvelopeId";
inline constexpr char kDsnRecipient[] = "mdaDsnRecipient";
inline constexpr char kDsnOriginalRecipient[] = "mdaDsnOriginalRecipient";
inline constexpr char kDsnAction[] = "mdaDsnAction";
inline constexpr char kDsnStatus[] = "mdaDsnStatus";
inline constexpr char kDsnDiagnostic[] = "mdaDsnDiagnostic";
inline constexpr char kDsnRemoteMta[] = "mdaDsnRemoteMta";
inline constexpr char kDsnResult[] = "mdaDsnResult";
inline constexpr char kDsnReason[] = "mdaDsnReason";
inline constexpr char kArfFeedbackType[] = "mdaArfFeedbackType";
inline constexpr char kArfUserAgent[] = "mdaArfUserAgent";
inline constexpr char kArfOriginalMailFrom[] = "mdaArfOriginalMailFrom";
inline constexpr char kArfOriginalRcptTo[] = "mdaArfOriginalRcptTo";
inline constexpr char kArfArrivalDate[] = "mdaArfArrivalDate";
inline constexpr char kArfSourceIp[] = "mdaArfSourceIp";
inline constexpr char kArfReportedDomain[] = "mdaArfReportedDomain";
}  // namespace at

}  // namespace ldapmda

#endif  // LDAPMDA_LAYOUT_H_
