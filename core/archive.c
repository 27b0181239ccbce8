/* archive.c - the backup archive format (docs/FORMAT.md): the writer and
 * the primitives the reader (archive_read.c) shares.
 *
 *   0        8 bytes   "BKFSARC" 0x01 (magic, format version)
 *   8        u32 BE    H, length of the header area
 *   12       u32 BE    J, length of the JSON header
 *   16       J bytes   JSON header (compact, no NUL)
 *   16+J     zeros     padding up to the MAC
 *   12+H-32  32 bytes  HMAC-SHA256(mac_key, bytes [0, 12+H-32))
 *   12+H     chunks    payloadSize / 65536 + 1 AES-256-GCM chunks
 *
 * The writer fixes H at the first write (or at finish), reserving room for
 * the fields only known at the end, and writes the header last, into the
 * same area.  Memory use is one chunk, whatever the size.
 */
#include "archive_fmt.h"
#include "fault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define AREA_ALIGN 4096
#define FINAL_RESERVE 4096		/* room for the fields of finish */
#define INFO_MAC "backupfs archive header mac v1"
#define INFO_PAYLOAD "backupfs archive payload v1"
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Fields the writer owns; callers may not set them. */
static const char *const reserved[] = {
	"format", "chunkSize", "salt", "cipher", "kdf", "wrappedKeys",
	"payloadSize", "chunks", NULL
};

struct bk_archive_writer {
	int fd;				/* borrowed */
	int failed;			/* latched negative errno */
	int sealed;			/* H fixed, chunks may be written */
	int finished;
	json_object *header;		/* owned */
	json_object *wraps;		/* borrowed from header */
	char *id;			/* owned: the chunks' AAD */
	uint32_t area;			/* H */
	struct bk_arc_keys *keys;	/* secure heap */
	EVP_CIPHER_CTX *ctx;
	uint8_t *plain;			/* secure heap, one chunk */
	uint8_t *slot;			/* one encrypted chunk + tag */
	size_t fill;
	uint64_t index;			/* chunks written */
	uint64_t payload;		/* plaintext bytes accepted */
};

/* point: the fault-injection point (fault.h) checked before writing. */
static int write_all(int fd, const uint8_t *buf, size_t len, off_t off,
		     const char *point, struct bk_err *err)
{
	int fault = bk_fault(point);

	while (len) {
		ssize_t n = fault ? (errno = -fault, -1) :
			pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == ENOSPC || errno == EDQUOT))
			return bk_errf(err, -errno,
				       "not enough space to write the archive (%s)",
				       strerror(errno));
		if (n < 0)
			return bk_errf(err, -errno, "cannot write the archive: %s",
				       strerror(errno));
		if (n == 0)
			return bk_errf(err, -EIO, "cannot write the archive");
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int bk_arc_derive_keys(struct bk_arc_keys *k,
		       const uint8_t salt[ARC_SALT_LEN], struct bk_err *err)
{
	int ret;

	ret = bk_hkdf_sha256(k->data, BK_KEY_LEN, salt, ARC_SALT_LEN, INFO_MAC,
			     k->mac, BK_KEY_LEN, err);
	if (!ret)
		ret = bk_hkdf_sha256(k->data, BK_KEY_LEN, salt, ARC_SALT_LEN,
				     INFO_PAYLOAD, k->payload, BK_KEY_LEN, err);
	return ret;
}

int bk_arc_chunk_crypt(EVP_CIPHER_CTX *ctx, int enc, uint64_t index, int last,
		       const char *id, uint8_t *plain, uint8_t *slot,
		       size_t len)
{
	uint8_t nonce[12] = { 0 };
	uint8_t *in = enc ? plain : slot, *out = enc ? slot : plain;
	int n = 0, i;

	for (i = 0; i < 8; i++)		/* 11-byte big-endian index */
		nonce[10 - i] = (uint8_t)(index >> (8 * i));
	nonce[11] = last ? 1 : 0;
	if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, enc) != 1)
		return -EIO;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, ARC_TAG_LEN,
					slot + len) != 1)
		return -EIO;
	if (EVP_CipherUpdate(ctx, NULL, &n, (const uint8_t *)id,
			     (int)strlen(id)) != 1)
		return -EIO;
	if (len && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		goto fail;
	if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1)
		goto fail;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, ARC_TAG_LEN,
				       slot + len) != 1)
		return -EIO;
	return 0;
