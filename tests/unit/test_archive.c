/* test_archive.c - round trips, structure known answers and tamper tests of
 * the archive format (docs/FORMAT.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/archive.h"
#include "core/crypto.h"
#include "check.h"

#define CHUNK BK_ARCHIVE_CHUNK
#define SLOT (CHUNK + 16)

static uint8_t key1[32], key2[32];

struct blob {
	uint8_t *buf;
	size_t len;
	uint8_t data_key[32];
};

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 31 + (i >> 16) + 7);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int memfd_with(const uint8_t *buf, size_t len)
{
	int fd = memfd_create("archive", 0);
	size_t done = 0;

	while (fd >= 0 && done < len) {
		ssize_t n = write(fd, buf + done, len - done);

		if (n <= 0)
			abort();
		done += (size_t)n;
	}
	return fd;
}

static json_object *test_header(const char *id)
{
	json_object *h = json_object_new_object();

	json_object_object_add(h, "id", json_object_new_string(id));
	json_object_object_add(h, "scope", json_object_new_string("system"));
	json_object_object_add(h, "domain", NULL);
	json_object_object_add(h, "createdAt",
			       json_object_new_string("2024-05-01T10:00:00Z"));
	json_object_object_add(h, "productVersion",
			       json_object_new_string("2.20.0"));
	json_object_object_add(h, "description",
			       json_object_new_string("test archive"));
	json_object_object_add(h, "backupKey", json_object_new_string("key-1"));
	json_object_object_add(h, "tiedToHSM", json_object_new_boolean(0));
	return h;
}

/* About twenty counts and a few sizes, as the engine adds at finish. */
static json_object *final_fields(uint64_t size)
{
	static const char *const names[] = {
		"domains", "keys", "users", "groups", "cte_policies",
		"customer_fragments", "cas", "certificates", "policies",
		"schedules", "connections", "audit", "members", "links",
		"key_versions", "labels", "attributes", "quorums", "clients",
		"total", NULL
	};
	json_object *f = json_object_new_object(), *c, *s;
	int i;

	c = json_object_new_object();
	for (i = 0; names[i]; i++)
		json_object_object_add(c, names[i],
				       json_object_new_int64(INT64_MAX - i));
	s = json_object_new_object();
	json_object_object_add(s, "snapshot", json_object_new_int64(size));
	json_object_object_add(s, "material", json_object_new_int64(INT64_MAX));
	json_object_object_add(f, "counts", c);
	json_object_object_add(f, "sizes", s);
	return f;
}

/* Builds an archive of size payload bytes, written in pieces of step. */
static int make(struct blob *b, const char *id, const uint8_t *key,
		uint64_t size, size_t step, int hsm_wrap)
{
	struct bk_archive_writer *w = NULL;
	struct bk_err err = { 0 };
	json_object *h = test_header(id), *f = final_fields(size);
	uint8_t *piece = malloc(step);
	uint64_t done = 0;
	off_t total = 0;
	struct stat st;
	int fd = memfd_create("archive", 0), ret;

	ret = bk_archive_writer_new(fd, h, key, &w, &err);
	if (ret)
		goto out;
	memcpy(b->data_key, bk_archive_writer_data_key(w), 32);
	if (hsm_wrap) {
		uint8_t wrapped[60];

		memset(wrapped, 0x5a, sizeof(wrapped));
		ret = bk_archive_writer_add_wrap(w, "hsm", "rot-1", "AES-256-GCM",
						 wrapped, sizeof(wrapped), &err);
		if (ret)
			goto out;
	}
	while (done < size) {
		size_t n = size - done < step ? (size_t)(size - done) : step;
		size_t i;

		for (i = 0; i < n; i++)
			piece[i] = pattern(done + i);
		ret = bk_archive_writer_write(w, piece, n, &err);
		if (ret)
			goto out;
		done += n;
	}
	CHECK_EQ_INT(bk_archive_writer_payload(w), size);
	ret = bk_archive_writer_finish(w, f, &total, &err);
	if (ret)
		goto out;
	fstat(fd, &st);
	CHECK_EQ_INT(st.st_size, total);
	b->len = (size_t)st.st_size;
	b->buf = malloc(b->len);
	CHECK(pread(fd, b->buf, b->len, 0) == (ssize_t)b->len);
out:
	if (ret)
		fprintf(stderr, "make: %s\n", err.msg);
	bk_archive_writer_free(w);
	json_object_put(h);
	json_object_put(f);
	free(piece);
	close(fd);
	return ret;
}

