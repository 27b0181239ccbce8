/* resource.c - the appliance's resources: adding (with key material),
 * deleting, reading as public JSON, listing, and bulk import.
 *
 * The add path uses the handle's cached statements (store_int.h), so an
 * import of a million lines prepares each statement once.
 */
#include "store_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto.h"
#include "hsm.h"

#define IMPORT_LINE_MAX (16 * 1024 * 1024)
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static const char *const types[] = {
	"keys", "users", "groups", "cte_policies", "customer_fragments",
	"cas", "certificates", "policies", "schedules", "connections",
	"audit", NULL
};

int bk_resource_type_valid(const char *type)
{
	if (!type)
		return 0;
	for (int i = 0; types[i]; i++)
		if (!strcmp(types[i], type))
			return 1;
	return 0;
}

const char *const *bk_resource_types(void)
{
	return types;
}

static int type_check(const char *type, struct bk_err *err)
{
	if (bk_resource_type_valid(type))
		return 0;
	return bk_errf(err, -EINVAL,
		       "\"%s\" is not a resource type (keys, users, groups, cte_policies, customer_fragments, cas, certificates, policies, schedules, connections, audit)",
		       type ? type : "");
}

/* 0, -ENOENT with words, or a database error. */
static int domain_check(struct bk_store *s, const char *domain,
			struct bk_err *err)
{
	sqlite3_stmt *st;
	int rc, ret;

	if (!domain)
		return bk_errf(err, -EINVAL, "no domain given");
	ret = bk_store_stmt(s, BK_ST_DOMAIN_EXISTS, &st, err);
	if (ret)
		return ret;
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		ret = bk_errf(err, -ENOENT, "domain %s does not exist", domain);
	else if (rc != SQLITE_ROW)
		ret = bk_store_sqlerr(s, rc, "cannot look up the domain", err);
	sqlite3_reset(st);
	return ret;
}

/* ---- adding (one row, or many: res_insert.c) ---- */

/* attrs[field] must be absent or an array of valid names; *list gets it
 * (borrowed) or NULL. */
static int name_list(json_object *attrs, const char *field, const char *what,
		     json_object **list, struct bk_err *err)
{
	char item[320];
	json_object *a, *v;
	size_t n;
	int ret;

	*list = NULL;
	if (!json_object_object_get_ex(attrs, field, &a))
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return bk_errf(err, -EINVAL,
			       "%s: \"%s\" must be an array of names", what,
			       field);
	n = json_object_array_length(a);
	for (size_t i = 0; i < n; i++) {
		v = json_object_array_get_idx(a, i);
		if (!json_object_is_type(v, json_type_string))
			return bk_errf(err, -EINVAL,
				       "%s: \"%s\"[%zu] must be a string", what,
				       field, i);
		snprintf(item, sizeof(item), "%s: \"%s\"[%zu]", what, field, i);
		ret = bk_name_check(item, json_object_get_string(v),
				    (size_t)json_object_get_string_len(v), err);
		if (ret)
			return ret;
	}
	*list = a;
	return 0;
}

/* Inserts (domain, owner, each name of list) with the cached statement id
 * (members or key_links). */
static int insert_names(struct bk_store *s, enum bk_stmt id,
			const char *domain, const char *owner,
			json_object *list, struct bk_err *err)
{
	sqlite3_stmt *st;
	size_t n = json_object_array_length(list);
	int rc, ret;

	ret = bk_store_stmt(s, id, &st, err);
	if (ret)
		return ret;
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
	for (size_t i = 0; i < n && !ret; i++) {
		sqlite3_bind_text(st, 3,
				  json_object_get_string(
					  json_object_array_get_idx(list, i)),
				  -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc != SQLITE_DONE)
			ret = bk_store_sqlerr(s, rc,
					      id == BK_ST_MEMBER_ADD ?
					      "cannot add a group member" :
					      "cannot link a key", err);
		sqlite3_reset(st);
	}
	return ret;
}

/* Adds one resource whose domain is known to exist.  attrs (borrowed) is
 * modified: a key's "version" moves to the version column.  Runs inside
 * the caller's transaction.  id receives the new id. */
