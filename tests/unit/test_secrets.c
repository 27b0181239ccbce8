/* test_secrets.c - secrets hygiene (issue 6): no clear secret at rest.
 *
 * A demo state directory, plus keys of every algorithm, is driven through
 * a system backup, a domain backup of root, a key export (written to a
 * file beside the state directory), its import into finance and a restore
 * of the system backup.  The clear secrets - every key resource's
 * material (unwrapped with the root of trust), every backup key, the
 * passphrase and the root-of-trust key - are then looked for in every
 * file under the state directory (database, WAL, shared memory, archives,
 * reports, staging) and in the exported key file, after each step, with
 * the engine open and again after it is closed: raw bytes, and for
 * secrets of 16 bytes or more their hex (both cases) and base64, and the
 * first base64 line (64 characters) of longer ones, as PEM would have it.
 * rot.key may hold its own bytes and nothing else.  A hit names the file,
 * the step, the secret and the encoding.
 *
 * Modes: the state directory 0700; rot.key, backupfs.db and every archive
 * 0600; no directory and no file under it (restore reports included)
 * open to group or others.
 *
 * The scanner itself is checked first: a planted file holding one secret
 * raw, in hex and in base64 gives exactly those hits. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"
#include "core/crypto.h"
#include "core/engine.h"
#include "core/engine_int.h"
#include "core/store.h"
#include "hsm/rot.h"

static char tmp[] = "/tmp/bk-test-secrets-XXXXXX";
static char state[300], rot_path[320], keyfile_path[320];

static const char pass[] = "hygiene-test passphrase 7f3c9a1e";

/* ---- the clear secrets ---- */

struct secret {
	char kind[200];			/* what it is, for a hit's message */
	uint8_t *buf;
	size_t len;
	int rot_key;			/* allowed in rot.key */
};

static struct secret *secrets;
static size_t nsecrets;

/* Adds a copy of buf unless the same bytes are known already. */
static void secret_add(const char *kind, const uint8_t *buf, size_t len,
		       int rot_key)
{
	struct secret *s;

	for (size_t i = 0; i < nsecrets; i++)
		if (secrets[i].len == len && !memcmp(secrets[i].buf, buf, len))
			return;
	secrets = realloc(secrets, (nsecrets + 1) * sizeof(*secrets));
	s = &secrets[nsecrets++];
	snprintf(s->kind, sizeof(s->kind), "%s", kind);
	s->buf = malloc(len);
	memcpy(s->buf, buf, len);
	s->len = len;
	s->rot_key = rot_key;
}

/* Every key resource's material, unwrapped. */
static void collect_key_resources(struct bk_engine *e)
{
	sqlite3_stmt *st;
	int n = 0;

	pthread_mutex_lock(&e->db_lock);
	CHECK_EQ_INT(sqlite3_prepare_v2(bk_store_db(e->store),
		"SELECT domain, name, version, material FROM resources"
		" WHERE type = 'keys'", -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const uint8_t *w = sqlite3_column_blob(st, 3);
		size_t wlen = (size_t)sqlite3_column_bytes(st, 3);
		uint8_t *clear = NULL;
		size_t clen = 0;
		struct bk_err err = { 0 };
		char kind[200];
		int ret;

		n++;
		CHECK(w && wlen > 0);
		if (!w || !wlen)
			continue;
		ret = bk_rot_unwrap(e->rot, w, wlen, &clear, &clen, &err);
		if (ret)
			fprintf(stderr, "unwrap %s/%s: %s\n",
				sqlite3_column_text(st, 0),
				sqlite3_column_text(st, 1), err.msg);
		CHECK_EQ_INT(ret, 0);
		if (ret)
			continue;
		snprintf(kind, sizeof(kind), "key resource %s/%s v%d (%zu bytes)",
			 sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
			 sqlite3_column_int(st, 2), clen);
		secret_add(kind, clear, clen, 0);
		bk_secure_free(clear, clen);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&e->db_lock);
	CHECK(n >= 10);
}

/* Every backup key, clear. */
static void collect_backup_keys(struct bk_engine *e)
{
	sqlite3_stmt *st;
	int n = 0;

	pthread_mutex_lock(&e->db_lock);
	CHECK_EQ_INT(sqlite3_prepare_v2(bk_store_db(e->store),
		"SELECT scope, domain, id FROM backup_keys", -1, &st, NULL),
		SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *scope = (const char *)sqlite3_column_text(st, 0);
		const char *domain = (const char *)sqlite3_column_text(st, 1);
		const char *id = (const char *)sqlite3_column_text(st, 2);
		const char *d = strcmp(scope, "system") ? domain : NULL;
		uint8_t key[32];
		struct bk_err err = { 0 };
		char kind[200];
		int ret;

		n++;
		ret = bk_key_load(e, e->store, d, id, key, &err);
		if (ret)
			fprintf(stderr, "load backup key %s/%s/%s: %s\n",
				scope, domain, id, err.msg);
		CHECK_EQ_INT(ret, 0);
		if (ret)
			continue;
		snprintf(kind, sizeof(kind), "backup key %s%s%s %s", scope,
			 d ? "/" : "", d ? d : "", id);
		secret_add(kind, key, sizeof(key), 0);
		memset(key, 0, sizeof(key));
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&e->db_lock);
	CHECK(n >= 2);
}

static void collect_rot_key(void)
{
	uint8_t buf[64];
	int fd = open(rot_path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));

	CHECK_EQ_INT(n, BK_KEY_LEN);
	if (n == BK_KEY_LEN)
		secret_add("root-of-trust key (rot.key)", buf, (size_t)n, 1);
	if (fd >= 0)
		close(fd);
}

