/* rot_p11.c - the root of trust on a PKCS#11 token, through p11-kit.
 *
 * The key: AES-256, CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, not
 * CKA_EXTRACTABLE, CKA_WRAP and CKA_UNWRAP only (no encrypt, decrypt,
 * sign or derive), CKA_LABEL the URI's object=, CKA_ID 8 random bytes (the
 * key id, in hex).  Versions of the root of trust share the label.
 *
 * Wrapping raw bytes: a key that may only wrap cannot C_Encrypt, so a
 * secret is made a short-lived session object (CKK_GENERIC_SECRET,
 * extractable, not sensitive) and wrapped with C_WrapKey; unwrapping is
 * C_UnwrapKey into such a session object, C_GetAttributeValue(CKA_VALUE),
 * C_DestroyObject.  The mechanism is RFC 5649 AES key wrap with padding:
 * CKM_AES_KEY_WRAP_KWP (0x210B, PKCS#11 3.0) is tried first, then
 * CKM_AES_KEY_WRAP_PAD (0x210A), under which SoftHSM 2.6 offers RFC 5649
 * (it refuses 0x210B).  SoftHSM's C_UnwrapKey leaves the RFC 5649 padding
 * on the value (45 bytes come back as 48), so what is wrapped is the
 * secret's length (2 bytes, big-endian) followed by the secret.
 *
 * One session per token, shared by the keys opened on it; every PKCS#11
 * call of the process is made under one mutex (bk_p11_lock, p11_int.h).
 * A call that finds the session gone (token removed, session closed,
 * logged out) opens a new one, logs in again, finds its key again and
 * retries once.
 */
#include "p11_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>

#include "../core/crypto.h"

#define PIN_MAX 256

pthread_mutex_t bk_p11_lock = PTHREAD_MUTEX_INITIALIZER;


static const char *rv_str(CK_RV rv)
{
	static const struct { CK_RV rv; const char *s; } t[] = {
		{ CKR_PIN_INCORRECT, "the PIN is incorrect" },
		{ CKR_PIN_LOCKED, "the PIN is locked" },
		{ CKR_PIN_EXPIRED, "the PIN has expired" },
		{ CKR_TOKEN_NOT_PRESENT, "the token is not present" },
		{ CKR_DEVICE_REMOVED, "the token was removed" },
		{ CKR_DEVICE_ERROR, "device error" },
		{ CKR_DEVICE_MEMORY, "the token is out of memory" },
		{ CKR_SESSION_HANDLE_INVALID, "the session is gone" },
		{ CKR_SESSION_CLOSED, "the session was closed" },
		{ CKR_USER_NOT_LOGGED_IN, "not logged in" },
		{ CKR_MECHANISM_INVALID, "mechanism not supported" },
		{ CKR_KEY_FUNCTION_NOT_PERMITTED, "the key may not do this" },
		{ CKR_WRAPPED_KEY_INVALID, "wrapped data invalid" },
		{ CKR_KEY_HANDLE_INVALID, "the key is gone" },
		{ CKR_WRAPPING_KEY_HANDLE_INVALID, "the key is gone" },
		{ CKR_UNWRAPPING_KEY_HANDLE_INVALID, "the key is gone" },
		{ CKR_GENERAL_ERROR, "general error" },
		{ CKR_FUNCTION_FAILED, "function failed" },
		{ CKR_CRYPTOKI_NOT_INITIALIZED, "module not initialised" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].rv == rv)
			return t[i].s;
	return "error";
}

int bk_p11_err(struct bk_p11_token *t, CK_RV rv, const char *what,
		  struct bk_err *err)
{
	int code = -EIO;

	if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED ||
	    rv == CKR_PIN_EXPIRED || rv == CKR_PIN_LEN_RANGE)
		code = -EACCES;
	return bk_errf(err, code, "HSM token %s: %s: %s (CKR 0x%lx)",
		       t->token[0] ? t->token : "?", what, rv_str(rv),
		       (unsigned long)rv);
}

