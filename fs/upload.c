/* upload.c - upload boxes (backups/upload/, backups/restore/,
 * backupkeys/upload/).
 *
 * A file created in a box is a staged entry: an in-memory record (name,
 * mode, owner, times, writers) whose data lives in a staging file under
 * the engine's staging directory (created O_EXCL, 0600), never in memory.
 * An entry whose name does not begin with '.' and does not end in
 * ".partial" or ".tmp" is processed when its last writer closes it (in
 * flush, so the verdict reaches close(2)) or, with no writer left, when it
 * is renamed to such a name (the verdict reaches rename(2)).  Processing
 * hands the staging file to the engine.  Accepted: the entry stays as a
 * receipt that stats and reads as the archive (or the key file), so that
 * rsync's chmod/utimens after the rename and a second rsync run see it.
 * Refused: the staging file and the entry are removed.
 *
 * Locking: one mutex for the table; engine calls run without it.  An
 * entry is reference counted (the table and each open handle hold one),
 * so that unlink and rename cannot free it under a handle.
 */
#include "upload_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#define KEYFILE_MAX	(64 * 1024)

pthread_mutex_t up_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t up_idle = PTHREAD_COND_INITIALIZER;
struct bkfs_staged *up_head;

int up_processable(const char *name)
{
	size_t n = strlen(name);

	if (name[0] == '.')
		return 0;
	if (n >= 8 && !strcmp(name + n - 8, ".partial"))
		return 0;
	if (n >= 4 && !strcmp(name + n - 4, ".tmp"))
		return 0;
	return 1;
}

struct timespec up_now(void)
{
	struct timespec ts = { time(NULL), 0 };

	return ts;
}

struct bkfs_staged *up_find(const char *boxpath, const char *name)
{
	struct bkfs_staged *e;

	for (e = up_head; e; e = e->next)
		if (e->linked && !strcmp(e->boxpath, boxpath) &&
		    !strcmp(e->name, name))
			return e;
	return NULL;
}

void up_check_reset(struct bkfs_staged *e)
{
	bk_upcheck_free(e->check);
	e->check = NULL;
	e->contig = 0;
}

void up_check_wrote(struct bkfs_staged *e, off_t off, size_t n)
{
	if (e->box == K_KEY_UPLOAD || !n)
		return;
	if (off == 0 && !e->contig && !e->check && e->spath &&
	    bk_upcheck_start(bkfs.engine, e->domain, e->spath, &e->check))
		e->check = NULL;	/* no memory: the full pass will do */
	if (off < e->contig) {
		if (e->check)
			bk_upcheck_spoil(e->check);
	} else if (off == e->contig) {
		e->contig = off + (off_t)n;
		if (e->check)
			bk_upcheck_advance(e->check, (uint64_t)e->contig);
	}
}

void up_check_truncated(struct bkfs_staged *e, off_t size)
{
	if (!size)
		up_check_reset(e);	/* written again from the start */
	else if (size < e->contig && e->check)
		bk_upcheck_spoil(e->check);
}

void up_unref(struct bkfs_staged *e)
{
	if (--e->refs)
		return;
	bk_upcheck_free(e->check);
	if (e->fd >= 0)
		close(e->fd);
	free(e->boxpath);
	free(e->domain);
	free(e->name);
	free(e->spath);
	free(e->result);
	free(e);
}

