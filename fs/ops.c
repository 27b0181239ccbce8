/* ops.c - the FUSE operations: parse the path, then do what the node's
 * row (table.c) says.  No decisions about the tree's shape live here.
 *
 * Errors: read-only nodes refuse writes with EACCES; mkdir, unlink and
 * rmdir of what cannot go EPERM; xattrs do not exist (ENODATA, never
 * ENOSYS, which would turn them off for the whole mount).
 */
#include "bkfs.h"
#include "dir.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <unistd.h>

/* An open file. */
struct fh {
	enum bkfs_io io;
	char *path;			/* for getattr(NULL path) */
	uid_t uid;			/* the opener (release has none) */
	pid_t owner;			/* the opener's process (tgid) */
	char *buf;			/* generated content, usage text */
	size_t len;
	int fd;				/* IO_ARCHIVE */
	struct bkfs_pt *pt;		/* IO_ARCHIVE: its passthrough */
	struct bkfs_ctl *ctl;		/* IO_CTL_*, IO_PASS */
	struct bkfs_sfh *sfh;		/* IO_STAGED */
	const struct bkfs_row *row;	/* IO_STREAM */
};

static struct fh *fh_of(struct fuse_file_info *fi)
{
	return fi ? (struct fh *)(uintptr_t)fi->fh : NULL;
}

static uid_t caller(void)
{
	struct fuse_context *c = fuse_get_context();

	return c ? c->uid : bkfs.uid;
}

static void fh_free(struct fh *h)
{
	if (!h)
		return;
	bkfs_pt_close(h->pt);
	if (h->fd >= 0)
		close(h->fd);
	if (h->buf) {
		if (h->io == IO_EXPORT)
			explicit_bzero(h->buf, h->len);
		free(h->buf);
	}
	bkfs_ctl_free(h->ctl);
	free(h->path);
	free(h);
}

static struct fh *fh_new(enum bkfs_io io, const char *path)
{
	struct fh *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->io = io;
	h->fd = -1;
	h->uid = caller();
	h->owner = bkfs_caller_process();
	h->path = strdup(path);
	if (!h->path) {
		free(h);
		return NULL;
	}
	return h;
}

/* Splits an entry's path into its box path and name (node parsed). */
static void box_of(const struct bkfs_node *n, char *box, size_t sz)
{
	char *slash;

	snprintf(box, sz, "%s", n->path);
	slash = strrchr(box, '/');
	if (slash)
		*slash = '\0';
}

static int is_box(const struct bkfs_node *n)
{
	enum bkfs_kind k = n->row->kind;

	return k == K_UPLOAD || k == K_RESTORE || k == K_KEY_UPLOAD;
}

static int is_ctl(const struct bkfs_node *n)
{
	enum bkfs_io io = n->row->io;

	return io == IO_CTL_JSON || io == IO_CTL_ANY || io == IO_PASS;
}

/* ---- attributes ---- */

static int op_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	struct fh *h = fh_of(fi);
	struct bkfs_node n;
	int r;

	if (h && h->sfh)
		return bkfs_sfh_stat(h->sfh, st);
	if (!path && !h)
		return -ESTALE;
	r = bkfs_parse(path ? path : h->path, &n);
	if (r)
		return r;
	return bkfs_stat(&n, st);
}

static int op_readlink(const char *path, char *buf, size_t size)
{
	struct bkfs_node n;
	char *t = NULL;
	size_t len = 0;
	int r;

	r = bkfs_parse(path, &n);
	if (r)
		return r;
	if (n.row->io != IO_LINK)
		return -EINVAL;
	r = n.row->content(&n, &t, &len);
	if (r)
		return r;
	if (size) {
		if (len >= size)
			len = size - 1;
		memcpy(buf, t, len);
		buf[len] = '\0';
	}
	free(t);
	return 0;
}

static int attr_target(const char *path, struct fuse_file_info *fi,
		       struct bkfs_node *n, struct bkfs_sfh **sfh,
		       char *box, size_t boxsz)
{
	struct fh *h = fh_of(fi);
	int r;

	*sfh = h ? h->sfh : NULL;
	if (*sfh)
		return 0;
	r = bkfs_parse(path ? path : (h ? h->path : NULL), n);
	if (r)
		return r;
	if (n->row->kind == K_STAGED)
		box_of(n, box, boxsz);
	return 0;
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct bkfs_node n;
	struct bkfs_sfh *sfh;
	char box[PATH_MAX];
	int r = attr_target(path, fi, &n, &sfh, box, sizeof(box));

	if (r)
		return r;
	if (sfh || n.row->kind == K_STAGED)
		return bkfs_box_chmod(box, n.name, sfh, mode);
	if (is_box(&n))
		return 0;	/* rsync -a dir/ box/, tar x: a no-op */
	return -EPERM;
}

