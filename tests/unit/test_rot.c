/* test_rot.c - the root of trust: the software key and a key on a
 * PKCS#11 token (SoftHSM2, a token made for the test), through the one
 * interface: round trips of every size, wrong keys and tampering
 * detected, key versions, threads sharing a session, bindings of
 * HSM-anchored domains, and the errors for a wrong PIN or module. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/crypto.h"
#include "hsm/rot.h"

static char dir[] = "/tmp/bk-test-rot.XXXXXX";
/* module-path= rather than module-name=: loading every module p11-kit
 * knows (to find one by name) loads OpenSC, whose GLib threads valgrind
 * reports. */
#define MODULE "/usr/lib/softhsm/libsofthsm2.so"

/* Wraps and unwraps len bytes, both ways (a new buffer, the caller's);
 * 1 if they come back equal. */
static int round_trip(struct bk_rot *rot, size_t len)
{
	uint8_t *in = malloc(len), *w = NULL, *out = NULL;
	uint8_t into[BK_ROT_WRAPPED_MAX];
	size_t wlen = 0, olen = 0, ilen = 0;
	struct bk_err e = { 0 };
	int ok = 0;

	bk_random(in, len, NULL);
	if (!bk_rot_wrap(rot, in, len, &w, &wlen, &e) &&
	    !bk_rot_unwrap(rot, w, wlen, &out, &olen, &e) &&
	    !bk_rot_unwrap_into(rot, w, wlen, into, sizeof(into), &ilen, &e))
		ok = olen == len && !memcmp(in, out, len) &&
		     ilen == len && !memcmp(in, into, len);
	if (!ok)
		fprintf(stderr, "round trip of %zu bytes: %s\n", len, e.msg);
	if (out)
		bk_secure_free(out, olen);
	free(w);
	free(in);
	return ok;
}

/* Wraps with a, unwraps with b: the error. */
static int cross(struct bk_rot *a, struct bk_rot *b)
{
	uint8_t in[32] = { 1, 2, 3 }, *w = NULL, *out = NULL;
	size_t wlen = 0, olen = 0;
	int ret;

	ret = bk_rot_wrap(a, in, sizeof(in), &w, &wlen, NULL);
	if (!ret)
		ret = bk_rot_unwrap(b, w, wlen, &out, &olen, NULL);
	if (out)
		bk_secure_free(out, olen);
	free(w);
	return ret;
}

static void test_sizes(struct bk_rot *rot)
{
	static const size_t sizes[] = { 1, 2, 7, 8, 16, 31, 32, 45, 121, 1218,
					4095, 4096 };
	uint8_t in[1] = { 0 }, *w = NULL;
	size_t wlen;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		CHECK(round_trip(rot, sizes[i]));
	CHECK_EQ_INT(bk_rot_wrap(rot, in, 0, &w, &wlen, NULL), -EINVAL);
	CHECK_EQ_INT(bk_rot_wrap(rot, in, 4097, &w, &wlen, NULL), -EINVAL);
}

static void test_tamper(struct bk_rot *rot)
{
	uint8_t in[32] = { 9 }, *w = NULL, *out = NULL;
	uint8_t into[BK_ROT_WRAPPED_MAX];
	size_t wlen = 0, olen;
	struct bk_err e = { 0 };

	CHECK_EQ_INT(bk_rot_wrap(rot, in, sizeof(in), &w, &wlen, NULL), 0);
	if (!w)
		return;
	for (size_t i = 0; i < wlen; i += 7) {
		w[i] ^= 0x20;
		CHECK_EQ_INT(bk_rot_unwrap(rot, w, wlen, &out, &olen, &e),
			     -EBADMSG);
		CHECK_EQ_INT(bk_rot_unwrap_into(rot, w, wlen, into,
						sizeof(into), &olen, &e),
			     -EBADMSG);
		w[i] ^= 0x20;
	}
	CHECK_EQ_INT(bk_rot_unwrap(rot, w, wlen - 8, &out, &olen, NULL),
		     -EBADMSG);
	CHECK_EQ_INT(bk_rot_unwrap_into(rot, w, wlen - 8, into, sizeof(into),
					&olen, NULL), -EBADMSG);
	/* no room: refused before anything is written */
	memset(into, 0x5a, sizeof(into));
	CHECK_EQ_INT(bk_rot_unwrap_into(rot, w, wlen, into, wlen - 1, &olen,
					NULL), -EINVAL);
	CHECK(into[0] == 0x5a && into[wlen - 2] == 0x5a);
	CHECK_EQ_INT(bk_rot_unwrap_into(rot, w, wlen, into, wlen, &olen, NULL),
		     0);
	CHECK(olen == sizeof(in) && !memcmp(into, in, sizeof(in)));
	free(w);
}

