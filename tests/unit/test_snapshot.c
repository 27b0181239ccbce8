/* test_snapshot.c - core/snapshot.c and snapshot_read.c: a payload
 * written from a store, checked, restored into a store with another root
 * of trust; corrupted payloads change nothing; appliance-local and
 * backup tables survive; a concurrent writer does not break the
 * snapshot's consistency.  The system restore's own checks are
 * test_restore_system.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/crypto.h"
#include "core/snapshot.h"
#include "core/snapshot_int.h"
#include "core/store.h"
#include "hsm/rot.h"
#include "testutil.h"
#include "snapshot_util.h"

static char dir[] = "/tmp/bk-test-snap-XXXXXX";
static const char *const tmp_files[] = {
	"a.key", "a.db", "a.db-wal", "a.db-shm", "b.key", "b.db",
	"b.db-wal", "b.db-shm", "c.key", "c.db", "c.db-wal", "c.db-shm",
};

/* Appliance-local and backup-subsystem rows that a restore must keep. */
static void add_local(struct bk_store *s, const char *tag)
{
	static const char *const inserts[] = {
		"INSERT INTO backup_keys(scope, domain, id, name, is_default,"
		" wrapped, fingerprint, created_at, created_epoch)"
		" VALUES('system', '', ?1, 'default', 1, x'0102', 'fp', 'now', 1);",
		"INSERT INTO backups(id, scope, domain, status) VALUES(?1,"
		" 'system', '', 'Completed')",
		"INSERT INTO operations(id, operation, status) VALUES(?1,"
		" 'backup', 'Completed')",
		"INSERT INTO audit(time, uid, action, target) VALUES('now', 0,"
		" 'backup', ?1)",
	};
	struct bk_err e = { 0 };
	sqlite3_stmt *st;

	CHECK_EQ_INT(bk_setting_set(s, "instance_name", tag, &e), 0);
	for (size_t i = 0; i < sizeof(inserts) / sizeof(inserts[0]); i++) {
		CHECK_EQ_INT(sqlite3_prepare_v2(bk_store_db(s), inserts[i], -1,
						&st, NULL), SQLITE_OK);
		sqlite3_bind_text(st, 1, tag, -1, SQLITE_STATIC);
		CHECK_EQ_INT(sqlite3_step(st), SQLITE_DONE);
		sqlite3_finalize(st);
	}
}

static void check_local(struct bk_store *s, const char *tag)
{
	struct bk_err e = { 0 };
	sqlite3_stmt *st;
	char *v = NULL;

	CHECK_EQ_INT(bk_setting_get(s, "instance_name", &v, &e), 0);
	CHECK(v && !strcmp(v, tag));
	free(v);
	CHECK_EQ_INT(sqlite3_prepare_v2(bk_store_db(s),
		"SELECT (SELECT group_concat(id) FROM backup_keys),"
		" (SELECT group_concat(id) FROM backups),"
		" (SELECT group_concat(id) FROM operations),"
		" (SELECT group_concat(target) FROM audit)", -1, &st, NULL),
		SQLITE_OK);
	CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
	for (int i = 0; i < 4; i++)
		CHECK(sqlite3_column_text(st, i) &&
		      !strcmp((const char *)sqlite3_column_text(st, i), tag));
	sqlite3_finalize(st);
}

