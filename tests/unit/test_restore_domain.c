/* test_restore_domain.c - core/restore_domain.c: a domain payload merged
 * into a domain of another store and of the same store; key conflicts
 * (everything named, nothing changed); the same key kept; the skip rules
 * for users, groups, CTE policies and customer fragments with the seed's
 * membership rules; key links; member lines before their resources;
 * corrupt, truncated and system payloads; the caller's transaction;
 * bounded name lists. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/crypto.h"
#include "core/snapshot.h"
#include "core/store.h"
#include "hsm/rot.h"
#include "testutil.h"

static char dir[] = "/tmp/bk-test-rdom-XXXXXX";
static const char *const tmp_files[] = {
	"a.key", "a.db", "a.db-wal", "a.db-shm",
	"b.key", "b.db", "b.db-wal", "b.db-shm",
	"c.key", "c.db", "c.db-wal", "c.db-shm",
};

/* A new payload of domain (NULL: system scope) of s; caller frees. */
static char *payload(struct bk_store *s, struct bk_rot *rot,
		     const char *domain)
{
	struct tu_mem m = { 0 };
	struct bk_err e = { 0 };
	int ret;

	ret = bk_snapshot_write(s, rot, domain, NULL, tu_mem_sink, &m, NULL,
				NULL, NULL, &e);
	if (ret)
		fprintf(stderr, "write %s: %s\n", domain ? domain : "system",
			e.msg);
	CHECK_EQ_INT(ret, 0);
	return m.buf;
}

/* Restores text into target; *report (new, caller puts) gets the report. */
static int restore(struct bk_store *s, struct bk_rot *rot, const char *target,
		   const char *text, json_object **report, struct tu_prog *p,
		   struct bk_err *e)
{
	struct tu_mem m = { .buf = (char *)text, .len = strlen(text),
			    .chunk = 4093 };

	*report = json_object_new_object();
	bk_err_clear(e);
	return bk_snapshot_restore_domain(s, rot, target, tu_mem_source, &m,
					  *report, p ? tu_progress : NULL, p,
					  e);
}

/* ---- stores ---- */

static void add_domain(struct bk_store *s, const char *name, const char *hsm)
{
	struct bk_err e = { 0 };

	CHECK_EQ_INT(bk_domain_add(s, name, hsm, &e), 0);
}

/* The rows of one SQL query, one line each ('|' between columns). */
static char *rows(struct bk_store *s, const char *sql, const char *bind)
{
	sqlite3_stmt *st;
	char *out = calloc(1, 1);
	size_t len = 0;

	CHECK_EQ_INT(sqlite3_prepare_v2(bk_store_db(s), sql, -1, &st, NULL),
		     SQLITE_OK);
	if (bind)
		sqlite3_bind_text(st, 1, bind, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			const char *v = (const char *)sqlite3_column_text(st, i);
			size_t n = v ? strlen(v) : 4;

			out = realloc(out, len + n + 3);
			memcpy(out + len, v ? v : "NULL", n);
			len += n;
			out[len++] = i + 1 < sqlite3_column_count(st) ? '|' : '\n';
			out[len] = '\0';
		}
	}
	sqlite3_finalize(st);
	return out;
}

/* Every backed-up row of the store, byte for byte (material in hex). */
static char *dump(struct bk_store *s)
{
	return rows(s,
		"SELECT 'd', name, hsm, created_at, '', '', '', '', '' FROM domains"
		" UNION ALL SELECT 'r', id, domain, type, name, version, attrs,"
		"  hex(material) || '/' || ifnull(fingerprint, '-'), created_at"
		"  FROM resources"
		" UNION ALL SELECT 'm', domain, group_name, user_name, '', '', '', '', ''"
		"  FROM members"
		" UNION ALL SELECT 'l', domain, policy_name, key_name, '', '', '', '', ''"
		"  FROM key_links"
		" ORDER BY 1, 2, 3, 4, 5, 6", NULL);
}

/* One domain's resources; ids: with their ids. */
static char *domain_rows(struct bk_store *s, const char *domain, int ids)
{
	return rows(s, ids ?
		    "SELECT type, name, version, attrs, fingerprint, created_at, id"
		    " FROM resources WHERE domain = ?1 ORDER BY 1, 2, 3" :
		    "SELECT type, name, version, attrs, fingerprint, created_at"
		    " FROM resources WHERE domain = ?1 ORDER BY 1, 2, 3", domain);
}

static char *pairs(struct bk_store *s, const char *domain)
{
	return rows(s,
		"SELECT 'm', group_name, user_name FROM members WHERE domain = ?1"
		" UNION ALL SELECT 'l', policy_name, key_name FROM key_links"
		" WHERE domain = ?1 ORDER BY 1, 2, 3", domain);
}

static int member(struct bk_store *s, const char *domain, const char *g,
		  const char *u)
{
	char sql[512];

	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM members WHERE"
		 " domain = ?1 AND group_name = '%s' AND user_name = '%s'", g, u);
	return (int)tu_scalar_bind(s, sql, domain);
}

static int link_of(struct bk_store *s, const char *domain, const char *p,
		   const char *k)
{
	char sql[512];

	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM key_links WHERE"
		 " domain = ?1 AND policy_name = '%s' AND key_name = '%s'", p, k);
	return (int)tu_scalar_bind(s, sql, domain);
}

