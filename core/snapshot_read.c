/* snapshot_read.c - reading a payload: a bounded line buffer over a
 * bk_source_fn, each line checked (snapshot_check.c) before anyone sees
 * it, in a pipeline of two threads.
 *
 * Memory is bounded whatever the payload's size: one buffer that holds
 * at least one line (at most BK_SNAP_LINE_MAX bytes), one parsed line,
 * and the set of domain names seen.
 *
 * Resource lines in the form backupfs writes them (nearly all of a
 * payload) are read by bk_snap_res_parse (snapshot_parse.c) into the
 * batch's arena, without json-c: json-c's objects were two thirds of a
 * restore's reading thread.  Any other line, or a resource line in any
 * other form, goes through json-c, and both meet the same checks.
 *
 * Key material arrives in clear base64.  After each line that carried
 * some, every copy is wiped: the decoded bytes, the line in our buffer,
 * its copy in the arena or the string json-c made of it, and the
 * tokener's scratch buffer (json-c copies each string it parses there; it
 * is grown once, up front, so that it is never reallocated while holding
 * material).
 */
#include "snapshot_int.h"
#include "fault.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto.h"
#include "restore_ids.h"
#include "snapshot_parse.h"

#define READ_CHUNK (256 * 1024)
#define BUF_MAX (BK_SNAP_LINE_MAX + READ_CHUNK)

/* ---- the line reader ---- */

struct reader {
	bk_source_fn source;
	void *arg;
	char *buf;
	size_t cap;
	size_t start;		/* first byte of the next line */
	size_t scan;		/* no newline in [start, scan) */
	size_t end;		/* bytes in buf */
	int eof;
	long lineno;
};

static int reader_grow(struct reader *r, struct bk_err *err)
{
	size_t cap = r->cap * 2 > BUF_MAX ? BUF_MAX : r->cap * 2;
	char *p;

	p = malloc(cap);
	if (!p)
		return bk_errf(err, -ENOMEM, "out of memory");
	memcpy(p, r->buf, r->end);
	OPENSSL_cleanse(r->buf, r->cap);
	free(r->buf);
	r->buf = p;
	r->cap = cap;
	return 0;
}

/* 1 and the next line (NUL-terminated in place, newline removed;
 * borrowed until the next call), 0 at the end, or a negative errno. */
static int reader_next(struct reader *r, char **line, size_t *len,
		       struct bk_err *err)
{
	char *nl;
	ssize_t n;
	int ret;

	for (;;) {
		nl = memchr(r->buf + r->scan, '\n', r->end - r->scan);
		if (nl) {
			*nl = '\0';
			*line = r->buf + r->start;
			*len = (size_t)(nl - *line);
			r->start = r->scan = (size_t)(nl - r->buf) + 1;
			break;
		}
		r->scan = r->end;
		if (r->end - r->start > BK_SNAP_LINE_MAX)
			return bk_errf(err, -EINVAL,
				       "payload line %ld is too long (more than %d bytes)",
				       r->lineno + 1, BK_SNAP_LINE_MAX);
		if (r->eof) {
			if (r->start == r->end)
				return 0;
			/* A last line without its newline. */
			r->buf[r->end] = '\0';
			*line = r->buf + r->start;
			*len = r->end - r->start;
			r->start = r->scan = r->end;
			break;
		}
		if (r->start) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->end -= r->start;
			r->scan -= r->start;
			r->start = 0;
		}
		if (r->cap - r->end < READ_CHUNK / 2 && r->cap < BUF_MAX &&
		    (ret = reader_grow(r, err)))
			return ret;
		n = r->source(r->arg, r->buf + r->end, r->cap - r->end - 1, err);
		if (n < 0) {
			if (err && !err->msg[0])
				bk_errf(err, (int)n, "cannot read the payload");
			return (int)n;
		}
		if (n == 0)
			r->eof = 1;
		r->end += (size_t)n;
	}
	r->lineno++;
	return 1;
}

/* ---- the pipeline ----
 *
 * With a call-back (a restore), lines are read and checked in a thread of
 * their own while the calling thread runs the call-back (SQLite) on the
 * lines before them: a restore's time was half parsing, checking and
 * decoding, half inserting.  Batches of checked lines pass between the
 * two in order; PIPE_BATCHES of them at most, each of at most PIPE_ITEMS
 * lines or about PIPE_BYTES, bound the memory.  The checking thread also
 * wraps the material (bk_snapshot_read_wrapped) and frees the lines the
 * call-back is done with, so that the calling thread does little more
 * than SQLite.  A line's copies of its material are wiped by the checking
 * thread as soon as it is checked; the decoded (or wrapped) bytes travel
 * with the line and are wiped before they are freed.  Without a call-back (bk_snapshot_check), or if the thread
 * cannot start, one thread does both, batch by batch. */
