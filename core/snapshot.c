/* snapshot.c - writing the payload from one read transaction (the
 * resource lines are snapshot_rows.c), and the system restore (one write
 * transaction).  Reading and checking a payload is snapshot_read.c.
 *
 * Only the resource lines carry secrets (key material, in clear base64);
 * the buffers that hold lines are wiped after each call of the sink.
 */
#include "snapshot_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "audit.h"
#include "snapshot_parse.h"

#define OUT_BUF (64 * 1024)
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

const char *const bk_snap_count_names[BK_C__COUNT] = {
	"domains", "resources", "keys", "users", "groups", "cte_policies",
	"customer_fragments", "cas", "certificates", "policies", "schedules",
	"connections", "audit", "members", "links", "total",
};

int bk_snap_type_index(const char *type)
{
	for (int i = BK_C_TYPES; i < BK_C_MEMBERS; i++)
		if (!strcmp(bk_snap_count_names[i], type))
			return i;
	return -1;
}

void bk_snap_counts_json(const uint64_t n[BK_C__COUNT], json_object *obj)
{
	if (!obj)
		return;
	for (int i = 0; i < BK_C__COUNT; i++)
		json_object_object_add(obj, bk_snap_count_names[i],
				       json_object_new_int64((int64_t)n[i]));
}

/* ---- output: lines batched into a buffer, wiped after each sink ---- */

int bk_snap_out_flush(struct bk_snap_out *o, struct bk_err *err)
{
	int ret = 0;

	if (o->len) {
		ret = o->sink(o->arg, o->buf, o->len, err);
		if (ret && err && !err->msg[0])
			bk_errf(err, ret, "cannot write the payload");
		OPENSSL_cleanse(o->buf, o->len);
		o->len = 0;
	}
	return ret;
}

int bk_snap_out_direct(struct bk_snap_out *o, const void *buf, size_t len,
		       struct bk_err *err)
{
	int ret;

	ret = bk_snap_out_flush(o, err);
	if (ret || !len)
		return ret;
	ret = o->sink(o->arg, buf, len, err);
	if (ret && err && !err->msg[0])
		bk_errf(err, ret, "cannot write the payload");
	return ret;
}

/* Appends the JSON of j and a newline. */
static int out_json(struct bk_snap_out *o, json_object *j, struct bk_err *err)
{
	const char *s;
	size_t n;
	int ret;

	s = json_object_to_json_string_length(j, JSON_FLAGS, &n);
	if (!s)
		return bk_errf(err, -ENOMEM, "out of memory");
	if (o->cap - o->len < n + 1) {
		ret = bk_snap_out_flush(o, err);
		if (ret)
			return ret;
		if (o->cap < n + 1) {	/* a line longer than the buffer */
			ret = bk_snap_out_direct(o, s, n, err);
			return ret ? ret : bk_snap_out_direct(o, "\n", 1, err);
		}
	}
	memcpy(o->buf + o->len, s, n);
	o->buf[o->len + n] = '\n';
	o->len += n + 1;
	return 0;
}

/* ---- writing ---- */

void bk_snap_tick(struct bk_snap_writer *w, uint64_t rows)
{
	uint64_t before = w->done;

	w->done += rows;
	if (w->progress && before / BK_SNAP_PROGRESS_EVERY !=
	    w->done / BK_SNAP_PROGRESS_EVERY)
		w->progress(w->progress_arg, w->done, w->total);
}

int bk_snap_query(struct bk_snap_writer *w, const char *const sql[3],
		  sqlite3_stmt **st, struct bk_err *err)
{
	int rc;

	rc = sqlite3_prepare_v2(bk_store_db(w->s),
				sql[w->filtered ? 2 : w->domain ? 1 : 0], -1,
				st, NULL);
	if (rc != SQLITE_OK)
		return bk_store_sqlerr(w->s, rc, "cannot read the data", err);
	/* (A query without ?1 ignores it: SQLITE_RANGE.) */
	if (w->domain)
		sqlite3_bind_text(*st, 1, w->domain, -1, SQLITE_STATIC);
	return 0;
}

