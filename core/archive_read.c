/* archive_read.c - reading and authenticating archives (docs/FORMAT.md).
 *
 * bk_archive_open checks the structure and the exact length without a key;
 * unlock checks the header MAC; every chunk's tag is checked before any of
 * its plaintext is handed out, and end of payload is reported only after
 * the authenticated last chunk.  Memory use is one chunk.
 */
#include "archive_fmt.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

struct wrap {
	const char *kind, *keyid, *alg;	/* borrowed from the header */
	uint8_t *data;			/* owned */
	size_t len;
};

struct bk_archive_reader {
	int fd;				/* borrowed */
	uint8_t *head;			/* owned: bytes [0, 12+H) */
	uint32_t area;			/* H */
	json_object *header;		/* owned */
	const char *id;			/* borrowed from header */
	uint8_t salt[ARC_SALT_LEN];
	struct wrap wraps[ARC_MAX_WRAPS];
	size_t nwraps;
	uint64_t payload, chunks;
	struct bk_arc_keys *keys;	/* secure heap; NULL when locked */
	EVP_CIPHER_CTX *ctx;
	uint8_t *plain;			/* secure heap, one chunk */
	uint8_t *slot;
	size_t avail, pos;		/* plaintext of the current chunk */
	uint64_t next;			/* index of the next chunk to load */
	struct bk_err fail;		/* latched payload failure */
};

/* Returns the bytes read (short only at end of file) or a negative errno. */
static ssize_t read_all(int fd, uint8_t *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, off + done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int malformed(struct bk_err *err, const char *what)
{
	return bk_errf(err, -EBADMSG, "malformed archive header: %s", what);
}

static json_object *field(json_object *obj, const char *key,
			  enum json_type type)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, type))
		return NULL;
	return v;
}

static int str_is(json_object *obj, const char *key, const char *want)
{
	json_object *v = field(obj, key, json_type_string);

	return v && !strcmp(json_object_get_string(v), want);
}

static int parse_wraps(struct bk_archive_reader *r, const char *backup_key,
		       struct bk_err *err)
{
	json_object *arr = field(r->header, "wrappedKeys", json_type_array);
	size_t i, n = arr ? json_object_array_length(arr) : 0;
	int found = 0;

	if (!n || n > ARC_MAX_WRAPS)
		return malformed(err, "\"wrappedKeys\" must list 1 to 16 wraps");
	for (i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i), *kind,
			    *alg, *data, *keyid = NULL;
		struct wrap *wr = &r->wraps[i];

		if (!json_object_is_type(o, json_type_object) ||
		    !(kind = field(o, "kind", json_type_string)) ||
		    !(alg = field(o, "alg", json_type_string)) ||
		    !(data = field(o, "wrapped", json_type_string)) ||
		    (json_object_object_get_ex(o, "keyId", &keyid) && keyid &&
		     !json_object_is_type(keyid, json_type_string)))
			return malformed(err, "bad entry in \"wrappedKeys\"");
		if (bk_b64_decode(json_object_get_string(data), &wr->data,
				  &wr->len))
			return malformed(err, "wrapped key is not base64");
		r->nwraps++;
		if (!wr->len || wr->len > ARC_MAX_WRAPPED)
			return malformed(err, "wrapped key has a bad length");
		wr->kind = json_object_get_string(kind);
		wr->alg = json_object_get_string(alg);
		wr->keyid = keyid ? json_object_get_string(keyid) : NULL;
		if (!strcmp(wr->kind, "backupkey")) {
			if (strcmp(wr->alg, ARC_KWP) || !wr->keyid ||
			    strcmp(wr->keyid, backup_key))
				return malformed(err, "bad \"backupkey\" wrap");
			found = 1;
		}
	}
	if (!found)
		return malformed(err, "no \"backupkey\" wrap");
	return 0;
}

