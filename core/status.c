/* status.c - operations (one at a time), their status and refusals (the
 * audit trail is audit.c). */
#include "engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "crypto.h"

/* An operation's fields, in the operations table's column order (the
 * "progress" column, index 6, is an integer). */
static const char *const op_fields[] = {
	"id", "operation", "scope", "domain", "backupId", "status",
	"progress", "startedAt", "finishedAt", "message" };
#define NOP_FIELDS ((int)(sizeof(op_fields) / sizeof(op_fields[0])))

void bk_op_load_last(struct bk_engine *e)
{
	sqlite3_stmt *st;
	sqlite3 *db = bk_store_db(e->store);

	if (sqlite3_prepare_v2(db,
		"SELECT id, operation, scope, domain, backup_id, status, progress,"
		" started_at, finished_at, message FROM operations"
		" ORDER BY started_at DESC, rowid DESC LIMIT 1", -1, &st, NULL))
		return;
	if (sqlite3_step(st) == SQLITE_ROW) {
		json_object *o = json_object_new_object();
		for (int i = 0; i < NOP_FIELDS; i++) {
			json_object *v = NULL;

			if (i == 6)
				v = json_object_new_int(sqlite3_column_int(st, i));
			else if (sqlite3_column_type(st, i) != SQLITE_NULL)
				v = json_object_new_string(
					(const char *)sqlite3_column_text(st, i));
			json_object_object_add(o, op_fields[i], v);
		}
		e->op = o;
	}
	sqlite3_finalize(st);
}

static void op_persist(struct bk_engine *e, json_object *op)
{
	sqlite3_stmt *st;
	sqlite3 *db;

	pthread_mutex_lock(&e->db_lock);
	db = bk_store_db(e->store);
	/* An upload finishing during a restore must not hold the store lock
	 * for long: its record may be lost, the status in memory is not. */
	sqlite3_busy_timeout(db, 2000);
	if (sqlite3_prepare_v2(db,
		"INSERT OR REPLACE INTO operations (id, operation, scope, domain,"
		" backup_id, status, progress, started_at, finished_at, message)"
		" VALUES (?,?,?,?,?,?,?,?,?,?)", -1, &st, NULL) == SQLITE_OK) {
		for (int i = 0; i < NOP_FIELDS; i++) {
			json_object *v = json_object_object_get(op, op_fields[i]);

			if (!v)
				sqlite3_bind_null(st, i + 1);
			else if (i == 6)
				sqlite3_bind_int(st, i + 1, json_object_get_int(v));
			else
				sqlite3_bind_text(st, i + 1,
						  json_object_get_string(v), -1,
						  SQLITE_TRANSIENT);
		}
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	sqlite3_busy_timeout(db, 10000);
	pthread_mutex_unlock(&e->db_lock);
}

static json_object *op_new(const char *operation, const char *domain,
			   const char *backup_id, const char *status)
{
	json_object *o = json_object_new_object();
	char id[33], now[32];

	bk_random_id(id, NULL);
	bk_now(now);
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "operation", json_object_new_string(operation));
	json_object_object_add(o, "scope",
			       json_object_new_string(bk_scope_name(domain)));
	json_object_object_add(o, "domain",
			       domain ? json_object_new_string(domain) : NULL);
	json_object_object_add(o, "backupId",
			       backup_id ? json_object_new_string(backup_id) : NULL);
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "progress", json_object_new_int(0));
	json_object_object_add(o, "startedAt", json_object_new_string(now));
	json_object_object_add(o, "finishedAt", NULL);
	json_object_object_add(o, "message", NULL);
	return o;
}

int bk_op_begin(struct bk_engine *e, const char *operation,
		const char *domain, const char *backup_id, uid_t uid,
		struct bk_err *err)
{
	json_object *op;

	(void)uid;
	pthread_mutex_lock(&e->op_lock);
	if (e->op_running) {
		const char *what = json_object_get_string(
			json_object_object_get(e->op, "operation"));
		const char *bid = json_object_get_string(
			json_object_object_get(e->op, "backupId"));

		pthread_mutex_unlock(&e->op_lock);
		if (what && (!strcmp(what, "rotate") ||
			     !strcmp(what, "activate")))
			return bk_errf(err, -EBUSY,
				       "the HSM root of trust is being changed (%s); one backup, restore, rotation or activation runs at a time",
				       what);
		return bk_errf(err, -EBUSY,
			       "another %s (backup %s) is in progress; only one backup or restore runs at a time",
			       what ? what : "operation", bid ? bid : "?");
	}
	if (e->job_started) {
		pthread_join(e->job, NULL);
		e->job_started = 0;
	}
	op = op_new(operation, domain, backup_id, "In Progress");
	json_object_put(e->op);
	e->op = op;
	e->op_running = 1;
	json_object_get(op);
	pthread_mutex_unlock(&e->op_lock);
	op_persist(e, op);
	json_object_put(op);
	return 0;
}

void bk_op_progress(struct bk_engine *e, int percent)
{
	pthread_mutex_lock(&e->op_lock);
	if (e->op && e->op_running)
		json_object_object_add(e->op, "progress",
				       json_object_new_int(percent));
	pthread_mutex_unlock(&e->op_lock);
}