static int op_chown(const char *path, uid_t uid, gid_t gid,
		    struct fuse_file_info *fi)
{
	struct bkfs_node n;
	struct bkfs_sfh *sfh;
	char box[PATH_MAX];
	int r = attr_target(path, fi, &n, &sfh, box, sizeof(box));

	if (r)
		return r;
	if (sfh || n.row->kind == K_STAGED)
		return bkfs_box_chown(box, n.name, sfh, uid, gid);
	if (is_box(&n))
		return 0;	/* rsync -a dir/ box/, tar x: a no-op */
	return -EPERM;
}

static int op_utimens(const char *path, const struct timespec tv[2],
		      struct fuse_file_info *fi)
{
	struct bkfs_node n;
	struct bkfs_sfh *sfh;
	char box[PATH_MAX];
	int r = attr_target(path, fi, &n, &sfh, box, sizeof(box));

	if (r)
		return r;
	if (sfh || n.row->kind == K_STAGED)
		return bkfs_box_utimens(box, n.name, sfh, tv);
	if (is_ctl(&n) || is_box(&n))
		return 0;	/* touch on a control file, rsync -a into a
				 * box: harmless no-ops */
	return -EACCES;
}

/* echo > ctl: O_TRUNC arrives here (maybe without a handle): no-op. */
static int op_truncate(const char *path, off_t size,
		       struct fuse_file_info *fi)
{
	struct bkfs_node n;
	struct bkfs_sfh *sfh;
	char box[PATH_MAX];
	int r = attr_target(path, fi, &n, &sfh, box, sizeof(box));

	if (r)
		return r;
	if (sfh || n.row->kind == K_STAGED)
		return bkfs_box_truncate(box, n.name, sfh, size);
	if (is_ctl(&n))
		return size == 0 ? 0 : -EINVAL;
	if (n.row->io == IO_DIR)
		return -EISDIR;
	return -EACCES;
}

/* ---- names ---- */

static int op_mknod(const char *path, mode_t mode, dev_t dev)
{
	struct bkfs_node box;
	const char *base;

	(void)mode;
	(void)dev;
	if (bkfs_parse_parent(path, &box, &base) == 0 && is_box(&box))
		return -EPERM;		/* only regular files, via create */
	return -EACCES;
}

static int op_mkdir(const char *path, mode_t mode)
{
	(void)path;
	(void)mode;
	return -EPERM;
}

static int op_unlink(const char *path)
{
	struct bkfs_node box, n;
	const char *base;
	int r;

	r = bkfs_parse_parent(path, &box, &base);
	if (r)
		return r;
	if (is_box(&box)) {
		r = bkfs_check(&box, bkfs_box_action(&box));
		return r ? r : bkfs_box_unlink(&box, base);
	}
	r = bkfs_parse(path, &n);
	if (r)
		return r;
	return n.row->io == IO_DIR ? -EISDIR : -EPERM;
}

static int op_rmdir(const char *path)
{
	struct bk_err err = { 0, "" };
	struct bkfs_node n;
	uid_t uid = caller();
	int r;

	r = bkfs_parse(path, &n);
	if (r)
		return r;
	if (n.row->io != IO_DIR)
		return -ENOTDIR;
	if (!n.row->remove)
		return -EPERM;
	r = bkfs_check(&n, n.row->kind == K_KEY ? BK_ACT_KEYS : BK_ACT_DELETE);
	if (r)
		return r;
	r = n.row->remove(&n, uid, &err);
	if (r)
		bkfs_refuse(uid, n.path, -r, "%s",
			    err.msg[0] ? err.msg : strerror(-r));
	return r;
}

static int op_symlink(const char *target, const char *path)
{
	(void)target;
	(void)path;
	return -EACCES;
}

static int op_link(const char *from, const char *to)
{
	(void)from;
	(void)to;
	return -EACCES;
}

