/* bkfs.h - internals of the backupfs FUSE daemon (fs/).
 *
 * fs/ is a thin translation of paths and file operations into calls of
 * core/engine.h.  The layout of the mounted tree is data: table.c holds one
 * row per kind of node (how it is named, listed, stat'ed, opened, written,
 * removed); ops.c holds the FUSE callbacks, which parse the path into a
 * node and then do what its row says.  No crypto, no SQL here.
 *
 *   main.c     command line, daemonising, engine open, mount, loop
 *   loop.c     the multithreaded loop (libfuse 3.12 loop config API)
 *   log.c      stderr (foreground) or syslog (background)
 *   names.c    reversible encoding of names that cannot be file names
 *   table.c    the node table, the path parser, listing and stat
 *   content.c  generated file contents (README, JSON, status lines)
 *   ctl.c      control files (create, restore, default) and passphrase
 *   upload.c   upload boxes: staged entries, processing, receipts, names
 *   upload_io.c  their attributes, data, flush and release
 *   access.c   the caller's roles: what it may see and do
 *   sched.c    schedules/ and audit (issue 5), the schedule runner
 *   hsm.c      hsm/: the root of trust's status, rotation, activation
 *   ops.c      the FUSE operations
 *   passthrough.c  archive reads served by the kernel (FUSE passthrough)
 */
#ifndef BKFS_H
#define BKFS_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 35
#endif

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <fuse.h>

#include "core/engine.h"

/* st_blksize of archives and staged uploads: cp and cat read and write
 * that much at a time, one FUSE request each (libfuse's buffer is
 * 1 MiB), rather than 128 KiB: an upload's FUSE part 0.9-2.9 s -> 0.6 s,
 * a warm read of an archive about 20 % faster (docs/PERFORMANCE.md). */
#define BKFS_IO_BLKSIZE (1 << 20)

/* ---- the daemon's global state (one mount per process) ---- */
struct bkfs {
	struct bk_engine *engine;
	const char *state_dir;		/* absolute */
	time_t start_time;		/* mtime of most generated nodes */
	uid_t uid;			/* owner of every node */
	gid_t gid;
	int foreground;
	/* options given on the command line (they win over init()'s
	 * defaults) */
	int user_entry_timeout;
	int user_attr_timeout;
	int user_negative_timeout;
	unsigned max_read;		/* 0: not given */
};

extern struct bkfs bkfs;

/* ---- log.c ---- */
void bkfs_log_init(int foreground);
void bkfs_log(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* One line per refusal: logs it and records it with bk_note_refusal()
 * (lastError in status, audit record).  errnum positive. */
void bkfs_refuse(uid_t uid, const char *path, int errnum, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));


/* ---- names.c ---- */
/* Encodes name as a file name: '/', '%', a leading '.', and control
 * characters become %XX.  Returns the length, or -ENAMETOOLONG if it does
 * not fit in out (size outsz, with the NUL). */
int bkfs_name_encode(const char *name, char *out, size_t outsz);
/* Decodes a canonical encoding (the one bkfs_name_encode gives, nothing
 * else) of len bytes of comp.  -ENOENT if comp is not canonical. */
int bkfs_name_decode(const char *comp, size_t len, char *out, size_t outsz);

/* ---- table.c: the node kinds ---- */
enum bkfs_kind {
	K_ROOT, K_README, K_STATUS, K_WAIT, K_APPLIANCE, K_PASSPHRASE,
	K_SCOPE,		/* system/ or domains/<d>/ */
	K_DOMAINS,
	K_BACKUPS, K_BACKUPS_CREATE, K_UPLOAD, K_RESTORE, K_LATEST,
	K_BACKUP, K_BACKUP_JSON, K_BACKUP_STATUS, K_ARCHIVE, K_BACKUP_RESTORE,
	K_BACKUP_REPORT,
	K_KEYS, K_KEYS_CREATE, K_KEY_UPLOAD, K_KEY_DEFAULT_LINK,
	K_KEY, K_KEY_JSON, K_KEY_EXPORT, K_KEY_DEFAULT,
	K_RESOURCES, K_RESTYPE, K_RESOURCE,
	K_STAGED,		/* an entry of an upload box */

	/* issue 4 (HSM) kinds: */
	K_HSM, K_HSM_STATUS, K_HSM_ROTATE, K_HSM_ACTIVATE,

	/* issue 5 (schedules, audit) kinds: */
	K_SCHEDULES, K_SCHEDULES_CREATE, K_SCHEDULE, K_SCHEDULE_CONFIG,
	K_SCHEDULE_RUN_NOW, K_SCHEDULE_RUNS, K_AUDIT,

