/* keygen.c - a key resource's secret material, generated at creation.
 *
 *   AES   size 128 | 192 | 256 (default 256): size/8 random bytes
 *   HMAC  size 256 | 384 | 512 (default 256): size/8 random bytes
 *   EC    curve P-256 (default) | P-384 (or size 256 | 384): the private
 *         key, DER PKCS#8 PrivateKeyInfo
 *   RSA   size 2048 (default) | 3072 | 4096: the private key, DER PKCS#8
 *
 * The algorithm and curve names are matched case-insensitively.  Every
 * copy of the clear material is in the secure heap or wiped.
 */
#include "store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto.h"

/* attrs[name] as an integer; *v untouched if absent. */
static int attr_int(json_object *attrs, const char *name, const char *what,
		    int *v, struct bk_err *err)
{
	json_object *o;
	int64_t i;

	if (!json_object_object_get_ex(attrs, name, &o))
		return 0;
	if (!json_object_is_type(o, json_type_int))
		return bk_errf(err, -EINVAL, "%s: \"%s\" must be an integer",
			       what, name);
	i = json_object_get_int64(o);
	if (i < 0 || i > 65536)
		return bk_errf(err, -EINVAL, "%s: \"%s\" %lld is out of range",
			       what, name, (long long)i);
	*v = (int)i;
	return 0;
}

/* attrs[name] as a string; *v untouched if absent. */
static int attr_str(json_object *attrs, const char *name, const char *what,
		    const char **v, struct bk_err *err)
{
	json_object *o;

	if (!json_object_object_get_ex(attrs, name, &o))
		return 0;
	if (!json_object_is_type(o, json_type_string))
		return bk_errf(err, -EINVAL, "%s: \"%s\" must be a string",
			       what, name);
	*v = json_object_get_string(o);
	return 0;
}

static int random_key(size_t len, uint8_t **mat, size_t *outlen,
		      struct bk_err *err)
{
	uint8_t *buf;
	int ret;

	buf = bk_secure_alloc(len);
	if (!buf)
		return bk_errf(err, -ENOMEM, "out of secure memory");
	ret = bk_random(buf, len, err);
	if (ret) {
		bk_secure_free(buf, len);
		return ret;
	}
	*mat = buf;
	*outlen = len;
	return 0;
}

/* pkey's private key as DER PKCS#8, copied into the secure heap. */
static int pkcs8_der(EVP_PKEY *pkey, const char *what, uint8_t **mat,
		     size_t *outlen, struct bk_err *err)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *der = NULL;
	uint8_t *buf;
	int len = 0, ret = 0;

	p8 = EVP_PKEY2PKCS8(pkey);
	if (!p8 || (len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0) {
		len = 0;
		ret = bk_err_ssl(err, -EIO, what);
		goto out;
	}
	buf = bk_secure_alloc((size_t)len);
	if (!buf) {
		ret = bk_errf(err, -ENOMEM, "out of secure memory");
		goto out;
	}
	memcpy(buf, der, (size_t)len);
	*mat = buf;
	*outlen = (size_t)len;
out:
	if (der)
		OPENSSL_clear_free(der, (size_t)len);
	PKCS8_PRIV_KEY_INFO_free(p8);	/* wipes its copy of the key */
	return ret;
}

static int ec_key(json_object *attrs, const char *what, uint8_t **mat,
		  size_t *len, struct bk_err *err)
{
	const char *curve = NULL, *group;
	EVP_PKEY *pkey = NULL;
	int size = -1, ret;

	if ((ret = attr_str(attrs, "curve", what, &curve, err)) ||
	    (ret = attr_int(attrs, "size", what, &size, err)))
		return ret;
	if (!curve)
		curve = size == 384 ? "P-384" : "P-256";
	if (!strcasecmp(curve, "P-256"))
		group = "P-256";
	else if (!strcasecmp(curve, "P-384"))
		group = "P-384";
	else
		return bk_errf(err, -EINVAL,
			       "%s: EC curve \"%s\" is not supported (P-256 or P-384)",
			       what, curve);
	if (size != -1 && size != atoi(group + 2))
		return bk_errf(err, -EINVAL,
			       "%s: size %d does not match curve %s", what,
			       size, group);
	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
	if (!pkey)
		return bk_err_ssl(err, -EIO, "EC key generation failed");
	ret = pkcs8_der(pkey, "cannot encode the EC key", mat, len, err);
	EVP_PKEY_free(pkey);
	return ret;
}

static int rsa_key(json_object *attrs, const char *what, uint8_t **mat,
		   size_t *len, struct bk_err *err)
{
	EVP_PKEY *pkey = NULL;
	int size = 2048, ret;

	ret = attr_int(attrs, "size", what, &size, err);
	if (ret)
		return ret;
	if (size != 2048 && size != 3072 && size != 4096)
		return bk_errf(err, -EINVAL,
			       "%s: RSA size must be 2048, 3072 or 4096, not %d",
			       what, size);
	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)size);
	if (!pkey)
		return bk_err_ssl(err, -EIO, "RSA key generation failed");
	ret = pkcs8_der(pkey, "cannot encode the RSA key", mat, len, err);
	EVP_PKEY_free(pkey);
	return ret;
}

int bk_keygen(json_object *attrs, const char *what, uint8_t **mat,
	      size_t *len, struct bk_err *err)
{
	const char *alg = "AES";
	int size = -1, ret;

	if ((ret = attr_str(attrs, "algorithm", what, &alg, err)))
		return ret;
	if (!strcasecmp(alg, "EC"))
		return ec_key(attrs, what, mat, len, err);
	if (!strcasecmp(alg, "RSA"))
		return rsa_key(attrs, what, mat, len, err);
	if ((ret = attr_int(attrs, "size", what, &size, err)))
		return ret;
	if (!strcasecmp(alg, "AES")) {
		if (size == -1)
			size = 256;
		if (size != 128 && size != 192 && size != 256)
			return bk_errf(err, -EINVAL,
				       "%s: AES size must be 128, 192 or 256, not %d",
				       what, size);
	} else if (!strcasecmp(alg, "HMAC")) {
		if (size == -1)
			size = 256;
		if (size != 256 && size != 384 && size != 512)
			return bk_errf(err, -EINVAL,
				       "%s: HMAC size must be 256, 384 or 512, not %d",
				       what, size);
	} else {
		return bk_errf(err, -EINVAL,
			       "%s: algorithm \"%s\" is not supported (AES, HMAC, EC or RSA)",
			       what, alg);
	}
	return random_key((size_t)size / 8, mat, len, err);
}
