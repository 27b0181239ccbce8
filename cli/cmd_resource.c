/* cmd_resource.c - backupctl resource add | list | delete | import. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct res_args {
	const char *domain, *type, *name, *attrs;
};

/* --domain, --type and --name must all be there. */
static int need_dtn(struct cli *c, const struct res_args *a)
{
	if (!a->domain)
		return cli_usage(c, "missing --domain");
	if (!a->type)
		return cli_usage(c, "missing --type");
	if (!a->name)
		return cli_usage(c, "missing --name");
	return CLI_OK;
}

static int resource_add(struct cli *c, int argc, char **argv)
{
	struct bk_err err = { 0 };
	struct res_args a = { 0 };
	const struct cli_opt opts[] = {
		{ "domain", required_argument, &a.domain, NULL },
		{ "type", required_argument, &a.type, NULL },
		{ "name", required_argument, &a.name, NULL },
		{ "attrs", required_argument, &a.attrs, NULL },
		{ NULL, 0, NULL, NULL },
	};
	json_object *o;
	char *pos[1], *id = NULL;
	int npos, ret;

	c->synopsis = "resource add --domain D --type TYPE --name NAME "
		      "[--attrs JSON]";
	ret = cli_parse(c, argc, argv, opts, pos, 0, 0, &npos);
	if (ret || (ret = need_dtn(c, &a)) || (ret = cli_open(c)))
		return ret;
	ret = bk_engine_resource_add(c->engine, a.domain, a.type, a.name,
				     a.attrs, &id, &err);
	if (ret < 0)
		return cli_engine_fail(ret, &err, NULL);
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(id));
	cli_print_json(o);
	json_object_put(o);
	free(id);
	return CLI_OK;
}

static int print_res(void *arg, json_object *res)
{
	(void)arg;
	cli_print_json(res);
	return 0;
}

static int resource_list(struct cli *c, int argc, char **argv)
{
	struct bk_err err = { 0 };
	struct res_args a = { 0 };
	const struct cli_opt opts[] = {
		{ "domain", required_argument, &a.domain, NULL },
		{ "type", required_argument, &a.type, NULL },
		{ NULL, 0, NULL, NULL },
	};
	char *pos[1];
	int npos, ret;

	c->synopsis = "resource list [--domain D] [--type TYPE]";
	ret = cli_parse(c, argc, argv, opts, pos, 0, 0, &npos);
	if (ret || (ret = cli_open(c)))
		return ret;
	if (a.domain && !bk_engine_domain_exists(c->engine, a.domain))
		return cli_fail("no such domain: %s", a.domain);
	ret = bk_engine_resource_foreach(c->engine, a.domain, a.type,
					 print_res, NULL, &err);
	if (ret < 0)
		return cli_engine_fail(ret, &err, NULL);
	return CLI_OK;
}

static int resource_delete(struct cli *c, int argc, char **argv)
{
	struct bk_err err = { 0 };
	struct res_args a = { 0 };
	const struct cli_opt opts[] = {
		{ "domain", required_argument, &a.domain, NULL },
		{ "type", required_argument, &a.type, NULL },
		{ "name", required_argument, &a.name, NULL },
		{ NULL, 0, NULL, NULL },
	};
	char *pos[1];
	int npos, ret;

	c->synopsis = "resource delete --domain D --type TYPE --name NAME";
	ret = cli_parse(c, argc, argv, opts, pos, 0, 0, &npos);
	if (ret || (ret = need_dtn(c, &a)) || (ret = cli_open(c)))
		return ret;
	ret = bk_engine_resource_delete(c->engine, a.domain, a.type, a.name,
					&err);
	if (ret < 0)
		return cli_engine_fail(ret, &err, NULL);
	return CLI_OK;
}

static int resource_import(struct cli *c, int argc, char **argv)
{
	struct bk_err err = { 0 };
	json_object *o;
	const char *path;
	char *pos[1];
	long count = 0;
	int npos, ret;

	c->synopsis = "resource import FILE";
	ret = cli_parse(c, argc, argv, NULL, pos, 1, 1, &npos);
	if (ret || (ret = cli_open(c)))
		return ret;
	path = strcmp(pos[0], "-") ? pos[0] : "/dev/stdin";
	ret = bk_engine_resource_import(c->engine, path, &count, &err);
	if (ret < 0)
		return cli_engine_fail(ret, &err, pos[0]);
	o = json_object_new_object();
	json_object_object_add(o, "imported", json_object_new_int64(count));
	cli_print_json(o);
	json_object_put(o);
	return CLI_OK;
}

int cmd_resource(struct cli *c, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct cli *c, int argc, char **argv);
	} subs[] = {
		{ "add", resource_add },
		{ "list", resource_list },
		{ "delete", resource_delete },
		{ "import", resource_import },
	};
	const char *sub;
	size_t i;

	c->synopsis = "resource add | list | delete | import ...";
	sub = cli_subcommand(c, argc, argv);
	if (!sub)
		return CLI_USAGE;
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(sub, subs[i].name))
			return subs[i].fn(c, argc - 1, argv + 1);
	c->cmd = argv[0];
	return cli_usage(c, "unknown subcommand '%s'", sub);
}
