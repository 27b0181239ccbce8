/* tie.c - archives sealed by HSM keys: system backups tied to the HSM
 * root of trust, and backups holding HSM-anchored domains.
 *
 * A sealed archive's data key is wrapped (the "backupkey" wrap of
 * docs/FORMAT.md) not under the backup key itself but under
 *
 *     seal_key = HKDF-SHA256(ikm = backup key || T1 || ... || Tn,
 *                            salt = none, info = "backupfs HSM seal v1",
 *                            L = 32)
 *
 * where each Ti is 32 random bytes drawn for the archive and kept in its
 * header wrapped by one HSM key: first, for a backup tied to the HSM, the
 * wrap of kind "hsm" (the active root-of-trust key, "hsmKeyId"); then one
 * wrap of kind "hsm-domain:<name>" for each domain of "hsmDomains" (an
 * object: domain name -> the identity URI of its key), in that order.
 * The data key is thus recoverable only with the backup key and every one
 * of those HSM keys; the header MAC covers all the wraps.
 */
#include "hsm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "archive.h"
#include "crypto.h"
#include "engine_int.h"

#define SEAL_INFO "backupfs HSM seal v1"
#define SEAL_MAX 15		/* wraps besides the backup key's */

/* The HSM keys an archive's header asks for, in seal order. */
struct seal_keys {
	int n;
	char kind[SEAL_MAX][96];
	struct bk_rot *rot[SEAL_MAX];	/* borrowed */
	const char *keyid[SEAL_MAX];	/* borrowed from the header */
};

static int tied(json_object *h)
{
	json_object *v;

	return json_object_object_get_ex(h, "tiedToHSM", &v) &&
	       json_object_get_boolean(v);
}

static const char *hid(json_object *h)
{
	const char *id = json_object_get_string(json_object_object_get(h,
								       "id"));

	return id ? id : "?";
}

/* The root-of-trust key keyid: rot (the engine's, read once), or -EINVAL
 * saying why. */
static int check_active(struct bk_rot *rot, json_object *h,
			const char *keyid, struct bk_err *err)
{
	if (!keyid)
		return bk_errf(err, -EINVAL,
			       "backup %s is tied to an HSM but names no HSM key",
			       hid(h));
	if (strcmp(bk_rot_kind(rot), "pkcs11"))
		return bk_errf(err, -EINVAL,
			       "backup %s is tied to HSM root-of-trust key %s; this appliance has no HSM (software root of trust): it restores only where that key is active",
			       hid(h), keyid);
	if (strcmp(keyid, bk_rot_key_id(rot)))
		return bk_errf(err, -EINVAL,
			       "backup %s is tied to HSM root-of-trust key %s, which is not the active key here (active: %s): activate it with backupctl hsm activate %s",
			       hid(h), keyid, bk_rot_key_id(rot), keyid);
	return 0;
}

/* Fills k from the header h: the keys must be there (active, reachable),
 * else -EINVAL naming the key and why. */
static int seal_keys(struct bk_engine *e, json_object *h,
		     struct seal_keys *k, struct bk_err *err)
{
	struct bk_rot *rot = e->rot;	/* one key for the check and the use:
					 * a rotation swaps e->rot, and old
					 * handles stay valid until close */
	json_object *doms, *v;
	struct bk_err e2 = { 0 };
	int ret;

	k->n = 0;
	if (tied(h)) {
		const char *id = json_object_object_get_ex(h, "hsmKeyId", &v) ?
			json_object_get_string(v) : NULL;

		if ((ret = check_active(rot, h, id, err)))
			return ret;
		snprintf(k->kind[0], sizeof(k->kind[0]), "hsm");
		k->rot[0] = rot;
		k->keyid[0] = id;
		k->n = 1;
	}
	if (!json_object_object_get_ex(h, "hsmDomains", &doms) ||
	    !json_object_is_type(doms, json_type_object))
		return 0;
	json_object_object_foreach(doms, name, uri) {
		if (k->n == SEAL_MAX)
			return bk_errf(err, -EINVAL,
				       "more than %d HSM keys seal backup %s",
				       SEAL_MAX, hid(h));
		if (!json_object_is_type(uri, json_type_string))
			return bk_errf(err, -EINVAL,
				       "backup %s: the HSM of domain %s is not a URI",
				       hid(h), name);
		ret = bk_rot_resolve(rot, json_object_get_string(uri),
				     &k->rot[k->n], &e2);
		if (ret && json_object_object_get_ex(h, "id", NULL))
			return bk_errf(err, -EINVAL,
				       "backup %s holds HSM-anchored domain %s, whose key %s is not reachable here: %s",
				       hid(h), name,
				       json_object_get_string(uri), e2.msg);
		if (ret)	/* a backup about to start */
			return bk_errf(err, -EINVAL,
				       "HSM-anchored domain %s, whose key %s seals its backups, is not reachable here: %s",
				       name, json_object_get_string(uri),
				       e2.msg);
		snprintf(k->kind[k->n], sizeof(k->kind[0]), "hsm-domain:%s",
			 name);
		k->keyid[k->n] = json_object_get_string(uri);
		k->n++;
	}
	return 0;
}

