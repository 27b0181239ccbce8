/* hsm.c - the engine's root of trust: opening it, its status, rotation
 * and activation (with the one list of wrapped columns), crash recovery.
 * Tied archives and HSM-anchored domains are in tie.c. */
#include "hsm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "crypto.h"
#include "engine_int.h"
#include "fault.h"

/* Every secret at rest that the root of trust wraps: rotation re-wraps
 * each column listed here, and nothing else.  A new table holding
 * secrets wrapped by bk_rot_wrap (e.g. issue 5's SCP credentials) adds
 * one line.  where: rows to skip (material of HSM-anchored domains is
 * wrapped by its domain's token key, not by the root of trust). */
static const struct bk_wrapped_col {
	const char *table, *key, *blob, *where;
} wrapped_cols[] = {
	{ "backup_keys", "rowid", "wrapped", "1" },
	{ "resources", "rowid", "material",
	  "domain NOT IN (SELECT name FROM domains WHERE hsm IS NOT NULL)" },
	{ "scp_identity", "rowid", "wrapped", "1" },
	{ "scp_connections", "rowid", "password", "1" },
};

static int active_id(struct bk_store *s, char **id, struct bk_err *err)
{
	sqlite3_stmt *st;
	int rc;

	*id = NULL;
	if (sqlite3_prepare_v2(bk_store_db(s), "SELECT id FROM rot_keys"
			       " WHERE state = 'active'", -1, &st,
			       NULL) != SQLITE_OK)
		return bk_db_err(s, err);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return bk_db_err(s, err);
	return 0;
}

static int bk_hsm_rot_open(struct bk_engine *e, const char *hsm,
			   struct bk_err *err)
{
	char *conf = NULL, *id = NULL;
	int ret;

	ret = bk_setting_get(e->store, "hsm_config", &conf, err);
	if (ret)
		return ret;
	if (!conf) {
		if (hsm)
			return bk_errf(err, -EINVAL,
				       "%s uses a software root of trust: an HSM URI applies only to a state directory created with backupctl init --hsm",
				       e->dir);
		return bk_rot_soft_open(e->rot_path, &e->rot, err);
	}
	ret = active_id(e->store, &id, err);
	if (!ret && !id)
		ret = bk_errf(err, -EIO,
			      "the HSM configuration names no active root-of-trust key");
	if (!ret)
		ret = bk_rot_p11_open(hsm ? hsm : conf, id, 0, &e->rot, err);
	free(conf);
	free(id);
	return ret;
}

int bk_hsm_open(struct bk_engine *e, const char *hsm, struct bk_err *err)
{
	int ret = bk_hsm_rot_open(e, hsm, err);

	if (!ret && bk_hsm_bind_domains(e, e->store))
		ret = bk_errf(err, -EIO, "cannot read the HSM-anchored domains");
	return ret;
}