	/* issue 5 (SCP/SFTP, connections) kinds: */
	K_SCP_DIR, K_SCP_PUBKEY, K_SCP_ROTATE,
	K_CONNS, K_CONNS_SCP, K_CONN_CREATE, K_CONN, K_CONN_JSON, K_CONN_TEST,
	K_BACKUP_SCP, K_SCP_STATUS_DIR, K_SCP_STATUS,

	K_NONE
};

/* How a node is opened, read and written. */
enum bkfs_io {
	IO_DIR,			/* a directory */
	IO_LINK,		/* a symlink: content() is the target */
	IO_CONTENT,		/* read-only, content() built at open */
	IO_WAIT,		/* IO_CONTENT after bk_status_wait() */
	IO_ARCHIVE,		/* read-only, the archive file itself */
	IO_EXPORT,		/* read-only, bk_key_export() at open */
	IO_CTL_JSON,		/* control: a JSON object makes act() run */
	IO_CTL_ANY,		/* control: any byte makes act() run */
	IO_PASS,		/* passphrase: write-only, set at flush */
	IO_STAGED,		/* upload box entry (upload.c) */
	IO_STREAM,		/* read-only, stream_read() at each read */
};

/* How the size is known. */
enum bkfs_size { SZ_ZERO, SZ_CONTENT, SZ_ARCHIVE, SZ_EXPORT, SZ_STAGED,
		 SZ_STREAM };
/* Where the mtime comes from. */
enum bkfs_mtime { MT_START, MT_NOW, MT_BACKUP, MT_KEY, MT_STAGED, MT_REPORT };

struct bkfs_node;
struct bkfs_lister;

struct bkfs_row {
	enum bkfs_kind kind;
	enum bkfs_kind parent;
	const char *name;	/* literal name; NULL: bind() names it */
	unsigned flags;		/* BKFS_R_* */
	mode_t mode;
	enum bkfs_io io;
	enum bkfs_size size;
	enum bkfs_mtime mtime;
	/* Variable rows: checks comp names a child of n's parent (already
	 * in n) and binds it into n.  0 or -ENOENT. */
	int (*bind)(struct bkfs_node *n, const char *comp);
	/* Variable rows: adds every child of dir of this row. */
	int (*list)(const struct bkfs_node *dir, const struct bkfs_row *row,
		    struct bkfs_lister *l);
	/* Literal rows that may be absent (latest, default): 0 if present. */
	int (*exists)(const struct bkfs_node *n);
	/* Generated content (read, usage text of control files, symlink
	 * target): *buf new, caller frees. */
	int (*content)(const struct bkfs_node *n, char **buf, size_t *len);
	/* Control files: does what a complete request asks. */
	int (*act)(const struct bkfs_node *n, uid_t uid, const char *req,
		   struct bk_err *err);
	/* rmdir: deletes what the directory stands for. */
	int (*remove)(const struct bkfs_node *n, uid_t uid,
		      struct bk_err *err);
	/* IO_STREAM: the size, and a part of the content (a file too large
	 * to build whole at open; its size is taken at open). */
	int (*stream_size)(size_t *size);
	/* The bytes read (at most size), or a negative errno. */
	int (*stream_read)(char *buf, size_t size, off_t off);
};

#define BKFS_R_DOMAIN_ONLY	1u	/* only under domains/<d>/ */

/* A parsed path. */
struct bkfs_node {
	const struct bkfs_row *row;
	char path[PATH_MAX];		/* the logical (FUSE) path */
	int has_domain;
	char domain[NAME_MAX + 1];	/* decoded; valid if has_domain */
	char id[64];			/* backup or key id (< 64 bytes) */
	char type[NAME_MAX + 1];	/* resource type */
	char name[NAME_MAX + 1];	/* resource name (decoded), entry name */
	struct bk_backup_info backup;	/* bound backup (K_BACKUP and below) */
	long long key_epoch;		/* bound key (K_KEY and below) */
};

static inline const char *bkfs_dom(const struct bkfs_node *n)
{
	return n->has_domain ? n->domain : NULL;
}

/* Parses path into n.  0, -ENOENT, -ENAMETOOLONG. */
int bkfs_parse(const char *path, struct bkfs_node *n);
/* Parses the parent of path into dir and points *base at the last
 * component of path.  For create/rename. */
int bkfs_parse_parent(const char *path, struct bkfs_node *dir,
		      const char **base);
/* Fills st for n (mode, size, times, ino, owner). */
int bkfs_stat(const struct bkfs_node *n, struct stat *st);
/* Fills the common fields of st (mode, nlink, owner, ino, times). */
void bkfs_stat_base(const struct bkfs_node *n, struct stat *st, time_t mtime);
/* Lists dir through filler. */
int bkfs_list(const struct bkfs_node *dir, void *buf, fuse_fill_dir_t filler,
	      int plus);
/* Adds one child: child->path is set from the lister. */
int bkfs_list_add(struct bkfs_lister *l, struct bkfs_node *child,
		  const char *comp);
