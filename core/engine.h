/* engine.h - the backup engine: what the FUSE daemon and backupctl call.
 *
 * Scope is data: every scoped call takes `domain`, NULL meaning the system
 * scope, a domain name meaning that domain's scope.
 *
 * All calls are thread-safe (one engine is shared by the daemon's FUSE
 * threads).  Returns are 0 or a negative errno with the reason in err.
 * Strings returned through char ** are new (caller frees).
 *
 * Listing callbacks run with the engine's (recursive) store lock held: they
 * may call the engine again, but should be quick.
 */
#ifndef BK_ENGINE_H
#define BK_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "err.h"

struct bk_engine;

struct bk_init_opts {
	const char *product_version;	/* default "2.20.0" */
	const char *lts;		/* comma list, default "" */
	int demo;			/* add sample domains and resources */
};

/* Creates a state directory (must not exist or be empty): database, root
 * of trust, the root domain, a default system backup key and a default
 * domain backup key for root. */
int bk_state_init(const char *dir, const struct bk_init_opts *o,
		  struct bk_err *err);

#define BK_ENGINE_DAEMON 1	/* recovers interrupted operations, runs jobs */

int bk_engine_open(const char *dir, unsigned flags, struct bk_engine **out,
		   struct bk_err *err);
/* Waits for a running job to finish, then frees everything. */
void bk_engine_close(struct bk_engine *e);

/* A stable inode number for a path of the mounted tree: the first 8 bytes
 * (big-endian) of its SHA-256; "/" is 1, nothing else is 0 or 1. */
uint64_t bk_path_ino(const char *path);

/* The resource types, NULL-terminated (static). */
const char *const *bk_engine_resource_types(void);

/* Borrowed paths. */
const char *bk_engine_state_dir(struct bk_engine *e);
const char *bk_engine_staging_dir(struct bk_engine *e);	/* same fs as archives */

/* {"productVersion","lts":[...],"hsm":{"kind","keyId"},"domains":n} */
int bk_appliance_json(struct bk_engine *e, char **json, struct bk_err *err);
int bk_config_set(struct bk_engine *e, const char *key, const char *value,
		  struct bk_err *err);

/* Domains and resources (thin wrappers over the store). */
int bk_engine_domain_create(struct bk_engine *e, const char *name,
			    struct bk_err *err);
int bk_engine_domain_exists(struct bk_engine *e, const char *name);
/* cb gets each name; stops on non-zero. */
int bk_engine_domain_names(struct bk_engine *e,
			   int (*cb)(void *arg, const char *name), void *arg,
			   struct bk_err *err);
int bk_engine_resource_add(struct bk_engine *e, const char *domain,
			   const char *type, const char *name,
			   const char *attrs, char **id_out, struct bk_err *err);
int bk_engine_resource_delete(struct bk_engine *e, const char *domain,
			      const char *type, const char *name,
			      struct bk_err *err);
int bk_engine_resource_get(struct bk_engine *e, const char *domain,
			   const char *type, const char *name, char **json,
			   struct bk_err *err);
int bk_engine_resource_names(struct bk_engine *e, const char *domain,
			     const char *type,
			     int (*cb)(void *arg, const char *name), void *arg,
			     struct bk_err *err);
/* cb gets each resource's public JSON (borrowed). */
int bk_engine_resource_foreach(struct bk_engine *e, const char *domain,
			       const char *type,
			       int (*cb)(void *arg, json_object *res),
			       void *arg, struct bk_err *err);
int bk_engine_resource_import(struct bk_engine *e, const char *path,
			      long *count, struct bk_err *err);

/* ---- passphrases (per uid, in secure memory, forgotten after
 * BK_PASS_TTL seconds; a passphrase file is the unattended fallback) ---- */
#define BK_PASS_TTL 600
int bk_pass_set(struct bk_engine *e, uid_t uid, const char *pass,
		size_t len, struct bk_err *err);
int bk_pass_file(struct bk_engine *e, const char *path, struct bk_err *err);

/* ---- backup keys ---- */
/* req: JSON text {"name": str, "default": bool} (all optional). */
int bk_key_create(struct bk_engine *e, const char *domain, const char *req,
		  uid_t uid, char **id_out, struct bk_err *err);
/* cb gets each key id, in creation order. */
int bk_key_ids(struct bk_engine *e, const char *domain,
	       int (*cb)(void *arg, const char *id), void *arg,
	       struct bk_err *err);
/* key.json: {"id","name","scope","domain","default","createdAt",
 * "fingerprint"} - never the key.  -ENOENT if absent. */