/* Checks the JSON header's fields; fills r. */
static int parse_fields(struct bk_archive_reader *r, struct bk_err *err)
{
	json_object *h = r->header, *v, *keyid;
	uint8_t *salt = NULL;
	size_t saltlen = 0;
	int64_t size, chunks;
	int ret;

	v = field(h, "format", json_type_int);
	if (!v || json_object_get_int64(v) != ARC_VERSION)
		return malformed(err, "\"format\" is not 1");
	v = field(h, "chunkSize", json_type_int);
	if (!v || json_object_get_int64(v) != BK_ARCHIVE_CHUNK)
		return malformed(err, "\"chunkSize\" is not 65536");
	if (!str_is(h, "cipher", ARC_CIPHER) || !str_is(h, "kdf", ARC_KDF))
		return malformed(err, "unknown \"cipher\" or \"kdf\"");
	v = field(h, "id", json_type_string);
	if (!v || !json_object_get_string_len(v))
		return malformed(err, "no \"id\"");
	r->id = json_object_get_string(v);
	if (!(keyid = field(h, "backupKey", json_type_string)))
		return malformed(err, "no \"backupKey\"");
	v = field(h, "salt", json_type_string);
	if (!v || bk_b64_decode(json_object_get_string(v), &salt, &saltlen))
		return malformed(err, "bad \"salt\"");
	if (saltlen == ARC_SALT_LEN)
		memcpy(r->salt, salt, ARC_SALT_LEN);
	free(salt);
	if (saltlen != ARC_SALT_LEN)
		return malformed(err, "bad \"salt\" length");
	ret = parse_wraps(r, json_object_get_string(keyid), err);
	if (ret)
		return ret;
	v = field(h, "payloadSize", json_type_int);
	size = v ? json_object_get_int64(v) : -1;
	if (size < 0 || (uint64_t)size > ARC_MAX_PAYLOAD)
		return malformed(err, "bad \"payloadSize\"");
	v = field(h, "chunks", json_type_int);
	chunks = v ? json_object_get_int64(v) : -1;
	if (chunks < 0 || (uint64_t)chunks != bk_arc_chunks((uint64_t)size))
		return malformed(err, "\"chunks\" does not match \"payloadSize\"");
	r->payload = (uint64_t)size;
	r->chunks = (uint64_t)chunks;
	return 0;
}

/* Reads and checks everything up to the payload, the file being size
 * bytes long; partial: only its first size bytes are there so far, and
 * -EAGAIN (no message) says the header needs more of them. */
static int read_head(struct bk_archive_reader *r, off_t size, int partial,
		     struct bk_err *err)
{
	uint8_t pre[ARC_PREAMBLE];
	json_tokener *tok = NULL;
	size_t j, i;
	ssize_t n;
	int ret = 0;

	n = read_all(r->fd, pre,
		     size < ARC_PREAMBLE ? (size_t)size : ARC_PREAMBLE, 0);
	if (n < 0)
		return bk_errf(err, (int)n, "cannot read the archive: %s",
			       strerror((int)-n));
	if (n < ARC_MAGIC_LEN + 1 || memcmp(pre, ARC_MAGIC, ARC_MAGIC_LEN))
		return bk_errf(err, -EINVAL, "not a backupfs archive");
	if (pre[ARC_MAGIC_LEN] != ARC_VERSION)
		return bk_errf(err, -EINVAL,
			       "archive format version %u is not supported",
			       pre[ARC_MAGIC_LEN]);
	if (n < ARC_PREAMBLE && partial)
		return -EAGAIN;
	if (n < ARC_PREAMBLE)
		return bk_errf(err, -EBADMSG,
			       "archive is truncated (%lld bytes)",
			       (long long)size);
	r->area = bk_arc_get_be32(pre + 8);
	if (r->area < 4 + 2 + ARC_MAC_LEN || r->area > BK_ARCHIVE_MAX_HEADER)
		return malformed(err, "bad header area length");
	if (size < ARC_PREAMBLE + (off_t)r->area && partial)
		return -EAGAIN;
	if (size < ARC_PREAMBLE + (off_t)r->area)
		return bk_errf(err, -EBADMSG,
			       "archive is truncated (%lld bytes; its header alone takes %u)",
			       (long long)size, ARC_PREAMBLE + r->area);
	r->head = malloc(ARC_PREAMBLE + r->area);
	if (!r->head)
		return bk_errf(err, -ENOMEM, "out of memory");
	n = read_all(r->fd, r->head, ARC_PREAMBLE + r->area, 0);
	if (n < 0)
		return bk_errf(err, (int)n, "cannot read the archive: %s",
			       strerror((int)-n));
	if ((size_t)n != ARC_PREAMBLE + r->area ||
	    memcmp(r->head, pre, ARC_PREAMBLE))
		return bk_errf(err, -EIO, "the archive changed while being read");

