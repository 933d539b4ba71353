/* ldapmda-sync.c: keeping Dovecot's index in step with the store.

   One sync, under the index sync lock (mail_index_sync_begin()):

   1. Collect local changes: the index's sync records tell what this and
      other processes on the same index did since the last sync (flag and
      keyword changes, expunge requests). They are deltas (+\Seen, -kw).
   2. Pull: ldapmda_store_changes() with the token saved in our index
      header extension. Unchanged folder: one cheap call, nothing listed.
      Otherwise the messages added/changed since the token, or a full
      listing (no token, UIDVALIDITY changed, store can't tell).
   3. Push the local changes: flag/keyword deltas go to the store as
      deltas (ldapmda_store_modify_flags(), atomic in the store), so a
      \Flagged set on another server isn't overwritten by our \Seen.
      Expunge requests become ldapmda_store_expunge().
   4. Incremental answers can't report expunges done elsewhere: if the
      message count doesn't add up, pull a full listing after all.
   5. Apply the store's state to the index: new UIDs appended (with GUID,
      received date and size into the cache), vanished UIDs expunged, flags
      and keywords replaced where they differ, UIDNEXT raised, the token
      saved. A different store UIDVALIDITY (or doveadm force-resync) resets
      the index and rebuilds it from the listing.
   6. Commit. Any store failure before that rolls the whole index sync
      back: nothing is expunged from the index, the local changes stay
      pending and are pushed again by the next sync (pushing twice is
      harmless: deltas are idempotent, expunging twice gives NOTFOUND). */

#include "lib.h"
#include "array.h"
#include "hash.h"
#include "str.h"
#include "mail-cache.h"
#include "mailbox-recent-flags.h"
#include "index-sync-private.h"
#include "ldapmda-storage.h"

#define LDAPMDA_FLAGS_MASK 0x1f /* = MAIL_FLAGS_NONRECENT = ldapmda_flag */

/* A message as the store reported it, copied: the store's strings only
   live until its next call. */
struct ldapmda_sync_msg {
	uint32_t uid;
	uint8_t flags;
	/* expunged from the store by this sync's push */
	bool expunged;
	time_t received;
	uint64_t size;
	const char *guid;
	const char *const *keywords;
};

/* What the index's sync records ask for one UID */
struct ldapmda_sync_change {
	uint32_t uid;
	uint8_t add_flags, remove_flags;
	bool flags_changed, expunge;
	ARRAY_TYPE(const_string) kw_add, kw_remove;
	/* result of the push, for the index when the store didn't list it */
	bool pushed;
	uint8_t new_flags;
	const char *const *new_keywords;
};

struct ldapmda_sync_context {
	struct ldapmda_mailbox *mbox;
	struct ldapmda_store *store;
	enum ldapmda_sync_flags flags;
	pool_t pool;

	struct mail_index_sync_ctx *index_sync_ctx;
	struct mail_index_view *sync_view;
	struct mail_index_transaction *trans;
	struct mail_index_view *trans_view;
	struct mail_cache_view *cache_view;
	struct mail_cache_transaction_ctx *cache_trans;

	struct mail_index_header hdr;
	struct ldapmda_index_header ext_hdr;

	/* the store's answer */
	struct ldapmda_folder_status status;
	const char *token;
	bool full;
	ARRAY(struct ldapmda_sync_msg) msgs;

	/* local changes, sorted by UID */
	ARRAY(struct ldapmda_sync_change) changes;
	unsigned int store_expunges;
	/* a message we pushed to was gone: an incremental answer can't be
	   trusted to be complete */
	bool vanished;
	ARRAY_TYPE(uint32_t) expunged_uids;
	uint32_t last_appended_uid;
};

void ldapmda_read_index_header(struct ldapmda_mailbox *mbox,
			       struct mail_index_view *view,
			       struct ldapmda_index_header *hdr_r)
{
	const void *data;
	size_t size;

	i_zero(hdr_r);
	mail_index_get_header_ext(view, mbox->hdr_ext_id, &data, &size);
	if (size >= sizeof(*hdr_r))
		memcpy(hdr_r, data, sizeof(*hdr_r));
	if (hdr_r->token_len > LDAPMDA_TOKEN_MAX)
		hdr_r->token_len = 0;
	hdr_r->token[hdr_r->token_len] = '\0';
}

static int
ldapmda_sync_store_error(struct ldapmda_sync_context *ctx, int code,
			 const char *what)
{
	struct mailbox *box = &ctx->mbox->box;

	if (code == LDAPMDA_ERR_NOTFOUND && strcmp(what, "changes") == 0) {
		/* the folder itself is gone (deleted by another server):
		   imap answers with BYE for a selected mailbox */
		mailbox_set_deleted(box);
		return -1;
	}
	ldapmda_storage_set_error(box->storage, code,
				  ldapmda_store_error(ctx->store),
				  t_strdup_printf("%s(%s)", what, box->name));
	return -1;
}