int bk_p11_session_lost(CK_RV rv)
{
	/* Or the key's handle: a token re-read (SoftHSM) numbers its
	 * objects anew. */
	return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
	       rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT ||
	       rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_KEY_HANDLE_INVALID ||
	       rv == CKR_OBJECT_HANDLE_INVALID ||
	       rv == CKR_WRAPPING_KEY_HANDLE_INVALID ||
	       rv == CKR_UNWRAPPING_KEY_HANDLE_INVALID;
}

/* ---- URI, module, PIN ---- */

void bk_p11_trim_copy(char *dst, size_t n, const CK_UTF8CHAR *src,
		      size_t len)
{
	while (len && src[len - 1] == ' ')
		len--;
	if (len >= n)
		len = n - 1;
	memcpy(dst, src, len);
	dst[len] = 0;
}

static int read_pin(struct bk_p11_token *t, P11KitUri *u, struct bk_err *err)
{
	const char *v = p11_kit_uri_get_pin_value(u);
	const char *src = p11_kit_uri_get_pin_source(u);
	char buf[PIN_MAX] = "";
	FILE *f;

	if (!v && src) {
		if (!strncmp(src, "file:", 5))
			src += 5;
		f = fopen(src, "re");
		if (!f)
			return bk_errf(err, -EACCES,
				       "HSM PIN file (pin-source=%s): %s", src,
				       strerror(errno));
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
		buf[strcspn(buf, "\r\n")] = 0;
		v = buf;
	}
	if (!v)
		return 0;	/* no PIN: only tokens without login */
	t->pinlen = strlen(v);
	t->pin = bk_secure_alloc(t->pinlen + 1);
	if (t->pin)
		memcpy(t->pin, v, t->pinlen + 1);
	OPENSSL_cleanse(buf, sizeof(buf));
	return t->pin ? 0 : bk_errf(err, -ENOMEM, "out of secure memory");
}

/* Finds the slot of the URI's token in module m; -ENOENT if none. */
static int find_slot(struct bk_p11_token *t, CK_FUNCTION_LIST *m,
		     P11KitUri *u)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64;
	CK_TOKEN_INFO ti;

	if (m->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		return -ENOENT;
	for (CK_ULONG i = 0; i < n; i++) {
		if (m->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
		    !p11_kit_uri_match_token_info(u, &ti))
			continue;
		t->m = m;
		t->slot = slots[i];
		bk_p11_trim_copy(t->token, sizeof(t->token), ti.label,
				 sizeof(ti.label));
		return 0;
	}
	return -ENOENT;
}

static int load_module(struct bk_p11_token *t, P11KitUri *u,
		       struct bk_err *err)
{
	const char *path = p11_kit_uri_get_module_path(u);
	const char *name = p11_kit_uri_get_module_name(u);
	CK_FUNCTION_LIST **all = NULL, *m;
	int found = -ENOENT, seen = 0;

	if (path) {
		m = p11_kit_module_load(path, 0);
		if (!m)
			return bk_errf(err, -ENOENT,
				       "HSM module %s cannot be loaded: %s", path,
				       p11_kit_message() ? p11_kit_message() :
				       "no such module");
		if (p11_kit_module_initialize(m) != CKR_OK) {
			p11_kit_module_release(m);
			return bk_errf(err, -EIO,
				       "HSM module %s cannot be initialised: %s",
				       path, p11_kit_message());
		}
		found = find_slot(t, m, u);
		if (found) {
			p11_kit_module_finalize(m);
			p11_kit_module_release(m);
		}
		goto out;
	}
	all = p11_kit_modules_load(NULL, 0);
	for (size_t i = 0; all && all[i]; i++) {
		char *mn = p11_kit_module_get_name(all[i]);
		int want = !name || (mn && !strcmp(mn, name));

		free(mn);
		seen |= want;
		if (!found || !want ||
		    p11_kit_module_initialize(all[i]) != CKR_OK) {
			p11_kit_module_release(all[i]);
			continue;
		}
		found = find_slot(t, all[i], u);
		if (found) {
			p11_kit_module_finalize(all[i]);
			p11_kit_module_release(all[i]);
		}
	}
	free(all);
	if (name && !seen)
		return bk_errf(err, -ENOENT,
			       "HSM module %s: p11-kit has no module of that name (see p11-kit list-modules)",
			       name);
out:
	if (found)
		return bk_errf(err, -ENOENT,
			       "no HSM token matches the URI (module %s)",
			       path ? path : name ? name : "any");
	return 0;
}

