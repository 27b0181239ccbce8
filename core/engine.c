/* engine.c - the engine's life cycle, operations, status, passphrases,
 * audit, and thin wrappers over the store. */
#include "engine_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "crypto.h"
#include "release.h"

static char *path_join(const char *a, const char *b)
{
	char *p;

	if (asprintf(&p, "%s/%s", a, b) < 0)
		return NULL;
	return p;
}

int bk_id_valid(const char *id)
{
	size_t i;

	for (i = 0; id && id[i]; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return id && i == 32;
}

int bk_read_small(const char *path, size_t max, uint8_t **buf, size_t *len,
		  struct bk_err *err)
{
	struct stat st;
	uint8_t *p;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bk_errf(err, -errno, "cannot open %s: %s", path,
			       strerror(errno));
	if (fstat(fd, &st) < 0 || (size_t)st.st_size > max) {
		close(fd);
		return bk_errf(err, -EFBIG, "%s is larger than %zu bytes", path,
			       max);
	}
	p = malloc(st.st_size + 1);
	if (!p) {
		close(fd);
		return bk_errf(err, -ENOMEM, "out of memory");
	}
	n = read(fd, p, st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(p);
		return bk_errf(err, -EIO, "cannot read %s", path);
	}
	p[n] = 0;
	*buf = p;
	*len = n;
	return 0;
}

/* ---- state directory ---- */

static int add_demo(struct bk_store *s, struct bk_rot *rot, struct bk_err *err)
{
	static const char *const rows[][4] = {
		{ "root", "keys", "payroll-key", "{\"algorithm\":\"AES\",\"size\":256,\"labels\":{\"app\":\"payroll\"}}" },
		{ "root", "keys", "cte-key-1", "{\"algorithm\":\"AES\",\"size\":256,\"labels\":{\"app\":\"cte\"}}" },
		{ "root", "keys", "cte-key-2", "{\"algorithm\":\"AES\",\"size\":128}" },
		{ "root", "keys", "signing-key", "{\"algorithm\":\"EC\",\"curve\":\"P-256\"}" },
		{ "root", "keys", "hmac-key", "{\"algorithm\":\"HMAC\",\"size\":256}" },
		{ "root", "users", "frank", "{\"email\":\"frank@local\"}" },
		{ "root", "users", "alice", "{\"email\":\"alice@example.com\"}" },
		{ "root", "groups", "key-admins", "{\"members\":[\"frank\",\"alice\"]}" },
		{ "root", "cte_policies", "standard-policy", "{\"policy_type\":\"Standard\",\"never_deny\":false,\"keys\":[\"cte-key-1\"]}" },
		{ "root", "cte_policies", "ldt-policy", "{\"policy_type\":\"LDT\",\"never_deny\":true,\"keys\":[\"cte-key-2\"]}" },
		{ "root", "customer_fragments", "fragment-1", "{\"value\":\"ab12\"}" },
		{ "root", "cas", "local-ca", "{\"subject\":\"CN=Local CA\"}" },
		{ "root", "certificates", "web-cert", "{\"subject\":\"CN=web\",\"issuer\":\"local-ca\"}" },
		{ "root", "policies", "allow-admins", "{\"effect\":\"allow\"}" },
		{ "root", "schedules", "nightly", "{\"run_at\":\"0 2 * * *\"}" },
		{ "root", "connections", "ldap-main", "{\"kind\":\"ldap\",\"url\":\"ldaps://ldap.example\"}" },
		{ "root", "audit", "boot-0001", "{\"message\":\"appliance initialised\"}" },
		{ "finance", "keys", "ledger-key", "{\"algorithm\":\"AES\",\"size\":256}" },
		{ "finance", "users", "bob", "{\"email\":\"bob@finance.example\"}" },
		{ "finance", "groups", "auditors", "{\"members\":[\"bob\"]}" },
		{ "hr", "keys", "hr-key", "{\"algorithm\":\"AES\",\"size\":256}" },
	};
	int ret;

	if ((ret = bk_domain_add(s, "finance", NULL, err)) ||
	    (ret = bk_domain_add(s, "hr", NULL, err)))
		return ret;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ret = bk_resource_add(s, rot, rows[i][0], rows[i][1],
				      rows[i][2], rows[i][3], NULL, err);
		if (ret)
			return ret;
	}
	return 0;
}