static int exec1(struct bk_store *s, const char *sql, const char *a,
		 const char *b, struct bk_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(bk_store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
		return bk_db_err(s, err);
	if (a)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : bk_db_err(s, err);
}

/* Records rot as a key version in state (in the caller's transaction,
 * or on its own). */
static int record_key(struct bk_store *s, struct bk_rot *rot,
		      const char *state, struct bk_err *err)
{
	sqlite3_stmt *st;
	char now[32];
	int rc;

	bk_now(now);
	if (sqlite3_prepare_v2(bk_store_db(s), "INSERT INTO rot_keys(id,"
			       " label, token, state, alg, created_at)"
			       " VALUES(?1, ?2, ?3, ?4, ?5, ?6)"
			       " ON CONFLICT(id) DO UPDATE SET"
			       " state = excluded.state", -1, &st,
			       NULL) != SQLITE_OK)
		return bk_db_err(s, err);
	sqlite3_bind_text(st, 1, bk_rot_key_id(rot), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, bk_rot_label(rot), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, bk_rot_token(rot), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, bk_rot_alg(rot), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, now, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : bk_db_err(s, err);
}

int bk_hsm_configure(struct bk_store *s, struct bk_rot *rot,
		     struct bk_err *err)
{
	char *uri = bk_rot_uri(rot);
	int ret;

	if (!uri)
		return bk_errf(err, -ENOMEM, "out of memory");
	ret = bk_store_begin(s, err);
	if (!ret) {
		ret = bk_setting_set(s, "hsm_config", uri, err);
		if (!ret)
			ret = record_key(s, rot, "active", err);
		if (ret)
			bk_store_rollback(s);
		else
			ret = bk_store_commit(s, err);
	}
	free(uri);
	return ret;
}

int bk_hsm_rot_current(struct bk_store *s, struct bk_rot *rot,
		       struct bk_err *err)
{
	char *id = NULL;
	int ret;

	if (strcmp(bk_rot_kind(rot), "pkcs11"))
		return 0;
	ret = active_id(s, &id, err);
	if (!ret && id && strcmp(id, bk_rot_key_id(rot)))
		ret = bk_errf(err, -EAGAIN,
			      "the root of trust was rotated meanwhile (active key now %s, not %s): nothing was changed; try again",
			      id, bk_rot_key_id(rot));
	free(id);
	return ret;
}

/* ---- status ---- */

struct status_arg {
	json_object *keys;
};

static int token_key_cb(void *arg, const char *id)
{
	struct status_arg *a = arg;
	size_t n = json_object_array_length(a->keys);

	for (size_t i = 0; i < n; i++) {
		json_object *k = json_object_array_get_idx(a->keys, i);

		if (!strcmp(json_object_get_string(
			json_object_object_get(k, "id")), id)) {
			json_object_object_add(k, "onToken",
					       json_object_new_boolean(1));
			return 0;
		}
	}
	{
		json_object *k = json_object_new_object();

		json_object_object_add(k, "id", json_object_new_string(id));
		json_object_object_add(k, "state",
				       json_object_new_string("unknown"));
		json_object_object_add(k, "onToken",
				       json_object_new_boolean(1));
		json_object_array_add(a->keys, k);
	}
	return 0;
}

int bk_hsm_status(struct bk_engine *e, char **json, struct bk_err *err)
{
	json_object *o = json_object_new_object();
	struct status_arg a = { json_object_new_array() };
	sqlite3_stmt *st = NULL;
	char *uri = bk_rot_uri(e->rot);
	int ret = 0;

	json_object_object_add(o, "kind",
			       json_object_new_string(bk_rot_kind(e->rot)));
	json_object_object_add(o, "keyId",
			       json_object_new_string(bk_rot_key_id(e->rot)));
	json_object_object_add(o, "alg",
			       json_object_new_string(bk_rot_alg(e->rot)));
	if (uri && !*bk_rot_mechanism(e->rot)) {
		/* Which mechanism the token takes shows after a first use. */
		uint8_t probe[32] = { 0 }, *w = NULL;
		size_t wlen;

		if (!bk_rot_wrap(e->rot, probe, sizeof(probe), &w, &wlen, NULL))
			free(w);
	}
	if (uri) {
		json_object_object_add(o, "token", json_object_new_string(
			bk_rot_token(e->rot)));
		json_object_object_add(o, "label", json_object_new_string(
			bk_rot_label(e->rot)));
		json_object_object_add(o, "mechanism", json_object_new_string(
			bk_rot_mechanism(e->rot)));
		json_object_object_add(o, "uri", json_object_new_string(uri));
	}
	pthread_mutex_lock(&e->db_lock);
	if (sqlite3_prepare_v2(bk_store_db(e->store), "SELECT id, state,"
			       " created_at FROM rot_keys ORDER BY created_at,"
			       " rowid", -1, &st, NULL) != SQLITE_OK)
		ret = bk_db_err(e->store, err);
	while (!ret && sqlite3_step(st) == SQLITE_ROW) {
		json_object *k = json_object_new_object();

		for (int c = 0; c < 3; c++)
			json_object_object_add(k, (const char *[]){ "id",
				"state", "createdAt" }[c],
				json_object_new_string((const char *)
					sqlite3_column_text(st, c)));
		json_object_object_add(k, "onToken",
				       json_object_new_boolean(0));
		json_object_array_add(a.keys, k);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&e->db_lock);
	if (!ret && uri)
		ret = bk_rot_p11_keys(e->rot, token_key_cb, &a, err);
	json_object_object_add(o, "keys", json_object_get(a.keys));
	if (!ret && !(*json = strdup(json_object_to_json_string_ext(o,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			JSON_C_TO_STRING_NOSLASHESCAPE))))
		ret = bk_errf(err, -ENOMEM, "out of memory");
	json_object_put(a.keys);
	json_object_put(o);
	free(uri);
	return ret;
}

/* ---- rotation ---- */

int bk_hsm_recover(struct bk_engine *e, struct bk_err *err)
{
	int ret, n;

	ret = exec1(e->store, "UPDATE rot_keys SET state = 'inactive'"
		    " WHERE state = 'pending'", NULL, NULL, err);
	n = ret ? 0 : sqlite3_changes(bk_store_db(e->store));
	if (n)
		bk_audit_s(e, e->store, 0, "hsm.rotate", bk_rot_key_id(e->rot),
			   "rolled back",
			   "a rotation of the root of trust was interrupted before it committed: the active key is unchanged");
	return ret;
}

/* Re-wraps one batch of a column's rows (rowid > *last) from old to new;
 * *n: rows done.  In the caller's transaction. */
static int rewrap_batch(struct bk_store *s, const struct bk_wrapped_col *c,
			struct bk_rot *old, struct bk_rot *new,
			long long *last, int *n, struct bk_err *err)
{
	sqlite3_stmt *sel = NULL, *upd = NULL;
	char sql[512];
	int ret = 0, rc;

	*n = 0;
	snprintf(sql, sizeof(sql), "SELECT %s, %s FROM %s WHERE %s > ?1 AND"
		 " %s IS NOT NULL AND (%s) ORDER BY %s LIMIT 256", c->key,
		 c->blob, c->table, c->key, c->blob, c->where, c->key);
	if (sqlite3_prepare_v2(bk_store_db(s), sql, -1, &sel, NULL) !=
	    SQLITE_OK)
		return bk_db_err(s, err);
	snprintf(sql, sizeof(sql), "UPDATE %s SET %s = ?2 WHERE %s = ?1",
		 c->table, c->blob, c->key);
	if (sqlite3_prepare_v2(bk_store_db(s), sql, -1, &upd, NULL) !=
	    SQLITE_OK) {
		ret = bk_db_err(s, err);
		goto out;
	}
	sqlite3_bind_int64(sel, 1, *last);
	while (!ret && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
		uint8_t *clear = NULL, *w = NULL;
		size_t clen, wlen;

		*last = sqlite3_column_int64(sel, 0);
		ret = bk_rot_unwrap(old, sqlite3_column_blob(sel, 1),
				    sqlite3_column_bytes(sel, 1), &clear,
				    &clen, err);
		if (!ret) {
			ret = bk_rot_wrap(new, clear, clen, &w, &wlen, err);
			bk_secure_free(clear, clen);
		}
		if (ret) {
			bk_errf(err, ret, "%s row %lld: %s", c->table, *last,
				err ? err->msg : "");
			break;
		}
		sqlite3_reset(upd);
		sqlite3_bind_int64(upd, 1, *last);
		sqlite3_bind_blob(upd, 2, w, wlen, SQLITE_TRANSIENT);
		free(w);
		if (sqlite3_step(upd) != SQLITE_DONE)
			ret = bk_db_err(s, err);
		(*n)++;
		if (!ret && (ret = bk_fault("hsm.rotate.rewrap")))
			bk_errf(err, ret, "re-wrapping failed: %s",
				strerror(-ret));
	}
out:
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	return ret;
}

/* How many secrets rotation re-wraps (for its progress). */
static long count_wrapped(struct bk_store *s)
{
	long total = 0;

	for (size_t i = 0; i < sizeof(wrapped_cols) / sizeof(wrapped_cols[0]);
	     i++) {
		const struct bk_wrapped_col *c = &wrapped_cols[i];
		sqlite3_stmt *st;
		char sql[512];

		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE %s"
			 " IS NOT NULL AND (%s)", c->table, c->blob, c->where);
		if (sqlite3_prepare_v2(bk_store_db(s), sql, -1, &st, NULL) !=
		    SQLITE_OK)
			continue;
		if (sqlite3_step(st) == SQLITE_ROW)
			total += (long)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return total;
}

/* Re-wraps every listed column from e->rot to new; the progress of the
 * running operation (if any) follows. */
static int rewrap_all(struct bk_engine *e, struct bk_rot *new, long *count,
		      struct bk_err *err)
{
	long total = count_wrapped(e->store);
	int ret = 0, n;

	for (size_t i = 0; !ret && i < sizeof(wrapped_cols) /
	     sizeof(wrapped_cols[0]); i++) {
		long long last = -1;

		do {
			ret = rewrap_batch(e->store, &wrapped_cols[i], e->rot,
					   new, &last, &n, err);
			*count += n;
			if (total)
				bk_op_progress(e, (int)(*count * 99 / total));
		} while (!ret && n);
	}
	return ret;
}

static int lock_daemon(struct bk_engine *e, int *fd, struct bk_err *err)
{
	char *p, mnt[1024];

	*fd = -1;
	if (e->lock_fd >= 0)
		return 0;	/* the daemon itself */
	p = bk_path_join(e->dir, "daemon.lock");
	*fd = p ? open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
	free(p);
	if (*fd >= 0 && flock(*fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	if (!bk_hsm_mount_of(e->dir, mnt, sizeof(mnt)))
		return bk_errf(err, -EBUSY,
			       "a backupfs daemon serves %s (mounted at %s), holding the root of trust in use: rotate through the mount: echo '{}' > %s/hsm/rotate, or activate a key: echo '{\"keyId\": \"ID\"}' > %s/hsm/activate",
			       e->dir, mnt, mnt, mnt);
	return bk_errf(err, -EBUSY,
		       "a backupfs daemon serves %s, holding the root of trust in use: rotate through its mount (write {} to MOUNT/hsm/rotate, or {\"keyId\": \"ID\"} to MOUNT/hsm/activate)",
		       e->dir);
}

int bk_hsm_check(struct bk_engine *e, const char *key_id, struct bk_err *err)
{
	if (strcmp(bk_rot_kind(e->rot), "pkcs11"))
		return bk_errf(err, -EINVAL,
			       "the software root of trust has one key: rotation and activation need an HSM (backupctl init --hsm URI)");
	if (key_id && !strcmp(key_id, bk_rot_key_id(e->rot)))
		return bk_errf(err, -EINVAL,
			       "HSM key %s is already the active root-of-trust key",
			       key_id);
	return 0;
}

int bk_hsm_new_key(struct bk_engine *e, const char *key_id,
		   struct bk_rot **new, struct bk_err *err)
{
	int ret = bk_rot_p11_sibling(e->rot, key_id, new, err);

	if (!ret && (ret = bk_fault("hsm.rotate.generated"))) {
		bk_rot_free(*new);
		*new = NULL;
		bk_errf(err, ret, "the HSM key cannot be used: %s",
			strerror(-ret));
	}
	return ret;
}

/* The old key stays valid for whoever read e->rot before the switch
 * (only calls that store a wrapped secret must hold db_lock); it is
 * freed with the engine, or never if it cannot be kept. */
static void retire(struct bk_engine *e, struct bk_rot *old)
{
	struct bk_rot **v = realloc(e->rot_retired, (e->nretired + 1) *
				    sizeof(*v));

	if (!v)
		return;
	v[e->nretired++] = old;
	e->rot_retired = v;
}

/* The daemon's operation op_id Completed with msg, in the rotation's
 * transaction: a crash after its commit is not reported as an
 * interrupted rotation. */
static int op_done(struct bk_store *s, const char *op_id, const char *msg,
		   struct bk_err *err)
{
	sqlite3_stmt *st;
	char now[32];
	int rc;

	bk_now(now);
	if (sqlite3_prepare_v2(bk_store_db(s), "UPDATE operations SET status ="
			       " 'Completed', progress = 100, finished_at = ?1,"
			       " message = ?2 WHERE id = ?3", -1, &st,
			       NULL) != SQLITE_OK)
		return bk_db_err(s, err);
	sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, msg, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, op_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : bk_db_err(s, err);
}

/* Steps 1 and 2 (docs/HSM.md) in db_lock; msg: what is done. */
static int switch_locked(struct bk_engine *e, struct bk_rot *new,
			 const char *op_id, char *msg, size_t msglen,
			 struct bk_err *err)
{
	long count = 0;
	int ret;

	if ((ret = bk_hsm_recover(e, err)))
		return ret;
	/* Recorded first: a crash from here on leaves a 'pending' row
	 * that bk_hsm_recover turns 'inactive'. */
	ret = record_key(e->store, new, "pending", err);
	if (ret)
		return ret;
	if ((ret = bk_fault("hsm.rotate.recorded")) ||
	    (ret = bk_store_begin(e->store, err)))
		goto undo;
	ret = rewrap_all(e, new, &count, err);
	if (!ret)
		ret = exec1(e->store, "UPDATE rot_keys SET state = 'inactive'"
			    " WHERE state = 'active'", NULL, NULL, err);
	if (!ret)
		ret = exec1(e->store, "UPDATE rot_keys SET state = 'active'"
			    " WHERE id = ?1", bk_rot_key_id(new), NULL, err);
	snprintf(msg, msglen,
		 "HSM key %s is the active root-of-trust key (was %s); %ld secrets re-wrapped",
		 bk_rot_key_id(new), bk_rot_key_id(e->rot), count);
	if (!ret && op_id)
		ret = op_done(e->store, op_id, msg, err);
	if (!ret && (ret = bk_fault("hsm.rotate.commit")))
		bk_errf(err, ret, "cannot commit: %s", strerror(-ret));
	if (!ret && !(ret = bk_store_commit(e->store, err)))
		return 0;
	bk_store_rollback(e->store);
undo:
	if (err && !err->msg[0])
		bk_errf(err, ret, "%s", strerror(-ret));
	exec1(e->store, "UPDATE rot_keys SET state = 'inactive' WHERE"
	      " state = 'pending'", NULL, NULL, NULL);
	return ret;
}

int bk_hsm_switch(struct bk_engine *e, struct bk_rot *new, int activate,
		  uid_t uid, const char *op_id, char *msg, size_t msglen,
		  struct bk_err *err)
{
	const char *action = activate ? "hsm.activate" : "hsm.rotate";
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = switch_locked(e, new, op_id, msg, msglen, err);
	if (!ret) {
		bk_fault("hsm.rotate.committed");	/* kill only */
		/* Under db_lock, like every wrap of a secret that is
		 * stored: none is wrapped by the old key after the
		 * commit. */
		bk_rot_move_links(e->rot, new);
		retire(e, e->rot);
		__atomic_store_n(&e->rot, new, __ATOMIC_RELEASE);
		bk_audit_s(e, e->store, uid, action, bk_rot_key_id(new), "ok",
			   msg);
	}
	pthread_mutex_unlock(&e->db_lock);
	if (ret) {
		bk_audit(e, uid, action, bk_rot_key_id(new), "failed",
			 err ? err->msg : "");
		bk_rot_free(new);
	}
	return ret;
}

int bk_hsm_activate(struct bk_engine *e, const char *key_id, char **id_out,
		    struct bk_err *err)
{
	struct bk_rot *new = NULL;
	char msg[256];
	int lock = -1, ret;

	if ((ret = bk_hsm_check(e, key_id, err)) ||
	    (ret = lock_daemon(e, &lock, err)))
		return ret;
	ret = bk_hsm_new_key(e, key_id, &new, err);
	if (!ret)
		ret = bk_hsm_switch(e, new, key_id != NULL, getuid(), NULL,
				    msg, sizeof(msg), err);
	if (!ret && id_out)
		*id_out = strdup(bk_rot_key_id(e->rot));
	if (lock >= 0)
		close(lock);
	return ret;
}
