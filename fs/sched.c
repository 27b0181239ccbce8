/* sched.c - MOUNT/schedules/ and MOUNT/audit (issue 5): the nodes'
 * binders, listers, contents and actions, and the daemon's side of the
 * schedule runner and of the audit trail. */
#include "bkfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "core/audit.h"
#include "core/schedule.h"

/* ---- schedules/ ---- */

int bkfs_bind_schedule(struct bkfs_node *n, const char *comp)
{
	if (!bk_sched_exists(bkfs.engine, comp))
		return -ENOENT;
	snprintf(n->name, sizeof(n->name), "%s", comp);
	return 0;
}

struct sched_lister {
	const struct bkfs_node *dir;
	const struct bkfs_row *row;
	struct bkfs_lister *l;
};

static int list_one(void *arg, const char *name)
{
	struct sched_lister *sl = arg;
	struct bkfs_node child;

	bkfs_child(sl->dir, sl->row, &child);
	snprintf(child.name, sizeof(child.name), "%s", name);
	return bkfs_list_add(sl->l, &child, name);
}

int bkfs_list_schedules(const struct bkfs_node *dir,
			const struct bkfs_row *row, struct bkfs_lister *l)
{
	struct sched_lister sl = { dir, row, l };

	return bk_sched_names(bkfs.engine, list_one, &sl, NULL);
}

int bkfs_content_sched_config(const struct bkfs_node *n, char **buf,
			      size_t *len)
{
	int r = bk_sched_json(bkfs.engine, n->name, buf, NULL);

	if (!r)
		*len = strlen(*buf);
	return r;
}

int bkfs_content_sched_runs(const struct bkfs_node *n, char **buf,
			    size_t *len)
{
	return bk_sched_runs(bkfs.engine, n->name, buf, len, NULL);
}

int bkfs_usage_sched_create(const struct bkfs_node *n, char **buf,
			    size_t *len)
{
	(void)n;
	return bkfs_text(
"# Write a JSON object here to create a schedule of backups, e.g.\n"
"#   echo '{\"name\": \"nightly\", \"run_at\": \"0 2 * * *\",\n"
"#          \"database_backup_params\": {\"scope\": \"system\",\n"
"#                                      \"retentionCount\": 7}}' > create\n"
"# run_at is a 5-field cron expression in UTC.  Other fields: disabled,\n"
"# start_date, end_date (RFC 3339), description; params: scope, domain,\n"
"# filters, backupKey, tiedToHSM, description, retentionCount, do_scp,\n"
"# connection.  Then: schedules/<name>/config.json, runs, run-now.\n",
		buf, len);
}

int bkfs_usage_sched_run_now(const struct bkfs_node *n, char **buf,
			     size_t *len)
{
	(void)n;
	return bkfs_text(
"# Write anything here to run this schedule now, e.g.\n"
"#   echo 1 > run-now\n"
"# The run is queued and appears in runs.\n", buf, len);
}

/* Schedules make backups of any scope: managing them needs the right to
 * back up the system scope, and, for a schedule (o: its request or its
 * config.json; may be NULL) of a domain, to back up that domain; with
 * retentionCount, to delete the backups of its scope. */
static int may_manage(json_object *o, struct bk_err *err)
{
	json_object *p = NULL, *v;
	const char *dom = NULL;

	if (!bkfs_allowed(BK_ACT_BACKUP, NULL))
		return bk_errf(err, -EACCES,
			       "not authorized to manage schedules (needs the right to back up the system scope)");
	if (o && json_object_object_get_ex(o, "database_backup_params", &p) &&
	    json_object_object_get_ex(p, "domain", &v) &&
	    json_object_is_type(v, json_type_string))
		dom = json_object_get_string(v);
	if (dom && !bkfs_allowed(BK_ACT_BACKUP, dom))
		return bk_errf(err, -EACCES,
			       "not authorized to schedule backups of domain %s",
			       dom);
	if (p && json_object_object_get_ex(p, "retentionCount", NULL) &&
	    !bkfs_allowed(BK_ACT_DELETE, dom))
		return bk_errf(err, -EACCES,
			       "not authorized to delete backups of %s%s: retentionCount needs that right",
			       dom ? "domain " : "the system scope", dom ? dom : "");
	return 0;
}

/* may_manage for the existing schedule name. */
static int may_manage_named(const char *name, struct bk_err *err)
{
	json_object *o = NULL;
	char *json = NULL;
	int r;

	if (!bk_sched_json(bkfs.engine, name, &json, NULL))
		o = json_tokener_parse(json);
	r = may_manage(o, err);
	json_object_put(o);
	free(json);
	return r;
}

int bkfs_act_sched_create(const struct bkfs_node *n, uid_t uid,
			  const char *req, struct bk_err *err)
{
	json_object *o = json_tokener_parse(req ? req : "");
	int r = may_manage(json_object_is_type(o, json_type_object) ? o : NULL,
			   err);

	(void)n;
	json_object_put(o);
	return r ? r : bk_sched_create(bkfs.engine, req, uid, NULL, err);
}

int bkfs_act_sched_run_now(const struct bkfs_node *n, uid_t uid,
			   const char *req, struct bk_err *err)
{
	int r = may_manage_named(n->name, err);

	(void)req;
	return r ? r : bk_sched_run_now(bkfs.engine, n->name, uid, err);
}

int bkfs_remove_schedule(const struct bkfs_node *n, uid_t uid,
			 struct bk_err *err)
{
	int r = may_manage_named(n->name, err);

	return r ? r : bk_sched_delete(bkfs.engine, n->name, uid, err);
}

/* ---- audit ---- */

int bkfs_audit_size(size_t *size)
{
	uint64_t sz = 0;
	int r = bk_audit_size(bkfs.engine, &sz, NULL);

	*size = (size_t)sz;
	return r;
}

int bkfs_audit_read(char *buf, size_t size, off_t off)
{
	size_t got = 0;
	int r = bk_audit_read(bkfs.engine, buf, size, (uint64_t)off, &got,
			      NULL);

	return r ? r : (int)got;
}

/* ---- the daemon ---- */

void bkfs_sched_start(void)
{
	struct bk_err err = { 0, "" };

	bk_audit_set_pid_hook(bkfs_caller_process);
	if (bk_sched_runner_start(bkfs.engine, &err))
		bkfs_log(LOG_ERR, "schedules will not run: %s", err.msg);
}

void bkfs_sched_stop(void)
{
	bk_sched_runner_stop();
}
