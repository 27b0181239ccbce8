/* ssh.c - one libssh session to an SCP/SFTP destination.
 *
 * Opening: connect (15 s timeout, no ssh_config, no known_hosts files),
 * offer only the pinned key's host key type, compare the server's host
 * key with the pinned one (ssh_key_cmp), then authenticate with the
 * appliance's key or the connection's password.
 *
 * Uploading never shows a partial archive under its final name: the data
 * goes to a temporary name in the same directory, which is renamed when
 * complete.  SFTP: SSH_FXP_RENAME (a server that will not rename over an
 * existing file gets it removed first).  SCP has no rename: after the
 * copy, `mv -f -- TMP FINAL` runs over an exec channel of the same
 * session (SCP itself is an exec of `scp -t`, so the destination must
 * allow commands anyway).  Free space is checked before the copy
 * (statvfs@openssh.com, or `stat -f` over exec for SCP) and again after a
 * failed write, so a full disk is reported as such.  Before the rename,
 * the temporary file's size at the destination must be the archive's.
 */
#include "scp_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh/sftp.h>

#define CONNECT_TIMEOUT 15		/* seconds */
#define CHUNK (64 * 1024)		/* SFTP packets stay under 256 KiB */

/* libssh 0.10 marks its SCP API deprecated (in favour of SFTP); the issue
 * asks for SCP, and the API still works. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

struct bk_ssh {
	ssh_session ss;
	sftp_session sftp;		/* protocol sftp */
	const struct bk_conn *c;	/* borrowed */
	sftp_file f;			/* the temporary file, SFTP */
	ssh_scp scp;			/* the temporary file, SCP */
};

int bk_ssh_parse_pin(const char *text, ssh_key *key, struct bk_err *err)
{
	char buf[4096], *tok[3] = { NULL }, *save = NULL, *p;
	enum ssh_keytypes_e type = SSH_KEYTYPE_UNKNOWN;
	ssh_key k = NULL;
	int n = 0, at = -1;

	snprintf(buf, sizeof(buf), "%s", text);
	for (p = strtok_r(buf, " \t\r\n", &save); p && n < 3;
	     p = strtok_r(NULL, " \t\r\n", &save))
		tok[n++] = p;
	/* "type base64 [comment]", or known_hosts' "host type base64" */
	if (n >= 2 && ssh_key_type_from_name(tok[0]) != SSH_KEYTYPE_UNKNOWN)
		at = 0;
	else if (n == 3 &&
		 ssh_key_type_from_name(tok[1]) != SSH_KEYTYPE_UNKNOWN)
		at = 1;
	if (at >= 0)
		type = ssh_key_type_from_name(tok[at]);
	if (at < 0 || ssh_pki_import_pubkey_base64(tok[at + 1], type, &k) !=
	    SSH_OK)
		return bk_errf(err, -EINVAL, "field \"public_key\" must be the "
			       "destination's SSH host key, e.g. \"ssh-ed25519 "
			       "AAAA...\" (a line of its "
			       "/etc/ssh/ssh_host_*_key.pub or of "
			       "ssh-keyscan)");
	if (key)
		*key = k;
	else
		ssh_key_free(k);
	return 0;
}

static const char *hostkey_algos(ssh_key pin)
{
	switch (ssh_key_type(pin)) {
	case SSH_KEYTYPE_RSA:
		return "rsa-sha2-512,rsa-sha2-256,ssh-rsa";
	default:
		return ssh_key_type_to_char(ssh_key_type(pin));
	}
}

/* The SHA-256 fingerprint of key into buf. */
static void fingerprint(ssh_key key, char *buf, size_t len)
{
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp = NULL;

	snprintf(buf, len, "?");
	if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash,
				   &hlen) < 0)
		return;
	fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
	if (fp)
		snprintf(buf, len, "%s", fp);
	ssh_string_free_char(fp);
	ssh_clean_pubkey_hash(&hash);
}

static int check_host_key(struct bk_ssh *s, ssh_key pin, struct bk_err *err)
{
	const struct bk_conn *c = s->c;
	ssh_key srv = NULL;
	char got[128], want[128];
	int ret = 0;

	if (ssh_get_server_publickey(s->ss, &srv) != SSH_OK)
		return bk_errf(err, -EKEYREJECTED, "%s port %d sent no host "
			       "key", c->host, c->port);
	if (ssh_key_cmp(srv, pin, SSH_KEY_CMP_PUBLIC)) {
		fingerprint(srv, got, sizeof(got));
		fingerprint(pin, want, sizeof(want));
		ret = bk_errf(err, -EKEYREJECTED, "host key mismatch: %s port "
			      "%d presented %s, but the connection's "
			      "public_key is %s; refused", c->host, c->port,
			      got, want);
	}
	ssh_key_free(srv);
	return ret;
}

