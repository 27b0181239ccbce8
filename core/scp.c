/* scp.c - transfers of system backups to SCP/SFTP destinations.
 *
 * A transfer is not an operation in the one-at-a-time sense (it only reads
 * a Completed archive, which never changes): each runs on its own thread,
 * beside backups, restores and other transfers, and never holds the
 * engine's locks while it talks to the network.  Its record (a row of
 * scp_transfers) is written when it starts and when it ends, through the
 * thread's own database connection; its bytes so far live in memory (the
 * registry below) and are read from there while it runs.  Records are
 * kept BK_SCP_KEEP_SECONDS after they finish (older ones are hidden, and
 * deleted at the next transfer or daemon start); the audit trail keeps
 * the start and the end of every transfer.
 */
#include "scp_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "crypto.h"

struct xfer {
	struct xfer *next;
	struct bk_engine *e;
	pthread_t thread;
	int finished;			/* the thread is done: join it */
	atomic_bool cancel;
	_Atomic uint64_t bytes;
	uint64_t total;
	char id[33];
	char backup_id[64];
	char archive[4096];
	uid_t uid;
	struct bk_conn conn;
	struct bk_store *store;		/* the thread's own connection */
	time_t saved_at;		/* when bytes went to the record */
};

/* The running transfers of every engine of the process. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct xfer *reg;

static const struct bk_field fields_named[] = {
	{ "connection", json_type_string }, { NULL, 0 } };

/* Joins and frees e's finished transfers (all of them, stopping the
 * running ones, when all is set). */
static void reap(struct bk_engine *e, int all)
{
	struct xfer **pp, *x, *done = NULL;

	pthread_mutex_lock(&reg_lock);
	for (pp = &reg; (x = *pp);) {
		if (x->e == e && all)
			atomic_store(&x->cancel, 1);
		if (x->e == e && (x->finished || all)) {
			*pp = x->next;
			x->next = done;
			done = x;
		} else {
			pp = &x->next;
		}
	}
	pthread_mutex_unlock(&reg_lock);
	while ((x = done)) {
		done = x->next;
		pthread_join(x->thread, NULL);
		bk_conn_clear(&x->conn);
		free(x);
	}
}

int bk_scp_sending(struct bk_engine *e, const char *backup_id, char *xfer_id,
		   size_t size)
{
	struct xfer *x;
	int found = 0;

	pthread_mutex_lock(&reg_lock);
	for (x = reg; x && !found; x = x->next)
		if (x->e == e && !x->finished &&
		    !strcmp(x->backup_id, backup_id)) {
			snprintf(xfer_id, size, "%s", x->id);
			found = 1;
		}
	pthread_mutex_unlock(&reg_lock);
	return found;
}

/* Live bytes of a running transfer of this process (1), or 0. */
static int live_bytes(const char *id, uint64_t *bytes)
{
	struct xfer *x;
	int found = 0;

	pthread_mutex_lock(&reg_lock);
	for (x = reg; x; x = x->next)
		if (!strcmp(x->id, id) && !x->finished) {
			*bytes = atomic_load(&x->bytes);
			found = 1;
		}
	pthread_mutex_unlock(&reg_lock);
	return found;
}

/* Live bytes for this process; about once a second also in the record
 * (for other processes: backupctl), unless the database is busy. */
static int progress(void *arg, uint64_t done)
{
	struct xfer *x = arg;
	struct timespec now;
	sqlite3_stmt *st;

	atomic_store(&x->bytes, done);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (x->store && now.tv_sec != x->saved_at &&
	    sqlite3_prepare_v2(bk_store_db(x->store), "UPDATE scp_transfers"
			       " SET bytes = ?1 WHERE id = ?2", -1, &st,
			       NULL) == SQLITE_OK) {
		x->saved_at = now.tv_sec;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)done);
		sqlite3_bind_text(st, 2, x->id, -1, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	return atomic_load(&x->cancel);
}

/* Deletes records that finished more than BK_SCP_KEEP_SECONDS ago. */
static void prune(struct bk_store *s)
{
	char sql[160], now[32];

	snprintf(sql, sizeof(sql), "DELETE FROM scp_transfers WHERE"
		 " finished_epoch < %lld", bk_now(now) - BK_SCP_KEEP_SECONDS);
	bk_store_exec(s, sql, NULL);
}

