/* ldapmda-storage.c: the "ldapmda" mail storage class and mailbox vfuncs,
   plus the plugin entry points.

   Design in one paragraph: the store (ldapmda_store.h) is the authority.
   Every mailbox is an ordinary Dovecot index-backed mailbox
   (index_storage_*), whose index lives in the mail_location directory and
   is treated as a cache: ldapmda-sync.c pushes local index changes to the
   store and pulls the store's state into the index; ldapmda-mail.c reads
   message bytes from the store; ldapmda-save.c appends to the store;
   ldapmda-list.c makes the store the authority for which folders exist.
   So SEARCH, SORT, THREAD, FETCH of headers/BODYSTRUCTURE, CONDSTORE etc.
   all come from Dovecot's generic index code unchanged. */

#include "lib.h"
#include "array.h"
#include "hash.h"
#include "ioloop.h"
#include "str.h"
#include "mail-user.h"
#include "mail-copy.h"
#include "mailbox-watch.h"
#include "ldapmda-storage.h"

/* What clients see when the store is down; the details go to the log. */
#define LDAPMDA_ERRSTR_TEMP \
	"Mail store is temporarily unavailable, please try again later."

const char *ldapmda_plugin_version = DOVECOT_ABI_VERSION;

extern struct mailbox ldapmda_mailbox;

static struct event_category event_category_ldapmda = {
	.name = "ldapmda",
	.parent = &event_category_storage,
};

/* ---- the per-user store handle ---- */

struct ldapmda_conn *ldapmda_conn_init(const char *config_path,
				       const char *username)
{
	struct ldapmda_conn *conn;

	conn = i_new(struct ldapmda_conn, 1);
	conn->refcount = 1;
	conn->config_path = i_strdup(config_path);
	conn->username = i_strdup(username);
	return conn;
}

void ldapmda_conn_unref(struct ldapmda_conn **_conn)
{
	struct ldapmda_conn *conn = *_conn;

	*_conn = NULL;
	if (conn == NULL)
		return;
	i_assert(conn->refcount > 0);
	if (--conn->refcount > 0)
		return;
	if (conn->store != NULL)
		ldapmda_store_close(conn->store);
	i_free(conn->config_path);
	i_free(conn->username);
	i_free(conn);
}

int ldapmda_conn_get(struct ldapmda_conn *conn, struct ldapmda_store **store_r,
		     int *code_r, const char **error_r)
{
	char *error = NULL;
	int code = 0;

	if (conn->store == NULL) {
		conn->store = ldapmda_store_open(conn->config_path,
						 conn->username, &code, &error);
		if (conn->store == NULL) {
			*code_r = code < 0 ? code : LDAPMDA_ERR_CONFIG;
			*error_r = t_strdup_printf("ldapmda_store_open(%s): %s",
				conn->config_path,
				error != NULL ? error : "failed");
			free(error);
			return -1;
		}
	}
	*store_r = conn->store;
	return 0;
}

/* ---- errors ---- */

/* Which Dovecot error a store outage (LDAPMDA_ERR_TEMP) becomes.
   MAIL_ERROR_UNAVAILABLE ("subsystem down") is the accurate one, and IMAP
   shows it as "NO [UNAVAILABLE]" (RFC 5530: try again later) and doveadm
   exits 75 (EX_TEMPFAIL). But in Dovecot 2.3 only imap and doveadm know
   it: pop3 answers it with "-ERR [SYS/PERM]" (a permanent error to POP3
   clients), and lmtp/lda treat it as permanent too. Those get the generic
   MAIL_ERROR_TEMP ("-ERR [SYS/TEMP]"; IMAP would say [SERVERBUG]). */
static enum mail_error ldapmda_temp_error(struct mail_user *user)
{
	if (strcmp(user->service, "imap") == 0 ||
	    strcmp(user->service, "doveadm") == 0)
		return MAIL_ERROR_UNAVAILABLE;
	return MAIL_ERROR_TEMP;
}

