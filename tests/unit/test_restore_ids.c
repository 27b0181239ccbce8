/* test_restore_ids.c - core/restore_ids.c: which lines' ids are collected,
 * in whatever pieces the payload comes; what the set says of each id once
 * looked up in a real store; duplicates; the limit; the answers the
 * payload reader's thread gives with each row (bk_snapshot_read_wrapped). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/crypto.h"
#include "core/restore_ids.h"
#include "core/snapshot.h"
#include "core/snapshot_parse.h"
#include "core/store_int.h"
#include "testutil.h"

static char dir[] = "/tmp/bk-test-rids-XXXXXX";
static const char *const tmp_files[] = {
	"s.key", "s.db", "s.db-wal", "s.db-shm",
};

#define N 300

/* The i-th id, in bk_time_id's form. */
static void id_of(int i, char out[33])
{
	snprintf(out, 33, "%016llx%016llx",
		 (unsigned long long)i * 0x9e3779b97f4a7c15ULL,
		 (unsigned long long)i);
}

static char *append(char *text, size_t *len, const char *line)
{
	size_t n = strlen(line);

	text = realloc(text, *len + n + 1);
	memcpy(text + *len, line, n + 1);
	*len += n;
	return text;
}

/* N resource lines in the writer's form, the i-th with id_of(i % dup)
 * (dup N: every id once; lines_text: n lines), among lines that carry no id to collect: a
 * head, a short line, a resource line with its members in another order,
 * one with an id in capitals, one with 31 digits. */
static char *lines_text(int n, int dup, size_t *len)
{
	char *text = NULL, line[400], id[33];

	*len = 0;
	text = append(text, len, "{\"kind\":\"backupfs-snapshot\",\"format\":1,"
		      "\"scope\":\"domain\",\"domain\":\"d\"}\n{}\n");
	for (int i = 0; i < n; i++) {
		id_of(i % dup, id);
		snprintf(line, sizeof(line),
			 "{\"t\":\"resource\",\"id\":\"%s\",\"domain\":\"d\","
			 "\"type\":\"users\",\"name\":\"u%d\",\"version\":0,"
			 "\"attrs\":{},\"createdAt\":\"2026-01-02T03:04:05Z\"}\n",
			 id, i);
		text = append(text, len, line);
		if (i % 50 == 0)
			text = append(text, len, "\n{\"t\":\"member\"}\n");
	}
	id_of(N, id);
	snprintf(line, sizeof(line), "{\"t\":\"resource\",\"domain\":\"d\","
		 "\"id\":\"%s\",\"type\":\"users\",\"name\":\"other\"}\n", id);
	text = append(text, len, line);
	text = append(text, len, "{\"t\":\"resource\",\"id\":"
		      "\"0123456789ABCDEF0123456789abcdef\",\"x\":1}\n"
		      "{\"t\":\"resource\",\"id\":"
		      "\"0123456789abcdef0123456789abcde\",\"x\":1}\n"
		      "{\"t\":\"end\"}\n");
	return text;
}

static char *payload_text(int dup, size_t *len)
{
	return lines_text(N, dup, len);
}

static struct bk_idset *fed(const char *text, size_t len, size_t piece,
			    size_t max)
{
	struct bk_idset *s = bk_idset_new(max);

	CHECK(s != NULL);
	for (size_t off = 0; off < len; off += piece)
		bk_idset_feed(s, text + off,
			      len - off < piece ? len - off : piece);
	return s;
}

/* Every piece size collects the same N ids (and nothing else). */
static void test_pieces(void)
{
	static const size_t pieces[] = { 1, 2, 3, 7, 54, 55, 56, 57, 100,
					 4093, 1 << 20 };
	size_t len;
	char *text = payload_text(N, &len);

	for (size_t k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
		struct bk_idset *s = fed(text, len, pieces[k], 0);

		if (bk_idset_collected(s) != N)
			fprintf(stderr, "pieces of %zu: %zu ids\n", pieces[k],
				bk_idset_collected(s));
		CHECK_EQ_INT(bk_idset_collected(s), N);
		bk_idset_free(s);
	}
	free(text);
}

