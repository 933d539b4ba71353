#ifndef LDAPMDA_STORAGE_H
#define LDAPMDA_STORAGE_H

/* Private header of the "ldapmda" Dovecot 2.3 mail storage driver.

   The ldapmda store (ldapmda_store.h) is the authority for folders, UIDs,
   UIDVALIDITY, flags, keywords and message bytes. Dovecot's own index and
   cache (below the mail_location directory) are only a cache of it, that
   ldapmda-sync.c keeps in step.

   Like the ldapmda-*.c files that include it, this header follows
   Dovecot's style (tabs, Dovecot's include order), not clang-format's. */

/* clang-format off */
#include "index-storage.h"
#include "index-mail.h"
#include "mailbox-list-private.h"
#include "ldapmda_store.h"

#define LDAPMDA_STORAGE_NAME "ldapmda"
#define LDAPMDA_LIST_NAME "ldapmda"
#define LDAPMDA_SUBSCRIPTION_FILE_NAME "subscriptions"
/* plugin { ldapmda_config = <path> } names the store's configuration */
#define LDAPMDA_SETTING_CONFIG "ldapmda_config"
/* Name of our index header extension (struct ldapmda_index_header) */
#define LDAPMDA_INDEX_EXT_NAME "ldapmda"

/* One store handle per user, shared by the mailbox list (folder
   operations) and the storage (messages). Opened lazily, so that a store
   outage fails the command that needs the store, with NO [UNAVAILABLE],
   rather than the login. */
struct ldapmda_conn {
	int refcount;
	char *config_path, *username;
	struct ldapmda_store *store;
};

struct ldapmda_mailbox_list {
	struct mailbox_list list;
	/* Directory below which each folder's index directory lives, or NULL
	   when mail_location has no path (in-memory indexes). */
	const char *dir;
	const char *temp_prefix;
	struct ldapmda_conn *conn;
};

struct ldapmda_storage {
	struct mail_storage storage;
	struct ldapmda_conn *conn;
};

/* Kept in the index (header extension), written in the same transaction
   as the changes it describes: what the index reflects of the store. */
struct ldapmda_index_header {
	/* store UIDVALIDITY the token belongs to */
	uint32_t store_uid_validity;
	uint32_t token_len;
	char token[LDAPMDA_TOKEN_MAX + 4];
};

/* Per-message data that only the store knows (not in the message bytes).
   Normally served from Dovecot's cache, where the sync puts it; this is
   the fallback when the cache has dropped it. */
struct ldapmda_msg_meta {
	uint32_t uid;
	time_t received;
	uint64_t size;
	const char *guid;
};
ARRAY_DEFINE_TYPE(ldapmda_msg_meta, struct ldapmda_msg_meta);

/* A message queued for the next batch read: its UID, and its GUID when
   Dovecot's cache has it (then the store finds it by key at once). */
#define LDAPMDA_GUID_MAX 80
struct ldapmda_prefetch {
	uint32_t uid;
	char guid[LDAPMDA_GUID_MAX + 1];
};
ARRAY_DEFINE_TYPE(ldapmda_prefetch, struct ldapmda_prefetch);

struct ldapmda_mailbox {
	struct mailbox box;
	struct ldapmda_storage *storage;

	uint32_t hdr_ext_id;

	/* fallback metadata, valid while meta_valid (see ldapmda-mail.c) */
	pool_t meta_pool;
	ARRAY_TYPE(ldapmda_msg_meta) meta;
	bool meta_valid;

	/* prefetch: messages whose bodies will be wanted soon (not asked
	   for yet), those whose searches were sent ahead (UID -> UID), and
	   bodies read and not yet taken by their mail */
	ARRAY_TYPE(ldapmda_prefetch) prefetch;
	uoff_t prefetch_bytes; /* of `prefetch`, as far as the cache knows */
	HASH_TABLE(void *, void *) ahead;
	HASH_TABLE(void *, buffer_t *) bodies;

	/* polls the store while a client IDLEs */
	struct timeout *to_idle_check;
};

struct ldapmda_mail {
	struct index_mail imail;
};

#define LDAPMDA_STORAGE(s) (container_of(s, struct ldapmda_storage, storage))
#define LDAPMDA_MAILBOX(s) (container_of(s, struct ldapmda_mailbox, box))
#define LDAPMDA_LIST(s) (container_of(s, struct ldapmda_mailbox_list, list))

extern struct mail_storage ldapmda_storage;
extern struct mailbox_list ldapmda_mailbox_list;
extern struct mail_vfuncs ldapmda_mail_vfuncs;

/* ldapmda-storage.c */
struct ldapmda_conn *ldapmda_conn_init(const char *config_path,
				       const char *username);
