/* ldapmda-save.c: APPEND (and COPY/MOVE, via the generic save path).

   Modelled on imapc-save.c, because the situation is the same: the
   authority (here the store) assigns the UID when the message is stored,
   and other servers may store messages at the same time. So:
   - save_finish() sends the message to the store right away
     (ldapmda_store_append: flags, keywords, received date) and gets its
     UID and GUID;
   - a temporary index record (UID 0) makes dest_mail usable for plugins
     until commit, then commit_pre() drops those records again;
   - the UIDs go back to the client (APPENDUID/COPYUID) through
     changes->saved_uids; the messages enter the index with the next sync,
     with their real UIDs, exactly as any other new message;
   - a rollback expunges from the store what this transaction created (but
     not a message that was already there: the store answers an append of
     identical bytes with the existing message). */

#include "lib.h"
#include "array.h"
#include "istream.h"
#include "ostream.h"
#include "str.h"
#include "seq-range-array.h"
#include "mail-copy.h"
#include "ldapmda-storage.h"

struct ldapmda_save_context {
	struct mail_save_context ctx;

	struct ldapmda_mailbox *mbox;
	struct mail_index_transaction *trans;
	struct istream *input;
	buffer_t *buf;

	/* the store's state before our first append, to tell messages we
	   created from existing ones (identical bytes) */
	bool status_known;
	uint32_t uid_validity, uid_next_before;

	ARRAY_TYPE(seq_range) saved_uids;
	ARRAY_TYPE(uint32_t) created_uids;
	unsigned int appended_count; /* successful store appends */
	unsigned int temp_count;     /* temporary index records */

	bool failed:1;
	bool finished:1;
};

#define LDAPMDA_SAVECTX(s) (container_of(s, struct ldapmda_save_context, ctx))

const char *const *
ldapmda_keywords_to_names(struct mail_index *index,
			  const struct mail_keywords *keywords)
{
	const ARRAY_TYPE(keywords) *names = mail_index_get_keywords(index);
	const char **ret;
	unsigned int i;

	if (keywords == NULL) {
		ret = t_new(const char *, 1);
		return ret;
	}
	ret = t_new(const char *, keywords->count + 1);
	for (i = 0; i < keywords->count; i++)
		ret[i] = array_idx_elem(names, keywords->idx[i]);
	return ret;
}

struct mail_save_context *
ldapmda_save_alloc(struct mailbox_transaction_context *t)
{
	struct ldapmda_save_context *ctx;

	i_assert((t->flags & MAILBOX_TRANSACTION_FLAG_EXTERNAL) != 0);

	if (t->save_ctx == NULL) {
		ctx = i_new(struct ldapmda_save_context, 1);
		ctx->ctx.transaction = t;
		ctx->mbox = LDAPMDA_MAILBOX(t->box);
		ctx->trans = t->itrans;
		ctx->finished = TRUE;
		i_array_init(&ctx->saved_uids, 8);
		i_array_init(&ctx->created_uids, 8);
		t->save_ctx = &ctx->ctx;
	}
	return t->save_ctx;
}

int ldapmda_save_begin(struct mail_save_context *_ctx, struct istream *input)
{
	struct ldapmda_save_context *ctx = LDAPMDA_SAVECTX(_ctx);
	struct mailbox *box = _ctx->transaction->box;
	struct ldapmda_store *store;
	struct ldapmda_folder_status status;
	int ret;

	ctx->failed = FALSE;
	ctx->finished = FALSE;
	if (!ctx->status_known) {
		/* one status call per transaction: fail early during an
		   outage, and know which UIDs will be new */
		if (ldapmda_mailbox_get_store(ctx->mbox, &store) < 0) {
			ctx->failed = TRUE;
			return -1;
		}
		ret = ldapmda_store_folder_status(store, box->name, &status);
		if (ret < 0) {
			ldapmda_storage_set_error(box->storage, ret,
				ldapmda_store_error(store),
				t_strdup_printf("status(%s)", box->name));
			ctx->failed = TRUE;
			return -1;
		}
		ctx->status_known = TRUE;
		ctx->uid_validity = status.uid_validity;
		ctx->uid_next_before = status.uid_next;
	}

	/* The store takes the message in one piece (an LDAP attribute
	   value), so collect it in memory. Bytes are stored exactly as
	   the client sent them. */
	if (ctx->buf == NULL)
		ctx->buf = buffer_create_dynamic(default_pool, 8192);
	else
		buffer_set_used_size(ctx->buf, 0);
	ctx->input = input;
	i_stream_ref(input);
	_ctx->data.output = o_stream_create_buffer(ctx->buf);
	return 0;
}

