/* ctl.c - control files and the passphrase file.
 *
 * Each open handle has its own buffer.  A JSON control file acts in the
 * write() that completes a JSON object (so the engine's verdict reaches
 * write(2)); text that can never become an object fails that write with
 * EINVAL; text left incomplete fails at flush (close(2)).  Acting happens
 * at most once per handle.  The passphrase is set at the first flush that
 * finds data (a shell flushes once before writing: it dup2()s the file
 * onto stdout and closes the original descriptor), and its buffer wiped.
 */
#include "bkfs.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <json-c/json.h>

#define CTL_MAX		(1024 * 1024)	/* a request: 1 MiB at most */
#define PASS_MAX	1024		/* a passphrase: 1023 bytes */

/* ---- the actions ---- */

static const char *scope_name(const struct bkfs_node *n)
{
	return n->has_domain ? n->domain : "system";
}

int bkfs_act_backup_create(const struct bkfs_node *n, uid_t uid,
			   const char *req, struct bk_err *err)
{
	char *id = NULL;
	int r = bk_backup_start(bkfs.engine, bkfs_dom(n), req, uid, &id, err);

	if (!r)
		bkfs_log(LOG_INFO, "uid %u: %s: backup %s of %s started",
			 (unsigned)uid, n->path, id ? id : "?", scope_name(n));
	free(id);
	return r;
}

int bkfs_act_restore(const struct bkfs_node *n, uid_t uid, const char *req,
		     struct bk_err *err)
{
	int r = bk_restore_start(bkfs.engine, bkfs_dom(n), n->id, req, uid,
				 err);

	if (!r)
		bkfs_log(LOG_INFO, "uid %u: %s: restore of %s started",
			 (unsigned)uid, n->path, n->id);
	return r;
}

int bkfs_act_key_create(const struct bkfs_node *n, uid_t uid,
			const char *req, struct bk_err *err)
{
	char *id = NULL;
	int r = bk_key_create(bkfs.engine, bkfs_dom(n), req, uid, &id, err);

	if (!r)
		bkfs_log(LOG_INFO, "uid %u: %s: backup key %s of %s created",
			 (unsigned)uid, n->path, id ? id : "?", scope_name(n));
	free(id);
	return r;
}

int bkfs_act_key_default(const struct bkfs_node *n, uid_t uid,
			 const char *req, struct bk_err *err)
{
	int r = bk_key_set_default(bkfs.engine, bkfs_dom(n), n->id, uid, err);

	(void)req;
	if (!r)
		bkfs_log(LOG_INFO, "uid %u: %s: %s is now the default key of %s",
			 (unsigned)uid, n->path, n->id, scope_name(n));
	return r;
}

int bkfs_remove_backup(const struct bkfs_node *n, uid_t uid,
		       struct bk_err *err)
{
	int r = bk_backup_delete(bkfs.engine, bkfs_dom(n), n->id, uid, err);

	if (!r)
		bkfs_log(LOG_INFO, "uid %u: %s: backup deleted", (unsigned)uid,
			 n->path);
	return r;
}

int bkfs_remove_key(const struct bkfs_node *n, uid_t uid, struct bk_err *err)
{
	int r = bk_key_delete(bkfs.engine, bkfs_dom(n), n->id, uid, err);

	if (!r)
		bkfs_log(LOG_INFO, "uid %u: %s: backup key deleted",
			 (unsigned)uid, n->path);
	return r;
}

/* ---- per-handle state ---- */

enum ctl_state { C_OPEN, C_ACTED, C_REFUSED };

struct bkfs_ctl {
	struct bkfs_node node;		/* what the handle was opened on */
	enum ctl_state state;
	/* JSON control files */
	char *buf;
	size_t len, cap;
	json_tokener *tok;
	size_t start;			/* offset of the object's '{' */
	/* passphrase */
	char pass[PASS_MAX];
	size_t plen;
	int pass_toolong;
};

