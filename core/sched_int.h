/* sched_int.h - what schedule.c and sched_run.c share. */
#ifndef BK_SCHED_INT_H
#define BK_SCHED_INT_H

#include <stdint.h>

#include <json-c/json.h>

#include "cron.h"
#include "schedule.h"
#include <sqlite3.h>
#include <sys/types.h>

#include "store.h"

/* A schedule, parsed.  Strings and params are borrowed from the object
 * given to bk_sched_parse. */
struct bk_sched {
	const char *name;
	struct bk_cron cron;
	int disabled;
	int64_t start, end;		/* 0 and INT64_MAX when not given */
	json_object *params;		/* database_backup_params or NULL */
	const char *domain;		/* NULL: system scope */
	int64_t retention;		/* 0: unlimited */
	int do_scp;
	const char *connection;
};

/* Checks o (the request's fields, "name" included).  e may be NULL: the
 * checks against the state (domain, backup key) are then left out. */
int bk_sched_parse(struct bk_engine *e, json_object *o, struct bk_sched *s,
		   struct bk_err *err);
/* The schedule's resource JSON ({"name", "createdAt", "attrs", ...}),
 * new; -ENOENT. */
int bk_sched_load(struct bk_engine *e, const char *name, json_object **out,
		  struct bk_err *err);
/* The schedule's fields ("name" and the attrs) of its resource JSON res,
 * as a new object. */
json_object *bk_sched_object(json_object *res);
/* The next due time after now inside the schedule's dates; -ENOENT if
 * none (or disabled). */
int bk_sched_next(const struct bk_sched *s, int64_t now, int64_t *next);

/* sched_run.c: the runner has looked up to `now` (a new schedule's due
 * times start after its creation). */
int bk_sched_state_reset(struct bk_store *st, const char *name, int64_t now,
			 struct bk_err *err);
/* sched_run.c: forgets the schedule's runs and state. */
int bk_sched_forget(struct bk_store *st, const char *name,
		    struct bk_err *err);

/* sched_run.c: SQL with bindings, types one letter per "?": s (a string,
 * may be NULL) or i (int64_t).  0 or -EIO.  bk_sched_sql_query prepares
 * *q (the caller steps and finalizes it). */
int bk_sched_sql_do(struct bk_store *st, const char *sql, const char *types,
		    ...);
int bk_sched_sql_query(struct bk_store *st, sqlite3_stmt **q,
		       const char *sql, const char *types, ...);
/* Column i of q as text (borrowed), NULL if NULL. */
const char *bk_sched_col(sqlite3_stmt *q, int i);
/* An audit record of the schedule's (and backup_id's, may be NULL). */
void bk_sched_audit_run(struct bk_engine *e, uid_t uid, const char *op,
			const char *name, const char *scope,
			const char *domain, const char *backup_id,
			const char *result, const char *reason);

#endif
