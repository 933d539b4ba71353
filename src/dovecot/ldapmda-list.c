/* ldapmda-list.c: the "ldapmda" mailbox list (LAYOUT=ldapmda).

   Why a list of our own (like imapc-list.c) and not LAYOUT=fs or index:
   those layouts decide which folders exist by looking at directories (or
   at Dovecot's mailbox list index). Here the store is the authority: a
   folder created, renamed or deleted by another server, or by ldapmda
   itself, must show up at once, and an empty index directory must not
   make a folder exist. So:
     - iteration (LIST/LSUB, doveadm mailbox list) asks the store;
     - create (in ldapmda-storage.c), rename and delete go to the store;
     - paths only place Dovecot's index files: <dir>/<folder name>;
     - subscriptions stay in Dovecot's usual file (<dir>/subscriptions);
     - MAILBOX_LIST_PROP_NO_LIST_INDEX: the mailbox list index would cache
       the folder list and miss changes made elsewhere. */

#include "lib.h"
#include "array.h"
#include "hostpid.h"
#include "str.h"
#include "sort.h"
#include "imap-match.h"
#include "mail-user.h"
#include "mailbox-tree.h"
#include "mailbox-list-delete.h"
#include "mailbox-list-subscriptions.h"
#include "subscription-file.h"
#include "mkdir-parents.h"
#include "ldapmda-storage.h"

#include <stdio.h>
#include <unistd.h>

#define GLOBAL_TEMP_PREFIX ".temp."

struct ldapmda_list_iterate_context {
	struct mailbox_list_iterate_context ctx;
	struct mailbox_tree_context *tree;
	struct mailbox_tree_iterate_context *iter;
	struct mailbox_info info;
	ARRAY_TYPE(const_string) names;
};

static struct mailbox_list *ldapmda_list_alloc(void)
{
	struct ldapmda_mailbox_list *list;
	pool_t pool;

	pool = pool_alloconly_create("ldapmda list", 2048);
	list = p_new(pool, struct ldapmda_mailbox_list, 1);
	list->list = ldapmda_mailbox_list;
	list->list.pool = pool;
	list->temp_prefix = p_strconcat(pool, GLOBAL_TEMP_PREFIX,
					my_hostname, ".", my_pid, ".", NULL);
	return &list->list;
}

static int ldapmda_list_init(struct mailbox_list *_list, const char **error_r)
{
	struct ldapmda_mailbox_list *list = LDAPMDA_LIST(_list);
	struct mail_namespace *ns = _list->ns;
	const char *config, *username;

	config = mail_user_plugin_getenv(ns->user, LDAPMDA_SETTING_CONFIG);
	if (config == NULL || *config == '\0') {
		*error_r = "plugin { "LDAPMDA_SETTING_CONFIG" } setting is "
			"missing: it names the ldapmda store configuration";
		return -1;
	}
	/* the store's user is the mailbox owner (for shared namespaces the
	   owner, not the logged-in user) */
	username = ns->owner != NULL ? ns->owner->username :
		ns->user->username;

	/* mail_location=ldapmda:<dir>[:INDEX=<dir>]: with INDEX= the index
	   goes there, else to <dir>. Without any dir: in-memory indexes,
	   rebuilt from the store by every process. */
	if (_list->set.index_dir != NULL && *_list->set.index_dir != '\0')
		list->dir = _list->set.index_dir;
	else if (_list->set.root_dir != NULL && *_list->set.root_dir != '\0')
		list->dir = _list->set.root_dir;
	else
		list->dir = NULL;
	list->conn = ldapmda_conn_init(config, username);
	return 0;
}

static void ldapmda_list_deinit(struct mailbox_list *_list)
{
	struct ldapmda_mailbox_list *list = LDAPMDA_LIST(_list);

	ldapmda_conn_unref(&list->conn);
	pool_unref(&list->list.pool);
}

int ldapmda_list_get_store(struct mailbox_list *_list,
			   struct ldapmda_store **store_r)
{
	struct ldapmda_mailbox_list *list;
	const char *error;
	int code;

