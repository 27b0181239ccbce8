/* rot.h - the root of trust: wraps every secret kept at rest.
 *
 * One interface, two implementations (hsm/rot.c dispatches):
 *   - "software": a 32-byte AES key in STATE_DIR/rot.key (mode 0600),
 *     secrets wrapped with OpenSSL's RFC 5649 KWP (hsm/rot_soft.c);
 *   - "pkcs11": an AES-256 key created on a PKCS#11 token reached through
 *     p11-kit, sensitive, non-extractable, wrap/unwrap only; secrets are
 *     wrapped on the token with RFC 5649 KWP (hsm/rot_p11.c, which says
 *     how raw bytes are wrapped with C_WrapKey).
 *
 * A bk_rot is one key.  All calls are thread-safe: a token's session is
 * shared by the keys opened on it and guarded by a mutex.
 */
#ifndef BK_ROT_H
#define BK_ROT_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

struct bk_rot;

/* Creates a new software root-of-trust key file (O_EXCL, 0600). */
int bk_rot_soft_create(const char *path, struct bk_err *err);

/* Opens the software root of trust of a state directory. */
int bk_rot_soft_open(const char *path, struct bk_rot **out,
		     struct bk_err *err);

/* Opens a key on a PKCS#11 token.  uri: RFC 7512, e.g.
 * "pkcs11:token=T;object=L;module-name=softhsm2;pin-source=/etc/pin"
 * (token= and object= required; module-name= or module-path=, else every
 * module p11-kit knows is searched; the PIN from pin-value= or from the
 * first line of the pin-source= file (a path or file: URL); id= selects a
 * key by its CKA_ID).  key_id (hex CKA_ID, may be NULL) overrides id=.
 * Without an id, the one key labelled L is used; with create, one is
 * generated when the token has none.  Errors name the module, the token
 * or the PIN: -ENOENT (module, token or key missing), -EACCES (PIN
 * missing or wrong), -EIO (the token failed). */
int bk_rot_p11_open(const char *uri, const char *key_id, int create,
		    struct bk_rot **out, struct bk_err *err);

/* Another key of rot's token and label (shares its session): key_id NULL
 * generates a new key (a new version of the root of trust). */
int bk_rot_p11_sibling(struct bk_rot *rot, const char *key_id,
		       struct bk_rot **out, struct bk_err *err);

/* Calls cb with the id of each key labelled as rot's on its token.  cb
 * runs under the process's PKCS#11 lock: it must not call into hsm/. */
int bk_rot_p11_keys(struct bk_rot *rot,
		    int (*cb)(void *arg, const char *key_id), void *arg,
		    struct bk_err *err);

void bk_rot_free(struct bk_rot *rot);

/* ---- keys of HSM-anchored domains (rot_bind.c), kept by the
 * appliance's root of trust rot ---- */

/* Opens the key uri names: on rot's token, sharing its session (and
 * PIN), else as bk_rot_p11_open.  *out new (caller frees). */
int bk_rot_open_uri(struct bk_rot *rot, const char *uri, int create,
		    struct bk_rot **out, struct bk_err *err);
/* The same, opened once and kept by rot: *out borrowed, valid until rot
 * is freed. */
int bk_rot_resolve(struct bk_rot *rot, const char *uri, struct bk_rot **out,
		   struct bk_err *err);
/* Binds domain to the key uri names (NULL: unbinds).  A key that cannot
 * be reached is bound all the same, as one whose calls fail (-ENXIO) with
 * the reason, which is also returned. */
int bk_rot_bind(struct bk_rot *rot, const char *domain, const char *uri,
		struct bk_err *err);
void bk_rot_unbind_all(struct bk_rot *rot);
/* The key that wraps domain's secrets: the one it is bound to, else rot
 * itself (domain NULL: rot).  Borrowed. */
