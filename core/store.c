/* store.c - the SQLite connection: opening, schema migrations,
 * transactions, the statement cache, settings and domains.
 *
 * Resources live in resource.c (and key generation in keygen.c), the
 * payload of an archive in snapshot.c.
 */
#include "store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* A new database's page size.  16 KiB rather than SQLite's 4: a
 * million-key backup took 15-25 % less CPU and time, its restore 20-30 %
 * (fewer pages to read, sort and write, and four times fewer system
 * calls), the daemon's peak memory unchanged; 64 KiB pages took the
 * backup's sorter past 64 MiB (docs/PERFORMANCE.md). */
#define BK_PAGE_SIZE_SQL "PRAGMA page_size=16384"

/* ---- schema ---- */

/* migrations[v - 1] takes the schema from version v - 1 to v.  Append,
 * never edit: a database records the version it has reached in PRAGMA
 * user_version. */
static const char *const migrations[] = {
	/* 1: the initial schema (store.h). */
	"CREATE TABLE settings("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL);"
	"CREATE TABLE domains("
	"  name TEXT PRIMARY KEY,"
	"  hsm TEXT,"
	"  created_at TEXT NOT NULL);"
	"CREATE TABLE resources("
	"  id TEXT PRIMARY KEY,"
	"  domain TEXT NOT NULL REFERENCES domains(name),"
	"  type TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  version INTEGER NOT NULL DEFAULT 0,"
	"  attrs TEXT NOT NULL DEFAULT '{}',"
	"  material BLOB,"
	"  fingerprint TEXT,"
	"  created_at TEXT NOT NULL,"
	"  UNIQUE(domain, type, name, version));"
	"CREATE INDEX resources_by_name ON resources(domain, type, name);"
	"CREATE TABLE members("
	"  domain TEXT NOT NULL REFERENCES domains(name),"
	"  group_name TEXT NOT NULL,"
	"  user_name TEXT NOT NULL,"
	"  UNIQUE(domain, group_name, user_name));"
	"CREATE INDEX members_by_user ON members(domain, user_name);"
	"CREATE TABLE key_links("
	"  domain TEXT NOT NULL REFERENCES domains(name),"
	"  policy_name TEXT NOT NULL,"
	"  key_name TEXT NOT NULL,"
	"  UNIQUE(domain, policy_name, key_name));"
	"CREATE INDEX key_links_by_key ON key_links(domain, key_name);"
	"CREATE TABLE backup_keys("
	"  scope TEXT,"
	"  domain TEXT NOT NULL DEFAULT '',"
	"  id TEXT,"
	"  name TEXT,"
	"  is_default INTEGER,"
	"  wrapped BLOB,"
	"  fingerprint TEXT,"
	"  created_at TEXT,"
	"  created_epoch INTEGER,"
	"  PRIMARY KEY(scope, domain, id));"
	"CREATE TABLE backups("
	"  seq INTEGER PRIMARY KEY,"
	"  id TEXT,"
	"  scope TEXT,"
	"  domain TEXT NOT NULL DEFAULT '',"
	"  status TEXT,"
	"  message TEXT,"
	"  created_at TEXT,"
	"  created_epoch INTEGER,"
	"  product_version TEXT,"
	"  description TEXT,"
	"  backup_key TEXT,"
	"  tied INTEGER,"
	"  size INTEGER,"
	"  header TEXT,"
	"  origin TEXT,"
	"  UNIQUE(scope, domain, id));"
	"CREATE INDEX backups_by_time ON backups(scope, domain, created_epoch);"
	"CREATE TABLE operations("
	"  id TEXT PRIMARY KEY,"
	"  operation TEXT,"
	"  scope TEXT,"
	"  domain TEXT,"
	"  backup_id TEXT,"
	"  status TEXT,"
	"  progress INTEGER,"
	"  started_at TEXT,"
	"  finished_at TEXT,"
	"  message TEXT);"
	"CREATE TABLE audit("
	"  seq INTEGER PRIMARY KEY,"
	"  time TEXT,"
	"  uid INTEGER,"
	"  action TEXT,"
	"  target TEXT,"
	"  result TEXT,"
	"  message TEXT);",

	/* 2: who may do what (core/access.c); no rows: only root and the
	 * user who mounted may use the tree. */
	"CREATE TABLE access("
	"  principal_kind TEXT NOT NULL"
	"    CHECK(principal_kind IN ('user', 'group')),"
	"  principal_id INTEGER NOT NULL,"
	"  role TEXT NOT NULL CHECK(role IN ('admin', 'domain-admin',"
	"    'backup-admin', 'domain-backup-admin')),"
	"  domain TEXT NOT NULL DEFAULT '',"
	"  PRIMARY KEY(principal_kind, principal_id, role, domain));",

	/* 3: the versions of the root-of-trust key on an HSM (issue 4,
	 * core/hsm.c): one 'active'; 'inactive' ones stay on the token;
	 * 'pending' marks a rotation that had not committed (at most one).
	 * Appliance-local: never in a backup. */
	"CREATE TABLE rot_keys("
	"  id TEXT PRIMARY KEY,"
	"  label TEXT NOT NULL,"
	"  token TEXT NOT NULL,"
	"  state TEXT NOT NULL"
	"    CHECK(state IN ('active', 'inactive', 'pending')),"
	"  alg TEXT NOT NULL,"
	"  created_at TEXT NOT NULL);"
	"CREATE UNIQUE INDEX rot_keys_one_active ON rot_keys(state)"
	"  WHERE state = 'active';",

	/* 4: schedules' runs and runner state (the schedules themselves are
	 * resources of type "schedules" in the root domain, core/schedule.c),
	 * and the audit trail as a file (core/audit.c): each record keeps its
	 * JSON line, its length and its byte offset in MOUNT/audit, and a
	 * random id by which a system restore adds the records it lacks. */
	"CREATE TABLE schedule_runs("
	"  seq INTEGER PRIMARY KEY,"
	"  schedule TEXT NOT NULL,"
	"  due_epoch INTEGER NOT NULL,"
	"  started TEXT,"
	"  finished TEXT,"
	"  status TEXT NOT NULL,"
	"  domain TEXT,"
	"  backup_id TEXT,"
	"  reason TEXT,"
	"  transfer_id TEXT);"
	"CREATE INDEX schedule_runs_by_name ON schedule_runs(schedule, seq);"
	"CREATE INDEX schedule_runs_by_status ON schedule_runs(status);"
	"CREATE TABLE schedule_state("
	"  name TEXT PRIMARY KEY,"
	"  checked_epoch INTEGER NOT NULL);"
	"ALTER TABLE audit ADD COLUMN pid INTEGER;"
	"ALTER TABLE audit ADD COLUMN scope TEXT;"
	"ALTER TABLE audit ADD COLUMN domain TEXT;"
	"ALTER TABLE audit ADD COLUMN rid TEXT;"
	"ALTER TABLE audit ADD COLUMN line TEXT;"
	"ALTER TABLE audit ADD COLUMN len INTEGER;"
	"ALTER TABLE audit ADD COLUMN off INTEGER;"
	"UPDATE audit SET rid = lower(hex(randomblob(16)));"
	"UPDATE audit SET line = json_object('id', rid, 'time', time,"
	"  'uid', uid, 'pid', NULL, 'operation', action, 'scope', NULL,"
	"  'domain', NULL, 'ids', json_object('target', target),"
	"  'result', result, 'reason', message) || char(10);"
	"UPDATE audit SET len = length(CAST(line AS BLOB));"
	"UPDATE audit SET off = c.o FROM (SELECT seq,"
	"  SUM(len) OVER (ORDER BY seq) - len AS o FROM audit) AS c"
	"  WHERE c.seq = audit.seq;"
	"CREATE UNIQUE INDEX audit_by_rid ON audit(rid);"
	"CREATE INDEX audit_by_off ON audit(off);",

	/* 5: SCP/SFTP (issue 5, core/sshkey.c, conn.c, scp.c): the
	 * appliance's SSH identity (its private key RoT-wrapped in
	 * scp_identity.wrapped), named connections (passwords RoT-wrapped
	 * in scp_connections.password) and the transfer records.
	 * Appliance-local: never in a backup, they survive a restore. */
	"CREATE TABLE scp_identity("
	"  id INTEGER PRIMARY KEY CHECK(id = 1),"
	"  public_key TEXT NOT NULL,"
	"  wrapped BLOB NOT NULL,"
	"  created_at TEXT NOT NULL);"
	"CREATE TABLE scp_connections("
	"  name TEXT PRIMARY KEY,"
	"  config TEXT NOT NULL,"
	"  password BLOB,"
	"  created_at TEXT NOT NULL,"
	"  created_epoch INTEGER NOT NULL,"
	"  last_test TEXT);"
	"CREATE TABLE scp_transfers("
	"  id TEXT PRIMARY KEY,"
	"  backup_id TEXT NOT NULL,"
	"  connection TEXT,"
	"  destination TEXT NOT NULL,"
	"  protocol TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  bytes INTEGER NOT NULL DEFAULT 0,"
	"  total INTEGER NOT NULL DEFAULT 0,"
	"  started_at TEXT NOT NULL,"
	"  started_epoch INTEGER NOT NULL,"
	"  finished_at TEXT,"
	"  finished_epoch INTEGER,"
	"  reason TEXT,"
	"  uid INTEGER);"
	"CREATE INDEX scp_transfers_by_backup ON scp_transfers(backup_id);",

	/* 6: drop resources_by_name: (domain, type, name) is a prefix of
	 * the UNIQUE(domain, type, name, version) index, which serves every
	 * query it served (docs/PERFORMANCE.md); one index fewer to write
	 * per resource inserted, by restores above all. */
	"DROP INDEX IF EXISTS resources_by_name;",

	/* 7: the schedule runner looks, at every pass, for runs whose SCP
	 * transfer failed (core/sched_pass.c): by transfer, not by a scan
	 * of the whole history. */
	"CREATE INDEX schedule_runs_by_transfer ON schedule_runs(transfer_id);",

	/* 8: the resources' two unique constraints become named indexes,
	 * which a system restore drops and builds again after loading the
	 * rows (a sort instead of a million inserts at random places of
	 * two indexes; core/restore_system.c, docs/PERFORMANCE.md).  The rows
	 * keep their rowids. */
	"CREATE TABLE resources_new("
	"  id TEXT NOT NULL,"
	"  domain TEXT NOT NULL REFERENCES domains(name),"
	"  type TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  version INTEGER NOT NULL DEFAULT 0,"
	"  attrs TEXT NOT NULL DEFAULT '{}',"
	"  material BLOB,"
	"  fingerprint TEXT,"
	"  created_at TEXT NOT NULL);"
	"INSERT INTO resources_new(rowid, id, domain, type, name, version,"
	"  attrs, material, fingerprint, created_at)"
	"  SELECT rowid, id, domain, type, name, version, attrs, material,"
	"  fingerprint, created_at FROM resources;"
	"DROP TABLE resources;"
	"ALTER TABLE resources_new RENAME TO resources;"
	BK_RES_INDEXES,
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