static long long temp_tables(struct bk_store *s)
{
	return tu_scalar(s, "SELECT COUNT(*) FROM temp.sqlite_master"
		      " WHERE name LIKE 'bk_rd%'");
}

/* A payload without ids and domain names: what a restore must carry
 * over whatever ids it had to give. */
static char *norm(const char *text)
{
	char *out = calloc(1, 1), *copy = strdup(text), *save = NULL;
	size_t len = 0;

	for (char *line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		json_object *o = json_tokener_parse(line);
		const char *s;

		json_object_object_del(o, "id");
		json_object_object_del(o, "domain");
		if (json_object_object_get_ex(o, "hsm", NULL)) {
			json_object_object_del(o, "name");
			json_object_object_del(o, "createdAt");
		}
		s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		out = realloc(out, len + strlen(s) + 2);
		memcpy(out + len, s, strlen(s));
		len += strlen(s);
		out[len++] = '\n';
		out[len] = '\0';
		json_object_put(o);
	}
	free(copy);
	return out;
}

/* ---- the report ---- */

static json_object *rep(json_object *report, const char *type)
{
	return json_object_object_get(report, type);
}

static long long rep_n(json_object *report, const char *type,
		       const char *field)
{
	json_object *v;

	if (!json_object_object_get_ex(rep(report, type), field, &v))
		return -1;
	return json_object_get_int64(v);
}

/* The names of report[type][list] joined with ','. */
static const char *rep_names(json_object *report, const char *type,
			     const char *list)
{
	static char buf[4096];
	json_object *a = json_object_object_get(rep(report, type), list);
	size_t n = 0;

	buf[0] = '\0';
	if (!json_object_is_type(a, json_type_array))
		return "(none)";
	for (size_t i = 0; i < json_object_array_length(a) && n < 4000; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s",
				      i ? "," : "", json_object_get_string(
					      json_object_array_get_idx(a, i)));
	return buf;
}

/* ---- the source ---- */

static const char *const others[] = {
	"cas", "certificates", "policies", "schedules", "connections", "audit",
	NULL
};

/* Domain src of a: 4 key rows (k-aes in two versions), 3 users, 2 groups
 * (4 memberships), 2 CTE policies (3 links), one of each other type. */
static void fill_src(struct bk_store *a, struct bk_rot *rot)
{
	add_domain(a, "src", NULL);
	tu_add(a, rot, "src", "keys", "k-aes", "{\"algorithm\":\"AES\",\"size\":256,\"labels\":{\"app\":\"payroll\"}}");
	tu_add(a, rot, "src", "keys", "k-aes", "{\"version\":1}");
	tu_add(a, rot, "src", "keys", "k-hmac", "{\"algorithm\":\"HMAC\",\"size\":512}");
	tu_add(a, rot, "src", "keys", "k-ec", "{\"algorithm\":\"EC\",\"curve\":\"P-384\"}");
	tu_add(a, rot, "src", "users", "alice", "{\"email\":\"alice@example.com\",\"note\":\"slash / uni \\u00e9\"}");
	tu_add(a, rot, "src", "users", "bob", NULL);
	tu_add(a, rot, "src", "users", "frank", "{\"email\":\"frank@local\"}");
	tu_add(a, rot, "src", "groups", "devs", "{\"members\":[\"alice\",\"bob\"]}");
	tu_add(a, rot, "src", "groups", "ops", "{\"members\":[\"alice\",\"frank\"]}");
	tu_add(a, rot, "src", "cte_policies", "p-std", "{\"policy_type\":\"Standard\",\"keys\":[\"k-aes\",\"k-ec\"]}");
	tu_add(a, rot, "src", "cte_policies", "p-ld", "{\"policy_type\":\"LDT\",\"keys\":[\"k-hmac\"]}");
	tu_add(a, rot, "src", "customer_fragments", "cf1", "{\"n\":1.5}");
	for (int i = 0; others[i]; i++)
		tu_add(a, rot, "src", others[i], "o-one", "{\"list\":[1,\"2\",null,true]}");
	/* Not in src's payload. */
	add_domain(a, "other", NULL);
	tu_add(a, rot, "other", "keys", "o-key", NULL);
	tu_add(a, rot, "other", "users", "alice", NULL);
}

/* ---- the tests ---- */

/* Everything restored into an empty domain of another appliance, ids
 * kept; a second restore keeps every existing row; a deleted key comes
 * back with its id. */