int ldapmda_save_continue(struct mail_save_context *_ctx)
{
	struct ldapmda_save_context *ctx = LDAPMDA_SAVECTX(_ctx);

	if (ctx->failed)
		return -1;
	if (index_storage_save_continue(_ctx, ctx->input, NULL) < 0) {
		ctx->failed = TRUE;
		return -1;
	}
	return 0;
}

/* dest_mail must work until commit (plugins read it), so give it a
   temporary index record and the saved bytes */
static void
ldapmda_save_add_temp_record(struct ldapmda_save_context *ctx,
			     const char *guid)
{
	struct mail_save_context *_ctx = &ctx->ctx;
	struct mail_save_data *mdata = &_ctx->data;
	struct mail *_mail = _ctx->dest_mail;
	struct index_mail *imail = INDEX_MAIL(_mail);
	struct istream *input;
	uint32_t seq;

	mail_index_append(ctx->trans, 0, &seq);
	mail_index_update_flags(ctx->trans, seq, MODIFY_REPLACE,
				mdata->flags & MAIL_FLAGS_NONRECENT);
	if (mdata->keywords != NULL) {
		mail_index_update_keywords(ctx->trans, seq, MODIFY_REPLACE,
					   mdata->keywords);
	}
	mail_set_seq_saving(_mail, seq);
	/* the record goes away at commit: nothing to cache for it */
	imail->data.no_caching = TRUE;
	imail->data.forced_no_caching = TRUE;
	imail->data.guid = p_strdup(imail->mail.data_pool, guid);
	imail->data.stream = i_stream_create_copy_from_data(ctx->buf->data,
							    ctx->buf->used);
	/* the saved stream wasn't read through mail_get_stream(), mark it
	   accessed anyway (as imapc does), and let index_mail set up its
	   stream handling (destroy callback, sizes) */
	_mail->mail_stream_accessed = TRUE;
	if (index_mail_init_stream(imail, NULL, NULL, &input) < 0)
		mail_storage_clear_error(_mail->box->storage);
	ctx->temp_count++;
}

int ldapmda_save_finish(struct mail_save_context *_ctx)
{
	struct ldapmda_save_context *ctx = LDAPMDA_SAVECTX(_ctx);
	struct mailbox *box = _ctx->transaction->box;
	struct mail_save_data *mdata = &_ctx->data;
	struct ldapmda_store *store;
	const char *guid;
	uint32_t uid;
	int ret;

	ctx->finished = TRUE;
	if (!ctx->failed && _ctx->data.output != NULL &&
	    o_stream_finish(_ctx->data.output) < 0) {
		mail_set_critical(_ctx->dest_mail, "save: write(%s) failed: %s",
				  o_stream_get_name(_ctx->data.output),
				  o_stream_get_error(_ctx->data.output));
		ctx->failed = TRUE;
	}
	if (!ctx->failed && ldapmda_mailbox_get_store(ctx->mbox, &store) < 0)
		ctx->failed = TRUE;
	if (!ctx->failed) T_BEGIN {
		const char *const *kw =
			ldapmda_keywords_to_names(box->index, mdata->keywords);
		time_t received = mdata->received_date == (time_t)-1 ? 0 :
			mdata->received_date;

		ret = ldapmda_store_append(store, box->name,
			(const char *)ctx->buf->data, ctx->buf->used, received,
			mdata->flags & MAIL_FLAGS_NONRECENT, kw, &uid, &guid);
		if (ret < 0) {
			ldapmda_storage_set_error(box->storage, ret,
				ldapmda_store_error(store),
				t_strdup_printf("append(%s)", box->name));
			ctx->failed = TRUE;
		} else {
			/* a UID below the UIDNEXT seen before our first
			   append was there already (identical bytes) */
			if (uid >= ctx->uid_next_before &&
			    !seq_range_exists(&ctx->saved_uids, uid))
				array_push_back(&ctx->created_uids, &uid);
			seq_range_array_add(&ctx->saved_uids, uid);
			ctx->appended_count++;
			ldapmda_save_add_temp_record(ctx, guid);
		}
	} T_END;

	o_stream_unref(&_ctx->data.output);
	i_stream_unref(&ctx->input);
	index_save_context_free(_ctx);
	return ctx->failed ? -1 : 0;
}