void ldapmda_storage_set_error(struct mail_storage *storage, int code,
			       const char *text, const char *what)
{
	switch (code) {
	case LDAPMDA_ERR_TEMP:
		/* The directory is down or slow. The admin wants to know;
		   the client must be told to retry - never shown an empty
		   or partial mailbox. */
		e_error(storage->event, "ldapmda: %s: %s", what, text);
		mail_storage_set_error(storage,
				       ldapmda_temp_error(storage->user),
				       LDAPMDA_ERRSTR_TEMP);
		break;
	case LDAPMDA_ERR_NOTFOUND:
		mail_storage_set_error(storage, MAIL_ERROR_NOTFOUND, text);
		break;
	case LDAPMDA_ERR_EXISTS:
		mail_storage_set_error(storage, MAIL_ERROR_EXISTS, text);
		break;
	case LDAPMDA_ERR_PERM:
		mail_storage_set_error(storage, MAIL_ERROR_PERM, text);
		break;
	case LDAPMDA_ERR_PARAMS:
		mail_storage_set_error(storage, MAIL_ERROR_PARAMS, text);
		break;
	case LDAPMDA_ERR_LIMIT:
		mail_storage_set_error(storage, MAIL_ERROR_LIMIT, text);
		break;
	default:
		/* LDAPMDA_ERR_CONFIG or unknown: the admin must act */
		mail_storage_set_critical(storage, "ldapmda: %s: %s (error %d)",
					  what, text, code);
		break;
	}
}

void ldapmda_list_set_error(struct mailbox_list *list, int code,
			    const char *text, const char *what)
{
	switch (code) {
	case LDAPMDA_ERR_TEMP:
		e_error(list->ns->user->event, "ldapmda: %s: %s", what, text);
		mailbox_list_set_error(list, ldapmda_temp_error(list->ns->user),
				       LDAPMDA_ERRSTR_TEMP);
		break;
	case LDAPMDA_ERR_NOTFOUND:
		mailbox_list_set_error(list, MAIL_ERROR_NOTFOUND, text);
		break;
	case LDAPMDA_ERR_EXISTS:
		mailbox_list_set_error(list, MAIL_ERROR_EXISTS, text);
		break;
	case LDAPMDA_ERR_PERM:
		mailbox_list_set_error(list, MAIL_ERROR_PERM, text);
		break;
	case LDAPMDA_ERR_PARAMS:
		mailbox_list_set_error(list, MAIL_ERROR_PARAMS, text);
		break;
	case LDAPMDA_ERR_LIMIT:
		mailbox_list_set_error(list, MAIL_ERROR_LIMIT, text);
		break;
	default:
		mailbox_list_set_critical(list, "ldapmda: %s: %s (error %d)",
					  what, text, code);
		break;
	}
}

int ldapmda_mailbox_get_store(struct ldapmda_mailbox *mbox,
			      struct ldapmda_store **store_r)
{
	struct mailbox *box = &mbox->box;

	/* the handle belongs to the mailbox's list (one per user), not to
	   the storage, which Dovecot may share between namespaces */
	if (ldapmda_list_get_store(box->list, store_r) < 0) {
		mail_storage_copy_list_error(box->storage, box->list);
		return -1;
	}
	return 0;
}

/* ---- storage ---- */

static struct mail_storage *ldapmda_storage_alloc(void)
{
	struct ldapmda_storage *storage;
	pool_t pool;

	pool = pool_alloconly_create("ldapmda storage", 512+256);
	storage = p_new(pool, struct ldapmda_storage, 1);
	storage->storage = ldapmda_storage;
	storage->storage.pool = pool;
	return &storage->storage;
}

static int
ldapmda_storage_create(struct mail_storage *_storage,
		       struct mail_namespace *ns, const char **error_r)
{
	struct ldapmda_storage *storage = LDAPMDA_STORAGE(_storage);

	/* The store, not the filesystem, says which folders exist, so the
	   namespace must use our mailbox list. */
	if (strcmp(ns->list->name, LDAPMDA_LIST_NAME) != 0) {
		*error_r = t_strdup_printf(
			"ldapmda needs LAYOUT=%s (got %s): remove LAYOUT= "
			"from mail_location", LDAPMDA_LIST_NAME,
			ns->list->name);
		return -1;
	}
	storage->conn = LDAPMDA_LIST(ns->list)->conn;
	storage->conn->refcount++;
	return 0;
}

static void ldapmda_storage_destroy(struct mail_storage *_storage)
{
	struct ldapmda_storage *storage = LDAPMDA_STORAGE(_storage);

	ldapmda_conn_unref(&storage->conn);
	index_storage_destroy(_storage);
}

static void
ldapmda_storage_get_list_settings(const struct mail_namespace *ns ATTR_UNUSED,
				  struct mailbox_list_settings *set)
{
	if (set->layout == NULL)
		set->layout = LDAPMDA_LIST_NAME;
	if (set->subscription_fname == NULL)
		set->subscription_fname = LDAPMDA_SUBSCRIPTION_FILE_NAME;
	/* Folder names go to the store as they are: UTF-8, not mUTF-7. */
	set->utf8 = TRUE;
}

/* ---- mailbox ---- */

