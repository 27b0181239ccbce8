/* test_filter.c - core/filter.c through bk_snapshot_write: domain
 * snapshots with filters (the seed's examples and every query field),
 * read back with bk_snapshot_read and compared with the exact set of
 * rows expected; the filters' validation, with its reasons; unfiltered
 * and system snapshots unchanged; a concurrent writer does not reach a
 * filtered snapshot. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/snapshot.h"
#include "core/snapshot_parse.h"
#include "core/store.h"
#include "hsm/rot.h"
#include "testutil.h"

static char dir[] = "/tmp/bk-test-filter-XXXXXX";
static struct bk_store *S;
static struct bk_rot *ROT;
static char id_cte2_v1[64], id_frag1[64], id_hmac[64];

/* What was read back: "type/name" (and "@version" when not 0) for each
 * resource, "m:group/user" for members, "l:policy/key" for links, in
 * payload order, each followed by a space. */
struct got {
	char *s;
	size_t len;
	long long total;		/* the first line's */
	long long rows, domains;
	const char *domain;
};

static void got_add(struct got *g, const char *a, const char *b,
		    const char *c, long long v)
{
	char item[700];
	int n;

	if (v)
		n = snprintf(item, sizeof(item), "%s%s/%s@%lld ", a, b, c, v);
	else
		n = snprintf(item, sizeof(item), "%s%s/%s ", a, b, c);
	g->s = realloc(g->s, g->len + (size_t)n + 1);
	memcpy(g->s + g->len, item, (size_t)n + 1);
	g->len += (size_t)n;
}

static const char *str(json_object *o, const char *k)
{
	return json_object_get_string(json_object_object_get(o, k));
}

static int got_row(void *arg, const struct bk_snap_row *line,
		   struct bk_err *err)
{
	const struct bk_snap_res *res = line->res;
	json_object *row = line->o;
	const char *t = line->t;
	struct got *g = arg;

	(void)err;
	if (!strcmp(t, "head")) {
		g->total = json_object_get_int64(
			json_object_object_get(row, "total"));
		CHECK(!strcmp(str(row, "scope"), "domain"));
		CHECK(!strcmp(str(row, "domain"), g->domain));
		return 0;
	}
	if (!strcmp(t, "end"))
		return 0;
	g->rows++;
	if (res) {
		CHECK(!strcmp(t, "resource"));
		CHECK(!strcmp(res->domain, g->domain));
		CHECK((line->material != NULL) == !strcmp(res->type, "keys"));
		got_add(g, "", res->type, res->name, res->version);
		return 0;
	}
	if (strcmp(t, "domain"))
		CHECK(!strcmp(str(row, "domain"), g->domain));
	if (!strcmp(t, "domain")) {
		g->domains++;
		CHECK(!strcmp(str(row, "name"), g->domain));
	} else if (!strcmp(t, "member")) {
		got_add(g, "m:", str(row, "group"), str(row, "user"), 0);
	} else if (!strcmp(t, "link")) {
		got_add(g, "l:", str(row, "policy"), str(row, "key"), 0);
	} else {
		CHECK(!"a resource line without its members");
	}
	return 0;
}

/* A snapshot of domain with filters (JSON text; NULL: none).  Returns
 * what it holds (caller frees), or NULL with *ret set. */
static char *snap_in(const char *domain, const char *filters, int *ret,
		     struct bk_err *e, char **payload)
{
	json_object *f = filters ? json_tokener_parse(filters) : NULL;
	json_object *counts = json_object_new_object();
	struct tu_mem m = { 0 };
	struct got g = { .domain = domain };
	int r;

	if (filters && !f)
		fprintf(stderr, "bad test JSON: %s\n", filters);
	bk_err_clear(e);
	r = bk_snapshot_write(S, ROT, domain, f, tu_mem_sink, &m, counts, NULL,
			      NULL, e);
	*ret = r;
	if (r) {
		CHECK(m.len == 0);	/* nothing written */
		goto out;
	}
	r = bk_snapshot_read(tu_mem_source, &m, got_row, &g, NULL, NULL, NULL,
			     e);
	if (r)
		fprintf(stderr, "read back: %s\n", e->msg);
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(g.domains, 1);
	CHECK_EQ_INT(g.total, g.rows);
	CHECK_EQ_INT(json_object_get_int64(json_object_object_get(counts,
								   "total")),
		     g.rows);
	if (!g.s)
		g.s = strdup("");
out:
	if (payload) {
		*payload = m.buf;
		m.buf = NULL;
	}
	free(m.buf);
	json_object_put(counts);
	json_object_put(f);
	return g.s;
}