	if (strcmp(_list->name, LDAPMDA_LIST_NAME) != 0) {
		mailbox_list_set_critical(_list,
			"ldapmda: mailbox list %s isn't ldapmda's", _list->name);
		return -1;
	}
	list = LDAPMDA_LIST(_list);
	if (ldapmda_conn_get(list->conn, store_r, &code, &error) < 0) {
		ldapmda_list_set_error(_list, code, error, "open");
		return -1;
	}
	return 0;
}

static char ldapmda_list_get_hierarchy_sep(struct mailbox_list *list ATTR_UNUSED)
{
	/* the store's separator */
	return '/';
}

/* Folder name -> directory name below list->dir. Folder names are the
   store's ('/'-separated UTF-8), so each component becomes a directory.
   Escaped with %XX so that no component is ".", "..", hidden, "~..." or
   collides with Dovecot's own "dovecot.*" index files in the parent. */
static const char *ldapmda_list_fs_name(const char *name)
{
	string_t *str = t_str_new(strlen(name) + 16);
	bool comp_start = TRUE;

	for (; *name != '\0'; name++) {
		unsigned char c = (unsigned char)*name;

		if (c == '/') {
			str_append_c(str, '/');
			comp_start = TRUE;
			continue;
		}
		if (c == '%' || c < 0x20 ||
		    (comp_start && (c == '.' || c == '~' ||
				    str_begins(name, "dovecot."))))
			str_printfa(str, "%%%02x", c);
		else
			str_append_c(str, c);
		comp_start = FALSE;
	}
	return str_c(str);
}

static int
ldapmda_list_get_path(struct mailbox_list *_list, const char *name,
		      enum mailbox_list_path_type type, const char **path_r)
{
	struct ldapmda_mailbox_list *list = LDAPMDA_LIST(_list);

	if (list->dir == NULL) {
		/* no directory: in-memory indexes */
		return 0;
	}
	switch (type) {
	case MAILBOX_LIST_PATH_TYPE_DIR:
	case MAILBOX_LIST_PATH_TYPE_MAILBOX:
	case MAILBOX_LIST_PATH_TYPE_CONTROL:
	case MAILBOX_LIST_PATH_TYPE_INDEX:
	case MAILBOX_LIST_PATH_TYPE_INDEX_CACHE:
		/* There are no mail files: the "mailbox" directory is just
		   where the index lives. */
		*path_r = name == NULL ? list->dir :
			t_strconcat(list->dir, "/",
				    ldapmda_list_fs_name(name), NULL);
		return 1;
	case MAILBOX_LIST_PATH_TYPE_ALT_DIR:
	case MAILBOX_LIST_PATH_TYPE_ALT_MAILBOX:
	case MAILBOX_LIST_PATH_TYPE_INDEX_PRIVATE:
	case MAILBOX_LIST_PATH_TYPE_LIST_INDEX:
		break;
	}
	return 0;
}

static const char *
ldapmda_list_get_temp_prefix(struct mailbox_list *_list, bool global)
{
	struct ldapmda_mailbox_list *list = LDAPMDA_LIST(_list);

	return global ? GLOBAL_TEMP_PREFIX : list->temp_prefix;
}

static const char *
ldapmda_list_join_refpattern(struct mailbox_list *list ATTR_UNUSED,
			     const char *ref, const char *pattern)
{
	return t_strconcat(ref, pattern, NULL);
}

/* ---- iteration ---- */

static void ldapmda_list_folder_cb(const char *name, void *context)
{
	struct ldapmda_list_iterate_context *ctx = context;
	const char *copy = p_strdup(ctx->ctx.pool, name);

	array_push_back(&ctx->names, &copy);
}

static int ldapmda_name_cmp(const char *const *a, const char *const *b)
{
	return strcmp(*a, *b);
}

static void
ldapmda_list_build_tree(struct ldapmda_list_iterate_context *ctx,
			struct ldapmda_store *store)
{
	struct mailbox_list *list = ctx->ctx.list;
	struct mailbox_list_iter_update_context update_ctx;
	const char *name;
	int ret;