/* A child node of dir with row r (path not yet set). */
void bkfs_child(const struct bkfs_node *dir, const struct bkfs_row *r,
		struct bkfs_node *child);

/* The resource types (static list, NULL-terminated). */
#define bkfs_resource_types (bk_engine_resource_types())

/* ---- content.c ---- */
int bkfs_content_readme(const struct bkfs_node *n, char **buf, size_t *len);
int bkfs_content_status(const struct bkfs_node *n, char **buf, size_t *len);
int bkfs_content_appliance(const struct bkfs_node *n, char **buf,
			   size_t *len);
int bkfs_content_backup_report(const struct bkfs_node *n, char **buf,
				size_t *len);
int bkfs_content_backup_json(const struct bkfs_node *n, char **buf,
			     size_t *len);
int bkfs_content_backup_status(const struct bkfs_node *n, char **buf,
			       size_t *len);
int bkfs_content_key_json(const struct bkfs_node *n, char **buf, size_t *len);
int bkfs_content_resource(const struct bkfs_node *n, char **buf, size_t *len);
int bkfs_content_latest(const struct bkfs_node *n, char **buf, size_t *len);
int bkfs_content_default_link(const struct bkfs_node *n, char **buf,
			      size_t *len);
/* Usage texts of control files. */
int bkfs_usage_backups_create(const struct bkfs_node *n, char **buf,
			      size_t *len);
int bkfs_usage_restore(const struct bkfs_node *n, char **buf, size_t *len);
int bkfs_usage_keys_create(const struct bkfs_node *n, char **buf,
			   size_t *len);
int bkfs_usage_key_default(const struct bkfs_node *n, char **buf,
			   size_t *len);
/* Text (NUL-terminated) copied into a new buffer. */
int bkfs_text(const char *s, char **buf, size_t *len);

/* ---- ctl.c: the actions of control files ---- */
int bkfs_act_backup_create(const struct bkfs_node *n, uid_t uid,
			   const char *req, struct bk_err *err);
int bkfs_act_restore(const struct bkfs_node *n, uid_t uid, const char *req,
		     struct bk_err *err);
int bkfs_act_key_create(const struct bkfs_node *n, uid_t uid,
			const char *req, struct bk_err *err);
int bkfs_act_key_default(const struct bkfs_node *n, uid_t uid,
			 const char *req, struct bk_err *err);
int bkfs_remove_backup(const struct bkfs_node *n, uid_t uid,
		       struct bk_err *err);
int bkfs_remove_key(const struct bkfs_node *n, uid_t uid, struct bk_err *err);

/* Per-handle state of a control file or of passphrase. */
struct bkfs_ctl;
struct bkfs_ctl *bkfs_ctl_new(const struct bkfs_node *n);
/* Returns size or a negative errno. */
int bkfs_ctl_write(struct bkfs_ctl *c, const char *data, size_t size,
		   uid_t uid);
int bkfs_ctl_flush(struct bkfs_ctl *c, uid_t uid);
void bkfs_ctl_free(struct bkfs_ctl *c);

/* ---- upload.c: upload boxes ---- */
struct bkfs_staged;
struct bkfs_sfh;		/* an open handle of a staged entry */

int bkfs_box_lookup(const struct bkfs_node *box, const char *name);
int bkfs_box_list(const struct bkfs_node *box, const struct bkfs_row *row,
		  struct bkfs_lister *l);
int bkfs_box_stat(const char *boxpath, const char *name, const char *path,
		  struct stat *st);
int bkfs_box_create(const struct bkfs_node *box, const char *name,
		    mode_t mode, int flags, struct bkfs_sfh **out);
int bkfs_box_open(const struct bkfs_node *box, const char *name, int flags,
		  struct bkfs_sfh **out);
int bkfs_box_unlink(const struct bkfs_node *box, const char *name);
int bkfs_box_rename(const struct bkfs_node *box, const char *from,
		    const char *to, unsigned flags, uid_t uid);
/* Attribute changes of an entry (by name, or through h when h != NULL). */
int bkfs_box_chmod(const char *boxpath, const char *name,
		   struct bkfs_sfh *h, mode_t mode);
int bkfs_box_chown(const char *boxpath, const char *name,
		   struct bkfs_sfh *h, uid_t uid, gid_t gid);
int bkfs_box_utimens(const char *boxpath, const char *name,
		     struct bkfs_sfh *h, const struct timespec tv[2]);
int bkfs_box_truncate(const char *boxpath, const char *name,
		      struct bkfs_sfh *h, off_t size);
int bkfs_sfh_stat(struct bkfs_sfh *h, struct stat *st);
int bkfs_sfh_read(struct bkfs_sfh *h, char *buf, size_t size, off_t off);
int bkfs_sfh_write(struct bkfs_sfh *h, const char *buf, size_t size,
		   off_t off);