static void test_other_store(struct bk_store *a, const char *text)
{
	struct bk_rot *rot_b = NULL;
	struct bk_store *b = tu_open_store(dir, "b", &rot_b);
	struct tu_prog p = { 0 };
	struct bk_err e = { 0 };
	json_object *report;
	char *x, *side, *before, *back;
	int ret;

	add_domain(b, "dst", NULL);
	add_domain(b, "side", NULL);
	tu_add(b, rot_b, "side", "keys", "k-aes", NULL);
	tu_add(b, rot_b, "side", "users", "alice", NULL);
	tu_add(b, rot_b, "side", "groups", "devs", "{\"members\":[\"alice\"]}");
	side = domain_rows(b, "side", 1);

	ret = restore(b, rot_b, "dst", text, &report, &p, &e);
	if (ret)
		fprintf(stderr, "restore: %s\n", e.msg);
	CHECK_EQ_INT(ret, 0);
	CHECK(!p.backwards && p.calls >= 2 && p.last_done == p.last_total &&
	      p.last_done == 4 + 3 + 2 + 2 + 1 + 6 + 1 + 4 + 3);
	CHECK(!strcmp(json_object_get_string(json_object_object_get(report, "source")), "src"));
	CHECK(!strcmp(json_object_get_string(json_object_object_get(report, "target")), "dst"));
	CHECK_EQ_INT(rep_n(report, "keys", "restored"), 4);
	CHECK_EQ_INT(rep_n(report, "users", "restored"), 3);
	CHECK_EQ_INT(rep_n(report, "groups", "restored"), 2);
	CHECK_EQ_INT(rep_n(report, "cte_policies", "restored"), 2);
	CHECK_EQ_INT(rep_n(report, "customer_fragments", "restored"), 1);
	for (int i = 0; others[i]; i++)
		CHECK_EQ_INT(rep_n(report, others[i], "restored"), 1);
	for (const char *const *t = bk_resource_types(); *t; t++) {
		CHECK_EQ_INT(rep_n(report, *t, "skipped"), 0);
		CHECK_EQ_INT(rep_n(report, *t, "conflicts"), 0);
		CHECK(!json_object_object_get_ex(rep(report, *t), "reidentified", NULL));
	}
	CHECK_EQ_INT(rep_n(report, "members", "restored"), 4);
	CHECK_EQ_INT(rep_n(report, "members", "dropped"), 0);
	CHECK_EQ_INT(rep_n(report, "links", "restored"), 3);
	CHECK_EQ_INT(rep_n(report, "links", "dropped"), 0);
	json_object_put(report);

	/* The same rows, ids, fingerprints, memberships and links. */
	CHECK(tu_same(domain_rows(a, "src", 1), domain_rows(b, "dst", 1)));
	CHECK(tu_same(pairs(a, "src"), pairs(b, "dst")));
	/* The same material: b's own snapshot unwraps it (checking each
	 * fingerprint) and carries the same lines. */
	back = payload(b, rot_b, "dst");
	CHECK(tu_same(norm(text), norm(back)));
	/* No domain src appeared; side untouched; no temporary tables. */
	CHECK_EQ_INT(tu_scalar(b, "SELECT COUNT(*) FROM domains"), 2);
	x = domain_rows(b, "side", 1);
	CHECK(!strcmp(x, side));
	free(x);
	CHECK_EQ_INT(member(b, "side", "devs", "alice"), 1);
	CHECK_EQ_INT(temp_tables(b), 0);

	/* Again: every key has the same id there and is kept; the rest
	 * exists by name; no membership or link is added. */
	before = dump(b);
	ret = restore(b, rot_b, "dst", text, &report, NULL, &e);
	CHECK_EQ_INT(ret, 0);
	CHECK_EQ_INT(rep_n(report, "keys", "restored"), 0);
	CHECK_EQ_INT(rep_n(report, "keys", "skipped"), 4);
	CHECK_EQ_INT(rep_n(report, "keys", "conflicts"), 0);
	CHECK(!strcmp(rep_names(report, "keys", "skippedNames"), "k-aes,k-aes,k-ec,k-hmac"));
	CHECK_EQ_INT(rep_n(report, "users", "skipped"), 3);
	CHECK_EQ_INT(rep_n(report, "groups", "skipped"), 2);
	CHECK_EQ_INT(rep_n(report, "members", "restored"), 0);
	CHECK_EQ_INT(rep_n(report, "members", "dropped"), 4);
	CHECK_EQ_INT(rep_n(report, "links", "dropped"), 3);
	json_object_put(report);
	x = dump(b);
	CHECK(!strcmp(x, before));
	free(x);
	free(before);

	/* A key deleted since comes back with its id. */
	CHECK_EQ_INT(bk_resource_delete(b, "dst", "keys", "k-hmac", &e), 0);
	ret = restore(b, rot_b, "dst", text, &report, NULL, &e);
	CHECK_EQ_INT(ret, 0);
	CHECK_EQ_INT(rep_n(report, "keys", "restored"), 1);
	CHECK_EQ_INT(rep_n(report, "keys", "skipped"), 3);
	json_object_put(report);
	CHECK(tu_same(domain_rows(a, "src", 1), domain_rows(b, "dst", 1)));

	free(back);
	free(side);
	bk_store_close(b);
	bk_rot_free(rot_b);
}

#define ALL_BUT_COPY \
	"SELECT id, domain, type, name, version, attrs, hex(material)," \
	" fingerprint, created_at FROM resources WHERE domain <> 'copy'" \
	" ORDER BY id"

/* Into another domain of the same appliance: every id is taken, so every
 * row gets a new one; src and other are untouched. */
