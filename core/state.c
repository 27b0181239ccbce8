/* state.c - creating a state directory: database, root of trust, the
 * root domain, default backup keys, and the demo data. */
#include "engine_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hsm.h"
#include "release.h"

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
		{ "root", "schedules", "nightly", "{\"run_at\":\"0 2 * * *\",\"disabled\":true}" },
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

/* The directory (new or empty), the root of trust (hsm: a key on that
 * token, else a new software key file) and the database. */
static int init_files(const char *dir, const char *hsm, struct bk_err *err)
{
	struct bk_rot *rot = NULL;
	char *p;
	DIR *d;
	int ret;

	d = opendir(dir);
	if (!d && errno != ENOENT)
		return bk_errf(err, -errno, "cannot open %s: %s", dir,
			       strerror(errno));
	for (struct dirent *de; d && (de = readdir(d));) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			closedir(d);
			return bk_errf(err, -EEXIST,
				       "%s is not empty: a state directory is created in a new or empty directory",
				       dir);
		}
	}
	if (d)
		closedir(d);
	/* The token first: a bad URI or PIN leaves nothing behind. */
	if (hsm && (ret = bk_rot_p11_open(hsm, NULL, 1, &rot, err)))
		return ret;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		ret = bk_errf(err, -errno, "cannot create %s: %s", dir,
			      strerror(errno));
		goto out;
	}
	p = bk_path_join(dir, "rot.key");
	ret = rot ? 0 : bk_rot_soft_create(p, err);
	free(p);
	if (ret)
		goto out;
	p = bk_path_join(dir, "backupfs.db");
	{
		struct bk_store *s = NULL;

		ret = bk_store_open(p, BK_STORE_CREATE, &s, err);
		if (!ret && rot)
			ret = bk_hsm_configure(s, rot, err);
		if (s)
			bk_store_close(s);
		/* Wrapped secrets only, but still nobody else's business. */
		if (!ret && chmod(p, 0600) < 0)
			ret = bk_errf(err, -errno, "chmod %s: %s", p,
				      strerror(errno));
		free(p);
	}
out:
	bk_rot_free(rot);
	return ret;
}

int bk_state_init(const char *dir, const struct bk_init_opts *o,
		  struct bk_err *err)
{
	return bk_state_init_hsm(dir, o, NULL, err);
}

int bk_state_init_hsm(const char *dir, const struct bk_init_opts *o,
		      const char *hsm, struct bk_err *err)
{
	const char *pv = o && o->product_version ? o->product_version : "2.20.0";
	const char *lts = o && o->lts ? o->lts : "";
	struct bk_engine *e = NULL;
	struct bk_version v;
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
	ret = init_files(dir, hsm, err);
	if (ret)
		return ret;
	ret = bk_engine_open_hsm(dir, 0, hsm, &e, err);
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