struct thread_arg {
	struct bk_rot *rot;
	int ok;
};

static void *worker(void *arg)
{
	struct thread_arg *t = arg;

	t->ok = 1;
	for (int i = 0; i < 100; i++)
		t->ok &= round_trip(t->rot, 1 + (size_t)(i * 37) % 200);
	return NULL;
}

static void test_threads(struct bk_rot *rot)
{
	pthread_t th[4];
	struct thread_arg a[4];

	for (int i = 0; i < 4; i++) {
		a[i].rot = rot;
		pthread_create(&th[i], NULL, worker, &a[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK(a[i].ok);
	}
}

/* Handles opened and closed (the module loaded, initialised, finalised)
 * in four threads at once, on two tokens, with no other handle open:
 * SoftHSM crashed when the calls met (two threads of the daemon checking
 * one upload did this, under AddressSanitizer; not reproduced here, the
 * test guards the lock).  By module path only: through p11-kit's
 * registry every configured module is loaded, opensc's with glib threads
 * valgrind reports as leaks. */
struct open_arg {
	char uri[600];
	int ok;
};

static void *opener(void *arg)
{
	struct open_arg *o = arg;
	struct bk_err e = { 0 };
	struct bk_rot *r;

	o->ok = 1;
	for (int i = 0; i < 50 && o->ok; i++) {
		r = NULL;
		if (bk_rot_p11_open(o->uri, NULL, 0, &r, &e)) {
			fprintf(stderr, "opener: %s\n", e.msg);
			o->ok = 0;
			break;
		}
		o->ok &= round_trip(r, 32);
		bk_rot_free(r);
	}
	return NULL;
}

static void test_open_threads(void)
{
	static const char *const tok[2][3] = {	/* two threads each */
		{ "unit", "dom", "pin" }, { "unit2", "ext", "pin2" },
	};
	struct open_arg o[4];
	pthread_t th[4];

	for (int i = 0; i < 4; i++) {
		snprintf(o[i].uri, sizeof(o[i].uri),
			 "pkcs11:token=%s;object=%s?module-path=" MODULE
			 "&pin-source=%s/%s", tok[i % 2][0], tok[i % 2][1],
			 dir, tok[i % 2][2]);
		pthread_create(&th[i], NULL, opener, &o[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK(o[i].ok);
	}
}

static void test_software(void)
{
	struct bk_rot *a = NULL, *b = NULL;
	char pa[300], pb[300];

	snprintf(pa, sizeof(pa), "%s/a.key", dir);
	snprintf(pb, sizeof(pb), "%s/b.key", dir);
	CHECK_EQ_INT(bk_rot_soft_create(pa, NULL), 0);
	CHECK_EQ_INT(bk_rot_soft_create(pb, NULL), 0);
	CHECK_EQ_INT(bk_rot_soft_create(pa, NULL), -EEXIST);
	CHECK_EQ_INT(bk_rot_soft_open(pa, &a, NULL), 0);
	CHECK_EQ_INT(bk_rot_soft_open(pb, &b, NULL), 0);
	if (!a || !b)
		exit(1);
	CHECK(!strcmp(bk_rot_kind(a), "software"));
	CHECK_EQ_INT(strlen(bk_rot_key_id(a)), 16);
	CHECK(strcmp(bk_rot_key_id(a), bk_rot_key_id(b)));
	CHECK(bk_rot_uri(a) == NULL);
	CHECK(bk_rot_for(a, "anything") == a);
	test_sizes(a);
	test_tamper(a);
	CHECK_EQ_INT(cross(a, b), -EBADMSG);
	CHECK_EQ_INT(bk_rot_p11_sibling(a, NULL, &b, NULL), -EINVAL);
	bk_rot_free(a);
	bk_rot_free(b);
}

static int make_token(void)
{
	char cmd[1024], path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/softhsm2.conf", dir);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n",
		dir);
	fclose(f);
	setenv("SOFTHSM2_CONF", path, 1);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/tokens && "
		 "softhsm2-util --init-token --free --label unit --pin 1234 "
		 "--so-pin 5678 >/dev/null && "
		 "softhsm2-util --init-token --free --label unit2 --pin 4321 "
		 "--so-pin 5678 >/dev/null && "
		 "printf '1234\\n' > %s/pin && printf '4321\\n' > %s/pin2 && "
		 "printf '0000\\n' > %s/badpin", dir, dir, dir, dir);
	return system(cmd);
}

static void test_pkcs11(void)
{
	struct bk_rot *k1 = NULL, *k2 = NULL, *again = NULL, *d = NULL, *x;
	struct bk_err e = { 0 };
	char uri[600], *s;

	/* A wrong PIN (checked first: a process logged in to a token stays
	 * logged in while it has a session there). */
	snprintf(uri, sizeof(uri), "pkcs11:token=unit;object=rot"
		 "?module-path=" MODULE "&pin-source=%s/badpin", dir);
	CHECK_EQ_INT(bk_rot_p11_open(uri, NULL, 1, &k1, &e), -EACCES);
	CHECK(strstr(e.msg, "PIN is incorrect") != NULL);
	snprintf(uri, sizeof(uri), "pkcs11:token=unit;object=rot"
		 "?module-path=" MODULE "&pin-source=%s/pin", dir);
	CHECK_EQ_INT(bk_rot_p11_open(uri, NULL, 0, &k1, &e), -ENOENT);
	CHECK(strstr(e.msg, "no key labelled \"rot\"") != NULL);
	CHECK_EQ_INT(bk_rot_p11_open(uri, NULL, 1, &k1, &e), 0);
	if (!k1) {
		fprintf(stderr, "no token key: %s\n", e.msg);
		exit(1);
	}
	CHECK(!strcmp(bk_rot_kind(k1), "pkcs11"));
	CHECK(!strcmp(bk_rot_token(k1), "unit"));
	CHECK(!strcmp(bk_rot_label(k1), "rot"));
	test_sizes(k1);
	CHECK(!strcmp(bk_rot_mechanism(k1), "CKM_AES_KEY_WRAP_PAD") ||
	      !strcmp(bk_rot_mechanism(k1), "CKM_AES_KEY_WRAP_KWP"));
	test_tamper(k1);
	test_threads(k1);
	s = bk_rot_uri(k1);
	CHECK(s && strstr(s, "pin-source=") && !strstr(s, "pin-value"));
	free(s);
	s = bk_rot_identity(k1);
	CHECK(s && !strncmp(s, "pkcs11:token=unit;id=", 21) &&
	      !strstr(s, "pin") && !strstr(s, "module"));
	free(s);
	/* The same key again, by the one label, then by id. */
	CHECK_EQ_INT(bk_rot_p11_open(uri, NULL, 0, &again, &e), 0);
	CHECK(again && !strcmp(bk_rot_key_id(again), bk_rot_key_id(k1)));
	CHECK(again && cross(k1, again) == 0);
	bk_rot_free(again);
	/* A new version: another key, the old one kept. */
	CHECK_EQ_INT(bk_rot_p11_sibling(k1, NULL, &k2, &e), 0);
	CHECK(k2 && strcmp(bk_rot_key_id(k1), bk_rot_key_id(k2)));
	CHECK(k2 && cross(k1, k2) == -EBADMSG);
	CHECK_EQ_INT(bk_rot_p11_open(uri, NULL, 0, &again, &e), -EINVAL);
	CHECK(strstr(e.msg, "2 keys labelled") != NULL);
	CHECK_EQ_INT(bk_rot_p11_open(uri, bk_rot_key_id(k2), 0, &again, &e), 0);
	CHECK(again && cross(k2, again) == 0);
	bk_rot_free(again);
	CHECK_EQ_INT(bk_rot_p11_open(uri, "00112233", 0, &again, &e), -ENOENT);
	/* Errors in words. */
	CHECK_EQ_INT(bk_rot_p11_open("pkcs11:token=unit;object=rot"
				     "?module-path=/no/such.so&pin-value=1234",
				     NULL, 0, &again, &e), -ENOENT);
	CHECK(strstr(e.msg, "/no/such.so") != NULL);
	CHECK_EQ_INT(bk_rot_p11_open("pkcs11:object=rot", NULL, 0, &again,
				     &e), -EINVAL);
	CHECK_EQ_INT(bk_rot_p11_open("not a uri", NULL, 0, &again, &e),
		     -EINVAL);
	/* Domain keys: on the same token (shares the session), on another
	 * (through its connection), and an unreachable one. */
	CHECK_EQ_INT(bk_rot_open_uri(k1, "pkcs11:token=unit;object=dom", 1,
				     &d, &e), 0);
	s = d ? bk_rot_identity(d) : NULL;
	CHECK(s != NULL);
	CHECK_EQ_INT(bk_rot_bind(k1, "fin", s, &e), 0);
	x = bk_rot_for(k1, "fin");
	CHECK(x != k1 && d && !strcmp(bk_rot_key_id(x), bk_rot_key_id(d)));
	CHECK(d && cross(x, d) == 0);
	CHECK(bk_rot_for(k1, "root") == k1);
	free(s);
	bk_rot_free(d);
	CHECK_EQ_INT(bk_rot_open_uri(k1, "pkcs11:token=unit2;object=ext"
				     "?module-path=" MODULE, 1, &d, &e),
		     -EACCES);
	CHECK(strstr(e.msg, "needs a PIN") != NULL);
	snprintf(uri, sizeof(uri), "pkcs11:token=unit2;object=x"
		 "?module-path=" MODULE "&pin-source=%s/pin2", dir);
	CHECK_EQ_INT(bk_rot_connection(k1, "unit2", uri, &e), 0);
	CHECK_EQ_INT(bk_rot_bind(k1, "ext", "pkcs11:token=unit2;object=ext",
				 &e), -ENOENT);	/* no such key yet */
	CHECK(strstr(e.msg, "domain ext is anchored") != NULL);
	CHECK(!strcmp(bk_rot_kind(bk_rot_for(k1, "ext")), "unreachable"));
	CHECK_EQ_INT(cross(bk_rot_for(k1, "ext"), k1), -ENXIO);
	CHECK_EQ_INT(bk_rot_open_uri(k1, "pkcs11:token=unit2;object=ext", 1,
				     &d, &e), 0);
	CHECK(d && !strcmp(bk_rot_token(d), "unit2"));
	s = d ? bk_rot_identity(d) : NULL;
	CHECK_EQ_INT(bk_rot_bind(k1, "ext", s, &e), 0);
	CHECK(d && cross(bk_rot_for(k1, "ext"), d) == 0);
	free(s);
	bk_rot_free(d);
	bk_rot_unbind_all(k1);
	CHECK(bk_rot_for(k1, "fin") == k1);
	/* Rotation hands the bindings over. */
	CHECK_EQ_INT(bk_rot_bind(k1, "fin", "pkcs11:token=unit;object=dom",
				 &e), 0);
	bk_rot_move_links(k1, k2);
	CHECK(bk_rot_for(k2, "fin") != k2 && bk_rot_for(k1, "fin") == k1);
	bk_rot_free(k1);
	CHECK(round_trip(bk_rot_for(k2, "fin"), 32));
	bk_rot_free(k2);
	test_open_threads();
}

int main(void)
{
	char cmd[300];
	int ret;

	bk_crypto_init();
	if (!mkdtemp(dir))
		return 1;
	test_software();
	ret = make_token();
	CHECK_EQ_INT(ret, 0);
	if (!ret)
		test_pkcs11();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
	return check_done("test_rot");
}