/* ---- scanning ---- */

static void hex(const uint8_t *buf, size_t len, char *out, int upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[buf[i] >> 4];
		out[2 * i + 1] = digits[buf[i] & 15];
	}
	out[2 * len] = '\0';
}

static const char *phase;
static int hits, files_scanned, quiet;

static int read_all(const char *path, uint8_t **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 65536, n;

	if (!f)
		return -1;
	*buf = malloc(cap);
	*len = 0;
	while ((n = fread(*buf + *len, 1, cap - *len, f)) > 0) {
		*len += n;
		if (*len == cap)
			*buf = realloc(*buf, cap *= 2);
	}
	fclose(f);
	return 0;
}

static void report_hit(const char *path, const struct secret *s,
		       const char *enc, const uint8_t *data, const void *at)
{
	hits++;
	if (!quiet)
		fprintf(stderr, "LEAK [%s]: %s holds %s (%s) at offset %td\n",
			phase, path, s->kind, enc, (const uint8_t *)at - data);
}

static void scan_file(const char *path)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int is_rot = !strcmp(path, rot_path);

	if (read_all(path, &data, &len)) {
		/* the WAL or shared memory may go away under us */
		if (errno != ENOENT) {
			fprintf(stderr, "cannot read %s\n", path);
			CHECK(0);
		}
		return;
	}
	files_scanned++;
	for (size_t i = 0; i < nsecrets; i++) {
		const struct secret *s = &secrets[i];
		char *enc;
		const void *at;

		if (!(is_rot && s->rot_key) &&
		    (at = memmem(data, len, s->buf, s->len)))
			report_hit(path, s, "raw", data, at);
		if (s->len < 16)
			continue;
		enc = malloc(2 * s->len + 1);
		hex(s->buf, s->len, enc, 0);
		if ((at = memmem(data, len, enc, 2 * s->len)))
			report_hit(path, s, "hex", data, at);
		hex(s->buf, s->len, enc, 1);
		if ((at = memmem(data, len, enc, 2 * s->len)))
			report_hit(path, s, "HEX", data, at);
		free(enc);
		enc = bk_b64_encode(s->buf, s->len);
		CHECK(enc != NULL);
		if (enc && (at = memmem(data, len, enc, strlen(enc))))
			report_hit(path, s, "base64", data, at);
		/* the first line of a PEM body */
		if (enc && s->len > 48 && (at = memmem(data, len, enc, 64)))
			report_hit(path, s, "base64 first 64 chars", data, at);
		free(enc);
	}
	free(data);
}

static int scan_cb(const char *path, const struct stat *st, int type,
		   struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_F && S_ISREG(st->st_mode))
		scan_file(path);
	return 0;
}

/* Scans every file under the temporary directory (the state directory
 * and the exported key file). */
static void scan(const char *what)
{
	int before = hits;

	phase = what;
	files_scanned = 0;
	CHECK_EQ_INT(nftw(tmp, scan_cb, 16, FTW_PHYS), 0);
	CHECK(files_scanned >= 3);
	if (hits != before)
		fprintf(stderr, "%s: %d hit(s) in %d files, %zu secrets\n",
			what, hits - before, files_scanned, nsecrets);
	CHECK_EQ_INT(hits - before, 0);
}

