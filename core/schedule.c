/* schedule.c - schedules: validation, create, delete, config.json, runs
 * (the runner is sched_run.c). */
#include "engine_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "cron.h"
#include "sched_int.h"
#include "snapshot.h"

static const struct bk_field sched_fields[] = {
	{ "name", json_type_string }, { "run_at", json_type_string },
	{ "disabled", json_type_boolean }, { "start_date", json_type_string },
	{ "end_date", json_type_string }, { "description", json_type_string },
	{ "database_backup_params", json_type_object }, { NULL, 0 } };

static const struct bk_field param_fields[] = {
	{ "scope", json_type_string }, { "domain", json_type_string },
	{ "filters", json_type_array }, { "backupKey", json_type_string },
	{ "tiedToHSM", json_type_boolean }, { "description", json_type_string },
	{ "retentionCount", json_type_int }, { "do_scp", json_type_boolean },
	{ "connection", json_type_string }, { NULL, 0 } };

/* ---- RFC 3339 ---- */

int bk_rfc3339_parse(const char *s, int64_t *epoch)
{
	struct tm tm = { 0 };
	char date[20];
	const char *p;
	int off = 0;

	if (!s || strlen(s) < 19 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
		return -EINVAL;
	memcpy(date, s, 19);
	date[10] = 'T';
	date[19] = '\0';
	p = strptime(date, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p || *p)
		return -EINVAL;
	p = s + 19;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return -EINVAL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if ((*p == 'Z' || *p == 'z') && !p[1]) {
		off = 0;
	} else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) &&
		   isdigit((unsigned char)p[2]) && p[3] == ':' &&
		   isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5]) &&
		   !p[6]) {
		int h = (p[1] - '0') * 10 + p[2] - '0';
		int m = (p[4] - '0') * 10 + p[5] - '0';

		if (h > 23 || m > 59)
			return -EINVAL;
		off = (h * 60 + m) * 60 * (*p == '-' ? -1 : 1);
	} else {
		return -EINVAL;
	}
	*epoch = (int64_t)timegm(&tm) - off;
	return 0;
}

void bk_rfc3339_fmt(int64_t epoch, char out[32])
{
	time_t t = (time_t)epoch;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- validation ---- */

static int name_check(const char *name, struct bk_err *err)
{
	size_t i, n = name ? strlen(name) : 0;

	if (!n)
		return bk_errf(err, -EINVAL, "\"name\" is required");
	if (!strcmp(name, "create"))
		return bk_errf(err, -EINVAL,
			       "name \"create\" is reserved (schedules/create)");
	if (n > BK_SCHED_NAME_MAX || name[0] == '.')
		return bk_errf(err, -EINVAL,
			       "name \"%s\": at most %d characters, not starting with \".\"",
			       name, BK_SCHED_NAME_MAX);
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return bk_errf(err, -EINVAL,
				       "name \"%s\": only letters, digits, \".\", \"_\" and \"-\"",
				       name);
	return 0;
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ?
	       json_object_get_string(v) : NULL;
}

static int get_bool(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) &&
	       json_object_get_boolean(v);
}

static int date_field(json_object *o, const char *key, int64_t *out,
		      struct bk_err *err)
{
	const char *s = get_str(o, key);

	if (!s)
		return 0;
	if (bk_rfc3339_parse(s, out))
		return bk_errf(err, -EINVAL,
			       "%s \"%s\" is not an RFC 3339 time (e.g. 2026-01-31T02:00:00Z)",
			       key, s);
	return 0;
}

/* The params: scope, domain, and what each scope allows. */
static int params_check(struct bk_engine *e, json_object *p,
			struct bk_sched *s, struct bk_err *err)
{
	const char *scope = get_str(p, "scope"), *key;
	json_object *v;
	char *json = NULL;
	int ret;

