/* hsm_op.c - rotation and activation of the root of trust in a running
 * daemon (the mounted tree's hsm/rotate and hsm/activate), as an
 * operation like a backup or a restore; and where a daemon is mounted,
 * for backupctl's refusal.  The rotation itself is hsm.c's. */
#include "hsm.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "fault.h"

struct rot_job {
	struct bk_engine *e;
	struct bk_rot *new;
	int activate;
	uid_t uid;
	char old[65];
	char op_id[33];
};

static const struct bk_field fields_rotate[] = { { NULL, 0 } };
static const struct bk_field fields_activate[] = {
	{ "keyId", json_type_string }, { NULL, 0 } };

static void *rot_main(void *arg)
{
	struct rot_job *j = arg;
	struct bk_err err = { 0, "" };
	char msg[sizeof(err.msg) + 256];
	int ret;

	/* Tests hold the operation here (stall), before the store lock. */
	if ((ret = bk_fault("hsm.rotate.start"))) {
		bk_errf(&err, ret, "%s", strerror(-ret));
		bk_rot_free(j->new);
	} else {
		ret = bk_hsm_switch(j->e, j->new, j->activate, j->uid,
				    j->op_id, msg, sizeof(msg), &err);
	}
	if (ret)
		snprintf(msg, sizeof(msg),
			 "the root of trust is unchanged (active key %s): %s",
			 j->old, err.msg[0] ? err.msg : strerror(-ret));
	bk_op_end(j->e, !ret, msg);
	free(j);
	return NULL;
}

/* *key_id: the request's key (activate), NULL (rotate); o keeps it. */
static int parse(const char *req, int activate, json_object **o,
		 const char **key_id, struct bk_err *err)
{
	json_object *v;
	const char *id;
	size_t n;
	int ret;

	*key_id = NULL;
	ret = bk_request_parse(req, activate ? fields_activate : fields_rotate,
			       o, err);
	if (ret || !activate)
		return ret;
	if (!json_object_object_get_ex(*o, "keyId", &v))
		return bk_errf(err, -EINVAL,
			       "\"keyId\" is required: the id of a key of the token (hsm/status.json lists them)");
	id = json_object_get_string(v);
	n = strlen(id);
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)id[i]))
			n = 0;
	if (n == 0 || n > 64 || n % 2)
		return bk_errf(err, -EINVAL,
			       "\"keyId\" must be a key id in hex (its CKA_ID), as hsm/status.json shows it");
	*key_id = id;
	return 0;
}

static int start(struct bk_engine *e, int activate, const char *key_id,
		 uid_t uid, struct bk_err *err)
{
	struct rot_job *j = calloc(1, sizeof(*j));
	int ret;

	if (!j)
		return bk_errf(err, -ENOMEM, "out of memory");
	ret = bk_hsm_new_key(e, key_id, &j->new, err);
	if (ret) {
		free(j);
		return ret;
	}
	j->e = e;
	j->activate = activate;
	j->uid = uid;
	snprintf(j->old, sizeof(j->old), "%s", bk_rot_key_id(e->rot));
	pthread_mutex_lock(&e->op_lock);
	snprintf(j->op_id, sizeof(j->op_id), "%s", json_object_get_string(
		json_object_object_get(e->op, "id")));
	pthread_mutex_unlock(&e->op_lock);
	ret = bk_job_spawn(e, rot_main, j, err);
	if (ret) {
		bk_rot_free(j->new);
		free(j);
	}
	return ret;
}

int bk_hsm_request(struct bk_engine *e, int activate, const char *req,
		   uid_t uid, struct bk_err *err)
{
	const char *what = activate ? "activate" : "rotate";
	const char *key_id;
	json_object *o = NULL;
	int ret;

	ret = parse(req, activate, &o, &key_id, err);
	if (!ret)
		ret = bk_hsm_check(e, key_id, err);
	if (!ret && (ret = bk_op_begin(e, what, NULL, NULL, uid, err)) ==
	    -EBUSY) {
		char why[sizeof(err->msg)];

		snprintf(why, sizeof(why), "%s", err ? err->msg : "");
		bk_errf(err, -EBUSY, "cannot %s the root of trust now: %s",
			what, why);
	} else if (!ret && (ret = start(e, activate, key_id, uid, err))) {
		bk_audit(e, uid, activate ? "hsm.activate" : "hsm.rotate",
			 key_id ? key_id : "", "failed", err ? err->msg : "");
		bk_op_end(e, 0, err ? err->msg : strerror(-ret));
	}
	json_object_put(o);
	return ret;
}

int bk_hsm_busy(struct bk_engine *e, struct bk_err *err)
{
	char what[16] = "";

	pthread_mutex_lock(&e->op_lock);
	if (e->op_running)
		snprintf(what, sizeof(what), "%s", json_object_get_string(
			json_object_object_get(e->op, "operation")));
	pthread_mutex_unlock(&e->op_lock);
	if (strcmp(what, "rotate") && strcmp(what, "activate"))
		return 0;
	return bk_errf(err, -EBUSY,
		       "the HSM root of trust is being changed (%s); backups and restores are refused until it has ended (see status)",
		       what);
}

/* Undoes the octal escapes of /proc/self/mountinfo (\040 for a space)
 * in place. */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++, d++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				    (s[3] - '0'));
			s += 3;
		} else {
			*d = *s;
		}
	}
	*d = '\0';
}

int bk_hsm_mount_of(const char *dir, char *buf, size_t size)
{
	char line[8192], mnt[4096], type[256], src[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int ret = -ENOENT;

	if (!f)
		return ret;
	while (ret && fgets(line, sizeof(line), f)) {
		const char *dash = strstr(line, " - ");

		if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(dash + 3, "%255s %4095s", type, src) != 2 ||
		    strcmp(type, "fuse.backupfs"))
			continue;
		unescape(src);
		unescape(mnt);
		if (!strcmp(src, dir) && strlen(mnt) < size) {
			snprintf(buf, size, "%s", mnt);
			ret = 0;
		}
	}
	fclose(f);
	return ret;
}
