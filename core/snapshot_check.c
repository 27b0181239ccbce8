/* snapshot_check.c - the checks every payload line passes before anyone
 * sees it (snapshot_read.c reads the lines and runs them).
 */
#include "snapshot_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/printbuf.h>
#include <openssl/crypto.h>

#include "audit.h"
#include "crypto.h"
#include "snapshot_parse.h"

#define MATERIAL_MAX 4096		/* bytes; bk_rot_wrap's limit */
#define TOK_SCRATCH (64 * 1024)		/* > base64 of MATERIAL_MAX */
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

int bk_snap_state_init(struct bk_snap_state *st)
{
	memset(st, 0, sizeof(*st));
	st->total = -1;
	st->tok = json_tokener_new();
	st->domains = json_object_new_object();
	st->md = EVP_MD_CTX_new();
	if (!st->tok || !st->domains || !st->md)
		return -ENOMEM;
	json_tokener_set_flags(st->tok, JSON_TOKENER_STRICT);
	/* Grown once, up front: see bk_snap_wipe_line. */
	if (printbuf_memset(st->tok->pb, 0, 0, TOK_SCRATCH) < 0)
		return -ENOMEM;
	printbuf_reset(st->tok->pb);
	return 0;
}

void bk_snap_state_free(struct bk_snap_state *st)
{
	json_object_put(st->domains);
	if (st->tok)
		json_tokener_free(st->tok);
	EVP_MD_CTX_free(st->md);	/* wipes what it held */
	st->md = NULL;
	st->domains = NULL;
	st->tok = NULL;
}

enum { F_STR = 1, F_INT = 2, F_OBJ = 4, F_NULL = 8, F_OPT = 16 };

struct field {
	const char *name;
	int flags;
};

static const struct field head_fields[] = {
	{ "kind", F_STR }, { "format", F_INT }, { "scope", F_STR },
	{ "domain", F_STR | F_NULL }, { "total", F_INT | F_OPT }, { NULL, 0 }
};
static const struct field domain_fields[] = {
	{ "t", F_STR }, { "name", F_STR }, { "hsm", F_STR | F_NULL },
	{ "createdAt", F_STR }, { NULL, 0 }
};
static const struct field resource_fields[] = {
	{ "t", F_STR }, { "id", F_STR }, { "domain", F_STR }, { "type", F_STR },
	{ "name", F_STR }, { "version", F_INT }, { "attrs", F_OBJ },
	{ "fingerprint", F_STR | F_NULL | F_OPT }, { "createdAt", F_STR },
	{ "material", F_STR | F_OPT }, { NULL, 0 }
};
static const struct field member_fields[] = {
	{ "t", F_STR }, { "domain", F_STR }, { "group", F_STR },
	{ "user", F_STR }, { NULL, 0 }
};
static const struct field link_fields[] = {
	{ "t", F_STR }, { "domain", F_STR }, { "policy", F_STR },
	{ "key", F_STR }, { NULL, 0 }
};
static const struct field end_fields[] = {
	{ "t", F_STR }, { "counts", F_OBJ }, { NULL, 0 }
};

static int check_fields(json_object *o, const struct field *fields,
			struct bk_err *err)
{
	const struct field *f;
	int ok;

	json_object_object_foreach(o, key, val) {
		for (f = fields; f->name && strcmp(f->name, key); f++)
			;
		if (!f->name)
			return bk_errf(err, -EINVAL, "unknown field \"%s\"", key);
		if (!val)
			ok = f->flags & F_NULL;
		else if (json_object_is_type(val, json_type_string))
			ok = f->flags & F_STR;
		else if (json_object_is_type(val, json_type_int))
			ok = f->flags & F_INT;
		else if (json_object_is_type(val, json_type_object))
			ok = f->flags & F_OBJ;
		else
			ok = 0;
		if (!ok)
			return bk_errf(err, -EINVAL,
				       "\"%s\" has the wrong type", key);
	}
	for (f = fields; f->name; f++)
		if (!(f->flags & F_OPT) &&
		    !json_object_object_get_ex(o, f->name, NULL))
			return bk_errf(err, -EINVAL, "\"%s\" is missing",
				       f->name);
	return 0;
}


static int64_t get_int(json_object *o, const char *key)
{
	return json_object_get_int64(json_object_object_get(o, key));
}

/* A string member that is a valid name (borrowed). */
static int name_field(json_object *o, const char *key, const char **v,
		      struct bk_err *err)
{
	json_object *s = json_object_object_get(o, key);

