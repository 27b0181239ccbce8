/* cmd_admin.c - backupctl init, config, domain, backupkey. */
#include "cli.h"

#include "core/hsm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_init(struct cli *c, int argc, char **argv)
{
	struct bk_init_opts o = { 0 };
	struct bk_err err = { 0 };
	const char *hsm = c->hsm;
	const struct cli_opt opts[] = {
		{ "hsm", required_argument, &hsm, NULL },
		{ "product-version", required_argument, &o.product_version,
		  NULL },
		{ "lts", required_argument, &o.lts, NULL },
		{ "demo", no_argument, NULL, &o.demo },
		{ NULL, 0, NULL, NULL },
	};
	char *pos[1];
	const char *dir;
	int npos, ret;

	c->synopsis = "init DIR [--product-version X.Y.Z] [--lts X.Y,...] "
		      "[--demo] [--hsm URI]";
	ret = cli_parse(c, argc, argv, opts, pos, 0, 1, &npos);
	if (ret)
		return ret;
	dir = npos ? pos[0] : c->state;
	if (!dir || !*dir)
		return cli_usage(c, "missing DIR");
	ret = bk_state_init_hsm(dir, &o, hsm, &err);
	if (ret < 0)
		return cli_engine_fail(ret, &err, dir);
	printf("created state directory %s%s%s\n", dir,
	       o.demo ? " with demo data" : "",
	       hsm ? ", root of trust on the HSM" : "");
	return CLI_OK;
}

static int config_show(struct cli *c, int argc, char **argv)
{
	struct bk_err err = { 0 };
	char *pos[1], *json = NULL;
	int npos, ret;

	c->synopsis = "config show";
	ret = cli_parse(c, argc, argv, NULL, pos, 0, 0, &npos);
	if (ret || (ret = cli_open(c)))
		return ret;
	ret = bk_appliance_json(c->engine, &json, &err);
	if (ret < 0)
		return cli_engine_fail(ret, &err, NULL);
	cli_print_json_text(json, 1);
	free(json);
	return CLI_OK;
}

static int config_set(struct cli *c, int argc, char **argv)
{
	struct bk_err err = { 0 };
	char *pos[2];
	int npos, ret;

	c->synopsis = "config set KEY VALUE";
	ret = cli_parse(c, argc, argv, NULL, pos, 2, 2, &npos);
	if (ret || (ret = cli_open(c)))
		return ret;
	ret = bk_config_set(c->engine, pos[0], pos[1], &err);
	if (ret < 0)
		return cli_engine_fail(ret, &err, pos[0]);
	return CLI_OK;
}

int cmd_config(struct cli *c, int argc, char **argv)
{
	const char *sub;

	c->synopsis = "config show | config set KEY VALUE";
	sub = cli_subcommand(c, argc, argv);
	if (!sub)
		return CLI_USAGE;
	if (!strcmp(sub, "show"))
		return config_show(c, argc - 1, argv + 1);
	if (!strcmp(sub, "set"))
		return config_set(c, argc - 1, argv + 1);
	c->cmd = argv[0];
	return cli_usage(c, "unknown subcommand '%s'", sub);
}

static int print_name(void *arg, const char *name)
{
	json_object *o = json_object_new_object();
	char *hsm = NULL;

	json_object_object_add(o, "name", json_object_new_string(name));
	/* HSM-anchored domains: the key that wraps their material. */
	if (arg && !bk_hsm_domain_key(arg, name, &hsm, NULL) && hsm)
		json_object_object_add(o, "hsm", json_object_new_string(hsm));
	free(hsm);
	cli_print_json(o);
	json_object_put(o);
	return 0;
}

