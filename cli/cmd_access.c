/* cmd_access.c - backupctl access list | grant | revoke: the access
 * policy of the mounted tree (who holds which role). */
#include "cli.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_access(struct cli *c, int argc, char **argv);

/* A number, or a name resolved with getpwnam / getgrnam. */
static int resolve(const char *kind, const char *arg, long long *id)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (*arg && !*end && !errno && v >= 0 && v <= 0xffffffffLL) {
		*id = v;
		return 0;
	}
	if (!strcmp(kind, "user")) {
		struct passwd *pw = getpwnam(arg);

		if (!pw)
			return cli_fail("no user '%s'", arg);
		*id = pw->pw_uid;
	} else {
		struct group *gr = getgrnam(arg);

		if (!gr)
			return cli_fail("no group '%s'", arg);
		*id = gr->gr_gid;
	}
	return 0;
}

static int print_grant(void *arg, const char *kind, long long id,
		       const char *role, const char *domain)
{
	json_object *o = json_object_new_object();
	const char *name = NULL;

	(void)arg;
	if (!strcmp(kind, "user")) {
		struct passwd *pw = getpwuid((uid_t)id);

		name = pw ? pw->pw_name : NULL;
	} else {
		struct group *gr = getgrgid((gid_t)id);

		name = gr ? gr->gr_name : NULL;
	}
	json_object_object_add(o, "kind", json_object_new_string(kind));
	json_object_object_add(o, "id", json_object_new_int64(id));
	json_object_object_add(o, "name",
			       name ? json_object_new_string(name) : NULL);
	json_object_object_add(o, "role", json_object_new_string(role));
	json_object_object_add(o, "domain",
			       domain ? json_object_new_string(domain) : NULL);
	cli_print_json(o);
	json_object_put(o);
	return 0;
}

static int access_list(struct cli *c, int argc, char **argv)
{
	struct bk_err err = { 0 };
	char *pos[1];
	int npos, ret;

	c->synopsis = "access list";
	ret = cli_parse(c, argc, argv, NULL, pos, 0, 0, &npos);
	if (ret || (ret = cli_open(c)))
		return ret;
	ret = bk_access_foreach(c->engine, print_grant, NULL, &err);
	if (ret < 0)
		return cli_engine_fail(ret, &err, NULL);
	return CLI_OK;
}

static int access_change(struct cli *c, int argc, char **argv, int grant)
{
	struct bk_err err = { 0 };
	const char *user = NULL, *group = NULL, *role = NULL, *domain = NULL;
	const struct cli_opt opts[] = {
		{ "user", required_argument, &user, NULL },
		{ "group", required_argument, &group, NULL },
		{ "role", required_argument, &role, NULL },
		{ "domain", required_argument, &domain, NULL },
		{ NULL, 0, NULL, NULL },
	};
	const char *kind;
	char *pos[1];
	long long id = 0;
	int npos, ret;

	c->synopsis = grant ?
		"access grant --user NAME|UID | --group NAME|GID --role ROLE "
		"[--domain D]" :
		"access revoke --user NAME|UID | --group NAME|GID --role ROLE "
		"[--domain D]";
	ret = cli_parse(c, argc, argv, opts, pos, 0, 0, &npos);
	if (ret)
		return ret;
	if (!user == !group)
		return cli_usage(c, "give one of --user or --group");
	if (!role)
		return cli_usage(c, "missing --role");
	kind = user ? "user" : "group";
	ret = resolve(kind, user ? user : group, &id);
	if (ret)
		return ret;
	if ((ret = cli_open(c)))
		return ret;
	ret = grant ? bk_access_grant(c->engine, kind, id, role, domain, &err) :
		      bk_access_revoke(c->engine, kind, id, role, domain, &err);
	if (ret < 0)
		return cli_engine_fail(ret, &err, NULL);
	return CLI_OK;
}

int cmd_access(struct cli *c, int argc, char **argv)
{
	const char *sub;

	c->synopsis = "access list | access grant ... | access revoke ...";
	sub = cli_subcommand(c, argc, argv);
	if (!sub)
		return CLI_USAGE;
	if (!strcmp(sub, "list"))
		return access_list(c, argc - 1, argv + 1);
	if (!strcmp(sub, "grant"))
		return access_change(c, argc - 1, argv + 1, 1);
	if (!strcmp(sub, "revoke"))
		return access_change(c, argc - 1, argv + 1, 0);
	c->cmd = argv[0];
	return cli_usage(c, "unknown subcommand '%s'", sub);
}
