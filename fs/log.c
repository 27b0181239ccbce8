/* log.c - one line per event: stderr in the foreground, syslog otherwise.
 * Never given secrets (callers pass paths, ids and engine messages). */
#include "bkfs.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

static int log_foreground = 1;

static void fuse_log_to_us(enum fuse_log_level level, const char *fmt,
			   va_list ap)
{
	char line[1024];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	if (log_foreground)
		fprintf(stderr, "backupfs: fuse: %s\n", line);
	else
		syslog((int)level, "fuse: %s", line);
}

void bkfs_log_init(int foreground)
{
	log_foreground = foreground;
	if (!foreground)
		openlog("backupfs", LOG_PID, LOG_DAEMON);
	fuse_set_log_func(fuse_log_to_us);
}

void bkfs_log(int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_foreground)
		fprintf(stderr, "backupfs: %s\n", line);
	else
		syslog(prio, "%s", line);
}

void bkfs_refuse(uid_t uid, const char *path, int errnum, const char *fmt,
		 ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	bkfs_log(LOG_NOTICE, "uid %u: %s: refused (%s): %s", (unsigned)uid,
		 path ? path : "?", strerrorname_np(errnum) ?
		 strerrorname_np(errnum) : "error", msg);
	if (bkfs.engine)
		bk_note_refusal(bkfs.engine, uid, path, errnum, msg);
}