static void expect_in(int line, const char *domain, const char *filters,
		      const char *want)
{
	struct bk_err e = { 0 };
	int ret;
	char *got = snap_in(domain, filters, &ret, &e, NULL);

	if (ret) {
		check_failed++;
		fprintf(stderr, "line %d: %s: failed: %s\n", line, filters, e.msg);
	} else if (strcmp(got, want)) {
		check_failed++;
		fprintf(stderr, "line %d: %s\n  got:  %s\n  want: %s\n", line,
			filters, got, want);
	} else {
		check_passed++;
	}
	free(got);
}

#define EXPECT(filters, want) expect_in(__LINE__, "d", filters, want)

/* The filters are refused with EINVAL and a reason holding each of the
 * NULL-terminated texts; nothing is written. */
static void refused_in(int line, const char *filters, ...)
{
	struct bk_err e = { 0 }, v = { 0 };
	json_object *f = json_tokener_parse(filters);
	const char *text;
	va_list ap;
	int ret;
	char *got;

	CHECK_EQ_INT(bk_filters_validate(f, &v), -EINVAL);
	json_object_put(f);
	got = snap_in("d", filters, &ret, &e, NULL);
	free(got);
	if (ret != -EINVAL) {
		check_failed++;
		fprintf(stderr, "line %d: %s: returned %d, expected -EINVAL\n",
			line, filters, ret);
		return;
	}
	CHECK(!strcmp(e.msg, v.msg));
	va_start(ap, filters);
	while ((text = va_arg(ap, const char *))) {
		if (strstr(e.msg, text)) {
			check_passed++;
		} else {
			check_failed++;
			fprintf(stderr, "line %d: %s: reason \"%s\" lacks \"%s\"\n",
				line, filters, e.msg, text);
		}
	}
	va_end(ap);
}

#define REFUSED(filters, ...) refused_in(__LINE__, filters, __VA_ARGS__, NULL)

/* ---- the store ---- */

static void add_id(const char *domain, const char *type, const char *name,
		   const char *attrs, char *id)
{
	struct bk_err e = { 0 };
	char *new_id = NULL;
	int ret = bk_resource_add(S, ROT, domain, type, name, attrs,
				  &new_id, &e);

	if (ret)
		fprintf(stderr, "add %s/%s/%s: %s\n", domain, type, name, e.msg);
	CHECK_EQ_INT(ret, 0);
	if (id && new_id)
		strcpy(id, new_id);
	free(new_id);
}

static void add(const char *domain, const char *type, const char *name,
		const char *attrs)
{
	add_id(domain, type, name, attrs, NULL);
}