int bk_store_schema_version(void)
{
	return SCHEMA_VERSION;
}

/* SQL of the cached statements, indexed by enum bk_stmt. */
static const char *const stmt_sql[BK_ST__COUNT] = {
	[BK_ST_SETTING_GET] =
		"SELECT value FROM settings WHERE key = ?1",
	[BK_ST_SETTING_SET] =
		"INSERT INTO settings(key, value) VALUES(?1, ?2)"
		" ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[BK_ST_SETTING_DEL] =
		"DELETE FROM settings WHERE key = ?1",
	[BK_ST_DOMAIN_ADD] =
		"INSERT INTO domains(name, hsm, created_at) VALUES(?1, ?2, ?3)",
	[BK_ST_DOMAIN_EXISTS] =
		"SELECT 1 FROM domains WHERE name = ?1",
	[BK_ST_RES_INSERT] =
		"INSERT INTO resources(id, domain, type, name, version, attrs,"
		" material, fingerprint, created_at)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[BK_ST_RES_DELETE] =
		"DELETE FROM resources WHERE domain = ?1 AND type = ?2"
		" AND name = ?3",
	[BK_ST_RES_GET] =
		"SELECT id, domain, type, name, version, attrs, fingerprint,"
		" created_at FROM resources"
		" WHERE domain = ?1 AND type = ?2 AND name = ?3"
		" ORDER BY version DESC LIMIT 1",
	[BK_ST_MEMBER_ADD] =
		"INSERT OR IGNORE INTO members(domain, group_name, user_name)"
		" VALUES(?1, ?2, ?3)",
	[BK_ST_MEMBER_INSERT] =
		"INSERT INTO members(domain, group_name, user_name)"
		" VALUES(?1, ?2, ?3)",
	[BK_ST_MEMBERS_DELETE] =
		"DELETE FROM members WHERE domain = ?1 AND group_name = ?2",
	[BK_ST_GROUP_MEMBERS] =
		"SELECT user_name FROM members"
		" WHERE domain = ?1 AND group_name = ?2 ORDER BY user_name",
	[BK_ST_LINK_ADD] =
		"INSERT OR IGNORE INTO key_links(domain, policy_name, key_name)"
		" VALUES(?1, ?2, ?3)",
	[BK_ST_LINK_INSERT] =
		"INSERT INTO key_links(domain, policy_name, key_name)"
		" VALUES(?1, ?2, ?3)",
	[BK_ST_LINKS_DELETE] =
		"DELETE FROM key_links WHERE domain = ?1 AND policy_name = ?2",
};

