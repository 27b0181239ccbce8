/* store.h - the appliance's SQLite database (WAL) and its data.
 *
 * Tables (schema version in PRAGMA user_version, migrations in store.c):
 *
 *   appliance-local, never in a backup:
 *     settings(key TEXT PRIMARY KEY, value TEXT NOT NULL)
 *        keys used: "product_version", "lts" (comma list "2.11,2.17"),
 *        "instance_name", "dns_hosts", "ntp", "proxy", "license",
 *        "cluster", "interface_certificates", "hsm_config" (the HSM's URI,
 *        no PIN), "hsm_token:<label>" (how to reach an anchored domain's
 *        token)
 *     rot_keys(id TEXT PRIMARY KEY, label, token, state 'active' |
 *              'inactive' | 'pending', alg, created_at)  -- HSM key versions
 *
 *   backed-up appliance data:
 *     domains(name TEXT PRIMARY KEY, hsm TEXT, created_at TEXT NOT NULL)
 *     resources(id TEXT PRIMARY KEY, domain TEXT NOT NULL, type TEXT NOT NULL,
 *               name TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 0,
 *               attrs TEXT NOT NULL DEFAULT '{}', material BLOB,
 *               fingerprint TEXT, created_at TEXT NOT NULL,
 *               UNIQUE(domain, type, name, version))
 *     members(domain, group_name, user_name)    -- group memberships
 *     key_links(domain, policy_name, key_name)  -- keys used by cte_policies
 *
 *   the backup subsystem's own, never in a backup, survive a restore:
 *     backup_keys(scope TEXT, domain TEXT NOT NULL DEFAULT '', id TEXT,
 *                 name TEXT, is_default INTEGER, wrapped BLOB,
 *                 fingerprint TEXT, created_at TEXT, created_epoch INTEGER,
 *                 PRIMARY KEY(scope, domain, id))
 *     backups(seq INTEGER PRIMARY KEY, id TEXT, scope TEXT,
 *             domain TEXT NOT NULL DEFAULT '', status TEXT, message TEXT,
 *             created_at TEXT, created_epoch INTEGER, product_version TEXT,
 *             description TEXT, backup_key TEXT, tied INTEGER, size INTEGER,
 *             header TEXT, origin TEXT, UNIQUE(scope, domain, id))
 *     operations(id TEXT PRIMARY KEY, operation TEXT, scope TEXT,
 *                domain TEXT, backup_id TEXT, status TEXT, progress INTEGER,
 *                started_at TEXT, finished_at TEXT, message TEXT)
 *     audit(seq INTEGER PRIMARY KEY, time TEXT, uid INTEGER, action TEXT,
 *           target TEXT, result TEXT, message TEXT)
 *
 * Resource types: keys, users, groups, cte_policies, customer_fragments,
 * cas, certificates, policies, schedules, connections, audit.
 * Keys carry secret material generated at creation from attrs "algorithm"
 * ("AES" default, "HMAC", "EC", "RSA") and "size", kept wrapped by the root
 * of trust; their fingerprint is the SHA-256 of the material.  Groups'
 * attrs "members" (list of user names) fill members; cte_policies' attrs
 * "keys" (list of key names) fill key_links.
 *
 * A bk_store handle is one SQLite connection; it is not shared between
 * threads (open one per thread: WAL lets them run together).
 */
#ifndef BK_STORE_H
#define BK_STORE_H

#include <stdio.h>
#include <sqlite3.h>
#include <json-c/json.h>

#include "err.h"
#include "../hsm/rot.h"

struct bk_store;

/* bk_store_open's flags. */
enum {
	BK_STORE_CREATE = 1,	/* create the database if missing */
	BK_STORE_PRIVATE = 2,	/* one thread at a time uses it: SQLite
				 * takes no mutex per call */
};

/* Opens (BK_STORE_CREATE: creates) STATE_DIR's database, sets WAL, busy
 * timeout, foreign keys, and runs pending migrations. */
int bk_store_open(const char *db_path, int flags, struct bk_store **out,
		  struct bk_err *err);
/* Whether the last failed statement of s broke the unique index on
 * "table.column" (its first column). */
