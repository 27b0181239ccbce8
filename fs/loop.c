/* loop.c - the multithreaded loop, through libfuse 3.12's loop config.
 *
 * The rest of fs/ uses FUSE_USE_VERSION 35, whose struct fuse_loop_config
 * has no max_threads: libfuse 3.14 then logs "Ignoring invalid max threads
 * value 4294967295".  This file alone asks for the 3.12 API to set it. */
#define FUSE_USE_VERSION 312
#include "bkfs.h"

#include <fuse_lowlevel.h>
#include <string.h>

#define BKFS_DEFAULT_MAX_THREADS 32	/* `cat wait` holds a thread */

int bkfs_parse_cmdline(struct fuse_args *args, struct bkfs_cmdline *cl)
{
	struct fuse_cmdline_opts o;
	int i, given = 0;

	for (i = 0; i < args->argc; i++)
		if (strstr(args->argv[i], "max_threads="))
			given = 1;
	memset(&o, 0, sizeof(o));
	if (fuse_parse_cmdline(args, &o))
		return -1;
	memset(cl, 0, sizeof(*cl));
	cl->mountpoint = o.mountpoint;
	cl->foreground = o.foreground;
	cl->debug = o.debug;
	cl->singlethread = o.singlethread;
	cl->clone_fd = o.clone_fd;
	cl->max_idle_threads = o.max_idle_threads;
	cl->max_threads = given ? o.max_threads : BKFS_DEFAULT_MAX_THREADS;
	return 0;
}

int bkfs_loop(struct fuse *f, const struct bkfs_cmdline *cl)
{
	struct fuse_loop_config *cfg;
	int r;

	if (cl->singlethread)
		return fuse_loop(f);
	cfg = fuse_loop_cfg_create();
	if (!cfg)
		return -1;
	fuse_loop_cfg_set_clone_fd(cfg, (unsigned)cl->clone_fd);
	if (cl->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(cfg, cl->max_idle_threads);
	fuse_loop_cfg_set_max_threads(cfg, cl->max_threads);
	r = fuse_loop_mt(f, cfg);
	fuse_loop_cfg_destroy(cfg);
	return r;
}
