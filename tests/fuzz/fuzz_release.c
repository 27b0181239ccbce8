/* fuzz_release.c - libFuzzer target: the release-version parser and the
 * release-compatibility rules (core/release.h).
 *
 * The input is up to four lines: from, to, the LTS list, and a fourth
 * line whose presence sets force.  Each of the first two is also given
 * to bk_version_parse, and the pair compared.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/release.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *line[4] = { NULL }, *p;
	struct bk_version a, b;
	struct bk_err err = { 0 };
	int n = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (p = text; n < 4; n++) {
		line[n] = p;
		p = strchr(p, '\n');
		if (!p)
			break;
		*p++ = '\0';
	}
	if (!bk_version_parse(line[0], &a) &&
	    line[1] && !bk_version_parse(line[1], &b))
		(void)bk_version_cmp(&a, &b);
	(void)bk_release_check(line[0], line[1] ? line[1] : "", line[2],
			       line[3] != NULL, &err);
	free(text);
	return 0;
}
