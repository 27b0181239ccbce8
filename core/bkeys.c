/* bkeys.c - backup keys: one table, two scopes, one default per scope.
 * A key is 32 random bytes kept wrapped by the root of trust. */
#include "engine_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto.h"
#include "hsm.h"
#include "keyfile.h"

#define KEY_COLS "id, name, scope, domain, is_default, fingerprint, created_at, created_epoch"

static json_object *key_row_json(sqlite3_stmt *st)
{
	json_object *o = json_object_new_object();
	const char *domain = (const char *)sqlite3_column_text(st, 3);

	json_object_object_add(o, "id", json_object_new_string(
		(const char *)sqlite3_column_text(st, 0)));
	json_object_object_add(o, "name", json_object_new_string(
		(const char *)sqlite3_column_text(st, 1)));
	json_object_object_add(o, "scope", json_object_new_string(
		(const char *)sqlite3_column_text(st, 2)));
	json_object_object_add(o, "domain", domain && *domain ?
			       json_object_new_string(domain) : NULL);
	json_object_object_add(o, "default",
			       json_object_new_boolean(sqlite3_column_int(st, 4)));
	json_object_object_add(o, "createdAt", json_object_new_string(
		(const char *)sqlite3_column_text(st, 6)));
	json_object_object_add(o, "fingerprint", json_object_new_string(
		(const char *)sqlite3_column_text(st, 5)));
	return o;
}

/* Looks a key up; *meta (may be NULL) new object; wrapped copied if asked. */
static int key_lookup(struct bk_store *s, const char *domain, const char *id,
		      json_object **meta, uint8_t **wrapped, size_t *wlen,
		      long long *epoch, struct bk_err *err)
{
	sqlite3_stmt *st;
	int ret;

	ret = bk_scope_prepare(s, "SELECT " KEY_COLS ", wrapped FROM backup_keys"
			       " WHERE scope = ? AND domain = ? AND id = ?",
			       domain, &st, err);
	if (ret)
		return ret;
	sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
	ret = sqlite3_step(st);
	if (ret != SQLITE_ROW) {
		sqlite3_finalize(st);
		if (ret != SQLITE_DONE)
			return bk_errf(err, -EIO, "database: %s",
				       sqlite3_errmsg(bk_store_db(s)));
		if (domain)
			return bk_errf(err, -ENOENT,
				       "backup key %s does not exist in domain %s",
				       id, domain);
		return bk_errf(err, -ENOENT,
			       "system backup key %s does not exist", id);
	}
	if (meta)
		*meta = key_row_json(st);
	if (epoch)
		*epoch = sqlite3_column_int64(st, 7);
	if (wrapped) {
		*wlen = sqlite3_column_bytes(st, 8);
		*wrapped = malloc(*wlen ? *wlen : 1);
		if (*wrapped)
			memcpy(*wrapped, sqlite3_column_blob(st, 8), *wlen);
	}
	sqlite3_finalize(st);
	if (wrapped && !*wrapped) {
		if (meta)
			json_object_put(*meta);
		return bk_errf(err, -ENOMEM, "out of memory");
	}
	return 0;
}

int bk_key_load(struct bk_engine *e, struct bk_store *s, const char *domain,
		const char *id, uint8_t key[32], struct bk_err *err)
{
	uint8_t *wrapped = NULL, *clear = NULL;
	size_t wlen, clen;
	int ret;

	ret = key_lookup(s, domain, id, NULL, &wrapped, &wlen, NULL, err);
	if (ret)
		return ret;
	ret = bk_rot_unwrap(e->rot, wrapped, wlen, &clear, &clen, err);
	free(wrapped);
	if (ret)
		return ret;
	if (clen != 32) {
		bk_secure_free(clear, wlen);
		return bk_errf(err, -EBADMSG, "backup key %s is damaged", id);
	}
	memcpy(key, clear, 32);
	bk_secure_free(clear, wlen);
	return 0;
}

int bk_key_present(struct bk_engine *e, const char *domain, const char *id)
{
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = key_lookup(e->store, domain, id, NULL, NULL, NULL, NULL, NULL);
	pthread_mutex_unlock(&e->db_lock);
	return ret == 0;
}

