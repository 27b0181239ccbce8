/* snapshot_parse.h - a resource line of a payload, read without json-c.
 *
 * A fast path only: it takes lines in exactly the form
 * bk_snap_line_write gives them and refuses everything else, which the
 * caller then hands to json-c as before (so every error message stays
 * json-c's or the checks').
 */
#ifndef BK_SNAPSHOT_PARSE_H
#define BK_SNAPSHOT_PARSE_H

#include <stddef.h>

/* A resource line's members (NUL-terminated, in the caller's out buffer). */
struct bk_snap_res {
	const char *id, *domain, *type, *name;
	long long version;
	const char *attrs;	/* the JSON object's text, as json-c prints it */
	const char *fp;		/* NULL: "fingerprint" null or absent */
	const char *created;	/* "createdAt" */
	const char *b64;	/* "material" as written (base64); NULL: absent */
	size_t id_len, domain_len, type_len, name_len, attrs_len, fp_len,
	       created_len, b64_len;
};

/* Parses line (len bytes, not NUL-terminated, not changed) as a resource
 * line in the form backupfs writes.  Strings are unescaped into out, which
 * holds len + 1 bytes; r points into out.  Returns 1 with *r filled, or 0
 * if the line is anything else or not in that exact form (json-c judges
 * it then).  out's content is undefined after 0 (it may hold a copy of
 * material: the caller wipes it).
 *
 * 1 means: json-c (JSON_TOKENER_STRICT) reads the same members with the
 * same types and values; attrs is byte for byte what json-c prints of
 * that object with JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
 * no top-level string holds a NUL byte.  Members may come in any order
 * after "t", each at most once; fingerprint and material may be absent. */
int bk_snap_res_parse(const char *line, size_t len, char *out,
		      struct bk_snap_res *r);

#endif