static void fill(void)
{
	struct bk_err e = { 0 };
	char name[32];

	CHECK_EQ_INT(bk_domain_add(S, "d", NULL, &e), 0);
	CHECK_EQ_INT(bk_domain_add(S, "other", NULL, &e), 0);
	CHECK_EQ_INT(bk_domain_add(S, "bulk", NULL, &e), 0);
	add("d", "keys", "cte-key-1", "{\"algorithm\":\"AES\",\"labels\":{\"app\":\"cte\"}}");
	add("d", "keys", "cte-key-2", "{\"size\":128}");
	add_id("d", "keys", "cte-key-2", "{\"size\":128,\"version\":1}", id_cte2_v1);
	add("d", "keys", "payroll-key", "{\"algorithm\":\"AES\",\"labels\":{\"app\":\"payroll\",\"tier\":\"gold\"}}");
	add_id("d", "keys", "hmac-key", "{\"algorithm\":\"HMAC\"}", id_hmac);
	add("d", "keys", "signing-key", "{\"algorithm\":\"EC\",\"curve\":\"P-256\",\"labels\":{\"app\":\"sign\",\"tier\":\"gold\"}}");
	add("d", "keys", "meta-key", "{\"cte\":{\"persistent_on_client\":true,\"mode\":\"CBC\"},\"owner\":\"ops\",\"n\":3,\"ratio\":0.5,\"tags\":[\"a\",\"b\"],\"gone\":null,\"q\\\"uote\":\"x\"}");
	add("d", "keys", "cl\xc3\xa9-1", NULL);
	add("d", "keys", "odd?1", NULL);
	add("d", "keys", "oddX1", NULL);
	add("d", "keys", "odd[1]", NULL);
	add("d", "users", "frank", "{\"email\":\"frank@local\"}");
	add("d", "users", "frankie", "{\"email\":\"frankie@local\"}");
	add("d", "users", "alice", "{\"email\":\"Alice@Example.com\"}");
	add("d", "users", "bob", NULL);
	add("d", "groups", "key-admins", "{\"members\":[\"frank\",\"alice\"]}");
	add("d", "groups", "auditors", "{\"members\":[\"bob\",\"frankie\"]}");
	add("d", "groups", "cte-ops", "{\"members\":[\"frank\",\"ghost\"]}");
	add("d", "groups", "empty-group", NULL);
	add("d", "cte_policies", "standard-policy", "{\"policy_type\":\"Standard\",\"never_deny\":false,\"keys\":[\"cte-key-1\"]}");
	add("d", "cte_policies", "ldt-policy", "{\"policy_type\":\"LDT\",\"never_deny\":true,\"keys\":[\"cte-key-2\",\"missing-key\"]}");
	add("d", "cte_policies", "std-2", "{\"policy_type\":\"standard\",\"keys\":[\"payroll-key\"]}");
	add_id("d", "customer_fragments", "fragment-1", "{\"value\":\"ab12\"}", id_frag1);
	add("d", "customer_fragments", "fragment-2", NULL);
	add("d", "cas", "local-ca", NULL);
	add("d", "certificates", "web-cert", NULL);
	/* Same names in another domain: never in d's snapshots. */
	add("other", "keys", "cte-key-1", "{\"labels\":{\"app\":\"cte\"}}");
	add("other", "users", "frank", "{\"email\":\"frank@local\"}");
	add("other", "groups", "key-admins", "{\"members\":[\"frank\"]}");
	add("other", "cte_policies", "standard-policy", "{\"policy_type\":\"Standard\",\"keys\":[\"cte-key-1\"]}");
	/* Enough keys for the snapshot's worker threads. */
	CHECK_EQ_INT(bk_store_begin(S, &e), 0);
	for (int i = 0; i < 1500; i++) {
		snprintf(name, sizeof(name), "bulk-%04d", i);
		add("bulk", "keys", name, i % 2 ? "{\"algorithm\":\"HMAC\"}" : NULL);
	}
	CHECK_EQ_INT(bk_store_commit(S, &e), 0);
}

/* ---- the tests ---- */

#define POLICIES "cte_policies/ldt-policy cte_policies/standard-policy cte_policies/std-2 "

static void test_seed_examples(void)
{
	/* 1: all CTE keys and CTE policies, with the keys they use. */
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"labels\":{\"app\":\"cte\"}}},"
	       "{\"resourceType\":\"cte_policies\"}]",
	       POLICIES "keys/cte-key-1 keys/cte-key-2 keys/cte-key-2@1 keys/payroll-key "
	       "l:ldt-policy/cte-key-2 l:standard-policy/cte-key-1 l:std-2/payroll-key ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"cte*\"}},"
	       "{\"resourceType\":\"cte_policies\"}]",
	       POLICIES "keys/cte-key-1 keys/cte-key-2 keys/cte-key-2@1 keys/payroll-key "
	       "l:ldt-policy/cte-key-2 l:standard-policy/cte-key-1 l:std-2/payroll-key ");
	/* 2: all CTE policies, without keys (and so without links). */
	EXPECT("[{\"resourceType\":\"cte_policies\"}]", POLICIES);
	/* 3: only Standard CTE policies (case-insensitive). */
	EXPECT("[{\"resourceType\":\"cte_policies\",\"resourceQuery\":{\"policy_type\":\"STANDARD\"}}]",
	       "cte_policies/standard-policy cte_policies/std-2 ");
	/* 4: all users and groups, the memberships between them. */
	EXPECT("[{\"resourceType\":\"users_groups\"}]",
	       "groups/auditors groups/cte-ops groups/empty-group groups/key-admins "
	       "users/alice users/bob users/frank users/frankie "
	       "m:auditors/bob m:auditors/frankie m:cte-ops/frank "
	       "m:key-admins/alice m:key-admins/frank ");
	/* 4b: the user frank with email frank@local, and his groups. */
	EXPECT("[{\"resourceType\":\"users_groups\",\"resourceQuery\":{\"name\":\"frank\",\"email\":\"frank@local\"}}]",
	       "groups/cte-ops groups/key-admins users/frank "
	       "m:cte-ops/frank m:key-admins/frank ");
	/* 5: individual keys by name. */
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"names\":[\"payroll-key\",\"hmac-key\"]}}]",
	       "keys/hmac-key keys/payroll-key ");
}