static void test_same_store(struct bk_store *a, struct bk_rot *rot,
			    const char *text)
{
	struct bk_err e = { 0 };
	json_object *report;
	char *before, *x, *back;
	int ret;

	before = rows(a, ALL_BUT_COPY, NULL);
	add_domain(a, "copy", NULL);
	ret = restore(a, rot, "copy", text, &report, NULL, &e);
	if (ret)
		fprintf(stderr, "restore: %s\n", e.msg);
	CHECK_EQ_INT(ret, 0);
	CHECK_EQ_INT(rep_n(report, "keys", "restored"), 4);
	CHECK(!strcmp(rep_names(report, "keys", "reidentified"), "k-aes,k-aes,k-ec,k-hmac"));
	CHECK(!strcmp(rep_names(report, "users", "reidentified"), "alice,bob,frank"));
	CHECK_EQ_INT(rep_n(report, "members", "restored"), 4);
	CHECK_EQ_INT(rep_n(report, "links", "restored"), 3);
	json_object_put(report);
	CHECK_EQ_INT(tu_scalar(a, "SELECT COUNT(*) FROM resources WHERE domain = 'copy'"), 18);
	CHECK_EQ_INT(tu_scalar(a, "SELECT COUNT(*) FROM resources c JOIN resources s"
			    " ON c.name = s.name AND c.type = s.type"
			    " AND c.version = s.version AND c.id <> s.id"
			    " AND c.fingerprint IS s.fingerprint"
			    " WHERE c.domain = 'copy' AND s.domain = 'src'"), 18);
	CHECK(tu_same(domain_rows(a, "src", 0), domain_rows(a, "copy", 0)));
	CHECK(tu_same(pairs(a, "src"), pairs(a, "copy")));
	back = payload(a, rot, "copy");
	CHECK(tu_same(norm(text), norm(back)));
	free(back);
	x = rows(a, ALL_BUT_COPY, NULL);
	CHECK(!strcmp(x, before));
	free(x);
	free(before);
	CHECK_EQ_INT(tu_scalar(a, "SELECT COUNT(*) FROM domains"), 3);
}

/* Keys with the same name and version but another id: the seed's error,
 * every conflict named, the store unchanged byte for byte. */
static void test_conflict(struct bk_store *c, struct bk_rot *rot,
			  const char *text)
{
	struct bk_err e = { 0 };
	json_object *report;
	char *before, *after, *id, want[300];
	int ret;

	add_domain(c, "tgt", NULL);
	tu_add(c, rot, "tgt", "keys", "k-aes", NULL);		/* version 0 */
	tu_add(c, rot, "tgt", "keys", "k-ec", "{\"algorithm\":\"EC\"}");
	tu_add(c, rot, "tgt", "users", "zed", NULL);
	id = rows(c, "SELECT id FROM resources WHERE domain = 'tgt'"
		  " AND name = 'k-aes'", NULL);
	id[strlen(id) - 1] = '\0';
	before = dump(c);
	ret = restore(c, rot, "tgt", text, &report, NULL, &e);
	CHECK_EQ_INT(ret, -EEXIST);
	CHECK(!strncmp(e.msg, "Error copying data from backup database", 39));
	snprintf(want, sizeof(want), "Error copying data from backup database:"
		 " key 'k-aes' version 0 exists in domain tgt with another id (%s)",
		 id);
	CHECK(!strncmp(e.msg, want, strlen(want)));
	CHECK(strstr(e.msg, "1 more conflicting key") != NULL);
	CHECK_EQ_INT(rep_n(report, "keys", "conflicts"), 2);
	CHECK(!strcmp(rep_names(report, "keys", "conflictNames"), "k-aes,k-ec"));
	for (const char *const *t = bk_resource_types(); *t; t++)
		CHECK_EQ_INT(rep_n(report, *t, "restored"), 0);
	CHECK_EQ_INT(rep_n(report, "members", "restored"), 0);
	json_object_put(report);
	after = dump(c);
	CHECK(!strcmp(before, after));
	CHECK_EQ_INT(temp_tables(c), 0);
	CHECK(sqlite3_get_autocommit(bk_store_db(c)));
	free(after);
	free(before);
	free(id);
}

/* An existing user: skipped, its groups restored, it is not added to
 * them.  An existing group: skipped, its users restored, they are not
 * added to it. */