enum stage { S_OK, S_OPEN, S_UNLOCK, S_READ };

/* Opens, unlocks and reads everything, checking the pattern. */
static int consume(const uint8_t *buf, size_t len, const uint8_t *key,
		   enum stage *stage, char *msg)
{
	struct bk_archive_reader *r = NULL;
	struct bk_err err = { 0 };
	uint8_t chunk[7000];
	uint64_t off = 0;
	ssize_t n;
	int fd = memfd_with(buf, len), ret, i;

	*stage = S_OPEN;
	ret = bk_archive_open(fd, &r, &err);
	if (ret)
		goto out;
	*stage = S_UNLOCK;
	ret = bk_archive_unlock(r, key, &err);
	if (ret)
		goto out;
	*stage = S_READ;
	while ((n = bk_archive_read(r, chunk, sizeof(chunk), &err)) > 0) {
		for (i = 0; i < n; i++)
			if (chunk[i] != pattern(off + i)) {
				ret = -EPROTO;
				goto out;
			}
		off += n;
	}
	ret = (int)n;
	if (!ret)
		*stage = S_OK;
out:
	if (msg)
		strcpy(msg, err.msg);
	bk_archive_close(r);
	close(fd);
	return ret;
}

static void progress(void *arg, uint64_t done, uint64_t total)
{
	uint64_t *last = arg;

	CHECK(done >= last[0] && done <= total);
	last[0] = done;
	last[1] = total;
	last[2]++;
}

/* bk_archive_verify_scan's call-back: checks each piece against the
 * pattern, in order (arg: the offset so far). */
static void scan(void *arg, const void *piece, size_t len)
{
	const uint8_t *p = piece;
	uint64_t *off = arg;
	size_t bad = 0;

	for (size_t i = 0; i < len; i++)
		bad += p[i] != pattern(*off + i);
	CHECK_EQ_INT(bad, 0);
	*off += len;
}

/* Decrypts the payload with EVP directly, following docs/FORMAT.md, from
 * the data key: an independent check of key derivation, nonces and AAD. */