static struct mailbox *
ldapmda_mailbox_alloc(struct mail_storage *storage, struct mailbox_list *list,
		      const char *vname, enum mailbox_flags flags)
{
	struct ldapmda_mailbox *mbox;
	pool_t pool;

	/* The index is only a cache, but the driver needs one (possibly in
	   memory) to hold UIDs and flags between store calls. */
	flags &= ENUM_NEGATE(MAILBOX_FLAG_NO_INDEX_FILES);

	pool = pool_alloconly_create("ldapmda mailbox", 1024*3);
	mbox = p_new(pool, struct ldapmda_mailbox, 1);
	mbox->box = ldapmda_mailbox;
	mbox->box.pool = pool;
	mbox->box.storage = storage;
	mbox->box.list = list;
	mbox->box.mail_vfuncs = &ldapmda_mail_vfuncs;

	index_storage_mailbox_alloc(&mbox->box, vname, flags,
				    MAIL_INDEX_PREFIX);

	mbox->storage = LDAPMDA_STORAGE(storage);
	i_array_init(&mbox->prefetch, 32);
	hash_table_create_direct(&mbox->ahead, default_pool, 0);
	hash_table_create_direct(&mbox->bodies, default_pool, 0);
	return &mbox->box;
}

static void ldapmda_mailbox_free(struct mailbox *box)
{
	struct ldapmda_mailbox *mbox = LDAPMDA_MAILBOX(box);

	ldapmda_mailbox_forget_cached(mbox);
	array_free(&mbox->prefetch);
	hash_table_destroy(&mbox->ahead);
	hash_table_destroy(&mbox->bodies);
	pool_unref(&mbox->meta_pool);
	index_storage_mailbox_free(box);
}

static int
ldapmda_mailbox_exists(struct mailbox *box, bool auto_boxes,
		       enum mailbox_existence *existence_r)
{
	struct ldapmda_mailbox *mbox = LDAPMDA_MAILBOX(box);
	struct ldapmda_store *store;
	struct ldapmda_folder_status status;
	int ret;

	if (box->inbox_any || (auto_boxes && mailbox_is_autocreated(box))) {
		/* the store guarantees INBOX */
		*existence_r = MAILBOX_EXISTENCE_SELECT;
		return 0;
	}
	if (ldapmda_mailbox_get_store(mbox, &store) < 0)
		return -1;
	ret = ldapmda_store_folder_status(store, box->name, &status);
	if (ret == 0)
		*existence_r = MAILBOX_EXISTENCE_SELECT;
	else if (ret == LDAPMDA_ERR_NOTFOUND)
		*existence_r = MAILBOX_EXISTENCE_NONE;
	else {
		ldapmda_storage_set_error(box->storage, ret,
					  ldapmda_store_error(store),
					  t_strdup_printf("status(%s)", box->name));
		return -1;
	}
	return 0;
}

static int ldapmda_mailbox_open(struct mailbox *box)
{
	struct ldapmda_mailbox *mbox = LDAPMDA_MAILBOX(box);
	struct ldapmda_store *store;
	struct ldapmda_folder_status status;
	int ret;

	/* Ask the store whether the folder exists, even if an index does:
	   the index may be left over from a folder deleted by another
	   server, and during an outage SELECT must fail rather than show
	   whatever the index has. */
	if (ldapmda_mailbox_get_store(mbox, &store) < 0)
		return -1;
	ret = ldapmda_store_folder_status(store, box->name, &status);
	if (ret == LDAPMDA_ERR_NOTFOUND) {
		mail_storage_set_error(box->storage, MAIL_ERROR_NOTFOUND,
				       T_MAIL_ERR_MAILBOX_NOT_FOUND(box->vname));
		return -1;
	}
	if (ret < 0) {
		ldapmda_storage_set_error(box->storage, ret,
					  ldapmda_store_error(store),
					  t_strdup_printf("status(%s)", box->name));
		return -1;
	}

	if (index_storage_mailbox_open(box, FALSE) < 0)
		return -1;
	/* our sync state: see ldapmda-sync.c */
	mbox->hdr_ext_id =
		mail_index_ext_register(box->index, LDAPMDA_INDEX_EXT_NAME,
					sizeof(struct ldapmda_index_header),
					0, 0);
	return 0;
}

static void ldapmda_mailbox_close(struct mailbox *box)
{
	struct ldapmda_mailbox *mbox = LDAPMDA_MAILBOX(box);

	/* Push index changes that no sync has pushed yet (e.g. the process
	   committed flag changes and is now closing). Cheap when there are
	   none: the index sync finds nothing and the store isn't called. */
	if (box->view != NULL && !box->deleting)
		(void)ldapmda_sync(mbox, 0);

	timeout_remove(&mbox->to_idle_check);
	ldapmda_mailbox_forget_cached(mbox);
	index_storage_mailbox_close(box);
}