int bk_key_json(struct bk_engine *e, const char *domain, const char *id,
		char **json, struct bk_err *err);
/* Creation time (epoch seconds), for mtimes. */
int bk_key_time(struct bk_engine *e, const char *domain, const char *id,
		long long *epoch, struct bk_err *err);
/* *id_out: the default key's id; -ENOENT if the scope has none. */
int bk_key_default(struct bk_engine *e, const char *domain, char **id_out,
		   struct bk_err *err);
int bk_key_set_default(struct bk_engine *e, const char *domain,
		       const char *id, uid_t uid, struct bk_err *err);
int bk_key_delete(struct bk_engine *e, const char *domain, const char *id,
		  uid_t uid, struct bk_err *err);	/* -EBUSY for the default */
/* The key exported under uid's passphrase (-EACCES with instructions when
 * none is set).  *buf new (caller frees), *len == bk_key_export_size(). */
int bk_key_export(struct bk_engine *e, const char *domain, const char *id,
		  uid_t uid, uint8_t **buf, size_t *len, struct bk_err *err);
int bk_key_export_size(struct bk_engine *e, const char *domain,
		       const char *id, size_t *len, struct bk_err *err);
/* Imports a key file (buf) with uid's passphrase into the scope. */
int bk_key_import(struct bk_engine *e, const char *domain, const void *buf,
		  size_t len, uid_t uid, char **id_out, struct bk_err *err);
/* Same with an explicit passphrase (backupctl). */
int bk_key_import_pass(struct bk_engine *e, const char *domain,
		       const void *buf, size_t len, const char *pass,
		       size_t passlen, char **id_out, struct bk_err *err);

/* ---- backups ---- */
struct bk_backup_info {
	char id[64];
	char status[16];		/* "In Progress" | "Completed" | "Failed" */
	long long created_epoch;
	long long size;			/* archive bytes (0 unless Completed) */
	char archive_path[4096];	/* valid when Completed */
	long long seq;			/* the engine's row number */
};

/* req: JSON text, see DESIGN.md section 3.  Validates (-EINVAL with the
 * reason), refuses while an operation runs (-EBUSY), then starts the
 * backup in the background. *id_out: the new backup's id. */
int bk_backup_start(struct bk_engine *e, const char *domain, const char *req,
		    uid_t uid, char **id_out, struct bk_err *err);
/* cb gets each backup of the scope, oldest first. */
int bk_backup_list(struct bk_engine *e, const char *domain,
		   int (*cb)(void *arg, const struct bk_backup_info *b),
		   void *arg, struct bk_err *err);
int bk_backup_get(struct bk_engine *e, const char *domain, const char *id,
		  struct bk_backup_info *info, struct bk_err *err);
/* backup.json: the header fields plus "status", "message", "size",
 * "origin" ("local" | "upload"), "keyPresent". */
int bk_backup_json(struct bk_engine *e, const char *domain, const char *id,
		   char **json, struct bk_err *err);
/* The per-backup status line, with "\n". */
int bk_backup_status_line(struct bk_engine *e, const char *domain,
			  const char *id, char **line, struct bk_err *err);
/* restore-report.json of the backup's last restore: what was restored,
 * skipped or conflicting, per resource type.  *json (may be NULL) new;
 * *epoch (may be NULL) its time.  -ENOENT if it was never restored. */
int bk_backup_report_json(struct bk_engine *e, const char *domain,
			  const char *id, char **json, long long *epoch,
			  struct bk_err *err);
/* Newest Completed backup of the scope; -ENOENT if none. */
int bk_backup_latest(struct bk_engine *e, const char *domain, char **id_out,
		     struct bk_err *err);
int bk_backup_delete(struct bk_engine *e, const char *domain,
		     const char *id, uid_t uid, struct bk_err *err);
/* req: "{}" or {"force": true}.  Checks what can be checked before
 * starting (key present, release rules, nothing running) and starts the
 * restore in the background. */
int bk_restore_start(struct bk_engine *e, const char *domain, const char *id,
		     const char *req, uid_t uid, struct bk_err *err);

/* An archive being uploaded to path, authenticated as it arrives
 * (core/upcheck.c says how): started when its first bytes come (0 or
 * -ENOMEM); the writer reports that [0, avail) is final (advance) or that
 * bytes already reported changed (spoil); finish, when no more bytes will
 * come, waits for it and is 1 if it authenticated every chunk of the
 * file of that size; used says what the last finish said (0 if none);
 * free stops and frees it.  Its own thread, its own descriptor; the calls
 * may come from any thread, one at a time. */