	*v = json_object_get_string(s);
	return bk_name_check(key, *v, (size_t)json_object_get_string_len(s),
			     err);
}

/* name (may be NULL) is a domain of a domain line before. */
static int domain_known(struct bk_snap_state *st, const char *name,
			struct bk_err *err)
{
	if (name && st->last_domain[0] && !strcmp(name, st->last_domain))
		return 0;		/* the usual case: rows come by domain */
	if (!name || !json_object_object_get_ex(st->domains, name, NULL))
		return bk_errf(err, -EINVAL,
			       "domain \"%s\" has no domain line before it",
			       name ? name : "");
	if (strlen(name) < sizeof(st->last_domain))
		strcpy(st->last_domain, name);
	return 0;
}

static int known_domain(struct bk_snap_state *st, json_object *o, const char **name,
			struct bk_err *err)
{
	*name = bk_snap_str(o, "domain");
	return domain_known(st, *name, err);
}

static int check_head(struct bk_snap_state *st, json_object *o, struct bk_err *err)
{
	const char *kind = bk_snap_str(o, "kind"), *scope, *domain;
	int ret;

	if (!kind || strcmp(kind, "backupfs-snapshot"))
		return bk_errf(err, -EINVAL,
			       "not a backupfs snapshot (no \"kind\":\"backupfs-snapshot\")");
	ret = check_fields(o, head_fields, err);
	if (ret)
		return ret;
	if (get_int(o, "format") != BK_SNAP_FORMAT)
		return bk_errf(err, -EINVAL,
			       "snapshot format %lld is not supported (this backupfs reads format %d)",
			       (long long)get_int(o, "format"), BK_SNAP_FORMAT);
	scope = bk_snap_str(o, "scope");
	domain = bk_snap_str(o, "domain");
	if (!strcmp(scope, "system")) {
		if (domain)
			return bk_errf(err, -EINVAL,
				       "a system snapshot names no domain");
	} else if (!strcmp(scope, "domain")) {
		if (!bk_domain_name_valid(domain))
			return bk_errf(err, -EINVAL,
				       "a domain snapshot needs a valid domain name");
		st->domain_scope = 1;
		snprintf(st->domain, sizeof(st->domain), "%s", domain);
	} else {
		return bk_errf(err, -EINVAL, "unknown scope \"%s\"", scope);
	}
	if (json_object_object_get_ex(o, "total", NULL)) {
		st->total = get_int(o, "total");
		if (st->total < 0)
			return bk_errf(err, -EINVAL, "\"total\" is negative");
	}
	return 0;
}

static int check_domain(struct bk_snap_state *st, json_object *o, struct bk_err *err)
{
	const char *name;
	int ret;

	ret = check_fields(o, domain_fields, err);
	if (ret)
		return ret;
	name = bk_snap_str(o, "name");
	if (!bk_domain_name_valid(name))
		return bk_errf(err, -EINVAL, "\"%s\" is not a valid domain name",
			       name);
	if (st->domain_scope && strcmp(name, st->domain))
		return bk_errf(err, -EINVAL,
			       "domain %s in a snapshot of domain %s", name,
			       st->domain);
	if (json_object_object_get_ex(st->domains, name, NULL))
		return bk_errf(err, -EINVAL, "domain %s appears twice", name);
	json_object_object_add(st->domains, name, NULL);
	st->n[BK_C_DOMAINS]++;
	return 0;
}

/* Lowercase hex digits.  A table and no branch a byte: with a branch,
 * a million fingerprints of random digits and letters cost 0.3 s of
 * mispredictions in a restore. */