/* The audit record of x (through s): a system backup, ids the backup,
 * the transfer and the connection (if named). */
static void audit_xfer(struct xfer *x, struct bk_store *s, const char *result,
		       const char *reason)
{
	json_object *ids = json_object_new_object();
	struct bk_audit_rec r = { .uid = x->uid, .operation = "scp",
		.scope = "system", .ids = ids, .result = result,
		.reason = reason };

	json_object_object_add(ids, "backupId",
			       json_object_new_string(x->backup_id));
	json_object_object_add(ids, "transferId",
			       json_object_new_string(x->id));
	if (x->conn.name[0])
		json_object_object_add(ids, "connection",
				       json_object_new_string(x->conn.name));
	bk_audit_rec_s(x->e, s, &r);
	json_object_put(ids);
}

/* Records the end of x through s. */
static void record_end(struct xfer *x, struct bk_store *s, int ok,
		       const char *reason)
{
	sqlite3_stmt *st;
	char now[32];
	long long epoch = bk_now(now);

	if (sqlite3_prepare_v2(bk_store_db(s), "UPDATE scp_transfers SET"
			       " status = ?1, bytes = ?2, finished_at = ?3,"
			       " finished_epoch = ?4, reason = ?5 WHERE id = ?6",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, ok ? "Completed" : "Failed", -1,
				  SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)atomic_load(&x->bytes));
		sqlite3_bind_text(st, 3, now, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, epoch);
		sqlite3_bind_text(st, 5, reason, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, x->id, -1, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	audit_xfer(x, s, ok ? "Completed" : "Failed", reason);
}

static void *xfer_main(void *arg)
{
	struct xfer *x = arg;
	struct bk_err err = { 0, "" };
	struct bk_ssh *ssh = NULL;
	char name[80], tmp[120], dest[1600];
	int fd = -1, ret;

	if (bk_engine_store_open(x->e, 0, &x->store, NULL))
		x->store = NULL;
	else	/* progress: never wait */
		sqlite3_busy_timeout(bk_store_db(x->store), 0);
	snprintf(name, sizeof(name), "%s.backup", x->backup_id);
	snprintf(tmp, sizeof(tmp), ".%s.%.8s.partial", name, x->id);
	fd = open(x->archive, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		ret = bk_errf(&err, -errno, "cannot open the archive: %s",
			      strerror(errno));
	else
		ret = bk_ssh_open(x->e, &x->conn, &ssh, &err);
	if (!ret)
		ret = bk_ssh_upload(ssh, fd, x->total, name, tmp, progress, x,
				    &err);
	bk_ssh_close(ssh);
	if (fd >= 0)
		close(fd);
	bk_conn_destination(&x->conn, dest, sizeof(dest));
	if (!ret)
		bk_errf(&err, 0, "%s copied to %s", name, dest);
	if (x->store) {
		/* a restore holds the database for its whole apply pass */
		sqlite3_busy_timeout(bk_store_db(x->store), 30 * 60 * 1000);
		record_end(x, x->store, !ret, err.msg);
		bk_store_close(x->store);
		x->store = NULL;
	}
	pthread_mutex_lock(&reg_lock);
	x->finished = 1;
	pthread_mutex_unlock(&reg_lock);
	return NULL;
}

/* The connection the request names, or its inline fields, into c. */
static int request_conn(struct bk_engine *e, const char *req,
			struct bk_conn *c, struct bk_err *err)
{
	json_object *obj, *v = NULL;
	int ret;

	obj = json_tokener_parse(req ? req : "{}");
	if (obj && json_object_object_get_ex(obj, "connection", NULL)) {
		json_object_put(obj);
		ret = bk_request_parse(req, fields_named, &obj, err);
		if (ret)
			return ret;
		json_object_object_get_ex(obj, "connection", &v);
		ret = bk_conn_load(e, json_object_get_string(v), c, err);
		json_object_put(obj);
		return ret;
	}
	json_object_put(obj);
	ret = bk_request_parse(req, bk_fields_conn, &obj, err);
	if (ret)
		return ret;
	if (!json_object_object_length(obj))
		ret = bk_errf(err, -EINVAL, "write {\"connection\": NAME} or "
			      "a connection's fields (host, username, "
			      "path_to, public_key, ...)");
	else
		ret = bk_conn_from_json(obj, 0, c, err);
	json_object_put(obj);
	return ret;
}

static int record_start(struct bk_engine *e, struct xfer *x,
			struct bk_err *err)
{
	sqlite3_stmt *st;
	char now[32], dest[1600];
	long long epoch = bk_now(now);
	int ret = 0;

	bk_conn_destination(&x->conn, dest, sizeof(dest));
	pthread_mutex_lock(&e->db_lock);
	prune(e->store);
	if (sqlite3_prepare_v2(bk_store_db(e->store), "INSERT INTO"
		" scp_transfers(id, backup_id, connection, destination,"
		" protocol, status, total, started_at, started_epoch, uid)"
		" VALUES(?1, ?2, ?3, ?4, ?5, 'In Progress', ?6, ?7, ?8, ?9)",
		-1, &st, NULL) != SQLITE_OK) {
		ret = bk_db_err(e->store, err);
		goto out;
	}
	sqlite3_bind_text(st, 1, x->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, x->backup_id, -1, SQLITE_STATIC);
	if (x->conn.name[0])
		sqlite3_bind_text(st, 3, x->conn.name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, dest, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, x->conn.scp ? "scp" : "sftp", -1,
			  SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)x->total);
	sqlite3_bind_text(st, 7, now, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, epoch);
	sqlite3_bind_int64(st, 9, x->uid);
	if (sqlite3_step(st) != SQLITE_DONE)
		ret = bk_db_err(e->store, err);
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&e->db_lock);
	if (!ret)
		audit_xfer(x, e->store, "started", dest);
	return ret;
}

