/* gen_seeds.c - writes the seed corpora of the fuzz targets whose inputs
 * are binary or made by the engine: tests/fuzz/corpus/{archive,keyfile,
 * snapshot}/.  The text corpora (filters, request, release) are written
 * by hand.  Run it from a fuzz build when a format changes:
 *
 *   build-fuzz/fuzz_gen_seeds tests/fuzz/corpus
 *
 * Archives are made with the fixed key of fuzz_common.h; key files with
 * the fixed passphrase, two of them with the cheapest scrypt the reader
 * accepts (N = 2^14, r = 1, p = 1: put together here by hand, as the
 * exporter always uses N = 2^17) so that fuzz_keyfile reaches the
 * decryption; snapshots are real payloads of a small store.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/archive.h"
#include "core/crypto.h"
#include "core/keyfile.h"
#include "core/snapshot.h"
#include "core/store.h"
#include "fuzz_common.h"
#include "hsm/rot.h"

static const char *out_dir;

static void die(const char *what, const struct bk_err *e)
{
	fprintf(stderr, "gen_seeds: %s: %s\n", what, e ? e->msg : "failed");
	exit(1);
}

static void save(const char *sub, const char *name, const void *buf,
		 size_t len)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", out_dir, sub);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, sub, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || fz_write_all(fd, buf, len) || close(fd))
		die(path, NULL);
}

/* ---- snapshots ---- */

struct mem {
	uint8_t *buf;
	size_t len;
};

static int mem_sink(void *arg, const void *buf, size_t len,
		    struct bk_err *err)
{
	struct mem *m = arg;
	uint8_t *p = realloc(m->buf, m->len + len);

	if (!p)
		return bk_errf(err, -ENOMEM, "out of memory");
	memcpy(p + m->len, buf, len);
	m->buf = p;
	m->len += len;
	return 0;
}

static void add(struct bk_store *s, struct bk_rot *rot, const char *domain,
		const char *type, const char *name, const char *attrs)
{
	struct bk_err e = { 0 };

	if (bk_resource_add(s, rot, domain, type, name, attrs, NULL, &e))
		die("resource", &e);
}

static struct mem snapshot(struct bk_store *s, struct bk_rot *rot,
			   const char *domain, const char *filters)
{
	json_object *f = filters ? json_tokener_parse(filters) : NULL;
	json_object *counts = json_object_new_object();
	struct mem m = { 0 };
	struct bk_err e = { 0 };

	if (bk_snapshot_write(s, rot, domain, f, mem_sink, &m, counts, NULL,
			      NULL, &e))
		die("snapshot", &e);
	json_object_put(f);
	json_object_put(counts);
	return m;
}

static struct mem snapshots(struct mem *domain_payload)
{
	char dir[] = "/tmp/bk-fuzz-seeds-XXXXXX", path[64];
	struct bk_rot *rot = NULL;
	struct bk_store *s = NULL;
	struct bk_err e = { 0 };
	struct mem sys;