/* A planted file with the last secret (the passphrase) raw, in hex and
 * in base64, and the first (rot.key) raw: four hits, no more. */
static void self_test(void)
{
	char path[400], h[2 * 64 + 1];
	const struct secret *s = &secrets[nsecrets - 1];
	char *b = bk_b64_encode(s->buf, s->len);
	FILE *f;
	int before = hits;

	CHECK(s->len <= 64 && secrets[0].rot_key);
	hex(s->buf, s->len, h, 0);
	snprintf(path, sizeof(path), "%s/planted", tmp);
	f = fopen(path, "wb");
	CHECK(f != NULL);
	if (!f)
		return;
	fprintf(f, "x%.*s--%s--%s--", (int)s->len, (const char *)s->buf, h, b);
	fwrite(secrets[0].buf, 1, secrets[0].len, f);
	fclose(f);
	free(b);
	phase = "self-test";
	quiet = 1;
	scan_file(path);
	quiet = 0;
	CHECK_EQ_INT(hits - before, 4);
	hits = before;
	unlink(path);
}

/* ---- modes ---- */

static int mode_of(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "stat %s: %s\n", path, strerror(errno));
		return -1;
	}
	return (int)(st.st_mode & 07777);
}

static int archives_seen, bad_modes;

static int mode_cb(const char *path, const struct stat *st, int type,
		   struct FTW *ftw)
{
	int m = (int)(st->st_mode & 07777);

	(void)ftw;
	if (type == FTW_F && strstr(path, "/archives/")) {
		archives_seen++;
		if (m != 0600) {
			fprintf(stderr, "archive %s has mode %o, not 600\n",
				path, m);
			bad_modes++;
		}
	}
	/* every file (database, WAL, shared memory, rot.key, archives,
	 * staging, restore reports) and every directory */
	if ((type == FTW_D || type == FTW_F) &&
	    (m & 077)) {
		fprintf(stderr, "%s has mode %o: group or others have access\n",
			path, m);
		bad_modes++;
	}
	return 0;
}

static void check_modes(const char *what)
{
	char p[400];

	CHECK_EQ_INT(mode_of(state), 0700);
	CHECK_EQ_INT(mode_of(rot_path), 0600);
	snprintf(p, sizeof(p), "%s/backupfs.db", state);
	CHECK_EQ_INT(mode_of(p), 0600);
	archives_seen = bad_modes = 0;
	CHECK_EQ_INT(nftw(state, mode_cb, 16, FTW_PHYS), 0);
	if (bad_modes)
		fprintf(stderr, "%s: %d bad mode(s)\n", what, bad_modes);
	CHECK_EQ_INT(bad_modes, 0);
	CHECK_EQ_INT(archives_seen, 2);
}

/* ---- the engine's operations ---- */

static void must(int ret, const char *what, const struct bk_err *err)
{
	if (ret)
		fprintf(stderr, "%s: %s (%d)\n", what, err->msg, ret);
	CHECK_EQ_INT(ret, 0);
	if (ret)
		exit(check_done("test_secrets"));
}

static void completed(struct bk_engine *e, const char *domain,
		      const char *id)
{
	struct bk_backup_info info;
	struct bk_err err = { 0 };

	must(bk_backup_get(e, domain, id, &info, &err), "backup get", &err);
	if (strcmp(info.status, "Completed"))
		fprintf(stderr, "backup %s: %s\n", id, info.status);
	CHECK(!strcmp(info.status, "Completed"));
	CHECK_EQ_INT(mode_of(info.archive_path), 0600);
}

static void add_keys(struct bk_engine *e)
{
	static const char *const keys[][3] = {
		{ "root", "extra-aes-128", "{\"algorithm\":\"AES\",\"size\":128}" },
		{ "root", "extra-aes-192", "{\"algorithm\":\"AES\",\"size\":192}" },
		{ "finance", "extra-aes-256", "{\"algorithm\":\"AES\",\"size\":256}" },
		{ "root", "extra-hmac-384", "{\"algorithm\":\"HMAC\",\"size\":384}" },
		{ "hr", "extra-hmac-512", "{\"algorithm\":\"HMAC\",\"size\":512}" },
		{ "root", "extra-ec-384", "{\"algorithm\":\"EC\",\"curve\":\"P-384\"}" },
		{ "finance", "extra-ec-256", "{\"algorithm\":\"EC\"}" },
		{ "root", "extra-rsa-2048", "{\"algorithm\":\"RSA\",\"size\":2048}" },
	};
	struct bk_err err = { 0 };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		must(bk_engine_resource_add(e, keys[i][0], "keys", keys[i][1],
					    keys[i][2], NULL, &err),
		     keys[i][1], &err);
}

