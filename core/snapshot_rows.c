/* snapshot_rows.c - the resource lines of a snapshot.
 *
 * Most of a snapshot's time is the unwrapping of key material (OpenSSL
 * 3.0's AES key wrap runs in software: about 5 us a key), so resource
 * lines are formatted by worker threads.  The calling thread, the only
 * one that touches SQLite (and so stays inside the snapshot's read
 * transaction), copies rows into batches - the material still wrapped -;
 * a worker turns a batch into lines (unwrap, check the fingerprint, build
 * the JSON); the calling thread hands the batches' lines to the sink in
 * order.  A ring of 6 * workers + 1 batches bounds the memory.  Small
 * snapshots, and one-CPU machines, format in the calling thread.
 *
 * Lines are written by hand (snapshot_line.c), as json-c printed them.
 * The attributes were serialised by json-c when they were stored, and are
 * emitted as stored (not parsed again for every row).
 *
 * Secrets: the material is unwrapped into the formatting thread's buffer
 * in the secure heap (allocated once, wiped after each row) and encoded
 * in base64 straight into the batch's output buffer, which is wiped once
 * the sink has it and whenever it grows.  No other buffer (no json-c
 * object, no temporary string) ever holds it, clear or encoded.
 */
#include "snapshot_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto.h"
#include "../hsm/rot.h"

#define BATCH_ROWS 256
/* A batch also stops filling past this many bytes of columns, so that
 * large attributes do not multiply the ring's memory. */
#define BATCH_BYTES (256 * 1024)
#define MAX_WORKERS 4

/* The query's columns. */
enum { C_ID, C_DOMAIN, C_TYPE, C_NAME, C_VERSION, C_ATTRS, C_MATERIAL,
       C_FP, C_CREATED, NCOLS };

static const char *const resources_sql[3] = {
	"SELECT id, domain, type, name, version, attrs, material,"
	" fingerprint, created_at FROM resources"
	" ORDER BY domain, type, name, version",
	"SELECT id, domain, type, name, version, attrs, material,"
	" fingerprint, created_at FROM resources WHERE domain = ?1"
	" ORDER BY domain, type, name, version",
	/* Filtered: driven by the selection (rows of the domain only), in
	 * its key's order - the order above, the domain being one - so no
	 * sort.  No constraint on r: one (even "r.domain = ?1") makes
	 * SQLite 3.38+ build a Bloom filter over the whole table first
	 * (120 ms at a million rows, for any selection). */
	"SELECT r.id, r.domain, r.type, r.name, r.version, r.attrs,"
	" r.material, r.fingerprint, r.created_at FROM " BK_FILTER_SEL " s"
	" CROSS JOIN main.resources r ON r.rowid = s.rid"
	" ORDER BY s.type, s.name, s.version",
};

/* The same rows in the same order, read in the table's order and sorted
 * (SQLite's sorter: in memory up to the page cache's size, then in
 * temporary files, SQLITE_TMPDIR or /var/tmp; material is wrapped).  A
 * filtered snapshot is read in its selection's order: never sorted. */
static const char *const sorted_sql[3] = {
	"SELECT id, domain, type, name, version, attrs, material,"
	" fingerprint, created_at FROM resources NOT INDEXED"
	" ORDER BY domain, type, name, version",
	"SELECT id, domain, type, name, version, attrs, material,"
	" fingerprint, created_at FROM resources NOT INDEXED"
	" WHERE domain = ?1 ORDER BY domain, type, name, version",
	NULL,
};

/* Rows of the name index's order looked at, in each of 4 windows. */
#define SAMPLE 256
/* Rows this many rowids apart are on other pages of the table. */
#define FAR 32

int bk_snap_rows_scattered(struct bk_store *s, const char *domain,
			   uint64_t rows)
{
	sqlite3 *db = bk_store_db(s);
	sqlite3_stmt *st = NULL;
	sqlite3_int64 prev = 0, id;
	int pairs = 0, far = 0, rc;

	if (rows < 4 * SAMPLE)
		return 0;
	/* A domain that is a small part of the table: reading the whole
	 * table would cost more than the random reads. */
	if (domain && bk_store_resources_estimate(db) > 2 * (long long)rows)
		return 0;
	rc = sqlite3_prepare_v2(db, domain ?
		"SELECT rowid FROM resources WHERE domain = ?1"
		" ORDER BY domain, type, name, version LIMIT ?2 OFFSET ?3" :
		"SELECT rowid FROM resources"
		" ORDER BY domain, type, name, version LIMIT ?2 OFFSET ?3",
		-1, &st, NULL);
	if (rc != SQLITE_OK)
		return 0;
	for (int k = 0; k < 4; k++) {
		sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, SAMPLE);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)(rows * k / 4));
		for (int i = 0; sqlite3_step(st) == SQLITE_ROW; i++) {
			id = sqlite3_column_int64(st, 0);
			if (i) {
				pairs++;
				far += id - prev > FAR || prev - id > FAR;
			}
			prev = id;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return pairs && 2 * far > pairs;
}