	j = bk_arc_get_be32(r->head + ARC_PREAMBLE);
	if (j < 2 || j > r->area - 4 - ARC_MAC_LEN)
		return malformed(err, "bad JSON length");
	if (memchr(r->head + ARC_PREAMBLE + 4, 0, j))
		return malformed(err, "NUL byte in the JSON");
	for (i = ARC_PREAMBLE + 4 + j; i < ARC_PREAMBLE + r->area - ARC_MAC_LEN;
	     i++)
		if (r->head[i])
			return malformed(err, "padding is not zero");

	tok = json_tokener_new();
	if (!tok)
		return bk_errf(err, -ENOMEM, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	r->header = json_tokener_parse_ex(tok, (const char *)r->head +
					  ARC_PREAMBLE + 4, (int)j);
	if (!r->header || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != j ||
	    !json_object_is_type(r->header, json_type_object)) {
		ret = malformed(err, "not a JSON object");
		goto out;
	}
	ret = parse_fields(r, err);
out:
	json_tokener_free(tok);
	return ret;
}

/* The file's length that the header implies. */
static uint64_t file_size(const struct bk_archive_reader *r)
{
	return ARC_PREAMBLE + (uint64_t)r->area + r->payload +
	       r->chunks * ARC_TAG_LEN;
}

/* bk_archive_open of a file size bytes long, or of one whose first size
 * bytes only are there yet (partial). */
static int open_sized(int fd, off_t size, int partial,
		      struct bk_archive_reader **out, struct bk_err *err)
{
	struct bk_archive_reader *r;
	uint64_t want;
	int ret;

	bk_crypto_init();
	r = calloc(1, sizeof(*r));
	if (!r)
		return bk_errf(err, -ENOMEM, "out of memory");
	r->fd = fd;
	ret = read_head(r, size, partial, err);
	if (ret || partial)
		goto out;
	want = file_size(r);
	if ((uint64_t)size < want) {
		ret = bk_errf(err, -EBADMSG,
			      "archive is truncated (%lld bytes, expected %llu)",
			      (long long)size, (unsigned long long)want);
		goto out;
	}
	if ((uint64_t)size > want) {
		ret = bk_errf(err, -EBADMSG,
			      "archive has trailing data (%lld bytes, expected %llu)",
			      (long long)size, (unsigned long long)want);
		goto out;
	}
out:
	if (!ret) {
		*out = r;
		r = NULL;
	}
	bk_archive_close(r);
	return ret;
}

int bk_archive_open(int fd, struct bk_archive_reader **out,
		    struct bk_err *err)
{
	struct stat st;

