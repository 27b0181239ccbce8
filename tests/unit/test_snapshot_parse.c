/* test_snapshot_parse.c - core/snapshot_parse.c reads a resource line as
 * json-c does, or refuses it.
 *
 * Three parts: lines written by bk_snap_line_write for random rows (the
 * kinds of content of test_snapshot_line.c, and random nested attrs made
 * by json-c) are all taken, but those with a NUL byte in a top-level
 * string; mutants of such lines (bytes flipped, inserted, deleted,
 * members swapped, duplicated, dropped, values of odd forms) are taken
 * only when json-c reads exactly the same members; and one refused case
 * at least for each rule.  Lines and buffers are allocated to their exact
 * size, so that valgrind or ASan sees a read or write past them.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "check.h"
#include "core/snapshot_int.h"
#include "core/snapshot_parse.h"
#include "snaprow_util.h"

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
/* Under valgrind (tests/run.sh) json-c's cost per row bounds these: about
 * 4 s with them; fuzz_snapline goes further. */
#define ROWS 3000
#define MUTANTS 10000
#define POOL 64

/* ---- random rows, as in test_snapshot_line.c ---- */

static json_object *rnd_json(int depth);

static json_object *rnd_object(int depth)
{
	json_object *o = json_object_new_object();
	int n = (int)(rnd() % 5);
	char k[STR_MAX + 1];

	for (int i = 0; i < n; i++) {
		/* json-c keeps a key up to its first NUL */
		k[rnd_str(k, 8)] = '\0';
		json_object_object_add(o, k, rnd_json(depth + 1));
	}
	return o;
}

/* Any value json-c prints in the canonical form: no double. */
static json_object *rnd_json(int depth)
{
	json_object *a;
	char v[STR_MAX];
	int n;

	switch (rnd() % (depth < 3 ? 8 : 5)) {
	case 0:
	case 1:
		n = (int)rnd_str(v, 8);
		return json_object_new_string_len(v, n);
	case 2:
		return json_object_new_int64(rnd_version());
	case 3:
		return json_object_new_boolean(rnd() % 2);
	case 4:
		return NULL;
	case 5:
	case 6:
		return rnd_object(depth);
	default:
		a = json_object_new_array();
		for (n = (int)(rnd() % 4); n > 0; n--)
			json_object_array_add(a, rnd_json(depth + 1));
		return a;
	}
}

static char *rnd_attrs(void)
{
	json_object *o = rnd_object(1);
	char *text = strdup(json_object_to_json_string_ext(o, FLAGS));

	json_object_put(o);
	return text;
}

/* The writer's line of t, newline excluded, in a buffer of its size. */
static char *write_line(const struct trow *t, size_t *len)
{
	struct bk_snap_line l = {
		.id = t->s[0], .id_len = t->len[0],
		.domain = t->s[1], .domain_len = t->len[1],
		.type = t->s[2], .type_len = t->len[2],
		.name = t->s[3], .name_len = t->len[3],
		.fp = t->null_fp ? NULL : t->s[4],
		.fp_len = t->null_fp ? 0 : t->len[4],
		.created = t->s[5], .created_len = t->len[5],
		.attrs = t->attrs, .attrs_len = strlen(t->attrs),
		.version = t->version,
	};
	char *buf = malloc(bk_snap_line_max(&l, t->mlen)), *line;

	*len = (size_t)(bk_snap_line_write(buf, &l, t->has_mat ? t->mat : NULL,
					   t->mlen) - buf) - 1;
	line = malloc(*len);
	memcpy(line, buf, *len);
	free(buf);
	return line;
}

/* ---- json-c's view ---- */

static int same_str(json_object *v, const char *s, size_t n)
{
	return json_object_is_type(v, json_type_string) && s &&
	       (size_t)json_object_get_string_len(v) == n &&
	       !memcmp(json_object_get_string(v), s, n) && s[n] == '\0' &&
	       strlen(s) == n;
}