int bk_state_init(const char *dir, const struct bk_init_opts *o,
		  struct bk_err *err)
{
	const char *pv = o && o->product_version ? o->product_version : "2.20.0";
	const char *lts = o && o->lts ? o->lts : "";
	struct bk_engine *e = NULL;
	struct bk_version v;
	char *p = NULL;
	DIR *d;
	int ret;

	if (bk_version_parse(pv, &v))
		return bk_errf(err, -EINVAL,
			       "product version \"%s\" is not X.Y.Z", pv);
	if (*lts) {
		char *copy = strdup(lts), *save = NULL;

		for (char *t = strtok_r(copy, ",", &save); t;
		     t = strtok_r(NULL, ",", &save)) {
			if (bk_version_parse(t, &v)) {
				bk_errf(err, -EINVAL,
					"LTS release \"%s\" is not X.Y", t);
				free(copy);
				return -EINVAL;
			}
		}
		free(copy);
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return bk_errf(err, -errno, "cannot create %s: %s", dir,
			       strerror(errno));
	d = opendir(dir);
	if (!d)
		return bk_errf(err, -errno, "cannot open %s: %s", dir,
			       strerror(errno));
	for (struct dirent *de; (de = readdir(d));) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			closedir(d);
			return bk_errf(err, -EEXIST,
				       "%s is not empty: a state directory is created in a new or empty directory",
				       dir);
		}
	}
	closedir(d);

	p = path_join(dir, "rot.key");
	ret = bk_rot_soft_create(p, err);
	free(p);
	if (ret)
		return ret;
	p = path_join(dir, "backupfs.db");
	{
		struct bk_store *s;

		ret = bk_store_open(p, 1, &s, err);
		if (!ret)
			bk_store_close(s);
		/* Wrapped secrets only, but still nobody else's business. */
		if (!ret && chmod(p, 0600) < 0)
			ret = bk_errf(err, -errno, "chmod %s: %s", p,
				      strerror(errno));
		free(p);
		if (ret)
			return ret;
	}
	ret = bk_engine_open(dir, 0, &e, err);
	if (ret)
		return ret;
	pthread_mutex_lock(&e->db_lock);
	ret = bk_store_begin(e->store, err);
	if (ret)
		goto out;
	if ((ret = bk_setting_set(e->store, "product_version", pv, err)) ||
	    (ret = bk_setting_set(e->store, "lts", lts, err)) ||
	    (ret = bk_setting_set(e->store, "instance_name",
				  o && o->demo ? "demo-appliance" : "backupfs",
				  err)) ||
	    (ret = bk_domain_add(e->store, "root", NULL, err)) ||
	    (ret = bk_key_create_in(e, e->store, NULL, "default-system", 1,
				    NULL, err)) ||
	    (ret = bk_key_create_in(e, e->store, "root", "default-domain-root",
				    1, NULL, err)) ||
	    (o && o->demo && (ret = add_demo(e->store, e->rot, err)))) {
		bk_store_rollback(e->store);
		goto out;
	}
	ret = bk_store_commit(e->store, err);
out:
	pthread_mutex_unlock(&e->db_lock);
	bk_engine_close(e);
	return ret;
}

static int audit_flush(struct bk_engine *e);

static void load_last_op(struct bk_engine *e)
{
	sqlite3_stmt *st;
	sqlite3 *db = bk_store_db(e->store);

	if (sqlite3_prepare_v2(db,
		"SELECT id, operation, scope, domain, backup_id, status, progress,"
		" started_at, finished_at, message FROM operations"
		" ORDER BY started_at DESC, rowid DESC LIMIT 1", -1, &st, NULL))
		return;
	if (sqlite3_step(st) == SQLITE_ROW) {
		json_object *o = json_object_new_object();
		static const char *const names[] = {
			"id", "operation", "scope", "domain", "backupId",
			"status", "progress", "startedAt", "finishedAt",
			"message" };

		for (int i = 0; i < 10; i++) {
			json_object *v = NULL;

			if (i == 6)
				v = json_object_new_int(sqlite3_column_int(st, i));
			else if (sqlite3_column_type(st, i) != SQLITE_NULL)
				v = json_object_new_string(
					(const char *)sqlite3_column_text(st, i));
			json_object_object_add(o, names[i], v);
		}
		e->op = o;
	}
	sqlite3_finalize(st);
}

int bk_engine_open(const char *dir, unsigned flags, struct bk_engine **out,
		   struct bk_err *err)
{
	struct bk_engine *e;
	char real[PATH_MAX];
	int ret;

