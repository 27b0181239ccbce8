/* audit.c - the audit trail (audit.h): records, the queue of rows that
 * could not be written yet, and MOUNT/audit as a file. */
#include "engine_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "crypto.h"

static pid_t (*pid_hook)(void);
static __thread const char *thread_schedule;

void bk_audit_set_pid_hook(pid_t (*fn)(void))
{
	pid_hook = fn;
}

void bk_audit_set_schedule(const char *name)
{
	thread_schedule = name;
}

#define JFLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static json_object *str_or_null(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

/* The record as its JSON object (new). */
static json_object *rec_json(const struct bk_audit_rec *r)
{
	json_object *o = json_object_new_object();
	json_object *ids = json_object_new_object();
	char id[33] = "", now[32];
	pid_t pid = r->pid;

	bk_random_id(id, NULL);
	bk_now(now);
	if (!pid && pid_hook)
		pid = pid_hook();
	if (!pid)
		pid = getpid();
	if (r->ids) {
		json_object_object_foreach(r->ids, k, v)
			json_object_object_add(ids, k, json_object_get(v));
	}
	if (thread_schedule)
		json_object_object_add(ids, "schedule",
				       json_object_new_string(thread_schedule));
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "time", json_object_new_string(now));
	json_object_object_add(o, "uid", json_object_new_int64(r->uid));
	json_object_object_add(o, "pid", json_object_new_int64(pid));
	json_object_object_add(o, "operation",
			       json_object_new_string(r->operation));
	json_object_object_add(o, "scope", str_or_null(r->scope));
	json_object_object_add(o, "domain", str_or_null(r->domain));
	json_object_object_add(o, "ids", ids);
	json_object_object_add(o, "result", str_or_null(r->result));
	json_object_object_add(o, "reason", str_or_null(r->reason));
	return o;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = json_object_object_get(o, key);

	return v ? json_object_get_string(v) : NULL;
}

/* The first id of the record (for the old "target" column). */
static const char *first_id(json_object *o)
{
	json_object_object_foreach(json_object_object_get(o, "ids"), k, v) {
		(void)k;
		return json_object_get_string(v);
	}
	return "";
}

/* Appends one record (a JSON object) at the end of the trail; a record
 * whose id is there already is left alone.  Returns SQLite's code. */
