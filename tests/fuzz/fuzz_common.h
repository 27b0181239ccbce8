/* fuzz_common.h - what the libFuzzer targets and the seed generator share:
 * the fixed backup key and passphrase the seed archives and key files are
 * made with, and small I/O helpers.  Each target is its own program, so
 * everything here is static inline. */
#ifndef BK_FUZZ_COMMON_H
#define BK_FUZZ_COMMON_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/err.h"

#define FZ_PASSPHRASE "fuzz passphrase"

/* The fuzzing backup key: bytes 0x40, 0x41, ..., 0x5f. */
static inline void fz_fixed_key(uint8_t key[32])
{
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(0x40 + i);
}

/* Writes buf at offset 0 of fd (pwrite: the file offset is not used). */
static inline int fz_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	off_t off = 0;

	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A bk_source_fn over a buffer, handing out at most `chunk` bytes a call
 * (so that line buffers see every split). */
struct fz_src {
	const uint8_t *buf;
	size_t len, pos, chunk;
};

static inline ssize_t fz_source(void *arg, void *buf, size_t len,
				struct bk_err *err)
{
	struct fz_src *s = arg;
	size_t n = s->len - s->pos;

	(void)err;
	if (n > len)
		n = len;
	if (s->chunk && n > s->chunk)
		n = s->chunk;
	memcpy(buf, s->buf + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

#endif
