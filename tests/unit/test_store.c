/* test_store.c - core/store.c, resource.c and keygen.c: schema and
 * migrations, settings, domains, every resource type, key material
 * wrapped by the root of trust, members and links, delete, import. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "check.h"
#include "core/crypto.h"
#include "core/store.h"
#include "core/store_int.h"
#include "hsm/rot.h"
#include "testutil.h"

static char dir[] = "/tmp/bk-test-store-XXXXXX";
static char db_path[256], rot_path[256];
static const char *const tmp_files[] = {
	"backupfs.db", "rot.key", "backupfs.db-wal", "backupfs.db-shm",
};

/* 1 if msg contains needle. */
static int has(const struct bk_err *e, const char *needle)
{
	if (!strstr(e->msg, needle)) {
		fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", e->msg, needle);
		return 0;
	}
	return 1;
}

static int add(struct bk_store *s, struct bk_rot *rot, const char *domain,
	       const char *type, const char *name, const char *attrs,
	       struct bk_err *e)
{
	bk_err_clear(e);
	return bk_resource_add(s, rot, domain, type, name, attrs, NULL, e);
}

static void test_open(void)
{
	struct bk_store *s = NULL;
	struct bk_err e = { 0 };
	sqlite3 *raw;
	char sql[64];

	CHECK_EQ_INT(bk_store_open(db_path, 0, &s, &e), -ENOENT);
	CHECK_EQ_INT(bk_store_open(db_path, 1, &s, &e), 0);
	CHECK_EQ_INT(tu_scalar(s, "PRAGMA user_version"), bk_store_schema_version());
	CHECK_EQ_INT(tu_scalar(s, "PRAGMA foreign_keys"), 1);
	CHECK_EQ_INT(tu_scalar(s, "PRAGMA synchronous"), 2);	/* FULL */
	CHECK_EQ_INT(tu_scalar(s, "PRAGMA page_size"), 16384);
	CHECK_EQ_INT(bk_store_page_size(s), 16384);
	CHECK_EQ_INT(tu_scalar(s, "SELECT COUNT(*) FROM sqlite_master WHERE name IN"
		" ('settings','domains','resources','members','key_links',"
		"'backup_keys','backups','operations','audit','access')"), 10);
	CHECK_EQ_INT(tu_scalar(s, "SELECT COUNT(*) FROM sqlite_master WHERE"
		" type = 'index' AND name IN ('members_by_user',"
		"'key_links_by_key','backups_by_time')"), 3);
	/* Migration 6 dropped it: the UNIQUE index covers its prefix. */
	CHECK_EQ_INT(tu_scalar(s, "SELECT COUNT(*) FROM sqlite_master WHERE"
		" name = 'resources_by_name'"), 0);
	CHECK_EQ_INT(bk_store_exec(s, "SELECT scope, domain, id, name, is_default,"
		" wrapped, fingerprint, created_at, created_epoch FROM backup_keys;"
		"SELECT seq, id, scope, domain, status, message, created_at,"
		" created_epoch, product_version, description, backup_key, tied,"
		" size, header, origin FROM backups;"
		"SELECT id, operation, scope, domain, backup_id, status, progress,"
		" started_at, finished_at, message FROM operations;"
		"SELECT seq, time, uid, action, target, result, message FROM audit",
		&e), 0);
	bk_store_close(s);

	/* Reopening runs no migration twice. */
	s = NULL;
	CHECK_EQ_INT(bk_store_open(db_path, 0, &s, &e), 0);
	CHECK_EQ_INT(tu_scalar(s, "PRAGMA user_version"), bk_store_schema_version());
	{
		sqlite3_stmt *st;

		CHECK_EQ_INT(sqlite3_prepare_v2(bk_store_db(s), "PRAGMA journal_mode",
						-1, &st, NULL), SQLITE_OK);
		CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
		CHECK(!strcmp((const char *)sqlite3_column_text(st, 0), "wal"));
		sqlite3_finalize(st);
	}
	bk_store_close(s);

	/* A newer schema is refused, and left alone. */
	CHECK_EQ_INT(sqlite3_open(db_path, &raw), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(raw, "PRAGMA user_version = 99", NULL, NULL,
				  NULL), SQLITE_OK);
	sqlite3_close(raw);
	s = NULL;
	CHECK_EQ_INT(bk_store_open(db_path, 0, &s, &e), -EINVAL);
	CHECK(s == NULL);
	CHECK(has(&e, "database schema version 99 is newer than this backupfs supports"));
	CHECK_EQ_INT(sqlite3_open(db_path, &raw), SQLITE_OK);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		 bk_store_schema_version());
	CHECK_EQ_INT(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
}

