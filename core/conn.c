/* conn.c - named SCP/SFTP connections (MOUNT/connections/scp/).
 *
 * One row of scp_connections per connection: its settings as JSON (never
 * the password), the password wrapped by the root of trust (password
 * authentication only), and the result of its last test.
 */
#include "scp_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto.h"
#include "hsm.h"
#include "store_int.h"

const struct bk_field bk_fields_conn[] = {
	{ "name", json_type_string },
	{ "host", json_type_string },
	{ "port", json_type_int },
	{ "username", json_type_string },
	{ "auth_method", json_type_string },
	{ "password", json_type_string },
	{ "path_to", json_type_string },
	{ "public_key", json_type_string },
	{ "protocol", json_type_string },
	{ NULL, 0 } };

void bk_conn_clear(struct bk_conn *c)
{
	if (c->password)
		bk_secure_free(c->password, BK_CONN_PASS_MAX);
	c->password = NULL;
}

void bk_conn_destination(const struct bk_conn *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s@%s:%d:%s", c->user, c->host, c->port,
		 c->path_to);
}

int bk_conn_name_valid(const char *s)
{
	size_t n = strlen(s);

	return n && n <= BK_CONN_NAME_MAX && s[0] != '.' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789._-") == n;
}

/* The string field key of obj into out (size cap).  required: absent is
 * an error.  word: no white space, no leading '-' (host, user name). */
static int str_field(json_object *obj, const char *key, int required,
		     int word, char *out, size_t cap, struct bk_err *err)
{
	json_object *v;
	const char *s;
	size_t len, i;

	out[0] = 0;
	if (!json_object_object_get_ex(obj, key, &v)) {
		if (required)
			return bk_errf(err, -EINVAL, "field \"%s\" is required",
				       key);
		return 0;
	}
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (len == 0 || len >= cap || strlen(s) != len)
		return bk_errf(err, -EINVAL, "field \"%s\" must be 1 to %zu "
			       "bytes of text", key, cap - 1);
	for (i = 0; i < len; i++)
		if (iscntrl((unsigned char)s[i]) ||
		    (word && isspace((unsigned char)s[i])))
			return bk_errf(err, -EINVAL, "field \"%s\" must not "
				       "hold %s", key, word ? "spaces or "
				       "control characters" :
				       "control characters");
	if (word && s[0] == '-')
		return bk_errf(err, -EINVAL, "field \"%s\" must not begin "
			       "with '-'", key);
	memcpy(out, s, len + 1);
	return 0;
}

/* One of two words (the first is the default) into *second. */
static int choice(json_object *obj, const char *key, const char *first,
		  const char *second, int *is_second, struct bk_err *err)
{
	char word[16];
	int ret = str_field(obj, key, 0, 1, word, sizeof(word), err);

	if (ret && ret != -EINVAL)
		return ret;
	if (!ret && (!word[0] || !strcmp(word, first))) {
		*is_second = 0;
		return 0;
	}
	if (!ret && !strcmp(word, second)) {
		*is_second = 1;
		return 0;
	}
	return bk_errf(err, -EINVAL, "field \"%s\" must be \"%s\" or \"%s\"",
		       key, first, second);
}

/* need_pw: a password is required for password authentication (a stored
 * connection's comes from its own column). */
static int conn_fill(json_object *obj, int named, int need_pw,
		     struct bk_conn *c, struct bk_err *err)
{
	json_object *v;
	int ret;

