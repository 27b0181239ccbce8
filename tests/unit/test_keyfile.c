/* test_keyfile.c - exported backup key files (docs/FORMAT.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/crypto.h"
#include "core/keyfile.h"
#include "check.h"

static const char pass[] = "correct horse battery staple";

static json_object *test_meta(const char *name)
{
	json_object *m = json_object_new_object();

	json_object_object_add(m, "id", json_object_new_string(
				       "6f1c0e2a9b8d4c3e8f7a6b5c4d3e2f10"));
	json_object_object_add(m, "name", json_object_new_string(name));
	json_object_object_add(m, "scope", json_object_new_string("domain"));
	json_object_object_add(m, "domain", json_object_new_string("root"));
	json_object_object_add(m, "createdAt",
			       json_object_new_string("2024-05-01T10:00:00Z"));
	json_object_object_add(m, "fingerprint", json_object_new_string(
				       "0b6a1e5f2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccdd"));
	return m;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* Replaces the first occurrence of from by to (same length) in copy. */
static int patch(uint8_t *buf, size_t len, const char *from, const char *to)
{
	uint8_t *p = memmem(buf, len, from, strlen(from));

	if (!p || strlen(from) != strlen(to))
		return -1;
	memcpy(p, to, strlen(to));
	return 0;
}

