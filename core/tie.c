/* tie.c - system backups tied to the HSM root of trust.
 *
 * A tied archive's data key is wrapped (the "backupkey" wrap of
 * docs/FORMAT.md) not under the backup key itself but under
 *
 *     tie_key = HKDF-SHA256(ikm = backup key || T, salt = none,
 *                           info = "backupfs tied to HSM v1", L = 32)
 *
 * where T is 32 random bytes drawn for the archive and kept in the
 * header as the "hsm" wrap: T wrapped by the active HSM root-of-trust key
 * (keyId: its id, alg: "AES-256-KWP").  The data key is thus recoverable
 * only with both the backup key and that HSM key; the header MAC covers
 * both wraps.
 */
#include "hsm.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include "archive.h"
#include "crypto.h"
#include "engine_int.h"

#define TIE_INFO "backupfs tied to HSM v1"

static int derive(const uint8_t key[32], const uint8_t t[32],
		  uint8_t out[32], struct bk_err *err)
{
	uint8_t *ikm = bk_secure_alloc(64);
	int ret;

	if (!ikm)
		return bk_errf(err, -ENOMEM, "out of secure memory");
	memcpy(ikm, key, 32);
	memcpy(ikm + 32, t, 32);
	ret = bk_hkdf_sha256(ikm, 64, NULL, 0, TIE_INFO, out, 32, err);
	bk_secure_free(ikm, 64);
	return ret;
}

int bk_tie_key(struct bk_engine *e, uint8_t key[32], uint8_t **wrapped,
	       size_t *wlen, struct bk_err *err)
{
	uint8_t *t = bk_secure_alloc(32);
	int ret;

	if (!t)
		return bk_errf(err, -ENOMEM, "out of secure memory");
	ret = bk_random(t, 32, err);
	if (!ret)
		ret = bk_rot_wrap(e->rot, t, 32, wrapped, wlen, err);
	if (!ret)
		ret = derive(key, t, key, err);
	bk_secure_free(t, 32);
	return ret;
}

static int tied(json_object *h)
{
	json_object *v;

	return json_object_object_get_ex(h, "tiedToHSM", &v) &&
	       json_object_get_boolean(v);
}

static int check_id(struct bk_engine *e, json_object *h, const char *keyid,
		    struct bk_err *err)
{
	const char *id = json_object_get_string(json_object_object_get(h,
								       "id"));

	if (!keyid)
		return bk_errf(err, -EINVAL,
			       "backup %s is tied to an HSM but names no HSM key",
			       id ? id : "?");
	if (strcmp(bk_rot_kind(e->rot), "pkcs11"))
		return bk_errf(err, -EINVAL,
			       "backup %s is tied to HSM root-of-trust key %s; this appliance has no HSM (software root of trust): it restores only where that key is active",
			       id ? id : "?", keyid);
	if (strcmp(keyid, bk_rot_key_id(e->rot)))
		return bk_errf(err, -EINVAL,
			       "backup %s is tied to HSM root-of-trust key %s, which is not the active key here (active: %s): activate it with backupctl hsm activate %s",
			       id ? id : "?", keyid, bk_rot_key_id(e->rot),
			       keyid);
	return 0;
}

int bk_tie_check(struct bk_engine *e, json_object *h, struct bk_err *err)
{
	json_object *v;

	if (!tied(h))
		return 0;
	return check_id(e, h, json_object_object_get_ex(h, "hsmKeyId", &v) ?
			json_object_get_string(v) : NULL, err);
}

int bk_tie_unlock(struct bk_engine *e, struct bk_archive_reader *r,
		  const uint8_t key[32], struct bk_err *err)
{
	json_object *h = bk_archive_header(r);
	const uint8_t *w;
	const char *keyid = NULL;
	uint8_t *t = NULL, *tk;
	size_t wlen, tlen;
	int ret;

	if (!tied(h))
		return bk_archive_unlock(r, key, err);
	w = bk_archive_wrapped(r, "hsm", &wlen, &keyid, NULL);
	if (!w)
		return bk_errf(err, -EBADMSG,
			       "the archive is marked tied to an HSM but holds no HSM wrap");
	ret = check_id(e, h, keyid, err);
	if (ret)
		return ret;
	ret = bk_rot_unwrap(e->rot, w, wlen, &t, &tlen, err);
	if (ret)
		return bk_errf(err, -EKEYREJECTED,
			       "the archive's HSM wrap does not unwrap with HSM key %s: %s",
			       keyid, err ? err->msg : "");
	tk = bk_secure_alloc(32);
	if (!tk)
		ret = bk_errf(err, -ENOMEM, "out of secure memory");
	else if (tlen != 32)
		ret = bk_errf(err, -EBADMSG, "the archive's HSM wrap is damaged");
	else
		ret = derive(key, t, tk, err);
	if (!ret)
		ret = bk_archive_unlock(r, tk, err);
	bk_secure_free(t, tlen);
	if (tk)
		bk_secure_free(tk, 32);
	return ret;
}
