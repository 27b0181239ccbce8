/* test_restore_system.c - core/restore_system.c: the foreign-key proof
 * before the commit; resources inserted in bulk, a clash anywhere in
 * those inserts named by its line; keys that cannot be wrapped; and
 * nothing of a refused restore stays. */
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

static char dir[] = "/tmp/bk-test-rsys-XXXXXX";
static const char *const tmp_files[] = {
	"d.key", "d.db", "d.db-wal", "d.db-shm", "e.key", "e.db", "e.db-wal",
	"e.db-shm", "f.key", "f.db", "f.db-wal", "f.db-shm",
};

/* bk_snap_fk_check, the system restore's last check before its commit
 * (foreign keys are off in its transaction): a resource naming a missing
 * domain, sorting before, between or after the domains there are, or
 * naming one as a blob, a membership or a key link naming one - each is
 * found; rows that all name theirs pass. */
static void test_fk_check(void)
{
	static const char *const dangling[] = {
		"INSERT INTO resources(id, domain, type, name, created_at)"
		" VALUES('x', '', 'keys', 'k', 'now')",
		"INSERT INTO resources(id, domain, type, name, created_at)"
		" VALUES('x', 'gone', 'keys', 'k', 'now')",
		"INSERT INTO resources(id, domain, type, name, created_at)"
		" VALUES('x', 'zz', 'keys', 'k', 'now')",
		"INSERT INTO resources(id, domain, type, name, created_at)"
		" VALUES('x', x'6d6d', 'keys', 'k', 'now')",
		"INSERT INTO members(domain, group_name, user_name)"
		" VALUES('gone', 'g', 'u')",
		"INSERT INTO key_links(domain, policy_name, key_name)"
		" VALUES('gone', 'p', 'k')",
	};
	static const char *const domains[] = { "a", "mm", "z" };
	struct bk_rot *rot = NULL;
	struct bk_store *c = tu_open_store(dir, "d", &rot);
	struct bk_err e = { 0 };

	CHECK_EQ_INT(bk_snap_fk_check(c, &e), 0);	/* no rows at all */
	for (size_t i = 0; i < 3; i++) {
		CHECK_EQ_INT(bk_domain_add(c, domains[i], NULL, &e), 0);
		for (int k = 0; k < 3; k++) {
			char name[16];

			snprintf(name, sizeof(name), "k%d", k);
			tu_add(c, rot, domains[i], "keys", name, NULL);
		}
	}
	CHECK_EQ_INT(bk_store_exec(c, "PRAGMA foreign_keys=OFF", &e), 0);
	CHECK_EQ_INT(bk_snap_fk_check(c, &e), 0);
	for (size_t i = 0; i < sizeof(dangling) / sizeof(dangling[0]); i++) {
		bk_err_clear(&e);
		CHECK_EQ_INT(bk_store_exec(c, "BEGIN", &e), 0);
		CHECK_EQ_INT(bk_store_exec(c, dangling[i], &e), 0);
		CHECK_EQ_INT(bk_snap_fk_check(c, &e), -EIO);
		CHECK(!strcmp(e.msg, "a restored row refers to a domain that does not exist"));
		CHECK_EQ_INT(bk_store_exec(c, "ROLLBACK", &e), 0);
	}
	bk_err_clear(&e);
	CHECK_EQ_INT(bk_snap_fk_check(c, &e), 0);
	bk_store_close(c);
	bk_rot_free(rot);
}

/* c's dump is before still; then frees before and payload, closes c. */
static void same_and_close(struct bk_store *c, struct bk_rot *rot,
			   char *before, char *payload)
{
	char *after = dump(c);

	CHECK(!strcmp(before, after));
	free(after);
	free(before);
	free(payload);
	bk_store_close(c);
	bk_rot_free(rot);
}

/* A resource line given the name and version of the line before it,
 * at places that fall at the start, in the middle and at the end of the
 * multi-row inserts a restore makes (bk_res_bulk: up to 256 rows at a
 * time, in statements of powers of two): refused, naming that line and
 * the resource, and nothing of the restore stays. */
