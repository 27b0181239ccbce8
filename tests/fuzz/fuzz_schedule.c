/* fuzz_schedule.c - libFuzzer target: what a schedule request holds
 * (core/cron.c, core/schedule.c): the input, made a C string, is parsed
 * as a cron expression (and, when valid, its next due times are computed
 * from a few fixed times), as an RFC 3339 time, and as a JSON object
 * checked as a schedule without a state (bk_sched_parse with no engine).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine_int.h"
#include "core/sched_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t from[] = { 0, 946684800, 1835438399, 4102444799 };
	char *text = malloc(size + 1);
	struct bk_err err = { 0 };
	struct bk_cron c;
	struct bk_sched s;
	json_object *o;
	int64_t t;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (!bk_cron_parse(text, &c, &err))
		for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++)
			if (!bk_cron_next(&c, from[i], &t) && t <= from[i])
				abort();	/* next is strictly after */
	bk_rfc3339_parse(text, &t);
	o = json_tokener_parse(text);
	if (json_object_is_type(o, json_type_object))
		bk_sched_parse(NULL, o, &s, &err);
	json_object_put(o);
	free(text);
	return 0;
}