	if (!mkdtemp(dir))
		die("mkdtemp", NULL);
	snprintf(path, sizeof(path), "%s/rot.key", dir);
	if (bk_rot_soft_create(path, &e) || bk_rot_soft_open(path, &rot, &e))
		die("root of trust", &e);
	snprintf(path, sizeof(path), "%s/store.db", dir);
	if (bk_store_open(path, 1, &s, &e))
		die("store", &e);
	if (bk_domain_add(s, "root", NULL, &e) ||
	    bk_domain_add(s, "finance", NULL, &e))
		die("domain", &e);
	add(s, rot, "root", "keys", "aes", "{\"algorithm\":\"AES\",\"size\":256,\"labels\":{\"app\":\"payroll\"}}");
	add(s, rot, "root", "keys", "aes", "{\"version\":1}");
	add(s, rot, "root", "keys", "ec", "{\"algorithm\":\"EC\",\"curve\":\"P-384\"}");
	add(s, rot, "root", "users", "alice", "{\"email\":\"alice@example.com\",\"note\":\"uni \\u00e9\"}");
	add(s, rot, "root", "groups", "admins", "{\"members\":[\"alice\"]}");
	add(s, rot, "root", "cte_policies", "std", "{\"policy_type\":\"Standard\",\"keys\":[\"aes\",\"ec\"]}");
	add(s, rot, "finance", "keys", "ledger", "{\"labels\":{\"app\":\"cte\"}}");
	add(s, rot, "finance", "users", "bob", "{\"email\":\"bob@local\"}");
	add(s, rot, "finance", "groups", "auditors", "{\"members\":[\"bob\"]}");
	add(s, rot, "finance", "cte_policies", "p1", "{\"policy_type\":\"LDT\",\"keys\":[\"ledger\"]}");
	add(s, rot, "finance", "customer_fragments", "frag", NULL);
	sys = snapshot(s, rot, NULL, NULL);
	save("snapshot", "system", sys.buf, sys.len);
	*domain_payload = snapshot(s, rot, "finance", NULL);
	save("snapshot", "domain", domain_payload->buf, domain_payload->len);
	struct mem filtered = snapshot(s, rot, "finance",
		"[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"labels\":{\"app\":\"cte\"}}},"
		"{\"resourceType\":\"users_groups\",\"resourceQuery\":{\"name\":\"bob\"}}]");
	save("snapshot", "domain-filtered", filtered.buf, filtered.len);
	free(filtered.buf);
	bk_store_close(s);
	bk_rot_free(rot);
	/* The store's files. */
	static const char *const files[] = { "rot.key", "store.db",
		"store.db-wal", "store.db-shm" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
	return sys;
}

/* ---- archives ---- */

static json_object *header(const char *id, const char *domain)
{
	json_object *h = json_object_new_object();

	json_object_object_add(h, "id", json_object_new_string(id));
	json_object_object_add(h, "scope",
			       json_object_new_string(domain ? "domain" : "system"));
	json_object_object_add(h, "domain",
			       domain ? json_object_new_string(domain) : NULL);
	json_object_object_add(h, "createdAt",
			       json_object_new_string("2024-05-01T10:00:00Z"));
	json_object_object_add(h, "productVersion",
			       json_object_new_string("0.1.0"));
	json_object_object_add(h, "description",
			       json_object_new_string("fuzz seed"));
	json_object_object_add(h, "backupKey", json_object_new_string("k1"));
	json_object_object_add(h, "tiedToHSM", json_object_new_boolean(0));
	return h;
}

static void archive(const char *name, const char *domain, const void *payload,
		    size_t len, int hsm_wrap)
{
	struct bk_archive_writer *w = NULL;
	json_object *h = header(name, domain), *fin = json_object_new_object();
	struct bk_err e = { 0 };
	uint8_t key[32], wrapped[40];
	off_t total = 0;
	void *map;
	int fd = memfd_create("seed", 0);

	fz_fixed_key(key);
	memset(wrapped, 0xa5, sizeof(wrapped));
	json_object_object_add(fin, "counts", json_object_new_object());
	if (fd < 0 || bk_archive_writer_new(fd, h, key, &w, &e))
		die("archive", &e);
	if (hsm_wrap && bk_archive_writer_add_wrap(w, "hsm", "rot-1",
						   "AES-KWP", wrapped,
						   sizeof(wrapped), &e))
		die("archive wrap", &e);
	if (bk_archive_writer_write(w, payload, len, &e) ||
	    bk_archive_writer_finish(w, fin, &total, &e))
		die("archive write", &e);
	bk_archive_writer_free(w);
	map = mmap(NULL, (size_t)total, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		die("mmap", NULL);
	save("archive", name, map, (size_t)total);
	munmap(map, (size_t)total);
	close(fd);
	json_object_put(h);
	json_object_put(fin);
}

/* ---- key files ---- */

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void b64(json_object *o, const char *k, const uint8_t *buf, size_t n)
{
	char *s = bk_b64_encode(buf, n);

	json_object_object_add(o, k, json_object_new_string(s));
	free(s);
}

/* A key file as keyfile.c writes it, with scrypt N = 2^14, r = 1, p = 1. */
static void cheap_keyfile(const char *name, const char *domain)
{
	static const char check_info[] = "backupfs passphrase check v1";
	uint8_t salt[16], nonce[12], dk[64], mac[32], key[32], *buf;
	json_object *o = json_object_new_object(), *kdf = json_object_new_object();
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	unsigned int maclen = 0;
	const char *s;
	size_t j, len;
	int n;

	for (int i = 0; i < 16; i++)
		salt[i] = (uint8_t)(i * 7 + 1);
	for (int i = 0; i < 12; i++)
		nonce[i] = (uint8_t)(i * 13 + 5);
	fz_fixed_key(key);
	if (EVP_PBE_scrypt(FZ_PASSPHRASE, strlen(FZ_PASSPHRASE), salt, 16,
			   1 << 14, 1, 1, 64 << 20, dk, 64) != 1 ||
	    !HMAC(EVP_sha256(), dk + 32, 32, (const uint8_t *)check_info,
		  strlen(check_info), mac, &maclen))
		die("scrypt", NULL);
	json_object_object_add(o, "id", json_object_new_string("0123456789abcdef0123456789abcdef"));
	json_object_object_add(o, "name", json_object_new_string("default"));
	json_object_object_add(o, "scope",
			       json_object_new_string(domain ? "domain" : "system"));
	json_object_object_add(o, "domain",
			       domain ? json_object_new_string(domain) : NULL);
	json_object_object_add(o, "createdAt",
			       json_object_new_string("2024-05-01T10:00:00Z"));
	json_object_object_add(o, "fingerprint", json_object_new_string("ab12"));
	json_object_object_add(kdf, "alg", json_object_new_string("scrypt"));
	json_object_object_add(kdf, "logN", json_object_new_int(14));
	json_object_object_add(kdf, "r", json_object_new_int(1));
	json_object_object_add(kdf, "p", json_object_new_int(1));
	b64(kdf, "salt", salt, 16);
	json_object_object_add(o, "format", json_object_new_int(1));
	json_object_object_add(o, "kdf", kdf);
	json_object_object_add(o, "cipher", json_object_new_string("AES-256-GCM"));
	b64(o, "nonce", nonce, 12);
	b64(o, "check", mac, 16);
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
	j = strlen(s);
	len = 12 + j + 48;
	buf = malloc(len);
	memcpy(buf, "BKFSKEY\001", 8);
	be32(buf + 8, (uint32_t)j);
	memcpy(buf + 12, s, j);
	if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, dk,
				       nonce) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, buf, (int)(12 + j)) != 1 ||
	    EVP_EncryptUpdate(ctx, buf + 12 + j, &n, key, 32) != 1 ||
	    EVP_EncryptFinal_ex(ctx, buf + 12 + j + 32, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16,
				buf + 12 + j + 32) != 1)
		die("gcm", NULL);
	{	/* The reader must take it, or the seed is useless. */
		struct bk_err e = { 0 };
		uint8_t got[32];

		if (bk_keyfile_import(buf, len, FZ_PASSPHRASE,
				      strlen(FZ_PASSPHRASE), NULL, got, &e) ||
		    memcmp(got, key, 32))
			die("cheap key file does not import", &e);
	}
	save("keyfile", name, buf, len);
	free(buf);
	EVP_CIPHER_CTX_free(ctx);
	json_object_put(o);
}

