/* crypto.c - thin, named wrappers over OpenSSL's EVP API.
 *
 * Every primitive is OpenSSL's: HKDF and HMAC through EVP_KDF / EVP_MAC,
 * RFC 5649 key wrap through EVP_aes_256_wrap_pad, base64 through
 * EVP_EncodeBlock / EVP_DecodeBlock, SHA-256 through EVP_Digest, random
 * bytes through RAND_bytes.  This file only adapts calling conventions and
 * error reporting.
 */
#include "crypto.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/modes.h>
#include <openssl/params.h>
#include <openssl/rand.h>

/* The secure heap is mlocked: keep it well below RLIMIT_MEMLOCK (8 MiB on
 * the target machines).  Allocations are rounded up to a power of two of
 * at least BK_SECURE_MINSIZE bytes. */
#define BK_SECURE_ARENA (1024 * 1024)
#define BK_SECURE_MINSIZE 32

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;

static void crypto_init_once(void)
{
	/* 0: no secure heap (allocations fall back to the normal heap,
	 * which bk_secure_free still wipes); 1: mlocked; 2: mapped but not
	 * mlocked.  All three are usable. */
	if (!CRYPTO_secure_malloc_initialized())
		CRYPTO_secure_malloc_init(BK_SECURE_ARENA, BK_SECURE_MINSIZE);
}

int bk_crypto_init(void)
{
	int ret = pthread_once(&crypto_once, crypto_init_once);

	return ret ? -ret : 0;
}

/* AES-256-KWP and SHA-256, fetched once.  Passing OpenSSL 3 the legacy
 * EVP_aes_256_wrap_pad() or EVP_sha256() makes it fetch the algorithm by
 * name at every call, which was most of the time of wrapping one key
 * (a million per restore).  NULL if the fetch failed: then the legacy
 * ones.  Freed at exit, before OpenSSL's own clean-up (atexit handlers
 * run in reverse order, and OpenSSL's was registered by the fetch). */
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *kwp_cipher;
static EVP_MD *sha256_md;

static EVP_CIPHER *ecb_cipher;

/* A thread's AES-256-ECB contexts, [0] decrypting and [1] encrypting,
 * each for the last key-encryption key it was set up with (see
 * kwp_fast). */
struct ecb_tls {
	EVP_CIPHER_CTX *ctx[2];
	uint8_t kek[2][32];
	int ready[2];
};
static pthread_key_t ecb_key;
static int ecb_key_ok;

static void ecb_tls_free(void *p)
{
	struct ecb_tls *t = p;

	if (!t)
		return;
	EVP_CIPHER_CTX_free(t->ctx[0]);	/* wipes the key schedule */
	EVP_CIPHER_CTX_free(t->ctx[1]);
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
}

static void fetched_free(void)
{
	if (ecb_key_ok) {		/* the exiting (main) thread's */
		ecb_tls_free(pthread_getspecific(ecb_key));
		pthread_setspecific(ecb_key, NULL);
	}
	EVP_CIPHER_free(kwp_cipher);
	EVP_CIPHER_free(ecb_cipher);
	EVP_MD_free(sha256_md);
	kwp_cipher = ecb_cipher = NULL;
	sha256_md = NULL;
}

static void fetch_init_once(void)
{
	kwp_cipher = EVP_CIPHER_fetch(NULL, "AES-256-WRAP-PAD", NULL);
	ecb_cipher = EVP_CIPHER_fetch(NULL, "AES-256-ECB", NULL);
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	ecb_key_ok = pthread_key_create(&ecb_key, ecb_tls_free) == 0;
	atexit(fetched_free);
}

static const EVP_CIPHER *kwp_alg(void)
{
	pthread_once(&fetch_once, fetch_init_once);
	return kwp_cipher ? kwp_cipher : EVP_aes_256_wrap_pad();
}

static const EVP_MD *sha256_alg(void)
{
	pthread_once(&fetch_once, fetch_init_once);
	return sha256_md ? sha256_md : EVP_sha256();
}

int bk_random(void *buf, size_t len, struct bk_err *err)
{
	if (len > INT_MAX)
		return bk_errf(err, -EINVAL, "random request too large");
	if (RAND_bytes(buf, (int)len) != 1)
		return bk_err_ssl(err, -EIO, "random number generator failed");
	return 0;
}

