// ldapmbox: argv, help, exit codes and dispatch (see ldapmbox.h). The
// global options come before COMMAND; each command then has its own
// Boost.ProgramOptions description, which repeats -c and -o.
#include "ldapmbox/ldapmbox.h"

#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <new>
#include <sstream>

#include "ldapmbox/listing.h"
#include "ldapmbox/mbox_commands.h"
#include "ldapmda/deadline.h"
#include "ldapmda/directories.h"
#include "ldapmda/log.h"
#include "ldapmda/mailbox_store.h"
#include "ldapmda/message.h"

namespace po = boost::program_options;

namespace ldapmda {
namespace {

using Strings = std::vector<std::string>;

// One command: its name, synopsis and what it does.
struct CommandInfo {
  const char* name;
  const char* synopsis;
  const char* summary;
};

constexpr CommandInfo kCommands[] = {
    {"list",
     "list ADDRESS [--folder F] [--since DAY] [--before DAY] "
     "[--from TEXT] [--subject TEXT] [--sort KEY] [--reverse] [--json]",
     "one line per message: date, from, subject, size, folder, key"},
    {"show", "show ADDRESS KEY", "write one message, byte-exact, to stdout"},
    {"export", "export ADDRESS (--mbox FILE|- | --maildir DIR) [--folder F]",
     "copy the messages out to an mbox file (mboxrd) or a Maildir++"},
    {"import", "import ADDRESS (--mbox FILE|- | --maildir DIR) [--folder F]",
     "store the messages of an mbox file or a Maildir++ (migration)"},
    {"delete",
     "delete ADDRESS (--key KEY... | --before DAY | "
     "--older-than DAYS) [--folder F] [--dry-run]",
     "delete messages by key or by delivery date"},
    {"totals", "totals ADDRESS [--folder F] [--json]",
     "messages and bytes, in all and per folder"},
    {"bounces", "bounces ADDRESS [--since DAY] [--before DAY] [--csv|--json]",
     "one row per recipient of the delivery status notifications stored: "
     "delivered, action, status, recipient, diagnostic, reporting MTA"},
    {"complaints",
     "complaints ADDRESS [--since DAY] [--before DAY] [--csv|--json]",
     "one row per abuse feedback report (ARF) stored: delivered, type, "
     "recipients, source IP, reported domain"},
    {"suppressions",
     "suppressions ADDRESS... [--since DAY] [--before DAY] "
     "[--soft-days DAYS] [--csv|--json]",
     "the addresses to stop sending to, from the bounces and complaints of "
     "these mailboxes: hard bounces, complaints, repeated soft bounces"},
};

const CommandInfo* FindCommand(std::string_view name) {
  for (const auto& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

// "NAME " for the first command name in argv, for the usage hint.
std::string CommandIn(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    if (FindCommand(argv[i])) return std::string(argv[i]) + " ";
  }
  return "";
}

po::options_description CommandOptions(std::string_view name) {
  po::options_description desc("Options");
  auto add = desc.add_options();
  add("help,h", "print this help and exit");
  add("config,c", po::value<std::string>()->value_name("FILE"),
      "configuration file (default /etc/ldapmda/ldapmda.conf)");
  add("option,o", po::value<Strings>()->composing()->value_name("KEY=VALUE"),
      "override one configuration key (repeatable)");
  const bool list = name == "list", del = name == "delete";
  const bool suppressions = name == "suppressions";
  const bool reports =
      name == "bounces" || name == "complaints" || suppressions;
  if (name != "show" && !reports) {
    add("folder", po::value<std::string>()->value_name("F"),
        name == "import" ? "mbox: store into folder F (default INBOX); "
                           "Maildir: import only its folder F"
                         : "only the messages of folder F");
  }
  if (list) {
    add("since", po::value<std::string>()->value_name("YYYY-MM-DD"),
        "dated on or after this day (UTC)");
    add("from", po::value<std::string>()->value_name("TEXT"),
        "From contains TEXT (any case)");
    add("subject", po::value<std::string>()->value_name("TEXT"),
        "Subject contains TEXT (any case)");
    add("sort", po::value<std::string>()->value_name("KEY"),
        "date (default), delivered, size, from or subject");
    add("reverse", "reverse the order");
  }
  if (reports) {
    add("since", po::value<std::string>()->value_name("YYYY-MM-DD"),
        "delivered on or after this day (UTC)");
  }
  if (list || del || reports) {
    add("before", po::value<std::string>()->value_name("YYYY-MM-DD"),
        list ? "dated before this day (UTC)"
             : "delivered before this day (UTC)");
  }
  if (list || name == "totals" || reports) add("json", "write JSON");
  if (reports) add("csv", "write CSV (RFC 4180, with a header line)");
  if (suppressions) {
    add("soft-days", po::value<int>()->value_name("DAYS"),
        "soft bounces count when two or more are DAYS days apart or more "
        "(default 3; 0: any two)");
  }
  if (name == "export" || name == "import") {
    add("mbox", po::value<std::string>()->value_name("FILE"),
        "mbox file (mboxrd); - for standard input/output");
    add("maildir", po::value<std::string>()->value_name("DIR"),
        "Maildir++ directory");
  }
  if (del) {
    add("key",
        po::value<Strings>()->multitoken()->composing()->value_name("KEY..."),
        "the messages with these keys");
    add("older-than", po::value<int>()->value_name("DAYS"),
        "delivered more than DAYS days ago");
    add("dry-run", "only show what would be deleted");
  }
  return desc;
}

std::string Get(const po::variables_map& vm, const char* name) {
  return vm.count(name) ? vm[name].as<std::string>() : std::string();
}

void CheckDay(const std::string& flag, const std::string& day) {
  if (!day.empty() && !ParseDay(day)) {
    throw UsageError(flag + " wants a day as YYYY-MM-DD, not \"" + day + "\"");
  }
}

// Checks what each command requires.
void Validate(const MboxCommand& c, std::size_t positional) {
  const std::size_t want = c.name == "show" ? 2 : 1;
  if (c.name == "suppressions") {
    if (positional == 0) throw UsageError("suppressions wants ADDRESS...");
    if (c.soft_days < 0) {
      throw UsageError("--soft-days wants a number of days >= 0");
    }
  } else if (positional != want) {
    throw UsageError(std::string(c.name) +
                     (want == 2 ? " wants ADDRESS and KEY" : " wants ADDRESS"));
  }
  if (c.name == "export" || c.name == "import") {
    if (c.mbox.empty() == c.maildir.empty()) {
      throw UsageError(c.name + " wants either --mbox FILE or --maildir DIR");
    }
  }
  if (c.name == "delete") {
    const int ways =
        !c.keys.empty() + !c.before.empty() + c.older_than.has_value();
    if (ways != 1) {
      throw UsageError(
          "delete wants exactly one of --key, --before and --older-than");
    }
    if (c.older_than && *c.older_than < 0) {
      throw UsageError("--older-than wants a number of days >= 0");
    }
  }
  if (c.csv && c.json) throw UsageError("--csv and --json exclude each other");
  if (!ParseSortKey(c.sort)) {
    throw UsageError("--sort wants date, delivered, size, from or subject");
  }
  CheckDay("--since", c.since);
  CheckDay("--before", c.before);
}

// The arguments after COMMAND.
void ParseCommandArgs(const Strings& args, MboxCommand* c) {
  po::options_description desc = CommandOptions(c->name);
  desc.add_options()("args", po::value<Strings>(), "");
  po::positional_options_description positional;
  positional.add("args", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args)
                  .options(desc)
                  .positional(positional)
                  .run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  c->help = c->help || vm.count("help") > 0;
  if (vm.count("config")) c->config_file = Get(vm, "config");
  if (vm.count("option")) {
    for (const auto& o : vm["option"].as<Strings>()) c->overrides.push_back(o);
  }
  if (vm.count("folder")) c->folder = Get(vm, "folder");
  if (vm.count("key")) c->keys = vm["key"].as<Strings>();
  if (vm.count("older-than")) c->older_than = vm["older-than"].as<int>();
  if (vm.count("soft-days")) c->soft_days = vm["soft-days"].as<int>();
  if (vm.count("sort")) c->sort = Get(vm, "sort");
  c->since = Get(vm, "since");
  c->before = Get(vm, "before");
  c->from = Get(vm, "from");
  c->subject = Get(vm, "subject");
  c->mbox = Get(vm, "mbox");
  c->maildir = Get(vm, "maildir");
  c->reverse = vm.count("reverse") > 0;
  c->json = vm.count("json") > 0;
  c->csv = vm.count("csv") > 0;
  c->dry_run = vm.count("dry-run") > 0;
  if (c->help) return;
  const Strings pos = vm.count("args") ? vm["args"].as<Strings>() : Strings();
  if (!pos.empty()) c->address = pos[0];
  c->addresses = pos;
  if (c->name == "show" && pos.size() > 1) c->keys = {pos[1]};
  Validate(*c, pos.size());
}

// Takes the value of a global option from `args` at `*i`.
std::string OptionValue(const Strings& args, std::size_t* i,
                        std::string_view flag) {
  const std::string& a = args[*i];
  if (a.size() > flag.size() && a.starts_with(flag)) {
    const std::size_t skip = flag.size() + (a[flag.size()] == '=' ? 1 : 0);
    return a.substr(skip);
  }
  if (*i + 1 >= args.size())
    throw UsageError(std::string(flag) + " wants a value");
  return args[++*i];
}

std::string Describe(const std::string& address, const Config& config,
                     const Outcome& o) {
  if (o.dsn == kDsnNoSuchUser) {
    return "unknown address " + address + ": no directory entry matches " +
           config.query_filter + " below " + config.search_base;
  }
  return address + ": " + o.text;
}

int Dispatch(const MboxCommand& c, const Config& config) {
  const Deadline deadline(std::chrono::hours(24 * 30));  // no total limit
  // Writes go to the providers; everything else only reads and goes to
  // the search replica when there is one.
  const bool writes = c.name == "import" || c.name == "delete";
  const auto directory =
      OpenDirectory(config, writes ? config.StoreHosts() : config.SearchHosts(),
                    BindPassword(config), deadline);
  if (c.name == "suppressions") {
    std::vector<std::unique_ptr<MailboxStore>> stores;
    for (const std::string& address : c.addresses) {
      stores.push_back(
          std::make_unique<MailboxStore>(config, *directory, deadline));
      if (Outcome o = stores.back()->Open(address); !o.ok()) {
        throw CommandError(ExitCodeForFailure(o), Describe(address, config, o));
      }
    }
    return SuppressionsCommand(c, stores);
  }
  MailboxStore store(config, *directory, deadline);
  if (Outcome o = store.Open(c.address); !o.ok()) {
    throw CommandError(ExitCodeForFailure(o), Describe(c.address, config, o));
  }
  if (c.name == "list") return ListCommand(c, store);
  if (c.name == "show") return ShowCommand(c, store);
  if (c.name == "totals") return TotalsCommand(c, store);
  if (c.name == "delete") return DeleteCommand(c, config, store);
  if (c.name == "bounces" || c.name == "complaints") {
    return ReportsCommand(c, store);
  }
  if (c.name == "export") return ExportCommand(c, store);
  return ImportCommand(c, config, store);
}

}  // namespace

MboxCommand ParseMboxCommand(int argc, const char* const* argv) {
  const Strings args(argv + (argc > 0 ? 1 : 0), argv + argc);
  MboxCommand c;
  std::size_t i = 0;
  for (; i < args.size() && args[i].starts_with("-"); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      c.help = true;
    } else if (a == "-V" || a == "--version") {
      c.version = true;
    } else if (a.starts_with("--config")) {
      c.config_file = OptionValue(args, &i, "--config");
    } else if (a.starts_with("-c")) {
      c.config_file = OptionValue(args, &i, "-c");
    } else if (a.starts_with("--option")) {
      c.overrides.push_back(OptionValue(args, &i, "--option"));
    } else if (a.starts_with("-o")) {
      c.overrides.push_back(OptionValue(args, &i, "-o"));
    } else {
      throw UsageError("unknown option " + a + " before the command");
    }
  }
  if (i == args.size()) {
    if (c.help || c.version) return c;
    throw UsageError(
        "no command: use list, show, export, import, delete, totals, "
        "bounces, complaints or suppressions");
  }
  c.name = args[i];
  if (!FindCommand(c.name)) throw UsageError("unknown command " + c.name);
  ParseCommandArgs(Strings(args.begin() + static_cast<long>(i) + 1, args.end()),
                   &c);
  return c;
}

std::string MboxUsage(std::string_view command) {
  std::ostringstream out;
  if (const CommandInfo* c = FindCommand(command)) {
    out << "usage: ldapmbox [-c FILE] [-o KEY=VALUE]... " << c->synopsis << "\n"
        << c->summary << ". See ldapmbox(1).\n\n"
        << CommandOptions(command) << "\n";
    return out.str();
  }
  out << "usage: ldapmbox [-c FILE] [-o KEY=VALUE]... COMMAND ADDRESS "
         "[ARGS]\n"
         "The messages ldapmda(8) stored for ADDRESS. Commands:\n";
  for (const auto& c : kCommands) out << "  " << c.synopsis << "\n";
  out << "\"ldapmbox COMMAND --help\" describes each; see ldapmbox(1).\n";
  return out.str();
}

int ExitCodeForFailure(const Outcome& o) {
  if (o.dsn == kDsnNoSuchUser || o.dsn == kDsnBadAddress) return kExitNoUser;
  if (o.dsn.klass() == 5) return kExitUnavailable;
  if (o.dsn == kDsnConfig) return kExitConfig;
  return kExitTempFail;
}

int RunLdapmbox(int argc, const char* const* argv) {
  InitLdapLibrary();
  InitMessageLibrary();
  MboxCommand c;
  try {
    c = ParseMboxCommand(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "ldapmbox: " << e.what() << "\nTry \"ldapmbox "
              << CommandIn(argc, argv) << "--help\".\n";
    return kExitUsage;
  }
  if (c.version) {
    std::cout << "ldapmbox " LDAPMDA_VERSION "\n";
    return kExitOk;
  }
  if (c.help) {
    std::cout << MboxUsage(c.name);
    return kExitOk;
  }
  try {
    const Config config = LoadConfig(c.config_file, c.overrides);
    OpenLog(config.log);
    return Dispatch(c, config);
  } catch (const ConfigError& e) {
    std::cerr << "ldapmbox: configuration: " << e.what() << "\n";
    return kExitConfig;
  } catch (const CommandError& e) {
    if (*e.what() != '\0') std::cerr << "ldapmbox: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::bad_alloc&) {
    std::cerr << "ldapmbox: out of memory\n";
    return kExitTempFail;
  } catch (const std::exception& e) {
    std::cerr << "ldapmbox: " << e.what() << "\n";
    return kExitTempFail;
  }
}

}  // namespace ldapmda