static void fill(struct bk_store *s, struct bk_rot *rot)
{
	const char *const *types = bk_resource_types();
	struct bk_err e = { 0 };
	char name[64];

	CHECK_EQ_INT(bk_domain_add(s, "root", NULL, &e), 0);
	CHECK_EQ_INT(bk_domain_add(s, "finance", NULL, &e), 0);
	CHECK_EQ_INT(bk_domain_add(s, "hr", "pkcs11:token=hr", &e), 0);
	tu_add(s, rot, "root", "keys", "aes", "{\"algorithm\":\"AES\",\"size\":256,\"labels\":{\"app\":\"payroll\"}}");
	tu_add(s, rot, "root", "keys", "aes", "{\"version\":1}");
	tu_add(s, rot, "root", "keys", "hmac", "{\"algorithm\":\"HMAC\",\"size\":512}");
	tu_add(s, rot, "root", "keys", "ec", "{\"algorithm\":\"EC\",\"curve\":\"P-384\"}");
	tu_add(s, rot, "root", "keys", "rsa", "{\"algorithm\":\"RSA\",\"size\":2048}");
	tu_add(s, rot, "root", "users", "alice", "{\"email\":\"alice@example.com\",\"note\":\"quote \\\" slash / uni \\u00e9 \\u2603\"}");
	tu_add(s, rot, "root", "groups", "admins", "{\"members\":[\"alice\",\"frank\"]}");
	tu_add(s, rot, "root", "cte_policies", "std", "{\"policy_type\":\"Standard\",\"never_deny\":false,\"keys\":[\"aes\",\"ec\"]}");
	for (int i = 1; types[i]; i++) {
		tu_add(s, rot, "finance", types[i], "f-one", "{\"n\":1.5,\"list\":[1,\"2\",null,true]}");
		tu_add(s, rot, "hr", types[i], "h-one", NULL);
	}
	tu_add(s, rot, "finance", "keys", "ledger", NULL);
	tu_add(s, rot, "finance", "groups", "auditors", "{\"members\":[\"bob\"]}");
	tu_add(s, rot, "hr", "keys", "hr-key", "{\"algorithm\":\"aes\",\"size\":128}");
	/* Enough rows for the snapshot to use its worker threads. */
	CHECK_EQ_INT(bk_store_begin(s, &e), 0);
	for (int i = 0; i < 1500; i++) {
		snprintf(name, sizeof(name), "bulk-%04d", i);
		tu_add(s, rot, "hr", i % 3 ? "users" : "keys", name, "{\"padding\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}");
	}
	CHECK_EQ_INT(bk_store_commit(s, &e), 0);
}

static long long count_of(json_object *counts, const char *k)
{
	return json_object_get_int64(json_object_object_get(counts, k));
}

