/* restore_domain_util.h - helpers the two domain-restore unit tests
 * (test_restore_domain.c, test_restore_domain_payloads.c) share: a
 * domain payload written and restored in memory, row dumps and counts of
 * a store, a payload without its ids, the restore report's counts and
 * names, and a fixture store opened without counting checks.  Static
 * inline, like testutil.h: a program that leaves a helper unused gets no
 * warning. */
#ifndef BK_RESTORE_DOMAIN_UTIL_H
#define BK_RESTORE_DOMAIN_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/crypto.h"
#include "core/restore_ids.h"
#include "core/snapshot.h"
#include "core/store.h"
#include "hsm/rot.h"
#include "testutil.h"

/* A new payload of domain (NULL: system scope) of s; caller frees. */
static inline char *payload(struct bk_store *s, struct bk_rot *rot,
		     const char *domain)
{
	struct tu_mem m = { 0 };
	struct bk_err e = { 0 };
	int ret;

	ret = bk_snapshot_write(s, rot, domain, NULL, tu_mem_sink, &m, NULL,
				NULL, NULL, &e);
	if (ret)
		fprintf(stderr, "write %s: %s\n", domain ? domain : "system",
			e.msg);
	CHECK_EQ_INT(ret, 0);
	return m.buf;
}

/* Each program runs its tests twice: restores without, then with the
 * payload's ids collected first, as the daemon does (restore_ids.h). */
static int rd_with_ids;

/* Restores text into target; *report (new, caller puts) gets the report. */
static inline int restore(struct bk_store *s, struct bk_rot *rot, const char *target,
		   const char *text, json_object **report, struct tu_prog *p,
		   struct bk_err *e)
{
	struct tu_mem m = { .buf = (char *)text, .len = strlen(text),
			    .chunk = 4093 };
	struct bk_idset *ids = NULL;
	int ret;

	if (rd_with_ids) {
		ids = bk_idset_new(0);
		CHECK(ids != NULL);
		for (size_t off = 0; off < m.len; off += 4093)
			bk_idset_feed(ids, text + off, m.len - off < 4093 ?
				      m.len - off : 4093);
	}
	*report = json_object_new_object();
	bk_err_clear(e);
	ret = bk_snapshot_restore_domain(s, rot, target, tu_mem_source, &m,
					 ids, *report,
					 p ? tu_progress : NULL, p, e);
	bk_idset_free(ids);
	return ret;
}

/* A store dir/name.db with a new root of trust, for a program's second
 * fixture: a failure ends the program rather than counting a check, so
 * the checks of tu_open_store are counted in one program only. */
static inline struct bk_store *rd_open_store(const char *dir,
					     const char *name,
					     struct bk_rot **rot)
{
	char path[300];
	struct bk_store *s = NULL;
	struct bk_err e = { 0 };

	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	if (bk_rot_soft_create(path, &e) || bk_rot_soft_open(path, rot, &e))
		goto fail;
	snprintf(path, sizeof(path), "%s/%s.db", dir, name);
	if (bk_store_open(path, 1, &s, &e) == 0 && s)
		return s;
fail:
	fprintf(stderr, "cannot open %s: %s\n", path, e.msg);
	exit(1);
}

/* ---- stores ---- */

static inline void add_domain(struct bk_store *s, const char *name, const char *hsm)
{
	struct bk_err e = { 0 };

	CHECK_EQ_INT(bk_domain_add(s, name, hsm, &e), 0);
}

/* The rows of one SQL query, one line each ('|' between columns). */
static inline char *rows(struct bk_store *s, const char *sql, const char *bind)
{
	sqlite3_stmt *st;
	char *out = calloc(1, 1);
	size_t len = 0;

	CHECK_EQ_INT(sqlite3_prepare_v2(bk_store_db(s), sql, -1, &st, NULL),
		     SQLITE_OK);
	if (bind)
		sqlite3_bind_text(st, 1, bind, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			const char *v = (const char *)sqlite3_column_text(st, i);
			size_t n = v ? strlen(v) : 4;

			out = realloc(out, len + n + 3);
			memcpy(out + len, v ? v : "NULL", n);
			len += n;
			out[len++] = i + 1 < sqlite3_column_count(st) ? '|' : '\n';
			out[len] = '\0';
		}
	}
	sqlite3_finalize(st);
	return out;
}

