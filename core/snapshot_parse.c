/* snapshot_parse.c - a resource line of a payload, read without json-c.
 *
 * A restore reads a million resource lines; json-c building, hashing and
 * freeing an object tree for each was two thirds of the reading thread's
 * time.  These lines were written by bk_snap_line_write, in one canonical
 * form, so they are read here in that form only and nothing is built:
 * strings are unescaped into the caller's buffer, attrs is validated and
 * kept as text.  Whatever is not exactly that form (whitespace, another
 * escape, a float, a duplicate key, ...) is refused with 0 and json-c
 * reads the line as before: being strict is what makes a 1 safe.
 *
 * The canonical form, as json-c 0.16 prints with JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE:
 *   - strings: \" \\ \b \f \n \r \t, \u00xx (lowercase hex) for the other
 *     bytes below 0x20, every other byte as it is (0x7f, >= 0x80 too:
 *     json-c does not check UTF-8 unless asked);
 *   - integers: "%" PRId64, so no leading zero, no "-0", no '+';
 *   - no whitespace outside strings.
 * json-c STRICT itself is looser than that (checked on 0.16): it takes
 * "-0", "00", "-01", raw control bytes in strings, 2^63 .. 2^64-1 as a
 * uint64 and larger integers clamped to 2^64-1, lone surrogates (as
 * U+FFFD); it keeps an object key up to its first NUL and the last of
 * duplicate keys.  None of that prints back the same, hence the checks
 * on integers, on NULs in keys and on duplicate keys below.
 * tests/unit/test_snapshot_parse.c compares the result with json-c's on
 * written lines and on many mutants of them.
 *
 * Each value is unescaped to out at the offset of its opening quote in
 * the line: unescaping never lengthens, so values cannot overlap and the
 * NUL lands at most on the offset of the closing quote (< len).
 */
#include "snapshot_parse.h"

#include <stdint.h>
#include <string.h>

#define PREFIX "{\"t\":\"resource\","
#define DEPTH_MAX 16		/* attrs itself is 1 */
#define KEYS_MAX 32		/* in one object of attrs */

/* What a string's byte is: copied, its end, an escape, refused. */
enum { C_COPY, C_QUOTE, C_ESC, C_BAD };

static const unsigned char cls[256] = {
	[0x00] = C_BAD, [0x01] = C_BAD, [0x02] = C_BAD, [0x03] = C_BAD,
	[0x04] = C_BAD, [0x05] = C_BAD, [0x06] = C_BAD, [0x07] = C_BAD,
	[0x08] = C_BAD, [0x09] = C_BAD, [0x0a] = C_BAD, [0x0b] = C_BAD,
	[0x0c] = C_BAD, [0x0d] = C_BAD, [0x0e] = C_BAD, [0x0f] = C_BAD,
	[0x10] = C_BAD, [0x11] = C_BAD, [0x12] = C_BAD, [0x13] = C_BAD,
	[0x14] = C_BAD, [0x15] = C_BAD, [0x16] = C_BAD, [0x17] = C_BAD,
	[0x18] = C_BAD, [0x19] = C_BAD, [0x1a] = C_BAD, [0x1b] = C_BAD,
	[0x1c] = C_BAD, [0x1d] = C_BAD, [0x1e] = C_BAD, [0x1f] = C_BAD,
	['"'] = C_QUOTE, ['\\'] = C_ESC,
};

/* The byte after '\' of a short escape, and what it stands for. */
static const char short_esc[256] = {
	['"'] = '"', ['\\'] = '\\', ['b'] = '\b', ['f'] = '\f', ['n'] = '\n',
	['r'] = '\r', ['t'] = '\t',
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;		/* uppercase too: json-c never writes it */
}

/* The escape at p (just after its '\'): its byte in *c; the end of the
 * escape, or NULL if it is not one json-c writes. */
static const char *unescape(const char *p, const char *end, char *c)
{
	int hi, lo;

	if (p == end)
		return NULL;
	if (short_esc[(unsigned char)*p]) {
		*c = short_esc[(unsigned char)*p];
		return p + 1;
	}
	if (*p != 'u' || end - p < 5 || p[1] != '0' || p[2] != '0')
		return NULL;
	hi = hexval(p[3]);
	lo = hexval(p[4]);
	if (hi < 0 || hi > 1 || lo < 0)
		return NULL;
	*c = (char)(hi << 4 | lo);
	/* \u0008 and the like: json-c writes \b */
	if (*c == '\b' || *c == '\t' || *c == '\n' || *c == '\f' ||
	    *c == '\r')
		return NULL;
	return p + 5;
}