/* Drops the staging file (if any) and takes e out of the table. */
static void remove_entry(struct bkfs_staged *e)
{
	struct bkfs_staged **pp;

	up_check_reset(e);
	if (e->spath) {
		unlink(e->spath);
		free(e->spath);
		e->spath = NULL;
	}
	if (e->fd >= 0) {
		close(e->fd);
		e->fd = -1;
	}
	if (!e->linked)
		return;
	for (pp = &up_head; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	e->linked = 0;
	up_unref(e);
}

static int new_staging_file(char **spath, int *fd)
{
	const char *dir = bk_engine_staging_dir(bkfs.engine);
	char *t;

	if (asprintf(&t, "%s/fs-XXXXXX", dir) < 0)
		return -ENOMEM;
	*fd = mkostemp(t, O_CLOEXEC);	/* O_EXCL, 0600 */
	if (*fd < 0) {
		int r = -errno;

		bkfs_log(LOG_ERR, "cannot create a staging file in %s: %s",
			 dir, strerror(errno));
		free(t);
		return r;
	}
	*spath = t;
	return 0;
}

static void entry_path(const struct bkfs_staged *e, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", e->boxpath, e->name);
}

/* ---- processing ---- */

static int read_keyfile(int fd, char **buf, size_t *len)
{
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st))
		return -errno;
	if (st.st_size <= 0 || st.st_size > KEYFILE_MAX)
		return -EINVAL;
	*buf = malloc((size_t)st.st_size);
	if (!*buf)
		return -ENOMEM;
	n = pread(fd, *buf, (size_t)st.st_size, 0);
	if (n != st.st_size) {
		free(*buf);
		*buf = NULL;
		return n < 0 ? -errno : -EIO;
	}
	*len = (size_t)n;
	return 0;
}

/* See upload_int.h. */
int up_process(struct bkfs_staged *e, uid_t uid)
{
	struct bk_err err = { 0, "" };
	char path[PATH_MAX], *id = NULL, *buf = NULL;
	struct bk_upcheck *check;
	size_t len = 0;
	int r, early;

	e->state = ST_PROCESSING;
	e->refs++;
	while (e->inflight)
		pthread_cond_wait(&up_idle, &up_lock);
	entry_path(e, path, sizeof(path));
	check = e->check;
	e->check = NULL;
	e->contig = 0;
	pthread_mutex_unlock(&up_lock);

	if (e->box == K_KEY_UPLOAD) {
		r = read_keyfile(e->fd, &buf, &len);
		if (r == -EINVAL)
			bk_errf(&err, r, "not a backup key file (empty or "
				"larger than %d KiB)", KEYFILE_MAX / 1024);
		if (!r)
			r = bk_key_import(bkfs.engine, e->domain, buf, len,
					  uid, &id, &err);
		if (buf) {
			explicit_bzero(buf, len);
			free(buf);
		}
	} else {
		r = bk_upload_archive(bkfs.engine, e->domain, e->spath,
				      e->box == K_RESTORE, uid, check, &id,
				      &err);
	}
	early = bk_upcheck_used(check);
	bk_upcheck_free(check);

	if (!r) {
		if (e->box == K_KEY_UPLOAD)
			bkfs_log(LOG_INFO, "uid %u: %s: imported as backup key "
				 "%s", (unsigned)uid, path, id ? id : "?");
		else
			bkfs_log(LOG_INFO, "uid %u: %s: uploaded as backup %s%s%s",
				 (unsigned)uid, path, id ? id : "?",
				 early ? " (authenticated as it arrived)" : "",
				 e->box == K_RESTORE ?
				 ", restore started" : "");
	} else {
		if (id)
			bkfs_log(LOG_INFO, "uid %u: %s: kept as backup %s",
				 (unsigned)uid, path, id);
		bkfs_refuse(uid, path, -r, "%s",
			    err.msg[0] ? err.msg : strerror(-r));
	}

	pthread_mutex_lock(&up_lock);
	if (!r) {
		e->state = ST_DONE;
		e->result = id;
		id = NULL;
		if (e->box == K_KEY_UPLOAD) {
			e->size = (off_t)len;	/* the file stays as is */
		} else {
			/* the engine moved the file into the archives */
			free(e->spath);
			e->spath = NULL;
			close(e->fd);
			e->fd = -1;
		}
	} else {
		e->state = ST_FAILED;
		remove_entry(e);
	}
	free(id);
	pthread_cond_broadcast(&up_idle);
	up_unref(e);
	return r;
}

/* ---- lookups, listing, stat ---- */

int bkfs_box_lookup(const struct bkfs_node *box, const char *name)
{
	int r;

	pthread_mutex_lock(&up_lock);
	r = up_find(box->path, name) ? 0 : -ENOENT;
	pthread_mutex_unlock(&up_lock);
	return r;
}

