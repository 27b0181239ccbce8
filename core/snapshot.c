/* snapshot.c - writing the payload from one read transaction (the
 * resource lines are snapshot_rows.c).  The system restore is
 * restore_system.c; reading and checking a payload is snapshot_read.c.
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
