/* ldapmda-mail.c: mail vfuncs. A message's bytes come from the store;
   everything derived from them (headers, BODYSTRUCTURE, virtual size,
   search) is Dovecot's generic index_mail code, cached in Dovecot's cache.

   What only the store knows - GUID, received date (INTERNALDATE), size -
   the sync puts into the cache for every new message. If the cache
   dropped it, one full listing per mailbox refills an in-memory table
   ("meta") that answers the rest.

   Prefetch: the search code (FETCH and SEARCH run through it) calls
   mail_prefetch() on up to mail_prefetch_count+1 messages before using the
   first one, and on one more each time it hands one out. We queue the
   UIDs there, and whenever half a window has queued up we send the
   directory its search for them (ldapmda_store_read_ahead()) without
   waiting: slapd finds and encodes those messages while we hand out the
   ones before them. A get_stream() of a mail sent ahead takes its
   search's answer (ldapmda_store_read_many()), usually there by then; one
   that was only queued reads the queue at once. With
   mail_prefetch_count=N, FETCH 1:1000 BODY[] makes about 2000/(N+1)
   searches instead of 1000 and seldom waits for them. */

#include "lib.h"
#include "array.h"
#include "hash.h"
#include "ioloop.h"
#include "istream.h"
#include "str.h"
#include "ldapmda-storage.h"

/* don't let a queue of never-read UIDs grow without limit */
#define LDAPMDA_PREFETCH_MAX 4096
/* Bounds on what a batch holds in memory: a message known (from the
   cache) to be bigger than this is not prefetched but read when wanted,
   and a queue of this many bytes goes ahead whatever its count. */
#define LDAPMDA_PREFETCH_BIG (1024 * 1024)
#define LDAPMDA_READ_AHEAD_BYTES (4 * 1024 * 1024)

struct mail *
ldapmda_mail_alloc(struct mailbox_transaction_context *t,
		   enum mail_fetch_field wanted_fields,
		   struct mailbox_header_lookup_ctx *wanted_headers)
{
	struct ldapmda_mail *mail;
	pool_t pool;

	pool = pool_alloconly_create("mail", 2048);
	mail = p_new(pool, struct ldapmda_mail, 1);
	index_mail_init(&mail->imail, t, wanted_fields, wanted_headers,
			pool, NULL);
	return &mail->imail.mail.mail;
}

/* ---- fallback metadata ---- */

void ldapmda_mailbox_set_meta(struct ldapmda_mailbox *mbox,
			      const struct ldapmda_msg_meta *meta,
			      unsigned int count)
{
	struct ldapmda_msg_meta *m;
	unsigned int i;

	if (mbox->meta_pool == NULL) {
		mbox->meta_pool = pool_alloconly_create(
			MEMPOOL_GROWING"ldapmda meta", 4096);
	} else {
		p_clear(mbox->meta_pool);
	}
	p_array_init(&mbox->meta, mbox->meta_pool, count + 16);
	for (i = 0; i < count; i++) {
		m = array_append_space(&mbox->meta);
		*m = meta[i];
		m->guid = p_strdup(mbox->meta_pool, meta[i].guid);
	}
	mbox->meta_valid = TRUE;
}

void ldapmda_mailbox_add_meta(struct ldapmda_mailbox *mbox,
			      const struct ldapmda_msg_meta *meta)
{
	const struct ldapmda_msg_meta *last;
	struct ldapmda_msg_meta *m;

	if (!mbox->meta_valid)
		return;
	if (array_count(&mbox->meta) > 0) {
		last = array_back(&mbox->meta);
		if (last->uid >= meta->uid)
			return; /* keep it sorted; can't happen normally */
	}
	m = array_append_space(&mbox->meta);
	*m = *meta;
	m->guid = p_strdup(mbox->meta_pool, meta->guid);
}

