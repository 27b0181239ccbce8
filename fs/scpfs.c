/* scpfs.c - the SCP/SFTP nodes: the appliance's public key and its
 * rotation, connections, and transfers of system backups (core/scp.h).
 *
 * Access: reading needs the system scope's "see" (core/access.c);
 * rotating the key and managing connections need its key management
 * (admin), transferring a backup needs its backup action (backup-admin
 * too).  A control file refuses in act(), so the reason lands in status
 * like every other refusal.
 */
#include "scpfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <json-c/json.h>

#include "core/scp.h"

static int allowed(int action, const char *what, struct bk_err *err)
{
	if (bkfs_allowed(action, NULL))
		return 0;
	return bk_errf(err, -EACCES, "not authorized to %s in the system "
		       "scope", what);
}

/* ---- binders and listers ---- */

int bkfs_scp_bind_conn(struct bkfs_node *n, const char *comp)
{
	if (bk_conn_json(bkfs.engine, comp, NULL, NULL, NULL))
		return -ENOENT;
	snprintf(n->name, sizeof(n->name), "%s", comp);
	return 0;
}

/* The engine calls back with its lock held: collect, then add. */
static int collect(void *arg, const char *s)
{
	return json_object_array_add(arg, json_object_new_string(s)) ?
	       -ENOMEM : 0;
}

static int add_all(const struct bkfs_node *dir, const struct bkfs_row *row,
		   struct bkfs_lister *l, json_object *names,
		   const char *suffix)
{
	struct bkfs_node child;
	char comp[NAME_MAX + 1];
	size_t i;
	int r = 0;

	for (i = 0; !r && i < json_object_array_length(names); i++) {
		const char *s = json_object_get_string(
			json_object_array_get_idx(names, i));

		bkfs_child(dir, row, &child);
		snprintf(child.name, sizeof(child.name), "%s", s);
		snprintf(comp, sizeof(comp), "%s%s", s, suffix);
		r = bkfs_list_add(l, &child, comp);
	}
	json_object_put(names);
	return r;
}

int bkfs_scp_list_conns(const struct bkfs_node *dir,
			const struct bkfs_row *row, struct bkfs_lister *l)
{
	json_object *names = json_object_new_array();
	int r = bk_conn_names(bkfs.engine, collect, names, NULL);

	if (r) {
		json_object_put(names);
		return r;
	}
	return add_all(dir, row, l, names, "");
}

int bkfs_scp_bind_xfer(struct bkfs_node *n, const char *comp)
{
	size_t len = strlen(comp);

	if (len != 32 + 5 || strcmp(comp + 32, ".json"))
		return -ENOENT;
	snprintf(n->name, sizeof(n->name), "%.32s", comp);
	if (bk_scp_status_json(bkfs.engine, n->id, n->name, NULL, NULL, NULL))
		return -ENOENT;
	return 0;
}

int bkfs_scp_list_xfers(const struct bkfs_node *dir,
			const struct bkfs_row *row, struct bkfs_lister *l)
{
	json_object *ids = json_object_new_array();
	int r = bk_scp_ids(bkfs.engine, dir->id, collect, ids, NULL);

	if (r) {
		json_object_put(ids);
		return r;
	}
	return add_all(dir, row, l, ids, ".json");
}

int bkfs_scp_exists_status(const struct bkfs_node *n)
{
	return n->has_domain ? -ENOENT : 0;
}

/* ---- contents ---- */

/* r and s from an engine call whose text ends in "\n". */
static int take(int r, char *s, char **buf, size_t *len)
{
	if (r || !s) {
		free(s);
		return r ? r : -EIO;
	}
	*buf = s;
	*len = strlen(s);
	return 0;
}

int bkfs_scp_public_key(const struct bkfs_node *n, char **buf, size_t *len)
{
	char *s = NULL;
	int r = bk_scp_public_key(bkfs.engine, &s, NULL);

	(void)n;
	return take(r, s, buf, len);
}

int bkfs_scp_conn_json(const struct bkfs_node *n, char **buf, size_t *len)
{
	char *s = NULL;
	int r = bk_conn_json(bkfs.engine, n->name, &s, NULL, NULL);

	return take(r, s, buf, len);
}

int bkfs_scp_xfer_json(const struct bkfs_node *n, char **buf, size_t *len)
{
	char *s = NULL;
	int r = bk_scp_status_json(bkfs.engine, n->id, n->name, &s, NULL, NULL);

	return take(r, s, buf, len);
}