int bkfs_box_list(const struct bkfs_node *box, const struct bkfs_row *row,
		  struct bkfs_lister *l)
{
	struct bkfs_staged *e;
	struct bkfs_node child;
	char **names = NULL;
	size_t n = 0, i;
	int r = 0;

	pthread_mutex_lock(&up_lock);
	for (e = up_head; e; e = e->next)
		if (e->linked && !strcmp(e->boxpath, box->path))
			n++;
	names = calloc(n + 1, sizeof(*names));
	i = 0;
	for (e = up_head; names && e && i < n; e = e->next)
		if (e->linked && !strcmp(e->boxpath, box->path))
			names[i++] = strdup(e->name);
	pthread_mutex_unlock(&up_lock);
	if (!names)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (!names[i] || r)
			continue;
		bkfs_child(box, row, &child);
		snprintf(child.name, sizeof(child.name), "%s", names[i]);
		r = bkfs_list_add(l, &child, names[i]);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

/* Fills st from e (lock held); *backup_id gets the id whose archive gives
 * the size (done backup receipts), else "". */
static void snap_stat(struct bkfs_staged *e, struct stat *st,
		      char *backup_id, size_t idsz, char *dom, size_t domsz,
		      int *has_dom)
{
	struct stat fst;

	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | (e->mode & 07777);
	st->st_nlink = 1;
	st->st_uid = e->uid;
	st->st_gid = e->gid;
	st->st_blksize = BKFS_IO_BLKSIZE;
	st->st_atim = e->atime;
	st->st_mtim = e->mtime;
	st->st_ctim = e->ctime;
	st->st_size = e->size;
	backup_id[0] = '\0';
	*has_dom = e->domain != NULL;
	snprintf(dom, domsz, "%s", e->domain ? e->domain : "");
	if (e->fd >= 0 && !fstat(e->fd, &fst))
		st->st_size = fst.st_size;
	else if (e->state == ST_DONE && e->box != K_KEY_UPLOAD)
		snprintf(backup_id, idsz, "%s", e->result);
}

static int finish_stat(struct stat *st, const char *path, const char *id,
		       const char *dom, int has_dom)
{
	struct bk_backup_info info;

	if (id[0]) {
		if (bk_backup_get(bkfs.engine, has_dom ? dom : NULL, id, &info,
				  NULL))
			return -ENOENT;	/* deleted since: the receipt too */
		st->st_size = info.size;
	}
	st->st_ino = bk_path_ino(path);
	st->st_blocks = (st->st_size + 511) / 512;
	return 0;
}

int bkfs_box_stat(const char *boxpath, const char *name, const char *path,
		  struct stat *st)
{
	char id[128], dom[NAME_MAX + 1];
	struct bkfs_staged *e;
	int has_dom;

