/* cmd_file.c - backupctl inspect and verify: offline tools on a backup
 * archive or a backup-key file. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_inspect(struct cli *c, int argc, char **argv)
{
	struct bk_err err = { 0 };
	const char *pass_file = NULL;
	int want_pass = 0;
	const struct cli_opt opts[] = {
		{ "password", no_argument, NULL, &want_pass },
		{ "password-file", required_argument, &pass_file, NULL },
		{ NULL, 0, NULL, NULL },
	};
	char *pos[1], *json = NULL, *pass = NULL;
	size_t passlen = 0;
	int npos, ret;

	c->synopsis = "inspect FILE [--password | --password-file F]";
	ret = cli_parse(c, argc, argv, opts, pos, 1, 1, &npos);
	if (ret)
		return ret;
	if (want_pass && pass_file)
		return cli_usage(c, "--password and --password-file exclude "
				 "each other");
	if ((want_pass || pass_file) &&
	    (ret = cli_read_pass(pass_file, &pass, &passlen)))
		return ret;
	ret = bk_inspect_file(pos[0], pass, passlen, &json, &err);
	cli_pass_free(pass, passlen);
	if (ret == -EKEYREJECTED && !err.msg[0])
		return cli_fail("%s: wrong passphrase", pos[0]);
	if (ret < 0)
		return cli_engine_fail(ret, &err, pos[0]);
	cli_print_json_text(json, 1);
	free(json);
	return CLI_OK;
}

/* {"file":path,"verified":false,"reason":why} */
static void print_unverified(const char *path, const char *why)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "file", json_object_new_string(path));
	json_object_object_add(o, "verified", json_object_new_boolean(0));
	json_object_object_add(o, "reason", json_object_new_string(why));
	cli_print_object(o);
	json_object_put(o);
}

int cmd_verify(struct cli *c, int argc, char **argv)
{
	struct bk_err err = { 0 };
	json_object *res = NULL, *v;
	char *pos[1], *json = NULL;
	int npos, ret;

	c->synopsis = "verify FILE";
	ret = cli_parse(c, argc, argv, NULL, pos, 1, 1, &npos);
	if (ret || (ret = cli_open(c)))
		return ret;
	ret = bk_verify_file(c->engine, pos[0], &json, &err);
	if (ret < 0) {
		print_unverified(pos[0], err.msg[0] ? err.msg :
				 strerror(-ret));
		return cli_engine_fail(ret, &err, pos[0]);
	}
	res = json_tokener_parse(json);
	if (!res || !json_object_object_get_ex(res, "verified", &v) ||
	    !json_object_get_boolean(v)) {
		cli_print_json_text(json, 1);
		ret = cli_fail("%s: not verified", pos[0]);
	} else {
		cli_print_object(res);
		ret = CLI_OK;
	}
	json_object_put(res);
	free(json);
	return ret;
}
