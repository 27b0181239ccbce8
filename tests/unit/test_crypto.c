/* test_crypto.c - known answers and edge cases of core/crypto.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/crypto.h"
#include "check.h"

static void hex(const char *s, uint8_t *out, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned v;

		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static void b64_roundtrip(const char *plain, const char *want)
{
	char *s = bk_b64_encode(plain, strlen(plain));
	uint8_t *back = NULL;
	size_t len = 0;

	CHECK(s && !strcmp(s, want));
	CHECK_EQ_INT(bk_b64_decode(want, &back, &len), 0);
	CHECK_EQ_INT(len, strlen(plain));
	CHECK(back && !memcmp(back, plain, len));
	free(s);
	free(back);
}

static void b64_bad(const char *s)
{
	uint8_t *out = (uint8_t *)"untouched";
	size_t len = 12345;

	CHECK_EQ_INT(bk_b64_decode(s, &out, &len), -EINVAL);
	CHECK(!strcmp((char *)out, "untouched") && len == 12345);
}

static void test_b64(void)
{
	uint8_t bin[256], *back = NULL;
	size_t i, len;
	char *s;

	/* RFC 4648 section 10. */
	b64_roundtrip("", "");
	b64_roundtrip("f", "Zg==");
	b64_roundtrip("fo", "Zm8=");
	b64_roundtrip("foo", "Zm9v");
	b64_roundtrip("foob", "Zm9vYg==");
	b64_roundtrip("fooba", "Zm9vYmE=");
	b64_roundtrip("foobar", "Zm9vYmFy");

	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(255 - i);
	for (i = 0; i <= sizeof(bin); i += 17) {
		s = bk_b64_encode(bin, i);
		CHECK(s != NULL);
		CHECK_EQ_INT(strlen(s), 4 * ((i + 2) / 3));
		CHECK_EQ_INT(bk_b64_decode(s, &back, &len), 0);
		CHECK_EQ_INT(len, i);
		CHECK(!memcmp(back, bin, i));
		free(back);
		free(s);
	}

	b64_bad("Zg=");		/* not a multiple of 4 */
	b64_bad("Zg");
	b64_bad("Z===");	/* too much padding */
	b64_bad("====");
	b64_bad("Zg=a");	/* padding in the middle */
	b64_bad("Zm=vYg==");
	b64_bad("Zm9v\nYg==");	/* no whitespace */
	b64_bad(" Zm9v");
	b64_bad("Zm9v ");
	b64_bad("Zm9*");	/* outside the alphabet */
	b64_bad("Zh==");	/* non-canonical: stray bits under the padding */
	b64_bad("Zm9=");

	/* Every length to 100: the decoding is the bytes, and the text
	 * with any stray bit under its padding set is refused. */
	for (i = 0; i <= 100; i++) {
		size_t n, last;
		char *t;

		s = bk_b64_encode(bin + 7, i);
		CHECK_EQ_INT(bk_b64_decode(s, &back, &len), 0);
		CHECK(len == i && !memcmp(back, bin + 7, i));
		free(back);
		n = strlen(s);
		if (i % 3) {
			static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				"abcdefghijklmnopqrstuvwxyz0123456789+/";

			last = n - (i % 3 == 1 ? 3 : 2);
			t = strdup(s);
			for (int bit = 0; bit < (i % 3 == 1 ? 4 : 2); bit++) {
				int val = (int)(strchr(alphabet, s[last]) - alphabet);

				t[last] = alphabet[val ^ (1 << bit)];
				b64_bad(t);
			}
			free(t);
		}
		free(s);
	}
}

