/* archive_fmt.h - private to archive.c and archive_read.c: the constants
 * of the archive format (docs/FORMAT.md) and the helpers both sides share.
 */
#ifndef BK_ARCHIVE_FMT_H
#define BK_ARCHIVE_FMT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "archive.h"
#include "crypto.h"

#define ARC_MAGIC "BKFSARC"		/* 7 bytes, then the version */
#define ARC_MAGIC_LEN 7
#define ARC_VERSION 1
#define ARC_PREAMBLE 12		/* magic, version, H */
#define ARC_MAC_LEN 32
#define ARC_TAG_LEN 16
#define ARC_SALT_LEN 32
#define ARC_SLOT (BK_ARCHIVE_CHUNK + ARC_TAG_LEN)	/* a chunk on disk */
#define ARC_MAX_PAYLOAD (UINT64_C(1) << 62)
#define ARC_MAX_WRAPS 16
#define ARC_MAX_WRAPPED 1024

#define ARC_CIPHER "AES-256-GCM"
#define ARC_KDF "HKDF-SHA256"
#define ARC_KWP "AES-256-KWP"

/* Key material, in one secure-heap block. */
struct bk_arc_keys {
	uint8_t data[BK_KEY_LEN];
	uint8_t mac[BK_KEY_LEN];
	uint8_t payload[BK_KEY_LEN];
};

static inline void bk_arc_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t bk_arc_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* Number of chunks of a payload: the last one holds payload % 65536
 * bytes, possibly none. */
static inline uint64_t bk_arc_chunks(uint64_t payload)
{
	return payload / BK_ARCHIVE_CHUNK + 1;
}

/* k->mac and k->payload from k->data and the header's salt (HKDF). */
int bk_arc_derive_keys(struct bk_arc_keys *k,
		       const uint8_t salt[ARC_SALT_LEN], struct bk_err *err);

/* A new AES-256-GCM context holding key, for encryption (enc) or not. */
int bk_arc_gcm_setup(EVP_CIPHER_CTX **ctx, int enc, const uint8_t *key,
		     struct bk_err *err);

/* Encrypts plain into slot (len bytes, then the tag) or decrypts slot
 * into plain.  -EBADMSG when a tag does not match; plain is then wiped. */
int bk_arc_chunk_crypt(EVP_CIPHER_CTX *ctx, int enc, uint64_t index,
		       int last, const char *id, uint8_t *plain,
		       uint8_t *slot, size_t len);

#endif