#define PIPE_ITEMS BK_SNAP_BATCH_ROWS
#define PIPE_BYTES (1024 * 1024)
#define PIPE_BATCHES 4
/* A batch's resource lines, unescaped by bk_snap_res_parse: the batch
 * ends once PIPE_BYTES are in, so a line shorter than the slack always
 * fits; a longer one goes through json-c. */
#define ARENA (PIPE_BYTES + 64 * 1024)

struct item {
	json_object *o;			/* NULL: a resource bk_snap_res_parse read */
	const char *t;			/* its kind (in o, or a literal) */
	int is_res;
	struct bk_snap_res res;		/* a resource: in o or in the arena */
	uint8_t *mat;
	size_t mlen;
	int id_known;			/* BK_IDSET_*: p->ids's word */
	long lineno;
};

struct batch {
	struct item v[PIPE_ITEMS];
	int n;
	char *arena;			/* ARENA bytes: the lines parsed here */
	size_t used;
	int full;			/* checked, not yet handed over */
	int last;			/* the checking thread's last batch */
	int ret;			/* with last: 0 at the end, or an error */
	long lineno;			/* the line of a check error; 0 */
	struct bk_err e;
};

struct pipe {
	struct reader r;
	struct bk_snap_state st;
	struct bk_rot *rot;		/* wrap material with it; NULL: no */
	const char *domain;		/* for this domain; NULL: the row's */
	const struct bk_idset *ids;	/* ask it of each resource's id */
	int end_consumed;		/* the end line went through consume */
	struct batch b[PIPE_BATCHES];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop;
};

static void item_free(struct item *it)
{
	if (it->mat) {
		OPENSSL_cleanse(it->mat, it->mlen);
		free(it->mat);
	}
	json_object_put(it->o);
	memset(it, 0, sizeof(*it));
}

/* Replaces the clear material of b's lines idx[0 .. n) by the material
 * wrapped with rot, all at once (bk_rot_wrap_many): 0, or the error, and
 * then the batch ends before idx[0]: no line is handed over with its
 * material in clear. */
static int wrap_group(struct batch *b, struct bk_rot *rot, const int *idx,
		      int n)
{
	const uint8_t *in[PIPE_ITEMS] = { 0 };	/* gcc -O3: n > 0 */
	size_t len[PIPE_ITEMS] = { 0 }, wlen[PIPE_ITEMS], failed = 0;
	uint8_t *out[PIPE_ITEMS];
	struct item *it;
	int j, ret;

	for (j = 0; j < n; j++) {
		in[j] = b->v[idx[j]].mat;
		len[j] = b->v[idx[j]].mlen;
	}
	ret = bk_rot_wrap_many(rot, in, len, out, wlen, (size_t)n, &failed,
			       &b->e);
	if (ret) {
		b->last = 1;
		b->ret = ret;
		b->lineno = b->v[idx[failed]].lineno;
		while (b->n > idx[0])
			item_free(&b->v[--b->n]);
		return ret;
	}
	for (j = 0; j < n; j++) {
		it = &b->v[idx[j]];
		OPENSSL_cleanse(it->mat, it->mlen);
		free(it->mat);
		it->mat = out[j];
		it->mlen = wlen[j];
	}
	return 0;
}

/* Wraps the material of b's lines with the key of their domain
 * (p->domain, else the row's own), the lines of one key together. */
static void wrap_batch(struct pipe *p, struct batch *b)
{
	struct bk_rot *rot, *cur = NULL;
	int idx[PIPE_ITEMS], n = 0;

	for (int k = 0; k < b->n; k++) {
		struct item *it = &b->v[k];

		if (!it->mat)
			continue;
		rot = bk_rot_for(p->rot, p->domain ? p->domain :
				 it->res.domain);
		if (n && rot != cur) {
			if (wrap_group(b, cur, idx, n))
				return;
			n = 0;
		}
		cur = rot;
		idx[n++] = k;
	}
	if (n)
		wrap_group(b, cur, idx, n);
}

/* A resource line in the form backupfs writes, parsed into b's arena and
 * checked: 0, an error, or 1 if it is not one (json-c parses it then). */