/* A token that went away and came back may sit in another slot: finds
 * it again by its label. */
static void rescan(struct bk_p11_token *t)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64;
	CK_TOKEN_INFO ti;
	char label[33];

	if (t->m->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		return;
	for (CK_ULONG i = 0; i < n; i++) {
		if (t->m->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		bk_p11_trim_copy(label, sizeof(label), ti.label,
				 sizeof(ti.label));
		if (!strcmp(label, t->token)) {
			t->slot = slots[i];
			return;
		}
	}
}

int bk_p11_login(struct bk_p11_token *t, struct bk_err *err)
{
	CK_TOKEN_INFO ti;
	CK_RV rv;

	if (t->have_sess) {	/* a new session: the old one failed */
		t->m->C_CloseSession(t->sess);
		t->have_sess = 0;
		rescan(t);
	}
	rv = t->m->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
				 NULL, NULL, &t->sess);
	if (rv != CKR_OK)
		return bk_p11_err(t, rv, "cannot open a session", err);
	t->have_sess = 1;
	if (t->m->C_GetTokenInfo(t->slot, &ti) == CKR_OK &&
	    !(ti.flags & CKF_LOGIN_REQUIRED))
		return 0;
	if (!t->pin)
		return bk_errf(err, -EACCES,
			       "HSM token %s needs a PIN: give pin-source=FILE in the URI (or -o hsm=URI / backupctl --hsm URI)",
			       t->token);
	rv = t->m->C_Login(t->sess, CKU_USER, (CK_UTF8CHAR *)t->pin,
			   t->pinlen);
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
		return bk_p11_err(t, rv, "login failed", err);
	return 0;
}

static void token_put(struct bk_p11_token *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&bk_p11_lock);
	if (--t->refs > 0) {
		pthread_mutex_unlock(&bk_p11_lock);
		return;
	}
	/* No C_Logout: the login state is the process's, shared with the
	 * sessions other handles may still have on the token (closing the
	 * last session logs out). */
	if (t->have_sess)
		t->m->C_CloseSession(t->sess);
	if (t->m) {
		p11_kit_module_finalize(t->m);
		p11_kit_module_release(t->m);
	}
	pthread_mutex_unlock(&bk_p11_lock);
	if (t->pin)
		bk_secure_free(t->pin, t->pinlen + 1);
	free(t->uri);
	free(t);
}

/* ---- keys ---- */

