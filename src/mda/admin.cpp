// admin: ldapmda --check and --query (see admin.h).
#include "mda/admin.h"

#include <algorithm>
#include <ctime>
#include <memory>
#include <vector>

#include "ldapmda/deadline.h"
#include "ldapmda/delivery.h"
#include "ldapmda/directories.h"
#include "ldapmda/escape.h"
#include "ldapmda/layout.h"

namespace ldapmda {
namespace {

// One line per check: "  ok  what: detail", "FAIL  ...", "  --  ...".
class CheckReport {
 public:
  explicit CheckReport(std::ostream& out) : out_(out) {}
  void Ok(std::string_view what, std::string_view detail) {
    Line("  ok", what, detail);
  }
  void Fail(std::string_view what, std::string_view detail) {
    ++failures_;
    Line("FAIL", what, detail);
  }
  // Works, but not fully: said, and not counted as a failure.
  void Warn(std::string_view what, std::string_view detail) {
    Line("WARN", what, detail);
  }
  void Skip(std::string_view what, std::string_view detail) {
    Line("  --", what, detail);
  }
  int failures() const { return failures_; }

 private:
  void Line(std::string_view mark, std::string_view what,
            std::string_view detail) {
    out_ << mark << "  " << what << ": " << detail << "\n";
  }
  std::ostream& out_;
  int failures_ = 0;
};

// Every URI on its own: does it answer, take the bind, see the base?
void CheckServers(const Config& config, const std::string& password,
                  const Deadline& deadline, CheckReport& report) {
  std::vector<std::string> uris = config.server_host;
  for (const auto* more : {&config.store_host, &config.confirm_host}) {
    for (const auto& u : *more) {
      if (std::find(uris.begin(), uris.end(), u) == uris.end()) {
        uris.push_back(u);
      }
    }
  }
  for (const auto& uri : uris) {
    const auto one = OpenDirectory(config, {uri}, password, deadline);
    std::vector<Entry> entries;
    const DirResult r = one->Search(
        {config.search_base, Scope::kBase, "(objectClass=*)", {}, 1}, &entries);
    if (r.ok() || r.no_such_object()) {
      report.Ok("server " + uri, "answers and accepts the bind");
    } else {
      report.Fail("server " + uri, r.Describe());
    }
  }
}

void CheckBaseAndSchema(const Config& config, Directory& directory,
                        CheckReport& report) {
  std::vector<Entry> entries;
  DirResult r = directory.Search(
      {config.search_base, Scope::kBase, "(objectClass=*)", {}, 1}, &entries);
  if (r.ok()) {
    report.Ok("search_base", config.search_base + " exists");
  } else if (r.no_such_object()) {
    report.Fail("search_base", config.search_base + " does not exist");
  } else {
    report.Fail("search_base", r.Describe());
  }

  r = directory.Search({"cn=Subschema",
                        Scope::kBase,
                        "(objectClass=subschema)",
                        {"objectClasses"},
                        1},
                       &entries);
  if (!r.ok() || entries.empty()) {
    report.Fail("schema", "cannot read cn=Subschema: " + r.Describe());
    return;
  }
  const std::vector<std::string>& classes =
      entries.front().All("objectClasses");
  // The definition of the object class `name`, lower case; "" if none.
  const auto definition = [&](std::string_view name) {
    const std::string want = "name '" + AsciiLower(name) + "'";
    for (const std::string& c : classes) {
      std::string lower = AsciiLower(c);
      if (lower.find(want) != std::string::npos) return lower;
    }
    return std::string();
  };
  const auto loaded = [&](std::string_view name) {
    return !definition(name).empty();
  };
  std::string missing;
  for (const char* name : {"mdaMessage", "mdaMailbox"}) {
    if (!loaded(name)) {
      missing += std::string(missing.empty() ? "" : ", ") + name;
    }
  }
  if (!missing.empty()) {
    report.Fail("schema", "not loaded: " + missing +
                              " (include ldapmda.schema or add ldapmda.ldif)");
  } else if (!loaded("mdaReport")) {
    // Mail is still stored, only without its report attributes.
    report.Warn("schema",
                "mdaMessage and mdaMailbox are loaded, mdaReport is not: "
                "bounces and complaints are stored without their report "
                "attributes (load the current ldapmda.schema)");
  } else if (definition("mdaReport").find("mdadsnreason") ==
             std::string::npos) {
    // Reports are stored, only without their reasons.
    report.Warn("schema",
                "mdaReport predates mdaDsnReason: bounces are stored without "
                "their reasons (load the current ldapmda.schema)");
  } else {
    report.Ok("schema", "mdaMessage, mdaMailbox and mdaReport are loaded");
  }
}

// Adds a probe message of `size` bytes below `mailbox_dn`, then deletes
// it. Returns what went wrong, or "" when both worked. With a
// `confirmer`, reports in between whether the replicas see the probe.
std::string Probe(Delivery& delivery, Directory& store,
                  const std::string& mailbox_dn, const std::string& address,
                  std::size_t size, ReplicaConfirmer* confirmer = nullptr,
                  CheckReport* report = nullptr) {
  std::string raw = "Subject: ldapmda --check probe\n\n";
  if (size > raw.size()) raw.resize(size, 'x');
  const MessageEntry entry(kProbeKey, raw, ParseMessage(raw), {"", "", "", ""},
                           address, kInbox, std::time(nullptr));
  bool created = false;
  std::string dn;
  Outcome o = delivery.Store(mailbox_dn, entry, &created, &dn);
  if (o.ok() && !created) {
    // A probe left behind by an interrupted check: replace it.
    store.Delete(dn);
    o = delivery.Store(mailbox_dn, entry, &created, &dn);
  }
  if (!o.ok()) return "add: " + o.text;
  if (confirmer != nullptr && report != nullptr) {
    const Outcome c = confirmer->Confirm(dn);
    if (c.ok()) {
      report->Ok("replication", "the probe was " + c.text);
    } else {
      report->Fail("replication", c.text);
    }
  }
  const DirResult r = store.Delete(dn);
  if (!r.ok()) {
    return "added " + dn + " but cannot delete it: " + r.Describe();
  }
  return "";
}

void CheckWrites(const Config& config, Directory& lookup, Directory& store,
                 ReplicaConfirmer* confirmer, const Deadline& deadline,
                 const std::string& address, CheckReport& report) {
  if (address.empty()) {
    report.Skip("write",
                "not checked: \"ldapmda --check ADDRESS\" adds and "
                "deletes a probe message below ADDRESS's mailbox");
    return;
  }
  Delivery delivery(config, lookup, store, deadline);
  const std::optional<Address> parsed = ParseAddress(address);
  if (!parsed) {
    report.Fail("probe address", address + ": invalid address");
    return;
  }
  Resolution where;
  const Outcome o = delivery.resolver().Resolve(*parsed, "", &where);
  if (!o.ok()) {
    report.Fail("probe address", address + ": " + o.dsn.str() + " " + o.text);
    return;
  }
  const std::string& mailbox = where.mailbox_dn;
  std::string problem =
      Probe(delivery, store, mailbox, address, 100, confirmer, &report);
  if (problem.empty()) {
    report.Ok("write", "added and deleted a probe message below " + mailbox);
  } else {
    report.Fail("write", problem);
    return;
  }
  problem = Probe(delivery, store, mailbox, address, config.max_message_size);
  if (problem.empty()) {
    report.Ok("size", "the directory takes a message of max_message_size (" +
                          std::to_string(config.max_message_size) + " bytes)");
  } else {
    report.Fail("size", "a message of max_message_size (" +
                            std::to_string(config.max_message_size) +
                            " bytes) is refused: " + problem +
                            "; raise slapd's maxentrysize, "
                            "sockbuf_max_incoming_auth and maxsize, or lower "
                            "max_message_size");
  }
}

}  // namespace

bool CheckSetup(const Config& config, const std::string& address,
                std::ostream& out) {
  CheckReport report(out);
  report.Ok(
      "configuration",
      "read, " + std::to_string(config.server_host.size()) + " server(s)");
  std::string password;
  try {
    password = BindPassword(config);
  } catch (const ConfigError& e) {
    report.Fail("bind_pw_file", e.what());
    return false;
  }
  // Generous: the per-operation timeout still bounds each call.
  const Deadline deadline(std::chrono::minutes(10));
  CheckServers(config, password, deadline, report);
  Directories directories(config, deadline);
  CheckBaseAndSchema(config, directories.lookup(), report);
  CheckWrites(config, directories.lookup(), directories.store(),
              directories.confirmer(), deadline, address, report);
  out << (report.failures() == 0
              ? "all checks passed\n"
              : std::to_string(report.failures()) + " check(s) failed\n");
  return report.failures() == 0;
}

int QueryAddress(const Config& config, const std::string& address,
                 const std::string& extension, std::ostream& out) {
  const Deadline deadline(config.deadline);
  Directories directories(config, deadline);
  Directory& writes = directories.store();
  Delivery delivery(config, directories.lookup(), writes, deadline);
  const auto verdict = [&](const Outcome& o) {
    const char* what = o.ok() ? "would deliver"
                       : o.disposition() == Disposition::kBounce
                           ? "would bounce"
                           : "would defer";
    out << "verdict   " << o.dsn.str() << " " << what
        << (o.ok() ? "" : ": " + o.text) << "\n";
    return ExitCodeFor(o);
  };

  out << "address   " << address << "\n";
  const std::optional<Address> parsed = ParseAddress(address);
  if (!parsed) return verdict({kDsnBadAddress, "invalid recipient address"});
  Resolution where;
  const Outcome found = delivery.resolver().Resolve(*parsed, extension, &where);
  if (!found.ok()) return verdict(found);
  const std::string& mailbox = where.mailbox_dn;
  out << "entry     " << where.entry.dn << " (matched " << where.lookup.text
      << ")\n";
  std::vector<Entry> box;
  const DirResult r =
      writes.Search({mailbox, Scope::kBase, "(objectClass=*)", {}, 1}, &box);
  out << "mailbox   " << mailbox
      << (r.ok() ? "" : " (created on the first delivery)") << "\n";
  out << "folder    " << where.folder << "\n";
  if (!config.account_status_attribute.empty()) {
    const std::string& status =
        where.entry.First(config.account_status_attribute);
    out << "status    " << config.account_status_attribute << ": "
        << (status.empty() ? "(absent)" : status) << "\n";
  }
  if (config.tracks_usage()) {
    const std::string& quota = where.entry.First(config.quota_attribute);
    Usage usage;
    ReadUsage(writes, mailbox, deadline, &usage);
    out << "quota     " << (quota.empty() ? "unlimited" : quota + " bytes")
        << ", using " << usage.bytes << " bytes in " << usage.messages
        << " messages\n";
  }
  return verdict(delivery.CheckPolicy(where.entry, mailbox, 0));
}

}  // namespace ldapmda
