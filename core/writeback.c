/* writeback.c - the write-ahead log of a long transaction written back
 * to disk while the transaction runs.
 *
 * A restore writes a million rows in one transaction: the page cache
 * spills its pages into the WAL as it goes, and nothing makes the kernel
 * write them to disk before the commit's fsync (its background write-back
 * waits for 30 s or for 10 % of memory to be dirty), which then waited
 * for 400 MB: 0.45 s of a 3.2 s system restore with the processors idle.
 * While bk_store_writeback is on, a thread asks the kernel every
 * WB_EVERY_MS to start writing what is dirty in the WAL
 * (sync_file_range SYNC_FILE_RANGE_WRITE: it starts the I/O and does not
 * wait for it), so that the disk works while the rows are made and the
 * commit's fsync finds little left.  Nothing about durability changes:
 * the commit still syncs the WAL (synchronous=FULL).
 *
 * The WAL only: SQLite takes no POSIX lock on it.  A descriptor of the
 * database file itself must never be opened and closed here: closing any
 * descriptor of a file drops every fcntl lock the process holds on it,
 * SQLite's included (its "How To Corrupt" page, 2.2).  So the database
 * file is not written back this way during checkpoints.
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define WB_EVERY_MS 100

struct bk_writeback {
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop;
	int fd;				/* the WAL, read-only */
};

static void *run(void *arg)
{
	struct bk_writeback *w = arg;
	struct timespec at;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_nsec += WB_EVERY_MS * 1000000L;
		if (at.tv_nsec >= 1000000000L) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cond, &w->lock, &at);
		if (w->stop)
			break;
		pthread_mutex_unlock(&w->lock);
		sync_file_range(w->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* A helper that cannot start only leaves the fsync all the work. */
static struct bk_writeback *start(const char *path)
{
	struct bk_writeback *w;
	pthread_condattr_t ca;

	if (!path || !*path)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (w->fd < 0) {
		free(w);
		return NULL;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&w->tid, NULL, run, w) == 0)
		return w;
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	close(w->fd);
	free(w);
	return NULL;
}

static void stop(struct bk_writeback *w)
{
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->tid, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	close(w->fd);
	free(w);
}

void bk_store_writeback(struct bk_store *s, int on)
{
	const char *db_path;
	char path[4096];

	if (!on && s->wb) {
		stop(s->wb);
		s->wb = NULL;
	}
	if (!on || s->wb || !s->db)
		return;
	db_path = sqlite3_db_filename(s->db, "main");
	if (db_path && *db_path &&
	    snprintf(path, sizeof(path), "%s-wal", db_path) <
	    (int)sizeof(path))
		s->wb = start(path);
}