static int check_fast(struct pipe *p, struct batch *b, struct item *it,
		      char *line, size_t len, struct bk_err *err)
{
	char *out;
	int ret;

	if (p->r.lineno == 1 || p->st.ended || len + 1 > ARENA - b->used)
		return 1;
	if (!b->arena && !(b->arena = malloc(ARENA)))
		return 1;
	out = b->arena + b->used;
	if (bk_snap_res_parse(line, len, out, &it->res) != 1) {
		OPENSSL_cleanse(out, len + 1);	/* may hold material */
		return 1;
	}
	b->used += len + 1;
	it->t = "resource";
	it->is_res = 1;
	ret = bk_snap_check_resource(&p->st, &it->res, &it->mat, &it->mlen, err);
	if (it->res.b64) {
		OPENSSL_cleanse((char *)it->res.b64, it->res.b64_len);
		OPENSSL_cleanse(line, len);
	}
	return ret;
}

/* Reads and checks lines into b until it is full, at the end of the
 * payload, or at an error. */
static void produce(struct pipe *p, struct batch *b)
{
	size_t len = 0, bytes = 0;
	char *line = NULL;
	int ret;

	while (b->n > 0)		/* the lines handed over last time */
		item_free(&b->v[--b->n]);
	b->used = 0;
	b->last = 0;
	b->ret = 0;
	b->lineno = 0;
	memset(&b->e, 0, sizeof(b->e));
	while (b->n < PIPE_ITEMS && bytes < PIPE_BYTES && !b->last) {
		struct item *it = &b->v[b->n];

		ret = reader_next(&p->r, &line, &len, &b->e);
		if (ret != 1) {
			b->last = 1;
			b->ret = ret;
			break;
		}
		memset(it, 0, sizeof(*it));
		ret = check_fast(p, b, it, line, len, &b->e);
		if (ret > 0) {		/* not in the usual form: json-c */
			ret = bk_snap_check_line(&p->st, p->r.lineno, line, len,
						 &it->o, &it->t, &it->res,
						 &it->mat, &it->mlen, &b->e);
			if (it->mat || (it->o && json_object_object_get_ex(
						it->o, "material", NULL)))
				bk_snap_wipe_line(&p->st, it->o, line, len);
			it->is_res = it->t && !strcmp(it->t, "resource");
		}
		if (!ret && it->is_res && p->ids)
			it->id_known = bk_idset_find(p->ids, it->res.id,
						     it->res.id_len);
		if (ret) {
			item_free(it);
			b->last = 1;
			b->ret = ret;
			b->lineno = p->r.lineno;
			break;
		}
		it->lineno = p->r.lineno;
		b->n++;
		bytes += len;
	}
	if (p->rot)
		wrap_batch(p, b);
}