static void test_keys(void)
{
	/* Globs: '*' only; a name selects every version. */
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"cte*\"}}]",
	       "keys/cte-key-1 keys/cte-key-2 keys/cte-key-2@1 ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"*-key\"}}]",
	       "keys/hmac-key keys/meta-key keys/payroll-key keys/signing-key ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"c*-1\"}}]",
	       "keys/cl\xc3\xa9-1 keys/cte-key-1 ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"c**y*2\"}}]",
	       "keys/cte-key-2 keys/cte-key-2@1 ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"cte-key-2\"}}]",
	       "keys/cte-key-2 keys/cte-key-2@1 ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"cte\"}}]", "");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"CTE*\"}}]", "");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"odd?*\"}}]",
	       "keys/odd?1 ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"*?1\"}}]",
	       "keys/odd?1 ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"*[1]\"}}]",
	       "keys/odd[1] ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"odd[1]\"}}]",
	       "keys/odd[1] ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"cl\xc3\xa9*\"}}]",
	       "keys/cl\xc3\xa9-1 ");
	/* names, ids */
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"names\":[\"cte-key-2\",\"nope\",\"frank\"]}}]",
	       "keys/cte-key-2 keys/cte-key-2@1 ");
	{
		char f[300];

		snprintf(f, sizeof(f),
			 "[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"ids\":[\"%s\",\"%s\",\"%s\"]}}]",
			 id_cte2_v1, id_hmac, id_frag1);
		EXPECT(f, "keys/cte-key-2@1 keys/hmac-key ");
		snprintf(f, sizeof(f),
			 "[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"ids\":[\"%s\"],\"name\":\"hmac*\"}}]",
			 id_cte2_v1);
		EXPECT(f, "");
	}
	/* algorithm: case-insensitive, AES when absent */
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"algorithm\":\"hmac\"}}]",
	       "keys/hmac-key ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"algorithm\":\"Ec\"}}]",
	       "keys/signing-key ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"algorithm\":\"aes\"}}]",
	       "keys/cl\xc3\xa9-1 keys/cte-key-1 keys/cte-key-2 keys/cte-key-2@1 "
	       "keys/meta-key keys/odd?1 keys/oddX1 keys/odd[1] keys/payroll-key ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"algorithm\":\"RSA\"}}]", "");
	/* labels */
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"labels\":{\"tier\":\"gold\"}}}]",
	       "keys/payroll-key keys/signing-key ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"labels\":{\"tier\":\"gold\",\"app\":\"payroll\"}}}]",
	       "keys/payroll-key ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"labels\":{\"tier\":\"gold\",\"app\":\"cte\"}}}]", "");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"labels\":{\"tier\":\"GOLD\"}}}]", "");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"labels\":{\"owner\":\"ops\"}}}]", "");
	/* metaContains: a subset of attrs, objects recursively */
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"metaContains\":{\"cte\":{\"persistent_on_client\":true}}}}]",
	       "keys/meta-key ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"metaContains\":{\"cte\":{}}}}]",
	       "keys/meta-key ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"metaContains\":{\"cte\":{\"persistent_on_client\":false}}}}]", "");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"metaContains\":{\"owner\":\"ops\",\"n\":3,\"ratio\":0.5,\"gone\":null}}}]",
	       "keys/meta-key ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"metaContains\":{\"n\":3.0}}}]",
	       "keys/meta-key ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"metaContains\":{\"n\":\"3\"}}}]", "");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"metaContains\":{\"owner\":\"OPS\"}}}]", "");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"metaContains\":{\"tags\":[\"a\",\"b\"]}}}]",
	       "keys/meta-key ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"metaContains\":{\"tags\":[\"b\",\"a\"]}}}]", "");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"metaContains\":{\"q\\\"uote\":\"x\"}}}]",
	       "keys/meta-key ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"metaContains\":{\"gone\":\"x\"}}}]", "");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"metaContains\":{\"labels\":{\"app\":\"cte\"}}}}]",
	       "keys/cte-key-1 ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"metaContains\":{}}}]",
	       "keys/cl\xc3\xa9-1 keys/cte-key-1 keys/cte-key-2 keys/cte-key-2@1 "
	       "keys/hmac-key keys/meta-key keys/odd?1 keys/oddX1 keys/odd[1] "
	       "keys/payroll-key keys/signing-key ");
	/* fields ANDed */
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"names\":[\"payroll-key\",\"hmac-key\"],\"algorithm\":\"AES\"}}]",
	       "keys/payroll-key ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"*-key\",\"labels\":{\"tier\":\"gold\"},\"algorithm\":\"ec\"}}]",
	       "keys/signing-key ");
}

