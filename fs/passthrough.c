/* passthrough.c - reads of archives served by the kernel (FUSE passthrough).
 *
 * Since Linux 6.9 a FUSE server may hand an open file's reads to a backing
 * file of its own: the kernel then reads that file itself (its page cache,
 * its readahead, its large folios) and no READ request reaches the daemon.
 * Archives are immutable files of the state directory read as they are, so
 * they qualify.  libfuse has the API from 3.16; Debian 12 has 3.14, whose
 * fuse_session_custom_io() lets the daemon see what it reads from and
 * writes to /dev/fuse.  The two protocol steps libfuse 3.14 does not know
 * (protocol 7.40) are done here, on its messages:
 *
 *   INIT  the kernel offers FUSE_PASSTHROUGH in flags2; the reply accepts
 *         it (flags2) with a stack depth of 1: backing files on a file
 *         system that is not stacked (ext4, xfs, tmpfs; not overlayfs),
 *         and this mount can itself be stacked under overlayfs.
 *   OPEN  the daemon registers the archive's open file with the ioctl
 *         FUSE_DEV_IOC_BACKING_OPEN, which gives an id; the reply to the
 *         open carries FOPEN_PASSTHROUGH and that id.
 *
 * The kernel wants one backing file for all the opens of one of its
 * inodes at once (else the open fails with EIO), so backing ids are kept
 * per kernel inode - the OPEN request's node id, seen as it is read - and
 * closed when its last open is released.  Not per archive path: an
 * archive's file name (its seq) can be used again by a later backup
 * while the removed one is still open, and that open's id would hand the
 * new name the old bytes.  An inode whose registration failed (not root,
 * a stacked file system: EPERM, ELOOP) is read through the daemon, and so
 * are its later opens while one lasts: the kernel does not mix the two on
 * one inode.  For the same reason an archive replaced under the same name
 * while an open of the old one lasts (a backup removed by its schedule's
 * retention, then uploaded again) cannot be opened until that open is
 * closed: EBUSY, said in the log.  The reply to an open is written by the
 * thread that ran op_open, right after it (libfuse's fuse_lib_open), so
 * the open to patch is armed in a thread-local and matched by its file
 * handle.
 *
 * `-o no_passthrough` turns it off (tests read both ways).
 */
#include "bkfs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#include <fuse_lowlevel.h>
#include <linux/capability.h>

#include "core/fault.h"

/* The protocol, as far as used here (include/uapi/linux/fuse.h, 7.40):
 * libfuse 3.14's fuse_kernel.h and Debian 12's linux/fuse.h predate it. */
#define PT_OP_OPEN 14
#define PT_OP_INIT 26
#define PT_INIT_EXT (1u << 30)
#define PT_FLAGS2_PASSTHROUGH (1u << (37 - 32))	/* FUSE_PASSTHROUGH */
#define PT_FLAGS_WRITEBACK_CACHE (1u << 16)
#define PT_FOPEN_PASSTHROUGH (1u << 7)
/* The only flags an open in passthrough may carry (else EIO): direct_io,
 * noflush, parallel_direct_writes; keep_cache is not among them. */
#define PT_FOPEN_MASK ((1u << 0) | (1u << 5) | (1u << 6) | PT_FOPEN_PASSTHROUGH)

struct pt_in_header {
	uint32_t len, opcode;
	uint64_t unique, nodeid;
	uint32_t uid, gid, pid;
	uint16_t total_extlen, padding;
};

struct pt_init_in {
	uint32_t major, minor, max_readahead, flags, flags2;
};

struct pt_out_header {
	uint32_t len;
	int32_t error;
	uint64_t unique;
};

struct pt_init_out {
	uint32_t major, minor, max_readahead, flags;
	uint16_t max_background, congestion_threshold;
	uint32_t max_write, time_gran;
	uint16_t max_pages, map_alignment;
	uint32_t flags2, max_stack_depth;
};

struct pt_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};

struct pt_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};

#define PT_IOC_BACKING_OPEN _IOW(229, 1, struct pt_backing_map)
#define PT_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

