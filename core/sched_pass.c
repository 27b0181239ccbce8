/* sched_pass.c - one pass of the schedule runner, and its thread (the
 * rules are at the top of sched_run.c). */
#include "engine_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "sched_int.h"
#include "scp.h"

/* Due times further back than this are not looked for. */
#define LOOKBACK (366LL * 86400)

struct pass {
	struct bk_engine *e;
	struct bk_store *st;		/* the runner's own connection */
	int64_t now;
	char now_s[32];
};

/* The schedule `name` as a resource object (new) and parsed into *s
 * (borrowing from *obj); -ENOENT if gone, -EINVAL if invalid.  What
 * depends on the state (the domain, the backup key) is left to the
 * engine's own checks when the backup starts. */
static int sched_get(struct pass *p, const char *name, json_object **obj,
		     struct bk_sched *s, struct bk_err *err)
{
	json_object *res = NULL, *o;
	int ret;

	ret = bk_sched_load(p->e, name, &res, err);
	if (ret)
		return ret;
	o = bk_sched_object(res);
	json_object_put(res);
	ret = bk_sched_parse(NULL, o, s, err);
	if (ret) {
		json_object_put(o);
		return ret;
	}
	*obj = o;
	return 0;
}

/* The request bk_backup_start gets for the schedule (new). */
static char *backup_req(const struct bk_sched *s)
{
	static const char *const copy[] = { "backupKey", "tiedToHSM",
		"filters", NULL };
	json_object *r = json_object_new_object(), *v;
	char desc[128];
	char *text;

	for (int i = 0; copy[i]; i++)
		if (json_object_object_get_ex(s->params, copy[i], &v))
			json_object_object_add(r, copy[i], json_object_get(v));
	if (json_object_object_get_ex(s->params, "description", &v)) {
		json_object_object_add(r, "description", json_object_get(v));
	} else {
		snprintf(desc, sizeof(desc), "scheduled backup (%s)", s->name);
		json_object_object_add(r, "description",
				       json_object_new_string(desc));
	}
	text = strdup(json_object_to_json_string(r));
	json_object_put(r);
	return text;
}

static int run_set(struct pass *p, long long seq, const char *status,
		   const char *started, const char *finished,
		   const char *domain, const char *backup_id,
		   const char *reason)
{
	return bk_sched_sql_do(p->st,
		"UPDATE schedule_runs SET status = ?1,"
		" started = COALESCE(?2, started),"
		" finished = COALESCE(?3, finished),"
		" domain = COALESCE(?4, domain),"
		" backup_id = COALESCE(?5, backup_id),"
		" reason = COALESCE(?6, reason) WHERE seq = ?7", "ssssssi",
		status, started, finished, domain, backup_id, reason,
		(int64_t)seq);
}

/* ---- runs as the runner sees them ---- */

struct run {
	long long seq;
	char *name, *domain, *id;	/* domain, id: NULL if none */
	int64_t due;
};

static char *dup_col(sqlite3_stmt *q, int i)
{
	const char *v = bk_sched_col(q, i);

	return v ? strdup(v) : NULL;
}

/* The runs with status (of schedule name, if not NULL), oldest first or
 * newest first.  *out new (free_runs). */
static size_t load_runs(struct pass *p, const char *status, const char *name,
			int newest_first, struct run **out)
{
	struct run *v = NULL, *nv;
	size_t n = 0, cap = 0;
	sqlite3_stmt *q;

	*out = NULL;
	if (bk_sched_sql_query(p->st, &q, newest_first ?
		"SELECT seq, schedule, domain, backup_id, due_epoch"
		" FROM schedule_runs WHERE status = ?1 AND (?2 IS NULL"
		" OR schedule = ?2) ORDER BY seq DESC" :
		"SELECT seq, schedule, domain, backup_id, due_epoch"
		" FROM schedule_runs WHERE status = ?1 AND (?2 IS NULL"
		" OR schedule = ?2) ORDER BY seq", "ss", status, name))
		return 0;
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		v[n].seq = sqlite3_column_int64(q, 0);
		v[n].name = dup_col(q, 1);
		v[n].domain = dup_col(q, 2);
		v[n].id = dup_col(q, 3);
		v[n].due = sqlite3_column_int64(q, 4);
		if (v[n].name)
			n++;
	}
	sqlite3_finalize(q);
	*out = v;
	return n;
}

static void free_runs(struct run *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].domain);
		free(v[i].id);
	}
	free(v);
}

/* ---- retention ---- */