/* A byte buffer that wipes what it leaves behind when it grows. */
struct buf {
	char *p;
	size_t len, cap;
};

static int buf_reserve(struct buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->cap - b->len >= n)
		return 0;
	cap = b->cap * 2 > b->len + n ? b->cap * 2 : b->len + n + 4096;
	p = malloc(cap);
	if (!p)
		return -ENOMEM;
	if (b->p) {
		memcpy(p, b->p, b->len);
		OPENSSL_cleanse(b->p, b->cap);
		free(b->p);
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

static void buf_free(struct buf *b)
{
	if (b->p) {
		OPENSSL_cleanse(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof(*b));
}

/* One row, its columns in the batch's cols buffer. */
struct row {
	size_t off[NCOLS];
	int len[NCOLS];			/* -1: NULL */
	long long version;
	int ti;				/* count index of the type */
};

enum { B_FREE, B_FILLED, B_BUSY, B_DONE };

struct batch {
	uint64_t seq;
	int state;
	int nrows;
	struct row rows[BATCH_ROWS];
	struct buf cols;		/* nothing secret: material is wrapped */
	struct buf out;			/* the lines, clear material included */
	int ret;
	struct bk_err err;
};

/* ---- formatting (any thread) ---- */

/* Column i of r (in cols) as a C string view. */
#define COL(cols, r, i) ((cols) + (r)->off[i])

/* A formatting thread's buffer for clear material: in the secure heap,
 * allocated once (an allocation per key took the secure heap's global
 * lock a million times a backup), wiped after each row. */
struct fmt {
	uint8_t *mat;			/* BK_ROT_WRAPPED_MAX bytes */
	EVP_MD_CTX *md;			/* for the fingerprints */
	/* The key of the last row's domain, within a batch: rows come
	 * sorted by domain, and bk_rot_for takes a lock the workers share. */
	const char *dom;		/* in the batch's cols; NULL: none */
	int dom_len;
	struct bk_rot *key;
};

static void fmt_free(struct fmt *f);

static int fmt_init(struct fmt *f)
{
	memset(f, 0, sizeof(*f));
	f->mat = bk_secure_alloc(BK_ROT_WRAPPED_MAX);
	f->md = EVP_MD_CTX_new();
	if (f->mat && f->md)
		return 0;
	fmt_free(f);
	return -ENOMEM;
}

static void fmt_free(struct fmt *f)
{
	if (f->mat)
		bk_secure_free(f->mat, BK_ROT_WRAPPED_MAX);
	f->mat = NULL;
	EVP_MD_CTX_free(f->md);	/* wipes what it held */
	f->md = NULL;
}

/* The key that wraps r's material: an HSM-anchored domain's is its own. */
static struct bk_rot *key_for(struct fmt *f, struct bk_rot *rot,
			      const char *cols, const struct row *r)
{
	const char *dom = COL(cols, r, C_DOMAIN);

	if (!f->dom || f->dom_len != r->len[C_DOMAIN] ||
	    memcmp(f->dom, dom, (size_t)f->dom_len)) {
		f->key = bk_rot_for(rot, dom);
		f->dom = dom;
		f->dom_len = r->len[C_DOMAIN];
	}
	return f->key;
}

/* Unwraps r's material into f->mat (*len bytes) and checks it against its
 * fingerprint.  On failure, f->mat is wiped. */
static int unwrap_row(struct fmt *f, struct bk_rot *rot, const char *cols,
		      const struct row *r, size_t *len, struct bk_err *err)
{
	struct bk_err e = { 0 };
	size_t wlen = (size_t)r->len[C_MATERIAL];
	char hex[65];
	int ret;

	ret = bk_rot_unwrap_into(key_for(f, rot, cols, r),
				 (const uint8_t *)COL(cols, r, C_MATERIAL),
				 wlen, f->mat, BK_ROT_WRAPPED_MAX, len, &e);
	if (ret) {
		OPENSSL_cleanse(f->mat, BK_ROT_WRAPPED_MAX);
		return bk_errf(err, ret,
			       "the material of '%s' (id %s) does not unwrap with this root of trust: %s",
			       COL(cols, r, C_NAME), COL(cols, r, C_ID), e.msg);
	}
	bk_sha256_hex_ctx(f->md, f->mat, *len, hex);
	if (r->len[C_FP] != 64 || memcmp(COL(cols, r, C_FP), hex, 64)) {
		OPENSSL_cleanse(f->mat, *len);
		return bk_errf(err, -EIO,
			       "the material of '%s' (id %s) does not match its fingerprint",
			       COL(cols, r, C_NAME), COL(cols, r, C_ID));
	}
	return 0;
}

/* The line's columns, as the writer takes them. */
static void line_of(const char *cols, const struct row *r,
		    struct bk_snap_line *l)
{
	l->id = COL(cols, r, C_ID);
	l->id_len = (size_t)r->len[C_ID];
	l->domain = COL(cols, r, C_DOMAIN);
	l->domain_len = (size_t)r->len[C_DOMAIN];
	l->type = COL(cols, r, C_TYPE);
	l->type_len = (size_t)r->len[C_TYPE];
	l->name = COL(cols, r, C_NAME);
	l->name_len = (size_t)r->len[C_NAME];
	l->version = r->version;
	l->attrs = COL(cols, r, C_ATTRS);
	l->attrs_len = (size_t)r->len[C_ATTRS];
	l->fp = r->len[C_FP] < 0 ? NULL : COL(cols, r, C_FP);
	l->fp_len = r->len[C_FP] < 0 ? 0 : (size_t)r->len[C_FP];
	l->created = COL(cols, r, C_CREATED);
	l->created_len = (size_t)r->len[C_CREATED];
}

static int format_row(struct fmt *f, struct bk_rot *rot, const char *cols,
		      const struct row *r, struct buf *out,
		      struct bk_err *err)
{
	struct bk_snap_line l;
	const uint8_t *mat = NULL;
	size_t mlen = 0;
	int ret = 0;

	if (r->len[C_ATTRS] < 2 || COL(cols, r, C_ATTRS)[0] != '{' ||
	    COL(cols, r, C_ATTRS)[r->len[C_ATTRS] - 1] != '}')
		return bk_errf(err, -EIO,
			       "resource %s has unreadable attributes",
			       COL(cols, r, C_ID));
	if (r->len[C_MATERIAL] >= 0) {
		ret = unwrap_row(f, rot, cols, r, &mlen, err);
		if (ret)
			return ret;
		mat = f->mat;
	}
	line_of(cols, r, &l);
	if (buf_reserve(out, bk_snap_line_max(&l, mlen)))
		ret = bk_errf(err, -ENOMEM, "out of memory");
	else
		out->len = (size_t)(bk_snap_line_write(out->p + out->len, &l,
						       mat, mlen) - out->p);
	if (mat)
		OPENSSL_cleanse(f->mat, mlen);
	return ret;
}

static void format_batch(struct fmt *f, struct bk_rot *rot, struct batch *b)
{
	b->ret = 0;
	f->dom = NULL;
	for (int i = 0; i < b->nrows && !b->ret; i++)
		b->ret = format_row(f, rot, b->cols.p, &b->rows[i], &b->out,
				    &b->err);
}

/* ---- reading rows (the calling thread) ---- */

/* Where batches are filled from: a query in the payload's order, or the
 * rows put in that order by snapshot_order.c. */
struct src {
	sqlite3_stmt *st;
	struct bk_snap_order *o;
};

/* A row as copied out of SQLite: this head, then its columns (all but
 * the version and the NULL ones), each followed by a NUL byte.  It is
 * also the record snapshot_order.c files. */
struct rec {
	long long version;
	int len[NCOLS];			/* -1: NULL; the version: 0 */
	int ti;				/* count index of the type */
};

/* The columns of st's row (column first + i being column i): their
 * bytes in v (valid until st steps again), their lengths in h, and the
 * bytes they take after h. */
static int view_row(sqlite3_stmt *st, int first, const void *v[NCOLS],
		    struct rec *h, size_t *size, struct bk_err *err)
{
	*size = 0;
	for (int i = 0; i < NCOLS; i++) {
		int c = first + i;

		v[i] = "";
		h->len[i] = 0;
		/* The version is written from h->version: its text would be
		 * a conversion and a copy a row for nothing. */
		if (i == C_VERSION)
			continue;
		/* NULL comes back as a null pointer; so do an empty blob
		 * and a failed allocation, which the type tells apart. */
		v[i] = i == C_MATERIAL ? sqlite3_column_blob(st, c) :
			(const void *)sqlite3_column_text(st, c);
		if (v[i]) {
			h->len[i] = sqlite3_column_bytes(st, c);
		} else if (sqlite3_column_type(st, c) == SQLITE_NULL) {
			h->len[i] = -1;
			v[i] = "";
			continue;
		} else if (i != C_MATERIAL) {
			return bk_errf(err, -ENOMEM, "out of memory");
		} else {
			v[i] = "";
		}
		*size += (size_t)h->len[i] + 1;
	}
	h->version = sqlite3_column_int64(st, first + C_VERSION);
	h->ti = h->len[C_TYPE] < 0 ? -1 : bk_snap_type_index(v[C_TYPE]);
	if (h->ti < 0 || h->len[C_ID] < 0 || h->len[C_DOMAIN] < 0 ||
	    h->len[C_NAME] < 0 || h->len[C_CREATED] < 0)
		return bk_errf(err, -EIO,
			       "resource %s is damaged (unknown type or missing column)",
			       h->len[C_ID] < 0 ? "?" : (const char *)v[C_ID]);
	return 0;
}

/* Writes the columns of view_row's v to dst. */
static void put_cols(char *dst, const void *const v[NCOLS],
		     const struct rec *h)
{
	for (int i = 0; i < NCOLS; i++) {
		if (i == C_VERSION || h->len[i] < 0)
			continue;
		memcpy(dst, v[i], (size_t)h->len[i]);
		dst[h->len[i]] = '\0';
		dst += h->len[i] + 1;
	}
}

/* Whether h's lengths and type are those of a record of size bytes of
 * columns (a record read back from the temporary file). */
static int rec_fits(const struct rec *h, size_t size)
{
	size_t need = 0;

	if (h->ti < BK_C_TYPES || h->ti >= BK_C_MEMBERS)
		return 0;
	for (int i = 0; i < NCOLS; i++) {
		if (h->len[i] < -1 || (i == C_VERSION && h->len[i]))
			return 0;
		if (i != C_VERSION && h->len[i] >= 0)
			need += (size_t)h->len[i] + 1;
	}
	return need == size;
}

/* r for h's row, its columns at off in the batch's cols. */
static void row_of(struct row *r, const struct rec *h, size_t off)
{
	for (int i = 0; i < NCOLS; i++) {
		r->len[i] = h->len[i];
		r->off[i] = 0;
		if (i == C_VERSION || h->len[i] < 0)
			continue;
		r->off[i] = off;
		off += (size_t)h->len[i] + 1;
	}
	r->version = h->version;
	r->ti = h->ti;
}

/* The next row of src into b (*eof set after the last one). */
static int next_row(struct bk_snap_writer *w, struct src *src,
		    struct batch *b, int *eof, struct bk_err *err)
{
	const void *v[NCOLS], *rec;
	struct rec h;
	size_t size;
	int rc, ret;

	if (!src->o) {
		rc = sqlite3_step(src->st);
		if (rc == SQLITE_DONE) {
			*eof = 1;	/* stepping again would run it again */
			return 0;
		}
		if (rc != SQLITE_ROW)
			return bk_store_sqlerr(w->s, rc,
					       "cannot read resources", err);
		ret = view_row(src->st, 0, v, &h, &size, err);
		if (ret)
			return ret;
	} else {
		ret = bk_snap_order_next(src->o, &rec, &size, err);
		if (ret || !rec) {
			*eof = !ret;
			return ret;
		}
		if (size < sizeof(h))
			return bk_errf(err, -EIO,
				       "a row put in order came back damaged");
		memcpy(&h, rec, sizeof(h));
		size -= sizeof(h);
		if (!rec_fits(&h, size))
			return bk_errf(err, -EIO,
				       "a row put in order came back damaged");
	}
	if (buf_reserve(&b->cols, size))
		return bk_errf(err, -ENOMEM, "out of memory");
	if (!src->o)
		put_cols(b->cols.p + b->cols.len, v, &h);
	else
		memcpy(b->cols.p + b->cols.len, (const char *)rec + sizeof(h),
		       size);
	row_of(&b->rows[b->nrows], &h, b->cols.len);
	b->cols.len += size;
	return 0;
}

/* Copies up to BATCH_ROWS rows of src into b; *eof set after the last. */
static int fill(struct bk_snap_writer *w, struct src *src, struct batch *b,
		int *eof, struct bk_err *err)
{
	int ret = 0;

	b->nrows = 0;
	b->cols.len = 0;
	b->out.len = 0;
	while (b->nrows < BATCH_ROWS && b->cols.len < BATCH_BYTES) {
		ret = next_row(w, src, b, eof, err);
		if (ret || *eof)
			break;
		b->nrows++;
	}
	return ret;
}

/* Hands a formatted batch to the sink, then wipes it. */
static int emit(struct bk_snap_writer *w, struct batch *b, struct bk_err *err)
{
	int ret = b->ret;

	if (ret) {
		bk_errf(err, ret, "%s", b->err.msg);
	} else {
		ret = bk_snap_out_direct(&w->out, b->out.p, b->out.len, err);
		for (int i = 0; i < b->nrows && !ret; i++) {
			w->n[BK_C_RESOURCES]++;
			w->n[b->rows[i].ti]++;
		}
		if (!ret)
			bk_snap_tick(w, (uint64_t)b->nrows);
	}
	if (b->out.p)
		OPENSSL_cleanse(b->out.p, b->out.len);
	b->out.len = 0;
	return ret;
}

/* ---- the workers ---- */

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t work;		/* a batch was filled, or stop */
	pthread_cond_t done;		/* a batch was formatted */
	struct batch *b;
	int nb;
	int stop;
	struct bk_rot *rot;
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	struct batch *b;
	struct fmt f;
	int ok = fmt_init(&f) == 0;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		b = NULL;
		for (int i = 0; i < p->nb; i++)
			if (p->b[i].state == B_FILLED &&
			    (!b || p->b[i].seq < b->seq))
				b = &p->b[i];
		if (!b) {
			if (p->stop)
				break;
			pthread_cond_wait(&p->work, &p->lock);
			continue;
		}
		b->state = B_BUSY;
		pthread_mutex_unlock(&p->lock);
		if (ok)
			format_batch(&f, p->rot, b);
		else
			b->ret = bk_errf(&b->err, -ENOMEM,
					 "out of secure memory");
		pthread_mutex_lock(&p->lock);
		b->state = B_DONE;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	if (ok)
		fmt_free(&f);
	return NULL;
}

/* The pipeline: fill in order, format anywhere, emit in order. */
static int run_pool(struct bk_snap_writer *w, struct src *st,
		    struct pool *p, struct bk_err *err)
{
	uint64_t next_fill = 0, next_emit = 0;
	struct batch *b;
	int eof = 0, ret = 0;

	pthread_mutex_lock(&p->lock);
	while (!eof || next_emit < next_fill) {
		b = &p->b[next_emit % (uint64_t)p->nb];
		if (next_emit < next_fill && b->state == B_DONE) {
			pthread_mutex_unlock(&p->lock);
			ret = emit(w, b, err);
			pthread_mutex_lock(&p->lock);
			b->state = B_FREE;
			next_emit++;
			if (ret)
				break;
			continue;
		}
		b = &p->b[next_fill % (uint64_t)p->nb];
		if (!eof && b->state == B_FREE) {
			pthread_mutex_unlock(&p->lock);
			ret = fill(w, st, b, &eof, err);
			pthread_mutex_lock(&p->lock);
			if (ret)
				break;
			if (b->nrows == 0)
				continue;
			b->seq = next_fill++;
			b->state = B_FILLED;
			pthread_cond_signal(&p->work);
			continue;
		}
		pthread_cond_wait(&p->done, &p->lock);
	}
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	return ret;
}

static int run_inline(struct bk_snap_writer *w, struct src *st,
		      struct batch *b, struct bk_err *err)
{
	struct fmt f;
	int eof = 0, ret = 0;

	if (fmt_init(&f))
		return bk_errf(err, -ENOMEM, "out of secure memory");
	while (!eof) {
		ret = fill(w, st, b, &eof, err);
		if (ret || b->nrows == 0)
			break;
		format_batch(&f, w->rot, b);
		ret = emit(w, b, err);
		if (ret)
			break;
	}
	fmt_free(&f);
	return ret;
}

static int workers_wanted(struct bk_snap_writer *w)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (cpus < 2 || w->total < 4 * BATCH_ROWS)
		return 0;
	return cpus > MAX_WORKERS ? MAX_WORKERS : (int)cpus;
}