/* ---- errors, statements, transactions ---- */

int bk_store_sqlerr(struct bk_store *s, int rc, const char *what,
		    struct bk_err *err)
{
	const char *msg = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
	int code;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = -EBUSY;
		break;
	case SQLITE_NOMEM:
		code = -ENOMEM;
		break;
	case SQLITE_FULL:
		code = -ENOSPC;
		break;
	case SQLITE_READONLY:
		code = -EROFS;
		break;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		code = -EACCES;
		break;
	case SQLITE_CANTOPEN:
		code = -ENOENT;
		break;
	case SQLITE_CONSTRAINT:
		code = (rc == SQLITE_CONSTRAINT_UNIQUE ||
			rc == SQLITE_CONSTRAINT_PRIMARYKEY) ? -EEXIST : -EINVAL;
		break;
	default:
		code = -EIO;
		break;
	}
	return bk_errf(err, code, "%s: %s", what, msg);
}

int bk_store_stmt(struct bk_store *s, enum bk_stmt id, sqlite3_stmt **out,
		  struct bk_err *err)
{
	int rc;

	*out = NULL;		/* gcc -O3 cannot tell an error is nonzero */
	if (!s->st[id]) {
		rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1,
					SQLITE_PREPARE_PERSISTENT, &s->st[id],
					NULL);
		if (rc != SQLITE_OK)
			return bk_store_sqlerr(s, rc, "cannot prepare a statement",
					       err);
	} else {
		sqlite3_reset(s->st[id]);
		sqlite3_clear_bindings(s->st[id]);
	}
	*out = s->st[id];
	return 0;
}