static int authenticate(struct bk_engine *e, struct bk_ssh *s,
			struct bk_err *err)
{
	const struct bk_conn *c = s->c;
	ssh_key key = NULL;
	int rc, ret;

	if (c->use_password) {
		rc = ssh_userauth_password(s->ss, NULL, c->password);
	} else {
		ret = bk_sshkey_load(e, &key, err);
		if (ret)
			return ret;
		rc = ssh_userauth_publickey(s->ss, NULL, key);
		ssh_key_free(key);
	}
	if (rc == SSH_AUTH_SUCCESS)
		return 0;
	if (rc == SSH_AUTH_ERROR)
		return bk_errf(err, -EIO, "authentication at %s port %d "
			       "failed: %s", c->host, c->port,
			       ssh_get_error(s->ss));
	if (c->use_password)
		return bk_errf(err, -EACCES, "authentication failed: %s port "
			       "%d refused the password of user %s", c->host,
			       c->port, c->user);
	return bk_errf(err, -EACCES, "authentication failed: %s port %d "
		       "refused the appliance's key for user %s (add the line "
		       "of scp/public-key to ~%s/.ssh/authorized_keys there)",
		       c->host, c->port, c->user, c->user);
}

int bk_ssh_open(struct bk_engine *e, const struct bk_conn *c,
		struct bk_ssh **out, struct bk_err *err)
{
	struct bk_ssh *s;
	ssh_key pin = NULL;
	unsigned int port = (unsigned int)c->port;
	long timeout = CONNECT_TIMEOUT;
	int no = 0, yes = 1, ret;

	*out = NULL;
	ret = bk_ssh_parse_pin(c->public_key, &pin, err);
	if (ret)
		return ret;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->ss = ssh_new())) {
		free(s);
		ssh_key_free(pin);
		return bk_errf(err, -ENOMEM, "out of memory");
	}
	s->c = c;
	if (ssh_options_set(s->ss, SSH_OPTIONS_HOST, c->host) < 0 ||
	    ssh_options_set(s->ss, SSH_OPTIONS_PORT, &port) < 0 ||
	    ssh_options_set(s->ss, SSH_OPTIONS_USER, c->user) < 0 ||
	    ssh_options_set(s->ss, SSH_OPTIONS_TIMEOUT, &timeout) < 0 ||
	    ssh_options_set(s->ss, SSH_OPTIONS_PROCESS_CONFIG, &no) < 0 ||
	    ssh_options_set(s->ss, SSH_OPTIONS_NODELAY, &yes) < 0 ||
	    ssh_options_set(s->ss, SSH_OPTIONS_KNOWNHOSTS, "/dev/null") < 0 ||
	    ssh_options_set(s->ss, SSH_OPTIONS_GLOBAL_KNOWNHOSTS,
			    "/dev/null") < 0 ||
	    ssh_options_set(s->ss, SSH_OPTIONS_HOSTKEYS,
			    hostkey_algos(pin)) < 0) {
		ret = bk_errf(err, -EINVAL, "bad connection settings: %s",
			      ssh_get_error(s->ss));
		goto out;
	}
	if (ssh_connect(s->ss) != SSH_OK) {
		const char *why = ssh_get_error(s->ss);

		if (strstr(why, "host key"))
			ret = bk_errf(err, -EKEYREJECTED, "host key mismatch: "
				      "%s port %d has no host key of the type "
				      "of the connection's public_key (%s); "
				      "refused", c->host, c->port, why);
		else
			ret = bk_errf(err, -EHOSTUNREACH, "cannot reach %s "
				      "port %d: %s", c->host, c->port, why);
		goto out;
	}
	ret = check_host_key(s, pin, err);
	if (!ret)
		ret = authenticate(e, s, err);
	if (ret || c->scp)
		goto out;
	s->sftp = sftp_new(s->ss);
	if (!s->sftp || sftp_init(s->sftp) != SSH_OK)
		ret = bk_errf(err, -EIO, "%s port %d offers no SFTP: %s",
			      c->host, c->port, ssh_get_error(s->ss));
out:
	ssh_key_free(pin);
	if (ret)
		bk_ssh_close(s);
	else
		*out = s;
	return ret;
}