static void test_users_groups(struct bk_store *c, struct bk_rot *rot,
			      const char *text)
{
	struct bk_err e = { 0 };
	json_object *report;
	char *mine;
	int ret;

	add_domain(c, "t-user", NULL);
	tu_add(c, rot, "t-user", "users", "alice", "{\"email\":\"mine@local\"}");
	mine = domain_rows(c, "t-user", 1);
	ret = restore(c, rot, "t-user", text, &report, NULL, &e);
	if (ret)
		fprintf(stderr, "restore: %s\n", e.msg);
	CHECK_EQ_INT(ret, 0);
	CHECK_EQ_INT(rep_n(report, "users", "restored"), 2);
	CHECK_EQ_INT(rep_n(report, "users", "skipped"), 1);
	CHECK(!strcmp(rep_names(report, "users", "skippedNames"), "alice"));
	CHECK_EQ_INT(rep_n(report, "groups", "restored"), 2);
	CHECK_EQ_INT(rep_n(report, "members", "restored"), 2);
	CHECK_EQ_INT(rep_n(report, "members", "dropped"), 2);
	json_object_put(report);
	CHECK_EQ_INT(member(c, "t-user", "devs", "bob"), 1);
	CHECK_EQ_INT(member(c, "t-user", "ops", "frank"), 1);
	CHECK_EQ_INT(tu_scalar_bind(c,
			"SELECT COUNT(*) FROM members WHERE domain = ?1"
			" AND user_name = 'alice'", "t-user"), 0);
	CHECK(strstr(mine, "mine@local") != NULL);
	CHECK_EQ_INT(tu_scalar_bind(c,
			"SELECT COUNT(*) FROM resources WHERE domain = ?1"
			" AND attrs LIKE '%mine@local%'", "t-user"), 1);
	free(mine);

	add_domain(c, "t-group", NULL);
	tu_add(c, rot, "t-group", "users", "carol", NULL);
	tu_add(c, rot, "t-group", "groups", "devs", "{\"members\":[\"carol\"]}");
	ret = restore(c, rot, "t-group", text, &report, NULL, &e);
	CHECK_EQ_INT(ret, 0);
	CHECK_EQ_INT(rep_n(report, "groups", "restored"), 1);
	CHECK_EQ_INT(rep_n(report, "groups", "skipped"), 1);
	CHECK(!strcmp(rep_names(report, "groups", "skippedNames"), "devs"));
	CHECK_EQ_INT(rep_n(report, "users", "restored"), 3);
	CHECK_EQ_INT(rep_n(report, "members", "restored"), 2);
	CHECK_EQ_INT(rep_n(report, "members", "dropped"), 2);
	json_object_put(report);
	CHECK_EQ_INT(tu_scalar_bind(c,
			"SELECT COUNT(*) FROM resources WHERE domain = ?1"
			" AND type = 'users' AND name IN ('alice', 'bob')",
			    "t-group"), 2);
	CHECK_EQ_INT(tu_scalar_bind(c,
			"SELECT COUNT(*) FROM members WHERE domain = ?1"
			" AND group_name = 'devs'", "t-group"), 1);
	CHECK_EQ_INT(member(c, "t-group", "devs", "carol"), 1);
	CHECK_EQ_INT(member(c, "t-group", "ops", "alice"), 1);
	CHECK_EQ_INT(member(c, "t-group", "ops", "frank"), 1);
}

/* CTE policies and customer fragments that exist are skipped (and keep
 * their links); the restored policy gets its link. */
static void test_cte(struct bk_store *c, struct bk_rot *rot, const char *text)
{
	struct bk_err e = { 0 };
	json_object *report;
	int ret;

	add_domain(c, "t-cte", NULL);
	tu_add(c, rot, "t-cte", "keys", "mine", NULL);
	tu_add(c, rot, "t-cte", "cte_policies", "p-std", "{\"keys\":[\"mine\"]}");
	tu_add(c, rot, "t-cte", "customer_fragments", "cf1", "{\"mine\":true}");
	ret = restore(c, rot, "t-cte", text, &report, NULL, &e);
	CHECK_EQ_INT(ret, 0);
	CHECK_EQ_INT(rep_n(report, "cte_policies", "restored"), 1);
	CHECK_EQ_INT(rep_n(report, "cte_policies", "skipped"), 1);
	CHECK(!strcmp(rep_names(report, "cte_policies", "skippedNames"), "p-std"));
	CHECK_EQ_INT(rep_n(report, "customer_fragments", "restored"), 0);
	CHECK_EQ_INT(rep_n(report, "customer_fragments", "skipped"), 1);
	CHECK(!strcmp(rep_names(report, "customer_fragments", "skippedNames"), "cf1"));
	CHECK_EQ_INT(rep_n(report, "links", "restored"), 1);
	CHECK_EQ_INT(rep_n(report, "links", "dropped"), 2);
	json_object_put(report);
	CHECK_EQ_INT(tu_scalar_bind(c,
			"SELECT COUNT(*) FROM key_links WHERE domain = ?1"
			" AND policy_name = 'p-std'", "t-cte"), 1);
	CHECK_EQ_INT(link_of(c, "t-cte", "p-std", "mine"), 1);
	CHECK_EQ_INT(link_of(c, "t-cte", "p-ld", "k-hmac"), 1);
	CHECK_EQ_INT(tu_scalar_bind(c,
			"SELECT COUNT(*) FROM resources WHERE domain = ?1"
			" AND type = 'customer_fragments'"
			    " AND attrs = '{\"mine\":true}'", "t-cte"), 1);
}

/* A link is kept when its policy was restored and its key is in the
 * target afterwards, restored or already there. */
static void test_links(struct bk_store *a, struct bk_rot *rot_a,
		       struct bk_store *c, struct bk_rot *rot)
{
	struct bk_err e = { 0 };
	json_object *report;
	char *text;
	int ret;

