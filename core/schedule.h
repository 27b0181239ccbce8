/* schedule.h - scheduled backups (issue 5; docs/OPERATIONS.md, "Scheduled
 * backups").
 *
 * A schedule is a resource of type "schedules" in the root domain (so
 * system backups carry it, and a system restore brings back the
 * backup's); its attrs are the request's fields.  Its runs, and how far
 * the runner has looked, live beside it in the state directory
 * (schedule_runs, schedule_state: migration 4) and are not backed up.
 *
 * Request (MOUNT/schedules/create, backupctl schedule add):
 *   {"name", "run_at": "<5-field cron, UTC>", "disabled", "start_date",
 *    "end_date" (RFC 3339), "description",
 *    "database_backup_params": {"scope": "system"|"domain", "domain",
 *     "filters", "backupKey", "tiedToHSM", "description",
 *     "retentionCount", "do_scp", "connection"}}
 */
#ifndef BK_SCHEDULE_H
#define BK_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine.h"

#define BK_SCHED_NAME_MAX 64
/* A due job waits this long (minutes, on the runner's clock) for another
 * operation to end, then is recorded Skipped. */
#define BK_SCHED_WAIT_MINUTES 60

/* Validates req (-EINVAL with the reason, nothing created; -EEXIST) and
 * creates the schedule.  *name_out (may be NULL): its name (new). */
int bk_sched_create(struct bk_engine *e, const char *req, uid_t uid,
		    char **name_out, struct bk_err *err);
/* Deletes the schedule and its runs (its backups stay).  -ENOENT. */
int bk_sched_delete(struct bk_engine *e, const char *name, uid_t uid,
		    struct bk_err *err);
/* 1 if the schedule exists, else 0. */
int bk_sched_exists(struct bk_engine *e, const char *name);
/* cb gets each schedule's name, sorted; stops on non-zero. */
int bk_sched_names(struct bk_engine *e,
		   int (*cb)(void *arg, const char *name), void *arg,
		   struct bk_err *err);
/* config.json: the schedule's fields, "name", "createdAt" and
 * "next_run_at" (RFC 3339 or null), pretty, with "\n".  *json new. */
int bk_sched_json(struct bk_engine *e, const char *name, char **json,
		  struct bk_err *err);
/* runs: JSON lines, oldest first: {"started", "finished", "status"
 * ("Waiting" | "In Progress" | "Completed" | "Failed" | "Skipped"),
 * "backupId", "reason", "transferId"}.  *text new, *len its length. */
int bk_sched_runs(struct bk_engine *e, const char *name, char **text,
		  size_t *len, struct bk_err *err);
/* Queues a run now (also when disabled); the runner starts it. */
int bk_sched_run_now(struct bk_engine *e, const char *name, uid_t uid,
		     struct bk_err *err);

/* ---- the runner (sched_run.c, sched_pass.c) ---- */

/* The runner's clock, epoch seconds.  Test only: BACKUPFS_CLOCK=PATH
 * makes it the content of the file PATH (epoch seconds or RFC 3339, read
 * at every look), and the runner then looks every 100 ms. */
int64_t bk_sched_now(void);
/* Starts the runner thread (daemons). */
int bk_sched_runner_start(struct bk_engine *e, struct bk_err *err);
/* Stops it; waits for its current pass. */
void bk_sched_runner_stop(void);
/* Wakes the runner now (a run was queued). */
void bk_sched_runner_kick(void);

/* "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" to epoch seconds;
 * -EINVAL if it is not RFC 3339. */
int bk_rfc3339_parse(const char *s, int64_t *epoch);
/* epoch seconds as "YYYY-MM-DDTHH:MM:SSZ". */
void bk_rfc3339_fmt(int64_t epoch, char out[32]);

#endif