	pthread_mutex_lock(&up_lock);
	e = up_find(boxpath, name);
	if (e)
		snap_stat(e, st, id, sizeof(id), dom, sizeof(dom), &has_dom);
	pthread_mutex_unlock(&up_lock);
	if (!e)
		return -ENOENT;
	if (finish_stat(st, path, id, dom, has_dom) == 0)
		return 0;
	/* the receipt of a backup deleted since: it goes too */
	pthread_mutex_lock(&up_lock);
	e = up_find(boxpath, name);
	if (e && e->state == ST_DONE && e->result && !strcmp(e->result, id))
		remove_entry(e);
	pthread_mutex_unlock(&up_lock);
	return -ENOENT;
}

int bkfs_sfh_stat(struct bkfs_sfh *h, struct stat *st)
{
	char id[128], dom[NAME_MAX + 1], path[PATH_MAX];
	int has_dom;

	pthread_mutex_lock(&up_lock);
	snap_stat(h->st, st, id, sizeof(id), dom, sizeof(dom), &has_dom);
	entry_path(h->st, path, sizeof(path));
	pthread_mutex_unlock(&up_lock);
	if (finish_stat(st, path, id, dom, has_dom))
		st->st_size = 0;	/* open, but its backup is gone */
	return 0;
}

/* ---- create, open ---- */

static int writable(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY;
}

static struct bkfs_sfh *new_handle(struct bkfs_staged *e, int flags)
{
	struct bkfs_sfh *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->st = e;
	h->fd = -1;
	h->gen = e->gen;
	h->writer = writable(flags);
	return h;
}

int bkfs_box_create(const struct bkfs_node *box, const char *name,
		    mode_t mode, int flags, struct bkfs_sfh **out)
{
	struct fuse_context *ctx = fuse_get_context();
	struct bkfs_staged *e;
	struct bkfs_sfh *h;
	int r;

	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	pthread_mutex_lock(&up_lock);
	if (up_find(box->path, name)) {
		pthread_mutex_unlock(&up_lock);
		if (flags & O_EXCL)
			return -EEXIST;
		return bkfs_box_open(box, name, flags, out);
	}
	e = calloc(1, sizeof(*e));
	if (e)
		e->fd = -1;
	h = e ? new_handle(e, flags) : NULL;
	if (!e || !h) {
		r = -ENOMEM;
		goto fail;
	}
	e->box = box->row->kind;
	e->boxpath = strdup(box->path);
	e->name = strdup(name);
	e->domain = box->has_domain ? strdup(box->domain) : NULL;
	if (!e->boxpath || !e->name || (box->has_domain && !e->domain)) {
		r = -ENOMEM;
		goto fail;
	}
	r = new_staging_file(&e->spath, &e->fd);
	if (r)
		goto fail;
	h->fd = dup(e->fd);
	if (h->fd < 0) {
		r = -errno;
		goto fail;
	}
	e->mode = mode & 07777;
	e->uid = ctx ? ctx->uid : bkfs.uid;
	e->gid = ctx ? ctx->gid : bkfs.gid;
	e->atime = e->mtime = e->ctime = up_now();
	e->writers = h->writer;
	e->state = ST_STAGED;
	e->linked = 1;
	e->refs = 2;			/* the table and h */
	{
		struct bkfs_staged **pp = &up_head;

		while (*pp)
			pp = &(*pp)->next;
		*pp = e;
	}
	pthread_mutex_unlock(&up_lock);
	*out = h;
	return 0;
fail:
	if (e) {
		if (e->spath)
			unlink(e->spath);
		e->refs = 1;
		up_unref(e);
	}
	free(h);
	pthread_mutex_unlock(&up_lock);
	return r;
}

/* A receipt opened for writing becomes a new upload under its name. */
static int restage(struct bkfs_staged *e)
{
	char *spath;
	int fd, r;

	r = new_staging_file(&spath, &fd);
	if (r)
		return r;
	if (e->spath)
		unlink(e->spath);	/* a key receipt's kept file */
	free(e->spath);
	if (e->fd >= 0)
		close(e->fd);
	up_check_reset(e);
	e->spath = spath;
	e->fd = fd;
	free(e->result);
	e->result = NULL;
	e->size = 0;
	e->gen++;
	e->writers = 0;			/* older handles no longer count */
	e->state = ST_STAGED;
	e->mtime = e->ctime = up_now();
	return 0;
}

/* A lazy handle writes (or truncates): its receipt becomes a new upload.
 * Lock held. */
int up_restage_lazy(struct bkfs_sfh *h)
{
	struct bkfs_staged *e = h->st;
	int fd, r;

	if (!h->lazy || h->gen != e->gen || e->state != ST_DONE)
		return 0;
	r = restage(e);
	if (r)
		return r;
	fd = dup(e->fd);
	if (fd < 0)
		return -errno;
	if (h->fd >= 0)
		close(h->fd);
	h->fd = fd;
	h->gen = e->gen;
	h->lazy = 0;
	h->writer = 1;
	e->writers = 1;
	return 0;
}

int bkfs_box_open(const struct bkfs_node *box, const char *name, int flags,
		  struct bkfs_sfh **out)
{
	struct bk_backup_info info;
	struct bkfs_staged *e;
	struct bkfs_sfh *h = NULL;
	char id[128], dom[NAME_MAX + 1];
	int r = 0, has_dom, lazy = 0;