/* 1 if json-c reads the members of r from line: the contract of
 * bk_snap_res_parse's 1. */
static int json_c_agrees(const char *line, size_t len,
			 const struct bk_snap_res *r)
{
	json_tokener *tok = json_tokener_new();
	json_object *o;
	const char *a;
	unsigned seen = 0;
	int ok;

	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, line, (int)len);
	ok = o && json_tokener_get_error(tok) == json_tokener_success &&
	     json_tokener_get_parse_end(tok) == len &&
	     json_object_is_type(o, json_type_object);
	json_tokener_free(tok);
	if (!ok)
		goto out;
	json_object_object_foreach(o, key, v) {
		if (!strcmp(key, "t")) {
			ok &= same_str(v, "resource", 8);
			seen |= 1;
		} else if (!strcmp(key, "id")) {
			ok &= same_str(v, r->id, r->id_len);
			seen |= 2;
		} else if (!strcmp(key, "domain")) {
			ok &= same_str(v, r->domain, r->domain_len);
			seen |= 4;
		} else if (!strcmp(key, "type")) {
			ok &= same_str(v, r->type, r->type_len);
			seen |= 8;
		} else if (!strcmp(key, "name")) {
			ok &= same_str(v, r->name, r->name_len);
			seen |= 16;
		} else if (!strcmp(key, "version")) {
			ok &= json_object_is_type(v, json_type_int) &&
			      json_object_get_int64(v) == r->version;
			seen |= 32;
		} else if (!strcmp(key, "attrs")) {
			ok &= json_object_is_type(v, json_type_object);
			a = ok ? json_object_to_json_string_ext(v, FLAGS) : "";
			ok &= strlen(a) == r->attrs_len && r->attrs &&
			      !memcmp(a, r->attrs, r->attrs_len + 1);
			seen |= 64;
		} else if (!strcmp(key, "createdAt")) {
			ok &= same_str(v, r->created, r->created_len);
			seen |= 128;
		} else if (!strcmp(key, "fingerprint")) {
			ok &= v ? same_str(v, r->fp, r->fp_len) : !r->fp;
			seen |= 256;
		} else if (!strcmp(key, "material")) {
			ok &= same_str(v, r->b64, r->b64_len);
			seen |= 512;
		} else {
			ok = 0;
		}
	}
	ok &= (seen & 255) == 255 && (seen & 256 || !r->fp) &&
	      (seen & 512 || !r->b64);
out:
	json_object_put(o);
	return ok;
}

/* bk_snap_res_parse on line, with out of its exact size; 1 taken and
 * json-c agrees, 0 refused, -1 taken and json-c disagrees. */
static int parse(const char *line, size_t len)
{
	char *out = malloc(len + 1);
	struct bk_snap_res r;
	int ret = bk_snap_res_parse(line, len, out, &r);

	if (ret && !json_c_agrees(line, len, &r)) {
		fprintf(stderr, "taken, json-c disagrees: %.*s\n", (int)len,
			line);
		ret = -1;
	}
	free(out);
	return ret;
}

/* ---- written lines ---- */

static int has_nul(const struct trow *t)
{
	for (int i = 0; i < 6; i++)
		if ((i != 4 || !t->null_fp) && memchr(t->s[i], 0, t->len[i]))
			return 1;
	return 0;
}

/* The parser's members are the row's. */
static int same_row(const struct trow *t, const char *line, size_t len)
{
	char *out = malloc(len + 1), b64[4 * sizeof(t->mat) / 3 + 8];
	struct bk_snap_res r;
	const char *s[6];
	size_t n[6];
	int ok = bk_snap_res_parse(line, len, out, &r);

	s[0] = r.id, s[1] = r.domain, s[2] = r.type, s[3] = r.name;
	s[4] = r.fp, s[5] = r.created;
	n[0] = r.id_len, n[1] = r.domain_len, n[2] = r.type_len;
	n[3] = r.name_len, n[4] = r.fp_len, n[5] = r.created_len;
	for (int i = 0; ok && i < 6; i++)
		if (i == 4 && t->null_fp)
			ok = !s[i];
		else
			ok = n[i] == t->len[i] && !memcmp(s[i], t->s[i], n[i]);
	ok = ok && r.version == t->version &&
	     r.attrs_len == strlen(t->attrs) && !strcmp(r.attrs, t->attrs);
	if (ok && t->has_mat) {
		EVP_EncodeBlock((unsigned char *)b64, t->mat, (int)t->mlen);
		ok = r.b64 && !strcmp(r.b64, b64);
	} else if (ok) {
		ok = !r.b64;
	}
	free(out);
	return ok;
}