/* Executes sql (constant text, several statements allowed). */
int bk_store_exec(struct bk_store *s, const char *sql, struct bk_err *err)
{
	char *msg = NULL;
	int rc, ret = 0;

	rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		ret = bk_store_sqlerr(s, rc, "database error", err);
		if (msg)
			bk_errf(err, ret, "database error: %s", msg);
	}
	sqlite3_free(msg);
	return ret;
}

int bk_store_begin(struct bk_store *s, struct bk_err *err)
{
	return bk_store_exec(s, "BEGIN IMMEDIATE", err);
}

int bk_store_commit(struct bk_store *s, struct bk_err *err)
{
	return bk_store_exec(s, "COMMIT", err);
}

void bk_store_rollback(struct bk_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int bk_tx_begin(struct bk_store *s, struct bk_tx *tx, struct bk_err *err)
{
	tx->nested = !sqlite3_get_autocommit(s->db);
	return bk_store_exec(s, tx->nested ? "SAVEPOINT bk_tx" :
			     "BEGIN IMMEDIATE", err);
}

int bk_tx_commit(struct bk_store *s, struct bk_tx *tx, struct bk_err *err)
{
	int ret;

	ret = bk_store_exec(s, tx->nested ? "RELEASE bk_tx" : "COMMIT", err);
	if (ret)
		bk_tx_rollback(s, tx);
	return ret;
}

void bk_tx_rollback(struct bk_store *s, struct bk_tx *tx)
{
	if (tx->nested)
		sqlite3_exec(s->db, "ROLLBACK TO bk_tx; RELEASE bk_tx", NULL,
			     NULL, NULL);
	else
		bk_store_rollback(s);
}

/* ---- opening ---- */

static int user_version(struct bk_store *s, int *v, struct bk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = 0;

	*v = 0;
	rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		ret = bk_store_sqlerr(s, rc, "cannot read the schema version",
				      err);
		goto out;
	}
	*v = sqlite3_column_int(st, 0);
out:
	sqlite3_finalize(st);
	return ret;
}

