/* snapshot_read.c - reading a payload: a bounded line buffer over a
 * bk_source_fn, and the checks every line passes before anyone sees it.
 *
 * Memory is bounded whatever the payload's size: one buffer that holds
 * at least one line (at most BK_SNAP_LINE_MAX bytes), one parsed line,
 * and the set of domain names seen.
 *
 * Key material arrives in clear base64.  After each line that carried
 * some, every copy is wiped: the decoded bytes, the line in our buffer,
 * the string json-c made of it, and the tokener's scratch buffer (json-c
 * copies each string it parses there; it is grown once, up front, so
 * that it is never reallocated while holding material).
 */
#include "snapshot_int.h"
#include "fault.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/printbuf.h>
#include <openssl/crypto.h>

#include "audit.h"
#include "crypto.h"

#define READ_CHUNK (256 * 1024)
#define BUF_MAX (BK_SNAP_LINE_MAX + READ_CHUNK)
#define MATERIAL_MAX 4096		/* bytes; bk_rot_wrap's limit */
#define TOK_SCRATCH (64 * 1024)		/* > base64 of MATERIAL_MAX */

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

/* ---- the checks ---- */

enum { F_STR = 1, F_INT = 2, F_OBJ = 4, F_NULL = 8, F_OPT = 16 };

struct field {
	const char *name;
	int flags;
};

static const struct field head_fields[] = {
	{ "kind", F_STR }, { "format", F_INT }, { "scope", F_STR },
	{ "domain", F_STR | F_NULL }, { "total", F_INT | F_OPT }, { NULL, 0 }
};
static const struct field domain_fields[] = {
	{ "t", F_STR }, { "name", F_STR }, { "hsm", F_STR | F_NULL },
	{ "createdAt", F_STR }, { NULL, 0 }
};
static const struct field resource_fields[] = {
	{ "t", F_STR }, { "id", F_STR }, { "domain", F_STR }, { "type", F_STR },
	{ "name", F_STR }, { "version", F_INT }, { "attrs", F_OBJ },
	{ "fingerprint", F_STR | F_NULL | F_OPT }, { "createdAt", F_STR },
	{ "material", F_STR | F_OPT }, { NULL, 0 }
};
static const struct field member_fields[] = {
	{ "t", F_STR }, { "domain", F_STR }, { "group", F_STR },
	{ "user", F_STR }, { NULL, 0 }
};
static const struct field link_fields[] = {
	{ "t", F_STR }, { "domain", F_STR }, { "policy", F_STR },
	{ "key", F_STR }, { NULL, 0 }
};
static const struct field end_fields[] = {
	{ "t", F_STR }, { "counts", F_OBJ }, { NULL, 0 }
};

static int check_fields(json_object *o, const struct field *fields,
			struct bk_err *err)
{
	const struct field *f;
	int ok;

	json_object_object_foreach(o, key, val) {
		for (f = fields; f->name && strcmp(f->name, key); f++)
			;
		if (!f->name)
			return bk_errf(err, -EINVAL, "unknown field \"%s\"", key);
		if (!val)
			ok = f->flags & F_NULL;
		else if (json_object_is_type(val, json_type_string))
			ok = f->flags & F_STR;
		else if (json_object_is_type(val, json_type_int))
			ok = f->flags & F_INT;
		else if (json_object_is_type(val, json_type_object))
			ok = f->flags & F_OBJ;
		else
			ok = 0;
		if (!ok)
			return bk_errf(err, -EINVAL,
				       "\"%s\" has the wrong type", key);
	}
	for (f = fields; f->name; f++)
		if (!(f->flags & F_OPT) &&
		    !json_object_object_get_ex(o, f->name, NULL))
			return bk_errf(err, -EINVAL, "\"%s\" is missing",
				       f->name);
	return 0;
}

struct state {
	json_tokener *tok;
	json_object *domains;		/* the domain names seen, as keys */
	int domain_scope;
	char domain[72];		/* domain scope: its domain */
	int64_t total;			/* the first line's, -1 if absent */
	uint64_t n[BK_C__COUNT];
	int ended;
};

