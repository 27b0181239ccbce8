/* restore_system.c - the system restore: a payload replaces every
 * domain, resource, membership and key link in one write transaction
 * (bk_snapshot_restore_system), resources inserted in bulk
 * (bk_res_bulk), the foreign keys proved before the commit.  Reading and
 * checking the payload is snapshot_read.c.
 */
#include "snapshot_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "snapshot_parse.h"

int bk_snapshot_insert_row(struct bk_store *s, struct bk_rot *rot,
			   const struct bk_snap_row *line, struct bk_err *err)
{
	const struct bk_snap_res *res = line->res;
	const uint8_t *material = line->material;
	size_t material_len = line->material_len;
	json_object *row = line->o;
	const char *t = line->t;
	struct bk_res_row r = { 0 };
	uint8_t *wrapped = NULL;
	size_t wlen = 0;
	sqlite3_stmt *st;
	enum bk_stmt id;
	const char *a, *b, *c;
	int rc, ret;

	if (res) {
		bk_snap_res_row(res, res->id, res->domain, &r);
		if (material && rot) {
			ret = bk_rot_wrap(bk_rot_for(rot, r.domain), material,
					  material_len, &wrapped, &wlen, err);
			if (ret)
				return ret;
			r.wrapped = wrapped;
			r.wrapped_len = wlen;
		} else if (material) {
			r.wrapped = material;
			r.wrapped_len = material_len;
		}
		ret = bk_res_insert(s, &r, err);
		free(wrapped);
		return ret;
	}
	if (!strcmp(t, "domain")) {
		id = BK_ST_DOMAIN_ADD;
		a = bk_snap_str(row, "name");
		b = bk_snap_str(row, "hsm");
		c = bk_snap_str(row, "createdAt");
	} else if (!strcmp(t, "member")) {
		id = BK_ST_MEMBER_INSERT;
		a = bk_snap_str(row, "domain");
		b = bk_snap_str(row, "group");
		c = bk_snap_str(row, "user");
	} else if (!strcmp(t, "link")) {
		id = BK_ST_LINK_INSERT;
		a = bk_snap_str(row, "domain");
		b = bk_snap_str(row, "policy");
		c = bk_snap_str(row, "key");
	} else {
		return bk_errf(err, -EINVAL, "a \"%s\" line is not a row", t);
	}
	ret = bk_store_stmt(s, id, &st, err);
	if (ret)
		return ret;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, c, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY ||
	    rc == SQLITE_CONSTRAINT_UNIQUE)
		ret = id == BK_ST_DOMAIN_ADD ?
			bk_errf(err, -EEXIST, "domain %s appears twice", a) :
			bk_errf(err, -EEXIST, "%s %s/%s/%s appears twice", t,
				a, b, c);
	else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		ret = bk_errf(err, -ENOENT, "domain %s does not exist", a);
	else if (rc != SQLITE_DONE)
		ret = bk_store_sqlerr(s, rc, "cannot restore a row", err);
	sqlite3_reset(st);
	return ret;
}

/* A system restore's resources go in BK_SNAP_BATCH_ROWS at a time
 * (bk_res_bulk): the batches bk_snapshot_read_wrapped hands over. */
_Static_assert(BK_RES_BULK >= BK_SNAP_BATCH_ROWS,
	       "a batch of the payload's rows fits in one bulk insert");

struct restore {
	struct bk_store *s;
	struct bk_res_bulk bulk;
	long line[BK_RES_BULK];		/* each held row's payload line */
	uint64_t rows;
};

/* The words for a resource row the emptied tables refused. */
static int refused(const struct bk_res_row *rr, int ret, struct bk_err *err)
{
	if (ret != -EEXIST)
		return ret;
	return bk_errf(err, ret,
		       "the payload holds %s '%s' version %lld in domain %s twice (already exists)",
		       rr->type, rr->name, rr->version, rr->domain);
}

static int restore_flush(void *arg, long *lineno, struct bk_err *err)
{
	struct restore *r = arg;
	int failed = 0, ret;

	ret = bk_res_bulk_flush(&r->bulk, &failed, err);
	if (!ret || failed < 0)
		return ret;
	*lineno = r->line[failed];
	return refused(&r->bulk.row[failed], ret, err);
}

static int restore_row(void *arg, const struct bk_snap_row *line,
		       struct bk_err *err)
{
	struct restore *r = arg;
	json_object *row = line->o;
	const char *t = line->t, *scope;
	struct bk_res_row rr;
	int ret;

