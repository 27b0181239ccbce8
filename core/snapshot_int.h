/* snapshot_int.h - what the payload's writer (snapshot.c), reader
 * (snapshot_read.c) and restores (restore_system.c, restore_domain.c)
 * share. */
#ifndef BK_SNAPSHOT_INT_H
#define BK_SNAPSHOT_INT_H

#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "filter.h"
#include "snapshot.h"
#include "store_int.h"

#define BK_SNAP_FORMAT 1
#define BK_SNAP_PROGRESS_EVERY 4096
#define BK_SNAP_LINE_MAX (16 * 1024 * 1024)	/* bytes, newline excluded */

/* The counts of a payload's end line, in bk_snap_count_names order; the
 * resource types are BK_C_TYPES .. BK_C_MEMBERS - 1, in the order of
 * bk_resource_types(). */
enum {
	BK_C_DOMAINS,
	BK_C_RESOURCES,
	BK_C_TYPES,
	BK_C_MEMBERS = BK_C_TYPES + 11,
	BK_C_LINKS,
	BK_C_TOTAL,			/* domains + resources + members + links */
	BK_C__COUNT
};

extern const char *const bk_snap_count_names[BK_C__COUNT];

/* The count index of a resource type, -1 if it is not one. */
int bk_snap_type_index(const char *type);

/* Adds the counts to obj (borrowed; NULL: nothing). */
void bk_snap_counts_json(const uint64_t n[BK_C__COUNT], json_object *obj);

/* o[key] if it is a string (borrowed), else NULL. */
static inline const char *bk_snap_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* A restore's page cache (on = 1), then the usual one again (on = 0). */
void bk_snap_bulk(struct bk_store *s, int on);

/* ---- snapshot_check.c: the checks of each line read ---- */

struct bk_snap_res;

struct bk_snap_state {
	json_tokener *tok;
	json_object *domains;		/* the domain names seen, as keys */
	int domain_scope;
	char domain[72];		/* domain scope: its domain */
	char last_domain[72];		/* the last one found in domains */
	int64_t total;			/* the first line's, -1 if absent */
	uint64_t n[BK_C__COUNT];
	int ended;
	EVP_MD_CTX *md;			/* the material's fingerprints */
};

/* 0, or -ENOMEM (free st even then). */
int bk_snap_state_init(struct bk_snap_state *st);
void bk_snap_state_free(struct bk_snap_state *st);

/* Parses line lineno (len bytes) with json-c into *out (new; caller puts)
 * and checks it; *t its kind; a resource's members in *res (borrowed from
 * *out); *mat its decoded material, if any (caller wipes and frees). */
int bk_snap_check_line(struct bk_snap_state *st, long lineno,
		       const char *line, size_t len, json_object **out,
		       const char **t, struct bk_snap_res *res, uint8_t **mat,
		       size_t *mlen, struct bk_err *err);
/* Checks a resource line's members, however parsed; *mat as above. */
int bk_snap_check_resource(struct bk_snap_state *st,
			   const struct bk_snap_res *r, uint8_t **mat,
			   size_t *mlen, struct bk_err *err);
/* Wipes every copy json-c made of a line that carried material, and the
 * line. */
void bk_snap_wipe_line(struct bk_snap_state *st, json_object *o, char *line,
		       size_t len);

/* ---- writing (snapshot.c, snapshot_rows.c) ---- */

/* Lines batched for the sink; wiped after each call of it. */
struct bk_snap_out {
	bk_sink_fn sink;
	void *arg;
	char *buf;
	size_t len, cap;
};
int bk_snap_out_flush(struct bk_snap_out *o, struct bk_err *err);
/* Flushes what is batched, then hands buf to the sink as it is. */
int bk_snap_out_direct(struct bk_snap_out *o, const void *buf, size_t len,
		       struct bk_err *err);

struct bk_snap_writer {
	struct bk_store *s;
	struct bk_rot *rot;
	const char *domain;		/* NULL: system scope */
	int filtered;			/* domain scope: only BK_FILTER_SEL's */
	struct bk_snap_out out;
	uint64_t n[BK_C__COUNT];
	uint64_t total, done;
	uint64_t resources;		/* of total */
	bk_progress_fn progress;
	void *progress_arg;
};

