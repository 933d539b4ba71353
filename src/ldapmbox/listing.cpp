// listing: sorting and formatting for ldapmbox (see listing.h).
#include "ldapmbox/listing.h"

#include <algorithm>
#include <cstdio>
#include <tuple>

#include "ldapmda/escape.h"

namespace ldapmda {
namespace {

bool Digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return c >= '0' && c <= '9'; });
}

bool IsGeneralizedTime(std::string_view t) {
  return t.size() == 15 && t.back() == 'Z' && Digits(t.substr(0, 14));
}

// The length of the valid UTF-8 sequence at `s[i]`, or 0.
std::size_t Utf8Length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) {
    return static_cast<unsigned char>(s[k]);
  };
  const unsigned char c = b(i);
  std::size_t n = 0;
  unsigned min = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  unsigned cp = c & (0x7Fu >> n);
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

std::string JsonDate(std::string_view t) {
  const std::string iso = IsoDate(t);
  return iso.empty() ? "null" : JsonString(iso);
}

std::string Counts(const Tally& t) {
  return std::to_string(t.messages) + " messages, " + std::to_string(t.bytes) +
         " bytes";
}

std::string CountsJson(const Tally& t) {
  return "{\"messages\": " + std::to_string(t.messages) +
         ", \"bytes\": " + std::to_string(t.bytes) + "}";
}

}  // namespace

std::optional<SortKey> ParseSortKey(std::string_view name) {
  if (name == "date") return SortKey::kDate;
  if (name == "delivered") return SortKey::kDelivered;
  if (name == "size") return SortKey::kSize;
  if (name == "from") return SortKey::kFrom;
  if (name == "subject") return SortKey::kSubject;
  return std::nullopt;
}

void SortMessages(std::vector<StoredMessage>* messages, SortKey key,
                  bool reverse) {
  const auto text = [key](const StoredMessage& m) {
    switch (key) {
      case SortKey::kFrom:
        return AsciiLower(m.from);
      case SortKey::kSubject:
        return AsciiLower(m.subject);
      case SortKey::kDelivered:
        return m.delivered;
      default:
        return std::string();
    }
  };
  const auto less = [&](const StoredMessage& a, const StoredMessage& b) {
    const long long sa = key == SortKey::kSize ? a.size : 0;
    const long long sb = key == SortKey::kSize ? b.size : 0;
    return std::forward_as_tuple(sa, text(a), a.ShownDate(), a.key) <
           std::forward_as_tuple(sb, text(b), b.ShownDate(), b.key);
  };
  std::stable_sort(messages->begin(), messages->end(), less);
  if (reverse) std::reverse(messages->begin(), messages->end());
}

std::string ShortDate(std::string_view t) {
  if (!IsGeneralizedTime(t)) return "-";
  return std::string(t.substr(0, 4)) + "-" + std::string(t.substr(4, 2)) + "-" +
         std::string(t.substr(6, 2)) + " " + std::string(t.substr(8, 2)) + ":" +
         std::string(t.substr(10, 2));
}

std::string IsoDate(std::string_view t) {
  if (!IsGeneralizedTime(t)) return "";
  return ShortDate(t).replace(10, 1, "T") + ":" + std::string(t.substr(12, 2)) +
         "Z";
}

std::optional<std::time_t> ParseDay(std::string_view day) {
  if (day.size() != 10 || day[4] != '-' || day[7] != '-' ||
      !Digits(day.substr(0, 4)) || !Digits(day.substr(5, 2)) ||
      !Digits(day.substr(8, 2))) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = std::stoi(std::string(day.substr(0, 4))) - 1900;
  tm.tm_mon = std::stoi(std::string(day.substr(5, 2))) - 1;
  tm.tm_mday = std::stoi(std::string(day.substr(8, 2)));
  const std::tm asked = tm;
  const std::time_t t = timegm(&tm);
  // timegm normalises 2026-02-30 to March: only real days come back equal.
  if (tm.tm_year != asked.tm_year || tm.tm_mon != asked.tm_mon ||
      tm.tm_mday != asked.tm_mday) {
    return std::nullopt;
  }
  return t;
}