	memset(c, 0, sizeof(*c));
	if (named) {
		ret = str_field(obj, "name", 1, 1, c->name, sizeof(c->name),
				err);
		if (ret)
			return ret;
		if (!bk_conn_name_valid(c->name))
			return bk_errf(err, -EINVAL, "field \"name\" must be 1 "
				       "to 64 of A-Z a-z 0-9 . _ - and not "
				       "begin with '.'");
	} else if (json_object_object_get_ex(obj, "name", NULL)) {
		return bk_errf(err, -EINVAL, "field \"name\" names a stored "
			       "connection: write {\"connection\": NAME}");
	}
	c->port = 22;
	if (json_object_object_get_ex(obj, "port", &v)) {
		int64_t port = json_object_get_int64(v);

		if (port < 1 || port > 65535)
			return bk_errf(err, -EINVAL, "field \"port\" must be "
				       "1 to 65535");
		c->port = (int)port;
	}
	ret = str_field(obj, "host", 1, 1, c->host, sizeof(c->host), err);
	if (!ret)
		ret = str_field(obj, "username", 1, 1, c->user,
				sizeof(c->user), err);
	if (!ret)
		ret = str_field(obj, "path_to", 1, 0, c->path_to,
				sizeof(c->path_to), err);
	if (!ret)
		ret = str_field(obj, "public_key", 1, 0, c->public_key,
				sizeof(c->public_key), err);
	if (!ret)
		ret = bk_ssh_parse_pin(c->public_key, NULL, err);
	if (!ret)
		ret = choice(obj, "auth_method", "key", "password",
			     &c->use_password, err);
	if (!ret)
		ret = choice(obj, "protocol", "sftp", "scp", &c->scp, err);
	if (ret)
		return ret;
	if (!json_object_object_get_ex(obj, "password", &v)) {
		if (c->use_password && need_pw)
			return bk_errf(err, -EINVAL, "field \"password\" is "
				       "required with auth_method "
				       "\"password\"");
		return 0;
	}
	if (!c->use_password)
		return bk_errf(err, -EINVAL, "field \"password\" is only for "
			       "auth_method \"password\"");
	if (json_object_get_string_len(v) < 1 ||
	    json_object_get_string_len(v) >= BK_CONN_PASS_MAX ||
	    strlen(json_object_get_string(v)) !=
	    (size_t)json_object_get_string_len(v))
		return bk_errf(err, -EINVAL, "field \"password\" must be 1 to "
			       "%d bytes of text", BK_CONN_PASS_MAX - 1);
	c->password = bk_secure_alloc(BK_CONN_PASS_MAX);
	if (!c->password)
		return bk_errf(err, -ENOMEM, "out of secure memory");
	memcpy(c->password, json_object_get_string(v),
	       (size_t)json_object_get_string_len(v) + 1);
	return 0;
}

int bk_conn_from_json(json_object *obj, int named, struct bk_conn *c,
		      struct bk_err *err)
{
	json_object *v;
	int ret = conn_fill(obj, named, 1, c, err);

	if (ret)
		bk_conn_clear(c);
	if (json_object_object_get_ex(obj, "password", &v) &&
	    json_object_is_type(v, json_type_string))
		OPENSSL_cleanse((char *)json_object_get_string(v),
				(size_t)json_object_get_string_len(v));
	return ret;
}

/* The stored settings (never the password). */
static json_object *conn_config(const struct bk_conn *c)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(c->name));
	json_object_object_add(o, "host", json_object_new_string(c->host));
	json_object_object_add(o, "port", json_object_new_int(c->port));
	json_object_object_add(o, "username", json_object_new_string(c->user));
	json_object_object_add(o, "auth_method", json_object_new_string(
		c->use_password ? "password" : "key"));
	json_object_object_add(o, "path_to",
			       json_object_new_string(c->path_to));
	json_object_object_add(o, "public_key",
			       json_object_new_string(c->public_key));
	json_object_object_add(o, "protocol",
			       json_object_new_string(c->scp ? "scp" : "sftp"));
	return o;
}

int bk_conn_create(struct bk_engine *e, const char *req, uid_t uid,
		   char **name_out, struct bk_err *err)
{
	json_object *obj = NULL, *cfg = NULL;
	struct bk_conn c = { 0 };
	sqlite3_stmt *st = NULL;
	uint8_t *wrapped = NULL;
	size_t wlen = 0;
	struct bk_tx tx;
	char now[32];
	long long epoch;
	int ret;

	ret = bk_request_parse(req, bk_fields_conn, &obj, err);
	if (ret)
		return ret;
	ret = bk_conn_from_json(obj, 1, &c, err);
	json_object_put(obj);
	if (ret)
		return ret;
	cfg = conn_config(&c);
	epoch = bk_now(now);
	/* Wrapped under db_lock, in the transaction that stores it, by the
	 * key that is active then: a rotation (the daemon's, under db_lock,
	 * or another process's, checked by bk_hsm_rot_current) commits
	 * before or after, never between the wrap and the store. */
	pthread_mutex_lock(&e->db_lock);
	ret = bk_tx_begin(e->store, &tx, err);
	if (ret)
		goto unlock;
	ret = bk_hsm_rot_current(e->store, e->rot, err);
	if (!ret && c.password)
		ret = bk_rot_wrap(e->rot, (const uint8_t *)c.password,
				  strlen(c.password), &wrapped, &wlen, err);
	if (ret) {
		/* nothing stored */
	} else if (sqlite3_prepare_v2(bk_store_db(e->store),
		"INSERT INTO scp_connections(name, config, password,"
		" created_at, created_epoch) VALUES(?1, ?2, ?3, ?4, ?5)", -1,
		&st, NULL) != SQLITE_OK) {
		ret = bk_db_err(e->store, err);
	} else {
		sqlite3_bind_text(st, 1, c.name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, json_object_to_json_string_ext(cfg,
				  JSON_C_TO_STRING_PLAIN), -1, SQLITE_STATIC);
		if (wrapped)
			sqlite3_bind_blob(st, 3, wrapped, (int)wlen,
					  SQLITE_STATIC);
		sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, epoch);
		ret = sqlite3_step(st);
		if ((ret & 0xff) == SQLITE_CONSTRAINT)
			ret = bk_errf(err, -EEXIST, "connection %s already "
				      "exists", c.name);
		else
			ret = ret == SQLITE_DONE ? 0 : bk_db_err(e->store, err);
	}
	sqlite3_finalize(st);
	if (ret)
		bk_tx_rollback(e->store, &tx);
	else
		ret = bk_tx_commit(e->store, &tx, err);
