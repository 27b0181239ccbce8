/* keyfile.c - exported backup key files (docs/FORMAT.md).
 *
 *   0      8 bytes   "BKFSKEY" 0x01 (magic, format version)
 *   8      u32 BE    J, length of the JSON metadata
 *   12     J bytes   JSON metadata (compact, no NUL)
 *   12+J   32 bytes  the backup key, AES-256-GCM encrypted
 *   44+J   16 bytes  GCM tag; the additional data is bytes [0, 12+J)
 *
 * scrypt(passphrase, salt, N, r, p) gives 64 bytes: the first 32 are the
 * GCM key, the last 32 key an HMAC-SHA256 of a fixed string whose first 16
 * bytes are stored as "check", so that a wrong passphrase is told apart
 * from a tampered file.
 */
#include "keyfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "crypto.h"

#define MAGIC "BKFSKEY"
#define MAGIC_LEN 7
#define VERSION 1
#define PREAMBLE 12
#define SALT_LEN 16
#define NONCE_LEN 12
#define CHECK_LEN 16
#define TAG_LEN 16
#define BODY_LEN (BK_KEY_LEN + TAG_LEN)
#define MAX_JSON (64 * 1024)
#define CHECK_INFO "backupfs passphrase check v1"
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Export parameters. */
#define LOGN 17
#define R 8
#define P 1

/* What import accepts: a hostile file must not make us allocate or spin
 * for long.  Besides the ranges, scrypt's memory must stay below this. */
#define LOGN_MIN 14
#define LOGN_MAX 22
#define R_MAX 32
#define P_MAX 16
#define MEM_MAX (UINT64_C(1) << 30)

static const char *const reserved[] = {
	"format", "kdf", "cipher", "nonce", "check", NULL
};

struct parsed {
	json_object *meta;		/* owned: the whole JSON */
	size_t j;
	unsigned logn, r, p;
	uint8_t salt[SALT_LEN];
	uint8_t nonce[NONCE_LEN];
	uint8_t check[CHECK_LEN];
};

static uint64_t scrypt_mem(unsigned logn, unsigned r, unsigned p)
{
	/* What OpenSSL allocates: 128 r (N + 2) for V, 128 r p for B. */
	return 128 * (uint64_t)r * ((UINT64_C(1) << logn) + 2) +
	       128 * (uint64_t)r * p;
}

/* 64 bytes into out (secure heap, BK_KEY_LEN * 2). */
static int scrypt(const char *pass, size_t passlen, const uint8_t *salt,
		  unsigned logn, unsigned r, unsigned p, uint8_t *out,
		  struct bk_err *err)
{
	uint64_t n = UINT64_C(1) << logn, maxmem;
	uint32_t r32 = r, p32 = p;
	OSSL_PARAM params[7];
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	int ret = 0;

	maxmem = scrypt_mem(logn, r, p) + (1024 * 1024);
	kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	if (!kdf || !(kctx = EVP_KDF_CTX_new(kdf))) {
		ret = bk_err_ssl(err, -ENOMEM, "scrypt unavailable");
		goto out;
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
						      (void *)pass, passlen);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
						      (void *)salt, SALT_LEN);
	params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	params[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r32);
	params[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p32);
	params[5] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM,
						&maxmem);
	params[6] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, 2 * BK_KEY_LEN, params) != 1)
		ret = bk_err_ssl(err, -ENOMEM, "scrypt failed");
out:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ret;
}

static int check_value(const uint8_t *dk, uint8_t check[CHECK_LEN],
		       struct bk_err *err)
{
	uint8_t mac[32];
	int ret;

	ret = bk_hmac_sha256(dk + BK_KEY_LEN, BK_KEY_LEN, CHECK_INFO,
			     strlen(CHECK_INFO), mac, err);
	if (!ret)
		memcpy(check, mac, CHECK_LEN);
	OPENSSL_cleanse(mac, sizeof(mac));
	return ret;
}