static void exported_keyfile(void)
{
	json_object *meta = json_object_new_object();
	struct bk_err e = { 0 };
	uint8_t key[32], *buf = NULL;
	size_t len = 0;

	fz_fixed_key(key);
	json_object_object_add(meta, "id", json_object_new_string("fedcba9876543210fedcba9876543210"));
	json_object_object_add(meta, "name", json_object_new_string("exported"));
	json_object_object_add(meta, "scope", json_object_new_string("system"));
	json_object_object_add(meta, "domain", NULL);
	json_object_object_add(meta, "createdAt", json_object_new_string("2024-05-01T10:00:00Z"));
	json_object_object_add(meta, "fingerprint", json_object_new_string("cd34"));
	if (bk_keyfile_export(meta, key, FZ_PASSPHRASE, strlen(FZ_PASSPHRASE),
			      &buf, &len, &e))
		die("export", &e);
	save("keyfile", "exported-n17", buf, len);
	free(buf);
	json_object_put(meta);
}

int main(int argc, char **argv)
{
	struct mem sys, dom, big;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
		return 2;
	}
	out_dir = argv[1];
	if (bk_crypto_init())
		die("crypto init", NULL);
	sys = snapshots(&dom);
	archive("system", NULL, sys.buf, sys.len, 0);
	archive("domain-hsm", "finance", dom.buf, dom.len, 1);
	archive("empty", NULL, "", 0, 0);
	/* Two chunks, the second short. */
	big.len = BK_ARCHIVE_CHUNK + 100;
	big.buf = calloc(1, big.len);
	memcpy(big.buf, sys.buf, sys.len < big.len ? sys.len : big.len);
	archive("two-chunks", NULL, big.buf, big.len, 0);
	cheap_keyfile("system-n14", NULL);
	cheap_keyfile("domain-n14", "finance");
	exported_keyfile();
	free(sys.buf);
	free(dom.buf);
	free(big.buf);
	return 0;
}