fail:
	if (!enc)
		OPENSSL_cleanse(plain, len);
	return enc ? -EIO : -EBADMSG;
}

int bk_arc_gcm_setup(EVP_CIPHER_CTX **ctx, int enc, const uint8_t *key,
		     struct bk_err *err)
{
	*ctx = EVP_CIPHER_CTX_new();
	if (!*ctx)
		return bk_errf(err, -ENOMEM, "out of memory");
	if (EVP_CipherInit_ex(*ctx, EVP_aes_256_gcm(), NULL, key, NULL,
			      enc) != 1)
		return bk_err_ssl(err, -EIO, "AES-256-GCM unavailable");
	return 0;
}

static const char *reserved_name(json_object *obj)
{
	int i;

	for (i = 0; reserved[i]; i++)
		if (json_object_object_get_ex(obj, reserved[i], NULL))
			return reserved[i];
	return NULL;
}

/* Copies every field of src into dst (deep copies, replacing). */
static int merge_fields(json_object *dst, json_object *src)
{
	json_object_object_foreach(src, key, val) {
		json_object *copy = NULL;

		if (val && json_object_deep_copy(val, &copy, NULL))
			return -ENOMEM;
		if (json_object_object_add(dst, key, copy)) {
			json_object_put(copy);
			return -ENOMEM;
		}
	}
	return 0;
}

static int add_wrap_json(json_object *wraps, const char *kind,
			 const char *keyid, const char *alg,
			 const uint8_t *wrapped, size_t len)
{
	json_object *o = json_object_new_object();
	char *b64 = bk_b64_encode(wrapped, len);
	int ret = -ENOMEM;

	if (!o || !b64)
		goto out;
	json_object_object_add(o, "kind", json_object_new_string(kind));
	json_object_object_add(o, "keyId",
			       keyid ? json_object_new_string(keyid) : NULL);
	json_object_object_add(o, "alg", json_object_new_string(alg));
	json_object_object_add(o, "wrapped", json_object_new_string(b64));
	if (json_object_array_add(wraps, o))
		goto out;
	o = NULL;
	ret = 0;
out:
	json_object_put(o);
	free(b64);
	return ret;
}

int bk_archive_writer_new(int fd, json_object *header,
			  const uint8_t backup_key[32],
			  struct bk_archive_writer **out, struct bk_err *err)
{
	struct bk_archive_writer *w = NULL;
	json_object *id, *keyid;
	uint8_t salt[ARC_SALT_LEN], wrapped[BK_KEY_LEN + 16];
	size_t wlen = 0;
	char *salt64 = NULL;
	const char *name;
	int ret;

	bk_crypto_init();
	if (!json_object_is_type(header, json_type_object))
		return bk_errf(err, -EINVAL, "archive header must be a JSON object");
	if (!json_object_object_get_ex(header, "id", &id) ||
	    !json_object_is_type(id, json_type_string) ||
	    !json_object_get_string_len(id))
		return bk_errf(err, -EINVAL, "archive header needs an \"id\" string");
	if (!json_object_object_get_ex(header, "backupKey", &keyid) ||
	    !json_object_is_type(keyid, json_type_string))
		return bk_errf(err, -EINVAL,
			       "archive header needs a \"backupKey\" string");
	if ((name = reserved_name(header)))
		return bk_errf(err, -EINVAL,
			       "archive header field \"%s\" is set by the archive writer",
			       name);

	w = calloc(1, sizeof(*w));
	if (!w)
		return bk_errf(err, -ENOMEM, "out of memory");
	w->fd = fd;
	w->keys = bk_secure_alloc(sizeof(*w->keys));
	w->plain = bk_secure_alloc(BK_ARCHIVE_CHUNK);
	w->slot = malloc(ARC_SLOT);
	w->id = strdup(json_object_get_string(id));
	w->header = json_object_new_object();
	if (!w->keys || !w->plain || !w->slot || !w->id || !w->header) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	ret = bk_random(w->keys->data, BK_KEY_LEN, err);
	if (!ret)
		ret = bk_random(salt, sizeof(salt), err);
	if (!ret)
		ret = bk_arc_derive_keys(w->keys, salt, err);
	if (!ret)
		ret = bk_kwp_wrap(backup_key, w->keys->data, BK_KEY_LEN,
				  wrapped, &wlen, err);
	if (!ret)
		ret = bk_arc_gcm_setup(&w->ctx, 1, w->keys->payload, err);
	if (ret)
		goto out;