/* AES-256-GCM over the 32-byte key; aad is the preamble and the JSON. */
static int gcm(int enc, const uint8_t *key, const uint8_t nonce[NONCE_LEN],
	       const uint8_t *aad, size_t aadlen, const uint8_t *in,
	       uint8_t *out, uint8_t tag[TAG_LEN])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n, ret = -EIO;

	if (!ctx)
		return -ENOMEM;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce,
			      enc) != 1 ||
	    (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
					 tag) != 1) ||
	    EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1 ||
	    EVP_CipherUpdate(ctx, out, &n, in, BK_KEY_LEN) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + BK_KEY_LEN, &n) != 1) {
		ret = enc ? -EIO : -EBADMSG;
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
				       tag) != 1)
		goto out;
	ret = 0;
out:
	if (ret && !enc)
		OPENSSL_cleanse(out, BK_KEY_LEN);
	ERR_clear_error();
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}

static int add_b64(json_object *o, const char *key, const uint8_t *buf,
		   size_t len)
{
	char *s = bk_b64_encode(buf, len);
	int ret = -ENOMEM;

	if (s && !json_object_object_add(o, key, json_object_new_string(s)))
		ret = 0;
	free(s);
	return ret;
}

/* The metadata JSON: the caller's fields, then ours.  A new object. */
static int build_meta(json_object *meta, const uint8_t *salt,
		      const uint8_t *nonce, const uint8_t *check,
		      json_object **out, struct bk_err *err)
{
	json_object *o = NULL, *kdf = NULL;
	int i, ret = 0;

	if (!json_object_is_type(meta, json_type_object))
		return bk_errf(err, -EINVAL, "key metadata must be a JSON object");
	for (i = 0; reserved[i]; i++)
		if (json_object_object_get_ex(meta, reserved[i], NULL))
			return bk_errf(err, -EINVAL,
				       "key metadata field \"%s\" is reserved",
				       reserved[i]);
	if (json_object_deep_copy(meta, &o, NULL) ||
	    !(kdf = json_object_new_object()) ||
	    json_object_object_add(kdf, "alg",
				   json_object_new_string("scrypt")) ||
	    json_object_object_add(kdf, "logN", json_object_new_int(LOGN)) ||
	    json_object_object_add(kdf, "r", json_object_new_int(R)) ||
	    json_object_object_add(kdf, "p", json_object_new_int(P)) ||
	    add_b64(kdf, "salt", salt, SALT_LEN) ||
	    json_object_object_add(o, "format", json_object_new_int(VERSION)) ||
	    json_object_object_add(o, "kdf", kdf)) {
		json_object_put(kdf);
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (json_object_object_add(o, "cipher",
				   json_object_new_string("AES-256-GCM")) ||
	    add_b64(o, "nonce", nonce, NONCE_LEN) ||
	    add_b64(o, "check", check, CHECK_LEN)) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	*out = o;
	o = NULL;
out:
	json_object_put(o);
	return ret;
}

size_t bk_keyfile_size(json_object *meta)
{
	static const uint8_t zero[SALT_LEN];	/* same base64 length */
	json_object *o = NULL;
	const char *s;
	size_t len = 0;

	if (build_meta(meta, zero, zero, zero, &o, NULL))
		return 0;
	s = json_object_to_json_string_ext(o, JSON_FLAGS);
	if (s)
		len = PREAMBLE + strlen(s) + BODY_LEN;
	json_object_put(o);
	return len;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int bk_keyfile_export(json_object *meta, const uint8_t key[32],
		      const char *pass, size_t passlen, uint8_t **out,
		      size_t *outlen, struct bk_err *err)
{
	uint8_t salt[SALT_LEN], nonce[NONCE_LEN], check[CHECK_LEN];
	uint8_t *dk = NULL, *buf = NULL;
	json_object *o = NULL;
	const char *s;
	size_t j, len;
	int ret;

	if (!passlen)
		return bk_errf(err, -EINVAL, "the passphrase is empty");
	dk = bk_secure_alloc(2 * BK_KEY_LEN);
	if (!dk)
		return bk_errf(err, -ENOMEM, "out of secure memory");
	ret = bk_random(salt, sizeof(salt), err);
	if (!ret)
		ret = bk_random(nonce, sizeof(nonce), err);
	if (!ret)
		ret = scrypt(pass, passlen, salt, LOGN, R, P, dk, err);
	if (!ret)
		ret = check_value(dk, check, err);
	if (!ret)
		ret = build_meta(meta, salt, nonce, check, &o, err);
	if (ret)
		goto out;
	s = json_object_to_json_string_ext(o, JSON_FLAGS);
	if (!s || (j = strlen(s)) > MAX_JSON) {
		ret = bk_errf(err, s ? -EOVERFLOW : -ENOMEM,
			      s ? "key metadata too large" : "out of memory");
		goto out;
	}
	len = PREAMBLE + j + BODY_LEN;
	buf = malloc(len);
	if (!buf) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	memcpy(buf, MAGIC, MAGIC_LEN);
	buf[MAGIC_LEN] = VERSION;
	put_be32(buf + 8, (uint32_t)j);
	memcpy(buf + PREAMBLE, s, j);
	ret = gcm(1, dk, nonce, buf, PREAMBLE + j, key, buf + PREAMBLE + j,
		  buf + PREAMBLE + j + BK_KEY_LEN);
	if (ret) {
		ret = bk_errf(err, ret, "key encryption failed");
		goto out;
	}
	*out = buf;
	*outlen = len;
	buf = NULL;
out:
	free(buf);
	json_object_put(o);
	bk_secure_free(dk, 2 * BK_KEY_LEN);
	return ret;
}

static int bad(struct bk_err *err, const char *what)
{
	return bk_errf(err, -EINVAL, "malformed key file: %s", what);
}

static int get_b64(json_object *o, const char *key, uint8_t *out,
		   size_t want)
{
	json_object *v;
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret = -EINVAL;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    bk_b64_decode(json_object_get_string(v), &buf, &len))
		return -EINVAL;
	if (len == want) {
		memcpy(out, buf, want);
		ret = 0;
	}
	free(buf);
	return ret;
}

static int get_uint(json_object *o, const char *key, unsigned min,
		    unsigned max, unsigned *out)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -EINVAL;
	n = json_object_get_int64(v);
	if (n < min || n > max)
		return -ERANGE;
	*out = (unsigned)n;
	return 0;
}