#define ONES 0x0101010101010101ULL

/* The end of the bytes copied as they are from p: 8 at a time while no
 * byte is '"', '\\' or below 0x20 (base64 and hex are long runs). */
static const char *plain(const char *p, const char *end)
{
	uint64_t x;

	while (end - p >= 8) {
		memcpy(&x, p, 8);
		if (((x - ONES * 0x20) | ((x ^ ONES * '"') - ONES) |
		     ((x ^ ONES * '\\') - ONES)) & ~x & ONES * 0x80)
			break;
		p += 8;
	}
	while (p < end && cls[(unsigned char)*p] == C_COPY)
		p++;
	return p;
}

/* The string at p (its opening quote), unescaped into w (NULL: only
 * checked) and NUL-terminated there; *n its length, *nul whether it holds
 * a NUL byte.  Returns the end of the string, or NULL. */
static const char *string(const char *p, const char *end, char *w,
			  size_t *n, int *nul)
{
	const char *run;
	char *w0 = w;
	char c;

	if (p == end || *p++ != '"')
		return NULL;
	*nul = 0;
	*n = 0;
	for (;;) {
		run = p;
		p = plain(p, end);
		if (w) {
			memcpy(w, run, (size_t)(p - run));
			w += p - run;
		}
		*n += (size_t)(p - run);
		if (p == end || cls[(unsigned char)*p] == C_BAD)
			return NULL;
		if (*p++ == '"')
			break;
		p = unescape(p, end, &c);
		if (!p)
			return NULL;
		*nul |= c == '\0';
		if (w)
			*w++ = c;
		(*n)++;
	}
	if (w0)
		*w = '\0';
	return p;
}

/* A canonical integer in the range of int64_t (json-c's int). */
static const char *integer(const char *p, const char *end, long long *v)
{
	unsigned long long u = 0, max = INT64_MAX;
	const char *d;
	int neg = 0;

	if (p < end && *p == '-') {
		neg = 1;
		max++;
		p++;
	}
	for (d = p; p < end && *p >= '0' && *p <= '9' && p - d < 20; p++)
		u = u * 10 + (unsigned)(*p - '0');
	/* none, a leading zero, -0, 20 digits (u wrapped), beyond int64 */
	if (p == d || (*d == '0' && (p - d > 1 || neg)) || p - d > 19 ||
	    u > max)
		return NULL;
	*v = neg ? (long long)(0ULL - u) : (long long)u;
	return p;
}

static const char *literal(const char *p, const char *end, const char *lit)
{
	size_t n = strlen(lit);

	return (size_t)(end - p) >= n && !memcmp(p, lit, n) ? p + n : NULL;
}

static const char *value(const char *p, const char *end, int depth);

/* An object of attrs at p; depth is its own.  Its keys' raw texts tell
 * duplicates apart: with one escape per byte, same text is same key. */
