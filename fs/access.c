/* access.c - who is calling, and what the access policy lets them see and
 * do (core/access.c decides; this file asks it about nodes).
 *
 * Seeing: a caller without any role sees an empty root and gets EACCES
 * for every path below it, whatever exists; for a caller with a role, a
 * node it may not see does not exist (ENOENT at lookup, absent from
 * listings).  Either way names are never revealed.  Acting:
 * a visible node whose action the caller may not do fails with EACCES,
 * recorded with bkfs_refuse() (lastError in status, an audit record).
 */
#include "bkfs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define BKFS_MAX_GROUPS 256

/* The last caller of this thread: FUSE threads serve one request at a
 * time, and a listing asks about every entry. */
static __thread struct {
	int valid;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	time_t when;
	int ngroups;
	gid_t groups[BKFS_MAX_GROUPS];
} cache;

/* The caller of the current request; the daemon itself (always allowed)
 * outside one. */
static void get_caller(struct bk_caller *c)
{
	struct fuse_context *fc = fuse_get_context();
	struct timespec now;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &now);
	memset(c, 0, sizeof(*c));
	if (!fc || !fc->fuse) {
		c->uid = bkfs.uid;
		c->gid = bkfs.gid;
		return;
	}
	c->uid = fc->uid;
	c->gid = fc->gid;
	if (!cache.valid || cache.pid != fc->pid || cache.uid != fc->uid ||
	    cache.gid != fc->gid || cache.when != now.tv_sec) {
		n = fuse_getgroups(BKFS_MAX_GROUPS, cache.groups);
		if (n < 0)
			n = 0;		/* primary group only */
		if (n > BKFS_MAX_GROUPS)
			n = BKFS_MAX_GROUPS;
		cache.ngroups = n;
		cache.pid = fc->pid;
		cache.uid = fc->uid;
		cache.gid = fc->gid;
		cache.when = now.tv_sec;
		cache.valid = 1;
	}
	c->groups = cache.groups;
	c->ngroups = cache.ngroups;
}

/* The process (thread group) of a request's thread id: FUSE requests
 * carry the calling thread's id.  The pid itself if /proc cannot say. */
pid_t bkfs_caller_process(void)
{
	struct fuse_context *c = fuse_get_context();
	char path[64], line[128];
	pid_t tgid;
	FILE *f;

	if (!c || c->pid <= 0)
		return 0;
	tgid = c->pid;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)c->pid);
	f = fopen(path, "re");
	if (!f)
		return tgid;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

int bkfs_allowed(int action, const char *domain)
{
	struct bk_caller c;

	get_caller(&c);
	return bk_access_allowed(bkfs.engine, &c, action, domain);
}

int bkfs_visible(const struct bkfs_node *n)
{
	switch (n->row->kind) {
	case K_ROOT:
		return 1;
	case K_README:
	case K_STATUS:
	case K_WAIT:
	case K_APPLIANCE:
	case K_PASSPHRASE:
		return bkfs_allowed(BK_ACT_SEE_ANY, NULL);
	case K_DOMAINS:
		return bkfs_allowed(BK_ACT_SEE_DOMAINS, NULL);
	case K_RESOURCES:
	case K_RESTYPE:
	case K_RESOURCE:
		return bkfs_allowed(BK_ACT_RESOURCES, bkfs_dom(n));
	default:
		return bkfs_allowed(BK_ACT_SEE, bkfs_dom(n));
	}
}

static const char *act_name(int action)
{
	switch (action) {
	case BK_ACT_BACKUP:
		return "create backups";
	case BK_ACT_RESTORE:
		return "restore backups";
	case BK_ACT_KEYS:
		return "manage backup keys";
	case BK_ACT_DELETE:
		return "delete backups";
	case BK_ACT_HSM:
		return "rotate or activate the root of trust";
	default:
		return "do this";
	}
}

int bkfs_check(const struct bkfs_node *n, int action)
{
	struct fuse_context *fc = fuse_get_context();
	uid_t uid = fc ? fc->uid : bkfs.uid;

	if (bkfs_allowed(action, bkfs_dom(n)))
		return 0;
	if (n->has_domain)
		bkfs_refuse(uid, n->path, EACCES, "not authorized to %s in "
			    "domain %s", act_name(action), n->domain);
	else
		bkfs_refuse(uid, n->path, EACCES, "not authorized to %s in "
			    "the system scope", act_name(action));
	return -EACCES;
}

int bkfs_box_action(const struct bkfs_node *box)
{
	switch (box->row->kind) {
	case K_RESTORE:
		return BK_ACT_RESTORE;
	case K_KEY_UPLOAD:
		return BK_ACT_KEYS;
	default:
		return BK_ACT_BACKUP;
	}
}