	if (scope && strcmp(scope, "system") && strcmp(scope, "domain"))
		return bk_errf(err, -EINVAL,
			       "scope \"%s\" is not \"system\" or \"domain\"",
			       scope);
	s->domain = get_str(p, "domain");
	if (scope && !strcmp(scope, "domain")) {
		if (!s->domain)
			return bk_errf(err, -EINVAL,
				       "scope \"domain\" needs \"domain\"");
		if (e && !bk_engine_domain_exists(e, s->domain))
			return bk_errf(err, -EINVAL,
				       "domain \"%s\" does not exist", s->domain);
		if (json_object_object_get_ex(p, "tiedToHSM", NULL))
			return bk_errf(err, -EINVAL,
				       "tiedToHSM is for system backups only");
		ret = bk_filters_validate(json_object_object_get(p, "filters"),
					  err);
		if (ret)
			return ret;
	} else {
		if (s->domain)
			return bk_errf(err, -EINVAL,
				       "\"domain\" needs scope \"domain\"");
		if (json_object_object_get_ex(p, "filters", NULL))
			return bk_errf(err, -EINVAL,
				       "filters are for domain backups only");
		/* as system/backups/create would refuse each run */
		if (e && get_bool(p, "tiedToHSM") &&
		    strcmp(bk_rot_kind(e->rot), "pkcs11"))
			return bk_errf(err, -EINVAL,
				       "tiedToHSM needs an HSM root of trust; this appliance uses a software root of trust");
	}
	if (json_object_object_get_ex(p, "retentionCount", &v)) {
		s->retention = json_object_get_int64(v);
		if (s->retention < 1)
			return bk_errf(err, -EINVAL,
				       "retentionCount must be 1 or more (leave it out to keep every backup)");
	}
	s->do_scp = get_bool(p, "do_scp");
	s->connection = get_str(p, "connection");
	if (s->do_scp && s->domain)
		return bk_errf(err, -EINVAL,
			       "do_scp: SCP transfers system backups only");
	if (s->do_scp && (!s->connection || !*s->connection))
		return bk_errf(err, -EINVAL,
			       "do_scp needs \"connection\" (the name of an SCP connection)");
	if (s->connection && !s->do_scp)
		return bk_errf(err, -EINVAL,
			       "\"connection\" is only used with \"do_scp\": true");
	key = get_str(p, "backupKey");
	if (key && e && bk_key_json(e, s->domain, key, &json, NULL))
		return bk_errf(err, -EINVAL,
			       "backupKey %s is not a backup key of the %s scope",
			       key, s->domain ? "domain's" : "system");
	free(json);
	return 0;
}

/* ret, with err's message prefixed by what. */
static int prefixed(struct bk_err *err, int ret, const char *what)
{
	char msg[sizeof(err->msg)];

	snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
	return bk_errf(err, ret, "%s: %s", what, msg);
}

/* Checks the fields of o (names and types) against fields, as a control
 * file's request is checked. */
static int fields_check(json_object *o, const struct bk_field *fields,
			struct bk_err *err)
{
	json_object *copy = NULL;
	int ret;

	ret = bk_request_parse(json_object_to_json_string(o), fields, &copy,
			       err);
	json_object_put(copy);
	return ret;
}

int bk_sched_parse(struct bk_engine *e, json_object *o, struct bk_sched *s,
		   struct bk_err *err)
{
	json_object *p = NULL;
	int ret;

	memset(s, 0, sizeof(*s));
	s->end = INT64_MAX;
	if ((ret = fields_check(o, sched_fields, err)))
		return ret;
	s->name = get_str(o, "name");
	if ((ret = name_check(s->name, err)))
		return ret;
	if (!get_str(o, "run_at"))
		return bk_errf(err, -EINVAL, "\"run_at\" (a cron expression) is required");
	if ((ret = bk_cron_parse(get_str(o, "run_at"), &s->cron, err)))
		return prefixed(err, ret, "run_at");
	if ((ret = date_field(o, "start_date", &s->start, err)) ||
	    (ret = date_field(o, "end_date", &s->end, err)))
		return ret;
	if (s->end <= s->start)
		return bk_errf(err, -EINVAL, "end_date is not after start_date");
	s->disabled = get_bool(o, "disabled");
	/* The params are checked field by field like a control file's
	 * request. */
	if (json_object_object_get_ex(o, "database_backup_params", &p) &&
	    ((ret = fields_check(p, param_fields, err)) ||
	     (ret = params_check(e, p, s, err))))
		return prefixed(err, ret, "database_backup_params");
	s->params = p;
	return 0;
}

/* ---- create, delete, read ---- */

int bk_sched_create(struct bk_engine *e, const char *req, uid_t uid,
		    char **name_out, struct bk_err *err)
{
	char name[BK_SCHED_NAME_MAX + 1];
	struct bk_sched s;
	json_object *o = NULL;
	int ret;

	ret = bk_request_parse(req, sched_fields, &o, err);
	if (ret)
		return ret;
	ret = bk_sched_parse(e, o, &s, err);
	if (ret)
		goto out;
	if (bk_sched_exists(e, s.name)) {
		ret = bk_errf(err, -EEXIST, "schedule \"%s\" exists", s.name);
		goto out;
	}
	snprintf(name, sizeof(name), "%s", s.name);
	json_object_object_del(o, "name");	/* the resource's name */
	pthread_mutex_lock(&e->db_lock);
	ret = bk_sched_state_reset(e->store, name, bk_sched_now(), err);
	if (!ret)
		ret = bk_engine_resource_add(e, "root", "schedules", name,
			json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			NULL, err);
	pthread_mutex_unlock(&e->db_lock);
	if (!ret && name_out && !(*name_out = strdup(name)))
		ret = bk_errf(err, -ENOMEM, "out of memory");
	if (!ret)
		bk_sched_audit_run(e, uid, "schedule.create", name,
				   s.domain ? "domain" : "system", s.domain,
				   NULL, "ok", get_str(o, "run_at"));
out:
	json_object_put(o);
	return ret;
}

