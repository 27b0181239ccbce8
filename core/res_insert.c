/* res_insert.c - inserting rows of resources: one (bk_res_insert), or
 * many at a time by multi-row statements (bk_res_bulk: a restore's).
 * Both bind a row the same way and put a refusal in the same words.
 */
#include "store_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* A length for sqlite3_bind_text: given (and small enough), or -1 (up
 * to the NUL). */
#define LEN(n) ((n) && (n) <= INT_MAX ? (int)(n) : -1)

/* Binds r to st's nine parameters from base + 1 on.  Absent material
 * and fingerprint are bound as NULL: a bulk statement is not cleared
 * between its uses. */
static void res_bind(sqlite3_stmt *st, int base, const struct bk_res_row *r)
{
	sqlite3_bind_text(st, base + 1, r->id, LEN(r->id_len), SQLITE_STATIC);
	sqlite3_bind_text(st, base + 2, r->domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, base + 3, r->type, LEN(r->type_len),
			  SQLITE_STATIC);
	sqlite3_bind_text(st, base + 4, r->name, LEN(r->name_len),
			  SQLITE_STATIC);
	sqlite3_bind_int64(st, base + 5, r->version);
	sqlite3_bind_text(st, base + 6, r->attrs, LEN(r->attrs_len),
			  SQLITE_STATIC);
	if (r->wrapped)
		sqlite3_bind_blob(st, base + 7, r->wrapped,
				  (int)r->wrapped_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, base + 7);
	if (r->fingerprint)
		sqlite3_bind_text(st, base + 8, r->fingerprint,
				  LEN(r->fp_len), SQLITE_STATIC);
	else
		sqlite3_bind_null(st, base + 8);
	sqlite3_bind_text(st, base + 9, r->created_at, LEN(r->created_len),
			  SQLITE_STATIC);
}

/* The words for rc, how inserting r went: 0 for SQLITE_DONE. */
static int res_insert_error(struct bk_store *s, int rc,
			    const struct bk_res_row *r, struct bk_err *err)
{
	if (rc == SQLITE_DONE)
		return 0;
	if (rc == SQLITE_CONSTRAINT_UNIQUE &&
	    bk_store_unique_on(s, "resources.id"))
		return bk_errf(err, -EEXIST, "resource id %s already exists",
			       r->id);
	if (rc == SQLITE_CONSTRAINT_UNIQUE && !strcmp(r->type, "keys"))
		return bk_errf(err, -EEXIST,
			       "keys '%s' version %lld already exists in domain %s",
			       r->name, r->version, r->domain);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		return bk_errf(err, -EEXIST, "%s '%s' already exists in domain %s",
			       r->type, r->name, r->domain);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		return bk_errf(err, -ENOENT, "domain %s does not exist",
			       r->domain);
	return bk_store_sqlerr(s, rc, "cannot add the resource", err);
}

int bk_res_insert(struct bk_store *s, const struct bk_res_row *r,
		  struct bk_err *err)
{
	sqlite3_stmt *st;
	int ret;

	ret = bk_store_stmt(s, BK_ST_RES_INSERT, &st, err);
	if (ret)
		return ret;
	res_bind(st, 0, r);
	ret = res_insert_error(s, sqlite3_step(st), r, err);
	sqlite3_reset(st);
	return ret;
}

/* ---- adding in bulk ----
 *
 * One INSERT of many rows keeps its cursors open from row to row: rows
 * that come in the key index's order then land at its end without a
 * descent from its root each, and the statement's set-up and tear-down
 * are paid once.  A million rows took 1.9 s one by one, 1.1 s 256 at a
 * time (docs/PERFORMANCE.md).  A flush inserts the largest power of two
 * of the pending rows at a time, by statements prepared when first
 * needed.  OR FAIL: a statement that meets a row already there keeps the
 * rows before it, so SQLite needs no statement journal to undo them -
 * which, once a restore's DELETE had put every page on the free list,
 * copied each page the inserts took (0.3 s of a million rows).  With
 * foreign keys on (a restore inside a caller's transaction), SQLite
 * keeps the journal all the same: a foreign key is checked at the
 * statement's end, which then undoes all of it.  The rows from the one
 * at fault on go in one by one, which names it. */

