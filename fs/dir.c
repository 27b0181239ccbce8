/* dir.c - opendir, readdir and releasedir of the mount.
 *
 * A listing is made once per opendir (and again at offset 0) and then
 * handed out in pieces with offsets: libfuse passes the attributes of
 * READDIRPLUS entries to the kernel only for fillers given offsets, and
 * without them `ls -l` of 10,000 backups makes 10,000 LOOKUPs
 * (docs/PERFORMANCE.md).
 */
#include "bkfs.h"
#include "dir.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct dirent_rec {
	char *name;
	struct stat st;
	int plus;
};

struct dirh {
	struct dirent_rec *v;
	size_t n, cap;
	int err;
	int built;
};

static void dirh_clear(struct dirh *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].name);
	d->n = 0;
	d->err = 0;
}

static int dirh_add(void *buf, const char *name, const struct stat *st,
		    off_t off, enum fuse_fill_dir_flags flags)
{
	struct dirh *d = buf;
	struct dirent_rec *e;

	(void)off;
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 64;
		struct dirent_rec *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			goto nomem;
		d->v = v;
		d->cap = cap;
	}
	e = &d->v[d->n];
	e->name = strdup(name);
	if (!e->name)
		goto nomem;
	if (st)
		e->st = *st;
	else
		memset(&e->st, 0, sizeof(e->st));
	e->plus = st && (flags & FUSE_FILL_DIR_PLUS);
	d->n++;
	return 0;
nomem:
	d->err = -ENOMEM;
	return 1;
}

int bkfs_opendir(const char *path, struct fuse_file_info *fi)
{
	struct bkfs_node n;
	struct dirh *d;
	int r;

	r = bkfs_parse(path, &n);
	if (r)
		return r;
	if (n.row->io != IO_DIR)
		return -ENOTDIR;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	fi->fh = (uint64_t)(uintptr_t)d;
	return 0;
}

int bkfs_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
		 off_t off, struct fuse_file_info *fi,
		 enum fuse_readdir_flags flags)
{
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;
	int plus = !!(flags & FUSE_READDIR_PLUS);
	struct bkfs_node n;
	size_t i;
	int r;

	if (!d)
		return -EBADF;
	if (off < 0)
		return -EINVAL;
	if (off == 0 || !d->built) {
		dirh_clear(d);
		r = bkfs_parse(path, &n);
		if (!r)
			r = bkfs_list(&n, d, dirh_add, plus);
		if (!r)
			r = d->err;
		if (r) {
			dirh_clear(d);
			return r;
		}
		d->built = 1;
	}
	for (i = (size_t)off; i < d->n; i++) {
		struct dirent_rec *e = &d->v[i];

		if (filler(buf, e->name, &e->st, (off_t)(i + 1),
			   plus && e->plus ? FUSE_FILL_DIR_PLUS : 0))
			break;
	}
	return 0;
}

int bkfs_releasedir(const char *path, struct fuse_file_info *fi)
{
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;

	(void)path;
	if (d) {
		dirh_clear(d);
		free(d->v);
		free(d);
	}
	return 0;
}