unlock:
	pthread_mutex_unlock(&e->db_lock);
	if (!ret) {
		char dest[1600];

		bk_conn_destination(&c, dest, sizeof(dest));
		bk_audit(e, uid, "connection-create", c.name, "Completed",
			 dest);
		if (name_out && !(*name_out = strdup(c.name)))
			ret = bk_errf(err, -ENOMEM, "out of memory");
	}
	json_object_put(cfg);
	free(wrapped);
	bk_conn_clear(&c);
	return ret;
}

int bk_conn_names(struct bk_engine *e, int (*cb)(void *arg, const char *n),
		  void *arg, struct bk_err *err)
{
	return bk_scp_each(e, "SELECT name FROM scp_connections ORDER BY name",
			   NULL, cb, arg, err);
}

/* The row of name: columns config, password, created_at, created_epoch,
 * last_test.  db_lock held; *st to finalize on success. */
static int conn_row(struct bk_engine *e, const char *name, sqlite3_stmt **st,
		    struct bk_err *err)
{
	int ret;

	if (sqlite3_prepare_v2(bk_store_db(e->store), "SELECT config,"
			       " password, created_at, created_epoch,"
			       " last_test FROM scp_connections WHERE name = ?1",
			       -1, st, NULL) != SQLITE_OK)
		return bk_db_err(e->store, err);
	sqlite3_bind_text(*st, 1, name, -1, SQLITE_STATIC);
	ret = sqlite3_step(*st);
	if (ret == SQLITE_ROW)
		return 0;
	sqlite3_finalize(*st);
	*st = NULL;
	if (ret != SQLITE_DONE)
		return bk_db_err(e->store, err);
	return bk_errf(err, -ENOENT, "connection %s does not exist", name);
}

int bk_conn_json(struct bk_engine *e, const char *name, char **json,
		 long long *epoch, struct bk_err *err)
{
	json_object *o = NULL;
	sqlite3_stmt *st;
	const char *t;
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = conn_row(e, name, &st, err);
	if (ret)
		goto out;
	if (epoch)
		*epoch = sqlite3_column_int64(st, 3);
	if (json) {
		o = json_tokener_parse((const char *)sqlite3_column_text(st, 0));
		if (!o)
			o = json_object_new_object();
		json_object_object_add(o, "createdAt", json_object_new_string(
			(const char *)sqlite3_column_text(st, 2)));
		t = (const char *)sqlite3_column_text(st, 4);
		json_object_object_add(o, "lastTest",
				       t ? json_tokener_parse(t) : NULL);
		if (asprintf(json, "%s\n", json_object_to_json_string_ext(o,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED)) < 0)
			*json = NULL;
		if (!*json)
			ret = bk_errf(err, -ENOMEM, "out of memory");
		json_object_put(o);
	}
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&e->db_lock);
	return ret;
}

int bk_conn_load(struct bk_engine *e, const char *name, struct bk_conn *c,
		 struct bk_err *err)
{
	json_object *cfg = NULL;
	uint8_t *wrapped = NULL, *pw = NULL;
	size_t wlen = 0, pwlen = 0;
	struct bk_rot *rot;
	sqlite3_stmt *st;
	int ret;

