/* fuzz_request.c - libFuzzer target: control-file requests
 * (bk_request_parse, core/engine_int.h).
 *
 * The input, made a C string, is parsed against the field tables of the
 * engine's control files: system backup, domain backup, key creation and
 * restore (the engine's own tables, core/request.c), and the empty table.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine_int.h"

static const struct bk_field no_fields[] = { { NULL, 0 } };

static const struct bk_field *const tables[] = {
	bk_fields_system_backup, bk_fields_domain_backup,
	bk_fields_key_create, bk_fields_restore, no_fields,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		struct bk_err err = { 0 };
		json_object *o = NULL;

		if (!bk_request_parse(text, tables[i], &o, &err))
			json_object_put(o);
	}
	free(text);
	return 0;
}