/* Every backed-up row of the store, byte for byte (material in hex). */
static inline char *dump(struct bk_store *s)
{
	return rows(s,
		"SELECT 'd', name, hsm, created_at, '', '', '', '', '' FROM domains"
		" UNION ALL SELECT 'r', id, domain, type, name, version, attrs,"
		"  hex(material) || '/' || ifnull(fingerprint, '-'), created_at"
		"  FROM resources"
		" UNION ALL SELECT 'm', domain, group_name, user_name, '', '', '', '', ''"
		"  FROM members"
		" UNION ALL SELECT 'l', domain, policy_name, key_name, '', '', '', '', ''"
		"  FROM key_links"
		" ORDER BY 1, 2, 3, 4, 5, 6", NULL);
}

/* One domain's resources; ids: with their ids. */
static inline char *domain_rows(struct bk_store *s, const char *domain, int ids)
{
	return rows(s, ids ?
		    "SELECT type, name, version, attrs, fingerprint, created_at, id"
		    " FROM resources WHERE domain = ?1 ORDER BY 1, 2, 3" :
		    "SELECT type, name, version, attrs, fingerprint, created_at"
		    " FROM resources WHERE domain = ?1 ORDER BY 1, 2, 3", domain);
}

static inline char *pairs(struct bk_store *s, const char *domain)
{
	return rows(s,
		"SELECT 'm', group_name, user_name FROM members WHERE domain = ?1"
		" UNION ALL SELECT 'l', policy_name, key_name FROM key_links"
		" WHERE domain = ?1 ORDER BY 1, 2, 3", domain);
}

/* The number of rows of table (members, key_links) in domain with
 * col_a = a and col_b = b. */
static inline int pair_count(struct bk_store *s, const char *table,
			     const char *domain, const char *col_a,
			     const char *a, const char *col_b, const char *b)
{
	char sql[512];

	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s WHERE"
		 " domain = ?1 AND %s = '%s' AND %s = '%s'",
		 table, col_a, a, col_b, b);
	return (int)tu_scalar_bind(s, sql, domain);
}

static inline int member(struct bk_store *s, const char *domain,
			 const char *g, const char *u)
{
	return pair_count(s, "members", domain, "group_name", g, "user_name", u);
}

static inline int link_of(struct bk_store *s, const char *domain,
			  const char *p, const char *k)
{
	return pair_count(s, "key_links", domain, "policy_name", p,
			  "key_name", k);
}

static inline long long temp_tables(struct bk_store *s)
{
	return tu_scalar(s, "SELECT COUNT(*) FROM temp.sqlite_master"
		      " WHERE name LIKE 'bk_rd%'");
}

/* A payload without ids and domain names: what a restore must carry
 * over whatever ids it had to give. */
static inline char *norm(const char *text)
{
	char *out = calloc(1, 1), *copy = strdup(text), *save = NULL;
	size_t len = 0;

	for (char *line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		json_object *o = json_tokener_parse(line);
		const char *s;

		json_object_object_del(o, "id");
		json_object_object_del(o, "domain");
		if (json_object_object_get_ex(o, "hsm", NULL)) {
			json_object_object_del(o, "name");
			json_object_object_del(o, "createdAt");
		}
		s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		out = realloc(out, len + strlen(s) + 2);
		memcpy(out + len, s, strlen(s));
		len += strlen(s);
		out[len++] = '\n';
		out[len] = '\0';
		json_object_put(o);
	}
	free(copy);
	return out;
}

/* ---- the report ---- */

static inline json_object *rep(json_object *report, const char *type)
{
	return json_object_object_get(report, type);
}

static inline long long rep_n(json_object *report, const char *type,
		       const char *field)
{
	json_object *v;

	if (!json_object_object_get_ex(rep(report, type), field, &v))
		return -1;
	return json_object_get_int64(v);
}

/* The names of report[type][list] joined with ','. */
static inline const char *rep_names(json_object *report, const char *type,
			     const char *list)
{
	static char buf[4096];
	json_object *a = json_object_object_get(rep(report, type), list);
	size_t n = 0;

	buf[0] = '\0';
	if (!json_object_is_type(a, json_type_array))
		return "(none)";
	for (size_t i = 0; i < json_object_array_length(a) && n < 4000; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s",
				      i ? "," : "", json_object_get_string(
					      json_object_array_get_idx(a, i)));
	return buf;
}

/* 1 if every backed-up row of s is as in before (a dump), byte for
 * byte. */
static inline int unchanged(struct bk_store *s, const char *before)
{
	char *now = dump(s);
	int same = !strcmp(now, before);

	free(now);
	return same;
}

#endif
