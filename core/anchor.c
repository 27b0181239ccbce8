/* anchor.c - HSM-anchored domains: a domain whose key material is wrapped
 * by a key on a PKCS#11 token.
 *
 * The domain's "hsm" column (backed-up data) holds the identity of its
 * key, "pkcs11:token=T;id=...;object=L": nothing about how to reach it.
 * How to reach a token other than the root of trust's (module, PIN
 * source) is appliance-local configuration, the setting "hsm_token:<T>",
 * never in a backup; on the root of trust's token the domain keys share
 * its session.  The engine binds each anchored domain to its key (hsm/
 * rot_bind.c) at open and after a system restore; the store's wrap and
 * unwrap calls then pick the domain's key with bk_rot_for.
 */
#include "hsm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

int bk_hsm_bind_domains(struct bk_engine *e, struct bk_store *s)
{
	sqlite3_stmt *st;
	int ret = 0;

	if (sqlite3_prepare_v2(bk_store_db(s), "SELECT substr(key, 11), value"
			       " FROM settings WHERE key LIKE 'hsm_token:%'",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	while (!ret && sqlite3_step(st) == SQLITE_ROW) {
		const char *tok = (const char *)sqlite3_column_text(st, 0);
		const char *conn = (const char *)sqlite3_column_text(st, 1);

		ret = bk_rot_connection(e->rot, tok, conn, NULL);
	}
	sqlite3_finalize(st);
	bk_rot_unbind_all(e->rot);
	if (sqlite3_prepare_v2(bk_store_db(s), "SELECT name, hsm FROM domains"
			       " WHERE hsm IS NOT NULL", -1, &st,
			       NULL) != SQLITE_OK)
		return -EIO;
	/* An unreachable key is bound as such: its domain's secrets give
	 * the reason when used, the rest of the appliance works. */
	while (sqlite3_step(st) == SQLITE_ROW)
		bk_rot_bind(e->rot, (const char *)sqlite3_column_text(st, 0),
			    (const char *)sqlite3_column_text(st, 1), NULL);
	sqlite3_finalize(st);
	return ret;
}

int bk_hsm_bind_header(struct bk_engine *e, json_object *header,
		       struct bk_err *err)
{
	json_object *doms;
	int ret = 0;

	bk_rot_unbind_all(e->rot);
	if (!json_object_object_get_ex(header, "hsmDomains", &doms) ||
	    !json_object_is_type(doms, json_type_object))
		return 0;
	json_object_object_foreach(doms, name, uri) {
		ret = bk_rot_bind(e->rot, name, json_object_get_string(uri),
				  err);
		if (ret)
			break;
	}
	return ret;
}

int bk_hsm_domains(struct bk_engine *e, const char *domain, json_object **out,
		   struct bk_err *err)
{
	sqlite3_stmt *st;
	int ret = 0;

	*out = NULL;
	pthread_mutex_lock(&e->db_lock);
	if (sqlite3_prepare_v2(bk_store_db(e->store), "SELECT name, hsm FROM"
			       " domains WHERE hsm IS NOT NULL AND"
			       " (?1 IS NULL OR name = ?1) ORDER BY name", -1,
			       &st, NULL) != SQLITE_OK) {
		ret = bk_db_err(e->store, err);
		goto out;
	}
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (!*out)
			*out = json_object_new_object();
		json_object_object_add(*out,
			(const char *)sqlite3_column_text(st, 0),
			json_object_new_string(
				(const char *)sqlite3_column_text(st, 1)));
	}
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&e->db_lock);
	if (!ret && *out) {	/* every key must be reachable */
		json_object *h = json_object_new_object();

		json_object_object_add(h, "hsmDomains", json_object_get(*out));
		ret = bk_tie_check(e, h, err);
		json_object_put(h);
		if (ret) {
			json_object_put(*out);
			*out = NULL;
		}
	}
	return ret;
}

int bk_hsm_domain_key(struct bk_engine *e, const char *name, char **uri,
		      struct bk_err *err)
{
	sqlite3_stmt *st;
	int ret = 0;

	*uri = NULL;
	pthread_mutex_lock(&e->db_lock);
	if (sqlite3_prepare_v2(bk_store_db(e->store), "SELECT hsm FROM domains"
			       " WHERE name = ?1 AND hsm IS NOT NULL", -1, &st,
			       NULL) != SQLITE_OK) {
		ret = bk_db_err(e->store, err);
	} else {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW &&
		    !(*uri = strdup((const char *)sqlite3_column_text(st, 0))))
			ret = bk_errf(err, -ENOMEM, "out of memory");
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&e->db_lock);
	return ret;
}

int bk_hsm_domain_create(struct bk_engine *e, const char *name,
			 const char *uri, struct bk_err *err)
{
	struct bk_rot *rot = NULL;
	char *id = NULL, *conn = NULL, key[64];
	int other = 0, ret;

	if (uri) {
		ret = bk_rot_open_uri(e->rot, uri, 1, &rot, err);
		if (ret)
			return ret;
		id = bk_rot_identity(rot);
		conn = bk_rot_uri(rot);
		if (!id || !conn) {
			ret = bk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
		other = strcmp(bk_rot_token(rot), bk_rot_token(e->rot)) != 0;
		snprintf(key, sizeof(key), "hsm_token:%s", bk_rot_token(rot));
	}
	pthread_mutex_lock(&e->db_lock);
	ret = bk_store_begin(e->store, err);
	if (!ret) {
		if (other)
			ret = bk_setting_set(e->store, key, conn, err);
		if (!ret)
			ret = bk_domain_add(e->store, name, id, err);
		if (!ret && other)
			ret = bk_rot_connection(e->rot, bk_rot_token(rot), conn,
						err);
		if (!ret && id)
			ret = bk_rot_bind(e->rot, name, id, err);
		if (!ret)
			ret = bk_key_create_in(e, e->store, name, NULL, 1, NULL,
					       err);
		if (ret)
			bk_store_rollback(e->store);
		else
			ret = bk_store_commit(e->store, err);
	}
	if (ret && id)		/* the database is the truth */
		bk_hsm_bind_domains(e, e->store);
	pthread_mutex_unlock(&e->db_lock);
out:
	free(id);
	free(conn);
	bk_rot_free(rot);
	return ret;
}
