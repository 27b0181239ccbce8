/* fuzz_conn.c - libFuzzer target: SCP/SFTP connection requests
 * (core/conn.c, core/ssh.c).
 *
 * The input, made a C string, is parsed as connections/scp/create's
 * request (bk_request_parse with bk_fields_conn, then bk_conn_from_json,
 * named and inline), and on its own as a pinned host key
 * (bk_ssh_parse_pin).  No network.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/scp_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	int named;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (named = 0; named < 2; named++) {
		struct bk_err err = { 0 };
		struct bk_conn c;
		json_object *o = NULL;

		if (bk_request_parse(text, bk_fields_conn, &o, &err))
			continue;
		if (!bk_conn_from_json(o, named, &c, &err))
			bk_conn_clear(&c);
		json_object_put(o);
	}
	{
		struct bk_err err = { 0 };
		ssh_key key = NULL;

		if (!bk_ssh_parse_pin(text, &key, &err))
			ssh_key_free(key);
	}
	free(text);
	return 0;
}
