/* test_scp.c - core/sshkey.c, conn.c and scp.c without an SSH server:
 * the key pair (made at daemon start, stable, rotated, stored only
 * wrapped), connection validation (a table of bad requests and their
 * reasons), passwords never at rest in clear nor shown, transfer requests
 * refused, a transfer to a closed port failing in the background with the
 * reason, records pruned after 4 days, and a transfer left In Progress by
 * a crash shown Failed at the next start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"
#include "core/scp_int.h"

static char tmp[] = "/tmp/bk-test-scp-XXXXXX";
static char state[300];

static const char password[] = "pw-never-at-rest-31d9a7";

static const char *needle;
static size_t needle_len;
static int hits;

static int scan_cb(const char *path, const struct stat *sb, int type,
		   struct FTW *ftw)
{
	uint8_t *buf = NULL;
	size_t len = 0, i;

	(void)sb;
	(void)ftw;
	if (type != FTW_F || bk_read_small(path, 1 << 28, &buf, &len, NULL))
		return 0;
	for (i = 0; len >= needle_len && i <= len - needle_len; i++)
		if (!memcmp(buf + i, needle, needle_len)) {
			fprintf(stderr, "found in %s\n", path);
			hits++;
			break;
		}
	free(buf);
	return 0;
}

/* Files of the state directory holding s. */
static int in_state(const char *s)
{
	needle = s;
	needle_len = strlen(s);
	hits = 0;
	nftw(state, scan_cb, 16, FTW_PHYS);
	return hits;
}

/* The private key's OpenSSH text (new). */
static char *private_text(struct bk_engine *e)
{
	ssh_key key = NULL;
	char *text = NULL;
	struct bk_err err = { 0, "" };

	CHECK_EQ_INT(bk_sshkey_load(e, &key, &err), 0);
	CHECK(key && ssh_pki_export_privkey_base64(key, NULL, NULL, NULL,
						   &text) == SSH_OK);
	ssh_key_free(key);
	return text;
}

/* No line (of 20 characters or more) of the private key's text is in the
 * state directory. */
static void check_key_not_at_rest(struct bk_engine *e)
{
	char *text = private_text(e), *save = NULL, *line;
	int lines = 0, found = 0;

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (strlen(line) >= 20 && !strstr(line, "-----")) {
			lines++;
			found += in_state(line);
		}
	CHECK(lines > 0);
	CHECK_EQ_INT(found, 0);
	free(text);
}

static void check_refused(struct bk_engine *e, const char *req, int code,
			  const char *words)
{
	struct bk_err err = { 0, "" };
	int r = bk_conn_create(e, req, 0, NULL, &err);

	CHECK_EQ_INT(r, code);
	if (!strstr(err.msg, words))
		fprintf(stderr, "for %s: '%s' lacks '%s'\n", req, err.msg,
			words);
	CHECK(strstr(err.msg, words) != NULL);
}

#define PIN "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
#define BASE "\"host\":\"127.0.0.1\",\"username\":\"u\",\"path_to\":\"/tmp\",\"public_key\":\"" PIN "\""

