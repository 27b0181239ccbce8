/* engine.c - the engine's life cycle and thin wrappers over the store.
 * State directories are created in state.c, operations, status and audit
 * are in status.c, passphrases in pass.c. */
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

#include "checkpoint.h"
#include "crypto.h"
#include "hsm.h"
#include "release.h"
#include "scp.h"

char *bk_path_join(const char *a, const char *b)
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

int bk_engine_open(const char *dir, unsigned flags, struct bk_engine **out,
		   struct bk_err *err)
{
	return bk_engine_open_hsm(dir, flags, NULL, out, err);
}

int bk_engine_open_hsm(const char *dir, unsigned flags, const char *hsm,
		       struct bk_engine **out, struct bk_err *err)
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
	e->db_path = bk_path_join(real, "backupfs.db");
	e->archives = bk_path_join(real, "archives");
	e->staging = bk_path_join(real, "staging");
	e->reports = bk_path_join(real, "reports");
	e->rot_path = bk_path_join(real, "rot.key");
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
	ret = bk_hsm_open(e, hsm, err);
	if (ret)
		goto fail;
	if (flags & BK_ENGINE_DAEMON) {
		char *lock = bk_path_join(real, "daemon.lock");

		e->lock_fd = lock ? open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
		free(lock);
		if (e->lock_fd < 0 || flock(e->lock_fd, LOCK_EX | LOCK_NB) < 0) {
			ret = bk_errf(err, -EBUSY,
				      "another backupfs daemon is using the state directory %s",
				      real);
			goto fail;
		}
		ret = bk_ckpt_start(e->db_path, &e->ckpt, err);
		if (ret)
			goto fail;
		bk_ckpt_attach(e->ckpt, e->store);
		ret = bk_backups_recover(e, err);
		if (!ret)
			ret = bk_hsm_recover(e, err);
		if (ret)
			goto fail;
		bk_scp_recover(e);
	}
	bk_op_load_last(e);
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
	bk_scp_shutdown(e);
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
		bk_audit_flush(e);
		pthread_mutex_unlock(&e->db_lock);
	}
	json_object_put(e->audit_pending);
	json_object_put(e->op);
	json_object_put(e->last_error);
	bk_rot_free(e->rot);
	for (size_t i = 0; i < e->nretired; i++)
		bk_rot_free(e->rot_retired[i]);
	free(e->rot_retired);
	bk_ckpt_stop(e->ckpt);
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

int bk_engine_store_open(struct bk_engine *e, int oflags,
			 struct bk_store **out, struct bk_err *err)
{
	int ret = bk_store_open(e->db_path, oflags, out, err);

	if (!ret)
		bk_ckpt_attach(e->ckpt, *out);
	return ret;
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
	json_object_object_add(hsm, "alg",
			       json_object_new_string(bk_rot_alg(e->rot)));
	if (*bk_rot_token(e->rot)) {
		json_object_object_add(hsm, "token", json_object_new_string(
			bk_rot_token(e->rot)));
		json_object_object_add(hsm, "label", json_object_new_string(
			bk_rot_label(e->rot)));
	}
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
	return bk_hsm_domain_create(e, name, NULL, err);
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
