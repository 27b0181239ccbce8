/* snaprow_util.h - random resource rows for the tests of the payload's
 * line writer (test_snapshot_line.c) and its reader
 * (test_snapshot_parse.c): xorshift numbers, strings of escapes, control
 * bytes, UTF-8 and NUL bytes, versions at the edges of int64.  Static
 * inline, like testutil.h.  The program sets the seed (sr_rng). */
#ifndef BK_SNAPROW_UTIL_H
#define BK_SNAPROW_UTIL_H

#include <limits.h>
#include <stdint.h>
#include <string.h>

#define STR_MAX 40

/* A row of random members; attrs is json-c's text of an object. */
struct trow {
	char s[6][STR_MAX];		/* id, domain, type, name, fp, created */
	size_t len[6];
	int null_fp;
	long long version;
	char *attrs;
	uint8_t mat[64];
	size_t mlen;
	int has_mat;
};

static uint64_t sr_rng;

static inline uint32_t rnd(void)
{
	sr_rng ^= sr_rng << 13;
	sr_rng ^= sr_rng >> 7;
	sr_rng ^= sr_rng << 17;
	return (uint32_t)(sr_rng >> 16);
}

/* Bytes that tell escapers apart, then some of everything. */
static inline char rnd_byte(void)
{
	static const char special[] = "\"\\/\b\f\n\r\t\x01\x1f\x7f\x80\xff";

	switch (rnd() % 4) {
	case 0:
		return special[rnd() % (sizeof(special) - 1)];
	case 1:
		return (char)(rnd() % 0x20);
	case 2:
		return (char)(rnd() % 256);
	default:
		return (char)(' ' + rnd() % 95);
	}
}

/* A random string into s (STR_MAX bytes): empty, ASCII, escapes, UTF-8
 * (é, €, 😀); NUL bytes in one string of nul_one_in (1: any string). */
static inline size_t rnd_str(char *s, unsigned nul_one_in)
{
	static const char *const utf8[] = { "\xc3\xa9", "\xe2\x82\xac",
					    "\xf0\x9f\x98\x80" };
	size_t n = 0, want = rnd() % 4 == 0 ? 0 : rnd() % (STR_MAX - 4);
	int nul_ok = nul_one_in <= 1 || rnd() % nul_one_in == 0;

	while (n < want) {
		if (rnd() % 5 == 0) {
			const char *u = utf8[rnd() % 3];

			memcpy(s + n, u, strlen(u));
			n += strlen(u);
		} else {
			s[n] = rnd_byte();
			if (s[n] || nul_ok)
				n++;
		}
	}
	return n;
}

static inline long long rnd_version(void)
{
	static const long long edges[] = { 0, 1, -1, 9, 10, 99, 100,
					   LLONG_MAX, LLONG_MIN,
					   LLONG_MIN + 1, 4294967296LL,
					   -4294967296LL };

	switch (rnd() % 3) {
	case 0:
		return edges[rnd() % (sizeof(edges) / sizeof(edges[0]))];
	case 1:
		return (long long)rnd();
	default:
		return (long long)(((uint64_t)rnd() << 32) ^ rnd() ^
				   ((uint64_t)rnd() << 48));
	}
}

/* A random row; its attrs from attrs() (the caller frees them). */
static inline void rnd_row(struct trow *t, unsigned nul_one_in,
			   char *(*attrs)(void))
{
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < 6; i++)
		t->len[i] = rnd_str(t->s[i], nul_one_in);
	t->null_fp = rnd() % 3 == 0;
	t->version = rnd_version();
	t->attrs = attrs();
	t->has_mat = rnd() % 2;
	t->mlen = t->has_mat ? rnd() % sizeof(t->mat) : 0;
	for (size_t i = 0; i < t->mlen; i++)
		t->mat[i] = (uint8_t)rnd();
}

#endif
