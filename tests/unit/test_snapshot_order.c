/* test_snapshot_order.c - a backup of rows that lie in the table in
 * another order than their names' (keys made over time) reads the table
 * through and puts the rows in order by rank (core/snapshot_order.c), or
 * has SQLite sort them when rowids are too far apart: the payload is
 * byte for byte the one written from the same rows in their names'
 * order (after a restore, which writes the table in that order), with
 * one bucket in memory or many through the temporary file, rows deleted
 * in between, and a temporary file that cannot be made fails the backup
 * with the reason. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/crypto.h"
#include "core/snapshot.h"
#include "core/snapshot_int.h"
#include "restore_domain_util.h"
#include "testutil.h"

static char dir[] = "/tmp/bk-test-sorder-XXXXXX";
static const char *const tmp_files[] = {
	"a.key", "a.db", "a.db-wal", "a.db-shm",
	"b.key", "b.db", "b.db-wal", "b.db-shm",
	"c.key", "c.db", "c.db-wal", "c.db-shm",
};

#define KEYS 3000

/* The number of keys of text (one domain's), if their names come in
 * order; else -1. */
static int in_order(const char *text)
{
	const char *p = text;
	char prev[16] = "";
	int n = 0;

	while (p && (p = strstr(p, "\"name\":\"k")) != NULL) {
		char cur[16];

		p += 8;
		snprintf(cur, sizeof(cur), "%.6s", p);
		if (strcmp(prev, cur) >= 0)
			return -1;
		memcpy(prev, cur, sizeof(cur));
		n++;
	}
	return n;
}

/* In a child (its own BACKUPFS_FAULT, read at its first bk_fault): a
 * write of the temporary file that finds the disk full fails the backup
 * with the reason.  0 if it did. */
static int disk_full(void)
{
	struct bk_rot *rot = NULL;
	struct bk_err e = { 0 };
	struct tu_mem m = { 0 };
	struct bk_store *c;
	char name[32];
	int ret, status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid) {
		if (waitpid(pid, &status, 0) != pid)
			return -1;
		return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	}
	setenv("BACKUPFS_FAULT", "snapshot.order.write:3:ENOSPC", 1);
	bk_snap_order_bucket_bytes = 16 << 10;
	bk_snap_order_spill_bytes = 64 << 10;
	c = tu_open_store(dir, "c", &rot);
	status = bk_domain_add(c, "d", NULL, &e) ? 2 : 0;
	for (int i = 0; i < KEYS && !status; i++) {
		snprintf(name, sizeof(name), "k%05d", i * 7919 % KEYS);
		tu_add(c, rot, "d", "keys", name, NULL);
	}
	ret = bk_snapshot_write(c, rot, NULL, NULL, tu_mem_sink, &m, NULL,
				NULL, NULL, &e);
	if (!status && (ret != -ENOSPC || !strstr(e.msg, "not enough space"))) {
		fprintf(stderr, "disk full: %d %s\n", ret, e.msg);
		status = 3;
	}
	/* The disk has room again: the same backup goes through. */
	free(m.buf);
	m = (struct tu_mem){ 0 };
	ret = bk_snapshot_write(c, rot, NULL, NULL, tu_mem_sink, &m, NULL,
				NULL, NULL, &e);
	if (!status && (ret || !m.buf || !strstr(m.buf, "k02999")))
		status = 4;
	free(m.buf);
	bk_store_close(c);
	bk_rot_free(rot);
	exit(status ? status : check_failed ? 5 : 0);
}

/* got (freed) is want. */
static void same(char *got, const char *want)
{
	CHECK(got && want && !strcmp(got, want));
	free(got);
}