static void retention(struct pass *p, const struct bk_sched *s)
{
	struct bk_backup_info info;
	struct bk_err err = { 0, "" };
	struct run *v;
	size_t n, keep = 0;

	if (!s->retention)
		return;
	n = load_runs(p, "Completed", s->name, 1, &v);
	bk_audit_set_schedule(s->name);
	for (size_t i = 0; i < n; i++) {
		if (!v[i].id || bk_backup_get(p->e, v[i].domain, v[i].id,
					      &info, NULL) ||
		    strcmp(info.status, "Completed"))
			continue;	/* deleted by hand, or not usable */
		if ((int64_t)++keep <= s->retention)
			continue;
		/* refused while transferred or restored: kept until the
		 * schedule's next run */
		if (bk_backup_delete(p->e, v[i].domain, v[i].id, 0, &err))
			bk_audit(p->e, 0, "backup.delete", v[i].id, "refused",
				 err.msg);
	}
	bk_audit_set_schedule(NULL);
	free_runs(v, n);
}

/* ---- following started runs ---- */

static void run_finished(struct pass *p, long long seq, const char *name,
			 const char *domain, const char *id,
			 const struct bk_backup_info *info)
{
	struct bk_err err = { 0, "" };
	char *line = NULL, *xfer = NULL, reason[600] = "";
	json_object *obj = NULL;
	json_object *req;
	struct bk_sched s;
	int ok = !strcmp(info->status, "Completed");

	if (!ok) {
		bk_backup_status_line(p->e, domain, id, &line, NULL);
		snprintf(reason, sizeof(reason), "%s", line && !strncmp(line,
			 "Failed: ", 8) ? line + 8 : "the backup failed");
		reason[strcspn(reason, "\n")] = '\0';
		free(line);
	}
	run_set(p, seq, ok ? "Completed" : "Failed", NULL, p->now_s, NULL,
		NULL, ok ? NULL : reason);
	if (ok && !sched_get(p, name, &obj, &s, NULL)) {
		if (s.do_scp) {
			req = json_object_new_object();
			json_object_object_add(req, "connection",
				json_object_new_string(s.connection));
			if (bk_scp_start(p->e, id,
					 json_object_to_json_string(req), 0,
					 &xfer, &err) == 0)
				bk_sched_sql_do(p->st,
					"UPDATE schedule_runs SET transfer_id"
					" = ?1 WHERE seq = ?2", "si", xfer,
					(int64_t)seq);
			else
				snprintf(reason, sizeof(reason),
					 "SCP transfer not started: %s",
					 err.msg[0] ? err.msg :
					 strerror(-err.code));
			if (reason[0])
				run_set(p, seq, "Completed", NULL, NULL, NULL,
					NULL, reason);
			json_object_put(req);
			free(xfer);
		}
		retention(p, &s);
	}
	json_object_put(obj);
	bk_sched_audit_run(p->e, 0, "schedule.run", name,
			   domain ? "domain" : "system", domain, id,
			   ok ? "Completed" : "Failed",
			   reason[0] ? reason : NULL);
}

static void follow_running(struct pass *p)
{
	struct bk_backup_info info;
	struct run *v;
	size_t n = load_runs(p, "In Progress", NULL, 0, &v);

	for (size_t i = 0; i < n; i++) {
		if (!v[i].id || bk_backup_get(p->e, v[i].domain, v[i].id,
					      &info, NULL))
			run_set(p, v[i].seq, "Failed", NULL, p->now_s, NULL,
				NULL, "the backup was deleted before it finished");
		else if (strcmp(info.status, "In Progress"))
			run_finished(p, v[i].seq, v[i].name, v[i].domain,
				     v[i].id, &info);
	}
	free_runs(v, n);
}

/* ---- starting waiting runs ---- */

/* Tries to start run seq of schedule name; 1 if another operation runs
 * (the caller stops trying others in this pass). */