void ldapmda_save_cancel(struct mail_save_context *_ctx)
{
	struct ldapmda_save_context *ctx = LDAPMDA_SAVECTX(_ctx);

	ctx->failed = TRUE;
	(void)ldapmda_save_finish(_ctx);
}

int ldapmda_copy(struct mail_save_context *ctx, struct mail *mail)
{
	/* The generic copy reads the source and saves it like an APPEND.
	   A store-side copy call would save the upload; see the notes. */
	return mail_storage_copy(ctx, mail);
}

static void ldapmda_save_free(struct ldapmda_save_context *ctx)
{
	array_free(&ctx->saved_uids);
	array_free(&ctx->created_uids);
	buffer_free(&ctx->buf);
	i_free(ctx);
}

int ldapmda_transaction_save_commit_pre(struct mail_save_context *_ctx)
{
	struct ldapmda_save_context *ctx = LDAPMDA_SAVECTX(_ctx);
	struct mailbox_transaction_context *t = _ctx->transaction;
	struct mail_transaction_commit_changes *changes = t->changes;
	uint32_t i, last_seq;

	i_assert(ctx->finished);

	/* Drop the temporary records (they can only be removed from the
	   last one backwards). The messages are in the store; the next
	   sync adds them with their real UIDs. */
	last_seq = mail_index_view_get_messages_count(t->view);
	for (i = 0; i < ctx->temp_count; i++)
		mail_index_expunge(ctx->trans, last_seq - i);
	ctx->temp_count = 0;

	if (ctx->appended_count > 0 && changes != NULL) {
		changes->uid_validity = ctx->uid_validity;
		/* imap asserts that it gets one UID per saved message. If
		   identical messages collapsed into one UID, report none
		   (a plain "OK Append completed"). */
		if (seq_range_count(&ctx->saved_uids) == ctx->appended_count) {
			array_append_array(&changes->saved_uids,
					   &ctx->saved_uids);
		}
	}
	return 0;
}

void ldapmda_transaction_save_commit_post(struct mail_save_context *_ctx,
		struct mail_index_transaction_commit_result *result ATTR_UNUSED)
{
	struct ldapmda_save_context *ctx = LDAPMDA_SAVECTX(_ctx);

	_ctx->transaction = NULL; /* it's already freed */
	ldapmda_save_free(ctx);
}

void ldapmda_transaction_save_rollback(struct mail_save_context *_ctx)
{
	struct ldapmda_save_context *ctx = LDAPMDA_SAVECTX(_ctx);
	struct mailbox *box = &ctx->mbox->box;
	struct ldapmda_store *store;
	uint32_t uid;
	int ret;

	if (!ctx->finished)
		ldapmda_save_cancel(_ctx);

	/* The store has no transactions: undo what we created, best
	   effort (a failure leaves an extra message, never loses one). */
	if (array_count(&ctx->created_uids) > 0 &&
	    ldapmda_mailbox_get_store(ctx->mbox, &store) == 0) {
		array_foreach_elem(&ctx->created_uids, uid) {
			ret = ldapmda_store_expunge(store, box->name, uid);
			if (ret < 0 && ret != LDAPMDA_ERR_NOTFOUND) {
				e_error(box->event, "ldapmda: rollback: "
					"expunge(%s, %u) failed: %s", box->name,
					uid, ldapmda_store_error(store));
			}
		}
	}
	ldapmda_save_free(ctx);
}