int bk_scp_start(struct bk_engine *e, const char *backup_id, const char *req,
		 uid_t uid, char **xfer_id_out, struct bk_err *err)
{
	struct bk_backup_info *b;
	struct xfer *x;
	int ret;

	if (xfer_id_out)
		*xfer_id_out = NULL;
	reap(e, 0);
	x = calloc(1, sizeof(*x));
	b = malloc(sizeof(*b));
	if (!x || !b) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto fail;
	}
	ret = bk_backup_get(e, NULL, backup_id, b, err);
	if (ret == -ENOENT || (!ret && strcmp(b->status, "Completed")))
		ret = bk_errf(err, -EINVAL, "%s is not a Completed system "
			      "backup", backup_id);
	if (ret)
		goto fail;
	snprintf(x->backup_id, sizeof(x->backup_id), "%s", b->id);
	snprintf(x->archive, sizeof(x->archive), "%s", b->archive_path);
	x->total = (uint64_t)b->size;
	x->e = e;
	x->uid = uid;
	ret = request_conn(e, req, &x->conn, err);
	if (!ret)
		ret = bk_random_id(x->id, err);
	if (!ret && xfer_id_out && !(*xfer_id_out = strdup(x->id)))
		ret = bk_errf(err, -ENOMEM, "out of memory");
	if (!ret)
		ret = record_start(e, x, err);
	if (ret)
		goto fail;
	pthread_mutex_lock(&reg_lock);
	ret = -pthread_create(&x->thread, NULL, xfer_main, x);
	if (!ret) {
		x->next = reg;
		reg = x;
	}
	pthread_mutex_unlock(&reg_lock);
	if (ret) {
		struct bk_store *s = e->store;

		pthread_mutex_lock(&e->db_lock);
		record_end(x, s, 0, "cannot start a thread");
		pthread_mutex_unlock(&e->db_lock);
		ret = bk_errf(err, ret, "cannot start the transfer's thread");
		goto fail;
	}
	free(b);
	return 0;
fail:
	if (x)
		bk_conn_clear(&x->conn);
	free(x);
	free(b);
	if (xfer_id_out) {
		free(*xfer_id_out);
		*xfer_id_out = NULL;
	}
	return ret;
}

/* Records that finished before this are no longer shown. */
static long long cutoff(void)
{
	char now[32];

	return bk_now(now) - BK_SCP_KEEP_SECONDS;
}

int bk_scp_each(struct bk_engine *e, const char *sql, const char *text,
		int (*cb)(void *arg, const char *s), void *arg,
		struct bk_err *err)
{
	sqlite3_stmt *st;
	int ret = 0;

