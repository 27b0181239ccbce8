/* pass.c - reading a passphrase: a file's first line, the terminal with
 * echo off, or the first line of stdin.  The buffer is wiped when freed. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define PASS_MAX 1024

static struct termios saved_tio;
static volatile sig_atomic_t tio_saved;

/* Restores the terminal's echo if a signal ends us while it is off. */
static void restore_and_die(int sig)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads one line (without its "\n" or "\r\n") from fd into buf[PASS_MAX].
 * Returns its length or a negative errno. */
static ssize_t read_line(int fd, char *buf)
{
	size_t n = 0;
	ssize_t r;
	char ch;

	for (;;) {
		r = read(fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0 || ch == '\n')
			break;
		if (n == PASS_MAX - 1)
			return -E2BIG;
		buf[n++] = ch;
	}
	if (n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return (ssize_t)n;
}

static ssize_t read_tty(char *buf)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
	struct sigaction sa = { .sa_handler = restore_and_die }, old[5];
	struct termios tio;
	ssize_t n;
	size_t i;

	if (tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return -errno;
	for (i = 0; i < 5; i++)
		sigaction(sigs[i], &sa, &old[i]);
	tio = saved_tio;
	tio.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	tio.c_lflag |= ICANON;
	tio_saved = 1;
	fputs("Passphrase: ", stderr);
	fflush(stderr);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio) < 0) {
		n = -errno;
		goto out;
	}
	n = read_line(STDIN_FILENO, buf);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	fputc('\n', stderr);
out:
	tio_saved = 0;
	for (i = 0; i < 5; i++)
		sigaction(sigs[i], &old[i], NULL);
	return n;
}

int cli_read_pass(const char *file, char **pass, size_t *len)
{
	char *buf = malloc(PASS_MAX);
	const char *from = file ? file : "standard input";
	ssize_t n;
	int fd;

	*pass = NULL;
	*len = 0;
	if (!buf)
		return cli_fail("out of memory");
	if (file) {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			free(buf);
			return cli_fail("%s: %s", file, strerror(errno));
		}
		n = read_line(fd, buf);
		close(fd);
	} else if (isatty(STDIN_FILENO)) {
		from = "the terminal";
		n = read_tty(buf);
	} else {
		n = read_line(STDIN_FILENO, buf);
	}
	if (n <= 0) {
		cli_pass_free(buf, PASS_MAX);
		if (n == -E2BIG)
			return cli_fail("passphrase from %s is longer than %d "
					"bytes", from, PASS_MAX - 1);
		if (n < 0)
			return cli_fail("reading the passphrase from %s: %s",
					from, strerror((int)-n));
		return cli_fail("empty passphrase from %s", from);
	}
	*pass = buf;
	*len = (size_t)n;
	return CLI_OK;
}

void cli_pass_free(char *pass, size_t len)
{
	(void)len;
	if (!pass)
		return;
	explicit_bzero(pass, PASS_MAX);
	free(pass);
}