static void independent_decrypt(const struct blob *b, uint32_t area,
				const char *id, uint64_t size)
{
	uint8_t mac_key[32], pay_key[32], mac[32], nonce[12], out[CHUNK];
	uint64_t chunks = size / CHUNK + 1, i, off = 12 + area;
	size_t saltlen = 0, j = be32(b->buf + 12);
	char *json = strndup((const char *)b->buf + 16, j);
	json_object *h = json_tokener_parse(json), *v = NULL;
	uint8_t *salt = NULL;

	CHECK(h != NULL);
	CHECK(json_object_object_get_ex(h, "salt", &v));
	CHECK_EQ_INT(bk_b64_decode(json_object_get_string(v), &salt, &saltlen), 0);
	CHECK_EQ_INT(saltlen, 32);
	free(json);
	CHECK_EQ_INT(bk_hkdf_sha256(b->data_key, 32, salt, 32,
				    "backupfs archive header mac v1", mac_key,
				    32, NULL), 0);
	CHECK_EQ_INT(bk_hkdf_sha256(b->data_key, 32, salt, 32,
				    "backupfs archive payload v1", pay_key, 32,
				    NULL), 0);
	CHECK_EQ_INT(bk_hmac_sha256(mac_key, 32, b->buf, 12 + area - 32, mac,
				    NULL), 0);
	CHECK(!memcmp(mac, b->buf + 12 + area - 32, 32));

	for (i = 0; i < chunks; i++) {
		int last = i == chunks - 1, n = 0, ok;
		size_t len = last ? size % CHUNK : CHUNK, k;
		EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

		memset(nonce, 0, sizeof(nonce));
		for (k = 0; k < 8; k++)
			nonce[10 - k] = (uint8_t)(i >> (8 * k));
		nonce[11] = (uint8_t)last;
		ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, pay_key,
					nonce) == 1 &&
		     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16,
					 (void *)(b->buf + off + len)) == 1 &&
		     EVP_DecryptUpdate(ctx, NULL, &n, (const uint8_t *)id,
				       (int)strlen(id)) == 1 &&
		     EVP_DecryptUpdate(ctx, out, &n, b->buf + off,
				       (int)len) == 1 &&
		     EVP_DecryptFinal_ex(ctx, out + len, &n) == 1;
		CHECK(ok);
		for (k = 0; ok && k < len; k++)
			if (out[k] != pattern(i * CHUNK + k)) {
				CHECK(!"independent decrypt mismatch");
				break;
			}
		off += len + 16;
		EVP_CIPHER_CTX_free(ctx);
	}
	CHECK_EQ_INT(off, b->len);
	json_object_put(h);
	free(salt);
}