int main(void)
{
	struct bk_rot *rot_a = NULL, *rot_b = NULL;
	struct bk_store *a, *b;
	struct bk_err e = { 0 };
	char name[32], *pa, *pb, *da, *db_;
	int ret;

	/* The second temporary file made fails (below): the payloads
	 * before the sizes are made small (3,000 keys, under 1 MB of rows)
	 * stay in memory and make none. */
	setenv("BACKUPFS_FAULT", "snapshot.order.tmp:2:ENOSPC", 1);
	CHECK_EQ_INT(bk_crypto_init(), 0);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	CHECK_EQ_INT(disk_full(), 0);
	a = tu_open_store(dir, "a", &rot_a);
	b = tu_open_store(dir, "b", &rot_b);
	CHECK_EQ_INT(bk_domain_add(a, "d", NULL, &e), 0);
	CHECK_EQ_INT(bk_domain_add(a, "e", NULL, &e), 0);
	/* Made in the order of i, named by i * 7919 mod KEYS: neighbours by
	 * name are far apart in the table; another domain's rows between. */
	for (int i = 0; i < KEYS; i++) {
		snprintf(name, sizeof(name), "k%05d", i * 7919 % KEYS);
		tu_add(a, rot_a, "d", "keys", name, NULL);
		if (i % 6 == 0)
			tu_add(a, rot_a, "e", "keys", name, NULL);
	}
	CHECK_EQ_INT(bk_snap_rows_scattered(a, NULL, KEYS), 1);
	CHECK_EQ_INT(bk_snap_rows_scattered(a, "d", KEYS), 1);
	pa = payload(a, rot_a, NULL);
	da = payload(a, rot_a, "d");

	/* Restored elsewhere: the table in the names' order. */
	{
		struct tu_mem m = { .buf = pa, .len = strlen(pa),
				    .chunk = 4093 };

		ret = bk_snapshot_restore_system(b, rot_b, tu_mem_source, &m,
						 NULL, NULL, NULL, &e);
		if (ret)
			fprintf(stderr, "restore: %s\n", e.msg);
		CHECK_EQ_INT(ret, 0);
	}
	CHECK_EQ_INT(bk_snap_rows_scattered(b, NULL, KEYS), 0);
	CHECK_EQ_INT(bk_snap_rows_scattered(b, "d", KEYS), 0);
	pb = payload(b, rot_b, NULL);
	db_ = payload(b, rot_b, "d");
	CHECK(pa && pb && !strcmp(pa, pb));
	CHECK(da && db_ && !strcmp(da, db_));
	CHECK_EQ_INT(in_order(da), KEYS);
	/* Few rows: no sampling, the index. */
	CHECK_EQ_INT(bk_snap_rows_scattered(a, NULL, 100), 0);

	/* Buckets of 16 KiB, written out every 64 KiB: through the file. */
	bk_snap_order_bucket_bytes = 16 << 10;
	bk_snap_order_spill_bytes = 64 << 10;
	same(payload(a, rot_a, NULL), pa);
	/* The temporary file cannot be made: the reason, and nothing. */
	{
		struct tu_mem m = { 0 };

		ret = bk_snapshot_write(a, rot_a, NULL, NULL, tu_mem_sink, &m,
					NULL, NULL, NULL, &e);
		CHECK_EQ_INT(ret, -ENOSPC);
		CHECK(strstr(e.msg, "temporary file") != NULL);
		free(m.buf);
	}
	same(payload(a, rot_a, "d"), da);

	/* Rows deleted, here and there: holes in the rowids. */
	for (int i = 0; i < KEYS; i += 3) {
		snprintf(name, sizeof(name), "k%05d", i);
		CHECK_EQ_INT(bk_resource_delete(a, "d", "keys", name, &e), 0);
		CHECK_EQ_INT(bk_resource_delete(b, "d", "keys", name, &e), 0);
	}
	free(pb);
	pb = payload(b, rot_b, NULL);
	CHECK_EQ_INT(bk_snap_rows_scattered(a, NULL, KEYS), 1);
	same(payload(a, rot_a, NULL), pb);
	{
		char *d = payload(b, rot_b, "d");

		CHECK_EQ_INT(in_order(d), KEYS - (KEYS + 2) / 3);
		same(payload(a, rot_a, "d"), d);
		free(d);
	}

	/* A rowid far from the others: no rank array, SQLite's sorter. */
	CHECK_EQ_INT(sqlite3_exec(bk_store_db(a),
		"UPDATE resources SET rowid = rowid + 40000000000"
		" WHERE rowid = (SELECT max(rowid) FROM resources)",
		NULL, NULL, NULL), SQLITE_OK);
	{
		struct bk_snap_order *o = NULL;

		CHECK_EQ_INT(bk_snap_order_open(a, NULL, KEYS, &o, &e), 1);
		CHECK(o == NULL);
	}
	same(payload(a, rot_a, NULL), pb);

	free(pa);
	free(pb);
	free(da);
	free(db_);
	bk_store_close(a);
	bk_store_close(b);
	bk_rot_free(rot_a);
	bk_rot_free(rot_b);
	tu_cleanup(dir, tmp_files, sizeof(tmp_files) / sizeof(tmp_files[0]));
	return check_done("test_snapshot_order");
}