/* The member and link rows of a filtered domain snapshot: those whose
 * two ends are both selected (a link: any version of the key).  The join
 * order is fixed (CROSS JOIN) to what costs only the rows written: every
 * group a selected user is in is selected (filter.c), and so is every
 * key a selected policy uses when keys are selected at all.  The other
 * end is looked up in the selection's key for each row ("+": never as an
 * index constraint on the driving side, which would probe every selected
 * name once per row).  Without statistics (no ANALYZE), SQLite would
 * rather scan a domain's members in the covering unique index than look
 * a user's up in members_by_user: INDEXED BY says which. */
#define MEMBERS_SEL " FROM (SELECT DISTINCT name FROM " BK_FILTER_SEL \
	"  WHERE type = 'users') u" \
	" CROSS JOIN main.members m INDEXED BY members_by_user" \
	"  ON m.domain = ?1 AND m.user_name = u.name" \
	" WHERE EXISTS (SELECT 1 FROM " BK_FILTER_SEL " g" \
	"  WHERE g.type = 'groups' AND g.name = +m.group_name)"
#define LINKS_SEL " FROM (SELECT DISTINCT name FROM " BK_FILTER_SEL \
	"  WHERE type = 'cte_policies') p" \
	" CROSS JOIN main.key_links l ON l.domain = ?1" \
	"  AND l.policy_name = p.name" \
	" WHERE EXISTS (SELECT 1 FROM " BK_FILTER_SEL " k" \
	"  WHERE k.type = 'keys' AND k.name = +l.key_name)"

static int count_rows(struct bk_snap_writer *w, struct bk_err *err)
{
	static const char *const sql[3] = {
		"SELECT (SELECT COUNT(*) FROM domains),"
		" (SELECT COUNT(*) FROM resources),"
		" (SELECT COUNT(*) FROM members),"
		" (SELECT COUNT(*) FROM key_links)",
		"SELECT (SELECT COUNT(*) FROM domains WHERE name = ?1),"
		" (SELECT COUNT(*) FROM resources WHERE domain = ?1),"
		" (SELECT COUNT(*) FROM members WHERE domain = ?1),"
		" (SELECT COUNT(*) FROM key_links WHERE domain = ?1)",
		"SELECT (SELECT COUNT(*) FROM domains WHERE name = ?1),"
		" (SELECT COUNT(*) FROM " BK_FILTER_SEL "),"
		" (SELECT COUNT(*)" MEMBERS_SEL "),"
		" (SELECT COUNT(*)" LINKS_SEL ")",
	};
	sqlite3_stmt *st = NULL;
	int rc, ret;

	ret = bk_snap_query(w, sql, &st, err);
	if (ret)
		return ret;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		ret = bk_store_sqlerr(w->s, rc, "cannot count the data", err);
		goto out;
	}
	if (w->domain && sqlite3_column_int64(st, 0) == 0) {
		ret = bk_errf(err, -ENOENT, "domain %s does not exist",
			      w->domain);
		goto out;
	}
	for (int i = 0; i < 4; i++)
		w->total += (uint64_t)sqlite3_column_int64(st, i);
	w->resources = (uint64_t)sqlite3_column_int64(st, 1);
out:
	sqlite3_finalize(st);
	return ret;
}

static json_object *col_str(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NULL;
	return json_object_new_string_len(
		(const char *)sqlite3_column_text(st, i),
		sqlite3_column_bytes(st, i));
}

static void set_str(json_object *o, sqlite3_stmt *st, int i)
{
	json_object_set_string_len(o, (const char *)sqlite3_column_text(st, i),
				   sqlite3_column_bytes(st, i));
}