	if (line->res) {	/* its material is wrapped already */
		bk_snap_res_row(line->res, line->res->id, line->res->domain,
				&rr);
		rr.wrapped = line->material;
		rr.wrapped_len = line->material_len;
		ret = bk_res_bulk_add(&r->bulk, &rr, err);
		if (ret)
			return ret;
		r->line[r->bulk.n - 1] = line->lineno;
		r->rows++;
		return 0;
	}
	if (!strcmp(t, "head")) {
		scope = bk_snap_str(row, "scope");
		if (strcmp(scope, "system"))
			return bk_errf(err, -EINVAL,
				       "the payload is a %s snapshot of domain %s; a system restore needs a system snapshot",
				       scope, bk_snap_str(row, "domain"));
		return 0;
	}
	if (!strcmp(t, "end")) {
		/* bk_snapshot_read matched the counts to the lines; every
		 * line was inserted, or we would not be here. */
		if ((uint64_t)json_object_get_int64(json_object_object_get(
			    json_object_object_get(row, "counts"), "total")) !=
		    r->rows)
			return bk_errf(err, -EIO,
				       "restored %llu rows, the payload counts a different number",
				       (unsigned long long)r->rows);
		return 0;
	}
	if (!strcmp(t, "audit"))	/* added if missing, not counted */
		return bk_audit_snap_insert(r->s, row, err);
	ret = bk_snapshot_insert_row(r->s, NULL, line, err);
	if (ret)
		return ret;
	r->rows++;
	return 0;
}

void bk_snap_bulk(struct bk_store *s, int on)
{
	/* A restore writes the whole table and its indexes in one
	 * transaction: with the usual 8 MiB of page cache, pages of the
	 * id index (random ids) left the cache dirty, went to the WAL and
	 * came back again and again.  32 MiB were the cure until the
	 * restores stopped writing or reading that index at random (a
	 * system restore builds it at the end, a domain restore finds its
	 * ids beforehand: restore_ids.c); 24 MiB are as fast now, and a
	 * system restore peaks at 46 to 48 MiB rather than 54 to 57. */
	bk_store_exec(s, on ? "PRAGMA cache_size=-24576" :
		      "PRAGMA cache_size=-8192", NULL);
	/* secure_delete (bk_store_open) zeroes every page a delete frees:
	 * a system restore's DELETE of a million resources wrote 600 MB of
	 * zeroes to the WAL, which the restore's own rows then overwrite.
	 * FAST zeroes what is on pages written anyway; the freed pages are
	 * the ones the restored rows fill.  What they held was wrapped
	 * (docs/SECURITY.md). */
	bk_store_exec(s, on ? "PRAGMA secure_delete=FAST" :
		      "PRAGMA secure_delete=ON", NULL);
	bk_store_writeback(s, on);
}

/* Steps st unless rc (how preparing or binding it went) is an error: 1
 * if it gives a row, 0 if not, or an error. */
static int has_row(struct bk_store *s, sqlite3_stmt *st, int rc,
		   struct bk_err *err)
{
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return bk_store_sqlerr(s, rc, "cannot check the restored rows",
				       err);
	return rc == SQLITE_ROW;
}

/* 1 if the domains table holds v, 0 if not, or an error.  v as it is,
 * not as text: a blob never equals a domain's name, as for
 * foreign_key_check (bk_domain_exists takes text). */
static int domain_holds(struct bk_store *s, sqlite3_value *v,
			struct bk_err *err)
{
	sqlite3_stmt *st;
	int ret;

	ret = bk_store_stmt(s, BK_ST_DOMAIN_EXISTS, &st, err);
	if (ret)
		return ret;
	ret = has_row(s, st, sqlite3_bind_value(st, 1, v), err);
	sqlite3_reset(st);
	return ret;
}

/* 1 if pragma (a PRAGMA foreign_key_check) finds a row, 0 if not, or
 * an error. */
static int fk_dangling(struct bk_store *s, const char *pragma,
		       struct bk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, ret;

	rc = sqlite3_prepare_v2(bk_store_db(s), pragma, -1, &st, NULL);
	ret = has_row(s, st, rc, err);
	sqlite3_finalize(st);
	return ret;
}

/* The resources' first domain after *at (NULL: the first), into *at
 * (NULL: no more): 0 or an error. */
static int next_domain(struct bk_store *s, sqlite3_value **at,
		       struct bk_err *err)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(bk_store_db(s), *at ?
		"SELECT domain FROM resources INDEXED BY resources_by_key"
		" WHERE domain > ?1 ORDER BY domain LIMIT 1" :
		"SELECT domain FROM resources INDEXED BY resources_by_key"
		" ORDER BY domain LIMIT 1", -1, &st, NULL);
	if (rc == SQLITE_OK && *at)
		rc = sqlite3_bind_value(st, 1, *at);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	sqlite3_value_free(*at);
	*at = rc == SQLITE_ROW ? sqlite3_value_dup(sqlite3_column_value(st, 0))
			       : NULL;
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW && !*at)
		return bk_errf(err, -ENOMEM, "out of memory");
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return bk_store_sqlerr(s, rc, "cannot check the restored rows",
				       err);
	return 0;
}

static int no_domain(struct bk_err *err)
{
	return bk_errf(err, -EIO,
		       "a restored row refers to a domain that does not exist");
}

/* PRAGMA foreign_key_check read the million resources and looked up the
 * domain of each (0.1 s of a system restore).  The resources' domains
 * are the first column of their key index: one seek per domain finds
 * them all (next_domain), and each is looked up once. */