static int has_default(struct bk_store *s, const char *domain)
{
	sqlite3_stmt *st;
	int ret = 0;

	if (bk_scope_prepare(s, "SELECT 1 FROM backup_keys WHERE scope = ?"
			     " AND domain = ? AND is_default", domain, &st, NULL))
		return 0;
	ret = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return ret;
}

static int clear_default(struct bk_store *s, const char *domain,
			 struct bk_err *err)
{
	sqlite3_stmt *st;
	int ret;

	ret = bk_scope_prepare(s, "UPDATE backup_keys SET is_default = 0"
			       " WHERE scope = ? AND domain = ?", domain, &st,
			       err);
	if (ret)
		return ret;
	ret = sqlite3_step(st) == SQLITE_DONE ? 0 : bk_db_err(s, err);
	sqlite3_finalize(st);
	return ret;
}

/* Inserts a key from its clear material (within the caller's transaction). */
static int key_insert(struct bk_engine *e, struct bk_store *s,
		      const char *domain, const char *id, const char *name,
		      const char *created_at, long long epoch,
		      const uint8_t key[32], int is_default, struct bk_err *err)
{
	uint8_t *wrapped = NULL;
	char fp[65];
	size_t wlen;
	sqlite3_stmt *st = NULL;
	int ret;

	ret = bk_hsm_rot_current(s, e->rot, err);
	if (!ret)
		ret = bk_rot_wrap(e->rot, key, 32, &wrapped, &wlen, err);
	if (ret)
		return ret;
	bk_sha256_hex(key, 32, fp);
	if (is_default && (ret = clear_default(s, domain, err)))
		goto out;
	if (sqlite3_prepare_v2(bk_store_db(s), "INSERT INTO backup_keys (scope,"
			       " domain, id, name, is_default, wrapped,"
			       " fingerprint, created_at, created_epoch)"
			       " VALUES (?,?,?,?,?,?,?,?,?)", -1, &st,
			       NULL) != SQLITE_OK) {
		ret = bk_errf(err, -EIO, "database: %s",
			      sqlite3_errmsg(bk_store_db(s)));
		goto out;
	}
	sqlite3_bind_text(st, 1, bk_scope_name(domain), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, bk_scope_domain(domain), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, !!is_default);
	sqlite3_bind_blob(st, 6, wrapped, wlen, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, fp, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, created_at, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, epoch);
	ret = sqlite3_step(st);
	if (ret == SQLITE_CONSTRAINT)
		ret = bk_errf(err, -EEXIST, "backup key %s already exists", id);
	else if (ret != SQLITE_DONE)
		ret = bk_errf(err, -EIO, "database: %s",
			      sqlite3_errmsg(bk_store_db(s)));
	else
		ret = 0;
out:
	sqlite3_finalize(st);
	free(wrapped);
	return ret;
}

int bk_key_create_in(struct bk_engine *e, struct bk_store *s,
		     const char *domain, const char *name, int is_default,
		     char **id_out, struct bk_err *err)
{
	uint8_t *key = bk_secure_alloc(32);
	char id[33], now[32], defname[128];
	long long epoch;
	int ret;

	if (!key)
		return bk_errf(err, -ENOMEM, "out of secure memory");
	ret = bk_random_id(id, err);
	if (!ret)
		ret = bk_random(key, 32, err);
	if (ret)
		goto out;
	if (!name || !*name) {
		snprintf(defname, sizeof(defname), "%s-key-%.8s",
			 domain ? domain : "system", id);
		name = defname;
	}
	if (!is_default && !has_default(s, domain))
		is_default = 1;
	epoch = bk_now(now);
	ret = key_insert(e, s, domain, id, name, now, epoch, key, is_default,
			 err);
	if (!ret && id_out && !(*id_out = strdup(id)))
		ret = bk_errf(err, -ENOMEM, "out of memory");
out:
	bk_secure_free(key, 32);
	return ret;
}

