/* ldapmda_store.h: the C interface between the Dovecot storage driver
 * ("ldapmda", C glue on Dovecot 2.3's lib-storage: ldapmda-*.c) and
 * ldapmda's mail store in the directory (C++: store_api.cpp over the
 * core's FolderStore, docs/ARCHITECTURE.md section 7).
 *
 * Model: a user has folders; a folder has messages. The STORE is the
 * authority for everything a second Dovecot server must see alike:
 *   - folder names, and per folder UIDVALIDITY and UIDNEXT;
 *   - per message: UID, GUID (mdaKey, hex), size, received time
 *     (INTERNALDATE), system flags and keywords, and the raw bytes.
 * Dovecot's own index and cache (in the directory of mail_location) are a
 * cache of the store, rebuilt from it when missing.
 *
 * Every call returns 0 on success or a negative ldapmda_error; on error,
 * ldapmda_store_error() tells a one-line human-readable text. TEMP
 * errors (directory down, timeout) become Dovecot's MAIL_ERROR_TEMP or
 * MAIL_ERROR_UNAVAILABLE, never an empty listing. No function calls
 * exit() or lets an exception cross this boundary.
 */
#ifndef LDAPMDA_STORE_H
#define LDAPMDA_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

enum ldapmda_error {
  LDAPMDA_OK = 0,
  LDAPMDA_ERR_TEMP = -1,     /* try again later: directory down, timeout */
  LDAPMDA_ERR_NOTFOUND = -2, /* no such folder / message */
  LDAPMDA_ERR_EXISTS = -3,   /* folder already exists */
  LDAPMDA_ERR_PERM = -4,     /* not allowed (e.g. rename INBOX) */
  LDAPMDA_ERR_PARAMS = -5,   /* bad name or argument */
  LDAPMDA_ERR_LIMIT = -6,    /* message too large */
  LDAPMDA_ERR_CONFIG = -7,   /* configuration problem (admin must act) */
};

/* System flags, same bit values as Dovecot's enum mail_flags. */
enum ldapmda_flag {
  LDAPMDA_ANSWERED = 0x01,
  LDAPMDA_FLAGGED = 0x02,
  LDAPMDA_DELETED = 0x04,
  LDAPMDA_SEEN = 0x08,
  LDAPMDA_DRAFT = 0x10,
};

/* Log levels of ldapmda_store_set_log()'s callback. */
enum ldapmda_log_level {
  LDAPMDA_LOG_INFO = 0,
  LDAPMDA_LOG_WARNING = 1,
  LDAPMDA_LOG_ERROR = 2,
};

struct ldapmda_store;

/* One message as a listing returns it. Strings are owned by the store
 * and valid until the next call on the same store. */
struct ldapmda_message {
  uint32_t uid;
  /* hex digest, unique within the folder; NULL when only uid, flags and
   * keywords are given (a flag change in an incremental listing) */
  const char *guid;
  uint64_t size;               /* RFC822.SIZE of the raw bytes as stored */
  time_t received;             /* INTERNALDATE */
  unsigned int flags;          /* ldapmda_flag bits */
  const char *const *keywords; /* NULL-terminated */
};

/* ldapmda_folder_status.messages when the store does not know it. */
#define LDAPMDA_COUNT_UNKNOWN UINT64_MAX

struct ldapmda_folder_status {
  uint32_t uid_validity;
  uint32_t uid_next; /* greater than every UID ever given in the folder */
  uint64_t messages; /* number of messages, or LDAPMDA_COUNT_UNKNOWN */
};

/* Routes the store's log lines (directory trouble, migrations) to the
 * host's log. Call once, before ldapmda_store_open(); `cb` may be NULL
 * (then syslog, facility mail). */
void ldapmda_store_set_log(void (*cb)(enum ldapmda_log_level level,
                                      const char *text));

/* Opens the mailbox of `username` (the Dovecot user: the address the
 * ldapmda configuration's query_filter finds) with the ldapmda
 * configuration file `config_file`. NULL on failure, with *code_r set and
 * *error_r malloc'ed text the caller frees with free(). */
struct ldapmda_store *ldapmda_store_open(const char *config_file,
                                         const char *username, int *code_r,
                                         char **error_r);
void ldapmda_store_close(struct ldapmda_store *store);
const char *ldapmda_store_error(const struct ldapmda_store *store);

/* Folders. Names are UTF-8 with '/' as the hierarchy separator; "INBOX"
 * always exists. */
/* Calls `cb` once per folder name. */
int ldapmda_store_list_folders(struct ldapmda_store *store,
                               void (*cb)(const char *name, void *ctx),
                               void *ctx);
int ldapmda_store_create_folder(struct ldapmda_store *store, const char *name);
/* Renames `from` and every folder below it ("from/..."). */
int ldapmda_store_rename_folder(struct ldapmda_store *store, const char *from,
                                const char *to);
/* Deletes the folder and every message in it. */
int ldapmda_store_delete_folder(struct ldapmda_store *store, const char *name);
/* UIDVALIDITY and UIDNEXT; messages is LDAPMDA_COUNT_UNKNOWN. */
int ldapmda_store_folder_status(struct ldapmda_store *store, const char *name,
                                struct ldapmda_folder_status *status_r);

/* Lists every message of `folder` in ascending UID order; the store gives
 * a UID to every message that has none yet (new deliveries). */