int bk_snap_fk_check(struct bk_store *s, struct bk_err *err)
{
	sqlite3_value *at = NULL;
	int ret;

	ret = fk_dangling(s, "PRAGMA foreign_key_check(members)", err);
	if (!ret)
		ret = fk_dangling(s, "PRAGMA foreign_key_check(key_links)",
				  err);
	if (ret)
		return ret < 0 ? ret : no_domain(err);
	do {
		ret = next_domain(s, &at, err);
		if (!ret && at) {
			ret = domain_holds(s, at, err);
			ret = ret < 0 ? ret : ret ? 0 : no_domain(err);
		}
	} while (!ret && at);
	sqlite3_value_free(at);
	return ret;
}

/* The first column of sql's first row into buf ("?" if none). */
static void first_dup(sqlite3 *db, const char *sql, char *buf, size_t n)
{
	sqlite3_stmt *st;

	snprintf(buf, n, "?");
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(buf, n, "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

/* The resources' id index, after a system restore loaded the rows; a
 * payload with two resources of one id fails here. */
static int index_again(struct bk_store *s, struct bk_err *err)
{
	sqlite3 *db = bk_store_db(s);
	char what[80] = "";
	int rc;

	/* SQLite sorts in as much memory as the page cache may hold: with
	 * 32 MiB of cache (bk_snap_bulk's, once) the daemon peaked at
	 * 80 MiB, with 16 MiB at 62 MiB, with 8 MiB at 54 MiB (the peak of
	 * the loading before it).  The cache's dirty pages beyond it go to
	 * the WAL now instead of at the commit. */
	bk_store_exec(s, "PRAGMA cache_size=-8192", NULL);
	rc = sqlite3_exec(db, BK_RES_ID_INDEX, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		return 0;
	rc = sqlite3_extended_errcode(db);
	if (rc != SQLITE_CONSTRAINT_UNIQUE)
		return bk_store_sqlerr(s, rc,
				       "cannot index the restored resources",
				       err);
	/* Which one (an error path: a scan is fine). */
	first_dup(db, "SELECT id FROM resources GROUP BY id"
		  " HAVING count(*) > 1 LIMIT 1", what, sizeof(what));
	return bk_errf(err, -EEXIST,
		       "the payload holds resource id %s twice (already exists)",
		       what);
}

int bk_snapshot_restore_system(struct bk_store *s, struct bk_rot *rot,
			       bk_source_fn source, void *arg,
			       json_object *report, bk_progress_fn progress,
			       void *progress_arg, struct bk_err *err)
{
	struct restore *r = calloc(1, sizeof(*r));
	json_object *counts = json_object_new_object();
	struct bk_tx tx;
	int ret, fk_off;

	if (!r || !counts) {
		free(r);
		json_object_put(counts);
		return bk_errf(err, -ENOMEM, "out of memory");
	}
	r->s = s;
	bk_res_bulk_init(&r->bulk, s);
	/* Foreign keys off for this transaction (a no-op inside an outer
	 * one): with them on, SQLite deletes a million resources one by one
	 * (8 s) instead of dropping their pages (0.8 s).  Nothing can
	 * dangle: every row of the payload names a domain of its domain
	 * lines (bk_snapshot_read checks it), and bk_snap_fk_check below
	 * proves it before the commit. */
	fk_off = sqlite3_get_autocommit(bk_store_db(s));
	if (fk_off)
		bk_store_exec(s, "PRAGMA foreign_keys=OFF", NULL);
	bk_snap_bulk(s, 1);
	ret = bk_tx_begin(s, &tx, err);
	if (ret)
		goto out;
	/* Children first: the rows refer to their domain.  The resources'
	 * id index goes, and comes back once the rows are in: one sort
	 * instead of a million inserts at random places of an index larger
	 * than the page cache.  The other one stays: a payload lists the
	 * resources in its order (domain, type, name, version), so each
	 * insert lands at its end - cheaper than sorting again (1.5 s
	 * against 0.5 s for a million).  All of it in the transaction: a
	 * crash finds the old tables and indexes. */
	ret = bk_store_exec(s,
			    "DELETE FROM members;"
			    "DELETE FROM key_links;"
			    "DELETE FROM resources;"
			    "DELETE FROM domains;"
			    BK_RES_ID_INDEX_DROP, err);
	if (!ret)
		ret = bk_snapshot_read_wrapped(source, arg, rot, NULL, NULL,
					       restore_row, restore_flush, r,
					       counts,
					       progress, progress_arg, err);
	if (!ret)
		ret = index_again(s, err);
	if (!ret && fk_off)
		ret = bk_snap_fk_check(s, err);
	if (ret) {
		bk_tx_rollback(s, &tx);
		goto out;
	}
	ret = bk_tx_commit(s, &tx, err);
	if (ret)
		goto out;
	if (report) {
		json_object_object_foreach(counts, key, val)
			json_object_object_add(report, key,
					       json_object_get(val));
	}
out:
	bk_snap_bulk(s, 0);
	if (fk_off)
		bk_store_exec(s, "PRAGMA foreign_keys=ON", NULL);
	json_object_put(counts);
	bk_res_bulk_free(&r->bulk);
	free(r);
	return ret;
}