static int op_rename(const char *from, const char *to, unsigned int flags)
{
	struct bkfs_node fbox, tbox;
	const char *fbase, *tbase;
	int r;

	r = bkfs_parse_parent(from, &fbox, &fbase);
	if (r)
		return r;
	r = bkfs_parse_parent(to, &tbox, &tbase);
	if (r)
		return r;
	if (is_box(&fbox) && is_box(&tbox)) {
		if (strcmp(fbox.path, tbox.path))
			return -EXDEV;	/* each box processes its own */
		r = bkfs_check(&tbox, bkfs_box_action(&tbox));
		if (r)
			return r;
		return bkfs_box_rename(&fbox, fbase, tbase, flags, caller());
	}
	if (is_box(&fbox) || is_box(&tbox))
		return -EXDEV;		/* mv falls back to copying */
	return -EACCES;
}

/* ---- files ---- */

/* The policy's word on opening n (0 or -EACCES, recorded): reading a
 * control file never acts, so only writers need the action's role. */
static int open_check(const struct bkfs_node *n, int acc)
{
	struct bkfs_node box;
	const char *base;

	switch (n->row->kind) {
	case K_BACKUPS_CREATE:
		return acc == O_RDONLY ? 0 : bkfs_check(n, BK_ACT_BACKUP);
	case K_BACKUP_RESTORE:
		return acc == O_RDONLY ? 0 : bkfs_check(n, BK_ACT_RESTORE);
	case K_KEYS_CREATE:
	case K_KEY_DEFAULT:
		return acc == O_RDONLY ? 0 : bkfs_check(n, BK_ACT_KEYS);
	case K_HSM_ROTATE:
	case K_HSM_ACTIVATE:
		return acc == O_RDONLY ? 0 : bkfs_check(n, BK_ACT_HSM);
	case K_ARCHIVE:
		return bkfs_check(n, BK_ACT_BACKUP);
	case K_KEY_EXPORT:
		return bkfs_check(n, BK_ACT_KEYS);
	case K_STAGED:
		if (bkfs_parse_parent(n->path, &box, &base))
			return -ENOENT;
		return bkfs_check(&box, bkfs_box_action(&box));
	default:
		return 0;
	}
}

static int open_node(const struct bkfs_node *n, struct fuse_file_info *fi,
		     struct fh **out)
{
	int acc = fi->flags & O_ACCMODE;
	const struct bkfs_row *row = n->row;
	struct bk_err err = { 0, "" };
	struct fh *h;
	int r = 0;

	switch (row->io) {
	case IO_DIR:
		return -EISDIR;
	case IO_LINK:
		return -ELOOP;
	case IO_PASS:
		if (acc != O_WRONLY)
			return -EACCES;	/* write-only */
		break;
	case IO_CONTENT:
	case IO_WAIT:
	case IO_ARCHIVE:
	case IO_EXPORT:
	case IO_STREAM:
		if (acc != O_RDONLY || (fi->flags & O_TRUNC))
			return -EACCES;
		break;
	default:
		break;
	}
	r = open_check(n, acc);
	if (r)
		return r;
	h = fh_new(row->io, n->path);
	if (!h)
		return -ENOMEM;
	switch (row->io) {
	case IO_WAIT:
		if (!(fi->flags & O_NONBLOCK))
			bk_status_wait(bkfs.engine);
		/* fall through */
	case IO_CONTENT:
	case IO_CTL_JSON:
	case IO_CTL_ANY:
		r = row->content(n, &h->buf, &h->len);
		fi->direct_io = 1;
		if (!r && row->io != IO_CONTENT && row->io != IO_WAIT) {
			h->ctl = bkfs_ctl_new(n);
			if (!h->ctl)
				r = -ENOMEM;
		}
		break;
	case IO_PASS:
		h->ctl = bkfs_ctl_new(n);
		if (!h->ctl)
			r = -ENOMEM;
		fi->direct_io = 1;
		break;
	case IO_ARCHIVE:
		h->fd = open(n->backup.archive_path, O_RDONLY | O_CLOEXEC);
		if (h->fd < 0)
			r = -errno;
		else
			r = bkfs_pt_open(n->path, h->fd, &h->pt);
		if (r == -EBUSY)
			bkfs_refuse(h->uid, n->path, EBUSY,
				    "the archive was replaced while an open of the one it replaced lasts (the kernel reads both under one name): close that one first");
		fi->keep_cache = 1;	/* archives never change */
		break;
	case IO_EXPORT:
		r = bk_key_export(bkfs.engine, bkfs_dom(n), n->id, h->uid,
				  (uint8_t **)&h->buf, &h->len, &err);
		if (r)
			bkfs_refuse(h->uid, n->path, -r, "%s",
				    err.msg[0] ? err.msg : strerror(-r));
		fi->direct_io = 1;
		break;
	case IO_STREAM:		/* reads stop at the size of open */
		h->row = row;
		r = row->stream_size(&h->len);
		fi->direct_io = 1;
		break;
	case IO_STAGED: {
		struct bkfs_node box;
		const char *base;

		r = bkfs_parse_parent(n->path, &box, &base);
		if (!r)
			r = bkfs_box_open(&box, base, fi->flags, &h->sfh);
		break;
	}
	default:
		r = -EACCES;
	}
	if (r) {
		fh_free(h);
		return r;
	}
	*out = h;
	return 0;
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	struct bkfs_node n;
	struct fh *h;
	int r;