static int add_obj(struct bk_store *s, struct bk_rot *rot, const char *domain,
		   const char *type, const char *name, size_t name_len,
		   json_object *attrs, char id[33], struct bk_err *err)
{
	uint8_t *mat = NULL, *wrapped = NULL;
	size_t mlen = 0, wlen = 0;
	json_object *v, *list = NULL;
	char what[320], fp[65], now[32];
	struct bk_res_row r = { 0 };
	int is_key, ret;

	if ((ret = type_check(type, err)) ||
	    (ret = bk_name_check("the resource name", name, name_len, err)))
		return ret;
	snprintf(what, sizeof(what), "%s '%s'", type, name);
	if (!json_object_is_type(attrs, json_type_object))
		return bk_errf(err, -EINVAL,
			       "%s: attrs must be a JSON object", what);
	is_key = !strcmp(type, "keys");
	if (is_key && json_object_object_get_ex(attrs, "version", &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) < 0)
			return bk_errf(err, -EINVAL,
				       "%s: \"version\" must be an integer >= 0",
				       what);
		r.version = json_object_get_int64(v);
		json_object_object_del(attrs, "version");
	}
	if (!strcmp(type, "groups"))
		ret = name_list(attrs, "members", what, &list, err);
	else if (!strcmp(type, "cte_policies"))
		ret = name_list(attrs, "keys", what, &list, err);
	if (ret)
		return ret;

	if (is_key) {
		ret = bk_keygen(attrs, what, &mat, &mlen, err);
		if (ret)
			goto out;
		/* An HSM-anchored domain's key wraps its material. */
		ret = bk_rot_wrap(bk_rot_for(rot, domain), mat, mlen, &wrapped,
				  &wlen, err);
		if (ret)
			goto out;
		bk_sha256_hex(mat, mlen, fp);
		r.wrapped = wrapped;
		r.wrapped_len = wlen;
		r.fingerprint = fp;
	}
	ret = bk_time_id(id, err);
	if (ret)
		goto out;
	bk_now(now);
	r.id = id;
	r.domain = domain;
	r.type = type;
	r.name = name;
	r.attrs = json_object_to_json_string_ext(attrs, JSON_FLAGS);
	r.created_at = now;
	ret = bk_res_insert(s, &r, err);
	if (ret || !list)
		goto out;
	ret = insert_names(s, !strcmp(type, "groups") ? BK_ST_MEMBER_ADD :
			   BK_ST_LINK_ADD, domain, name, list, err);
out:
	if (mat)
		bk_secure_free(mat, mlen);
	free(wrapped);
	return ret;
}

/* Strict JSON, one value and nothing after it but blanks.  *out: new
 * object (caller puts), or NULL with the tokener's complaint in *why. */