static void test_roundtrip(uint64_t size, size_t step)
{
	struct bk_archive_reader *r = NULL;
	struct bk_err err = { 0 };
	struct blob b = { 0 };
	json_object *h, *v, *c;
	uint64_t chunks = size / CHUNK + 1, prog[3] = { 0, 0, 0 };
	uint32_t area, j;
	enum stage st;
	size_t i, len = 0;
	const char *keyid = NULL, *alg = NULL;
	int fd;

	if (make(&b, "0123456789abcdef0123456789abcdef", key1, size, step, 0)) {
		CHECK(!"make failed");
		return;
	}
	/* Structure: magic, version, H, J, JSON, zero padding, MAC. */
	CHECK(!memcmp(b.buf, "BKFSARC\x01", 8));
	area = be32(b.buf + 8);
	j = be32(b.buf + 12);
	CHECK_EQ_INT(area % 4096, 0);
	CHECK(4 + j + 32 <= area);
	CHECK_EQ_INT(b.len, 12 + area + size + chunks * 16);
	for (i = 16 + j; i < 12 + area - 32; i++)
		if (b.buf[i]) {
			CHECK(!"padding not zero");
			break;
		}

	CHECK_EQ_INT(consume(b.buf, b.len, key1, &st, NULL), 0);
	independent_decrypt(&b, area, "0123456789abcdef0123456789abcdef", size);

	fd = memfd_with(b.buf, b.len);
	CHECK_EQ_INT(bk_archive_open(fd, &r, &err), 0);
	if (!r) {
		close(fd);
		free(b.buf);
		return;
	}
	h = bk_archive_header(r);
	CHECK(json_object_object_get_ex(h, "format", &v) &&
	      json_object_get_int(v) == 1);
	CHECK(json_object_object_get_ex(h, "chunkSize", &v) &&
	      json_object_get_int(v) == CHUNK);
	CHECK(json_object_object_get_ex(h, "payloadSize", &v) &&
	      (uint64_t)json_object_get_int64(v) == size);
	CHECK(json_object_object_get_ex(h, "chunks", &v) &&
	      (uint64_t)json_object_get_int64(v) == chunks);
	CHECK(json_object_object_get_ex(h, "cipher", &v) &&
	      !strcmp(json_object_get_string(v), "AES-256-GCM"));
	CHECK(json_object_object_get_ex(h, "kdf", &v) &&
	      !strcmp(json_object_get_string(v), "HKDF-SHA256"));
	CHECK(json_object_object_get_ex(h, "description", &v) &&
	      !strcmp(json_object_get_string(v), "test archive"));
	CHECK(json_object_object_get_ex(h, "domain", &v) && v == NULL);
	CHECK(json_object_object_get_ex(h, "tiedToHSM", &v) &&
	      json_object_is_type(v, json_type_boolean));
	CHECK(json_object_object_get_ex(h, "counts", &c) &&
	      json_object_object_get_ex(c, "total", &v) &&
	      json_object_get_int64(v) == INT64_MAX - 19);
	CHECK(json_object_object_get_ex(h, "wrappedKeys", &v) &&
	      json_object_array_length(v) == 1);
	CHECK(bk_archive_wrapped(r, "backupkey", &len, &keyid, &alg) != NULL);
	CHECK_EQ_INT(len, 40);
	CHECK(keyid && !strcmp(keyid, "key-1"));
	CHECK(alg && !strcmp(alg, "AES-256-KWP"));
	CHECK(bk_archive_wrapped(r, "hsm", NULL, NULL, NULL) == NULL);

	/* Locked: no plaintext. */
	CHECK_EQ_INT(bk_archive_read(r, b.buf, 1, &err), -EINVAL);
	CHECK_EQ_INT(bk_archive_verify(r, NULL, NULL, &err), -EINVAL);
	/* With the data key (the HSM path). */
	CHECK_EQ_INT(bk_archive_unlock_data_key(r, b.data_key, &err), 0);
	CHECK_EQ_INT(bk_archive_verify(r, progress, prog, &err), 0);
	CHECK_EQ_INT(prog[0], size);
	CHECK_EQ_INT(prog[1], size);
	CHECK_EQ_INT(prog[2], chunks);
	/* The same, handing over the plaintext: the whole payload, in
	 * order. */
	{
		uint64_t off = 0;

		CHECK_EQ_INT(bk_archive_verify_scan(r, NULL, NULL, scan, &off,
						    &err), 0);
		CHECK_EQ_INT(off, size);
	}
	/* After verify, reading starts from the beginning; rewind again. */
	{
		uint8_t *all = malloc(size + 1);
		ssize_t n;
		uint64_t got = 0;
		int pass;

		for (pass = 0; pass < 2; pass++) {
			got = 0;
			while ((n = bk_archive_read(r, all + got,
						    size + 1 - got, &err)) > 0)
				got += (uint64_t)n;
			CHECK_EQ_INT(n, 0);
			CHECK_EQ_INT(got, size);
			for (i = 0; i < size; i++)
				if (all[i] != pattern(i)) {
					CHECK(!"payload mismatch");
					break;
				}
			CHECK_EQ_INT(bk_archive_read(r, all, 1, &err), 0);
			CHECK_EQ_INT(bk_archive_rewind(r), 0);
		}
		free(all);
	}
	bk_archive_close(r);
	close(fd);
	free(b.buf);
}

static void flip(const struct blob *b, size_t off, uint8_t mask,
		 int want, enum stage want_stage, const char *what)
{
	uint8_t *copy = malloc(b->len);
	enum stage st;
	char msg[512] = "";
	int ret;

	memcpy(copy, b->buf, b->len);
	copy[off] ^= mask;
	ret = consume(copy, b->len, key1, &st, msg);
	if (ret != want || st != want_stage)
		fprintf(stderr, "tamper %s (offset %zu): got %d at stage %d (%s)\n",
			what, off, ret, st, msg);
	CHECK_EQ_INT(ret, want);
	CHECK_EQ_INT(st, want_stage);
	free(copy);
}

static void expect(const uint8_t *buf, size_t len, const uint8_t *key,
		   int want, enum stage want_stage, const char *needle)
{
	enum stage st;
	char msg[512] = "";
	int ret = consume(buf, len, key, &st, msg);

	if (ret != want || st != want_stage || (needle && !strstr(msg, needle)))
		fprintf(stderr, "expected %d/%d/\"%s\", got %d/%d/\"%s\"\n",
			want, want_stage, needle ? needle : "", ret, st, msg);
	CHECK_EQ_INT(ret, want);
	CHECK_EQ_INT(st, want_stage);
	if (needle)
		CHECK(strstr(msg, needle) != NULL);
}