static void test_others(void)
{
	char f[300];

	/* cte_policies */
	EXPECT("[{\"resourceType\":\"cte_policies\",\"resourceQuery\":{\"never_deny\":true}}]",
	       "cte_policies/ldt-policy ");
	EXPECT("[{\"resourceType\":\"cte_policies\",\"resourceQuery\":{\"never_deny\":false}}]",
	       "cte_policies/standard-policy cte_policies/std-2 ");
	EXPECT("[{\"resourceType\":\"cte_policies\",\"resourceQuery\":{\"name\":\"std*\"}}]",
	       "cte_policies/std-2 ");
	EXPECT("[{\"resourceType\":\"cte_policies\",\"resourceQuery\":{\"policy_type\":\"ldt\",\"never_deny\":false}}]", "");
	/* users_groups */
	EXPECT("[{\"resourceType\":\"users_groups\",\"resourceQuery\":{\"email\":\"alice@example.COM\"}}]",
	       "groups/key-admins users/alice m:key-admins/alice ");
	EXPECT("[{\"resourceType\":\"users_groups\",\"resourceQuery\":{\"name\":\"frank*\"}}]",
	       "groups/auditors groups/cte-ops groups/key-admins users/frank users/frankie "
	       "m:auditors/frankie m:cte-ops/frank m:key-admins/frank ");
	EXPECT("[{\"resourceType\":\"users_groups\",\"resourceQuery\":{\"name\":\"frank\",\"email\":\"alice@example.com\"}}]", "");
	EXPECT("[{\"resourceType\":\"users_groups\",\"resourceQuery\":{\"name\":\"bob\"}},"
	       "{\"resourceType\":\"users_groups\",\"resourceQuery\":{\"name\":\"alice\"}}]",
	       "groups/auditors groups/key-admins users/alice users/bob "
	       "m:auditors/bob m:key-admins/alice ");
	/* customer_fragments */
	EXPECT("[{\"resourceType\":\"customer_fragments\"}]",
	       "customer_fragments/fragment-1 customer_fragments/fragment-2 ");
	EXPECT("[{\"resourceType\":\"customer_fragments\",\"resourceQuery\":{\"names\":[\"fragment-2\"]}}]",
	       "customer_fragments/fragment-2 ");
	snprintf(f, sizeof(f),
		 "[{\"resourceType\":\"customer_fragments\",\"resourceQuery\":{\"ids\":[\"%s\",\"%s\"]}}]",
		 id_frag1, id_hmac);
	EXPECT(f, "customer_fragments/fragment-1 ");
	/* Filters ORed; types matched case-insensitively; no duplicates. */
	EXPECT("[{\"resourceType\":\"KEYS\",\"resourceQuery\":{\"names\":[\"hmac-key\"]}},"
	       "{\"resourceType\":\"Customer_Fragments\",\"resourceQuery\":{\"names\":[\"fragment-2\"]}}]",
	       "customer_fragments/fragment-2 keys/hmac-key ");
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"cte*\"}},"
	       "{\"resourceType\":\"Keys\",\"resourceQuery\":{\"labels\":{\"app\":\"cte\"}}},"
	       "{\"resourceType\":\"keys\",\"resourceQuery\":{\"ids\":[\"" "\"]}}]",
	       "keys/cte-key-1 keys/cte-key-2 keys/cte-key-2@1 ");
	/* A policy's keys come with any Keys filter, only theirs. */
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"names\":[\"hmac-key\"]}},"
	       "{\"resourceType\":\"cte_policies\",\"resourceQuery\":{\"policy_type\":\"LDT\"}}]",
	       "cte_policies/ldt-policy keys/cte-key-2 keys/cte-key-2@1 keys/hmac-key "
	       "l:ldt-policy/cte-key-2 ");
	EXPECT("[{\"resourceType\":\"cte_policies\",\"resourceQuery\":{\"policy_type\":\"LDT\"}},"
	       "{\"resourceType\":\"Keys\",\"resourceQuery\":{\"names\":[\"cte-key-1\"]}}]",
	       "cte_policies/ldt-policy keys/cte-key-1 keys/cte-key-2 keys/cte-key-2@1 "
	       "l:ldt-policy/cte-key-2 ");
	/* Links and members need both ends. */
	EXPECT("[{\"resourceType\":\"cte_policies\",\"resourceQuery\":{\"name\":\"standard-policy\"}},"
	       "{\"resourceType\":\"users_groups\",\"resourceQuery\":{\"name\":\"bob\"}}]",
	       "cte_policies/standard-policy groups/auditors users/bob m:auditors/bob ");
	/* Empty or null queries: everything of the type. */
	EXPECT("[{\"resourceType\":\"cte_policies\",\"resourceQuery\":{}}]", POLICIES);
	EXPECT("[{\"resourceType\":\"cte_policies\",\"resourceQuery\":null}]", POLICIES);
	/* Another domain: its own rows only. */
	expect_in(__LINE__, "other", "[{\"resourceType\":\"users_groups\"},{\"resourceType\":\"Keys\"}]",
		  "groups/key-admins keys/cte-key-1 users/frank m:key-admins/frank ");
	expect_in(__LINE__, "other", "[{\"resourceType\":\"customer_fragments\"}]", "");
	/* Many rows: the worker threads; a prefix range. */
	{
		struct bk_err e = { 0 };
		int ret;
		char *got = snap_in("bulk", "[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"bulk-1*\",\"algorithm\":\"hmac\"}}]",
				    &ret, &e, NULL);
		char want[16];
		const char *p = got;
		int n = 0;

		CHECK_EQ_INT(ret, 0);
		for (int i = 1001; i < 1500 && p; i += 2, n++) {
			snprintf(want, sizeof(want), "keys/bulk-%04d ", i);
			if (strncmp(p, want, strlen(want)))
				break;
			p += strlen(want);
		}
		CHECK_EQ_INT(n, 250);
		CHECK(p && *p == '\0');
		free(got);
		got = snap_in("bulk", "[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"bulk-*\"}}]",
			      &ret, &e, NULL);
		CHECK(got && strlen(got) == 1500 * strlen("keys/bulk-0000 "));
		free(got);
	}
}

