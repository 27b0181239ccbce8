/* test_restore_domain.c - core/restore_domain.c with a real domain
 * payload: merged into a domain of another store and of the same store;
 * key conflicts (everything named, nothing changed); the same key kept;
 * the skip rules for users, groups, CTE policies and customer fragments
 * with the seed's membership rules; corrupt, truncated and system
 * payloads; the caller's transaction.  Links and hand-written payloads:
 * test_restore_domain_payloads.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "restore_domain_util.h"
#include "testutil.h"

static char dir[] = "/tmp/bk-test-rdom-XXXXXX";
static const char *const tmp_files[] = {
	"a.key", "a.db", "a.db-wal", "a.db-shm",
	"b.key", "b.db", "b.db-wal", "b.db-shm",
	"c.key", "c.db", "c.db-wal", "c.db-shm",
};

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
	/* The restore turned foreign keys off for itself, and on again. */
	CHECK_EQ_INT(sqlite3_exec(bk_store_db(b),
		"INSERT INTO resources(id, domain, type, name, created_at)"
		" VALUES('0123', 'no-such-domain', 'keys', 'k', 'now')",
		NULL, NULL, NULL), SQLITE_CONSTRAINT_FOREIGNKEY);
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
	CHECK(unchanged(b, before));
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
	char *before, *id, want[300];
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
	CHECK(unchanged(c, before));
	CHECK_EQ_INT(temp_tables(c), 0);
	CHECK(sqlite3_get_autocommit(bk_store_db(c)));
	/* A restore that failed turned foreign keys on again too. */
	CHECK_EQ_INT(sqlite3_exec(bk_store_db(c),
		"INSERT INTO resources(id, domain, type, name, created_at)"
		" VALUES('0123', 'no-such-domain', 'keys', 'k', 'now')",
		NULL, NULL, NULL), SQLITE_CONSTRAINT_FOREIGNKEY);
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

/* Corrupt, truncated and system payloads, a missing target: an error and
 * nothing changed. */
static void test_bad(struct bk_store *a, struct bk_rot *rot_a,
		     struct bk_store *c, struct bk_rot *rot, const char *text)
{
	struct bk_err e = { 0 };
	json_object *report;
	char *before, *bad, *sys, *p;
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
	CHECK(unchanged(c, before));

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
	CHECK(unchanged(c, before));
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

/* Every test once, on new stores in a new directory. */
static int run(void)
{
	struct bk_rot *rot_a = NULL, *rot_c = NULL;
	struct bk_store *a, *c;
	char *text;

	strcpy(dir, "/tmp/bk-test-rdom-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return -1;
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
	test_bad(a, rot_a, c, rot_c, text);
	test_caller_tx(c, rot_c, text);

	free(text);
	bk_store_close(a);
	bk_store_close(c);
	bk_rot_free(rot_a);
	bk_rot_free(rot_c);
	tu_cleanup(dir, tmp_files, sizeof(tmp_files) / sizeof(tmp_files[0]));
	return 0;
}

int main(void)
{
	CHECK_EQ_INT(bk_crypto_init(), 0);
	for (rd_with_ids = 0; rd_with_ids < 2; rd_with_ids++)
		if (run())
			return 1;
	return check_done("test_restore_domain");
}
