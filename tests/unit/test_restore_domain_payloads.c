/* test_restore_domain_payloads.c - core/restore_domain.c with small
 * purpose-built payloads: key links; member lines before their
 * resources; an HSM-anchored source domain; bounded name lists.  The
 * merge of a real domain payload: test_restore_domain.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "restore_domain_util.h"
#include "testutil.h"

static char dir[] = "/tmp/bk-test-rdomp-XXXXXX";
static const char *const tmp_files[] = {
	"a.key", "a.db", "a.db-wal", "a.db-shm",
	"c.key", "c.db", "c.db-wal", "c.db-shm",
};

/* ---- the tests ---- */

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
	char *text, *before;
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
	CHECK(unchanged(c, before));
	free(before);
	free(text);

	/* Into an empty domain (its ids are looked up in the id index
	 * alone): an id of another domain gets a new one; an id twice in
	 * the payload is that resource the second time (skipped). */
	text = malloc(sizeof(head) + 900);
	sprintf(text, "%s{\"t\":\"domain\",\"name\":\"hand\",\"hsm\":null,"
		"\"createdAt\":\"2026-01-01T00:00:00Z\"}\n"
		RES("users", "u1", "{}")
		"{\"t\":\"resource\",\"id\":\"fresh-1\",\"domain\":\"hand\","
		"\"type\":\"users\",\"name\":\"v1\",\"version\":0,"
		"\"attrs\":{},\"createdAt\":\"2026-01-02T03:04:05Z\"}\n"
		"{\"t\":\"resource\",\"id\":\"fresh-1\",\"domain\":\"hand\","
		"\"type\":\"users\",\"name\":\"v2\",\"version\":0,"
		"\"attrs\":{},\"createdAt\":\"2026-01-02T03:04:05Z\"}\n", head);
	text = end_line(text, 1, 0, 3, 0, 0, 0, 0);
	add_domain(c, "t-empty", NULL);
	ret = restore(c, rot, "t-empty", text, &report, NULL, &e);
	if (ret)
		fprintf(stderr, "restore: %s\n", e.msg);
	CHECK_EQ_INT(ret, 0);
	CHECK_EQ_INT(rep_n(report, "users", "restored"), 2);
	CHECK(!strcmp(rep_names(report, "users", "reidentified"), "u1"));
	CHECK(!strcmp(rep_names(report, "users", "skippedNames"), "v2"));
	json_object_put(report);
	CHECK_EQ_INT(tu_scalar(c, "SELECT COUNT(*) FROM resources WHERE"
			    " domain = 't-empty' AND name = 'u1'"
			    " AND id != 'hand-u1'"), 1);
	CHECK_EQ_INT(tu_scalar(c, "SELECT COUNT(*) FROM resources WHERE"
			    " id = 'fresh-1' AND domain = 't-empty'"
			    " AND name = 'v1'"), 1);
	CHECK_EQ_INT(tu_scalar(c, "SELECT COUNT(*) FROM resources WHERE"
			    " domain = 't-empty'"), 2);
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
	CHECK(unchanged(c, before));
	free(before);
	add_domain(c, "t-hsm1", "pkcs11:token=part1");
	ret = restore(c, rot, "t-hsm1", text, &report, NULL, &e);
	CHECK_EQ_INT(ret, 0);
	CHECK_EQ_INT(rep_n(report, "users", "restored"), 1);
	json_object_put(report);
	free(text);
}

/* A user line with id, in the writer's form or (form 1) with its members
 * in another order, which the id collection skips (restore_ids.c). */
static char *user_line(char *text, const char *id, const char *name, int form)
{
	size_t n = strlen(text);

	text = realloc(text, n + 300);
	sprintf(text + n, form ?
		"{\"t\":\"resource\",\"domain\":\"ids\",\"id\":\"%s\","
		"\"type\":\"users\",\"name\":\"%s\",\"version\":0,"
		"\"attrs\":{},\"createdAt\":\"2026-01-02T03:04:05Z\"}\n" :
		"{\"t\":\"resource\",\"id\":\"%s\",\"domain\":\"ids\","
		"\"type\":\"users\",\"name\":\"%s\",\"version\":0,"
		"\"attrs\":{},\"createdAt\":\"2026-01-02T03:04:05Z\"}\n",
		id, name);
	return text;
}

