/* restore_domain_report.c - what a domain restore tells: the counts and
 * name lists of its report, and the words for its conflicts.
 */
#include "restore_domain_int.h"

#include <errno.h>
#include <stdio.h>

int rd_stats_init(struct rd *r)
{
	for (int i = 0; i < NTYPES; i++) {
		r->t[i].skipped_names = json_object_new_array();
		r->t[i].conflict_names = json_object_new_array();
		r->t[i].reid_names = json_object_new_array();
		if (!r->t[i].skipped_names || !r->t[i].conflict_names ||
		    !r->t[i].reid_names)
			return -ENOMEM;
	}
	return 0;
}

void rd_stats_free(struct rd *r)
{
	for (int i = 0; i < NTYPES; i++) {
		json_object_put(r->t[i].skipped_names);
		json_object_put(r->t[i].conflict_names);
		json_object_put(r->t[i].reid_names);
	}
}

int rd_note(struct type_stats *ts, json_object *list, const char *name,
	    struct bk_err *err)
{
	json_object *v;

	if (json_object_array_length(list) >= NAMES_MAX) {
		ts->truncated = 1;
		return 0;
	}
	v = json_object_new_string(name);
	if (!v || json_object_array_add(list, v)) {
		json_object_put(v);
		return bk_errf(err, -ENOMEM, "out of memory");
	}
	return 0;
}

static json_object *new_count_pair(const char *a, uint64_t na, const char *b,
				   uint64_t nb)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, a, json_object_new_int64((int64_t)na));
	json_object_object_add(o, b, json_object_new_int64((int64_t)nb));
	return o;
}

/* Fills report.  After a failure nothing was restored or skipped: only
 * the conflicts are reported. */
void rd_report_fill(struct rd *r, json_object *report, int ok)
{
	const char *const *types = bk_resource_types();
	struct type_stats *ts;
	json_object *o, *empty;

	if (!report)
		return;
	json_object_object_add(report, "source", r->source[0] ?
			       json_object_new_string(r->source) : NULL);
	json_object_object_add(report, "target",
			       json_object_new_string(r->target));
	for (int i = 0; i < NTYPES; i++) {
		ts = &r->t[i];
		o = json_object_new_object();
		if (!o)
			return;
		json_object_object_add(o, "restored", json_object_new_int64(
			ok ? (int64_t)ts->restored : 0));
		json_object_object_add(o, "skipped", json_object_new_int64(
			ok ? (int64_t)ts->skipped : 0));
		empty = ok ? NULL : json_object_new_array();
		json_object_object_add(o, "skippedNames", ok ?
				       json_object_get(ts->skipped_names) :
				       empty);
		json_object_object_add(o, "conflicts",
				       json_object_new_int64((int64_t)ts->conflicts));
		json_object_object_add(o, "conflictNames",
				       json_object_get(ts->conflict_names));
		if (ok && ts->reidentified)
			json_object_object_add(o, "reidentified",
					       json_object_get(ts->reid_names));
		if (ts->truncated)
			json_object_object_add(o, "truncated",
					       json_object_new_boolean(1));
		json_object_object_add(report, types[i], o);
	}
	json_object_object_add(report, "members", new_count_pair(
		"restored", ok ? r->kept[P_MEMBER] : 0,
		"dropped", ok ? r->staged[P_MEMBER] - r->kept[P_MEMBER] : 0));
	json_object_object_add(report, "links", new_count_pair(
		"restored", ok ? r->kept[P_LINK] : 0,
		"dropped", ok ? r->staged[P_LINK] - r->kept[P_LINK] : 0));
}

int rd_conflict(struct rd *r, struct type_stats *ts, const char *name,
		long long version, const char *existing, struct bk_err *err)
{
	if (!r->failed) {
		r->failed = 1;
		snprintf(r->c_name, sizeof(r->c_name), "%.*s",
			 (int)sizeof(r->c_name) - 1, name);
		snprintf(r->c_id, sizeof(r->c_id), "%.*s",
			 (int)sizeof(r->c_id) - 1, existing);
		r->c_version = version;
	}
	ts->conflicts++;
	return rd_note(ts, ts->conflict_names, name, err);
}

int rd_skip(struct type_stats *ts, const char *name, struct bk_err *err)
{
	ts->skipped++;
	return rd_note(ts, ts->skipped_names, name, err);
}

int rd_conflict_error(struct rd *r, struct bk_err *err)
{
	uint64_t n = 0;

	for (int i = 0; i < NTYPES; i++)
		n += r->t[i].conflicts;
	if (n > 1)
		return bk_errf(err, -EEXIST,
			       COPY_ERROR ": key '%s' version %lld exists in domain %s with another id (%s), and %llu more conflicting key%s (see the report); nothing was restored",
			       r->c_name, r->c_version, r->target, r->c_id,
			       (unsigned long long)(n - 1), n > 2 ? "s" : "");
	return bk_errf(err, -EEXIST,
		       COPY_ERROR ": key '%s' version %lld exists in domain %s with another id (%s); nothing was restored",
		       r->c_name, r->c_version, r->target, r->c_id);
}