	p_array_init(&ctx->names, ctx->ctx.pool, 64);
	ret = ldapmda_store_list_folders(store, ldapmda_list_folder_cb, ctx);
	if (ret < 0) {
		ldapmda_list_set_error(list, ret, ldapmda_store_error(store),
				       "list_folders");
		ctx->ctx.failed = TRUE;
		return;
	}
	if ((list->ns->flags & NAMESPACE_FLAG_INBOX_USER) != 0) {
		/* INBOX always exists, whether the store listed it or not */
		name = "INBOX";
		array_push_back(&ctx->names, &name);
	}
	/* parents sort before their children ("a" < "a/b"), so a parent is
	   in the tree as a real mailbox before a child could add it as a
	   \NonExistent placeholder */
	array_sort(&ctx->names, ldapmda_name_cmp);

	i_zero(&update_ctx);
	update_ctx.iter_ctx = &ctx->ctx;
	update_ctx.tree_ctx = ctx->tree;
	update_ctx.glob = ctx->ctx.glob;
	update_ctx.match_parents = TRUE;
	array_foreach_elem(&ctx->names, name) T_BEGIN {
		mailbox_list_iter_update(&update_ctx,
					 mailbox_list_get_vname(list, name));
	} T_END;
}

static struct mailbox_list_iterate_context *
ldapmda_list_iter_init(struct mailbox_list *list, const char *const *patterns,
		       enum mailbox_list_iter_flags flags)
{
	struct ldapmda_list_iterate_context *ctx;
	struct ldapmda_store *store;
	pool_t pool;
	char sep = mail_namespace_get_sep(list->ns);

	if ((flags & MAILBOX_LIST_ITER_SELECT_SUBSCRIBED) != 0) {
		/* LSUB etc.: the generic code walks the subscriptions file
		   and asks existence through our iteration */
		return mailbox_list_subscriptions_iter_init(list, patterns,
							    flags);
	}

	pool = pool_alloconly_create("mailbox list ldapmda iter", 1024);
	ctx = p_new(pool, struct ldapmda_list_iterate_context, 1);
	ctx->ctx.pool = pool;
	ctx->ctx.list = list;
	ctx->ctx.flags = flags;
	ctx->ctx.glob = imap_match_init_multiple(pool, patterns, TRUE, sep);
	array_create(&ctx->ctx.module_contexts, pool, sizeof(void *), 5);
	ctx->info.ns = list->ns;

	ctx->tree = mailbox_tree_init(sep);
	if (ldapmda_list_get_store(list, &store) < 0)
		ctx->ctx.failed = TRUE;
	else
		ldapmda_list_build_tree(ctx, store);
	ctx->iter = mailbox_tree_iterate_init(ctx->tree, NULL, 0);
	return &ctx->ctx;
}

static const struct mailbox_info *
ldapmda_list_iter_next(struct mailbox_list_iterate_context *_ctx)
{
	struct ldapmda_list_iterate_context *ctx =
		(struct ldapmda_list_iterate_context *)_ctx;
	struct mailbox_node *node;
	const char *vname;

	if ((_ctx->flags & MAILBOX_LIST_ITER_SELECT_SUBSCRIBED) != 0)
		return mailbox_list_subscriptions_iter_next(_ctx);
	if (_ctx->failed)
		return NULL;

	do {
		node = mailbox_tree_iterate_next(ctx->iter, &vname);
		if (node == NULL)
			return mailbox_list_iter_default_next(_ctx);
	} while ((node->flags & MAILBOX_MATCHED) == 0);

	ctx->info.vname = vname;
	ctx->info.flags = node->flags & ENUM_NEGATE(MAILBOX_MATCHED);
	if ((_ctx->flags & MAILBOX_LIST_ITER_RETURN_SUBSCRIBED) != 0) {
		mailbox_list_set_subscription_flags(_ctx->list, vname,
						    &ctx->info.flags);
	}
	return &ctx->info;
}

static int ldapmda_list_iter_deinit(struct mailbox_list_iterate_context *_ctx)
{
	struct ldapmda_list_iterate_context *ctx =
		(struct ldapmda_list_iterate_context *)_ctx;
	int ret = _ctx->failed ? -1 : 0;

	if ((_ctx->flags & MAILBOX_LIST_ITER_SELECT_SUBSCRIBED) != 0)
		return mailbox_list_subscriptions_iter_deinit(_ctx);

	mailbox_tree_iterate_deinit(&ctx->iter);
	mailbox_tree_deinit(&ctx->tree);
	pool_unref(&_ctx->pool);
	return ret;
}

