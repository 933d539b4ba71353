// ldap_directory: Directory over libldap (see ldap_directory.h).
//
// libldap facts that shape this file (ARCHITECTURE.md §4a): the URI
// list of ldap_initialize only skips servers that refuse connections, so
// fail-over is done here, one URI at a time; a hung server accepts TCP and
// then times out, after which the handle is dead; without LDAP_OPT_TIMEOUT
// a synchronous call waits forever; referral chasing re-binds anonymously,
// so it is off and a referral means "wrong node".
#include "ldap/ldap_directory.h"

#include <ldap.h>
#include <sasl/sasl.h>
#include <sys/time.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>

#include "ldapmda/log.h"
#include "ldapmda/text.h"

namespace ldapmda {
namespace {

// SearchMany's searches unanswered at one time, well below slapd's
// conn_max_pending_auth (1000) and what socket buffers hold of answers.
constexpr std::size_t kMaxOutstanding = 64;
// Bytes read from the socket at once (see AddReadAhead).
constexpr int kReadAhead = 64 * 1024;

// RAII for libldap results and strings.
struct MessageFree {
  void operator()(LDAPMessage* m) const { ldap_msgfree(m); }
};
using MessagePtr = std::unique_ptr<LDAPMessage, MessageFree>;
struct MemFree {
  void operator()(void* p) const { ldap_memfree(p); }
};
using LdapString = std::unique_ptr<char, MemFree>;
struct BerFree {
  void operator()(BerElement* b) const { ber_free(b, 0); }
};
using BerPtr = std::unique_ptr<BerElement, BerFree>;

// Results after which this server is no use now but another may be.
bool IsFailover(int code) {
  return code == LDAP_SERVER_DOWN || code == LDAP_CONNECT_ERROR ||
         code == LDAP_TIMEOUT || code == LDAP_BUSY ||
         code == LDAP_UNAVAILABLE || code == LDAP_REFERRAL ||
         code == LDAP_UNWILLING_TO_PERFORM;
}

DirStatus StatusOf(int code) {
  switch (code) {
    case LDAP_SUCCESS:
      return DirStatus::kOk;
    case LDAP_SIZELIMIT_EXCEEDED:
      return DirStatus::kSizeLimit;
    case LDAP_NO_SUCH_OBJECT:
      return DirStatus::kNoSuchObject;
    case LDAP_ALREADY_EXISTS:
      return DirStatus::kAlreadyExists;
    case LDAP_UNDEFINED_TYPE:
    case LDAP_OBJECT_CLASS_VIOLATION:
    case LDAP_INVALID_SYNTAX:
      return DirStatus::kSchema;
    case LDAP_TYPE_OR_VALUE_EXISTS:
      return DirStatus::kValueExists;
    case LDAP_NO_SUCH_ATTRIBUTE:
      return DirStatus::kNoSuchValue;
    case LDAP_ADMINLIMIT_EXCEEDED:
      return DirStatus::kTooLarge;
    case LDAP_SERVER_DOWN:
    case LDAP_CONNECT_ERROR:
    case LDAP_TIMEOUT:
    case LDAP_TIMELIMIT_EXCEEDED:
    case LDAP_BUSY:
    case LDAP_UNAVAILABLE:
    case LDAP_OTHER:
    case LDAP_REFERRAL:
    case LDAP_UNWILLING_TO_PERFORM:
    case LDAP_LOOP_DETECT:
      return DirStatus::kUnavailable;
    case LDAP_INVALID_CREDENTIALS:
    case LDAP_INAPPROPRIATE_AUTH:
    case LDAP_INSUFFICIENT_ACCESS:
    case LDAP_AUTH_METHOD_NOT_SUPPORTED:
    case LDAP_STRONG_AUTH_REQUIRED:
    case LDAP_CONFIDENTIALITY_REQUIRED:
    case LDAP_AUTH_UNKNOWN:
    case LDAP_INAPPROPRIATE_MATCHING:
    case LDAP_INVALID_DN_SYNTAX:
    case LDAP_NAMING_VIOLATION:
    case LDAP_FILTER_ERROR:
    case LDAP_PARAM_ERROR:
    case LDAP_NOT_SUPPORTED:
    case LDAP_LOCAL_ERROR:
      return DirStatus::kSetup;
    case LDAP_NO_MEMORY:
      return DirStatus::kNoMemory;
    default:
      return DirStatus::kOther;
  }
}

int ModOp(Modification::Op op) {
  switch (op) {
    case Modification::Op::kIncrement:
      return LDAP_MOD_INCREMENT;
    case Modification::Op::kAdd:
      return LDAP_MOD_ADD;
    case Modification::Op::kDelete:
      return LDAP_MOD_DELETE;
    case Modification::Op::kReplace:
      break;
  }
  return LDAP_MOD_REPLACE;
}

// The first RDN of `dn` as a string, for a rename that keeps it; "" when
// `dn` does not parse.
std::string FirstRdn(const std::string& dn) {
  LDAPDN parsed = nullptr;
  if (ldap_str2dn(dn.c_str(), &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS ||
      parsed == nullptr || parsed[0] == nullptr) {
    if (parsed) ldap_dnfree(parsed);
    return "";
  }
  char* text = nullptr;
  std::string rdn;
  if (ldap_rdn2str(parsed[0], &text, LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS) {
    rdn = text;
    ldap_memfree(text);
  }
  ldap_dnfree(parsed);
  return rdn;
}

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

int ScopeCode(Scope scope) {
  switch (scope) {
    case Scope::kBase:
      return LDAP_SCOPE_BASE;
    case Scope::kOne:
      return LDAP_SCOPE_ONELEVEL;
    case Scope::kSub:
      break;
  }
  return LDAP_SCOPE_SUBTREE;
}

int TlsRequireCode(TlsRequireCert value) {
  switch (value) {
    case TlsRequireCert::kNever:
      return LDAP_OPT_X_TLS_NEVER;
    case TlsRequireCert::kAllow:
      return LDAP_OPT_X_TLS_ALLOW;
    case TlsRequireCert::kTry:
      return LDAP_OPT_X_TLS_TRY;
    case TlsRequireCert::kDemand:
      break;
  }
  return LDAP_OPT_X_TLS_DEMAND;
}

// SASL EXTERNAL needs no answers: take the defaults.
int SaslInteract(LDAP*, unsigned, void*, void* interactions) {
  for (auto* i = static_cast<sasl_interact_t*>(interactions);
       i->id != SASL_CB_LIST_END; ++i) {
    const char* value = i->defresult ? i->defresult : "";
    i->result = value;
    i->len = static_cast<unsigned>(std::strlen(value));
  }
  return LDAP_SUCCESS;
}

void LberToLog(const char* text) {
  Log(LogLevel::kWarning, std::string("libldap: ") + (text ? text : ""));
}

}  // namespace

DirResult LdapResult(int code, std::string message) {
  DirResult r;
  r.status = StatusOf(code);
  r.code = code;
  r.name = ldap_err2string(code);
  r.message = std::move(message);
  return r;
}

void InitLdapLibrary() {
  // A too-large add can make slapd close the socket mid-write: without
  // this the process would die of SIGPIPE instead of reporting a status.
  std::signal(SIGPIPE, SIG_IGN);
  // Nothing here may initialise libldap itself (ldap_set_option on the
  // global handle would): LdapDirectory first decides about SASL plugins.
  ber_set_option(nullptr, LBER_OPT_LOG_PRINT_FN,
                 reinterpret_cast<const void*>(&LberToLog));
}

void SkipUnusedSaslPlugins(const Config& config) {
  // libldap initialises Cyrus SASL on first use, whatever the bind, and
  // sasl_client_init() dlopens every plugin: about half the instructions
  // of a pipe-mode delivery. A simple bind needs none, and EXTERNAL is
  // built into libsasl2; then point the plugin path at nothing.
  const bool needs_plugins = config.bind == BindMethod::kSasl &&
                             AsciiLower(config.sasl_mech) != "external";
  if (!needs_plugins) setenv("SASL_PATH", "/nonexistent/ldapmda", 1);
}

class LdapDirectory::Impl {
 public:
  Impl(const Config& config, std::vector<std::string> uris,
       std::string password, const Deadline& deadline)
      : config_(config),
        uris_(std::move(uris)),
        password_(std::move(password)),
        deadline_(deadline) {}
  ~Impl() { Drop(); }

  // Runs `op` on a bound connection. A connection kept from an earlier
  // call is tried first; when it or its server is in trouble (down, hung,
  // stale after a restart, a read-only node) it is dropped and the URIs
  // are tried again in order, each on a fresh connection, so a long LMTP
  // session returns to the first server once it is back.
  template <typename Op>
  DirResult WithFailover(Op op) {
    DirResult last = LdapResult(LDAP_SERVER_DOWN, "no server tried");
    // A node that is the wrong one (read-only) or hung is not asked again
    // in this call; one that merely dropped the connection (a restart, an
    // idle timeout) gets a fresh one.
    std::string skip;
    if (ld_) {
      if (!ArmTimeout()) return LdapResult(LDAP_TIMEOUT, "deadline reached");
      last = op(ld_);
      if (!IsFailover(last.code)) return last;
      Log(LogLevel::kWarning, current_uri_ + ": " + last.Describe());
      if (last.code == LDAP_REFERRAL ||
          last.code == LDAP_UNWILLING_TO_PERFORM || last.code == LDAP_TIMEOUT) {
        skip = current_uri_;
      }
      Drop();
    }
    for (std::size_t i = 0; i < uris_.size(); ++i) {
      if (uris_[i] == skip) continue;
      last = Connect(i);
      if (!last.ok()) {
        Log(LogLevel::kWarning, uris_[i] + ": " + last.Describe());
        Drop();
        if (IsFailover(last.code)) continue;
        return last;
      }
      if (!ArmTimeout()) return LdapResult(LDAP_TIMEOUT, "deadline reached");
      last = op(ld_);
      if (!IsFailover(last.code)) return last;
      // After -1 or -5 the handle is dead; after a referral it is the
      // wrong node. Either way: the next one.
      Log(LogLevel::kWarning, uris_[i] + ": " + last.Describe());
      Drop();
    }
    return last;
  }

 private:
  // The result of the last call on `ld_`, with the diagnostic text.
  DirResult Result(int code) const {
    DirResult r = LdapResult(code);
    char* text = nullptr;
    if (ld_ &&
        ldap_get_option(ld_, LDAP_OPT_DIAGNOSTIC_MESSAGE, &text) ==
            LDAP_OPT_SUCCESS &&
        text != nullptr) {
      r.message = text;
      ldap_memfree(text);
    }
    return r;
  }

  // Sets the per-call timeout: the per-operation timeout, capped by the
  // deadline. False when no time is left.
  bool ArmTimeout() {
    const auto left = deadline_.Cap(config_.timeout);
    if (left.count() <= 0) return false;
    const timeval tv = ToTimeval(left);
    ldap_set_option(ld_, LDAP_OPT_TIMEOUT, &tv);
    ldap_set_option(ld_, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    return true;
  }

  DirResult Connect(std::size_t index) {
    const std::string& uri = uris_[index];
    if (int rc = ldap_initialize(&ld_, uri.c_str()); rc != LDAP_SUCCESS) {
      ld_ = nullptr;
      return LdapResult(rc, "cannot initialise " + uri);
    }
    current_uri_ = uri;
    const int version = LDAP_VERSION3;
    ldap_set_option(ld_, LDAP_OPT_PROTOCOL_VERSION, &version);
    ldap_set_option(ld_, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    if (!ArmTimeout()) return LdapResult(LDAP_TIMEOUT, "deadline reached");
    // A TLS context (the CA file read, the priorities parsed) only for a
    // connection that will use one.
    const bool tls = uri.rfind("ldaps://", 0) == 0 ||
                     (config_.start_tls && uri.rfind("ldap://", 0) == 0);
    if (tls) {
      if (DirResult r = SetTls(); !r.ok()) return r;
    }
    if (int rc = ldap_connect(ld_); rc != LDAP_SUCCESS) {
      DirResult r = Result(rc);
      // ldaps://: a refused or unreachable server leaves no text; a failed
      // TLS handshake leaves the TLS library's.
      if (uri.rfind("ldaps://", 0) == 0 && rc == LDAP_SERVER_DOWN &&
          !r.message.empty()) {
        return TlsFailure("TLS", std::move(r));
      }
      return r;
    }
    AddReadAhead();
    if (config_.start_tls && uri.rfind("ldap://", 0) == 0) {
      if (!ArmTimeout()) return LdapResult(LDAP_TIMEOUT, "deadline reached");
      if (int rc = ldap_start_tls_s(ld_, nullptr, nullptr);
          rc != LDAP_SUCCESS) {
        DirResult r = Result(rc);
        // -11: the handshake failed; a result from the server (protocol
        // error, unavailable...): it does not do StartTLS. Never a
        // fallback to a plain connection. Server down or timed out: as
        // for any other operation.
        if (rc == LDAP_CONNECT_ERROR)
          return TlsFailure("StartTLS", std::move(r));
        if (rc > 0) {
          r.message = "StartTLS refused by the server (is TLS set up on " +
                      uri + "?)" + (r.message.empty() ? "" : ": " + r.message);
          r.tls_failure = true;
          return r;
        }
        r.message = "StartTLS" + (r.message.empty() ? "" : ": " + r.message);
        return r;
      }
    }
    if (!ArmTimeout()) return LdapResult(LDAP_TIMEOUT, "deadline reached");
    return Bind();
  }

  // libldap reads each answer with two read()s (its header, then the
  // rest), each after a poll(): three system calls for every entry of a
  // search. A read-ahead layer (liblber's own, below TLS) takes whatever
  // the socket holds, many entries per read().
  void AddReadAhead() {
    Sockbuf* sb = nullptr;
    if (ldap_get_option(ld_, LDAP_OPT_SOCKBUF, &sb) != LDAP_OPT_SUCCESS ||
        sb == nullptr) {
      return;
    }
    int size = kReadAhead;
    ber_sockbuf_add_io(sb, &ber_sockbuf_io_readahead, LBER_SBIOD_LEVEL_PROVIDER,
                       &size);
  }

  // A failed TLS handshake with the current server. libldap reports a
  // certificate it does not accept (unknown CA, another host name,
  // expired) with only the TLS library's text, often "(unknown error
  // code)": say what to check. Still a failover: another node may present
  // a good certificate.
  DirResult TlsFailure(const std::string& what, DirResult r) const {
    r.message = what + " with " + current_uri_ +
                " failed: server certificate not accepted or TLS handshake "
                "failed (check tls_ca_cert_file, that server_host names a "
                "host in the certificate, tls_require_cert)" +
                (r.message.empty() ? "" : ": " + r.message);
    r.tls_failure = true;
    return r;
  }

  DirResult SetTls() {
    const int require = TlsRequireCode(config_.tls_require_cert);
    ldap_set_option(ld_, LDAP_OPT_X_TLS_REQUIRE_CERT, &require);
    if (!config_.tls_ca_cert_file.empty()) {
      ldap_set_option(ld_, LDAP_OPT_X_TLS_CACERTFILE,
                      config_.tls_ca_cert_file.c_str());
    }
    // Per-handle TLS options take effect only in a new context.
    const int is_server = 0;
    if (int rc = ldap_set_option(ld_, LDAP_OPT_X_TLS_NEWCTX, &is_server);
        rc != LDAP_OPT_SUCCESS) {
      return LdapResult(LDAP_LOCAL_ERROR,
                        "cannot set up TLS (tls_ca_cert_file?)");
    }
    return {};
  }

  DirResult Bind() {
    int rc = LDAP_SUCCESS;
    switch (config_.bind) {
      case BindMethod::kNone:
        return {};
      case BindMethod::kSimple: {
        berval cred{};
        cred.bv_val = password_.data();
        cred.bv_len = password_.size();
        rc = ldap_sasl_bind_s(ld_, config_.bind_dn.c_str(), LDAP_SASL_SIMPLE,
                              &cred, nullptr, nullptr, nullptr);
        break;
      }
      case BindMethod::kSasl:
        rc = ldap_sasl_interactive_bind_s(
            ld_, nullptr, config_.sasl_mech.c_str(), nullptr, nullptr,
            LDAP_SASL_QUIET, SaslInteract, nullptr);
        break;
    }
    DirResult r = Result(rc);
    if (!r.ok()) {
      r.message =
          "bind as " +
          (config_.bind == BindMethod::kSasl ? "SASL " + config_.sasl_mech
                                             : config_.bind_dn) +
          (r.message.empty() ? "" : ": " + r.message);
    }
    return r;
  }

  void Drop() {
    if (ld_) ldap_unbind_ext_s(ld_, nullptr, nullptr);
    ld_ = nullptr;
    // Searches sent ahead on it have no answer coming.
    sent_ahead_.clear();
  }

  // Sends `request` ahead as `ticket` if a connection is up; otherwise
  // Receive() will make the search.
  void SendAhead(std::uint64_t ticket, const SearchRequest& request) {
    if (!ld_ || request.page_size > 0 || !ArmTimeout()) return;
    int msgid = -1;
    if (SendSearch(ld_, request, Cookie(), &msgid).ok()) {
      sent_ahead_[ticket] = msgid;
    }
  }

  // The answer to `ticket` from the connection it went out on: false
  // when it did not go out or that connection has gone.
  bool ReceiveAhead(std::uint64_t ticket, std::vector<Entry>* entries,
                    DirResult* result) {
    const auto it = sent_ahead_.find(ticket);
    if (it == sent_ahead_.end()) return false;
    const int msgid = it->second;
    sent_ahead_.erase(it);
    if (!ArmTimeout()) {
      ldap_abandon_ext(ld_, msgid, nullptr, nullptr);
      *result = LdapResult(LDAP_TIMEOUT, "deadline reached");
    } else {
      *result = ReadSearch(ld_, msgid, entries, nullptr);
    }
    return true;
  }

  void ForgetAhead(std::uint64_t ticket) {
    const auto it = sent_ahead_.find(ticket);
    if (it == sent_ahead_.end()) return;
    ldap_abandon_ext(ld_, it->second, nullptr, nullptr);
    sent_ahead_.erase(it);
  }

  const std::string& current_uri() const { return current_uri_; }

  const Config& config_;
  const std::vector<std::string> uris_;
  std::string password_;
  const Deadline& deadline_;
  LDAP* ld_ = nullptr;
  std::string current_uri_;
  // Searches sent ahead on ld_: the message ID of each ticket.
  std::map<std::uint64_t, int> sent_ahead_;

  friend class LdapDirectory;
  // A paged-results cookie; empty before the first page and after the
  // last.
  struct Cookie {
    berval value{0, nullptr};
    Cookie() = default;
    Cookie(const Cookie&) = delete;
    Cookie& operator=(const Cookie&) = delete;
    ~Cookie() { ber_memfree(value.bv_val); }
    bool empty() const { return value.bv_len == 0; }
  };
  DirResult DoSearch(LDAP* ld, const SearchRequest& req,
                     std::vector<Entry>* entries);
  DirResult DoSearchMany(LDAP* ld, const std::vector<SearchRequest>& requests,
                         std::vector<std::vector<Entry>>* entries,
                         std::vector<DirResult>* results);
  // Sends one search (the page after `cookie` when paged) without waiting.
  DirResult SendSearch(LDAP* ld, const SearchRequest& req, const Cookie& cookie,
                       int* msgid);
  // Waits for the whole answer to search `msgid`, appends its entries to
  // `entries` and, when `cookie` is given, sets it to the next page's.
  DirResult ReadSearch(LDAP* ld, int msgid, std::vector<Entry>* entries,
                       Cookie* cookie);
  // The rest of a paged search whose first page was read.
  DirResult ReadRemainingPages(LDAP* ld, const SearchRequest& req,
                               Cookie* cookie, std::vector<Entry>* entries);
  DirResult DoAdd(LDAP* ld, const std::string& dn,
                  const std::vector<AttributeView>& attributes);
  // With `permissive`, the permissive-modify control: adding a value
  // that is there or deleting one that is not is no error.
  DirResult DoModify(LDAP* ld, const std::string& dn,
                     const std::vector<Modification>& changes, bool permissive);
  static void CollectEntries(LDAP* ld, LDAPMessage* res,
                             std::vector<Entry>* entries);
};

DirResult LdapDirectory::Impl::SendSearch(LDAP* ld, const SearchRequest& req,
                                          const Cookie& cookie, int* msgid) {
  // "1.1" asks for no attributes at all (RFC 4511 4.5.1.8). libldap
  // encodes the request before it returns: nothing here must outlive it.
  std::vector<char*> attrs;
  std::string no_attrs = "1.1";
  for (const auto& a : req.attributes) {
    attrs.push_back(const_cast<char*>(a.c_str()));
  }
  if (attrs.empty()) attrs.push_back(no_attrs.data());
  attrs.push_back(nullptr);
  LDAPControl* page = nullptr;
  if (req.page_size > 0) {
    berval value = cookie.value;
    const int rc =
        ldap_create_page_control(ld, req.page_size, &value, 0, &page);
    if (rc != LDAP_SUCCESS) return Result(rc);
  }
  std::unique_ptr<LDAPControl, void (*)(LDAPControl*)> page_guard(
      page, [](LDAPControl* c) {
        if (c) ldap_control_free(c);
      });
  LDAPControl* server_controls[] = {page, nullptr};
  timeval tv = ToTimeval(deadline_.Cap(config_.timeout));
  return Result(ldap_search_ext(ld, req.base.c_str(), ScopeCode(req.scope),
                                req.filter.c_str(), attrs.data(), 0,
                                page ? server_controls : nullptr, nullptr, &tv,
                                req.size_limit, msgid));
}

DirResult LdapDirectory::Impl::ReadSearch(LDAP* ld, int msgid,
                                          std::vector<Entry>* entries,
                                          Cookie* cookie) {
  timeval tv = ToTimeval(deadline_.Cap(config_.timeout));
  LDAPMessage* raw = nullptr;
  const int got = ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, &raw);
  MessagePtr res(raw);
  if (got == 0) {
    ldap_abandon_ext(ld, msgid, nullptr, nullptr);
    return LdapResult(LDAP_TIMEOUT, "no answer in time");
  }
  if (got < 0) {
    int code = LDAP_SERVER_DOWN;
    ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &code);
    return Result(code);
  }
  CollectEntries(ld, res.get(), entries);
  int code = LDAP_OTHER;
  char* text = nullptr;
  LDAPControl** controls = nullptr;
  const int rc = ldap_parse_result(ld, res.get(), &code, nullptr, &text,
                                   nullptr, cookie ? &controls : nullptr, 0);
  LdapString text_guard(text);
  std::unique_ptr<LDAPControl*, void (*)(LDAPControl**)> controls_guard(
      controls, [](LDAPControl** c) { ldap_controls_free(c); });
  if (rc != LDAP_SUCCESS) return Result(rc);
  DirResult r = LdapResult(code, text ? text : "");
  if (cookie == nullptr || code != LDAP_SUCCESS) return r;
  ber_memfree(cookie->value.bv_val);
  cookie->value = {0, nullptr};
  // A server that ignores paging returned everything at once.
  LDAPControl* response =
      ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, controls, nullptr);
  if (response == nullptr) return r;
  ber_int_t estimate = 0;
  if (int prc = ldap_parse_pageresponse_control(ld, response, &estimate,
                                                &cookie->value);
      prc != LDAP_SUCCESS) {
    return Result(prc);
  }
  return r;
}

DirResult LdapDirectory::Impl::ReadRemainingPages(LDAP* ld,
                                                  const SearchRequest& req,
                                                  Cookie* cookie,
                                                  std::vector<Entry>* entries) {
  while (!cookie->empty()) {
    if (!ArmTimeout()) return LdapResult(LDAP_TIMEOUT, "deadline reached");
    int msgid = -1;
    if (DirResult r = SendSearch(ld, req, *cookie, &msgid); !r.ok()) return r;
    if (DirResult r = ReadSearch(ld, msgid, entries, cookie); !r.ok()) {
      return r;
    }
  }
  return {};
}

DirResult LdapDirectory::Impl::DoSearch(LDAP* ld, const SearchRequest& req,
                                        std::vector<Entry>* entries) {
  entries->clear();
  Cookie cookie;
  int msgid = -1;
  if (DirResult r = SendSearch(ld, req, cookie, &msgid); !r.ok()) return r;
  DirResult r =
      ReadSearch(ld, msgid, entries, req.page_size > 0 ? &cookie : nullptr);
  if (!r.ok()) return r;
  return ReadRemainingPages(ld, req, &cookie, entries);
}

DirResult LdapDirectory::Impl::DoSearchMany(
    LDAP* ld, const std::vector<SearchRequest>& requests,
    std::vector<std::vector<Entry>>* entries, std::vector<DirResult>* results) {
  const std::size_t n = requests.size();
  entries->assign(n, {});
  results->assign(n, {});
  const Cookie none;
  std::vector<int> msgids;
  msgids.reserve(n);
  // Answers not waited for are abandoned; when the connection is dropped
  // anyway that costs nothing.
  auto fail = [&](std::size_t from, const DirResult& r) {
    for (std::size_t i = from; i < msgids.size(); ++i) {
      ldap_abandon_ext(ld, msgids[i], nullptr, nullptr);
    }
    results->assign(n, r);
    return r;
  };
  // slapd keeps one paged search per connection (a second one's first
  // page ends the first one's cookie): the first paged request goes out
  // with all the others, the other paged ones after it, each read to its
  // last page before the next starts.
  std::vector<std::size_t> together;
  std::vector<std::size_t> after;
  bool paged_together = false;
  for (std::size_t i = 0; i < n; ++i) {
    if (requests[i].page_size > 0) {
      if (paged_together) {
        after.push_back(i);
        continue;
      }
      paged_together = true;
    }
    together.push_back(i);
  }
  // At most kMaxOutstanding unanswered at a time: a client that only
  // writes can block against a server that stops reading it (slapd's
  // conn_max_pending) while the answers fill the socket the other way.
  std::vector<Cookie> cookies(n);
  std::size_t next = 0;  // the next of `together` to send
  for (std::size_t k = 0; k < together.size(); ++k) {
    for (; next < together.size() && next - k < kMaxOutstanding; ++next) {
      int msgid = -1;
      const SearchRequest& req = requests[together[next]];
      if (DirResult r = SendSearch(ld, req, none, &msgid); !r.ok()) {
        return fail(k, r);
      }
      msgids.push_back(msgid);
    }
    const std::size_t i = together[k];
    DirResult r = ReadSearch(ld, msgids[k], &(*entries)[i],
                             requests[i].page_size > 0 ? &cookies[i] : nullptr);
    // No answer at all: the connection, not the request.
    if (r.code < 0) return fail(k + 1, r);
    (*results)[i] = std::move(r);
  }
  // Every answer is in: the one paged request sent may page on.
  for (const std::size_t i : together) {
    if (!(*results)[i].ok() || cookies[i].empty()) continue;
    DirResult r =
        ReadRemainingPages(ld, requests[i], &cookies[i], &(*entries)[i]);
    if (r.code < 0) return fail(msgids.size(), r);
    (*results)[i] = std::move(r);
  }
  for (const std::size_t i : after) {
    DirResult r = DoSearch(ld, requests[i], &(*entries)[i]);
    if (r.code < 0) return fail(msgids.size(), r);
    (*results)[i] = std::move(r);
  }
  // A server that cannot answer (busy, read-only...): all of it again on
  // the next one.
  for (const DirResult& r : *results) {
    if (IsFailover(r.code)) return r;
  }
  return {};
}

void LdapDirectory::Impl::CollectEntries(LDAP* ld, LDAPMessage* res,
                                         std::vector<Entry>* entries) {
  // The _ber calls point into the answer instead of copying each value
  // (a message body of megabytes) into a buffer of its own first.
  for (LDAPMessage* e = ldap_first_entry(ld, res); e != nullptr;
       e = ldap_next_entry(ld, e)) {
    BerElement* ber_raw = nullptr;
    berval dn{};
    const int rc = ldap_get_dn_ber(ld, e, &ber_raw, &dn);
    BerPtr ber(ber_raw);
    if (rc != LDAP_SUCCESS) continue;
    Entry entry;
    entry.dn.assign(dn.bv_val, dn.bv_len);
    berval name{};
    BerVarray values = nullptr;
    while (ldap_get_attribute_ber(ld, e, ber.get(), &name, &values) ==
               LDAP_SUCCESS &&
           name.bv_val != nullptr) {
      Attribute attr{std::string(name.bv_val, name.bv_len), {}};
      for (berval* v = values; v != nullptr && v->bv_val != nullptr; ++v) {
        attr.values.emplace_back(v->bv_val, v->bv_len);
      }
      ber_memfree(values);
      values = nullptr;
      entry.attributes.push_back(std::move(attr));
    }
    entries->push_back(std::move(entry));
  }
}

DirResult LdapDirectory::Impl::DoModify(
    LDAP* ld, const std::string& dn, const std::vector<Modification>& changes,
    bool permissive) {
  std::vector<std::vector<berval>> values(changes.size());
  std::vector<std::vector<berval*>> value_ptrs(changes.size());
  std::vector<LDAPMod> mods(changes.size());
  std::vector<LDAPMod*> mod_ptrs;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    for (const auto& v : changes[i].values) {
      values[i].push_back({v.size(), const_cast<char*>(v.data())});
    }
    for (auto& bv : values[i]) value_ptrs[i].push_back(&bv);
    value_ptrs[i].push_back(nullptr);
    const int op = ModOp(changes[i].op);
    mods[i].mod_op = op | LDAP_MOD_BVALUES;
    mods[i].mod_type = const_cast<char*>(changes[i].name.c_str());
    mods[i].mod_bvalues = value_ptrs[i].data();
    mod_ptrs.push_back(&mods[i]);
  }
  mod_ptrs.push_back(nullptr);
  LDAPControl control{};
  control.ldctl_oid = const_cast<char*>(LDAP_CONTROL_X_PERMISSIVE_MODIFY);
  control.ldctl_iscritical = 1;  // never silently without it
  LDAPControl* controls[] = {&control, nullptr};
  return Result(ldap_modify_ext_s(ld, dn.c_str(), mod_ptrs.data(),
                                  permissive ? controls : nullptr, nullptr));
}

DirResult LdapDirectory::Impl::DoAdd(
    LDAP* ld, const std::string& dn,
    const std::vector<AttributeView>& attributes) {
  // LDAPMod points into `attributes`; nothing is copied, which matters for
  // a 10 MB mdaRawMessage.
  std::vector<std::vector<berval>> values(attributes.size());
  std::vector<std::vector<berval*>> value_ptrs(attributes.size());
  std::vector<LDAPMod> mods(attributes.size());
  std::vector<LDAPMod*> mod_ptrs;
  for (std::size_t i = 0; i < attributes.size(); ++i) {
    for (const auto& v : attributes[i].values) {
      values[i].push_back({v.size(), const_cast<char*>(v.data())});
    }
    for (auto& bv : values[i]) value_ptrs[i].push_back(&bv);
    value_ptrs[i].push_back(nullptr);
    mods[i].mod_op = LDAP_MOD_ADD | LDAP_MOD_BVALUES;
    mods[i].mod_type = const_cast<char*>(attributes[i].name.c_str());
    mods[i].mod_bvalues = value_ptrs[i].data();
    mod_ptrs.push_back(&mods[i]);
  }
  mod_ptrs.push_back(nullptr);
  const int rc =
      ldap_add_ext_s(ld, dn.c_str(), mod_ptrs.data(), nullptr, nullptr);
  return Result(rc);
}

LdapDirectory::LdapDirectory(const Config& config,
                             std::vector<std::string> uris,
                             std::string password, const Deadline& deadline)
    : impl_(std::make_unique<Impl>(config, std::move(uris), std::move(password),
                                   deadline)) {
  SkipUnusedSaslPlugins(config);
}

LdapDirectory::~LdapDirectory() = default;

DirResult LdapDirectory::Search(const SearchRequest& request,
                                std::vector<Entry>* entries) {
  return impl_->WithFailover(
      [&](LDAP* ld) { return impl_->DoSearch(ld, request, entries); });
}

DirResult LdapDirectory::SearchMany(const std::vector<SearchRequest>& requests,
                                    std::vector<std::vector<Entry>>* entries,
                                    std::vector<DirResult>* results) {
  if (requests.empty()) {
    entries->clear();
    results->clear();
    return {};
  }
  const DirResult r = impl_->WithFailover([&](LDAP* ld) {
    return impl_->DoSearchMany(ld, requests, entries, results);
  });
  if (!r.ok()) {
    // No server could be asked (none connected, or the deadline): as
    // the contract says, each request gets that answer.
    entries->assign(requests.size(), {});
    results->assign(requests.size(), r);
  }
  return r;
}

std::uint64_t LdapDirectory::SendAhead(const SearchRequest& request) {
  const std::uint64_t ticket = NextTicket();
  ahead_.emplace(ticket, request);
  impl_->SendAhead(ticket, request);
  return ticket;
}

DirResult LdapDirectory::Receive(std::uint64_t ticket,
                                 std::vector<Entry>* entries) {
  const auto it = ahead_.find(ticket);
  if (it == ahead_.end()) return Directory::Receive(ticket, entries);
  const SearchRequest request = std::move(it->second);
  ahead_.erase(it);
  entries->clear();
  DirResult r;
  if (impl_->ReceiveAhead(ticket, entries, &r)) {
    if (r.code >= 0 && !IsFailover(r.code)) return r;
    // No answer (the connection, not the request) or a server that
    // cannot answer: made again, with fail-over, as any search. Not
    // after a timeout: a hung server would make the caller wait twice.
    Log(LogLevel::kWarning, impl_->current_uri() + ": " + r.Describe());
    impl_->Drop();
    entries->clear();
    if (r.code == LDAP_TIMEOUT) return r;
  }
  return Search(request, entries);
}

void LdapDirectory::Forget(std::uint64_t ticket) {
  ahead_.erase(ticket);
  impl_->ForgetAhead(ticket);
}

DirResult LdapDirectory::Add(const std::string& dn,
                             const std::vector<AttributeView>& attributes) {
  return impl_->WithFailover(
      [&](LDAP* ld) { return impl_->DoAdd(ld, dn, attributes); });
}

DirResult LdapDirectory::Modify(const std::string& dn,
                                const std::vector<Modification>& changes) {
  return impl_->WithFailover(
      [&](LDAP* ld) { return impl_->DoModify(ld, dn, changes, false); });
}

DirResult LdapDirectory::ModifyPermissive(
    const std::string& dn, const std::vector<Modification>& changes) {
  return impl_->WithFailover(
      [&](LDAP* ld) { return impl_->DoModify(ld, dn, changes, true); });
}

DirResult LdapDirectory::Delete(const std::string& dn) {
  return impl_->WithFailover([&](LDAP* ld) {
    return impl_->Result(ldap_delete_ext_s(ld, dn.c_str(), nullptr, nullptr));
  });
}

DirResult LdapDirectory::Move(const std::string& dn,
                              const std::string& new_parent) {
  const std::string rdn = FirstRdn(dn);
  if (rdn.empty()) return LdapResult(LDAP_INVALID_DN_SYNTAX, "moving " + dn);
  return impl_->WithFailover([&](LDAP* ld) {
    return impl_->Result(ldap_rename_s(
        ld, dn.c_str(), rdn.c_str(), new_parent.c_str(), 1, nullptr, nullptr));
  });
}

std::string BindPassword(const Config& config) {
  return config.bind == BindMethod::kSimple
             ? ReadPasswordFile(config.bind_pw_file)
             : std::string();
}

Directories::Directories(const Config& config, const Deadline& deadline) {
  const std::string password = BindPassword(config);
  lookup_ = std::make_unique<LdapDirectory>(config, config.server_host,
                                            password, deadline);
  if (!config.store_host.empty()) {
    store_ = std::make_unique<LdapDirectory>(config, config.store_host,
                                             password, deadline);
  }
  if (!config.confirm_host.empty()) {
    std::vector<Replica> replicas;
    for (const std::string& uri : config.confirm_host) {
      replicas_.push_back(std::make_unique<LdapDirectory>(
          config, std::vector<std::string>{uri}, password, confirm_window_));
      replicas.push_back({uri, replicas_.back().get()});
    }
    confirmer_ = std::make_unique<ReplicaConfirmer>(config, std::move(replicas),
                                                    confirm_window_, deadline);
  }
}

std::unique_ptr<Directory> OpenDirectory(const Config& config,
                                         std::vector<std::string> uris,
                                         std::string password,
                                         const Deadline& deadline) {
  return std::make_unique<LdapDirectory>(config, std::move(uris),
                                         std::move(password), deadline);
}

}  // namespace ldapmda