/* The table read through in its own order, the rowid first. */
static const char *const scan_sql[2] = {
	"SELECT rowid, id, domain, type, name, version, attrs, material,"
	" fingerprint, created_at FROM resources NOT INDEXED",
	"SELECT rowid, id, domain, type, name, version, attrs, material,"
	" fingerprint, created_at FROM resources NOT INDEXED"
	" WHERE domain = ?1",
};

/* Reads the table through and files each row in o, as a record: its
 * struct rec, then its columns. */
static int file_rows(struct bk_snap_writer *w, struct bk_snap_order *o,
		     struct bk_err *err)
{
	const void *v[NCOLS];
	sqlite3_stmt *st = NULL;
	struct rec h;
	size_t size;
	void *dst;
	int rc, ret = 0;

	rc = sqlite3_prepare_v2(bk_store_db(w->s), scan_sql[w->domain != NULL],
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return bk_store_sqlerr(w->s, rc, "cannot read resources", err);
	if (w->domain)
		sqlite3_bind_text(st, 1, w->domain, -1, SQLITE_STATIC);
	memset(&h, 0, sizeof(h));	/* no padding to leak, but be sure */
	while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		ret = view_row(st, 1, v, &h, &size, err);
		if (!ret)
			ret = bk_snap_order_add(o, sqlite3_column_int64(st, 0),
						sizeof(h) + size, &dst, err);
		if (ret)
			break;
		memcpy(dst, &h, sizeof(h));
		put_cols((char *)dst + sizeof(h), v, &h);
	}
	if (!ret && rc != SQLITE_DONE)
		ret = bk_store_sqlerr(w->s, rc, "cannot read resources", err);
	sqlite3_finalize(st);
	return ret;
}