int main(void)
{
	struct bk_init_opts o = { .demo = 1 };
	struct bk_engine *e = NULL;
	struct bk_err err = { 0 };
	char *sys_id = NULL, *dom_id = NULL, *key_id = NULL, *imp_id = NULL;
	uint8_t *kf = NULL;
	size_t kflen = 0;
	FILE *f;

	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(state, sizeof(state), "%s/state", tmp);
	snprintf(rot_path, sizeof(rot_path), "%s/rot.key", state);
	snprintf(keyfile_path, sizeof(keyfile_path), "%s/exported.bkey", tmp);

	must(bk_state_init(state, &o, &err), "state init", &err);
	must(bk_engine_open(state, BK_ENGINE_DAEMON, &e, &err), "open", &err);
	add_keys(e);
	must(bk_pass_set(e, 0, pass, strlen(pass), &err), "pass set", &err);

	collect_rot_key();
	collect_key_resources(e);
	collect_backup_keys(e);
	secret_add("passphrase of uid 0", (const uint8_t *)pass, strlen(pass),
		   0);
	CHECK(nsecrets >= 1 + 15 + 2 + 1);
	self_test();
	scan("after init");

	/* a system backup */
	must(bk_backup_start(e, NULL, "{}", 0, &sys_id, &err),
	     "system backup", &err);
	bk_status_wait(e);
	completed(e, NULL, sys_id);
	scan("after the system backup");

	/* a domain backup of root */
	must(bk_backup_start(e, "root", "{}", 0, &dom_id, &err),
	     "domain backup", &err);
	bk_status_wait(e);
	completed(e, "root", dom_id);
	scan("after the domain backup");

	/* root's default key exported to a file, imported into finance */
	must(bk_key_default(e, "root", &key_id, &err), "default key", &err);
	must(bk_key_export(e, "root", key_id, 0, &kf, &kflen, &err),
	     "key export", &err);
	f = fopen(keyfile_path, "wb");
	CHECK(f != NULL);
	if (f) {
		CHECK_EQ_INT(fwrite(kf, 1, kflen, f), kflen);
		fclose(f);
	}
	chmod(keyfile_path, 0600);
	scan("after the key export");
	must(bk_key_import(e, "finance", kf, kflen, 0, &imp_id, &err),
	     "key import", &err);
	CHECK(imp_id && !strcmp(imp_id, key_id));
	collect_backup_keys(e);		/* the same key, now in finance */
	scan("after the key import");

	/* a restore of the system backup */
	must(bk_restore_start(e, NULL, sys_id, "{}", 0, &err), "restore",
	     &err);
	bk_status_wait(e);
	{
		char *st = NULL;

		must(bk_status_json(e, &st, &err), "status", &err);
		if (!st || strstr(st, "Failed"))
			fprintf(stderr, "status after restore: %s", st);
		CHECK(st && !strstr(st, "\"Failed\""));
		free(st);
	}
	collect_key_resources(e);	/* anything the restore added */
	collect_backup_keys(e);
	{
		char wal[400];
		struct stat st;

		snprintf(wal, sizeof(wal), "%s/backupfs.db-wal", state);
		CHECK(stat(wal, &st) == 0 && st.st_size > 0);
	}
	scan("after the restore, engine open");
	check_modes("engine open");

	bk_engine_close(e);
	e = NULL;
	scan("after close");
	check_modes("after close");

	/* a second open and close checkpoints whatever the first left */
	must(bk_engine_open(state, 0, &e, &err), "reopen", &err);
	scan("reopened");
	bk_engine_close(e);
	scan("after the second close");

	printf("scanned for %zu secrets; %d hit(s)\n", nsecrets, hits);

	free(kf);
	free(sys_id);
	free(dom_id);
	free(key_id);
	free(imp_id);
	for (size_t i = 0; i < nsecrets; i++) {
		memset(secrets[i].buf, 0, secrets[i].len);
		free(secrets[i].buf);
	}
	free(secrets);
	tu_rmtree(tmp);
	return check_done("test_secrets");
}
