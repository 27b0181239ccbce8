/* restore_domain.c - domain restore: merges a domain payload into an
 * existing domain, by the seed's rules (snapshot.h,
 * bk_snapshot_restore_domain).
 *
 * One pass over a one-shot source, in one transaction (a savepoint
 * inside the caller's), memory bounded whatever the payload's size:
 *
 *   - resource lines are decided and inserted as they are read, with the
 *     target domain as their domain: a key whose name and version exist
 *     in the target with another id is a conflict; from the first
 *     conflict on nothing more is inserted, the rest of the payload is
 *     only read (and checked) to name every other conflicting key, then
 *     everything is rolled back;
 *   - which users, groups and CTE policies this restore inserted is kept
 *     in a TEMP table, and member and link lines are staged in another
 *     (the format does not promise that they follow the resources); at
 *     the end one INSERT ... SELECT per kind keeps those the rules allow.
 *     Temporary tables live in a temporary file behind a small page
 *     cache, not in our heap;
 *   - the report's name lists stop at NAMES_MAX names each.
 *
 * Key material: bk_snapshot_read_wrapped hands it over already wrapped
 * with the root of trust (the clear bytes never reach this file); the
 * wrapped form is not secret.
 */
#include "restore_domain_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot_parse.h"

static const char *const q_sql[Q__COUNT] = {
	[Q_TARGET] = "SELECT hsm FROM main.domains WHERE name = ?1",
	[Q_BY_ID] = "SELECT domain FROM main.resources WHERE id = ?1",
	[Q_ID_ROW] = "SELECT rowid FROM main.resources WHERE id = ?1",
	[Q_START] = "SELECT (SELECT max(rowid) FROM main.resources),"
		" EXISTS(SELECT 1 FROM main.resources WHERE domain = ?1)",
	[Q_KEY] = "SELECT id FROM main.resources WHERE domain = ?1"
		" AND type = 'keys' AND name = ?2 AND version = ?3",
	[Q_NAMED] = "SELECT 1 FROM main.resources WHERE domain = ?1"
		" AND type = ?2 AND name = ?3 LIMIT 1",
	[Q_DONE] = "INSERT OR IGNORE INTO temp.bk_rd_done(type, name)"
		" VALUES(?1, ?2)",
	[Q_PAIR] = "INSERT INTO temp.bk_rd_pairs(kind, a, b) VALUES(?1, ?2, ?3)",
};

static const char temp_create[] =
	"DROP TABLE IF EXISTS temp.bk_rd_done;"
	"DROP TABLE IF EXISTS temp.bk_rd_pairs;"
	"CREATE TEMP TABLE bk_rd_done(type TEXT NOT NULL, name TEXT NOT NULL,"
	"  PRIMARY KEY(type, name)) WITHOUT ROWID;"
	"CREATE TEMP TABLE bk_rd_pairs(kind INTEGER NOT NULL, a TEXT NOT NULL,"
	"  b TEXT NOT NULL);";

static const char temp_drop[] =
	"DROP TABLE temp.bk_rd_done;"
	"DROP TABLE temp.bk_rd_pairs;";

/* The rules for pairs, ?1 = the target domain: a membership when this
 * restore inserted both its group and its user; a link when it inserted
 * the policy and the key is in the target now (restored or there). */
static const char *const resolve_sql[P__COUNT] = {
	[P_MEMBER] =
		"INSERT OR IGNORE INTO main.members(domain, group_name,"
		" user_name) SELECT ?1, p.a, p.b FROM temp.bk_rd_pairs p"
		" WHERE p.kind = 0"
		" AND EXISTS(SELECT 1 FROM temp.bk_rd_done d"
		"  WHERE d.type = 'groups' AND d.name = p.a)"
		" AND EXISTS(SELECT 1 FROM temp.bk_rd_done d"
		"  WHERE d.type = 'users' AND d.name = p.b)",
	[P_LINK] =
		"INSERT OR IGNORE INTO main.key_links(domain, policy_name,"
		" key_name) SELECT ?1, p.a, p.b FROM temp.bk_rd_pairs p"
		" WHERE p.kind = 1"
		" AND EXISTS(SELECT 1 FROM temp.bk_rd_done d"
		"  WHERE d.type = 'cte_policies' AND d.name = p.a)"
		" AND EXISTS(SELECT 1 FROM main.resources r"
		"  WHERE r.domain = ?1 AND r.type = 'keys' AND r.name = p.b)",
};