/* A read with room for whole chunks decrypts them straight into the
 * caller's buffer: a tampered one there fails the read, and what it
 * decrypted of that chunk is wiped; the chunk before it (authenticated)
 * is there, the buffer past the chunk untouched. */
static void test_tamper_direct(void)
{
	struct blob b = { 0 };
	struct bk_archive_reader *r = NULL;
	struct bk_err err = { 0 };
	uint8_t *buf = malloc(4 * CHUNK);
	size_t pay, i, bad = 0, plain = 0, other = 0;
	int fd;

	if (!buf || make(&b, "archive-direct", key1, 3 * CHUNK + 5, 4096, 0)) {
		CHECK(!"make failed");
		free(buf);
		return;
	}
	pay = 12 + be32(b.buf + 8);
	b.buf[pay + SLOT + 100] ^= 0x08;	/* chunk 1 */
	memset(buf, 0xaa, 4 * CHUNK);
	fd = memfd_with(b.buf, b.len);
	CHECK_EQ_INT(bk_archive_open(fd, &r, &err), 0);
	CHECK_EQ_INT(bk_archive_unlock(r, key1, &err), 0);
	CHECK_EQ_INT(bk_archive_read(r, buf, 4 * CHUNK, &err), -EBADMSG);
	CHECK(strstr(err.msg, "(chunk 1)") != NULL);
	for (i = 0; i < CHUNK; i++)
		bad += buf[i] != pattern(i);
	for (i = CHUNK; i < 2 * CHUNK; i++)
		plain += buf[i] != 0;
	for (i = 2 * CHUNK; i < 4 * CHUNK; i++)
		other += buf[i] != 0xaa;
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(plain, 0);
	CHECK_EQ_INT(other, 0);
	/* And it stays failed. */
	CHECK_EQ_INT(bk_archive_read(r, buf, 4 * CHUNK, &err), -EBADMSG);
	bk_archive_close(r);
	close(fd);
	free(b.buf);
	free(buf);
}

