/* rot_p11_wrap.c - wrapping raw secrets with a key on a PKCS#11 token
 * (the scheme is described at the top of rot_p11.c). */
#include "p11_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/crypto.h"

/* ---- wrapping ---- */

/* The session (or the key's handle) was lost, and a new one failed. */
static void lost(struct bk_p11_token *t, CK_RV rv, int ret,
		 struct bk_err *err)
{
	char why[256];

	snprintf(why, sizeof(why), "%.200s", err ? err->msg : "");
	bk_errf(err, ret,
		"HSM token %s was lost (CKR 0x%lx) and cannot be used again (%s); nothing was changed: once the token is back, restart the daemon if it still fails",
		t->token, (unsigned long)rv, why);
}

/* Runs op once, and once more after a new session if the first one found
 * the session gone.  Takes bk_p11_lock. */
static int with_session(struct bk_rot *rot,
			CK_RV (*op)(struct bk_rot *rot, CK_MECHANISM *m,
				    void *arg),
			void *arg, const char *what, CK_RV *rvout,
			struct bk_err *err)
{
	struct bk_p11_token *t = rot->tok;
	CK_MECHANISM m = { 0, NULL, 0 };
	CK_RV rv = CKR_OK;
	int ret = 0;

	pthread_mutex_lock(&bk_p11_lock);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (attempt) {
			char id[65];

			snprintf(id, sizeof(id), "%s", rot->key_id);
			if ((ret = bk_p11_login(t, err)) ||
			    (ret = bk_p11_select_key(rot, id, 0, err))) {
				lost(t, rv, ret, err);
				break;
			}
		}
		m.mechanism = t->mech ? t->mech : MECH_KWP;
		rv = op(rot, &m, arg);
		if (!t->mech && rv == CKR_MECHANISM_INVALID) {
			m.mechanism = MECH_PAD;
			rv = op(rot, &m, arg);
		}
		if (rv == CKR_OK && !t->mech)
			t->mech = m.mechanism;
		if (!bk_p11_session_lost(rv))
			break;
	}
	if (!ret && rv != CKR_OK)
		ret = bk_p11_err(t, rv, what, err);
	pthread_mutex_unlock(&bk_p11_lock);
	if (rvout)
		*rvout = rv;
	return ret;
}

/* The attributes of a secret as a short-lived session object (6 in
 * tmpl; the caller adds CKA_VALUE for C_CreateObject). */
#define SECRET_ATTRS 6
struct secret_attrs {
	CK_OBJECT_CLASS cls;
	CK_KEY_TYPE kt;
	CK_BBOOL yes, no;
};

static void secret_template(struct secret_attrs *a, CK_ATTRIBUTE *tmpl)
{
	a->cls = CKO_SECRET_KEY;
	a->kt = CKK_GENERIC_SECRET;
	a->yes = CK_TRUE;
	a->no = CK_FALSE;
	tmpl[0] = (CK_ATTRIBUTE){ CKA_CLASS, &a->cls, sizeof(a->cls) };
	tmpl[1] = (CK_ATTRIBUTE){ CKA_KEY_TYPE, &a->kt, sizeof(a->kt) };
	tmpl[2] = (CK_ATTRIBUTE){ CKA_TOKEN, &a->no, 1 };
	tmpl[3] = (CK_ATTRIBUTE){ CKA_PRIVATE, &a->yes, 1 };
	tmpl[4] = (CK_ATTRIBUTE){ CKA_SENSITIVE, &a->no, 1 };
	tmpl[5] = (CK_ATTRIBUTE){ CKA_EXTRACTABLE, &a->yes, 1 };
}

struct wrap_op {
	const uint8_t *in;
	size_t inlen;
	uint8_t *out;
	CK_ULONG outlen;
};

static CK_RV wrap_once(struct bk_rot *rot, CK_MECHANISM *mech, void *arg)
{
	struct wrap_op *w = arg;
	CK_FUNCTION_LIST *m = rot->tok->m;
	CK_SESSION_HANDLE s = rot->tok->sess;
	CK_ATTRIBUTE tmpl[SECRET_ATTRS + 1];
	struct secret_attrs sa;
	CK_OBJECT_HANDLE h;
	CK_ULONG cap = w->outlen;
	CK_RV rv;

	secret_template(&sa, tmpl);
	tmpl[SECRET_ATTRS] = (CK_ATTRIBUTE){ CKA_VALUE, (void *)w->in,
					     w->inlen };
	rv = m->C_CreateObject(s, tmpl, SECRET_ATTRS + 1, &h);
	if (rv != CKR_OK)
		return rv;
	rv = m->C_WrapKey(s, mech, rot->obj, h, w->out, &cap);
	m->C_DestroyObject(s, h);
	if (rv == CKR_OK)
		w->outlen = cap;
	return rv;
}

