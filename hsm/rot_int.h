/* rot_int.h - private to hsm/: the root-of-trust handle. */
#ifndef BK_ROT_INT_H
#define BK_ROT_INT_H

#include <p11-kit/pkcs11.h>

#include "rot.h"

struct bk_p11_token;		/* rot_p11.c: module, session, mutex */
struct bk_rot_links;		/* rot_bind.c */

struct bk_rot {
	int p11;			/* 0: software, 1: pkcs11 */
	char *why;			/* unreachable: every call fails so */
	struct bk_rot_links *links;	/* keys resolved, domains bound */
	char key_id[65];
	char label[128];		/* pkcs11: the key's CKA_LABEL */
	uint8_t *key;			/* software: secure heap, 32 bytes */
	struct bk_p11_token *tok;	/* pkcs11: shared, counted */
	CK_OBJECT_HANDLE obj;		/* pkcs11: the key on the token */
};

/* A new zeroed handle (caller frees with bk_rot_free); NULL if out of
 * memory. */
struct bk_rot *bk_rot_alloc(void);
int bk_rot_links_new(struct bk_rot *rot);	/* -ENOMEM */
void bk_rot_links_free(struct bk_rot *rot);
/* A key of rot's token (sharing its session) that uri names: 0 and *out,
 * or -ENODEV if uri names another token.  create: as bk_rot_p11_open. */
int bk_rot_p11_same_token(struct bk_rot *rot, const char *uri, int create,
			  struct bk_rot **out, struct bk_err *err);

int bk_rot_soft_wrap(struct bk_rot *rot, const uint8_t *secret, size_t len,
		     uint8_t **out, size_t *outlen, struct bk_err *err);
int bk_rot_soft_unwrap(struct bk_rot *rot, const uint8_t *wrapped,
		       size_t len, uint8_t **out, size_t *outlen,
		       struct bk_err *err);
/* out holds len bytes. */
int bk_rot_soft_unwrap_into(struct bk_rot *rot, const uint8_t *wrapped,
			    size_t len, uint8_t *out, size_t *outlen,
			    struct bk_err *err);
int bk_rot_p11_wrap(struct bk_rot *rot, const uint8_t *secret, size_t len,
		    uint8_t **out, size_t *outlen, struct bk_err *err);
int bk_rot_p11_unwrap(struct bk_rot *rot, const uint8_t *wrapped,
		      size_t len, uint8_t **out, size_t *outlen,
		      struct bk_err *err);
void bk_rot_p11_release(struct bk_rot *rot);
const char *bk_rot_p11_token(const struct bk_rot *rot);
const char *bk_rot_p11_label(const struct bk_rot *rot);
const char *bk_rot_p11_mechanism(const struct bk_rot *rot);
char *bk_rot_p11_uri(const struct bk_rot *rot);

#endif