int bk_key_create(struct bk_engine *e, const char *domain, const char *req,
		  uid_t uid, char **id_out, struct bk_err *err)
{
	json_object *o, *v;
	const char *name = NULL;
	int ret, def = 0;

	ret = bk_request_parse(req, bk_fields_key_create, &o, err);
	if (ret)
		return ret;
	if (json_object_object_get_ex(o, "name", &v)) {
		name = json_object_get_string(v);
		if (!*name || strlen(name) > 128) {
			json_object_put(o);
			return bk_errf(err, -EINVAL,
				       "\"name\" must be 1 to 128 characters");
		}
	}
	if (json_object_object_get_ex(o, "default", &v))
		def = json_object_get_boolean(v);
	pthread_mutex_lock(&e->db_lock);
	if (domain && !bk_domain_exists(e->store, domain)) {
		ret = bk_errf(err, -ENOENT, "domain %s does not exist", domain);
	} else if (!(ret = bk_store_begin(e->store, err))) {
		ret = bk_key_create_in(e, e->store, domain, name, def, id_out,
				       err);
		if (ret)
			bk_store_rollback(e->store);
		else
			ret = bk_store_commit(e->store, err);
	}
	pthread_mutex_unlock(&e->db_lock);
	json_object_put(o);
	if (!ret)
		bk_audit(e, uid, "backupkey.create", id_out ? *id_out : "", "ok",
			 bk_scope_name(domain));
	return ret;
}

int bk_key_ids(struct bk_engine *e, const char *domain,
	       int (*cb)(void *arg, const char *id), void *arg,
	       struct bk_err *err)
{
	sqlite3_stmt *st;
	int ret = 0;

	pthread_mutex_lock(&e->db_lock);
	if (sqlite3_prepare_v2(bk_store_db(e->store), "SELECT id FROM backup_keys"
			       " WHERE scope = ? AND domain = ?"
			       " ORDER BY created_epoch, id", -1, &st,
			       NULL) != SQLITE_OK) {
		ret = bk_errf(err, -EIO, "database: %s",
			      sqlite3_errmsg(bk_store_db(e->store)));
		goto out;
	}
	sqlite3_bind_text(st, 1, bk_scope_name(domain), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, bk_scope_domain(domain), -1, SQLITE_STATIC);
	while (!ret && sqlite3_step(st) == SQLITE_ROW)
		ret = cb(arg, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&e->db_lock);
	return ret;
}