static int write_head(struct bk_snap_writer *w, struct bk_err *err)
{
	json_object *o = json_object_new_object();
	int ret;

	if (!o)
		return bk_errf(err, -ENOMEM, "out of memory");
	json_object_object_add(o, "kind",
			       json_object_new_string("backupfs-snapshot"));
	json_object_object_add(o, "format",
			       json_object_new_int(BK_SNAP_FORMAT));
	json_object_object_add(o, "scope", json_object_new_string(
		w->domain ? "domain" : "system"));
	json_object_object_add(o, "domain", w->domain ?
			       json_object_new_string(w->domain) : NULL);
	json_object_object_add(o, "total",
			       json_object_new_int64((int64_t)w->total));
	ret = out_json(&w->out, o, err);
	json_object_put(o);
	return ret;
}

static int write_domains(struct bk_snap_writer *w, struct bk_err *err)
{
	static const char *const sql[3] = {
		"SELECT name, hsm, created_at FROM domains ORDER BY name",
		"SELECT name, hsm, created_at FROM domains WHERE name = ?1",
		"SELECT name, hsm, created_at FROM domains WHERE name = ?1",
	};
	sqlite3_stmt *st = NULL;
	json_object *o;
	int rc, ret;

	ret = bk_snap_query(w, sql, &st, err);
	if (ret)
		return ret;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		o = json_object_new_object();
		if (!o) {
			ret = bk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
		json_object_object_add(o, "t", json_object_new_string("domain"));
		json_object_object_add(o, "name", col_str(st, 0));
		json_object_object_add(o, "hsm", col_str(st, 1));
		json_object_object_add(o, "createdAt", col_str(st, 2));
		ret = out_json(&w->out, o, err);
		json_object_put(o);
		if (ret)
			goto out;
		w->n[BK_C_DOMAINS]++;
		bk_snap_tick(w, 1);
	}
	if (rc != SQLITE_DONE)
		ret = bk_store_sqlerr(w->s, rc, "cannot read domains", err);
out:
	sqlite3_finalize(st);
	return ret;
}

/* Member or link lines: {"t":t,"domain","<a>","<b>"}. */
static int write_pairs(struct bk_snap_writer *w, const char *const sql[3],
		       const char *t, const char *a, const char *b, int count,
		       struct bk_err *err)
{
	json_object *line, *dom, *ja, *jb;
	sqlite3_stmt *st = NULL;
	int rc, ret;

	line = json_object_new_object();
	if (!line)
		return bk_errf(err, -ENOMEM, "out of memory");
	/* One line object, its members updated in place for each row. */
	json_object_object_add(line, "t", json_object_new_string(t));
	json_object_object_add(line, "domain", dom = json_object_new_string(""));
	json_object_object_add(line, a, ja = json_object_new_string(""));
	json_object_object_add(line, b, jb = json_object_new_string(""));
	ret = bk_snap_query(w, sql, &st, err);
	if (ret)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		set_str(dom, st, 0);
		set_str(ja, st, 1);
		set_str(jb, st, 2);
		ret = out_json(&w->out, line, err);
		if (ret)
			goto out;
		w->n[count]++;
		bk_snap_tick(w, 1);
	}
	if (rc != SQLITE_DONE)
		ret = bk_store_sqlerr(w->s, rc, "cannot read the data", err);
out:
	sqlite3_finalize(st);
	json_object_put(line);
	return ret;
}

static int emit_audit(void *arg, json_object *line, struct bk_err *err)
{
	return out_json(arg, line, err);
}

static int write_end(struct bk_snap_writer *w, struct bk_err *err)
{
	json_object *o = json_object_new_object(), *c = json_object_new_object();
	int ret;

	if (!o || !c) {
		json_object_put(o);
		json_object_put(c);
		return bk_errf(err, -ENOMEM, "out of memory");
	}
	w->n[BK_C_TOTAL] = w->n[BK_C_DOMAINS] + w->n[BK_C_RESOURCES] +
		w->n[BK_C_MEMBERS] + w->n[BK_C_LINKS];
	bk_snap_counts_json(w->n, c);
	json_object_object_add(o, "t", json_object_new_string("end"));
	json_object_object_add(o, "counts", c);
	ret = out_json(&w->out, o, err);
	json_object_put(o);
	return ret;
}