int bk_snap_write_resources(struct bk_snap_writer *w, struct bk_err *err)
{
	struct pool p = { .rot = w->rot };
	pthread_t tid[MAX_WORKERS];
	struct src src = { 0 };
	int nthreads = 0, want, ret = 0, sorted = 0;

	/* The name index's order is the payload's; when the table's rows
	 * lie in another (made over time, not by a restore), reading them
	 * through the index is a random read of the table for each: a
	 * million keys imported out of their names' order took 4.8 s to
	 * back up, 1.7 s once restored.  Then the table is read through and
	 * its rows put in the index's order by rank (snapshot_order.c);
	 * SQLite's sorter, with two helper threads, is left for rowids too
	 * far apart for a rank array. */
	if (!w->filtered &&
	    bk_snap_rows_scattered(w->s, w->domain, w->resources)) {
		ret = bk_snap_order_open(w->s, w->domain, w->resources, &src.o,
					 err);
		if (ret == 0)
			ret = file_rows(w, src.o, err);
		sorted = ret == 1;
		if (sorted)
			ret = 0;
		if (ret)
			goto out;
	}
	if (sorted)
		bk_store_exec(w->s, "PRAGMA threads=2", NULL);
	if (!src.o) {
		ret = bk_snap_query(w, sorted ? sorted_sql : resources_sql,
				    &src.st, err);
		if (ret)
			goto out;
	}
	want = workers_wanted(w);
	p.nb = want ? 6 * want + 1 : 1;
	p.b = calloc((size_t)p.nb, sizeof(*p.b));
	if (!p.b) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.work, NULL);
	pthread_cond_init(&p.done, NULL);
	while (nthreads < want &&
	       pthread_create(&tid[nthreads], NULL, worker, &p) == 0)
		nthreads++;
	if (nthreads)
		ret = run_pool(w, &src, &p, err);
	else
		ret = run_inline(w, &src, &p.b[0], err);
	for (int i = 0; i < nthreads; i++)
		pthread_join(tid[i], NULL);
	for (int i = 0; i < p.nb; i++) {
		buf_free(&p.b[i].cols);
		buf_free(&p.b[i].out);
	}
	pthread_cond_destroy(&p.done);
	pthread_cond_destroy(&p.work);
	pthread_mutex_destroy(&p.lock);
	free(p.b);	/* the workers' arenas: trimmed as the operation ends
			 * (bk_op_end) */
out:
	sqlite3_finalize(src.st);
	bk_snap_order_free(src.o);
	if (sorted)
		bk_store_exec(w->s, "PRAGMA threads=0", NULL);
	return ret;
}
