/* restore_ids.h - which ids of a domain payload the appliance holds
 * already, found in the id index's own order before a domain restore
 * rather than row by row during it (restore_ids.c says why and how).
 *
 *	bk_idset_new	before the restore's verify pass
 *	bk_idset_feed	each piece of the payload's plaintext, in order
 *	bk_idset_resolve	in the restore's transaction, before its rows
 *	bk_idset_find	for each resource row
 */
#ifndef BK_RESTORE_IDS_H
#define BK_RESTORE_IDS_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "err.h"

/* At most this many ids are collected; a payload with more resources
 * gives up the set (its restore looks ids up row by row). */
#define BK_IDSET_MAX (2u * 1024 * 1024)

struct bk_idset;

/* A new, empty set that collects at most max ids (0: BK_IDSET_MAX);
 * NULL when out of memory. */
struct bk_idset *bk_idset_new(size_t max);
void bk_idset_free(struct bk_idset *s);

/* The next len bytes of the payload: the ids of its resource lines are
 * collected.  A line in another form than the writer's, or an id in
 * another form than bk_time_id's, is not: bk_idset_find says "unknown"
 * for it. */
void bk_idset_feed(struct bk_idset *s, const void *buf, size_t len);

/* Looks the collected ids up in db's resources, in their order, and
 * keeps those in use.  0, or a negative errno with err set. */
int bk_idset_resolve(struct bk_idset *s, sqlite3 *db, struct bk_err *err);

enum {
	BK_IDSET_UNKNOWN,	/* no answer (not bk_time_id's form, the
				 * set not resolved or given up): ask */
	BK_IDSET_NOT_FOUND,	/* not among the collected ids in use: not
				 * in use then, unless its line was not
				 * collected (another form) */
	BK_IDSET_PRESENT,	/* collected and in use when resolved (or
				 * its hash was: 2^-64 per pair of ids) */
};

/* What the resolved set s (NULL: unknown) says of id. */
int bk_idset_find(const struct bk_idset *s, const char *id, size_t len);

/* Ids collected, and found in use (for tests and the log). */
size_t bk_idset_collected(const struct bk_idset *s);
size_t bk_idset_present(const struct bk_idset *s);

#endif