	add_domain(a, "lsrc", NULL);
	tu_add(a, rot_a, "lsrc", "keys", "k1", NULL);
	tu_add(a, rot_a, "lsrc", "cte_policies", "p1", "{\"keys\":[\"k1\"]}");
	tu_add(a, rot_a, "lsrc", "cte_policies", "p3", "{\"keys\":[\"kx\"]}");
	tu_add(a, rot_a, "lsrc", "cte_policies", "p4", "{\"keys\":[\"knone\"]}");
	tu_add(a, rot_a, "lsrc", "cte_policies", "p5", "{\"keys\":[\"k1\"]}");
	text = payload(a, rot_a, "lsrc");
	add_domain(c, "t-links", NULL);
	tu_add(c, rot, "t-links", "keys", "kx", NULL);
	tu_add(c, rot, "t-links", "cte_policies", "p1", "{\"keys\":[\"kx\"]}");
	ret = restore(c, rot, "t-links", text, &report, NULL, &e);
	CHECK_EQ_INT(ret, 0);
	CHECK_EQ_INT(rep_n(report, "links", "restored"), 2);
	CHECK_EQ_INT(rep_n(report, "links", "dropped"), 2);
	CHECK_EQ_INT(rep_n(report, "cte_policies", "restored"), 3);
	json_object_put(report);
	CHECK_EQ_INT(link_of(c, "t-links", "p1", "k1"), 0);
	CHECK_EQ_INT(link_of(c, "t-links", "p1", "kx"), 1);
	CHECK_EQ_INT(link_of(c, "t-links", "p3", "kx"), 1);
	CHECK_EQ_INT(link_of(c, "t-links", "p4", "knone"), 0);
	CHECK_EQ_INT(link_of(c, "t-links", "p5", "k1"), 1);
	free(text);
}

/* ---- hand-written payloads ---- */

/* Appends the end line for these counts (keys, users, groups,
 * cte_policies; members, links) and returns text (realloc'ed). */
static char *end_line(char *text, int ndomains, int keys, int users,
		      int groups, int ctes, int members, int links)
{
	char line[600];
	int res = keys + users + groups + ctes;
	size_t n = strlen(text);

	snprintf(line, sizeof(line),
		 "{\"t\":\"end\",\"counts\":{\"domains\":%d,\"resources\":%d,"
		 "\"keys\":%d,\"users\":%d,\"groups\":%d,\"cte_policies\":%d,"
		 "\"customer_fragments\":0,\"cas\":0,\"certificates\":0,"
		 "\"policies\":0,\"schedules\":0,\"connections\":0,\"audit\":0,"
		 "\"members\":%d,\"links\":%d,\"total\":%d}}\n",
		 ndomains, res, keys, users, groups, ctes, members, links,
		 ndomains + res + members + links);
	text = realloc(text, n + strlen(line) + 1);
	strcpy(text + n, line);
	return text;
}

#define RES(type, name, attrs) \
	"{\"t\":\"resource\",\"id\":\"hand-" name "\",\"domain\":\"hand\"," \
	"\"type\":\"" type "\",\"name\":\"" name "\",\"version\":0," \
	"\"attrs\":" attrs ",\"createdAt\":\"2026-01-02T03:04:05Z\"}\n"

/* Member and link lines before their resources (the format promises
 * only "domains first"); an HSM-anchored source domain. */
