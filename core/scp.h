/* scp.h - transfers of system backups off the appliance over SFTP or SCP
 * (libssh), through named connections, with the appliance's own SSH key.
 *
 * Issue 5.  Connections, the appliance's key pair and the transfer records
 * live in the state directory (migration 5 of store.c).
 */
#ifndef BK_SCP_H
#define BK_SCP_H

#include <sys/types.h>

#include "engine.h"

/* Starts, in the background, a transfer of the Completed system backup
 * backup_id.  req: JSON text, {"connection": NAME} or a connection's fields
 * inline (see docs/OPERATIONS.md).  -EINVAL with the reason for a bad
 * request, an unknown connection or a backup that is not a Completed
 * system backup.  *xfer_id_out (may be NULL): the transfer's id (new). */
int bk_scp_start(struct bk_engine *e, const char *backup_id, const char *req,
		 uid_t uid, char **xfer_id_out, struct bk_err *err);

#endif