/* ---- statements ---- */

static int prepare(struct rd *r, struct bk_err *err)
{
	int rc;

	for (int i = 0; i < Q__COUNT; i++) {
		rc = sqlite3_prepare_v2(bk_store_db(r->s), q_sql[i], -1, &r->q[i],
					NULL);
		if (rc != SQLITE_OK)
			return bk_store_sqlerr(r->s, rc,
					       "cannot prepare the domain restore",
					       err);
	}
	return 0;
}

static void finalize(struct rd *r)
{
	for (int i = 0; i < Q__COUNT; i++) {
		sqlite3_finalize(r->q[i]);
		r->q[i] = NULL;
	}
}

/* Steps q once and resets it.  If it returns a row and out is not NULL,
 * copies its first column (a string, "" if NULL) into out[outsz].
 * Returns 1 (a row), 0 (none, or done for a write) or a negative errno. */
static int step1(struct rd *r, sqlite3_stmt *q, char *out, size_t outsz,
		 const char *what, struct bk_err *err)
{
	const unsigned char *v;
	int rc, ret;

	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		if (out) {
			v = sqlite3_column_text(q, 0);
			snprintf(out, outsz, "%s", v ? (const char *)v : "");
		}
		ret = 1;
	} else if (rc == SQLITE_DONE) {
		ret = 0;
	} else {
		ret = bk_store_sqlerr(r->s, rc, what, err);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return ret;
}

/* ---- the lines ---- */

static int on_head(struct rd *r, json_object *row, struct bk_err *err)
{
	const char *scope = bk_snap_str(row, "scope");

	if (strcmp(scope, "domain"))
		return bk_errf(err, -EINVAL,
			       "the payload is a %s snapshot; a domain restore needs a domain snapshot",
			       scope);
	snprintf(r->source, sizeof(r->source), "%s",
		 bk_snap_str(row, "domain"));
	return 0;
}

/* The domain line is not inserted: its rows go to the target.  The seed:
 * a backup of an HSM-anchored domain needs a target connected to the
 * same HSM partition. */
static int on_domain(struct rd *r, json_object *row, struct bk_err *err)
{
	const char *hsm = bk_snap_str(row, "hsm");

	if (hsm && (!r->target_hsm || strcmp(hsm, r->target_hsm)))
		return bk_errf(err, -EINVAL,
			       "domain %s is anchored to the HSM %s; the target domain %s must have a connection to the same HSM partition",
			       bk_snap_str(row, "name"), hsm, r->target);
	return 0;
}

/* Inserts the resource line into the target under id. */
static int insert(struct rd *r, const struct bk_snap_res *row,
		  const char *id, const uint8_t *mat, size_t mlen,
		  struct bk_err *err)
{
	struct bk_res_row res;

	bk_snap_res_row(row, id, r->target, &res);
	res.wrapped = mat;		/* wrapped already */
	res.wrapped_len = mat ? mlen : 0;
	return bk_res_insert(r->s, &res, err);
}

enum { ID_NOWHERE, ID_TARGET, ID_ELSEWHERE, ID_NOT_AT_START };

/* Where the resource of id is, or an error.  Most restores go to an empty
 * domain: there, a row found by the id index alone is ours (inserted by
 * this restore, so in the target) if its rowid is above those before,
 * else in another domain - no look-up of the row itself, which was a
 * random read of the table per row (2 s of 12 for a million). */