	bk_crypto_init();
	if (!realpath(dir, real))
		return bk_errf(err, -errno, "state directory %s: %s", dir,
			       strerror(errno));
	e = calloc(1, sizeof(*e));
	if (!e)
		return bk_errf(err, -ENOMEM, "out of memory");
	e->lock_fd = -1;
	e->flags = flags;
	{
		/* Recursive: callbacks of listings may call the engine again. */
		pthread_mutexattr_t attr;

		pthread_mutexattr_init(&attr);
		pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
		pthread_mutex_init(&e->db_lock, &attr);
		pthread_mutexattr_destroy(&attr);
	}
	pthread_mutex_init(&e->op_lock, NULL);
	pthread_cond_init(&e->op_cond, NULL);
	e->dir = strdup(real);
	e->db_path = path_join(real, "backupfs.db");
	e->archives = path_join(real, "archives");
	e->staging = path_join(real, "staging");
	e->reports = path_join(real, "reports");
	e->rot_path = path_join(real, "rot.key");
	if (!e->dir || !e->db_path || !e->archives || !e->staging ||
	    !e->reports || !e->rot_path) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto fail;
	}
	if (access(e->db_path, F_OK) < 0) {
		ret = bk_errf(err, -ENOENT,
			      "%s is not a backupfs state directory (no backupfs.db; create one with: backupctl init %s)",
			      real, real);
		goto fail;
	}
	if ((mkdir(e->archives, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(e->staging, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(e->reports, 0700) < 0 && errno != EEXIST)) {
		ret = bk_errf(err, -errno, "cannot create directories in %s: %s",
			      real, strerror(errno));
		goto fail;
	}
	ret = bk_store_open(e->db_path, 0, &e->store, err);
	if (ret)
		goto fail;
	ret = bk_rot_soft_open(e->rot_path, &e->rot, err);
	if (ret)
		goto fail;
	if (flags & BK_ENGINE_DAEMON) {
		char *lock = path_join(real, "daemon.lock");

		e->lock_fd = lock ? open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
		free(lock);
		if (e->lock_fd < 0 || flock(e->lock_fd, LOCK_EX | LOCK_NB) < 0) {
			ret = bk_errf(err, -EBUSY,
				      "another backupfs daemon is using the state directory %s",
				      real);
			goto fail;
		}
		ret = bk_backups_recover(e, err);
		if (ret)
			goto fail;
	}
	load_last_op(e);
	*out = e;
	return 0;
fail:
	bk_engine_close(e);
	return ret;
}

void bk_engine_close(struct bk_engine *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->op_lock);
	while (e->op_running)
		pthread_cond_wait(&e->op_cond, &e->op_lock);
	if (e->job_started) {
		pthread_join(e->job, NULL);
		e->job_started = 0;
	}
	pthread_mutex_unlock(&e->op_lock);
	for (size_t i = 0; i < e->npass; i++)
		bk_secure_free(e->pass[i].buf, BK_MAX_PASS);
	free(e->pass);
	free(e->pass_file);
	if (e->store && e->audit_pending) {
		pthread_mutex_lock(&e->db_lock);
		audit_flush(e);
		pthread_mutex_unlock(&e->db_lock);
	}
	json_object_put(e->audit_pending);
	json_object_put(e->op);
	json_object_put(e->last_error);
	bk_rot_free(e->rot);
	bk_store_close(e->store);
	if (e->lock_fd >= 0)
		close(e->lock_fd);
	free(e->dir);
	free(e->db_path);
	free(e->archives);
	free(e->staging);
	free(e->reports);
	free(e->rot_path);
	pthread_mutex_destroy(&e->db_lock);
	pthread_mutex_destroy(&e->op_lock);
	pthread_cond_destroy(&e->op_cond);
	free(e);
}

uint64_t bk_path_ino(const char *path)
{
	uint8_t md[32];
	uint64_t ino = 0;

	if (!path || !strcmp(path, "/"))
		return 1;
	bk_sha256(path, strlen(path), md);
	for (int i = 0; i < 8; i++)
		ino = (ino << 8) | md[i];
	if (ino <= 1)		/* 0 is invalid, 1 is the root's */
		ino |= UINT64_C(1) << 63;
	return ino;
}

const char *const *bk_engine_resource_types(void)
{
	return bk_resource_types();
}

