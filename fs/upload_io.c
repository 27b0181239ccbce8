/* upload_io.c - attributes and data of upload box entries: chmod, chown,
 * utimens, truncate on staged files and receipts, reads and writes, and
 * the close that processes (flush, release as the fallback). */
#include "upload_int.h"
#include "core/archive.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- attributes ---- */

static struct bkfs_staged *entry_of(const char *boxpath, const char *name,
				    struct bkfs_sfh *h)
{
	return h ? h->st : up_find(boxpath, name);
}

int bkfs_box_chmod(const char *boxpath, const char *name, struct bkfs_sfh *h,
		   mode_t mode)
{
	struct bkfs_staged *e;

	pthread_mutex_lock(&up_lock);
	e = entry_of(boxpath, name, h);
	if (e) {
		e->mode = mode & 07777;
		e->ctime = up_now();
	}
	pthread_mutex_unlock(&up_lock);
	return e ? 0 : -ENOENT;
}

int bkfs_box_chown(const char *boxpath, const char *name, struct bkfs_sfh *h,
		   uid_t uid, gid_t gid)
{
	struct bkfs_staged *e;

	pthread_mutex_lock(&up_lock);
	e = entry_of(boxpath, name, h);
	if (e) {
		if (uid != (uid_t)-1)
			e->uid = uid;
		if (gid != (gid_t)-1)
			e->gid = gid;
		e->ctime = up_now();
	}
	pthread_mutex_unlock(&up_lock);
	return e ? 0 : -ENOENT;
}

static void set_time(struct timespec *dst, const struct timespec *src)
{
	if (src->tv_nsec == UTIME_OMIT)
		return;
	if (src->tv_nsec == UTIME_NOW)
		*dst = up_now();
	else
		*dst = *src;
}

int bkfs_box_utimens(const char *boxpath, const char *name,
		     struct bkfs_sfh *h, const struct timespec tv[2])
{
	struct bkfs_staged *e;

	pthread_mutex_lock(&up_lock);
	e = entry_of(boxpath, name, h);
	if (e) {
		if (tv) {
			set_time(&e->atime, &tv[0]);
			set_time(&e->mtime, &tv[1]);
		} else {
			e->atime = e->mtime = up_now();
		}
		e->ctime = up_now();
	}
	pthread_mutex_unlock(&up_lock);
	return e ? 0 : -ENOENT;
}

int bkfs_box_truncate(const char *boxpath, const char *name,
		      struct bkfs_sfh *h, off_t size)
{
	struct bkfs_staged *e;
	int r = 0;

	pthread_mutex_lock(&up_lock);
	e = entry_of(boxpath, name, h);
	if (h && (r = up_restage_lazy(h)))
		goto out;
	if (!e)
		r = -ENOENT;
	else if (h && h->gen != e->gen)
		r = -EBADF;
	else if (e->state == ST_PROCESSING)
		r = -EBUSY;
	else if (e->state != ST_STAGED || e->fd < 0)
		r = -EACCES;		/* receipts are read-only */
	else if (ftruncate(e->fd, size))
		r = -errno;
	else {
		up_check_truncated(e, size);
		e->mtime = e->ctime = up_now();
	}
out:
	pthread_mutex_unlock(&up_lock);
	return r;
}

/* ---- data ---- */

int bkfs_sfh_read(struct bkfs_sfh *h, char *buf, size_t size, off_t off)
{
	ssize_t n = pread(h->fd, buf, size, off);

	return n < 0 ? -errno : (int)n;
}

int bkfs_sfh_write(struct bkfs_sfh *h, const char *buf, size_t size,
		   off_t off)
{
	struct bkfs_staged *e = h->st;
	ssize_t n;

	pthread_mutex_lock(&up_lock);
	n = up_restage_lazy(h);
	if (n) {
		pthread_mutex_unlock(&up_lock);
		return (int)n;
	}
	if (!h->writer || h->gen != e->gen || e->state != ST_STAGED) {
		pthread_mutex_unlock(&up_lock);
		return -EBADF;		/* processed, or re-staged since */
	}
	e->inflight++;
	pthread_mutex_unlock(&up_lock);
	n = pwrite(h->fd, buf, size, off);
	if (n < 0)
		n = -errno;
	else	/* the fsync before it is accepted then finds little */
		bk_archive_writeback(h->fd, off, (size_t)n);
	pthread_mutex_lock(&up_lock);
	e->inflight--;
	if (n > 0) {
		e->mtime = e->ctime = up_now();
		up_check_wrote(e, off, (size_t)n);
	}
	if (!e->inflight)
		pthread_cond_broadcast(&up_idle);
	pthread_mutex_unlock(&up_lock);
	return (int)n;
}

static int last_writer_may_process(struct bkfs_sfh *h, int writers)
{
	struct bkfs_staged *e = h->st;

	return h->writer && h->gen == e->gen && e->linked &&
	       e->state == ST_STAGED && e->writers == writers &&
	       up_processable(e->name);
}

/* An empty file is never processed at flush: a shell's `cat > f` opens f,
 * dup2()s it onto stdout and closes the original descriptor, which
 * flushes before anything is written.  Release processes it (and refuses
 * it) if nothing ever comes. */
static int has_data(const struct bkfs_staged *e)
{
	struct stat st;

	return e->fd >= 0 && !fstat(e->fd, &st) && st.st_size > 0;
}

int bkfs_sfh_flush(struct bkfs_sfh *h, uid_t uid)
{
	int r = 0;

	pthread_mutex_lock(&up_lock);
	if (last_writer_may_process(h, 1) && has_data(h->st))
		r = up_process(h->st, uid);
	pthread_mutex_unlock(&up_lock);
	return r;
}

int bkfs_sfh_fsync(struct bkfs_sfh *h, int datasync)
{
	int r;

	if (h->fd < 0)
		return 0;
	r = datasync ? fdatasync(h->fd) : fsync(h->fd);
	return r ? -errno : 0;
}

void bkfs_sfh_release(struct bkfs_sfh *h, uid_t uid)
{
	struct bkfs_staged *e = h->st;

	pthread_mutex_lock(&up_lock);
	if (h->writer && h->gen == e->gen) {
		/* flush normally did it; this is the fallback */
		if (last_writer_may_process(h, 1))
			up_process(e, uid);
		e->writers--;
	}
	if (h->fd >= 0)
		close(h->fd);
	up_unref(e);
	pthread_mutex_unlock(&up_lock);
	free(h);
}