/* A database made with 4 KiB pages (every appliance before 16 KiB)
 * keeps them, and works. */
static void test_old_pages(void)
{
	struct bk_store *s = NULL;
	struct bk_err e = { 0 };
	char path[300];
	sqlite3 *raw;

	snprintf(path, sizeof(path), "%s/old.db", dir);
	CHECK_EQ_INT(sqlite3_open(path, &raw), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(raw, "PRAGMA page_size=4096;"
				  "PRAGMA journal_mode=WAL;"
				  "CREATE TABLE t(x)", NULL, NULL, NULL),
		     SQLITE_OK);
	sqlite3_close(raw);
	CHECK_EQ_INT(bk_store_open(path, 0, &s, &e), 0);
	if (!s)
		return;
	CHECK_EQ_INT(bk_store_page_size(s), 4096);
	CHECK_EQ_INT(tu_scalar(s, "PRAGMA user_version"),
		     bk_store_schema_version());
	CHECK_EQ_INT(bk_store_exec(s, "INSERT INTO settings(key, value)"
				   " VALUES('k', 'v')", &e), 0);
	bk_store_close(s);
	for (size_t i = 0; i < 3; i++) {
		static const char *const sfx[] = { "", "-wal", "-shm" };
		char f[320];

		snprintf(f, sizeof(f), "%s%s", path, sfx[i]);
		unlink(f);
	}
}

static void test_settings(struct bk_store *s)
{
	struct bk_err e = { 0 };
	char *v = (char *)"x";

	CHECK_EQ_INT(bk_setting_get(s, "product_version", &v, &e), 0);
	CHECK(v == NULL);
	CHECK_EQ_INT(bk_setting_set(s, "product_version", "2.11.0", &e), 0);
	CHECK_EQ_INT(bk_setting_get(s, "product_version", &v, &e), 0);
	CHECK(v && !strcmp(v, "2.11.0"));
	free(v);
	CHECK_EQ_INT(bk_setting_set(s, "product_version", "2.12.0", &e), 0);
	CHECK_EQ_INT(bk_setting_get(s, "product_version", &v, &e), 0);
	CHECK(v && !strcmp(v, "2.12.0"));
	free(v);
	CHECK_EQ_INT(bk_setting_set(s, "ntp", "pool.ntp.org", &e), 0);
	CHECK_EQ_INT(bk_setting_set(s, "ntp", NULL, &e), 0);
	CHECK_EQ_INT(bk_setting_get(s, "ntp", &v, &e), 0);
	CHECK(v == NULL);
}

struct names {
	char buf[512];
	int n;
};

static int domain_cb(void *arg, json_object *d)
{
	struct names *n = arg;
	json_object *v;

	CHECK(json_object_object_get_ex(d, "createdAt", &v) &&
	      json_object_get_string_len(v) == 20);
	CHECK(json_object_object_get_ex(d, "hsm", NULL));
	strcat(n->buf, json_object_get_string(json_object_object_get(d, "name")));
	strcat(n->buf, ",");
	n->n++;
	return 0;
}