static const unsigned char lowhex[256] = {
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1,
	['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
};

/* s (len bytes) is 64 lowercase hex digits. */
static int hex64(const char *s, size_t len)
{
	unsigned ok = 1;

	if (len != 64)
		return 0;
	for (size_t n = 0; n < 64; n++)
		ok &= lowhex[(unsigned char)s[n]];
	return (int)ok;
}

/* o[key] if it is a string (borrowed; *len its length), else NULL. */
static const char *member(json_object *o, const char *key, size_t *len)
{
	json_object *v;

	*len = 0;
	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

void bk_snap_res_row(const struct bk_snap_res *res, const char *id,
		     const char *domain, struct bk_res_row *out)
{
	memset(out, 0, sizeof(*out));
	out->id = id;
	out->id_len = id == res->id ? res->id_len : 0;
	out->domain = domain;
	out->type = res->type;
	out->type_len = res->type_len;
	out->name = res->name;
	out->name_len = res->name_len;
	out->version = res->version;
	out->attrs = res->attrs;
	out->attrs_len = res->attrs_len;
	out->fingerprint = res->fp;
	out->fp_len = res->fp_len;
	out->created_at = res->created;
	out->created_len = res->created_len;
}

/* A resource line json-c parsed, as bk_snap_res_parse gives it: the
 * strings borrowed from o, attrs printed as json-c prints it. */
static int res_of_json(json_object *o, struct bk_snap_res *r,
		       struct bk_err *err)
{
	r->id = member(o, "id", &r->id_len);
	r->domain = member(o, "domain", &r->domain_len);
	r->type = member(o, "type", &r->type_len);
	r->name = member(o, "name", &r->name_len);
	r->version = get_int(o, "version");
	r->fp = member(o, "fingerprint", &r->fp_len);
	r->created = member(o, "createdAt", &r->created_len);
	r->b64 = member(o, "material", &r->b64_len);
	r->attrs = json_object_to_json_string_length(
		json_object_object_get(o, "attrs"), JSON_FLAGS, &r->attrs_len);
	if (!r->attrs)
		return bk_errf(err, -ENOMEM, "out of memory");
	return 0;
}

int bk_snap_check_resource(struct bk_snap_state *st,
			   const struct bk_snap_res *r, uint8_t **mat,
			   size_t *mlen, struct bk_err *err)
{
	char hex[65];
	int ti, ret;

	if (!r->id_len || r->id_len > BK_ID_MAX || strlen(r->id) != r->id_len)
		return bk_errf(err, -EINVAL, "\"id\" is not a valid id");
	if (r->domain && strlen(r->domain) != r->domain_len)
		return bk_errf(err, -EINVAL,
			       "\"domain\" contains a NUL character");
	if ((ret = domain_known(st, r->domain, err)))
		return ret;
	/* Lengths go to SQLite as they are (bk_snap_res_row): no NUL. */
	ti = r->type && strlen(r->type) == r->type_len ?
		bk_snap_type_index(r->type) : -1;
	if (ti < 0)
		return bk_errf(err, -EINVAL, "\"%s\" is not a resource type",
			       r->type ? r->type : "");
	if (r->created && strlen(r->created) != r->created_len)
		return bk_errf(err, -EINVAL,
			       "\"createdAt\" contains a NUL character");
	if ((ret = bk_name_check("name", r->name, r->name_len, err)))
		return ret;
	if (r->version < 0)
		return bk_errf(err, -EINVAL, "\"version\" is negative");
	if (r->fp && !hex64(r->fp, r->fp_len))
		return bk_errf(err, -EINVAL, "\"fingerprint\" is not a SHA-256");
	if (r->b64) {
		if (strlen(r->b64) != r->b64_len ||
		    r->b64_len > 4 * ((MATERIAL_MAX + 2) / 3) ||
		    bk_b64_decode(r->b64, mat, mlen))
			return bk_errf(err, -EINVAL,
				       "the material of %s '%s' is not base64 of 1 to %d bytes",
				       r->type, r->name, MATERIAL_MAX);
		if (*mlen == 0 || *mlen > MATERIAL_MAX)
			return bk_errf(err, -EINVAL,
				       "the material of %s '%s' is not 1 to %d bytes",
				       r->type, r->name, MATERIAL_MAX);
		bk_sha256_hex_ctx(st->md, *mat, *mlen, hex);
		if (!r->fp || strcmp(r->fp, hex))
			return bk_errf(err, -EINVAL,
				       "the material of %s '%s' does not match its fingerprint",
				       r->type, r->name);
	} else if (ti == BK_C_TYPES) {		/* keys */
		return bk_errf(err, -EINVAL, "key '%s' carries no material",
			       r->name);
	}
	st->n[BK_C_RESOURCES]++;
	st->n[ti]++;
	return 0;
}

static int check_pair(struct bk_snap_state *st, json_object *o,
		      const struct field *fields, const char *a,
		      const char *b, int count, struct bk_err *err)
{
	const char *domain, *v;
	int ret;

	if ((ret = check_fields(o, fields, err)) ||
	    (ret = known_domain(st, o, &domain, err)) ||
	    (ret = name_field(o, a, &v, err)) ||
	    (ret = name_field(o, b, &v, err)))
		return ret;
	st->n[count]++;
	return 0;
}

static int check_end(struct bk_snap_state *st, json_object *o, struct bk_err *err)
{
	json_object *counts, *v;
	int ret;

	ret = check_fields(o, end_fields, err);
	if (ret)
		return ret;
	st->n[BK_C_TOTAL] = st->n[BK_C_DOMAINS] + st->n[BK_C_RESOURCES] +
		st->n[BK_C_MEMBERS] + st->n[BK_C_LINKS];
	counts = json_object_object_get(o, "counts");
	if (json_object_object_length(counts) != BK_C__COUNT)
		return bk_errf(err, -EINVAL,
			       "the end line's counts do not have the %d expected members",
			       BK_C__COUNT);
	for (int i = 0; i < BK_C__COUNT; i++) {
		if (!json_object_object_get_ex(counts, bk_snap_count_names[i],
					       &v) ||
		    !json_object_is_type(v, json_type_int))
			return bk_errf(err, -EINVAL,
				       "the end line has no count of %s",
				       bk_snap_count_names[i]);
		if ((uint64_t)json_object_get_int64(v) != st->n[i] ||
		    json_object_get_int64(v) < 0)
			return bk_errf(err, -EINVAL,
				       "the end line counts %lld %s, the payload has %llu (lines lost or added)",
				       (long long)json_object_get_int64(v),
				       bk_snap_count_names[i],
				       (unsigned long long)st->n[i]);
	}
	if (st->total >= 0 && (uint64_t)st->total != st->n[BK_C_TOTAL])
		return bk_errf(err, -EINVAL,
			       "the first line announces %lld rows, the payload has %llu",
			       (long long)st->total,
			       (unsigned long long)st->n[BK_C_TOTAL]);
	st->ended = 1;
	return 0;
}

int bk_snap_check_line(struct bk_snap_state *st, long lineno,
		       const char *line, size_t len, json_object **out,
		       const char **t, struct bk_snap_res *res, uint8_t **mat,
		       size_t *mlen, struct bk_err *err)
{
	int ret;

	enum json_tokener_error jerr;
	json_object *o;

	if (st->ended)
		return bk_errf(err, -EINVAL, "data after the end line");
	json_tokener_reset(st->tok);
	o = json_tokener_parse_ex(st->tok, line, (int)len);
	jerr = json_tokener_get_error(st->tok);
	if (!o || jerr != json_tokener_success ||
	    json_tokener_get_parse_end(st->tok) != len ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		if (jerr == json_tokener_continue)
			return bk_errf(err, -EINVAL,
				       "incomplete JSON (the line is cut short)");
		return bk_errf(err, -EINVAL, "not a JSON object%s%s",
			       jerr != json_tokener_success ? ": " : "",
			       jerr != json_tokener_success ?
			       json_tokener_error_desc(jerr) : "");
	}
	*out = o;
	if (lineno == 1) {
		*t = "head";
		return check_head(st, o, err);
	}
	*t = bk_snap_str(o, "t");
	if (!*t)
		return bk_errf(err, -EINVAL, "no \"t\" (the kind of row)");
	if (!strcmp(*t, "resource")) {
		if ((ret = check_fields(o, resource_fields, err)) ||
		    (ret = res_of_json(o, res, err)))
			return ret;
		return bk_snap_check_resource(st, res, mat, mlen, err);
	}
	if (!strcmp(*t, "domain"))
		return check_domain(st, o, err);
	if (!strcmp(*t, "member"))
		return check_pair(st, o, member_fields, "group", "user",
				  BK_C_MEMBERS, err);
	if (!strcmp(*t, "link"))
		return check_pair(st, o, link_fields, "policy", "key",
				  BK_C_LINKS, err);
	if (!strcmp(*t, "end"))
		return check_end(st, o, err);
	if (!strcmp(*t, "audit"))
		return bk_audit_snap_check(o, err);
	return bk_errf(err, -EINVAL, "unknown row kind \"%s\"", *t);
}

void bk_snap_wipe_line(struct bk_snap_state *st, json_object *o, char *line,
		       size_t len)
{
	json_object *m;

	if (o && json_object_object_get_ex(o, "material", &m) &&
	    json_object_is_type(m, json_type_string))
		OPENSSL_cleanse((char *)json_object_get_string(m),
				(size_t)json_object_get_string_len(m));
	/* json-c 0.16 has no accessor for the tokener's scratch buffer. */
	OPENSSL_cleanse(st->tok->pb->buf,
			(size_t)st->tok->pb->size < len + 1 ?
			(size_t)st->tok->pb->size : len + 1);
	OPENSSL_cleanse(line, len);
}