static int
ldapmda_mailbox_create(struct mailbox *box,
		       const struct mailbox_update *update ATTR_UNUSED,
		       bool directory ATTR_UNUSED)
{
	struct ldapmda_mailbox *mbox = LDAPMDA_MAILBOX(box);
	struct ldapmda_store *store;
	int ret;

	/* The store has no \Noselect directories (the list has
	   MAILBOX_LIST_PROP_NO_NOSELECT), so "directory" creates a folder
	   too. UIDVALIDITY etc. in `update` belong to the store: ignored. */
	if (ldapmda_mailbox_get_store(mbox, &store) < 0)
		return -1;
	ret = ldapmda_store_create_folder(store, box->name);
	if (ret == LDAPMDA_ERR_EXISTS) {
		mail_storage_set_error(box->storage, MAIL_ERROR_EXISTS,
				       "Mailbox already exists");
		return -1;
	}
	if (ret < 0) {
		ldapmda_storage_set_error(box->storage, ret,
					  ldapmda_store_error(store),
					  t_strdup_printf("create(%s)", box->name));
		return -1;
	}
	return 0;
}

static int
ldapmda_mailbox_update(struct mailbox *box,
		       const struct mailbox_update *update)
{
	/* UIDVALIDITY, UIDNEXT and modseqs come from the store, so only the
	   index-local parts (cache decisions, private modseqs) apply. */
	if (!box->opened) {
		if (mailbox_open(box) < 0)
			return -1;
	}
	return index_storage_mailbox_update_common(box, update);
}

static int ldapmda_mailbox_delete(struct mailbox *box)
{
	/* The store deletes the folder with its messages in one call, so
	   index_storage_mailbox_delete() (which first expunges every message,
	   one store call each) isn't used. */
	if (ldapmda_list_delete_folder(box->list, box->name) < 0) {
		mail_storage_copy_list_error(box->storage, box->list);
		return -1;
	}
	if (box->opened) {
		/* other sessions on this index see the deletion; failure
		   doesn't matter any more, the store has spoken */
		(void)mailbox_mark_index_deleted(box, TRUE);
		mail_storage_clear_error(box->storage);
	}
	mailbox_close(box);
	ldapmda_list_delete_index(box->list, box->name);
	return 0;
}

static int
ldapmda_mailbox_get_metadata(struct mailbox *box,
			     enum mailbox_metadata_items items,
			     struct mailbox_metadata *metadata_r)
{
	if ((items & MAILBOX_METADATA_GUID) != 0) {
		/* Every server must give a folder the same GUID, and the
		   store has none: derive it from the name, as imapc and
		   pop3c do. */
		mail_generate_guid_128_hash(box->name, metadata_r->guid);
		items &= ENUM_NEGATE(MAILBOX_METADATA_GUID);
	}
	if (items != 0)
		return index_mailbox_get_metadata(box, items, metadata_r);
	return 0;
}

static void ldapmda_idle_check(struct ldapmda_mailbox *mbox)
{
	struct mailbox *box = &mbox->box;

	/* imap's IDLE callback runs a full mailbox sync, which pulls from
	   the store (incrementally: one cheap call when nothing changed) */
	if (box->notify_callback != NULL)
		box->notify_callback(box, box->notify_context);
}

static void ldapmda_notify_changes(struct mailbox *box)
{
	struct ldapmda_mailbox *mbox = LDAPMDA_MAILBOX(box);
	const char *dir;
	unsigned int secs = box->storage->set->mailbox_idle_check_interval;

	if (box->notify_callback == NULL) {
		timeout_remove(&mbox->to_idle_check);
		mailbox_watch_remove_all(box);
		return;
	}
	/* Changes by other processes using the same index show in its log
	   file: watch it (inotify) to notice them at once. */
	if (mailbox_get_path_to(box, MAILBOX_LIST_PATH_TYPE_INDEX, &dir) > 0) {
		mailbox_watch_add(box, t_strconcat(dir, "/", box->index_prefix,
						   ".log", NULL));
	}
	/* Changes in the store (deliveries, other servers) can only be
	   polled: LDAP has no cheap change notification we rely on here. */
	if (mbox->to_idle_check == NULL && secs > 0) {
		mbox->to_idle_check = timeout_add(secs * 1000,
						  ldapmda_idle_check, mbox);
	}
}