static void test_hand(struct bk_store *c, struct bk_rot *rot)
{
	static const char head[] =
		"{\"kind\":\"backupfs-snapshot\",\"format\":1,\"scope\":\"domain\","
		"\"domain\":\"hand\"}\n";
	static const char body[] =
		"{\"t\":\"member\",\"domain\":\"hand\",\"group\":\"g1\",\"user\":\"u1\"}\n"
		"{\"t\":\"member\",\"domain\":\"hand\",\"group\":\"g1\",\"user\":\"ghost\"}\n"
		"{\"t\":\"link\",\"domain\":\"hand\",\"policy\":\"pol\",\"key\":\"there\"}\n"
		RES("users", "u1", "{}")
		RES("groups", "g1", "{\"members\":[\"u1\",\"ghost\"]}")
		RES("cte_policies", "pol", "{\"keys\":[\"there\"]}");
	struct bk_err e = { 0 };
	json_object *report;
	char *text, *before, *after;
	int ret;

	text = malloc(sizeof(head) + 200 + sizeof(body));
	sprintf(text, "%s{\"t\":\"domain\",\"name\":\"hand\",\"hsm\":null,"
		"\"createdAt\":\"2026-01-01T00:00:00Z\"}\n%s", head, body);
	text = end_line(text, 1, 0, 1, 1, 1, 2, 1);
	add_domain(c, "t-hand", NULL);
	tu_add(c, rot, "t-hand", "keys", "there", NULL);
	ret = restore(c, rot, "t-hand", text, &report, NULL, &e);
	if (ret)
		fprintf(stderr, "restore: %s\n", e.msg);
	CHECK_EQ_INT(ret, 0);
	CHECK_EQ_INT(rep_n(report, "members", "restored"), 1);
	CHECK_EQ_INT(rep_n(report, "members", "dropped"), 1);
	CHECK_EQ_INT(rep_n(report, "links", "restored"), 1);
	json_object_put(report);
	CHECK_EQ_INT(member(c, "t-hand", "g1", "u1"), 1);
	CHECK_EQ_INT(member(c, "t-hand", "g1", "ghost"), 0);
	CHECK_EQ_INT(link_of(c, "t-hand", "pol", "there"), 1);
	CHECK_EQ_INT(tu_scalar(c, "SELECT COUNT(*) FROM resources WHERE id = 'hand-u1'"
			    " AND domain = 't-hand'"), 1);
	free(text);

	/* The same id under another name: that resource is already here. */
	text = malloc(sizeof(head) + 600);
	sprintf(text, "%s{\"t\":\"domain\",\"name\":\"hand\",\"hsm\":null,"
		"\"createdAt\":\"2026-01-01T00:00:00Z\"}\n"
		"{\"t\":\"resource\",\"id\":\"hand-u1\",\"domain\":\"hand\","
		"\"type\":\"users\",\"name\":\"renamed\",\"version\":0,"
		"\"attrs\":{},\"createdAt\":\"2026-01-02T03:04:05Z\"}\n", head);
	text = end_line(text, 1, 0, 1, 0, 0, 0, 0);
	before = dump(c);
	ret = restore(c, rot, "t-hand", text, &report, NULL, &e);
	CHECK_EQ_INT(ret, 0);
	CHECK_EQ_INT(rep_n(report, "users", "skipped"), 1);
	CHECK(!strcmp(rep_names(report, "users", "skippedNames"), "renamed"));
	json_object_put(report);
	after = dump(c);
	CHECK(!strcmp(before, after));
	free(after);
	free(before);
	free(text);

	/* The same from an HSM-anchored domain: refused into a domain
	 * without that HSM, accepted into one with it. */
	text = malloc(sizeof(head) + 200 + sizeof(body));
	sprintf(text, "%s{\"t\":\"domain\",\"name\":\"hand\",\"hsm\":"
		"\"pkcs11:token=part1\",\"createdAt\":\"2026-01-01T00:00:00Z\"}\n%s",
		head, body);
	text = end_line(text, 1, 0, 1, 1, 1, 2, 1);
	add_domain(c, "t-hsm", "pkcs11:token=part2");
	before = dump(c);
	ret = restore(c, rot, "t-hsm", text, &report, NULL, &e);
	CHECK_EQ_INT(ret, -EINVAL);
	CHECK(strstr(e.msg, "same HSM partition") != NULL);
	json_object_put(report);
	after = dump(c);
	CHECK(!strcmp(before, after));
	free(after);
	free(before);
	add_domain(c, "t-hsm1", "pkcs11:token=part1");
	ret = restore(c, rot, "t-hsm1", text, &report, NULL, &e);
	CHECK_EQ_INT(ret, 0);
	CHECK_EQ_INT(rep_n(report, "users", "restored"), 1);
	json_object_put(report);
	free(text);
}

/* 1,100 users skipped: the name list stops at 1,000. */
static void test_many(struct bk_store *c, struct bk_rot *rot)
{
	struct bk_err e = { 0 };
	json_object *report;
	char *text;
	size_t n;
	int ret;

	text = malloc(200 * 1200);
	n = (size_t)sprintf(text,
		"{\"kind\":\"backupfs-snapshot\",\"format\":1,\"scope\":\"domain\","
		"\"domain\":\"many\",\"total\":1101}\n"
		"{\"t\":\"domain\",\"name\":\"many\",\"hsm\":null,"
		"\"createdAt\":\"2026-01-01T00:00:00Z\"}\n");
	for (int i = 0; i < 1100; i++)
		n += (size_t)sprintf(text + n,
			"{\"t\":\"resource\",\"id\":\"many-%d\",\"domain\":\"many\","
			"\"type\":\"users\",\"name\":\"user-%04d\",\"version\":0,"
			"\"attrs\":{},\"createdAt\":\"2026-01-02T03:04:05Z\"}\n",
			i, i);
	text = end_line(text, 1, 0, 1100, 0, 0, 0, 0);
	add_domain(c, "t-many", NULL);
	ret = restore(c, rot, "t-many", text, &report, NULL, &e);
	CHECK_EQ_INT(ret, 0);
	CHECK_EQ_INT(rep_n(report, "users", "restored"), 1100);
	CHECK(!json_object_object_get_ex(rep(report, "users"), "truncated", NULL));
	json_object_put(report);
	ret = restore(c, rot, "t-many", text, &report, NULL, &e);
	CHECK_EQ_INT(ret, 0);
	CHECK_EQ_INT(rep_n(report, "users", "skipped"), 1100);
	CHECK_EQ_INT(json_object_array_length(json_object_object_get(
		rep(report, "users"), "skippedNames")), 1000);
	CHECK(json_object_get_boolean(json_object_object_get(
		rep(report, "users"), "truncated")));
	json_object_put(report);
	free(text);
}

/* Corrupt, truncated and system payloads, a missing target: an error and
 * nothing changed. */
static void test_bad(struct bk_store *a, struct bk_rot *rot_a,
		     struct bk_store *c, struct bk_rot *rot, const char *text)
{
	struct bk_err e = { 0 };
	json_object *report;
	char *before, *after, *bad, *sys, *p;
	int ret;

	add_domain(c, "t-bad", NULL);
	tu_add(c, rot, "t-bad", "users", "zed", NULL);
	before = dump(c);