static int domain_create(struct cli *c, int argc, char **argv)
{
	struct bk_err err = { 0 };
	const char *hsm = NULL;
	const struct cli_opt opts[] = {
		{ "hsm", required_argument, &hsm, NULL },
		{ NULL, 0, NULL, NULL },
	};
	char *pos[2];
	int npos, ret;

	c->synopsis = "domain create NAME [--hsm URI]";
	ret = cli_parse(c, argc, argv, opts, pos, 0, 2, &npos);
	if (ret)
		return ret;
	if (npos == 0)
		return cli_usage(c, "missing NAME");
	if (npos > 1)
		return cli_usage(c, "unexpected operand '%s'", pos[1]);
	if ((ret = cli_open(c)))
		return ret;
	ret = hsm ? bk_hsm_domain_create(c->engine, pos[0], hsm, &err) :
		bk_engine_domain_create(c->engine, pos[0], &err);
	if (ret < 0)
		return cli_engine_fail(ret, &err, pos[0]);
	return CLI_OK;
}

static int domain_list(struct cli *c, int argc, char **argv)
{
	struct bk_err err = { 0 };
	char *pos[1];
	int npos, ret;

	c->synopsis = "domain list";
	ret = cli_parse(c, argc, argv, NULL, pos, 0, 0, &npos);
	if (ret || (ret = cli_open(c)))
		return ret;
	ret = bk_engine_domain_names(c->engine, print_name, c->engine, &err);
	if (ret < 0)
		return cli_engine_fail(ret, &err, NULL);
	return CLI_OK;
}

int cmd_domain(struct cli *c, int argc, char **argv)
{
	const char *sub;

	c->synopsis = "domain create NAME | domain list";
	sub = cli_subcommand(c, argc, argv);
	if (!sub)
		return CLI_USAGE;
	if (!strcmp(sub, "create"))
		return domain_create(c, argc - 1, argv + 1);
	if (!strcmp(sub, "list"))
		return domain_list(c, argc - 1, argv + 1);
	c->cmd = argv[0];
	return cli_usage(c, "unknown subcommand '%s'", sub);
}

/* Key ids, collected first: the engine is not called back from its own
 * callback. */
struct idlist {
	char **ids;
	size_t n, cap;
};

static int collect_id(void *arg, const char *id)
{
	struct idlist *l = arg;
	char **ids;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		ids = realloc(l->ids, l->cap * sizeof(*ids));
		if (!ids)
			return -ENOMEM;
		l->ids = ids;
	}
	if (!(l->ids[l->n] = strdup(id)))
		return -ENOMEM;
	l->n++;
	return 0;
}

static int backupkey_list(struct cli *c, int argc, char **argv)
{
	struct bk_err err = { 0 };
	struct idlist l = { 0 };
	const char *domain = NULL;
	const struct cli_opt opts[] = {
		{ "domain", required_argument, &domain, NULL },
		{ NULL, 0, NULL, NULL },
	};
	char *pos[1], *json;
	int npos, ret;
	size_t i;

	c->synopsis = "backupkey list [--domain D]";
	ret = cli_parse(c, argc, argv, opts, pos, 0, 0, &npos);
	if (ret || (ret = cli_open(c)))
		return ret;
	if (domain && !bk_engine_domain_exists(c->engine, domain))
		return cli_fail("no such domain: %s", domain);
	ret = bk_key_ids(c->engine, domain, collect_id, &l, &err);
	if (ret < 0) {
		ret = cli_engine_fail(ret, &err, NULL);
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		json = NULL;
		ret = bk_key_json(c->engine, domain, l.ids[i], &json, &err);
		if (ret == -ENOENT)	/* deleted meanwhile */
			continue;
		if (ret < 0) {
			ret = cli_engine_fail(ret, &err, l.ids[i]);
			goto out;
		}
		cli_print_json_text(json, 0);
		free(json);
	}
	ret = CLI_OK;
out:
	for (i = 0; i < l.n; i++)
		free(l.ids[i]);
	free(l.ids);
	return ret;
}

int cmd_backupkey(struct cli *c, int argc, char **argv)
{
	const char *sub;

	c->synopsis = "backupkey list [--domain D]";
	sub = cli_subcommand(c, argc, argv);
	if (!sub)
		return CLI_USAGE;
	if (!strcmp(sub, "list"))
		return backupkey_list(c, argc - 1, argv + 1);
	c->cmd = argv[0];
	return cli_usage(c, "unknown subcommand '%s'", sub);
}