	/* The caller's fields first, then the writer's. */
	salt64 = bk_b64_encode(salt, sizeof(salt));
	if (!salt64 || merge_fields(w->header, header) ||
	    json_object_object_add(w->header, "format",
				   json_object_new_int(ARC_VERSION)) ||
	    json_object_object_add(w->header, "chunkSize",
				   json_object_new_int(BK_ARCHIVE_CHUNK)) ||
	    json_object_object_add(w->header, "salt",
				   json_object_new_string(salt64)) ||
	    json_object_object_add(w->header, "cipher",
				   json_object_new_string(ARC_CIPHER)) ||
	    json_object_object_add(w->header, "kdf",
				   json_object_new_string(ARC_KDF)) ||
	    !(w->wraps = json_object_new_array())) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (json_object_object_add(w->header, "wrappedKeys", w->wraps)) {
		json_object_put(w->wraps);
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (add_wrap_json(w->wraps, "backupkey", json_object_get_string(keyid),
			  ARC_KWP, wrapped, wlen)) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	*out = w;
	w = NULL;
out:
	free(salt64);
	bk_archive_writer_free(w);
	return ret;
}

int bk_archive_writer_add_wrap(struct bk_archive_writer *w, const char *kind,
			       const char *keyid, const char *alg,
			       const uint8_t *wrapped, size_t len,
			       struct bk_err *err)
{
	if (w->sealed)
		return bk_errf(err, -EINVAL,
			       "extra key wraps must be added before the first write");
	if (!kind || !*kind || !alg || !*alg || !len || len > ARC_MAX_WRAPPED)
		return bk_errf(err, -EINVAL, "invalid extra key wrap");
	if (json_object_array_length(w->wraps) >= ARC_MAX_WRAPS)
		return bk_errf(err, -EINVAL, "too many key wraps");
	if (add_wrap_json(w->wraps, kind, keyid, alg, wrapped, len))
		return bk_errf(err, -ENOMEM, "out of memory");
	return 0;
}

const uint8_t *bk_archive_writer_data_key(struct bk_archive_writer *w)
{
	return w->keys->data;
}

/* Fixes H: the header as it is now, plus room for the final fields. */
static int seal(struct bk_archive_writer *w, struct bk_err *err)
{
	const char *json;
	size_t j, need;

	json = json_object_to_json_string_ext(w->header, JSON_FLAGS);
	if (!json)
		return bk_errf(err, -ENOMEM, "out of memory");
	j = strlen(json);
	need = 4 + j + FINAL_RESERVE + ARC_MAC_LEN;
	need = (need + AREA_ALIGN - 1) / AREA_ALIGN * AREA_ALIGN;
	if (need > BK_ARCHIVE_MAX_HEADER)
		return bk_errf(err, -EOVERFLOW,
			       "archive header too large (%zu bytes of JSON)", j);
	w->area = (uint32_t)need;
	w->sealed = 1;
	return 0;
}

#define WB_WINDOW ((off_t)8 << 20)

void bk_archive_writeback(int fd, off_t off, size_t n)
{
	off_t end = off + (off_t)n;

	if (n && end / WB_WINDOW != off / WB_WINDOW)
		sync_file_range(fd, (end / WB_WINDOW - 1) * WB_WINDOW,
				WB_WINDOW, SYNC_FILE_RANGE_WRITE);
}

/* Encrypts and writes the buffered chunk. */
static int flush_chunk(struct bk_archive_writer *w, int last,
		       struct bk_err *err)
{
	off_t off = ARC_PREAMBLE + (off_t)w->area + (off_t)w->index * ARC_SLOT;
	int ret;