/* Counts rows lines written, calling progress now and then. */
void bk_snap_tick(struct bk_snap_writer *w, uint64_t rows);
/* Prepares sql[0] (system scope), sql[1] (?1 = the domain) or sql[2]
 * (filtered: ?1 = the domain, the rows selected in BK_FILTER_SEL). */
int bk_snap_query(struct bk_snap_writer *w, const char *const sql[3],
		  sqlite3_stmt **st, struct bk_err *err);
/* snapshot_rows.c: the resource lines. */
int bk_snap_write_resources(struct bk_snap_writer *w, struct bk_err *err);
/* Whether the rows of domain (NULL: all), about rows of them, lie in the
 * table in another order than their names' (sampled): a backup then
 * reads the table through and sorts rather than follow the index. */
int bk_snap_rows_scattered(struct bk_store *s, const char *domain,
			   uint64_t rows);

/* ---- restore_system.c ---- */

/* What PRAGMA foreign_key_check proves of the resources, memberships
 * and key links: 0, -EIO if a row names a domain that does not exist,
 * or another negative errno. */
int bk_snap_fk_check(struct bk_store *s, struct bk_err *err);

/* ---- snapshot_order.c: rows put in their names' order by rank ---- */

struct bk_snap_order;
/* Ranks the rows of domain (NULL: all; about rows of them) in the name
 * index's order.  Returns 0 and *out; 1 if the table's rowids are too far
 * apart for that (sort another way); or -errno. */
int bk_snap_order_open(struct bk_store *s, const char *domain,
		       uint64_t rows, struct bk_snap_order **out,
		       struct bk_err *err);
/* Files the record of the table's row rowid: *rec is where its len
 * bytes go, valid until the next call.  Every ranked row, once. */
int bk_snap_order_add(struct bk_snap_order *o, sqlite3_int64 rowid,
		      size_t len, void **rec, struct bk_err *err);
/* The next record in rank order (*rec NULL after the last), valid until
 * the next call.  The first call checks that every ranked row was
 * filed. */
int bk_snap_order_next(struct bk_snap_order *o, const void **rec,
		       size_t *len, struct bk_err *err);
void bk_snap_order_free(struct bk_snap_order *o);
/* The bytes of records kept in memory before they go to the temporary
 * file, and the bytes a bucket is sized for (tests make them small). */
extern size_t bk_snap_order_spill_bytes, bk_snap_order_bucket_bytes;

/* ---- snapshot_line.c: a resource line, as json-c printed it ---- */

/* A resource row's columns (borrowed; not NUL-terminated).  fp NULL: the
 * fingerprint is null.  attrs is a JSON object, written as it is. */
struct bk_snap_line {
	const char *id, *domain, *type, *name, *attrs, *fp, *created;
	size_t id_len, domain_len, type_len, name_len, attrs_len, fp_len,
	       created_len;
	long long version;
};

/* Writes s (len bytes) as a JSON string, quotes included, escaped as
 * json-c 0.16 escapes with JSON_C_TO_STRING_NOSLASHESCAPE.  dst holds
 * 6 * len + 2 bytes.  Returns the end of what was written. */
char *bk_json_str(char *dst, const char *s, size_t len);
/* Writes v in decimal (at most 20 bytes).  Returns the end. */
char *bk_json_int64(char *dst, long long v);
/* The most bytes bk_snap_line_write writes for l and mlen bytes of
 * material. */
size_t bk_snap_line_max(const struct bk_snap_line *l, size_t mlen);
/* Writes l's line, newline included, with mat (NULL: no material member)
 * in base64 as its last member.  dst holds bk_snap_line_max(l, mlen)
 * bytes.  Returns the end. */
char *bk_snap_line_write(char *dst, const struct bk_snap_line *l,
			 const uint8_t *mat, size_t mlen);

/* The row to insert for the resource line res, under id in domain (its
 * material left to the caller). */
void bk_snap_res_row(const struct bk_snap_res *res, const char *id,
		     const char *domain, struct bk_res_row *out);

#endif