int ldapmda_store_list_messages(struct ldapmda_store *store, const char *folder,
                                struct ldapmda_folder_status *status_r,
                                const struct ldapmda_message **messages_r,
                                size_t *count_r);

/* Longest token ldapmda_store_changes() returns (not counting the NUL).
 * The glue keeps the token in a fixed-size header of Dovecot's index. */
#define LDAPMDA_TOKEN_MAX 100

/* Incremental listing, so that syncing (SELECT, NOOP, IDLE polling) an
 * unchanged folder costs a cheap call instead of a full listing.
 *
 * `since_token` is a token an earlier call returned for this folder, or
 * "" (or NULL). On success:
 *   *status_r  the folder's status; messages is exact with a full
 *              listing, LDAPMDA_COUNT_UNKNOWN otherwise;
 *   *token_r   an opaque token (<= LDAPMDA_TOKEN_MAX chars, owned by the
 *              store) for the next call;
 *   *full_r    1: *messages_r is a FULL listing, as list_messages gives
 *              it: always with an empty `since_token`, and whenever a
 *              message may have been removed since `since_token` (the
 *              store counts removals on the folder) or UIDVALIDITY
 *              changed;
 *              0: nothing was removed; *messages_r holds the messages
 *              added, or whose flags or keywords changed, after
 *              `since_token` (a flag change may come with guid NULL).
 * Messages are in ascending UID order; messages without a UID get one
 * (those count as "added"). A change racing with the call may be reported
 * again next time, never lost. */
int ldapmda_store_changes(struct ldapmda_store *store, const char *folder,
                          const char *since_token,
                          struct ldapmda_folder_status *status_r,
                          const char **token_r, int *full_r,
                          const struct ldapmda_message **messages_r,
                          size_t *count_r);

/* Gives message `uid` a new UID, above every UID given so far in the
 * folder (*uid_r). For a server whose index has passed `uid` already: two
 * servers gave out UIDs at the same moment and this one came later. */
int ldapmda_store_renumber(struct ldapmda_store *store, const char *folder,
                           uint32_t uid, uint32_t *uid_r);

/* Reads the raw message `uid` of `folder`. The bytes are owned by the
 * store and valid until the next call on the same store. */
int ldapmda_store_read(struct ldapmda_store *store, const char *folder,
                       uint32_t uid, const char **data_r, size_t *size_r);

/* Batched body reads, so that FETCH 1:1000 BODY[] costs about
 * 1000 / (mail_prefetch_count + 1) round trips instead of 1000. Calls `cb`
 * once for each UID of `uids` that exists, in any order, with the raw
 * bytes (valid only during the callback). UIDs that don't exist are
 * skipped (the caller treats them as expunged). `guids` (may be NULL, and
 * any of its entries) gives the GUIDs the caller knows of those messages:
 * the store then reads them by key without looking their UIDs up first. */
typedef void ldapmda_read_cb(uint32_t uid, const char *data, size_t size,
                             void *ctx);
int ldapmda_store_read_many(struct ldapmda_store *store, const char *folder,
                            const uint32_t *uids, const char *const *guids,
                            size_t count, ldapmda_read_cb *cb, void *ctx);

/* Read-ahead: sends the searches read_many would make for `uids` now and
 * returns without waiting, so that the directory works on them while the
 * caller does. A later read_many that asks for any of these UIDs takes
 * the answers, and then also reports the other messages of the same
 * search (up to 64). Nothing is reported here: trouble shows in that
 * read_many, which makes the search again if the connection went
 * meanwhile. At most 64 searches wait; older ones are dropped. */
void ldapmda_store_read_ahead(struct ldapmda_store *store, const char *folder,
                              const uint32_t *uids, const char *const *guids,
                              size_t count);
/* Drops every search sent ahead (e.g. when the mailbox closes). */
void ldapmda_store_forget_read_ahead(struct ldapmda_store *store);

/* Sets the flags and keywords of message `uid` to exactly these. */
int ldapmda_store_set_flags(struct ldapmda_store *store, const char *folder,
                            uint32_t uid, unsigned int flags,
                            const char *const *keywords);

/* Flag and keyword changes as a delta, applied atomically by the store:
 * adds `add_flags` and `add_keywords`, removes `remove_flags` and
 * `remove_keywords` (either list may be NULL). Adding what is there or
 * removing what isn't is no error, so two servers changing different
 * flags of one message at once both get their way. NOTFOUND when the
 * message is gone. */
int ldapmda_store_modify_flags(struct ldapmda_store *store, const char *folder,
                               uint32_t uid, unsigned int add_flags,
                               unsigned int remove_flags,
                               const char *const *add_keywords,
                               const char *const *remove_keywords);

/* Removes message `uid`; NOTFOUND when it is already gone. */
int ldapmda_store_expunge(struct ldapmda_store *store, const char *folder,
                          uint32_t uid);

/* Adds a message to `folder` as a delivery would store it, with the given
 * flags, keywords and received time (0: now). Gives it a UID (*uid_r) and
 * GUID (*guid_r, owned by the store). Appending bytes identical to a
 * message already in the folder succeeds and returns that message's UID
 * and GUID. */
int ldapmda_store_append(struct ldapmda_store *store, const char *folder,
                         const char *data, size_t size, time_t received,
                         unsigned int flags, const char *const *keywords,
                         uint32_t *uid_r, const char **guid_r);

#ifdef __cplusplus
}
#endif

#endif