_Static_assert(sizeof(struct pt_in_header) == 40, "fuse_in_header");
_Static_assert(sizeof(struct pt_init_out) == 40, "fuse_init_out head");
_Static_assert(sizeof(struct pt_open_out) == 16, "fuse_open_out");
_Static_assert(sizeof(struct pt_backing_map) == 16, "fuse_backing_map");

/* A kernel inode of an archive open now, through a backing id or not. */
struct bkfs_pt {
	struct bkfs_pt *next;
	uint64_t nodeid;		/* the kernel's inode */
	dev_t dev;			/* the backing file */
	ino_t ino;
	int id;				/* 0: read through the daemon */
	unsigned refs;
};

static struct {
	int fd;				/* /dev/fuse */
	uint64_t init_unique;		/* INIT, while unanswered */
	int offered;			/* the kernel offered it */
	int on;				/* ... and the reply accepted it */
	int said;			/* a failed registration was logged */
	pthread_mutex_t lock;		/* the fields below, and on */
	struct bkfs_pt *open;
} pt = { .fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

/* The open whose reply this thread writes next. */
static __thread struct {
	uint64_t fh;
	int id;
} armed;

/* The node of the OPEN request this thread read last (0: another). */
static __thread uint64_t opening;

static ssize_t pt_read(int fd, void *buf, size_t len, void *userdata)
{
	const struct pt_in_header *in = buf;
	const struct pt_init_in *init;
	ssize_t n;

	(void)userdata;
	n = read(fd, buf, len);
	armed.id = 0;
	opening = n >= (ssize_t)sizeof(*in) && in->opcode == PT_OP_OPEN ?
		  in->nodeid : 0;
	if (n >= (ssize_t)(sizeof(*in) + sizeof(*init)) &&
	    in->opcode == PT_OP_INIT) {
		init = (const void *)(in + 1);
		pthread_mutex_lock(&pt.lock);
		__atomic_store_n(&pt.init_unique, in->unique,
				 __ATOMIC_RELAXED);
		pt.offered = (init->flags & PT_INIT_EXT) &&
			     (init->flags2 & PT_FLAGS2_PASSTHROUGH);
		pthread_mutex_unlock(&pt.lock);
	}
	return n;
}

/* Requests read by splice are never INIT; an OPEN read so is not passed
 * through (its node is not seen).  libfuse 3.14's high-level API does not
 * splice for this file system (it has no write_buf), but would with it. */
static ssize_t pt_splice_receive(int fdin, off_t *offin, int fdout,
				 off_t *offout, size_t len, unsigned int flags,
				 void *userdata)
{
	(void)userdata;
	armed.id = 0;
	opening = 0;
	return splice(fdin, offin, fdout, offout, len, flags);
}

/* Whether the ioctl that registers backing files is ours to use. */
static int sys_admin(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d))
		return 0;
	return (d[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &
		CAP_TO_MASK(CAP_SYS_ADMIN)) != 0;
}

static void patch_init(struct iovec *iov, int count)
{
	struct pt_init_out *out;

	if (count != 2 || iov[1].iov_len < sizeof(*out))
		return;
	out = iov[1].iov_base;
	if (!pt.offered) {
		bkfs_log(LOG_INFO, "archives are read through the daemon: the kernel offers no FUSE passthrough (Linux 6.9 and CONFIG_FUSE_PASSTHROUGH have it)");
		return;
	}
	if (out->flags & PT_FLAGS_WRITEBACK_CACHE) {
		bkfs_log(LOG_INFO, "archives are read through the daemon: FUSE passthrough excludes the writeback cache");
		return;
	}
	/* Accepting it would cost the mount a level of stacking for
	 * nothing: each registration would fail with EPERM. */
	if (!sys_admin()) {
		bkfs_log(LOG_INFO, "archives are read through the daemon: FUSE passthrough needs CAP_SYS_ADMIN, which a daemon run as root has");
		return;
	}
	out->flags |= PT_INIT_EXT;
	out->flags2 |= PT_FLAGS2_PASSTHROUGH;
	out->max_stack_depth = 1;
	pt.on = 1;
	bkfs_log(LOG_INFO, "archives are read by the kernel (FUSE passthrough)");
}