static void test_written(void)
{
	struct trow t;
	int bad = 0, nul = 0;
	size_t len;
	char *line;

	for (int i = 0; i < ROWS && bad < 5; i++) {
		rnd_row(&t, 8, rnd_attrs);
		line = write_line(&t, &len);
		if (has_nul(&t)) {
			nul++;
			bad += parse(line, len) != 0;
		} else if (parse(line, len) != 1 || !same_row(&t, line, len)) {
			fprintf(stderr, "refused: %.*s\n", (int)len, line);
			bad++;
		}
		free(line);
		free(t.attrs);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(nul > 0 && nul < ROWS / 2);
	printf("written lines: %d, %d of them with a NUL (refused)\n", ROWS,
	       nul);
}

/* ---- mutants ---- */

/* Values of odd forms, for any member. */
static const char *const odd[] = {
	"1.5", "1e3", "1E3", "-1.0", "01", "-0", "+1", "-", "00",
	"9223372036854775807", "9223372036854775808", "-9223372036854775808",
	"-9223372036854775809", "18446744073709551615", "123456789012345678901",
	"\"\\/\"", "\"\\u0041\"", "\"\\u00e9\"", "\"\\u00E9\"", "\"\\u001F\"",
	"\"\\u001f\"", "\"\\u0008\"", "\"\\ud83d\\ude00\"", "\"\\a\"",
	"\"\\u0000\"", "\"a\\u0000\"", "\"\x01\"", "\"\t\"", "\"\x7f\x80\xff\"",
	"\"\"", "null", "true", "false", "True", "nul", "NaN", "Infinity",
	"{}", "[]", "{\"a\":1}", "{\"a\":1,\"a\":1}", "{\"a\\u0000b\":1}",
	"{\"a\\u0000b\":1,\"a\\u0000c\":2}", "{\"a\":[1,]}", "{\"a\":1,}",
	"{\"a\":{\"b\":1,\"b\":2}}", "{\"a\" :1}", "{ }", "[ ]", "{\"a\":1.0}",
	"{\"a\":[true,false,null,\"\\u0000\",-1,0,{}]}", "{'a':1}", "'a'",
	"{\"\":\"\"}", "{\"a\":\"\\/\"}", "{\"\\u0000\":1}",
};

static const char *const names[] = {
	"t", "id", "domain", "type", "name", "version", "attrs",
	"fingerprint", "createdAt", "material", "x", "ID", "\\u0069d",
};

struct mline {
	char *m[16];			/* members' texts: "key":value */
	int n;
};

static char *member_text(const char *key, const char *val, size_t vlen)
{
	size_t kl = strlen(key);
	char *m = malloc(kl + vlen + 4);

	m[0] = '"';
	memcpy(m + 1, key, kl);
	memcpy(m + kl + 1, "\":", 2);
	memcpy(m + kl + 3, val, vlen);
	m[kl + 3 + vlen] = '\0';
	return m;
}

static void add_str(struct mline *ml, const char *key, const char *s,
		    size_t n)
{
	char *v = malloc(6 * n + 3);

	ml->m[ml->n++] = member_text(key, v, (size_t)(bk_json_str(v, s, n) - v));
	free(v);
}

/* t's members, as the writer puts them. */
static void members(const struct trow *t, struct mline *ml)
{
	char v[4 * sizeof(t->mat) / 3 + 8];

	ml->n = 0;
	add_str(ml, "t", "resource", 8);
	add_str(ml, "id", t->s[0], t->len[0]);
	add_str(ml, "domain", t->s[1], t->len[1]);
	add_str(ml, "type", t->s[2], t->len[2]);
	add_str(ml, "name", t->s[3], t->len[3]);
	ml->m[ml->n++] = member_text("version", v,
				     (size_t)(bk_json_int64(v, t->version) - v));
	ml->m[ml->n++] = member_text("attrs", t->attrs, strlen(t->attrs));
	if (t->null_fp)
		ml->m[ml->n++] = member_text("fingerprint", "null", 4);
	else
		add_str(ml, "fingerprint", t->s[4], t->len[4]);
	add_str(ml, "createdAt", t->s[5], t->len[5]);
	if (t->has_mat) {
		EVP_EncodeBlock((unsigned char *)v, t->mat, (int)t->mlen);
		add_str(ml, "material", v, strlen(v));
	}
}

/* Changes the members: swaps, duplicates, drops, adds, odd values. */
static void mutate_members(struct mline *ml)
{
	int i = (int)(rnd() % (unsigned)ml->n), j = (int)(rnd() % (unsigned)ml->n);
	const char *v = odd[rnd() % (sizeof(odd) / sizeof(odd[0]))];
	char *tmp;

	switch (rnd() % 5) {
	case 0:
		tmp = ml->m[i];
		ml->m[i] = ml->m[j];
		ml->m[j] = tmp;
		break;
	case 1:
		if (ml->n < 16)
			ml->m[ml->n++] = strdup(ml->m[i]);
		break;
	case 2:
		free(ml->m[i]);
		ml->m[i] = ml->m[--ml->n];
		break;
	case 3:
		if (ml->n < 16)
			ml->m[ml->n++] = member_text(
				names[rnd() % (sizeof(names) / sizeof(names[0]))],
				v, strlen(v));
		break;
	default:
		/* a new value for the key (no key here holds a '"') */
		*strchr(ml->m[i] + 1, '"') = '\0';
		tmp = member_text(ml->m[i] + 1, v, strlen(v));
		free(ml->m[i]);
		ml->m[i] = tmp;
		break;
	}
}

static char *join(struct mline *ml, size_t *len)
{
	size_t n = 2;
	char *line, *p;

	for (int i = 0; i < ml->n; i++)
		n += strlen(ml->m[i]) + 1;
	line = p = malloc(n);
	*p++ = '{';
	for (int i = 0; i < ml->n; i++) {
		if (i)
			*p++ = ',';
		memcpy(p, ml->m[i], strlen(ml->m[i]));
		p += strlen(ml->m[i]);
		free(ml->m[i]);
	}
	*p++ = '}';
	*len = (size_t)(p - line);
	return line;
}

/* Changes bytes: flips, inserts, deletes, truncates, appends. */
static char *mutate_bytes(char *line, size_t *len)
{
	static const char special[] = "\"\\{}[],: \t\n0123456789-.eE+tfnul/\x7f";
	size_t n = *len, at = n ? rnd() % n : 0;
	char *p = malloc(n + 8), c;

	c = rnd() % 2 ? special[rnd() % (sizeof(special) - 1)] :
		(char)(rnd() % 256);
	memcpy(p, line, n);
	free(line);
	switch (rnd() % 6) {
	case 0:
		if (n)
			p[at] = c;
		break;
	case 1:
		memmove(p + at + 1, p + at, n - at);
		p[at] = c;
		n++;
		break;
	case 2:
		if (n) {
			memmove(p + at, p + at + 1, n - at - 1);
			n--;
		}
		break;
	case 3:
		n = at;
		break;
	case 4:
		memcpy(p + n, "}\n x", 4);
		n += 1 + rnd() % 3;
		break;
	default:
		if (n)
			p[at] ^= (char)(1 << rnd() % 8);
		break;
	}
	*len = n;
	return p;
}

static void test_mutants(void)
{
	static struct trow pool[POOL];
	int taken = 0, refused = 0, bad = 0, r;
	struct mline ml;
	size_t len;
	char *line, *exact;

	for (int i = 0; i < POOL; i++)
		do {
			free(pool[i].attrs);
			rnd_row(&pool[i], 8, rnd_attrs);
		} while (has_nul(&pool[i]));
	for (int i = 0; i < MUTANTS; i++) {
		members(&pool[rnd() % POOL], &ml);
		for (int k = rnd() % 3; k >= 0; k--)
			if (rnd() % 2)
				mutate_members(&ml);
		line = join(&ml, &len);
		for (int k = (int)(rnd() % 4) - 1; k >= 0; k--)
			line = mutate_bytes(line, &len);
		exact = malloc(len ? len : 1);
		memcpy(exact, line, len);
		free(line);
		r = parse(exact, len);
		taken += r == 1;
		refused += r == 0;
		bad += r < 0;
		free(exact);
	}
	for (int i = 0; i < POOL; i++)
		free(pool[i].attrs);
	CHECK_EQ_INT(bad, 0);
	CHECK(taken > 0 && refused > 0);
	printf("mutants: %d taken (json-c agrees), %d refused\n", taken,
	       refused);
}

/* ---- each rule ---- */

/* A line of the given name, version and attrs values. */
static int with(const char *name, const char *version, const char *attrs)
{
	char buf[4096];
	int n = snprintf(buf, sizeof(buf),
			 "{\"t\":\"resource\",\"id\":\"i\",\"domain\":\"d\","
			 "\"type\":\"keys\",\"name\":%s,\"version\":%s,"
			 "\"attrs\":%s,\"fingerprint\":null,\"createdAt\":\"c\"}",
			 name, version, attrs);
	char *line = malloc((size_t)n);
	int ret;

	memcpy(line, buf, (size_t)n);
	ret = parse(line, (size_t)n);
	free(line);
	return ret;
}

static int whole(const char *s)
{
	size_t n = strlen(s);
	char *line = malloc(n ? n : 1);
	int ret;

	memcpy(line, s, n);
	ret = parse(line, n);
	free(line);
	return ret;
}

#define HEAD "{\"t\":\"resource\",\"id\":\"i\",\"domain\":\"d\",\"type\":\"k\","
#define TAIL "\"name\":\"n\",\"version\":1,\"attrs\":{},\"createdAt\":\"c\"}"

static void test_lines(void)
{
	/* taken: the form, reordered, optional members, strings */
	CHECK_EQ_INT(whole(HEAD TAIL), 1);
	CHECK_EQ_INT(whole("{\"t\":\"resource\",\"createdAt\":\"c\","
			   "\"attrs\":{},\"version\":1,\"name\":\"n\","
			   "\"type\":\"k\",\"domain\":\"d\",\"id\":\"i\"}"), 1);
	CHECK_EQ_INT(whole(HEAD "\"material\":\"\"," TAIL), 1);
	CHECK_EQ_INT(whole(HEAD "\"fingerprint\":\"\\u001f\\\\\\\"\x7f\xff\","
			   TAIL), 1);
	/* refused: not resource, not first, not the end, whitespace */
	CHECK_EQ_INT(whole(""), 0);
	CHECK_EQ_INT(whole("{\"t\":\"resource\",}"), 0);
	CHECK_EQ_INT(whole("{\"t\":\"domain\",\"name\":\"d\"}"), 0);
	CHECK_EQ_INT(whole("{\"id\":\"i\",\"t\":\"resource\",\"domain\":\"d\","
			   "\"type\":\"k\"," TAIL), 0);
	CHECK_EQ_INT(whole(HEAD TAIL "\n"), 0);
	CHECK_EQ_INT(whole(HEAD TAIL " "), 0);
	CHECK_EQ_INT(whole(HEAD TAIL "}"), 0);
	CHECK_EQ_INT(whole(HEAD " " TAIL), 0);
	CHECK_EQ_INT(whole(" " HEAD TAIL), 0);
	CHECK_EQ_INT(whole(HEAD "\"name\" :\"n\",\"version\":1,\"attrs\":{},"
			   "\"createdAt\":\"c\"}"), 0);
	/* refused: members unknown, twice, missing, escaped keys */
	CHECK_EQ_INT(whole(HEAD "\"x\":1," TAIL), 0);
	CHECK_EQ_INT(whole(HEAD "\"id\":\"i\"," TAIL), 0);
	CHECK_EQ_INT(whole(HEAD "\"t\":\"resource\"," TAIL), 0);
	CHECK_EQ_INT(whole(HEAD "\"name\":\"n\",\"version\":1,\"attrs\":{}}"), 0);
	CHECK_EQ_INT(whole(HEAD "\"name\":\"n\",\"attrs\":{},\"createdAt\":\"c\"}"), 0);
	CHECK_EQ_INT(whole(HEAD "\"nam\\u0065\":\"n\",\"version\":1,"
			   "\"attrs\":{},\"createdAt\":\"c\"}"), 0);
	/* refused: wrong types */
	CHECK_EQ_INT(whole(HEAD "\"fingerprint\":1," TAIL), 0);
	CHECK_EQ_INT(whole(HEAD "\"material\":null," TAIL), 0);
	CHECK_EQ_INT(with("null", "1", "{}"), 0);
	CHECK_EQ_INT(with("1", "1", "{}"), 0);
	CHECK_EQ_INT(with("\"n\"", "\"1\"", "{}"), 0);
	CHECK_EQ_INT(with("\"n\"", "1", "[]"), 0);
	CHECK_EQ_INT(with("\"n\"", "1", "null"), 0);
}

static void test_strings(void)
{
	CHECK_EQ_INT(with("\"\"", "1", "{}"), 1);
	CHECK_EQ_INT(with("\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\"", "1",
			  "{}"), 1);
	/* json-c copies 0x7f and bytes >= 0x80, valid UTF-8 or not */
	CHECK_EQ_INT(with("\"\x7f\x80\xc3\xa9\xff\xc3\"", "1", "{}"), 1);
	CHECK_EQ_INT(with("\"\\/\"", "1", "{}"), 0);
	CHECK_EQ_INT(with("\"\\u0041\"", "1", "{}"), 0);
	CHECK_EQ_INT(with("\"\\u00e9\"", "1", "{}"), 0);
	CHECK_EQ_INT(with("\"\\u001F\"", "1", "{}"), 0);
	CHECK_EQ_INT(with("\"\\u0008\"", "1", "{}"), 0);
	CHECK_EQ_INT(with("\"\\u000a\"", "1", "{}"), 0);
	CHECK_EQ_INT(with("\"\\ud83d\\ude00\"", "1", "{}"), 0);
	CHECK_EQ_INT(with("\"\\a\"", "1", "{}"), 0);
	CHECK_EQ_INT(with("\"\\u00\"", "1", "{}"), 0);
	CHECK_EQ_INT(with("\"\x01\"", "1", "{}"), 0);
	CHECK_EQ_INT(with("\"\t\"", "1", "{}"), 0);
	CHECK_EQ_INT(with("'n'", "1", "{}"), 0);
	CHECK_EQ_INT(with("\"n", "1", "{}"), 0);
	/* a NUL in a top-level string; in attrs it is only text */
	CHECK_EQ_INT(with("\"a\\u0000b\"", "1", "{}"), 0);
	CHECK_EQ_INT(whole(HEAD "\"fingerprint\":\"\\u0000\"," TAIL), 0);
	CHECK_EQ_INT(whole(HEAD "\"material\":\"a\\u0000\"," TAIL), 0);
	CHECK_EQ_INT(with("\"n\"", "1", "{\"a\":\"\\u0000\"}"), 1);
}

static void test_numbers(void)
{
	static const char *const ok[] = {
		"0", "-1", "7", "999999999999999999", "1000000000000000000",
		"9223372036854775807", "-9223372036854775808",
	};
	static const char *const bad[] = {
		"01", "-0", "+1", "-", "1.0", "1e3", "1E3", "-01", "00",
		"9223372036854775808", "-9223372036854775809",
		"18446744073709551615", "12345678901234567890", "true", "null",
		"0x10", "Infinity", "NaN",
	};
	char attrs[64];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK_EQ_INT(with("\"n\"", ok[i], "{}"), 1);
		snprintf(attrs, sizeof(attrs), "{\"a\":[%s]}", ok[i]);
		CHECK_EQ_INT(with("\"n\"", "1", attrs), 1);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(with("\"n\"", bad[i], "{}"), 0);
		snprintf(attrs, sizeof(attrs), "{\"a\":%s}", bad[i]);
		if (strcmp(bad[i], "true") && strcmp(bad[i], "null"))
			CHECK_EQ_INT(with("\"n\"", "1", attrs), 0);
	}
}

