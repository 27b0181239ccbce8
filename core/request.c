/* request.c - validation of the JSON written to control files. */
#include "engine_int.h"

#include <errno.h>
#include <string.h>

static const char *type_name(json_type t)
{
	switch (t) {
	case json_type_boolean: return "true or false";
	case json_type_string: return "a string";
	case json_type_array: return "an array";
	case json_type_object: return "an object";
	case json_type_int: return "an integer";
	default: return "a value";
	}
}

int bk_request_parse(const char *text, const struct bk_field *fields,
		     json_object **out, struct bk_err *err)
{
	enum json_tokener_error jerr;
	json_object *obj;
	char allowed[256] = "";
	size_t n = 0;

	obj = json_tokener_parse_verbose(text ? text : "{}", &jerr);
	if (!obj && jerr != json_tokener_success)
		return bk_errf(err, -EINVAL, "malformed JSON: %s",
			       json_tokener_error_desc(jerr));
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return bk_errf(err, -EINVAL, "expected a JSON object");
	}
	for (const struct bk_field *f = fields; f->name; f++)
		n += snprintf(allowed + n, n < sizeof(allowed) ?
			      sizeof(allowed) - n : 0, "%s%s",
			      f == fields ? "" : ", ", f->name);
	json_object_object_foreach(obj, key, val) {
		const struct bk_field *f;

		for (f = fields; f->name; f++)
			if (!strcmp(f->name, key))
				break;
		if (!f->name) {
			bk_errf(err, -EINVAL, "unknown field \"%s\" (allowed: %s)",
				key, fields->name ? allowed : "none");
			json_object_put(obj);
			return -EINVAL;
		}
		if (!json_object_is_type(val, f->type)) {
			bk_errf(err, -EINVAL, "field \"%s\" must be %s", key,
				type_name(f->type));
			json_object_put(obj);
			return -EINVAL;
		}
	}
	*out = obj;
	return 0;
}

const struct bk_field bk_fields_system_backup[] = {
	{ "description", json_type_string },
	{ "backupKey", json_type_string },
	{ "tiedToHSM", json_type_boolean }, { NULL, 0 } };
const struct bk_field bk_fields_domain_backup[] = {
	{ "description", json_type_string },
	{ "backupKey", json_type_string },
	{ "filters", json_type_array }, { NULL, 0 } };
const struct bk_field bk_fields_key_create[] = {
	{ "name", json_type_string }, { "default", json_type_boolean },
	{ NULL, 0 } };
const struct bk_field bk_fields_restore[] = {
	{ "force", json_type_boolean }, { NULL, 0 } };