static int too_new(int v, struct bk_err *err)
{
	return bk_errf(err, -EINVAL,
		       "database schema version %d is newer than this backupfs supports (%d)",
		       v, SCHEMA_VERSION);
}

/* Applies the missing migrations, each in its own transaction.  Another
 * process may be migrating the same file: the version is read again
 * under the write lock. */
static int migrate(struct bk_store *s, struct bk_err *err)
{
	char sql[64];
	int v, ret;

	ret = user_version(s, &v, err);
	if (ret)
		return ret;
	if (v > SCHEMA_VERSION)
		return too_new(v, err);
	while (v < SCHEMA_VERSION) {
		ret = bk_store_begin(s, err);
		if (ret)
			return ret;
		ret = user_version(s, &v, err);
		if (!ret && v > SCHEMA_VERSION)
			ret = too_new(v, err);
		if (!ret && v < SCHEMA_VERSION) {
			snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
				 v + 1);
			ret = bk_store_exec(s, migrations[v], err);
			if (!ret)
				ret = bk_store_exec(s, sql, err);
		}
		if (ret) {
			bk_store_rollback(s);
			return ret;
		}
		ret = bk_store_commit(s, err);
		if (ret)
			return ret;
		ret = user_version(s, &v, err);
		if (ret)
			return ret;
	}
	return 0;
}

static int journal_cb(void *arg, int n, char **vals, char **cols)
{
	(void)cols;
	if (n > 0 && vals[0])
		snprintf(arg, 16, "%s", vals[0]);
	return 0;
}

int bk_store_open(const char *db_path, int oflags, struct bk_store **out,
		  struct bk_err *err)
{
	int create = oflags & BK_STORE_CREATE;
	struct bk_store *s = NULL;
	char mode[16] = "";
	struct stat sb;
	int flags, rc, ret;