static void hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

int bk_random_id(char out[33], struct bk_err *err)
{
	uint8_t raw[16];
	int ret;

	ret = bk_random(raw, sizeof(raw), err);
	if (ret)
		return ret;
	hex_encode(raw, sizeof(raw), out);
	return 0;
}

/* A time id of 10 random bytes. */
static void time_id(const uint8_t rnd[10], char out[33])
{
	struct timespec ts;
	uint8_t raw[16];
	uint64_t ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (int i = 0; i < 6; i++)
		raw[i] = (uint8_t)(ms >> (40 - 8 * i));
	memcpy(raw + 6, rnd, 10);
	hex_encode(raw, sizeof(raw), out);
}

int bk_time_id(char out[33], struct bk_err *err)
{
	uint8_t rnd[10];
	int ret;

	ret = bk_random(rnd, sizeof(rnd), err);
	if (ret)
		return ret;
	time_id(rnd, out);
	return 0;
}

int bk_time_id_pooled(struct bk_id_pool *pool, char out[33],
		      struct bk_err *err)
{
	int ret;

	if (pool->used == 0 || pool->used == sizeof(pool->buf)) {
		ret = bk_random(pool->buf, sizeof(pool->buf), err);
		if (ret)
			return ret;
		pool->used = 0;
	}
	time_id(pool->buf + pool->used, out);
	pool->used += 10;
	return 0;
}

void bk_sha256(const void *buf, size_t len, uint8_t out[32])
{
	/* EVP_Digest with a built-in algorithm only fails when out of
	 * memory; there is no way to report it here, so never return a
	 * stale or partial value. */
	if (EVP_Digest(buf, len, out, NULL, sha256_alg(), NULL) != 1)
		memset(out, 0, 32);
}

void bk_sha256_hex_ctx(EVP_MD_CTX *ctx, const void *buf, size_t len,
		       char out[65])
{
	uint8_t raw[32];
	unsigned n = 0;

	if (!ctx || EVP_DigestInit_ex2(ctx, sha256_alg(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, buf, len) != 1 ||
	    EVP_DigestFinal_ex(ctx, raw, &n) != 1 || n != sizeof(raw))
		memset(raw, 0, sizeof(raw));
	hex_encode(raw, sizeof(raw), out);
}

void bk_sha256_hex(const void *buf, size_t len, char out[65])
{
	uint8_t raw[32];

	bk_sha256(buf, len, raw);
	hex_encode(raw, sizeof(raw), out);
}

int bk_hkdf_sha256(const uint8_t *key, size_t keylen, const uint8_t *salt,
		   size_t saltlen, const char *info, uint8_t *out,
		   size_t outlen, struct bk_err *err)
{
	OSSL_PARAM params[5], *p = params;
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	int ret = 0;

	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (!kdf || !(kctx = EVP_KDF_CTX_new(kdf))) {
		ret = bk_err_ssl(err, -ENOMEM, "HKDF unavailable");
		goto out;
	}
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						(char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 (void *)key, keylen);
	if (salt && saltlen)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
							 (void *)salt, saltlen);
	if (info && *info)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
							 (void *)info,
							 strlen(info));
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, outlen, params) != 1)
		ret = bk_err_ssl(err, -EIO, "HKDF failed");
out:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ret;
}

int bk_hmac_sha256(const uint8_t *key, size_t keylen, const void *buf,
		   size_t len, uint8_t out[32], struct bk_err *err)
{
	OSSL_PARAM params[2];
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *mctx = NULL;
	size_t outlen = 0;
	int ret = 0;

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!mac || !(mctx = EVP_MAC_CTX_new(mac))) {
		ret = bk_err_ssl(err, -ENOMEM, "HMAC unavailable");
		goto out;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(mctx, key, keylen, params) != 1 ||
	    EVP_MAC_update(mctx, buf, len) != 1 ||
	    EVP_MAC_final(mctx, out, &outlen, 32) != 1 || outlen != 32)
		ret = bk_err_ssl(err, -EIO, "HMAC failed");