static int64_t get_int(json_object *o, const char *key)
{
	return json_object_get_int64(json_object_object_get(o, key));
}

/* A string member that is a valid name (borrowed). */
static int name_field(json_object *o, const char *key, const char **v,
		      struct bk_err *err)
{
	json_object *s = json_object_object_get(o, key);

	*v = json_object_get_string(s);
	return bk_name_check(key, *v, (size_t)json_object_get_string_len(s),
			     err);
}

static int known_domain(struct state *st, json_object *o, const char **name,
			struct bk_err *err)
{
	*name = bk_snap_str(o, "domain");
	if (!json_object_object_get_ex(st->domains, *name, NULL))
		return bk_errf(err, -EINVAL,
			       "domain \"%s\" has no domain line before it",
			       *name);
	return 0;
}

static int check_head(struct state *st, json_object *o, struct bk_err *err)
{
	const char *kind = bk_snap_str(o, "kind"), *scope, *domain;
	int ret;

	if (!kind || strcmp(kind, "backupfs-snapshot"))
		return bk_errf(err, -EINVAL,
			       "not a backupfs snapshot (no \"kind\":\"backupfs-snapshot\")");
	ret = check_fields(o, head_fields, err);
	if (ret)
		return ret;
	if (get_int(o, "format") != BK_SNAP_FORMAT)
		return bk_errf(err, -EINVAL,
			       "snapshot format %lld is not supported (this backupfs reads format %d)",
			       (long long)get_int(o, "format"), BK_SNAP_FORMAT);
	scope = bk_snap_str(o, "scope");
	domain = bk_snap_str(o, "domain");
	if (!strcmp(scope, "system")) {
		if (domain)
			return bk_errf(err, -EINVAL,
				       "a system snapshot names no domain");
	} else if (!strcmp(scope, "domain")) {
		if (!bk_domain_name_valid(domain))
			return bk_errf(err, -EINVAL,
				       "a domain snapshot needs a valid domain name");
		st->domain_scope = 1;
		snprintf(st->domain, sizeof(st->domain), "%s", domain);
	} else {
		return bk_errf(err, -EINVAL, "unknown scope \"%s\"", scope);
	}
	if (json_object_object_get_ex(o, "total", NULL)) {
		st->total = get_int(o, "total");
		if (st->total < 0)
			return bk_errf(err, -EINVAL, "\"total\" is negative");
	}
	return 0;
}

static int check_domain(struct state *st, json_object *o, struct bk_err *err)
{
	const char *name;
	int ret;

	ret = check_fields(o, domain_fields, err);
	if (ret)
		return ret;
	name = bk_snap_str(o, "name");
	if (!bk_domain_name_valid(name))
		return bk_errf(err, -EINVAL, "\"%s\" is not a valid domain name",
			       name);
	if (st->domain_scope && strcmp(name, st->domain))
		return bk_errf(err, -EINVAL,
			       "domain %s in a snapshot of domain %s", name,
			       st->domain);
	if (json_object_object_get_ex(st->domains, name, NULL))
		return bk_errf(err, -EINVAL, "domain %s appears twice", name);
	json_object_object_add(st->domains, name, NULL);
	st->n[BK_C_DOMAINS]++;
	return 0;
}

static int hex64(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return 0;
	return n == 64;
}