static json_object *parse_strict(json_tokener *tok, const char *text,
				 size_t len, const char **why)
{
	enum json_tokener_error jerr;
	json_object *o;
	size_t end;

	json_tokener_reset(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	if (!o || jerr != json_tokener_success) {
		*why = jerr == json_tokener_continue ? "incomplete JSON" :
			json_tokener_error_desc(jerr);
		json_object_put(o);
		return NULL;
	}
	for (end = json_tokener_get_parse_end(tok); end < len; end++)
		if (text[end] != ' ' && text[end] != '\t' &&
		    text[end] != '\r' && text[end] != '\n') {
			*why = "text after the JSON value";
			json_object_put(o);
			return NULL;
		}
	return o;
}

int bk_resource_add(struct bk_store *s, struct bk_rot *rot,
		    const char *domain, const char *type, const char *name,
		    const char *attrs, char **id_out, struct bk_err *err)
{
	const char *why = "not an object";
	json_tokener *tok = NULL;
	json_object *obj = NULL;
	struct bk_tx tx;
	char id[33];
	int ret;

	if (id_out)
		*id_out = NULL;
	if (!name)
		return bk_errf(err, -EINVAL, "the resource name must not be empty");
	if (!attrs) {
		obj = json_object_new_object();
	} else if ((tok = json_tokener_new())) {
		obj = parse_strict(tok, attrs, strlen(attrs), &why);
		json_tokener_free(tok);
	}
	if (!json_object_is_type(obj, json_type_object)) {
		ret = bk_errf(err, -EINVAL,
			      "%s '%s': attrs must be a JSON object (%s)",
			      type ? type : "", name, why);
		goto out;
	}
	if ((ret = type_check(type, err)) ||
	    (ret = domain_check(s, domain, err)))
		goto out;
	ret = bk_tx_begin(s, &tx, err);
	if (ret)
		goto out;
	ret = bk_hsm_rot_current(s, rot, err);
	if (!ret)
		ret = add_obj(s, rot, domain, type, name, strlen(name), obj,
			      id, err);
	if (ret)
		bk_tx_rollback(s, &tx);
	else
		ret = bk_tx_commit(s, &tx, err);
	if (!ret && id_out && !(*id_out = strdup(id)))
		ret = bk_errf(err, -ENOMEM, "out of memory");
out:
	json_object_put(obj);
	return ret;
}

/* ---- deleting ---- */

static int delete_rows(struct bk_store *s, enum bk_stmt id, const char *a,
		       const char *b, const char *c, int *changes,
		       struct bk_err *err)
{
	sqlite3_stmt *st;
	int rc, ret;

	ret = bk_store_stmt(s, id, &st, err);
	if (ret)
		return ret;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	if (c)
		sqlite3_bind_text(st, 3, c, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		ret = bk_store_sqlerr(s, rc, "cannot delete", err);
	else if (changes)
		*changes = sqlite3_changes(s->db);
	sqlite3_reset(st);
	return ret;
}

int bk_resource_delete(struct bk_store *s, const char *domain,
		       const char *type, const char *name, struct bk_err *err)
{
	struct bk_tx tx;
	int changes = 0, ret;

	if ((ret = type_check(type, err)))
		return ret;
	if (!domain || !name)
		return bk_errf(err, -EINVAL, "domain and name are required");
	ret = bk_tx_begin(s, &tx, err);
	if (ret)
		return ret;
	ret = delete_rows(s, BK_ST_RES_DELETE, domain, type, name, &changes,
			  err);
	if (!ret && !changes)
		ret = bk_errf(err, -ENOENT, "no %s named '%s' in domain %s",
			      type, name, domain);
	if (!ret && !strcmp(type, "groups"))
		ret = delete_rows(s, BK_ST_MEMBERS_DELETE, domain, name, NULL,
				  NULL, err);
	if (!ret && !strcmp(type, "cte_policies"))
		ret = delete_rows(s, BK_ST_LINKS_DELETE, domain, name, NULL,
				  NULL, err);
	if (ret)
		bk_tx_rollback(s, &tx);
	else
		ret = bk_tx_commit(s, &tx, err);
	return ret;
}

/* ---- reading ---- */

static int group_members(struct bk_store *s, const char *domain,
			 const char *group, json_object *arr,
			 struct bk_err *err)
{
	sqlite3_stmt *st;
	int rc, ret;

	ret = bk_store_stmt(s, BK_ST_GROUP_MEMBERS, &st, err);
	if (ret)
		return ret;
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, group, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_object_array_add(arr, json_object_new_string(
			(const char *)sqlite3_column_text(st, 0)));
	if (rc != SQLITE_DONE)
		ret = bk_store_sqlerr(s, rc, "cannot read group members", err);
	sqlite3_reset(st);
	return ret;
}

int bk_res_public_json(struct bk_store *s, sqlite3_stmt *st,
		       json_object **out, struct bk_err *err)
{
	const char *id = (const char *)sqlite3_column_text(st, 0);
	const char *domain = (const char *)sqlite3_column_text(st, 1);
	const char *type = (const char *)sqlite3_column_text(st, 2);
	const char *name = (const char *)sqlite3_column_text(st, 3);
	const char *text = (const char *)sqlite3_column_text(st, 5);
	json_object *o = NULL, *attrs, *members;
	int ret = 0;

	attrs = json_tokener_parse(text ? text : "");
	if (!json_object_is_type(attrs, json_type_object)) {
		json_object_put(attrs);
		return bk_errf(err, -EIO,
			       "%s '%s' in domain %s has unreadable attributes",
			       type, name, domain);
	}
	o = json_object_new_object();
	if (!o) {
		json_object_put(attrs);
		return bk_errf(err, -ENOMEM, "out of memory");
	}
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "domain", json_object_new_string(domain));
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "version",
			       json_object_new_int64(sqlite3_column_int64(st, 4)));
	json_object_object_add(o, "createdAt", json_object_new_string(
		(const char *)sqlite3_column_text(st, 7)));
	if (sqlite3_column_type(st, 6) != SQLITE_NULL)
		json_object_object_add(o, "fingerprint", json_object_new_string(
			(const char *)sqlite3_column_text(st, 6)));
	json_object_object_add(o, "attrs", attrs);
	if (!strcmp(type, "groups")) {
		members = json_object_new_array();
		json_object_object_add(o, "members", members);
		ret = group_members(s, domain, name, members, err);
	}
	if (ret)
		json_object_put(o);
	else
		*out = o;
	return ret;
}