static void test_sha256(void)
{
	char h[65];

	bk_sha256_hex("abc", 3, h);
	CHECK(!strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	bk_sha256_hex("", 0, h);
	CHECK(!strcmp(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
}

static void test_random(void)
{
	char a[33], b[33];
	uint8_t buf[64] = { 0 }, zero[64] = { 0 };
	size_t i;

	CHECK_EQ_INT(bk_random_id(a, NULL), 0);
	CHECK_EQ_INT(bk_random_id(b, NULL), 0);
	CHECK_EQ_INT(strlen(a), 32);
	CHECK(strcmp(a, b));
	for (i = 0; i < 32; i++)
		CHECK((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
	CHECK_EQ_INT(bk_random(buf, sizeof(buf), NULL), 0);
	CHECK(memcmp(buf, zero, sizeof(buf)));
}

/* RFC 5869 appendix A.1 (SHA-256). */
static void test_hkdf(void)
{
	uint8_t ikm[22], salt[13], okm[42], want[42];
	struct bk_err err = { 0 };

	memset(ikm, 0x0b, sizeof(ikm));
	hex("000102030405060708090a0b0c", salt, sizeof(salt));
	hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
	    "34007208d5b887185865", want, sizeof(want));
	CHECK_EQ_INT(bk_hkdf_sha256(ikm, sizeof(ikm), salt, sizeof(salt),
				    "\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9",
				    okm, sizeof(okm), &err), 0);
	CHECK(!memcmp(okm, want, sizeof(want)));
}

/* RFC 4231 test case 2. */
static void test_hmac(void)
{
	const char *data = "what do ya want for nothing?";
	uint8_t mac[32], want[32];

	hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
	    want, sizeof(want));
	CHECK_EQ_INT(bk_hmac_sha256((const uint8_t *)"Jefe", 4, data,
				    strlen(data), mac, NULL), 0);
	CHECK(!memcmp(mac, want, sizeof(want)));
}

/* The wrap of OpenSSL's own AES-256-WRAP-PAD cipher (the usual way) of
 * in equals want[wlen]. */
static int evp_wrap_equals(const uint8_t kek[32], const uint8_t *in,
			   size_t inlen, const uint8_t *want, size_t wlen)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t out[128];
	int len = 0, fin = 0, ok;

	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	ok = EVP_EncryptInit_ex(ctx, EVP_aes_256_wrap_pad(), NULL, kek,
				NULL) == 1 &&
	     EVP_EncryptUpdate(ctx, out, &len, in, (int)inlen) == 1 &&
	     EVP_EncryptFinal_ex(ctx, out + len, &fin) == 1 &&
	     (size_t)(len + fin) == wlen && !memcmp(out, want, wlen);
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

/* Known answers computed once, independently, with Python's
 * cryptography.hazmat.primitives.keywrap.aes_key_wrap_with_padding (an
 * RFC 5649 implementation of its own over AES-ECB) and checked against
 * `openssl enc -id-aes256-wrap-pad -iv A65959A6`: KEK 00..1f. */
static void test_kwp(void)
{
	uint8_t kek[32], kek2[32], key[32], in7[7], out[64], back[64], want[40];
	struct bk_err err = { 0 };
	size_t i, len = 0, blen = 0;

	for (i = 0; i < 32; i++) {
		kek[i] = (uint8_t)i;
		key[i] = (uint8_t)(0x40 + i);
	}
	hex("466f7250617369", in7, sizeof(in7));

	CHECK_EQ_INT(bk_kwp_wrap(kek, key, 32, out, &len, &err), 0);
	CHECK_EQ_INT(len, 40);
	hex("6d10efa7ee3023460945c8a9886e7101353d66337100c5ff"
	    "2bcb08bf790e9e202eaa28c31d721d87", want, 40);
	CHECK(!memcmp(out, want, 40));
	CHECK_EQ_INT(bk_kwp_unwrap(kek, out, len, back, &blen, &err), 0);
	CHECK_EQ_INT(blen, 32);
	CHECK(!memcmp(back, key, 32));

	/* Tamper: every byte of the wrapped key matters. */
	for (i = 0; i < len; i++) {
		out[i] ^= 0x01;
		CHECK_EQ_INT(bk_kwp_unwrap(kek, out, len, back, &blen, &err),
			     -EBADMSG);
		out[i] ^= 0x01;
	}
	/* Wrong key. */
	memcpy(kek2, kek, 32);
	kek2[31] ^= 0x80;
	CHECK_EQ_INT(bk_kwp_unwrap(kek2, out, len, back, &blen, &err),
		     -EBADMSG);
	/* Bad lengths. */
	CHECK_EQ_INT(bk_kwp_unwrap(kek, out, len - 1, back, &blen, &err),
		     -EBADMSG);
	CHECK_EQ_INT(bk_kwp_unwrap(kek, out, 8, back, &blen, &err), -EBADMSG);
	CHECK_EQ_INT(bk_kwp_wrap(kek, key, 0, out, &len, &err), -EINVAL);

	/* A 7-byte secret: one AES block, as in RFC 5649 section 6. */
	CHECK_EQ_INT(bk_kwp_wrap(kek, in7, sizeof(in7), out, &len, &err), 0);
	CHECK_EQ_INT(len, 16);
	hex("443b17837bb39348610d19202df8a1f9", want, 16);
	CHECK(!memcmp(out, want, 16));
	CHECK_EQ_INT(bk_kwp_unwrap(kek, out, len, back, &blen, &err), 0);
	CHECK_EQ_INT(blen, 7);
	CHECK(!memcmp(back, in7, 7));
	out[3] ^= 0x10;
	CHECK_EQ_INT(bk_kwp_unwrap(kek, out, len, back, &blen, &err),
		     -EBADMSG);

	/* Round trips of lengths 1..40 (output <= inlen + 15). */
	for (i = 1; i <= 40; i++) {
		uint8_t src[40], dst[64], dec[64];
		size_t dl = 0, rl = 0;

		memset(src, (int)i, sizeof(src));
		CHECK_EQ_INT(bk_kwp_wrap(kek, src, i, dst, &dl, &err), 0);
		CHECK(dl <= i + 15 && dl % 8 == 0);
		CHECK(evp_wrap_equals(kek, src, i, dst, dl));
		CHECK_EQ_INT(bk_kwp_unwrap(kek, dst, dl, dec, &rl, &err), 0);
		CHECK(rl == i && !memcmp(dec, src, i));
		/* The thread's cached contexts follow a change of key. */
		CHECK_EQ_INT(bk_kwp_wrap(kek2, src, i, dst, &dl, &err), 0);
		CHECK(evp_wrap_equals(kek2, src, i, dst, dl));
		CHECK_EQ_INT(bk_kwp_unwrap(kek, dst, dl, dec, &rl, &err),
			     -EBADMSG);
		CHECK_EQ_INT(bk_kwp_unwrap(kek2, dst, dl, dec, &rl, &err), 0);
		CHECK(rl == i && !memcmp(dec, src, i));
	}
}

/* bk_kwp_wrap_many gives OpenSSL's bytes for every secret of a list
 * whose lengths (1..80) run in groups of one to forty: lanes of one
 * block and of many, full groups of lanes and partial ones, a length
 * change inside a group; and the unwrap takes each back. */
static void test_kwp_many(void)
{
	enum { N = 600 };
	static uint8_t src[N][80], dst[N][96];
	const uint8_t *in[N];
	uint8_t *out[N], kek[32], dec[96];
	size_t len[N], wl[N], failed = N, rl, i, n = 0, run;
	struct bk_err err = { 0 };

	for (i = 0; i < 32; i++)
		kek[i] = (uint8_t)(0x90 ^ i);
	for (run = 1; n < N; run = run % 40 + 1) {
		size_t l = 1 + (n * 7 + run) % 80;

		for (i = 0; i < run && n < N; i++, n++) {
			len[n] = l;
			for (size_t b = 0; b < l; b++)
				src[n][b] = (uint8_t)(n * 31 + b);
			in[n] = src[n];
			out[n] = dst[n];
		}
	}
	CHECK_EQ_INT(bk_kwp_wrap_many(kek, in, len, out, wl, N, &failed, &err),
		     0);
	for (i = 0; i < N; i++) {
		CHECK(evp_wrap_equals(kek, src[i], len[i], dst[i], wl[i]));
		CHECK_EQ_INT(bk_kwp_unwrap(kek, dst[i], wl[i], dec, &rl, &err),
			     0);
		CHECK(rl == len[i] && !memcmp(dec, src[i], rl));
	}
	/* A secret of no bytes cannot be wrapped: which one it is. */
	len[300] = 0;
	CHECK_EQ_INT(bk_kwp_wrap_many(kek, in, len, out, wl, N, &failed, &err),
		     -EINVAL);
	CHECK_EQ_INT(failed, 300);
}

static void test_secure(void)
{
	uint8_t *p, zero[64] = { 0 };

	CHECK_EQ_INT(bk_crypto_init(), 0);
	CHECK_EQ_INT(bk_crypto_init(), 0);	/* idempotent */
	p = bk_secure_alloc(64);
	CHECK(p != NULL);
	CHECK(p && !memcmp(p, zero, 64));	/* zeroed */
	if (p)
		memset(p, 0xaa, 64);
	bk_secure_free(p, 64);
	bk_secure_free(NULL, 0);
	/* Larger than the arena: falls back to the normal heap. */
	p = bk_secure_alloc(4 * 1024 * 1024);
	CHECK(p != NULL);
	bk_secure_free(p, 4 * 1024 * 1024);
}

int main(void)
{
	test_secure();
	test_b64();
	test_sha256();
	test_random();
	test_hkdf();
	test_hmac();
	test_kwp();
	test_kwp_many();
	return check_done("test_crypto");
}
