/* cmd_scp.c - backupctl scp ... and backupctl connection ...: the
 * appliance's SSH key pair, SCP/SFTP connections and transfers of system
 * backups (core/scp.h), the same as the mounted tree's scp/ and
 * connections/scp/. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/scp.h"

int cmd_scp(struct cli *c, int argc, char **argv);
int cmd_connection(struct cli *c, int argc, char **argv);

/* Parses the subcommand's operands (exactly n) and opens the engine. */
static int start(struct cli *c, int argc, char **argv, const char *synopsis,
		 char **pos, int n)
{
	int npos, ret;

	c->synopsis = synopsis;
	ret = cli_parse(c, argc, argv, NULL, pos, n, n, &npos);
	return ret ? ret : cli_open(c);
}

/* A JSON argument, or stdin's text for "-" (new). */
static char *json_arg(const char *arg)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *b;
	size_t n;

	if (strcmp(arg, "-"))
		return strdup(arg);
	do {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			b = realloc(buf, cap);
			if (!b) {
				free(buf);
				return NULL;
			}
			buf = b;
		}
		n = fread(buf + len, 1, 4096, stdin);
		len += n;
	} while (n > 0 && len < (1 << 20));
	if (buf)
		buf[len] = 0;
	return buf;
}

/* Prints text (a string the engine made, ending in "\n"), compact. */
static int print_text(int ret, char *text, const struct bk_err *err,
		      int pretty)
{
	if (ret) {
		free(text);
		return cli_engine_fail(ret, err, NULL);
	}
	cli_print_json_text(text, pretty);
	free(text);
	return CLI_OK;
}

struct list_ctx {
	struct bk_engine *e;
	const char *backup_id;		/* NULL: connections */
	char **v;
	size_t n;
};

static int collect(void *arg, const char *s)
{
	struct list_ctx *l = arg;
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (!v)
		return -1;
	l->v = v;
	v[l->n] = strdup(s);
	return v[l->n++] ? 0 : -1;
}

/* Prints the JSON of every connection, or of every transfer of a backup
 * (one deleted meanwhile is left out). */
static int print_all(struct list_ctx *l)
{
	char *text;
	size_t i;

	for (i = 0; i < l->n; i++) {
		text = NULL;
		if (!(l->backup_id ? bk_scp_status_json(l->e, l->backup_id,
							l->v[i], &text, NULL,
							NULL) :
		      bk_conn_json(l->e, l->v[i], &text, NULL, NULL)))
			cli_print_json_text(text, 0);
		free(text);
		free(l->v[i]);
	}
	free(l->v);
	return CLI_OK;
}

/* Runs a transfer in this process, following it to its end. */
static int scp_send(struct cli *c, const char *id, const char *req)
{
	struct bk_err err = { 0, "" };
	char *xid = NULL, *text = NULL;
	int ret;

	ret = bk_scp_start(c->engine, id, req, getuid(), &xid, &err);
	if (ret)
		return cli_engine_fail(ret, &err, NULL);
	for (;;) {
		free(text);
		text = NULL;
		ret = bk_scp_status_json(c->engine, id, xid, &text, NULL, &err);
		if (ret || !strstr(text, "\"In Progress\""))
			break;
		usleep(200000);
	}
	free(xid);
	if (!ret && strstr(text, "\"status\": \"Failed\"")) {
		cli_print_json_text(text, 1);
		free(text);
		return CLI_FAIL;
	}
	return print_text(ret, text, &err, 1);
}