out:
	EVP_MAC_CTX_free(mctx);
	EVP_MAC_free(mac);
	return ret;
}

/* ---- RFC 5649 unwrapping, the fast way ----
 *
 * OpenSSL 3.0's AES-256-WRAP-PAD runs the table-based software AES, and
 * sets the key up again for every call: about 5 us per key, most of the
 * time of a million-key backup.  Unwrapping is also OpenSSL's RFC 5649
 * code (CRYPTO_128_unwrap_pad), given AES-256-ECB through EVP (AES-NI)
 * as its block function, with one context per thread kept for the last
 * key-encryption key.  Its integrity check covers the result: if
 * anything goes wrong here it fails, and kwp() below does the unwrap the
 * usual way (which then reports the error).  Wrapping is the same:
 * CRYPTO_128_wrap_pad with the encrypting context.  A wrap has no check
 * of its own, so every block operation's failure is recorded (ecb_call)
 * and a wrap that saw one is done again the usual way. */
struct ecb_call {
	EVP_CIPHER_CTX *ctx;
	int failed;
};

static void ecb_block(const unsigned char in[16], unsigned char out[16],
		      const void *key)
{
	struct ecb_call *c = (struct ecb_call *)key;
	int n;

	if (EVP_CipherUpdate(c->ctx, out, &n, in, 16) != 1 || n != 16) {
		memset(out, 0, 16);
		c->failed = 1;
	}
}

static EVP_CIPHER_CTX *ecb_ctx(const uint8_t kek[32], int enc)
{
	struct ecb_tls *t;

	pthread_once(&fetch_once, fetch_init_once);
	if (!ecb_key_ok || !ecb_cipher)
		return NULL;
	t = pthread_getspecific(ecb_key);
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t)
			return NULL;
		if (pthread_setspecific(ecb_key, t)) {
			free(t);
			return NULL;
		}
	}
	if (t->ready[enc] && !CRYPTO_memcmp(t->kek[enc], kek, 32))
		return t->ctx[enc];
	t->ready[enc] = 0;
	if (!t->ctx[enc])
		t->ctx[enc] = EVP_CIPHER_CTX_new();
	if (!t->ctx[enc] || EVP_CipherInit_ex(t->ctx[enc], ecb_cipher, NULL,
					      kek, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_set_padding(t->ctx[enc], 0) != 1)
		return NULL;
	memcpy(t->kek[enc], kek, 32);
	t->ready[enc] = 1;
	return t->ctx[enc];
}

/* One pass of RFC 5649 (enc: wrap) through OpenSSL's CRYPTO_128_*_pad
 * with the thread's context: 0 and *outlen, or -1: take the usual way.
 * A wrap's out holds inlen + 15 bytes (the usual way's bound). */
static int kwp_fast(int enc, const uint8_t kek[32], const uint8_t *in,
		    size_t inlen, uint8_t *out, size_t *outlen)
{
	struct ecb_call c = { ecb_ctx(kek, enc), 0 };
	size_t n;

	if (!c.ctx)
		return -1;
	n = (enc ? CRYPTO_128_wrap_pad : CRYPTO_128_unwrap_pad)(&c, NULL, out,
							      in, inlen,
							      ecb_block);
	if (n == 0 || c.failed)
		return -1;
	*outlen = n;
	return 0;
}

/* One pass of AES-256-KWP in either direction: the fast way, else the
 * usual way (which reports what went wrong). */
static int kwp(int enc, const uint8_t kek[32], const uint8_t *in,
	       size_t inlen, uint8_t *out, size_t *outlen, struct bk_err *err)
{
	EVP_CIPHER_CTX *ctx;
	int len = 0, fin = 0, ret = 0;

	if (inlen > INT_MAX / 2)
		return bk_errf(err, -EINVAL, "key wrap input too large");
	if (kwp_fast(enc, kek, in, inlen, out, outlen) == 0)
		return 0;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return bk_errf(err, -ENOMEM, "out of memory");
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_CipherInit_ex(ctx, kwp_alg(), NULL, kek, NULL, enc) != 1) {
		ret = bk_err_ssl(err, -EIO, "key wrap setup failed");
		goto out;
	}
	if (EVP_CipherUpdate(ctx, out, &len, in, (int)inlen) != 1 ||
	    EVP_CipherFinal_ex(ctx, out + len, &fin) != 1) {
		if (enc)
			ret = bk_err_ssl(err, -EIO, "key wrap failed");
		else
			ret = bk_err_ssl(err, -EBADMSG,
					 "wrapped key does not unwrap (wrong key or tampered)");
		goto out;
	}
	*outlen = (size_t)len + (size_t)fin;
