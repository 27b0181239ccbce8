/* cmd_hsm.c - backupctl hsm status | rotate | activate KEY-ID. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "core/hsm.h"

static int hsm_status(struct cli *c, int argc, char **argv)
{
	struct bk_err err = { 0 };
	char *pos[1], *json = NULL;
	int npos, ret;

	c->synopsis = "hsm status";
	ret = cli_parse(c, argc, argv, NULL, pos, 0, 0, &npos);
	if (ret || (ret = cli_open(c)))
		return ret;
	ret = bk_hsm_status(c->engine, &json, &err);
	if (ret < 0)
		return cli_engine_fail(ret, &err, NULL);
	cli_print_json_text(json, 1);
	free(json);
	return CLI_OK;
}

/* rotate (key_id NULL) or activate. */
static int hsm_activate(struct cli *c, int argc, char **argv, int rotate)
{
	struct bk_err err = { 0 };
	char *pos[1], *id = NULL;
	json_object *o;
	int npos, ret;

	c->synopsis = rotate ? "hsm rotate" : "hsm activate KEY-ID";
	ret = cli_parse(c, argc, argv, NULL, pos, !rotate, !rotate, &npos);
	if (ret || (ret = cli_open(c)))
		return ret;
	ret = bk_hsm_activate(c->engine, rotate ? NULL : pos[0], &id, &err);
	if (ret < 0)
		return cli_engine_fail(ret, &err, NULL);
	o = json_object_new_object();
	json_object_object_add(o, "activeKeyId", json_object_new_string(
		id ? id : ""));
	cli_print_json(o);
	json_object_put(o);
	free(id);
	return CLI_OK;
}

int cmd_hsm(struct cli *c, int argc, char **argv)
{
	const char *sub;

	c->synopsis = "hsm status | hsm rotate | hsm activate KEY-ID";
	sub = cli_subcommand(c, argc, argv);
	if (!sub)
		return CLI_USAGE;
	if (!strcmp(sub, "status"))
		return hsm_status(c, argc - 1, argv + 1);
	if (!strcmp(sub, "rotate"))
		return hsm_activate(c, argc - 1, argv + 1, 1);
	if (!strcmp(sub, "activate"))
		return hsm_activate(c, argc - 1, argv + 1, 0);
	c->cmd = argv[0];
	return cli_usage(c, "unknown subcommand '%s'", sub);
}