/* *mat: the decoded material or NULL (caller wipes and frees). */
static int check_resource(struct state *st, json_object *o, uint8_t **mat,
			  size_t *mlen, struct bk_err *err)
{
	const char *id, *domain, *type, *name, *fp, *b64;
	json_object *m;
	char hex[65];
	int ti, ret;

	ret = check_fields(o, resource_fields, err);
	if (ret)
		return ret;
	id = bk_snap_str(o, "id");
	if (!*id || strlen(id) > BK_ID_MAX ||
	    strlen(id) != (size_t)json_object_get_string_len(
		    json_object_object_get(o, "id")))
		return bk_errf(err, -EINVAL, "\"id\" is not a valid id");
	if ((ret = known_domain(st, o, &domain, err)))
		return ret;
	type = bk_snap_str(o, "type");
	ti = bk_snap_type_index(type);
	if (ti < 0)
		return bk_errf(err, -EINVAL, "\"%s\" is not a resource type",
			       type);
	if ((ret = name_field(o, "name", &name, err)))
		return ret;
	if (get_int(o, "version") < 0)
		return bk_errf(err, -EINVAL, "\"version\" is negative");
	fp = bk_snap_str(o, "fingerprint");
	if (fp && !hex64(fp))
		return bk_errf(err, -EINVAL, "\"fingerprint\" is not a SHA-256");
	if (json_object_object_get_ex(o, "material", &m)) {
		b64 = json_object_get_string(m);
		if (strlen(b64) != (size_t)json_object_get_string_len(m) ||
		    strlen(b64) > 4 * ((MATERIAL_MAX + 2) / 3) ||
		    bk_b64_decode(b64, mat, mlen))
			return bk_errf(err, -EINVAL,
				       "the material of %s '%s' is not base64 of 1 to %d bytes",
				       type, name, MATERIAL_MAX);
		if (*mlen == 0 || *mlen > MATERIAL_MAX)
			return bk_errf(err, -EINVAL,
				       "the material of %s '%s' is not 1 to %d bytes",
				       type, name, MATERIAL_MAX);
		bk_sha256_hex(*mat, *mlen, hex);
		if (!fp || strcmp(fp, hex))
			return bk_errf(err, -EINVAL,
				       "the material of %s '%s' does not match its fingerprint",
				       type, name);
	} else if (ti == BK_C_TYPES) {		/* keys */
		return bk_errf(err, -EINVAL, "key '%s' carries no material",
			       name);
	}
	st->n[BK_C_RESOURCES]++;
	st->n[ti]++;
	return 0;
}

static int check_pair(struct state *st, json_object *o,
		      const struct field *fields, const char *a,
		      const char *b, int count, struct bk_err *err)
{
	const char *domain, *v;
	int ret;

	if ((ret = check_fields(o, fields, err)) ||
	    (ret = known_domain(st, o, &domain, err)) ||
	    (ret = name_field(o, a, &v, err)) ||
	    (ret = name_field(o, b, &v, err)))
		return ret;
	st->n[count]++;
	return 0;
}

static int check_end(struct state *st, json_object *o, struct bk_err *err)
{
	json_object *counts, *v;
	int ret;

	ret = check_fields(o, end_fields, err);
	if (ret)
		return ret;
	st->n[BK_C_TOTAL] = st->n[BK_C_DOMAINS] + st->n[BK_C_RESOURCES] +
		st->n[BK_C_MEMBERS] + st->n[BK_C_LINKS];
	counts = json_object_object_get(o, "counts");
	if (json_object_object_length(counts) != BK_C__COUNT)
		return bk_errf(err, -EINVAL,
			       "the end line's counts do not have the %d expected members",
			       BK_C__COUNT);
	for (int i = 0; i < BK_C__COUNT; i++) {
		if (!json_object_object_get_ex(counts, bk_snap_count_names[i],
					       &v) ||
		    !json_object_is_type(v, json_type_int))
			return bk_errf(err, -EINVAL,
				       "the end line has no count of %s",
				       bk_snap_count_names[i]);
		if ((uint64_t)json_object_get_int64(v) != st->n[i] ||
		    json_object_get_int64(v) < 0)
			return bk_errf(err, -EINVAL,
				       "the end line counts %lld %s, the payload has %llu (lines lost or added)",
				       (long long)json_object_get_int64(v),
				       bk_snap_count_names[i],
				       (unsigned long long)st->n[i]);
	}
	if (st->total >= 0 && (uint64_t)st->total != st->n[BK_C_TOTAL])
		return bk_errf(err, -EINVAL,
			       "the first line announces %lld rows, the payload has %llu",
			       (long long)st->total,
			       (unsigned long long)st->n[BK_C_TOTAL]);
	st->ended = 1;
	return 0;
}