/* ---- keyword helpers (IMAP keywords compare case-insensitively) ---- */

static bool kw_has(const char *const *kws, const char *kw)
{
	for (; kws != NULL && *kws != NULL; kws++) {
		if (strcasecmp(*kws, kw) == 0)
			return TRUE;
	}
	return FALSE;
}

static bool kw_equal(const char *const *a, const char *const *b)
{
	unsigned int na = a == NULL ? 0 : str_array_length(a);
	unsigned int nb = b == NULL ? 0 : str_array_length(b);

	if (na != nb)
		return FALSE;
	for (; b != NULL && *b != NULL; b++) {
		if (!kw_has(a, *b))
			return FALSE;
	}
	return TRUE;
}

static bool kw_array_has(const ARRAY_TYPE(const_string) *arr, const char *kw)
{
	const char *s;

	if (!array_is_created(arr))
		return FALSE;
	array_foreach_elem(arr, s) {
		if (strcasecmp(s, kw) == 0)
			return TRUE;
	}
	return FALSE;
}

static void kw_array_add(pool_t pool, ARRAY_TYPE(const_string) *arr,
			 const char *kw)
{
	if (!array_is_created(arr))
		p_array_init(arr, pool, 4);
	if (!kw_array_has(arr, kw))
		array_push_back(arr, &kw);
}

static void kw_array_remove(ARRAY_TYPE(const_string) *arr, const char *kw)
{
	unsigned int i;

	if (!array_is_created(arr))
		return;
	for (i = 0; i < array_count(arr); ) {
		if (strcasecmp(array_idx_elem(arr, i), kw) == 0)
			array_delete(arr, i, 1);
		else
			i++;
	}
}

/* keyword names of an index record (data stack) */
static const char *const *
ldapmda_index_keywords(struct ldapmda_sync_context *ctx, uint32_t seq)
{
	const ARRAY_TYPE(keywords) *names =
		mail_index_get_keywords(ctx->mbox->box.index);
	ARRAY_TYPE(keyword_indexes) idx;
	ARRAY_TYPE(const_string) ret;
	unsigned int i;

	t_array_init(&idx, 8);
	mail_index_lookup_keywords(ctx->sync_view, seq, &idx);
	t_array_init(&ret, array_count(&idx) + 1);
	array_foreach_elem(&idx, i) {
		const char *name = array_idx_elem(names, i);
		array_push_back(&ret, &name);
	}
	array_append_zero(&ret);
	return array_front(&ret);
}

/* ---- 1. collect local changes ---- */

static int change_cmp(const struct ldapmda_sync_change *c1,
		      const struct ldapmda_sync_change *c2)
{
	return c1->uid < c2->uid ? -1 : (c1->uid > c2->uid ? 1 : 0);
}

static void
ldapmda_sync_change_add(struct ldapmda_sync_context *ctx,
			struct ldapmda_sync_change *change,
			const struct mail_index_sync_rec *rec)
{
	const ARRAY_TYPE(keywords) *kw_names =
		mail_index_get_keywords(ctx->mbox->box.index);
	const char *name;
	uint8_t add, rem;

	switch (rec->type) {
	case MAIL_INDEX_SYNC_TYPE_EXPUNGE:
		change->expunge = TRUE;
		break;
	case MAIL_INDEX_SYNC_TYPE_FLAGS:
		/* later records win over earlier ones */
		add = rec->add_flags & LDAPMDA_FLAGS_MASK;
		rem = rec->remove_flags & LDAPMDA_FLAGS_MASK;
		change->add_flags = (change->add_flags & ~rem) | add;
		change->remove_flags = (change->remove_flags & ~add) | rem;
		if ((add | rem) != 0)
			change->flags_changed = TRUE;
		break;
	case MAIL_INDEX_SYNC_TYPE_KEYWORD_ADD:
		name = p_strdup(ctx->pool,
				array_idx_elem(kw_names, rec->keyword_idx));
		kw_array_remove(&change->kw_remove, name);
		kw_array_add(ctx->pool, &change->kw_add, name);
		change->flags_changed = TRUE;
		break;
	case MAIL_INDEX_SYNC_TYPE_KEYWORD_REMOVE:
		name = p_strdup(ctx->pool,
				array_idx_elem(kw_names, rec->keyword_idx));
		kw_array_remove(&change->kw_add, name);
		kw_array_add(ctx->pool, &change->kw_remove, name);
		change->flags_changed = TRUE;
		break;
	}
}