int bk_resource_get(struct bk_store *s, const char *domain, const char *type,
		    const char *name, char **json, struct bk_err *err)
{
	json_object *o = NULL;
	sqlite3_stmt *st;
	int rc, ret;

	*json = NULL;
	ret = bk_store_stmt(s, BK_ST_RES_GET, &st, err);
	if (ret)
		return ret;
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		ret = bk_res_public_json(s, st, &o, err);
	else if (rc == SQLITE_DONE)
		ret = bk_errf(err, -ENOENT, "no %s named '%s' in domain %s",
			      type ? type : "", name ? name : "",
			      domain ? domain : "");
	else
		ret = bk_store_sqlerr(s, rc, "cannot read the resource", err);
	sqlite3_reset(st);
	if (!ret && !(*json = strdup(json_object_to_json_string_ext(o,
							JSON_FLAGS))))
		ret = bk_errf(err, -ENOMEM, "out of memory");
	json_object_put(o);
	return ret;
}

/* Prepares one of four constant queries: sql[0] has no filter, sql[1]
 * filters on domain (?1), sql[2] on type (?2), sql[3] on both. */
static int prepare_filtered(struct bk_store *s, const char *const sql[4],
			    const char *domain, const char *type,
			    sqlite3_stmt **st, struct bk_err *err)
{
	int rc;

	rc = sqlite3_prepare_v2(s->db, sql[(domain ? 1 : 0) | (type ? 2 : 0)],
				-1, st, NULL);
	if (rc != SQLITE_OK)
		return bk_store_sqlerr(s, rc, "cannot list resources", err);
	if (domain)
		sqlite3_bind_text(*st, 1, domain, -1, SQLITE_STATIC);
	if (type)
		sqlite3_bind_text(*st, 2, type, -1, SQLITE_STATIC);
	return 0;
}

#define RES_COLS "SELECT id, domain, type, name, version, attrs, " \
	"fingerprint, created_at FROM resources"
#define RES_ORDER " ORDER BY domain, type, name, version"

int bk_resource_foreach(struct bk_store *s, const char *domain,
			const char *type,
			int (*cb)(void *arg, json_object *res), void *arg,
			struct bk_err *err)
{
	static const char *const sql[4] = {
		RES_COLS RES_ORDER,
		RES_COLS " WHERE domain = ?1" RES_ORDER,
		RES_COLS " WHERE type = ?2" RES_ORDER,
		RES_COLS " WHERE domain = ?1 AND type = ?2" RES_ORDER,
	};
	sqlite3_stmt *st = NULL;
	json_object *o;
	int rc, ret;

	/* Not a cached statement: cb may use the store meanwhile. */
	ret = prepare_filtered(s, sql, domain, type, &st, err);
	if (ret)
		return ret;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ret = bk_res_public_json(s, st, &o, err);
		if (ret)
			goto out;
		ret = cb(arg, o);
		json_object_put(o);
		if (ret)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = bk_store_sqlerr(s, rc, "cannot list resources", err);
out:
	sqlite3_finalize(st);
	return ret;
}

int bk_resource_names(struct bk_store *s, const char *domain,
		      const char *type,
		      int (*cb)(void *arg, const char *name), void *arg,
		      struct bk_err *err)
{
	static const char *const sql[4] = {
		"SELECT DISTINCT name FROM resources ORDER BY name",
		"SELECT DISTINCT name FROM resources WHERE domain = ?1"
		" ORDER BY name",
		"SELECT DISTINCT name FROM resources WHERE type = ?2"
		" ORDER BY name",
		"SELECT DISTINCT name FROM resources"
		" WHERE domain = ?1 AND type = ?2 ORDER BY name",
	};
	sqlite3_stmt *st = NULL;
	int rc, ret;

	ret = prepare_filtered(s, sql, domain, type, &st, err);
	if (ret)
		return ret;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ret = cb(arg, (const char *)sqlite3_column_text(st, 0));
		if (ret)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = bk_store_sqlerr(s, rc, "cannot list resources", err);
out:
	sqlite3_finalize(st);
	return ret;
}

/* ---- import ---- */

/* A string member of a line, required. */
static int line_str(json_object *obj, const char *field, const char **v,
		    struct bk_err *err)
{
	json_object *o;

