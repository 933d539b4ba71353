// mbox: ldapmbox's mbox writer and reader, in the mboxrd dialect. Each
// message is a "From " line (envelope sender and asctime date, UTC), its
// lines with ^>*"From " quoted by one more '>', and one empty line.
//
// A message that does not end in a newline gets one added, and its
// "From " line ends with the token kNoFinalNewline so that the reader here
// takes the added newline off again: the round trip is byte-exact, while
// other readers (mutt, Dovecot, Python's mailbox) ignore text after the
// date and see the message with one trailing newline more.
#ifndef LDAPMDA_MBOX_H_
#define LDAPMDA_MBOX_H_

#include <cstddef>
#include <ctime>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ldapmda {

// Last word of the "From " line of a message without a final newline.
inline constexpr char kNoFinalNewline[] = "ldapmbox-no-final-newline";

// The envelope sender written for the null sender, and read back as "".
inline constexpr char kMailerDaemon[] = "MAILER-DAEMON";

// `t` in asctime(3) form in UTC, "Thu Nov  5 09:03:07 2026".
std::string AscTime(std::time_t t);
// The inverse of AscTime: nullopt unless `text` is exactly that form.
std::optional<std::time_t> ParseAscTime(std::string_view text);

// The "From " line for a message, with its newline. `sender` "" or "<>"
// is written as MAILER-DAEMON.
std::string MboxFromLine(std::string_view sender, std::time_t t,
                         bool no_final_newline);

// One message in mboxrd form: "From " line, quoted lines, empty line.
std::string FormatMboxMessage(std::string_view sender, std::time_t t,
                              std::string_view raw);

// `text` with one '>' added to every line that matches ^>*"From ".
std::string MboxQuote(std::string_view text);
// The inverse: one '>' taken from every line that matches ^>+"From ".
std::string MboxUnquote(std::string_view text);

// One message of a parsed mbox. `quoted` points into the parsed data.
struct MboxMessage {
  std::string sender;               // "" for MAILER-DAEMON or <>
  std::optional<std::time_t> time;  // the "From " line's date
  std::string_view quoted;          // the message as stored in the file
  std::size_t line = 0;             // 1-based line of the "From " line
  std::string Raw() const { return MboxUnquote(quoted); }
};

// A file that is not an mbox, or is cut short; what() names the line.
class MboxError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Splits a whole mboxrd file into messages. Every line that starts with
// "From " begins a message; the file must start with one (or be empty),
// and every message must end with an empty line. Throws MboxError.
std::vector<MboxMessage> ParseMbox(std::string_view data);

// The sender and date of a "From " line (without "From " and line end):
// the date is looked for as the last 24 characters, after an optional
// trailing kNoFinalNewline; other layouts give the first word as the
// sender and no date.
struct FromLine {
  std::string sender;
  std::optional<std::time_t> time;
  bool no_final_newline = false;
};
FromLine ParseFromLine(std::string_view rest);

}  // namespace ldapmda

#endif  // LDAPMDA_MBOX_H_