const char *bk_engine_state_dir(struct bk_engine *e)
{
	return e->dir;
}

const char *bk_engine_staging_dir(struct bk_engine *e)
{
	return e->staging;
}

/* ---- appliance and config ---- */

int bk_appliance_json(struct bk_engine *e, char **json, struct bk_err *err)
{
	json_object *o = json_object_new_object(), *lts = json_object_new_array();
	json_object *hsm = json_object_new_object();
	char *pv = NULL, *ltsv = NULL, *name = NULL;
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = bk_setting_get(e->store, "product_version", &pv, err);
	if (!ret)
		ret = bk_setting_get(e->store, "lts", &ltsv, err);
	if (!ret)
		ret = bk_setting_get(e->store, "instance_name", &name, err);
	pthread_mutex_unlock(&e->db_lock);
	if (ret)
		goto out;
	if (ltsv) {
		char *save = NULL;

		for (char *t = strtok_r(ltsv, ",", &save); t;
		     t = strtok_r(NULL, ",", &save))
			json_object_array_add(lts, json_object_new_string(t));
	}
	json_object_object_add(o, "productVersion",
			       json_object_new_string(pv ? pv : ""));
	json_object_object_add(o, "lts", json_object_get(lts));
	json_object_object_add(o, "instanceName",
			       json_object_new_string(name ? name : ""));
	json_object_object_add(hsm, "kind",
			       json_object_new_string(bk_rot_kind(e->rot)));
	json_object_object_add(hsm, "keyId",
			       json_object_new_string(bk_rot_key_id(e->rot)));
	json_object_object_add(o, "hsm", json_object_get(hsm));
	*json = strdup(json_object_to_json_string_ext(o,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			JSON_C_TO_STRING_NOSLASHESCAPE));
	if (!*json)
		ret = bk_errf(err, -ENOMEM, "out of memory");
out:
	free(pv);
	free(ltsv);
	free(name);
	json_object_put(lts);
	json_object_put(hsm);
	json_object_put(o);
	return ret;
}

int bk_config_set(struct bk_engine *e, const char *key, const char *value,
		  struct bk_err *err)
{
	struct bk_version v;
	int ret;

	if (!strcmp(key, "product-version") || !strcmp(key, "product_version")) {
		if (bk_version_parse(value, &v))
			return bk_errf(err, -EINVAL,
				       "product version \"%s\" is not X.Y.Z", value);
		key = "product_version";
	} else if (!strcmp(key, "lts")) {
		char *copy = strdup(value), *save = NULL;

		for (char *t = strtok_r(copy, ",", &save); t;
		     t = strtok_r(NULL, ",", &save))
			if (bk_version_parse(t, &v)) {
				free(copy);
				return bk_errf(err, -EINVAL,
					       "LTS release \"%s\" is not X.Y", t);
			}
		free(copy);
	} else if (!strcmp(key, "instance-name") || !strcmp(key, "instance_name")) {
		key = "instance_name";
	} else {
		return bk_errf(err, -EINVAL,
			       "unknown setting \"%s\" (known: product-version, lts, instance-name)",
			       key);
	}
	pthread_mutex_lock(&e->db_lock);
	ret = bk_setting_set(e->store, key, value, err);
	pthread_mutex_unlock(&e->db_lock);
	return ret;
}

/* ---- domains and resources ---- */

int bk_engine_domain_create(struct bk_engine *e, const char *name,
			    struct bk_err *err)
{
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = bk_store_begin(e->store, err);
	if (!ret) {
		ret = bk_domain_add(e->store, name, NULL, err);
		if (!ret)
			ret = bk_key_create_in(e, e->store, name, NULL, 1, NULL,
					       err);
		if (ret)
			bk_store_rollback(e->store);
		else
			ret = bk_store_commit(e->store, err);
	}
	pthread_mutex_unlock(&e->db_lock);
	return ret;
}

int bk_engine_domain_exists(struct bk_engine *e, const char *name)
{
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = bk_domain_exists(e->store, name);
	pthread_mutex_unlock(&e->db_lock);
	return ret;
}

struct names_arg {
	int (*cb)(void *arg, const char *name);
	void *arg;
};

static int domain_name_cb(void *arg, json_object *d)
{
	struct names_arg *a = arg;

	return a->cb(a->arg, json_object_get_string(
			json_object_object_get(d, "name")));
}

