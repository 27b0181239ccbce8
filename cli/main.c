/* main.c - backupctl's entry point: global options and dispatch. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_access(struct cli *c, int argc, char **argv);	/* cmd_access.c */
int cmd_schedule(struct cli *c, int argc, char **argv);	/* cmd_schedule.c */
int cmd_scp(struct cli *c, int argc, char **argv);	/* cmd_scp.c */
int cmd_connection(struct cli *c, int argc, char **argv);	/* cmd_scp.c */

static const struct {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
} commands[] = {
	{ "init", cmd_init },
	{ "config", cmd_config },
	{ "domain", cmd_domain },
	{ "resource", cmd_resource },
	{ "backupkey", cmd_backupkey },
	{ "inspect", cmd_inspect },
	{ "verify", cmd_verify },
	{ "wait", cmd_wait },
	{ "access", cmd_access },
	{ "schedule", cmd_schedule },
	{ "hsm", cmd_hsm },
	{ "scp", cmd_scp },
	{ "connection", cmd_connection },
};

void cli_help(FILE *out)
{
	fputs(
"Usage: backupctl [--state DIR] COMMAND [ARGS...]\n"
"\n"
"Administration of a backupfs state directory.  --state defaults to\n"
"$BACKUPFS_STATE.  Listings print one JSON object per line (use jq).\n"
"\n"
"Commands:\n"
"  init DIR [--product-version X.Y.Z] [--lts X.Y,...] [--demo] [--hsm URI]\n"
"        create a state directory (database, root-of-trust key, the root\n"
"        domain, default backup keys); --demo adds sample data; --hsm\n"
"        keeps the root-of-trust key on a PKCS#11 token (RFC 7512 URI:\n"
"        pkcs11:token=T;object=LABEL;module-name=M;pin-source=FILE)\n"
"  config show\n"
"        the appliance: product version, LTS releases, root of trust\n"
"  config set KEY VALUE\n"
"        change a setting, e.g. product-version 2.21.0 (an upgrade)\n"
"  domain create NAME [--hsm URI]\n"
"        --hsm: an HSM-anchored domain, its key material wrapped by the\n"
"        key URI names on that token (set only at creation)\n"
"  domain list\n"
"  resource add --domain D --type TYPE --name NAME [--attrs JSON]\n"
"        prints {\"id\":...}; keys get secret material (never printed)\n"
"  resource list [--domain D] [--type TYPE]\n"
"  resource delete --domain D --type TYPE --name NAME\n"
"  resource import FILE\n"
"        JSON lines {\"domain\",\"type\",\"name\",\"attrs\"} (FILE - is stdin);\n"
"        all or nothing; prints {\"imported\":n}\n"
"  backupkey list [--domain D]\n"
"        backup keys of the system scope, or of domain D\n"
"  inspect FILE [--password | --password-file F]\n"
"        header of a backup archive or metadata of a backup-key file, no\n"
"        key needed; --password checks a key file's passphrase (read\n"
"        from the terminal without echo, or the first line of stdin)\n"
"  verify FILE\n"
"        authenticate a whole archive with this appliance's backup keys;\n"
"        exit 0 only if it verifies\n"
"  access list\n"
"        the access policy of the mounted tree, one grant a line\n"
"  access grant --user NAME|UID | --group NAME|GID --role ROLE [--domain D]\n"
"  access revoke --user NAME|UID | --group NAME|GID --role ROLE [--domain D]\n"
"        roles: admin, backup-admin (system scope), domain-admin,\n"
"        domain-backup-admin (with --domain); see docs/OPERATIONS.md\n"
"  schedule list\n"
"        the schedules of backups, one config.json a line\n"
"  schedule add JSON|-\n"
"        create a schedule (the JSON of MOUNT/schedules/create)\n"
"  schedule delete NAME\n"
"  schedule run-now NAME\n"
"        queue a run; the mounted daemon starts it\n"
"  schedule runs NAME\n"
"        the schedule's runs, one JSON object a line\n"
"  hsm status\n"
"        the root of trust: kind, active key, token, key versions\n"
"  hsm rotate\n"
"        create a new root-of-trust key on the token, make it active and\n"
"        re-wrap every secret under it (the old key stays, inactive);\n"
"        backups tied to the old key restore again after activate\n"
"  hsm activate KEY-ID\n"
"        make a key of the token (same label) the active one again\n"
"  scp public-key | scp rotate\n"
"        the appliance's SSH key (an authorized_keys line); a new pair\n"
"  scp send BACKUP-ID JSON|-\n"
"        copy a system backup off the appliance, in the foreground:\n"
"        {\"connection\": NAME} or a connection's fields; exit 0 when\n"
"        Completed, 1 when Failed\n"
"  scp status BACKUP-ID\n"
"        the backup's transfers (kept 4 days), one a line\n"
"  connection list | show NAME | test NAME | delete NAME\n"
"  connection add JSON|-\n"
"        SCP/SFTP connections (fields in docs/OPERATIONS.md); give a\n"
"        password through stdin (-), not the command line\n"
"  wait MOUNTPOINT [--timeout SECONDS]\n"
"        follow the running operation of a mounted backupfs; exit 0 on\n"
"        Completed, 1 on Failed (the reason on stderr)\n"
"\n"
"Resource types: keys users groups cte_policies customer_fragments cas\n"
"certificates policies schedules connections audit\n"
"\n"
"Options:\n"
"  --state DIR     the state directory\n"
"  --hsm URI       the HSM's URI for this run, e.g. with the PIN\n"
"                  (pin-source=FILE); default $BACKUPFS_HSM, else the\n"
"                  URI stored at init\n"
"  -h, --help      print this help\n"
"  -V, --version   print the version\n"
"\n"
"Exit status: 0 success, 1 failure, 2 usage error.\n", out);
}

int main(int argc, char **argv)
{
	struct cli c = { .state = getenv("BACKUPFS_STATE"),
			 .hsm = getenv("BACKUPFS_HSM") };
	const char *arg;
	size_t k;
	int i, ret;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		arg = argv[i];
		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			cli_help(stdout);
			return CLI_OK;
		} else if (!strcmp(arg, "-V") || !strcmp(arg, "--version")) {
			printf("backupctl %s\n", BK_VERSION);
			return CLI_OK;
		} else if (!strcmp(arg, "--state")) {
			if (++i == argc)
				return cli_usage(NULL, "option '--state' "
						 "needs a value");
			c.state = argv[i];
		} else if (!strncmp(arg, "--state=", 8)) {
			c.state = arg + 8;
		} else if (!strcmp(arg, "--hsm")) {
			if (++i == argc)
				return cli_usage(NULL, "option '--hsm' "
						 "needs a value");
			c.hsm = argv[i];
		} else if (!strncmp(arg, "--hsm=", 6)) {
			c.hsm = arg + 6;
		} else if (!strcmp(arg, "--")) {
			i++;
			break;
		} else {
			return cli_usage(NULL, "unknown option '%s'", arg);
		}
	}
	if (i == argc)
		return cli_usage(NULL, "missing command");
	if (!strcmp(argv[i], "help")) {
		cli_help(stdout);
		return CLI_OK;
	}
	for (k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		if (strcmp(argv[i], commands[k].name))
			continue;
		c.cmd = commands[k].name;
		ret = commands[k].fn(&c, argc - i, argv + i);
		if (c.engine)
			bk_engine_close(c.engine);
		if (fflush(stdout) != 0 && ret == CLI_OK)
			ret = cli_fail("write error on standard output");
		return ret;
	}
	return cli_usage(NULL, "unknown command '%s'", argv[i]);
}