void bk_ssh_close(struct bk_ssh *s)
{
	if (!s)
		return;
	if (s->f)
		sftp_close(s->f);
	if (s->scp)
		ssh_scp_free(s->scp);
	if (s->sftp)
		sftp_free(s->sftp);
	ssh_disconnect(s->ss);
	ssh_free(s->ss);
	free(s);
}

/* ---- remote commands (SCP) ---- */

/* s in single quotes for sh into out; -ENAMETOOLONG if it does not fit. */
static int sh_quote(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	if (cap < 3)
		return -ENAMETOOLONG;
	out[n++] = '\'';
	for (; *s; s++) {
		const char *piece = *s == '\'' ? "'\\''" : NULL;
		size_t plen = piece ? 4 : 1;

		if (n + plen + 2 > cap)
			return -ENAMETOOLONG;
		if (piece)
			memcpy(out + n, piece, plen);
		else
			out[n] = *s;
		n += plen;
	}
	out[n++] = '\'';
	out[n] = 0;
	return 0;
}

/* Runs cmd at the destination; its stdout (then stderr) into out (cap
 * bytes, NUL-terminated); *status: its exit status.  0 if it ran. */
static int run(struct bk_ssh *s, const char *cmd, char *out, size_t cap,
	       int *status)
{
	ssh_channel ch = ssh_channel_new(s->ss);
	size_t n = 0;
	int r, is_err, ret = -EIO;

	out[0] = 0;
	if (!ch)
		return -ENOMEM;
	if (ssh_channel_open_session(ch) != SSH_OK ||
	    ssh_channel_request_exec(ch, cmd) != SSH_OK)
		goto out;
	for (is_err = 0; is_err < 2; is_err++)
		while ((r = ssh_channel_read(ch, out + n, cap - 1 - n,
					     is_err)) > 0 && n < cap - 1)
			n += (size_t)r;
	out[n] = 0;
	ssh_channel_send_eof(ch);
	*status = ssh_channel_get_exit_status(ch);
	ret = 0;
out:
	ssh_channel_close(ch);
	ssh_channel_free(ch);
	return ret;
}

/* Runs "verb 'a' ['b']" (verb ends in "--" where the command takes
 * it); 0 if it exited 0, else -EIO with its words. */
static int run_paths(struct bk_ssh *s, const char *verb, const char *a,
		     const char *b, struct bk_err *err)
{
	char qa[2200], qb[2200] = "", cmd[4500], out[512];
	int status = -1;

	if (sh_quote(a, qa, sizeof(qa)) || (b && sh_quote(b, qb, sizeof(qb))))
		return bk_errf(err, -ENAMETOOLONG, "destination path too long");
	snprintf(cmd, sizeof(cmd), "%s %s %s", verb, qa, qb);
	if (run(s, cmd, out, sizeof(out), &status) || status != 0)
		return bk_errf(err, -EIO, "%s at the destination failed (exit "
			       "status %d): %s", verb, status, out);
	return 0;
}

/* ---- the destination directory ---- */

static void join(const char *dir, const char *name, char *out, size_t cap)
{
	size_t dl = strlen(dir);

	snprintf(out, cap, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/",
		 name);
}

/* Free bytes in path_to, or -1 if the destination does not say. */
static long long dest_free(struct bk_ssh *s)
{
	long long avail = -1;

	if (s->sftp) {
		sftp_statvfs_t v;

		if (!sftp_extension_supported(s->sftp, "statvfs@openssh.com",
					      "2"))
			return -1;
		v = sftp_statvfs(s->sftp, s->c->path_to);
		if (v) {
			avail = (long long)(v->f_bavail * v->f_frsize);
			sftp_statvfs_free(v);
		}
	} else {
		char q[2200], cmd[2300], out[128];
		unsigned long long a, bs;
		int status;

		if (sh_quote(s->c->path_to, q, sizeof(q)))
			return -1;
		snprintf(cmd, sizeof(cmd), "stat -f -c '%%a %%S' -- %s", q);
		if (!run(s, cmd, out, sizeof(out), &status) && !status &&
		    sscanf(out, "%llu %llu", &a, &bs) == 2)
			avail = (long long)(a * bs);
	}
	return avail;
}

/* The reason a destination operation on path failed, in words; what
 * (e.g. "cannot create") and the server's text say the rest. */
