/* ino.c - stable inode numbers: the first 8 bytes (big-endian) of the
 * SHA-256 of the logical path.  Not security crypto: the digest only
 * spreads paths over 64 bits so that numbers survive remounts.
 * (Temporary: engine.h should provide bk_path_ino(); see docs/FS.md.) */
#include "bkfs.h"

#include <string.h>

#include <openssl/evp.h>

uint64_t bkfs_path_ino(const char *path)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	uint64_t ino = 0;
	int i;

	if (!path || !strcmp(path, "/"))
		return 1;
	if (!EVP_Digest(path, strlen(path), md, &mdlen, EVP_sha256(), NULL)
	    || mdlen < 8)
		return 2;	/* cannot happen with OpenSSL's SHA-256 */
	for (i = 0; i < 8; i++)
		ino = (ino << 8) | md[i];
	if (ino <= 1)		/* 0 is invalid, 1 is the root's */
		ino |= UINT64_C(1) << 63;
	return ino;
}
