/* restore_domain_int.h - what restore_domain.c (the restore) and
 * restore_domain_report.c (its report) share.
 */
#ifndef BK_RESTORE_DOMAIN_INT_H
#define BK_RESTORE_DOMAIN_INT_H

#include <stdint.h>

#include "crypto.h"
#include "restore_ids.h"
#include "snapshot_int.h"

#define NAMES_MAX 1000		/* names per list of the report */
#define NTYPES (BK_C_MEMBERS - BK_C_TYPES)
#define COPY_ERROR "Error copying data from backup database"

/* Kinds of staged pairs. */
enum { P_MEMBER, P_LINK, P__COUNT };

/* Our statements, prepared once per restore. */
enum {
	Q_TARGET,		/* ?1 domain -> hsm */
	Q_BY_ID,		/* ?1 id -> domain */
	Q_ID_ROW,		/* ?1 id -> rowid (the index alone) */
	Q_START,		/* ?1 domain -> max rowid, domain has rows */
	Q_KEY,			/* ?1 domain, ?2 name, ?3 version -> id */
	Q_NAMED,		/* ?1 domain, ?2 type, ?3 name -> 1 */
	Q_DONE,			/* records a restored user/group/policy */
	Q_PAIR,			/* stages a member or link line */
	Q__COUNT
};

struct type_stats {
	uint64_t restored, skipped, conflicts, reidentified;
	json_object *skipped_names, *conflict_names, *reid_names;
	int truncated;
};

struct rd {
	struct bk_store *s;
	struct bk_rot *rot;
	const char *target;
	sqlite3_stmt *q[Q__COUNT];
	struct type_stats t[NTYPES];
	uint64_t staged[P__COUNT], kept[P__COUNT];
	char *target_hsm;		/* the target's HSM, NULL if none */
	/* Before the first row: the highest rowid (the rows inserted get
	 * higher ones), and whether the target had resources. */
	sqlite3_int64 max_rowid;
	int target_had_rows;
	struct bk_id_pool ids;		/* fresh ids */
	const struct bk_idset *known;	/* ids in use at the start, or NULL */
	char source[72];		/* the payload's domain */
	int failed;			/* a key conflict was seen */
	/* the first conflict, for the message */
	char c_name[BK_NAME_MAX + 1], c_id[BK_ID_MAX + 1];
	long long c_version;
	/* The batch's resource lines, decided and inserted in order when
	 * the reader says (rd_flush); most go in bulk_. */
	struct pending {
		const struct bk_snap_res *row;
		int known;		/* the row's id_known */
		const uint8_t *mat;	/* wrapped already */
		size_t mlen;
		long lineno;
		int reid;		/* inserted under fresh */
		char fresh[33];
	} pend[BK_SNAP_BATCH_ROWS];
	int npend;
	struct bk_res_bulk bulk;
};

/* ---- the report (restore_domain_report.c) ---- */

/* 0, or -ENOMEM (free r's stats even then). */
int rd_stats_init(struct rd *r);
void rd_stats_free(struct rd *r);
/* Appends name to list unless it holds NAMES_MAX names already. */
int rd_note(struct type_stats *ts, json_object *list, const char *name,
	    struct bk_err *err);
/* A key conflict (the first one named in the error), a skipped line. */
int rd_conflict(struct rd *r, struct type_stats *ts, const char *name,
		long long version, const char *existing, struct bk_err *err);
int rd_skip(struct type_stats *ts, const char *name, struct bk_err *err);
/* Fills report; ok: the restore went in. */
void rd_report_fill(struct rd *r, json_object *report, int ok);
/* The restore's error after its conflicts. */
int rd_conflict_error(struct rd *r, struct bk_err *err);

#endif