int bk_key_json(struct bk_engine *e, const char *domain, const char *id,
		char **json, struct bk_err *err)
{
	json_object *meta;
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = key_lookup(e->store, domain, id, &meta, NULL, NULL, NULL, err);
	pthread_mutex_unlock(&e->db_lock);
	if (ret)
		return ret;
	if (asprintf(json, "%s\n", json_object_to_json_string_ext(meta,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
		ret = bk_errf(err, -ENOMEM, "out of memory");
	json_object_put(meta);
	return ret;
}

int bk_key_time(struct bk_engine *e, const char *domain, const char *id,
		long long *epoch, struct bk_err *err)
{
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = key_lookup(e->store, domain, id, NULL, NULL, NULL, epoch, err);
	pthread_mutex_unlock(&e->db_lock);
	return ret;
}

static int default_id(struct bk_store *s, const char *domain, char **id_out,
		      struct bk_err *err)
{
	sqlite3_stmt *st;
	int ret;

	ret = bk_scope_prepare(s, "SELECT id FROM backup_keys WHERE scope = ?"
			       " AND domain = ? AND is_default", domain, &st,
			       err);
	if (ret)
		return ret;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*id_out = strdup((const char *)sqlite3_column_text(st, 0));
		ret = *id_out ? 0 : bk_errf(err, -ENOMEM, "out of memory");
	} else {
		ret = bk_errf(err, -ENOENT,
			      "the %s scope has no default backup key",
			      domain ? domain : "system");
	}
	sqlite3_finalize(st);
	return ret;
}

int bk_key_default(struct bk_engine *e, const char *domain, char **id_out,
		   struct bk_err *err)
{
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = default_id(e->store, domain, id_out, err);
	pthread_mutex_unlock(&e->db_lock);
	return ret;
}

int bk_key_set_default(struct bk_engine *e, const char *domain,
		       const char *id, uid_t uid, struct bk_err *err)
{
	sqlite3_stmt *st;
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = key_lookup(e->store, domain, id, NULL, NULL, NULL, NULL, err);
	if (ret)
		goto out;
	ret = bk_store_begin(e->store, err);
	if (ret)
		goto out;
	ret = clear_default(e->store, domain, err);
	if (!ret && sqlite3_prepare_v2(bk_store_db(e->store), "UPDATE backup_keys"
			       " SET is_default = 1 WHERE scope = ? AND domain = ?"
			       " AND id = ?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, bk_scope_name(domain), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, bk_scope_domain(domain), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			ret = bk_errf(err, -EIO, "database: %s",
				      sqlite3_errmsg(bk_store_db(e->store)));
		sqlite3_finalize(st);
	}
	if (ret)
		bk_store_rollback(e->store);
	else
		ret = bk_store_commit(e->store, err);
out:
	pthread_mutex_unlock(&e->db_lock);
	if (!ret)
		bk_audit(e, uid, "backupkey.default", id, "ok", bk_scope_name(domain));
	return ret;
}

int bk_key_delete(struct bk_engine *e, const char *domain, const char *id,
		  uid_t uid, struct bk_err *err)
{
	json_object *meta = NULL;
	sqlite3_stmt *st;
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = key_lookup(e->store, domain, id, &meta, NULL, NULL, NULL, err);
	if (ret)
		goto out;
	if (json_object_get_boolean(json_object_object_get(meta, "default"))) {
		ret = bk_errf(err, -EBUSY,
			      "backup key %s is the default of its scope; make another key the default first",
			      id);
		goto out;
	}
	if (sqlite3_prepare_v2(bk_store_db(e->store), "DELETE FROM backup_keys"
			       " WHERE scope = ? AND domain = ? AND id = ?", -1,
			       &st, NULL) != SQLITE_OK) {
		ret = bk_errf(err, -EIO, "database: %s",
			      sqlite3_errmsg(bk_store_db(e->store)));
		goto out;
	}
	sqlite3_bind_text(st, 1, bk_scope_name(domain), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, bk_scope_domain(domain), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		ret = bk_errf(err, -EIO, "database: %s",
			      sqlite3_errmsg(bk_store_db(e->store)));
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&e->db_lock);
	json_object_put(meta);
	if (!ret)
		bk_audit(e, uid, "backupkey.delete", id, "ok", bk_scope_name(domain));
	return ret;
}

/* The metadata written into an exported key file. */
static json_object *export_meta(json_object *meta)
{
	json_object *m = json_object_new_object();
	static const char *const names[] = { "id", "name", "scope", "domain",
					     "createdAt", "fingerprint" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		json_object_object_add(m, names[i], json_object_get(
			json_object_object_get(meta, names[i])));
	return m;
}

int bk_key_export_size(struct bk_engine *e, const char *domain,
		       const char *id, size_t *len, struct bk_err *err)
{
	json_object *meta, *m;
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = key_lookup(e->store, domain, id, &meta, NULL, NULL, NULL, err);
	pthread_mutex_unlock(&e->db_lock);
	if (ret)
		return ret;
	m = export_meta(meta);
	*len = bk_keyfile_size(m);
	json_object_put(m);
	json_object_put(meta);
	return 0;
}

int bk_key_export(struct bk_engine *e, const char *domain, const char *id,
		  uid_t uid, uint8_t **buf, size_t *len, struct bk_err *err)
{
	json_object *meta = NULL, *m = NULL;
	char *pass = bk_secure_alloc(BK_MAX_PASS);
	uint8_t *key = bk_secure_alloc(32);
	size_t plen = 0;
	int ret;

	if (!pass || !key) {
		ret = bk_errf(err, -ENOMEM, "out of secure memory");
		goto out;
	}
	ret = bk_pass_get(e, uid, pass, &plen, err);
	if (ret)
		goto out;
	pthread_mutex_lock(&e->db_lock);
	ret = key_lookup(e->store, domain, id, &meta, NULL, NULL, NULL, err);
	if (!ret)
		ret = bk_key_load(e, e->store, domain, id, key, err);
	pthread_mutex_unlock(&e->db_lock);
	if (ret)
		goto out;
	m = export_meta(meta);
	ret = bk_keyfile_export(m, key, pass, plen, buf, len, err);
	if (!ret)
		bk_audit(e, uid, "backupkey.download", id, "ok",
			 bk_scope_name(domain));
out:
	json_object_put(m);
	json_object_put(meta);
	bk_secure_free(pass, BK_MAX_PASS);
	bk_secure_free(key, 32);
	return ret;
}

int bk_key_import_pass(struct bk_engine *e, const char *domain,
		       const void *buf, size_t len, const char *pass,
		       size_t passlen, char **id_out, struct bk_err *err)
{
	json_object *meta = NULL, *old = NULL;
	uint8_t *key = bk_secure_alloc(32);
	const char *id, *scope, *name, *created;
	char fp[65], now[32];
	long long epoch;
	int ret;

	if (!key)
		return bk_errf(err, -ENOMEM, "out of secure memory");
	ret = bk_keyfile_import(buf, len, pass, passlen, &meta, key, err);
	if (ret) {
		if (ret != -ENOMEM)
			ret = -EINVAL;
		goto out;
	}
	id = json_object_get_string(json_object_object_get(meta, "id"));
	scope = json_object_get_string(json_object_object_get(meta, "scope"));
	name = json_object_get_string(json_object_object_get(meta, "name"));
	created = json_object_get_string(json_object_object_get(meta, "createdAt"));
	if (!id || !scope || !name || !bk_id_valid(id)) {
		ret = bk_errf(err, -EINVAL,
			      "the key file lacks a valid id (32 hex characters), scope or name");
		goto out;
	}
	if (strcmp(scope, bk_scope_name(domain))) {
		ret = bk_errf(err, -EINVAL,
			      "this is a %s-scoped backup key; upload it to %s",
			      scope, !strcmp(scope, "system") ?
			      "system/backupkeys/upload/" :
			      "domains/<domain>/backupkeys/upload/");
		goto out;
	}
	bk_sha256_hex(key, 32, fp);
	pthread_mutex_lock(&e->db_lock);
	if (domain && !bk_domain_exists(e->store, domain)) {
		ret = bk_errf(err, -ENOENT, "domain %s does not exist", domain);
	} else if (!key_lookup(e->store, domain, id, &old, NULL, NULL, NULL, NULL)) {
		const char *ofp = json_object_get_string(
			json_object_object_get(old, "fingerprint"));

		if (ofp && !strcmp(ofp, fp))
			ret = 0;	/* the same key again: nothing to do */
		else
			ret = bk_errf(err, -EINVAL,
				      "a different backup key with id %s already exists here",
				      id);
	} else if (!(ret = bk_store_begin(e->store, err))) {
		epoch = bk_now(now);
		ret = key_insert(e, e->store, domain, id, name,
				 created ? created : now, epoch, key,
				 !has_default(e->store, domain), err);
		if (ret)
			bk_store_rollback(e->store);
		else
			ret = bk_store_commit(e->store, err);
	}
	pthread_mutex_unlock(&e->db_lock);
	if (!ret && id_out && !(*id_out = strdup(id)))
		ret = bk_errf(err, -ENOMEM, "out of memory");
out:
	json_object_put(old);
	json_object_put(meta);
	bk_secure_free(key, 32);
	return ret;
}

int bk_key_import(struct bk_engine *e, const char *domain, const void *buf,
		  size_t len, uid_t uid, char **id_out, struct bk_err *err)
{
	char *pass = bk_secure_alloc(BK_MAX_PASS);
	size_t plen = 0;
	int ret;

	if (!pass)
		return bk_errf(err, -ENOMEM, "out of secure memory");
	ret = bk_pass_get(e, uid, pass, &plen, err);
	if (!ret)
		ret = bk_key_import_pass(e, domain, buf, len, pass, plen, id_out,
					 err);
	bk_secure_free(pass, BK_MAX_PASS);
	bk_audit(e, uid, "backupkey.upload", id_out && !ret ? *id_out : "",
		 ret ? "refused" : "ok", ret && err ? err->msg : "");
	return ret;
}