	if (!json_object_object_get_ex(obj, field, &o))
		return bk_errf(err, -EINVAL, "\"%s\" is missing", field);
	if (!json_object_is_type(o, json_type_string))
		return bk_errf(err, -EINVAL, "\"%s\" must be a string", field);
	*v = json_object_get_string(o);
	return 0;
}

/* One import line (not blank).  known_domain caches
 * the last domain found to exist (within this import's transaction). */
static int import_line(struct bk_store *s, struct bk_rot *rot,
		       json_tokener *tok, const char *line, size_t len,
		       char known_domain[72], struct bk_err *err)
{
	const char *domain = NULL, *type = NULL, *name = NULL, *why = "";
	json_object *obj, *attrs = NULL, *o;
	char id[33];
	int ret;

	obj = parse_strict(tok, line, len, &why);
	if (!json_object_is_type(obj, json_type_object)) {
		ret = bk_errf(err, -EINVAL, "not a JSON object (%s)",
			      obj ? "another JSON value" : why);
		goto out;
	}
	json_object_object_foreach(obj, key, val) {
		(void)val;
		if (strcmp(key, "domain") && strcmp(key, "type") &&
		    strcmp(key, "name") && strcmp(key, "attrs")) {
			ret = bk_errf(err, -EINVAL,
				      "unknown field \"%s\" (allowed: domain, type, name, attrs)",
				      key);
			goto out;
		}
	}
	if ((ret = line_str(obj, "domain", &domain, err)) ||
	    (ret = line_str(obj, "type", &type, err)) ||
	    (ret = line_str(obj, "name", &name, err)))
		goto out;
	if (json_object_object_get_ex(obj, "attrs", &o) && o) {
		if (!json_object_is_type(o, json_type_object)) {
			ret = bk_errf(err, -EINVAL,
				      "\"attrs\" must be a JSON object");
			goto out;
		}
		attrs = json_object_get(o);
	} else {
		attrs = json_object_new_object();
	}
	if (strcmp(domain, known_domain)) {
		ret = domain_check(s, domain, err);
		if (ret)
			goto out;
		snprintf(known_domain, 72, "%s", domain);
	}
	o = json_object_object_get(obj, "name");
	ret = add_obj(s, rot, domain, type, name,
		      (size_t)json_object_get_string_len(o), attrs, id, err);
out:
	json_object_put(attrs);
	json_object_put(obj);
	return ret;
}

static int blank(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return 0;
	return 1;
}

int bk_resource_import(struct bk_store *s, struct bk_rot *rot, FILE *in,
		       long *count, struct bk_err *err)
{
	char known_domain[72] = "", *line = NULL;
	json_tokener *tok = NULL;
	long lineno = 0, done = 0;
	struct bk_err lerr = { 0 };
	struct bk_tx tx;
	int in_tx = 0, ret;
	size_t cap = 0, len;
	ssize_t n;

	if (count)
		*count = 0;
	tok = json_tokener_new();
	if (!tok)
		return bk_errf(err, -ENOMEM, "out of memory");
	errno = 0;
	while ((n = getline(&line, &cap, in)) >= 0) {
		lineno++;
		len = (size_t)n;
		if (blank(line, len))
			continue;
		if (len > IMPORT_LINE_MAX) {
			ret = bk_errf(err, -EINVAL,
				      "line %ld: longer than %d bytes", lineno,
				      IMPORT_LINE_MAX);
			goto out;
		}
		/* The transaction begins with the first line: no write lock
		 * is held while the input is awaited. */
		if (!in_tx && !(ret = bk_tx_begin(s, &tx, err))) {
			in_tx = 1;
			ret = bk_hsm_rot_current(s, rot, err);
		}
		if (ret)
			goto out;
		ret = import_line(s, rot, tok, line, len, known_domain, &lerr);
		if (ret) {
			bk_errf(err, ret, "line %ld: %s", lineno, lerr.msg);
			goto out;
		}
		done++;
	}
	if (ferror(in)) {
		ret = bk_errf(err, errno ? -errno : -EIO,
			      "cannot read the import after line %ld: %s",
			      lineno, strerror(errno ? errno : EIO));
		goto out;
	}
	ret = in_tx ? bk_tx_commit(s, &tx, err) : 0;
	in_tx = 0;
	if (!ret && count)
		*count = done;
out:
	if (ret && in_tx)
		bk_tx_rollback(s, &tx);
	free(line);
	json_tokener_free(tok);
	return ret;
}
