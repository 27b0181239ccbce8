/* upcheck.c - an uploaded archive authenticated while it arrives.
 *
 * An upload is accepted only once every chunk of it is authenticated
 * (bk_upload_archive), and that pass over a 1 GiB archive used to start
 * after the last byte had come: half a second to a second during which
 * the client's `cp` waited.  A check follows the upload instead: its
 * thread reads, on its own descriptor, what the writer says is final,
 * and authenticates chunk after chunk.  When the file is closed and
 * processed, bk_upload_archive asks for the verdict and skips its own
 * pass only if the check authenticated every chunk of exactly that file.
 *
 * The writer (fs/upload_io.c) tells what is final: bk_upcheck_advance
 * when the bytes [0, n) were written one after the other, and
 * bk_upcheck_spoil when bytes already written change (a rewrite, a
 * truncate): then the verdict is "not checked" and the full pass runs,
 * as it does for anything else the check could not finish (a gap in the
 * writes, no key here yet, a bad chunk, which the full pass then reports
 * in its own words).  The check is only ever a shortcut to "yes".
 */
#include "engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "crypto.h"

struct bk_upcheck {
	struct bk_engine *e;
	char *domain;			/* NULL: system */
	int fd;				/* the staging file, read only */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* under lock */
	uint64_t avail;			/* bytes [0, avail) are final */
	int closing;			/* no more bytes will come */
	int stop;			/* give up now */
	int spoiled;			/* bytes read may have changed */
	int done;			/* the thread has finished */
	int verified;			/* every chunk authenticated */
	uint64_t size;			/* of the file they make up */
	int used;			/* finish said 1 */
};

/* Waits until [0, need) is final (1, *avail how much is) or nothing
 * more will come (0). */
static int wait_for(struct bk_upcheck *c, uint64_t need, uint64_t *avail)
{
	int ok;

	pthread_mutex_lock(&c->lock);
	while (c->avail < need && !c->closing && !c->stop && !c->spoiled)
		pthread_cond_wait(&c->cond, &c->lock);
	ok = c->avail >= need && !c->stop && !c->spoiled;
	*avail = c->avail;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

/* The unlocked reader of the archive's header, or NULL (no key here, a
 * tie to keys not here, a bad header: the full pass will say). */
static struct bk_archive_reader *unlock(struct bk_upcheck *c)
{
	struct bk_archive_reader *r = NULL;
	uint8_t *key = bk_secure_alloc(32);
	uint64_t avail = 0;
	int ret = -EAGAIN;

	/* The header, once all of it is there. */
	while (key && ret == -EAGAIN && wait_for(c, avail + 1, &avail))
		ret = bk_archive_open_partial(c->fd, avail, &r, NULL);
	if (ret || !key || bk_upload_unlock(c->e, c->domain, r, key, NULL,
					    NULL) <= 0)
		goto fail;
	bk_secure_free(key, 32);
	return r;
fail:
	bk_archive_close(r);
	bk_secure_free(key, 32);
	return NULL;
}

static void *check_main(void *arg)
{
	struct bk_upcheck *c = arg;
	struct bk_archive_reader *r = unlock(c);
	uint64_t end = 1, avail;

	while (r && (end = bk_archive_next_end(r)) && wait_for(c, end, &avail))
		if (bk_archive_verify_next(r, NULL))
			break;
	pthread_mutex_lock(&c->lock);
	c->done = 1;
	c->verified = r && !end;
	c->size = r ? bk_archive_size(r) : 0;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	bk_archive_close(r);
	return NULL;
}

int bk_upcheck_start(struct bk_engine *e, const char *domain,
		     const char *path, struct bk_upcheck **out)
{
	struct bk_upcheck *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->e = e;
	c->fd = open(path, O_RDONLY | O_CLOEXEC);
	c->domain = domain ? strdup(domain) : NULL;
	if (c->fd < 0 || (domain && !c->domain))
		goto fail;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	if (pthread_create(&c->thread, NULL, check_main, c)) {
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->lock);
		goto fail;
	}
	*out = c;
	return 0;
fail:
	if (c->fd >= 0)
		close(c->fd);
	free(c->domain);
	free(c);
	return -ENOMEM;
}

void bk_upcheck_advance(struct bk_upcheck *c, uint64_t avail)
{
	pthread_mutex_lock(&c->lock);
	if (avail > c->avail) {
		c->avail = avail;
		pthread_cond_signal(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
}

void bk_upcheck_spoil(struct bk_upcheck *c)
{
	pthread_mutex_lock(&c->lock);
	c->spoiled = 1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

int bk_upcheck_finish(struct bk_upcheck *c, uint64_t size)
{
	int ok;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	c->closing = 1;
	pthread_cond_broadcast(&c->cond);
	while (!c->done)
		pthread_cond_wait(&c->cond, &c->lock);
	ok = c->verified && !c->spoiled && c->size == size &&
	     c->avail >= size;
	c->used = ok;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

int bk_upcheck_used(struct bk_upcheck *c)
{
	int used;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	used = c->used;
	pthread_mutex_unlock(&c->lock);
	return used;
}

void bk_upcheck_free(struct bk_upcheck *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	close(c->fd);
	free(c->domain);
	free(c);
}
