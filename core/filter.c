/* filter.c - a domain backup's filters: checking them, and selecting the
 * resources they name (filter.h, DESIGN.md section 3 "Filters").
 *
 * Each filter becomes one INSERT OR IGNORE ... SELECT into the selection
 * table, its query's fields ANDed in the WHERE clause; the filters are
 * ORed by running them one after the other into the same table.  The SQL
 * is put together from constant fragments only: every value from the
 * filters is a bound parameter.  The queries run on the resources table's
 * (domain, type, name) index: a name glob's literal prefix becomes a
 * range on it, names and ids are index look-ups; only the attribute
 * fields (algorithm, labels, metaContains, policy_type, never_deny,
 * email) read the rows of the resource type they filter.
 *
 * Semantics where the contract leaves room:
 *   - names are matched case-sensitively, as they are stored; in a
 *     "name" glob only '*' is a wildcard ('?' and '[' are literal);
 *     a name selects every version of a key;
 *   - "ids" are resource ids, one version each;
 *   - algorithm, policy_type and email are compared case-insensitively
 *     (ASCII); a key without "algorithm" is AES; a policy without
 *     "never_deny" has never_deny false;
 *   - labels / metaContains: every member of the query object must be in
 *     attrs.labels / attrs with an equal value; an object value matches
 *     an object holding at least its members (recursively); other values
 *     match by type and value (numbers numerically, arrays exactly);
 *   - users_groups: an empty query selects every user and every group; a
 *     query selects users, and then the groups those users are members
 *     of;
 *   - a list ("names", "ids") must not be empty, a "name" neither;
 *   - member and link rows are written when both their ends are
 *     selected (snapshot.c): a policy backed up without its keys keeps
 *     their names in its attrs ("keys"), but has no link rows.
 */
#include "filter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "snapshot.h"
#include "store_int.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define MAX_DEPTH 8		/* nesting of a labels / metaContains object */
#define MAX_TERMS 64		/* members of one, at all levels */
#define VALID_TYPES "Keys, cte_policies, users_groups, customer_fragments"

/* ---- the filter language ---- */

enum kind {
	K_GLOB,		/* a name, '*' wildcard; arg: the column */
	K_LIST,		/* a non-empty array of strings; arg: the column */
	K_TEXT,		/* a string, equal case-insensitively; arg: the SQL value */
	K_BOOL,		/* true or false; arg: SQL giving 'true' or 'false' */
	K_SUBSET,	/* an object, matched in JSON; arg: json_each()'s arguments */
};

struct field {
	const char *name;
	enum kind kind;
	const char *arg;		/* SQL, constant */
};

static const struct field keys_fields[] = {
	{ "name", K_GLOB, "r.name" },
	{ "names", K_LIST, "r.name" },
	{ "ids", K_LIST, "r.id" },
	{ "algorithm", K_TEXT,
	  "coalesce(json_extract(r.attrs, '$.algorithm'), 'AES')" },
	{ "labels", K_SUBSET, "r.attrs, '$.labels'" },
	{ "metaContains", K_SUBSET, "r.attrs" },
	{ NULL, 0, NULL }
};

static const struct field cte_fields[] = {
	{ "name", K_GLOB, "r.name" },
	{ "policy_type", K_TEXT, "json_extract(r.attrs, '$.policy_type')" },
	{ "never_deny", K_BOOL,
	  "coalesce(json_type(r.attrs, '$.never_deny'), 'false')" },
	{ NULL, 0, NULL }
};

static const struct field ug_fields[] = {
	{ "name", K_GLOB, "r.name" },
	{ "email", K_TEXT, "json_extract(r.attrs, '$.email')" },
	{ NULL, 0, NULL }
};

static const struct field cf_fields[] = {
	{ "ids", K_LIST, "r.id" },
	{ "names", K_LIST, "r.name" },
	{ NULL, 0, NULL }
};

enum { T_KEYS, T_CTE, T_UG, T_CF, T__COUNT };

static const struct ftype {
	const char *name;		/* as the contract spells it */
	const struct field *fields;
	const char *valid;		/* the fields, for messages */
	const char *all;		/* SQL: the types an empty query selects */
	const char *some;		/* SQL: the types a query filters */
} ftypes[T__COUNT] = {
	[T_KEYS] = { "Keys", keys_fields,
		     "name, names, ids, algorithm, labels, metaContains",
		     "'keys'", "'keys'" },
	[T_CTE] = { "cte_policies", cte_fields,
		    "name, policy_type, never_deny",
		    "'cte_policies'", "'cte_policies'" },
	[T_UG] = { "users_groups", ug_fields, "name, email",
		   "'users', 'groups'", "'users'" },
	[T_CF] = { "customer_fragments", cf_fields, "ids, names",
		   "'customer_fragments'", "'customer_fragments'" },
};