int bk_rot_p11_wrap(struct bk_rot *rot, const uint8_t *secret, size_t len,
		    uint8_t **out, size_t *outlen, struct bk_err *err)
{
	struct wrap_op w = { .inlen = len + 2, .outlen = len + 2 + 24 };
	uint8_t *framed = bk_secure_alloc(len + 2);
	int ret;

	w.out = malloc(w.outlen);
	if (!framed || !w.out) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	framed[0] = (uint8_t)(len >> 8);
	framed[1] = (uint8_t)len;
	memcpy(framed + 2, secret, len);
	w.in = framed;
	ret = with_session(rot, wrap_once, &w, "cannot wrap a secret", NULL,
			   err);
	if (ret)
		goto out;
	*out = w.out;
	*outlen = w.outlen;
	w.out = NULL;
out:
	if (framed)
		bk_secure_free(framed, len + 2);
	free(w.out);
	return ret;
}

struct unwrap_op {
	const uint8_t *in;
	size_t inlen;
	uint8_t *val;			/* secure heap, cap bytes */
	CK_ULONG cap, vlen;
};

static CK_RV unwrap_once(struct bk_rot *rot, CK_MECHANISM *mech, void *arg)
{
	struct unwrap_op *u = arg;
	CK_FUNCTION_LIST *m = rot->tok->m;
	CK_SESSION_HANDLE s = rot->tok->sess;
	CK_ATTRIBUTE tmpl[SECRET_ATTRS];
	CK_ATTRIBUTE a = { CKA_VALUE, u->val, u->cap };
	struct secret_attrs sa;
	CK_OBJECT_HANDLE h;
	CK_RV rv;

	secret_template(&sa, tmpl);
	rv = m->C_UnwrapKey(s, mech, rot->obj, (CK_BYTE_PTR)u->in, u->inlen,
			    tmpl, SECRET_ATTRS, &h);
	if (rv != CKR_OK)
		return rv;
	rv = m->C_GetAttributeValue(s, h, &a, 1);
	m->C_DestroyObject(s, h);
	u->vlen = rv == CKR_OK ? a.ulValueLen : 0;
	return rv;
}

int bk_rot_p11_unwrap(struct bk_rot *rot, const uint8_t *wrapped,
		      size_t len, uint8_t **out, size_t *outlen,
		      struct bk_err *err)
{
	struct unwrap_op u = { .in = wrapped, .inlen = len, .cap = len };
	uint8_t *buf = NULL;
	CK_RV rv = CKR_OK;
	size_t n;
	int ret;

	u.val = bk_secure_alloc(u.cap);
	if (!u.val)
		return bk_errf(err, -ENOMEM, "out of secure memory");
	ret = with_session(rot, unwrap_once, &u, "cannot unwrap a secret", &rv,
			   err);
	if (ret && (rv == CKR_WRAPPED_KEY_INVALID ||
		    rv == CKR_WRAPPED_KEY_LEN_RANGE ||
		    rv == CKR_ENCRYPTED_DATA_INVALID ||
		    rv == CKR_GENERAL_ERROR || rv == CKR_FUNCTION_FAILED)) {
		/* SoftHSM reports a failed integrity check as a general
		 * error. */
		ret = bk_errf(err, -EBADMSG,
			      "the secret does not unwrap with HSM key %s of token %s",
			      rot->key_id, rot->tok->token);
		goto out;
	}
	if (ret)
		goto out;
	n = u.vlen >= 2 ? (size_t)u.val[0] << 8 | u.val[1] : 0;
	if (u.vlen < 2 || n == 0 || n > u.vlen - 2) {
		ret = bk_errf(err, -EBADMSG,
			      "the secret unwrapped with HSM key %s is malformed",
			      rot->key_id);
		goto out;
	}
	buf = bk_secure_alloc(n);
	if (!buf) {
		ret = bk_errf(err, -ENOMEM, "out of secure memory");
		goto out;
	}
	memcpy(buf, u.val + 2, n);
	*out = buf;
	*outlen = n;
out:
	bk_secure_free(u.val, u.cap);
	return ret;
}
