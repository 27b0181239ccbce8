/* restore_ids.c - which ids of a domain payload the appliance holds
 * already (restore_ids.h).
 *
 * Ids are unique in the appliance, so a domain restore asks of every
 * resource of the payload whether its id is in use (in another domain:
 * the resource gets a new id).  Asked row by row, in the payload's order
 * (by name), each question is a read at a random place of the id index.
 * Restoring a million keys into the appliance that holds them (a copy of
 * a domain) spent 4.8 s of 10 there: the index is larger than the page
 * cache, and nearly every question read a page.
 *
 * The restore's first pass (restore.c: the verify pass, which decrypts
 * the whole payload before anything changes) hands its plaintext here.
 * The ids of the resource lines are collected, 16 bytes each, sorted, and
 * looked up in the index's own order: consecutive questions fall on the
 * same pages, each read once; a set that is a quarter of the table or
 * more is merged with one scan of the index instead (a million ids:
 * 0.1 s rather than 0.5).  Kept for the restore: a 64-bit hash of
 * each id found in use, in buckets of about 8 by their top bits, so that
 * a question is a cache miss or two rather than a database read.  The
 * payload reader's thread asks it of each line (bk_snapshot_read_wrapped)
 * so that the inserting thread, the busy one, does not.
 *
 * Exactness: only lines in the writer's own form
 * (`{"t":"resource","id":"<32 lowercase hex digits>"`, bk_time_id's ids)
 * are collected, and every collected id in use is found.  An id whose
 * hash is there (PRESENT) is one in use, or one sharing its hash with
 * one: 2^-64 for a pair, and then the resource gets a new id (it is
 * restored all the same, listed under "reidentified").  One whose hash
 * is not there (NOT_FOUND) was not in use, or its line was not collected:
 * the restore inserts it under its id, and the id index's uniqueness
 * sends it back to the row-by-row question if it was (restore_domain.c).
 * An id not in bk_time_id's form is UNKNOWN: asked, as before.
 *
 * Memory: 16 bytes per id while collecting (at most BK_IDSET_MAX ids,
 * 32 MiB: beyond, the set gives up and says UNKNOWN for all), then
 * 8 bytes per id in use.
 */
#include "restore_ids.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define PFX "{\"t\":\"resource\",\"id\":\""
#define PFX_LEN (sizeof(PFX) - 1)
#define HEAD (PFX_LEN + 33)	/* the prefix, 32 digits, the quote */

/* An id as two numbers: in the order of its bytes (and hex digits). */
struct id128 {
	uint64_t hi, lo;
};

struct bk_idset {
	/* collecting: the start of the current line, when it began in an
	 * earlier piece */
	unsigned char head[HEAD];
	size_t hlen;
	int in_head;		/* the bytes fed next start a line's head */
	struct id128 *ids;	/* NULL once resolved */
	size_t n, cap, max;	/* n: the ids collected */
	int over;		/* more than max: given up */
	/* resolved */
	int resolved;
	uint64_t *hits;		/* hashes of the ids in use, by bucket */
	size_t nhits;
	uint32_t *dir;		/* bucket b: hits[dir[b] .. dir[b + 1]) */
	unsigned bits;		/* a hash's bucket: its top bits */
};

struct bk_idset *bk_idset_new(size_t max)
{
	struct bk_idset *s = calloc(1, sizeof(*s));

	if (s) {
		s->in_head = 1;
		s->max = max && max < BK_IDSET_MAX ? max : BK_IDSET_MAX;
	}
	return s;
}

void bk_idset_free(struct bk_idset *s)
{
	if (!s)
		return;
	free(s->ids);
	free(s->hits);
	free(s->dir);
	free(s);
}

/* A byte's value as a lowercase hex digit, plus one; 0: not one.  A
 * table and no branch: the digits of random ids mispredicted a branch
 * for every other one (0.6 s of a million-key domain restore). */
