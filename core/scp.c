/* scp.c - placeholder until issue 5's transfers land: refuses. */
#include "scp.h"

#include <errno.h>

int bk_scp_start(struct bk_engine *e, const char *backup_id, const char *req,
		 uid_t uid, char **xfer_id_out, struct bk_err *err)
{
	(void)e;
	(void)backup_id;
	(void)req;
	(void)uid;
	if (xfer_id_out)
		*xfer_id_out = NULL;
	return bk_errf(err, -ENOSYS, "SCP transfers are not built yet");
}