void ldapmda_conn_unref(struct ldapmda_conn **conn);
/* Returns the store handle, opening it if needed. On failure returns -1
   and sets *code_r and *error_r (text for the log). */
int ldapmda_conn_get(struct ldapmda_conn *conn, struct ldapmda_store **store_r,
		     int *code_r, const char **error_r);

/* Map a failed store call to a Dovecot error. `text` is the store's error
   text (ldapmda_store_error()), `what` says what failed (for the log).
   TEMP -> MAIL_ERROR_UNAVAILABLE ("NO [UNAVAILABLE]") for imap and
   doveadm, MAIL_ERROR_TEMP for the rest (pop3: "-ERR [SYS/TEMP]"), logged;
   CONFIG and unknown codes -> critical (logged, "NO [SERVERBUG]");
   the others -> the matching MAIL_ERROR_* with the store's text. */
void ldapmda_storage_set_error(struct mail_storage *storage, int code,
			       const char *text, const char *what);
void ldapmda_list_set_error(struct mailbox_list *list, int code,
			    const char *text, const char *what);

/* Store handle for a mailbox; sets the mailbox's storage error on failure */
int ldapmda_mailbox_get_store(struct ldapmda_mailbox *mbox,
			      struct ldapmda_store **store_r);

/* ldapmda-list.c */
/* Store handle of the list's user; sets the list error on failure */
int ldapmda_list_get_store(struct mailbox_list *list,
			   struct ldapmda_store **store_r);
/* Delete the folder in the store (only); sets the list error on failure */
int ldapmda_list_delete_folder(struct mailbox_list *list, const char *name);
/* Remove Dovecot's index files of a deleted folder (best effort) */
void ldapmda_list_delete_index(struct mailbox_list *list, const char *name);

/* ldapmda-sync.c */
enum ldapmda_sync_flags {
	/* Ask the store for changes even if the index has none to push */
	LDAPMDA_SYNC_FLAG_PULL = 0x01,
	/* Throw the index away and rebuild it from a full listing
	   (doveadm force-resync) */
	LDAPMDA_SYNC_FLAG_REBUILD = 0x02,
};
int ldapmda_sync(struct ldapmda_mailbox *mbox, enum ldapmda_sync_flags flags);
struct mailbox_sync_context *
ldapmda_storage_sync_init(struct mailbox *box, enum mailbox_sync_flags flags);
void ldapmda_read_index_header(struct ldapmda_mailbox *mbox,
			       struct mail_index_view *view,
			       struct ldapmda_index_header *hdr_r);

/* ldapmda-mail.c */
struct mail *
ldapmda_mail_alloc(struct mailbox_transaction_context *t,
		   enum mail_fetch_field wanted_fields,
		   struct mailbox_header_lookup_ctx *wanted_headers);
/* Forget fallback metadata and prefetched bodies */
void ldapmda_mailbox_forget_cached(struct ldapmda_mailbox *mbox);
/* Replace the fallback metadata with a full listing (sync calls this) */
void ldapmda_mailbox_set_meta(struct ldapmda_mailbox *mbox,
			      const struct ldapmda_msg_meta *meta,
			      unsigned int count);
/* Add metadata of messages the sync appended (UIDs above the known ones) */
void ldapmda_mailbox_add_meta(struct ldapmda_mailbox *mbox,
			      const struct ldapmda_msg_meta *meta);

/* ldapmda-save.c */
struct mail_save_context *
ldapmda_save_alloc(struct mailbox_transaction_context *t);
int ldapmda_save_begin(struct mail_save_context *ctx, struct istream *input);
int ldapmda_save_continue(struct mail_save_context *ctx);
int ldapmda_save_finish(struct mail_save_context *ctx);
void ldapmda_save_cancel(struct mail_save_context *ctx);
int ldapmda_copy(struct mail_save_context *ctx, struct mail *mail);
int ldapmda_transaction_save_commit_pre(struct mail_save_context *ctx);
void ldapmda_transaction_save_commit_post(struct mail_save_context *ctx,
		struct mail_index_transaction_commit_result *result);
void ldapmda_transaction_save_rollback(struct mail_save_context *ctx);

/* Store keywords (names) from Dovecot keywords of a mailbox index */
const char *const *
ldapmda_keywords_to_names(struct mail_index *index,
			  const struct mail_keywords *keywords);

/* ldapmda-storage.c: the plugin entry points Dovecot's module loader looks
   up in lib20_ldapmda_plugin.so ("<name>_plugin_init" etc.) */
extern const char *ldapmda_plugin_version;
void ldapmda_plugin_init(struct module *module);
void ldapmda_plugin_deinit(void);

/* clang-format on */
#endif