/* Parses one line into *out (new; caller puts) and checks it; *t its
 * kind; *mat its decoded material, if any. */
static int check_line(struct state *st, long lineno, const char *line,
		      size_t len, json_object **out, const char **t,
		      uint8_t **mat, size_t *mlen, struct bk_err *err)
{
	enum json_tokener_error jerr;
	json_object *o;

	if (st->ended)
		return bk_errf(err, -EINVAL, "data after the end line");
	json_tokener_reset(st->tok);
	o = json_tokener_parse_ex(st->tok, line, (int)len);
	jerr = json_tokener_get_error(st->tok);
	if (!o || jerr != json_tokener_success ||
	    json_tokener_get_parse_end(st->tok) != len ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		if (jerr == json_tokener_continue)
			return bk_errf(err, -EINVAL,
				       "incomplete JSON (the line is cut short)");
		return bk_errf(err, -EINVAL, "not a JSON object%s%s",
			       jerr != json_tokener_success ? ": " : "",
			       jerr != json_tokener_success ?
			       json_tokener_error_desc(jerr) : "");
	}
	*out = o;
	if (lineno == 1) {
		*t = "head";
		return check_head(st, o, err);
	}
	*t = bk_snap_str(o, "t");
	if (!*t)
		return bk_errf(err, -EINVAL, "no \"t\" (the kind of row)");
	if (!strcmp(*t, "resource"))
		return check_resource(st, o, mat, mlen, err);
	if (!strcmp(*t, "domain"))
		return check_domain(st, o, err);
	if (!strcmp(*t, "member"))
		return check_pair(st, o, member_fields, "group", "user",
				  BK_C_MEMBERS, err);
	if (!strcmp(*t, "link"))
		return check_pair(st, o, link_fields, "policy", "key",
				  BK_C_LINKS, err);
	if (!strcmp(*t, "end"))
		return check_end(st, o, err);
	if (!strcmp(*t, "audit"))
		return bk_audit_snap_check(o, err);
	return bk_errf(err, -EINVAL, "unknown row kind \"%s\"", *t);
}