static void ldapmda_mailbox_bodies_clear(struct ldapmda_mailbox *mbox)
{
	struct hash_iterate_context *iter;
	void *key;
	buffer_t *buf;

	iter = hash_table_iterate_init(mbox->bodies);
	while (hash_table_iterate(iter, mbox->bodies, &key, &buf))
		buffer_free(&buf);
	hash_table_iterate_deinit(&iter);
	hash_table_clear(mbox->bodies, TRUE);
}

static void ldapmda_prefetch_clear(struct ldapmda_mailbox *mbox)
{
	array_clear(&mbox->prefetch);
	mbox->prefetch_bytes = 0;
}

static void ldapmda_mailbox_ahead_clear(struct ldapmda_mailbox *mbox)
{
	struct ldapmda_store *store;

	if (hash_table_count(mbox->ahead) == 0)
		return;
	hash_table_clear(mbox->ahead, TRUE);
	/* the store is open: it was asked to read ahead */
	if (ldapmda_list_get_store(mbox->box.list, &store) == 0)
		ldapmda_store_forget_read_ahead(store);
}

void ldapmda_mailbox_forget_cached(struct ldapmda_mailbox *mbox)
{
	ldapmda_mailbox_bodies_clear(mbox);
	ldapmda_mailbox_ahead_clear(mbox);
	ldapmda_prefetch_clear(mbox);
	mbox->meta_valid = FALSE;
}

static int ldapmda_mailbox_load_meta(struct ldapmda_mailbox *mbox)
{
	struct mailbox *box = &mbox->box;
	struct ldapmda_store *store;
	struct ldapmda_folder_status status;
	const struct ldapmda_message *msgs;
	ARRAY_TYPE(ldapmda_msg_meta) meta;
	struct ldapmda_msg_meta *m;
	const struct ldapmda_msg_meta *metas;
	size_t i, count;
	unsigned int n;
	int ret;

	if (ldapmda_mailbox_get_store(mbox, &store) < 0)
		return -1;
	ret = ldapmda_store_list_messages(store, box->name, &status,
					  &msgs, &count);
	if (ret < 0) {
		ldapmda_storage_set_error(box->storage, ret,
					  ldapmda_store_error(store),
					  t_strdup_printf("list(%s)", box->name));
		return -1;
	}
	t_array_init(&meta, count + 1);
	for (i = 0; i < count; i++) {
		m = array_append_space(&meta);
		m->uid = msgs[i].uid;
		m->received = msgs[i].received;
		m->size = msgs[i].size;
		m->guid = msgs[i].guid;
	}
	metas = array_get(&meta, &n);
	ldapmda_mailbox_set_meta(mbox, metas, n);
	return 0;
}

static int meta_cmp(const uint32_t *uid, const struct ldapmda_msg_meta *m)
{
	return *uid < m->uid ? -1 : (*uid > m->uid ? 1 : 0);
}

static int
ldapmda_mail_get_meta(struct mail *_mail, const struct ldapmda_msg_meta **meta_r)
{
	struct ldapmda_mailbox *mbox = LDAPMDA_MAILBOX(_mail->box);
	int ret;

	if (!mbox->meta_valid) {
		if (_mail->lookup_abort != MAIL_LOOKUP_ABORT_NEVER) {
			/* caller wants only what's cheap */
			mail_set_aborted(_mail);
			return -1;
		}
		T_BEGIN {
			ret = ldapmda_mailbox_load_meta(mbox);
		} T_END;
		if (ret < 0)
			return -1;
	}
	*meta_r = array_bsearch(&mbox->meta, &_mail->uid, meta_cmp);
	if (*meta_r == NULL) {
		mail_set_expunged(_mail);
		return -1;
	}
	return 0;
}

/* ---- bodies ---- */

