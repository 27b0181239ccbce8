/* testutil.h - helpers the store and snapshot unit tests share: a payload
 * in memory (sink and source), a progress recorder, a store with its own
 * root of trust in the test's temporary directory, checked resource adds,
 * one-value and row-dump queries, and the temporary directory's cleanup
 * (file by file, or the whole tree).
 * Each test program is built on its own, so everything here is static
 * inline: a program that leaves a helper unused gets no warning. */
#ifndef BK_TESTUTIL_H
#define BK_TESTUTIL_H

#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/store.h"
#include "hsm/rot.h"

/* ---- payload in memory ---- */

struct tu_mem {
	char *buf;			/* NUL-terminated; sink: caller frees */
	size_t len, cap, pos;
	size_t chunk;			/* source: bytes per read (0: any) */
	int calls;			/* sink: calls so far */
	/* sink: called once, on the first call, with first_arg */
	void (*first)(void *first_arg);
	void *first_arg;
};

static inline int tu_mem_sink(void *arg, const void *buf, size_t len,
			      struct bk_err *err)
{
	struct tu_mem *m = arg;

	if (m->len + len + 1 > m->cap) {
		m->cap = (m->len + len + 1) * 2;
		m->buf = realloc(m->buf, m->cap);
		if (!m->buf)
			return bk_errf(err, -ENOMEM, "out of memory");
	}
	memcpy(m->buf + m->len, buf, len);
	m->len += len;
	m->buf[m->len] = '\0';
	if (m->first && m->calls == 0)
		m->first(m->first_arg);
	m->calls++;
	return 0;
}

static inline ssize_t tu_mem_source(void *arg, void *buf, size_t len,
				    struct bk_err *err)
{
	struct tu_mem *m = arg;
	size_t n = m->len - m->pos;

	(void)err;
	if (n > len)
		n = len;
	if (m->chunk && n > m->chunk)
		n = m->chunk;
	memcpy(buf, m->buf + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

/* ---- progress ---- */

struct tu_prog {
	uint64_t last_done, last_total;
	int calls, backwards;
};

static inline void tu_progress(void *arg, uint64_t done, uint64_t total)
{
	struct tu_prog *p = arg;

	if (done < p->last_done)
		p->backwards = 1;
	p->last_done = done;
	p->last_total = total;
	p->calls++;
}

/* ---- stores ---- */

/* A new store dir/name.db with a new root of trust dir/name.key; exits
 * if either cannot be opened. */
static inline struct bk_store *tu_open_store(const char *dir, const char *name,
					     struct bk_rot **rot)
{
	char path[300];
	struct bk_store *s = NULL;
	struct bk_err e = { 0 };

	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	CHECK_EQ_INT(bk_rot_soft_create(path, &e), 0);
	CHECK_EQ_INT(bk_rot_soft_open(path, rot, &e), 0);
	snprintf(path, sizeof(path), "%s/%s.db", dir, name);
	CHECK_EQ_INT(bk_store_open(path, 1, &s, &e), 0);
	if (!s || !*rot) {
		fprintf(stderr, "cannot open %s: %s\n", name, e.msg);
		exit(1);
	}
	return s;
}

/* Adds a resource; a failure is a failed check, with the message. */
static inline void tu_add(struct bk_store *s, struct bk_rot *rot,
			  const char *domain, const char *type,
			  const char *name, const char *attrs)
{
	struct bk_err e = { 0 };
	int ret = bk_resource_add(s, rot, domain, type, name, attrs, NULL, &e);

	if (ret)
		fprintf(stderr, "add %s/%s/%s: %s\n", domain, type, name, e.msg);
	CHECK_EQ_INT(ret, 0);
}

/* The first column of the first row of sql with ?1 bound to bind (NULL:
 * nothing bound); -1 without a row, -2 if sql does not prepare. */
static inline long long tu_scalar_bind(struct bk_store *s, const char *sql,
				       const char *bind)
{
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_prepare_v2(bk_store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
		return -2;
	if (bind)
		sqlite3_bind_text(st, 1, bind, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static inline long long tu_scalar(struct bk_store *s, const char *sql)
{
	return tu_scalar_bind(s, sql, NULL);
}

/* ---- texts ---- */

/* 1 if x and y (new strings) are equal; frees both. */
static inline int tu_same(char *x, char *y)
{
	int same = x && y && !strcmp(x, y);

	free(x);
	free(y);
	return same;
}

/* Replaces the n-th line (0 = first) of text with repl (NULL: deletes
 * it); returns a new string (caller frees), NULL if text has no such
 * line. */
static inline char *tu_edit_line(const char *text, int n, const char *repl)
{
	const char *p = text, *end;
	size_t rl = repl ? strlen(repl) + 1 : 0;
	char *out;

	for (int i = 0; i < n && p; i++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p)
		return NULL;
	end = strchr(p, '\n');
	end = end ? end + 1 : p + strlen(p);
	out = malloc(strlen(text) + rl + 1);
	memcpy(out, text, (size_t)(p - text));
	if (repl) {
		memcpy(out + (p - text), repl, rl - 1);
		out[(p - text) + rl - 1] = '\n';
	}
	strcpy(out + (p - text) + rl, end);
	return out;
}

/* ---- the temporary directory ---- */

/* Removes dir/names[i] for each of the n names, then dir. */
static inline void tu_cleanup(const char *dir, const char *const *names,
			      size_t n)
{
	char path[300];

	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

static inline int tu_rm_one(const char *path, const struct stat *st,
			    int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

/* Removes dir and everything under it. */
static inline void tu_rmtree(const char *dir)
{
	nftw(dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
