/* pass.c - passphrases for key export and import: per uid, in the
 * secure heap, forgotten after BK_PASS_TTL seconds; a passphrase file as
 * the unattended fallback. */
#include "engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "crypto.h"

static long long mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

int bk_pass_set(struct bk_engine *e, uid_t uid, const char *pass,
		size_t len, struct bk_err *err)
{
	struct bk_pass *p = NULL;
	int ret = 0;

	if (len < 8)
		return bk_errf(err, -EINVAL,
			       "passphrase too short: use at least 8 characters");
	if (len >= BK_MAX_PASS)
		return bk_errf(err, -EINVAL, "passphrase too long");
	pthread_mutex_lock(&e->op_lock);
	for (size_t i = 0; i < e->npass; i++)
		if (e->pass[i].uid == uid)
			p = &e->pass[i];
	if (!p) {
		struct bk_pass *n = realloc(e->pass, (e->npass + 1) * sizeof(*n));
		char *buf = bk_secure_alloc(BK_MAX_PASS);

		if (!n || !buf) {
			if (n)
				e->pass = n;
			bk_secure_free(buf, BK_MAX_PASS);
			ret = bk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
		e->pass = n;
		p = &e->pass[e->npass++];
		p->uid = uid;
		p->buf = buf;
	}
	OPENSSL_cleanse(p->buf, BK_MAX_PASS);
	memcpy(p->buf, pass, len);
	p->len = len;
	p->expires = mono_now() + BK_PASS_TTL;
out:
	pthread_mutex_unlock(&e->op_lock);
	return ret;
}

int bk_pass_file(struct bk_engine *e, const char *path, struct bk_err *err)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return bk_errf(err, -errno, "passphrase file %s: %s", path,
			       strerror(errno));
	if (st.st_mode & 077)
		return bk_errf(err, -EPERM,
			       "passphrase file %s is readable by others (mode %o); chmod 600 it",
			       path, st.st_mode & 0777);
	free(e->pass_file);
	e->pass_file = strdup(path);
	return e->pass_file ? 0 : bk_errf(err, -ENOMEM, "out of memory");
}

/* Copies uid's passphrase into buf (secure, BK_MAX_PASS bytes). */
int bk_pass_get(struct bk_engine *e, uid_t uid, char *buf, size_t *len,
		struct bk_err *err)
{
	int ret = -EACCES;

	pthread_mutex_lock(&e->op_lock);
	for (size_t i = 0; i < e->npass; i++) {
		struct bk_pass *p = &e->pass[i];

		if (p->uid != uid || !p->len)
			continue;
		if (p->expires < mono_now()) {
			OPENSSL_cleanse(p->buf, BK_MAX_PASS);
			p->len = 0;
			continue;
		}
		memcpy(buf, p->buf, p->len);
		*len = p->len;
		ret = 0;
	}
	pthread_mutex_unlock(&e->op_lock);
	if (ret && e->pass_file) {
		uint8_t *f;
		size_t n;

		ret = bk_read_small(e->pass_file, BK_MAX_PASS - 1, &f, &n, err);
		if (ret)
			return ret;
		while (n && (f[n - 1] == '\n' || f[n - 1] == '\r'))
			n--;
		memcpy(buf, f, n);
		*len = n;
		OPENSSL_cleanse(f, n);
		free(f);
		return 0;
	}
	if (ret)
		return bk_errf(err, -EACCES,
			       "no passphrase set for this user: write one first (echo -n 'long passphrase' > MOUNT/passphrase), or mount with -o passphrase_file=PATH");
	return 0;
}

