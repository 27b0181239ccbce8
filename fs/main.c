/* main.c - backupfs [-f] [-d] [-o OPT[,OPT...]] STATE_DIR MOUNTPOINT
 *
 * The order of arguments is mount.fuse3's, so fstab lines of type
 * fuse.backupfs work.  Own options: passphrase_file=PATH, hsm=...; every
 * other option goes to FUSE.
 *
 * Daemonising is done here, not by fuse_daemonize(): the child opens the
 * engine (its SQLite connections, secure heap and job threads must not
 * cross a fork) and mounts, and only then tells the waiting parent, which
 * exits 0; any failure before that is printed on the terminal and the
 * parent exits 1, with nothing mounted.
 */
#include "bkfs.h"
#include "../core/hsm.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <syslog.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#ifndef BK_VERSION
#define BK_VERSION "0"
#endif

struct bkfs bkfs;

struct opts {
	char *passphrase_file;
	char *hsm;
	char *state;
	int have_mountpoint;
	int have_fsname;
	int have_subtype;
	int no_passthrough;
	int help;
	int version;
};

enum {
	KEY_HELP, KEY_VERSION, KEY_ENTRY_TIMEOUT, KEY_ATTR_TIMEOUT,
	KEY_NEGATIVE_TIMEOUT, KEY_MAX_READ, KEY_FSNAME, KEY_SUBTYPE
};

static const struct fuse_opt opt_spec[] = {
	{ "passphrase_file=%s", offsetof(struct opts, passphrase_file), 0 },
	{ "hsm=%s", offsetof(struct opts, hsm), 0 },
	{ "no_passthrough", offsetof(struct opts, no_passthrough), 1 },
	FUSE_OPT_KEY("entry_timeout=", KEY_ENTRY_TIMEOUT),
	FUSE_OPT_KEY("attr_timeout=", KEY_ATTR_TIMEOUT),
	FUSE_OPT_KEY("negative_timeout=", KEY_NEGATIVE_TIMEOUT),
	FUSE_OPT_KEY("max_read=", KEY_MAX_READ),
	FUSE_OPT_KEY("fsname=", KEY_FSNAME),
	FUSE_OPT_KEY("subtype=", KEY_SUBTYPE),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_END
};

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct opts *o = data;

	(void)outargs;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (!o->state) {
			o->state = strdup(arg);
			return o->state ? 0 : -1;
		}
		if (!o->have_mountpoint) {
			o->have_mountpoint = 1;
			return 1;	/* for fuse_parse_cmdline() */
		}
		fprintf(stderr, "backupfs: unexpected argument '%s'\n", arg);
		return -1;
	case KEY_ENTRY_TIMEOUT:
		bkfs.user_entry_timeout = 1;
		return 1;
	case KEY_ATTR_TIMEOUT:
		bkfs.user_attr_timeout = 1;
		return 1;
	case KEY_NEGATIVE_TIMEOUT:
		bkfs.user_negative_timeout = 1;
		return 1;
	case KEY_MAX_READ:
		bkfs.max_read = (unsigned)strtoul(strchr(arg, '=') + 1, NULL,
						  0);
		return 1;
	case KEY_FSNAME:
		o->have_fsname = 1;
		return 1;
	case KEY_SUBTYPE:
		o->have_subtype = 1;
		return 1;
	case KEY_HELP:
		o->help = 1;
		return 0;
	case KEY_VERSION:
		o->version = 1;
		return 0;
	default:
		return 1;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: backupfs [-f] [-d] [-o OPT[,OPT...]] STATE_DIR MOUNTPOINT\n"
"\n"
"Mounts the backups of the appliance whose state is STATE_DIR.\n"
"\n"
"backupfs options:\n"
"    -o passphrase_file=PATH  passphrase for key export/import when none\n"
"                             was written to MOUNT/passphrase\n"
"    -o hsm=URI               the PKCS#11 URI of the state directory's HSM\n"
"                             for this mount (e.g. with pin-source=FILE)\n"
"    -o no_passthrough        archives are read through the daemon, not\n"
"                             handed to the kernel (FUSE passthrough)\n"
"    -h, --help               this help\n"
"    -V, --version            versions\n"
"\n"
"Tests mount with -o entry_timeout=0,attr_timeout=0; the default of 1 s\n"
"bounds how long a listing may lag a change.\n"
"\n");
}

/* Background: fork now; the parent waits for the child's word. */
static int daemonise(int *notify_fd)
{
	int p[2];
	char ok = 1;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC)) {
		perror("backupfs: pipe");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		perror("backupfs: fork");
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &ok, 1) != 1)
			ok = 1;		/* the child died before mounting */
		_exit(ok ? 1 : 0);
	}
	close(p[0]);
	if (setsid() < 0)
		perror("backupfs: setsid");
	*notify_fd = p[1];
	return 0;
}