static void test_refused(void)
{
	struct bk_err e = { 0 };
	json_object *f;
	char deep[400] = "[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"metaContains\":";

	REFUSED("\"keys\"", "filters must be an array");
	REFUSED("{\"resourceType\":\"Keys\"}", "filters must be an array");
	REFUSED("[1]", "filters[0] must be an object");
	REFUSED("[{\"resourceType\":\"Keys\"},[]]", "filters[1] must be an object");
	REFUSED("[{}]", "filters[0]: resourceType must be a string",
		"Keys, cte_policies, users_groups, customer_fragments");
	REFUSED("[{\"resourceType\":7}]", "resourceType must be a string");
	REFUSED("[{\"resourceType\":\"certs\"}]",
		"unknown resourceType \"certs\" (valid: Keys, cte_policies, users_groups, customer_fragments)");
	REFUSED("[{\"resourceType\":\"users\"}]", "unknown resourceType \"users\"");
	REFUSED("[{\"resourceType\":\"Keys\",\"resourceQuerry\":{}}]",
		"unknown field \"resourceQuerry\"", "resourceType, resourceQuery");
	REFUSED("[{\"resourceType\":\"Keys\",\"resourceQuery\":[]}]",
		"resourceQuery must be an object");
	REFUSED("[{\"resourceType\":\"Keys\",\"resourceQuery\":\"name\"}]",
		"resourceQuery must be an object");
	REFUSED("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"colour\":\"red\"}}]",
		"unknown resourceQuery field \"colour\" for Keys",
		"(valid: name, names, ids, algorithm, labels, metaContains)");
	REFUSED("[{\"resourceType\":\"cte_policies\",\"resourceQuery\":{\"names\":[\"a\"]}}]",
		"\"names\" for cte_policies", "(valid: name, policy_type, never_deny)");
	REFUSED("[{\"resourceType\":\"users_groups\",\"resourceQuery\":{\"labels\":{}}}]",
		"\"labels\" for users_groups", "(valid: name, email)");
	REFUSED("[{\"resourceType\":\"customer_fragments\",\"resourceQuery\":{\"name\":\"x\"}}]",
		"\"name\" for customer_fragments", "(valid: ids, names)");
	REFUSED("[{\"resourceType\":\"Keys\"},{\"resourceType\":\"Keys\",\"resourceQuery\":{\"names\":\"k\"}}]",
		"filters[1]: resourceQuery.names must be an array of strings");
	REFUSED("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"names\":[\"a\",1]}}]",
		"resourceQuery.names must be an array of strings");
	REFUSED("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"ids\":[]}}]",
		"resourceQuery.ids must not be empty");
	REFUSED("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":5}}]",
		"resourceQuery.name must be a non-empty string");
	REFUSED("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"\"}}]",
		"resourceQuery.name must be a non-empty string");
	REFUSED("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"a\\u0000b*\"}}]",
		"resourceQuery.name must be a non-empty string");
	REFUSED("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"algorithm\":null}}]",
		"resourceQuery.algorithm must be a string");
	REFUSED("[{\"resourceType\":\"users_groups\",\"resourceQuery\":{\"email\":[\"a\"]}}]",
		"resourceQuery.email must be a string");
	REFUSED("[{\"resourceType\":\"cte_policies\",\"resourceQuery\":{\"never_deny\":\"yes\"}}]",
		"resourceQuery.never_deny must be true or false");
	REFUSED("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"labels\":\"app=cte\"}}]",
		"resourceQuery.labels must be an object");
	REFUSED("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"metaContains\":[1]}}]",
		"resourceQuery.metaContains must be an object");
	for (int i = 0; i < 9; i++)
		strcat(deep, "{\"a\":");
	strcat(deep, "1");
	for (int i = 0; i < 9; i++)
		strcat(deep, "}");
	strcat(deep, "}}]");
	REFUSED(deep, "resourceQuery.metaContains has more than 64 members or nests deeper than 8 levels");
	/* A long unknown type does not push the valid choices out. */
	{
		char longt[1200] = "[{\"resourceType\":\"";

		memset(longt + strlen(longt), 'x', 1000);
		strcat(longt, "\"}]");
		REFUSED(longt, "(valid: Keys, cte_policies, users_groups, customer_fragments)");
	}

	/* NULL and [] are valid; filters are for domain snapshots only. */
	CHECK_EQ_INT(bk_filters_validate(NULL, &e), 0);
	f = json_tokener_parse("[]");
	CHECK_EQ_INT(bk_filters_validate(f, &e), 0);
	{
		struct tu_mem m = { 0 };

		CHECK_EQ_INT(bk_snapshot_write(S, ROT, NULL, f, tu_mem_sink, &m,
					       NULL, NULL, NULL, &e), -EINVAL);
		CHECK(strstr(e.msg, "domain backups only") != NULL);
		CHECK(m.len == 0);
		free(m.buf);
	}
	json_object_put(f);
}

