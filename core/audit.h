/* audit.h - the audit trail: every operation and every refusal, read as
 * JSON lines from MOUNT/audit (docs/OPERATIONS.md, "Audit trail").
 *
 * A record is {"id", "time", "uid", "pid", "operation", "scope", "domain",
 * "ids": {...}, "result", "reason"}.  Records are only ever appended; each
 * keeps its line and its byte offset, so the file's size is known and any
 * part of it is read without building the whole.  bk_audit() and
 * bk_note_refusal() of engine.h remain the short forms.
 */
#ifndef BK_AUDIT_H
#define BK_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "engine.h"

struct bk_audit_rec {
	uid_t uid;
	pid_t pid;		/* 0: the hook's answer, else this process */
	const char *operation;
	const char *scope;	/* "system" | "domain" | NULL */
	const char *domain;	/* NULL unless scope is "domain" */
	json_object *ids;	/* borrowed, may be NULL: {"backupId": ...} */
	const char *result;
	const char *reason;
};

void bk_audit_rec(struct bk_engine *e, const struct bk_audit_rec *r);
struct bk_store;
/* bk_audit_rec through the store s (a thread's own connection, or
 * e->store). */
void bk_audit_rec_s(struct bk_engine *e, struct bk_store *s,
		    const struct bk_audit_rec *r);

/* The daemon tells who called: fn returns the requesting process (0 when
 * the thread serves no request).  Set once, before any request. */
void bk_audit_set_pid_hook(pid_t (*fn)(void));

/* Records made by this thread until the next call carry "schedule": name
 * among their ids (NULL: none).  The schedule runner's thread uses it. */
void bk_audit_set_schedule(const char *name);

/* The size in bytes of MOUNT/audit. */
int bk_audit_size(struct bk_engine *e, uint64_t *size, struct bk_err *err);
/* Copies up to size bytes of MOUNT/audit at off into buf; *got bytes (0 at
 * the end). */
int bk_audit_read(struct bk_engine *e, char *buf, size_t size, uint64_t off,
		  size_t *got, struct bk_err *err);

/* ---- in system backups (snapshot.c, snapshot_read.c) ----
 * A system snapshot carries the trail as lines {"t": "audit", "r":
 * record}, after the links and before the end line, counted in no count
 * (the archive's chunks authenticate them).  A system restore adds the
 * records the appliance lacks (by id) at the end of its trail and never
 * removes one: the appliance's own trail survives every restore. */
struct bk_store;
/* Calls emit with each line (borrowed), oldest first. */
int bk_audit_snap_write(struct bk_store *s,
			int (*emit)(void *arg, json_object *line,
				    struct bk_err *err),
			void *arg, struct bk_err *err);
/* Checks an "audit" line: -EINVAL with the reason. */
int bk_audit_snap_check(json_object *line, struct bk_err *err);
/* Adds the line's record unless its id is there. */
int bk_audit_snap_insert(struct bk_store *s, json_object *line,
			 struct bk_err *err);

#endif