static int dest_err(struct bk_ssh *s, int code, const char *what,
		    const char *path, uint64_t need, struct bk_err *err)
{
	char text[400];
	size_t n;
	long long avail;

	snprintf(text, sizeof(text), "%s", ssh_get_error(s->ss));
	for (n = strlen(text); n && isspace((unsigned char)text[n - 1]); n--)
		text[n - 1] = 0;	/* scp's message ends in a newline */

	if (s->sftp && code == -EIO) {
		switch (sftp_get_error(s->sftp)) {
		case SSH_FX_PERMISSION_DENIED:
			code = -EACCES;
			break;
		case SSH_FX_NO_SUCH_FILE:
			code = -ENOENT;
			break;
		default:
			break;
		}
	} else if (code == -EIO) {
		if (strstr(text, "ermission denied"))
			code = -EACCES;
		else if (strstr(text, "No such file"))
			code = -ENOENT;
		else if (strstr(text, "No space left"))
			code = -ENOSPC;
	}
	if (code == -EIO && need) {
		avail = dest_free(s);
		if (avail >= 0 && (uint64_t)avail < need)
			code = -ENOSPC;
	}
	switch (code) {
	case -EACCES:
		return bk_errf(err, code, "no permission to write in %s at "
			       "the destination (%s %s: %s)", s->c->path_to,
			       what, path, text);
	case -ENOENT:
		return bk_errf(err, code, "the destination directory %s does "
			       "not exist (%s %s: %s)", s->c->path_to, what,
			       path, text);
	case -ENOSPC:
		return bk_errf(err, code, "no space left at the destination "
			       "in %s (%s %s: %s)", s->c->path_to, what, path,
			       text);
	default:
		return bk_errf(err, code, "%s %s at the destination: %s%s",
			       what, path, text, need ? " (is its disk full?)" :
			       "");
	}
}

/* Creates path_to/tmpname for size bytes. */
static int tmp_open(struct bk_ssh *s, const char *tmpname, uint64_t size,
		    struct bk_err *err)
{
	char path[1400];
	long long avail;

	join(s->c->path_to, tmpname, path, sizeof(path));
	if (!s->sftp && run_paths(s, "test -d", s->c->path_to, NULL, NULL))
		return bk_errf(err, -ENOENT, "the destination directory %s "
			       "does not exist", s->c->path_to);
	avail = dest_free(s);
	if (avail >= 0 && (uint64_t)avail < size)
		return bk_errf(err, -ENOSPC, "not enough space at the "
			       "destination in %s: %lld bytes free, %llu "
			       "needed", s->c->path_to, avail,
			       (unsigned long long)size);
	if (s->sftp) {
		s->f = sftp_open(s->sftp, path, O_WRONLY | O_CREAT | O_EXCL,
				 0600);
		return s->f ? 0 : dest_err(s, -EIO, "cannot create", path, 0,
					   err);
	}
	s->scp = ssh_scp_new(s->ss, SSH_SCP_WRITE, s->c->path_to);
	if (!s->scp)
		return bk_errf(err, -ENOMEM, "out of memory");
	if (ssh_scp_init(s->scp) != SSH_OK ||
	    ssh_scp_push_file(s->scp, tmpname, (size_t)size, 0600) != SSH_OK)
		return dest_err(s, -EIO, "cannot create", path, 0, err);
	return 0;
}

static int tmp_write(struct bk_ssh *s, const void *buf, size_t len)
{
	if (s->sftp)
		return sftp_write(s->f, buf, len) == (ssize_t)len ? 0 : -EIO;
	return ssh_scp_write(s->scp, buf, len) == SSH_OK ? 0 : -EIO;
}

static int tmp_close(struct bk_ssh *s)
{
	int rc;

	if (s->sftp) {
		rc = sftp_close(s->f);
		s->f = NULL;
	} else {
		rc = ssh_scp_close(s->scp);
		ssh_scp_free(s->scp);
		s->scp = NULL;
	}
	return rc == SSH_OK ? 0 : -EIO;
}

static void tmp_remove(struct bk_ssh *s, const char *path)
{
	if (s->f)
		sftp_close(s->f);
	s->f = NULL;
	if (s->scp)
		ssh_scp_free(s->scp);
	s->scp = NULL;
	if (s->sftp)
		sftp_unlink(s->sftp, path);
	else
		run_paths(s, "rm -f --", path, NULL, NULL);
}

static int tmp_rename(struct bk_ssh *s, const char *from, const char *to,
		      struct bk_err *err)
{
	sftp_attributes a;