struct bk_rot *bk_rot_for(struct bk_rot *rot, const char *domain);
/* The key's identity: "pkcs11:token=T;id=...;object=L", nothing about
 * how to reach it (the value of an anchored domain's hsm column).  New
 * string; NULL for the software key. */
char *bk_rot_identity(const struct bk_rot *rot);
/* The token label a URI names into token (33 bytes); -EINVAL if none. */
int bk_rot_uri_token(const char *uri, char token[33]);
/* identity's attributes with conn's module and PIN: a new string. */
char *bk_rot_uri_merge(const char *identity, const char *conn);
/* How to reach token (a URI with module-name= or module-path= and
 * pin-source=, from the appliance's configuration): used by
 * bk_rot_open_uri for URIs on that token that do not say. */
int bk_rot_connection(struct bk_rot *rot, const char *token,
		      const char *conn, struct bk_err *err);
/* Hands from's keys and bindings to to (rotation of the root of trust). */
void bk_rot_move_links(struct bk_rot *from, struct bk_rot *to);

#define BK_ROT_SECRET_MAX 4096		/* bytes of a secret */
#define BK_ROT_WRAPPED_MAX (BK_ROT_SECRET_MAX + 32)

/* Wraps a secret (1..BK_ROT_SECRET_MAX bytes).  *out is a new buffer
 * (caller frees). */
int bk_rot_wrap(struct bk_rot *rot, const uint8_t *secret, size_t len,
		uint8_t **out, size_t *outlen, struct bk_err *err);
/* As bk_rot_wrap for secret[i] (len[i] bytes) into out[i] and outlen[i],
 * i < n, all at once (a restore's keys: bk_kwp_wrap_many).  All or
 * nothing: on an error no out[i] is left, and *failed is the i whose
 * secret could not be wrapped. */
int bk_rot_wrap_many(struct bk_rot *rot, const uint8_t *const secret[],
		     const size_t len[], uint8_t *out[], size_t outlen[],
		     size_t n, size_t *failed, struct bk_err *err);

/* Unwraps into a new secure-heap buffer (caller frees with
 * bk_secure_free(*out, *outlen)).  -EBADMSG if it does not unwrap. */
int bk_rot_unwrap(struct bk_rot *rot, const uint8_t *wrapped, size_t len,
		  uint8_t **out, size_t *outlen, struct bk_err *err);
/* The same, into the caller's buffer out (cap bytes, at least len; a
 * wrap of a secret is at most BK_ROT_WRAPPED_MAX bytes): one secure-heap
 * buffer kept for many secrets saves an allocation, and the secure heap's
 * global lock, per secret.  The caller wipes out (len bytes, whatever the
 * result).  A PKCS#11 key unwraps as bk_rot_unwrap does, then copies. */
int bk_rot_unwrap_into(struct bk_rot *rot, const uint8_t *wrapped,
		       size_t len, uint8_t *out, size_t cap, size_t *outlen,
		       struct bk_err *err);

/* Why the key cannot be used (an anchored domain's key not reachable
 * here), or NULL. */
const char *bk_rot_why(const struct bk_rot *rot);
/* "software", "pkcs11", or "unreachable" (bk_rot_why says why). */
const char *bk_rot_kind(const struct bk_rot *rot);
/* Identifier of the key (hex, not secret): for a token key its CKA_ID. */
const char *bk_rot_key_id(const struct bk_rot *rot);
/* The wrapping algorithm by name ("AES-256-KWP"), and the PKCS#11
 * mechanism the token accepted for it ("" before the first use and for
 * the software key). */
const char *bk_rot_alg(const struct bk_rot *rot);
const char *bk_rot_mechanism(const struct bk_rot *rot);
/* Token label and key label ("" for the software key). */
const char *bk_rot_token(const struct bk_rot *rot);
const char *bk_rot_label(const struct bk_rot *rot);
/* The key's URI with its id and without any PIN value (safe to store and
 * show); NULL for the software key.  New string (caller frees). */
char *bk_rot_uri(const struct bk_rot *rot);

#endif