static const char insert_head[] =
	"INSERT OR FAIL INTO resources(id, domain, type, name, version, attrs,"
	" material, fingerprint, created_at) VALUES";
static const char insert_row[] = ",(?,?,?,?,?,?,?,?,?)";

/* The statement for 1 << k rows: 0 or an error. */
static int bulk_stmt(struct bk_res_bulk *b, int k, sqlite3_stmt **out,
		     struct bk_err *err)
{
	size_t n = (size_t)1 << k, len = sizeof(insert_head) - 1, row;
	char *sql;
	int rc;

	if (!b->st[k]) {
		sql = malloc(len + n * sizeof(insert_row));
		if (!sql)
			return bk_errf(err, -ENOMEM, "out of memory");
		memcpy(sql, insert_head, len);
		for (size_t i = 0; i < n; i++) {	/* no comma first */
			row = sizeof(insert_row) - 1 - !i;
			memcpy(sql + len, insert_row + !i, row);
			len += row;
		}
		sql[len] = '\0';
		rc = sqlite3_prepare_v3(bk_store_db(b->s), sql, (int)len,
					SQLITE_PREPARE_PERSISTENT, &b->st[k],
					NULL);
		free(sql);
		if (rc != SQLITE_OK)
			return bk_store_sqlerr(b->s, rc,
					       "cannot prepare a statement",
					       err);
	}
	*out = b->st[k];
	return 0;
}

void bk_res_bulk_init(struct bk_res_bulk *b, struct bk_store *s)
{
	int vars = sqlite3_limit(bk_store_db(s), SQLITE_LIMIT_VARIABLE_NUMBER,
				 -1);

	memset(b, 0, sizeof(*b));
	b->s = s;
	b->max = 1;
	while (b->max * 2 <= BK_RES_BULK && b->max * 2 * 9 <= vars)
		b->max *= 2;
}

void bk_res_bulk_free(struct bk_res_bulk *b)
{
	for (size_t k = 0; k < sizeof(b->st) / sizeof(b->st[0]); k++)
		sqlite3_finalize(b->st[k]);
	memset(b, 0, sizeof(*b));
}

int bk_res_bulk_add(struct bk_res_bulk *b, const struct bk_res_row *r,
		    struct bk_err *err)
{
	if (b->n == BK_RES_BULK)
		return bk_errf(err, -EOVERFLOW,
			       "more than %d rows held for one insert",
			       BK_RES_BULK);
	b->row[b->n++] = *r;
	return 0;
}

int bk_res_bulk_flush(struct bk_res_bulk *b, int *failed,
		      struct bk_err *err)
{
	sqlite3_stmt *st = NULL;
	int done = 0, at = 0, n, k, kept, rc, ret = 0;

	while (done < b->n && !ret) {
		for (k = 0, n = 1; n * 2 <= b->n - done && n * 2 <= b->max;
		     k++)
			n *= 2;
		at = done;
		if (n == 1) {
			ret = bk_res_insert(b->s, &b->row[at], err);
		} else if (!(ret = bulk_stmt(b, k, &st, err))) {
			for (int i = 0; i < n; i++)
				res_bind(st, 9 * i, &b->row[done + i]);
			rc = sqlite3_step(st);
			kept = sqlite3_changes(bk_store_db(b->s));
			sqlite3_reset(st);
			/* A constraint stopped the statement after kept rows
			 * (none if it undid them: a foreign key): which row it
			 * was, one by one.  Any other error may have ended the
			 * transaction: no more inserts then. */
			if ((rc & 0xff) == SQLITE_CONSTRAINT)
				for (at += kept < n ? kept : 0;
				     at < done + n && !ret; at++)
					ret = bk_res_insert(b->s, &b->row[at],
							    err);
			else if ((ret = res_insert_error(b->s, rc,
							 &b->row[at], err)))
				at = -1;	/* the statement's */
			if (ret && (rc & 0xff) == SQLITE_CONSTRAINT)
				at--;
		}
		done += n;
	}
	if (ret)
		*failed = at;
	b->n = 0;
	return ret;
}
