/* upload_int.h - what upload.c (the table of staged entries, processing,
 * names) and upload_io.c (attributes, data, flush, release) share. */
#ifndef BKFS_UPLOAD_INT_H
#define BKFS_UPLOAD_INT_H

#include "bkfs.h"

#include <pthread.h>

enum st_state { ST_STAGED, ST_PROCESSING, ST_DONE, ST_FAILED };

struct bkfs_staged {
	struct bkfs_staged *next;
	unsigned refs;
	int linked;			/* in the table */
	enum bkfs_kind box;		/* K_UPLOAD, K_RESTORE, K_KEY_UPLOAD */
	char *boxpath;
	char *domain;			/* NULL: system */
	char *name;
	char *spath;			/* staging file, NULL once consumed */
	int fd;				/* on spath, -1 when none */
	unsigned gen;			/* bumped when re-staged */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	struct timespec atime, mtime, ctime;
	int writers;			/* open handles that may write */
	int inflight;			/* writes running now */
	enum st_state state;
	char *result;			/* backup or key id once done */
	off_t size;			/* key receipts: size of the file */
	/* Archives: their check as they arrive (core/upcheck.c), started
	 * by a write at 0, and the end of the bytes written one after the
	 * other from 0. */
	struct bk_upcheck *check;
	off_t contig;
};

struct bkfs_sfh {
	struct bkfs_staged *st;
	int fd;
	int writer;
	int lazy;	/* opened for writing on a receipt: a new upload only
			 * once written to (touch must not destroy it) */
	unsigned gen;
};

/* The table: one mutex; the condition signals "no write in flight". */
extern pthread_mutex_t up_lock;
extern pthread_cond_t up_idle;
extern struct bkfs_staged *up_head;

/* Not a staged-only name ('.'-prefixed, *.partial, *.tmp). */
int up_processable(const char *name);
/* Now, whole seconds. */
struct timespec up_now(void);
/* The linked entry (boxpath, name), or NULL.  Lock held. */
struct bkfs_staged *up_find(const char *boxpath, const char *name);
/* Drops a reference; frees at zero.  Lock held. */
void up_unref(struct bkfs_staged *e);
/* Hands e (STAGED) to the engine; returns with the lock held.  The caller
 * must not touch e afterwards unless it holds a reference. */
int up_process(struct bkfs_staged *e, uid_t uid);
/* A lazy handle (opened for writing on a receipt) writes: the receipt
 * becomes a new upload.  Lock held. */
int up_restage_lazy(struct bkfs_sfh *h);
/* The archive's check learns that [off, off + n) was written, or that
 * the file was truncated to size; reset drops it.  Lock held. */
void up_check_wrote(struct bkfs_staged *e, off_t off, size_t n);
void up_check_truncated(struct bkfs_staged *e, off_t size);
void up_check_reset(struct bkfs_staged *e);

#endif