static const char usage_rotate[] =
"# Write anything here to replace the appliance's SSH key pair:\n"
"#   echo yes > rotate\n"
"# The old key stops working at once: put the new public-key line into\n"
"# ~/.ssh/authorized_keys at every destination.\n";

static const char usage_create[] =
"# Write a JSON object here to create an SCP/SFTP connection, e.g.\n"
"#   echo '{\"name\": \"offsite\", \"host\": \"backup.example.com\",\n"
"#          \"port\": 22, \"username\": \"ksbackup\", \"auth_method\": \"key\",\n"
"#          \"path_to\": \"/srv/backups\", \"protocol\": \"sftp\",\n"
"#          \"public_key\": \"ssh-ed25519 AAAA... (the host's key)\"}' > create\n"
"# auth_method \"password\" takes \"password\" (kept wrapped, never shown).\n";

static const char usage_test[] =
"# Write anything here to test the connection (connect, check the pinned\n"
"# host key, log in, create and remove a file in path_to):\n"
"#   echo yes > test\n"
"# The write fails if the test fails; the result is \"lastTest\" in\n"
"# connection.json.\n";

static const char usage_transfer[] =
"# Write a JSON object here to copy this system backup off the appliance:\n"
"#   echo '{\"connection\": \"offsite\"}' > scp\n"
"# or a connection's fields inline (host, port, username, auth_method,\n"
"# password, path_to, public_key, protocol).  Progress and result:\n"
"# scp-status/<transfer-id>.json (kept 4 days).\n";

int bkfs_scp_usage(const struct bkfs_node *n, char **buf, size_t *len)
{
	switch (n->row->kind) {
	case K_SCP_ROTATE:
		return bkfs_text(usage_rotate, buf, len);
	case K_CONN_CREATE:
		return bkfs_text(usage_create, buf, len);
	case K_CONN_TEST:
		return bkfs_text(usage_test, buf, len);
	default:
		return bkfs_text(usage_transfer, buf, len);
	}
}

/* ---- actions ---- */

int bkfs_scp_act_rotate(const struct bkfs_node *n, uid_t uid,
			const char *req, struct bk_err *err)
{
	int r = allowed(BK_ACT_KEYS, "rotate the SSH key", err);

	(void)req;
	if (!r)
		r = bk_scp_rotate(bkfs.engine, uid, err);
	if (!r)
		bkfs_log(LOG_INFO, "uid %u: %s: SSH key pair rotated",
			 (unsigned)uid, n->path);
	return r;
}

int bkfs_scp_act_create(const struct bkfs_node *n, uid_t uid,
			const char *req, struct bk_err *err)
{
	char *name = NULL;
	int r = allowed(BK_ACT_KEYS, "manage connections", err);

	if (!r)
		r = bk_conn_create(bkfs.engine, req, uid, &name, err);
	if (!r)
		bkfs_log(LOG_INFO, "uid %u: %s: connection %s created",
			 (unsigned)uid, n->path, name);
	free(name);
	return r;
}

int bkfs_scp_act_test(const struct bkfs_node *n, uid_t uid, const char *req,
		      struct bk_err *err)
{
	int r = allowed(BK_ACT_KEYS, "test connections", err);

	(void)req;
	if (!r)
		r = bk_conn_test(bkfs.engine, n->name, uid, err);
	bkfs_log(LOG_INFO, "uid %u: %s: connection test %s", (unsigned)uid,
		 n->path, r ? "failed" : "passed");
	return r;
}

int bkfs_scp_act_transfer(const struct bkfs_node *n, uid_t uid,
			  const char *req, struct bk_err *err)
{
	char *id = NULL;
	int r;

	if (n->has_domain)
		return bk_errf(err, -EINVAL, "SCP transfers system backups "
			       "only");
	r = allowed(BK_ACT_BACKUP, "transfer backups", err);
	if (!r)
		r = bk_scp_start(bkfs.engine, n->id, req, uid, &id, err);
	if (!r)
		bkfs_log(LOG_INFO, "uid %u: %s: transfer %s started",
			 (unsigned)uid, n->path, id);
	free(id);
	return r;
}

int bkfs_scp_remove_conn(const struct bkfs_node *n, uid_t uid,
			 struct bk_err *err)
{
	int r = allowed(BK_ACT_KEYS, "manage connections", err);

	if (!r)
		r = bk_conn_delete(bkfs.engine, n->name, uid, err);
	if (!r)
		bkfs_log(LOG_INFO, "uid %u: %s: connection deleted",
			 (unsigned)uid, n->path);
	return r;
}