/* Ids in bk_time_id's form into an empty domain: one in use in another
 * domain gets a new one, whether its line was collected or not; a new
 * one is kept; the same new one again is that resource (skipped).  With
 * and without the ids collected first, the same outcome. */
static void test_time_ids(struct bk_store *c, struct bk_rot *rot)
{
	static const char fresh[] = "00112233445566778899aabbccddeeff";
	char used1[80], used2[80];
	struct bk_err e = { 0 };
	json_object *report;
	char *text;
	int ret;

	add_domain(c, "held", NULL);
	tu_add(c, rot, "held", "users", "owner1", NULL);
	tu_add(c, rot, "held", "users", "owner2", NULL);
	for (int i = 0; i < 2; i++) {
		char *id = rows(c, "SELECT id FROM resources WHERE"
				" domain = 'held' AND name = ?1",
				i ? "owner2" : "owner1");

		snprintf(i ? used2 : used1, sizeof(used1), "%.*s",
			 (int)strcspn(id, "\n"), id);
		free(id);
	}
	CHECK_EQ_INT((int)strlen(used1), 32);

	text = strdup("{\"kind\":\"backupfs-snapshot\",\"format\":1,"
		      "\"scope\":\"domain\",\"domain\":\"ids\"}\n"
		      "{\"t\":\"domain\",\"name\":\"ids\",\"hsm\":null,"
		      "\"createdAt\":\"2026-01-01T00:00:00Z\"}\n");
	text = user_line(text, used1, "c1", 0);
	text = user_line(text, fresh, "c2", 0);
	text = user_line(text, fresh, "c3", 0);
	text = user_line(text, used2, "c4", 1);
	text = end_line(text, 1, 0, 4, 0, 0, 0, 0);
	add_domain(c, "t-ids", NULL);
	ret = restore(c, rot, "t-ids", text, &report, NULL, &e);
	if (ret)
		fprintf(stderr, "restore: %s\n", e.msg);
	CHECK_EQ_INT(ret, 0);
	CHECK_EQ_INT(rep_n(report, "users", "restored"), 3);
	CHECK(!strcmp(rep_names(report, "users", "reidentified"), "c1,c4"));
	CHECK(!strcmp(rep_names(report, "users", "skippedNames"), "c3"));
	json_object_put(report);
	CHECK_EQ_INT(tu_scalar_bind(c, "SELECT COUNT(*) FROM resources WHERE"
				    " domain = 't-ids' AND name = 'c2'"
				    " AND id = ?1", fresh), 1);
	CHECK_EQ_INT(tu_scalar(c, "SELECT COUNT(*) FROM resources WHERE"
			       " domain = 't-ids'"), 3);
	CHECK_EQ_INT(tu_scalar(c, "SELECT COUNT(*) FROM resources WHERE"
			       " domain = 'held'"), 2);
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

/* text with its resource line which (from 0) written twice (the copy's
 * id with its first digit changed if other_id) and the counts that say
 * so. */
static char *key_twice_at(const char *text, int which, int other_id)
{
	static const char *const names[] = { "\"resources\":", "\"keys\":",
					     "\"total\":" };
	const char *line = strstr(text, "{\"t\":\"resource\""), *end, *p;
	char *out = malloc(strlen(text) * 2 + 64), *o = out, *id;
	size_t k, n = 0;

	while (line && which-- > 0)
		line = strstr(line + 1, "{\"t\":\"resource\"");

	CHECK(line && out);
	if (!line || !out)
		exit(check_done("test_restore_domain_payloads"));
	end = strchr(line, '\n') + 1;
	for (p = text; *p; ) {
		if (p == end) {		/* the copy, after the line */
			memcpy(o, line, (size_t)(end - line));
			if (other_id) {
				id = strstr(o, "\"id\":\"") + 6;
				*id = *id == '0' ? '1' : '0';
			}
			o += end - line;
		}
		/* each count of resources, keys and lines: one more */
		for (k = 0; k < 3; k++) {
			n = strlen(names[k]);
			if (p < line || p >= end)
				if (!strncmp(p, names[k], n))
					break;
		}
		if (k == 3)
			*o++ = *p++;
		else
			o += sprintf(o, "%s%lld", names[k],
				     strtoll(p + n, (char **)&p, 10) + 1);
	}
	*o = '\0';
	return out;
}

static char *key_twice(const char *text, int other_id)
{
	return key_twice_at(text, 0, other_id);
}

/* A restore of text into a new domain target fails on one conflict, key
 * name version 0, and leaves the store as it was. */
static void one_conflict(struct bk_store *c, struct bk_rot *rot,
			 const char *target, const char *text,
			 const char *name)
{
	struct bk_err e = { 0 };
	json_object *report;
	char want[160], *before;

	add_domain(c, target, NULL);
	before = dump(c);
	CHECK_EQ_INT(restore(c, rot, target, text, &report, NULL, &e),
		     -EEXIST);
	snprintf(want, sizeof(want),
		 "key '%s' version 0 exists in domain %s with another id",
		 name, target);
	CHECK(strstr(e.msg, want) != NULL);
	CHECK_EQ_INT(rep_n(report, "keys", "conflicts"), 1);
	json_object_put(report);
	CHECK(unchanged(c, before));
	free(before);
}

/* Keys into an empty domain go in without a look-up of their names
 * (restore_domain.c): a key line twice is that key the second time
 * (skipped); its name and version under another id is the seed's
 * conflict, and nothing is restored.  From another store: ids of the
 * same store's other domains would be new ones at each line. */
static void test_empty_keys(struct bk_store *a, struct bk_rot *rot_a,
			    struct bk_store *c, struct bk_rot *rot)
{
	struct bk_err e = { 0 };
	json_object *report;
	char *text, *twice;
	int ret;

	add_domain(a, "k-src", NULL);
	tu_add(a, rot_a, "k-src", "keys", "dk", NULL);
	tu_add(a, rot_a, "k-src", "users", "du", NULL);
	text = payload(a, rot_a, "k-src");

	twice = key_twice(text, 0);
	add_domain(c, "k-same", NULL);
	ret = restore(c, rot, "k-same", twice, &report, NULL, &e);
	if (ret)
		fprintf(stderr, "restore: %s\n", e.msg);
	CHECK_EQ_INT(ret, 0);
	CHECK_EQ_INT(rep_n(report, "keys", "restored"), 1);
	CHECK_EQ_INT(rep_n(report, "keys", "skipped"), 1);
	CHECK(!strcmp(rep_names(report, "keys", "skippedNames"), "dk"));
	CHECK_EQ_INT(rep_n(report, "users", "restored"), 1);
	json_object_put(report);
	CHECK_EQ_INT(tu_scalar_bind(c, "SELECT COUNT(*) FROM resources"
				    " WHERE domain = ?1", "k-same"), 2);
	free(twice);

	twice = key_twice(text, 1);
	one_conflict(c, rot, "k-other", twice, "dk");
	free(twice);
	free(text);
}

/* The same with 700 keys, which go in up to 256 at a time
 * (bk_res_bulk): a key line twice, at the start, middle and end of those
 * inserts, is skipped the second time and the keys after it still go
 * in; its name and version under another id in the middle of them is
 * the conflict, and nothing is restored.  Into the store the keys came
 * from, every key gets a new id. */
static void test_empty_keys_bulk(struct bk_store *a, struct bk_rot *rot_a,
				 struct bk_store *c, struct bk_rot *rot)
{
	static const int at[] = { 520, 300, 255, 128, 127, 1, 0 };
	const int nat = (int)(sizeof(at) / sizeof(at[0]));
	struct bk_err e = { 0 };
	json_object *report;
	char name[32], *text, *twice, *next;
	int ret;

	add_domain(a, "b-src", NULL);
	CHECK_EQ_INT(bk_store_begin(a, &e), 0);
	for (int i = 0; i < 700; i++) {
		snprintf(name, sizeof(name), "bk%03d", i);
		tu_add(a, rot_a, "b-src", "keys", name, NULL);
	}
	tu_add(a, rot_a, "b-src", "users", "bu", NULL);
	CHECK_EQ_INT(bk_store_commit(a, &e), 0);
	text = payload(a, rot_a, "b-src");

	twice = strdup(text);
	for (int i = 0; i < nat; i++) {		/* from the last one down */
		next = key_twice_at(twice, at[i], 0);
		free(twice);
		twice = next;
	}
	add_domain(c, "b-same", NULL);
	ret = restore(c, rot, "b-same", twice, &report, NULL, &e);
	if (ret)
		fprintf(stderr, "restore: %s\n", e.msg);
	CHECK_EQ_INT(ret, 0);
	CHECK_EQ_INT(rep_n(report, "keys", "restored"), 700);
	CHECK_EQ_INT(rep_n(report, "keys", "skipped"), nat);
	CHECK(!strcmp(rep_names(report, "keys", "skippedNames"),
		      "bk000,bk001,bk127,bk128,bk255,bk300,bk520"));
	CHECK_EQ_INT(rep_n(report, "users", "restored"), 1);
	json_object_put(report);
	CHECK_EQ_INT(tu_scalar_bind(c, "SELECT COUNT(*) FROM resources"
				    " WHERE domain = ?1", "b-same"), 701);
	{
		char *got = domain_rows(c, "b-same", 1);
		char *want = domain_rows(a, "b-src", 1);

		CHECK(got && want && !strcmp(got, want));
		free(got);
		free(want);
	}
	free(twice);

	twice = key_twice_at(text, 300, 1);
	one_conflict(c, rot, "b-other", twice, "bk300");
	free(twice);

	add_domain(a, "b-copy", NULL);
	ret = restore(a, rot_a, "b-copy", text, &report, NULL, &e);
	CHECK_EQ_INT(ret, 0);
	CHECK_EQ_INT(rep_n(report, "keys", "restored"), 700);
	CHECK_EQ_INT(json_object_array_length(json_object_object_get(
		rep(report, "keys"), "reidentified")), 700);
	json_object_put(report);
	CHECK_EQ_INT(tu_scalar_bind(a, "SELECT COUNT(*) FROM resources r"
				    " JOIN resources s ON s.name = r.name"
				    " AND s.domain = 'b-src'"
				    " WHERE r.domain = ?1 AND r.id <> s.id",
				    "b-copy"), 701);
	free(text);
}

/* Every test once, on new stores in a new directory. */
static int run(void)
{
	struct bk_rot *rot_a = NULL, *rot_c = NULL;
	struct bk_store *a, *c;

	strcpy(dir, "/tmp/bk-test-rdomp-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return -1;
	}
	a = rd_open_store(dir, "a", &rot_a);
	c = rd_open_store(dir, "c", &rot_c);

	test_links(a, rot_a, c, rot_c);
	test_hand(c, rot_c);
	test_time_ids(c, rot_c);
	test_many(c, rot_c);
	test_empty_keys(a, rot_a, c, rot_c);
	test_empty_keys_bulk(a, rot_a, c, rot_c);

	bk_store_close(a);
	bk_store_close(c);
	bk_rot_free(rot_a);
	bk_rot_free(rot_c);
	tu_cleanup(dir, tmp_files, sizeof(tmp_files) / sizeof(tmp_files[0]));
	return 0;
}

int main(void)
{
	/* The fixture: its checks are counted in test_restore_domain. */
	if (bk_crypto_init() != 0) {
		fprintf(stderr, "bk_crypto_init failed\n");
		return 1;
	}
	for (rd_with_ids = 0; rd_with_ids < 2; rd_with_ids++)
		if (run())
			return 1;
	return check_done("test_restore_domain_payloads");
}