static void ldapmda_sync_collect(struct ldapmda_sync_context *ctx)
{
	HASH_TABLE(void *, void *) uid_idx;
	struct mail_index_sync_rec rec;
	struct ldapmda_sync_change *change;
	uint32_t seq, seq1, seq2, uid;
	void *value;

	/* UID -> position+1 in ctx->changes */
	hash_table_create_direct(&uid_idx, ctx->pool, 0);
	while (mail_index_sync_next(ctx->index_sync_ctx, &rec)) {
		if (!mail_index_lookup_seq_range(ctx->sync_view, rec.uid1,
						 rec.uid2, &seq1, &seq2)) {
			/* already expunged, nothing to do */
			continue;
		}
		for (seq = seq1; seq <= seq2; seq++) {
			mail_index_lookup_uid(ctx->sync_view, seq, &uid);
			value = hash_table_lookup(uid_idx, POINTER_CAST(uid));
			if (value == NULL) {
				change = array_append_space(&ctx->changes);
				change->uid = uid;
				hash_table_insert(uid_idx, POINTER_CAST(uid),
					POINTER_CAST(array_count(&ctx->changes)));
			} else {
				change = array_idx_modifiable(&ctx->changes,
					POINTER_CAST_TO(value, unsigned int) - 1);
			}
			ldapmda_sync_change_add(ctx, change, &rec);
		}
	}
	hash_table_destroy(&uid_idx);
	array_sort(&ctx->changes, change_cmp);
}

/* ---- 2. pull ---- */

static int ldapmda_sync_pull(struct ldapmda_sync_context *ctx,
			     const char *since_token)
{
	struct mailbox *box = &ctx->mbox->box;
	const struct ldapmda_message *msgs;
	const char *token;
	size_t i, count;
	int ret, full;

	ret = ldapmda_store_changes(ctx->store, box->name, since_token,
				    &ctx->status, &token, &full, &msgs, &count);
	if (ret < 0)
		return ldapmda_sync_store_error(ctx, ret, "changes");
	if (strlen(token) > LDAPMDA_TOKEN_MAX) {
		e_warning(box->event, "ldapmda: store token longer than %d "
			  "chars, incremental sync disabled", LDAPMDA_TOKEN_MAX);
		token = "";
	}
	ctx->token = p_strdup(ctx->pool, token);
	ctx->full = full != 0;
	array_clear(&ctx->msgs);
	for (i = 0; i < count; i++) {
		struct ldapmda_sync_msg *m;

		if (i > 0 && msgs[i].uid <= msgs[i-1].uid) {
			mailbox_set_critical(box, "ldapmda: store listed UIDs "
				"out of order (%u after %u)",
				msgs[i].uid, msgs[i-1].uid);
			return -1;
		}
		if (msgs[i].uid == 0) {
			mailbox_set_critical(box,
				"ldapmda: store listed a message without UID");
			return -1;
		}
		m = array_append_space(&ctx->msgs);
		m->uid = msgs[i].uid;
		m->flags = msgs[i].flags & LDAPMDA_FLAGS_MASK;
		m->received = msgs[i].received;
		m->size = msgs[i].size;
		m->guid = p_strdup(ctx->pool, msgs[i].guid);
		m->keywords = p_strarray_dup(ctx->pool, msgs[i].keywords);
	}
	return 0;
}