std::string ListLine(const StoredMessage& m) {
  return ShortDate(m.ShownDate()) + "\t" + m.from + "\t" + m.subject + "\t" +
         std::to_string(m.size) + "\t" + m.folder + "\t" + m.key + "\n";
}

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const std::size_t n = Utf8Length(text, i);
      out += n == 0 ? std::string("\\ufffd") : std::string(text.substr(i, n));
      i += n == 0 ? 1 : n;
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string ListJson(const std::vector<StoredMessage>& messages) {
  std::string out = "[";
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const StoredMessage& m = messages[i];
    out += i == 0 ? "\n  {" : ",\n  {";
    out += "\"date\": " + JsonDate(m.ShownDate());
    out += ", \"delivered\": " + JsonDate(m.delivered);
    out += ", \"from\": " + JsonString(m.from);
    out += ", \"subject\": " + JsonString(m.subject);
    out += ", \"size\": " + std::to_string(m.size);
    out += ", \"folder\": " + JsonString(m.folder);
    out += ", \"key\": " + JsonString(m.key);
    out += ", \"dn\": " + JsonString(m.dn);
    out += ", \"messageId\": " + JsonString(m.message_id);
    out += ", \"envelopeSender\": " + JsonString(m.envelope_sender) + "}";
  }
  return out + (messages.empty() ? "]\n" : "\n]\n");
}

Totals Count(const std::vector<StoredMessage>& messages) {
  Totals totals;
  for (const auto& m : messages) {
    for (Tally* t : {&totals.all, &totals.folders[m.folder]}) {
      ++t->messages;
      t->bytes += m.size;
    }
  }
  return totals;
}

std::string TotalsText(const Totals& totals) {
  std::string out = "all: " + Counts(totals.all) + "\n";
  for (const auto& [name, t] : totals.folders) {
    out += "folder " + name + ": " + Counts(t) + "\n";
  }
  return out;
}

std::string TotalsJson(const Totals& totals) {
  std::string out = CountsJson(totals.all);
  out.pop_back();  // the closing brace: the folders go inside
  out += ", \"folders\": {";
  bool first = true;
  for (const auto& [name, t] : totals.folders) {
    out += (first ? "" : ", ") + JsonString(name) + ": " + CountsJson(t);
    first = false;
  }
  return out + "}}\n";
}

namespace {

std::string CsvField(const std::string& v) {
  if (v.find_first_of(",\"\r\n") == std::string::npos &&
      (v.empty() || (v.front() != ' ' && v.back() != ' '))) {
    return v;
  }
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// Display width: UTF-8 code points (every stored value is valid UTF-8).
std::size_t Width(std::string_view v) {
  std::size_t n = 0;
  for (char c : v) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::string RenderTable(const Rows& rows) {
  std::vector<std::size_t> widths;
  for (const auto& c : rows.columns) widths.push_back(Width(c));
  const auto shown = [](const std::string& v) { return v.empty() ? "-" : v; };
  for (const auto& row : rows.cells) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], Width(shown(row[i])));
    }
  }
  const auto line = [&](const std::vector<std::string>& cells, bool header) {
    std::string out;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string v = header ? cells[i] : shown(cells[i]);
      out += v;
      if (i + 1 < cells.size())
        out += std::string(widths[i] - Width(v) + 2, ' ');
    }
    return out + "\n";
  };
  std::string out = line(rows.columns, true);
  for (const auto& row : rows.cells) out += line(row, false);
  return out;
}

std::string Joined(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : " ") + v;
  return out;
}

}  // namespace

