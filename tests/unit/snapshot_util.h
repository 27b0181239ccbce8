/* snapshot_util.h - what the tests of payloads (test_snapshot.c) and of
 * the system restore (test_restore_system.c) share: checking and
 * restoring a payload held in memory, and a dump of what a user sees of
 * a store.  Static inline, like testutil.h. */
#ifndef BK_SNAPSHOT_UTIL_H
#define BK_SNAPSHOT_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/snapshot.h"
#include "core/store.h"
#include "testutil.h"

static inline int check_text(const char *text, size_t chunk, struct bk_err *e)
{
	struct tu_mem m = { .buf = (char *)text, .len = strlen(text),
			    .chunk = chunk };

	bk_err_clear(e);
	return bk_snapshot_check(tu_mem_source, &m, e);
}

static inline int restore_text_p(struct bk_store *s, struct bk_rot *rot,
			  const char *text, json_object *report, void *prog,
			  struct bk_err *e)
{
	struct tu_mem m = { .buf = (char *)text, .len = strlen(text),
			    .chunk = 4093 };

	bk_err_clear(e);
	return bk_snapshot_restore_system(s, rot, tu_mem_source, &m, report,
					  prog ? tu_progress : NULL, prog, e);
}

static inline int restore_text(struct bk_store *s, struct bk_rot *rot,
			const char *text, json_object *report, struct bk_err *e)
{
	return restore_text_p(s, rot, text, report, NULL, e);
}

/* Everything a user can see of the backed-up data, as one string:
 * domains, then every resource's public JSON (ids, fingerprints,
 * members included), then the member and link rows. */
struct dump {
	char *buf;
	size_t len;
};

static inline void dump_add(struct dump *d, const char *s)
{
	size_t n = strlen(s);

	d->buf = realloc(d->buf, d->len + n + 2);
	memcpy(d->buf + d->len, s, n);
	d->len += n;
	d->buf[d->len++] = '\n';
	d->buf[d->len] = '\0';
}

static inline int dump_json(void *arg, json_object *o)
{
	dump_add(arg, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	return 0;
}

static inline char *dump(struct bk_store *s)
{
	struct dump d = { NULL, 0 };
	struct bk_err e = { 0 };
	sqlite3_stmt *st;

	dump_add(&d, "");
	CHECK_EQ_INT(bk_domain_foreach(s, dump_json, &d, &e), 0);
	CHECK_EQ_INT(bk_resource_foreach(s, NULL, NULL, dump_json, &d, &e), 0);
	CHECK_EQ_INT(sqlite3_prepare_v2(bk_store_db(s),
		"SELECT 'm', domain, group_name, user_name FROM members"
		" UNION ALL SELECT 'l', domain, policy_name, key_name FROM key_links"
		" ORDER BY 1, 2, 3, 4", -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		char row[800];

		snprintf(row, sizeof(row), "%s %s %s %s",
			 sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
			 sqlite3_column_text(st, 2), sqlite3_column_text(st, 3));
		dump_add(&d, row);
	}
	sqlite3_finalize(st);
	return d.buf;
}

static inline int starts(const char *s, const char *prefix)
{
	return s && !strncmp(s, prefix, strlen(prefix));
}

#endif