static int start_run(struct pass *p, long long seq, const char *name,
		     int64_t due)
{
	struct bk_err err = { 0, "" };
	json_object *obj = NULL;
	char *req, *id = NULL, why[700];
	struct bk_sched s;
	int ret, busy = 0;

	ret = sched_get(p, name, &obj, &s, &err);
	if (ret == -ENOENT) {
		bk_sched_sql_do(p->st, "DELETE FROM schedule_runs WHERE seq = ?1",
				"i", (int64_t)seq);
		return 0;
	}
	if (ret) {
		run_set(p, seq, "Failed", p->now_s, p->now_s, NULL, NULL,
			err.msg);
		return 0;
	}
	req = backup_req(&s);
	bk_audit_set_schedule(name);
	ret = req ? bk_backup_start(p->e, s.domain, req, 0, &id, &err) :
		    -ENOMEM;
	bk_audit_set_schedule(NULL);
	if (!ret) {
		run_set(p, seq, "In Progress", p->now_s, NULL, s.domain, id,
			NULL);
	} else if (ret == -EBUSY &&
		   p->now - due < BK_SCHED_WAIT_MINUTES * 60LL) {
		busy = 1;			/* keeps waiting */
	} else {
		if (ret == -EBUSY)
			snprintf(why, sizeof(why),
				 "skipped: waited %d minutes for another operation to end (%s)",
				 BK_SCHED_WAIT_MINUTES, err.msg);
		else
			snprintf(why, sizeof(why), "%s", err.msg[0] ? err.msg :
				 strerror(-ret));
		run_set(p, seq, ret == -EBUSY ? "Skipped" : "Failed",
			p->now_s, p->now_s, s.domain, NULL, why);
		bk_sched_audit_run(p->e, 0, "schedule.run", name,
				   s.domain ? "domain" : "system", s.domain,
				   NULL, ret == -EBUSY ? "Skipped" : "Failed",
				   why);
		busy = ret == -EBUSY;
	}
	free(id);
	free(req);
	json_object_put(obj);
	return busy;
}

static void start_waiting(struct pass *p)
{
	struct run *v;
	size_t n = load_runs(p, "Waiting", NULL, 0, &v);
	int busy = 0;

	for (size_t i = 0; i < n; i++) {
		if (!busy)
			busy = start_run(p, v[i].seq, v[i].name, v[i].due);
		else if (p->now - v[i].due >= BK_SCHED_WAIT_MINUTES * 60LL)
			start_run(p, v[i].seq, v[i].name, v[i].due);
	}
	free_runs(v, n);
}

/* ---- due times ---- */

/* Queues the schedule's run if a due time passed since the runner last
 * looked, and notes that it looked at p->now. */
static void look_at(struct pass *p, json_object *res)
{
	const char *name = json_object_get_string(
		json_object_object_get(res, "name"));
	int64_t checked = -1, t, next, last = -1;
	json_object *o = bk_sched_object(res);
	struct bk_sched s;
	sqlite3_stmt *q;
	int pending = 0, steps = 0;

	if (bk_sched_parse(NULL, o, &s, NULL))
		goto out;			/* config.json says why */
	if (!bk_sched_sql_query(p->st, &q, "SELECT checked_epoch FROM"
				" schedule_state WHERE name = ?1", "s", name)) {
		if (sqlite3_step(q) == SQLITE_ROW)
			checked = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
	}
	/* A schedule seen for the first time (restored, or made by an older
	 * release) starts from now: nothing to catch up. */
	if (checked < 0 || s.disabled || checked >= p->now)
		goto mark;
	t = checked;
	if (t < p->now - LOOKBACK)
		t = p->now - LOOKBACK;
	if (t < s.start - 1)
		t = s.start - 1;
	while (steps++ < 1000000 && !bk_cron_next(&s.cron, t, &next) &&
	       next <= p->now && next <= s.end) {
		last = next;
		t = next;
	}
	if (last < 0)
		goto mark;
	if (!bk_sched_sql_query(p->st, &q, "SELECT 1 FROM schedule_runs"
				" WHERE schedule = ?1 AND status IN"
				" ('Waiting', 'In Progress')", "s", name)) {
		pending = sqlite3_step(q) == SQLITE_ROW;
		sqlite3_finalize(q);
	}
	if (pending) {
		const char *why = "skipped: the previous run of this schedule has not finished";

		bk_sched_sql_do(p->st, "INSERT INTO schedule_runs(schedule,"
				" due_epoch, started, finished, status, reason)"
				" VALUES (?1, ?2, ?3, ?3, 'Skipped', ?4)",
				"siss", name, last, p->now_s, why);
		bk_sched_audit_run(p->e, 0, "schedule.run", name,
				   s.domain ? "domain" : "system", s.domain,
				   NULL, "Skipped", why);
	} else {
		char why[96] = "", when[32];
		int64_t first;

		/* more than one due time passed: one catch-up run */
		if (!bk_cron_next(&s.cron, checked, &first) && first < last) {
			bk_rfc3339_fmt(first, when);
			snprintf(why, sizeof(why),
				 "catch-up: due times since %s were missed",
				 when);
		} else if (p->now - last >= 120) {
			bk_rfc3339_fmt(last, when);
			snprintf(why, sizeof(why),
				 "catch-up: due at %s, missed", when);
		}
		bk_sched_sql_do(p->st, "INSERT INTO schedule_runs(schedule,"
				" due_epoch, status, reason) VALUES"
				" (?1, ?2, 'Waiting', ?3)", "sis", name, last,
				why[0] ? why : NULL);
	}
mark:
	/* Every due time up to `checked` is handled.  Written when a due
	 * time was, else once an hour (a minute while disabled, whose due
	 * times must not be caught up): not a write every few seconds. */
	if (checked < 0 || last >= 0 ||
	    p->now - checked >= (s.disabled ? 60 : 3600))
		bk_sched_sql_do(p->st, "INSERT OR REPLACE INTO schedule_state"
				"(name, checked_epoch) VALUES (?1, ?2)", "si",
				name, p->now);
out:
	json_object_put(o);
}