static void *producer(void *arg)
{
	struct pipe *p = arg;
	struct batch *b;
	uint64_t i;
	int last = 0;

	for (i = 0; !last; i++) {
		b = &p->b[i % PIPE_BATCHES];
		pthread_mutex_lock(&p->lock);
		while (b->full && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		last = p->stop;
		pthread_mutex_unlock(&p->lock);
		if (last)
			break;
		produce(p, b);
		last = b->last;
		pthread_mutex_lock(&p->lock);
		b->full = 1;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

/* ret, with e's words in err after the line they are about (0: none). */
static int line_error(struct bk_err *err, int ret, long lineno,
		      const struct bk_err *e)
{
	const char *why = e->msg[0] ? e->msg : "refused";

	if (lineno)
		return bk_errf(err, ret, "payload line %ld: %s", lineno, why);
	return bk_errf(err, ret, "%s", why);
}

/* flush's error, in words with the line it names. */
static int flushed(bk_flush_fn flush, void *cb_arg, struct bk_err *err)
{
	struct bk_err e = { 0 };
	long lineno = 0;
	int ret;

	ret = flush(cb_arg, &lineno, &e);
	return ret ? line_error(err, ret, lineno, &e) : 0;
}

/* Hands b's lines to cb in order, and calls flush before each line that
 * is not a resource and at the end; 0, or the error (in err). */
static int consume(struct pipe *p, struct batch *b, bk_row_fn cb,
		   bk_flush_fn flush, void *cb_arg, bk_progress_fn progress,
		   void *progress_arg, uint64_t *rows, struct bk_err *err)
{
	struct bk_err e = { 0 };
	int ret = 0;

	for (int k = 0; k < b->n; k++) {
		struct item *it = &b->v[k];

		if (!strcmp(it->t, "end"))
			p->end_consumed = 1;
		if (!ret && cb && flush && !it->is_res)
			ret = flushed(flush, cb_arg, err);
		if (!ret && cb) {
			struct bk_snap_row row = {
				.t = it->t,
				.o = it->is_res ? NULL : it->o,
				.res = it->is_res ? &it->res : NULL,
				.material = it->mat,
				.material_len = it->mat ? it->mlen : 0,
				.id_known = it->id_known,
				.lineno = it->lineno,
			};

			ret = cb(cb_arg, &row, &e);
			if (ret)
				line_error(err, ret, it->lineno, &e);
		}
		if (!ret && progress && strcmp(it->t, "end")) {
			if (it->lineno == 1)
				progress(progress_arg, 0, p->st.total > 0 ?
					 (uint64_t)p->st.total : 0);
			else if (++*rows % BK_SNAP_PROGRESS_EVERY == 0)
				progress(progress_arg, *rows, p->st.total > 0 ?
					 (uint64_t)p->st.total : 0);
		}
	}
	if (!ret && cb && flush)
		ret = flushed(flush, cb_arg, err);
	if (ret || !b->last || !b->ret)
		return ret;
	if (b->lineno)
		return line_error(err, b->ret, b->lineno, &b->e);
	if (err)
		*err = b->e;		/* the reader's, in words already */
	return b->ret;
}

int bk_snapshot_read(bk_source_fn source, void *arg, bk_row_fn cb,
		     void *cb_arg, json_object *counts,
		     bk_progress_fn progress, void *progress_arg,
		     struct bk_err *err)
{
	return bk_snapshot_read_wrapped(source, arg, NULL, NULL, NULL, cb,
					NULL, cb_arg, counts, progress,
					progress_arg, err);
}

int bk_snapshot_read_wrapped(bk_source_fn source, void *arg,
			     struct bk_rot *rot, const char *domain,
			     const struct bk_idset *ids,
			     bk_row_fn cb, bk_flush_fn flush, void *cb_arg,
			     json_object *counts, bk_progress_fn progress,
			     void *progress_arg, struct bk_err *err)
{
	struct pipe *p = calloc(1, sizeof(*p));
	struct batch *b;
	pthread_t tid;
	uint64_t rows = 0, i;
	int threaded = 0, last, ret = 0;

	if (!p)
		return bk_errf(err, -ENOMEM, "out of memory");
	p->r.source = source;
	p->r.arg = arg;
	p->rot = rot;
	p->domain = domain;
	p->ids = ids;
	p->r.cap = READ_CHUNK;
	p->r.buf = malloc(p->r.cap);
	if (!p->r.buf || bk_snap_state_init(&p->st)) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	threaded = cb && pthread_create(&tid, NULL, producer, p) == 0;
	for (i = 0;; i++) {
		b = &p->b[i % PIPE_BATCHES];
		if (threaded) {
			pthread_mutex_lock(&p->lock);
			while (!b->full)
				pthread_cond_wait(&p->cond, &p->lock);
			pthread_mutex_unlock(&p->lock);
		} else {
			produce(p, b);
		}
		ret = consume(p, b, cb, flush, cb_arg, progress, progress_arg,
			      &rows, err);
		/* Read before b is handed back: the checking thread may
		 * refill it at once, and its last batch is a later one. */
		last = b->last;
		pthread_mutex_lock(&p->lock);
		b->full = 0;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
		bk_fault("snapshot.read.handback");	/* tests: let it */
		if (ret || last)
			break;
	}
	if (threaded) {
		pthread_mutex_lock(&p->lock);
		p->stop = 1;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
		pthread_join(tid, NULL);
	}
	for (i = 0; i < PIPE_BATCHES; i++) {	/* the last batches' lines */
		while (p->b[i].n > 0)
			item_free(&p->b[i].v[--p->b[i].n]);
		free(p->b[i].arena);
	}
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	if (ret < 0)
		goto out;
	if (p->st.ended && !p->end_consumed)	/* never: every line is */
		ret = bk_errf(err, -EIO, "the payload was not read to its end "
			      "line");
	else if (p->r.lineno == 0)
		ret = bk_errf(err, -EINVAL, "the payload is empty");
	else if (!p->st.ended)
		ret = bk_errf(err, -EINVAL,
			      "the payload ends after line %ld without its end line (truncated)",
			      p->r.lineno);
	if (ret)
		goto out;
	bk_snap_counts_json(p->st.n, counts);
	if (progress)
		progress(progress_arg, p->st.n[BK_C_TOTAL],
			 p->st.n[BK_C_TOTAL]);
out:
	if (p->r.buf) {
		OPENSSL_cleanse(p->r.buf, p->r.cap);
		free(p->r.buf);
	}
	bk_snap_state_free(&p->st);
	free(p);
	if (threaded)
		malloc_trim(0);	/* the thread's arena: see bk_snap_write_resources */
	return ret;
}

int bk_snapshot_check(bk_source_fn source, void *arg, struct bk_err *err)
{
	return bk_snapshot_read(source, arg, NULL, NULL, NULL, NULL, NULL,
				err);
}
