/* backups_int.h - shared by backups.c and restore.c. */
#ifndef BK_BACKUPS_INT_H
#define BK_BACKUPS_INT_H

#include "engine_int.h"

void bk_archive_path(struct bk_engine *e, long long seq, const char *suffix,
		     char *buf, size_t len);
int bk_fsync_dir(const char *dir);
void bk_report_path(struct bk_engine *e, long long seq, char *buf, size_t len);
int bk_backup_row_update(struct bk_store *s, long long seq, const char *status,
			 const char *message, long long size,
			 const char *header, struct bk_err *err);
int bk_backup_insert(struct bk_engine *e, const char *domain, const char *id,
		     const char *status, const char *created_at,
		     long long epoch, const char *pv, const char *desc,
		     const char *key, int tied, long long size,
		     const char *header, const char *origin, long long *seq,
		     struct bk_err *err);

#endif
