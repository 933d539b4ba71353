// cli: pipe mode (see cli.h). The steps of one run, in order: argv,
// configuration, deadline, message, directory, one delivery per
// recipient, one verdict. Any failure before a recipient is looked at
// becomes the same outcome for every recipient; any exception defers.
#include "mda/cli.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <new>
#include <sstream>

#include "ldapmda/config.h"
#include "ldapmda/deadline.h"
#include "ldapmda/delivery.h"
#include "ldapmda/directories.h"
#include "ldapmda/escape.h"
#include "ldapmda/exit_codes.h"
#include "ldapmda/log.h"
#include "ldapmda/message.h"
#include "ldapmda/status.h"
#include "ldapmda/text.h"
#include "mda/admin.h"
#include "mda/lmtp.h"

namespace po = boost::program_options;

namespace ldapmda {
namespace {

// Opens the log. With syslog, library chatter must not reach Postfix
// through stderr either: it goes to /dev/null.
void StartLogging(LogTarget target) {
  OpenLog(target);
  if (target != LogTarget::kSyslog) return;
  if (int null_fd = open("/dev/null", O_WRONLY); null_fd >= 0) {
    dup2(null_fd, STDERR_FILENO);
    close(null_fd);
  }
}

void WriteAll(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

enum class ReadStatus { kOk, kTooBig, kError };

// The message as read from stdin. realloc'ed memory rather than a
// std::string: glibc grows large blocks with mremap, without copying or
// zero-filling, so a 10 MB message costs 10 MB, not the 16 + 8 MB a
// doubling std::string touches while it grows.
class InputBuffer {
 public:
  InputBuffer() = default;
  InputBuffer(const InputBuffer&) = delete;
  InputBuffer& operator=(const InputBuffer&) = delete;
  ~InputBuffer() { std::free(data_); }

  bool Grow(std::size_t capacity) {
    void* p = std::realloc(data_, capacity);
    if (p == nullptr) return false;
    data_ = static_cast<char*>(p);
    capacity_ = capacity;
    return true;
  }
  char* end() { return data_ + size_; }
  std::size_t room() const { return capacity_ - size_; }
  void Add(std::size_t n) { size_ += n; }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }
  std::string_view view() const { return {data_, size_}; }

 private:
  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

// Reads all of `fd`, binary-safe, but never more than max + 1 bytes.
ReadStatus ReadMessage(int fd, std::size_t max, InputBuffer* data,
                       std::string* error) {
  for (;;) {
    if (data->room() == 0) {
      if (data->size() > max) return ReadStatus::kTooBig;
      const std::size_t want = std::min(
          std::max<std::size_t>(data->capacity() * 2, 64 * 1024), max + 1);
      if (!data->Grow(want)) throw std::bad_alloc();
    }
    const ssize_t n = read(fd, data->end(), data->room());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = std::strerror(errno);
      return ReadStatus::kError;
    }
    if (n == 0) break;
    data->Add(static_cast<std::size_t>(n));
  }
  return data->size() > max ? ReadStatus::kTooBig : ReadStatus::kOk;
}

po::options_description CommandLine() {
  using Strings = std::vector<std::string>;
  po::options_description desc("Options");
  auto add = desc.add_options();
  add("help,h", "print this help and exit");
  add("version,V", "print the version and exit");
  add("config,c", po::value<std::string>()->value_name("FILE"),
      "configuration file (default /etc/ldapmda/ldapmda.conf)");
  add("option,o", po::value<Strings>()->composing()->value_name("KEY=VALUE"),
      "override one configuration key (repeatable)");
  add("log", po::value<std::string>()->value_name("TARGET"),
      "log to syslog or stderr (same as -o log=TARGET)");
  add("from,f", po::value<std::string>()->value_name("SENDER"),
      "envelope sender; \"\" or MAILER-DAEMON for the null sender");
  add("original-recipient,a",
      po::value<Strings>()->multitoken()->composing()->value_name("ADDR..."),
      "original recipients before rewriting, one per -d recipient");
  add("extension,e",
      po::value<Strings>()->multitoken()->composing()->value_name("EXT..."),
      "Postfix's ${extension}, one per -d recipient (optional: ldapmda "
      "also splits at recipient_delimiter)");
  add("queue-id,q", po::value<std::string>()->value_name("ID"),
      "Postfix queue ID, for the log");
  add("lmtp",
      "speak LMTP (RFC 2033) on stdin/stdout, for spawn(8), "
      "inetd or systemd socket activation");
  add("check",
      "check the configuration against the directory and exit; "
      "with an ADDRESS also adding and deleting below its mailbox");
  add("query", po::value<std::string>()->value_name("ADDRESS"),
      "show how ADDRESS resolves and what a delivery would do, and exit");
  add("recount", po::value<std::string>()->value_name("ADDRESS"),
      "recompute the usage counters of ADDRESS's mailbox and exit");
  add("deliver,d",
      po::value<Strings>()->multitoken()->composing()->value_name(
          "RECIPIENT..."),
      "deliver to these recipients");
  return desc;
}

// Delivers to every recipient and fills `outcomes`.
void DeliverAll(const Options& opts, const Config& config,
                const Deadline& deadline, std::string_view raw,
                std::vector<RecipientOutcome>& outcomes) {
  const MessageInfo info = ParseMessage(raw);
  Directories directories(config, deadline);
  Delivery delivery(config, directories.lookup(), directories.store(), deadline,
                    directories.confirmer());
  for (std::size_t i = 0; i < opts.recipients.size(); ++i) {
    const std::string& rcpt = opts.recipients[i];
    const Envelope envelope{opts.sender, opts.OriginalRecipient(i),
                            opts.queue_id, opts.ExtensionOf(i)};
    const DeliveryResult result = delivery.Deliver(raw, info, envelope, rcpt);
    outcomes.push_back({rcpt, result.outcome});
    Log(LogLevel::kInfo,
        FormatDeliveryLine({opts.queue_id, rcpt, envelope.original_recipient,
                            info.message_id.value_or(""), raw.size(),
                            deadline.Elapsed(), result.outcome, ""}));
  }
}

// The same outcome for every recipient, each logged.
void FailAll(const Options& opts, const Outcome& outcome, std::size_t size,
             const Deadline& deadline,
             std::vector<RecipientOutcome>& outcomes) {
  outcomes.clear();
  for (std::size_t i = 0; i < opts.recipients.size(); ++i) {
    const std::string& rcpt = opts.recipients[i];
    outcomes.push_back({rcpt, outcome});
    Log(LogLevel::kInfo,
        FormatDeliveryLine({opts.queue_id, rcpt, opts.OriginalRecipient(i), "",
                            size, deadline.Elapsed(), outcome, ""}));
  }
}

// --recount: an administrator's command, not a delivery. Same verdict
// lines; a generous time budget, since a mailbox may be large.
int RunRecount(const Options& opts, int out_fd) {
  try {
    const Config config = LoadConfig(opts.config_file, opts.overrides);
    OpenLog(config.log);
    const Deadline deadline(std::chrono::hours(1));
    const auto directory = OpenDirectory(config, config.StoreHosts(),
                                         BindPassword(config), deadline);
    std::string mailbox;
    Usage before, after;
    const Outcome o = Recount(config, *directory, deadline, opts.recount,
                              &mailbox, &before, &after);
    if (!o.ok()) {
      const Verdict v = ReportGlobal(o);
      WriteAll(out_fd, v.line);
      return v.exit_code;
    }
    const std::string line = mailbox + ": " + std::to_string(after.messages) +
                             " messages, " + std::to_string(after.bytes) +
                             " bytes (counters said " +
                             std::to_string(before.messages) + " messages, " +
                             std::to_string(before.bytes) + " bytes)\n";
    Log(LogLevel::kInfo, "recount " + line);
    WriteAll(out_fd, line);
    return 0;
  } catch (const std::exception& e) {
    const Verdict v = ReportGlobal({kDsnConfig, e.what()});
    WriteAll(out_fd, v.line);
    return v.exit_code;
  }
}

// --lmtp: a configuration problem is answered in the protocol, so the
// client defers its mail and says why.
int RunLmtpMode(const Options& opts, int in_fd, int out_fd) {
  try {
    const Config config = LoadConfig(opts.config_file, opts.overrides);
    StartLogging(config.log);
    return RunLmtp(config, in_fd, out_fd);
  } catch (const std::exception& e) {
    Log(LogLevel::kError, std::string("LMTP: ") + e.what());
    WriteAll(out_fd, "421 4.3.5 " + OneLine(e.what()) + "\r\n");
    return kExitTempFail;
  }
}

// --check and --query: reports for a person at a terminal. Exit status:
// --check 0 when every check passed, else 1 (kExitConfig for an unreadable
// configuration); --query the exit code a delivery would get now.
int RunAdmin(const Options& opts, int out_fd) {
  std::ostringstream report;
  int status = 0;
  try {
    const Config config = LoadConfig(opts.config_file, opts.overrides);
    OpenLog(LogTarget::kStderr);
    if (opts.check) {
      report << "ldapmda --check " << opts.config_file << "\n";
      status =
          CheckSetup(config,
                     opts.recipients.empty() ? "" : opts.recipients.front(),
                     report)
              ? 0
              : 1;
    } else {
      status = QueryAddress(
          config, opts.query,
          opts.extensions.empty() ? "" : opts.extensions.front(), report);
    }
  } catch (const ConfigError& e) {
    report << "FAIL  configuration: " << e.what() << "\n";
    status = kExitConfig;
  } catch (const std::exception& e) {
    report << "FAIL  " << e.what() << "\n";
    status = kExitTempFail;
  }
  WriteAll(out_fd, report.str());
  return status;
}

}  // namespace

Options ParseOptions(int argc, const char* const* argv) {
  po::options_description desc = CommandLine();
  po::positional_options_description positional;
  positional.add("deliver", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv)
                  .options(desc)
                  .positional(positional)
                  .run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  Options opts;
  opts.help = vm.count("help") > 0;
  opts.version = vm.count("version") > 0;
  const auto get = [&](const char* name) {
    return vm.count(name) ? vm[name].as<std::string>() : std::string();
  };
  opts.config_file = vm.count("config") ? get("config") : kDefaultConfigFile;
  if (vm.count("option")) {
    opts.overrides = vm["option"].as<std::vector<std::string>>();
  }
  if (vm.count("log")) opts.overrides.push_back("log=" + get("log"));
  opts.sender = get("from");
  // pipe(8) passes the null sender as MAILER-DAEMON by default.
  if (EqualsIgnoreCase(opts.sender, "mailer-daemon")) opts.sender.clear();
  if (vm.count("original-recipient")) {
    opts.original_recipients =
        vm["original-recipient"].as<std::vector<std::string>>();
  }
  if (vm.count("extension")) {
    opts.extensions = vm["extension"].as<std::vector<std::string>>();
  }
  opts.recount = get("recount");
  opts.lmtp = vm.count("lmtp") > 0;
  opts.check = vm.count("check") > 0;
  opts.query = get("query");
  opts.queue_id = get("queue-id");
  if (vm.count("deliver")) {
    opts.recipients = vm["deliver"].as<std::vector<std::string>>();
  }
  const bool command = opts.help || opts.version || opts.lmtp || opts.check ||
                       !opts.query.empty() || !opts.recount.empty();
  if (!command && opts.recipients.empty()) {
    throw UsageError("no recipient: use -d RECIPIENT");
  }
  if (opts.lmtp && !opts.recipients.empty()) {
    throw UsageError("--lmtp takes its recipients from the client, not -d");
  }
  if (opts.check && opts.recipients.size() > 1) {
    throw UsageError("--check takes at most one probe ADDRESS");
  }
  // Paired per recipient: one value each, or one for a single recipient.
  for (const auto& [flag, values] : {std::pair{"-a", &opts.original_recipients},
                                     std::pair{"-e", &opts.extensions}}) {
    if (values->size() > 1 && values->size() != opts.recipients.size()) {
      throw UsageError(std::string(flag) + " gives " +
                       std::to_string(values->size()) + " values for " +
                       std::to_string(opts.recipients.size()) + " recipients");
    }
  }
  return opts;
}

std::string Options::ExtensionOf(std::size_t i) const {
  if (extensions.size() == 1 && recipients.size() == 1) {
    return extensions.front();
  }
  return i < extensions.size() ? extensions[i] : "";
}

std::string Options::OriginalRecipient(std::size_t i) const {
  if (original_recipients.size() == 1 && recipients.size() == 1) {
    return original_recipients.front();
  }
  return i < original_recipients.size() ? original_recipients[i] : "";
}

std::string UsageText() {
  std::ostringstream out;
  out << "usage: ldapmda [-c FILE] [-o KEY=VALUE]... [-f SENDER] "
         "[-a ORIGINAL_RECIPIENT] [-q QUEUE_ID] -d RECIPIENT...\n"
         "Reads a message on standard input and stores it in the LDAP "
         "mailbox of each\nrecipient. See ldapmda(8).\n\n"
      << CommandLine();
  return out.str();
}

int Run(int argc, const char* const* argv, int in_fd, int out_fd) {
  InitLdapLibrary();
  InitMessageLibrary();

  Options opts;
  try {
    opts = ParseOptions(argc, argv);
  } catch (const UsageError& e) {
    // A broken master.cf entry is the administrator's to fix: defer.
    Log(LogLevel::kError, std::string("usage: ") + e.what());
    const Verdict v = ReportGlobal(
        {kDsnConfig, std::string("ldapmda usage error: ") + e.what()});
    WriteAll(out_fd, v.line);
    return v.exit_code;
  }
  if (opts.help || opts.version) {
    WriteAll(out_fd, opts.help ? UsageText() : "ldapmda " LDAPMDA_VERSION "\n");
    return 0;
  }
  if (!opts.recount.empty()) return RunRecount(opts, out_fd);
  if (opts.lmtp) return RunLmtpMode(opts, in_fd, out_fd);
  if (opts.check || !opts.query.empty()) return RunAdmin(opts, out_fd);

  std::vector<RecipientOutcome> outcomes;
  Config config;
  Deadline deadline(config.deadline);
  std::size_t size = 0;
  try {
    config = LoadConfig(opts.config_file, opts.overrides);
    StartLogging(config.log);
    deadline.Restart(config.deadline);
    char line[80];
    std::snprintf(line, sizeof line,
                  "4.3.0 deadline of %.3f seconds exceeded\n",
                  static_cast<double>(config.deadline.count()) / 1000.0);
    ArmBackstop(config.deadline, out_fd, line);

    InputBuffer raw;
    std::string error;
    switch (ReadMessage(in_fd, config.max_message_size, &raw, &error)) {
      case ReadStatus::kTooBig:
        FailAll(opts,
                {kDsnTooBig, "message larger than max_message_size (" +
                                 std::to_string(config.max_message_size) +
                                 " bytes)"},
                raw.size(), deadline, outcomes);
        break;
      case ReadStatus::kError:
        FailAll(opts, {kDsnInternal, "cannot read the message: " + error},
                raw.size(), deadline, outcomes);
        break;
      case ReadStatus::kOk:
        size = raw.size();
        DeliverAll(opts, config, deadline, raw.view(), outcomes);
        break;
    }
  } catch (const ConfigError& e) {
    Log(LogLevel::kError, std::string("configuration: ") + e.what());
    FailAll(opts, {kDsnConfig, std::string("configuration: ") + e.what()}, size,
            deadline, outcomes);
  } catch (const std::bad_alloc&) {
    FailAll(opts, {kDsnInternal, "out of memory"}, size, deadline, outcomes);
  } catch (const std::exception& e) {
    FailAll(opts, {kDsnInternal, std::string("internal error: ") + e.what()},
            size, deadline, outcomes);
  }
  // A stored message is reported delivered: nothing may interrupt this.
  DisarmBackstop();
  const Verdict verdict = CombineVerdicts(outcomes);
  WriteAll(out_fd, verdict.line);
  return verdict.exit_code;
}

}  // namespace ldapmda