static const unsigned char digit1[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6,
	['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12,
	['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

/* 16 lowercase hex digits as a number; *bad set if one is not. */
static uint64_t hex16(const unsigned char *p, unsigned *bad)
{
	uint64_t v = 0;
	unsigned b = 0;

	for (int i = 0; i < 16; i++) {
		unsigned d = digit1[p[i]];

		b |= d == 0;
		v = v << 4 | ((d - 1) & 15);
	}
	*bad |= b;
	return v;
}

/* 32 lowercase hex digits as an id; 0, or -1 if not that form.  (One
 * loop over both halves, into an array, took 3 times as long: 63 ns.) */
static int unhex(const unsigned char *p, struct id128 *out)
{
	unsigned bad = 0;
	uint64_t hi = hex16(p, &bad), lo = hex16(p + 16, &bad);

	if (bad)
		return -1;
	out->hi = hi;
	out->lo = lo;
	return 0;
}

/* The id of the line that starts with the len bytes at p, if any. */
static void take(struct bk_idset *s, const unsigned char *p, size_t len)
{
	struct id128 id;

	if (s->over || len < HEAD || memcmp(p, PFX, PFX_LEN) ||
	    p[HEAD - 1] != '"' || unhex(p + PFX_LEN, &id))
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 65536;
		void *ids;

		if (cap > s->max)
			cap = s->max;
		ids = s->n < cap ? realloc(s->ids, cap * sizeof(*s->ids)) :
				   NULL;
		if (!ids) {		/* too many, or out of memory */
			s->over = 1;
			free(s->ids);
			s->ids = NULL;
			s->n = s->cap = 0;
			return;
		}
		s->ids = ids;
		s->cap = cap;
	}
	s->ids[s->n++] = id;
}

void bk_idset_feed(struct bk_idset *s, const void *buf, size_t len)
{
	const unsigned char *p = buf, *end = p + len, *nl;
	size_t k;

	if (!s || s->over)
		return;
	while (p < end) {
		if (!s->in_head) {
			nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl)
				return;
			p = nl + 1;
			s->in_head = 1;
			continue;
		}
		/* A head whole in this piece is read in place. */
		if (!s->hlen && (size_t)(end - p) >= HEAD) {
			take(s, p, HEAD);
			s->in_head = 0;
			continue;	/* the newline may be in the head */
		}
		k = HEAD - s->hlen;
		if (k > (size_t)(end - p))
			k = (size_t)(end - p);
		nl = memchr(p, '\n', k);
		if (nl) {	/* a line shorter than a head: no id */
			s->hlen = 0;
			p = nl + 1;
			continue;
		}
		memcpy(s->head + s->hlen, p, k);
		s->hlen += k;
		p += k;
		if (s->hlen == HEAD) {
			take(s, s->head, HEAD);
			s->hlen = 0;
			s->in_head = 0;
		}
	}
}

/* splitmix64's finalizer: every bit of x moves every bit of the result. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ x >> 31;
}

/* A 64-bit hash of an id: both halves mixed, one after the other. */
static uint64_t id_hash(struct id128 id)
{
	return mix64(id.hi + mix64(id.lo));
}

static int id_less(struct id128 a, struct id128 b)
{
	return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo);
}

static void swap_ids(struct id128 *a, size_t x, size_t y)
{
	struct id128 t = a[x];

	a[x] = a[y];
	a[y] = t;
}

/* Sorts in place: glibc's qsort takes a copy of the array (16 MiB more
 * for a million ids, the daemon's peak).  Quicksort: the middle of three
 * moved first as the pivot (Hoare's partition then leaves both sides
 * non-empty), insertion below 16, recursion on the smaller side only. */
static void sort_ids(struct id128 *a, size_t n)
{
	while (n > 16) {
		struct id128 p;
		ptrdiff_t i = -1, j = (ptrdiff_t)n;
		size_t m = n / 2, l;

		if (id_less(a[m], a[0]))
			swap_ids(a, m, 0);
		if (id_less(a[n - 1], a[m])) {
			swap_ids(a, n - 1, m);
			if (id_less(a[m], a[0]))
				swap_ids(a, m, 0);
		}
		swap_ids(a, m, 0);		/* the median first */
		p = a[0];
		for (;;) {
			do
				i++;
			while (id_less(a[i], p));
			do
				j--;
			while (id_less(p, a[j]));
			if (i >= j)
				break;
			swap_ids(a, (size_t)i, (size_t)j);
		}
		l = (size_t)j + 1;		/* a[0..l) <= p <= a[l..n) */
		if (l < n - l) {
			sort_ids(a, l);
			a += l;
			n -= l;
		} else {
			sort_ids(a + l, n - l);
			n = l;
		}
	}
	for (size_t i = 1; i < n; i++) {
		struct id128 t = a[i];
		size_t k = i;

		for (; k && id_less(t, a[k - 1]); k--)
			a[k] = a[k - 1];
		a[k] = t;
	}
}

static void to_hex(struct id128 id, char out[33])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 16; i++) {
		out[i] = digits[(id.hi >> (60 - 4 * i)) & 15];
		out[16 + i] = digits[(id.lo >> (60 - 4 * i)) & 15];
	}
	out[32] = '\0';
}

/* The hashes of hits[0 .. nhits) into buckets by their top bits, about 8
 * to a bucket, in the room after them (the buffer held the ids, twice
 * their size), then moved down: a look-up reads one bucket. */
static int bucket(struct bk_idset *s)
{
	uint64_t *out;
	size_t nb;

	s->bits = 1;
	while (s->bits < 24 && ((size_t)1 << s->bits) * 8 < s->nhits)
		s->bits++;
	nb = (size_t)1 << s->bits;
	s->dir = calloc(nb + 1, sizeof(*s->dir));
	if (!s->dir)
		return -ENOMEM;
	if (!s->nhits)
		return 0;
	out = s->hits + s->nhits;
	for (size_t i = 0; i < s->nhits; i++)
		s->dir[(s->hits[i] >> (64 - s->bits)) + 1]++;
	for (size_t b = 0; b < nb; b++)
		s->dir[b + 1] += s->dir[b];
	/* dir[b] as bucket b's cursor; then each is where b + 1 starts */
	for (size_t i = 0; i < s->nhits; i++)
		out[s->dir[s->hits[i] >> (64 - s->bits)]++] = s->hits[i];
	memmove(s->dir + 1, s->dir, nb * sizeof(*s->dir));
	s->dir[0] = 0;
	memmove(s->hits, out, s->nhits * sizeof(*out));
	return 0;
}