/* ---- subscriptions: Dovecot's usual file in <dir> ---- */

static int
ldapmda_list_set_subscribed(struct mailbox_list *_list, const char *name,
			    bool set)
{
	struct ldapmda_mailbox_list *list = LDAPMDA_LIST(_list);
	const char *path;

	if (list->dir == NULL || _list->set.subscription_fname == NULL) {
		mailbox_list_set_error(_list, MAIL_ERROR_NOTPOSSIBLE,
			"Subscriptions need a directory in mail_location");
		return -1;
	}
	path = t_strconcat(list->dir, "/", _list->set.subscription_fname,
			   NULL);
	return subsfile_set_subscribed(_list, path, list->temp_prefix,
				       name, set);
}

/* ---- delete / rename: the store first, then our index files ---- */

int ldapmda_list_delete_folder(struct mailbox_list *list, const char *name)
{
	struct ldapmda_store *store;
	int ret;

	if (ldapmda_list_get_store(list, &store) < 0)
		return -1;
	ret = ldapmda_store_delete_folder(store, name);
	if (ret == LDAPMDA_ERR_NOTFOUND) {
		mailbox_list_set_error(list, MAIL_ERROR_NOTFOUND,
				       T_MAILBOX_LIST_ERR_NOT_FOUND(list, name));
		return -1;
	}
	if (ret < 0) {
		ldapmda_list_set_error(list, ret, ldapmda_store_error(store),
				       t_strdup_printf("delete(%s)", name));
		return -1;
	}
	return 0;
}

void ldapmda_list_delete_index(struct mailbox_list *_list, const char *name)
{
	struct ldapmda_mailbox_list *list = LDAPMDA_LIST(_list);
	const char *path;

	if (list->dir == NULL)
		return;
	/* Best effort: the folder is gone in the store already, and a
	   leftover index is harmless (the store's new UIDVALIDITY resets
	   it if the name is reused). Child folders' directories stay. */
	path = t_strconcat(list->dir, "/", ldapmda_list_fs_name(name), NULL);
	(void)mailbox_list_delete_mailbox_nonrecursive(_list, name, path, TRUE);
	mailbox_list_clear_error(_list);
}

static int
ldapmda_list_delete_mailbox(struct mailbox_list *list, const char *name)
{
	if (ldapmda_list_delete_folder(list, name) < 0)
		return -1;
	ldapmda_list_delete_index(list, name);
	return 0;
}

static int
ldapmda_list_delete_dir(struct mailbox_list *_list, const char *name)
{
	struct ldapmda_mailbox_list *list = LDAPMDA_LIST(_list);
	const char *path;

	/* only our index directory: the store has no directories */
	if (list->dir == NULL) {
		mailbox_list_set_error(_list, MAIL_ERROR_NOTFOUND,
				       T_MAILBOX_LIST_ERR_NOT_FOUND(_list, name));
		return -1;
	}
	path = t_strconcat(list->dir, "/", ldapmda_list_fs_name(name), NULL);
	if (rmdir(path) == 0)
		return 0;
	if (errno == ENOENT) {
		mailbox_list_set_error(_list, MAIL_ERROR_NOTFOUND,
				       T_MAILBOX_LIST_ERR_NOT_FOUND(_list, name));
	} else if (errno == ENOTEMPTY || errno == EEXIST) {
		mailbox_list_set_error(_list, MAIL_ERROR_EXISTS,
				       "Mailbox has children, can't delete it");
	} else {
		mailbox_list_set_critical(_list, "rmdir(%s) failed: %m", path);
	}
	return -1;
}

static int
ldapmda_list_delete_symlink(struct mailbox_list *list,
			    const char *name ATTR_UNUSED)
{
	mailbox_list_set_error(list, MAIL_ERROR_NOTPOSSIBLE, "Not supported");
	return -1;
}

static int
ldapmda_list_rename_mailbox(struct mailbox_list *oldlist, const char *oldname,
			    struct mailbox_list *newlist, const char *newname)
{
	struct ldapmda_mailbox_list *list = LDAPMDA_LIST(oldlist);
	struct ldapmda_store *store;
	const char *oldpath, *newpath, *p;
	int ret;