/* ---- checking ---- */

/* Counts the members of a labels / metaContains object, all levels. */
static int subset_check(json_object *o, int depth, int *terms)
{
	if (depth > MAX_DEPTH)
		return -1;
	json_object_object_foreach(o, key, val) {
		(void)key;
		if (++*terms > MAX_TERMS)
			return -1;
		if (json_object_is_type(val, json_type_object) &&
		    subset_check(val, depth + 1, terms))
			return -1;
	}
	return 0;
}

static int string_ok(json_object *v)
{
	return json_object_is_type(v, json_type_string) &&
		strlen(json_object_get_string(v)) ==
		(size_t)json_object_get_string_len(v);
}

static int value_check(const struct field *f, json_object *v, size_t i,
		       struct bk_err *err)
{
	size_t n;
	int terms = 0;

	switch (f->kind) {
	case K_GLOB:
		if (!string_ok(v) || !json_object_get_string_len(v))
			goto bad;
		return 0;
	case K_TEXT:
		if (!string_ok(v))
			goto bad;
		return 0;
	case K_BOOL:
		if (!json_object_is_type(v, json_type_boolean))
			goto bad;
		return 0;
	case K_LIST:
		if (!json_object_is_type(v, json_type_array))
			goto bad;
		n = json_object_array_length(v);
		if (n == 0)
			return bk_errf(err, -EINVAL,
				       "filters[%zu]: resourceQuery.%s must not be empty",
				       i, f->name);
		for (size_t k = 0; k < n; k++)
			if (!string_ok(json_object_array_get_idx(v, k)))
				goto bad;
		return 0;
	case K_SUBSET:
		if (!json_object_is_type(v, json_type_object))
			goto bad;
		if (subset_check(v, 1, &terms))
			return bk_errf(err, -EINVAL,
				       "filters[%zu]: resourceQuery.%s has more than %d members or nests deeper than %d levels",
				       i, f->name, MAX_TERMS, MAX_DEPTH);
		return 0;
	}
bad:
	return bk_errf(err, -EINVAL, "filters[%zu]: resourceQuery.%s must be %s",
		       i, f->name,
		       f->kind == K_GLOB ? "a non-empty string (a name, '*' matches any characters)" :
		       f->kind == K_TEXT ? "a string" :
		       f->kind == K_BOOL ? "true or false" :
		       f->kind == K_LIST ? "an array of strings" :
		       "an object");
}

/* filters[i]: *t gets its type, *query its query (borrowed; NULL when
 * absent, null or {}: everything of that type). */
static int parse_one(json_object *f, size_t i, const struct ftype **t,
		     json_object **query, struct bk_err *err)
{
	json_object *rt = NULL, *q = NULL;
	const struct field *fd;
	const char *name;

	if (!json_object_is_type(f, json_type_object))
		return bk_errf(err, -EINVAL,
			       "filters[%zu] must be an object {\"resourceType\": T, \"resourceQuery\": {...}}",
			       i);
	json_object_object_foreach(f, key, val) {
		if (!strcmp(key, "resourceType"))
			rt = val;
		else if (!strcmp(key, "resourceQuery"))
			q = val;
		else
			return bk_errf(err, -EINVAL,
				       "filters[%zu]: unknown field \"%.64s\" (valid: resourceType, resourceQuery)",
				       i, key);
	}
	if (!string_ok(rt))
		return bk_errf(err, -EINVAL,
			       "filters[%zu]: resourceType must be a string (valid: " VALID_TYPES ")",
			       i);
	name = json_object_get_string(rt);
	*t = NULL;
	for (int k = 0; k < T__COUNT; k++)
		if (!strcasecmp(name, ftypes[k].name))
			*t = &ftypes[k];
	if (!*t)
		return bk_errf(err, -EINVAL,
			       "filters[%zu]: unknown resourceType \"%.64s\" (valid: " VALID_TYPES ")",
			       i, name);
	if (q && !json_object_is_type(q, json_type_object))
		return bk_errf(err, -EINVAL,
			       "filters[%zu]: resourceQuery must be an object",
			       i);
	*query = q && json_object_object_length(q) ? q : NULL;
	if (!*query)
		return 0;
	json_object_object_foreach(q, qkey, qval) {
		for (fd = (*t)->fields; fd->name; fd++)
			if (!strcmp(fd->name, qkey))
				break;
		if (!fd->name)
			return bk_errf(err, -EINVAL,
				       "filters[%zu]: unknown resourceQuery field \"%.64s\" for %s (valid: %s)",
				       i, qkey, (*t)->name, (*t)->valid);
		if (value_check(fd, qval, i, err))
			return -EINVAL;
	}
	return 0;
}