	pthread_mutex_lock(&e->db_lock);
	if (sqlite3_prepare_v2(bk_store_db(e->store), sql, -1, &st, NULL) !=
	    SQLITE_OK) {
		ret = bk_db_err(e->store, err);
		goto out;
	}
	if (text)
		sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, cutoff());
	while (!ret && sqlite3_step(st) == SQLITE_ROW)
		ret = cb(arg, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&e->db_lock);
	return ret;
}

int bk_scp_ids(struct bk_engine *e, const char *backup_id,
	       int (*cb)(void *arg, const char *id), void *arg,
	       struct bk_err *err)
{
	return bk_scp_each(e, "SELECT id FROM scp_transfers WHERE backup_id ="
			   " ?1 AND (finished_epoch IS NULL OR finished_epoch"
			   " >= ?2) ORDER BY started_epoch, id", backup_id,
			   cb, arg, err);
}

static void add_str(json_object *o, const char *key, sqlite3_stmt *st,
		    int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);

	json_object_object_add(o, key, t ? json_object_new_string(t) : NULL);
}

int bk_scp_status_json(struct bk_engine *e, const char *backup_id,
		       const char *id, char **json, long long *epoch,
		       struct bk_err *err)
{
	json_object *o;
	sqlite3_stmt *st;
	uint64_t bytes, total;
	int ret;

	pthread_mutex_lock(&e->db_lock);
	if (sqlite3_prepare_v2(bk_store_db(e->store), "SELECT id, backup_id,"
		" connection, destination, protocol, status, bytes, total,"
		" started_at, finished_at, reason, started_epoch FROM"
		" scp_transfers WHERE id = ?1 AND backup_id = ?2 AND"
		" (finished_epoch IS NULL OR finished_epoch >= ?3)", -1, &st,
		NULL) != SQLITE_OK) {
		ret = bk_db_err(e->store, err);
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, backup_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, cutoff());
	ret = sqlite3_step(st);
	if (ret != SQLITE_ROW) {
		ret = ret == SQLITE_DONE ? bk_errf(err, -ENOENT, "no transfer "
			"%s of backup %s", id, backup_id) :
			bk_db_err(e->store, err);
		sqlite3_finalize(st);
		goto out;
	}
	ret = 0;
	if (epoch)
		*epoch = sqlite3_column_int64(st, 11);
	bytes = (uint64_t)sqlite3_column_int64(st, 6);
	total = (uint64_t)sqlite3_column_int64(st, 7);
	if (!strcmp((const char *)sqlite3_column_text(st, 5), "In Progress"))
		live_bytes(id, &bytes);
	if (json) {
		o = json_object_new_object();
		add_str(o, "id", st, 0);
		add_str(o, "backupId", st, 1);
		add_str(o, "connection", st, 2);
		add_str(o, "destination", st, 3);
		add_str(o, "protocol", st, 4);
		add_str(o, "status", st, 5);
		json_object_object_add(o, "bytes", json_object_new_int64(
			(int64_t)bytes));
		json_object_object_add(o, "total", json_object_new_int64(
			(int64_t)total));
		json_object_object_add(o, "progress", json_object_new_int(
			total ? (int)(bytes * 100 / total) : 100));
		add_str(o, "started", st, 8);
		add_str(o, "finished", st, 9);
		add_str(o, "reason", st, 10);
		if (asprintf(json, "%s\n", json_object_to_json_string_ext(o,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED)) < 0)
			*json = NULL;
		json_object_put(o);
		if (!*json)
			ret = bk_errf(err, -ENOMEM, "out of memory");
	}
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&e->db_lock);
	return ret;
}

void bk_scp_recover(struct bk_engine *e)
{
	char sql[400], now[32];
	long long epoch = bk_now(now);
	char *line = NULL;

	snprintf(sql, sizeof(sql), "UPDATE scp_transfers SET status ="
		 " 'Failed', finished_at = '%s', finished_epoch = %lld,"
		 " reason = 'interrupted: the daemon stopped during the"
		 " transfer (a temporary file may be left at the"
		 " destination)' WHERE status = 'In Progress'", now, epoch);
	pthread_mutex_lock(&e->db_lock);
	bk_store_exec(e->store, sql, NULL);
	prune(e->store);
	pthread_mutex_unlock(&e->db_lock);
	bk_scp_public_key(e, &line, NULL);	/* the key pair, made once */
	free(line);
}

void bk_scp_shutdown(struct bk_engine *e)
{
	reap(e, 1);
}
