/* store_int.h - what the store (store.c), the resources (resource.c,
 * res_insert.c, keygen.c) and the payloads (snapshot*.c, restore_*.c)
 * share.
 * Not for the engine, fs/ or cli/: they use store.h and snapshot.h.
 */
#ifndef BK_STORE_INT_H
#define BK_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "store.h"

#define BK_NAME_MAX 255		/* bytes in a resource, user or key name */
#define BK_ID_MAX 64		/* bytes in a resource id */

/* The resources' unique indexes (schema migration 8: history, keep it
 * as it ran). */
#define BK_RES_INDEXES \
	"CREATE UNIQUE INDEX resources_by_id ON resources(id);" \
	"CREATE UNIQUE INDEX resources_by_key ON resources(domain, type," \
	" name, version);"
/* The one a system restore drops and creates again after loading
 * (core/restore_system.c); it keeps resources_by_key, whose order is the
 * payload's. */
#define BK_RES_ID_INDEX \
	"CREATE UNIQUE INDEX resources_by_id ON resources(id);"
#define BK_RES_ID_INDEX_DROP "DROP INDEX resources_by_id;"

/* The statements prepared once per handle (their SQL is store.c's
 * stmt_sql[], in this order). */
enum bk_stmt {
	BK_ST_SETTING_GET,
	BK_ST_SETTING_SET,
	BK_ST_SETTING_DEL,
	BK_ST_DOMAIN_ADD,
	BK_ST_DOMAIN_EXISTS,
	BK_ST_RES_INSERT,
	BK_ST_RES_DELETE,
	BK_ST_RES_GET,
	BK_ST_MEMBER_ADD,	/* INSERT OR IGNORE: duplicates in attrs */
	BK_ST_MEMBER_INSERT,	/* plain INSERT: restore */
	BK_ST_MEMBERS_DELETE,
	BK_ST_GROUP_MEMBERS,
	BK_ST_LINK_ADD,
	BK_ST_LINK_INSERT,
	BK_ST_LINKS_DELETE,
	BK_ST__COUNT
};

struct bk_store {
	sqlite3 *db;
	sqlite3_stmt *st[BK_ST__COUNT];	/* prepared on first use */
	struct bk_writeback *wb;	/* writeback.c; NULL: off */
};

/* writeback.c: while on, the WAL's dirty pages are sent to disk as a
 * long transaction makes them, not all at its commit.  Off before
 * bk_store_close. */
void bk_store_writeback(struct bk_store *s, int on);

/* The cached statement id, reset and with its bindings cleared
 * (borrowed: valid until bk_store_close).  Statements are never held
 * across a call-back, so a call-back may use the store again. */
int bk_store_stmt(struct bk_store *s, enum bk_stmt id, sqlite3_stmt **out,
		  struct bk_err *err);

/* Maps an SQLite result code to a negative errno and sets err to
 * "<what>: <SQLite's message>".  Returns the errno. */
int bk_store_sqlerr(struct bk_store *s, int rc, const char *what,
		    struct bk_err *err);

/* A transaction that nests: BEGIN IMMEDIATE when the connection is in
 * autocommit mode, else a SAVEPOINT inside the caller's transaction.
 * After bk_tx_begin succeeds, exactly one of commit or rollback must be
 * called. */
struct bk_tx {
	int nested;
};
int bk_tx_begin(struct bk_store *s, struct bk_tx *tx, struct bk_err *err);
int bk_tx_commit(struct bk_store *s, struct bk_tx *tx, struct bk_err *err);
void bk_tx_rollback(struct bk_store *s, struct bk_tx *tx);

/* Domain names: 1-64 of [A-Za-z0-9._-], not starting with '.'. */
int bk_domain_name_valid(const char *name);
/* Resource, user, key names: 1..BK_NAME_MAX bytes, no NUL (len is the
 * length the JSON gave, so an embedded NUL is caught).  what names the
 * field in the message. */
int bk_name_check(const char *what, const char *name, size_t len,
		  struct bk_err *err);

/* One row of resources, as stored (every pointer borrowed). */
struct bk_res_row {
	const char *id, *domain, *type, *name;
	long long version;
	const char *attrs;		/* JSON object text */
	const uint8_t *wrapped;		/* NULL: no material */
	size_t wrapped_len;
	const char *fingerprint;	/* NULL: none */
	const char *created_at;
	/* The strings' lengths when the caller has them (a restore's
	 * million rows: no strlen each); 0: not given. */
	size_t id_len, type_len, name_len, attrs_len, fp_len, created_len;
};
/* Inserts it; -EEXIST (with words) for a duplicate name/version or id. */
int bk_res_insert(struct bk_store *s, const struct bk_res_row *r,
		  struct bk_err *err);

/* Rows added together: multi-row INSERTs (res_insert.c).  Every row's
 * pointers stay borrowed until the flush that inserts it. */
#define BK_RES_BULK 256
struct bk_res_bulk {
	struct bk_store *s;
	sqlite3_stmt *st[9];		/* [k]: the INSERT of 1 << k rows */
	struct bk_res_row row[BK_RES_BULK];
	int n;				/* pending */
	int max;			/* rows per statement at most */
};
void bk_res_bulk_init(struct bk_res_bulk *b, struct bk_store *s);
/* Holds r (borrowed) until the flush: 0, or -EOVERFLOW when
 * BK_RES_BULK rows are held. */
int bk_res_bulk_add(struct bk_res_bulk *b, const struct bk_res_row *r,
		    struct bk_err *err);
/* Inserts the pending rows: 0, or the error of the first that failed
 * (as bk_res_insert's) and its index among them in *failed (-1 for an
 * error of a statement, not of a row: the disk, say); the rows before
 * it are in, the others are dropped. */
int bk_res_bulk_flush(struct bk_res_bulk *b, int *failed,
		      struct bk_err *err);
void bk_res_bulk_free(struct bk_res_bulk *b);

/* The public JSON of the resource in the current row of st, whose
 * columns are: id, domain, type, name, version, attrs, fingerprint,
 * created_at.  *out: new object (caller puts). */
int bk_res_public_json(struct bk_store *s, sqlite3_stmt *st,
		       json_object **out, struct bk_err *err);

/* keygen.c: generates a key's clear material from its attrs (borrowed):
 * "algorithm" AES (default) | HMAC | EC | RSA, "size", "curve".
 * *mat: new secure-heap buffer, caller frees with
 * bk_secure_free(*mat, *len).  what ("keys 'k1'") prefixes messages. */
int bk_keygen(json_object *attrs, const char *what, uint8_t **mat,
	      size_t *len, struct bk_err *err);

#endif