int bk_engine_domain_names(struct bk_engine *e,
			   int (*cb)(void *arg, const char *name), void *arg,
			   struct bk_err *err)
{
	struct names_arg a = { cb, arg };
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = bk_domain_foreach(e->store, domain_name_cb, &a, err);
	pthread_mutex_unlock(&e->db_lock);
	return ret;
}

int bk_engine_resource_add(struct bk_engine *e, const char *domain,
			   const char *type, const char *name,
			   const char *attrs, char **id_out, struct bk_err *err)
{
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = bk_resource_add(e->store, e->rot, domain, type, name, attrs,
			      id_out, err);
	pthread_mutex_unlock(&e->db_lock);
	return ret;
}

int bk_engine_resource_delete(struct bk_engine *e, const char *domain,
			      const char *type, const char *name,
			      struct bk_err *err)
{
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = bk_resource_delete(e->store, domain, type, name, err);
	pthread_mutex_unlock(&e->db_lock);
	return ret;
}

int bk_engine_resource_get(struct bk_engine *e, const char *domain,
			   const char *type, const char *name, char **json,
			   struct bk_err *err)
{
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = bk_resource_get(e->store, domain, type, name, json, err);
	pthread_mutex_unlock(&e->db_lock);
	return ret;
}

int bk_engine_resource_names(struct bk_engine *e, const char *domain,
			     const char *type,
			     int (*cb)(void *arg, const char *name), void *arg,
			     struct bk_err *err)
{
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = bk_resource_names(e->store, domain, type, cb, arg, err);
	pthread_mutex_unlock(&e->db_lock);
	return ret;
}

int bk_engine_resource_foreach(struct bk_engine *e, const char *domain,
			       const char *type,
			       int (*cb)(void *arg, json_object *res),
			       void *arg, struct bk_err *err)
{
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = bk_resource_foreach(e->store, domain, type, cb, arg, err);
	pthread_mutex_unlock(&e->db_lock);
	return ret;
}

int bk_engine_resource_import(struct bk_engine *e, const char *path,
			      long *count, struct bk_err *err)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	int ret;

	if (!f)
		return bk_errf(err, -errno, "cannot open %s: %s", path,
			       strerror(errno));
	pthread_mutex_lock(&e->db_lock);
	ret = bk_resource_import(e->store, e->rot, f, count, err);
	pthread_mutex_unlock(&e->db_lock);
	if (f != stdin)
		fclose(f);
	return ret;
}

/* ---- passphrases ---- */

static long long mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

int bk_pass_set(struct bk_engine *e, uid_t uid, const char *pass,
		size_t len, struct bk_err *err)
{
	struct bk_pass *p = NULL;
	int ret = 0;

	if (len < 8)
		return bk_errf(err, -EINVAL,
			       "passphrase too short: use at least 8 characters");
	if (len >= BK_MAX_PASS)
		return bk_errf(err, -EINVAL, "passphrase too long");
	pthread_mutex_lock(&e->op_lock);
	for (size_t i = 0; i < e->npass; i++)
		if (e->pass[i].uid == uid)
			p = &e->pass[i];
	if (!p) {
		struct bk_pass *n = realloc(e->pass, (e->npass + 1) * sizeof(*n));
		char *buf = bk_secure_alloc(BK_MAX_PASS);

		if (!n || !buf) {
			if (n)
				e->pass = n;
			bk_secure_free(buf, BK_MAX_PASS);
			ret = bk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
		e->pass = n;
		p = &e->pass[e->npass++];
		p->uid = uid;
		p->buf = buf;
	}
	OPENSSL_cleanse(p->buf, BK_MAX_PASS);
	memcpy(p->buf, pass, len);
	p->len = len;
	p->expires = mono_now() + BK_PASS_TTL;
out:
	pthread_mutex_unlock(&e->op_lock);
	return ret;
}

int bk_pass_file(struct bk_engine *e, const char *path, struct bk_err *err)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return bk_errf(err, -errno, "passphrase file %s: %s", path,
			       strerror(errno));
	if (st.st_mode & 077)
		return bk_errf(err, -EPERM,
			       "passphrase file %s is readable by others (mode %o); chmod 600 it",
			       path, st.st_mode & 0777);
	free(e->pass_file);
	e->pass_file = strdup(path);
	return e->pass_file ? 0 : bk_errf(err, -ENOMEM, "out of memory");
}