static void
ldapmda_mail_read_cb(uint32_t uid, const char *data, size_t size, void *context)
{
	struct ldapmda_mailbox *mbox = context;
	buffer_t *buf, *old;

	(void)hash_table_try_remove(mbox->ahead, POINTER_CAST(uid));
	buf = buffer_create_dynamic(default_pool, size + 1);
	buffer_append(buf, data, size);
	old = hash_table_lookup(mbox->bodies, POINTER_CAST(uid));
	if (old != NULL) {
		buffer_free(&old);
		hash_table_update(mbox->bodies, POINTER_CAST(uid), buf);
	} else {
		hash_table_insert(mbox->bodies, POINTER_CAST(uid), buf);
	}
}

static int prefetch_cmp(const struct ldapmda_prefetch *a,
			const struct ldapmda_prefetch *b)
{
	return a->uid < b->uid ? -1 : (a->uid > b->uid ? 1 : 0);
}

/* Fills `item` with the mail's UID and, when Dovecot's cache has it
   (never a store call), its GUID. */
static void ldapmda_prefetch_item(struct mail *_mail,
				  struct ldapmda_prefetch *item)
{
	struct index_mail *mail = INDEX_MAIL(_mail);
	unsigned int cache_idx =
		mail->ibox->cache_fields[MAIL_CACHE_GUID].idx;
	const char *guid = mail->data.guid;
	string_t *str;

	i_zero(item);
	item->uid = _mail->uid;
	if (guid == NULL && !_mail->saving) T_BEGIN {
		str = t_str_new(LDAPMDA_GUID_MAX + 1);
		if (mail_cache_lookup_field(_mail->transaction->cache_view,
					    str, _mail->seq, cache_idx) > 0 &&
		    str_len(str) <= LDAPMDA_GUID_MAX)
			memcpy(item->guid, str_c(str), str_len(str));
	} T_END;
	else if (guid != NULL && strlen(guid) <= LDAPMDA_GUID_MAX)
		memcpy(item->guid, guid, strlen(guid));
}

/* The items' UIDs (sorted, each once) and GUIDs (NULL where no copy of
   the UID has one), for the store. */
static void
prefetch_batch(ARRAY_TYPE(ldapmda_prefetch) *items_arr,
	       ARRAY_TYPE(uint32_t) *uids, ARRAY_TYPE(const_string) *guids)
{
	const struct ldapmda_prefetch *items;
	unsigned int i, j, n;

	array_sort(items_arr, prefetch_cmp);
	items = array_get(items_arr, &n);
	t_array_init(uids, n);
	t_array_init(guids, n);
	for (i = 0; i < n; i = j) {
		const char *guid = items[i].guid;
		for (j = i + 1; j < n && items[j].uid == items[i].uid; j++) {
			if (*guid == '\0')
				guid = items[j].guid;
		}
		array_push_back(uids, &items[i].uid);
		guid = *guid == '\0' ? NULL : t_strdup(guid);
		array_push_back(guids, &guid);
	}
}

static int
ldapmda_mailbox_get_body(struct ldapmda_mailbox *mbox, struct mail *_mail,
			 buffer_t **body_r)
{
	struct mailbox *box = &mbox->box;
	struct ldapmda_store *store;
	ARRAY_TYPE(uint32_t) uids;
	ARRAY_TYPE(const_string) guids;
	ARRAY_TYPE(ldapmda_prefetch) batch;
	buffer_t *buf;
	uint32_t uid = _mail->uid;
	int ret;

	buf = hash_table_lookup(mbox->bodies, POINTER_CAST(uid));
	if (buf == NULL) {
		/* Not read yet. What the previous reads brought and nobody
		   took won't be wanted any more. If its search went ahead,
		   take that search's answer (the store knows which); else
		   read it together with everything prefetch() queued. */
		ldapmda_mailbox_bodies_clear(mbox);
		t_array_init(&batch, array_count(&mbox->prefetch) + 1);
		if (hash_table_lookup(mbox->ahead, POINTER_CAST(uid)) == NULL) {
			array_append_array(&batch, &mbox->prefetch);
			ldapmda_prefetch_clear(mbox);
		}
		ldapmda_prefetch_item(_mail, array_append_space(&batch));
		prefetch_batch(&batch, &uids, &guids);

		if (ldapmda_mailbox_get_store(mbox, &store) < 0)
			return -1;
		ret = ldapmda_store_read_many(store, box->name,
			array_front(&uids), array_front(&guids),
			array_count(&uids), ldapmda_mail_read_cb, mbox);
		(void)hash_table_try_remove(mbox->ahead, POINTER_CAST(uid));
		if (ret == LDAPMDA_ERR_NOTFOUND) {
			mail_set_expunged(_mail);
			return -1;
		}
		if (ret < 0) {
			ldapmda_storage_set_error(box->storage, ret,
				ldapmda_store_error(store),
				t_strdup_printf("read(%s, %u)", box->name, uid));
			return -1;
		}
		buf = hash_table_lookup(mbox->bodies, POINTER_CAST(uid));
		if (buf == NULL) {
			/* expunged in the store since our last sync */
			mail_set_expunged(_mail);
			return -1;
		}
	}
	hash_table_remove(mbox->bodies, POINTER_CAST(uid));
	*body_r = buf;
	return 0;
}

