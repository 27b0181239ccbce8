/* test_snapshot_line.c - core/snapshot_line.c writes a resource line byte
 * for byte as json-c printed it (the object built member by member,
 * JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE): every single
 * byte, then many random rows full of what JSON escapes (control bytes,
 * quotes, backslashes, slashes), UTF-8 and invalid UTF-8, NUL bytes,
 * empty strings, null fingerprints, extreme versions, with and without
 * material. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <json-c/printbuf.h>
#include <openssl/evp.h>

#include "check.h"
#include "core/snapshot_int.h"
#include "snaprow_util.h"

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* A row, its strings as the database returns them. */
/* Attributes as json-c stored them: an object of random members. */
static char *rnd_attrs(void)
{
	json_object *o = json_object_new_object(), *nested;
	int n = (int)(rnd() % 4);
	char k[STR_MAX + 1], v[STR_MAX];
	char *text;

	for (int i = 0; i < n; i++) {
		size_t kl = rnd_str(k, 1), vl = rnd_str(v, 1);

		k[kl] = '\0';
		if (rnd() % 3 == 0) {
			nested = json_object_new_array();
			json_object_array_add(nested,
					      json_object_new_int64(rnd_version()));
			json_object_array_add(nested,
					      json_object_new_string_len(v, (int)vl));
			json_object_object_add(o, k, nested);
		} else {
			json_object_object_add(o, k,
					       json_object_new_string_len(v, (int)vl));
		}
	}
	text = strdup(json_object_to_json_string_ext(o, FLAGS));
	json_object_put(o);
	return text;
}

static json_object *str(const struct trow *t, int i)
{
	return json_object_new_string_len(t->s[i], (int)t->len[i]);
}

/* The stored attributes, as they were printed: json-c's serializer hook,
 * as snapshot_rows.c had it. */
static int attrs_serializer(json_object *o, struct printbuf *pb, int level,
			    int flags)
{
	const char *attrs = json_object_get_userdata(o);

	(void)level;
	(void)flags;
	return printbuf_memappend(pb, attrs, (int)strlen(attrs));
}

/* The line as snapshot_rows.c built it with json-c, newline included. */
static char *json_c_line(const struct trow *t)
{
	json_object *o = json_object_new_object();
	json_object *attrs = json_object_new_object();
	char b64[4 * sizeof(t->mat) / 3 + 8];
	size_t n;
	const char *s;
	char *line;

	json_object_object_add(o, "t", json_object_new_string("resource"));
	json_object_object_add(o, "id", str(t, 0));
	json_object_object_add(o, "domain", str(t, 1));
	json_object_object_add(o, "type", str(t, 2));
	json_object_object_add(o, "name", str(t, 3));
	json_object_object_add(o, "version",
			       json_object_new_int64(t->version));
	json_object_set_serializer(attrs, attrs_serializer, t->attrs, NULL);
	json_object_object_add(o, "attrs", attrs);
	json_object_object_add(o, "fingerprint",
			       t->null_fp ? NULL : str(t, 4));
	json_object_object_add(o, "createdAt", str(t, 5));
	if (t->has_mat) {
		EVP_EncodeBlock((unsigned char *)b64, t->mat, (int)t->mlen);
		json_object_object_add(o, "material",
				       json_object_new_string(b64));
	}
	s = json_object_to_json_string_length(o, FLAGS, &n);
	line = malloc(n + 2);
	memcpy(line, s, n);
	memcpy(line + n, "\n", 2);
	json_object_put(o);
	return line;
}

/* 1 if the writer's line is json-c's. */
static int same_line(const struct trow *t)
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
	const uint8_t *mat = t->has_mat ? t->mat : NULL;
	size_t max = bk_snap_line_max(&l, t->mlen);
	char *want = json_c_line(t);
	/* a guard after the bound: the writer must not pass it */
	char *buf = malloc(max + 16), *end;
	int ok;

	memset(buf, 0xa5, max + 16);
	end = bk_snap_line_write(buf, &l, mat, t->mlen);
	ok = (size_t)(end - buf) <= max && buf[max] == (char)0xa5 &&
	     (size_t)(end - buf) == strlen(want) &&
	     !memcmp(buf, want, strlen(want));
	if (!ok)
		fprintf(stderr, "want %s got  %.*s\n", want,
			(int)(end - buf), buf);
	free(buf);
	free(want);
	return ok;
}

/* Every byte alone, and between two others, in every string member. */
static void test_each_byte(void)
{
	struct trow t = { .attrs = (char *)"{}" };

	for (int c = 0; c < 256; c++)
		for (int i = 0; i < 6; i++) {
			memset(t.len, 0, sizeof(t.len));
			t.s[i][0] = 'a';
			t.s[i][1] = (char)c;
			t.s[i][2] = 'b';
			t.len[i] = 3;
			CHECK(same_line(&t));
			t.s[i][0] = (char)c;
			t.len[i] = 1;
			CHECK(same_line(&t));
		}
}

static void test_edges(void)
{
	struct trow t = { .attrs = (char *)"{}" };

	/* all empty, null fingerprint, empty material */
	t.null_fp = 1;
	CHECK(same_line(&t));
	t.has_mat = 1;
	CHECK(same_line(&t));
	t.null_fp = 0;
	t.version = LLONG_MIN;
	CHECK(same_line(&t));
	t.version = LLONG_MAX;
	t.mlen = 32;
	memset(t.mat, 0xfb, t.mlen);
	CHECK(same_line(&t));
	/* 6 bytes per byte, the writer's bound, in every string */
	for (int i = 0; i < 6; i++) {
		memset(t.s[i], 0x01, STR_MAX);
		t.len[i] = STR_MAX;
	}
	CHECK(same_line(&t));
}

static void test_random(void)
{
	struct trow t;
	int bad = 0;

	for (int i = 0; i < 20000 && bad < 5; i++) {
		memset(&t, 0, sizeof(t));
		rnd_row(&t, 1, rnd_attrs);
		if (!same_line(&t))
			bad++;
		free(t.attrs);
	}
	CHECK_EQ_INT(bad, 0);
}

static void test_int64(void)
{
	char buf[32], want[32];
	long long v[] = { 0, 7, -7, 10, -10, LLONG_MAX, LLONG_MIN };

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		*bk_json_int64(buf, v[i]) = '\0';
		snprintf(want, sizeof(want), "%lld", v[i]);
		CHECK(!strcmp(buf, want));
	}
}

int main(void)
{
	sr_rng = 0x9e3779b97f4a7c15ULL;
	test_int64();
	test_each_byte();
	test_edges();
	test_random();
	return check_done("test_snapshot_line");
}