static void test_tamper(void)
{
	struct blob b = { 0 }, b2 = { 0 };
	uint64_t size = 3 * CHUNK + 5;
	size_t area, j, pay, desc, c, len;
	uint8_t *copy;
	const int last = 3;

	if (make(&b, "archive-one", key1, size, 4096, 0) ||
	    make(&b2, "archive-two", key1, size, 4096, 0)) {
		CHECK(!"make failed");
		return;
	}
	area = be32(b.buf + 8);
	j = be32(b.buf + 12);
	pay = 12 + area;
	desc = (size_t)((uint8_t *)memmem(b.buf, pay, "test archive", 12) - b.buf);

	expect(b.buf, b.len, key1, 0, S_OK, NULL);
	flip(&b, 0, 0x01, -EINVAL, S_OPEN, "magic");
	flip(&b, 6, 0x20, -EINVAL, S_OPEN, "magic");
	flip(&b, 7, 0x03, -EINVAL, S_OPEN, "version");
	flip(&b, 8, 0x01, -EBADMSG, S_OPEN, "H high");
	flip(&b, 10, 0x10, -EBADMSG, S_OPEN, "H");
	flip(&b, 11, 0x01, -EBADMSG, S_OPEN, "H low");
	flip(&b, 12, 0x80, -EBADMSG, S_OPEN, "J high");
	flip(&b, 15, 0x01, -EBADMSG, S_OPEN, "J low");
	flip(&b, 16, 0x01, -EBADMSG, S_OPEN, "JSON brace");
	flip(&b, desc + 3, 0x01, -EBADMSG, S_UNLOCK, "JSON value");
	flip(&b, 16 + j, 0x01, -EBADMSG, S_OPEN, "padding start");
	flip(&b, pay - 33, 0x40, -EBADMSG, S_OPEN, "padding end");
	flip(&b, pay - 32, 0x01, -EBADMSG, S_UNLOCK, "MAC start");
	flip(&b, pay - 1, 0x80, -EBADMSG, S_UNLOCK, "MAC end");
	for (c = 0; c <= (size_t)last; c++) {
		size_t clen = c == (size_t)last ? 5 : CHUNK;
		size_t at = pay + c * SLOT;

		flip(&b, at, 0x01, -EBADMSG, S_READ, "chunk start");
		flip(&b, at + clen / 2, 0x04, -EBADMSG, S_READ, "chunk middle");
		flip(&b, at + clen, 0x01, -EBADMSG, S_READ, "tag start");
		flip(&b, at + clen + 15, 0x80, -EBADMSG, S_READ, "tag end");
	}

	/* Messages. */
	copy = malloc(b.len + 1);
	memcpy(copy, b.buf, b.len);
	copy[7] = 2;
	expect(copy, b.len, key1, -EINVAL, S_OPEN,
	       "archive format version 2 is not supported");
	copy[7] = 1;
	copy[0] = 'X';
	expect(copy, b.len, key1, -EINVAL, S_OPEN, "not a backupfs archive");
	copy[0] = 'B';
	copy[pay + SLOT + 100] ^= 1;
	expect(copy, b.len, key1, -EBADMSG, S_READ,
	       "archive data is corrupt or tampered with (chunk 1)");
	copy[pay + SLOT + 100] ^= 1;
	copy[desc] ^= 1;
	expect(copy, b.len, key1, -EBADMSG, S_UNLOCK,
	       "archive header was tampered with");
	copy[desc] ^= 1;

	/* Truncation and trailing data. */
	expect(b.buf, 0, key1, -EINVAL, S_OPEN, "not a backupfs archive");
	expect(b.buf, 5, key1, -EINVAL, S_OPEN, "not a backupfs archive");
	expect(b.buf, 10, key1, -EBADMSG, S_OPEN, "truncated");
	expect(b.buf, 100, key1, -EBADMSG, S_OPEN, "truncated");
	expect(b.buf, pay, key1, -EBADMSG, S_OPEN, "truncated");
	expect(b.buf, pay + 2 * SLOT, key1, -EBADMSG, S_OPEN, "truncated");
	expect(b.buf, pay + 3 * SLOT, key1, -EBADMSG, S_OPEN, "truncated");
	expect(b.buf, pay + SLOT + 1000, key1, -EBADMSG, S_OPEN, "truncated");
	expect(b.buf, b.len - 1, key1, -EBADMSG, S_OPEN, "truncated");
	copy[b.len] = 0;
	expect(copy, b.len + 1, key1, -EBADMSG, S_OPEN, "trailing data");

	/* Reordered chunks: swap chunks 0 and 1. */
	memcpy(copy, b.buf, b.len);
	memcpy(copy + pay, b.buf + pay + SLOT, SLOT);
	memcpy(copy + pay + SLOT, b.buf + pay, SLOT);
	expect(copy, b.len, key1, -EBADMSG, S_READ, "(chunk 0)");
	/* Swap chunks 1 and 2: chunk 0 reads fine, then the failure. */
	memcpy(copy, b.buf, b.len);
	memcpy(copy + pay + SLOT, b.buf + pay + 2 * SLOT, SLOT);
	memcpy(copy + pay + 2 * SLOT, b.buf + pay + SLOT, SLOT);
	expect(copy, b.len, key1, -EBADMSG, S_READ, "(chunk 1)");

	/* Drop chunk 1, fix nothing: the length no longer matches. */
	len = 0;
	memcpy(copy, b.buf, pay + SLOT);
	len = pay + SLOT;
	memcpy(copy + len, b.buf + pay + 2 * SLOT, b.len - pay - 2 * SLOT);
	len += b.len - pay - 2 * SLOT;
	expect(copy, len, key1, -EBADMSG, S_OPEN, "truncated");

	/* Header of archive one over the payload of archive two (same
	 * backup key, same size): the header unlocks, the data does not. */
	CHECK_EQ_INT(be32(b2.buf + 8), area);
	CHECK_EQ_INT(b2.len, b.len);
	memcpy(copy, b.buf, pay);
	memcpy(copy + pay, b2.buf + pay, b.len - pay);
	expect(copy, b.len, key1, -EBADMSG, S_READ, "(chunk 0)");
	/* A chunk of archive two inside archive one. */
	memcpy(copy, b.buf, b.len);
	memcpy(copy + pay + 2 * SLOT, b2.buf + pay + 2 * SLOT, SLOT);
	expect(copy, b.len, key1, -EBADMSG, S_READ, "(chunk 2)");
	/* Both wrapped keys come from key1, but the MAC is per data key:
	 * archive two's header with archive one's MAC fails. */
	memcpy(copy, b2.buf, b.len);
	memcpy(copy + pay - 32, b.buf + pay - 32, 32);
	expect(copy, b.len, key1, -EBADMSG, S_UNLOCK, "tampered");

	/* Wrong backup key. */
	expect(b.buf, b.len, key2, -EKEYREJECTED, S_UNLOCK,
	       "the archive was not made with this backup key");

	free(copy);
	free(b.buf);
	free(b2.buf);
}

