/* backups.c - backups of either scope: create (a background job),
 * list, describe, delete, and start-up recovery.  Restores and uploads are
 * in restore.c. */
#include "engine_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "backups_int.h"
#include "crypto.h"
#include "fault.h"
#include "hsm.h"
#include "scp.h"
#include "snapshot.h"

void bk_report_path(struct bk_engine *e, long long seq, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%lld.json", e->reports, seq);
}

int bk_backup_report_json(struct bk_engine *e, const char *domain,
			  const char *id, char **json, long long *epoch,
			  struct bk_err *err)
{
	struct bk_backup_info info = { 0 };	/* -O3 cannot see it set */
	char path[4096];
	struct stat st;
	uint8_t *buf;
	size_t len;
	int ret;

	ret = bk_backup_get(e, domain, id, &info, err);
	if (ret)
		return ret;
	bk_report_path(e, info.seq, path, sizeof(path));
	if (stat(path, &st) < 0)
		return bk_errf(err, -ENOENT, "backup %s was never restored here",
			       id);
	if (epoch)
		*epoch = st.st_mtime;
	if (!json)
		return 0;
	ret = bk_read_small(path, 64 << 20, &buf, &len, err);
	if (!ret)
		*json = (char *)buf;
	return ret;
}

void bk_archive_path(struct bk_engine *e, long long seq, const char *suffix,
		     char *buf, size_t len)
{
	snprintf(buf, len, "%s/%lld.%s", e->archives, seq, suffix);
}

int bk_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* ---- the backups table ---- */

#define ROW_COLS "seq, id, scope, domain, status, message, created_at," \
	" created_epoch, product_version, description, backup_key, tied," \
	" size, header, origin"

static void row_info(struct bk_engine *e, sqlite3_stmt *st,
		     struct bk_backup_info *b)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->id, sizeof(b->id), "%s", sqlite3_column_text(st, 1));
	snprintf(b->status, sizeof(b->status), "%s", sqlite3_column_text(st, 4));
	b->created_epoch = sqlite3_column_int64(st, 7);
	b->seq = sqlite3_column_int64(st, 0);
	if (!strcmp(b->status, "Completed")) {
		b->size = sqlite3_column_int64(st, 12);
		bk_archive_path(e, sqlite3_column_int64(st, 0), "backup",
				b->archive_path, sizeof(b->archive_path));
	}
}

/* Runs cb on each matching row (id NULL = all of the scope). */
static int rows(struct bk_engine *e, struct bk_store *s, const char *domain,
		const char *id, int (*cb)(void *arg, sqlite3_stmt *st),
		void *arg, struct bk_err *err)
{
	sqlite3_stmt *st;
	int ret = 0, rc;

	if (sqlite3_prepare_v2(bk_store_db(s), id ?
		"SELECT " ROW_COLS " FROM backups WHERE scope = ? AND domain = ?"
		" AND id = ?" :
		"SELECT " ROW_COLS " FROM backups WHERE scope = ? AND domain = ?"
		" ORDER BY created_epoch, seq", -1, &st, NULL) != SQLITE_OK)
		return bk_errf(err, -EIO, "database: %s",
			       sqlite3_errmsg(bk_store_db(s)));
	sqlite3_bind_text(st, 1, bk_scope_name(domain), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, bk_scope_domain(domain), -1, SQLITE_STATIC);
	if (id)
		sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
	while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW)
		ret = cb(arg, st);
	sqlite3_finalize(st);
	(void)e;
	return ret;
}

struct list_arg {
	struct bk_engine *e;
	int (*cb)(void *arg, const struct bk_backup_info *b);
	void *arg;
	struct bk_backup_info info;
};

static int list_cb(void *arg, sqlite3_stmt *st)
{
	struct list_arg *a = arg;

	row_info(a->e, st, &a->info);
	return a->cb ? a->cb(a->arg, &a->info) : 1;
}