static const char *object(const char *p, const char *end, int depth)
{
	const char *key[KEYS_MAX], *q;
	size_t klen[KEYS_MAX], n;
	int k = 0, nul;

	if (depth > DEPTH_MAX)
		return NULL;
	if (++p < end && *p == '}')
		return p + 1;
	for (;;) {
		q = string(p, end, NULL, &n, &nul);
		/* json-c keeps a key up to its first NUL (strdup) */
		if (!q || nul || k == KEYS_MAX)
			return NULL;
		key[k] = p;
		klen[k] = (size_t)(q - p);
		for (int i = 0; i < k; i++)
			if (klen[i] == klen[k] && !memcmp(key[i], p, klen[k]))
				return NULL;
		k++;
		if (q == end || *q != ':')
			return NULL;
		p = value(q + 1, end, depth);
		if (!p || p == end)
			return NULL;
		if (*p == '}')
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *array(const char *p, const char *end, int depth)
{
	if (depth > DEPTH_MAX)
		return NULL;
	if (++p < end && *p == ']')
		return p + 1;
	for (;;) {
		p = value(p, end, depth);
		if (!p || p == end)
			return NULL;
		if (*p == ']')
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

/* A value inside a container of the given depth. */
static const char *value(const char *p, const char *end, int depth)
{
	long long v;
	size_t n;
	int nul;

	if (p == end)
		return NULL;
	switch (*p) {
	case '{':
		return object(p, end, depth + 1);
	case '[':
		return array(p, end, depth + 1);
	case '"':
		return string(p, end, NULL, &n, &nul);
	case 't':
		return literal(p, end, "true");
	case 'f':
		return literal(p, end, "false");
	case 'n':
		return literal(p, end, "null");
	default:
		return integer(p, end, &v);
	}
}

/* The members after "t", in the order of their bits and the order
 * bk_snap_line_write writes them. */
enum { M_ID, M_DOMAIN, M_TYPE, M_NAME, M_VERSION, M_ATTRS, M_FP, M_CREATED,
       M_MATERIAL, M__COUNT };

static const char *const names[M__COUNT] = {
	"id", "domain", "type", "name", "version", "attrs", "fingerprint",
	"createdAt", "material",
};
static const unsigned char name_len[M__COUNT] = { 2, 6, 4, 4, 7, 5, 11, 9,
						  8 };

#define REQUIRED ((1u << M__COUNT) - 1 - (1u << M_FP) - (1u << M_MATERIAL))

/* The member whose key is at p (its opening quote); *p moved past the
 * ':'.  -1 if the key is none of ours.  The writer's order first: want
 * (M__COUNT: none) is the member it writes next. */
static int member(const char **p, const char *end, int want)
{
	const char *k = *p + 1, *q;
	size_t n;

	if (*p == end || **p != '"')
		return -1;
	q = memchr(k, '"', (size_t)(end - k));
	if (!q || q + 1 == end || q[1] != ':')
		return -1;
	n = (size_t)(q - k);
	*p = q + 2;
	if (want < M__COUNT && name_len[want] == n &&
	    !memcmp(names[want], k, n))
		return want;
	for (int m = 0; m < M__COUNT; m++)
		if (name_len[m] == n && !memcmp(names[m], k, n))
			return m;
	return -1;
}

/* A top-level string value: no NUL, as C code will use it. */
static const char *top_string(const char *p, const char *end,
			      const char *line, char *out, const char **s,
			      size_t *n)
{
	char *w = out + (p - line);
	int nul = 0;

	p = string(p, end, w, n, &nul);
	*s = w;
	return p && !nul ? p : NULL;
}

static const char *top_value(int m, const char *p, const char *end,
			     const char *line, char *out,
			     struct bk_snap_res *r)
{
	const char *q;

	switch (m) {
	case M_ID:
		return top_string(p, end, line, out, &r->id, &r->id_len);
	case M_DOMAIN:
		return top_string(p, end, line, out, &r->domain,
				  &r->domain_len);
	case M_TYPE:
		return top_string(p, end, line, out, &r->type, &r->type_len);
	case M_NAME:
		return top_string(p, end, line, out, &r->name, &r->name_len);
	case M_VERSION:
		return integer(p, end, &r->version);
	case M_ATTRS:
		if (p == end || *p != '{' || !(q = object(p, end, 1)))
			return NULL;
		r->attrs = memcpy(out + (p - line), p, (size_t)(q - p));
		r->attrs_len = (size_t)(q - p);
		out[q - line] = '\0';
		return q;
	case M_FP:
		if ((q = literal(p, end, "null")))
			return q;
		return top_string(p, end, line, out, &r->fp, &r->fp_len);
	case M_CREATED:
		return top_string(p, end, line, out, &r->created,
				  &r->created_len);
	default:
		return top_string(p, end, line, out, &r->b64, &r->b64_len);
	}
}

int bk_snap_res_parse(const char *line, size_t len, char *out,
		      struct bk_snap_res *r)
{
	const char *p = line + strlen(PREFIX), *end = line + len;
	unsigned seen = 0;
	int m;

	if (len <= strlen(PREFIX) || memcmp(line, PREFIX, strlen(PREFIX)) ||
	    line[len - 1] != '}')
		return 0;
	memset(r, 0, sizeof(*r));
	for (m = -1;;) {
		m = member(&p, end, m + 1);	/* the enum's order */
		if (m < 0 || (seen & 1u << m))
			return 0;
		seen |= 1u << m;
		p = top_value(m, p, end, line, out, r);
		if (!p || p == end)
			return 0;
		if (*p == '}')
			break;
		if (*p++ != ',')
			return 0;
	}
	return p + 1 == end && (seen & REQUIRED) == REQUIRED;
}