static void test_clash_line(void)
{
	static const int at[] = { 1, 2, 127, 128, 255, 256, 257, 511, 699 };
	struct bk_rot *rot = NULL;
	struct bk_store *c = tu_open_store(dir, "e", &rot);
	struct tu_mem m = { 0 };
	struct bk_err e = { 0 };
	char name[32], want[160], *before;
	int first = 0, lines = 0;

	CHECK_EQ_INT(bk_domain_add(c, "d", NULL, &e), 0);
	CHECK_EQ_INT(bk_store_begin(c, &e), 0);
	for (int i = 0; i < 700; i++) {
		snprintf(name, sizeof(name), "k%04d", i);
		tu_add(c, rot, "d", i % 2 ? "keys" : "users", name, NULL);
	}
	CHECK_EQ_INT(bk_store_commit(c, &e), 0);
	CHECK_EQ_INT(bk_snapshot_write(c, rot, NULL, NULL, tu_mem_sink, &m,
				       NULL, NULL, NULL, &e), 0);
	before = dump(c);
	for (const char *p = m.buf; *p; p = strchr(p, '\n') + 1) {
		lines++;
		if (!first && starts(p, "{\"t\":\"resource\""))
			first = lines;
	}
	CHECK(first > 1 && lines > first + 699);
	for (size_t i = 0; i < 2 * sizeof(at) / sizeof(at[0]); i++) {
		/* Resource at[j] (0-based) copies the one before; the second
		 * time round with SQLite's limit of 100 parameters a
		 * statement (some builds have 999): 8 rows at a time. */
		const size_t j = i % (sizeof(at) / sizeof(at[0]));
		const char *p = m.buf, *prev = NULL, *nl;
		char *t = malloc(m.len + 256), *w = t;
		json_object *o, *q;
		int line = 0;

		if (j == 0 && i)
			sqlite3_limit(bk_store_db(c),
				      SQLITE_LIMIT_VARIABLE_NUMBER, 100);
		for (; *p; p = nl + 1) {
			nl = strchr(p, '\n');
			line++;
			if (line == first + at[j] && prev) {
				o = json_tokener_parse(p);
				q = json_tokener_parse(prev);
				json_object_object_add(o, "type", json_object_get(
					json_object_object_get(q, "type")));
				json_object_object_add(o, "name", json_object_get(
					json_object_object_get(q, "name")));
				snprintf(want, sizeof(want),
					 "payload line %d: the payload holds %s '%s' version 0 in domain d twice (already exists)",
					 line, json_object_get_string(
						 json_object_object_get(q, "type")),
					 json_object_get_string(
						 json_object_object_get(q, "name")));
				w += sprintf(w, "%s\n", json_object_to_json_string_ext(
					o, JSON_C_TO_STRING_PLAIN |
					JSON_C_TO_STRING_NOSLASHESCAPE));
				json_object_put(o);
				json_object_put(q);
			} else {
				w += sprintf(w, "%.*s\n", (int)(nl - p), p);
			}
			prev = p;
		}
		*w = '\0';
		CHECK_EQ_INT(check_text(t, 0, &e), 0);
		CHECK_EQ_INT(restore_text(c, rot, t, NULL, &e), -EEXIST);
		if (strcmp(e.msg, want))
			fprintf(stderr, "clash at %d: got \"%s\"\n  want \"%s\"\n",
				at[j], e.msg, want);
		CHECK(!strcmp(e.msg, want));
		free(t);
	}
	/* And the payload as it is goes in whole. */
	CHECK_EQ_INT(restore_text(c, rot, m.buf, NULL, &e), 0);
	same_and_close(c, rot, before, m.buf);
}

/* A restore whose keys of one domain cannot be wrapped (the domain is
 * bound to an HSM key that is not reachable): refused at that domain's
 * first key, though the keys of the domain before it, in the same batch,
 * were wrapped; nothing of the restore stays. */
static void test_wrap_fails(void)
{
	struct bk_rot *rot = NULL;
	struct bk_store *c = tu_open_store(dir, "f", &rot);
	struct tu_mem m = { 0 };
	struct bk_err e = { 0 };
	char name[32], want[200], *before;
	int line = 0, at = 0;

	CHECK_EQ_INT(bk_domain_add(c, "a", NULL, &e), 0);
	CHECK_EQ_INT(bk_domain_add(c, "d", NULL, &e), 0);
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "k%02d", i);
		tu_add(c, rot, i < 10 ? "a" : "d", "keys", name, NULL);
	}
	CHECK_EQ_INT(bk_snapshot_write(c, rot, NULL, NULL, tu_mem_sink, &m,
				       NULL, NULL, NULL, &e), 0);
	for (const char *p = m.buf; *p && !at; p = strchr(p, '\n') + 1) {
		const char *d = strstr(p, "\"domain\":\"d\"");

		line++;
		if (starts(p, "{\"t\":\"resource\"") && d &&
		    d < strchr(p, '\n'))
			at = line;
	}
	CHECK(at > 10);
	before = dump(c);
	CHECK(bk_rot_bind(rot, "d", "pkcs11:token=nowhere", &e) < 0);
	snprintf(want, sizeof(want), "payload line %d: domain d is anchored to an HSM key that is not reachable here",
		 at);
	CHECK_EQ_INT(restore_text(c, rot, m.buf, NULL, &e), -ENXIO);
	if (strncmp(e.msg, want, strlen(want)))
		fprintf(stderr, "got \"%s\"\nwant \"%s...\"\n", e.msg, want);
	CHECK(!strncmp(e.msg, want, strlen(want)));
	same_and_close(c, rot, before, m.buf);
}

int main(void)
{
	CHECK_EQ_INT(bk_crypto_init(), 0);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_fk_check();
	test_clash_line();
	test_wrap_fails();
	tu_cleanup(dir, tmp_files, sizeof(tmp_files) / sizeof(tmp_files[0]));
	return check_done("test_restore_system");
}