out:
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}

/* ---- many wraps side by side ----
 *
 * A restore wraps every key it reads: RFC 5649 is a chain of 6 * m block
 * operations per key (m: the padded secret's 8-byte blocks), and one EVP
 * call per block was a third of a million-key restore's reading thread.
 * Secrets of as many blocks are wrapped as lanes instead: each step
 * encrypts one block of every lane in one ECB call, which AES-NI also
 * pipelines.  The steps are RFC 5649's (section 4.1: the alternative IV
 * with the length, zero padding, one block alone for m = 1, else RFC
 * 3394's wrapping process); test_crypto holds the result to OpenSSL's
 * for every length and count of lanes. */
#define KWP_LANES 16

/* Wraps lanes secrets of m blocks each with ctx (the key's ECB context)
 * into out (each inlen[l] + 15 bytes): 0, or -1. */
static int kwp_lanes(EVP_CIPHER_CTX *ctx, const uint8_t *const in[],
		     const size_t inlen[], uint8_t *const out[], size_t m,
		     size_t lanes)
{
	uint8_t buf[KWP_LANES][16];
	size_t l, j, i;
	uint64_t t;
	int n, ret = 0;

	for (l = 0; l < lanes; l++) {
		uint8_t *a = out[l];

		a[0] = 0xa6, a[1] = 0x59, a[2] = 0x59, a[3] = 0xa6;
		for (int b = 0; b < 4; b++)	/* the length, big-endian */
			a[4 + b] = (uint8_t)(inlen[l] >> (24 - 8 * b));
		memcpy(a + 8, in[l], inlen[l]);
		memset(a + 8 + inlen[l], 0, 8 * m - inlen[l]);
	}
	for (j = 0; j < (m == 1 ? 1 : 6) && !ret; j++) {
		for (i = 1; i <= m && !ret; i++) {
			for (l = 0; l < lanes; l++) {
				memcpy(buf[l], out[l], 8);
				memcpy(buf[l] + 8, out[l] + 8 * i, 8);
			}
			if (EVP_CipherUpdate(ctx, buf[0], &n, buf[0],
					     (int)(16 * lanes)) != 1 ||
			    n != (int)(16 * lanes)) {
				ret = -1;
				break;
			}
			if (m == 1) {
				for (l = 0; l < lanes; l++)
					memcpy(out[l], buf[l], 16);
				break;
			}
			t = m * j + i;
			for (l = 0; l < lanes; l++) {
				for (int b = 0; b < 8; b++)
					out[l][b] = buf[l][b] ^
						(uint8_t)(t >> (56 - 8 * b));
				memcpy(out[l] + 8 * i, buf[l] + 8, 8);
			}
		}
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	if (ret)			/* the secrets, padded, or half wrapped */
		for (l = 0; l < lanes; l++)
			OPENSSL_cleanse(out[l], 8 * (m + 1));
	return ret;
}

int bk_kwp_wrap_many(const uint8_t kek[32], const uint8_t *const in[],
		     const size_t inlen[], uint8_t *const out[],
		     size_t outlen[], size_t n, size_t *failed,
		     struct bk_err *err)
{
	EVP_CIPHER_CTX *ctx = ecb_ctx(kek, 1);
	size_t i, k, l, m;
	int ret;

	for (i = 0; i < n; i += k) {
		m = (inlen[i] + 7) / 8;
		for (k = 1; i + k < n && k < KWP_LANES &&
		     (inlen[i + k] + 7) / 8 == m && inlen[i + k]; k++)
			;
		if (ctx && inlen[i] && inlen[i] <= UINT32_MAX &&
		    !kwp_lanes(ctx, in + i, inlen + i, out + i, m, k)) {
			for (l = 0; l < k; l++)
				outlen[i + l] = 8 * (m + 1);
			continue;
		}
		for (l = 0; l < k; l++) {	/* the usual way */
			ret = bk_kwp_wrap(kek, in[i + l], inlen[i + l],
					  out[i + l], &outlen[i + l], err);
			if (ret) {
				*failed = i + l;
				return ret;
			}
		}
	}
	return 0;
}

int bk_kwp_wrap(const uint8_t kek[32], const uint8_t *in, size_t inlen,
		uint8_t *out, size_t *outlen, struct bk_err *err)
{
	if (inlen == 0)
		return bk_errf(err, -EINVAL, "nothing to wrap");
	return kwp(1, kek, in, inlen, out, outlen, err);
}

int bk_kwp_unwrap(const uint8_t kek[32], const uint8_t *in, size_t inlen,
		  uint8_t *out, size_t *outlen, struct bk_err *err)
{
	/* RFC 5649 output is a multiple of 8 bytes, at least 16. */
	if (inlen < 16 || inlen % 8)
		return bk_errf(err, -EBADMSG,
			       "wrapped key has an invalid length (%zu bytes)",
			       inlen);
	return kwp(0, kek, in, inlen, out, outlen, err);
}

char *bk_b64_encode(const void *buf, size_t len)
{
	char *s;

	if (len > (size_t)INT_MAX / 4 * 3 - 3)
		return NULL;
	s = malloc(4 * ((len + 2) / 3) + 1);
	if (!s)
		return NULL;
	EVP_EncodeBlock((unsigned char *)s, buf, (int)len);
	return s;
}

/* Each byte's value as a base64 character, or -1 ('=' included).  A
 * table: which of the five kinds of character comes next is random in
 * key material, and branches on it mispredicted half the time. */
static const signed char b64_val[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
	-1,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

/* Strict: no whitespace, a multiple of 4 characters, '=' only as the last
 * one or two, and canonical (no stray bits under the padding: the only
 * valid text for these bytes is their encoding).  One pass, no copy: a
 * restore decodes every key's material (EVP_DecodeBlock, then encoding
 * again to compare, was a twentieth of its reading thread). */
int bk_b64_decode(const char *s, uint8_t **out, size_t *outlen)
{
	size_t n = strlen(s), pad = 0, i, o = 0;
	uint32_t w;
	uint8_t *buf;
	int v[4], k;

	if (n % 4 || n > (size_t)INT_MAX)
		return -EINVAL;
	if (n && s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	buf = malloc(n / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < n; i += 4) {
		for (k = 0; k < 4; k++) {
			v[k] = i + k >= n - pad ? 0 :
				b64_val[(unsigned char)s[i + k]];
			if (v[k] < 0)
				goto bad;
		}
		w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
		    (uint32_t)v[2] << 6 | (uint32_t)v[3];
		buf[o++] = (uint8_t)(w >> 16);
		buf[o++] = (uint8_t)(w >> 8);
		buf[o++] = (uint8_t)w;
	}
	if ((pad == 2 && (v[1] & 0x0f)) || (pad == 1 && (v[2] & 0x03)))
		goto bad;
	OPENSSL_cleanse(v, sizeof(v));
	OPENSSL_cleanse(&w, sizeof(w));
	*out = buf;
	*outlen = o - pad;
	return 0;
bad:
	OPENSSL_cleanse(v, sizeof(v));
	OPENSSL_cleanse(&w, sizeof(w));
	OPENSSL_cleanse(buf, n / 4 * 3 + 1);
	free(buf);
	return -EINVAL;
}

void *bk_secure_alloc(size_t len)
{
	void *p = NULL;

	bk_crypto_init();
	if (CRYPTO_secure_malloc_initialized())
		p = OPENSSL_secure_zalloc(len);
	if (!p)		/* no secure heap, or it is full */
		p = OPENSSL_zalloc(len);
	return p;
}

void bk_secure_free(void *p, size_t len)
{
	if (!p)
		return;
	if (CRYPTO_secure_allocated(p))
		OPENSSL_secure_clear_free(p, len);
	else
		OPENSSL_clear_free(p, len);
}