static int nlines(const char *text)
{
	int n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

static void test_roundtrip(void)
{
	struct bk_rot *rot_a = NULL, *rot_b = NULL;
	struct bk_store *a, *b;
	json_object *counts = json_object_new_object();
	json_object *report = json_object_new_object();
	struct tu_mem m = { 0 };
	struct tu_prog p = { 0 };
	struct bk_err e = { 0 };
	char *da, *db, *before, *bad;
	int n, ret;

	a = tu_open_store(dir, "a", &rot_a);
	b = tu_open_store(dir, "b", &rot_b);
	fill(a, rot_a);
	add_local(a, "appliance-a");
	add_local(b, "appliance-b");
	CHECK_EQ_INT(bk_domain_add(b, "other", NULL, &e), 0);
	tu_add(b, rot_b, "other", "keys", "only-in-b", NULL);

	/* Write. */
	ret = bk_snapshot_write(a, rot_a, NULL, NULL, tu_mem_sink, &m, counts,
				tu_progress, &p, &e);
	if (ret)
		fprintf(stderr, "write: %s\n", e.msg);
	CHECK_EQ_INT(ret, 0);
	CHECK(starts(m.buf, "{\"kind\":\"backupfs-snapshot\",\"format\":1,\"scope\":\"system\",\"domain\":null,\"total\":"));
	CHECK_EQ_INT(count_of(counts, "domains"), 3);
	CHECK_EQ_INT(count_of(counts, "keys"), tu_scalar(a, "SELECT COUNT(*) FROM resources WHERE type = 'keys'"));
	CHECK_EQ_INT(count_of(counts, "audit"), 2);
	CHECK_EQ_INT(count_of(counts, "resources"), tu_scalar(a, "SELECT COUNT(*) FROM resources"));
	CHECK_EQ_INT(count_of(counts, "members"), 3);
	CHECK_EQ_INT(count_of(counts, "links"), 2);
	CHECK_EQ_INT(count_of(counts, "total"), 3 + count_of(counts, "resources") + 5);
	CHECK_EQ_INT(json_object_object_length(counts), 16);
	CHECK_EQ_INT(nlines(m.buf), count_of(counts, "total") + 2);
	CHECK(!p.backwards && p.last_done == (uint64_t)count_of(counts, "total") &&
	      p.last_total == p.last_done);
	CHECK(strstr(m.buf, "\"material\":\"") != NULL);
	CHECK(strstr(m.buf, "{\"t\":\"member\",\"domain\":\"root\",\"group\":\"admins\",\"user\":\"alice\"}\n") != NULL);
	CHECK(strstr(m.buf, "{\"t\":\"link\",\"domain\":\"root\",\"policy\":\"std\",\"key\":\"ec\"}\n") != NULL);

	/* Check, with reads cut anywhere. */
	CHECK_EQ_INT(check_text(m.buf, 0, &e), 0);
	CHECK_EQ_INT(check_text(m.buf, 1, &e), 0);
	CHECK_EQ_INT(check_text(m.buf, 97, &e), 0);

	/* Restore into b, which has another root of trust. */
	memset(&p, 0, sizeof(p));
	ret = restore_text_p(b, rot_b, m.buf, report, &p, &e);
	if (ret)
		fprintf(stderr, "restore: %s\n", e.msg);
	CHECK_EQ_INT(ret, 0);
	CHECK(!p.backwards && p.calls >= 2 &&
	      p.last_done == (uint64_t)count_of(counts, "total") &&
	      p.last_total == p.last_done);
	CHECK(json_object_equal(report, counts));
	da = dump(a);
	db = dump(b);
	CHECK(da && db && !strcmp(da, db));
	CHECK(strstr(db, "only-in-b") == NULL);
	check_local(a, "appliance-a");
	check_local(b, "appliance-b");
	/* Same keys, wrapped differently. */
	CHECK_EQ_INT(tu_scalar(b, "SELECT COUNT(*) FROM resources WHERE material IS NOT NULL"),
		     count_of(counts, "keys"));
	{
		sqlite3_stmt *st;
		uint8_t *clear = NULL;
		size_t len = 0;
		char hex[65];
		int keys = 0;

		CHECK_EQ_INT(sqlite3_prepare_v2(bk_store_db(b),
			"SELECT material, fingerprint, id FROM resources"
			" WHERE type = 'keys'", -1, &st, NULL), SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const void *w = sqlite3_column_blob(st, 0);
			size_t wl = (size_t)sqlite3_column_bytes(st, 0);

			CHECK_EQ_INT(bk_rot_unwrap(rot_b, w, wl, &clear, &len, NULL), 0);
			bk_sha256_hex(clear, len, hex);
			CHECK(!strcmp(hex, (const char *)sqlite3_column_text(st, 1)));
			bk_secure_free(clear, len);
			CHECK(bk_rot_unwrap(rot_a, w, wl, &clear, &len, NULL) < 0);
			keys++;
		}
		sqlite3_finalize(st);
		CHECK_EQ_INT(keys, count_of(counts, "keys"));
	}
	free(db);

	/* The same payload in another form: every line printed again by
	 * json-c with spaces and escaped slashes, so no resource line is
	 * in the form bk_snap_res_parse reads and json-c reads them all.
	 * The restore gives the same store. */
	{
		char *t = malloc(2 * strlen(m.buf) + 1), *w = t, *line, *db2;
		const char *q = m.buf, *nl;
		json_object *o;
		int spaced = 0;

		for (; *q; q = nl + 1) {
			nl = strchr(q, '\n');
			line = strndup(q, (size_t)(nl - q));
			o = json_tokener_parse(line);
			CHECK(o != NULL);
			w += sprintf(w, "%s\n", json_object_to_json_string_ext(
				o, JSON_C_TO_STRING_SPACED));
			spaced += strstr(line, "\"t\":\"resource\"") != NULL;
			json_object_put(o);
			free(line);
		}
		CHECK(spaced > 10 && strstr(t, "{ \"t\": \"resource\", ") != NULL);
		CHECK_EQ_INT(check_text(t, 0, &e), 0);
		ret = restore_text(b, rot_b, t, NULL, &e);
		if (ret)
			fprintf(stderr, "restore (spaced): %s\n", e.msg);
		CHECK_EQ_INT(ret, 0);
		db2 = dump(b);
		CHECK(da && db2 && !strcmp(da, db2));
		free(db2);
		free(t);
	}

	/* A snapshot of the restored store is the same payload. */
	{
		struct tu_mem m2 = { 0 };

		CHECK_EQ_INT(bk_snapshot_write(b, rot_b, NULL, NULL, tu_mem_sink,
					       &m2, NULL, NULL, NULL, &e), 0);
		CHECK(m2.buf && !strcmp(m2.buf, m.buf));
		free(m2.buf);
	}

	/* Corrupted payloads: check fails, restore fails, b unchanged. */
	before = dump(b);
	n = nlines(m.buf);
	{
		char *cases[16];
		int nc = 0;
		char *t, *q;

		cases[nc++] = tu_edit_line(m.buf, n / 2, "{\"t\":\"resource\",");
		cases[nc++] = tu_edit_line(m.buf, n / 2, "not json at all");
		cases[nc++] = tu_edit_line(m.buf, n / 2, NULL);	/* lost line */
		cases[nc++] = tu_edit_line(m.buf, n / 2, "{\"t\":\"mystery\"}");
		cases[nc++] = tu_edit_line(m.buf, n - 1, NULL);	/* no end */
		cases[nc++] = tu_edit_line(m.buf, 0, NULL);	/* no head */
		cases[nc++] = tu_edit_line(m.buf, n - 1, "{\"t\":\"end\",\"counts\":{}}");
		t = strdup(m.buf);				/* wrong count */
		q = strstr(t, "\"links\":2");
		if (q)
			q[8] = '3';
		cases[nc++] = t;
		t = strdup(m.buf);				/* cut mid-line */
		t[strlen(t) - 40] = '\0';
		cases[nc++] = t;
		t = strdup(m.buf);				/* material changed */
		q = strstr(t, "\"material\":\"");
		if (q)
			q[13] = q[13] == 'A' ? 'B' : 'A';
		cases[nc++] = t;
		t = malloc(strlen(m.buf) + 64);			/* data after end */
		sprintf(t, "%s{\"t\":\"domain\",\"name\":\"x\",\"hsm\":null,\"createdAt\":\"now\"}\n", m.buf);
		cases[nc++] = t;
		t = strdup(m.buf);				/* unknown domain */
		q = strstr(t, "\"name\":\"hr\"");
		if (q)
			memcpy(q, "\"name\":\"fi\"", 11);
		cases[nc++] = t;
		cases[nc++] = strdup("");
		for (int i = 0; i < nc; i++) {
			CHECK(cases[i] != NULL);
			if (!cases[i])
				continue;
			ret = check_text(cases[i], 0, &e);
			if (ret == 0)
				fprintf(stderr, "case %d passed the check\n", i);
			CHECK(ret < 0 && e.msg[0]);
			if (getenv("BK_TEST_VERBOSE"))
				fprintf(stderr, "case %d: %s\n", i, e.msg);
			ret = restore_text(b, rot_b, cases[i], NULL, &e);
			CHECK(ret < 0 && e.msg[0]);
			free(cases[i]);
		}
	}
	/* A valid payload whose rows clash (same resource id twice): the
	 * check cannot see it, the restore fails as a whole. */
	{
		const char *r1 = strstr(m.buf, "{\"t\":\"resource\"");
		const char *r2 = r1 ? strstr(r1 + 1, "{\"t\":\"resource\"") : NULL;
		char *t = strdup(m.buf), *q;

		if (r1 && r2) {
			q = t + (r2 - m.buf) + strlen("{\"t\":\"resource\",\"id\":\"");
			memcpy(q, r1 + strlen("{\"t\":\"resource\",\"id\":\""), 32);
		}
		CHECK_EQ_INT(check_text(t, 0, &e), 0);
		CHECK_EQ_INT(restore_text(b, rot_b, t, NULL, &e), -EEXIST);
		CHECK(strstr(e.msg, "already exists") != NULL);
		CHECK(r1 && strstr(e.msg, "resource id ") != NULL &&
		      strstr(e.msg, " twice") != NULL);
		free(t);
	}
	/* A NUL in a resource's type, time or domain (json-c reads
	 * \u0000, the fast parser refuses it): refused with the reason by
	 * the check every restore runs on each line before it is used. */
	{
		static const char *const subs[][3] = {
			{ "\"type\":\"keys\"", "\"type\":\"keys\\u0000x\"",
			  "is not a resource type" },
			{ "\"createdAt\":\"", "\"createdAt\":\"\\u0000",
			  "contains a NUL" },
			{ "\"domain\":\"", "\"domain\":\"\\u0000",
			  "contains a NUL" },
		};

		for (int i = 0; i < 3; i++) {
			const char *res = strstr(m.buf, "{\"t\":\"resource\"");
			const char *q = res ? strstr(res, subs[i][0]) : NULL;
			char *t = malloc(strlen(m.buf) + 32);

			CHECK(q != NULL);
			if (q) {
				sprintf(t, "%.*s%s%s", (int)(q - m.buf), m.buf,
					subs[i][1], q + strlen(subs[i][0]));
				CHECK_EQ_INT(check_text(t, 0, &e), -EINVAL);
				CHECK(strstr(e.msg, subs[i][2]) != NULL);
			}
			free(t);
		}
	}
	/* Two resources of one domain, type, name and version (the second
	 * resource of a domain and type renamed as the first): refused as a whole,
	 * naming the resource (the name index refuses the second row as it
	 * comes; the id index, built after the rows, is the case above). */
	{
		json_object *first = NULL, *seen = json_object_new_object(), *o;
		char *t = malloc(strlen(m.buf) + 256), *w = t, *line;
		const char *p = m.buf, *nl;
		int renamed = 0;

		for (; *p; p = nl + 1) {
			nl = strchr(p, '\n');
			line = strndup(p, (size_t)(nl - p));
			o = json_tokener_parse(line);
			if (!renamed && o && !strcmp(json_object_get_string(
				    json_object_object_get(o, "t")) ?: "",
						  "resource")) {
				char k[160];
				json_object *f;

				snprintf(k, sizeof(k), "%s/%s",
					 json_object_get_string(json_object_object_get(o, "domain")),
					 json_object_get_string(json_object_object_get(o, "type")));
				if (!json_object_object_get_ex(seen, k, &f)) {
					json_object_object_add(seen, k,
							       json_object_get(o));
				} else {
					first = json_object_get(f);
					json_object_object_add(o, "name", json_object_get(
						json_object_object_get(f, "name")));
					json_object_object_add(o, "version", json_object_get(
						json_object_object_get(f, "version")));
					free(line);
					line = strdup(json_object_to_json_string_ext(o,
						JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
					renamed = 1;
				}
			}
			json_object_put(o);
			w += sprintf(w, "%s\n", line);
			free(line);
		}
		CHECK(renamed);
		CHECK_EQ_INT(check_text(t, 0, &e), 0);
		CHECK_EQ_INT(restore_text(b, rot_b, t, NULL, &e), -EEXIST);
		if (getenv("BK_TEST_VERBOSE"))
			fprintf(stderr, "name clash: %s\n", e.msg);
		CHECK(first && strstr(e.msg, json_object_get_string(
			json_object_object_get(first, "name"))) != NULL);
		CHECK(strstr(e.msg, "twice (already exists)") != NULL);
		json_object_put(first);
		json_object_put(seen);
		free(t);
	}
	db = dump(b);
	CHECK(!strcmp(before, db));
	check_local(b, "appliance-b");
	free(db);
	free(before);

	/* A line longer than the limit. */
	{
		size_t big = 17 * 1024 * 1024;

		bad = malloc(big + 2);
		memset(bad, ' ', big);
		bad[big] = '\n';
		bad[big + 1] = '\0';
		CHECK(check_text(bad, 0, &e) < 0);
		CHECK(strstr(e.msg, "too long") != NULL);
		free(bad);
	}

	/* A domain snapshot: that domain's rows only; not for a system
	 * restore. */
	{
		struct tu_mem m3 = { 0 };
		json_object *c3 = json_object_new_object();

		CHECK_EQ_INT(bk_snapshot_write(a, rot_a, "finance", NULL,
					       tu_mem_sink, &m3, c3, NULL, NULL, &e), 0);
		CHECK(starts(m3.buf, "{\"kind\":\"backupfs-snapshot\",\"format\":1,\"scope\":\"domain\",\"domain\":\"finance\",\"total\":"));
		CHECK_EQ_INT(count_of(c3, "domains"), 1);
		CHECK_EQ_INT(count_of(c3, "resources"), tu_scalar(a, "SELECT COUNT(*) FROM resources WHERE domain = 'finance'"));
		CHECK_EQ_INT(count_of(c3, "members"), 1);
		CHECK_EQ_INT(count_of(c3, "links"), 0);
		CHECK(strstr(m3.buf, "\"domain\":\"root\"") == NULL);
		CHECK(strstr(m3.buf, "\"domain\":\"hr\"") == NULL);
		CHECK_EQ_INT(check_text(m3.buf, 0, &e), 0);
		CHECK_EQ_INT(restore_text(b, rot_b, m3.buf, NULL, &e), -EINVAL);
		CHECK(strstr(e.msg, "system restore needs a system snapshot") != NULL);
		free(m3.buf);
		json_object_put(c3);
		memset(&m3, 0, sizeof(m3));
		CHECK_EQ_INT(bk_snapshot_write(a, rot_a, "nope", NULL,
					       tu_mem_sink, &m3, NULL, NULL, NULL,
					       &e), -ENOENT);
		free(m3.buf);
	}

	/* Restoring an older payload over a changed store: replaced. */
	tu_add(b, rot_b, "root", "users", "newer", NULL);
	CHECK_EQ_INT(restore_text(b, rot_b, m.buf, NULL, &e), 0);
	db = dump(b);
	CHECK(!strcmp(da, db));
	free(db);
	free(da);
	/* The indexes the restore dropped are back, and hold. */
	CHECK_EQ_INT(tu_scalar(b, "SELECT COUNT(*) FROM sqlite_master WHERE"
		" type = 'index' AND name IN ('resources_by_id',"
		"'resources_by_key')"), 2);
	CHECK_EQ_INT(bk_resource_add(b, rot_b, "root", "users", "newer",
				     NULL, NULL, &e), 0);
	CHECK_EQ_INT(bk_resource_add(b, rot_b, "root", "users", "newer",
				     NULL, NULL, &e), -EEXIST);

	free(m.buf);
	json_object_put(counts);
	json_object_put(report);
	bk_store_close(a);
	bk_store_close(b);
	bk_rot_free(rot_a);
	bk_rot_free(rot_b);
}

/* The concurrent writer: commits while the snapshot's read transaction
 * is open. */
struct late {
	struct bk_store *writer;
	struct bk_rot *rot;
};

static void late_writes(void *arg)
{
	struct late *l = arg;
	char name[32];

	CHECK_EQ_INT(bk_domain_add(l->writer, "late", NULL, NULL), 0);
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "late-%d", i);
		CHECK_EQ_INT(bk_resource_add(l->writer, l->rot, "root",
			     i % 2 ? "keys" : "users", name, NULL, NULL,
			     NULL), 0);
	}
	CHECK_EQ_INT(bk_resource_delete(l->writer, "root", "groups",
					"admins", NULL), 0);
}

static void test_concurrent_writer(void)
{
	struct late late;
	struct bk_rot *rot = NULL;
	struct bk_store *s, *w = NULL;
	json_object *counts = json_object_new_object();
	struct tu_mem m = { 0 };
	struct bk_err e = { 0 };
	char path[300];
	long long before;
	int ret;

	s = tu_open_store(dir, "c", &rot);
	fill(s, rot);
	snprintf(path, sizeof(path), "%s/c.db", dir);
	CHECK_EQ_INT(bk_store_open(path, 0, &w, &e), 0);
	before = tu_scalar(s, "SELECT COUNT(*) FROM resources");
	late.writer = w;
	late.rot = rot;
	m.first = late_writes;
	m.first_arg = &late;
	ret = bk_snapshot_write(s, rot, NULL, NULL, tu_mem_sink, &m, counts,
				NULL, NULL, &e);
	if (ret)
		fprintf(stderr, "write: %s\n", e.msg);
	CHECK_EQ_INT(ret, 0);
	CHECK(m.calls > 1);
	/* The writer's rows are committed, and not in the snapshot. */
	CHECK_EQ_INT(tu_scalar(s, "SELECT COUNT(*) FROM resources"), before + 49);
	CHECK_EQ_INT(count_of(counts, "resources"), before);
	CHECK_EQ_INT(count_of(counts, "domains"), 3);
	CHECK_EQ_INT(count_of(counts, "members"), 3);
	CHECK(m.buf && strstr(m.buf, "late") == NULL);
	CHECK(strstr(m.buf, "\"group\":\"admins\"") != NULL);
	CHECK_EQ_INT(check_text(m.buf, 0, &e), 0);
	free(m.buf);
	json_object_put(counts);
	bk_store_close(w);
	bk_store_close(s);
	bk_rot_free(rot);
}

int main(void)
{
	CHECK_EQ_INT(bk_crypto_init(), 0);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_roundtrip();
	test_concurrent_writer();
	tu_cleanup(dir, tmp_files, sizeof(tmp_files) / sizeof(tmp_files[0]));
	return check_done("test_snapshot");
}