	if (oldlist != newlist) {
		mailbox_list_set_error(oldlist, MAIL_ERROR_NOTPOSSIBLE,
			"Can't rename mailboxes across storages.");
		return -1;
	}
	if (ldapmda_list_get_store(oldlist, &store) < 0)
		return -1;
	/* the store renames the folder and every folder below it */
	ret = ldapmda_store_rename_folder(store, oldname, newname);
	if (ret == LDAPMDA_ERR_NOTFOUND) {
		mailbox_list_set_error(oldlist, MAIL_ERROR_NOTFOUND,
			T_MAILBOX_LIST_ERR_NOT_FOUND(oldlist, oldname));
		return -1;
	}
	if (ret == LDAPMDA_ERR_EXISTS) {
		mailbox_list_set_error(oldlist, MAIL_ERROR_EXISTS,
				       "Target mailbox already exists");
		return -1;
	}
	if (ret < 0) {
		ldapmda_list_set_error(oldlist, ret, ldapmda_store_error(store),
			t_strdup_printf("rename(%s, %s)", oldname, newname));
		return -1;
	}
	if (list->dir == NULL)
		return 0;

	/* Move our index directory along (children included, as in the
	   store), so the moved folder keeps its cache. Best effort: a
	   missing or stale index is rebuilt from the store. */
	oldpath = t_strconcat(list->dir, "/", ldapmda_list_fs_name(oldname),
			      NULL);
	newpath = t_strconcat(list->dir, "/", ldapmda_list_fs_name(newname),
			      NULL);
	p = strrchr(newpath, '/');
	if (p != NULL && p != newpath) {
		const char *error;

		if (mkdir_parents(t_strdup_until(newpath, p), 0700) < 0 &&
		    errno != EEXIST) {
			error = t_strdup_printf("mkdir_parents(%s) failed: %m",
						t_strdup_until(newpath, p));
			e_warning(oldlist->ns->user->event, "ldapmda: %s",
				  error);
		}
	}
	if (rename(oldpath, newpath) < 0 && errno != ENOENT) {
		e_warning(oldlist->ns->user->event,
			  "ldapmda: rename(%s, %s) failed: %m (the index "
			  "will be rebuilt from the store)", oldpath, newpath);
	}
	return 0;
}

struct mailbox_list ldapmda_mailbox_list = {
	.name = LDAPMDA_LIST_NAME,
	.props = MAILBOX_LIST_PROP_NO_ROOT |
		MAILBOX_LIST_PROP_NO_NOSELECT |
		MAILBOX_LIST_PROP_AUTOCREATE_DIRS |
		MAILBOX_LIST_PROP_NO_LIST_INDEX |
		MAILBOX_LIST_PROP_NO_ALT_DIR |
		MAILBOX_LIST_PROP_NO_MAILDIR_NAME,
	.mailbox_name_max_length = MAILBOX_LIST_NAME_MAX_LENGTH,

	.v = {
		.alloc = ldapmda_list_alloc,
		.init = ldapmda_list_init,
		.deinit = ldapmda_list_deinit,
		.get_hierarchy_sep = ldapmda_list_get_hierarchy_sep,
		.get_vname = mailbox_list_default_get_vname,
		.get_storage_name = mailbox_list_default_get_storage_name,
		.get_path = ldapmda_list_get_path,
		.get_temp_prefix = ldapmda_list_get_temp_prefix,
		.join_refpattern = ldapmda_list_join_refpattern,
		.iter_init = ldapmda_list_iter_init,
		.iter_next = ldapmda_list_iter_next,
		.iter_deinit = ldapmda_list_iter_deinit,
		/* NULL: existence of subscribed names is looked up through
		   our iteration, i.e. the store */
		.get_mailbox_flags = NULL,
		.subscriptions_refresh = mailbox_list_subscriptions_refresh,
		.set_subscribed = ldapmda_list_set_subscribed,
		.delete_mailbox = ldapmda_list_delete_mailbox,
		.delete_dir = ldapmda_list_delete_dir,
		.delete_symlink = ldapmda_list_delete_symlink,
		.rename_mailbox = ldapmda_list_rename_mailbox,
	}
};
