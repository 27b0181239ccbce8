/* scp.h - transfers of system backups off the appliance over SFTP or SCP
 * (libssh), through named connections, with the appliance's own SSH key.
 *
 * Issue 5.  Connections, the appliance's key pair and the transfer records
 * live in the state directory (migration 5 of store.c):
 *   scp_identity.wrapped      the private key, wrapped by the root of trust
 *   scp_connections.password  a connection's password, wrapped likewise
 * Neither is part of a backup; both survive a restore.
 *
 *   sshkey.c  the appliance's ed25519 key pair (public line, rotation)
 *   conn.c    named connections (create, JSON, test, delete)
 *   ssh.c     one libssh session: connect, host key pinning, auth, upload
 *   scp.c     transfers: background threads, records, status, pruning
 */
#ifndef BK_SCP_H
#define BK_SCP_H

#include <sys/types.h>

#include "engine.h"

/* Transfer records are kept this long after they finish (then pruned;
 * the audit trail keeps the record). */
#define BK_SCP_KEEP_SECONDS (4 * 24 * 3600)

/* Starts, in the background, a transfer of the Completed system backup
 * backup_id.  req: JSON text, {"connection": NAME} or a connection's fields
 * inline (see docs/OPERATIONS.md).  -EINVAL with the reason for a bad
 * request, an unknown connection or a backup that is not a Completed
 * system backup.  *xfer_id_out (may be NULL): the transfer's id (new). */
int bk_scp_start(struct bk_engine *e, const char *backup_id, const char *req,
		 uid_t uid, char **xfer_id_out, struct bk_err *err);

/* 1 if a transfer of backup_id by e runs (its id in xfer_id), else 0:
 * such a backup is not deleted (by hand or by a schedule's retention). */
int bk_scp_sending(struct bk_engine *e, const char *backup_id, char *xfer_id,
		   size_t size);

/* cb gets the id of each transfer of backup_id still kept, oldest first
 * (with the store lock held: collect only). */
int bk_scp_ids(struct bk_engine *e, const char *backup_id,
	       int (*cb)(void *arg, const char *id), void *arg,
	       struct bk_err *err);
/* The transfer's status JSON: {"id", "backupId", "connection",
 * "destination", "protocol", "status" (In Progress | Completed | Failed),
 * "bytes", "total", "progress", "started", "finished", "reason"}, with
 * "\n".
 * *json (may be NULL) new; *epoch (may be NULL) its start.  -ENOENT if
 * absent or pruned. */
int bk_scp_status_json(struct bk_engine *e, const char *backup_id,
		       const char *id, char **json, long long *epoch,
		       struct bk_err *err);

/* Daemon start: transfers left In Progress by a stopped daemon become
 * Failed, old records are pruned, the key pair is made if missing. */
void bk_scp_recover(struct bk_engine *e);
/* Engine close: running transfers are stopped (Failed, "cancelled") and
 * their threads joined. */
void bk_scp_shutdown(struct bk_engine *e);

/* ---- the appliance's key pair (sshkey.c) ---- */
/* Its public key as an authorized_keys line ("ssh-ed25519 AAAA...
 * backupfs\n"), made on first use.  *line new. */
int bk_scp_public_key(struct bk_engine *e, char **line, struct bk_err *err);
/* Replaces the key pair with a new one: the old one stops working. */
int bk_scp_rotate(struct bk_engine *e, uid_t uid, struct bk_err *err);

/* ---- connections (conn.c) ---- */
/* req: {"name", "host", "port", "username", "auth_method", "password",
 * "path_to", "public_key", "protocol"}.  -EINVAL with the reason, -EEXIST
 * if the name is taken. */
int bk_conn_create(struct bk_engine *e, const char *req, uid_t uid,
		   char **name_out, struct bk_err *err);
/* cb gets each name, sorted (store lock held: collect only). */
int bk_conn_names(struct bk_engine *e, int (*cb)(void *arg, const char *n),
		  void *arg, struct bk_err *err);
/* connection.json (never the password), with "lastTest" once tested,
 * with "\n".
 * *json (may be NULL) new; *epoch (may be NULL) its creation.  -ENOENT if
 * absent. */
int bk_conn_json(struct bk_engine *e, const char *name, char **json,
		 long long *epoch, struct bk_err *err);
int bk_conn_delete(struct bk_engine *e, const char *name, uid_t uid,
		   struct bk_err *err);
/* Connects, checks the pinned host key, authenticates and opens the
 * destination; the result goes into connection.json's "lastTest" ({"time",
 * "ok", "reason"}).  0 if it worked, else the failure (EHOSTUNREACH,
 * EKEYREJECTED, EACCES, ENOENT, EIO) with the reason. */
int bk_conn_test(struct bk_engine *e, const char *name, uid_t uid,
		 struct bk_err *err);

#endif
