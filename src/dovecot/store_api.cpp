// store_api: ldapmda_store.h, the C interface the Dovecot glue calls,
// over the core's FolderStore. It only translates: C strings and arrays
// to and from C++, StoreStatus to ldapmda_error, and every exception to
// an error code, since none may cross into Dovecot. Each call gets the
// configuration's deadline afresh: a Dovecot process lives for a whole
// IMAP session.
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "dovecot/ldapmda_store.h"
#include "ldapmda/address.h"
#include "ldapmda/config.h"
#include "ldapmda/deadline.h"
#include "ldapmda/directories.h"
#include "ldapmda/folder_store.h"
#include "ldapmda/log.h"
#include "ldapmda/message.h"

struct ldapmda_store {
  explicit ldapmda_store(ldapmda::Config c)
      : config(std::move(c)), deadline(config.deadline) {}

  ldapmda::Config config;
  ldapmda::Deadline deadline;
  std::unique_ptr<ldapmda::Directories> directories;
  std::unique_ptr<ldapmda::FolderStore> folders;
  std::string error;

  // What the last listing returned, kept alive for the caller.
  std::vector<ldapmda::FolderMessage> listed;
  std::vector<ldapmda_message> messages;
  std::vector<std::vector<const char*>> keywords;
  std::string token;
  std::string raw;
  std::string guid;
};

namespace {

using ldapmda::StoreResult;
using ldapmda::StoreStatus;

void (*g_log_cb)(ldapmda_log_level, const char*) = nullptr;

void LogToHost(ldapmda::LogLevel level, std::string_view line) {
  if (g_log_cb == nullptr) return;
  const ldapmda_log_level l =
      level == ldapmda::LogLevel::kInfo      ? LDAPMDA_LOG_INFO
      : level == ldapmda::LogLevel::kWarning ? LDAPMDA_LOG_WARNING
                                             : LDAPMDA_LOG_ERROR;
  g_log_cb(l, std::string(line).c_str());
}

int Code(StoreStatus status) {
  switch (status) {
    case StoreStatus::kOk:
      return LDAPMDA_OK;
    case StoreStatus::kTemp:
      return LDAPMDA_ERR_TEMP;
    case StoreStatus::kNotFound:
      return LDAPMDA_ERR_NOTFOUND;
    case StoreStatus::kExists:
      return LDAPMDA_ERR_EXISTS;
    case StoreStatus::kNotAllowed:
      return LDAPMDA_ERR_PERM;
    case StoreStatus::kBadName:
      return LDAPMDA_ERR_PARAMS;
    case StoreStatus::kTooLarge:
      return LDAPMDA_ERR_LIMIT;
    case StoreStatus::kConfig:
      break;
  }
  return LDAPMDA_ERR_CONFIG;
}

// Runs `body` (returning a StoreResult) with a fresh deadline and turns
// its result, or any exception, into an error code and text.
template <typename Body>
int Call(ldapmda_store* store, Body body) {
  try {
    store->deadline.Restart(store->config.deadline);
    const StoreResult r = body();
    store->error = r.text;
    return Code(r.status);
  } catch (const std::bad_alloc&) {
    store->error = "out of memory";
  } catch (const std::exception& e) {
    store->error = std::string("internal error: ") + e.what();
  } catch (...) {
    store->error = "internal error";
  }
  return LDAPMDA_ERR_TEMP;
}

std::vector<std::string> Strings(const char* const* list) {
  std::vector<std::string> out;
  for (; list != nullptr && *list != nullptr; ++list) out.emplace_back(*list);
  return out;
}

// Keeps `listed` in `store` and points its C view at it.
void Publish(ldapmda_store* store, std::vector<ldapmda::FolderMessage> listed,
             const ldapmda_message** messages, size_t* count) {
  store->listed = std::move(listed);
  store->messages.clear();
  store->keywords.clear();
  store->keywords.resize(store->listed.size());
  for (std::size_t i = 0; i < store->listed.size(); ++i) {
    const ldapmda::FolderMessage& m = store->listed[i];
    for (const std::string& k : m.keywords) {
      store->keywords[i].push_back(k.c_str());
    }
    store->keywords[i].push_back(nullptr);
    store->messages.push_back({m.uid, m.flags_only ? nullptr : m.key.c_str(),
                               m.size, m.received, m.flags,
                               store->keywords[i].data()});
  }
  *messages = store->messages.data();
  *count = store->messages.size();
}

// The GUIDs of `guids` (NULL, or some entries NULL or empty) by UID.
std::map<std::uint32_t, std::string> Keys(const uint32_t* uids,
                                          const char* const* guids,
                                          std::size_t count) {
  std::map<std::uint32_t, std::string> keys;
  for (std::size_t i = 0; guids != nullptr && i < count; ++i) {
    if (guids[i] != nullptr && *guids[i] != '\0') keys[uids[i]] = guids[i];
  }
  return keys;
}

void Status(const ldapmda::FolderInfo& folder, std::uint64_t messages,
            ldapmda_folder_status* status) {
  status->uid_validity = folder.uid_validity;
  status->uid_next = folder.uid_next;
  status->messages = messages;
}

}  // namespace