static int parse_fields(struct parsed *k, struct bk_err *err)
{
	json_object *o = k->meta, *v, *kdf;
	int ret;

	if (!json_object_object_get_ex(o, "format", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) != VERSION)
		return bad(err, "\"format\" is not 1");
	if (!json_object_object_get_ex(o, "cipher", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "AES-256-GCM"))
		return bad(err, "unknown \"cipher\"");
	if (!json_object_object_get_ex(o, "kdf", &kdf) ||
	    !json_object_is_type(kdf, json_type_object) ||
	    !json_object_object_get_ex(kdf, "alg", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "scrypt"))
		return bad(err, "unknown \"kdf\"");
	ret = get_uint(kdf, "logN", LOGN_MIN, LOGN_MAX, &k->logn);
	if (!ret)
		ret = get_uint(kdf, "r", 1, R_MAX, &k->r);
	if (!ret)
		ret = get_uint(kdf, "p", 1, P_MAX, &k->p);
	if (!ret && scrypt_mem(k->logn, k->r, k->p) > MEM_MAX)
		ret = -ERANGE;
	if (ret == -ERANGE)
		return bk_errf(err, -EINVAL,
			       "key file asks for scrypt parameters out of the accepted range");
	if (ret)
		return bad(err, "bad scrypt parameters");
	if (get_b64(kdf, "salt", k->salt, SALT_LEN))
		return bad(err, "bad \"salt\"");
	if (get_b64(o, "nonce", k->nonce, NONCE_LEN))
		return bad(err, "bad \"nonce\"");
	if (get_b64(o, "check", k->check, CHECK_LEN))
		return bad(err, "bad \"check\"");
	return 0;
}

/* Structure, JSON and parameters; k->meta is set on success only. */
static int parse(const uint8_t *buf, size_t len, struct parsed *k,
		 struct bk_err *err)
{
	json_tokener *tok = NULL;
	size_t j;
	int ret;

