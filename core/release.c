/* release.c - product versions and the release-compatibility rules
 * (DESIGN.md section 4).
 *
 * A backup made on release F restores on release T when:
 *   - T is older than F (full compare, patch included): never, even with
 *     force;
 *   - T has F's major and minor: yes;
 *   - T has F's major and a minor one to three above F's: yes;
 *   - F's X.Y is an LTS release and T's X.Y is one of the next two LTS
 *     releases after it (LTS list sorted by version): yes;
 *   - otherwise (including any other major release): only with force.
 */
#include "release.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PART 9999
#define MAX_LTS 256

int bk_version_parse(const char *s, struct bk_version *v)
{
	int part[3] = { 0, 0, 0 }, n = 0;
	const char *p = s;

	if (!s)
		return -EINVAL;
	for (;;) {
		int val = 0, digits = 0;

		for (; *p >= '0' && *p <= '9'; p++) {
			val = val * 10 + (*p - '0');
			if (++digits > 4)
				return -EINVAL;
		}
		if (!digits || val > MAX_PART)
			return -EINVAL;
		part[n++] = val;
		if (!*p)
			break;
		if (*p != '.' || n == 3)
			return -EINVAL;
		p++;
	}
	if (n < 2)
		return -EINVAL;
	v->major = part[0];
	v->minor = part[1];
	v->patch = part[2];
	return 0;
}

static int cmp_minor(const struct bk_version *a, const struct bk_version *b)
{
	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	return 0;
}

int bk_version_cmp(const struct bk_version *a, const struct bk_version *b)
{
	int c = cmp_minor(a, b);

	if (c || a->patch == b->patch)
		return c;
	return a->patch < b->patch ? -1 : 1;
}

static int cmp_qsort(const void *a, const void *b)
{
	return cmp_minor(a, b);
}

/* Parses a comma-separated list of "X.Y" (or "X.Y.Z"; the patch is
 * ignored) into v, sorted, without duplicates.  Blanks around entries and
 * empty entries are allowed. */
static int parse_lts(const char *lts, struct bk_version *v, size_t *n,
		     struct bk_err *err)
{
	const char *p = lts;
	size_t i, out;

	*n = 0;
	while (p && *p) {
		const char *end = strchr(p, ','), *a = p, *b;
		char item[32];

		b = end ? end : p + strlen(p);
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (b > a) {
			if ((size_t)(b - a) >= sizeof(item) || *n == MAX_LTS)
				return bk_errf(err, -EINVAL,
					       "invalid LTS release list \"%s\"",
					       lts);
			memcpy(item, a, (size_t)(b - a));
			item[b - a] = '\0';
			if (bk_version_parse(item, &v[*n]))
				return bk_errf(err, -EINVAL,
					       "invalid LTS release \"%s\"",
					       item);
			v[*n].patch = 0;
			(*n)++;
		}
		p = end ? end + 1 : NULL;
	}
	qsort(v, *n, sizeof(*v), cmp_qsort);
	for (i = 0, out = 0; i < *n; i++)
		if (!out || cmp_minor(&v[out - 1], &v[i]))
			v[out++] = v[i];
	*n = out;
	return 0;
}

static int is_lts(const struct bk_version *v, const struct bk_version *lts,
		  size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!cmp_minor(&lts[i], v))
			return 1;
	return 0;
}

/* Is `to` one of the next two LTS releases after the LTS release `from`? */
static int lts_allows(const struct bk_version *from,
		      const struct bk_version *to, const struct bk_version *lts,
		      size_t n)
{
	size_t i, next = 0;

	if (!is_lts(from, lts, n))
		return 0;
	for (i = 0; i < n && next < 2; i++) {
		if (cmp_minor(&lts[i], from) <= 0)
			continue;
		if (!cmp_minor(&lts[i], to))
			return 1;
		next++;
	}
	return 0;
}

int bk_release_check(const char *from, const char *to, const char *lts,
		     int force, struct bk_err *err)
{
	struct bk_version f, t, *list = NULL;
	size_t n = 0;
	int ret = 0;

	if (bk_version_parse(from, &f))
		return bk_errf(err, -EINVAL, "invalid release version \"%s\"",
			       from ? from : "(none)");
	if (bk_version_parse(to, &t))
		return bk_errf(err, -EINVAL, "invalid release version \"%s\"",
			       to ? to : "(none)");
	list = calloc(MAX_LTS, sizeof(*list));
	if (!list)
		return bk_errf(err, -ENOMEM, "out of memory");
	ret = parse_lts(lts, list, &n, err);
	if (ret)
		goto out;

	if (bk_version_cmp(&t, &f) < 0) {
		ret = bk_errf(err, -EPERM,
			      "restoring a backup of release %d.%d.%d onto older release %d.%d.%d is not supported",
			      f.major, f.minor, f.patch, t.major, t.minor,
			      t.patch);
		goto out;
	}
	if (force)
		goto out;
	if (t.major != f.major) {
		ret = bk_errf(err, -EPERM,
			      "release %d.%d.%d is a different major release than %d.%d.%d; use force to restore anyway",
			      t.major, t.minor, t.patch, f.major, f.minor,
			      f.patch);
		goto out;
	}
	if (t.minor - f.minor <= 3 || lts_allows(&f, &t, list, n))
		goto out;
	ret = bk_errf(err, -EPERM,
		      "release %d.%d.%d is more than three minor releases after %d.%d.%d%s; use force to restore anyway",
		      t.major, t.minor, t.patch, f.major, f.minor, f.patch,
		      is_lts(&f, list, n) ? " and not one of the next two LTS releases" :
		      "");
out:
	free(list);
	return ret;
}