struct bk_upcheck;
int bk_upcheck_start(struct bk_engine *e, const char *domain,
		     const char *path, struct bk_upcheck **out);
void bk_upcheck_advance(struct bk_upcheck *c, uint64_t avail);
void bk_upcheck_spoil(struct bk_upcheck *c);
int bk_upcheck_finish(struct bk_upcheck *c, uint64_t size);
int bk_upcheck_used(struct bk_upcheck *c);
void bk_upcheck_free(struct bk_upcheck *c);

/* Processes a staged upload (path: a file under the staging dir, which
 * this call consumes: moved into the archives on success, left in place
 * on failure for the caller to remove).  Checks structure and length, and
 * authenticates fully when the key is present, unless check (NULL: none)
 * authenticated every chunk as the file arrived.  *id_out: the backup id.
 * restore: also starts its restore (a refusal to restore is returned as
 * the error, with the backup kept). */
int bk_upload_archive(struct bk_engine *e, const char *domain,
		      const char *path, int restore, uid_t uid,
		      struct bk_upcheck *check, char **id_out,
		      struct bk_err *err);

/* ---- status ---- */
/* The status JSON (DESIGN.md section 3), with "\n". */
int bk_status_json(struct bk_engine *e, char **json, struct bk_err *err);
/* Blocks until no operation is In Progress. */
void bk_status_wait(struct bk_engine *e);
/* Records a refused request (lastError) and an audit record. */
void bk_note_refusal(struct bk_engine *e, uid_t uid, const char *path,
		     int errnum, const char *msg);
/* Appends an audit record. */
void bk_audit(struct bk_engine *e, uid_t uid, const char *action,
	      const char *target, const char *result, const char *msg);

/* ---- access control (access.c) ----
 * The policy (table access of the state directory) maps users and groups
 * to roles.  Roles: "admin" (system scope, and the domain scope of the
 * root domain only), "backup-admin" (system scope: see and create
 * backups), "domain-admin" of D (everything in domain D), and
 * "domain-backup-admin" of D (see and create D's backups).  uid 0 and the
 * process's own uid (the daemon's: who mounted) own the appliance and may
 * do everything in every scope. */
struct bk_caller {
	uid_t uid;
	gid_t gid;
	const gid_t *groups;		/* supplementary groups (may be NULL) */
	int ngroups;
};

enum {
	BK_ACT_SEE = 1,		/* see the scope (domain NULL: system) */
	BK_ACT_BACKUP,		/* create / run / download / upload backups */
	BK_ACT_RESTORE,		/* restore a backup */
	BK_ACT_KEYS,		/* create, default, delete, upload, export keys */
	BK_ACT_DELETE,		/* delete (rmdir) backups */
	BK_ACT_RESOURCES,	/* read the domain's resources view */
	BK_ACT_SEE_ANY,		/* has any role at all (domain ignored) */
	BK_ACT_SEE_DOMAINS,	/* may see some domain (domain ignored) */
	BK_ACT_HSM,		/* rotate / activate the root of trust
				 * (system scope: owners and admin) */
};

/* 1 if allowed, 0 if not (also when the policy cannot be read). */
int bk_access_allowed(struct bk_engine *e, const struct bk_caller *c,
		      int action, const char *domain);
/* kind: "user" | "group"; role: one of the four; domain: required for the
 * domain-* roles, refused for the others.  Granting twice is no error;
 * revoking what was not granted is -ENOENT. */
int bk_access_grant(struct bk_engine *e, const char *kind, long long id,
		    const char *role, const char *domain, struct bk_err *err);
int bk_access_revoke(struct bk_engine *e, const char *kind, long long id,
		     const char *role, const char *domain,
		     struct bk_err *err);
/* cb gets each grant (domain NULL for system roles); stops on non-zero. */
int bk_access_foreach(struct bk_engine *e,
		      int (*cb)(void *arg, const char *kind, long long id,
				const char *role, const char *domain),
		      void *arg, struct bk_err *err);

/* ---- offline tools (backupctl) ---- */
/* Header of an archive or metadata of a key file, as JSON ("kind":
 * "backup" | "backupkey"); no key needed.  pass (may be NULL) tests a key
 * file's passphrase: -EKEYREJECTED if wrong. */
int bk_inspect_file(const char *path, const char *pass, size_t passlen,
		    char **json, struct bk_err *err);
/* Full authentication of an archive with the engine's keys. *json gets
 * {"id","verified":true,"sha256":...,"payloadSize":...}. */
int bk_verify_file(struct bk_engine *e, const char *path, char **json,
		   struct bk_err *err);

#endif