int cmd_scp(struct cli *c, int argc, char **argv)
{
	struct bk_err err = { 0, "" };
	struct list_ctx l = { 0 };
	const char *sub;
	char *pos[2], *text = NULL;
	int ret;

	c->synopsis = "scp public-key | rotate | send BACKUP-ID JSON | "
		      "status BACKUP-ID";
	sub = cli_subcommand(c, argc, argv);
	if (!sub)
		return CLI_USAGE;
	argc--;
	argv++;
	if (!strcmp(sub, "public-key")) {
		if ((ret = start(c, argc, argv, "scp public-key", pos, 0)))
			return ret;
		ret = bk_scp_public_key(c->engine, &text, &err);
		if (!ret)
			fputs(text, stdout);
		free(text);
		return ret ? cli_engine_fail(ret, &err, NULL) : CLI_OK;
	}
	if (!strcmp(sub, "rotate")) {
		if ((ret = start(c, argc, argv, "scp rotate", pos, 0)))
			return ret;
		ret = bk_scp_rotate(c->engine, getuid(), &err);
		return ret ? cli_engine_fail(ret, &err, NULL) : CLI_OK;
	}
	if (!strcmp(sub, "send")) {
		if ((ret = start(c, argc, argv, "scp send BACKUP-ID JSON|-",
				 pos, 2)))
			return ret;
		text = json_arg(pos[1]);
		ret = text ? scp_send(c, pos[0], text) :
		      cli_fail("out of memory");
		if (text)
			explicit_bzero(text, strlen(text));	/* a password */
		free(text);
		return ret;
	}
	if (!strcmp(sub, "status")) {
		if ((ret = start(c, argc, argv, "scp status BACKUP-ID", pos, 1)))
			return ret;
		l.e = c->engine;
		l.backup_id = pos[0];
		ret = bk_scp_ids(c->engine, pos[0], collect, &l, &err);
		if (ret)
			return cli_engine_fail(ret, &err, NULL);
		return print_all(&l);
	}
	c->cmd = argv[-1];	/* the command word */
	return cli_usage(c, "unknown subcommand '%s'", sub);
}

int cmd_connection(struct cli *c, int argc, char **argv)
{
	struct bk_err err = { 0, "" };
	struct list_ctx l = { 0 };
	const char *sub;
	char *pos[1], *text = NULL;
	int ret;

	c->synopsis = "connection list | add JSON | show NAME | test NAME | "
		      "delete NAME";
	sub = cli_subcommand(c, argc, argv);
	if (!sub)
		return CLI_USAGE;
	argc--;
	argv++;
	if (!strcmp(sub, "list")) {
		if ((ret = start(c, argc, argv, "connection list", pos, 0)))
			return ret;
		l.e = c->engine;
		ret = bk_conn_names(c->engine, collect, &l, &err);
		if (ret)
			return cli_engine_fail(ret, &err, NULL);
		return print_all(&l);
	}
	if (!strcmp(sub, "add")) {
		if ((ret = start(c, argc, argv, "connection add JSON|-", pos,
				 1)))
			return ret;
		text = json_arg(pos[0]);
		ret = text ? bk_conn_create(c->engine, text, getuid(), NULL,
					    &err) : -ENOMEM;
		if (text)
			explicit_bzero(text, strlen(text));	/* a password */
		free(text);
		return ret ? cli_engine_fail(ret, &err, NULL) : CLI_OK;
	}
	if (!strcmp(sub, "show")) {
		if ((ret = start(c, argc, argv, "connection show NAME", pos, 1)))
			return ret;
		ret = bk_conn_json(c->engine, pos[0], &text, NULL, &err);
		return print_text(ret, text, &err, 1);
	}
	if (!strcmp(sub, "test")) {
		if ((ret = start(c, argc, argv, "connection test NAME", pos, 1)))
			return ret;
		ret = bk_conn_test(c->engine, pos[0], getuid(), &err);
		return ret ? cli_engine_fail(ret, &err, NULL) : CLI_OK;
	}
	if (!strcmp(sub, "delete")) {
		if ((ret = start(c, argc, argv, "connection delete NAME", pos,
				 1)))
			return ret;
		ret = bk_conn_delete(c->engine, pos[0], getuid(), &err);
		return ret ? cli_engine_fail(ret, &err, NULL) : CLI_OK;
	}
	c->cmd = argv[-1];	/* the command word */
	return cli_usage(c, "unknown subcommand '%s'", sub);
}