/* Copies uid's passphrase into buf (secure, BK_MAX_PASS bytes). */
int bk_pass_get(struct bk_engine *e, uid_t uid, char *buf, size_t *len,
		struct bk_err *err)
{
	int ret = -EACCES;

	pthread_mutex_lock(&e->op_lock);
	for (size_t i = 0; i < e->npass; i++) {
		struct bk_pass *p = &e->pass[i];

		if (p->uid != uid || !p->len)
			continue;
		if (p->expires < mono_now()) {
			OPENSSL_cleanse(p->buf, BK_MAX_PASS);
			p->len = 0;
			continue;
		}
		memcpy(buf, p->buf, p->len);
		*len = p->len;
		ret = 0;
	}
	pthread_mutex_unlock(&e->op_lock);
	if (ret && e->pass_file) {
		uint8_t *f;
		size_t n;

		ret = bk_read_small(e->pass_file, BK_MAX_PASS - 1, &f, &n, err);
		if (ret)
			return ret;
		while (n && (f[n - 1] == '\n' || f[n - 1] == '\r'))
			n--;
		memcpy(buf, f, n);
		*len = n;
		OPENSSL_cleanse(f, n);
		free(f);
		return 0;
	}
	if (ret)
		return bk_errf(err, -EACCES,
			       "no passphrase set for this user: write one first (echo -n 'long passphrase' > MOUNT/passphrase), or mount with -o passphrase_file=PATH");
	return 0;
}

/* ---- operations and status ---- */

static void op_persist(struct bk_engine *e, json_object *op)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	static const char *const names[] = {
		"id", "operation", "scope", "domain", "backupId", "status",
		"progress", "startedAt", "finishedAt", "message" };

	pthread_mutex_lock(&e->db_lock);
	db = bk_store_db(e->store);
	/* An upload finishing during a restore must not hold the store lock
	 * for long: its record may be lost, the status in memory is not. */
	sqlite3_busy_timeout(db, 2000);
	if (sqlite3_prepare_v2(db,
		"INSERT OR REPLACE INTO operations (id, operation, scope, domain,"
		" backup_id, status, progress, started_at, finished_at, message)"
		" VALUES (?,?,?,?,?,?,?,?,?,?)", -1, &st, NULL) == SQLITE_OK) {
		for (int i = 0; i < 10; i++) {
			json_object *v = json_object_object_get(op, names[i]);

			if (!v)
				sqlite3_bind_null(st, i + 1);
			else if (i == 6)
				sqlite3_bind_int(st, i + 1, json_object_get_int(v));
			else
				sqlite3_bind_text(st, i + 1,
						  json_object_get_string(v), -1,
						  SQLITE_TRANSIENT);
		}
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	sqlite3_busy_timeout(db, 10000);
	pthread_mutex_unlock(&e->db_lock);
}

static json_object *op_new(const char *operation, const char *domain,
			   const char *backup_id, const char *status)
{
	json_object *o = json_object_new_object();
	char id[33], now[32];

	bk_random_id(id, NULL);
	bk_now(now);
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "operation", json_object_new_string(operation));
	json_object_object_add(o, "scope",
			       json_object_new_string(bk_scope_name(domain)));
	json_object_object_add(o, "domain",
			       domain ? json_object_new_string(domain) : NULL);
	json_object_object_add(o, "backupId",
			       backup_id ? json_object_new_string(backup_id) : NULL);
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "progress", json_object_new_int(0));
	json_object_object_add(o, "startedAt", json_object_new_string(now));
	json_object_object_add(o, "finishedAt", NULL);
	json_object_object_add(o, "message", NULL);
	return o;
}

int bk_op_begin(struct bk_engine *e, const char *operation,
		const char *domain, const char *backup_id, uid_t uid,
		struct bk_err *err)
{
	json_object *op;

	(void)uid;
	pthread_mutex_lock(&e->op_lock);
	if (e->op_running) {
		const char *what = json_object_get_string(
			json_object_object_get(e->op, "operation"));
		const char *bid = json_object_get_string(
			json_object_object_get(e->op, "backupId"));

		pthread_mutex_unlock(&e->op_lock);
		return bk_errf(err, -EBUSY,
			       "another %s (backup %s) is in progress; only one backup or restore runs at a time",
			       what ? what : "operation", bid ? bid : "?");
	}
	if (e->job_started) {
		pthread_join(e->job, NULL);
		e->job_started = 0;
	}
	op = op_new(operation, domain, backup_id, "In Progress");
	json_object_put(e->op);
	e->op = op;
	e->op_running = 1;
	json_object_get(op);
	pthread_mutex_unlock(&e->op_lock);
	op_persist(e, op);
	json_object_put(op);
	return 0;
}