static int all_space(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

struct bkfs_ctl *bkfs_ctl_new(const struct bkfs_node *n)
{
	struct bkfs_ctl *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->node = *n;
	return c;
}

static int refuse(struct bkfs_ctl *c, uid_t uid, int errnum, const char *msg)
{
	c->state = C_REFUSED;
	bkfs_refuse(uid, c->node.path, errnum, "%s", msg);
	return -errnum;
}

/* The engine said no: it gave the reason; note it once. */
static int engine_refused(struct bkfs_ctl *c, uid_t uid, int r,
			  const struct bk_err *err)
{
	bkfs_refuse(uid, c->node.path, -r, "%s",
		    err->msg[0] ? err->msg : strerror(-r));
	return r;
}

static int act(struct bkfs_ctl *c, uid_t uid, const char *req)
{
	struct bk_err err = { 0, "" };
	int r;

	c->state = C_ACTED;
	r = c->node.row->act(&c->node, uid, req, &err);
	if (r)
		return engine_refused(c, uid, r, &err);
	return 0;
}

static int write_json(struct bkfs_ctl *c, const char *data, size_t size,
		      uid_t uid)
{
	size_t old = c->len, i, end;
	json_object *obj;
	enum json_tokener_error jerr;
	char *req;
	int r;

	if (c->state == C_REFUSED)
		return -EINVAL;		/* already said why */
	if (c->len + size > CTL_MAX)
		return refuse(c, uid, EFBIG, "request larger than 1 MiB");
	if (c->len + size + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 256;
		char *b;

		while (cap < c->len + size + 1)
			cap *= 2;
		b = realloc(c->buf, cap);
		if (!b)
			return -ENOMEM;
		c->buf = b;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, data, size);
	c->len += size;
	c->buf[c->len] = '\0';

	if (c->state == C_ACTED) {
		if (all_space(data, size))
			return (int)size;
		return refuse(c, uid, EINVAL,
			      "text after the JSON object (one request per "
			      "open)");
	}
	if (!c->tok) {
		/* nothing but white space so far? */
		for (i = 0; i < c->len && isspace((unsigned char)c->buf[i]);
		     i++)
			;
		if (i == c->len)
			return (int)size;
		if (c->buf[i] != '{')
			return refuse(c, uid, EINVAL,
				      "not a JSON object (it must begin "
				      "with '{')");
		c->tok = json_tokener_new();
		if (!c->tok)
			return -ENOMEM;
		json_tokener_set_flags(c->tok, JSON_TOKENER_STRICT |
				       JSON_TOKENER_ALLOW_TRAILING_CHARS |
				       JSON_TOKENER_VALIDATE_UTF8);
		c->start = i;
		old = i;	/* feed from the '{' */
	}
	obj = json_tokener_parse_ex(c->tok, c->buf + old,
				    (int)(c->len - old));
	jerr = json_tokener_get_error(c->tok);
	if (!obj && jerr == json_tokener_continue)
		return (int)size;
	if (!obj) {
		char msg[160];

		snprintf(msg, sizeof(msg), "invalid JSON: %s",
			 json_tokener_error_desc(jerr));
		return refuse(c, uid, EINVAL, msg);
	}
	json_object_put(obj);
	end = old + json_tokener_get_parse_end(c->tok);
	if (!all_space(c->buf + end, c->len - end))
		return refuse(c, uid, EINVAL,
			      "text after the JSON object (one request per "
			      "open)");
	req = strndup(c->buf + c->start, end - c->start);
	if (!req)
		return -ENOMEM;
	r = act(c, uid, req);
	free(req);
	return r ? r : (int)size;
}

static int write_pass(struct bkfs_ctl *c, const char *data, size_t size,
		      uid_t uid)
{
	(void)uid;
	if (c->state != C_OPEN)
		return -EINVAL;		/* after the first flush */
	if (c->pass_toolong || c->plen + size >= sizeof(c->pass)) {
		c->pass_toolong = 1;	/* reported at flush */
		return -EFBIG;
	}
	memcpy(c->pass + c->plen, data, size);
	c->plen += size;
	return (int)size;
}

int bkfs_ctl_write(struct bkfs_ctl *c, const char *data, size_t size,
		   uid_t uid)
{
	switch (c->node.row->io) {
	case IO_CTL_JSON:
		return write_json(c, data, size, uid);
	case IO_CTL_ANY: {
		int r;

		if (size == 0 || c->state != C_OPEN)
			return (int)size;	/* once per handle */
		r = act(c, uid, NULL);
		return r ? r : (int)size;
	}
	case IO_PASS:
		return write_pass(c, data, size, uid);
	default:
		return -EBADF;
	}
}

static void wipe(void *p, size_t n)
{
	memset(p, 0, n);
	explicit_bzero(p, n);
}

static int flush_pass(struct bkfs_ctl *c, uid_t uid)
{
	struct bk_err err = { 0, "" };
	size_t len = c->plen;
	int r;

	if (c->state != C_OPEN)
		return 0;		/* acted at an earlier flush */
	if (!c->plen && !c->pass_toolong)
		return 0;		/* a shell's dup2-and-close: no data yet */
	c->state = C_ACTED;
	if (c->pass_toolong) {
		r = refuse(c, uid, EINVAL, "passphrase longer than 1023 bytes");
		goto out;
	}
	if (len && c->pass[len - 1] == '\n')
		len--;
	if (len == 0) {
		r = refuse(c, uid, EINVAL, "empty passphrase");
		goto out;
	}
	r = bk_pass_set(bkfs.engine, uid, c->pass, len, &err);
	if (r)
		engine_refused(c, uid, r, &err);
	else
		bkfs_log(LOG_INFO, "uid %u: %s: passphrase set", (unsigned)uid,
			 c->node.path);
out:
	wipe(c->pass, sizeof(c->pass));
	c->plen = 0;
	return r;
}

int bkfs_ctl_flush(struct bkfs_ctl *c, uid_t uid)
{
	switch (c->node.row->io) {
	case IO_CTL_JSON:
		if (c->state == C_REFUSED)
			return -EINVAL;	/* reason already noted */
		if (c->state == C_OPEN && c->len &&
		    !all_space(c->buf, c->len)) {
			/* A flush is any close of the handle, a shell's
			 * dup2-and-close included: the closer hears EINVAL,
			 * but the handle stays open to more text, so an
			 * object written in several pieces still acts. */
			bkfs_refuse(uid, c->node.path, EINVAL,
				    "incomplete JSON object");
			return -EINVAL;
		}
		return 0;
	case IO_PASS:
		return flush_pass(c, uid);
	default:
		return 0;
	}
}

void bkfs_ctl_free(struct bkfs_ctl *c)
{
	if (!c)
		return;
	if (c->tok)
		json_tokener_free(c->tok);
	free(c->buf);
	wipe(c->pass, sizeof(c->pass));
	free(c);
}