/* Sends the queue's searches ahead once half a prefetch window has
   queued up: at most 8 messages for a small window, a sixteenth of a big
   one (so that about 16 searches wait, well within the store's 64); or
   once the queue holds LDAPMDA_READ_AHEAD_BYTES. */
static void ldapmda_mailbox_read_ahead(struct ldapmda_mailbox *mbox)
{
	struct mailbox *box = &mbox->box;
	struct ldapmda_store *store;
	ARRAY_TYPE(uint32_t) uids;
	ARRAY_TYPE(const_string) guids;
	unsigned int window = box->storage->set->mail_prefetch_count + 1;
	unsigned int at = I_MAX(I_MIN(window / 2, I_MAX(8U, window / 16)), 1U);
	const uint32_t *uid;

	if (window < 2 || (array_count(&mbox->prefetch) < at &&
			   mbox->prefetch_bytes < LDAPMDA_READ_AHEAD_BYTES))
		return;
	if (hash_table_count(mbox->ahead) >= LDAPMDA_PREFETCH_MAX) {
		/* sent and never read: drop them */
		ldapmda_mailbox_ahead_clear(mbox);
	}
	if (ldapmda_list_get_store(box->list, &store) < 0)
		return; /* get_stream() will say */
	T_BEGIN {
		prefetch_batch(&mbox->prefetch, &uids, &guids);
		ldapmda_store_read_ahead(store, box->name, array_front(&uids),
					 array_front(&guids),
					 array_count(&uids));
		array_foreach(&uids, uid) {
			hash_table_update(mbox->ahead, POINTER_CAST(*uid),
					  POINTER_CAST(*uid));
		}
	} T_END;
	ldapmda_prefetch_clear(mbox);
}

static bool ldapmda_mail_prefetch(struct mail *_mail)
{
	struct index_mail *mail = INDEX_MAIL(_mail);
	struct ldapmda_mailbox *mbox = LDAPMDA_MAILBOX(_mail->box);
	uint32_t uid = _mail->uid;
	bool need_bytes = mail->data.access_part != 0;
	bool sized;
	uoff_t vsize = 0;

	if (!need_bytes &&
	    (mail->data.wanted_fields & MAIL_FETCH_VIRTUAL_SIZE) != 0) {
		/* RFC822.SIZE isn't in access_part: the CRLF size is found
		   by reading the message, unless it's cached. Without this
		   a client's first FETCH 1:* (FLAGS RFC822.SIZE) would read
		   every message with its own store call. */
		need_bytes = !index_mail_get_cached_virtual_size(mail, &vsize);
	}
	if (!need_bytes || mail->data.stream != NULL ||
	    _mail->saving || uid == 0 ||
	    hash_table_lookup(mbox->bodies, POINTER_CAST(uid)) != NULL) {
		/* nothing to read from the store */
		return TRUE;
	}
	sized = index_mail_get_cached_virtual_size(mail, &vsize);
	if (sized && vsize > LDAPMDA_PREFETCH_BIG) {
		/* read when wanted, not held in a batch */
		return TRUE;
	}
	/* The bytes will be wanted: queue the UID (unless its search went
	   ahead already) and report "not ready", so the search prefetches
	   the next mails too. Half a window queued goes ahead. */
	if (array_count(&mbox->prefetch) >= LDAPMDA_PREFETCH_MAX)
		ldapmda_prefetch_clear(mbox);
	if (hash_table_lookup(mbox->ahead, POINTER_CAST(uid)) == NULL) {
		ldapmda_prefetch_item(_mail,
				      array_append_space(&mbox->prefetch));
		mbox->prefetch_bytes += sized ? vsize : 0;
		ldapmda_mailbox_read_ahead(mbox);
	}
	return FALSE;
}

