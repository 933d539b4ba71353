// suppressions: who to stop mailing (see suppressions.h).
#include "ldapmbox/suppressions.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <tuple>

#include "ldapmda/escape.h"

namespace ldapmda {

bool IsComplaint(std::string_view feedback_type) {
  const std::string type = AsciiLower(feedback_type);
  return type != "not-spam" && type != "auth-failure";
}

namespace {

// One bounce or complaint about an address.
struct Event {
  std::string when;   // generalizedTime of the report's delivery
  std::string key;    // of the report, to order events of the same second
  std::string cause;  // hard, soft or complaint
  std::string reason;
  std::string status;
};

// A generalizedTime as seconds since the epoch; nullopt when malformed.
std::optional<std::time_t> TimeOf(std::string_view t) {
  if (IsoDate(t).empty()) return std::nullopt;  // malformed
  std::tm tm{};
  const auto num = [&](std::size_t at, std::size_t n) {
    return std::stoi(std::string(t.substr(at, n)));
  };
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(4, 2) - 1;
  tm.tm_mday = num(6, 2);
  tm.tm_hour = num(8, 2);
  tm.tm_min = num(10, 2);
  tm.tm_sec = num(12, 2);
  return timegm(&tm);
}

// Whether the soft bounces among `events` are two or more, `soft_days`
// days or more apart.
bool RepeatedSoft(const std::vector<Event>& events, int soft_days) {
  std::optional<std::time_t> first, last;
  std::size_t n = 0;
  for (const Event& e : events) {
    if (e.cause != "soft") continue;
    ++n;
    const auto t = TimeOf(e.when);
    if (!t) continue;
    if (!first || *t < *first) first = t;
    if (!last || *t > *last) last = t;
  }
  if (n < 2) return false;
  if (soft_days <= 0) return true;
  return first && last &&
         *last - *first >= static_cast<std::time_t>(soft_days) * 86400;
}

}  // namespace

Rows SuppressionRows(const std::vector<StoredReport>& bounces,
                     const std::vector<StoredReport>& complaints,
                     int soft_days) {
  std::map<std::string, std::vector<Event>> by_address;  // lower case
  const auto add = [&](const std::string& address, Event event) {
    if (!address.empty()) {
      by_address[AsciiLower(address)].push_back(std::move(event));
    }
  };
  for (const StoredReport& r : bounces) {
    const std::map<std::string, DsnReason> reasons = ReasonsByRecipient(r);
    for (const auto& v : r.results) {
      const auto d = ParseDsnResult(v);
      if (!d || d->action != "failed") continue;  // delays do not count
      const auto why = reasons.find(AsciiLower(d->recipient));
      Event e{r.delivered, r.key, "soft", "", d->status};
      if (why != reasons.end()) {
        e.cause = why->second.type == "hard" ? "hard" : "soft";
        e.reason = why->second.reason;
      }
      add(d->recipient, std::move(e));
    }
  }
  for (const StoredReport& r : complaints) {
    if (!IsComplaint(r.feedback_type)) continue;
    const std::vector<std::string>& who =
        r.original_rcpt_to.empty() ? r.original_to : r.original_rcpt_to;
    for (const auto& address : who) {
      add(address, Event{r.delivered, r.key, "complaint", "feedback", ""});
    }
  }
  Rows rows;
  rows.columns = {"address", "cause", "reason", "status",
                  "count",   "first", "last"};
  for (auto& [address, events] : by_address) {
    std::sort(events.begin(), events.end(), [](const Event& x, const Event& y) {
      return std::tie(x.when, x.key) < std::tie(y.when, y.key);
    });
    const auto has = [&](std::string_view cause) {
      return std::any_of(events.begin(), events.end(),
                         [&](const Event& e) { return e.cause == cause; });
    };
    std::string cause;
    if (has("complaint")) {
      cause = "complaint";
    } else if (has("hard")) {
      cause = "hard";
    } else if (RepeatedSoft(events, soft_days)) {
      cause = "soft";
    } else {
      continue;
    }
    const Event& last = events.back();
    rows.cells.push_back({address, cause, last.reason, last.status,
                          std::to_string(events.size()),
                          IsoDate(events.front().when), IsoDate(last.when)});
  }
  return rows;
}

}  // namespace ldapmda