static void add_user(struct bk_store *st, const char *id, const char *name)
{
	struct bk_res_row r = {
		.id = id, .domain = "held", .type = "users", .name = name,
		.attrs = "{}", .created_at = "2026-01-01T00:00:00Z",
	};
	struct bk_err e = { 0 };

	CHECK_EQ_INT(bk_res_insert(st, &r, &e), 0);
}

/* Even ids are in use (and the one of the line in another order):
 * PRESENT for the even, NOT_FOUND for the odd and the uncollected,
 * UNKNOWN for ids in another form and before the look-up. */
static void test_resolve(struct bk_store *st)
{
	struct bk_err e = { 0 };
	struct bk_idset *s;
	char id[33], id_long[40] = "", name[16];
	size_t len;
	char *text;
	int bad = 0;

	CHECK_EQ_INT(bk_domain_add(st, "held", NULL, &e), 0);
	for (int i = 0; i <= N; i += 2) {
		id_of(i, id);
		snprintf(name, sizeof(name), "h%d", i);
		add_user(st, id, name);
	}
	/* ids of other forms, among them in the index's order: never
	 * collected, so never found (the scan skips them) */
	add_user(st, "hand-x", "x1");
	add_user(st, "0123456789ABCDEF0123456789ABCDEF", "x2");
	add_user(st, "0000000000000000000000000000000z", "x3");
	id_of(1, id);			/* an odd id and more: not that id */
	strcat(id_long, id);
	strcat(id_long, "00");
	add_user(st, id_long, "x4");
	text = payload_text(N, &len);
	s = fed(text, len, 4093, 0);
	id_of(0, id);
	CHECK_EQ_INT(bk_idset_find(s, id, 32), BK_IDSET_UNKNOWN);
	CHECK_EQ_INT(bk_idset_resolve(s, bk_store_db(st), &e), 0);
	CHECK_EQ_INT(bk_idset_present(s), N / 2);
	for (int i = 0; i < N; i++) {
		id_of(i, id);
		bad += bk_idset_find(s, id, 32) !=
		       (i % 2 ? BK_IDSET_NOT_FOUND : BK_IDSET_PRESENT);
	}
	CHECK_EQ_INT(bad, 0);
	id_of(N, id);		/* in use, its line not collected */
	CHECK_EQ_INT(bk_idset_find(s, id, 32), BK_IDSET_NOT_FOUND);
	CHECK_EQ_INT(bk_idset_find(s, "hand-u1", 7), BK_IDSET_UNKNOWN);
	CHECK_EQ_INT(bk_idset_find(s, "0123456789ABCDEF0123456789abcdef", 32),
		     BK_IDSET_UNKNOWN);
	CHECK_EQ_INT(bk_idset_find(s, id, 31), BK_IDSET_UNKNOWN);
	bk_idset_free(s);
	free(text);

	/* Each id 3 times: collected 3 times, in use once. */
	text = payload_text(N / 3, &len);
	s = fed(text, len, 4093, 0);
	CHECK_EQ_INT(bk_idset_collected(s), N);
	CHECK_EQ_INT(bk_idset_resolve(s, bk_store_db(st), &e), 0);
	CHECK_EQ_INT(bk_idset_present(s), (N / 3 + 1) / 2);
	bk_idset_free(s);
	free(text);

	/* A few ids against a larger table: asked one by one rather than
	 * by a scan of the index (the answers the same). */
	text = lines_text(10, 10, &len);
	s = fed(text, len, 4093, 0);
	CHECK_EQ_INT(bk_idset_collected(s), 10);
	CHECK_EQ_INT(bk_idset_resolve(s, bk_store_db(st), &e), 0);
	CHECK_EQ_INT(bk_idset_present(s), 5);
	bad = 0;
	for (int i = 0; i < 10; i++) {
		id_of(i, id);
		bad += bk_idset_find(s, id, 32) !=
		       (i % 2 ? BK_IDSET_NOT_FOUND : BK_IDSET_PRESENT);
	}
	CHECK_EQ_INT(bad, 0);
	bk_idset_free(s);
	free(text);

	/* Nothing collected: every id in the form is NOT_FOUND. */
	s = bk_idset_new(0);
	CHECK_EQ_INT(bk_idset_resolve(s, bk_store_db(st), &e), 0);
	id_of(0, id);
	CHECK_EQ_INT(bk_idset_find(s, id, 32), BK_IDSET_NOT_FOUND);
	bk_idset_free(s);
}