static int id_where(struct rd *r, const char *id, struct bk_err *err)
{
	sqlite3_stmt *q = r->q[Q_ID_ROW];
	char found[BK_ID_MAX + 80];
	sqlite3_int64 rowid;
	int ret;

	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	ret = sqlite3_step(q);
	rowid = ret == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (ret == SQLITE_DONE)
		return ID_NOWHERE;
	if (ret != SQLITE_ROW)
		return bk_store_sqlerr(r->s, ret, "cannot look up an id", err);
	if (rowid > r->max_rowid)
		return ID_TARGET;
	if (!r->target_had_rows)
		return ID_ELSEWHERE;
	q = r->q[Q_BY_ID];
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	ret = step1(r, q, found, sizeof(found), "cannot look up an id", err);
	if (ret < 0)
		return ret;
	return ret && !strcmp(found, r->target) ? ID_TARGET : ID_ELSEWHERE;
}

/* Where the resource of id is, by the ids found in use before the first
 * row (restore_ids.c) where they tell: ID_ELSEWHERE for one in use while
 * the target was empty; ID_NOT_AT_START for one not found in use then:
 * it is inserted as it is, and if the id index has it after all (this
 * restore inserted it: the payload holds it twice; or its line was not
 * collected), asked again.  Else id_where asks the database.  found
 * is what the set said of id (the reading thread asked it: the row's
 * id_known), BK_IDSET_UNKNOWN when there is no set. */
static int id_known(struct rd *r, int found, const char *id,
		    struct bk_err *err)
{
	if (found == BK_IDSET_NOT_FOUND)
		return ID_NOT_AT_START;
	if (found == BK_IDSET_PRESENT && !r->target_had_rows)
		return ID_ELSEWHERE;
	return id_where(r, id, err);
}