int bk_snapshot_write(struct bk_store *s, struct bk_rot *rot,
		      const char *domain, json_object *filters,
		      bk_sink_fn sink, void *sink_arg, json_object *counts,
		      bk_progress_fn progress, void *progress_arg,
		      struct bk_err *err)
{
	static const char *const members_sql[3] = {
		"SELECT domain, group_name, user_name FROM members"
		" ORDER BY domain, group_name, user_name",
		"SELECT domain, group_name, user_name FROM members"
		" WHERE domain = ?1 ORDER BY domain, group_name, user_name",
		"SELECT m.domain, m.group_name, m.user_name" MEMBERS_SEL
		" ORDER BY m.domain, m.group_name, m.user_name",
	};
	static const char *const links_sql[3] = {
		"SELECT domain, policy_name, key_name FROM key_links"
		" ORDER BY domain, policy_name, key_name",
		"SELECT domain, policy_name, key_name FROM key_links"
		" WHERE domain = ?1 ORDER BY domain, policy_name, key_name",
		"SELECT l.domain, l.policy_name, l.key_name" LINKS_SEL
		" ORDER BY l.domain, l.policy_name, l.key_name",
	};
	struct bk_snap_writer w = {
		.s = s, .rot = rot, .domain = domain,
		.filtered = domain && bk_filters_active(filters),
		.out = { .sink = sink, .arg = sink_arg },
		.progress = progress, .progress_arg = progress_arg,
	};
	int began = 0, ret;

	if (domain && !bk_domain_name_valid(domain))
		return bk_errf(err, -EINVAL, "\"%s\" is not a valid domain name",
			       domain);
	if (!domain && filters)
		return bk_errf(err, -EINVAL,
			       "filters apply to domain backups only");
	ret = bk_filters_validate(filters, err);
	if (ret)
		return ret;
	w.out.buf = malloc(OUT_BUF);
	if (!w.out.buf)
		return bk_errf(err, -ENOMEM, "out of memory");
	w.out.cap = OUT_BUF;
	/* One read transaction: in WAL mode every query below sees the
	 * same committed state, whatever other connections write. */
	if (sqlite3_get_autocommit(bk_store_db(s))) {
		ret = bk_store_exec(s, "BEGIN", err);
		if (ret)
			goto out;
		began = 1;
	}
	if (w.filtered && (ret = bk_filter_select(s, domain, filters, err)))
		goto out;
	if ((ret = count_rows(&w, err)) ||
	    (ret = write_head(&w, err)))
		goto out;
	if (progress)
		progress(progress_arg, 0, w.total);
	if ((ret = write_domains(&w, err)) ||
	    (ret = bk_snap_write_resources(&w, err)) ||
	    (ret = write_pairs(&w, members_sql, "member", "group", "user",
			       BK_C_MEMBERS, err)) ||
	    (ret = write_pairs(&w, links_sql, "link", "policy", "key",
			       BK_C_LINKS, err)) ||
	    (!domain && (ret = bk_audit_snap_write(s, emit_audit, &w.out,
						   err))) ||
	    (ret = write_end(&w, err)) ||
	    (ret = bk_snap_out_flush(&w.out, err)))
		goto out;
	bk_snap_counts_json(w.n, counts);
	if (progress)
		progress(progress_arg, w.done, w.total);
out:
	if (w.filtered)
		bk_filter_clear(s);
	if (began)
		bk_store_exec(s, ret ? "ROLLBACK" : "COMMIT", NULL);
	OPENSSL_cleanse(w.out.buf, w.out.cap);
	free(w.out.buf);
	return ret;
}

/* ---- system restore ---- */

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