/* One id more than the limit: the set gives up, UNKNOWN for all. */
static void test_limit(struct bk_store *st)
{
	struct bk_err e = { 0 };
	struct bk_idset *s;
	char id[33];
	size_t len;
	char *text = payload_text(N, &len);

	s = fed(text, len, 4093, N - 1);
	CHECK_EQ_INT(bk_idset_collected(s), 0);
	CHECK_EQ_INT(bk_idset_resolve(s, bk_store_db(st), &e), 0);
	id_of(0, id);
	CHECK_EQ_INT(bk_idset_find(s, id, 32), BK_IDSET_UNKNOWN);
	id_of(1, id);
	CHECK_EQ_INT(bk_idset_find(s, id, 32), BK_IDSET_UNKNOWN);
	bk_idset_free(s);
	s = fed(text, len, 4093, N);
	CHECK_EQ_INT(bk_idset_collected(s), N);
	bk_idset_free(s);
	free(text);
	CHECK_EQ_INT(bk_idset_find(NULL, id, 32), BK_IDSET_UNKNOWN);
}

struct asked {
	const struct bk_idset *s;
	int rows, present, wrong;
};

static int ask_row(void *arg, const struct bk_snap_row *row,
		   struct bk_err *err)
{
	struct asked *a = arg;
	int want;

	(void)err;
	if (!row->res) {
		a->wrong += row->id_known != BK_IDSET_UNKNOWN;
		return 0;
	}
	want = a->s ? bk_idset_find(a->s, row->res->id, row->res->id_len) :
		      BK_IDSET_UNKNOWN;
	a->rows++;
	a->present += row->id_known == BK_IDSET_PRESENT;
	a->wrong += row->id_known != want;
	return 0;
}

/* The store's own payload read back with its ids resolved: every
 * resource row carries the set's answer for its id (the ids of
 * bk_time_id's form PRESENT, the others UNKNOWN); without a set, none. */
static void test_reader(struct bk_store *st)
{
	struct tu_mem m = { 0 };
	struct bk_err e = { 0 };
	struct asked a = { 0 };
	struct bk_idset *s;

	CHECK_EQ_INT(bk_snapshot_write(st, NULL, NULL, NULL, tu_mem_sink, &m,
				       NULL, NULL, NULL, &e), 0);
	s = fed(m.buf, m.len, 65536, 0);
	CHECK_EQ_INT(bk_idset_resolve(s, bk_store_db(st), &e), 0);
	a.s = s;
	m.pos = 0;
	CHECK_EQ_INT(bk_snapshot_read_wrapped(tu_mem_source, &m, NULL, NULL,
					      s, ask_row, NULL, &a, NULL, NULL,
					      NULL, &e), 0);
	CHECK_EQ_INT(a.rows, N / 2 + 1 + 4);	/* h0..h300, x1..x4 */
	CHECK_EQ_INT(a.present, N / 2 + 1);
	CHECK_EQ_INT(a.wrong, 0);
	memset(&a, 0, sizeof(a));
	m.pos = 0;
	CHECK_EQ_INT(bk_snapshot_read_wrapped(tu_mem_source, &m, NULL, NULL,
					      NULL, ask_row, NULL, &a, NULL, NULL,
					      NULL, &e), 0);
	CHECK_EQ_INT(a.present, 0);
	CHECK_EQ_INT(a.wrong, 0);
	bk_idset_free(s);
	free(m.buf);
}

int main(void)
{
	struct bk_rot *rot = NULL;
	struct bk_store *st;

	CHECK_EQ_INT(bk_crypto_init(), 0);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	st = tu_open_store(dir, "s", &rot);
	test_pieces();
	test_resolve(st);
	test_limit(st);
	test_reader(st);
	bk_store_close(st);
	bk_rot_free(rot);
	tu_cleanup(dir, tmp_files, sizeof(tmp_files) / sizeof(tmp_files[0]));
	return check_done("test_restore_ids");
}
