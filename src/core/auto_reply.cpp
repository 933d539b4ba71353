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

// Headers only automatic replies carry (vacation(1) and its heirs,
// webmail and hosting control panels).
constexpr std::string_view kReplyHeaders[] = {
    "x-autoreply",      "x-autorespond",    "x-autoresponder",
    "x-autoreply-from", "x-mail-autoreply", "x-vacation",
};

// What automatic replies' subjects start with, in the languages of the
// mail clients and servers that send them (ASCII case ignored). Only
// words a person would not start a subject with ("Out of the office
// party" is no reply).
constexpr std::string_view kReplySubjects[] = {
    "Auto:",
    "Auto Response",
    "Auto-Response",
    "Autoresponse",
    "Auto Reply",
    "Auto-Reply",
    "Autoreply",
    "Automatic reply",
    "Automatic response",
    "Out of Office",
    "Out of the office:",
    "Abwesenheitsnotiz",
    "Automatische Antwort",
    "R\xc3\xa9ponse automatique",   // Réponse automatique
    "Respuesta autom\xc3\xa1tica",  // Respuesta automática
    "Respuesta automatica",
    "Risposta automatica",
    "Automatisch antwoord",
    "Resposta autom\xc3\xa1tica",  // Resposta automática
    "Automatiskt svar",
    "Automatisk svar",
    "Autosvar",
    "Automaattinen vastaus",
    "Automatyczna odpowied\xc5\xba",             // Automatyczna odpowiedź
    "Automatick\xc3\xa1 odpov\xc4\x9b\xc4\x8f",  // Automatická odpověď
    "Automatikus v\xc3\xa1lasz",                 // Automatikus válasz
    "Otomatik yan\xc4\xb1t",                     // Otomatik yanıt
    "\xd0\x90\xd0\xb2\xd1\x82\xd0\xbe\xd0\xbe\xd1\x82\xd0\xb2\xd0\xb5\xd1"
    "\x82",  // Автоответ
    "\xd0\x90\xd0\xb2\xd1\x82\xd0\xbe\xd0\xbc\xd0\xb0\xd1\x82\xd0\xb8\xd1"
    "\x87"
    "\xd0\xb5\xd1\x81\xd0\xba\xd0\xb8\xd0\xb9 "
    "\xd0\xbe\xd1\x82\xd0\xb2\xd0\xb5"
    "\xd1\x82",  // Автоматический ответ
    "\xe8\x87\xaa\xe5\x8b\x95\xe5\xbf\x9c\xe7\xad\x94",  // 自動応答
    "\xe8\x87\xaa\xe5\x8b\x95\xe8\xbf\x94\xe4\xbf\xa1",  // 自動返信
    "\xe8\x87\xaa\xe5\x8a\xa8\xe5\x9b\x9e\xe5\xa4\x8d",  // 自动回复
    "\xe8\x87\xaa\xe5\x8b\x95\xe5\x9b\x9e\xe8\xa6\x86",  // 自動回覆
};

bool IsReplySubject(std::string_view subject) {
  subject = Trim(subject);
  return std::any_of(std::begin(kReplySubjects), std::end(kReplySubjects),
                     [&](std::string_view prefix) {
                       return StartsWithNoCase(subject, prefix);
                     });
}

// Exchange and Outlook ask for no automatic answer to their own
// automatic messages ("X-Auto-Response-Suppress: DR, OOF, AutoReply").
bool SuppressesReplies(const Fields& headers) {
  const std::string value = Lower(Get(headers, "x-auto-response-suppress"));
  return value.find("oof") != std::string::npos ||
         value.find("autoreply") != std::string::npos;
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
  const bool header =
      std::any_of(std::begin(kReplyHeaders), std::end(kReplyHeaders),
                  [&](std::string_view h) { return Find(headers, h); });
  const bool marked =
      header || FirstTokenLower(Get(headers, "precedence")) == "auto_reply" ||
      FirstTokenLower(Get(headers, "x-apple-action")) == "vacation" ||
      SuppressesReplies(headers) || IsReplySubject(DecodedSubject(headers));
  return marked ? "auto-replied" : "";
}

}  // namespace ldapmda