static void test_domains(struct bk_store *s)
{
	static const char *const bad[] = {
		"", ".hidden", "a/b", "bad name", "é", NULL,
	};
	struct names n = { "", 0 };
	struct bk_err e = { 0 };
	char d64[66], d65[66];

	memset(d64, 'd', 64);
	d64[64] = '\0';
	memset(d65, 'd', 65);
	d65[65] = '\0';

	CHECK_EQ_INT(bk_domain_add(s, "root", NULL, &e), 0);
	CHECK_EQ_INT(bk_domain_add(s, "finance", NULL, &e), 0);
	CHECK_EQ_INT(bk_domain_add(s, "hr.eu_1-x", "pkcs11:token=t", &e), 0);
	CHECK_EQ_INT(bk_domain_add(s, d64, NULL, &e), 0);
	CHECK_EQ_INT(bk_domain_add(s, d65, NULL, &e), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(bk_domain_add(s, bad[i], NULL, &e), -EINVAL);
	CHECK_EQ_INT(bk_domain_add(s, "root", NULL, &e), -EEXIST);
	CHECK(has(&e, "domain root already exists"));
	CHECK_EQ_INT(bk_domain_exists(s, "finance"), 1);
	CHECK_EQ_INT(bk_domain_exists(s, "nope"), 0);
	CHECK_EQ_INT(bk_domain_foreach(s, domain_cb, &n, &e), 0);
	CHECK_EQ_INT(n.n, 4);
	CHECK(!strncmp(n.buf, d64, 64) &&
	      !strcmp(n.buf + 64, ",finance,hr.eu_1-x,root,"));
}

/* The clear material of a resource, through the root of trust; checks
 * it is stored wrapped and that the fingerprint is its SHA-256. */
static size_t material(struct bk_store *s, struct bk_rot *rot,
		       const char *domain, const char *name, uint8_t *out)
{
	sqlite3_stmt *st;
	uint8_t *clear = NULL;
	size_t len = 0, wlen;
	char hex[65];
	const void *w;

	CHECK_EQ_INT(sqlite3_prepare_v2(bk_store_db(s),
		"SELECT material, fingerprint FROM resources WHERE domain = ?1"
		" AND type = 'keys' AND name = ?2 ORDER BY version DESC", -1,
		&st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		CHECK(!"key row found");
		sqlite3_finalize(st);
		return 0;
	}
	w = sqlite3_column_blob(st, 0);
	wlen = (size_t)sqlite3_column_bytes(st, 0);
	CHECK(w && wlen >= 16);
	CHECK_EQ_INT(bk_rot_unwrap(rot, w, wlen, &clear, &len, NULL), 0);
	if (clear) {
		/* Wrapped: the stored bytes are neither the key nor hold it. */
		CHECK(wlen != len || memcmp(w, clear, len));
		CHECK(len < 16 || !memmem(w, wlen, clear, 16));
		bk_sha256_hex(clear, len, hex);
		CHECK(!strcmp(hex, (const char *)sqlite3_column_text(st, 1)));
		if (out)
			memcpy(out, clear, len);
		bk_secure_free(clear, len);
	}
	sqlite3_finalize(st);
	return len;
}

/* Checks the DER PKCS#8 private key is of type id and bits bits. */
static void check_pkcs8(const uint8_t *der, size_t len, int id, int bits)
{
	const unsigned char *p = der;
	PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
	EVP_PKEY *k = p8 ? EVP_PKCS82PKEY(p8) : NULL;

	CHECK(p8 != NULL && p == der + len);
	CHECK(k != NULL);
	if (k) {
		CHECK_EQ_INT(EVP_PKEY_get_base_id(k), id);
		CHECK_EQ_INT(EVP_PKEY_get_bits(k), bits);
	}
	EVP_PKEY_free(k);
	PKCS8_PRIV_KEY_INFO_free(p8);
}

static json_object *get(struct bk_store *s, const char *domain,
			const char *type, const char *name)
{
	struct bk_err e = { 0 };
	json_object *o;
	char *j = NULL;

	if (bk_resource_get(s, domain, type, name, &j, &e))
		return NULL;
	o = json_tokener_parse(j);
	free(j);
	return o;
}

static void test_keys(struct bk_store *s, struct bk_rot *rot)
{
	static uint8_t buf[8192];
	struct bk_err e = { 0 };
	json_object *o, *v;
	char *id = NULL;

	CHECK_EQ_INT(bk_resource_add(s, rot, "root", "keys", "aes-default",
				     NULL, &id, &e), 0);
	CHECK(id && strlen(id) == 32);
	CHECK_EQ_INT(material(s, rot, "root", "aes-default", NULL), 32);
	o = get(s, "root", "keys", "aes-default");
	CHECK(o != NULL);
	CHECK(!strcmp(json_object_get_string(json_object_object_get(o, "id")),
		      id));
	CHECK(json_object_object_get_ex(o, "fingerprint", &v) &&
	      json_object_get_string_len(v) == 64);
	CHECK(!json_object_object_get_ex(o, "material", NULL));
	json_object_put(o);
	free(id);

	CHECK_EQ_INT(add(s, rot, "root", "keys", "aes128", "{\"algorithm\":\"aes\",\"size\":128}", &e), 0);
	CHECK_EQ_INT(material(s, rot, "root", "aes128", NULL), 16);
	CHECK_EQ_INT(add(s, rot, "root", "keys", "aes192", "{\"size\":192}", &e), 0);
	CHECK_EQ_INT(material(s, rot, "root", "aes192", NULL), 24);
	CHECK_EQ_INT(add(s, rot, "root", "keys", "hmac", "{\"algorithm\":\"HMAC\"}", &e), 0);
	CHECK_EQ_INT(material(s, rot, "root", "hmac", NULL), 32);
	CHECK_EQ_INT(add(s, rot, "root", "keys", "hmac512", "{\"algorithm\":\"Hmac\",\"size\":512}", &e), 0);
	CHECK_EQ_INT(material(s, rot, "root", "hmac512", NULL), 64);

	CHECK_EQ_INT(add(s, rot, "root", "keys", "ec", "{\"algorithm\":\"EC\"}", &e), 0);
	check_pkcs8(buf, material(s, rot, "root", "ec", buf), EVP_PKEY_EC, 256);
	CHECK_EQ_INT(add(s, rot, "root", "keys", "ec384", "{\"algorithm\":\"ec\",\"curve\":\"p-384\"}", &e), 0);
	check_pkcs8(buf, material(s, rot, "root", "ec384", buf), EVP_PKEY_EC, 384);
	CHECK_EQ_INT(add(s, rot, "root", "keys", "rsa", "{\"algorithm\":\"RSA\"}", &e), 0);
	check_pkcs8(buf, material(s, rot, "root", "rsa", buf), EVP_PKEY_RSA, 2048);

	/* Refusals, with words. */
	CHECK_EQ_INT(add(s, rot, "root", "keys", "x", "{\"algorithm\":\"DES\"}", &e), -EINVAL);
	CHECK(has(&e, "DES"));
	CHECK_EQ_INT(add(s, rot, "root", "keys", "x", "{\"size\":100}", &e), -EINVAL);
	CHECK(has(&e, "AES size must be 128, 192 or 256"));
	CHECK_EQ_INT(add(s, rot, "root", "keys", "x", "{\"size\":0}", &e), -EINVAL);
	CHECK_EQ_INT(add(s, rot, "root", "keys", "x", "{\"size\":\"256\"}", &e), -EINVAL);
	CHECK_EQ_INT(add(s, rot, "root", "keys", "x", "{\"algorithm\":\"HMAC\",\"size\":128}", &e), -EINVAL);
	CHECK_EQ_INT(add(s, rot, "root", "keys", "x", "{\"algorithm\":\"EC\",\"curve\":\"P-521\"}", &e), -EINVAL);
	CHECK_EQ_INT(add(s, rot, "root", "keys", "x", "{\"algorithm\":\"EC\",\"curve\":\"P-256\",\"size\":384}", &e), -EINVAL);
	CHECK_EQ_INT(add(s, rot, "root", "keys", "x", "{\"algorithm\":\"RSA\",\"size\":1024}", &e), -EINVAL);
	CHECK_EQ_INT(add(s, rot, "root", "keys", "x", "{\"version\":-1}", &e), -EINVAL);
	CHECK_EQ_INT(add(s, rot, "root", "keys", "x", "{\"version\":\"1\"}", &e), -EINVAL);
	CHECK_EQ_INT(tu_scalar(s, "SELECT COUNT(*) FROM resources WHERE name = 'x'"), 0);

	/* Versions: the column, shown once at top level. */
	CHECK_EQ_INT(add(s, rot, "root", "keys", "k1", "{\"labels\":{\"a\":\"b\"}}", &e), 0);
	CHECK_EQ_INT(add(s, rot, "root", "keys", "k1", "{\"version\":0}", &e), -EEXIST);
	CHECK(!strcmp(e.msg, "keys 'k1' version 0 already exists in domain root"));
	CHECK_EQ_INT(add(s, rot, "root", "keys", "k1", "{\"version\":1,\"algorithm\":\"HMAC\"}", &e), 0);
	CHECK_EQ_INT(add(s, rot, "root", "keys", "k1", "{\"version\":1}", &e), -EEXIST);
	CHECK(!strcmp(e.msg, "keys 'k1' version 1 already exists in domain root"));
	CHECK_EQ_INT(add(s, rot, "finance", "keys", "k1", NULL, &e), 0);
	o = get(s, "root", "keys", "k1");
	CHECK(o != NULL);
	CHECK_EQ_INT(json_object_get_int(json_object_object_get(o, "version")), 1);
	v = json_object_object_get(o, "attrs");
	CHECK(!json_object_object_get_ex(v, "version", NULL));
	CHECK(!strcmp(json_object_get_string(json_object_object_get(v, "algorithm")), "HMAC"));
	json_object_put(o);
}

static void test_other_types(struct bk_store *s, struct bk_rot *rot)
{
	const char *const *types = bk_resource_types();
	struct bk_err e = { 0 };
	char name[300];
	json_object *o, *m;
	int n = 0;

	for (; types[n]; n++) {
		CHECK(bk_resource_type_valid(types[n]));
		CHECK_EQ_INT(add(s, rot, "finance", types[n], "one", "{\"note\":\"a/b\"}", &e), 0);
		o = get(s, "finance", types[n], "one");
		CHECK(o != NULL);
		CHECK(!strcmp(json_object_get_string(json_object_object_get(o, "type")), types[n]));
		CHECK(!strcmp(json_object_to_json_string_ext(json_object_object_get(o, "attrs"),
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), "{\"note\":\"a/b\"}"));
		CHECK_EQ_INT(json_object_object_get_ex(o, "fingerprint", NULL), !strcmp(types[n], "keys"));
		json_object_put(o);
	}
	CHECK_EQ_INT(n, 11);
	CHECK(!bk_resource_type_valid("Keys"));
	CHECK(!bk_resource_type_valid(NULL));
	CHECK_EQ_INT(add(s, rot, "finance", "widgets", "one", NULL, &e), -EINVAL);
	CHECK_EQ_INT(add(s, rot, "nope", "users", "u", NULL, &e), -ENOENT);
	CHECK(!strcmp(e.msg, "domain nope does not exist"));
	CHECK_EQ_INT(add(s, rot, "finance", "users", "", NULL, &e), -EINVAL);
	memset(name, 'n', 256);
	name[256] = '\0';
	CHECK_EQ_INT(add(s, rot, "finance", "users", name, NULL, &e), -EINVAL);
	name[255] = '\0';
	CHECK_EQ_INT(add(s, rot, "finance", "users", name, NULL, &e), 0);
	CHECK_EQ_INT(add(s, rot, "finance", "users", "u", "[1]", &e), -EINVAL);
	CHECK(has(&e, "must be a JSON object"));
	CHECK_EQ_INT(add(s, rot, "finance", "users", "u", "{\"a\":", &e), -EINVAL);
	CHECK_EQ_INT(add(s, rot, "finance", "users", "u", "{} {}", &e), -EINVAL);
	CHECK_EQ_INT(add(s, rot, "finance", "users", "u", "{\"a\":'x'}", &e), -EINVAL);
	CHECK_EQ_INT(add(s, rot, "finance", "users", "u", " {\"a\":1}\n", &e), 0);
	CHECK_EQ_INT(add(s, rot, "finance", "users", "one", NULL, &e), -EEXIST);
	CHECK(!strcmp(e.msg, "users 'one' already exists in domain finance"));

	/* Groups: members; users need not exist.  Policies: key links. */
	CHECK_EQ_INT(add(s, rot, "finance", "groups", "admins", "{\"members\":[\"bob\",\"alice\",\"bob\"]}", &e), 0);
	CHECK_EQ_INT(tu_scalar(s, "SELECT COUNT(*) FROM members WHERE domain = 'finance' AND group_name = 'admins'"), 2);
	o = get(s, "finance", "groups", "admins");
	m = json_object_object_get(o, "members");
	CHECK(m && !strcmp(json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN), "[\"alice\",\"bob\"]"));
	json_object_put(o);
	CHECK_EQ_INT(add(s, rot, "finance", "groups", "g2", "{\"members\":\"bob\"}", &e), -EINVAL);
	CHECK_EQ_INT(add(s, rot, "finance", "groups", "g2", "{\"members\":[1]}", &e), -EINVAL);
	CHECK_EQ_INT(add(s, rot, "finance", "groups", "g2", "{\"members\":[\"\"]}", &e), -EINVAL);
	CHECK_EQ_INT(tu_scalar(s, "SELECT COUNT(*) FROM resources WHERE name = 'g2'"), 0);
	CHECK_EQ_INT(add(s, rot, "finance", "cte_policies", "p1", "{\"keys\":[\"k1\",\"k2\"],\"policy_type\":\"LDT\"}", &e), 0);
	CHECK_EQ_INT(tu_scalar(s, "SELECT COUNT(*) FROM key_links WHERE domain = 'finance' AND policy_name = 'p1'"), 2);
	CHECK_EQ_INT(add(s, rot, "finance", "cte_policies", "p2", "{\"keys\":{}}", &e), -EINVAL);
}

struct collect {
	int n;
	char last[300];
};

static int res_cb(void *arg, json_object *r)
{
	struct collect *c = arg;

	c->n++;
	CHECK(json_object_object_get_ex(r, "id", NULL));
	return 0;
}

static int name_cb(void *arg, const char *name)
{
	struct collect *c = arg;

	CHECK(strcmp(c->last, name) < 0);
	snprintf(c->last, sizeof(c->last), "%s", name);
	c->n++;
	return 0;
}

static int stop_cb(void *arg, json_object *r)
{
	(void)arg;
	(void)r;
	return 42;
}

static void test_list_delete(struct bk_store *s)
{
	struct collect c = { 0, "" };
	struct bk_err e = { 0 };

	CHECK_EQ_INT(bk_resource_foreach(s, "finance", "groups", res_cb, &c, &e), 0);
	CHECK_EQ_INT(c.n, 2);
	c.n = 0;
	CHECK_EQ_INT(bk_resource_foreach(s, NULL, NULL, res_cb, &c, &e), 0);
	CHECK_EQ_INT(c.n, tu_scalar(s, "SELECT COUNT(*) FROM resources"));
	c.n = 0;
	CHECK_EQ_INT(bk_resource_foreach(s, NULL, "keys", res_cb, &c, &e), 0);
	CHECK_EQ_INT(c.n, tu_scalar(s, "SELECT COUNT(*) FROM resources WHERE type = 'keys'"));
	CHECK_EQ_INT(bk_resource_foreach(s, NULL, NULL, stop_cb, NULL, &e), 42);
	c.n = 0;
	CHECK_EQ_INT(bk_resource_names(s, "root", "keys", name_cb, &c, &e), 0);
	CHECK_EQ_INT(c.n, 9);		/* k1 twice, listed once */

	CHECK_EQ_INT(bk_resource_delete(s, "finance", "groups", "admins", &e), 0);
	CHECK_EQ_INT(tu_scalar(s, "SELECT COUNT(*) FROM members WHERE group_name = 'admins'"), 0);
	CHECK_EQ_INT(bk_resource_delete(s, "finance", "cte_policies", "p1", &e), 0);
	CHECK_EQ_INT(tu_scalar(s, "SELECT COUNT(*) FROM key_links WHERE policy_name = 'p1'"), 0);
	CHECK_EQ_INT(bk_resource_delete(s, "root", "keys", "k1", &e), 0);
	CHECK_EQ_INT(tu_scalar(s, "SELECT COUNT(*) FROM resources WHERE domain = 'root' AND name = 'k1'"), 0);
	CHECK_EQ_INT(tu_scalar(s, "SELECT COUNT(*) FROM resources WHERE domain = 'finance' AND name = 'k1'"), 1);
	CHECK_EQ_INT(bk_resource_delete(s, "root", "keys", "k1", &e), -ENOENT);
	CHECK(has(&e, "no keys named 'k1' in domain root"));
	CHECK(get(s, "root", "keys", "k1") == NULL);
}

static FILE *text_file(const char *text)
{
	return fmemopen((void *)text, strlen(text), "r");
}

static void test_import(struct bk_store *s, struct bk_rot *rot)
{
	static const char good[] =
		"{\"domain\":\"root\",\"type\":\"keys\",\"name\":\"imp-1\",\"attrs\":{\"algorithm\":\"AES\",\"size\":128}}\n"
		"\n   \n"
		"{\"domain\":\"root\",\"type\":\"users\",\"name\":\"imp-u\"}\r\n"
		"{\"domain\":\"finance\",\"type\":\"groups\",\"name\":\"imp-g\",\"attrs\":{\"members\":[\"imp-u\"]}}\n"
		"{\"domain\":\"root\",\"type\":\"keys\",\"name\":\"imp-1\",\"attrs\":{\"version\":3}}";
	static const char *const bad3[] = {
		"{\"domain\":\"root\",\"type\":\"users\",\"name\":\"bad-1\"}\n"
		"{\"domain\":\"root\",\"type\":\"keys\",\"name\":\"bad-2\"}\n"
		"{\"domain\":\"root\",\"type\":\"users\",\"name\":\"bad-3\",\"colour\":\"red\"}\n"
		"{\"domain\":\"root\",\"type\":\"users\",\"name\":\"bad-4\"}\n",
		"{\"domain\":\"root\",\"type\":\"users\",\"name\":\"bad-1\"}\n"
		"{\"domain\":\"root\",\"type\":\"keys\",\"name\":\"bad-2\"}\n"
		"{\"domain\":\"root\",\"type\":\"users\",\"name\":\"bad-3\"} x\n",
		"{\"domain\":\"root\",\"type\":\"users\",\"name\":\"bad-1\"}\n"
		"{\"domain\":\"root\",\"type\":\"keys\",\"name\":\"bad-2\"}\n"
		"{\"domain\":\"root\",\"type\":\"keys\",\"name\":\"bad-2\"}\n",
		"{\"domain\":\"root\",\"type\":\"users\",\"name\":\"bad-1\"}\n"
		"\n"
		"{\"domain\":\"nope\",\"type\":\"users\",\"name\":\"bad-3\"}\n",
		"{\"domain\":\"root\",\"type\":\"users\",\"name\":\"bad-1\"}\n"
		"{\"domain\":\"root\",\"type\":\"keys\",\"name\":\"bad-2\"}\n"
		"[1,2]\n",
		"{\"domain\":\"root\",\"type\":\"users\",\"name\":\"bad-1\"}\n"
		"{\"domain\":\"root\",\"type\":\"keys\",\"name\":\"bad-2\"}\n"
		"{\"domain\":\"root\",\"type\":\"users\",\"name\":\"bad-3\",\"attrs\":\"{}\"}\n",
	};
	long before = tu_scalar(s, "SELECT COUNT(*) FROM resources");
	struct bk_err e = { 0 };
	long count = -1;
	FILE *f;

	f = text_file(good);
	CHECK_EQ_INT(bk_resource_import(s, rot, f, &count, &e), 0);
	fclose(f);
	CHECK_EQ_INT(count, 4);
	CHECK_EQ_INT(tu_scalar(s, "SELECT COUNT(*) FROM resources"), before + 4);
	CHECK_EQ_INT(material(s, rot, "root", "imp-1", NULL), 32);	/* v3 */
	CHECK_EQ_INT(tu_scalar(s, "SELECT COUNT(*) FROM members WHERE group_name = 'imp-g'"), 1);

	for (size_t i = 0; i < sizeof(bad3) / sizeof(bad3[0]); i++) {
		bk_err_clear(&e);
		f = text_file(bad3[i]);
		CHECK(bk_resource_import(s, rot, f, &count, &e) < 0);
		fclose(f);
		CHECK(has(&e, "line 3: "));
		CHECK_EQ_INT(tu_scalar(s, "SELECT COUNT(*) FROM resources WHERE name LIKE 'bad-%'"), 0);
	}
	CHECK_EQ_INT(tu_scalar(s, "SELECT COUNT(*) FROM resources"), before + 4);
	f = text_file("");
	CHECK_EQ_INT(bk_resource_import(s, rot, f, &count, &e), 0);
	fclose(f);
	CHECK_EQ_INT(count, 0);

	/* Inside the caller's transaction, a failed import undoes only
	 * itself. */
	CHECK_EQ_INT(bk_store_begin(s, &e), 0);
	CHECK_EQ_INT(add(s, rot, "root", "users", "in-tx", NULL, &e), 0);
	f = text_file(bad3[0]);
	CHECK(bk_resource_import(s, rot, f, &count, &e) < 0);
	fclose(f);
	CHECK_EQ_INT(bk_store_commit(s, &e), 0);
	CHECK_EQ_INT(tu_scalar(s, "SELECT COUNT(*) FROM resources WHERE name = 'in-tx'"), 1);
	CHECK_EQ_INT(tu_scalar(s, "SELECT COUNT(*) FROM resources WHERE name LIKE 'bad-%'"), 0);
}

/* One string: every resource, in rowid order, with its rowid. */
static char *resources_text(sqlite3 *db)
{
	sqlite3_stmt *st;
	char *t = NULL;

	if (sqlite3_prepare_v2(db, "SELECT group_concat(x, '|') FROM (SELECT"
			       " rowid || ',' || id || ',' || domain || ',' ||"
			       " type || ',' || name || ',' || version || ','"
			       " || hex(material) AS x FROM resources"
			       " ORDER BY rowid)", -1, &st, NULL) != SQLITE_OK)
		return NULL;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		t = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return t;
}

/* Migration 8 on a database of schema 7 that holds resources: every row
 * kept with its rowid, the two unique constraints now the named indexes,
 * and still enforced, with their own words. */
static void test_migration_8(struct bk_rot *rot)
{
	struct bk_store *s = NULL;
	struct bk_err e = { 0 };
	struct bk_res_row r = { 0 };
	char *before, *after, id[33];
	sqlite3 *raw;

	CHECK_EQ_INT(sqlite3_open(db_path, &raw), SQLITE_OK);
	/* The resources table as schema 7 had it. */
	CHECK_EQ_INT(sqlite3_exec(raw,
		"BEGIN;"
		"CREATE TABLE old(id TEXT PRIMARY KEY,"
		"  domain TEXT NOT NULL REFERENCES domains(name),"
		"  type TEXT NOT NULL, name TEXT NOT NULL,"
		"  version INTEGER NOT NULL DEFAULT 0,"
		"  attrs TEXT NOT NULL DEFAULT '{}', material BLOB,"
		"  fingerprint TEXT, created_at TEXT NOT NULL,"
		"  UNIQUE(domain, type, name, version));"
		"INSERT INTO old(rowid, id, domain, type, name, version, attrs,"
		"  material, fingerprint, created_at) SELECT rowid, id, domain,"
		"  type, name, version, attrs, material, fingerprint, created_at"
		"  FROM resources;"
		"DROP TABLE resources;"
		"ALTER TABLE old RENAME TO resources;"
		"PRAGMA user_version = 7;"
		"COMMIT;", NULL, NULL, NULL), SQLITE_OK);
	before = resources_text(raw);
	sqlite3_close(raw);
	CHECK(before && strchr(before, '|'));	/* several resources */

	CHECK_EQ_INT(bk_store_open(db_path, 0, &s, &e), 0);
	if (!s)
		return;
	CHECK_EQ_INT(tu_scalar(s, "PRAGMA user_version"),
		     bk_store_schema_version());
	after = resources_text(bk_store_db(s));
	CHECK(before && after && !strcmp(before, after));
	CHECK_EQ_INT(tu_scalar(s, "SELECT COUNT(*) FROM sqlite_master WHERE"
		" type = 'index' AND name IN ('resources_by_id',"
		"'resources_by_key')"), 2);
	CHECK_EQ_INT(tu_scalar(s, "SELECT COUNT(*) FROM sqlite_master WHERE"
		" name LIKE 'sqlite_autoindex_resources%'"), 0);

	/* A taken name, and a taken id. */
	CHECK_EQ_INT(add(s, rot, "root", "users", "u1", NULL, &e), 0);
	CHECK_EQ_INT(add(s, rot, "root", "users", "u1", NULL, &e), -EEXIST);
	CHECK(has(&e, "users 'u1' already exists in domain root"));
	snprintf(id, sizeof(id), "%.32s", after ? after + strcspn(after, ",") + 1 : "");
	r.id = id;
	r.domain = "root";
	r.type = "users";
	r.name = "u2";
	r.attrs = "{}";
	r.created_at = "2026-11-28T00:00:00Z";
	bk_err_clear(&e);
	CHECK_EQ_INT(bk_res_insert(s, &r, &e), -EEXIST);
	CHECK(has(&e, "resource id ") && has(&e, "already exists"));
	free(before);
	free(after);
	bk_store_close(s);
}

int main(void)
{
	struct bk_store *s = NULL;
	struct bk_rot *rot = NULL;
	struct bk_err e = { 0 };
	char now[32];

	CHECK_EQ_INT(bk_crypto_init(), 0);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(db_path, sizeof(db_path), "%s/backupfs.db", dir);
	snprintf(rot_path, sizeof(rot_path), "%s/rot.key", dir);
	CHECK(bk_now(now) > 1600000000LL);
	CHECK(strlen(now) == 20 && now[10] == 'T' && now[19] == 'Z');

	test_open();
	test_old_pages();
	CHECK_EQ_INT(bk_rot_soft_create(rot_path, &e), 0);
	CHECK_EQ_INT(bk_rot_soft_open(rot_path, &rot, &e), 0);
	CHECK_EQ_INT(bk_store_open(db_path, 0, &s, &e), 0);
	if (!s || !rot) {
		fprintf(stderr, "setup failed: %s\n", e.msg);
		return 1;
	}
	test_settings(s);
	test_domains(s);
	test_keys(s, rot);
	test_other_types(s, rot);
	test_list_delete(s);
	test_import(s, rot);
	bk_store_close(s);
	test_migration_8(rot);
	bk_rot_free(rot);

	tu_cleanup(dir, tmp_files, sizeof(tmp_files) / sizeof(tmp_files[0]));
	return check_done("test_store");
}
