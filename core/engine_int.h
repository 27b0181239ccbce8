/* engine_int.h - what the engine's files share; not for fs/ or cli/. */
#ifndef BK_ENGINE_INT_H
#define BK_ENGINE_INT_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "engine.h"
#include "store.h"
#include "../hsm/rot.h"

#define BK_MAX_PASS 1024

struct bk_pass {
	uid_t uid;
	char *buf;		/* secure heap, BK_MAX_PASS bytes */
	size_t len;
	long long expires;	/* CLOCK_MONOTONIC seconds */
};

struct bk_engine {
	char *dir, *db_path, *archives, *staging, *reports, *rot_path;
	unsigned flags;
	int lock_fd;			/* daemon.lock, daemons only */

	pthread_mutex_t db_lock;	/* guards store */
	struct bk_store *store;		/* the shared connection */
	struct bk_ckpt *ckpt;		/* daemons: checkpoints the log */
	struct bk_rot *rot;		/* thread-safe; replaced (db_lock
					 * held) by a rotation */
	struct bk_rot **rot_retired;	/* keys rotated away, kept valid */
	size_t nretired;

	pthread_mutex_t op_lock;	/* guards everything below */
	pthread_cond_t op_cond;
	int op_running;
	int job_started;		/* job thread to join */
	pthread_t job;
	json_object *op;		/* current or last operation, or NULL */
	json_object *last_error;	/* last refusal, or NULL */
	json_object *audit_pending;	/* rows not written yet (db_lock) */

	struct bk_pass *pass;
	size_t npass;
	char *pass_file;
};

/* Scope helpers: domain NULL = system. */
static inline const char *bk_scope_name(const char *domain)
{
	return domain ? "domain" : "system";
}
static inline const char *bk_scope_domain(const char *domain)
{
	return domain ? domain : "";
}

/* -EIO with s's last database message in err. */
static inline int bk_db_err(struct bk_store *s, struct bk_err *err)
{
	return bk_errf(err, -EIO, "database: %s",
		       sqlite3_errmsg(bk_store_db(s)));
}

/* Prepares sql on s into *st and binds ?1 and ?2 to domain's scope
 * (NULL: system); the caller binds the rest and finalizes *st.  On
 * failure nothing is left to finalize: bk_db_err's -EIO. */
static inline int bk_scope_prepare(struct bk_store *s, const char *sql,
				   const char *domain, sqlite3_stmt **st,
				   struct bk_err *err)
{
	if (sqlite3_prepare_v2(bk_store_db(s), sql, -1, st, NULL) != SQLITE_OK)
		return bk_db_err(s, err);
	sqlite3_bind_text(*st, 1, bk_scope_name(domain), -1, SQLITE_STATIC);
	sqlite3_bind_text(*st, 2, bk_scope_domain(domain), -1, SQLITE_STATIC);
	return 0;
}

/* request.c: validates a control-file request.  fields: NULL-terminated
 * pairs of name and json_type.  *out: new object (caller puts). */
struct bk_field {
	const char *name;
	json_type type;
};
int bk_request_parse(const char *text, const struct bk_field *fields,
		     json_object **out, struct bk_err *err);

/* The control files' field tables (request.c), one place for the engine
 * and the fuzzer. */
extern const struct bk_field bk_fields_system_backup[];
extern const struct bk_field bk_fields_domain_backup[];
extern const struct bk_field bk_fields_key_create[];
extern const struct bk_field bk_fields_restore[];

/* bkeys.c: the clear key of (scope, id) into key[32]; -ENOENT if absent. */
int bk_key_load(struct bk_engine *e, struct bk_store *s, const char *domain,
		const char *id, uint8_t key[32], struct bk_err *err);
/* restore.c: an uploaded archive's backup key (from its header) into
 * key, and r unlocked with it: 1; 0 when it cannot be authenticated here
 * (the key not on this appliance, or sealed by HSM keys not here: away,
 * NULL or not, says which); a negative errno when the unlock fails (a
 * wrong key, a tampered header). */
struct bk_archive_reader;
int bk_upload_unlock(struct bk_engine *e, const char *domain,
		     struct bk_archive_reader *r, uint8_t key[32],
		     struct bk_err *away, struct bk_err *err);
/* Is the key present (1/0)? */
int bk_key_present(struct bk_engine *e, const char *domain, const char *id);
/* Creates a key with fresh material (init). */
int bk_key_create_in(struct bk_engine *e, struct bk_store *s,
		     const char *domain, const char *name, int is_default,
		     char **id_out, struct bk_err *err);

/* engine.c: operation bookkeeping. */
int bk_op_begin(struct bk_engine *e, const char *operation,
		const char *domain, const char *backup_id, uid_t uid,
		struct bk_err *err);	/* -EBUSY if one runs */
void bk_op_progress(struct bk_engine *e, int percent);
/* Bytes processed so far (and in all, 0 if unknown): "bytesDone",
 * "bytesTotal" in status, for rates and ETAs. */
void bk_op_bytes(struct bk_engine *e, uint64_t done, uint64_t total);
/* Ends the running op (status "Completed" or "Failed" with message). */
void bk_op_end(struct bk_engine *e, int ok, const char *message);
/* Records a finished synchronous op (uploads) as the last one. */
void bk_op_record(struct bk_engine *e, const char *operation,
		  const char *domain, const char *backup_id, int ok,
		  const char *message);
void bk_audit_s(struct bk_engine *e, struct bk_store *s, uid_t uid,
		const char *action, const char *target, const char *result,
		const char *msg);

/* backups.c: daemon start-up recovery. */
int bk_backups_recover(struct bk_engine *e, struct bk_err *err);

/* engine.c: uid's passphrase (or the passphrase file's) into buf
 * (BK_MAX_PASS bytes, caller wipes); -EACCES with instructions if none. */
int bk_pass_get(struct bk_engine *e, uid_t uid, char *buf, size_t *len,
		struct bk_err *err);

/* Runs fn(arg) on the job thread; the op must have begun. */
int bk_job_spawn(struct bk_engine *e, void *(*fn)(void *), void *arg,
		 struct bk_err *err);

/* Is id an engine id (32 lowercase hex characters, as bk_random_id)?
 * Ids from uploaded files are checked with it: they become names in the
 * mounted tree. */
int bk_id_valid(const char *id);

/* bk_store_open of the engine's database, for an operation's own
 * connection; a daemon's commits leave checkpoints to its checkpoint
 * thread (checkpoint.h). */
int bk_engine_store_open(struct bk_engine *e, int oflags,
			 struct bk_store **out, struct bk_err *err);

/* "a/b" as a new string (caller frees); NULL if out of memory. */
char *bk_path_join(const char *a, const char *b);

/* status.c: loads the last operation recorded (engine open). */
void bk_op_load_last(struct bk_engine *e);
/* audit.c: writes queued audit rows; db_lock held. */
int bk_audit_flush(struct bk_engine *e);
/* audit.c: appends a record (its JSON object) to the trail of s unless
 * its id is there; SQLite's result code. */
int bk_audit_insert_json(struct bk_store *s, json_object *rec);

/* Reads a whole small file into a new buffer (caller frees). */
int bk_read_small(const char *path, size_t max, uint8_t **buf, size_t *len,
		  struct bk_err *err);

#endif