/* attrs of the given depth: objects {"k":{"k":...}}, or arrays
 * {"k":[[...]]}. */
static void nest(char *s, int depth, int arrays)
{
	s += sprintf(s, "{\"k\":");
	for (int i = 2; i < depth; i++)
		s += sprintf(s, arrays ? "[" : "{\"k\":");
	s += sprintf(s, arrays ? "[]" : "{}");
	for (int i = 2; i < depth; i++)
		s += sprintf(s, arrays ? "]" : "}");
	sprintf(s, "}");
}

static void keys(char *s, int n)
{
	*s++ = '{';
	for (int i = 0; i < n; i++)
		s += sprintf(s, "%s\"k%d\":%d", i ? "," : "", i, i);
	sprintf(s, "}");
}

static void test_attrs(void)
{
	static const char *const ok[] = {
		"{}", "{\"\":\"\"}", "{\"a\":[]}", "{\"a\":{}}",
		"{\"a\":[[],{},\"\",0,-1,true,false,null,[[[]]]]}",
		"{\"\\u0001\":\"\\u0000\",\"\\\\\":{\"/\":\"/\"}}",
		"{\"a\":1,\"A\":2,\"a \":3}", "{\"\x80\":\"\xff\"}",
	};
	static const char *const bad[] = {
		"{\"a\":1,\"a\":2}", "{\"a\":{\"b\":1,\"b\":1}}",
		"{\"a\\u0000b\":1}", "{\"a\\u0000b\":1,\"a\\u0000c\":2}",
		"{\"\\u0000\":1}", "{\"a\":True}", "{\"a\":nul}",
		"{\"a\":[1,]}", "{\"a\":1,}", "{,}", "{\"a\" :1}", "{\"a\":[1 ]}",
		"{ }", "{\"a\":\"\\/\"}", "{\"a\":\"\\u00e9\"}", "{'a':1}",
		"{\"a\"}", "{\"a\":}", "{\"a\":1", "{\"a\":[1}", "{\"a\":{]}",
		"{1:1}", "{\"a\":1.5}", "{\"a\":-0}", "{\"a\":01}",
	};
	char s[1024];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		CHECK_EQ_INT(with("\"n\"", "1", ok[i]), 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(with("\"n\"", "1", bad[i]), 0);
	for (int arrays = 0; arrays < 2; arrays++) {
		nest(s, 16, arrays);
		CHECK_EQ_INT(with("\"n\"", "1", s), 1);
		nest(s, 17, arrays);
		CHECK_EQ_INT(with("\"n\"", "1", s), 0);
	}
	keys(s, 32);
	CHECK_EQ_INT(with("\"n\"", "1", s), 1);
	keys(s, 33);
	CHECK_EQ_INT(with("\"n\"", "1", s), 0);
}

int main(void)
{
	sr_rng = 0x2545f4914f6cdd1dULL;
	test_lines();
	test_strings();
	test_numbers();
	test_attrs();
	test_written();
	test_mutants();
	return check_done("test_snapshot_parse");
}
