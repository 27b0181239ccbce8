/* rot.h - the root of trust: wraps every secret kept at rest.
 *
 * One small interface; the software implementation keeps a 32-byte AES key
 * in STATE_DIR/rot.key (mode 0600).  A PKCS#11 implementation slots in
 * behind the same calls (issue 4).
 */
#ifndef BK_ROT_H
#define BK_ROT_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

struct bk_rot;

/* Creates a new software root-of-trust key file (O_EXCL, 0600). */
int bk_rot_soft_create(const char *path, struct bk_err *err);

/* Opens the root of trust described by the state directory. */
int bk_rot_soft_open(const char *path, struct bk_rot **out,
		     struct bk_err *err);

void bk_rot_free(struct bk_rot *rot);

/* Wraps a secret (1..4096 bytes).  *out is a new buffer (caller frees). */
int bk_rot_wrap(struct bk_rot *rot, const uint8_t *secret, size_t len,
		uint8_t **out, size_t *outlen, struct bk_err *err);

/* Unwraps into a new secure-heap buffer (caller frees with
 * bk_secure_free(*out, *outlen)).  -EBADMSG if it does not unwrap. */
int bk_rot_unwrap(struct bk_rot *rot, const uint8_t *wrapped, size_t len,
		  uint8_t **out, size_t *outlen, struct bk_err *err);

/* "software" or "pkcs11". */
const char *bk_rot_kind(const struct bk_rot *rot);
/* Identifier of the active root-of-trust key (hex, not secret). */
const char *bk_rot_key_id(const struct bk_rot *rot);

#endif