	if (!create && stat(db_path, &sb) < 0)
		return bk_errf(err, -ENOENT,
			       "database %s does not exist (backupctl init creates it)",
			       db_path);
	s = calloc(1, sizeof(*s));
	if (!s)
		return bk_errf(err, -ENOMEM, "out of memory");
	/* A backup's or a restore's own connection is used by its thread
	 * alone: without the per-call mutex, a backup's SQLite thread
	 * spent a quarter of its time locking and unlocking it. */
	flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) |
		(oflags & BK_STORE_PRIVATE ? SQLITE_OPEN_NOMUTEX :
		 SQLITE_OPEN_FULLMUTEX);
	rc = sqlite3_open_v2(db_path, &s->db, flags, NULL);
	if (rc != SQLITE_OK) {
		ret = bk_store_sqlerr(s, rc, db_path, err);
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, 10000);
	/* A new database's page size (BK_PAGE_SIZE_SQL), before journal_mode,
	 * whose switch to WAL writes the first page.  Only where one may be
	 * made: an existing database keeps its own anyway. */
	if (create)
		sqlite3_exec(s->db, BK_PAGE_SIZE_SQL, NULL, NULL, NULL);
	rc = sqlite3_exec(s->db, "PRAGMA journal_mode=WAL", journal_cb, mode,
			  NULL);
	if (rc != SQLITE_OK) {
		ret = bk_store_sqlerr(s, rc, db_path, err);
		goto out;
	}
	if (strcmp(mode, "wal")) {
		ret = bk_errf(err, -EIO,
			      "%s: cannot use write-ahead logging (journal mode is %s)",
			      db_path, mode);
		goto out;
	}
	/* secure_delete: what a delete frees is zeroed (Debian's SQLite
	 * does it by default; others may not).  synchronous=FULL: a commit
	 * is on disk when it returns (power loss included).  8 MiB of page
	 * cache per connection keeps the daemon small. */
	ret = bk_store_exec(s,
			    "PRAGMA secure_delete=ON;"
			    "PRAGMA synchronous=FULL;"
			    "PRAGMA foreign_keys=ON;"
			    "PRAGMA cache_size=-8192;", err);
	if (ret)
		goto out;
	ret = migrate(s, err);
	if (ret)
		goto out;
	*out = s;
	s = NULL;
out:
	bk_store_close(s);
	return ret;
}