void bk_op_progress(struct bk_engine *e, int percent)
{
	pthread_mutex_lock(&e->op_lock);
	if (e->op && e->op_running)
		json_object_object_add(e->op, "progress",
				       json_object_new_int(percent));
	pthread_mutex_unlock(&e->op_lock);
}

void bk_op_bytes(struct bk_engine *e, uint64_t done, uint64_t total)
{
	pthread_mutex_lock(&e->op_lock);
	if (e->op && e->op_running) {
		json_object_object_add(e->op, "bytesDone",
				       json_object_new_int64((int64_t)done));
		json_object_object_add(e->op, "bytesTotal", total ?
				       json_object_new_int64((int64_t)total) : NULL);
	}
	pthread_mutex_unlock(&e->op_lock);
}

static void op_finish(json_object *op, int ok, const char *message)
{
	char now[32];

	bk_now(now);
	json_object_object_add(op, "status",
			       json_object_new_string(ok ? "Completed" : "Failed"));
	if (ok)
		json_object_object_add(op, "progress", json_object_new_int(100));
	json_object_object_add(op, "finishedAt", json_object_new_string(now));
	json_object_object_add(op, "message",
			       message && *message ? json_object_new_string(message)
						   : NULL);
}

void bk_op_end(struct bk_engine *e, int ok, const char *message)
{
	json_object *op;

	pthread_mutex_lock(&e->op_lock);
	op = json_object_get(e->op);
	op_finish(op, ok, message);
	pthread_mutex_unlock(&e->op_lock);
	op_persist(e, op);
	json_object_put(op);
	pthread_mutex_lock(&e->op_lock);
	e->op_running = 0;
	pthread_cond_broadcast(&e->op_cond);
	pthread_mutex_unlock(&e->op_lock);
}

void bk_op_record(struct bk_engine *e, const char *operation,
		  const char *domain, const char *backup_id, int ok,
		  const char *message)
{
	json_object *op = op_new(operation, domain, backup_id, "In Progress");

	op_finish(op, ok, message);
	op_persist(e, op);
	pthread_mutex_lock(&e->op_lock);
	if (!e->op_running) {
		json_object_put(e->op);
		e->op = json_object_get(op);
	}
	pthread_mutex_unlock(&e->op_lock);
	json_object_put(op);
}

int bk_job_spawn(struct bk_engine *e, void *(*fn)(void *), void *arg,
		 struct bk_err *err)
{
	int ret;

	pthread_mutex_lock(&e->op_lock);
	ret = pthread_create(&e->job, NULL, fn, arg);
	if (!ret)
		e->job_started = 1;
	pthread_mutex_unlock(&e->op_lock);
	if (ret)
		return bk_errf(err, -ret, "cannot start the job thread: %s",
			       strerror(ret));
	return 0;
}