static void hex(const uint8_t *b, size_t n, char *out, size_t outn)
{
	size_t i;

	for (i = 0; i < n && 2 * i + 2 < outn; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	out[2 * i] = 0;
}

int bk_p11_unhex(const char *s, uint8_t *b, size_t max, size_t *n)
{
	size_t len = strlen(s);

	if (len == 0 || len % 2 || len / 2 > max)
		return -EINVAL;
	for (size_t i = 0; i < len / 2; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		b[i] = (uint8_t)v;
	}
	*n = len / 2;
	return 0;
}

/* Finds keys labelled label (and with CKA_ID id if idlen); calls
 * cb(arg, handle, id hex) for each; at most 64.  Lock held. */
static int find_keys(struct bk_p11_token *t, const char *label,
		     const uint8_t *id, size_t idlen,
		     int (*cb)(void *arg, CK_OBJECT_HANDLE h, const char *id),
		     void *arg, struct bk_err *err)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_ID, (void *)id, idlen },
	};
	CK_OBJECT_HANDLE h[64];
	CK_ULONG n = 0;
	CK_RV rv;
	int ret = 0;

	rv = t->m->C_FindObjectsInit(t->sess, tmpl, idlen ? 4 : 3);
	if (rv == CKR_OK) {
		rv = t->m->C_FindObjects(t->sess, h, 64, &n);
		t->m->C_FindObjectsFinal(t->sess);
	}
	if (rv != CKR_OK)
		return bk_p11_err(t, rv, "cannot search keys", err);
	for (CK_ULONG i = 0; i < n && !ret; i++) {
		uint8_t idb[32];
		char idh[2 * sizeof(idb) + 1];
		CK_ATTRIBUTE a = { CKA_ID, idb, sizeof(idb) };

		/* A longer id does not fit: CKR_BUFFER_TOO_SMALL. */
		if (t->m->C_GetAttributeValue(t->sess, h[i], &a, 1) != CKR_OK ||
		    a.ulValueLen == 0 || a.ulValueLen > sizeof(idb))
			continue;	/* ids are what we name keys by */
		hex(idb, a.ulValueLen, idh, sizeof(idh));
		ret = cb(arg, h[i], idh);
	}
	return ret;
}

struct pick {
	CK_OBJECT_HANDLE h;
	char id[65];
	int n;
};

static int pick_cb(void *arg, CK_OBJECT_HANDLE h, const char *id)
{
	struct pick *p = arg;

	if (p->n++ == 0) {
		p->h = h;
		snprintf(p->id, sizeof(p->id), "%s", id);
	}
	return 0;
}

static int generate(struct bk_p11_token *t, const char *label,
		    struct pick *p, struct bk_err *err)
{
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ULONG len = 32;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	uint8_t id[8];
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_ID, id, sizeof(id) },
		{ CKA_TOKEN, &yes, 1 }, { CKA_PRIVATE, &yes, 1 },
		{ CKA_SENSITIVE, &yes, 1 }, { CKA_EXTRACTABLE, &no, 1 },
		{ CKA_WRAP, &yes, 1 }, { CKA_UNWRAP, &yes, 1 },
		{ CKA_ENCRYPT, &no, 1 }, { CKA_DECRYPT, &no, 1 },
		{ CKA_SIGN, &no, 1 }, { CKA_VERIFY, &no, 1 },
		{ CKA_DERIVE, &no, 1 },
	};
	CK_RV rv;
	int ret;

	ret = bk_random(id, sizeof(id), err);
	if (ret)
		return ret;
	rv = t->m->C_GenerateKey(t->sess, &gen, tmpl,
				 sizeof(tmpl) / sizeof(tmpl[0]), &p->h);
	if (rv != CKR_OK)
		return bk_p11_err(t, rv, "cannot create the root-of-trust key", err);
	hex(id, sizeof(id), p->id, sizeof(p->id));
	p->n = 1;
	return 0;
}

/* Sets rot->obj and key_id: the key key_id, or the only one, or a new
 * one (create).  Lock held. */
int bk_p11_select_key(struct bk_rot *rot, const char *key_id, int create,
		      struct bk_err *err)
{
	struct bk_p11_token *t = rot->tok;
	struct pick p = { 0 };
	uint8_t id[32];
	size_t idlen = 0;
	int ret;

	if (key_id && bk_p11_unhex(key_id, id, sizeof(id), &idlen))
		return bk_errf(err, -EINVAL, "HSM key id %s is not hex",
			       key_id);
	if (create == 2)	/* always a new version */
		ret = generate(t, rot->label, &p, err);
	else
		ret = find_keys(t, rot->label, id, idlen, pick_cb, &p, err);
	if (ret)
		return ret;
	if (p.n == 0 && create && !key_id)
		ret = generate(t, rot->label, &p, err);
	else if (p.n == 0)
		ret = bk_errf(err, -ENOENT,
			      "HSM token %s has no key labelled \"%s\"%s%s",
			      t->token, rot->label, key_id ? " with id " : "",
			      key_id ? key_id : "");
	else if (p.n > 1 && !key_id)
		ret = bk_errf(err, -EINVAL,
			      "HSM token %s has %d keys labelled \"%s\": name one with id= in the URI",
			      t->token, p.n, rot->label);
	if (ret)
		return ret;
	rot->obj = p.h;
	snprintf(rot->key_id, sizeof(rot->key_id), "%s", p.id);
	return 0;
}

