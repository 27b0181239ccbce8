/* recover.c - start-up recovery (daemon only): what a crash or kill -9
 * left behind is made consistent before the first request. */
#include "backups_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Unlinks every file of dir (dot files aside) but those named
 * "<seq><suffix>" for which keep_sql, with ? bound to seq, has a row. */
static void prune_dir(sqlite3 *db, const char *dir, const char *suffix,
		      const char *keep_sql)
{
	sqlite3_stmt *st;
	DIR *d = opendir(dir);

	if (!d)
		return;
	for (struct dirent *de; (de = readdir(d));) {
		char path[4096], *end;
		long long seq;
		int keep = 0;

		if (de->d_name[0] == '.')
			continue;
		seq = strtoll(de->d_name, &end, 10);
		if (!strcmp(end, suffix) &&
		    sqlite3_prepare_v2(db, keep_sql, -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, seq);
			keep = sqlite3_step(st) == SQLITE_ROW;
			sqlite3_finalize(st);
		}
		if (!keep) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
	}
	closedir(d);
}

int bk_backups_recover(struct bk_engine *e, struct bk_err *err)
{
	sqlite3 *db = bk_store_db(e->store);
	DIR *d;
	int ret;

	ret = bk_store_exec(e->store,
		"UPDATE backups SET status = 'Failed', message ="
		" 'interrupted: the appliance stopped while the backup ran'"
		" WHERE status = 'In Progress' AND origin = 'local';"
		"DELETE FROM backups WHERE status <> 'Completed' AND origin = 'upload';"
		"UPDATE operations SET status = 'Failed', message ="
		" 'interrupted: the appliance stopped during the operation'"
		" WHERE status = 'In Progress';", err);
	if (ret)
		return ret;
	/* Remove every file in archives/ that is not a Completed backup's,
	 * every report of a backup that is gone, and everything staged by a
	 * previous run. */
	prune_dir(db, e->archives, ".backup", "SELECT 1 FROM backups WHERE"
		  " seq = ? AND status = 'Completed'");
	prune_dir(db, e->reports, ".json", "SELECT 1 FROM backups WHERE seq = ?");
	d = opendir(e->staging);
	if (d) {
		for (struct dirent *de; (de = readdir(d));) {
			char path[4096];

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(path, sizeof(path), "%s/%s", e->staging,
				 de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	return 0;
}