	if (fstat(fd, &st))
		return bk_errf(err, -errno, "cannot stat the archive: %s",
			       strerror(errno));
	return open_sized(fd, st.st_size, 0, out, err);
}

int bk_archive_open_partial(int fd, uint64_t avail,
			    struct bk_archive_reader **out, struct bk_err *err)
{
	if (avail > (uint64_t)INT64_MAX)
		avail = INT64_MAX;
	return open_sized(fd, (off_t)avail, 1, out, err);
}

uint64_t bk_archive_size(struct bk_archive_reader *r)
{
	return file_size(r);
}

json_object *bk_archive_header(struct bk_archive_reader *r)
{
	return r->header;
}

const uint8_t *bk_archive_wrapped(struct bk_archive_reader *r,
				  const char *kind, size_t *len,
				  const char **keyid, const char **alg)
{
	size_t i;

	for (i = 0; i < r->nwraps; i++) {
		if (strcmp(r->wraps[i].kind, kind))
			continue;
		if (len)
			*len = r->wraps[i].len;
		if (keyid)
			*keyid = r->wraps[i].keyid;
		if (alg)
			*alg = r->wraps[i].alg;
		return r->wraps[i].data;
	}
	return NULL;
}

int bk_archive_unlock(struct bk_archive_reader *r,
		      const uint8_t backup_key[32], struct bk_err *err)
{
	const uint8_t *wrapped;
	uint8_t *dk = NULL;
	size_t len = 0, dklen = 0;
	int ret;

	wrapped = bk_archive_wrapped(r, "backupkey", &len, NULL, NULL);
	if (!wrapped)		/* open() makes sure there is one */
		return malformed(err, "no \"backupkey\" wrap");
	dk = bk_secure_alloc(len);
	if (!dk)
		return bk_errf(err, -ENOMEM, "out of secure memory");
	ret = bk_kwp_unwrap(backup_key, wrapped, len, dk, &dklen, err);
	if (ret) {
		ret = bk_errf(err, -EKEYREJECTED,
			      "the archive was not made with this backup key");
		goto out;
	}
	if (dklen != BK_KEY_LEN) {
		ret = malformed(err, "wrapped data key has a bad length");
		goto out;
	}
	ret = bk_archive_unlock_data_key(r, dk, err);
out:
	bk_secure_free(dk, len);
	return ret;
}

static void lock(struct bk_archive_reader *r)
{
	EVP_CIPHER_CTX_free(r->ctx);
	r->ctx = NULL;
	bk_secure_free(r->keys, sizeof(*r->keys));
	r->keys = NULL;
	bk_secure_free(r->plain, BK_ARCHIVE_CHUNK);
	r->plain = NULL;
	free(r->slot);
	r->slot = NULL;
}

int bk_archive_unlock_data_key(struct bk_archive_reader *r,
			       const uint8_t data_key[32], struct bk_err *err)
{
	size_t maclen = ARC_PREAMBLE + r->area - ARC_MAC_LEN;
	uint8_t mac[ARC_MAC_LEN];
	int ret;

	lock(r);
	r->keys = bk_secure_alloc(sizeof(*r->keys));
	r->plain = bk_secure_alloc(BK_ARCHIVE_CHUNK);
	r->slot = malloc(ARC_SLOT);
	if (!r->keys || !r->plain || !r->slot) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	memcpy(r->keys->data, data_key, BK_KEY_LEN);
	ret = bk_arc_derive_keys(r->keys, r->salt, err);
	if (!ret)
		ret = bk_hmac_sha256(r->keys->mac, BK_KEY_LEN, r->head, maclen,
				     mac, err);
	if (ret)
		goto out;
	if (CRYPTO_memcmp(mac, r->head + maclen, ARC_MAC_LEN)) {
		ret = bk_errf(err, -EBADMSG, "archive header was tampered with");
		goto out;
	}
	/* Only the payload key is needed from now on. */
	OPENSSL_cleanse(r->keys->data, BK_KEY_LEN);
	OPENSSL_cleanse(r->keys->mac, BK_KEY_LEN);
	ret = bk_arc_gcm_setup(&r->ctx, 0, r->keys->payload, err);
	if (!ret)
		ret = bk_archive_rewind(r);
out:
	if (ret)
		lock(r);
	return ret;
}

int bk_archive_rewind(struct bk_archive_reader *r)
{
	if (!r->keys)
		return -EINVAL;
	OPENSSL_cleanse(r->plain, BK_ARCHIVE_CHUNK);
	r->avail = r->pos = 0;
	r->next = 0;
	bk_err_clear(&r->fail);
	return 0;
}

/* Loads, authenticates and decrypts chunk r->next. */
/* The plaintext bytes of chunk i. */
static size_t chunk_len(const struct bk_archive_reader *r, uint64_t i)
{
	return i == r->chunks - 1 ? r->payload % BK_ARCHIVE_CHUNK :
		BK_ARCHIVE_CHUNK;
}

/* Reads, authenticates and decrypts the next chunk into out (room for
 * chunk_len bytes; wiped if it fails): 0, or an error. */
static int load_chunk_into(struct bk_archive_reader *r, uint8_t *out,
			   struct bk_err *err)
{
	uint64_t i = r->next;
	int last = i == r->chunks - 1;
	size_t len = chunk_len(r, i);
	off_t off = ARC_PREAMBLE + (off_t)r->area + (off_t)i * ARC_SLOT;
	ssize_t n;
	int ret;

