// auto_reply: see auto_reply.h.
#include "core/auto_reply.h"

#include <glib.h>
#include <gmime/gmime.h>

#include <algorithm>
#include <memory>
#include <string_view>

namespace ldapmda {
namespace {

using report_syntax::Clean;
using report_syntax::Fields;
using report_syntax::Find;
using report_syntax::FirstTokenLower;
using report_syntax::Get;
using report_syntax::Lower;
using report_syntax::StartsWithNoCase;
using report_syntax::StripComments;
using report_syntax::Trim;

struct GFree {
  void operator()(gpointer p) const { g_free(p); }
};

bool IsVacationSubject(std::string_view subject) {
  for (std::string_view prefix : {"Auto:", "Automatic reply:", "Out of Office",
                                  "Autoreply", "Auto-Reply"}) {
    if (StartsWithNoCase(subject, prefix)) return true;
  }
  return false;
}

}  // namespace

std::string DecodedSubject(const Fields& headers) {
  const std::string* raw = Find(headers, "subject");
  if (raw == nullptr) return {};
  std::unique_ptr<char, GFree> text(
      g_mime_utils_header_decode_text(nullptr, raw->c_str()));
  return text ? Clean(text.get()) : std::string();
}

std::string AutoSubmitted(const Fields& headers) {
  if (const std::string* value = Find(headers, "auto-submitted")) {
    const std::string keyword = FirstTokenLower(StripComments(*value));
    return keyword == "no" ? std::string() : Clean(keyword);
  }
  const bool marked =
      Find(headers, "x-autoreply") != nullptr ||
      Find(headers, "x-autorespond") != nullptr ||
      FirstTokenLower(Get(headers, "precedence")) == "auto_reply" ||
      IsVacationSubject(DecodedSubject(headers));
  return marked ? "auto-replied" : "";
}

}  // namespace ldapmda