	if (!s->sftp)
		return run_paths(s, "mv -f --", from, to, err);
	if (sftp_rename(s->sftp, from, to) == SSH_OK)
		return 0;
	a = sftp_stat(s->sftp, to);	/* SFTPv3 will not replace a file */
	if (a) {
		sftp_attributes_free(a);
		if (sftp_unlink(s->sftp, to) == SSH_OK &&
		    sftp_rename(s->sftp, from, to) == SSH_OK)
			return 0;
	}
	return dest_err(s, -EIO, "cannot rename the temporary file to", to,
			0, err);
}

/* Is the temporary file whole?  libssh's SCP writer does not read the
 * sink's verdict (a failed write at the destination, a full disk, goes
 * unnoticed), so its size is checked at the destination before the
 * rename: POSIX `wc -c` over SCP, the file's attributes over SFTP. */
static int tmp_check(struct bk_ssh *s, const char *path, uint64_t size,
		     struct bk_err *err)
{
	unsigned long long got = 0;
	long long avail;
	int known = 0;

	if (s->sftp) {
		sftp_attributes a = sftp_stat(s->sftp, path);

		if (a) {
			got = a->size;
			known = 1;
			sftp_attributes_free(a);
		}
	} else {
		char q[2200], cmd[2300], out[128];
		int status;

		if (!sh_quote(path, q, sizeof(q))) {
			snprintf(cmd, sizeof(cmd), "wc -c < %s", q);
			known = !run(s, cmd, out, sizeof(out), &status) &&
				!status && sscanf(out, "%llu", &got) == 1;
		}
	}
	if (!known)
		return bk_errf(err, -EIO, "cannot check the size of the copy "
			       "at the destination (%s); not renamed", path);
	if (got == size)
		return 0;
	avail = dest_free(s);
	if (got < size && avail >= 0 && (uint64_t)avail < size - got)
		return bk_errf(err, -ENOSPC, "no space left at the destination "
			       "in %s (%llu of %llu bytes arrived)",
			       s->c->path_to, got, (unsigned long long)size);
	return bk_errf(err, -EIO, "the copy at the destination is incomplete "
		       "(%llu of %llu bytes arrived; is its disk full?)", got,
		       (unsigned long long)size);
}

int bk_ssh_probe(struct bk_ssh *s, const char *tmpname, struct bk_err *err)
{
	char path[1400];
	int ret;

	join(s->c->path_to, tmpname, path, sizeof(path));
	ret = tmp_open(s, tmpname, 0, err);
	if (!ret && tmp_close(s))
		ret = dest_err(s, -EIO, "cannot write", path, 0, err);
	tmp_remove(s, path);
	return ret;
}

int bk_ssh_upload(struct bk_ssh *s, int fd, uint64_t size, const char *name,
		  const char *tmpname, bk_ssh_progress_fn progress, void *arg,
		  struct bk_err *err)
{
	char tmp[1400], final[1400];
	uint64_t done = 0;
	uint8_t *buf;
	ssize_t n;
	int ret;

	join(s->c->path_to, tmpname, tmp, sizeof(tmp));
	join(s->c->path_to, name, final, sizeof(final));
	buf = malloc(CHUNK);
	if (!buf)
		return bk_errf(err, -ENOMEM, "out of memory");
	ret = tmp_open(s, tmpname, size, err);
	if (ret)
		goto out;
	while (done < size) {
		size_t want = size - done < CHUNK ? (size_t)(size - done) :
			      CHUNK;

		n = pread(fd, buf, want, (off_t)done);
		if (n <= 0) {
			ret = bk_errf(err, n < 0 ? -errno : -EIO, "cannot read "
				      "the archive: %s", n < 0 ?
				      strerror(errno) : "it is shorter than "
				      "recorded");
			goto out;
		}
		if (tmp_write(s, buf, (size_t)n)) {
			ret = dest_err(s, -EIO, "cannot write", tmp,
				       size - done, err);
			goto out;
		}
		done += (uint64_t)n;
		if (progress && progress(arg, done)) {
			ret = bk_errf(err, -ECANCELED, "cancelled: the daemon "
				      "is stopping");
			goto out;
		}
	}
	if (tmp_close(s)) {
		ret = dest_err(s, -EIO, "cannot finish", tmp, 1, err);
		goto out;
	}
	ret = tmp_check(s, tmp, size, err);
	if (!ret)
		ret = tmp_rename(s, tmp, final, err);
out:
	if (ret)
		tmp_remove(s, tmp);
	free(buf);
	return ret;
}