/* Wipes every copy of a line that carried material. */
static void wipe_line(struct state *st, json_object *o, char *line,
		      size_t len)
{
	json_object *m;

	if (o && json_object_object_get_ex(o, "material", &m) &&
	    json_object_is_type(m, json_type_string))
		OPENSSL_cleanse((char *)json_object_get_string(m),
				(size_t)json_object_get_string_len(m));
	/* json-c 0.16 has no accessor for the tokener's scratch buffer. */
	OPENSSL_cleanse(st->tok->pb->buf,
			(size_t)st->tok->pb->size < len + 1 ?
			(size_t)st->tok->pb->size : len + 1);
	OPENSSL_cleanse(line, len);
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
#define PIPE_ITEMS 256
#define PIPE_BYTES (1024 * 1024)
#define PIPE_BATCHES 4

struct item {
	json_object *o;
	const char *t;			/* its kind (in o, or "head") */
	uint8_t *mat;
	size_t mlen;
	long lineno;
};

struct batch {
	struct item v[PIPE_ITEMS];
	int n;
	int full;			/* checked, not yet handed over */
	int last;			/* the checking thread's last batch */
	int ret;			/* with last: 0 at the end, or an error */
	long lineno;			/* the line of a check error; 0 */
	struct bk_err e;
};

struct pipe {
	struct reader r;
	struct state st;
	struct bk_rot *rot;		/* wrap material with it; NULL: no */
	const char *domain;		/* for this domain; NULL: the row's */
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

/* Replaces the clear material of it by the material wrapped with the key
 * of its domain (p->domain, else the row's own). */
static int wrap_item(struct pipe *p, struct item *it, struct bk_err *err)
{
	const char *domain = p->domain;
	uint8_t *wrapped = NULL;
	size_t wlen = 0;
	int ret;

	if (!domain)
		domain = bk_snap_str(it->o, "domain");
	ret = bk_rot_wrap(bk_rot_for(p->rot, domain), it->mat, it->mlen,
			  &wrapped, &wlen, err);
	OPENSSL_cleanse(it->mat, it->mlen);
	free(it->mat);
	it->mat = wrapped;
	it->mlen = wlen;
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
	b->last = 0;
	b->ret = 0;
	b->lineno = 0;
	memset(&b->e, 0, sizeof(b->e));
	while (b->n < PIPE_ITEMS && bytes < PIPE_BYTES) {
		struct item *it = &b->v[b->n];

		ret = reader_next(&p->r, &line, &len, &b->e);
		if (ret != 1) {
			b->last = 1;
			b->ret = ret;
			return;
		}
		memset(it, 0, sizeof(*it));
		ret = check_line(&p->st, p->r.lineno, line, len, &it->o, &it->t,
				 &it->mat, &it->mlen, &b->e);
		if (it->mat || (it->o && json_object_object_get_ex(it->o,
							"material", NULL)))
			wipe_line(&p->st, it->o, line, len);
		if (!ret && it->mat && p->rot)
			ret = wrap_item(p, it, &b->e);
		if (ret) {
			item_free(it);
			b->last = 1;
			b->ret = ret;
			b->lineno = p->r.lineno;
			return;
		}
		it->lineno = p->r.lineno;
		b->n++;
		bytes += len;
	}
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

/* Hands b's lines to cb in order; 0, or the error (in err). */
static int consume(struct pipe *p, struct batch *b, bk_row_fn cb,
		   void *cb_arg, bk_progress_fn progress, void *progress_arg,
		   uint64_t *rows, struct bk_err *err)
{
	struct bk_err e = { 0 };
	int ret = 0;

	for (int k = 0; k < b->n; k++) {
		struct item *it = &b->v[k];

		if (!strcmp(it->t, "end"))
			p->end_consumed = 1;
		if (!ret && cb) {
			ret = cb(cb_arg, it->t, it->o, it->mat,
				 it->mat ? it->mlen : 0, &e);
			if (ret)
				bk_errf(err, ret, "payload line %ld: %s",
					it->lineno, e.msg[0] ? e.msg : "refused");
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
	if (ret || !b->last || !b->ret)
		return ret;
	if (b->lineno)
		return bk_errf(err, b->ret, "payload line %ld: %s", b->lineno,
			       b->e.msg[0] ? b->e.msg : "refused");
	if (err)
		*err = b->e;		/* the reader's, in words already */
	return b->ret;
}

int bk_snapshot_read(bk_source_fn source, void *arg, bk_row_fn cb,
		     void *cb_arg, json_object *counts,
		     bk_progress_fn progress, void *progress_arg,
		     struct bk_err *err)
{
	return bk_snapshot_read_wrapped(source, arg, NULL, NULL, cb, cb_arg,
					counts, progress, progress_arg, err);
}

int bk_snapshot_read_wrapped(bk_source_fn source, void *arg,
			     struct bk_rot *rot, const char *domain,
			     bk_row_fn cb, void *cb_arg,
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
	p->r.cap = READ_CHUNK;
	p->r.buf = malloc(p->r.cap);
	p->st.total = -1;
	p->st.tok = json_tokener_new();
	p->st.domains = json_object_new_object();
	if (!p->r.buf || !p->st.tok || !p->st.domains) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	json_tokener_set_flags(p->st.tok, JSON_TOKENER_STRICT);
	if (printbuf_memset(p->st.tok->pb, 0, 0, TOK_SCRATCH) < 0) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	printbuf_reset(p->st.tok->pb);
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
		ret = consume(p, b, cb, cb_arg, progress, progress_arg, &rows,
			      err);
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
	for (i = 0; i < PIPE_BATCHES; i++)	/* the lines of the last batches */
		while (p->b[i].n > 0)
			item_free(&p->b[i].v[--p->b[i].n]);
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
	json_object_put(p->st.domains);
	json_tokener_free(p->st.tok);
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