	/* A bad line in the middle, after rows were inserted. */
	bad = tu_edit_line(text, 14, "{\"t\":\"resource\",\"oops\":1}");
	ret = restore(c, rot, "t-bad", bad, &report, NULL, &e);
	CHECK_EQ_INT(ret, -EINVAL);
	CHECK(strstr(e.msg, "payload line 15") != NULL);
	json_object_put(report);
	free(bad);
	bad = tu_edit_line(text, 14, "not json");
	CHECK_EQ_INT(restore(c, rot, "t-bad", bad, &report, NULL, &e), -EINVAL);
	json_object_put(report);
	free(bad);
	/* Material that does not match its fingerprint. */
	bad = strdup(text);
	p = strstr(bad, "\"material\":\"");
	p += strlen("\"material\":\"");
	*p = *p == 'A' ? 'B' : 'A';
	CHECK_EQ_INT(restore(c, rot, "t-bad", bad, &report, NULL, &e), -EINVAL);
	json_object_put(report);
	free(bad);
	/* Truncated: no end line; then a line lost. */
	bad = tu_edit_line(text, 1 + 1 + 18 + 4 + 3, NULL);	/* the end line */
	CHECK_EQ_INT(restore(c, rot, "t-bad", bad, &report, NULL, &e), -EINVAL);
	CHECK(strstr(e.msg, "truncated") != NULL);
	json_object_put(report);
	free(bad);
	bad = tu_edit_line(text, 20, NULL);
	CHECK_EQ_INT(restore(c, rot, "t-bad", bad, &report, NULL, &e), -EINVAL);
	json_object_put(report);
	free(bad);
	after = dump(c);
	CHECK(!strcmp(before, after));
	free(after);

	/* A system payload. */
	sys = payload(a, rot_a, NULL);
	ret = restore(c, rot, "t-bad", sys, &report, NULL, &e);
	CHECK_EQ_INT(ret, -EINVAL);
	CHECK(strstr(e.msg, "domain restore needs a domain snapshot") != NULL);
	json_object_put(report);
	free(sys);
	/* No such target; not a domain name. */
	CHECK_EQ_INT(restore(c, rot, "nowhere", text, &report, NULL, &e), -ENOENT);
	json_object_put(report);
	CHECK_EQ_INT(restore(c, rot, "../x", text, &report, NULL, &e), -EINVAL);
	json_object_put(report);
	after = dump(c);
	CHECK(!strcmp(before, after));
	free(after);
	free(before);
	CHECK_EQ_INT(temp_tables(c), 0);
}

/* Inside the caller's transaction: a failed restore undoes only itself. */
static void test_caller_tx(struct bk_store *c, struct bk_rot *rot,
			   const char *text)
{
	struct bk_err e = { 0 };
	json_object *report;

	add_domain(c, "t-tx", NULL);
	add_domain(c, "t-tx2", NULL);
	CHECK_EQ_INT(bk_store_begin(c, &e), 0);
	tu_add(c, rot, "t-tx", "users", "in-tx", NULL);
	tu_add(c, rot, "t-tx", "keys", "k-ec", NULL);
	CHECK_EQ_INT(restore(c, rot, "t-tx", text, &report, NULL, &e), -EEXIST);
	json_object_put(report);
	CHECK(!sqlite3_get_autocommit(bk_store_db(c)));
	CHECK_EQ_INT(restore(c, rot, "t-tx2", text, &report, NULL, &e), 0);
	json_object_put(report);
	CHECK(!sqlite3_get_autocommit(bk_store_db(c)));
	CHECK_EQ_INT(bk_store_commit(c, &e), 0);
	CHECK_EQ_INT(tu_scalar_bind(c,
			"SELECT COUNT(*) FROM resources WHERE domain = ?1",
			"t-tx"), 2);
	CHECK_EQ_INT(tu_scalar_bind(c,
			"SELECT COUNT(*) FROM resources WHERE domain = ?1",
			"t-tx2"), 18);
	CHECK_EQ_INT(tu_scalar_bind(c,
			"SELECT COUNT(*) FROM members WHERE domain = ?1",
			"t-tx2"), 4);
}

int main(void)
{
	struct bk_rot *rot_a = NULL, *rot_c = NULL;
	struct bk_store *a, *c;
	char *text;

	CHECK_EQ_INT(bk_crypto_init(), 0);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	a = tu_open_store(dir, "a", &rot_a);
	c = tu_open_store(dir, "c", &rot_c);
	fill_src(a, rot_a);
	text = payload(a, rot_a, "src");
	CHECK(text && strstr(text, "\"scope\":\"domain\",\"domain\":\"src\""));
	CHECK(text && !strstr(text, "o-key"));

	test_other_store(a, text);
	test_same_store(a, rot_a, text);
	test_conflict(c, rot_c, text);
	test_users_groups(c, rot_c, text);
	test_cte(c, rot_c, text);
	test_links(a, rot_a, c, rot_c);
	test_hand(c, rot_c);
	test_many(c, rot_c);
	test_bad(a, rot_a, c, rot_c, text);
	test_caller_tx(c, rot_c, text);

	free(text);
	bk_store_close(a);
	bk_store_close(c);
	bk_rot_free(rot_a);
	bk_rot_free(rot_c);
	tu_cleanup(dir, tmp_files, sizeof(tmp_files) / sizeof(tmp_files[0]));
	return check_done("test_restore_domain");
}