struct mail_storage ldapmda_storage = {
	.name = LDAPMDA_STORAGE_NAME,
	/* NO_ROOT: mail_location may have no path (in-memory indexes).
	   HAVE_MAIL_GUIDS: the store gives every message a GUID. */
	.class_flags = MAIL_STORAGE_CLASS_FLAG_NO_ROOT |
		MAIL_STORAGE_CLASS_FLAG_HAVE_MAIL_GUIDS,
	.event_category = &event_category_ldapmda,

	.v = {
		.get_setting_parser_info = NULL,
		.alloc = ldapmda_storage_alloc,
		.create = ldapmda_storage_create,
		.destroy = ldapmda_storage_destroy,
		.add_list = NULL,
		.get_list_settings = ldapmda_storage_get_list_settings,
		.autodetect = NULL,
		.mailbox_alloc = ldapmda_mailbox_alloc,
		.purge = NULL,
		.list_index_rebuild = NULL,
	}
};

struct mailbox ldapmda_mailbox = {
	.v = {
		.is_readonly = index_storage_is_readonly,
		.enable = index_storage_mailbox_enable,
		.exists = ldapmda_mailbox_exists,
		.open = ldapmda_mailbox_open,
		.close = ldapmda_mailbox_close,
		.free = ldapmda_mailbox_free,
		.create_box = ldapmda_mailbox_create,
		.update_box = ldapmda_mailbox_update,
		.delete_box = ldapmda_mailbox_delete,
		/* calls our list's rename_mailbox, which asks the store */
		.rename_box = index_storage_mailbox_rename,
		/* opens + syncs when needed, then reads the index */
		.get_status = index_storage_get_status,
		.get_metadata = ldapmda_mailbox_get_metadata,
		.set_subscribed = index_storage_set_subscribed,
		.attribute_set = index_storage_attribute_set,
		.attribute_get = index_storage_attribute_get,
		.attribute_iter_init = index_storage_attribute_iter_init,
		.attribute_iter_next = index_storage_attribute_iter_next,
		.attribute_iter_deinit = index_storage_attribute_iter_deinit,
		/* no mailbox list index (MAILBOX_LIST_PROP_NO_LIST_INDEX) */
		.list_index_has_changed = NULL,
		.list_index_update_sync = NULL,
		.sync_init = ldapmda_storage_sync_init,
		.sync_next = index_mailbox_sync_next,
		.sync_deinit = index_mailbox_sync_deinit,
		.sync_notify = NULL,
		.notify_changes = ldapmda_notify_changes,
		.transaction_begin = index_transaction_begin,
		.transaction_commit = index_transaction_commit,
		.transaction_rollback = index_transaction_rollback,
		.get_private_flags_mask = NULL,
		.mail_alloc = ldapmda_mail_alloc,
		/* SEARCH/SORT/THREAD: generic, on the index, cache and the
		   bytes read through ldapmda-mail.c */
		.search_init = index_storage_search_init,
		.search_deinit = index_storage_search_deinit,
		.search_next_nonblock = index_storage_search_next_nonblock,
		.search_next_update_seq = index_storage_search_next_update_seq,
		.search_next_match_mail = index_storage_search_next_match_mail,
		.save_alloc = ldapmda_save_alloc,
		.save_begin = ldapmda_save_begin,
		.save_continue = ldapmda_save_continue,
		.save_finish = ldapmda_save_finish,
		.save_cancel = ldapmda_save_cancel,
		.copy = ldapmda_copy,
		.transaction_save_commit_pre = ldapmda_transaction_save_commit_pre,
		.transaction_save_commit_post = ldapmda_transaction_save_commit_post,
		.transaction_save_rollback = ldapmda_transaction_save_rollback,
		.is_inconsistent = index_storage_is_inconsistent,
	}
};

/* ---- plugin entry points ---- */

/* The store's log lines (directory trouble, migrations) go to Dovecot's
   log of the process, with the user's context where there is one. */
static void ldapmda_store_log(enum ldapmda_log_level level, const char *text)
{
	switch (level) {
	case LDAPMDA_LOG_INFO:
		i_info("ldapmda: %s", text);
		break;
	case LDAPMDA_LOG_WARNING:
		i_warning("ldapmda: %s", text);
		break;
	case LDAPMDA_LOG_ERROR:
		i_error("ldapmda: %s", text);
		break;
	}
}

void ldapmda_plugin_init(struct module *module ATTR_UNUSED)
{
	ldapmda_store_set_log(ldapmda_store_log);
	mailbox_list_register(&ldapmda_mailbox_list);
	mail_storage_class_register(&ldapmda_storage);
}

void ldapmda_plugin_deinit(void)
{
	mail_storage_class_unregister(&ldapmda_storage);
	mailbox_list_unregister(&ldapmda_mailbox_list);
	ldapmda_store_set_log(NULL);
}