static void test_connections(struct bk_engine *e)
{
	struct bk_err err = { 0, "" };
	struct bk_conn c;
	char *json = NULL;

	check_refused(e, "{\"name\":\"a\"," BASE ",\"x\":1}", -EINVAL,
		      "unknown field \"x\"");
	check_refused(e, "{\"name\":\"a\"," BASE ",\"port\":\"22\"}", -EINVAL,
		      "\"port\" must be an integer");
	check_refused(e, "{\"name\":\"a\"," BASE ",\"port\":0}", -EINVAL,
		      "1 to 65535");
	check_refused(e, "{" BASE "}", -EINVAL, "\"name\" is required");
	check_refused(e, "{\"name\":\"a/b\"," BASE "}", -EINVAL,
		      "\"name\" must be");
	check_refused(e, "{\"name\":\"a\",\"host\":\"h\",\"username\":\"u\","
		      "\"path_to\":\"/\"}", -EINVAL, "\"public_key\" is required");
	check_refused(e, "{\"name\":\"a\"," BASE ",\"host\":\"-oProxy\"}",
		      -EINVAL, "must not begin with '-'");
	check_refused(e, "{\"name\":\"a\"," BASE ",\"username\":\"a b\"}",
		      -EINVAL, "must not hold spaces");
	check_refused(e, "{\"name\":\"a\"," BASE ",\"protocol\":\"ftp\"}",
		      -EINVAL, "\"sftp\" or \"scp\"");
	check_refused(e, "{\"name\":\"a\"," BASE ",\"auth_method\":\"pw\"}",
		      -EINVAL, "\"key\" or \"password\"");
	check_refused(e, "{\"name\":\"a\"," BASE ",\"password\":\"x\"}",
		      -EINVAL, "only for auth_method");
	check_refused(e, "{\"name\":\"a\"," BASE
		      ",\"auth_method\":\"password\"}", -EINVAL,
		      "\"password\" is required");
	check_refused(e, "{\"name\":\"a\",\"host\":\"h\",\"username\":\"u\","
		      "\"path_to\":\"/\",\"public_key\":\"ssh-ed25519 !!\"}",
		      -EINVAL, "SSH host key");
	check_refused(e, "[1]", -EINVAL, "expected a JSON object");

	/* known_hosts form accepted; a password kept wrapped, never shown */
	CHECK_EQ_INT(bk_conn_create(e, "{\"name\":\"kh\",\"host\":\"h\","
		"\"username\":\"u\",\"path_to\":\"/\",\"public_key\":"
		"\"[h]:2222 " PIN "\"}", 0, NULL, &err), 0);
	CHECK_EQ_INT(bk_conn_create(e, "{\"name\":\"pw\"," BASE
		",\"auth_method\":\"password\",\"password\":\"" "pw-never-at-"
		"rest-31d9a7\",\"protocol\":\"scp\",\"port\":2222}", 0, NULL,
		&err), 0);
	check_refused(e, "{\"name\":\"pw\"," BASE "}", -EEXIST,
		      "already exists");
	CHECK_EQ_INT(bk_conn_json(e, "pw", &json, NULL, &err), 0);
	CHECK(json && !strstr(json, "\"password\":") &&
	      !strstr(json, password));
	CHECK(json && strstr(json, "\"protocol\": \"scp\"") &&
	      strstr(json, "\"port\": 2222") &&
	      strstr(json, "\"lastTest\": null"));
	free(json);
	CHECK_EQ_INT(in_state(password), 0);
	CHECK_EQ_INT(bk_conn_load(e, "pw", &c, &err), 0);
	CHECK(c.password && !strcmp(c.password, password));
	bk_conn_clear(&c);

	/* test of a connection that cannot be reached: lastTest says why */
	CHECK_EQ_INT(bk_conn_create(e, "{\"name\":\"closed\",\"port\":1,"
		BASE "}", 0, NULL, &err), 0);
	CHECK_EQ_INT(bk_conn_test(e, "closed", 0, &err), -EHOSTUNREACH);
	CHECK_EQ_INT(bk_conn_json(e, "closed", &json, NULL, NULL), 0);
	CHECK(json && strstr(json, "\"ok\": false") &&
	      strstr(json, "cannot reach 127.0.0.1 port 1"));
	free(json);

	CHECK_EQ_INT(bk_conn_delete(e, "kh", 0, &err), 0);
	CHECK_EQ_INT(bk_conn_delete(e, "kh", 0, &err), -ENOENT);
	CHECK_EQ_INT(bk_conn_json(e, "kh", NULL, NULL, NULL), -ENOENT);
}

static int first_id(void *arg, const char *id)
{
	snprintf(arg, 33, "%s", id);
	return 0;
}