static int collect(void *arg, json_object *res)
{
	json_object_array_add(arg, json_object_get(res));
	return 0;
}

static void look_at_all(struct pass *p)
{
	json_object *all = json_object_new_array();
	size_t i;

	if (!bk_engine_resource_foreach(p->e, "root", "schedules", collect,
					all, NULL))
		for (i = 0; i < json_object_array_length(all); i++)
			look_at(p, json_object_array_get_idx(all, i));
	json_object_put(all);
}

/* A run's transfer (do_scp) that failed after it started: its reason goes
 * into the run, which stays Completed (its backup is).  Transfer records
 * are pruned after 4 days, so few rows are ever looked at. */
static void follow_transfers(struct pass *p)
{
	bk_sched_sql_do(p->st, "UPDATE schedule_runs SET reason ="
		" 'SCP transfer failed: ' || (SELECT COALESCE(t.reason, '')"
		" FROM scp_transfers t WHERE t.id = transfer_id)"
		" WHERE reason IS NULL AND transfer_id IN (SELECT id FROM"
		" scp_transfers WHERE status = 'Failed')", "");
}

static void pass_on(struct bk_engine *e, struct bk_store *st, int64_t now)
{
	struct pass p = { .e = e, .st = st, .now = now };

	bk_rfc3339_fmt(now, p.now_s);
	follow_running(&p);
	follow_transfers(&p);
	look_at_all(&p);
	start_waiting(&p);
}

/* ---- the thread ---- */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	int started, stop, kick;
	struct bk_engine *e;
	struct bk_store *st;
} R = { .lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER };

static void *runner(void *arg)
{
	int fake = getenv("BACKUPFS_CLOCK") && *getenv("BACKUPFS_CLOCK");
	struct timespec until;

	(void)arg;
	pthread_mutex_lock(&R.lock);
	while (!R.stop) {
		R.kick = 0;
		pthread_mutex_unlock(&R.lock);
		pass_on(R.e, R.st, bk_sched_now());
		pthread_mutex_lock(&R.lock);
		if (R.stop || R.kick)
			continue;
		clock_gettime(CLOCK_REALTIME, &until);
		if (fake) {
			until.tv_nsec += 100 * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
		} else {
			until.tv_sec += 5;
		}
		pthread_cond_timedwait(&R.cond, &R.lock, &until);
	}
	pthread_mutex_unlock(&R.lock);
	return NULL;
}

int bk_sched_runner_start(struct bk_engine *e, struct bk_err *err)
{
	int ret;

	pthread_mutex_lock(&R.lock);
	if (R.started) {
		pthread_mutex_unlock(&R.lock);
		return 0;
	}
	ret = bk_engine_store_open(e, 0, &R.st, err);
	if (!ret) {
		R.e = e;
		R.stop = 0;
		ret = -pthread_create(&R.thread, NULL, runner, NULL);
		if (ret) {
			bk_store_close(R.st);
			R.st = NULL;
			bk_errf(err, ret, "cannot start the schedule runner");
		} else {
			R.started = 1;
		}
	}
	pthread_mutex_unlock(&R.lock);
	return ret;
}

void bk_sched_runner_stop(void)
{
	pthread_mutex_lock(&R.lock);
	if (!R.started) {
		pthread_mutex_unlock(&R.lock);
		return;
	}
	R.stop = 1;
	pthread_cond_broadcast(&R.cond);
	pthread_mutex_unlock(&R.lock);
	pthread_join(R.thread, NULL);
	pthread_mutex_lock(&R.lock);
	bk_store_close(R.st);
	R.st = NULL;
	R.started = 0;
	pthread_mutex_unlock(&R.lock);
}

void bk_sched_runner_kick(void)
{
	pthread_mutex_lock(&R.lock);
	R.kick = 1;
	pthread_cond_broadcast(&R.cond);
	pthread_mutex_unlock(&R.lock);
}
