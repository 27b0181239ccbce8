/* hsm.c - hsm/ of the mounted tree (issue 4): the root of trust's status
 * and its rotation and activation while mounted.  The engine does the
 * work (core/hsm_op.c); writing rotate or activate needs the right to
 * manage the root of trust (BK_ACT_HSM: the owners and admin), checked
 * at open (ops.c). */
#include "bkfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "core/hsm.h"

int bkfs_content_hsm_status(const struct bkfs_node *n, char **buf,
			    size_t *len)
{
	struct bk_err err = { 0, "" };
	char *json = NULL;
	int r;

	(void)n;
	r = bk_hsm_status(bkfs.engine, &json, &err);
	if (r) {
		bkfs_log(LOG_WARNING, "hsm/status.json: %s", err.msg);
		return r;
	}
	*buf = NULL;
	r = asprintf(buf, "%s\n", json);
	free(json);
	if (r < 0)
		return -ENOMEM;
	*len = (size_t)r;
	return 0;
}

int bkfs_usage_hsm_rotate(const struct bkfs_node *n, char **buf, size_t *len)
{
	(void)n;
	return bkfs_text(
"# Write {} here to rotate the root of trust: a new key is created on the\n"
"# HSM token, made active, and every secret at rest is re-wrapped under it\n"
"# in one transaction (the old key stays on the token, inactive).\n"
"#   echo '{}' > rotate\n"
"# It runs as an operation (see status, wait); refused (EBUSY) while a\n"
"# backup or restore runs.  Needs an HSM root of trust.\n", buf, len);
}

int bkfs_usage_hsm_activate(const struct bkfs_node *n, char **buf,
			    size_t *len)
{
	(void)n;
	return bkfs_text(
"# Write {\"keyId\": \"ID\"} here to make key ID of the token (see\n"
"# status.json) the active root-of-trust key, re-wrapping every secret\n"
"# at rest under it, e.g. to restore backups tied to it again.\n"
"#   echo '{\"keyId\": \"0123456789abcdef\"}' > activate\n"
"# It runs as an operation (see status, wait).  Needs an HSM.\n", buf, len);
}

static int act(int activate, const struct bkfs_node *n, uid_t uid,
	       const char *req, struct bk_err *err)
{
	int r = bk_hsm_request(bkfs.engine, activate, req, uid, err);

	if (!r)
		bkfs_log(LOG_INFO, "uid %u: %s: %s of the root of trust started",
			 (unsigned)uid, n->path, activate ? "activation" :
			 "rotation");
	return r;
}

int bkfs_act_hsm_rotate(const struct bkfs_node *n, uid_t uid,
			const char *req, struct bk_err *err)
{
	return act(0, n, uid, req, err);
}

int bkfs_act_hsm_activate(const struct bkfs_node *n, uid_t uid,
			  const char *req, struct bk_err *err)
{
	return act(1, n, uid, req, err);
}