int bk_filters_validate(json_object *filters, struct bk_err *err)
{
	const struct ftype *t;
	json_object *q;
	size_t n;
	int ret;

	if (!filters)
		return 0;
	if (!json_object_is_type(filters, json_type_array))
		return bk_errf(err, -EINVAL,
			       "filters must be an array of {\"resourceType\": T, \"resourceQuery\": {...}} objects (T: " VALID_TYPES ")");
	n = json_object_array_length(filters);
	for (size_t i = 0; i < n; i++) {
		ret = parse_one(json_object_array_get_idx(filters, i), i, &t,
				&q, err);
		if (ret)
			return ret;
	}
	return 0;
}

int bk_filters_active(json_object *filters)
{
	return json_object_is_type(filters, json_type_array) &&
		json_object_array_length(filters) > 0;
}

/* ---- SQL: constant text, bound values ---- */

struct bind {
	int type;			/* SQLITE_TEXT, _INTEGER, _FLOAT */
	char *s;			/* owned */
	int n;
	sqlite3_int64 i;
	double d;
};

struct q {
	sqlite3_str *sql;
	struct bind *b;
	int nb, cap;
	int alias;			/* json_each aliases used */
	int oom;
};

/* Appends the next parameter, ?2 onwards (?1 is the domain). */
static struct bind *param(struct q *q, int type)
{
	struct bind *b;

	if (q->oom)
		return NULL;
	if (q->nb == q->cap) {
		int cap = q->cap ? 2 * q->cap : 16;

		b = realloc(q->b, (size_t)cap * sizeof(*b));
		if (!b) {
			q->oom = 1;
			return NULL;
		}
		q->b = b;
		q->cap = cap;
	}
	b = &q->b[q->nb++];
	memset(b, 0, sizeof(*b));
	b->type = type;
	sqlite3_str_appendf(q->sql, "?%d", q->nb + 1);
	return b;
}

static void param_text(struct q *q, const char *s, size_t n)
{
	struct bind *b = param(q, SQLITE_TEXT);

	if (!b)
		return;
	b->s = malloc(n + 1);
	if (!b->s) {
		b->type = SQLITE_NULL;
		q->oom = 1;
		return;
	}
	memcpy(b->s, s, n);
	b->s[n] = '\0';
	b->n = (int)n;
}

static void param_json(struct q *q, json_object *v)
{
	size_t n;
	const char *s = json_object_to_json_string_length(v, JSON_FLAGS, &n);

	if (!s)
		q->oom = 1;
	else
		param_text(q, s, n);
}

static void q_free(struct q *q)
{
	for (int i = 0; i < q->nb; i++)
		free(q->b[i].s);
	free(q->b);
	if (q->sql)
		sqlite3_free(sqlite3_str_finish(q->sql));
	memset(q, 0, sizeof(*q));
}

/* A name glob on col: equality without '*'; else a range on the prefix
 * before the first '*' (the index does the work), and GLOB for the rest
 * with '?' and '[' made literal. */
static void add_glob(struct q *q, const char *col, const char *s, size_t n)
{
	const char *star = memchr(s, '*', n);
	size_t plen, hlen, k = 0;
	char *g;

	if (!star) {
		sqlite3_str_appendf(q->sql, " AND %s = ", col);
		param_text(q, s, n);
		return;
	}
	plen = (size_t)(star - s);
	if (plen) {
		sqlite3_str_appendf(q->sql, " AND %s >= ", col);
		param_text(q, s, plen);
		/* The smallest string above every one with this prefix. */
		for (hlen = plen; hlen && (unsigned char)s[hlen - 1] == 0xff;)
			hlen--;
		if (hlen) {
			sqlite3_str_appendf(q->sql, " AND %s < ", col);
			param_text(q, s, hlen);
			if (!q->oom)
				((unsigned char *)q->b[q->nb - 1].s)[hlen - 1]++;
		}
	}
	if (strspn(star, "*") == n - plen)
		return;			/* "prefix*": the range says it all */
	g = malloc(3 * n + 1);
	if (!g) {
		q->oom = 1;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '?' || s[i] == '[') {
			g[k++] = '[';
			g[k++] = s[i];
			g[k++] = ']';
		} else {
			g[k++] = s[i];
		}
	}
	sqlite3_str_appendf(q->sql, " AND %s GLOB ", col);
	param_text(q, g, k);
	free(g);
}