int bk_backup_list(struct bk_engine *e, const char *domain,
		   int (*cb)(void *arg, const struct bk_backup_info *b),
		   void *arg, struct bk_err *err)
{
	struct list_arg *a = calloc(1, sizeof(*a));
	int ret;

	if (!a)
		return bk_errf(err, -ENOMEM, "out of memory");
	a->e = e;
	a->cb = cb;
	a->arg = arg;
	pthread_mutex_lock(&e->db_lock);
	ret = rows(e, e->store, domain, NULL, list_cb, a, err);
	pthread_mutex_unlock(&e->db_lock);
	free(a);
	return ret;
}

int bk_backup_get(struct bk_engine *e, const char *domain, const char *id,
		  struct bk_backup_info *info, struct bk_err *err)
{
	struct list_arg a = { .e = e };
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = rows(e, e->store, domain, id, list_cb, &a, err);
	pthread_mutex_unlock(&e->db_lock);
	if (ret < 0)
		return ret;
	if (!ret)
		return bk_errf(err, -ENOENT, "backup %s does not exist in %s%s",
			       id, domain ? "domain " : "the system scope",
			       domain ? domain : "");
	*info = a.info;
	return 0;
}

/* The row as JSON: the archive header (when known) + row fields. */
static int row_json_cb(void *arg, sqlite3_stmt *st)
{
	json_object **out = arg, *o = NULL;
	const char *header = (const char *)sqlite3_column_text(st, 13);
	const char *domain = (const char *)sqlite3_column_text(st, 3);

	if (header)
		o = json_tokener_parse(header);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(
			(const char *)sqlite3_column_text(st, 1)));
		json_object_object_add(o, "scope", json_object_new_string(
			(const char *)sqlite3_column_text(st, 2)));
		json_object_object_add(o, "domain", domain && *domain ?
				       json_object_new_string(domain) : NULL);
		json_object_object_add(o, "createdAt", json_object_new_string(
			(const char *)sqlite3_column_text(st, 6)));
		json_object_object_add(o, "productVersion", json_object_new_string(
			(const char *)sqlite3_column_text(st, 8)));
		json_object_object_add(o, "description", json_object_new_string(
			(const char *)sqlite3_column_text(st, 9)));
		json_object_object_add(o, "backupKey", json_object_new_string(
			(const char *)sqlite3_column_text(st, 10)));
		json_object_object_add(o, "tiedToHSM", json_object_new_boolean(
			sqlite3_column_int(st, 11)));
	} else {
		/* Drop what only the format needs. */
		json_object_object_del(o, "salt");
		json_object_object_del(o, "wrappedKeys");
		/* The owning domain is where it lives, whatever the origin. */
		if (domain && *domain) {
			json_object *src = json_object_object_get(o, "domain");

			if (src && strcmp(json_object_get_string(src), domain))
				json_object_object_add(o, "sourceDomain",
						       json_object_get(src));
			json_object_object_add(o, "domain",
					       json_object_new_string(domain));
		}
	}
	json_object_object_add(o, "status", json_object_new_string(
		(const char *)sqlite3_column_text(st, 4)));
	json_object_object_add(o, "message",
			       sqlite3_column_type(st, 5) == SQLITE_NULL ? NULL :
			       json_object_new_string(
				       (const char *)sqlite3_column_text(st, 5)));
	json_object_object_add(o, "size",
			       json_object_new_int64(sqlite3_column_int64(st, 12)));
	json_object_object_add(o, "origin", json_object_new_string(
		(const char *)sqlite3_column_text(st, 14)));
	*out = o;
	return 1;
}

static int backup_obj(struct bk_engine *e, const char *domain, const char *id,
		      json_object **out, struct bk_err *err)
{
	int ret;

	*out = NULL;
	pthread_mutex_lock(&e->db_lock);
	ret = rows(e, e->store, domain, id, row_json_cb, out, err);
	pthread_mutex_unlock(&e->db_lock);
	if (ret < 0)
		return ret;
	if (!*out)
		return bk_errf(err, -ENOENT, "backup %s does not exist", id);
	return 0;
}