/* Counts a restored resource (under a new id if reid). */
static int restored(struct rd *r, struct type_stats *ts, const char *type,
		    const char *name, int reid, struct bk_err *err)
{
	sqlite3_stmt *q;
	int ret;

	ts->restored++;
	if (reid) {
		ts->reidentified++;
		ret = rd_note(ts, ts->reid_names, name, err);
		if (ret)
			return ret;
	}
	if (strcmp(type, "users") && strcmp(type, "groups") &&
	    strcmp(type, "cte_policies"))
		return 0;
	q = r->q[Q_DONE];
	sqlite3_bind_text(q, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
	ret = step1(r, q, NULL, 0, "cannot record a restored resource", err);
	return ret < 0 ? ret : 0;
}

/* What id_where needs to know before the first row. */
static int start_state(struct rd *r, struct bk_err *err)
{
	sqlite3_stmt *q = r->q[Q_START];
	int rc;

	sqlite3_bind_text(q, 1, r->target, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		r->max_rowid = sqlite3_column_int64(q, 0);
		r->target_had_rows = sqlite3_column_int(q, 1);
		/* At the largest rowid, SQLite picks new ones at random. */
		if (r->max_rowid > INT64_MAX - (1LL << 40)) {
			r->max_rowid = INT64_MAX;
			r->target_had_rows = 1;
		}
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != SQLITE_ROW)
		return bk_store_sqlerr(r->s, rc, "cannot look up the domain",
				       err);
	return 0;
}

/* Inserts the resource line under its id, or under a new one when its
 * id is in use in another domain (where: ID_ELSEWHERE), and counts it:
 * 0, or a negative errno (-EEXIST: its name or its id is taken). */
static int insert_as(struct rd *r, const struct bk_snap_res *row, int where,
		     const uint8_t *mat, size_t mlen, struct bk_err *err)
{
	struct type_stats *ts =
		&r->t[bk_snap_type_index(row->type) - BK_C_TYPES];
	const char *use = row->id;
	char fresh[33];
	int ret;

	if (where == ID_ELSEWHERE) {
		ret = bk_time_id_pooled(&r->ids, fresh, err);
		if (ret)
			return ret;
		use = fresh;
	}
	ret = insert(r, row, use, mat, mlen, err);
	if (ret)
		return ret;
	return restored(r, ts, row->type, row->name, use == fresh, err);
}

/* A key into a target that had no resources before this restore (most
 * restores): its name and version can be taken only by a row this
 * restore inserted, and the insert itself tells, through the unique
 * index on them, without a look-up per row (0.9 s of 6 for a million).
 * 1: inserted; 0: not here, the row takes the long way (on_resource);
 * or a negative errno. */
static int insert_new_key(struct rd *r, const struct bk_snap_res *row,
			  int known, const uint8_t *mat, size_t mlen,
			  struct bk_err *err)
{
	int ret;

	ret = id_known(r, known, row->id, err);
	if (ret < 0 || ret == ID_TARGET)
		return ret < 0 ? ret : 0;
	ret = insert_as(r, row, ret, mat, mlen, err);
	if (ret == -EEXIST)
		bk_err_clear(err);
	return ret == -EEXIST ? 0 : ret ? ret : 1;
}

static int on_resource(struct rd *r, const struct bk_snap_res *row,
		       int known, const uint8_t *mat, size_t mlen,
		       struct bk_err *err)
{
	const char *id = row->id, *type = row->type, *name = row->name;
	long long version = row->version;
	int ti = bk_snap_type_index(type) - BK_C_TYPES;	/* checked */
	struct type_stats *ts = &r->t[ti];
	char found[BK_ID_MAX + 80];
	sqlite3_stmt *q;
	int ret;

	if (ti == 0 && !r->target_had_rows && !r->failed) {
		ret = insert_new_key(r, row, known, mat, mlen, err);
		if (ret)
			return ret < 0 ? ret : 0;
	}
	/* Keys: the same name and version is the same key only with the
	 * same id.  Other types: the same name is the same resource. */
	if (ti == 0) {
		q = r->q[Q_KEY];
		sqlite3_bind_text(q, 1, r->target, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, version);
		ret = step1(r, q, found, sizeof(found), "cannot look up a key",
			    err);
		if (ret < 0)
			return ret;
		if (ret && strcmp(found, id))
			return rd_conflict(r, ts, name, version, found, err);
		if (ret)
			return rd_skip(ts, name, err);
	} else {
		q = r->q[Q_NAMED];
		sqlite3_bind_text(q, 1, r->target, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, type, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, name, -1, SQLITE_STATIC);
		ret = step1(r, q, NULL, 0, "cannot look up a resource", err);
		if (ret < 0)
			return ret;
		if (ret)
			return rd_skip(ts, name, err);
	}
	if (r->failed)		/* only looking for more conflicts */
		return 0;

	/* Ids are unique in the appliance: the same id in the target is
	 * this resource already (kept); in another domain, a new id. */
	ret = id_known(r, known, id, err);
	if (ret == ID_NOT_AT_START) {
		ret = insert_as(r, row, ret, mat, mlen, err);
		if (ret != -EEXIST)
			return ret;
		/* The id or the name is taken: ask. */
		bk_err_clear(err);
		ret = id_where(r, id, err);
	}
	if (ret < 0)
		return ret;
	if (ret == ID_TARGET)
		return rd_skip(ts, name, err);
	return insert_as(r, row, ret, mat, mlen, err);
}

/* Whether p takes the fast way: a key into a target that had no
 * resources, before any conflict (as insert_new_key). */
static int fast(const struct rd *r, const struct pending *p)
{
	return !r->target_had_rows && !r->failed &&
	       bk_snap_type_index(p->row->type) == BK_C_TYPES;
}

/* The pending lines from *i on that take the fast way, inserted together
 * (bk_res_bulk): ids decided as insert_new_key does, in order.  *i ends
 * at the first line not inserted: one that does not take the fast way,
 * whose id this restore inserted already, or that the insert refused
 * (-EEXIST: the long way tells why); or at the line of an error (-1:
 * a statement's, not one line's). */
static int insert_run(struct rd *r, int *i, struct bk_err *err)
{
	int first = *i, k, where, failed = 0, ret = 0;
	struct bk_res_row res;
	struct pending *p;

	for (k = first; k < r->npend && !ret; k++) {
		p = &r->pend[k];
		if (!fast(r, p))
			break;
		where = id_known(r, p->known, p->row->id, err);
		if (where == ID_TARGET)
			break;
		if (where < 0) {
			ret = where;
			break;
		}
		p->reid = where == ID_ELSEWHERE;
		if (p->reid &&
		    (ret = bk_time_id_pooled(&r->ids, p->fresh, err)))
			break;
		bk_snap_res_row(p->row, p->reid ? p->fresh : p->row->id,
				r->target, &res);
		res.wrapped = p->mat;
		res.wrapped_len = p->mat ? p->mlen : 0;
		if ((ret = bk_res_bulk_add(&r->bulk, &res, err)))
			break;
	}
	if (ret) {
		r->bulk.n = 0;
		*i = k;
		return ret;
	}
	ret = bk_res_bulk_flush(&r->bulk, &failed, err);
	if (ret == -EEXIST) {
		bk_err_clear(err);
		k = first + failed;
		ret = 0;
	} else if (ret) {	/* failed < 0: no one line's fault */
		*i = failed < 0 ? -1 : first + failed;
		return ret;
	}
	for (*i = first; *i < k; ++*i) {
		ret = restored(r, &r->t[0], "keys", r->pend[*i].row->name,
			       r->pend[*i].reid, err);
		if (ret)
			return ret;
	}
	return 0;
}

/* Decides and inserts the pending lines in order: the fast way where
 * they take it, else one by one (on_resource).  bk_flush_fn. */
static int rd_flush(void *arg, long *lineno, struct bk_err *err)
{
	struct rd *r = arg;
	struct pending *p;
	int i = 0, ret = 0;

	while (i < r->npend && !ret) {
		ret = insert_run(r, &i, err);
		if (ret || i == r->npend)
			break;
		p = &r->pend[i];
		ret = on_resource(r, p->row, p->known, p->mat, p->mlen, err);
		i += !ret;
	}
	if (ret && i >= 0)
		*lineno = r->pend[i].lineno;
	r->npend = 0;
	return ret;
}

static int on_pair(struct rd *r, int kind, json_object *row, const char *a,
		   const char *b, struct bk_err *err)
{
	sqlite3_stmt *q = r->q[Q_PAIR];
	int ret;

	if (r->failed)
		return 0;
	sqlite3_bind_int(q, 1, kind);
	sqlite3_bind_text(q, 2, bk_snap_str(row, a), -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, bk_snap_str(row, b), -1, SQLITE_STATIC);
	ret = step1(r, q, NULL, 0, "cannot stage a membership or link", err);
	if (ret < 0)
		return ret;
	r->staged[kind]++;
	return 0;
}

static int on_row(void *arg, const struct bk_snap_row *line,
		  struct bk_err *err)
{
	struct rd *r = arg;
	json_object *row = line->o;
	const char *t = line->t;

	if (line->res) {
		struct pending *p = &r->pend[r->npend];

		if (r->npend == BK_SNAP_BATCH_ROWS)
			return bk_errf(err, -EOVERFLOW,
				       "more than %d resource lines held",
				       BK_SNAP_BATCH_ROWS);
		p->row = line->res;
		p->known = line->id_known;
		p->mat = line->material;
		p->mlen = line->material_len;
		p->lineno = line->lineno;
		r->npend++;
		return 0;
	}
	if (!strcmp(t, "member"))
		return on_pair(r, P_MEMBER, row, "group", "user", err);
	if (!strcmp(t, "link"))
		return on_pair(r, P_LINK, row, "policy", "key", err);
	if (!strcmp(t, "head"))
		return on_head(r, row, err);
	if (!strcmp(t, "domain"))
		return on_domain(r, row, err);
	return 0;			/* "end": the reader checked the counts */
}

/* ---- the restore ---- */

/* The ids collected from the payload, looked up in the transaction.  The
 * look-ups go in the index's order: an 8 MiB page cache is enough for
 * them, and leaves room for the set while it holds every id (16 bytes
 * each) rather than those in use (8): then bk_snap_bulk's again. */
static int resolve_ids(struct rd *r, struct bk_idset *ids,
		       struct bk_err *err)
{
	int ret;

	if (!ids)
		return 0;
	bk_store_exec(r->s, "PRAGMA cache_size=-8192", NULL);
	ret = bk_idset_resolve(ids, bk_store_db(r->s), err);
	bk_snap_bulk(r->s, 1);
	if (!ret)
		r->known = ids;
	return ret;
}

static int target_check(struct rd *r, struct bk_err *err)
{
	sqlite3_stmt *q = r->q[Q_TARGET];
	int rc, ret = 0;

	sqlite3_bind_text(q, 1, r->target, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_type(q, 0) != SQLITE_NULL &&
		    !(r->target_hsm = strdup(
			      (const char *)sqlite3_column_text(q, 0))))
			ret = bk_errf(err, -ENOMEM, "out of memory");
	} else if (rc == SQLITE_DONE) {
		ret = bk_errf(err, -ENOENT, "domain %s does not exist",
			      r->target);
	} else {
		ret = bk_store_sqlerr(r->s, rc, "cannot look up the domain",
				      err);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return ret;
}

static int resolve(struct rd *r, int kind, struct bk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = 0;

	if (!r->staged[kind])
		return 0;
	rc = sqlite3_prepare_v2(bk_store_db(r->s), resolve_sql[kind], -1, &st,
				NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, r->target, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE)
		ret = bk_store_sqlerr(r->s, rc, kind == P_MEMBER ?
				      "cannot restore group memberships" :
				      "cannot restore key links", err);
	else
		r->kept[kind] = (uint64_t)sqlite3_changes(bk_store_db(r->s));
	sqlite3_finalize(st);
	return ret;
}

int bk_snapshot_restore_domain(struct bk_store *s, struct bk_rot *rot,
			       const char *target, bk_source_fn source,
			       void *arg, struct bk_idset *ids,
			       json_object *report,
			       bk_progress_fn progress, void *progress_arg,
			       struct bk_err *err)
{
	struct rd *r;
	struct bk_tx tx;
	int in_tx = 0, fk_off = 0, ret;

	if (!bk_domain_name_valid(target))
		return bk_errf(err, -EINVAL, "\"%s\" is not a valid domain name",
			       target ? target : "");
	r = calloc(1, sizeof(*r));
	if (!r)
		return bk_errf(err, -ENOMEM, "out of memory");
	r->s = s;
	r->rot = rot;
	r->target = target;
	bk_res_bulk_init(&r->bulk, s);
	if (rd_stats_init(r)) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* Foreign keys off for this transaction (a no-op inside an outer
	 * one): every row it inserts, resource, membership or link, names
	 * the target, which target_check finds in the transaction and which
	 * nobody can delete while it holds the write lock.  SQLite's look-up
	 * of the domain for each row cost 6 % of a million inserts. */
	fk_off = sqlite3_get_autocommit(bk_store_db(s));
	if (fk_off)
		bk_store_exec(s, "PRAGMA foreign_keys=OFF", NULL);
	bk_snap_bulk(s, 1);
	ret = bk_tx_begin(s, &tx, err);
	if (ret)
		goto out;
	in_tx = 1;
	if ((ret = bk_store_exec(s, temp_create, err)) ||
	    (ret = prepare(r, err)) ||
	    (ret = target_check(r, err)) ||
	    (ret = start_state(r, err)) ||
	    (ret = resolve_ids(r, ids, err)))
		goto out;
	ret = bk_snapshot_read_wrapped(source, arg, rot, target, r->known,
				       on_row, rd_flush, r,
				       NULL, progress, progress_arg, err);
	if (!ret && r->failed)
		ret = rd_conflict_error(r, err);
	if (ret)
		goto out;
	if ((ret = resolve(r, P_MEMBER, err)) ||
	    (ret = resolve(r, P_LINK, err)))
		goto out;
	finalize(r);
	ret = bk_store_exec(s, temp_drop, err);
	if (ret)
		goto out;
	in_tx = 0;
	ret = bk_tx_commit(s, &tx, err);	/* rolls back if it fails */
out:
	finalize(r);
	bk_res_bulk_free(&r->bulk);
	if (in_tx)
		bk_tx_rollback(s, &tx);	/* the temporary tables too */
	bk_snap_bulk(s, 0);
	if (fk_off)
		bk_store_exec(s, "PRAGMA foreign_keys=ON", NULL);
	rd_report_fill(r, report, ret == 0);
	rd_stats_free(r);
	free(r->target_hsm);
	free(r);
	return ret;
}
