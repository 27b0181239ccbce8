/* fault.c - fault injection for tests (see fault.h).  Not a feature: no
 * production configuration sets BACKUPFS_FAULT. */
#include "fault.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char point_name[128];	/* empty: no fault configured */
static long fire_at = 1;
static int fire_errno = EIO;	/* 0: kill */
static int stall;		/* wait for $BACKUPFS_FAULT_RELEASE */
static atomic_long calls;

static void parse(void)
{
	const char *env = getenv("BACKUPFS_FAULT");
	char buf[256], *save = NULL, *tok;

	if (!env || !*env || strlen(env) >= sizeof(buf))
		return;
	snprintf(buf, sizeof(buf), "%s", env);
	tok = strtok_r(buf, ":", &save);
	if (!tok || strlen(tok) >= sizeof(point_name))
		return;
	while ((tok = strtok_r(NULL, ":", &save))) {
		char *end;
		long n = strtol(tok, &end, 10);

		if (!*end && n > 0)
			fire_at = n;
		else if (!strcmp(tok, "kill"))
			fire_errno = 0;
		else if (!strcmp(tok, "stall"))
			stall = 1;
		else if (!strcmp(tok, "EIO"))
			fire_errno = EIO;
		else if (!strcmp(tok, "ENOSPC"))
			fire_errno = ENOSPC;
		else if (!strcmp(tok, "EDQUOT"))
			fire_errno = EDQUOT;
		else if (!strcmp(tok, "EROFS"))
			fire_errno = EROFS;
		else {
			fprintf(stderr, "BACKUPFS_FAULT: ignoring \"%s\"\n", env);
			return;
		}
	}
	snprintf(point_name, sizeof(point_name), "%s",
		 strtok_r(strcpy(buf, env), ":", &save));
	fprintf(stderr, "BACKUPFS_FAULT: call %ld of %s will %s (test only)\n",
		fire_at, point_name, stall ? "stall" :
		fire_errno ? strerror(fire_errno) : "kill");
}

int bk_fault(const char *point)
{
	pthread_once(&once, parse);
	if (!point_name[0] || strcmp(point, point_name))
		return 0;
	if (atomic_fetch_add(&calls, 1) + 1 != fire_at)
		return 0;
	if (stall) {
		const char *release = getenv("BACKUPFS_FAULT_RELEASE");

		fprintf(stderr, "BACKUPFS_FAULT: %s stalls\n", point);
		for (int i = 0; i < 6000 && release &&
		     access(release, F_OK) < 0; i++)
			usleep(50 * 1000);
		return 0;
	}
	if (!fire_errno) {
		fprintf(stderr, "BACKUPFS_FAULT: killed at %s\n", point);
		kill(getpid(), SIGKILL);
		pause();
	}
	fprintf(stderr, "BACKUPFS_FAULT: %s fails with %s\n", point,
		strerror(fire_errno));
	return -fire_errno;
}