	memset(k, 0, sizeof(*k));
	if (len < MAGIC_LEN + 1 || memcmp(buf, MAGIC, MAGIC_LEN))
		return bk_errf(err, -EINVAL, "not a backupfs key file");
	if (buf[MAGIC_LEN] != VERSION)
		return bk_errf(err, -EINVAL,
			       "key file format version %u is not supported",
			       buf[MAGIC_LEN]);
	if (len < PREAMBLE)
		return bk_errf(err, -EINVAL, "key file is truncated");
	j = (size_t)buf[8] << 24 | (size_t)buf[9] << 16 |
	    (size_t)buf[10] << 8 | buf[11];
	if (j < 2 || j > MAX_JSON)
		return bad(err, "bad metadata length");
	if (len < PREAMBLE + j + BODY_LEN)
		return bk_errf(err, -EINVAL, "key file is truncated");
	if (len > PREAMBLE + j + BODY_LEN)
		return bk_errf(err, -EINVAL, "key file has trailing data");
	if (memchr(buf + PREAMBLE, 0, j))
		return bad(err, "NUL byte in the metadata");
	tok = json_tokener_new();
	if (!tok)
		return bk_errf(err, -ENOMEM, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	k->meta = json_tokener_parse_ex(tok, (const char *)buf + PREAMBLE,
					(int)j);
	if (!k->meta || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != j ||
	    !json_object_is_type(k->meta, json_type_object)) {
		ret = bad(err, "metadata is not a JSON object");
		goto out;
	}
	k->j = j;
	ret = parse_fields(k, err);
out:
	json_tokener_free(tok);
	if (ret) {
		json_object_put(k->meta);
		k->meta = NULL;
	}
	return ret;
}

/* Hands the metadata (without nonce and check) to the caller. */
static void give_meta(struct parsed *k, json_object **meta_out)
{
	if (!meta_out)
		return;
	json_object_object_del(k->meta, "nonce");
	json_object_object_del(k->meta, "check");
	*meta_out = k->meta;
	k->meta = NULL;
}

int bk_keyfile_inspect(const void *buf, size_t len, json_object **meta_out,
		       struct bk_err *err)
{
	struct parsed k;
	int ret;

	ret = parse(buf, len, &k, err);
	if (ret)
		return ret;
	give_meta(&k, meta_out);
	json_object_put(k.meta);
	return 0;
}

int bk_keyfile_import(const void *buf, size_t len, const char *pass,
		      size_t passlen, json_object **meta_out,
		      uint8_t key_out[32], struct bk_err *err)
{
	const uint8_t *b = buf;
	uint8_t check[CHECK_LEN], tag[TAG_LEN], *dk = NULL;
	struct parsed k;
	int ret;

	ret = parse(b, len, &k, err);
	if (ret)
		return ret;
	dk = bk_secure_alloc(2 * BK_KEY_LEN);
	if (!dk) {
		ret = bk_errf(err, -ENOMEM, "out of secure memory");
		goto out;
	}
	ret = scrypt(pass, passlen, k.salt, k.logn, k.r, k.p, dk, err);
	if (!ret)
		ret = check_value(dk, check, err);
	if (ret)
		goto out;
	if (CRYPTO_memcmp(check, k.check, CHECK_LEN)) {
		ret = bk_errf(err, -EKEYREJECTED, "wrong passphrase");
		goto out;
	}
	memcpy(tag, b + PREAMBLE + k.j + BK_KEY_LEN, TAG_LEN);
	ret = gcm(0, dk, k.nonce, b, PREAMBLE + k.j, b + PREAMBLE + k.j,
		  key_out, tag);
	if (ret == -EBADMSG) {
		ret = bk_errf(err, ret, "key file was tampered with");
		goto out;
	}
	if (ret) {
		ret = bk_errf(err, ret, "key decryption failed");
		goto out;
	}
	give_meta(&k, meta_out);
out:
	json_object_put(k.meta);
	bk_secure_free(dk, 2 * BK_KEY_LEN);
	return ret;
}
