/* keyfile.h - exported backup key files (docs/FORMAT.md).
 *
 * The 32-byte backup key is encrypted with AES-256-GCM under a key derived
 * from the passphrase with scrypt (N = 2^17, r = 8, p = 1 by default; the
 * parameters and a random salt are stored); the clear metadata is the GCM
 * additional data, so it is authenticated.  A passphrase check value lets a
 * wrong passphrase be told apart from a tampered file.
 */
#ifndef BK_KEYFILE_H
#define BK_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "err.h"

/* meta (borrowed): "id", "name", "scope", "domain" (or null), "createdAt",
 * "fingerprint".  Returns a new buffer in *out (caller frees); *outlen is
 * exactly bk_keyfile_size(meta). */
int bk_keyfile_export(json_object *meta, const uint8_t key[32],
		      const char *pass, size_t passlen, uint8_t **out,
		      size_t *outlen, struct bk_err *err);

/* The exact length of bk_keyfile_export's output for this meta. */
size_t bk_keyfile_size(json_object *meta);

/* Parses a key file without the passphrase: *meta_out is a new object with
 * the metadata (caller puts).  -EINVAL if not a key file / malformed. */
int bk_keyfile_inspect(const void *buf, size_t len, json_object **meta_out,
		       struct bk_err *err);

/* Decrypts.  -EKEYREJECTED "wrong passphrase", -EBADMSG "tampered".
 * *meta_out as above (may be NULL). */
int bk_keyfile_import(const void *buf, size_t len, const char *pass,
		      size_t passlen, json_object **meta_out,
		      uint8_t key_out[32], struct bk_err *err);

#endif