std::string RenderRows(const Rows& rows, RowFormat format) {
  if (format == RowFormat::kTable) return RenderTable(rows);
  std::string out;
  if (format == RowFormat::kCsv) {
    const auto line = [](const std::vector<std::string>& cells) {
      std::string l;
      for (std::size_t i = 0; i < cells.size(); ++i) {
        l += (i ? "," : "") + CsvField(cells[i]);
      }
      return l + "\r\n";
    };
    out = line(rows.columns);
    for (const auto& row : rows.cells) out += line(row);
    return out;
  }
  out = "[";
  for (std::size_t r = 0; r < rows.cells.size(); ++r) {
    out += r ? ",\n {" : "\n {";
    for (std::size_t i = 0; i < rows.columns.size(); ++i) {
      const std::string& v = i < rows.cells[r].size() ? rows.cells[r][i] : "";
      out += (i ? ", " : "") + JsonString(rows.columns[i]) + ": " +
             (v.empty() ? std::string("null") : JsonString(v));
    }
    out += "}";
  }
  return out + (rows.cells.empty() ? "]\n" : "\n]\n");
}

std::optional<DsnResult> ParseDsnResult(std::string_view value) {
  const std::size_t a = value.find(';');
  if (a == std::string_view::npos) return std::nullopt;
  const std::size_t b = value.find(';', a + 1);
  if (b == std::string_view::npos || b + 1 >= value.size()) return std::nullopt;
  return DsnResult{std::string(value.substr(0, a)),
                   std::string(value.substr(a + 1, b - a - 1)),
                   std::string(value.substr(b + 1))};
}

std::optional<DsnReason> ParseDsnReason(std::string_view value) {
  // The same three-part form as mdaDsnResult.
  auto parts = ParseDsnResult(value);
  if (!parts) return std::nullopt;
  return DsnReason{std::move(parts->action), std::move(parts->status),
                   std::move(parts->recipient)};
}

std::map<std::string, DsnReason> ReasonsByRecipient(const StoredReport& r) {
  std::map<std::string, DsnReason> out;
  for (const auto& v : r.reasons) {
    if (auto parsed = ParseDsnReason(v)) {
      out.emplace(AsciiLower(parsed->recipient), std::move(*parsed));
    }
  }
  return out;
}

Rows BounceRows(const std::vector<StoredReport>& reports) {
  Rows rows;
  rows.columns = {"delivered",  "action",       "status",    "recipient",
                  "diagnostic", "reportingMta", "messageId", "key",
                  "reason",     "type"};
  for (const StoredReport& r : reports) {
    std::vector<DsnResult> results;
    for (const auto& v : r.results) {
      if (auto parsed = ParseDsnResult(v)) results.push_back(*parsed);
    }
    const std::string only = results.size() == 1 && r.diagnostics.size() == 1
                                 ? r.diagnostics[0]
                                 : "";
    const std::map<std::string, DsnReason> reasons = ReasonsByRecipient(r);
    for (const DsnResult& d : results) {
      const std::string lower = AsciiLower(d.recipient);
      const auto it = r.recipient_diagnostics.find(lower);
      const auto why = reasons.find(lower);
      const bool known = why != reasons.end();
      rows.cells.push_back(
          {IsoDate(r.delivered), d.action, d.status, d.recipient,
           it != r.recipient_diagnostics.end() ? it->second : only,
           r.reporting_mta, r.reported_message_id, r.key,
           known ? why->second.reason : "", known ? why->second.type : ""});
    }
  }
  std::sort(rows.cells.begin(), rows.cells.end(),
            [](const auto& a, const auto& b) {
              return std::tie(a[0], a[7], a[3]) < std::tie(b[0], b[7], b[3]);
            });
  return rows;
}

Rows ComplaintRows(const std::vector<StoredReport>& reports) {
  Rows rows;
  rows.columns = {"delivered",      "type",     "recipients", "sourceIp",
                  "reportedDomain", "mailFrom", "arrival",    "userAgent",
                  "messageId",      "key"};
  for (const StoredReport& r : reports) {
    rows.cells.push_back(
        {IsoDate(r.delivered), r.feedback_type, Joined(r.original_rcpt_to),
         Joined(r.source_ip), Joined(r.reported_domain), r.original_mail_from,
         IsoDate(r.arrival_date), r.user_agent, r.reported_message_id, r.key});
  }
  std::sort(rows.cells.begin(), rows.cells.end(),
            [](const auto& a, const auto& b) {
              return std::tie(a[0], a[9]) < std::tie(b[0], b[9]);
            });
  return rows;
}

}  // namespace ldapmda
