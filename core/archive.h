/* archive.h - the backup archive format (docs/FORMAT.md).
 *
 * Layout: preamble (magic, header area length), a clear JSON header padded
 * with zeros to a reserved area, HMAC-SHA256 over preamble+area, then the
 * payload as AES-256-GCM chunks of BK_ARCHIVE_CHUNK plaintext bytes (the
 * last one shorter, possibly empty), each with a 16-byte tag, the nonce being
 * the 11-byte big-endian chunk index || last-chunk flag.
 *
 * A random data key per archive is wrapped (RFC 5649) by the backup key;
 * header MAC key and payload key are derived from it with HKDF.
 */
#ifndef BK_ARCHIVE_H
#define BK_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "err.h"

#define BK_ARCHIVE_CHUNK (64 * 1024)
#define BK_ARCHIVE_MAX_HEADER (1024 * 1024)

struct bk_archive_writer;
struct bk_archive_reader;

/* Starts an archive on fd (positioned anywhere; the writer uses pwrite from
 * offset 0).  header is borrowed: the caller's fields (id, scope, domain,
 * createdAt, productVersion, description, filters, backupKey, tiedToHSM)
 * are copied; the writer adds "format", "chunkSize", "salt", "wrappedKeys",
 * and at finish "payloadSize", "chunks" and the caller's final fields.
 * backup_key is copied.  Reserves header space so that the final header
 * fits. */
int bk_archive_writer_new(int fd, json_object *header,
			  const uint8_t backup_key[32],
			  struct bk_archive_writer **out, struct bk_err *err);

/* Extra wrapping of the data key (e.g. by an HSM root of trust); must be
 * called before the first write.  wrapped is copied.  kind names the
 * wrapping ("hsm"), keyid the key, alg the algorithm by name. */
int bk_archive_writer_add_wrap(struct bk_archive_writer *w, const char *kind,
			       const char *keyid, const char *alg,
			       const uint8_t *wrapped, size_t len,
			       struct bk_err *err);
/* The data key, for such extra wrapping (borrowed, BK_KEY_LEN bytes). */
const uint8_t *bk_archive_writer_data_key(struct bk_archive_writer *w);

/* Appends plaintext; encrypts and writes full chunks as they fill. */
int bk_archive_writer_write(struct bk_archive_writer *w, const void *buf,
			    size_t len, struct bk_err *err);

/* Writes the last chunk and the final header (fields of final_fields,
 * borrowed, are merged into the header, e.g. "counts", "sizes").  Does not
 * fsync or close fd.  Bytes written in all: *total (may be NULL). */
int bk_archive_writer_finish(struct bk_archive_writer *w,
			     json_object *final_fields, off_t *total,
			     struct bk_err *err);

/* After [off, off + n) of an archive was written to fd: starts the
 * writeback (sync_file_range, asynchronous) of each whole 8 MiB window it
 * completes, so that the fsync before the archive counts finds little
 * left to write.  Advisory: an error shows at that fsync. */
void bk_archive_writeback(int fd, off_t off, size_t n);

/* Plaintext bytes written so far. */
uint64_t bk_archive_writer_payload(struct bk_archive_writer *w);

void bk_archive_writer_free(struct bk_archive_writer *w);

/* Opens an archive for reading: reads and parses the preamble and header,
 * checks the structure and that the file's length is exactly the one the
 * header implies.  No key needed.  Errors: -EINVAL "not a backupfs archive",
 * -EBADMSG "truncated ..."/"has trailing data"/"malformed header".
 * fd is borrowed and must stay open until close. */
int bk_archive_open(int fd, struct bk_archive_reader **out,
		    struct bk_err *err);

/* bk_archive_open of a file still being written, whose first avail
 * bytes are final: the same checks but of the length.  -EAGAIN (no
 * message) while the header is not all there. */
int bk_archive_open_partial(int fd, uint64_t avail,
			    struct bk_archive_reader **out, struct bk_err *err);

/* The file's length that the header implies. */
uint64_t bk_archive_size(struct bk_archive_reader *r);

/* The parsed header (borrowed, valid until close). */
json_object *bk_archive_header(struct bk_archive_reader *r);

/* Unwraps the data key with the backup key and checks the header MAC.
 * -EKEYREJECTED when the key is not the one the archive was made with,
 * -EBADMSG when the header was tampered. */
int bk_archive_unlock(struct bk_archive_reader *r,
		      const uint8_t backup_key[32], struct bk_err *err);

/* Same, with the data key already unwrapped by other means (HSM). */
int bk_archive_unlock_data_key(struct bk_archive_reader *r,
			       const uint8_t data_key[32], struct bk_err *err);

/* Wrapped data key of the given kind ("backupkey", "hsm"); borrowed, or
 * NULL.  *keyid and *alg borrowed as well (may be NULL arguments). */
const uint8_t *bk_archive_wrapped(struct bk_archive_reader *r,
				  const char *kind, size_t *len,
				  const char **keyid, const char **alg);

/* Reads up to len bytes of authenticated plaintext (after unlock).
 * Returns the count, 0 at the authenticated end, or a negative errno:
 * -EBADMSG for a tampered, reordered or truncated payload. */
ssize_t bk_archive_read(struct bk_archive_reader *r, void *buf, size_t len,
			struct bk_err *err);

/* Rewinds the payload to its start (for a second pass). */
int bk_archive_rewind(struct bk_archive_reader *r);

/* Authenticates the whole payload without returning it (after unlock).
 * progress(arg, done, total) may be NULL. */
int bk_archive_verify(struct bk_archive_reader *r,
		      void (*progress)(void *arg, uint64_t done, uint64_t total),
		      void *arg, struct bk_err *err);

/* bk_archive_verify, handing each authenticated piece of the payload, in
 * order, to scan(scan_arg, piece, len) (NULL: none): a pass over the
 * plaintext at no further cost.  Each piece is authenticated before it
 * is handed over, the whole payload only when this returns 0: what scan
 * gathered is to be used after that only. */
int bk_archive_verify_scan(struct bk_archive_reader *r,
			   void (*progress)(void *arg, uint64_t done,
					    uint64_t total),
			   void *arg,
			   void (*scan)(void *scan_arg, const void *piece,
					size_t len),
			   void *scan_arg, struct bk_err *err);

/* Chunk by chunk, for a file still arriving (after unlock): where the
 * next chunk ends in the file (0 once every chunk is authenticated), and
 * the authentication of that chunk, which must be in the file.  The
 * whole payload is authenticated when bk_archive_next_end returns 0. */
uint64_t bk_archive_next_end(struct bk_archive_reader *r);
int bk_archive_verify_next(struct bk_archive_reader *r, struct bk_err *err);

void bk_archive_close(struct bk_archive_reader *r);

#endif
