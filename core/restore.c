/* restore.c - uploads of archives, restores, and the offline checks
 * (inspect, verify). */
#include "backups_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "archive.h"
#include "checkpoint.h"
#include "crypto.h"
#include "fault.h"
#include "hsm.h"
#include "keyfile.h"
#include "release.h"
#include "restore_ids.h"
#include "snapshot.h"

static const char *hstr(json_object *h, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(h, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static long long parse_time(const char *s)
{
	struct tm tm = { 0 };
	const char *end;

	if (!s)
		return 0;
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return 0;
	return (long long)timegm(&tm);
}

/* Opens the archive at path; *r and *fd on success. */
static int open_archive(const char *path, int *fd, struct bk_archive_reader **r,
			struct bk_err *err)
{
	int ret;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return bk_errf(err, -errno, "cannot open %s: %s", path,
			       strerror(errno));
	ret = bk_archive_open(*fd, r, err);
	if (ret) {
		close(*fd);
		*fd = -1;
	}
	return ret;
}

/* ---- restore ---- */

struct restore_job {
	struct bk_engine *e;
	char *domain;
	char id[64];
	char key_id[64];
	char path[4096];
	long long seq;
	uid_t uid;
};

struct archive_source {
	struct bk_archive_reader *r;
	struct bk_engine *e;
	uint64_t done, total;
};

static ssize_t archive_source(void *arg, void *buf, size_t len,
			      struct bk_err *err)
{
	struct archive_source *a = arg;
	ssize_t n = bk_archive_read(a->r, buf, len, err);

	if (n > 0) {
		a->done += n;
		if (a->total)
			bk_op_progress(a->e, 50 + (int)(a->done * 49 / a->total));
		bk_op_bytes(a->e, a->total + a->done, 2 * a->total);
	}
	return n;
}

static void scan_ids(void *arg, const void *piece, size_t len)
{
	bk_idset_feed(arg, piece, len);
}

static void verify_progress(void *arg, uint64_t done, uint64_t total)
{
	bk_op_progress(arg, total ? (int)(done * 50 / total) : 0);
	bk_op_bytes(arg, done, 2 * total);
}

/* restore-report.json: written atomically beside the archives. */
static void write_report(struct bk_engine *e, struct restore_job *j,
			 json_object *report, int ret, const char *msg)
{
	json_object *o = json_object_new_object();
	char path[4096], tmp[4200], now[32];
	const char *text;
	FILE *f;

	bk_now(now);
	json_object_object_add(o, "backupId", json_object_new_string(j->id));
	json_object_object_add(o, "scope",
			       json_object_new_string(bk_scope_name(j->domain)));
	json_object_object_add(o, "domain", j->domain ?
			       json_object_new_string(j->domain) : NULL);
	json_object_object_add(o, "status",
			       json_object_new_string(ret ? "Failed" : "Completed"));
	json_object_object_add(o, "message", ret ?
			       json_object_new_string(msg) : NULL);
	json_object_object_add(o, "finishedAt", json_object_new_string(now));
	json_object_object_add(o, "report", json_object_get(report));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_SPACED);
	bk_report_path(e, j->seq, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	{
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		f = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!f && fd >= 0)
			close(fd);
	}
	if (f) {
		int bad = fprintf(f, "%s\n", text) < 0;

		bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
		bad |= fclose(f) != 0;
		if (bad || rename(tmp, path) < 0)
			unlink(tmp);
	}
	json_object_put(o);
}

static void *restore_main(void *arg)
{
	struct restore_job *j = arg;
	struct bk_engine *e = j->e;
	struct bk_archive_reader *r = NULL;
	struct bk_store *s = NULL;
	json_object *report = json_object_new_object();
	uint8_t *key = bk_secure_alloc(32);
	struct bk_err err = { 0 };
	struct archive_source src;
	struct bk_idset *ids = NULL;
	int fd = -1, ret;

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
	ret = open_archive(j->path, &fd, &r, &err);
	if (ret)
		goto out;
	/* Authenticate everything before changing anything. */
	ret = bk_tie_unlock(e, r, key, &err);
	/* A domain restore's ids are collected on the way
	 * (restore_ids.c); without memory for them it looks them up one
	 * by one. */
	if (!ret && j->domain)
		ids = bk_idset_new(0);
	if (!ret)
		ret = bk_archive_verify_scan(r, verify_progress, e,
					     ids ? scan_ids : NULL, ids, &err);
	if (ret)
		goto out;
	ret = bk_archive_rewind(r);
	if (ret) {
		bk_errf(&err, ret, "cannot re-read the archive");
		goto out;
	}
	src.r = r;
	src.e = e;
	src.done = 0;
	src.total = json_object_get_int64(json_object_object_get(
		bk_archive_header(r), "payloadSize"));
	/* Verified, nothing changed yet.  The restore is one transaction
	 * inside bk_snapshot_restore_*; "restore.commit" below is after it
	 * (a kill there must find the data restored).  It starts once the
	 * log of the operation before is checkpointed (that ran during the
	 * verify pass; checkpoint.h says why). */
	bk_ckpt_drain(e->ckpt);
	ret = bk_fault("restore.apply");
	if (ret) {
		bk_errf(&err, ret, "cannot apply the backup: %s", strerror(-ret));
		goto out;
	}
	if (j->domain)
		ret = bk_snapshot_restore_domain(s, e->rot, j->domain,
						 archive_source, &src, ids,
						 report, NULL, NULL, &err);
	/* A system backup's anchored domains are bound to their keys (found
	 * reachable above) for their material to be wrapped by them; after
	 * the restore, the domains of the database are bound. */
	else if (!(ret = bk_hsm_bind_header(e, bk_archive_header(r), &err)))
		ret = bk_snapshot_restore_system(s, e->rot, archive_source, &src,
						 report, NULL, NULL, &err);
	if (!j->domain)
		bk_hsm_bind_domains(e, s);
	write_report(e, j, report, ret, err.msg);
out:
	if (s) {
		const char *rep = json_object_to_json_string_ext(report,
						JSON_C_TO_STRING_PLAIN);
		bk_audit_s(e, s, j->uid, "backup.restore", j->id,
			   ret ? "failed" : "ok", ret ? err.msg : rep);
	}
	bk_archive_close(r);
	if (fd >= 0)
		close(fd);
	bk_idset_free(ids);
	bk_store_close(s);
	bk_secure_free(key, 32);
	json_object_put(report);
	free(j->domain);
	free(j);
	if (!ret)
		bk_fault("restore.commit");	/* kill only: data is committed */
	bk_op_end(e, ret == 0, ret ? err.msg : NULL);
	return NULL;
}

static int restore_checks(struct bk_engine *e, const char *domain,
			  json_object *h, int force, struct bk_err *err)
{
	const char *key = hstr(h, "backupKey"), *from = hstr(h, "productVersion");
	char *to = NULL, *lts = NULL;
	int ret;

	if (!key || !bk_key_present(e, domain, key)) {
		if (domain)
			return bk_errf(err, -EINVAL,
				       "domain backup key %s is not in domain %s: upload it to domains/%s/backupkeys/upload/ first",
				       key ? key : "(none)", domain, domain);
		return bk_errf(err, -EINVAL,
			       "backup key %s is not on this appliance: upload it to system/backupkeys/upload/ first",
			       key ? key : "(none)");
	}
	pthread_mutex_lock(&e->db_lock);
	ret = bk_setting_get(e->store, "product_version", &to, err);
	if (!ret)
		ret = bk_setting_get(e->store, "lts", &lts, err);
	pthread_mutex_unlock(&e->db_lock);
	if (!ret) {
		ret = bk_release_check(from ? from : "", to ? to : "", lts,
				       force, err);
		if (ret)
			ret = -EINVAL;
	}
	free(to);
	free(lts);
	return ret;
}

int bk_restore_start(struct bk_engine *e, const char *domain, const char *id,
		     const char *req, uid_t uid, struct bk_err *err)
{
	struct bk_archive_reader *r = NULL;
	struct bk_backup_info info;
	struct restore_job *j = NULL;
	json_object *o = NULL, *v;
	int ret, fd = -1, force = 0;

	if ((ret = bk_hsm_busy(e, err)))
		return ret;
	ret = bk_request_parse(req, bk_fields_restore, &o, err);
	if (ret)
		return ret;
	if (json_object_object_get_ex(o, "force", &v))
		force = json_object_get_boolean(v);
	json_object_put(o);
	ret = bk_backup_get(e, domain, id, &info, err);
	if (ret)
		return ret;
	if (strcmp(info.status, "Completed"))
		return bk_errf(err, -EINVAL,
			       "backup %s is %s; only a Completed backup can be restored",
			       id, info.status);
	ret = open_archive(info.archive_path, &fd, &r, err);
	if (ret)
		return ret;
	ret = restore_checks(e, domain, bk_archive_header(r), force, err);
	if (!ret)
		ret = bk_tie_check(e, bk_archive_header(r), err);
	if (!ret && domain && bk_rot_why(bk_rot_for(e->rot, domain)))
		ret = bk_errf(err, -EINVAL, "cannot restore into domain %s: %s",
			      domain, bk_rot_why(bk_rot_for(e->rot, domain)));
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
	snprintf(j->id, sizeof(j->id), "%s", id);
	snprintf(j->key_id, sizeof(j->key_id), "%s",
		 hstr(bk_archive_header(r), "backupKey"));
	snprintf(j->path, sizeof(j->path), "%s", info.archive_path);
	j->seq = info.seq;
	ret = bk_op_begin(e, "restore", domain, id, uid, err);
	if (ret)
		goto out;
	bk_audit(e, uid, "restore.start", id, "ok", force ? "force" : "");
	ret = bk_job_spawn(e, restore_main, j, err);
	if (ret) {
		bk_op_end(e, 0, err->msg);
		goto out;
	}
	j = NULL;
out:
	if (j) {
		free(j->domain);
		free(j);
	}
	bk_archive_close(r);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* ---- upload ---- */

/* Are the contents of fd and of the file at path the same bytes? */
static int files_equal(int fd, const char *path)
{
	size_t sz = 1 << 20;
	uint8_t *a = malloc(sz), *b = malloc(sz);
	int fd2 = open(path, O_RDONLY | O_CLOEXEC), equal = 0;
	off_t off = 0;

	if (!a || !b || fd2 < 0)
		goto out;
	for (;;) {
		ssize_t n = pread(fd, a, sz, off), m = pread(fd2, b, sz, off);

		if (n < 0 || n != m || memcmp(a, b, n))
			goto out;
		if (n == 0)
			break;
		off += n;
	}
	equal = 1;
out:
	if (fd2 >= 0)
		close(fd2);
	free(a);
	free(b);
	return equal;
}

int bk_upload_unlock(struct bk_engine *e, const char *domain,
		     struct bk_archive_reader *r, uint8_t key[32],
		     struct bk_err *away, struct bk_err *err)
{
	json_object *h = bk_archive_header(r);
	const char *bkey = hstr(h, "backupKey");
	int ret;

	if (!bkey)
		return 0;
	pthread_mutex_lock(&e->db_lock);
	ret = bk_key_load(e, e->store, domain, bkey, key, NULL);
	pthread_mutex_unlock(&e->db_lock);
	if (ret || bk_tie_check(e, h, away))
		return 0;	/* HSM keys not here: checked at restore */
	ret = bk_tie_unlock(e, r, key, err);
	return ret ? ret : 1;
}

int bk_upload_archive(struct bk_engine *e, const char *domain,
		      const char *path, int restore, uid_t uid,
		      struct bk_upcheck *check, char **id_out,
		      struct bk_err *err)
{
	struct bk_archive_reader *r = NULL;
	struct bk_backup_info old;
	json_object *h;
	uint8_t *key = bk_secure_alloc(32);
	const char *id, *scope, *bkey, *created;
	char final[4096], *header = NULL, msg[512] = "";
	long long seq = -1;
	struct stat st;
	int fd = -1, ret, have_key = 0;
	struct bk_err away = { 0 };	/* sealed by HSM keys not here */

	if (!key)
		return bk_errf(err, -ENOMEM, "out of secure memory");
	ret = open_archive(path, &fd, &r, err);
	if (ret) {
		ret = -EINVAL;
		goto out;
	}
	h = bk_archive_header(r);
	id = hstr(h, "id");
	scope = hstr(h, "scope");
	bkey = hstr(h, "backupKey");
	created = hstr(h, "createdAt");
	if (!id || !scope || !bkey || !bk_id_valid(id) || !bk_id_valid(bkey)) {
		ret = bk_errf(err, -EINVAL,
			      "the archive header lacks a valid id or backupKey (32 hex characters each), or its scope");
		goto out;
	}
	if (strcmp(scope, bk_scope_name(domain))) {
		ret = bk_errf(err, -EINVAL,
			      "this is a %s-scoped backup; upload it to %s",
			      scope, !strcmp(scope, "system") ?
			      "system/backups/upload/" :
			      "domains/<domain>/backups/upload/");
		goto out;
	}
	if (domain && !bk_engine_domain_exists(e, domain)) {
		ret = bk_errf(err, -ENOENT, "domain %s does not exist", domain);
		goto out;
	}
	fstat(fd, &st);
	if (!bk_backup_get(e, domain, id, &old, NULL)) {
		if (!strcmp(old.status, "Completed") && old.size == st.st_size &&
		    files_equal(fd, old.archive_path)) {
			/* The same archive again (rsync, a retry): accepted. */
			unlink(path);
			have_key = bk_key_present(e, domain, bkey);
			goto accepted;
		}
		ret = bk_errf(err, -EINVAL,
			      "a different backup with id %s already exists here",
			      id);
		goto out;
	}
	/* Authenticated as it arrived (upcheck.c): the check found the key
	 * and the tie and unlocked the header of exactly these bytes, so
	 * neither is done again.  Otherwise the full pass. */
	have_key = bk_upcheck_finish(check, (uint64_t)st.st_size);
	if (!have_key) {
		ret = bk_upload_unlock(e, domain, r, key, &away, err);
		have_key = ret > 0;
		if (have_key)
			ret = bk_archive_verify(r, NULL, NULL, err);
		if (ret < 0) {
			ret = -EINVAL;
			goto out;
		}
	}
	header = strdup(json_object_to_json_string_ext(h, JSON_C_TO_STRING_PLAIN));
	ret = bk_backup_insert(e, domain, id, "Uploading", created ? created : "",
			       parse_time(created), hstr(h, "productVersion") ?
			       hstr(h, "productVersion") : "",
			       hstr(h, "description") ? hstr(h, "description") : "",
			       bkey, json_object_get_boolean(
				       json_object_object_get(h, "tiedToHSM")),
			       st.st_size, header, "upload", &seq, err);
	if (ret)
		goto out;
	bk_archive_path(e, seq, "backup", final, sizeof(final));
	if ((ret = bk_fault("upload.rename")) ? (errno = -ret, 1) :
	    fsync(fd) < 0 || rename(path, final) < 0) {
		ret = bk_errf(err, -errno, "cannot store the archive: %s",
			      strerror(errno));
		goto out;
	}
	bk_fsync_dir(e->archives);
	ret = bk_fault("upload.commit");
	if (ret) {
		bk_errf(err, ret, "cannot record the upload: %s", strerror(-ret));
	} else {
		pthread_mutex_lock(&e->db_lock);
		ret = bk_backup_row_update(e->store, seq, "Completed", NULL,
					   st.st_size, NULL, err);
		pthread_mutex_unlock(&e->db_lock);
	}
	if (ret) {
		unlink(final);
		goto out;
	}
accepted:
	if (away.code)
		snprintf(msg, sizeof(msg), "uploaded; %.480s", away.msg);
	else if (!have_key)
		snprintf(msg, sizeof(msg),
			 "uploaded; backup key %s is not on this appliance: it restores once the key is uploaded",
			 bkey);
	bk_op_record(e, "upload", domain, id, 1, msg);
	bk_audit(e, uid, "backup.upload", id, "ok", msg);
	if (id_out)
		*id_out = strdup(id);
	if (restore) {
		char *bid = strdup(id);

		bk_archive_close(r);
		r = NULL;
		ret = bk_restore_start(e, domain, bid, "{}", uid, err);
		free(bid);
		goto done;
	}
	ret = 0;
	goto done;
out:
	if (ret) {
		if (seq >= 0) {
			sqlite3_stmt *st2;

			pthread_mutex_lock(&e->db_lock);
			if (sqlite3_prepare_v2(bk_store_db(e->store),
					"DELETE FROM backups WHERE seq = ?", -1,
					&st2, NULL) == SQLITE_OK) {
				sqlite3_bind_int64(st2, 1, seq);
				sqlite3_step(st2);
				sqlite3_finalize(st2);
			}
			pthread_mutex_unlock(&e->db_lock);
		}
		bk_op_record(e, "upload", domain, NULL, 0,
			     err ? err->msg : "upload rejected");
		bk_audit(e, uid, "backup.upload", path, "rejected",
			 err ? err->msg : "");
	}
done:
	bk_archive_close(r);
	if (fd >= 0)
		close(fd);
	free(header);
	bk_secure_free(key, 32);
	return ret;
}

/* ---- offline tools ---- */

int bk_inspect_file(const char *path, const char *pass, size_t passlen,
		    char **json, struct bk_err *err)
{
	struct bk_archive_reader *r = NULL;
	json_object *o = NULL;
	uint8_t *buf = NULL;
	char magic[8] = { 0 };
	size_t len;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bk_errf(err, -errno, "cannot open %s: %s", path,
			       strerror(errno));
	if (pread(fd, magic, sizeof(magic), 0) != (ssize_t)sizeof(magic)) {
		close(fd);
		return bk_errf(err, -EINVAL,
			       "%s is neither a backupfs archive nor a backup key file (too short)",
			       path);
	}
	if (!memcmp(magic, "BKFSARC", 7)) {
		ret = bk_archive_open(fd, &r, err);
		if (!ret) {
			json_object *h = bk_archive_header(r);

			o = json_object_new_object();
			json_object_object_add(o, "kind",
					       json_object_new_string("backup"));
			json_object_object_foreach(h, k, v)
				if (strcmp(k, "salt") && strcmp(k, "wrappedKeys"))
					json_object_object_add(o, k,
							       json_object_get(v));
		}
		bk_archive_close(r);
	} else if (!memcmp(magic, "BKFSKEY", 7)) {
		close(fd);
		fd = -1;
		uint8_t *key = bk_secure_alloc(32);

		ret = key ? bk_read_small(path, 65536, &buf, &len, err) :
			bk_errf(err, -ENOMEM, "out of secure memory");
		if (!ret)
			ret = pass ? bk_keyfile_import(buf, len, pass, passlen,
						       &o, key, err)
				   : bk_keyfile_inspect(buf, len, &o, err);
		bk_secure_free(key, 32);
		if (!ret) {
			json_object_object_add(o, "kind",
					       json_object_new_string("backupkey"));
			if (pass)
				json_object_object_add(o, "passwordOk",
						       json_object_new_boolean(1));
		}
		free(buf);
	} else {
		ret = bk_errf(err, -EINVAL,
			      "%s is neither a backupfs archive nor a backup key file",
			      path);
	}
	if (fd >= 0)
		close(fd);
	if (!ret) {
		*json = strdup(json_object_to_json_string_ext(o,
				JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			JSON_C_TO_STRING_NOSLASHESCAPE));
		if (!*json)
			ret = bk_errf(err, -ENOMEM, "out of memory");
	}
	json_object_put(o);
	return ret;
}

static int file_sha256(int fd, char out[65], struct bk_err *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32], *buf = malloc(1 << 20);
	off_t off = 0;
	ssize_t n;
	int ret = 0;

	if (!ctx || !buf || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	while ((n = pread(fd, buf, 1 << 20, off)) > 0) {
		EVP_DigestUpdate(ctx, buf, n);
		off += n;
	}
	if (n < 0) {
		ret = bk_errf(err, -errno, "read: %s", strerror(errno));
		goto out;
	}
	EVP_DigestFinal_ex(ctx, md, NULL);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return ret;
}

int bk_verify_file(struct bk_engine *e, const char *path, char **json,
		   struct bk_err *err)
{
	struct bk_archive_reader *r = NULL;
	uint8_t *key = bk_secure_alloc(32);
	json_object *h, *o = NULL;
	const char *scope, *bkey, *dom;
	char sha[65];
	int fd = -1, ret;

	if (!key)
		return bk_errf(err, -ENOMEM, "out of secure memory");
	ret = open_archive(path, &fd, &r, err);
	if (ret)
		goto out;
	h = bk_archive_header(r);
	scope = hstr(h, "scope");
	bkey = hstr(h, "backupKey");
	dom = hstr(h, "domain");
	if (!scope || !bkey) {
		ret = bk_errf(err, -EINVAL, "the archive header lacks scope or backupKey");
		goto out;
	}
	pthread_mutex_lock(&e->db_lock);
	if (!strcmp(scope, "system")) {
		ret = bk_key_load(e, e->store, NULL, bkey, key, err);
	} else {
		/* A domain key may live in any domain (uploaded copies). */
		sqlite3_stmt *st;

		ret = bk_errf(err, -ENOENT,
			      "backup key %s is not on this appliance", bkey);
		if (sqlite3_prepare_v2(bk_store_db(e->store), "SELECT domain FROM"
				       " backup_keys WHERE scope = 'domain' AND id = ?"
				       " ORDER BY domain = ? DESC", -1, &st,
				       NULL) == SQLITE_OK) {
			sqlite3_bind_text(st, 1, bkey, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, dom ? dom : "", -1, SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_ROW)
				ret = bk_key_load(e, e->store,
					(const char *)sqlite3_column_text(st, 0),
					bkey, key, err);
			sqlite3_finalize(st);
		}
	}
	pthread_mutex_unlock(&e->db_lock);
	if (ret)
		goto out;
	ret = bk_tie_unlock(e, r, key, err);
	if (!ret)
		ret = bk_archive_verify(r, NULL, NULL, err);
	if (!ret)
		ret = file_sha256(fd, sha, err);
	if (ret)
		goto out;
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_get(json_object_object_get(h, "id")));
	json_object_object_add(o, "verified", json_object_new_boolean(1));
	json_object_object_add(o, "sha256", json_object_new_string(sha));
	json_object_object_add(o, "payloadSize", json_object_get(
		json_object_object_get(h, "payloadSize")));
	*json = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
out:
	json_object_put(o);
	bk_archive_close(r);
	if (fd >= 0)
		close(fd);
	bk_secure_free(key, 32);
	return ret;
}