	memset(c, 0, sizeof(*c));
	pthread_mutex_lock(&e->db_lock);
	ret = conn_row(e, name, &st, err);
	if (!ret) {
		cfg = json_tokener_parse((const char *)sqlite3_column_text(st,
									   0));
		wlen = (size_t)sqlite3_column_bytes(st, 1);
		if (wlen && (wrapped = malloc(wlen)))
			memcpy(wrapped, sqlite3_column_blob(st, 1), wlen);
		sqlite3_finalize(st);
	}
	rot = e->rot;	/* the key of what was read (kept until close) */
	pthread_mutex_unlock(&e->db_lock);
	if (ret == -ENOENT)
		return bk_errf(err, -EINVAL, "connection %s does not exist",
			       name);
	if (ret)
		return ret;
	ret = cfg ? conn_fill(cfg, 1, 0, c, err) :
		bk_errf(err, -EIO, "connection %s is damaged", name);
	if (!ret && wlen && !wrapped)
		ret = bk_errf(err, -ENOMEM, "out of memory");
	if (!ret && c->use_password) {
		if (!wrapped)
			ret = bk_errf(err, -EIO, "connection %s has no "
				      "password", name);
		else
			ret = bk_rot_unwrap(rot, wrapped, wlen, &pw, &pwlen,
					    err);
	}
	if (!ret && pw) {
		c->password = bk_secure_alloc(BK_CONN_PASS_MAX);
		if (!c->password || pwlen >= BK_CONN_PASS_MAX)
			ret = bk_errf(err, -ENOMEM, "out of secure memory");
		else
			memcpy(c->password, pw, pwlen);	/* NUL: alloc's */
	}
	if (pw)
		bk_secure_free(pw, pwlen);
	free(wrapped);
	json_object_put(cfg);
	if (ret)
		bk_conn_clear(c);
	return ret;
}

int bk_conn_delete(struct bk_engine *e, const char *name, uid_t uid,
		   struct bk_err *err)
{
	sqlite3_stmt *st;
	int ret;

	pthread_mutex_lock(&e->db_lock);
	if (sqlite3_prepare_v2(bk_store_db(e->store), "DELETE FROM"
			       " scp_connections WHERE name = ?1", -1, &st,
			       NULL) != SQLITE_OK) {
		ret = bk_db_err(e->store, err);
	} else {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		ret = sqlite3_step(st) == SQLITE_DONE ? 0 :
		      bk_db_err(e->store, err);
		if (!ret && !sqlite3_changes(bk_store_db(e->store)))
			ret = bk_errf(err, -ENOENT, "connection %s does not "
				      "exist", name);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&e->db_lock);
	if (!ret)
		bk_audit(e, uid, "connection-delete", name, "Completed", "");
	return ret;
}

static void record_test(struct bk_engine *e, const char *name, int ok,
			const char *reason)
{
	json_object *o = json_object_new_object();
	sqlite3_stmt *st;
	char now[32];

	bk_now(now);
	json_object_object_add(o, "time", json_object_new_string(now));
	json_object_object_add(o, "ok", json_object_new_boolean(ok));
	json_object_object_add(o, "reason", json_object_new_string(reason));
	pthread_mutex_lock(&e->db_lock);
	if (sqlite3_prepare_v2(bk_store_db(e->store), "UPDATE scp_connections"
			       " SET last_test = ?1 WHERE name = ?2", -1, &st,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, json_object_to_json_string_ext(o,
				  JSON_C_TO_STRING_PLAIN), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&e->db_lock);
	json_object_put(o);
}

int bk_conn_test(struct bk_engine *e, const char *name, uid_t uid,
		 struct bk_err *err)
{
	struct bk_err local = { 0, "" };
	struct bk_conn c;
	struct bk_ssh *s = NULL;
	char tmp[64], id[33];
	int ret;

	ret = bk_conn_load(e, name, &c, err);
	if (ret)
		return ret == -EINVAL ? -ENOENT : ret;
	ret = bk_random_id(id, &local);
	snprintf(tmp, sizeof(tmp), ".backupfs-test-%.8s", id);
	if (!ret)
		ret = bk_ssh_open(e, &c, &s, &local);
	if (!ret)
		ret = bk_ssh_probe(s, tmp, &local);
	bk_ssh_close(s);
	bk_conn_clear(&c);
	record_test(e, name, !ret, ret ? local.msg :
		    "connected, host key matches, authenticated, "
		    "destination writable");
	bk_audit(e, uid, "connection-test", name, ret ? "Failed" : "Completed",
		 ret ? local.msg : "");
	if (ret)
		return bk_errf(err, ret, "%s", local.msg);
	return 0;
}
