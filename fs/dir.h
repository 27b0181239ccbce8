/* dir.h - directories of the mount (dir.c). */
#ifndef BKFS_DIR_H
#define BKFS_DIR_H

#include "bkfs.h"

int bkfs_opendir(const char *path, struct fuse_file_info *fi);
int bkfs_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
		 off_t off, struct fuse_file_info *fi,
		 enum fuse_readdir_flags flags);
int bkfs_releasedir(const char *path, struct fuse_file_info *fi);

#endif
