/* scpfs.h - the SCP/SFTP nodes of the mounted tree (scpfs.c), named by
 * table.c's rows:
 *
 *   scp/public-key, scp/rotate
 *   connections/scp/create, connections/scp/<name>/{connection.json,test}
 *   <scope>/backups/<id>/scp, system/backups/<id>/scp-status/<xfer>.json
 */
#ifndef BKFS_SCPFS_H
#define BKFS_SCPFS_H

#include "bkfs.h"

int bkfs_scp_bind_conn(struct bkfs_node *n, const char *comp);
int bkfs_scp_list_conns(const struct bkfs_node *dir,
			const struct bkfs_row *row, struct bkfs_lister *l);
int bkfs_scp_bind_xfer(struct bkfs_node *n, const char *comp);
int bkfs_scp_list_xfers(const struct bkfs_node *dir,
			const struct bkfs_row *row, struct bkfs_lister *l);
/* scp-status/ exists under system backups only. */
int bkfs_scp_exists_status(const struct bkfs_node *n);

int bkfs_scp_public_key(const struct bkfs_node *n, char **buf, size_t *len);
int bkfs_scp_conn_json(const struct bkfs_node *n, char **buf, size_t *len);
int bkfs_scp_xfer_json(const struct bkfs_node *n, char **buf, size_t *len);
/* The usage text of the control files (by the node's kind). */
int bkfs_scp_usage(const struct bkfs_node *n, char **buf, size_t *len);

int bkfs_scp_act_rotate(const struct bkfs_node *n, uid_t uid,
			const char *req, struct bk_err *err);
int bkfs_scp_act_create(const struct bkfs_node *n, uid_t uid,
			const char *req, struct bk_err *err);
int bkfs_scp_act_test(const struct bkfs_node *n, uid_t uid, const char *req,
		      struct bk_err *err);
int bkfs_scp_act_transfer(const struct bkfs_node *n, uid_t uid,
			  const char *req, struct bk_err *err);
int bkfs_scp_remove_conn(const struct bkfs_node *n, uid_t uid,
			 struct bk_err *err);

#endif
