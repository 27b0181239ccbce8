/* fuzz_snapshot.c - libFuzzer target: a backup's payload, the snapshot
 * lines (bk_snapshot_check, core/snapshot.h).
 *
 * The input is the payload, handed out by a source in pieces of 1 to 509
 * bytes (chosen from the input's length, so that a seed stays a real
 * payload), so the line buffer sees lines split everywhere.
 */
#include <stdint.h>

#include "core/snapshot.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_src src = { .buf = data, .len = size };
	struct bk_err err = { 0 };

	src.chunk = 1 + size % 509;
	(void)bk_snapshot_check(fz_source, &src, &err);
	return 0;
}