	n = read_all(r->fd, r->slot, len + ARC_TAG_LEN, off);
	if (n < 0)
		return bk_errf(err, (int)n, "cannot read the archive: %s",
			       strerror((int)-n));
	if ((size_t)n != len + ARC_TAG_LEN)
		return bk_errf(err, -EBADMSG,
			       "archive is truncated (chunk %llu)",
			       (unsigned long long)i);
	ret = bk_arc_chunk_crypt(r->ctx, 0, i, last, r->id, out, r->slot, len);
	if (ret == -EBADMSG) {
		ERR_clear_error();
		return bk_errf(err, ret,
			       "archive data is corrupt or tampered with (chunk %llu)",
			       (unsigned long long)i);
	}
	if (ret)
		return bk_err_ssl(err, ret, "chunk decryption failed");
	r->next++;
	return 0;
}

/* The next chunk into r->plain. */
static int load_chunk(struct bk_archive_reader *r, struct bk_err *err)
{
	int ret;

	r->avail = r->pos = 0;
	ret = load_chunk_into(r, r->plain, err);
	if (!ret)
		r->avail = chunk_len(r, r->next - 1);
	return ret;
}

ssize_t bk_archive_read(struct bk_archive_reader *r, void *buf, size_t len,
			struct bk_err *err)
{
	uint8_t *p = buf;
	size_t done = 0;
	int ret;

	if (!r->keys)
		return bk_errf(err, -EINVAL, "the archive is not unlocked");
	if (r->fail.code) {
		if (err)
			*err = r->fail;
		return r->fail.code;
	}
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	while (done < len) {
		size_t n = r->avail - r->pos;

		if (!n) {
			if (r->next == r->chunks)
				break;	/* the last chunk was authenticated */
			/* Straight into buf when a whole chunk fits: a copy
			 * less (600 MB of a million-key restore); wiped if it
			 * fails, as r->plain would be. */
			n = chunk_len(r, r->next);
			if (len - done >= n) {
				ret = load_chunk_into(r, p + done, &r->fail);
				done += ret ? 0 : n;
			} else {
				ret = load_chunk(r, &r->fail);
			}
			if (ret) {
				if (err)
					*err = r->fail;
				return ret;
			}
			continue;
		}
		if (n > len - done)
			n = len - done;
		memcpy(p + done, r->plain + r->pos, n);
		r->pos += n;
		done += n;
	}
	return (ssize_t)done;
}

uint64_t bk_archive_next_end(struct bk_archive_reader *r)
{
	uint64_t i = r->next;

	if (i == r->chunks)
		return 0;
	return ARC_PREAMBLE + (uint64_t)r->area + i * ARC_SLOT +
	       (i == r->chunks - 1 ? r->payload % BK_ARCHIVE_CHUNK :
		BK_ARCHIVE_CHUNK) + ARC_TAG_LEN;
}

int bk_archive_verify_next(struct bk_archive_reader *r, struct bk_err *err)
{
	if (!r->keys)
		return bk_errf(err, -EINVAL, "the archive is not unlocked");
	if (r->next == r->chunks)
		return 0;
	return load_chunk(r, err);
}

int bk_archive_verify(struct bk_archive_reader *r,
		      void (*progress)(void *arg, uint64_t done,
				       uint64_t total),
		      void *arg, struct bk_err *err)
{
	return bk_archive_verify_scan(r, progress, arg, NULL, NULL, err);
}

int bk_archive_verify_scan(struct bk_archive_reader *r,
			   void (*progress)(void *arg, uint64_t done,
					    uint64_t total),
			   void *arg,
			   void (*scan)(void *scan_arg, const void *piece,
					size_t len),
			   void *scan_arg, struct bk_err *err)
{
	uint64_t done = 0;
	int ret;

	ret = bk_archive_rewind(r);
	if (ret)
		return bk_errf(err, ret, "the archive is not unlocked");
	while (r->next < r->chunks) {
		ret = load_chunk(r, err);
		if (ret) {
			bk_archive_rewind(r);
			return ret;
		}
		done += r->avail;
		if (scan)
			scan(scan_arg, r->plain, r->avail);
		if (progress)
			progress(arg, done, r->payload);
	}
	return bk_archive_rewind(r);
}

void bk_archive_close(struct bk_archive_reader *r)
{
	size_t i;

	if (!r)
		return;
	lock(r);
	for (i = 0; i < r->nwraps; i++)
		free(r->wraps[i].data);
	json_object_put(r->header);
	free(r->head);
	free(r);
}