/* No filters, [] and a filter per type: the same lines as ever. */
static void test_unfiltered(void)
{
	struct bk_err e = { 0 };
	char *a = NULL, *b = NULL, *c = NULL, *g1, *g2, *g3, *line, *save;
	int ret;

	g1 = snap_in("d", NULL, &ret, &e, &a);
	CHECK_EQ_INT(ret, 0);
	g2 = snap_in("d", "[]", &ret, &e, &b);
	CHECK_EQ_INT(ret, 0);
	CHECK(a && b && !strcmp(a, b));
	CHECK(g1 && strstr(g1, "cas/local-ca certificates/web-cert cte_policies/ldt-policy ") != NULL);
	CHECK(g1 && strstr(g1, "keys/cte-key-2 keys/cte-key-2@1 ") != NULL);
	CHECK(g1 && strstr(g1, "m:cte-ops/frank m:cte-ops/ghost ") != NULL);
	CHECK(g1 && strstr(g1, "l:ldt-policy/missing-key ") != NULL);
	/* Every line of a filtered payload is, byte for byte, the line of
	 * the unfiltered one (key material included). */
	g3 = snap_in("d", "[{\"resourceType\":\"Keys\"},{\"resourceType\":\"cte_policies\"},"
		     "{\"resourceType\":\"users_groups\"},{\"resourceType\":\"customer_fragments\"}]",
		     &ret, &e, &c);
	CHECK_EQ_INT(ret, 0);
	CHECK(g3 && strstr(g3, "cas/") == NULL && strstr(g3, "certificates/") == NULL);
	CHECK(g3 && strstr(g3, "m:cte-ops/ghost") == NULL);
	CHECK(g3 && strstr(g3, "l:ldt-policy/missing-key") == NULL);
	CHECK(g3 && strstr(g3, "l:ldt-policy/cte-key-2 ") != NULL);
	for (line = strtok_r(c, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, "\"kind\":") || strstr(line, "\"t\":\"end\""))
			continue;
		CHECK(strstr(a, line) != NULL);
	}
	free(a);
	free(b);
	free(c);
	free(g1);
	free(g2);
	free(g3);
	/* A missing domain. */
	g1 = snap_in("nope", "[{\"resourceType\":\"Keys\"}]", &ret, &e, NULL);
	CHECK_EQ_INT(ret, -ENOENT);
	free(g1);
}

