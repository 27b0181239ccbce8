/* fuzz_archive.c - libFuzzer target: the archive reader (core/archive.h).
 *
 * The input is an archive file: bk_archive_open parses the preamble and
 * header from an in-memory file (memfd), then the reader is unlocked with
 * the fixed key the seed archives were made with (tests/fuzz/gen_seeds.c)
 * and the payload is read to its end, rewound and verified.  Any result
 * is fine; a crash, a leak or undefined behaviour is not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/archive.h"
#include "core/crypto.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (bk_crypto_init())
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static uint8_t buf[7000];	/* not a divisor of the chunk size */
	struct bk_archive_reader *r = NULL;
	struct bk_err err = { 0 };
	uint8_t key[32];
	ssize_t n;

	if (fd < 0 && (fd = memfd_create("fuzz-archive", 0)) < 0)
		abort();
	if (ftruncate(fd, 0) || fz_write_all(fd, data, size))
		abort();
	if (bk_archive_open(fd, &r, &err))
		return 0;
	(void)bk_archive_header(r);
	(void)bk_archive_wrapped(r, "backupkey", NULL, NULL, NULL);
	(void)bk_archive_wrapped(r, "hsm", NULL, NULL, NULL);
	fz_fixed_key(key);
	if (!bk_archive_unlock(r, key, &err)) {
		do
			n = bk_archive_read(r, buf, sizeof(buf), &err);
		while (n > 0);
		if (!bk_archive_rewind(r))
			(void)bk_archive_verify(r, NULL, NULL, &err);
	}
	bk_archive_close(r);
	return 0;
}
