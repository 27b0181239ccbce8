/* fuzz_snapline.c - libFuzzer target: a resource line read without json-c
 * (bk_snap_res_parse, core/snapshot_parse.h), against json-c.
 *
 * The input is one line (no newline).  Whenever the parser takes it,
 * json-c in JSON_TOKENER_STRICT mode must read exactly the same members:
 * anything else aborts.  The seeds (tests/fuzz/corpus/snapline/, written
 * by hand) are lines of the writer's form.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/snapshot_parse.h"

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static void same_str(json_object *v, const char *s, size_t n)
{
	if (!json_object_is_type(v, json_type_string) || !s ||
	    (size_t)json_object_get_string_len(v) != n ||
	    memcmp(json_object_get_string(v), s, n) || s[n] || strlen(s) != n)
		abort();
}

/* The members, one bit each in the order of the ifs below. */
static unsigned check_member(const char *key, json_object *v,
			     const struct bk_snap_res *r)
{
	const char *a;

	if (!strcmp(key, "t"))
		same_str(v, "resource", 8);
	else if (!strcmp(key, "id"))
		same_str(v, r->id, r->id_len);
	else if (!strcmp(key, "domain"))
		same_str(v, r->domain, r->domain_len);
	else if (!strcmp(key, "type"))
		same_str(v, r->type, r->type_len);
	else if (!strcmp(key, "name"))
		same_str(v, r->name, r->name_len);
	else if (!strcmp(key, "createdAt"))
		same_str(v, r->created, r->created_len);
	else if (!strcmp(key, "version")) {
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) != r->version)
			abort();
		return 64;
	} else if (!strcmp(key, "attrs")) {
		if (!json_object_is_type(v, json_type_object))
			abort();
		a = json_object_to_json_string_ext(v, FLAGS);
		if (!r->attrs || strlen(a) != r->attrs_len ||
		    memcmp(a, r->attrs, r->attrs_len + 1))
			abort();
		return 128;
	} else if (!strcmp(key, "fingerprint")) {
		if (v)
			same_str(v, r->fp, r->fp_len);
		else if (r->fp)
			abort();
		return 256;
	} else if (!strcmp(key, "material")) {
		same_str(v, r->b64, r->b64_len);
		return 512;
	} else {
		abort();
	}
	/* the strings: t id domain type name createdAt */
	return !strcmp(key, "t") ? 1 : !strcmp(key, "id") ? 2 :
	       !strcmp(key, "domain") ? 4 : !strcmp(key, "type") ? 8 :
	       !strcmp(key, "name") ? 16 : 32;
}

static void json_c_agrees(const uint8_t *data, size_t size,
			  const struct bk_snap_res *r)
{
	json_tokener *tok = json_tokener_new();
	json_object *o;
	unsigned seen = 0;

	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != size ||
	    !json_object_is_type(o, json_type_object))
		abort();
	json_object_object_foreach(o, key, v)
		seen |= check_member(key, v, r);
	if ((seen & 255) != 255 || (!(seen & 256) && r->fp) ||
	    (!(seen & 512) && r->b64))
		abort();
	json_object_put(o);
	json_tokener_free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = malloc(size + 1);
	struct bk_snap_res r;

	if (!out || size > 1 << 20)	/* json-c's length is an int */
		goto out;
	if (bk_snap_res_parse((const char *)data, size, out, &r))
		json_c_agrees(data, size, &r);
out:
	free(out);
	return 0;
}