	r = bkfs_parse(path, &n);
	if (r)
		return r;
	r = open_node(&n, fi, &h);
	if (r)
		return r;
	fi->fh = (uint64_t)(uintptr_t)h;
	bkfs_pt_arm(h->pt, fi->fh);	/* libfuse answers next */
	return 0;
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct bkfs_node box, n;
	const char *base;
	struct fh *h;
	int r;

	r = bkfs_parse_parent(path, &box, &base);
	if (r)
		return r;
	if (!is_box(&box)) {
		if (bkfs_parse(path, &n) == 0)
			return op_open(path, fi);	/* it exists */
		return -EACCES;
	}
	if (!S_ISREG(mode) && (mode & S_IFMT))
		return -EPERM;
	r = bkfs_check(&box, bkfs_box_action(&box));
	if (r)
		return r;
	h = fh_new(IO_STAGED, path);
	if (!h)
		return -ENOMEM;
	r = bkfs_box_create(&box, base, mode, fi->flags, &h->sfh);
	if (r) {
		fh_free(h);
		return r;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	return 0;
}

static int op_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct fh *h = fh_of(fi);
	ssize_t n;

	(void)path;
	if (!h)
		return -EBADF;
	switch (h->io) {
	case IO_ARCHIVE:
		n = pread(h->fd, buf, size, off);
		return n < 0 ? -errno : (int)n;
	case IO_STAGED:
		return bkfs_sfh_read(h->sfh, buf, size, off);
	case IO_PASS:
		return -EACCES;
	case IO_STREAM:
		if (off < 0 || (size_t)off >= h->len)
			return 0;
		if (size > h->len - (size_t)off)
			size = h->len - (size_t)off;
		return h->row->stream_read(buf, size, off);
	default:
		if (off < 0)
			return -EINVAL;
		if ((size_t)off >= h->len)
			return 0;	/* EOF: direct_io needs it */
		if (size > h->len - (size_t)off)
			size = h->len - (size_t)off;
		memcpy(buf, h->buf + off, size);
		return (int)size;
	}
}

static int op_write(const char *path, const char *buf, size_t size,
		    off_t off, struct fuse_file_info *fi)
{
	struct fh *h = fh_of(fi);

	(void)path;
	if (!h)
		return -EBADF;
	if (h->sfh)
		return bkfs_sfh_write(h->sfh, buf, size, off);
	if (h->ctl)
		return bkfs_ctl_write(h->ctl, buf, size, caller());
	return -EBADF;
}

/* flush runs at every close(2) of a descriptor of the handle, also in
 * children that inherited it: `{ cat a; cat b; } > f` flushes when the
 * first cat exits.  Only the opener's close completes a request or an
 * upload; the others' are no-ops (release is the fallback). */
static int op_flush(const char *path, struct fuse_file_info *fi)
{
	struct fh *h = fh_of(fi);

	(void)path;
	if (!h || bkfs_caller_process() != h->owner)
		return 0;
	if (h->sfh)
		return bkfs_sfh_flush(h->sfh, caller());
	if (h->ctl)
		return bkfs_ctl_flush(h->ctl, caller());
	return 0;
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
	struct fh *h = fh_of(fi);

	(void)path;
	if (!h)
		return 0;
	/* release carries no credentials: the opener's; its result reaches
	 * no one, so this only completes what no flush did */
	if (h->sfh)
		bkfs_sfh_release(h->sfh, h->uid);
	if (h->ctl)
		bkfs_ctl_flush(h->ctl, h->uid);
	fh_free(h);
	return 0;
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct fh *h = fh_of(fi);

	(void)path;
	if (h && h->sfh)
		return bkfs_sfh_fsync(h->sfh, datasync);
	return 0;
}

/* ---- directories ---- */

/* ---- the rest ---- */

static int op_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	if (statvfs(bkfs.state_dir, sv))
		return -errno;
	sv->f_namemax = NAME_MAX;
	return 0;
}