static void test_wraps_and_errors(void)
{
	struct bk_archive_writer *w = NULL;
	struct bk_archive_reader *r = NULL;
	struct bk_err err = { 0 };
	struct blob b = { 0 };
	json_object *h, *f;
	const uint8_t *wr;
	const char *keyid = NULL, *alg = NULL;
	uint8_t wrapped[60], big[9000];
	size_t len = 0;
	int fd;

	/* Extra wrap round trip. */
	CHECK_EQ_INT(make(&b, "with-hsm", key1, 1000, 100, 1), 0);
	fd = memfd_with(b.buf, b.len);
	CHECK_EQ_INT(bk_archive_open(fd, &r, &err), 0);
	memset(wrapped, 0x5a, sizeof(wrapped));
	wr = r ? bk_archive_wrapped(r, "hsm", &len, &keyid, &alg) : NULL;
	CHECK(wr != NULL);
	CHECK_EQ_INT(len, sizeof(wrapped));
	CHECK(wr && !memcmp(wr, wrapped, sizeof(wrapped)));
	CHECK(keyid && !strcmp(keyid, "rot-1"));
	CHECK(alg && !strcmp(alg, "AES-256-GCM"));
	CHECK(r && bk_archive_wrapped(r, "backupkey", NULL, NULL, NULL));
	CHECK(r && bk_archive_unlock(r, key1, &err) == 0);
	/* Wrong data key: the header MAC does not verify. */
	CHECK(r && bk_archive_unlock_data_key(r, key2, &err) == -EBADMSG);
	CHECK(r && bk_archive_read(r, big, 1, &err) == -EINVAL);
	CHECK(r && bk_archive_unlock_data_key(r, b.data_key, &err) == 0);
	CHECK(r && bk_archive_verify(r, NULL, NULL, &err) == 0);
	bk_archive_close(r);
	close(fd);
	free(b.buf);

	fd = memfd_create("w", 0);
	h = test_header("errors");
	/* Add a wrap after the first write: refused. */
	CHECK_EQ_INT(bk_archive_writer_new(fd, h, key1, &w, &err), 0);
	CHECK_EQ_INT(bk_archive_writer_write(w, "x", 1, &err), 0);
	CHECK_EQ_INT(bk_archive_writer_add_wrap(w, "hsm", "k", "A", wrapped,
						sizeof(wrapped), &err), -EINVAL);
	/* Reserved or immutable fields at finish: refused. */
	f = json_object_new_object();
	json_object_object_add(f, "payloadSize", json_object_new_int(3));
	CHECK_EQ_INT(bk_archive_writer_finish(w, f, NULL, &err), -EINVAL);
	json_object_put(f);
	f = json_object_new_object();
	json_object_object_add(f, "id", json_object_new_string("other"));
	CHECK_EQ_INT(bk_archive_writer_finish(w, f, NULL, &err), -EINVAL);
	json_object_put(f);
	/* Final fields that do not fit in the reserved area. */
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	f = json_object_new_object();
	json_object_object_add(f, "notes", json_object_new_string((char *)big));
	CHECK_EQ_INT(bk_archive_writer_finish(w, f, NULL, &err), -EOVERFLOW);
	json_object_put(f);
	/* The writer stays failed. */
	CHECK(bk_archive_writer_write(w, "x", 1, &err) < 0);
	bk_archive_writer_free(w);
	w = NULL;
	close(fd);

	/* Reserved field, missing id, not an object. */
	fd = memfd_create("w", 0);
	json_object_object_add(h, "chunks", json_object_new_int(1));
	CHECK_EQ_INT(bk_archive_writer_new(fd, h, key1, &w, &err), -EINVAL);
	json_object_object_del(h, "chunks");
	json_object_object_del(h, "id");
	CHECK_EQ_INT(bk_archive_writer_new(fd, h, key1, &w, &err), -EINVAL);
	CHECK_EQ_INT(bk_archive_writer_new(fd, NULL, key1, &w, &err), -EINVAL);
	CHECK(w == NULL);
	json_object_put(h);
	close(fd);

	/* Out of space: a clear message. */
	fd = open("/dev/full", O_WRONLY);
	if (fd >= 0) {
		h = test_header("full");
		CHECK_EQ_INT(bk_archive_writer_new(fd, h, key1, &w, &err), 0);
		CHECK_EQ_INT(bk_archive_writer_finish(w, NULL, NULL, &err),
			     -ENOSPC);
		CHECK(strstr(err.msg, "not enough space") != NULL);
		bk_archive_writer_free(w);
		json_object_put(h);
		close(fd);
	}

	/* An empty header JSON area, a huge H, non-JSON: malformed. */
	{
		uint8_t fake[12 + 4096 + 16];

		memset(fake, 0, sizeof(fake));
		memcpy(fake, "BKFSARC\x01", 8);
		fake[10] = 0x10;		/* H = 4096 */
		fake[15] = 2;			/* J = 2 */
		memcpy(fake + 16, "{}", 2);
		expect(fake, 12 + 4096, key1, -EBADMSG, S_OPEN,
		       "malformed archive header");
		memcpy(fake + 16, "[]", 2);
		expect(fake, 12 + 4096, key1, -EBADMSG, S_OPEN,
		       "malformed archive header");
		fake[8] = 0x7f;
		expect(fake, sizeof(fake), key1, -EBADMSG, S_OPEN,
		       "malformed archive header");
	}
}

int main(void)
{
	static const struct { uint64_t size; size_t step; } cases[] = {
		{ 0, 1 }, { 1, 1 }, { CHUNK - 1, 4093 }, { CHUNK, CHUNK },
		{ CHUNK + 1, 7 * 1024 }, { 3 * CHUNK + 5, 3 * CHUNK + 5 },
		{ 3 * CHUNK + 5, 1000 }, { 2 * CHUNK, 3 * CHUNK },
	};
	size_t i;

	CHECK_EQ_INT(bk_crypto_init(), 0);
	CHECK_EQ_INT(bk_random(key1, 32, NULL), 0);
	CHECK_EQ_INT(bk_random(key2, 32, NULL), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		test_roundtrip(cases[i].size, cases[i].step);
	test_tamper();
	test_tamper_direct();
	test_wraps_and_errors();
	return check_done("test_archive");
}
