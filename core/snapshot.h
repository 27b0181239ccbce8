/* snapshot.h - serialising the backed-up data into an archive's payload
 * and restoring it (docs/FORMAT.md, "Payload").
 *
 * The payload is JSON lines: a first line {"kind":"backupfs-snapshot",
 * "format":1,"scope":...,"domain":...,"total":n} ("total", the number of
 * rows, is optional for readers: it drives restore progress), then one
 * line per row
 * ({"t":"domain"|"resource"|"member"|"link", ...}; resources carry their
 * key material in clear base64 - the archive encrypts it), and a last line
 * {"t":"end","counts":{...}}.  Reading is done with a bounded line buffer.
 */
#ifndef BK_SNAPSHOT_H
#define BK_SNAPSHOT_H

#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>

#include "err.h"
#include "store.h"

typedef int (*bk_sink_fn)(void *arg, const void *buf, size_t len,
			  struct bk_err *err);
typedef ssize_t (*bk_source_fn)(void *arg, void *buf, size_t len,
				struct bk_err *err);
typedef void (*bk_progress_fn)(void *arg, uint64_t done, uint64_t total);

/* Writes a consistent snapshot (one read transaction) of all domains
 * (domain == NULL: system scope) or of one domain (filters: JSON array,
 * borrowed, NULL = everything; issue 3).  counts (borrowed object) receives
 * {"domains":n,"keys":n,"users":n,...,"members":n,"links":n,"total":n}.
 * Material is unwrapped with rot on the way out. */
int bk_snapshot_write(struct bk_store *s, struct bk_rot *rot,
		      const char *domain, json_object *filters,
		      bk_sink_fn sink, void *sink_arg, json_object *counts,
		      bk_progress_fn progress, void *progress_arg,
		      struct bk_err *err);

/* Checks a payload's structure without changing anything (first line,
 * every line a known row, the end line's counts match). */
int bk_snapshot_check(bk_source_fn source, void *arg, struct bk_err *err);

/* System restore: in one transaction, replaces all domains, resources,
 * members and links with the payload's (material re-wrapped with rot).
 * All or nothing.  report (borrowed) receives counts restored. */
int bk_snapshot_restore_system(struct bk_store *s, struct bk_rot *rot,
			       bk_source_fn source, void *arg,
			       json_object *report, bk_progress_fn progress,
			       void *progress_arg, struct bk_err *err);

/* ---- added for the engine's domain restore (and used by the above) ---- */

/* What bk_snapshot_read hands to its call-back for each line, in order:
 * t is "head" (the first line), "domain", "resource", "member", "link",
 * "audit" or "end".  A resource's members are in res (core/snapshot_parse.h;
 * o is NULL then); every other line is o, its JSON.  For a resource that
 * carries key material, material/material_len is the clear material
 * decoded from base64 (or wrapped: bk_snapshot_read_wrapped), else
 * NULL/0.  All of it is borrowed, valid during the call, and the material
 * is wiped after it. */
struct bk_snap_res;
struct bk_idset;
struct bk_snap_row {
	const char *t;
	json_object *o;
	const struct bk_snap_res *res;
	const uint8_t *material;
	size_t material_len;
	/* A resource read with an id set (bk_snapshot_read_wrapped): what
	 * bk_idset_find says of its id, asked by the reading thread; else
	 * 0, BK_IDSET_UNKNOWN (core/restore_ids.h). */
	int id_known;
	long lineno;			/* its line in the payload */
};

/* A non-zero return stops the read and is returned. */
typedef int (*bk_row_fn)(void *arg, const struct bk_snap_row *row,
			 struct bk_err *err);
/* A call-back may keep the resource rows it is given, and write them
 * when this is called: before each row that is not a resource, and at
 * the end of each batch of at most BK_SNAP_BATCH_ROWS rows, before the
 * rows' memory is used again.  An
 * error stops the read; *lineno is then the line of the row that
 * failed (it starts at 0: none). */
#define BK_SNAP_BATCH_ROWS 256
typedef int (*bk_flush_fn)(void *arg, long *lineno, struct bk_err *err);

/* Reads a payload with a bounded line buffer (lines of at most 16 MiB),
 * checks every line as bk_snapshot_check does, and calls cb (may be NULL)
 * with each line.  The "end" line is delivered only after its counts
 * matched the lines read; a payload that ends without one is an error.
 * counts (may be NULL, borrowed) receives the counts read; progress gets
 * (rows read, the first line's "total" or 0). */
int bk_snapshot_read(bk_source_fn source, void *arg, bk_row_fn cb,
		     void *cb_arg, json_object *counts,
		     bk_progress_fn progress, void *progress_arg,
		     struct bk_err *err);

/* As bk_snapshot_read, but the material reaches cb wrapped (bk_rot_wrap,
 * in the reading thread: restores use it) by the key of domain, or when
 * domain is NULL by the key of each row's own "domain" (bk_rot_for).
 * With ids (resolved, may be NULL), the reading thread also looks up
 * each resource's id in it (the row's id_known): a domain restore's
 * inserting thread is the busy one.  flush (may be NULL) is called with
 * cb_arg as bk_flush_fn says. */
int bk_snapshot_read_wrapped(bk_source_fn source, void *arg,
			     struct bk_rot *rot, const char *domain,
			     const struct bk_idset *ids,
			     bk_row_fn cb, bk_flush_fn flush, void *cb_arg,
			     json_object *counts, bk_progress_fn progress,
			     void *progress_arg, struct bk_err *err);

/* Inserts one row as bk_snapshot_read delivers it ("domain", "resource",
 * "member" or "link"; rows are not re-checked) into the store, the
 * material wrapped with rot (rot NULL: material is wrapped already, as
 * bk_snapshot_read_wrapped delivers it).  Runs in the caller's
 * transaction.  -EEXIST (with words) for a row that is already there. */
int bk_snapshot_insert_row(struct bk_store *s, struct bk_rot *rot,
			   const struct bk_snap_row *row, struct bk_err *err);

/* ---- domain scope (issue 3) ---- */

/* Checks a domain backup's filters (a JSON array, DESIGN.md section 3
 * "Filters"): -EINVAL with the reason, naming the valid choices, for an
 * unknown resource type, unknown query field or a wrong type.  NULL or an
 * empty array is valid (everything).  (core/filter.c) */
int bk_filters_validate(json_object *filters, struct bk_err *err);

/* Domain restore: merges a domain payload into the existing domain
 * `target` in one transaction, by the seed's rules (docs/FORMAT.md and
 * docs/OPERATIONS.md): a key with the same name and version but another
 * id fails the whole restore with "Error copying data from backup
 * database: ..." and changes nothing; users, groups, CTE policies and
 * customer fragments that exist are skipped, with the seed's membership
 * rules.  Other domains are never touched.  report (borrowed) receives
 * {"<type>": {"restored": n, "skipped": n, "skippedNames": [...],
 * "conflicts": n, "conflictNames": [...]}, ...}, also on failure
 * (for the conflicts).  ids (NULL: none): the payload's ids, collected
 * by bk_idset_feed from the whole payload before (restore_ids.h); it is
 * resolved here, in the restore's transaction.  (core/restore_domain.c) */
struct bk_idset;
int bk_snapshot_restore_domain(struct bk_store *s, struct bk_rot *rot,
			       const char *target, bk_source_fn source,
			       void *arg, struct bk_idset *ids,
			       json_object *report,
			       bk_progress_fn progress, void *progress_arg,
			       struct bk_err *err);

#endif