void bk_op_bytes(struct bk_engine *e, uint64_t done, uint64_t total)
{
	pthread_mutex_lock(&e->op_lock);
	if (e->op && e->op_running) {
		json_object_object_add(e->op, "bytesDone",
				       json_object_new_int64((int64_t)done));
		json_object_object_add(e->op, "bytesTotal", total ?
				       json_object_new_int64((int64_t)total) : NULL);
	}
	pthread_mutex_unlock(&e->op_lock);
}

static void op_finish(json_object *op, int ok, const char *message)
{
	char now[32];

	bk_now(now);
	json_object_object_add(op, "status",
			       json_object_new_string(ok ? "Completed" : "Failed"));
	if (ok)
		json_object_object_add(op, "progress", json_object_new_int(100));
	json_object_object_add(op, "finishedAt", json_object_new_string(now));
	json_object_object_add(op, "message",
			       message && *message ? json_object_new_string(message)
						   : NULL);
}

void bk_op_end(struct bk_engine *e, int ok, const char *message)
{
	json_object *op;

	pthread_mutex_lock(&e->op_lock);
	op = json_object_get(e->op);
	op_finish(op, ok, message);
	pthread_mutex_unlock(&e->op_lock);
	op_persist(e, op);
	json_object_put(op);
	/* What the operation freed stays in glibc's arenas otherwise: a
	 * system restore (its private connection's 24 MiB of page cache,
	 * the loader's buffers) left the daemon 32 MiB larger for good,
	 * and the next domain restore peaked above it (63 MiB, then 83). */
	malloc_trim(0);
	pthread_mutex_lock(&e->op_lock);
	e->op_running = 0;
	pthread_cond_broadcast(&e->op_cond);
	pthread_mutex_unlock(&e->op_lock);
}

void bk_op_record(struct bk_engine *e, const char *operation,
		  const char *domain, const char *backup_id, int ok,
		  const char *message)
{
	json_object *op = op_new(operation, domain, backup_id, "In Progress");

	op_finish(op, ok, message);
	op_persist(e, op);
	pthread_mutex_lock(&e->op_lock);
	if (!e->op_running) {
		json_object_put(e->op);
		e->op = json_object_get(op);
	}
	pthread_mutex_unlock(&e->op_lock);
	json_object_put(op);
}

int bk_job_spawn(struct bk_engine *e, void *(*fn)(void *), void *arg,
		 struct bk_err *err)
{
	int ret;

	pthread_mutex_lock(&e->op_lock);
	ret = pthread_create(&e->job, NULL, fn, arg);
	if (!ret)
		e->job_started = 1;
	pthread_mutex_unlock(&e->op_lock);
	if (ret)
		return bk_errf(err, -ret, "cannot start the job thread: %s",
			       strerror(ret));
	return 0;
}

int bk_status_json(struct bk_engine *e, char **json, struct bk_err *err)
{
	json_object *o;
	int n;

	pthread_mutex_lock(&e->op_lock);
	if (e->op) {
		o = json_object_new_object();
		json_object_object_foreach(e->op, k, v)
			json_object_object_add(o, k, json_object_get(v));
	} else {
		o = json_object_new_object();
		json_object_object_add(o, "status", json_object_new_string("Idle"));
	}
	if (e->last_error)
		json_object_object_add(o, "lastError",
				       json_object_get(e->last_error));
	pthread_mutex_unlock(&e->op_lock);
	n = asprintf(json, "%s\n", json_object_to_json_string_ext(o,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	if (n < 0)
		return bk_errf(err, -ENOMEM, "out of memory");
	return 0;
}

void bk_status_wait(struct bk_engine *e)
{
	pthread_mutex_lock(&e->op_lock);
	while (e->op_running)
		pthread_cond_wait(&e->op_cond, &e->op_lock);
	pthread_mutex_unlock(&e->op_lock);
}

static const char *errno_name(int errnum)
{
	switch (errnum) {
	case EINVAL: return "EINVAL";
	case EBUSY: return "EBUSY";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case ENOSPC: return "ENOSPC";
	case EIO: return "EIO";
	case EFBIG: return "EFBIG";
	default: return "ERROR";
	}
}

void bk_note_refusal(struct bk_engine *e, uid_t uid, const char *path,
		     int errnum, const char *msg)
{
	json_object *o = json_object_new_object();
	char now[32];

	if (errnum < 0)
		errnum = -errnum;
	bk_now(now);
	json_object_object_add(o, "time", json_object_new_string(now));
	json_object_object_add(o, "path", json_object_new_string(path ? path : ""));
	json_object_object_add(o, "errno", json_object_new_int(errnum));
	json_object_object_add(o, "error",
			       json_object_new_string(errno_name(errnum)));
	json_object_object_add(o, "message",
			       json_object_new_string(msg && *msg ? msg :
						      strerror(errnum)));
	pthread_mutex_lock(&e->op_lock);
	json_object_put(e->last_error);
	e->last_error = o;
	pthread_mutex_unlock(&e->op_lock);
	bk_audit(e, uid, "refused", path, errno_name(errnum), msg);
}
