/* filter.h - a domain backup's filters (DESIGN.md section 3 "Filters"):
 * the selection of the resources they name.  Internal to core/ (the
 * snapshot writer); the check, bk_filters_validate, is in snapshot.h.
 *
 * The selection is a TEMP table of the connection, filled by SQL inside
 * the snapshot's read transaction, so it sees the same committed state
 * as the lines written from it.  It holds names and row ids, no secret.
 */
#ifndef BK_FILTER_H
#define BK_FILTER_H

#include <json-c/json.h>

#include "err.h"
#include "store.h"

/* The selection: one row per selected resource of the domain, its
 * primary key (type, name, version) the order the payload lists them in;
 * rid is the resources row's rowid. */
#define BK_FILTER_SEL "temp.bk_snap_sel"

/* Non-zero if filters select a part of a domain (a non-empty array);
 * NULL and [] select everything. */
int bk_filters_active(json_object *filters);

/* Checks filters (bk_filters_validate), then fills BK_FILTER_SEL with the
 * resources of domain they select: each filter's query (fields ANDed),
 * the filters ORed; the groups of the selected users; with a Keys filter
 * and a cte_policies filter, every version of the keys the selected
 * policies use (key_links).  Runs in the caller's (read) transaction,
 * creating the table if needed and emptying it first. */
int bk_filter_select(struct bk_store *s, const char *domain,
		     json_object *filters, struct bk_err *err);

/* Empties the selection (errors ignored). */
void bk_filter_clear(struct bk_store *s);

#endif