static struct ldapmda_sync_msg *
ldapmda_sync_find_msg(struct ldapmda_sync_context *ctx, uint32_t uid)
{
	struct ldapmda_sync_msg *msgs;
	unsigned int lo = 0, hi, mid;

	msgs = array_get_modifiable(&ctx->msgs, &hi);
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (msgs[mid].uid == uid)
			return &msgs[mid];
		if (msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- 3. push ---- */

static const char *const *
ldapmda_apply_kw_delta(pool_t pool, const char *const *base,
		       const struct ldapmda_sync_change *change)
{
	ARRAY_TYPE(const_string) ret;
	const char *kw;

	p_array_init(&ret, pool, 8);
	for (; base != NULL && *base != NULL; base++) {
		if (!kw_array_has(&change->kw_remove, *base))
			kw_array_add(pool, &ret, p_strdup(pool, *base));
	}
	if (array_is_created(&change->kw_add)) {
		array_foreach_elem(&change->kw_add, kw)
			kw_array_add(pool, &ret, kw);
	}
	array_append_zero(&ret);
	return array_front(&ret);
}

static int
ldapmda_sync_push_expunge(struct ldapmda_sync_context *ctx,
			  struct ldapmda_sync_change *change,
			  struct ldapmda_sync_msg *m)
{
	int ret;

	ret = ldapmda_store_expunge(ctx->store, ctx->mbox->box.name,
				    change->uid);
	if (ret == 0)
		ctx->store_expunges++;
	else if (ret == LDAPMDA_ERR_NOTFOUND)
		ctx->vanished = TRUE; /* already gone: that's fine too */
	else
		return ldapmda_sync_store_error(ctx, ret, "expunge");
	if (m != NULL)
		m->expunged = TRUE;
	array_push_back(&ctx->expunged_uids, &change->uid);
	return 0;
}

static const char *const *
kw_array_or_null(const ARRAY_TYPE(const_string) *arr, pool_t pool)
{
	ARRAY_TYPE(const_string) copy;

	if (!array_is_created(arr) || array_count(arr) == 0)
		return NULL;
	p_array_init(&copy, pool, array_count(arr) + 1);
	array_append_array(&copy, arr);
	array_append_zero(&copy);
	return array_front(&copy);
}

static int
ldapmda_sync_push_flags(struct ldapmda_sync_context *ctx,
			struct ldapmda_sync_change *change,
			struct ldapmda_sync_msg *m)
{
	const struct mail_index_record *rec;
	const char *const *base_kw;
	uint32_t seq;
	uint8_t base_flags;
	int ret;

	if (m == NULL && ctx->full) {
		/* not in the store any more: step 5 expunges it */
		return 0;
	}
	/* The store applies the delta atomically, so a change another
	   server makes meanwhile isn't overwritten. */
	ret = ldapmda_store_modify_flags(ctx->store, ctx->mbox->box.name,
		change->uid, change->add_flags, change->remove_flags,
		kw_array_or_null(&change->kw_add, ctx->pool),
		kw_array_or_null(&change->kw_remove, ctx->pool));
	if (ret == LDAPMDA_ERR_NOTFOUND) {
		/* expunged elsewhere meanwhile */
		ctx->vanished = TRUE;
		if (m != NULL)
			m->expunged = TRUE;
		return 0;
	}
	if (ret < 0)
		return ldapmda_sync_store_error(ctx, ret, "modify_flags");

	/* What the store has now, as far as we know: the value it reported
	   (or, if it reported none, the index's, which is the store's value
	   plus this delta) with the delta on top. A change racing with us
	   shows up in the next sync's answer. */
	if (m != NULL) {
		base_flags = m->flags;
		base_kw = m->keywords;
	} else {
		if (!mail_index_lookup_seq(ctx->sync_view, change->uid, &seq))
			i_unreached();
		rec = mail_index_lookup(ctx->sync_view, seq);
		base_flags = rec->flags & LDAPMDA_FLAGS_MASK;
		base_kw = ldapmda_index_keywords(ctx, seq);
	}
	change->pushed = TRUE;
	change->new_flags = (base_flags | change->add_flags) &
		~change->remove_flags;
	change->new_keywords = ldapmda_apply_kw_delta(ctx->pool, base_kw,
						      change);
	if (m != NULL) {
		m->flags = change->new_flags;
		m->keywords = change->new_keywords;
	}
	return 0;
}

static int ldapmda_sync_push(struct ldapmda_sync_context *ctx)
{
	struct ldapmda_sync_change *change;
	struct ldapmda_sync_msg *m;
	int ret = 0;

	array_foreach_modifiable(&ctx->changes, change) {
		m = ldapmda_sync_find_msg(ctx, change->uid);
		T_BEGIN {
			if (change->expunge)
				ret = ldapmda_sync_push_expunge(ctx, change, m);
			else if (change->flags_changed)
				ret = ldapmda_sync_push_flags(ctx, change, m);
		} T_END;
		if (ret < 0)
			return -1;
	}
	return 0;
}

/* ---- 4. is an incremental answer enough? ---- */

static bool ldapmda_sync_counts_match(struct ldapmda_sync_context *ctx)
{
	const struct ldapmda_sync_msg *m;
	const struct ldapmda_sync_change *change;
	uint32_t seq, have;

	/* what the index will have: today's messages, minus what we
	   expunged, plus what the store reports as new */
	have = ctx->hdr.messages_count;
	array_foreach(&ctx->changes, change) {
		if (change->expunge &&
		    mail_index_lookup_seq(ctx->sync_view, change->uid, &seq))
			have--;
	}
	array_foreach(&ctx->msgs, m) {
		if (m->expunged)
			continue;
		if (m->guid == NULL &&
		    !mail_index_lookup_seq(ctx->sync_view, m->uid, &seq)) {
			/* new flags of a message we don't have */
			return FALSE;
		}
		if (m->uid >= ctx->hdr.next_uid)
			have++;
		else if (!mail_index_lookup_seq(ctx->sync_view, m->uid, &seq)) {
			/* an old UID we don't have: something's off */
			return FALSE;
		}
	}
	/* An incremental answer says nothing was removed: the store counts
	   removals and answers in full when there were any. */
	if (ctx->status.messages == LDAPMDA_COUNT_UNKNOWN)
		return TRUE;
	/* the count was taken before our own expunges */
	return have + ctx->store_expunges == ctx->status.messages;
}

static int msg_uid_cmp(const struct ldapmda_sync_msg *m1,
		       const struct ldapmda_sync_msg *m2)
{
	if (m1->uid < m2->uid)
		return -1;
	return m1->uid > m2->uid ? 1 : 0;
}

/* ---- 4b. UIDs given out late ---- */

/* Two servers can give out UIDs at the same moment: one takes 10, the
   other 11, and a server may list 11 before 10 exists. Its index has
   then passed 10 and can't take it any more. The store gives such a
   message a new UID, above every UID given so far, which every server
   then sees. (Not done when the index is rebuilt: then any UID fits.) */
static int ldapmda_sync_renumber(struct ldapmda_sync_context *ctx)
{
	struct ldapmda_sync_msg *msgs;
	unsigned int i, count;
	uint32_t seq, new_uid;
	bool moved = FALSE;
	int ret;

	msgs = array_get_modifiable(&ctx->msgs, &count);
	for (i = 0; i < count; i++) {
		if (msgs[i].expunged || msgs[i].uid >= ctx->hdr.next_uid ||
		    mail_index_lookup_seq(ctx->sync_view, msgs[i].uid, &seq))
			continue;
		ret = ldapmda_store_renumber(ctx->store, ctx->mbox->box.name,
					     msgs[i].uid, &new_uid);
		if (ret == LDAPMDA_ERR_NOTFOUND) {
			msgs[i].expunged = TRUE;
			continue;
		}
		if (ret < 0)
			return ldapmda_sync_store_error(ctx, ret, "renumber");
		e_warning(ctx->mbox->box.event, "ldapmda: UID %u came after "
			  "this server's UIDNEXT %u; it is UID %u now",
			  msgs[i].uid, ctx->hdr.next_uid, new_uid);
		msgs[i].uid = new_uid;
		if (new_uid >= ctx->status.uid_next)
			ctx->status.uid_next = new_uid + 1;
		moved = TRUE;
	}
	if (moved)
		array_sort(&ctx->msgs, msg_uid_cmp);
	return 0;
}

/* ---- 5. apply the store's state to the index ---- */

static void
ldapmda_sync_update_keywords(struct ldapmda_sync_context *ctx, uint32_t seq,
			     const char *const *keywords)
{
	struct mail_keywords *kw;

	kw = mail_index_keywords_create(ctx->mbox->box.index, keywords);
	mail_index_update_keywords(ctx->trans, seq, MODIFY_REPLACE, kw);
	mail_index_keywords_unref(&kw);
}

static void
ldapmda_sync_update_flags(struct ldapmda_sync_context *ctx, uint32_t seq,
			  uint8_t flags, const char *const *keywords)
{
	const struct mail_index_record *rec;

	rec = mail_index_lookup(ctx->sync_view, seq);
	if ((rec->flags & LDAPMDA_FLAGS_MASK) != flags) {
		mail_index_update_flags(ctx->trans, seq, MODIFY_REPLACE,
					(enum mail_flags)flags);
	}
	T_BEGIN {
		if (!kw_equal(ldapmda_index_keywords(ctx, seq), keywords))
			ldapmda_sync_update_keywords(ctx, seq, keywords);
	} T_END;
}

static void
ldapmda_sync_append(struct ldapmda_sync_context *ctx,
		    const struct ldapmda_sync_msg *m)
{
	struct mailbox *box = &ctx->mbox->box;
	struct index_mailbox_context *ibox = INDEX_STORAGE_CONTEXT(box);
	struct ldapmda_msg_meta meta;
	uint32_t seq, t32;
	uoff_t size;

	mail_index_append(ctx->trans, m->uid, &seq);
	if (m->flags != 0) {
		mail_index_update_flags(ctx->trans, seq, MODIFY_REPLACE,
					(enum mail_flags)m->flags);
	}
	if (m->keywords != NULL && m->keywords[0] != NULL)
		ldapmda_sync_update_keywords(ctx, seq, m->keywords);
	ctx->last_appended_uid = m->uid;

	/* What only the store knows goes into the cache right away, so
	   FETCH INTERNALDATE/RFC822.SIZE and doveadm's guid don't need the
	   store again. (Like pop3c caching the UIDL during its sync.) */
	if (!box->mail_cache_disabled) {
		mail_cache_add(ctx->cache_trans, seq,
			       ibox->cache_fields[MAIL_CACHE_GUID].idx,
			       m->guid, strlen(m->guid));
		t32 = (uint32_t)m->received;
		mail_cache_add(ctx->cache_trans, seq,
			       ibox->cache_fields[MAIL_CACHE_RECEIVED_DATE].idx,
			       &t32, sizeof(t32));
		size = m->size;
		mail_cache_add(ctx->cache_trans, seq,
			       ibox->cache_fields[MAIL_CACHE_PHYSICAL_FULL_SIZE].idx,
			       &size, sizeof(size));
	}
	if (!ctx->full) {
		/* a full listing replaces all metadata afterwards */
		i_zero(&meta);
		meta.uid = m->uid;
		meta.received = m->received;
		meta.size = m->size;
		meta.guid = m->guid;
		ldapmda_mailbox_add_meta(ctx->mbox, &meta);
	}
}

static void ldapmda_sync_apply_full(struct ldapmda_sync_context *ctx,
				    uint32_t next_uid)
{
	struct mailbox *box = &ctx->mbox->box;
	const struct ldapmda_sync_msg *msgs;
	unsigned int i, count;
	uint32_t lseq, lcount, luid, ruid;

	msgs = array_get(&ctx->msgs, &count);
	lcount = ctx->hdr.messages_count;
	lseq = 1; i = 0;
	while (lseq <= lcount || i < count) {
		if (i < count && msgs[i].expunged) {
			i++;
			continue;
		}
		if (lseq <= lcount)
			mail_index_lookup_uid(ctx->sync_view, lseq, &luid);
		else
			luid = (uint32_t)-1;
		ruid = i < count ? msgs[i].uid : (uint32_t)-1;

		if (luid == ruid) {
			ldapmda_sync_update_flags(ctx, lseq, msgs[i].flags,
						  msgs[i].keywords);
			lseq++; i++;
		} else if (luid < ruid) {
			/* not in the store (any more) */
			if (!mail_index_transaction_is_expunged(ctx->trans, lseq))
				mail_index_expunge(ctx->trans, lseq);
			lseq++;
		} else {
			if (ruid >= next_uid)
				ldapmda_sync_append(ctx, &msgs[i]);
			else {
				/* a UID below our UIDNEXT that we don't have:
				   it was expunged here, the store has it
				   again. UIDs can't be reused, so ignore it
				   (doveadm force-resync brings it back). */
				e_warning(box->event, "ldapmda: store has "
					  "UID %u that the index expunged", ruid);
			}
			i++;
		}
	}
}

static void ldapmda_sync_apply_incremental(struct ldapmda_sync_context *ctx,
					   uint32_t next_uid)
{
	const struct ldapmda_sync_msg *m;
	const struct ldapmda_sync_change *change;
	uint32_t seq;

	/* our own expunges (the listing had them before we expunged) */
	array_foreach(&ctx->changes, change) {
		if (change->expunge &&
		    mail_index_lookup_seq(ctx->sync_view, change->uid, &seq))
			mail_index_expunge(ctx->trans, seq);
	}
	array_foreach(&ctx->msgs, m) {
		if (m->expunged)
			continue;
		if (mail_index_lookup_seq(ctx->sync_view, m->uid, &seq))
			ldapmda_sync_update_flags(ctx, seq, m->flags, m->keywords);
		else if (m->uid >= next_uid)
			ldapmda_sync_append(ctx, m);
	}
	/* what we pushed for messages the store didn't list (normally the
	   index has that value already) */
	array_foreach(&ctx->changes, change) {
		if (change->pushed &&
		    ldapmda_sync_find_msg(ctx, change->uid) == NULL &&
		    mail_index_lookup_seq(ctx->sync_view, change->uid, &seq)) {
			ldapmda_sync_update_flags(ctx, seq, change->new_flags,
						  change->new_keywords);
		}
	}
}

static void ldapmda_sync_apply(struct ldapmda_sync_context *ctx, bool reset)
{
	struct ldapmda_mailbox *mbox = ctx->mbox;
	struct mailbox *box = &mbox->box;
	struct ldapmda_index_header new_hdr;
	const struct ldapmda_sync_msg *m;
	const void *data;
	size_t data_size;
	uint32_t next_uid = ctx->hdr.next_uid, uid_validity, uid_next;

	if (reset) {
		/* UIDVALIDITY changed, or doveadm force-resync: throw the
		   index away and rebuild it from the listing */
		mail_index_reset(ctx->trans);
		mailbox_recent_flags_reset(box);
		ldapmda_mailbox_forget_cached(mbox);
		next_uid = 1;
	}
	uid_validity = ctx->status.uid_validity;
	if (reset || ctx->hdr.uid_validity != uid_validity) {
		mail_index_update_header(ctx->trans,
			offsetof(struct mail_index_header, uid_validity),
			&uid_validity, sizeof(uid_validity), TRUE);
	}

	if (reset) {
		array_foreach(&ctx->msgs, m) {
			if (!m->expunged)
				ldapmda_sync_append(ctx, m);
		}
	} else if (ctx->full) {
		ldapmda_sync_apply_full(ctx, next_uid);
	} else {
		ldapmda_sync_apply_incremental(ctx, next_uid);
	}

	if (ctx->full) {
		/* a full listing is also the freshest fallback metadata */
		ARRAY_TYPE(ldapmda_msg_meta) meta;
		struct ldapmda_msg_meta *mm;

		t_array_init(&meta, array_count(&ctx->msgs) + 1);
		array_foreach(&ctx->msgs, m) {
			if (m->expunged)
				continue;
			mm = array_append_space(&meta);
			mm->uid = m->uid;
			mm->received = m->received;
			mm->size = m->size;
			mm->guid = m->guid;
		}
		const struct ldapmda_msg_meta *metas;
		unsigned int meta_count;

		/* (array_front() asserts on an empty array) */
		metas = array_get(&meta, &meta_count);
		ldapmda_mailbox_set_meta(mbox, metas, meta_count);
	}

	/* UIDNEXT as the store has it (it may be above our highest UID,
	   e.g. after expunges at the end). Appends raise next_uid by
	   themselves at commit. */
	uid_next = ctx->status.uid_next;
	if (ctx->last_appended_uid >= uid_next)
		uid_next = ctx->last_appended_uid + 1;
	if (uid_next > next_uid) {
		mail_index_update_header(ctx->trans,
			offsetof(struct mail_index_header, next_uid),
			&uid_next, sizeof(uid_next), FALSE);
	}

	/* remember what we've seen, in the same transaction */
	i_zero(&new_hdr);
	new_hdr.store_uid_validity = uid_validity;
	new_hdr.token_len = strlen(ctx->token);
	memcpy(new_hdr.token, ctx->token, new_hdr.token_len);
	mail_index_get_header_ext(ctx->sync_view, mbox->hdr_ext_id,
				  &data, &data_size);
	if (reset || data_size != sizeof(new_hdr)) {
		mail_index_ext_resize_hdr(ctx->trans, mbox->hdr_ext_id,
					  sizeof(new_hdr));
	}
	if (reset || memcmp(&new_hdr, &ctx->ext_hdr, sizeof(new_hdr)) != 0) {
		mail_index_update_header_ext(ctx->trans, mbox->hdr_ext_id, 0,
					     &new_hdr, sizeof(new_hdr));
	}
}

/* ---- the whole sync ---- */

static int ldapmda_sync_run(struct ldapmda_sync_context *ctx)
{
	struct mailbox *box = &ctx->mbox->box;
	const char *since;
	bool same_uid_space, reset;

	ctx->hdr = *mail_index_get_header(ctx->sync_view);
	ldapmda_read_index_header(ctx->mbox, ctx->sync_view, &ctx->ext_hdr);
	if (ldapmda_mailbox_get_store(ctx->mbox, &ctx->store) < 0)
		return -1;

	ldapmda_sync_collect(ctx);

	/* our token is good only for the UIDs the index has */
	if ((ctx->flags & LDAPMDA_SYNC_FLAG_REBUILD) != 0 ||
	    ctx->hdr.uid_validity == 0 ||
	    ctx->ext_hdr.store_uid_validity != ctx->hdr.uid_validity)
		since = "";
	else
		since = ctx->ext_hdr.token;
	if (ldapmda_sync_pull(ctx, since) < 0)
		return -1;
	if (!ctx->full && ctx->status.uid_validity != ctx->hdr.uid_validity) {
		/* a store should have answered in full; don't trust it */
		if (ldapmda_sync_pull(ctx, "") < 0)
			return -1;
	}

	same_uid_space = ctx->hdr.uid_validity != 0 &&
		ctx->hdr.uid_validity == ctx->status.uid_validity;
	if (array_count(&ctx->changes) > 0) {
		if (same_uid_space) {
			if (ldapmda_sync_push(ctx) < 0)
				return -1;
		} else {
			/* the UIDs our changes refer to mean other messages
			   now: applying them would hit the wrong mails */
			e_warning(box->event, "ldapmda: UIDVALIDITY changed in "
				  "the store (%u -> %u), dropping %u local "
				  "changes", ctx->hdr.uid_validity,
				  ctx->status.uid_validity,
				  array_count(&ctx->changes));
		}
	}

	if (!ctx->full && (ctx->vanished || !ldapmda_sync_counts_match(ctx))) {
		/* something was expunged elsewhere: only a full listing
		   tells what */
		if (ldapmda_sync_pull(ctx, "") < 0)
			return -1;
	}

	reset = (ctx->flags & LDAPMDA_SYNC_FLAG_REBUILD) != 0 ||
		(ctx->hdr.uid_validity != 0 && !same_uid_space);
	if (reset && !ctx->full) {
		if (ldapmda_sync_pull(ctx, "") < 0)
			return -1;
	}
	if (reset && ctx->hdr.uid_validity != 0 &&
	    ctx->hdr.uid_validity != ctx->status.uid_validity) {
		e_warning(box->event, "ldapmda: UIDVALIDITY changed "
			  "(%u -> %u), rebuilding the index",
			  ctx->hdr.uid_validity, ctx->status.uid_validity);
	}

	if (!reset && ctx->full && ldapmda_sync_renumber(ctx) < 0)
		return -1;

	ctx->trans_view = mail_index_transaction_open_updated_view(ctx->trans);
	ctx->cache_view = mail_cache_view_open(box->cache, ctx->trans_view);
	ctx->cache_trans = mail_cache_get_transaction(ctx->cache_view,
						      ctx->trans);
	ldapmda_sync_apply(ctx, reset);
	return 0;
}

static void ldapmda_sync_notify_expunges(struct ldapmda_sync_context *ctx)
{
	struct mailbox *box = &ctx->mbox->box;
	uint32_t uid;

	/* let plugins (e.g. mail_log, fts) know what we expunged */
	if (array_count(&ctx->expunged_uids) == 0)
		return;
	array_foreach_elem(&ctx->expunged_uids, uid)
		mailbox_sync_notify(box, uid, MAILBOX_SYNC_TYPE_EXPUNGE);
	mailbox_sync_notify(box, 0, 0);
}

int ldapmda_sync(struct ldapmda_mailbox *mbox, enum ldapmda_sync_flags flags)
{
	struct mailbox *box = &mbox->box;
	struct ldapmda_sync_context ctx;
	enum mail_index_sync_flags sync_flags;
	struct mail_index_sync_rec rec;
	int ret;

	i_zero(&ctx);
	ctx.mbox = mbox;
	ctx.flags = flags;

	sync_flags = index_storage_get_sync_flags(box) |
		MAIL_INDEX_SYNC_FLAG_FLUSH_DIRTY;
	if ((flags & LDAPMDA_SYNC_FLAG_PULL) == 0) {
		/* only push pending local changes: if there are none, don't
		   even lock the index */
		sync_flags |= MAIL_INDEX_SYNC_FLAG_REQUIRE_CHANGES;
	}
	ret = mail_index_sync_begin(box->index, &ctx.index_sync_ctx,
				    &ctx.sync_view, &ctx.trans, sync_flags);
	if (ret <= 0) {
		if (ret < 0)
			mailbox_set_index_error(box);
		return ret;
	}

	if (box->deleting) {
		/* finishing the deletion of the index (the store was asked
		   already): nothing to push or pull */
		while (mail_index_sync_next(ctx.index_sync_ctx, &rec)) ;
		if (mail_index_sync_commit(&ctx.index_sync_ctx) < 0) {
			mailbox_set_index_error(box);
			return -1;
		}
		return 0;
	}

	ctx.pool = pool_alloconly_create("ldapmda sync", 8192);
	p_array_init(&ctx.msgs, ctx.pool, 64);
	p_array_init(&ctx.changes, ctx.pool, 16);
	p_array_init(&ctx.expunged_uids, ctx.pool, 16);

	ret = ldapmda_sync_run(&ctx);
	if (ret < 0) {
		/* nothing reaches the index: no expunges, local changes stay
		   pending for the next sync */
		mail_index_sync_rollback(&ctx.index_sync_ctx);
	} else if (mail_index_sync_commit(&ctx.index_sync_ctx) < 0) {
		mailbox_set_index_error(box);
		ret = -1;
	} else {
		ldapmda_sync_notify_expunges(&ctx);
	}
	if (ctx.cache_view != NULL)
		mail_cache_view_close(&ctx.cache_view);
	if (ctx.trans_view != NULL)
		mail_index_view_close(&ctx.trans_view);
	pool_unref(&ctx.pool);
	return ret;
}

struct mailbox_sync_context *
ldapmda_storage_sync_init(struct mailbox *box, enum mailbox_sync_flags flags)
{
	struct ldapmda_mailbox *mbox = LDAPMDA_MAILBOX(box);
	enum ldapmda_sync_flags sync_flags = 0;
	int ret;

	if ((flags & MAILBOX_SYNC_FLAG_FORCE_RESYNC) != 0) {
		/* doveadm force-resync: rebuild the index from the store */
		sync_flags |= LDAPMDA_SYNC_FLAG_PULL | LDAPMDA_SYNC_FLAG_REBUILD;
	} else if (index_mailbox_want_full_sync(box, flags)) {
		/* SELECT, NOOP, IDLE, STATUS, ...: ask the store. FAST syncs
		   within MAILBOX_FULL_SYNC_INTERVAL only push. */
		sync_flags |= LDAPMDA_SYNC_FLAG_PULL;
	}
	ret = ldapmda_sync(mbox, sync_flags);
	return index_mailbox_sync_init(box, flags, ret < 0);
}
