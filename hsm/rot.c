/* rot.c - the root of trust's one interface: dispatches each call to the
 * software key (rot_soft.c) or to the PKCS#11 token (rot_p11.c). */
#include "rot_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "../core/crypto.h"

struct bk_rot *bk_rot_alloc(void)
{
	struct bk_rot *rot = calloc(1, sizeof(struct bk_rot));

	if (rot && bk_rot_links_new(rot)) {
		free(rot);
		rot = NULL;
	}
	return rot;
}

void bk_rot_free(struct bk_rot *rot)
{
	if (!rot)
		return;
	bk_rot_links_free(rot);
	free(rot->why);
	if (rot->key)
		bk_secure_free(rot->key, BK_KEY_LEN);
	if (rot->p11)
		bk_rot_p11_release(rot);
	free(rot);
}

int bk_rot_wrap(struct bk_rot *rot, const uint8_t *secret, size_t len,
		uint8_t **out, size_t *outlen, struct bk_err *err)
{
	if (rot->why)
		return bk_errf(err, -ENXIO, "%s", rot->why);
	if (len == 0 || len > BK_ROT_SECRET_MAX)
		return bk_errf(err, -EINVAL,
			       "secret of %zu bytes cannot be wrapped", len);
	return rot->p11 ? bk_rot_p11_wrap(rot, secret, len, out, outlen, err) :
		bk_rot_soft_wrap(rot, secret, len, out, outlen, err);
}

int bk_rot_wrap_many(struct bk_rot *rot, const uint8_t *const secret[],
		     const size_t len[], uint8_t *out[], size_t outlen[],
		     size_t n, size_t *failed, struct bk_err *err)
{
	size_t i;
	int ret = 0;

	for (i = 0; i < n && !ret; i++) {
		out[i] = NULL;
		if (rot->p11 || rot->why || len[i] == 0 ||
		    len[i] > BK_ROT_SECRET_MAX)
			ret = bk_rot_wrap(rot, secret[i], len[i], &out[i],
					  &outlen[i], err);
		else if (!(out[i] = malloc(len[i] + 16)))
			ret = bk_errf(err, -ENOMEM, "out of memory");
	}
	*failed = i ? i - 1 : 0;
	if (!ret && !rot->p11 && !rot->why)
		ret = bk_kwp_wrap_many(rot->key, secret, len, out, outlen, n,
				       failed, err);
	if (ret) {
		while (i > 0) {
			i--;
			/* The software key's buffers (len + 16 bytes) may
			 * hold a secret, padded or half wrapped, if the wrap
			 * failed; a token's hold what it wrapped. */
			if (out[i] && !rot->p11 && !rot->why)
				OPENSSL_clear_free(out[i], len[i] + 16);
			else
				free(out[i]);
		}
	}
	return ret;
}

/* What every unwrap checks first. */
static int unwrap_check(struct bk_rot *rot, size_t len, struct bk_err *err)
{
	if (rot->why)
		return bk_errf(err, -ENXIO, "%s", rot->why);
	if (len < 16 || len > BK_ROT_WRAPPED_MAX)
		return bk_errf(err, -EBADMSG, "wrapped secret has a bad length");
	return 0;
}

int bk_rot_unwrap(struct bk_rot *rot, const uint8_t *wrapped, size_t len,
		  uint8_t **out, size_t *outlen, struct bk_err *err)
{
	int ret = unwrap_check(rot, len, err);

	if (ret)
		return ret;
	return rot->p11 ? bk_rot_p11_unwrap(rot, wrapped, len, out, outlen,
					    err) :
		bk_rot_soft_unwrap(rot, wrapped, len, out, outlen, err);
}

int bk_rot_unwrap_into(struct bk_rot *rot, const uint8_t *wrapped,
		       size_t len, uint8_t *out, size_t cap, size_t *outlen,
		       struct bk_err *err)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	int ret;

	if ((ret = unwrap_check(rot, len, err)))
		return ret;
	if (cap < len)
		return bk_errf(err, -EINVAL,
			       "no room to unwrap a secret of %zu bytes", len);
	if (!rot->p11)
		return bk_rot_soft_unwrap_into(rot, wrapped, len, out, outlen,
					       err);
	/* The token hands the secret back in a buffer of its own. */
	ret = bk_rot_p11_unwrap(rot, wrapped, len, &buf, &n, err);
	if (ret)
		return ret;
	if (n > cap) {
		ret = bk_errf(err, -EBADMSG, "unwrapped secret is too long");
	} else {
		memcpy(out, buf, n);
		*outlen = n;
	}
	bk_secure_free(buf, n);
	return ret;
}

const char *bk_rot_why(const struct bk_rot *rot)
{
	return rot->why;
}

const char *bk_rot_kind(const struct bk_rot *rot)
{
	if (rot->why)
		return "unreachable";
	return rot->p11 ? "pkcs11" : "software";
}

const char *bk_rot_key_id(const struct bk_rot *rot)
{
	return rot->key_id;
}

const char *bk_rot_alg(const struct bk_rot *rot)
{
	(void)rot;
	return "AES-256-KWP";
}

const char *bk_rot_mechanism(const struct bk_rot *rot)
{
	return rot->p11 ? bk_rot_p11_mechanism(rot) : "";
}

const char *bk_rot_token(const struct bk_rot *rot)
{
	return rot->p11 ? bk_rot_p11_token(rot) : "";
}

const char *bk_rot_label(const struct bk_rot *rot)
{
	return rot->p11 ? bk_rot_p11_label(rot) : "";
}

char *bk_rot_uri(const struct bk_rot *rot)
{
	return rot->p11 ? bk_rot_p11_uri(rot) : NULL;
}