int bk_audit_insert_json(struct bk_store *s, json_object *rec)
{
	const char *line = json_object_to_json_string_ext(rec, JFLAGS);
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(bk_store_db(s),
		"INSERT OR IGNORE INTO audit (time, uid, action, target, result,"
		" message, pid, scope, domain, rid, line, len, off)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 || char(10),"
		" length(CAST(?11 AS BLOB)) + 1, COALESCE((SELECT off + len"
		" FROM audit ORDER BY off DESC LIMIT 1), 0))", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(st, 1, jstr(rec, "time"), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, json_object_get_int64(
		json_object_object_get(rec, "uid")));
	sqlite3_bind_text(st, 3, jstr(rec, "operation"), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, first_id(rec), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, jstr(rec, "result"), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, jstr(rec, "reason"), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, json_object_get_int64(
		json_object_object_get(rec, "pid")));
	sqlite3_bind_text(st, 8, jstr(rec, "scope"), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, jstr(rec, "domain"), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, jstr(rec, "id"), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, line, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

#define AUDIT_PENDING_MAX 100000

/* Writes the queued records; stops at the first that cannot be written
 * yet.  Called with db_lock held. */
int bk_audit_flush(struct bk_engine *e)
{
	size_t n = e->audit_pending ?
		json_object_array_length(e->audit_pending) : 0, done = 0;
	int rc = SQLITE_OK;

	for (; done < n; done++) {
		rc = bk_audit_insert_json(e->store, json_object_array_get_idx(
			e->audit_pending, done));
		if (rc != SQLITE_OK)
			break;
	}
	if (done)
		json_object_array_del_idx(e->audit_pending, 0, done);
	return rc;
}

/* Records from FUSE threads go through the shared connection.  While a
 * restore holds the database's write lock they must not keep the store
 * lock (and with it every stat and readdir) for the busy timeout: they
 * wait briefly, and are queued in memory and written later if need be. */
void bk_audit_rec(struct bk_engine *e, const struct bk_audit_rec *r)
{
	sqlite3 *db = bk_store_db(e->store);
	json_object *rec = rec_json(r);
	int rc;

	pthread_mutex_lock(&e->db_lock);
	sqlite3_busy_timeout(db, 100);
	rc = bk_audit_flush(e);
	if (rc == SQLITE_OK)
		rc = bk_audit_insert_json(e->store, rec);
	if (rc != SQLITE_OK) {
		if (!e->audit_pending)
			e->audit_pending = json_object_new_array();
		if (json_object_array_length(e->audit_pending) <
		    AUDIT_PENDING_MAX)
			json_object_array_add(e->audit_pending,
					      json_object_get(rec));
	}
	sqlite3_busy_timeout(db, 10000);
	pthread_mutex_unlock(&e->db_lock);
	json_object_put(rec);
}

/* ---- the short forms: scope, domain and ids from what the callers
 * pass (an id or a path as target; the scope's name as message) ---- */

struct derived {
	const char *scope;
	char domain[256];
	const char *id_name;	/* "backupId", "keyId", "path", ... */
};

static void scope_of_path(const char *path, struct derived *d)
{
	const char *p;
	size_t n;

	if (!strncmp(path, "/system", 7) && (!path[7] || path[7] == '/')) {
		d->scope = "system";
	} else if (!strncmp(path, "/domains/", 9) && path[9]) {
		p = path + 9;
		n = strcspn(p, "/");
		if (n < sizeof(d->domain)) {
			memcpy(d->domain, p, n);
			d->domain[n] = '\0';
			d->scope = "domain";
		}
	}
}

/* Finds the scope of a backup or key id in table (s: the caller's
 * connection). */
static void scope_of_id(struct bk_store *s, const char *table,
			const char *id, struct derived *d)
{
	sqlite3_stmt *st;
	char sql[128];

	snprintf(sql, sizeof(sql),
		 "SELECT scope, domain FROM %s WHERE id = ?1 LIMIT 1", table);
	if (sqlite3_prepare_v2(bk_store_db(s), sql, -1, &st, NULL))
		return;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *sc = (const char *)sqlite3_column_text(st, 0);

		d->scope = sc && !strcmp(sc, "domain") ? "domain" : "system";
		snprintf(d->domain, sizeof(d->domain), "%s",
			 (const char *)sqlite3_column_text(st, 1) ?
			 (const char *)sqlite3_column_text(st, 1) : "");
	}
	sqlite3_finalize(st);
}

static void derive(struct bk_store *s, const char *action,
		   const char *target, const char *msg, struct derived *d)
{
	memset(d, 0, sizeof(*d));
	d->id_name = "target";
	if (target && target[0] == '/') {
		d->id_name = "path";
		scope_of_path(target, d);
	} else if (!strncmp(action, "backupkey.", 10)) {
		d->id_name = "keyId";
		scope_of_id(s, "backup_keys", target ? target : "", d);
	} else if (!strncmp(action, "backup.", 7) ||
		   !strncmp(action, "restore.", 8)) {
		d->id_name = "backupId";
		scope_of_id(s, "backups", target ? target : "", d);
	} else if (!strncmp(action, "access-", 7)) {
		d->id_name = "principal";
	}
	if (!d->scope && msg && (!strcmp(msg, "system") ||
				 !strcmp(msg, "domain")))
		d->scope = !strcmp(msg, "system") ? "system" : "domain";
}

static void audit_short(struct bk_engine *e, struct bk_store *s, uid_t uid,
			const char *action, const char *target,
			const char *result, const char *msg)
{
	struct bk_audit_rec r = { .uid = uid, .operation = action,
				  .result = result, .reason = msg };
	struct derived d;

	if (s == e->store)		/* the shared connection */
		pthread_mutex_lock(&e->db_lock);
	derive(s, action, target, msg, &d);
	if (s == e->store)
		pthread_mutex_unlock(&e->db_lock);
	r.scope = d.scope;
	r.domain = d.domain[0] && d.scope && !strcmp(d.scope, "domain") ?
		   d.domain : NULL;
	if (d.scope && msg && !strcmp(msg, d.scope))
		r.reason = NULL;	/* the scope's name only: said above */
	r.ids = json_object_new_object();
	if (target && *target)
		json_object_object_add(r.ids, d.id_name,
				       json_object_new_string(target));
	bk_audit_rec_s(e, s, &r);
	json_object_put(r.ids);
}

void bk_audit_rec_s(struct bk_engine *e, struct bk_store *s,
		    const struct bk_audit_rec *r)
{
	json_object *rec;

	if (s == e->store) {
		bk_audit_rec(e, r);
		return;
	}
	rec = rec_json(r);
	bk_audit_insert_json(s, rec);
	json_object_put(rec);
}

void bk_audit(struct bk_engine *e, uid_t uid, const char *action,
	      const char *target, const char *result, const char *msg)
{
	audit_short(e, e->store, uid, action, target, result, msg);
}

void bk_audit_s(struct bk_engine *e, struct bk_store *s, uid_t uid,
		const char *action, const char *target, const char *result,
		const char *msg)
{
	audit_short(e, s, uid, action, target, result, msg);
}

/* ---- MOUNT/audit ---- */

int bk_audit_size(struct bk_engine *e, uint64_t *size, struct bk_err *err)
{
	sqlite3_stmt *st;
	int rc, ret = 0;

	*size = 0;
	pthread_mutex_lock(&e->db_lock);
	rc = sqlite3_prepare_v2(bk_store_db(e->store),
		"SELECT off + len FROM audit ORDER BY off DESC LIMIT 1", -1,
		&st, NULL);
	if (rc != SQLITE_OK) {
		ret = bk_db_err(e->store, err);
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*size = (uint64_t)sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		ret = bk_db_err(e->store, err);
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&e->db_lock);
	return ret;
}

int bk_audit_read(struct bk_engine *e, char *buf, size_t size, uint64_t off,
		  size_t *got, struct bk_err *err)
{
	sqlite3_stmt *st;
	size_t n = 0;
	int rc, ret = 0;

	pthread_mutex_lock(&e->db_lock);
	rc = sqlite3_prepare_v2(bk_store_db(e->store),
		"SELECT off, line FROM audit WHERE off >= (SELECT MAX(off)"
		" FROM audit WHERE off <= ?1) AND off < ?2 ORDER BY off", -1,
		&st, NULL);
	if (rc != SQLITE_OK) {
		ret = bk_db_err(e->store, err);
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)off);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(off + size));
	while (n < size && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t at = (uint64_t)sqlite3_column_int64(st, 0);
		const char *line = (const char *)sqlite3_column_text(st, 1);
		size_t len = (size_t)sqlite3_column_bytes(st, 1), skip;

		if (!line || at + len <= off + n || at > off + n)
			break;		/* a hole: never, rows are contiguous */
		skip = (size_t)(off + n - at);
		len -= skip;
		if (len > size - n)
			len = size - n;
		memcpy(buf + n, line + skip, len);
		n += len;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = bk_db_err(e->store, err);
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&e->db_lock);
	*got = n;
	return ret;
}