/* The system snapshot: every domain's rows, as before. */
static void test_system(void)
{
	json_object *counts = json_object_new_object();
	struct bk_err e = { 0 };
	struct tu_mem m = { 0 };

	CHECK_EQ_INT(bk_snapshot_write(S, ROT, NULL, NULL, tu_mem_sink, &m,
				       counts, NULL, NULL, &e), 0);
	CHECK(m.buf && !strncmp(m.buf, "{\"kind\":\"backupfs-snapshot\",\"format\":1,\"scope\":\"system\",\"domain\":null,", 70));
	CHECK_EQ_INT(json_object_get_int64(json_object_object_get(counts, "domains")), 3);
	CHECK_EQ_INT(json_object_get_int64(json_object_object_get(counts, "resources")), 1500 + 30);
	CHECK_EQ_INT(json_object_get_int64(json_object_object_get(counts, "members")), 7);
	CHECK_EQ_INT(json_object_get_int64(json_object_object_get(counts, "links")), 5);
	CHECK_EQ_INT(bk_snapshot_check(tu_mem_source, &m, &e), 0);
	free(m.buf);
	json_object_put(counts);
}

/* Rows committed by another connection after the snapshot began are not
 * in it, nor are rows deleted then missing from it. */
/* The concurrent writer (arg): commits while the snapshot's read
 * transaction is open. */
static void concurrent_writes(void *arg)
{
	struct bk_store *w = arg;

	CHECK_EQ_INT(bk_resource_delete(w, "d", "keys", "cte-key-1", NULL), 0);
	CHECK_EQ_INT(bk_resource_add(w, ROT, "d", "keys", "cte-key-3", NULL,
				     NULL, NULL), 0);
	CHECK_EQ_INT(bk_resource_delete(w, "d", "groups", "key-admins", NULL),
		     0);
}

static void test_concurrent(void)
{
	json_object *f = json_tokener_parse(
		"[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"cte*\"}},"
		"{\"resourceType\":\"users_groups\",\"resourceQuery\":{\"name\":\"alice\"}}]");
	struct bk_store *w = NULL;
	struct bk_err e = { 0 };
	struct tu_mem m = { 0 };
	struct got g = { .domain = "d" };
	char path[300];

	snprintf(path, sizeof(path), "%s/f.db", dir);
	CHECK_EQ_INT(bk_store_open(path, 0, &w, &e), 0);
	m.first = concurrent_writes;
	m.first_arg = w;
	CHECK_EQ_INT(bk_snapshot_write(S, ROT, "d", f, tu_mem_sink, &m, NULL,
				       NULL, NULL, &e), 0);
	CHECK(m.calls > 1);
	CHECK_EQ_INT(bk_snapshot_read(tu_mem_source, &m, got_row, &g, NULL,
				      NULL, NULL, &e), 0);
	CHECK(g.s && !strcmp(g.s, "groups/key-admins keys/cte-key-1 keys/cte-key-2 "
			     "keys/cte-key-2@1 users/alice m:key-admins/alice "));
	if (g.s && strcmp(g.s, "groups/key-admins keys/cte-key-1 keys/cte-key-2 "
			  "keys/cte-key-2@1 users/alice m:key-admins/alice "))
		fprintf(stderr, "concurrent: got %s\n", g.s);
	/* Now the writer's changes show. */
	free(g.s);
	EXPECT("[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"name\":\"cte*\"}},"
	       "{\"resourceType\":\"users_groups\",\"resourceQuery\":{\"name\":\"alice\"}}]",
	       "keys/cte-key-2 keys/cte-key-2@1 keys/cte-key-3 users/alice ");
	free(m.buf);
	json_object_put(f);
	bk_store_close(w);
}

int main(void)
{
	static const char *const files[] = { "f.key", "f.db", "f.db-wal",
					     "f.db-shm" };

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	S = tu_open_store(dir, "f", &ROT);
	fill();
	test_seed_examples();
	test_keys();
	test_others();
	test_refused();
	test_unfiltered();
	test_system();
	test_concurrent();
	bk_store_close(S);
	bk_rot_free(ROT);
	tu_cleanup(dir, files, sizeof(files) / sizeof(files[0]));
	return check_done("test_filter");
}
