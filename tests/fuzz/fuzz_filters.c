/* fuzz_filters.c - libFuzzer target: a domain backup's filter JSON
 * (bk_filters_validate, core/snapshot.h).
 *
 * The input is parsed as JSON text the way a control file is, and any
 * value that parses (not only arrays) is validated.
 */
#include <stdint.h>

#include <json-c/json.h>

#include "core/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bk_err err = { 0 };
	json_tokener *tok;
	json_object *f;

	if (size > 1 << 20)
		return 0;
	tok = json_tokener_new();
	if (!tok)
		return 0;
	f = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	if (json_tokener_get_error(tok) == json_tokener_success)
		(void)bk_filters_validate(f, &err);
	json_object_put(f);
	json_tokener_free(tok);
	return 0;
}
