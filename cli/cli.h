/* cli.h - backupctl: a thin translation of argv into core/engine.h calls.
 *
 * Every command is a function `int cmd_x(struct cli *c, int argc,
 * char **argv)` with argv[0] the command word; it returns the process's
 * exit status: CLI_OK, CLI_FAIL (the reason already on stderr as
 * "backupctl: <reason>") or CLI_USAGE.
 */
#ifndef BK_CLI_H
#define BK_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

#include <json-c/json.h>

#include "core/engine.h"

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

struct cli {
	const char *state;		/* --state or $BACKUPFS_STATE; borrowed */
	const char *hsm;		/* --hsm or $BACKUPFS_HSM; borrowed */
	const char *cmd;		/* "resource add", for messages */
	const char *synopsis;		/* its usage line, for usage errors */
	struct bk_engine *engine;	/* opened by cli_open, closed by main */
};

/* "backupctl: <fmt>\n" on stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* cli_warn, then CLI_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "backupctl: <cmd>: <fmt>", the command's synopsis (or a hint to
 * --help), then CLI_USAGE. */
int cli_usage(struct cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Reports an engine failure (err's words, else strerror(-ret)), prefixed
 * by what (may be NULL) unless the words already name it; returns
 * CLI_FAIL. */
int cli_engine_fail(int ret, const struct bk_err *err, const char *what);

/* Opens the engine on c->state (not as the daemon).  CLI_OK or an exit
 * status, the reason printed. */
int cli_open(struct cli *c);

/* Output: listings print one compact JSON object per line (for jq);
 * commands that print one object (config show, inspect, verify) print it
 * indented, as the mounted tree's JSON files are. */
/* Prints obj as one compact JSON line on stdout. */
void cli_print_json(json_object *obj);
/* Prints obj indented, two spaces a level. */
void cli_print_object(json_object *obj);
/* Parses text (JSON from the engine) and prints it compact, or indented if
 * pretty; prints it unchanged if it does not parse. */
void cli_print_json_text(const char *text, int pretty);

/* One command's options.  value (string options) or flag (flags). */
struct cli_opt {
	const char *name;
	int has_arg;			/* no_argument | required_argument */
	const char **value;
	int *flag;
};

/* Parses argv[1..] with getopt_long (options and operands in any order;
 * --state and --help are always accepted); opts ends with a {NULL} row.
 * Operands go to pos (at most maxpos), their number to *npos; fewer than
 * minpos or more than maxpos is a usage error.  Returns CLI_OK or
 * CLI_USAGE (reason printed); --help prints the help and exits 0. */
int cli_parse(struct cli *c, int argc, char **argv,
	      const struct cli_opt *opts, char **pos, int minpos, int maxpos,
	      int *npos);

/* For commands with subcommands: returns argv[1] and sets c->cmd to
 * "<argv[0]> <argv[1]>" (static); NULL after a usage error. */
const char *cli_subcommand(struct cli *c, int argc, char **argv);

void cli_help(FILE *out);

/* Reads a passphrase: from file (its first line) when file is not NULL,
 * else from the terminal without echo, else the first line of stdin.
 * *pass is a new buffer (caller wipes with cli_pass_free). */
int cli_read_pass(const char *file, char **pass, size_t *len);
void cli_pass_free(char *pass, size_t len);

int cmd_init(struct cli *c, int argc, char **argv);
int cmd_config(struct cli *c, int argc, char **argv);
int cmd_domain(struct cli *c, int argc, char **argv);
int cmd_resource(struct cli *c, int argc, char **argv);
int cmd_backupkey(struct cli *c, int argc, char **argv);
int cmd_inspect(struct cli *c, int argc, char **argv);
int cmd_verify(struct cli *c, int argc, char **argv);
int cmd_wait(struct cli *c, int argc, char **argv);
int cmd_hsm(struct cli *c, int argc, char **argv);

#endif
