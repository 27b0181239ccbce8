/* release.h - product versions and the release-compatibility rules. */
#ifndef BK_RELEASE_H
#define BK_RELEASE_H

#include "err.h"

struct bk_version {
	int major, minor, patch;
};

/* Parses "X.Y" or "X.Y.Z" (digits only, each <= 9999).  -EINVAL otherwise. */
int bk_version_parse(const char *s, struct bk_version *v);

/* <0, 0, >0 like strcmp. */
int bk_version_cmp(const struct bk_version *a, const struct bk_version *b);

/* May a backup made on release `from` be restored on `to`, given the
 * appliance's LTS list (comma-separated "X.Y" list, may be NULL/empty)?
 * Rules: same release or the next three minor releases (same major);
 * from an LTS release also the next two LTS releases; force lifts the
 * forward limit; a release older than `from` is refused even with force.
 * Returns 0 if allowed, -EPERM with the reason in err otherwise, -EINVAL
 * for unparsable versions. */
int bk_release_check(const char *from, const char *to, const char *lts,
		     int force, struct bk_err *err);

#endif