static void add_subset(struct q *q, json_object *o, const char *src);

/* The value of json_each row j<a> matches v. */
static void add_value(struct q *q, int a, json_object *v)
{
	char src[32];
	struct bind *b;

	switch (json_object_get_type(v)) {
	case json_type_null:
		sqlite3_str_appendf(q->sql, " AND j%d.type = 'null'", a);
		break;
	case json_type_boolean:
		sqlite3_str_appendf(q->sql, " AND j%d.type = '%s'", a,
				    json_object_get_boolean(v) ? "true" : "false");
		break;
	case json_type_int:
		sqlite3_str_appendf(q->sql,
				    " AND j%d.type IN ('integer', 'real') AND j%d.atom = ",
				    a, a);
		if ((b = param(q, SQLITE_INTEGER)))
			b->i = json_object_get_int64(v);
		break;
	case json_type_double:
		sqlite3_str_appendf(q->sql,
				    " AND j%d.type IN ('integer', 'real') AND j%d.atom = ",
				    a, a);
		if ((b = param(q, SQLITE_FLOAT)))
			b->d = json_object_get_double(v);
		break;
	case json_type_string:
		sqlite3_str_appendf(q->sql,
				    " AND j%d.type = 'text' AND j%d.atom = ", a, a);
		param_text(q, json_object_get_string(v),
			   (size_t)json_object_get_string_len(v));
		break;
	case json_type_array:
		sqlite3_str_appendf(q->sql,
				    " AND j%d.type = 'array' AND j%d.value = json(",
				    a, a);
		param_json(q, v);
		sqlite3_str_appendall(q->sql, ")");
		break;
	case json_type_object:
		sqlite3_str_appendf(q->sql, " AND j%d.type = 'object'", a);
		snprintf(src, sizeof(src), "j%d.value", a);
		add_subset(q, v, src);
		break;
	}
}

/* Every member of o is in the JSON object json_each(src) walks. */
static void add_subset(struct q *q, json_object *o, const char *src)
{
	json_object_object_foreach(o, key, val) {
		int a = ++q->alias;

		sqlite3_str_appendf(q->sql,
				    " AND EXISTS (SELECT 1 FROM json_each(%s) j%d WHERE j%d.key = ",
				    src, a, a);
		param_text(q, key, strlen(key));
		add_value(q, a, val);
		sqlite3_str_appendall(q->sql, ")");
	}
}

static void add_field(struct q *q, const struct field *f, json_object *v)
{
	switch (f->kind) {
	case K_GLOB:
		add_glob(q, f->arg, json_object_get_string(v),
			 (size_t)json_object_get_string_len(v));
		break;
	case K_LIST:
		sqlite3_str_appendf(q->sql,
				    " AND %s IN (SELECT value FROM json_each(",
				    f->arg);
		param_json(q, v);
		sqlite3_str_appendall(q->sql, "))");
		break;
	case K_TEXT:
		sqlite3_str_appendf(q->sql, " AND %s = ", f->arg);
		param_text(q, json_object_get_string(v),
			   (size_t)json_object_get_string_len(v));
		sqlite3_str_appendall(q->sql, " COLLATE NOCASE");
		break;
	case K_BOOL:
		sqlite3_str_appendf(q->sql, " AND %s = '%s'", f->arg,
				    json_object_get_boolean(v) ? "true" : "false");
		break;
	case K_SUBSET:
		add_subset(q, v, f->arg);
		break;
	}
}

