/* cmd_schedule.c - backupctl schedule list | add | delete | run-now |
 * runs: the same as MOUNT/schedules/ (core/schedule.h). */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/schedule.h"

static int print_one(void *arg, const char *name)
{
	struct cli *c = arg;
	char *json = NULL;

	if (bk_sched_json(c->engine, name, &json, NULL) == 0)
		cli_print_json_text(json, 0);
	free(json);
	return 0;
}

static int schedule_list(struct cli *c, int argc, char **argv)
{
	struct bk_err err = { 0 };
	char *pos[1];
	int npos, ret;

	c->synopsis = "schedule list";
	ret = cli_parse(c, argc, argv, NULL, pos, 0, 0, &npos);
	if (ret || (ret = cli_open(c)))
		return ret;
	ret = bk_sched_names(c->engine, print_one, c, &err);
	return ret < 0 ? cli_engine_fail(ret, &err, NULL) : CLI_OK;
}

/* The request: the operand, or standard input for "-". */
static char *request_text(const char *arg)
{
	char *buf = NULL;
	size_t size = 0, n;
	FILE *f;

	if (strcmp(arg, "-"))
		return strdup(arg);
	f = open_memstream(&buf, &size);
	if (!f)
		return NULL;
	{
		char chunk[4096];

		while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
			fwrite(chunk, 1, n, f);
	}
	fclose(f);
	return buf;
}

static int schedule_add(struct cli *c, int argc, char **argv)
{
	struct bk_err err = { 0 };
	char *pos[1], *req, *name = NULL;
	int npos, ret;

	c->synopsis = "schedule add JSON|-";
	ret = cli_parse(c, argc, argv, NULL, pos, 1, 1, &npos);
	if (ret || (ret = cli_open(c)))
		return ret;
	req = request_text(pos[0]);
	if (!req)
		return cli_fail("out of memory");
	ret = bk_sched_create(c->engine, req, getuid(), &name, &err);
	free(req);
	if (ret < 0)
		return cli_engine_fail(ret, &err, NULL);
	print_one(c, name);
	free(name);
	return CLI_OK;
}

/* delete NAME, run-now NAME and runs NAME. */
static int schedule_named(struct cli *c, int argc, char **argv)
{
	struct bk_err err = { 0 };
	char *pos[1], *text = NULL;
	size_t len = 0;
	int npos, ret;

	c->synopsis = !strcmp(argv[0], "delete") ? "schedule delete NAME" :
		      !strcmp(argv[0], "runs") ? "schedule runs NAME" :
		      "schedule run-now NAME";
	ret = cli_parse(c, argc, argv, NULL, pos, 1, 1, &npos);
	if (ret || (ret = cli_open(c)))
		return ret;
	if (!strcmp(argv[0], "delete")) {
		ret = bk_sched_delete(c->engine, pos[0], getuid(), &err);
	} else if (!strcmp(argv[0], "runs")) {
		ret = bk_sched_runs(c->engine, pos[0], &text, &len, &err);
		if (!ret && !bk_sched_exists(c->engine, pos[0]))
			ret = bk_errf(&err, -ENOENT, "no schedule \"%s\"",
				      pos[0]);
		if (!ret)
			fwrite(text, 1, len, stdout);
		free(text);
	} else {
		ret = bk_sched_run_now(c->engine, pos[0], getuid(), &err);
		if (!ret)
			fprintf(stderr,
				"backupctl: run of %s queued; a mounted backupfs starts it within seconds (see its runs)\n",
				pos[0]);
	}
	return ret < 0 ? cli_engine_fail(ret, &err, NULL) : CLI_OK;
}

int cmd_schedule(struct cli *c, int argc, char **argv)
{
	const char *sub;

	c->synopsis = "schedule list | add | delete | run-now | runs ...";
	sub = cli_subcommand(c, argc, argv);
	if (!sub)
		return CLI_USAGE;
	if (!strcmp(sub, "list"))
		return schedule_list(c, argc - 1, argv + 1);
	if (!strcmp(sub, "add"))
		return schedule_add(c, argc - 1, argv + 1);
	if (!strcmp(sub, "delete") || !strcmp(sub, "run-now") ||
	    !strcmp(sub, "runs"))
		return schedule_named(c, argc - 1, argv + 1);
	c->cmd = argv[0];
	return cli_usage(c, "unknown subcommand '%s'", sub);
}