int bk_sched_exists(struct bk_engine *e, const char *name)
{
	char *json = NULL;
	int r;

	if (name_check(name, NULL))
		return 0;
	r = bk_engine_resource_get(e, "root", "schedules", name, &json, NULL);
	free(json);
	return r == 0;
}

int bk_sched_delete(struct bk_engine *e, const char *name, uid_t uid,
		    struct bk_err *err)
{
	int ret;

	if (!bk_sched_exists(e, name))
		return bk_errf(err, -ENOENT, "no schedule \"%s\"", name);
	pthread_mutex_lock(&e->db_lock);
	ret = bk_engine_resource_delete(e, "root", "schedules", name, err);
	if (!ret)
		ret = bk_sched_forget(e->store, name, err);
	pthread_mutex_unlock(&e->db_lock);
	if (!ret)
		bk_sched_audit_run(e, uid, "schedule.delete", name, NULL, NULL,
				   NULL, "ok", NULL);
	return ret;
}

struct names {
	int (*cb)(void *arg, const char *name);
	void *arg;
	char last[BK_SCHED_NAME_MAX + 1];
};

static int name_cb(void *arg, const char *name)
{
	struct names *n = arg;

	if (!strcmp(name, n->last) || name_check(name, NULL))
		return 0;
	snprintf(n->last, sizeof(n->last), "%s", name);
	return n->cb(n->arg, name);
}

int bk_sched_names(struct bk_engine *e,
		   int (*cb)(void *arg, const char *name), void *arg,
		   struct bk_err *err)
{
	struct names n = { cb, arg, "" };

	return bk_engine_resource_names(e, "root", "schedules", name_cb, &n,
					err);
}

/* The schedule's resource JSON as an object (new); -ENOENT. */
int bk_sched_load(struct bk_engine *e, const char *name, json_object **out,
		  struct bk_err *err)
{
	char *json = NULL;
	int ret;

	if (name_check(name, NULL))
		return bk_errf(err, -ENOENT, "no schedule \"%s\"", name);
	ret = bk_engine_resource_get(e, "root", "schedules", name, &json,
				     NULL);
	if (ret)
		return bk_errf(err, -ENOENT, "no schedule \"%s\"", name);
	*out = json_tokener_parse(json);
	free(json);
	if (!*out)
		return bk_errf(err, -EIO, "schedule \"%s\" is unreadable", name);
	return 0;
}

json_object *bk_sched_object(json_object *res)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_get(
		json_object_object_get(res, "name")));
	json_object_object_foreach(json_object_object_get(res, "attrs"), k, v)
		if (strcmp(k, "name"))
			json_object_object_add(o, k, json_object_get(v));
	return o;
}

int bk_sched_json(struct bk_engine *e, const char *name, char **json,
		  struct bk_err *err)
{
	json_object *res = NULL, *o;
	struct bk_err perr = { 0, "" };
	struct bk_sched s;
	char when[32];
	int64_t next;
	int ret;

	ret = bk_sched_load(e, name, &res, err);
	if (ret)
		return ret;
	o = bk_sched_object(res);
	ret = bk_sched_parse(NULL, o, &s, &perr);
	json_object_object_add(o, "createdAt", json_object_get(
		json_object_object_get(res, "createdAt")));
	if (ret) {
		ret = 0;
		json_object_object_add(o, "next_run_at", NULL);
		json_object_object_add(o, "error",
				       json_object_new_string(perr.msg));
	} else if (!bk_sched_next(&s, bk_sched_now(), &next)) {
		bk_rfc3339_fmt(next, when);
		json_object_object_add(o, "next_run_at",
				       json_object_new_string(when));
	} else {
		json_object_object_add(o, "next_run_at", NULL);
	}
	if (asprintf(json, "%s\n", json_object_to_json_string_ext(o,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
		ret = bk_errf(err, -ENOMEM, "out of memory");
	json_object_put(o);
	json_object_put(res);
	return ret;
}

int bk_sched_next(const struct bk_sched *s, int64_t now, int64_t *next)
{
	int64_t from = now;

	if (s->disabled)
		return -ENOENT;
	if (s->start > from + 1)
		from = s->start - 1;
	if (bk_cron_next(&s->cron, from, next) || *next > s->end)
		return -ENOENT;
	return 0;
}
