/* rot_soft.c - software root of trust: an AES-256 key file, mode 0600. */
#include "rot_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "../core/crypto.h"

int bk_rot_soft_create(const char *path, struct bk_err *err)
{
	uint8_t key[BK_KEY_LEN];
	int fd, ret;

	ret = bk_random(key, sizeof(key), err);
	if (ret)
		return ret;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = bk_errf(err, -errno, "cannot create %s: %s", path,
			      strerror(errno));
		goto out;
	}
	if (write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) ||
	    fsync(fd) < 0) {
		ret = bk_errf(err, -EIO, "cannot write %s", path);
		close(fd);
		unlink(path);
		goto out;
	}
	close(fd);
	ret = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	return ret;
}

int bk_rot_soft_open(const char *path, struct bk_rot **out,
		     struct bk_err *err)
{
	struct bk_rot *rot = NULL;
	uint8_t digest[32];
	struct stat st;
	int fd = -1, ret;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bk_errf(err, -errno, "cannot open root-of-trust key %s: %s",
			       path, strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_size != BK_KEY_LEN) {
		ret = bk_errf(err, -EINVAL,
			      "root-of-trust key %s is not %d bytes", path,
			      BK_KEY_LEN);
		goto out;
	}
	if (st.st_mode & 077) {
		ret = bk_errf(err, -EPERM,
			      "root-of-trust key %s is readable by others (mode %o); chmod 600 it",
			      path, st.st_mode & 0777);
		goto out;
	}
	rot = bk_rot_alloc();
	if (!rot || !(rot->key = bk_secure_alloc(BK_KEY_LEN))) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	n = read(fd, rot->key, BK_KEY_LEN);
	if (n != BK_KEY_LEN) {
		ret = bk_errf(err, -EIO, "cannot read %s", path);
		goto out;
	}
	bk_sha256(rot->key, BK_KEY_LEN, digest);
	for (int i = 0; i < 8; i++)
		snprintf(rot->key_id + 2 * i, 3, "%02x", digest[i]);
	*out = rot;
	rot = NULL;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	bk_rot_free(rot);
	return ret;
}

int bk_rot_soft_wrap(struct bk_rot *rot, const uint8_t *secret, size_t len,
		     uint8_t **out, size_t *outlen, struct bk_err *err)
{
	uint8_t *buf;
	int ret;

	buf = malloc(len + 16);
	if (!buf)
		return bk_errf(err, -ENOMEM, "out of memory");
	ret = bk_kwp_wrap(rot->key, secret, len, buf, outlen, err);
	if (ret) {
		free(buf);
		return ret;
	}
	*out = buf;
	return 0;
}

int bk_rot_soft_unwrap(struct bk_rot *rot, const uint8_t *wrapped,
		       size_t len, uint8_t **out, size_t *outlen,
		       struct bk_err *err)
{
	uint8_t *buf;
	int ret;

	buf = bk_secure_alloc(len);
	if (!buf)
		return bk_errf(err, -ENOMEM, "out of secure memory");
	ret = bk_rot_soft_unwrap_into(rot, wrapped, len, buf, outlen, err);
	if (ret) {
		bk_secure_free(buf, len);
		return ret;
	}
	/* bk_secure_free needs the allocated length: keep it >= *outlen.
	 * Callers free with *outlen; the secure heap wipes by block. */
	*out = buf;
	return 0;
}

int bk_rot_soft_unwrap_into(struct bk_rot *rot, const uint8_t *wrapped,
			    size_t len, uint8_t *out, size_t *outlen,
			    struct bk_err *err)
{
	return bk_kwp_unwrap(rot->key, wrapped, len, out, outlen, err);
}