int bkfs_sfh_flush(struct bkfs_sfh *h, uid_t uid);
int bkfs_sfh_fsync(struct bkfs_sfh *h, int datasync);
void bkfs_sfh_release(struct bkfs_sfh *h, uid_t uid);
/* Removes every staging file (at unmount). */
void bkfs_box_cleanup(void);

/* ---- access.c: the caller and the access policy ---- */
/* The process (thread group) of the current request; 0 outside one. */
pid_t bkfs_caller_process(void);
/* May the current request's caller do action (BK_ACT_*) in domain? */
int bkfs_allowed(int action, const char *domain);
/* May the caller see n (1/0)?  Hidden nodes are ENOENT and unlisted. */
int bkfs_visible(const struct bkfs_node *n);
/* 0, or -EACCES recorded with bkfs_refuse(). */
int bkfs_check(const struct bkfs_node *n, int action);
/* The action an upload box (K_UPLOAD, K_RESTORE, K_KEY_UPLOAD) does. */
int bkfs_box_action(const struct bkfs_node *box);

/* ---- sched.c: schedules/ and audit (issue 5) ---- */
int bkfs_bind_schedule(struct bkfs_node *n, const char *comp);
int bkfs_list_schedules(const struct bkfs_node *dir,
			const struct bkfs_row *row, struct bkfs_lister *l);
int bkfs_content_sched_config(const struct bkfs_node *n, char **buf,
			      size_t *len);
int bkfs_content_sched_runs(const struct bkfs_node *n, char **buf,
			    size_t *len);
int bkfs_usage_sched_create(const struct bkfs_node *n, char **buf,
			    size_t *len);
int bkfs_usage_sched_run_now(const struct bkfs_node *n, char **buf,
			     size_t *len);
int bkfs_act_sched_create(const struct bkfs_node *n, uid_t uid,
			  const char *req, struct bk_err *err);
int bkfs_act_sched_run_now(const struct bkfs_node *n, uid_t uid,
			   const char *req, struct bk_err *err);
int bkfs_remove_schedule(const struct bkfs_node *n, uid_t uid,
			 struct bk_err *err);
int bkfs_audit_size(size_t *size);
int bkfs_audit_read(char *buf, size_t size, off_t off);
/* The runner and the audit trail's caller hook: after mounting, and
 * before the engine closes. */
void bkfs_sched_start(void);
void bkfs_sched_stop(void);

/* ---- hsm.c: hsm/ (issue 4) ---- */
int bkfs_content_hsm_status(const struct bkfs_node *n, char **buf,
			    size_t *len);
int bkfs_usage_hsm_rotate(const struct bkfs_node *n, char **buf, size_t *len);
int bkfs_usage_hsm_activate(const struct bkfs_node *n, char **buf,
			    size_t *len);
int bkfs_act_hsm_rotate(const struct bkfs_node *n, uid_t uid,
			const char *req, struct bk_err *err);
int bkfs_act_hsm_activate(const struct bkfs_node *n, uid_t uid,
			  const char *req, struct bk_err *err);

/* ---- ops.c ---- */
extern const struct fuse_operations bkfs_ops;

/* ---- passthrough.c ---- */
struct fuse_session;
struct bkfs_pt;
/* After the mount: installs the I/O hooks that negotiate passthrough at
 * INIT (nothing when !wanted).  0, or -1 if libfuse refused. */
int bkfs_pt_setup(struct fuse_session *se, int wanted);
/* The archive at path (for the log), open as fd, is being opened by an
 * OPEN request: its share of the backing id of the request's inode in
 * *out (NULL when passthrough is off).  0, or -EBUSY (the inode is
 * passed through to another file: the archive was replaced under its
 * name while an open of the old one lasts), -ENOMEM.  bkfs_pt_arm(*out,
 * fh) right before the open is answered makes the reply hand the reads
 * to the kernel; bkfs_pt_close(*out) at release. */
int bkfs_pt_open(const char *path, int fd, struct bkfs_pt **out);
void bkfs_pt_arm(struct bkfs_pt *p, uint64_t fh);
void bkfs_pt_close(struct bkfs_pt *p);

/* ---- loop.c (libfuse 3.12 API: loop config with max_threads) ---- */
struct bkfs_cmdline {
	char *mountpoint;		/* absolute; caller frees */
	int foreground;
	int debug;
	int singlethread;
	int clone_fd;
	unsigned max_idle_threads;	/* UINT_MAX: libfuse's default */
	unsigned max_threads;
};
/* fuse_parse_cmdline() (takes -f, -d, -s and the mount point). */
int bkfs_parse_cmdline(struct fuse_args *args, struct bkfs_cmdline *cl);
/* Runs the loop until unmounted or signalled; 0 on a clean exit. */
int bkfs_loop(struct fuse *f, const struct bkfs_cmdline *cl);

#endif