static int
ldapmda_mail_get_stream(struct mail *_mail, bool get_body ATTR_UNUSED,
			struct message_size *hdr_size,
			struct message_size *body_size,
			struct istream **stream_r)
{
	struct index_mail *mail = INDEX_MAIL(_mail);
	struct ldapmda_mailbox *mbox = LDAPMDA_MAILBOX(_mail->box);
	buffer_t *body;

	if (mail->data.stream == NULL) {
		/* honours lookup_abort (e.g. "only if cached") */
		if (!mail_stream_access_start(_mail))
			return -1;
		if (_mail->saving) {
			/* the message being saved is in the save context,
			   which sets data.stream itself */
			mail_set_critical(_mail, "ldapmda: no stream for a "
					  "mail being saved");
			return -1;
		}
		if (ldapmda_mailbox_get_body(mbox, _mail, &body) < 0)
			return -1;
		/* the whole message is in memory anyway: ldapmda stores
		   messages as LDAP attribute values */
		mail->data.stream = i_stream_create_copy_from_data(body->data,
								   body->used);
		buffer_free(&body);
		i_stream_set_name(mail->data.stream,
			t_strdup_printf("ldapmda:%s/%u", _mail->box->name,
					_mail->uid));
		if (mail->mail.v.istream_opened != NULL) {
			if (mail->mail.v.istream_opened(_mail,
							&mail->data.stream) < 0) {
				i_stream_unref(&mail->data.stream);
				return -1;
			}
		}
	}
	return index_mail_init_stream(mail, hdr_size, body_size, stream_r);
}

/* ---- what the store knows ---- */

static int ldapmda_mail_get_received_date(struct mail *_mail, time_t *date_r)
{
	struct index_mail *mail = INDEX_MAIL(_mail);
	const struct ldapmda_msg_meta *meta;

	if (index_mail_get_received_date(_mail, date_r) == 0)
		return 0;
	if (_mail->saving) {
		*date_r = ioloop_time;
		return 0;
	}
	if (ldapmda_mail_get_meta(_mail, &meta) < 0)
		return -1;
	/* index_mail_close() adds it to the cache */
	mail->data.received_date = meta->received;
	*date_r = meta->received;
	return 0;
}

static int ldapmda_mail_get_save_date(struct mail *_mail, time_t *date_r)
{
	if (index_mail_get_save_date(_mail, date_r) > 0)
		return 1;
	/* the store keeps no separate save date: use INTERNALDATE */
	if (ldapmda_mail_get_received_date(_mail, date_r) < 0)
		return -1;
	return 0;
}

static int ldapmda_mail_get_physical_size(struct mail *_mail, uoff_t *size_r)
{
	struct index_mail *mail = INDEX_MAIL(_mail);
	const struct ldapmda_msg_meta *meta;
	uoff_t size;

	if (index_mail_get_physical_size(_mail, size_r) == 0)
		return 0;
	if (mail->data.stream != NULL &&
	    i_stream_get_size(mail->data.stream, TRUE, &size) > 0) {
		*size_r = size;
		return 0;
	}
	if (ldapmda_mail_get_meta(_mail, &meta) < 0)
		return -1;
	/* index_mail_close() adds it to the cache */
	mail->data.physical_size = meta->size;
	*size_r = meta->size;
	return 0;
}

