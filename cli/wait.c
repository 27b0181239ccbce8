/* wait.c - backupctl wait MOUNTPOINT: follows MOUNTPOINT/status by polling
 * it every 200 ms.  On a terminal it draws a one-line progress bar; else it
 * prints a plain line whenever the progress changes. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 200
#define STATUS_MAX (1024 * 1024)
#define BAR_WIDTH 20
#define PARSE_RETRIES 10	/* consecutive unparsable reads (2 s) */

/* Reads the whole file (a FUSE file with direct_io: read until 0). *text
 * is new (caller frees).  0 or a negative errno. */
static int read_all(const char *path, char **text)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nbuf;
	ssize_t r;
	int fd, ret = 0;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	for (;;) {
		if (cap - len < 2) {
			if (cap >= STATUS_MAX) {
				ret = -EFBIG;
				break;
			}
			cap *= 2;
			if (!(nbuf = realloc(buf, cap))) {
				ret = -ENOMEM;
				break;
			}
			buf = nbuf;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			break;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (ret < 0) {
		free(buf);
		return ret;
	}
	buf[len] = '\0';
	*text = buf;
	return 0;
}

static const char *str_field(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int progress_of(json_object *o)
{
	json_object *v;
	int p;

	if (!json_object_object_get_ex(o, "progress", &v))
		return 0;
	p = json_object_get_int(v);
	return p < 0 ? 0 : p > 100 ? 100 : p;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long int_field(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return -1;
	return json_object_get_int64(v);
}

/* "12.3 MiB" */
static void human(double bytes, char *out, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(out, len, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
}

/* Bytes, rate and ETA of the running operation: "120.0 MiB  40.0 MiB/s
 * ETA 0:03", or "" before anything is known. */
struct rate {
	double t0;
	long long b0;		/* -1: not started */
};

static void rate_text(struct rate *r, json_object *o, int progress,
		      char *out, size_t len)
{
	long long done = int_field(o, "bytesDone");
	long long total = int_field(o, "bytesTotal");
	double now = now_s(), dt, bps = 0, eta = -1;
	char b[32], rb[32];

	*out = '\0';
	if (done < 0)
		return;
	if (r->b0 < 0) {
		r->b0 = done;
		r->t0 = now;
	}
	dt = now - r->t0;
	if (dt > 0.5)
		bps = (done - r->b0) / dt;
	if (total > 0 && bps > 0)
		eta = (total - done) / bps;
	else if (progress > 0 && dt > 0.5)
		eta = dt * (100 - progress) / progress;
	human((double)done, b, sizeof(b));
	human(bps, rb, sizeof(rb));
	if (eta >= 0 && progress < 100)
		snprintf(out, len, "  %s  %s/s  ETA %d:%02d", b, rb,
			 (int)eta / 60, (int)eta % 60);
	else if (bps > 0)
		snprintf(out, len, "  %s  %s/s", b, rb);
	else
		snprintf(out, len, "  %s", b);
}

/* "\r[#####     ] 45%  backup 3f2a8b1c... In Progress  120.0 MiB
 * 40.0 MiB/s  ETA 0:03", cut to the terminal's width. */
static void draw_bar(int progress, const char *op, const char *id,
		     const char *status, const char *rate)
{
	char line[512], bar[BAR_WIDTH + 1];
	struct winsize ws;
	int i, fill = progress * BAR_WIDTH / 100, n;

	for (i = 0; i < BAR_WIDTH; i++)
		bar[i] = i < fill ? '#' : ' ';
	bar[BAR_WIDTH] = '\0';
	n = snprintf(line, sizeof(line), "[%s] %3d%%  %s%s%.8s%s %s%s", bar,
		     progress, op, *id ? " " : "", id,
		     strlen(id) > 8 ? "..." : "", status, rate);
	if (n >= (int)sizeof(line))
		n = sizeof(line) - 1;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
	    n > ws.ws_col - 1)
		line[ws.ws_col - 1] = '\0';
	printf("\r%s\033[K", line);
	fflush(stdout);
}

int cmd_wait(struct cli *c, int argc, char **argv)
{
	const char *timeout_arg = NULL;
	const struct cli_opt opts[] = {
		{ "timeout", required_argument, &timeout_arg, NULL },
		{ NULL, 0, NULL, NULL },
	};
	const char *status, *op, *id, *msg;
	char *pos[1], *path = NULL, *text = NULL, *end;
	int npos, ret, progress, last = -1, bad = 0, drawn = 0;
	int tty = isatty(STDOUT_FILENO);
	double timeout = 0, start = now_s();
	char last_status[32] = "";
	json_object *o = NULL;
	struct timespec ts = { 0, POLL_MS * 1000000L };
	struct rate rate = { 0, -1 };
	char rtext[128];

	c->synopsis = "wait MOUNTPOINT [--timeout SECONDS]";
	ret = cli_parse(c, argc, argv, opts, pos, 1, 1, &npos);
	if (ret)
		return ret;
	if (timeout_arg) {
		timeout = strtod(timeout_arg, &end);
		if (*end || end == timeout_arg || !(timeout > 0))
			return cli_usage(c, "--timeout needs a number of "
					 "seconds > 0");
	}
	if (asprintf(&path, "%s/status", pos[0]) < 0)
		return cli_fail("out of memory");
	for (;;) {
		json_object_put(o);
		o = NULL;
		free(text);
		text = NULL;
		ret = read_all(path, &text);
		if (ret == -ENOENT || ret == -ENOTDIR) {
			ret = cli_fail("%s: no status file: is backupfs "
				       "mounted there?", pos[0]);
			break;
		}
		if (ret < 0) {
			ret = cli_fail("%s: %s", path, strerror(-ret));
			break;
		}
		o = json_tokener_parse(text);
		status = o ? str_field(o, "status") : NULL;
		if (!status) {
			if (++bad < PARSE_RETRIES)
				goto sleep;
			ret = cli_fail("%s: not a backupfs status", path);
			break;
		}
		bad = 0;
		if (!strcmp(status, "Idle")) {
			printf("no operation has run: nothing to wait for\n");
			ret = CLI_OK;
			break;
		}
		op = str_field(o, "operation");
		op = op ? op : "operation";
		id = str_field(o, "backupId");
		id = id ? id : str_field(o, "id");
		id = id ? id : "";
		progress = progress_of(o);
		if (!strcmp(status, "Completed"))
			progress = 100;
		rate_text(&rate, o, progress, rtext, sizeof(rtext));
		if (tty) {
			draw_bar(progress, op, id, status, rtext);
			drawn = 1;
		}
		if (progress != last || strcmp(status, last_status)) {
			if (!tty) {
				printf("%3d%%  %s%s%s %s%s\n", progress, op,
				       *id ? " " : "", id, status, rtext);
				fflush(stdout);
			}
			last = progress;
			snprintf(last_status, sizeof(last_status), "%s",
				 status);
		}
		if (!strcmp(status, "Completed")) {
			ret = CLI_OK;
			break;
		}
		if (!strcmp(status, "Failed")) {
			if (drawn)
				putchar('\n');
			drawn = 0;
			msg = str_field(o, "message");
			ret = cli_fail("%s%s%s failed: %s", op, *id ? " " : "",
				       id, msg ? msg : "no reason given");
			break;
		}
		if (strcmp(status, "In Progress")) {
			ret = cli_fail("%s: unknown status '%s'", path,
				       status);
			break;
		}
sleep:
		if (timeout > 0 && now_s() - start >= timeout) {
			if (drawn)
				putchar('\n');
			drawn = 0;
			ret = cli_fail("timed out after %g s: still %s",
				       timeout, status ? status :
				       "unreadable");
			break;
		}
		nanosleep(&ts, NULL);
	}
	if (drawn)
		putchar('\n');
	json_object_put(o);
	free(text);
	free(path);
	return ret;
}