static void test_transfers(struct bk_engine *e)
{
	struct bk_err err = { 0, "" };
	char *bid = NULL, *xid = NULL, *json = NULL, listed[33] = "", sql[400];
	int i;

	CHECK_EQ_INT(bk_backup_start(e, NULL, "{}", 0, &bid, &err), 0);
	bk_status_wait(e);
	CHECK_EQ_INT(bk_scp_start(e, "0123", "{\"connection\":\"closed\"}", 0,
				  &xid, &err), -EINVAL);
	CHECK(strstr(err.msg, "not a Completed system backup") != NULL);
	CHECK_EQ_INT(bk_scp_start(e, bid, "{\"connection\":\"nosuch\"}", 0,
				  &xid, &err), -EINVAL);
	CHECK_EQ_INT(bk_scp_start(e, bid, "{\"connection\":\"closed\","
				  "\"port\":2}", 0, &xid, &err), -EINVAL);
	CHECK_EQ_INT(bk_scp_start(e, bid, "{\"name\":\"x\"," BASE "}", 0,
				  &xid, &err), -EINVAL);
	CHECK_EQ_INT(bk_scp_start(e, bid, "{}", 0, &xid, &err), -EINVAL);
	CHECK(xid == NULL);

	CHECK_EQ_INT(bk_scp_start(e, bid, "{\"connection\":\"closed\"}", 0,
				  &xid, &err), 0);
	for (i = 0; i < 600; i++) {	/* bounded: 60 s */
		free(json);
		json = NULL;
		CHECK_EQ_INT(bk_scp_status_json(e, bid, xid, &json, NULL,
						&err), 0);
		if (!json || !strstr(json, "In Progress"))
			break;
		usleep(100000);
	}
	CHECK(json && strstr(json, "\"status\": \"Failed\"") &&
	      strstr(json, "cannot reach 127.0.0.1 port 1"));
	free(json);
	CHECK_EQ_INT(bk_scp_ids(e, bid, first_id, listed, &err), 0);
	CHECK(!strcmp(listed, xid));

	/* 5 days later: gone (the audit trail keeps it) */
	snprintf(sql, sizeof(sql), "UPDATE scp_transfers SET finished_epoch ="
		 " finished_epoch - 432000 WHERE id = '%s'", xid);
	CHECK_EQ_INT(bk_store_exec(e->store, sql, &err), 0);
	CHECK_EQ_INT(bk_scp_status_json(e, bid, xid, NULL, NULL, NULL),
		     -ENOENT);
	listed[0] = 0;
	CHECK_EQ_INT(bk_scp_ids(e, bid, first_id, listed, &err), 0);
	CHECK(!listed[0]);

	/* a transfer left In Progress by a crash: Failed at the next start */
	snprintf(sql, sizeof(sql), "INSERT INTO scp_transfers(id, backup_id,"
		 " destination, protocol, status, started_at, started_epoch)"
		 " VALUES('%032d', '%s', 'd', 'sftp', 'In Progress', 't', 1)",
		 7, bid);
	CHECK_EQ_INT(bk_store_exec(e->store, sql, &err), 0);
	free(xid);
	free(bid);
}

int main(void)
{
	struct bk_init_opts o = { 0 };
	struct bk_err err = { 0, "" };
	struct bk_engine *e = NULL;
	char *pub = NULL, *again = NULL, *json = NULL, *bid = NULL;

	if (!mkdtemp(tmp))
		return 2;
	snprintf(state, sizeof(state), "%s/state", tmp);
	if (bk_state_init(state, &o, &err) ||
	    bk_engine_open(state, BK_ENGINE_DAEMON, &e, &err)) {
		fprintf(stderr, "set-up: %s\n", err.msg);
		return 2;
	}
	CHECK_EQ_INT(bk_scp_public_key(e, &pub, &err), 0);
	CHECK(pub && !strncmp(pub, "ssh-ed25519 AAAA", 16) &&
	      strstr(pub, " backupfs\n"));
	CHECK_EQ_INT(bk_scp_public_key(e, &again, &err), 0);
	CHECK(pub && again && !strcmp(pub, again));
	free(again);
	check_key_not_at_rest(e);
	CHECK_EQ_INT(bk_scp_rotate(e, 0, &err), 0);
	CHECK_EQ_INT(bk_scp_public_key(e, &again, &err), 0);
	CHECK(pub && again && strcmp(pub, again));
	free(again);
	free(pub);
	check_key_not_at_rest(e);

	test_connections(e);
	test_transfers(e);
	bk_backup_latest(e, NULL, &bid, NULL);
	bk_engine_close(e);

	CHECK_EQ_INT(bk_engine_open(state, BK_ENGINE_DAEMON, &e, &err), 0);
	CHECK_EQ_INT(bk_scp_status_json(e, bid, "00000000000000000000000000000007",
					&json, NULL, &err), 0);
	CHECK(json && strstr(json, "\"status\": \"Failed\"") &&
	      strstr(json, "interrupted"));
	free(json);
	free(bid);
	bk_engine_close(e);
	tu_rmtree(tmp);
	return check_done("test_scp");
}