static char *uri_without_secrets(P11KitUri *u)
{
	char *s = NULL;

	p11_kit_uri_set_pin_value(u, NULL);
	p11_kit_uri_clear_attribute(u, CKA_ID);
	if (p11_kit_uri_format(u, P11_KIT_URI_FOR_ANY, &s) != P11_KIT_URI_OK)
		return NULL;
	return s;
}

int bk_rot_p11_open(const char *uri, const char *key_id, int create,
		    struct bk_rot **out, struct bk_err *err)
{
	P11KitUri *u = p11_kit_uri_new();
	struct bk_p11_token *t = calloc(1, sizeof(*t));
	struct bk_rot *rot = bk_rot_alloc();
	CK_ATTRIBUTE *a;
	char idh[65] = "";
	int ret;

	if (!u || !t || !rot) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	t->refs = 1;
	rot->p11 = 1;
	rot->tok = t;
	if (!uri || p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, u) !=
	    P11_KIT_URI_OK) {
		ret = bk_errf(err, -EINVAL,
			      "\"%s\" is not a PKCS#11 URI (pkcs11:token=...;object=...)",
			      uri ? uri : "");
		goto out;
	}
	if (p11_kit_uri_any_unrecognized(u)) {
		ret = bk_errf(err, -EINVAL,
			      "the HSM URI \"%s\" has attributes p11-kit does not know (module-name=, module-path=, pin-source= and pin-value= go after '?', joined by '&')",
			      uri);
		goto out;
	}
	a = p11_kit_uri_get_attribute(u, CKA_LABEL);
	if (!p11_kit_uri_get_token_info(u)->label[0] ||
	    p11_kit_uri_get_token_info(u)->label[0] == ' ' || !a ||
	    !a->ulValueLen || a->ulValueLen >= sizeof(rot->label)) {
		ret = bk_errf(err, -EINVAL,
			      "the HSM URI must name the token and the key: pkcs11:token=NAME;object=LABEL");
		goto out;
	}
	memcpy(rot->label, a->pValue, a->ulValueLen);
	a = p11_kit_uri_get_attribute(u, CKA_ID);
	if (a && a->ulValueLen && a->ulValueLen <= 32)
		hex(a->pValue, a->ulValueLen, idh, sizeof(idh));
	if ((ret = read_pin(t, u, err)))
		goto out;
	pthread_mutex_lock(&bk_p11_lock);
	ret = load_module(t, u, err);
	if (!ret) {
		t->uri = uri_without_secrets(u);
		ret = bk_p11_login(t, err);
	}
	if (!ret)
		ret = bk_p11_select_key(rot, key_id ? key_id :
					idh[0] ? idh : NULL, create, err);
	pthread_mutex_unlock(&bk_p11_lock);
	if (ret)
		goto out;
	*out = rot;
	rot = NULL;
out:
	if (u)
		p11_kit_uri_free(u);
	if (rot) {
		rot->p11 = 0;
		rot->tok = NULL;
		bk_rot_free(rot);
	}
	if (ret && t)
		token_put(t);
	return ret;
}

/* r (new, label set) becomes a key of rot's token: key_id, or as
 * create says.  On failure r is freed. */
static int attach(struct bk_rot *rot, struct bk_rot *r, const char *key_id,
		  int create, struct bk_err *err)
{
	int ret;

	r->p11 = 1;
	r->tok = rot->tok;
	pthread_mutex_lock(&bk_p11_lock);
	ret = bk_p11_select_key(r, key_id, create, err);
	if (!ret)
		rot->tok->refs++;
	pthread_mutex_unlock(&bk_p11_lock);
	if (ret) {
		r->p11 = 0;
		bk_rot_free(r);
	}
	return ret;
}