extern "C" {

void ldapmda_store_set_log(void (*cb)(enum ldapmda_log_level level,
                                      const char* text)) {
  g_log_cb = cb;
  ldapmda::SetLogSink(cb != nullptr ? LogToHost : nullptr);
}

struct ldapmda_store* ldapmda_store_open(const char* config_file,
                                         const char* username, int* code_r,
                                         char** error_r) {
  *code_r = LDAPMDA_ERR_CONFIG;
  *error_r = nullptr;
  std::string error;
  try {
    // GMime is set up by the first APPEND that parses a message, not
    // here: most sessions never parse one, and its setup is a good part
    // of what opening the store costs a new imap process.
    ldapmda::InitLdapLibrary();
    const std::optional<ldapmda::Address> user =
        ldapmda::ParseAddress(username != nullptr ? username : "");
    if (!user) {
      error = std::string("not a usable user name: ") +
              (username != nullptr ? username : "(none)");
    } else {
      auto store = std::make_unique<ldapmda_store>(ldapmda::LoadConfig(
          config_file != nullptr ? config_file : ldapmda::kDefaultConfigFile,
          {}));
      store->directories = std::make_unique<ldapmda::Directories>(
          store->config, store->deadline);
      // Reads and writes of the mailbox go to one place, so that a read
      // sees this session's own writes (store_host, else server_host).
      store->folders = std::make_unique<ldapmda::FolderStore>(
          store->config, store->directories->lookup(),
          store->directories->store(), store->deadline);
      const int code =
          Call(store.get(), [&] { return store->folders->Open(*user); });
      if (code == LDAPMDA_OK) {
        *code_r = LDAPMDA_OK;
        return store.release();
      }
      *code_r = code;
      error = store->error;
    }
  } catch (const ldapmda::ConfigError& e) {
    error = std::string("configuration: ") + e.what();
  } catch (const std::exception& e) {
    *code_r = LDAPMDA_ERR_TEMP;
    error = std::string("internal error: ") + e.what();
  } catch (...) {
    *code_r = LDAPMDA_ERR_TEMP;
    error = "internal error";
  }
  *error_r = strdup(error.c_str());
  return nullptr;
}

void ldapmda_store_close(struct ldapmda_store* store) { delete store; }

const char* ldapmda_store_error(const struct ldapmda_store* store) {
  return store->error.c_str();
}

int ldapmda_store_list_folders(struct ldapmda_store* store,
                               void (*cb)(const char* name, void* ctx),
                               void* ctx) {
  return Call(store, [&] {
    std::vector<ldapmda::FolderInfo> folders;
    StoreResult r = store->folders->ListFolders(&folders);
    if (r.ok()) {
      for (const auto& f : folders) cb(f.name.c_str(), ctx);
    }
    return r;
  });
}

int ldapmda_store_create_folder(struct ldapmda_store* store, const char* name) {
  return Call(store, [&] { return store->folders->CreateFolder(name); });
}

int ldapmda_store_rename_folder(struct ldapmda_store* store, const char* from,
                                const char* to) {
  return Call(store, [&] { return store->folders->RenameFolder(from, to); });
}

int ldapmda_store_delete_folder(struct ldapmda_store* store, const char* name) {
  return Call(store, [&] { return store->folders->DeleteFolder(name); });
}

int ldapmda_store_folder_status(struct ldapmda_store* store, const char* name,
                                struct ldapmda_folder_status* status_r) {
  return Call(store, [&] {
    ldapmda::FolderInfo folder;
    StoreResult r = store->folders->GetFolder(name, &folder);
    if (r.ok()) Status(folder, LDAPMDA_COUNT_UNKNOWN, status_r);
    return r;
  });
}

int ldapmda_store_list_messages(struct ldapmda_store* store, const char* folder,
                                struct ldapmda_folder_status* status_r,
                                const struct ldapmda_message** messages_r,
                                size_t* count_r) {
  const char* token_r = nullptr;
  int full = 0;
  return ldapmda_store_changes(store, folder, "", status_r, &token_r, &full,
                               messages_r, count_r);
}

int ldapmda_store_changes(struct ldapmda_store* store, const char* folder,
                          const char* since_token,
                          struct ldapmda_folder_status* status_r,
                          const char** token_r, int* full_r,
                          const struct ldapmda_message** messages_r,
                          size_t* count_r) {
  return Call(store, [&] {
    ldapmda::FolderSnapshot snapshot;
    StoreResult r = store->folders->Sync(
        folder, since_token != nullptr ? since_token : "", &snapshot);
    if (!r.ok()) return r;
    if (snapshot.token.size() > LDAPMDA_TOKEN_MAX) snapshot.token.clear();
    store->token = std::move(snapshot.token);
    *token_r = store->token.c_str();
    *full_r = snapshot.full ? 1 : 0;
    Status(snapshot.folder,
           snapshot.full ? snapshot.messages.size() : LDAPMDA_COUNT_UNKNOWN,
           status_r);
    Publish(store, std::move(snapshot.messages), messages_r, count_r);
    return r;
  });
}

int ldapmda_store_renumber(struct ldapmda_store* store, const char* folder,
                           uint32_t uid, uint32_t* uid_r) {
  return Call(store,
              [&] { return store->folders->Renumber(folder, uid, uid_r); });
}

int ldapmda_store_read(struct ldapmda_store* store, const char* folder,
                       uint32_t uid, const char** data_r, size_t* size_r) {
  return Call(store, [&] {
    StoreResult r = store->folders->ReadRaw(folder, uid, &store->raw);
    if (r.ok()) {
      *data_r = store->raw.data();
      *size_r = store->raw.size();
    }
    return r;
  });
}

int ldapmda_store_read_many(struct ldapmda_store* store, const char* folder,
                            const uint32_t* uids, const char* const* guids,
                            size_t count, ldapmda_read_cb* cb, void* ctx) {
  return Call(store, [&] {
    std::map<std::uint32_t, std::string> raws;
    StoreResult r = store->folders->ReadRawMany(
        folder, std::vector<std::uint32_t>(uids, uids + count),
        Keys(uids, guids, count), &raws);
    if (r.ok()) {
      for (const auto& [uid, raw] : raws) cb(uid, raw.data(), raw.size(), ctx);
    }
    return r;
  });
}

void ldapmda_store_read_ahead(struct ldapmda_store* store, const char* folder,
                              const uint32_t* uids, const char* const* guids,
                              size_t count) {
  Call(store, [&] {
    store->folders->ReadAhead(folder,
                              std::vector<std::uint32_t>(uids, uids + count),
                              Keys(uids, guids, count));
    return StoreResult::Ok();
  });
}

void ldapmda_store_forget_read_ahead(struct ldapmda_store* store) {
  Call(store, [&] {
    store->folders->ForgetReadAhead();
    return StoreResult::Ok();
  });
}

int ldapmda_store_set_flags(struct ldapmda_store* store, const char* folder,
                            uint32_t uid, unsigned int flags,
                            const char* const* keywords) {
  return Call(store, [&] {
    return store->folders->SetFlags(folder, uid, flags, Strings(keywords));
  });
}

int ldapmda_store_modify_flags(struct ldapmda_store* store, const char* folder,
                               uint32_t uid, unsigned int add_flags,
                               unsigned int remove_flags,
                               const char* const* add_keywords,
                               const char* const* remove_keywords) {
  return Call(store, [&] {
    return store->folders->ModifyFlags(folder, uid, add_flags, remove_flags,
                                       Strings(add_keywords),
                                       Strings(remove_keywords));
  });
}

int ldapmda_store_expunge(struct ldapmda_store* store, const char* folder,
                          uint32_t uid) {
  return Call(store, [&] { return store->folders->Expunge(folder, uid); });
}

int ldapmda_store_append(struct ldapmda_store* store, const char* folder,
                         const char* data, size_t size, time_t received,
                         unsigned int flags, const char* const* keywords,
                         uint32_t* uid_r, const char** guid_r) {
  return Call(store, [&] {
    StoreResult r =
        store->folders->Append(folder, std::string_view(data, size), received,
                               flags, Strings(keywords), uid_r, &store->guid);
    if (r.ok()) *guid_r = store->guid.c_str();
    return r;
  });
}

}  // extern "C"
