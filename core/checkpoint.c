/* checkpoint.c - the daemon's checkpoints, off the operations' path.
 *
 * SQLite copies its write-ahead log into the database file (a checkpoint)
 * at the end of the commit that leaves the log longer than 1,000 pages, in
 * the committing thread.  After a restore of a million keys that is some
 * 300 MB copied and synced before the restore can say Completed: 1.3 s of
 * 10 for a domain restore, 0.9 s of 5 for a system restore.  The commit
 * does not need it to be durable (synchronous=FULL syncs the log); the
 * checkpoint only keeps the log short and reads fast.
 *
 * So the daemon's connections do not checkpoint: their commits wake this
 * thread, which checkpoints on a connection of its own.  PASSIVE: it
 * never waits for a reader nor holds up a writer, copies what no reader
 * still needs and leaves the rest to its next run.  A crash in the middle
 * is SQLite's own case (the log is replayed).  The last connection to
 * close checkpoints what is left, as before.
 */
#include "checkpoint.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "fault.h"

/* A checkpoint once the log holds this many bytes of pages: SQLite's own
 * default (SQLITE_DEFAULT_WAL_AUTOCHECKPOINT, 1,000 pages) at its default
 * page size, 4 KiB; databases made now have larger pages (store.c). */
#define CKPT_BYTES (1000 * 4096)

struct bk_ckpt {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* pending or stop set */
	pthread_cond_t idle;		/* a run ended */
	pthread_t thread;
	struct bk_store *store;		/* the thread's own connection */
	int pages;			/* CKPT_BYTES in the database's pages */
	int pending, stop;
	unsigned long started, finished;	/* runs */
};

static void *ckpt_main(void *arg)
{
	struct bk_ckpt *c = arg;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->pending && !c->stop)
			pthread_cond_wait(&c->cond, &c->lock);
		if (!c->pending)
			break;
		c->pending = 0;
		c->started++;
		pthread_mutex_unlock(&c->lock);
		/* Errors are not reported: the commits are on disk already,
		 * and the next commit (or the last close) tries again. */
		if (bk_fault("checkpoint.run") == 0)
			sqlite3_wal_checkpoint_v2(bk_store_db(c->store), NULL,
						  SQLITE_CHECKPOINT_PASSIVE,
						  NULL, NULL);
		pthread_mutex_lock(&c->lock);
		c->finished++;
		pthread_cond_broadcast(&c->idle);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int bk_ckpt_start(const char *db_path, struct bk_ckpt **out,
		  struct bk_err *err)
{
	struct bk_ckpt *c;
	int ret;

	c = calloc(1, sizeof(*c));
	if (!c)
		return bk_errf(err, -ENOMEM, "out of memory");
	ret = bk_store_open(db_path, BK_STORE_PRIVATE, &c->store, err);
	if (ret) {
		free(c);
		return ret;
	}
	sqlite3_wal_autocheckpoint(bk_store_db(c->store), 0);
	c->pages = CKPT_BYTES / bk_store_page_size(c->store);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	pthread_cond_init(&c->idle, NULL);
	ret = pthread_create(&c->thread, NULL, ckpt_main, c);
	if (ret) {
		pthread_mutex_destroy(&c->lock);
		pthread_cond_destroy(&c->cond);
		pthread_cond_destroy(&c->idle);
		bk_store_close(c->store);
		free(c);
		return bk_errf(err, -ret, "cannot start the checkpoint thread");
	}
	*out = c;
	return 0;
}

void bk_ckpt_stop(struct bk_ckpt *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	pthread_cond_destroy(&c->idle);
	bk_store_close(c->store);
	free(c);
}

void bk_ckpt_drain(struct bk_ckpt *c)
{
	unsigned long until;

	if (!c)
		return;
	/* The run going on and the one asked for, not those asked for
	 * while waiting: a stream of commits cannot hold the caller. */
	pthread_mutex_lock(&c->lock);
	until = c->started + (c->pending ? 1 : 0);
	while (c->finished < until && !c->stop)
		pthread_cond_wait(&c->idle, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

/* SQLite's call after each commit of a connection, in its thread. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct bk_ckpt *c = arg;

	(void)db;
	(void)name;
	if (pages >= c->pages) {
		pthread_mutex_lock(&c->lock);
		c->pending = 1;
		pthread_cond_signal(&c->cond);
		pthread_mutex_unlock(&c->lock);
	}
	return SQLITE_OK;
}

void bk_ckpt_attach(struct bk_ckpt *c, struct bk_store *s)
{
	if (c && s)
		sqlite3_wal_hook(bk_store_db(s), wal_hook, c);
}