int bk_rot_p11_sibling(struct bk_rot *rot, const char *key_id,
		       struct bk_rot **out, struct bk_err *err)
{
	struct bk_rot *r;
	int ret;

	if (!rot->p11)
		return bk_errf(err, -EINVAL,
			       "the software root of trust has one key: rotation needs an HSM (backupctl init --hsm URI)");
	r = bk_rot_alloc();
	if (!r)
		return bk_errf(err, -ENOMEM, "out of memory");
	memcpy(r->label, rot->label, sizeof(r->label));
	ret = attach(rot, r, key_id, key_id ? 0 : 2, err);
	if (!ret)
		*out = r;
	return ret;
}

int bk_rot_p11_same_token(struct bk_rot *rot, const char *uri, int create,
			  struct bk_rot **out, struct bk_err *err)
{
	P11KitUri *u = p11_kit_uri_new();
	struct bk_rot *r = NULL;
	CK_ATTRIBUTE *a;
	char tok[33], idh[65] = "";
	int ret = -ENODEV;

	if (!rot->p11 || !u || p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, u) !=
	    P11_KIT_URI_OK)
		goto out;
	bk_p11_trim_copy(tok, sizeof(tok), p11_kit_uri_get_token_info(u)->label,
			 sizeof(p11_kit_uri_get_token_info(u)->label));
	a = p11_kit_uri_get_attribute(u, CKA_LABEL);
	if (strcmp(tok, rot->tok->token) || !a || !a->ulValueLen ||
	    a->ulValueLen >= sizeof(rot->label))
		goto out;
	r = bk_rot_alloc();
	if (!r) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	memcpy(r->label, a->pValue, a->ulValueLen);
	a = p11_kit_uri_get_attribute(u, CKA_ID);
	if (a && a->ulValueLen && a->ulValueLen <= 32)
		hex(a->pValue, a->ulValueLen, idh, sizeof(idh));
	ret = attach(rot, r, idh[0] ? idh : NULL, create, err);
	if (!ret)
		*out = r;
out:
	if (u)
		p11_kit_uri_free(u);
	return ret;
}

struct keys_arg {
	int (*cb)(void *arg, const char *key_id);
	void *arg;
};

static int keys_cb(void *arg, CK_OBJECT_HANDLE h, const char *id)
{
	struct keys_arg *k = arg;

	(void)h;
	return k->cb(k->arg, id);
}

int bk_rot_p11_keys(struct bk_rot *rot,
		    int (*cb)(void *arg, const char *key_id), void *arg,
		    struct bk_err *err)
{
	struct keys_arg k = { cb, arg };
	int ret;

	if (!rot->p11)
		return cb(arg, rot->key_id);
	pthread_mutex_lock(&bk_p11_lock);
	ret = find_keys(rot->tok, rot->label, NULL, 0, keys_cb, &k, err);
	pthread_mutex_unlock(&bk_p11_lock);
	return ret;
}

void bk_rot_p11_release(struct bk_rot *rot)
{
	token_put(rot->tok);
}

const char *bk_rot_p11_token(const struct bk_rot *rot)
{
	return rot->tok->token;
}

const char *bk_rot_p11_label(const struct bk_rot *rot)
{
	return rot->label;
}

const char *bk_rot_p11_mechanism(const struct bk_rot *rot)
{
	CK_MECHANISM_TYPE m;

	pthread_mutex_lock(&bk_p11_lock);
	m = rot->tok->mech;
	pthread_mutex_unlock(&bk_p11_lock);
	return m == MECH_KWP ? "CKM_AES_KEY_WRAP_KWP" :
	       m == MECH_PAD ? "CKM_AES_KEY_WRAP_PAD" : "";
}