static int op_access(const char *path, int mask)
{
	struct bkfs_node n;
	struct fuse_context *c = fuse_get_context();
	mode_t mode, bits;
	uid_t owner = bkfs.uid;
	int r;

	r = bkfs_parse(path, &n);
	if (r)
		return r;
	if (mask == F_OK)
		return 0;
	if (n.row->kind == K_STAGED) {
		struct stat st;

		r = bkfs_stat(&n, &st);
		if (r)
			return r;
		mode = st.st_mode;
		owner = st.st_uid;
	} else {
		mode = n.row->mode;
	}
	if (c && c->uid == 0)		/* root: what any class may */
		bits = ((mode >> 6) | (mode >> 3) | mode) & 7;
	else if (c && c->uid == owner)
		bits = (mode >> 6) & 7;
	else
		bits = mode & 7;
	return ((unsigned)mask & ~bits) ? -EACCES : 0;
}

/* No extended attributes.  ENOSYS makes the kernel remember that and
 * answer every later getxattr itself (EOPNOTSUPP) instead of asking: `ls
 * -l` asks three (two ACLs, the SELinux label) per entry, which were
 * three round trips through the daemon each (docs/PERFORMANCE.md). */
static int op_getxattr(const char *path, const char *name, char *value,
		       size_t size)
{
	(void)path;
	(void)name;
	(void)value;
	(void)size;
	return -ENOSYS;
}

static int op_listxattr(const char *path, char *list, size_t size)
{
	(void)path;
	(void)list;
	(void)size;
	return 0;
}

static int op_setxattr(const char *path, const char *name, const char *value,
		       size_t size, int flags)
{
	(void)path;
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	return -ENOTSUP;
}

static int op_removexattr(const char *path, const char *name)
{
	(void)path;
	(void)name;
	return -ENODATA;
}

/* Files are always ready.  Also keeps libfuse 3.14 from leaking the poll
 * handle it allocates before finding no poll operation (Go programs such
 * as rclone poll regular files). */
static int op_poll(const char *path, struct fuse_file_info *fi,
		   struct fuse_pollhandle *ph, unsigned *reventsp)
{
	(void)path;
	if (ph)
		fuse_pollhandle_destroy(ph);
	*reventsp |= fi->poll_events & (POLLIN | POLLOUT | POLLRDNORM |
					POLLWRNORM);
	return 0;
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	cfg->use_ino = 1;
	if (!bkfs.user_entry_timeout)
		cfg->entry_timeout = 1.0;
	if (!bkfs.user_attr_timeout)
		cfg->attr_timeout = 1.0;
	if (!bkfs.user_negative_timeout)
		cfg->negative_timeout = 0;
	cfg->hard_remove = 1;
	cfg->nullpath_ok = 0;
	if (bkfs.max_read)
		conn->max_read = bkfs.max_read;
	/* Always READDIRPLUS: in "auto" mode the kernel sends it for the
	 * first buffer of a listing only, and `ls -l` then costs a LOOKUP
	 * per entry; with it the entries come with their attributes. */
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	bkfs_log(LOG_INFO, "mounted (entry_timeout=%g attr_timeout=%g)",
		 cfg->entry_timeout, cfg->attr_timeout);
	return NULL;
}

static void op_destroy(void *data)
{
	(void)data;
	bkfs_box_cleanup();
}

const struct fuse_operations bkfs_ops = {
	.getattr	= op_getattr,
	.readlink	= op_readlink,
	.mknod		= op_mknod,
	.mkdir		= op_mkdir,
	.unlink		= op_unlink,
	.rmdir		= op_rmdir,
	.symlink	= op_symlink,
	.rename		= op_rename,
	.link		= op_link,
	.chmod		= op_chmod,
	.chown		= op_chown,
	.truncate	= op_truncate,
	.open		= op_open,
	.read		= op_read,
	.write		= op_write,
	.statfs		= op_statfs,
	.flush		= op_flush,
	.release	= op_release,
	.fsync		= op_fsync,
	.setxattr	= op_setxattr,
	.getxattr	= op_getxattr,
	.listxattr	= op_listxattr,
	.removexattr	= op_removexattr,
	.opendir	= bkfs_opendir,
	.readdir	= bkfs_readdir,
	.releasedir	= bkfs_releasedir,
	.init		= op_init,
	.destroy	= op_destroy,
	.access		= op_access,
	.create		= op_create,
	.utimens	= op_utimens,
	.poll		= op_poll,
};
