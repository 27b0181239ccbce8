/* crypto.h - thin, named wrappers over OpenSSL's EVP API.
 * Nothing here is hand-written crypto; every primitive is OpenSSL's.
 */
#ifndef BK_CRYPTO_H
#define BK_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "err.h"

#define BK_KEY_LEN 32		/* AES-256 keys everywhere */

/* Initialises the OpenSSL secure heap (once per process; safe to call
 * again).  Returns 0 or a negative errno. */
int bk_crypto_init(void);

int bk_random(void *buf, size_t len, struct bk_err *err);

/* Random identifier: 32 lowercase hex chars + NUL (128 random bits). */
int bk_random_id(char out[33], struct bk_err *err);

/* Identifier that sorts by creation time, for resources: 48 bits of
 * milliseconds since the epoch, then 80 random bits, as 32 lowercase hex
 * chars + NUL.  A table's id index is then appended to, not written at
 * random (docs/PERFORMANCE.md). */
int bk_time_id(char out[33], struct bk_err *err);

/* bk_time_id for many ids in a row (a restore's): the random bits come
 * from the pool, refilled from the generator when used up - one call of
 * it per 256 ids instead of one per id (a tenth of a domain restore's
 * time).  Zero the pool before the first use. */
struct bk_id_pool {
	uint8_t buf[256 * 10];
	size_t used;			/* 0: empty */
};
int bk_time_id_pooled(struct bk_id_pool *pool, char out[33],
		      struct bk_err *err);

/* SHA-256 of buf, as 64 lowercase hex chars + NUL. */
void bk_sha256_hex(const void *buf, size_t len, char out[65]);
/* The same through ctx, kept by the caller (no allocation a call, for
 * digests by the million); all zeros if ctx is NULL or it fails. */
void bk_sha256_hex_ctx(EVP_MD_CTX *ctx, const void *buf, size_t len,
		       char out[65]);
/* SHA-256 raw. */
void bk_sha256(const void *buf, size_t len, uint8_t out[32]);

int bk_hkdf_sha256(const uint8_t *key, size_t keylen, const uint8_t *salt,
		   size_t saltlen, const char *info, uint8_t *out,
		   size_t outlen, struct bk_err *err);

int bk_hmac_sha256(const uint8_t *key, size_t keylen, const void *buf,
		   size_t len, uint8_t out[32], struct bk_err *err);

/* RFC 5649 AES-256 key wrap with padding (EVP_aes_256_wrap_pad).
 * out must hold inlen + 15 bytes; *outlen receives the length. */
int bk_kwp_wrap(const uint8_t kek[32], const uint8_t *in, size_t inlen,
		uint8_t *out, size_t *outlen, struct bk_err *err);
/* As bk_kwp_wrap for in[i] (inlen[i] bytes) into out[i] and outlen[i],
 * i < n: the same bytes, in a fraction of the time when many secrets
 * have one length (a restore's keys).  On an error, *failed is the i. */
int bk_kwp_wrap_many(const uint8_t kek[32], const uint8_t *const in[],
		     const size_t inlen[], uint8_t *const out[],
		     size_t outlen[], size_t n, size_t *failed,
		     struct bk_err *err);
/* Unwrap; -EBADMSG when the integrity check fails (wrong key or tampered).
 * out must hold inlen bytes. */
int bk_kwp_unwrap(const uint8_t kek[32], const uint8_t *in, size_t inlen,
		  uint8_t *out, size_t *outlen, struct bk_err *err);

/* Base64 (EVP_EncodeBlock, no line breaks).  Returns a new string; caller
 * frees.  NULL on allocation failure. */
char *bk_b64_encode(const void *buf, size_t len);
/* Decodes strict base64 into a new buffer (caller frees); -EINVAL if
 * malformed. */
int bk_b64_decode(const char *s, uint8_t **out, size_t *outlen);

/* Secure-heap buffer helpers: memory is mlocked where possible and wiped
 * on free. */
void *bk_secure_alloc(size_t len);
void bk_secure_free(void *p, size_t len);

#endif
