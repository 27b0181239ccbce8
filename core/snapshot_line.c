/* snapshot_line.c - a resource line of a snapshot, written by hand.
 *
 * Building each line through json-c objects was a fifth of a system
 * backup's CPU time (a million lines).  The line is written straight into
 * the caller's buffer instead, byte for byte as json-c 0.16 printed it
 * with JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE: the same
 * members in the same order, json-c's escaping (json_escape_str: \" \\ \b
 * \f \n \r \t, any other byte below 0x20 as \u00xx in lowercase hex,
 * nothing else - '/', DEL and bytes >= 0x80 are copied), the version as
 * "%" PRId64, a NULL fingerprint as null.  tests/unit/test_snapshot_line.c
 * compares the two on many rows.  The restore parses these lines with
 * json-c: nothing it reads changes.
 */
#include "snapshot_int.h"

#include <string.h>

#include <openssl/evp.h>

/* What follows the backslash of an escaped byte: 'u' for \u00xx, 0 for a
 * byte copied as it is. */
static const char esc[256] = {
	['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r',
	[0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u',
	[0x05] = 'u', [0x06] = 'u', [0x07] = 'u', [0x0b] = 'u', [0x0e] = 'u',
	[0x0f] = 'u', [0x10] = 'u', [0x11] = 'u', [0x12] = 'u', [0x13] = 'u',
	[0x14] = 'u', [0x15] = 'u', [0x16] = 'u', [0x17] = 'u', [0x18] = 'u',
	[0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u', [0x1d] = 'u',
	[0x1e] = 'u', [0x1f] = 'u',
	['"'] = '"', ['\\'] = '\\',
};

char *bk_json_str(char *dst, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	const unsigned char *run;

	*dst++ = '"';
	while (p < end) {
		for (run = p; p < end && !esc[*p]; p++)
			;
		memcpy(dst, run, (size_t)(p - run));
		dst += p - run;
		if (p == end)
			break;
		*dst++ = '\\';
		*dst++ = esc[*p];
		if (esc[*p] == 'u') {
			memcpy(dst, "00", 2);
			dst[2] = hex[*p >> 4];
			dst[3] = hex[*p & 0xf];
			dst += 4;
		}
		p++;
	}
	*dst++ = '"';
	return dst;
}

char *bk_json_int64(char *dst, long long v)
{
	/* Through unsigned: -LLONG_MIN does not fit a long long. */
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v :
		(unsigned long long)v;
	char tmp[20], *t = tmp + sizeof(tmp);

	do {
		*--t = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*dst++ = '-';
	memcpy(dst, t, (size_t)(tmp + sizeof(tmp) - t));
	return dst + (tmp + sizeof(tmp) - t);
}

/* The members' names, each with what precedes it. */
#define K_T "{\"t\":\"resource\",\"id\":"
#define K_DOMAIN ",\"domain\":"
#define K_TYPE ",\"type\":"
#define K_NAME ",\"name\":"
#define K_VERSION ",\"version\":"
#define K_ATTRS ",\"attrs\":"
#define K_FP ",\"fingerprint\":"
#define K_CREATED ",\"createdAt\":"
#define K_MATERIAL ",\"material\":\""
#define KEYS (K_T K_DOMAIN K_TYPE K_NAME K_VERSION K_ATTRS K_FP K_CREATED \
	      K_MATERIAL)

#define PUT(dst, lit) (memcpy((dst), lit, sizeof(lit) - 1), \
		       (dst) + sizeof(lit) - 1)

size_t bk_snap_line_max(const struct bk_snap_line *l, size_t mlen)
{
	/* Escaped strings: 6 bytes a byte at worst, and their quotes. */
	size_t strs = l->id_len + l->domain_len + l->type_len + l->name_len +
		      l->fp_len + l->created_len;

	/* The material: its base64, EVP_EncodeBlock's NUL, '"', "}\n". */
	return sizeof(KEYS) + 6 * strs + 2 * 6 + 20 + l->attrs_len + 4 +
		4 * ((mlen + 2) / 3) + 4;
}

char *bk_snap_line_write(char *dst, const struct bk_snap_line *l,
			 const uint8_t *mat, size_t mlen)
{
	dst = PUT(dst, K_T);
	dst = bk_json_str(dst, l->id, l->id_len);
	dst = PUT(dst, K_DOMAIN);
	dst = bk_json_str(dst, l->domain, l->domain_len);
	dst = PUT(dst, K_TYPE);
	dst = bk_json_str(dst, l->type, l->type_len);
	dst = PUT(dst, K_NAME);
	dst = bk_json_str(dst, l->name, l->name_len);
	dst = PUT(dst, K_VERSION);
	dst = bk_json_int64(dst, l->version);
	dst = PUT(dst, K_ATTRS);
	memcpy(dst, l->attrs, l->attrs_len);
	dst += l->attrs_len;
	dst = PUT(dst, K_FP);
	if (l->fp)
		dst = bk_json_str(dst, l->fp, l->fp_len);
	else
		dst = PUT(dst, "null");
	dst = PUT(dst, K_CREATED);
	dst = bk_json_str(dst, l->created, l->created_len);
	if (mat) {
		/* base64 needs no escaping */
		dst = PUT(dst, K_MATERIAL);
		dst += EVP_EncodeBlock((unsigned char *)dst, mat, (int)mlen);
		*dst++ = '"';
	}
	*dst++ = '}';
	*dst++ = '\n';
	return dst;
}
