/* util.c - backupctl's shared helpers: messages, option parsing, engine
 * opening, JSON output. */
#include "cli.h"

#include "core/hsm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLI_MAX_OPTS 16

static void vwarn(const char *prefix, const char *fmt, va_list ap)
{
	fputs("backupctl: ", stderr);
	if (prefix)
		fprintf(stderr, "%s: ", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(NULL, fmt, ap);
	va_end(ap);
}

int cli_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(NULL, fmt, ap);
	va_end(ap);
	return CLI_FAIL;
}

int cli_usage(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(c ? c->cmd : NULL, fmt, ap);
	va_end(ap);
	if (c && c->synopsis)
		fprintf(stderr, "Usage: backupctl %s\n", c->synopsis);
	else
		fputs("Try 'backupctl --help' for more information.\n",
		      stderr);
	return CLI_USAGE;
}

/* The command whose engine cli_open opened: its refusals go into the
 * audit trail, as those through the mount do. */
static struct cli *opened;

/* "backupctl" and the command's words (its synopsis up to the first
 * operand or option), e.g. "backupctl schedule delete". */
static void command_words(char *buf, size_t size)
{
	const char *p = opened->synopsis ? opened->synopsis : opened->cmd;
	size_t n = snprintf(buf, size, "backupctl");

	while (p && *p && n + 1 < size) {
		size_t w = strcspn(p, " ");

		if (strspn(p, "abcdefghijklmnopqrstuvwxyz-") < w || !w)
			break;
		n += snprintf(buf + n, size - n, " %.*s", (int)w, p);
		p += w + (p[w] == ' ');
	}
}

int cli_engine_fail(int ret, const struct bk_err *err, const char *what)
{
	const char *why = (err && err->msg[0]) ? err->msg : strerror(-ret);
	char cmd[128];

	if (opened && opened->engine && ret < 0) {
		command_words(cmd, sizeof(cmd));
		bk_note_refusal(opened->engine, getuid(), cmd, ret, why);
	}

	/* The engine's words often name the file or setting already. */
	if (what && !strstr(why, what))
		cli_warn("%s: %s", what, why);
	else
		cli_warn("%s", why);
	return CLI_FAIL;
}

int cli_open(struct cli *c)
{
	struct bk_err err = { 0 };
	int ret;

	if (!c->state || !*c->state)
		return cli_usage(c, "no state directory: use --state DIR or "
				 "set BACKUPFS_STATE");
	ret = bk_engine_open_hsm(c->state, 0, c->hsm, &c->engine, &err);
	if (ret < 0) {
		c->engine = NULL;
		return cli_engine_fail(ret, &err, c->state);
	}
	opened = c;
	return CLI_OK;
}

void cli_print_json(json_object *obj)
{
	puts(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
}

void cli_print_object(json_object *obj)
{
	puts(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
					    JSON_C_TO_STRING_SPACED |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
}

void cli_print_json_text(const char *text, int pretty)
{
	json_object *obj = json_tokener_parse(text);
	size_t n;

	if (obj) {
		if (pretty)
			cli_print_object(obj);
		else
			cli_print_json(obj);
		json_object_put(obj);
		return;
	}
	n = strlen(text);
	fputs(text, stdout);
	if (!n || text[n - 1] != '\n')
		putchar('\n');
}

int cli_parse(struct cli *c, int argc, char **argv,
	      const struct cli_opt *opts, char **pos, int minpos, int maxpos,
	      int *npos)
{
	struct option lo[CLI_MAX_OPTS + 3];
	int n = 0, i, ch;

	for (i = 0; opts && opts[i].name && i < CLI_MAX_OPTS; i++)
		lo[n++] = (struct option){ opts[i].name, opts[i].has_arg,
					   NULL, 256 + i };
	lo[n++] = (struct option){ "state", required_argument, NULL, 's' };
	lo[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[n] = (struct option){ 0 };

	optind = 0;		/* glibc: full re-initialisation */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		const struct cli_opt *o;

		switch (ch) {
		case 'h':
			cli_help(stdout);
			exit(CLI_OK);
		case 's':
			c->state = optarg;
			continue;
		case ':':
			return cli_usage(c, "option '%s' needs a value",
					 argv[optind - 1]);
		case '?':
			if (optopt > 0 && optopt < 256)
				return cli_usage(c, "unknown option '-%c'",
						 optopt);
			return cli_usage(c, "unknown option '%s'",
					 argv[optind - 1]);
		default:
			o = &opts[ch - 256];
			if (o->value)
				*o->value = optarg;
			if (o->flag)
				*o->flag = 1;
		}
	}
	*npos = argc - optind;
	if (*npos < minpos)
		return cli_usage(c, "missing operand");
	if (*npos > maxpos)
		return cli_usage(c, "unexpected operand '%s'",
				 argv[optind + maxpos]);
	for (i = 0; i < *npos; i++)
		pos[i] = argv[optind + i];
	return CLI_OK;
}

const char *cli_subcommand(struct cli *c, int argc, char **argv)
{
	static char name[64];

	if (argc >= 2 && (!strcmp(argv[1], "--help") ||
			  !strcmp(argv[1], "-h"))) {
		cli_help(stdout);
		exit(CLI_OK);
	}
	if (argc < 2 || argv[1][0] == '-') {
		cli_usage(c, "missing subcommand");
		return NULL;
	}
	snprintf(name, sizeof(name), "%s %s", argv[0], argv[1]);
	c->cmd = name;
	return argv[1];
}
