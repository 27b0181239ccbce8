/* stat.c - the attributes of a node of the mounted tree: its mode and
 * owner from its row, its size and times from what it stands for.
 */
#include "bkfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void bkfs_stat_base(const struct bkfs_node *n, struct stat *st, time_t mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = n->row->mode;
	st->st_nlink = S_ISDIR(n->row->mode) ? 2 : 1;
	st->st_uid = bkfs.uid;
	st->st_gid = bkfs.gid;
	st->st_ino = bk_path_ino(n->path);
	st->st_blksize = 4096;
	st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = mtime;
}

int bkfs_stat(const struct bkfs_node *n, struct stat *st)
{
	const struct bkfs_row *r = n->row;
	time_t mtime = bkfs.start_time;
	char *buf = NULL;
	size_t len = 0;
	int ret;

	if (r->size == SZ_STAGED) {
		char box[PATH_MAX];
		char *slash;

		snprintf(box, sizeof(box), "%s", n->path);
		slash = strrchr(box, '/');
		if (slash)
			*slash = '\0';
		return bkfs_box_stat(box, n->name, n->path, st);
	}
	switch (r->mtime) {
	case MT_NOW:
		mtime = time(NULL);
		break;
	case MT_BACKUP:
		mtime = (time_t)n->backup.created_epoch;
		break;
	case MT_KEY:
		mtime = (time_t)n->key_epoch;
		break;
	case MT_REPORT: {
		long long epoch = 0;

		bk_backup_report_json(bkfs.engine, bkfs_dom(n), n->id, NULL,
				      &epoch, NULL);
		mtime = (time_t)epoch;
		break;
	}
	default:
		break;
	}
	bkfs_stat_base(n, st, mtime);
	switch (r->size) {
	case SZ_CONTENT:
		ret = r->content(n, &buf, &len);
		if (ret)
			return ret;
		free(buf);
		break;
	case SZ_ARCHIVE:
		len = n->backup.size > 0 ? (size_t)n->backup.size : 0;
		st->st_blksize = BKFS_IO_BLKSIZE;
		break;
	case SZ_EXPORT:
		ret = bk_key_export_size(bkfs.engine, bkfs_dom(n), n->id, &len,
					 NULL);
		if (ret)
			return ret;
		break;
	case SZ_STREAM:
		ret = r->stream_size(&len);
		if (ret)
			return ret;
		break;
	default:
		break;
	}
	st->st_size = (off_t)len;
	st->st_blocks = (blkcnt_t)((len + 511) / 512);
	return 0;
}