static void detach_stdio(int notify_fd)
{
	char ok = 0;
	int fd = open("/dev/null", O_RDWR);

	bkfs_log_init(0);	/* from now on: syslog */
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (write(notify_fd, &ok, 1) != 1)
		bkfs_log(LOG_WARNING, "could not notify the parent process");
	close(notify_fd);
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct bkfs_cmdline cl = { 0 };
	struct bk_err err = { 0, "" };
	struct opts o = { 0 };
	struct fuse *f = NULL;
	char *state = NULL, *passfile = NULL;
	int notify_fd = -1, ret = 1, mounted = 0, r;

	/* glibc raises its mmap and trim thresholds as large blocks are
	 * freed (up to 32 and 64 MiB): once a restore had freed its id set,
	 * memory freed later stayed at the top of a thread's arena, which
	 * malloc_trim does not shrink (8 MiB resident for good after a
	 * system restore, and the next restore peaked that much higher).
	 * Fixed thresholds keep the dynamic ones off; 256 KiB blocks
	 * mapped and unmapped each time made restores slower. */
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 2 * 1024 * 1024);
	if (fuse_opt_parse(&args, &o, opt_spec, opt_proc)) {
		usage(stderr);
		goto out;
	}
	if (o.help) {
		usage(stdout);
		fuse_cmdline_help();
		fuse_lib_help(&args);
		ret = 0;
		goto out;
	}
	if (o.version) {
		printf("backupfs %s\nFUSE library version %s\n", BK_VERSION,
		       fuse_pkgversion());
		fflush(stdout);
		fuse_lowlevel_version();
		ret = 0;
		goto out;
	}
	if (!o.state || !o.have_mountpoint) {
		usage(stderr);
		goto out;
	}
	state = realpath(o.state, NULL);
	if (!state) {
		fprintf(stderr, "backupfs: state directory %s: %s\n", o.state,
			strerror(errno));
		goto out;
	}
	if (o.passphrase_file) {
		passfile = realpath(o.passphrase_file, NULL);
		if (!passfile) {
			fprintf(stderr, "backupfs: passphrase file %s: %s\n",
				o.passphrase_file, strerror(errno));
			goto out;
		}
	}
	if (!o.have_fsname) {	/* df and mount show the state dir */
		char *opt = NULL, *esc = NULL;
		int bad;

		bad = asprintf(&opt, "fsname=%s", state) < 0;
		if (bad)
			opt = NULL;
		bad = bad || fuse_opt_add_opt_escaped(&esc, opt) ||
		      fuse_opt_add_arg(&args, "-o") ||
		      fuse_opt_add_arg(&args, esc);
		free(opt);
		free(esc);
		if (bad)
			goto out;
	}
	if (!o.have_subtype &&		/* type fuse.backupfs, as in fstab */
	    (fuse_opt_add_arg(&args, "-o") ||
	     fuse_opt_add_arg(&args, "subtype=backupfs")))
		goto out;
	if (bkfs_parse_cmdline(&args, &cl) || !cl.mountpoint) {
		fprintf(stderr, "backupfs: no mount point\n");
		goto out;
	}
	prctl(PR_SET_DUMPABLE, 0);
	if (!cl.foreground && daemonise(&notify_fd))
		goto out;
	if (chdir("/"))
		perror("backupfs: chdir /");
	bkfs_log_init(1);
	bkfs.foreground = cl.foreground;
	bkfs.state_dir = state;
	bkfs.start_time = time(NULL);
	bkfs.uid = getuid();
	bkfs.gid = getgid();

	r = bk_engine_open_hsm(state, BK_ENGINE_DAEMON, o.hsm, &bkfs.engine,
			       &err);
	if (r) {
		fprintf(stderr, "backupfs: cannot open state directory %s: %s\n",
			state, err.msg[0] ? err.msg : strerror(-r));
		goto out;
	}
	if (passfile) {
		r = bk_pass_file(bkfs.engine, passfile, &err);
		if (r) {
			fprintf(stderr, "backupfs: passphrase file %s: %s\n",
				passfile, err.msg[0] ? err.msg : strerror(-r));
			goto out;
		}
	}
	f = fuse_new(&args, &bkfs_ops, sizeof(bkfs_ops), NULL);
	if (!f)
		goto out;	/* libfuse said why */
	if (fuse_mount(f, cl.mountpoint))
		goto out;
	mounted = 1;
	if (bkfs_pt_setup(fuse_get_session(f), !o.no_passthrough))
		goto out;	/* libfuse said why */
	if (fuse_set_signal_handlers(fuse_get_session(f)))
		goto out;
	if (!cl.foreground)
		detach_stdio(notify_fd);
	bkfs_log(LOG_INFO, "serving %s on %s", state, cl.mountpoint);
	bkfs_sched_start();
	r = bkfs_loop(f, &cl);	/* > 0: the signal that ended it */
	ret = r < 0 ? 1 : 0;
	fuse_remove_signal_handlers(fuse_get_session(f));
	bkfs_log(LOG_INFO, "unmounting %s", cl.mountpoint);
out:
	if (f) {
		if (mounted)
			fuse_unmount(f);
		fuse_destroy(f);
	}
	bkfs_sched_stop();
	if (bkfs.engine)
		bk_engine_close(bkfs.engine);
	free(cl.mountpoint);
	free(state);
	free(passfile);
	free(o.state);
	free(o.passphrase_file);
	free(o.hsm);
	fuse_opt_free_args(&args);
	return ret;
}