/* ---- in system backups ---- */

int bk_audit_snap_write(struct bk_store *s,
			int (*emit)(void *arg, json_object *line,
				    struct bk_err *err),
			void *arg, struct bk_err *err)
{
	sqlite3_stmt *st;
	int rc, ret = 0;

	if (sqlite3_prepare_v2(bk_store_db(s),
			       "SELECT line FROM audit WHERE line IS NOT NULL"
			       " ORDER BY off", -1, &st,
			       NULL))
		return bk_db_err(s, err);
	while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_object *line, *rec = json_tokener_parse(
			(const char *)sqlite3_column_text(st, 0));

		if (!rec)
			continue;	/* never: lines are written by json-c */
		line = json_object_new_object();
		json_object_object_add(line, "t", json_object_new_string("audit"));
		json_object_object_add(line, "r", rec);
		ret = emit(arg, line, err);
		json_object_put(line);
	}
	if (!ret && rc != SQLITE_DONE)
		ret = bk_db_err(s, err);
	sqlite3_finalize(st);
	return ret;
}

int bk_audit_snap_check(json_object *line, struct bk_err *err)
{
	static const char *const strs[] = { "id", "time", "operation", NULL };
	json_object *r, *v;

	if (json_object_object_length(line) != 2 ||
	    !json_object_object_get_ex(line, "r", &r) ||
	    !json_object_is_type(r, json_type_object))
		return bk_errf(err, -EINVAL,
			       "an audit line must be {\"t\": \"audit\", \"r\": {...}}");
	for (int i = 0; strs[i]; i++)
		if (!json_object_object_get_ex(r, strs[i], &v) ||
		    !json_object_is_type(v, json_type_string))
			return bk_errf(err, -EINVAL,
				       "an audit record without \"%s\"",
				       strs[i]);
	if (!bk_id_valid(json_object_get_string(
		    json_object_object_get(r, "id"))))
		return bk_errf(err, -EINVAL, "an audit record's id is not an id");
	return 0;
}

int bk_audit_snap_insert(struct bk_store *s, json_object *line,
			 struct bk_err *err)
{
	int rc = bk_audit_insert_json(s, json_object_object_get(line, "r"));

	return rc == SQLITE_OK ? 0 : bk_db_err(s, err);
}