/* The hashes of the sorted ids in use into s->hits (over the ids: hit k,
 * 8 bytes, lands below id k, 16), each id asked of the index in turn:
 * consecutive questions fall on the same pages.  *u: how many. */
static int ask_each(struct bk_idset *s, sqlite3 *db, size_t *u)
{
	struct id128 last = { 0, 0 };
	sqlite3_stmt *q;
	char hex[33];
	int rc;

	rc = sqlite3_prepare_v2(db, "SELECT 1 FROM main.resources"
				" WHERE id = ?1", -1, &q, NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < s->n; i++) {
		struct id128 id = s->ids[i];

		if (i && id.hi == last.hi && id.lo == last.lo)
			continue;	/* a repeat */
		last = id;
		to_hex(id, hex);
		sqlite3_bind_text(q, 1, hex, 32, SQLITE_STATIC);
		rc = sqlite3_step(q);
		sqlite3_reset(q);
		if (rc == SQLITE_ROW)
			s->hits[(*u)++] = id_hash(id);
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(q);
	return rc;
}

/* The same by one scan of the id index, merged with the sorted ids: for
 * a set that is a good part of the table (a million ids asked one by one
 * took 0.6 s).  Ids of another form than 32 lowercase hex digits cannot
 * be collected ones: skipped; the others come in the order of their
 * numbers, which is their text's. */
static int merge_scan(struct bk_idset *s, sqlite3 *db, size_t *u)
{
	sqlite3_stmt *q;
	struct id128 in, last = { 0, 0 };
	size_t i = 0;
	int rc;

	rc = sqlite3_prepare_v2(db, "SELECT id FROM main.resources"
				" ORDER BY id",
				-1, &q, NULL);
	while (rc == SQLITE_OK && i < s->n) {
		const unsigned char *t;

		rc = sqlite3_step(q);
		if (rc != SQLITE_ROW)
			break;
		rc = SQLITE_OK;
		t = sqlite3_column_text(q, 0);
		if (!t || sqlite3_column_bytes(q, 0) != 32 || unhex(t, &in))
			continue;
		while (i < s->n && id_less(s->ids[i], in))
			i++;
		for (; i < s->n && !id_less(in, s->ids[i]); i++) {
			struct id128 id = s->ids[i];

			if (*u && id.hi == last.hi && id.lo == last.lo)
				continue;	/* a repeat */
			last = id;
			s->hits[(*u)++] = id_hash(id);
		}
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int bk_idset_resolve(struct bk_idset *s, sqlite3 *db, struct bk_err *err)
{
	size_t u = 0;
	int rc;

	if (!s || s->over || s->resolved)
		return 0;
	sort_ids(s->ids, s->n);
	/* The hashes of the ids in use overwrite the ids already read
	 * (ask_each, merge_scan); what is left after them is room for
	 * bucket(). */
	s->hits = (uint64_t *)(void *)s->ids;
	if (s->n && (sqlite3_int64)s->n * 4 >= bk_store_resources_estimate(db))
		rc = merge_scan(s, db, &u);
	else
		rc = ask_each(s, db, &u);
	s->ids = NULL;
	s->nhits = u;
	if (rc != SQLITE_OK) {
		s->over = 1;
		return bk_errf(err, -EIO, "cannot look up ids: %s",
			       sqlite3_errstr(rc));
	}
	if (bucket(s)) {
		s->over = 1;
		return bk_errf(err, -ENOMEM, "out of memory");
	}
	if (u) {
		uint64_t *h = realloc(s->hits, u * sizeof(*h));

		if (h)
			s->hits = h;
	} else {
		free(s->hits);
		s->hits = NULL;
	}
	s->resolved = 1;
	return 0;
}

int bk_idset_find(const struct bk_idset *s, const char *id, size_t len)
{
	struct id128 raw;
	uint64_t h;
	size_t b;

	if (!s || !s->resolved || s->over || len != 32 ||
	    unhex((const unsigned char *)id, &raw))
		return BK_IDSET_UNKNOWN;
	h = id_hash(raw);
	b = h >> (64 - s->bits);
	for (size_t i = s->dir[b]; i < s->dir[b + 1]; i++)
		if (s->hits[i] == h)
			return BK_IDSET_PRESENT;
	return BK_IDSET_NOT_FOUND;
}

size_t bk_idset_collected(const struct bk_idset *s)
{
	return s && !s->over ? s->n : 0;
}

size_t bk_idset_present(const struct bk_idset *s)
{
	return s && s->resolved ? s->nhits : 0;
}