	pthread_mutex_lock(&up_lock);
	e = up_find(box->path, name);
	if (!e) {
		r = -ENOENT;
		goto out;
	}
	if (writable(flags)) {
		if (e->state == ST_PROCESSING) {
			r = -EBUSY;
			goto out;
		}
		if (e->state == ST_DONE) {
			if (flags & O_TRUNC)
				r = restage(e);	/* cp over a receipt */
			else
				lazy = 1;	/* touch, chmod through fd */
		} else if (flags & O_TRUNC) {
			if (ftruncate(e->fd, 0))
				r = -errno;
			else
				up_check_truncated(e, 0);
		}
		if (r)
			goto out;
	}
	h = new_handle(e, flags);
	if (!h) {
		r = -ENOMEM;
		goto out;
	}
	if (lazy) {
		h->writer = 0;
		h->lazy = 1;
	}
	if (e->fd >= 0) {
		h->fd = dup(e->fd);
		if (h->fd < 0) {
			r = -errno;
			goto out;
		}
		e->writers += h->writer;
		e->refs++;
		goto out;
	}
	/* a backup receipt: read the archive itself */
	snprintf(id, sizeof(id), "%s", e->result ? e->result : "");
	snprintf(dom, sizeof(dom), "%s", e->domain ? e->domain : "");
	has_dom = e->domain != NULL;
	e->refs++;
	pthread_mutex_unlock(&up_lock);
	r = bk_backup_get(bkfs.engine, has_dom ? dom : NULL, id, &info, NULL);
	if (!r && strcmp(info.status, "Completed"))
		r = -ENOENT;
	if (!r) {
		h->fd = open(info.archive_path, O_RDONLY | O_CLOEXEC);
		if (h->fd < 0)
			r = -errno;
	}
	pthread_mutex_lock(&up_lock);
	if (r)
		up_unref(e);
out:
	if (r) {
		if (h && h->fd >= 0)
			close(h->fd);
		free(h);
		h = NULL;
	}
	pthread_mutex_unlock(&up_lock);
	*out = h;
	return r;
}

/* ---- names ---- */

int bkfs_box_unlink(const struct bkfs_node *box, const char *name)
{
	struct bkfs_staged *e;
	int r = 0;

	pthread_mutex_lock(&up_lock);
	e = up_find(box->path, name);
	if (!e)
		r = -ENOENT;
	else if (e->state == ST_PROCESSING)
		r = -EBUSY;
	else
		remove_entry(e);
	pthread_mutex_unlock(&up_lock);
	return r;
}

int bkfs_box_rename(const struct bkfs_node *box, const char *from,
		    const char *to, unsigned flags, uid_t uid)
{
	struct bkfs_staged *e, *d;
	char *newname;
	int r = 0;

	if (flags & ~(unsigned)RENAME_NOREPLACE)
		return -EINVAL;
	if (!strcmp(to, ".") || !strcmp(to, ".."))
		return -EINVAL;
	pthread_mutex_lock(&up_lock);
	e = up_find(box->path, from);
	if (!e) {
		r = -ENOENT;
		goto out;
	}
	if (!strcmp(from, to))
		goto out;
	if (e->state == ST_PROCESSING) {
		r = -EBUSY;
		goto out;
	}
	d = up_find(box->path, to);
	if (d && (flags & RENAME_NOREPLACE)) {
		r = -EEXIST;
		goto out;
	}
	if (d && d->state == ST_PROCESSING) {
		r = -EBUSY;
		goto out;
	}
	newname = strdup(to);
	if (!newname) {
		r = -ENOMEM;
		goto out;
	}
	if (d)
		remove_entry(d);
	free(e->name);
	e->name = newname;
	e->ctime = up_now();
	if (e->state == ST_STAGED && e->writers == 0 && up_processable(to))
		r = up_process(e, uid);
out:
	pthread_mutex_unlock(&up_lock);
	return r;
}

void bkfs_box_cleanup(void)
{
	struct bkfs_staged *e;

	pthread_mutex_lock(&up_lock);
	while ((e = up_head))
		remove_entry(e);
	pthread_mutex_unlock(&up_lock);
}