	ret = bk_arc_chunk_crypt(w->ctx, 1, w->index, last, w->id, w->plain,
				 w->slot, w->fill);
	if (ret)
		return bk_err_ssl(err, ret, "chunk encryption failed");
	ret = write_all(w->fd, w->slot, w->fill + ARC_TAG_LEN, off,
			"archive.write", err);
	if (ret)
		return ret;
	bk_archive_writeback(w->fd, off, w->fill + ARC_TAG_LEN);
	OPENSSL_cleanse(w->plain, w->fill);
	w->index++;
	w->fill = 0;
	return 0;
}

int bk_archive_writer_write(struct bk_archive_writer *w, const void *buf,
			    size_t len, struct bk_err *err)
{
	const uint8_t *p = buf;
	int ret = 0;

	if (w->failed)
		return bk_errf(err, w->failed, "archive writer failed earlier");
	if (w->finished)
		return bk_errf(err, -EINVAL, "archive already finished");
	if (len > ARC_MAX_PAYLOAD - w->payload)
		return bk_errf(err, -EFBIG, "archive payload too large");
	if (!w->sealed && (ret = seal(w, err)))
		goto out;
	while (len) {
		size_t n = BK_ARCHIVE_CHUNK - w->fill;

		if (n > len)
			n = len;
		memcpy(w->plain + w->fill, p, n);
		w->fill += n;
		w->payload += n;
		p += n;
		len -= n;
		/* A full chunk is never the last one: the last chunk holds
		 * payloadSize % 65536 bytes. */
		if (w->fill < BK_ARCHIVE_CHUNK)
			continue;
		ret = flush_chunk(w, 0, err);
		if (ret)
			goto out;
	}
out:
	if (ret)
		w->failed = ret;
	return ret;
}

int bk_archive_writer_finish(struct bk_archive_writer *w,
			     json_object *final_fields, off_t *total,
			     struct bk_err *err)
{
	uint8_t *head = NULL;
	const char *json, *name;
	size_t j, maclen;
	int ret;

	if (w->failed)
		return bk_errf(err, w->failed, "archive writer failed earlier");
	if (w->finished)
		return bk_errf(err, -EINVAL, "archive already finished");
	if (final_fields &&
	    !json_object_is_type(final_fields, json_type_object))
		return bk_errf(err, -EINVAL, "final header fields must be an object");
	if (final_fields && (name = reserved_name(final_fields)))
		return bk_errf(err, -EINVAL,
			       "archive header field \"%s\" is set by the archive writer",
			       name);
	if (final_fields &&
	    (json_object_object_get_ex(final_fields, "id", NULL) ||
	     json_object_object_get_ex(final_fields, "backupKey", NULL)))
		return bk_errf(err, -EINVAL,
			       "\"id\" and \"backupKey\" cannot change at finish");
	if (!w->sealed && (ret = seal(w, err)))
		goto out;
	ret = flush_chunk(w, 1, err);
	if (ret)
		goto out;

	if ((final_fields && merge_fields(w->header, final_fields)) ||
	    json_object_object_add(w->header, "payloadSize",
				   json_object_new_int64((int64_t)w->payload)) ||
	    json_object_object_add(w->header, "chunks",
				   json_object_new_int64((int64_t)w->index))) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	json = json_object_to_json_string_ext(w->header, JSON_FLAGS);
	if (!json) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	j = strlen(json);
	if (4 + j + ARC_MAC_LEN > w->area) {
		ret = bk_errf(err, -EOVERFLOW,
			      "final archive header (%zu bytes) does not fit in the %u bytes reserved for it",
			      j, w->area);
		goto out;
	}
	head = calloc(1, ARC_PREAMBLE + w->area);
	if (!head) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	memcpy(head, ARC_MAGIC, ARC_MAGIC_LEN);
	head[ARC_MAGIC_LEN] = ARC_VERSION;
	bk_arc_put_be32(head + 8, w->area);
	bk_arc_put_be32(head + ARC_PREAMBLE, (uint32_t)j);
	memcpy(head + ARC_PREAMBLE + 4, json, j);
	maclen = ARC_PREAMBLE + w->area - ARC_MAC_LEN;
	ret = bk_hmac_sha256(w->keys->mac, BK_KEY_LEN, head, maclen,
			     head + maclen, err);
	if (ret)
		goto out;
	ret = write_all(w->fd, head, ARC_PREAMBLE + w->area, 0,
			"archive.header", err);
	if (ret)
		goto out;
	w->finished = 1;
	if (total)
		*total = ARC_PREAMBLE + (off_t)w->area + (off_t)w->payload +
			 (off_t)w->index * ARC_TAG_LEN;
out:
	free(head);
	if (ret)
		w->failed = ret;
	return ret;
}

uint64_t bk_archive_writer_payload(struct bk_archive_writer *w)
{
	return w->payload;
}

void bk_archive_writer_free(struct bk_archive_writer *w)
{
	if (!w)
		return;
	EVP_CIPHER_CTX_free(w->ctx);
	bk_secure_free(w->keys, sizeof(*w->keys));
	bk_secure_free(w->plain, BK_ARCHIVE_CHUNK);
	free(w->slot);
	free(w->id);
	json_object_put(w->header);
	free(w);
}