int main(void)
{
	uint8_t key[32], back[32], *file = NULL, *file2 = NULL, *copy;
	struct bk_err err = { 0 };
	json_object *meta = test_meta("default-key"), *m = NULL, *v, *kdf;
	size_t len = 0, len2 = 0, j;
	struct timespec t0, t1;
	int ret;

	CHECK_EQ_INT(bk_crypto_init(), 0);
	CHECK_EQ_INT(bk_random(key, sizeof(key), NULL), 0);

	/* Round trip and exact size. */
	CHECK_EQ_INT(bk_keyfile_export(meta, key, pass, strlen(pass), &file,
				       &len, &err), 0);
	if (!file) {
		fprintf(stderr, "export: %s\n", err.msg);
		return 1;
	}
	CHECK_EQ_INT(len, bk_keyfile_size(meta));
	CHECK(!memcmp(file, "BKFSKEY\x01", 8));
	j = be32(file + 8);
	CHECK_EQ_INT(len, 12 + j + 32 + 16);
	CHECK(memmem(file, len, key, sizeof(key)) == NULL);	/* encrypted */

	memset(back, 0, sizeof(back));
	CHECK_EQ_INT(bk_keyfile_import(file, len, pass, strlen(pass), &m, back,
				       &err), 0);
	CHECK(!memcmp(back, key, sizeof(key)));
	CHECK(m && json_object_object_get_ex(m, "name", &v) &&
	      !strcmp(json_object_get_string(v), "default-key"));
	CHECK(m && json_object_object_get_ex(m, "fingerprint", &v));
	CHECK(m && !json_object_object_get_ex(m, "check", NULL));
	json_object_put(m);
	m = NULL;
	CHECK_EQ_INT(bk_keyfile_import(file, len, pass, strlen(pass), NULL,
				       back, &err), 0);

	/* A second export: same size, different salt and nonce. */
	CHECK_EQ_INT(bk_keyfile_export(meta, key, pass, strlen(pass), &file2,
				       &len2, &err), 0);
	CHECK_EQ_INT(len2, len);
	CHECK(file2 && memcmp(file, file2, len));
	free(file2);

	/* Inspect: metadata and parameters, no passphrase. */
	CHECK_EQ_INT(bk_keyfile_inspect(file, len, &m, &err), 0);
	CHECK(m && json_object_object_get_ex(m, "kdf", &kdf) &&
	      json_object_object_get_ex(kdf, "logN", &v) &&
	      json_object_get_int(v) == 17);
	CHECK(m && json_object_object_get_ex(m, "kdf", &kdf) &&
	      json_object_object_get_ex(kdf, "alg", &v) &&
	      !strcmp(json_object_get_string(v), "scrypt"));
	CHECK(m && json_object_object_get_ex(m, "format", &v) &&
	      json_object_get_int(v) == 1);
	CHECK(m && json_object_object_get_ex(m, "id", &v));
	json_object_put(m);
	m = NULL;

	/* Wrong passphrase. */
	ret = bk_keyfile_import(file, len, "wrong", 5, NULL, back, &err);
	CHECK_EQ_INT(ret, -EKEYREJECTED);
	CHECK(strstr(err.msg, "wrong passphrase") != NULL);

	copy = malloc(len + 1);
	/* Tampered metadata (same length): the passphrase check passes, the
	 * tag does not. */
	memcpy(copy, file, len);
	CHECK_EQ_INT(patch(copy, len, "default-key", "defaulT-key"), 0);
	CHECK_EQ_INT(bk_keyfile_inspect(copy, len, NULL, &err), 0);
	ret = bk_keyfile_import(copy, len, pass, strlen(pass), NULL, back,
				&err);
	CHECK_EQ_INT(ret, -EBADMSG);
	CHECK(strstr(err.msg, "tampered") != NULL);
	memcpy(copy, file, len);
	CHECK_EQ_INT(patch(copy, len, "\"scope\":\"domain\"",
			   "\"scope\":\"system\""), 0);
	CHECK_EQ_INT(bk_keyfile_import(copy, len, pass, strlen(pass), NULL,
				       back, &err), -EBADMSG);
	/* Tampered ciphertext and tag. */
	memcpy(copy, file, len);
	copy[12 + j + 5] ^= 0x01;
	CHECK_EQ_INT(bk_keyfile_import(copy, len, pass, strlen(pass), NULL,
				       back, &err), -EBADMSG);
	memcpy(copy, file, len);
	copy[len - 1] ^= 0x80;
	CHECK_EQ_INT(bk_keyfile_import(copy, len, pass, strlen(pass), NULL,
				       back, &err), -EBADMSG);

	/* Truncated, trailing data, not a key file, unknown version. */
	CHECK_EQ_INT(bk_keyfile_import(file, len - 1, pass, strlen(pass), NULL,
				       back, &err), -EINVAL);
	CHECK(strstr(err.msg, "truncated") != NULL);
	CHECK_EQ_INT(bk_keyfile_inspect(file, len - 48, NULL, &err), -EINVAL);
	CHECK_EQ_INT(bk_keyfile_inspect(file, 10, NULL, &err), -EINVAL);
	CHECK_EQ_INT(bk_keyfile_inspect(file, 0, NULL, &err), -EINVAL);
	memcpy(copy, file, len);
	copy[len] = 0;
	CHECK_EQ_INT(bk_keyfile_inspect(copy, len + 1, NULL, &err), -EINVAL);
	CHECK(strstr(err.msg, "trailing") != NULL);
	copy[0] = 'X';
	CHECK_EQ_INT(bk_keyfile_inspect(copy, len, NULL, &err), -EINVAL);
	CHECK(strstr(err.msg, "not a backupfs key file") != NULL);
	memcpy(copy, file, len);
	copy[7] = 9;
	CHECK_EQ_INT(bk_keyfile_inspect(copy, len, NULL, &err), -EINVAL);
	CHECK(strstr(err.msg, "version 9") != NULL);

	/* Hostile parameters: refused before scrypt runs (so at once). */
	memcpy(copy, file, len);
	CHECK_EQ_INT(patch(copy, len, "\"logN\":17", "\"logN\":30"), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ_INT(bk_keyfile_import(copy, len, pass, strlen(pass), NULL,
				       back, &err), -EINVAL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(t1.tv_sec - t0.tv_sec < 1);
	CHECK_EQ_INT(bk_keyfile_inspect(copy, len, NULL, &err), -EINVAL);
	memcpy(copy, file, len);
	CHECK_EQ_INT(patch(copy, len, "\"logN\":17", "\"logN\":13"), 0);
	CHECK_EQ_INT(bk_keyfile_import(copy, len, pass, strlen(pass), NULL,
				       back, &err), -EINVAL);
	memcpy(copy, file, len);
	CHECK_EQ_INT(patch(copy, len, "\"r\":8", "\"r\":0"), 0);
	CHECK_EQ_INT(bk_keyfile_import(copy, len, pass, strlen(pass), NULL,
				       back, &err), -EINVAL);
	memcpy(copy, file, len);
	CHECK_EQ_INT(patch(copy, len, "\"p\":1", "\"p\":0"), 0);
	CHECK_EQ_INT(bk_keyfile_import(copy, len, pass, strlen(pass), NULL,
				       back, &err), -EINVAL);
	memcpy(copy, file, len);
	CHECK_EQ_INT(patch(copy, len, "\"logN\":17,\"r\":8",
			   "\"logN\":22,\"r\":9"), 0);
	/* 2^22 * 128 * 9 bytes = 4.5 GiB: over the memory cap. */
	CHECK_EQ_INT(bk_keyfile_import(copy, len, pass, strlen(pass), NULL,
				       back, &err), -EINVAL);

	/* Reserved metadata names. */
	json_object_object_add(meta, "check", json_object_new_string("x"));
	CHECK_EQ_INT(bk_keyfile_export(meta, key, pass, strlen(pass), &file2,
				       &len2, &err), -EINVAL);
	CHECK_EQ_INT(bk_keyfile_size(meta), 0);
	json_object_object_del(meta, "check");
	/* Empty passphrase. */
	CHECK_EQ_INT(bk_keyfile_export(meta, key, "", 0, &file2, &len2, &err),
		     -EINVAL);

	/* Other metadata: size stays exact (null domain, unicode name). */
	json_object_put(meta);
	meta = test_meta("cl\xc3\xa9 \"quoted\" / slash");
	json_object_object_add(meta, "domain", NULL);
	CHECK_EQ_INT(bk_keyfile_export(meta, key, pass, strlen(pass), &file2,
				       &len2, &err), 0);
	CHECK_EQ_INT(len2, bk_keyfile_size(meta));
	CHECK_EQ_INT(bk_keyfile_import(file2, len2, pass, strlen(pass), &m,
				       back, &err), 0);
	CHECK(!memcmp(back, key, sizeof(key)));
	CHECK(m && json_object_object_get_ex(m, "name", &v) &&
	      !strcmp(json_object_get_string(v), "cl\xc3\xa9 \"quoted\" / slash"));
	json_object_put(m);
	free(file2);

	free(copy);
	free(file);
	json_object_put(meta);
	return check_done("test_keyfile");
}