int bk_status_json(struct bk_engine *e, char **json, struct bk_err *err)
{
	json_object *o;
	int n;

	pthread_mutex_lock(&e->op_lock);
	if (e->op) {
		o = json_object_new_object();
		json_object_object_foreach(e->op, k, v)
			json_object_object_add(o, k, json_object_get(v));
	} else {
		o = json_object_new_object();
		json_object_object_add(o, "status", json_object_new_string("Idle"));
	}
	if (e->last_error)
		json_object_object_add(o, "lastError",
				       json_object_get(e->last_error));
	pthread_mutex_unlock(&e->op_lock);
	n = asprintf(json, "%s\n", json_object_to_json_string_ext(o,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	if (n < 0)
		return bk_errf(err, -ENOMEM, "out of memory");
	return 0;
}

void bk_status_wait(struct bk_engine *e)
{
	pthread_mutex_lock(&e->op_lock);
	while (e->op_running)
		pthread_cond_wait(&e->op_cond, &e->op_lock);
	pthread_mutex_unlock(&e->op_lock);
}

static const char *errno_name(int errnum)
{
	switch (errnum) {
	case EINVAL: return "EINVAL";
	case EBUSY: return "EBUSY";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case ENOSPC: return "ENOSPC";
	case EIO: return "EIO";
	case EFBIG: return "EFBIG";
	default: return "ERROR";
	}
}

void bk_note_refusal(struct bk_engine *e, uid_t uid, const char *path,
		     int errnum, const char *msg)
{
	json_object *o = json_object_new_object();
	char now[32];

	if (errnum < 0)
		errnum = -errnum;
	bk_now(now);
	json_object_object_add(o, "time", json_object_new_string(now));
	json_object_object_add(o, "path", json_object_new_string(path ? path : ""));
	json_object_object_add(o, "errno", json_object_new_int(errnum));
	json_object_object_add(o, "error",
			       json_object_new_string(errno_name(errnum)));
	json_object_object_add(o, "message",
			       json_object_new_string(msg && *msg ? msg :
						      strerror(errnum)));
	pthread_mutex_lock(&e->op_lock);
	json_object_put(e->last_error);
	e->last_error = o;
	pthread_mutex_unlock(&e->op_lock);
	bk_audit(e, uid, "refused", path, errno_name(errnum), msg);
}

/* Inserts one audit row; returns SQLite's result code. */
static int audit_insert(struct bk_store *s, const char *time, long long uid,
			const char *action, const char *target,
			const char *result, const char *msg)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(bk_store_db(s),
		"INSERT INTO audit (time, uid, action, target, result, message)"
		" VALUES (?,?,?,?,?,?)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(st, 1, time, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_text(st, 3, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, target ? target : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, result ? result : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, msg ? msg : "", -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

void bk_audit_s(struct bk_engine *e, struct bk_store *s, uid_t uid,
		const char *action, const char *target, const char *result,
		const char *msg)
{
	char now[32];

	(void)e;
	bk_now(now);
	audit_insert(s, now, uid, action, target, result, msg);
}

#define AUDIT_PENDING_MAX 100000

/* Writes the queued audit rows; stops at the first that cannot be
 * written yet.  Called with db_lock held. */
static int audit_flush(struct bk_engine *e)
{
	size_t n = e->audit_pending ?
		json_object_array_length(e->audit_pending) : 0, done = 0;
	int rc = SQLITE_OK;

	for (; done < n; done++) {
		json_object *r = json_object_array_get_idx(e->audit_pending, done);

		rc = audit_insert(e->store,
			json_object_get_string(json_object_array_get_idx(r, 0)),
			json_object_get_int64(json_object_array_get_idx(r, 1)),
			json_object_get_string(json_object_array_get_idx(r, 2)),
			json_object_get_string(json_object_array_get_idx(r, 3)),
			json_object_get_string(json_object_array_get_idx(r, 4)),
			json_object_get_string(json_object_array_get_idx(r, 5)));
		if (rc != SQLITE_OK)
			break;
	}
	if (done)
		json_object_array_del_idx(e->audit_pending, 0, done);
	return rc;
}

/* Audit rows from FUSE threads go through the shared connection.  While
 * a restore holds the database's write lock they must not keep the store
 * lock (and with it every stat and readdir) for the busy timeout: they
 * wait briefly, and are queued in memory and written later if need be. */
void bk_audit(struct bk_engine *e, uid_t uid, const char *action,
	      const char *target, const char *result, const char *msg)
{
	sqlite3 *db = bk_store_db(e->store);
	char now[32];
	int rc;

	bk_now(now);
	pthread_mutex_lock(&e->db_lock);
	sqlite3_busy_timeout(db, 100);
	rc = audit_flush(e);
	if (rc == SQLITE_OK)
		rc = audit_insert(e->store, now, uid, action, target, result,
				  msg);
	if (rc != SQLITE_OK) {
		json_object *r = json_object_new_array();

		json_object_array_add(r, json_object_new_string(now));
		json_object_array_add(r, json_object_new_int64(uid));
		json_object_array_add(r, json_object_new_string(action));
		json_object_array_add(r, json_object_new_string(target ? target : ""));
		json_object_array_add(r, json_object_new_string(result ? result : ""));
		json_object_array_add(r, json_object_new_string(msg ? msg : ""));
		if (!e->audit_pending)
			e->audit_pending = json_object_new_array();
		if (json_object_array_length(e->audit_pending) < AUDIT_PENDING_MAX)
			json_object_array_add(e->audit_pending, r);
		else
			json_object_put(r);
	}
	sqlite3_busy_timeout(db, 10000);
	pthread_mutex_unlock(&e->db_lock);
}