static int
ldapmda_mail_get_guid(struct mail *_mail, const char **value_r)
{
	struct index_mail *mail = INDEX_MAIL(_mail);
	const struct ldapmda_msg_meta *meta;
	unsigned int cache_idx =
		mail->ibox->cache_fields[MAIL_CACHE_GUID].idx;
	string_t *str;

	if (mail->data.guid != NULL) {
		*value_r = mail->data.guid;
		return 0;
	}
	str = str_new(mail->mail.data_pool, 64);
	if (!_mail->saving &&
	    mail_cache_lookup_field(_mail->transaction->cache_view, str,
				    _mail->seq, cache_idx) > 0) {
		mail->data.guid = str_c(str);
		*value_r = mail->data.guid;
		return 0;
	}
	if (_mail->saving) {
		/* the save context sets data.guid when the store has
		   answered; before that there is none */
		*value_r = "";
		return 0;
	}
	if (ldapmda_mail_get_meta(_mail, &meta) < 0)
		return -1;
	mail->data.guid = p_strdup(mail->mail.data_pool, meta->guid);
	index_mail_cache_add(mail, MAIL_CACHE_GUID, meta->guid,
			     strlen(meta->guid));
	*value_r = mail->data.guid;
	return 0;
}

static int
ldapmda_mail_get_special(struct mail *_mail, enum mail_fetch_field field,
			 const char **value_r)
{
	switch (field) {
	case MAIL_FETCH_GUID:
		return ldapmda_mail_get_guid(_mail, value_r);
	default:
		break;
	}
	return index_mail_get_special(_mail, field, value_r);
}

struct mail_vfuncs ldapmda_mail_vfuncs = {
	.close = index_mail_close,
	.free = index_mail_free,
	.set_seq = index_mail_set_seq,
	.set_uid = index_mail_set_uid,
	.set_uid_cache_updates = index_mail_set_uid_cache_updates,
	.prefetch = ldapmda_mail_prefetch,
	.precache = index_mail_precache,
	.add_temp_wanted_fields = index_mail_add_temp_wanted_fields,

	.get_flags = index_mail_get_flags,
	.get_keywords = index_mail_get_keywords,
	.get_keyword_indexes = index_mail_get_keyword_indexes,
	.get_modseq = index_mail_get_modseq,
	.get_pvt_modseq = index_mail_get_pvt_modseq,
	.get_parts = index_mail_get_parts,
	.get_date = index_mail_get_date,
	.get_received_date = ldapmda_mail_get_received_date,
	.get_save_date = ldapmda_mail_get_save_date,
	/* RFC822.SIZE is the CRLF size: parsed from the bytes once, then
	   cached (the store's size is the raw, possibly LF-only, size) */
	.get_virtual_size = index_mail_get_virtual_size,
	.get_physical_size = ldapmda_mail_get_physical_size,
	.get_first_header = index_mail_get_first_header,
	.get_headers = index_mail_get_headers,
	.get_header_stream = index_mail_get_header_stream,
	.get_stream = ldapmda_mail_get_stream,
	.get_binary_stream = index_mail_get_binary_stream,
	.get_special = ldapmda_mail_get_special,
	.get_backend_mail = index_mail_get_backend_mail,
	.update_flags = index_mail_update_flags,
	.update_keywords = index_mail_update_keywords,
	.update_modseq = index_mail_update_modseq,
	.update_pvt_modseq = index_mail_update_pvt_modseq,
	.update_pop3_uidl = NULL,
	.expunge = index_mail_expunge,
	.set_cache_corrupted = index_mail_set_cache_corrupted,
	.istream_opened = index_mail_opened,
};