/* Prepares sql, binds ?1 = domain and binds (may be NULL), steps it. */
static int run(struct bk_store *s, const char *sql, const char *domain,
	       const struct q *q, struct bk_err *err)
{
	sqlite3_stmt *st = NULL;
	const struct bind *b;
	int rc, ret = 0;

	rc = sqlite3_prepare_v2(bk_store_db(s), sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return bk_store_sqlerr(s, rc, "cannot select the resources",
				       err);
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	for (int i = 0; q && i < q->nb; i++) {
		b = &q->b[i];
		if (b->type == SQLITE_TEXT)
			sqlite3_bind_text(st, i + 2, b->s, b->n, SQLITE_STATIC);
		else if (b->type == SQLITE_INTEGER)
			sqlite3_bind_int64(st, i + 2, b->i);
		else if (b->type == SQLITE_FLOAT)
			sqlite3_bind_double(st, i + 2, b->d);
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		ret = bk_store_sqlerr(s, rc, "cannot select the resources",
				      err);
	sqlite3_finalize(st);
	return ret;
}

#define INSERT_SEL "INSERT OR IGNORE INTO " BK_FILTER_SEL \
	"(type, name, version, rid)"

/* One filter's rows into the selection. */
static int select_one(struct bk_store *s, const char *domain,
		      const struct ftype *t, json_object *query,
		      struct bk_err *err)
{
	struct q q = { 0 };
	const struct field *f;
	char *sql = NULL;
	int ret;

	q.sql = sqlite3_str_new(bk_store_db(s));
	sqlite3_str_appendf(q.sql,
			    INSERT_SEL " SELECT r.type, r.name, r.version, r.rowid"
			    " FROM main.resources r WHERE r.domain = ?1"
			    " AND r.type IN (%s)", query ? t->some : t->all);
	if (query) {
		json_object_object_foreach(query, key, val) {
			for (f = t->fields; strcmp(f->name, key); f++)
				;	/* parse_one found it */
			add_field(&q, f, val);
		}
	}
	if (q.oom || sqlite3_str_errcode(q.sql)) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	sql = sqlite3_str_finish(q.sql);
	q.sql = NULL;
	ret = run(s, sql, domain, &q, err);
out:
	sqlite3_free(sql);
	q_free(&q);
	return ret;
}

int bk_filter_select(struct bk_store *s, const char *domain,
		     json_object *filters, struct bk_err *err)
{
	/* The groups the selected users are members of.  CROSS JOIN and
	 * INDEXED BY: this plan, whatever the statistics say (without them
	 * SQLite scans a domain's members once per user), costs the
	 * memberships of the selected users. */
	static const char groups_sql[] =
		INSERT_SEL " SELECT g.type, g.name, g.version, g.rowid"
		" FROM " BK_FILTER_SEL " u"
		" CROSS JOIN main.members m INDEXED BY members_by_user"
		" CROSS JOIN main.resources g"
		" WHERE u.type = 'users' AND m.domain = ?1"
		" AND m.user_name = u.name AND g.domain = ?1"
		" AND g.type = 'groups' AND g.name = m.group_name";
	/* Every version of the keys the selected policies use. */
	static const char keys_sql[] =
		INSERT_SEL " SELECT k.type, k.name, k.version, k.rowid"
		" FROM " BK_FILTER_SEL " p CROSS JOIN main.key_links l"
		" CROSS JOIN main.resources k"
		" WHERE p.type = 'cte_policies' AND l.domain = ?1"
		" AND l.policy_name = p.name AND k.domain = ?1"
		" AND k.type = 'keys' AND k.name = l.key_name";
	const struct ftype *t;
	json_object *query;
	int have[T__COUNT] = { 0 }, ret;
	size_t n;

	ret = bk_filters_validate(filters, err);
	if (ret)
		return ret;
	ret = bk_store_exec(s,
			    "CREATE TEMP TABLE IF NOT EXISTS bk_snap_sel("
			    " type TEXT NOT NULL, name TEXT NOT NULL,"
			    " version INTEGER NOT NULL, rid INTEGER NOT NULL,"
			    " PRIMARY KEY(type, name, version)) WITHOUT ROWID;"
			    "DELETE FROM " BK_FILTER_SEL ";", err);
	if (ret)
		return ret;
	n = bk_filters_active(filters) ? json_object_array_length(filters) : 0;
	for (size_t i = 0; i < n; i++) {
		parse_one(json_object_array_get_idx(filters, i), i, &t, &query,
			  NULL);
		have[t - ftypes] = 1;
		ret = select_one(s, domain, t, query, err);
		if (ret)
			return ret;
	}
	if (have[T_UG] && (ret = run(s, groups_sql, domain, NULL, err)))
		return ret;
	if (have[T_KEYS] && have[T_CTE] &&
	    (ret = run(s, keys_sql, domain, NULL, err)))
		return ret;
	return 0;
}

void bk_filter_clear(struct bk_store *s)
{
	sqlite3_exec(bk_store_db(s),
		     "DELETE FROM " BK_FILTER_SEL, NULL, NULL, NULL);
}