int bk_backup_json(struct bk_engine *e, const char *domain, const char *id,
		   char **json, struct bk_err *err)
{
	json_object *o;
	const char *key;
	int ret;

	ret = backup_obj(e, domain, id, &o, err);
	if (ret)
		return ret;
	key = json_object_get_string(json_object_object_get(o, "backupKey"));
	json_object_object_add(o, "keyPresent", json_object_new_boolean(
		key && bk_key_present(e, domain, key)));
	if (asprintf(json, "%s\n", json_object_to_json_string_ext(o,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
		ret = bk_errf(err, -ENOMEM, "out of memory");
	json_object_put(o);
	return ret;
}

int bk_backup_status_line(struct bk_engine *e, const char *domain,
			  const char *id, char **line, struct bk_err *err)
{
	struct bk_err tie = { 0 };
	json_object *o;
	const char *status, *msg, *key;
	int ret, n;

	ret = backup_obj(e, domain, id, &o, err);
	if (ret)
		return ret;
	status = json_object_get_string(json_object_object_get(o, "status"));
	msg = json_object_get_string(json_object_object_get(o, "message"));
	key = json_object_get_string(json_object_object_get(o, "backupKey"));
	if (!strcmp(status, "Failed"))
		n = asprintf(line, "Failed: %s\n", msg ? msg : "unknown reason");
	else if (!strcmp(status, "Completed") && key &&
		 !bk_key_present(e, domain, key))
		n = asprintf(line, "Completed: backup key %s is not on this appliance; upload it to %sbackupkeys/upload/ to restore\n",
			     key, domain ? "domains/<domain>/" : "system/");
	else if (!strcmp(status, "Completed") && bk_tie_check(e, o, &tie))
		n = asprintf(line, "Completed: %s\n", tie.msg);
	else
		n = asprintf(line, "%s\n", status);
	json_object_put(o);
	if (n < 0)
		return bk_errf(err, -ENOMEM, "out of memory");
	return 0;
}

static int latest_cb(void *arg, const struct bk_backup_info *b)
{
	char **id = arg;

	if (!strcmp(b->status, "Completed")) {
		free(*id);
		*id = strdup(b->id);
	}
	return 0;
}

int bk_backup_latest(struct bk_engine *e, const char *domain, char **id_out,
		     struct bk_err *err)
{
	char *id = NULL;
	int ret;

	ret = bk_backup_list(e, domain, latest_cb, &id, err);
	if (ret) {
		free(id);
		return ret;
	}
	if (!id)
		return bk_errf(err, -ENOENT, "no Completed backup yet");
	*id_out = id;
	return 0;
}

static int seq_cb(void *arg, sqlite3_stmt *st)
{
	long long *seq = arg;

	*seq = sqlite3_column_int64(st, 0);
	return 1;
}

int bk_backup_delete(struct bk_engine *e, const char *domain,
		     const char *id, uid_t uid, struct bk_err *err)
{
	struct bk_backup_info info;
	sqlite3_stmt *st;
	long long seq = -1;
	char path[4096], xfer[33];
	int ret;

	ret = bk_backup_get(e, domain, id, &info, err);
	if (ret)
		return ret;
	if (!strcmp(info.status, "In Progress"))
		return bk_errf(err, -EBUSY, "backup %s is in progress", id);
	if (bk_scp_sending(e, id, xfer, sizeof(xfer)))
		return bk_errf(err, -EBUSY,
			       "backup %s is being transferred by SCP (transfer %s): delete it when the transfer has ended",
			       id, xfer);
	pthread_mutex_lock(&e->op_lock);
	if (e->op_running) {
		const char *bid = json_object_get_string(
			json_object_object_get(e->op, "backupId"));

		if (bid && !strcmp(bid, id)) {
			pthread_mutex_unlock(&e->op_lock);
			return bk_errf(err, -EBUSY,
				       "backup %s is being restored", id);
		}
	}
	pthread_mutex_lock(&e->db_lock);
	pthread_mutex_unlock(&e->op_lock);
	ret = rows(e, e->store, domain, id, seq_cb, &seq, err);
	if (ret >= 0 && sqlite3_prepare_v2(bk_store_db(e->store),
			"DELETE FROM backups WHERE seq = ?", -1, &st,
			NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, seq);
		ret = sqlite3_step(st) == SQLITE_DONE ? 0 :
			bk_errf(err, -EIO, "database: %s",
				sqlite3_errmsg(bk_store_db(e->store)));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&e->db_lock);
	if (ret)
		return ret;
	/* The row is gone first: a crash now leaves an orphan file, which
	 * start-up recovery removes. */
	bk_archive_path(e, seq, "backup", path, sizeof(path));
	unlink(path);
	bk_report_path(e, seq, path, sizeof(path));
	unlink(path);
	bk_audit(e, uid, "backup.delete", id, "ok", bk_scope_name(domain));
	return 0;
}

/* ---- creating a backup ---- */

struct backup_job {
	struct bk_engine *e;
	char *domain;
	char id[33];
	long long seq;
	uid_t uid;
	char key_id[64];
	json_object *header;	/* caller fields */
	json_object *filters;
};

struct sink {
	struct bk_archive_writer *w;
	struct bk_engine *e;
};

static int writer_sink(void *arg, const void *buf, size_t len,
		       struct bk_err *err)
{
	struct sink *s = arg;
	int ret = bk_archive_writer_write(s->w, buf, len, err);

	if (!ret)
		bk_op_bytes(s->e, bk_archive_writer_payload(s->w), 0);
	return ret;
}

static void job_progress(void *arg, uint64_t done, uint64_t total)
{
	struct bk_engine *e = arg;

	bk_op_progress(e, total ? (int)(done * 99 / total) : 0);
}

int bk_backup_row_update(struct bk_store *s, long long seq, const char *status,
			 const char *message, long long size,
			 const char *header, struct bk_err *err)
{
	sqlite3_stmt *st;
	int ret;

	if (sqlite3_prepare_v2(bk_store_db(s), "UPDATE backups SET status = ?,"
			       " message = ?, size = ?, header = COALESCE(?, header)"
			       " WHERE seq = ?", -1, &st, NULL) != SQLITE_OK)
		return bk_errf(err, -EIO, "database: %s",
			       sqlite3_errmsg(bk_store_db(s)));
	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	if (message)
		sqlite3_bind_text(st, 2, message, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, size);
	if (header)
		sqlite3_bind_text(st, 4, header, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, seq);
	ret = sqlite3_step(st) == SQLITE_DONE ? 0 :
		bk_errf(err, -EIO, "database: %s", sqlite3_errmsg(bk_store_db(s)));
	sqlite3_finalize(st);
	return ret;
}

/* Reads back the final header of a written archive, as JSON text. */
static char *final_header(int fd)
{
	struct bk_archive_reader *r;
	char *h = NULL;

	if (bk_archive_open(fd, &r, NULL))
		return NULL;
	h = strdup(json_object_to_json_string_ext(bk_archive_header(r),
						  JSON_C_TO_STRING_PLAIN));
	bk_archive_close(r);
	return h;
}

static void *backup_main(void *arg)
{
	struct backup_job *j = arg;
	struct bk_engine *e = j->e;
	struct bk_store *s = NULL;
	struct bk_archive_writer *w = NULL;
	json_object *counts = json_object_new_object();
	uint8_t *key = bk_secure_alloc(32);
	char partial[4096], final[4096], *header = NULL;
	struct bk_err err = { 0 };
	struct sink sink;
	struct bk_seal seal = { 0 };
	off_t total = 0;
	int fd = -1, ret;

	bk_archive_path(e, j->seq, "partial", partial, sizeof(partial));
	bk_archive_path(e, j->seq, "backup", final, sizeof(final));
	ret = bk_engine_store_open(e, BK_STORE_PRIVATE, &s, &err);
	if (ret)
		goto out;
	if (!key) {
		ret = bk_errf(&err, -ENOMEM, "out of secure memory");
		goto out;
	}
	ret = bk_key_load(e, s, j->domain, j->key_id, key, &err);
	if (ret)
		goto out;
	fd = open(partial, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = bk_errf(&err, -errno, "cannot create %s: %s", partial,
			      strerror(errno));
		goto out;
	}
	if ((ret = bk_seal_begin(e, j->header, key, &seal, &err)))
		goto out;
	ret = bk_archive_writer_new(fd, j->header, key, &w, &err);
	if (!ret)
		ret = bk_seal_add(&seal, w, &err);
	if (ret)
		goto out;
	sink.w = w;
	sink.e = e;
	ret = bk_snapshot_write(s, e->rot, j->domain, j->filters, writer_sink,
				&sink, counts, job_progress, e, &err);
	if (ret)
		goto out;
	{
		json_object *fin = json_object_new_object();

		json_object_object_add(fin, "counts", json_object_get(counts));
		ret = bk_archive_writer_finish(w, fin, &total, &err);
		json_object_put(fin);
	}
	if (ret)
		goto out;
	if ((ret = bk_fault("backup.fsync")) ? (errno = -ret, 1) :
	    fsync(fd) < 0) {
		ret = bk_errf(&err, -errno, "cannot write the archive: %s",
			      strerror(errno));
		goto out;
	}
	header = final_header(fd);
	if ((ret = bk_fault("backup.rename")) ? (errno = -ret, 1) :
	    rename(partial, final) < 0) {
		ret = bk_errf(&err, -errno, "cannot finish the archive: %s",
			      strerror(errno));
		goto out;
	}
	bk_fsync_dir(e->archives);
	ret = bk_fault("backup.commit");
	if (ret)
		bk_errf(&err, ret, "cannot record the backup: %s",
			strerror(-ret));
	else
		ret = bk_backup_row_update(s, j->seq, "Completed", NULL, total,
					   header, &err);
	if (ret)
		unlink(final);
out:
	if (fd >= 0)
		close(fd);
	if (ret) {
		unlink(partial);
		if (s)
			bk_backup_row_update(s, j->seq, "Failed", err.msg, 0, NULL,
					     NULL);
	}
	if (s)
		bk_audit_s(e, s, j->uid, "backup.create", j->id,
			   ret ? "failed" : "ok", ret ? err.msg : NULL);
	bk_archive_writer_free(w);
	bk_store_close(s);
	bk_secure_free(key, 32);
	bk_seal_free(&seal);
	json_object_put(counts);
	json_object_put(j->header);
	json_object_put(j->filters);
	free(header);
	free(j->domain);
	free(j);
	bk_op_end(e, ret == 0, ret ? err.msg : NULL);
	return NULL;
}

static int insert_row(struct bk_store *s, const char *domain, const char *id,
		      const char *status, const char *created_at,
		      long long epoch, const char *pv, const char *desc,
		      const char *key, int tied, long long size,
		      const char *header, const char *origin, long long *seq,
		      struct bk_err *err)
{
	sqlite3_stmt *st;
	int ret;

	if (sqlite3_prepare_v2(bk_store_db(s), "INSERT INTO backups (id, scope,"
			       " domain, status, created_at, created_epoch,"
			       " product_version, description, backup_key, tied,"
			       " size, header, origin)"
			       " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &st,
			       NULL) != SQLITE_OK)
		return bk_errf(err, -EIO, "database: %s",
			       sqlite3_errmsg(bk_store_db(s)));
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, bk_scope_name(domain), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, bk_scope_domain(domain), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, created_at, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, epoch);
	sqlite3_bind_text(st, 7, pv, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, desc, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, key, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 10, tied);
	sqlite3_bind_int64(st, 11, size);
	if (header)
		sqlite3_bind_text(st, 12, header, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, origin, -1, SQLITE_STATIC);
	ret = sqlite3_step(st);
	if (ret == SQLITE_CONSTRAINT)
		ret = bk_errf(err, -EEXIST, "backup %s already exists", id);
	else if (ret == SQLITE_FULL)
		ret = bk_errf(err, -ENOSPC, "not enough space to record the backup: %s",
			      sqlite3_errmsg(bk_store_db(s)));
	else if (ret != SQLITE_DONE)
		ret = bk_errf(err, -EIO, "database: %s",
			      sqlite3_errmsg(bk_store_db(s)));
	else
		ret = 0;
	sqlite3_finalize(st);
	if (!ret)
		*seq = sqlite3_last_insert_rowid(bk_store_db(s));
	return ret;
}

int bk_backup_insert(struct bk_engine *e, const char *domain, const char *id,
		     const char *status, const char *created_at,
		     long long epoch, const char *pv, const char *desc,
		     const char *key, int tied, long long size,
		     const char *header, const char *origin, long long *seq,
		     struct bk_err *err)
{
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = insert_row(e->store, domain, id, status, created_at, epoch, pv,
			 desc, key, tied, size, header, origin, seq, err);
	pthread_mutex_unlock(&e->db_lock);
	return ret;
}

int bk_backup_start(struct bk_engine *e, const char *domain, const char *req,
		    uid_t uid, char **id_out, struct bk_err *err)
{
	struct backup_job *j = NULL;
	json_object *o = NULL, *v, *doms = NULL;
	const char *desc = "";
	char *key_id = NULL, *pv = NULL, now[32];
	long long epoch;
	int ret, tied = 0;

	if ((ret = bk_hsm_busy(e, err)))
		return ret;
	if (domain && req && strstr(req, "tiedToHSM")) {
		json_object *t = json_tokener_parse(req);

		if (t && json_object_object_get_ex(t, "tiedToHSM", NULL)) {
			json_object_put(t);
			return bk_errf(err, -EINVAL,
				       "tiedToHSM is invalid for domain-scoped backups: only system backups can be tied to an HSM");
		}
		json_object_put(t);
	}
	ret = bk_request_parse(req, domain ? bk_fields_domain_backup :
			       bk_fields_system_backup, &o, err);
	if (ret)
		return ret;
	if (json_object_object_get_ex(o, "description", &v)) {
		desc = json_object_get_string(v);
		if (strlen(desc) > 4096) {
			ret = bk_errf(err, -EINVAL,
				      "\"description\" is longer than 4096 bytes");
			goto out;
		}
	}
	if (json_object_object_get_ex(o, "tiedToHSM", &v) &&
	    json_object_get_boolean(v)) {
		if (strcmp(bk_rot_kind(e->rot), "pkcs11")) {
			ret = bk_errf(err, -EINVAL,
				      "tiedToHSM needs an HSM root of trust; this appliance uses a software root of trust (an HSM is set up with backupctl init --hsm URI)");
			goto out;
		}
		tied = 1;
	}
	if (json_object_object_get_ex(o, "filters", &v) &&
	    (ret = bk_filters_validate(v, err)))
		goto out;
	if (domain && !bk_engine_domain_exists(e, domain)) {
		ret = bk_errf(err, -ENOENT, "domain %s does not exist", domain);
		goto out;
	}
	if (json_object_object_get_ex(o, "backupKey", &v)) {
		key_id = strdup(json_object_get_string(v));
		if (!bk_key_present(e, domain, key_id)) {
			ret = bk_errf(err, -EINVAL,
				      "backup key %s does not exist in the %s scope%s%s",
				      key_id, domain ? "domain" : "system",
				      domain ? " of " : "", domain ? domain : "");
			goto out;
		}
	} else if ((ret = bk_key_default(e, domain, &key_id, err))) {
		ret = -EINVAL;
		goto out;
	}
	pthread_mutex_lock(&e->db_lock);
	ret = bk_setting_get(e->store, "product_version", &pv, err);
	pthread_mutex_unlock(&e->db_lock);
	if (!ret)	/* the anchored domains' keys seal it */
		ret = bk_hsm_domains(e, domain, &doms, err);
	if (ret)
		goto out;
	j = calloc(1, sizeof(*j));
	if (!j) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	j->e = e;
	j->uid = uid;
	j->domain = domain ? strdup(domain) : NULL;
	snprintf(j->key_id, sizeof(j->key_id), "%s", key_id);
	bk_random_id(j->id, NULL);
	ret = bk_op_begin(e, "backup", domain, j->id, uid, err);
	if (ret)
		goto out;
	epoch = bk_now(now);
	ret = bk_backup_insert(e, domain, j->id, "In Progress", now, epoch,
			       pv ? pv : "", desc, key_id, tied, 0, NULL,
			       "local", &j->seq, err);
	if (ret) {
		bk_op_end(e, 0, err ? err->msg : "cannot record the backup");
		goto out;
	}
	j->header = json_object_new_object();
	json_object_object_add(j->header, "id", json_object_new_string(j->id));
	json_object_object_add(j->header, "scope",
			       json_object_new_string(bk_scope_name(domain)));
	json_object_object_add(j->header, "domain",
			       domain ? json_object_new_string(domain) : NULL);
	json_object_object_add(j->header, "createdAt", json_object_new_string(now));
	json_object_object_add(j->header, "productVersion",
			       json_object_new_string(pv ? pv : ""));
	json_object_object_add(j->header, "description",
			       json_object_new_string(desc));
	if (domain && json_object_object_get_ex(o, "filters", &v))
		j->filters = json_object_get(v);
	json_object_object_add(j->header, "filters", domain ? (j->filters ?
			       json_object_get(j->filters) :
			       json_object_new_array()) : NULL);
	json_object_object_add(j->header, "backupKey",
			       json_object_new_string(key_id));
	json_object_object_add(j->header, "tiedToHSM",
			       json_object_new_boolean(tied));
	if (tied)
		json_object_object_add(j->header, "hsmKeyId",
				       json_object_new_string(
					       bk_rot_key_id(e->rot)));
	if (doms)
		json_object_object_add(j->header, "hsmDomains",
				       json_object_get(doms));
	bk_audit(e, uid, "backup.start", j->id, "ok", bk_scope_name(domain));
	if (id_out && !(*id_out = strdup(j->id))) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		pthread_mutex_lock(&e->db_lock);
		bk_backup_row_update(e->store, j->seq, "Failed", err->msg, 0,
				     NULL, NULL);
		pthread_mutex_unlock(&e->db_lock);
		bk_op_end(e, 0, err->msg);
		json_object_put(j->header);
		goto out;
	}
	ret = bk_job_spawn(e, backup_main, j, err);
	if (ret) {
		pthread_mutex_lock(&e->db_lock);
		bk_backup_row_update(e->store, j->seq, "Failed", err->msg, 0,
				     NULL, NULL);
		pthread_mutex_unlock(&e->db_lock);
		bk_op_end(e, 0, err->msg);
		json_object_put(j->header);
		if (id_out) {
			free(*id_out);
			*id_out = NULL;
		}
		goto out;
	}
	j = NULL;
out:
	if (j) {
		json_object_put(j->filters);
		free(j->domain);
		free(j);
	}
	free(pv);
	free(key_id);
	json_object_put(o);
	json_object_put(doms);
	return ret;
}
