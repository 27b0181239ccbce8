/* sched_run.c - the schedule runner: a thread of the daemon that looks at
 * the schedules every few seconds (every 100 ms on the test clock), at a
 * granularity of one minute.  Everything it knows is in the database
 * (schedule_runs, schedule_state), so a run queued by backupctl, a crash
 * or a remount changes nothing of the rules (docs/OPERATIONS.md):
 *   - due times since the runner last looked (also while unmounted)
 *     collapse into one run: at most one catch-up run per schedule;
 *   - a run waits ("Waiting") while another operation runs, up to
 *     BK_SCHED_WAIT_MINUTES after its due time, then is "Skipped";
 *   - a due time while the schedule's previous run has not finished is
 *     "Skipped" at once;
 *   - a Completed run transfers its backup (do_scp), then retention
 *     deletes the schedule's own Completed backups beyond the newest N.
 */
#include "engine_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "sched_int.h"
#include "scp.h"

/* ---- the clock ---- */

int64_t bk_sched_now(void)
{
	const char *path = getenv("BACKUPFS_CLOCK");
	char buf[64] = "";
	int64_t t;
	FILE *f;

	if (!path || !*path)
		return (int64_t)time(NULL);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!bk_rfc3339_parse(buf, &t))
		return t;
	if (buf[0] && strspn(buf, "0123456789") == strlen(buf))
		return (int64_t)strtoll(buf, NULL, 10);
	return (int64_t)time(NULL);
}

/* ---- SQL with bindings: types is one letter per "?": s (string, may be
 * NULL), i (int64) ---- */

static int sql_v(struct bk_store *st, sqlite3_stmt **out, const char *sql,
		 const char *types, va_list ap)
{
	sqlite3_stmt *q;
	int i;

	if (sqlite3_prepare_v2(bk_store_db(st), sql, -1, &q, NULL))
		return -EIO;
	for (i = 0; types[i]; i++) {
		if (types[i] == 's')
			sqlite3_bind_text(q, i + 1, va_arg(ap, const char *), -1,
					  SQLITE_TRANSIENT);
		else
			sqlite3_bind_int64(q, i + 1, va_arg(ap, int64_t));
	}
	*out = q;
	return 0;
}

/* Runs a statement that returns no rows. */
int bk_sched_sql_do(struct bk_store *st, const char *sql, const char *types,
		  ...)
{
	sqlite3_stmt *q;
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = sql_v(st, &q, sql, types, ap);
	va_end(ap);
	if (rc)
		return rc;
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* Prepares a query (caller steps and finalizes). */
int bk_sched_sql_query(struct bk_store *st, sqlite3_stmt **q, const char *sql,
		     const char *types, ...)
{
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = sql_v(st, q, sql, types, ap);
	va_end(ap);
	return rc;
}

const char *bk_sched_col(sqlite3_stmt *q, int i)
{
	return (const char *)sqlite3_column_text(q, i);
}

int bk_sched_state_reset(struct bk_store *st, const char *name, int64_t now,
			 struct bk_err *err)
{
	if (bk_sched_sql_do(st, "DELETE FROM schedule_runs"
			    " WHERE schedule = ?1", "s", name) ||
	    bk_sched_sql_do(st, "INSERT OR REPLACE INTO schedule_state(name,"
			    " checked_epoch) VALUES (?1, ?2)", "si", name, now))
		return bk_db_err(st, err);
	return 0;
}

int bk_sched_forget(struct bk_store *st, const char *name,
		    struct bk_err *err)
{
	if (bk_sched_sql_do(st, "DELETE FROM schedule_runs"
			    " WHERE schedule = ?1", "s", name) ||
	    bk_sched_sql_do(st, "DELETE FROM schedule_state WHERE name = ?1",
			    "s", name))
		return bk_db_err(st, err);
	return 0;
}

/* ---- runs ---- */

int bk_sched_runs(struct bk_engine *e, const char *name, char **text,
		  size_t *len, struct bk_err *err)
{
	static const char *const keys[] = { "started", "finished", "status",
		"backupId", "reason", "transferId" };
	sqlite3_stmt *q;
	char *buf = NULL, when[32];
	size_t size = 0;
	FILE *f;
	int rc, ret = 0;

	f = open_memstream(&buf, &size);
	if (!f)
		return bk_errf(err, -ENOMEM, "out of memory");
	pthread_mutex_lock(&e->db_lock);
	if (bk_sched_sql_query(e->store, &q, "SELECT started, finished,"
			       " status, backup_id, reason, transfer_id,"
			       " due_epoch FROM schedule_runs"
			       " WHERE schedule = ?1 ORDER BY seq", "s", name)) {
		ret = bk_db_err(e->store, err);
		goto out;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		json_object *o = json_object_new_object();

		for (int i = 0; i < 6; i++) {
			const char *v = bk_sched_col(q, i);

			json_object_object_add(o, keys[i], v ?
					       json_object_new_string(v) : NULL);
		}
		bk_rfc3339_fmt(sqlite3_column_int64(q, 6), when);
		json_object_object_add(o, "due", json_object_new_string(when));
		fprintf(f, "%s\n", json_object_to_json_string_ext(o,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	}
	if (rc != SQLITE_DONE)
		ret = bk_db_err(e->store, err);
	sqlite3_finalize(q);
out:
	pthread_mutex_unlock(&e->db_lock);
	fclose(f);
	if (ret) {
		free(buf);
		return ret;
	}
	*text = buf;
	*len = size;
	return 0;
}

void bk_sched_audit_run(struct bk_engine *e, uid_t uid, const char *op,
			const char *name, const char *scope,
			const char *domain, const char *backup_id,
			const char *result, const char *reason)
{
	json_object *ids = json_object_new_object();
	struct bk_audit_rec r = { .uid = uid, .operation = op,
		.scope = scope, .domain = domain, .ids = ids,
		.result = result, .reason = reason };

	json_object_object_add(ids, "schedule", json_object_new_string(name));
	if (backup_id)
		json_object_object_add(ids, "backupId",
				       json_object_new_string(backup_id));
	bk_audit_rec(e, &r);
	json_object_put(ids);
}

int bk_sched_run_now(struct bk_engine *e, const char *name, uid_t uid,
		     struct bk_err *err)
{
	int ret = 0;

	if (!bk_sched_exists(e, name))
		return bk_errf(err, -ENOENT, "no schedule \"%s\"", name);
	pthread_mutex_lock(&e->db_lock);
	if (bk_sched_sql_do(e->store, "INSERT INTO schedule_runs(schedule,"
			    " due_epoch, status, reason) VALUES"
			    " (?1, ?2, 'Waiting', 'run-now')", "si", name,
			    bk_sched_now()))
		ret = bk_db_err(e->store, err);
	pthread_mutex_unlock(&e->db_lock);
	if (!ret) {
		bk_sched_audit_run(e, uid, "schedule.run-now", name, NULL,
				   NULL, NULL, "ok", NULL);
		bk_sched_runner_kick();
	}
	return ret;
}
