/* test_snapshot_pipe.c - core/snapshot_read.c's pipeline: the checking
 * thread running ahead of the call-back loses no line.
 *
 * The call-back side is held (fault point snapshot.read.handback, stall)
 * right after it hands its first batch back, while the checking thread
 * refills every batch, the first one last: a reader that looked at the
 * handed-back batch again would take the refill's "last" for its own and
 * stop early, with the payload's later lines never restored.
 */
#include "check.h"
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/snapshot.h"

static char dir[] = "/tmp/bk-test-pipe-XXXXXX";
static const char *const tmp_files[] = {
	"a.key", "a.db", "a.db-wal", "a.db-shm", "release",
};

static int count_row(void *arg, const struct bk_snap_row *row,
		     struct bk_err *err)
{
	(void)row;
	(void)err;
	++*(long *)arg;
	return 0;
}

/* Lets the held call-back go once the checking thread has had time to
 * fill every batch (if it had not, the test checks less, never wrongly). */
static void *release(void *arg)
{
	FILE *f;

	usleep(500 * 1000);
	f = fopen(arg, "w");
	if (f)
		fclose(f);
	return NULL;
}

int main(void)
{
	struct bk_rot *rot = NULL;
	struct bk_store *s;
	struct tu_mem m = { 0 };
	struct bk_err e = { 0 };
	char path[300], name[32];
	pthread_t tid;
	long rows = 0, lines = 0;
	int ret;

	CHECK_EQ_INT(bk_crypto_init(), 0);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/release", dir);
	setenv("BACKUPFS_FAULT", "snapshot.read.handback:1:stall", 1);
	setenv("BACKUPFS_FAULT_RELEASE", path, 1);

	/* 1,100 rows: four full batches of 256 lines and a fifth, the last,
	 * in the first batch's place. */
	s = tu_open_store(dir, "a", &rot);
	CHECK_EQ_INT(bk_domain_add(s, "root", NULL, &e), 0);
	CHECK_EQ_INT(bk_store_begin(s, &e), 0);
	for (int i = 0; i < 1100; i++) {
		snprintf(name, sizeof(name), "user%04d", i);
		tu_add(s, rot, "root", "users", name, NULL);
	}
	CHECK_EQ_INT(bk_store_commit(s, &e), 0);
	CHECK_EQ_INT(bk_snapshot_write(s, rot, NULL, NULL, tu_mem_sink, &m,
				       NULL, NULL, NULL, &e), 0);
	for (size_t i = 0; i < m.len; i++)
		lines += m.buf[i] == '\n';
	CHECK(lines > 4 * 256 && lines < 5 * 256);

	m.pos = 0;
	CHECK_EQ_INT(pthread_create(&tid, NULL, release, path), 0);
	ret = bk_snapshot_read(tu_mem_source, &m, count_row, &rows, NULL,
			       NULL, NULL, &e);
	pthread_join(tid, NULL);
	if (ret)
		fprintf(stderr, "read: %s\n", e.msg);
	CHECK_EQ_INT(ret, 0);
	CHECK_EQ_INT(rows, lines);	/* every line reached the call-back */

	free(m.buf);
	bk_store_close(s);
	bk_rot_free(rot);
	tu_cleanup(dir, tmp_files, sizeof(tmp_files) / sizeof(tmp_files[0]));
	return check_done("test_snapshot_pipe");
}