static ssize_t pt_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	const struct pt_out_header *h = iov[0].iov_base;
	struct pt_open_out *open;
	uint64_t init;

	(void)userdata;
	/* an OPEN's reply (only OPEN requests are armed): a fuse_open_out */
	if (armed.id && count == 2 && h->error == 0 &&
	    iov[1].iov_len == sizeof(*open)) {
		open = iov[1].iov_base;
		if (open->fh == armed.fh) {
			open->open_flags = (open->open_flags |
					    PT_FOPEN_PASSTHROUGH) &
					   PT_FOPEN_MASK;
			open->backing_id = armed.id;
		}
	}
	armed.id = 0;
	init = __atomic_load_n(&pt.init_unique, __ATOMIC_RELAXED);
	if (init && h->unique == init) {
		pthread_mutex_lock(&pt.lock);
		if (h->unique == pt.init_unique && h->error == 0)
			patch_init(iov, count);
		__atomic_store_n(&pt.init_unique, 0, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&pt.lock);
	}
	return writev(fd, iov, count);
}

int bkfs_pt_setup(struct fuse_session *se, int wanted)
{
	static const struct fuse_custom_io io = {
		.read = pt_read,
		.writev = pt_writev,
		.splice_receive = pt_splice_receive,
	};

	pt.fd = fuse_session_fd(se);
	if (!wanted)
		return 0;
	return fuse_session_custom_io(se, &io, pt.fd) ? -1 : 0;
}

/* A backing id for the file open as fd, or 0. */
static int backing_open(int fd, const char *path)
{
	struct pt_backing_map map = { .fd = fd };
	int id, r;

	r = bk_fault("pt.backing");	/* tests: a refusal */
	if (r) {
		errno = -r;
		id = -1;
	} else {
		id = ioctl(pt.fd, PT_IOC_BACKING_OPEN, &map);
	}
	if (id > 0)
		return id;
	if (!pt.said) {
		pt.said = 1;
		bkfs_log(LOG_NOTICE,
			 "archives are read through the daemon: the kernel refused passthrough for %s: %s",
			 path, strerror(errno));
	}
	return 0;
}

int bkfs_pt_open(const char *path, int fd, struct bkfs_pt **out)
{
	uint64_t nodeid = opening;
	struct bkfs_pt *p;
	struct stat st;
	int ret = 0;

	*out = NULL;
	opening = 0;
	if (!nodeid)
		return 0;	/* not an OPEN seen: through the daemon */
	pthread_mutex_lock(&pt.lock);
	if (!pt.on || fstat(fd, &st) < 0)
		goto out;
	for (p = pt.open; p; p = p->next)
		if (p->nodeid == nodeid)
			break;
	if (p && p->id && (p->dev != st.st_dev || p->ino != st.st_ino)) {
		ret = -EBUSY;
		goto out;
	}
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p) {
			ret = -ENOMEM;
			goto out;
		}
		p->nodeid = nodeid;
		p->dev = st.st_dev;
		p->ino = st.st_ino;
		p->id = backing_open(fd, path);
		p->next = pt.open;
		pt.open = p;
	}
	p->refs++;
	*out = p;
out:
	pthread_mutex_unlock(&pt.lock);
	return ret;
}

void bkfs_pt_arm(struct bkfs_pt *p, uint64_t fh)
{
	armed.fh = fh;
	armed.id = p ? p->id : 0;
}

void bkfs_pt_close(struct bkfs_pt *p)
{
	struct bkfs_pt **pp;
	uint32_t id;

	if (!p)
		return;
	pthread_mutex_lock(&pt.lock);
	if (--p->refs) {
		pthread_mutex_unlock(&pt.lock);
		return;
	}
	for (pp = &pt.open; *pp != p; pp = &(*pp)->next)
		;
	*pp = p->next;
	id = (uint32_t)p->id;
	if (id && ioctl(pt.fd, PT_IOC_BACKING_CLOSE, &id) < 0)
		bkfs_log(LOG_WARNING, "closing a passthrough (id %u): %s", id,
			 strerror(errno));
	pthread_mutex_unlock(&pt.lock);
	free(p);
}