int bk_store_unique_on(struct bk_store *s, const char *column);
void bk_store_close(struct bk_store *s);
/* The schema version this build migrates databases to. */
int bk_store_schema_version(void);

/* The raw connection (borrowed), for the engine's own tables. */
sqlite3 *bk_store_db(struct bk_store *s);

/* The database's page size in bytes (4096 if it cannot be read). */
int bk_store_page_size(struct bk_store *s);

/* The rows of db's main.resources, about: its largest rowid (one step
 * down the table's b-tree; 0 if empty or on error).  For choosing a
 * plan, never for a count. */
long long bk_store_resources_estimate(sqlite3 *db);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int bk_store_begin(struct bk_store *s, struct bk_err *err);
int bk_store_commit(struct bk_store *s, struct bk_err *err);
void bk_store_rollback(struct bk_store *s);

/* Executes SQL with no result; error text into err. */
int bk_store_exec(struct bk_store *s, const char *sql, struct bk_err *err);

/* Settings.  get: *value is a new string (caller frees) or NULL if unset.
 * set: value NULL removes the setting. */
int bk_setting_get(struct bk_store *s, const char *key, char **value,
		   struct bk_err *err);
int bk_setting_set(struct bk_store *s, const char *key, const char *value,
		   struct bk_err *err);

/* Domains.  Names: 1-64 chars of [A-Za-z0-9._-], not starting with '.'. */
int bk_domain_add(struct bk_store *s, const char *name, const char *hsm,
		  struct bk_err *err);	/* -EEXIST, -EINVAL */
int bk_domain_exists(struct bk_store *s, const char *name);	/* 1 / 0 */
/* Calls cb for each domain's JSON {"name","hsm","createdAt"} (borrowed),
 * sorted by name; a non-zero return from cb stops and is returned. */
int bk_domain_foreach(struct bk_store *s,
		      int (*cb)(void *arg, json_object *domain), void *arg,
		      struct bk_err *err);

/* Resources.  attrs is JSON object text (NULL = {}); "version" in attrs
 * (keys) sets the version column.  Generates and wraps key material.
 * *id_out (may be NULL) receives a new string (caller frees). */
int bk_resource_add(struct bk_store *s, struct bk_rot *rot,
		    const char *domain, const char *type, const char *name,
		    const char *attrs, char **id_out, struct bk_err *err);
/* Deletes every version of (domain, type, name); -ENOENT if none. */
int bk_resource_delete(struct bk_store *s, const char *domain,
		       const char *type, const char *name, struct bk_err *err);
/* The public JSON of one resource (never the material):
 * {"id","domain","type","name","version","createdAt","fingerprint"?,
 *  "attrs":{...}} plus, for groups, "members".  *json is a new string
 * (caller frees).  -ENOENT if absent.  Keys: the highest version. */
int bk_resource_get(struct bk_store *s, const char *domain, const char *type,
		    const char *name, char **json, struct bk_err *err);
/* Calls cb with each resource's public JSON (borrowed), ordered by
 * domain, type, name, version.  domain/type NULL = all. */
int bk_resource_foreach(struct bk_store *s, const char *domain,
			const char *type,
			int (*cb)(void *arg, json_object *res), void *arg,
			struct bk_err *err);
/* Names only (fast, for directory listings), distinct, sorted. */
int bk_resource_names(struct bk_store *s, const char *domain,
		      const char *type,
		      int (*cb)(void *arg, const char *name), void *arg,
		      struct bk_err *err);
/* Imports JSON lines {"domain","type","name","attrs"} in one transaction;
 * all or nothing; the error names the line number.  *count may be NULL.
 * Blank lines are skipped; memory stays bounded whatever the file size.
 * Inside the caller's transaction, a savepoint: a failure undoes only
 * the import. */
int bk_resource_import(struct bk_store *s, struct bk_rot *rot, FILE *in,
		       long *count, struct bk_err *err);

/* Non-zero if type is one of the resource types above. */
int bk_resource_type_valid(const char *type);
/* NULL-terminated list of the types (static). */
const char *const *bk_resource_types(void);

/* Current time as RFC 3339 UTC with seconds ("2026-11-28T14:32:27Z") into
 * buf[32]; returns the epoch seconds. */
long long bk_now(char buf[32]);

#endif