void bk_store_close(struct bk_store *s)
{
	if (!s)
		return;
	bk_store_writeback(s, 0);
	for (int i = 0; i < BK_ST__COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close_v2(s->db);
	free(s);
}

int bk_store_unique_on(struct bk_store *s, const char *column)
{
	static const char pre[] = "UNIQUE constraint failed: ";
	const char *m = sqlite3_errmsg(s->db);
	size_t n = strlen(column);

	return !strncmp(m, pre, sizeof(pre) - 1) &&
	       !strncmp(m + sizeof(pre) - 1, column, n) &&
	       (m[sizeof(pre) - 1 + n] == '\0' ||
		m[sizeof(pre) - 1 + n] == ',');
}

sqlite3 *bk_store_db(struct bk_store *s)
{
	return s->db;
}

/* The one value sql gives, or 0 (no row, NULL, an error). */
static long long scalar(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *q;
	long long n = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

int bk_store_page_size(struct bk_store *s)
{
	long long n = scalar(s->db, "PRAGMA page_size");

	return n >= 512 && n <= 65536 ? (int)n : 4096;
}

long long bk_store_resources_estimate(sqlite3 *db)
{
	return scalar(db, "SELECT max(rowid) FROM main.resources");
}

long long bk_now(char buf[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return (long long)t;
}

/* ---- settings ---- */

int bk_setting_get(struct bk_store *s, const char *key, char **value,
		   struct bk_err *err)
{
	sqlite3_stmt *st;
	int rc, ret;

	*value = NULL;
	ret = bk_store_stmt(s, BK_ST_SETTING_GET, &st, err);
	if (ret)
		return ret;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*value = strdup((const char *)sqlite3_column_text(st, 0));
		if (!*value)
			ret = bk_errf(err, -ENOMEM, "out of memory");
	} else if (rc != SQLITE_DONE) {
		ret = bk_store_sqlerr(s, rc, "cannot read a setting", err);
	}
	sqlite3_reset(st);
	return ret;
}

/* value NULL removes the setting. */
int bk_setting_set(struct bk_store *s, const char *key, const char *value,
		   struct bk_err *err)
{
	sqlite3_stmt *st;
	int rc, ret;

	ret = bk_store_stmt(s, value ? BK_ST_SETTING_SET : BK_ST_SETTING_DEL,
			    &st, err);
	if (ret)
		return ret;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (value)
		sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		ret = bk_store_sqlerr(s, rc, "cannot save a setting", err);
	sqlite3_reset(st);
	return ret;
}

/* ---- domains ---- */

int bk_domain_name_valid(const char *name)
{
	size_t n = 0;

	if (!name || name[0] == '.' || name[0] == '\0')
		return 0;
	for (const char *p = name; *p; p++, n++) {
		char c = *p;

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	return n <= 64;
}

int bk_name_check(const char *what, const char *name, size_t len,
		  struct bk_err *err)
{
	if (!name || len == 0)
		return bk_errf(err, -EINVAL, "%s must not be empty", what);
	if (len > BK_NAME_MAX)
		return bk_errf(err, -EINVAL, "%s is longer than %d bytes", what,
			       BK_NAME_MAX);
	if (strlen(name) != len)
		return bk_errf(err, -EINVAL, "%s contains a NUL character",
			       what);
	return 0;
}

int bk_domain_add(struct bk_store *s, const char *name, const char *hsm,
		  struct bk_err *err)
{
	sqlite3_stmt *st;
	char now[32];
	int rc, ret;

	if (!bk_domain_name_valid(name))
		return bk_errf(err, -EINVAL,
			       "\"%s\" is not a valid domain name (1-64 characters of A-Z a-z 0-9 . _ -, not starting with '.')",
			       name ? name : "");
	ret = bk_store_stmt(s, BK_ST_DOMAIN_ADD, &st, err);
	if (ret)
		return ret;
	bk_now(now);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (hsm)
		sqlite3_bind_text(st, 2, hsm, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, now, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		ret = bk_errf(err, -EEXIST, "domain %s already exists", name);
	else if (rc != SQLITE_DONE)
		ret = bk_store_sqlerr(s, rc, "cannot create the domain", err);
	sqlite3_reset(st);
	return ret;
}

int bk_domain_exists(struct bk_store *s, const char *name)
{
	sqlite3_stmt *st;
	int found;

	if (!name || bk_store_stmt(s, BK_ST_DOMAIN_EXISTS, &st, NULL))
		return 0;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return found;
}

int bk_domain_foreach(struct bk_store *s,
		      int (*cb)(void *arg, json_object *domain), void *arg,
		      struct bk_err *err)
{
	sqlite3_stmt *st = NULL;
	json_object *d;
	int rc, ret = 0;

	/* Not cached: cb may use the store while this one steps. */
	rc = sqlite3_prepare_v2(s->db,
				"SELECT name, hsm, created_at FROM domains"
				" ORDER BY name", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return bk_store_sqlerr(s, rc, "cannot list domains", err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		d = json_object_new_object();
		if (!d) {
			ret = bk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
		json_object_object_add(d, "name", json_object_new_string(
			(const char *)sqlite3_column_text(st, 0)));
		json_object_object_add(d, "hsm",
			sqlite3_column_type(st, 1) == SQLITE_NULL ? NULL :
			json_object_new_string(
				(const char *)sqlite3_column_text(st, 1)));
		json_object_object_add(d, "createdAt", json_object_new_string(
			(const char *)sqlite3_column_text(st, 2)));
		ret = cb(arg, d);
		json_object_put(d);
		if (ret)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = bk_store_sqlerr(s, rc, "cannot list domains", err);
out:
	sqlite3_finalize(st);
	return ret;
}