static int derive(const uint8_t key[32], const uint8_t *t, int n,
		  uint8_t out[32], struct bk_err *err)
{
	size_t len = 32 * (size_t)(n + 1);
	uint8_t *ikm = bk_secure_alloc(len);
	int ret;

	if (!ikm)
		return bk_errf(err, -ENOMEM, "out of secure memory");
	memcpy(ikm, key, 32);
	memcpy(ikm + 32, t, 32 * (size_t)n);
	ret = bk_hkdf_sha256(ikm, len, NULL, 0, SEAL_INFO, out, 32, err);
	bk_secure_free(ikm, len);
	return ret;
}

int bk_seal_begin(struct bk_engine *e, json_object *header, uint8_t key[32],
		  struct bk_seal *s, struct bk_err *err)
{
	struct seal_keys k;
	uint8_t *t = NULL;
	int ret;

	memset(s, 0, sizeof(*s));
	ret = seal_keys(e, header, &k, err);
	if (ret || k.n == 0)
		return ret;
	t = bk_secure_alloc(32 * SEAL_MAX);
	if (!t)
		return bk_errf(err, -ENOMEM, "out of secure memory");
	ret = bk_random(t, 32 * (size_t)k.n, err);
	for (int i = 0; !ret && i < k.n; i++) {
		snprintf(s->kind[i], sizeof(s->kind[i]), "%s", k.kind[i]);
		snprintf(s->keyid[i], sizeof(s->keyid[i]), "%s",
			 bk_rot_key_id(k.rot[i]));
		ret = bk_rot_wrap(k.rot[i], t + 32 * i, 32, &s->wrapped[i],
				  &s->len[i], err);
		s->n = i + 1;
	}
	if (!ret)
		ret = derive(key, t, k.n, key, err);
	bk_secure_free(t, 32 * SEAL_MAX);
	return ret;
}

int bk_seal_add(struct bk_seal *s, struct bk_archive_writer *w,
		struct bk_err *err)
{
	int ret = 0;

	for (int i = 0; !ret && i < s->n; i++)
		ret = bk_archive_writer_add_wrap(w, s->kind[i], s->keyid[i],
						 "AES-256-KWP", s->wrapped[i],
						 s->len[i], err);
	return ret;
}

void bk_seal_free(struct bk_seal *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->wrapped[i]);
	s->n = 0;
}

int bk_tie_check(struct bk_engine *e, json_object *header,
		 struct bk_err *err)
{
	struct seal_keys k;

	return seal_keys(e, header, &k, err);
}

int bk_tie_unlock(struct bk_engine *e, struct bk_archive_reader *r,
		  const uint8_t key[32], struct bk_err *err)
{
	json_object *h = bk_archive_header(r);
	struct bk_err e2 = { 0 };
	struct seal_keys k;
	uint8_t *t = NULL, *sk = NULL;
	int ret;

	ret = seal_keys(e, h, &k, err);
	if (ret)
		return ret;
	if (k.n == 0)
		return bk_archive_unlock(r, key, err);
	t = bk_secure_alloc(32 * SEAL_MAX);
	sk = bk_secure_alloc(32);
	if (!t || !sk) {
		ret = bk_errf(err, -ENOMEM, "out of secure memory");
		goto out;
	}
	for (int i = 0; !ret && i < k.n; i++) {
		const uint8_t *w;
		uint8_t *clear = NULL;
		size_t wlen, clen = 0;

		w = bk_archive_wrapped(r, k.kind[i], &wlen, NULL, NULL);
		if (!w) {
			ret = bk_errf(err, -EBADMSG,
				      "the archive has no \"%s\" wrap", k.kind[i]);
			break;
		}
		ret = bk_rot_unwrap(k.rot[i], w, wlen, &clear, &clen, &e2);
		if (ret || clen != 32)
			ret = bk_errf(err, -EKEYREJECTED,
				      "the archive's \"%s\" wrap does not unwrap with HSM key %s: %s",
				      k.kind[i], bk_rot_key_id(k.rot[i]),
				      ret ? e2.msg : "wrong length");
		else
			memcpy(t + 32 * i, clear, 32);
		if (clear)
			bk_secure_free(clear, clen);
	}
	if (!ret)
		ret = derive(key, t, k.n, sk, err);
	if (!ret)
		ret = bk_archive_unlock(r, sk, err);
out:
	if (t)
		bk_secure_free(t, 32 * SEAL_MAX);
	if (sk)
		bk_secure_free(sk, 32);
	return ret;
}
