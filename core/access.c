/* access.c - the access policy: who (a user or a group) holds which role,
 * and the decision of whether a caller may do an action in a scope.
 *
 * The seed's roles:
 *   admin                 (Application Administrator) everything in the
 *                         system scope (rotating the root of trust too:
 *                         BK_ACT_HSM), and in the domain scope of the root
 *                         domain only; may see every domain's listings
 *   backup-admin          see and create system backups; no restore, no keys
 *   domain-admin D        everything in domain D; never the system scope
 *   domain-backup-admin D see and create D's backups; no restore, no keys
 * uid 0 and the uid the process runs as (the daemon's: who mounted) own
 * the appliance (and its state directory): they may do everything, in
 * every domain, whatever the policy says.
 *
 * The policy is read on every decision (a small table, one query) so that
 * `backupctl access grant|revoke` takes effect on a mounted tree at once.
 * Its table is created by the first grant; with none, nobody but the
 * owners may use the tree.
 */
#include "engine_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

static const char *const roles[] = {
	"admin", "backup-admin", "domain-admin", "domain-backup-admin", NULL
};

static int role_valid(const char *role)
{
	int i;

	for (i = 0; roles[i]; i++)
		if (!strcmp(role, roles[i]))
			return 1;
	return 0;
}

static int role_needs_domain(const char *role)
{
	return !strncmp(role, "domain-", 7);
}

static int is_root_domain(const char *domain)
{
	return domain && !strcmp(domain, "root");
}

/* Does one grant (role, rdom: '' for system roles) allow action in
 * domain (NULL: system)? */
static int grants(const char *role, const char *rdom, int action,
		  const char *domain)
{
	if (!strcmp(role, "admin")) {
		switch (action) {
		case BK_ACT_SEE:
		case BK_ACT_SEE_ANY:
		case BK_ACT_SEE_DOMAINS:
		case BK_ACT_RESOURCES:
			return 1;
		default:	/* acts: system, or the root domain only */
			return !domain || is_root_domain(domain);
		}
	}
	if (!strcmp(role, "backup-admin"))
		return action == BK_ACT_SEE_ANY ||
		       (!domain && (action == BK_ACT_SEE ||
				    action == BK_ACT_BACKUP));
	if (action == BK_ACT_SEE_ANY || action == BK_ACT_SEE_DOMAINS)
		return 1;
	if (!domain || strcmp(domain, rdom))
		return 0;
	if (!strcmp(role, "domain-admin"))
		return 1;
	if (!strcmp(role, "domain-backup-admin"))
		return action == BK_ACT_SEE || action == BK_ACT_BACKUP;
	return 0;
}

static int in_groups(const struct bk_caller *c, long long gid)
{
	int i;

	if ((long long)c->gid == gid)
		return 1;
	for (i = 0; c->groups && i < c->ngroups; i++)
		if ((long long)c->groups[i] == gid)
			return 1;
	return 0;
}

int bk_access_allowed(struct bk_engine *e, const struct bk_caller *c,
		      int action, const char *domain)
{
	sqlite3_stmt *st = NULL;
	int ok = 0, rc;

	if (!e || !c)
		return 0;
	/* the appliance's owners: root and the daemon's own uid may do
	 * everything (they own the state directory anyway) */
	if (c->uid == 0 || c->uid == getuid())
		return 1;
	pthread_mutex_lock(&e->db_lock);
	rc = sqlite3_prepare_v2(bk_store_db(e->store),
				"SELECT principal_kind, principal_id, role, "
				"domain FROM access", -1, &st, NULL);
	while (rc == SQLITE_OK && !ok && sqlite3_step(st) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(st, 0);
		long long id = sqlite3_column_int64(st, 1);
		const char *role = (const char *)sqlite3_column_text(st, 2);
		const char *rdom = (const char *)sqlite3_column_text(st, 3);

		if (!kind || !role)
			continue;
		if (!strcmp(kind, "user") ? (long long)c->uid != id :
		    !in_groups(c, id))
			continue;
		ok = grants(role, rdom ? rdom : "", action, domain);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&e->db_lock);
	return ok;
}

static int check_grant(const char *kind, long long id, const char *role,
		       const char *domain, struct bk_err *err)
{
	if (!kind || (strcmp(kind, "user") && strcmp(kind, "group")))
		return bk_errf(err, -EINVAL, "principal must be a user or a "
			       "group");
	if (id < 0 || id > (long long)UINT32_MAX)
		return bk_errf(err, -EINVAL, "%s id %lld out of range", kind,
			       id);
	if (!role || !role_valid(role))
		return bk_errf(err, -EINVAL, "unknown role '%s' (admin, "
			       "backup-admin, domain-admin, "
			       "domain-backup-admin)", role ? role : "");
	if (role_needs_domain(role) && (!domain || !*domain))
		return bk_errf(err, -EINVAL, "role %s needs a domain", role);
	if (!role_needs_domain(role) && domain && *domain)
		return bk_errf(err, -EINVAL, "role %s is not scoped to a "
			       "domain", role);
	return 0;
}

static int exec_grant(struct bk_engine *e, const char *sql, const char *kind,
		      long long id, const char *role, const char *domain,
		      struct bk_err *err)
{
	sqlite3 *db = bk_store_db(e->store);
	sqlite3_stmt *st = NULL;
	int ret = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return bk_db_err(e->store, err);
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, domain ? domain : "", -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		ret = bk_db_err(e->store, err);
	else if (sqlite3_changes(db) == 0)
		ret = 1;
	sqlite3_finalize(st);
	return ret;
}

int bk_access_grant(struct bk_engine *e, const char *kind, long long id,
		    const char *role, const char *domain, struct bk_err *err)
{
	char target[128];
	int ret;

	ret = check_grant(kind, id, role, domain, err);
	if (ret)
		return ret;
	pthread_mutex_lock(&e->db_lock);
	if (domain && *domain && !bk_domain_exists(e->store, domain)) {
		ret = bk_errf(err, -ENOENT, "no domain '%s'", domain);
	} else {
		ret = exec_grant(e, "INSERT OR IGNORE INTO access("
				 "principal_kind, principal_id, role, domain) "
				 "VALUES(?1, ?2, ?3, ?4)", kind, id, role,
				 domain, err);
		if (ret > 0)
			ret = 0;
	}
	pthread_mutex_unlock(&e->db_lock);
	if (!ret) {
		snprintf(target, sizeof(target), "%s:%lld", kind, id);
		bk_audit(e, getuid(), "access-grant", target, "ok", role);
	}
	return ret;
}

int bk_access_revoke(struct bk_engine *e, const char *kind, long long id,
		     const char *role, const char *domain,
		     struct bk_err *err)
{
	char target[128];
	int ret;

	ret = check_grant(kind, id, role, domain, err);
	if (ret)
		return ret;
	pthread_mutex_lock(&e->db_lock);
	ret = exec_grant(e, "DELETE FROM access WHERE principal_kind = ?1 "
			 "AND principal_id = ?2 AND role = ?3 AND "
			 "domain = ?4", kind, id, role, domain, err);
	pthread_mutex_unlock(&e->db_lock);
	if (ret > 0)
		return bk_errf(err, -ENOENT, "%s %lld does not hold role %s%s%s",
			       kind, id, role, domain && *domain ? " of " : "",
			       domain && *domain ? domain : "");
	if (!ret) {
		snprintf(target, sizeof(target), "%s:%lld", kind, id);
		bk_audit(e, getuid(), "access-revoke", target, "ok", role);
	}
	return ret;
}

struct grant_row {
	char kind[8], role[32], *domain;
	long long id;
};

int bk_access_foreach(struct bk_engine *e,
		      int (*cb)(void *arg, const char *kind, long long id,
				const char *role, const char *domain),
		      void *arg, struct bk_err *err)
{
	struct grant_row *v = NULL, *nv;
	size_t n = 0, cap = 0, i;
	sqlite3_stmt *st = NULL;
	int ret = 0, rc;

	pthread_mutex_lock(&e->db_lock);
	if (sqlite3_prepare_v2(bk_store_db(e->store),
			       "SELECT principal_kind, principal_id, role, "
			       "domain FROM access ORDER BY principal_kind "
			       "DESC, principal_id, role, domain", -1, &st,
			       NULL) != SQLITE_OK) {
		ret = bk_db_err(e->store, err);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *dom = (const char *)sqlite3_column_text(st, 3);

		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				ret = bk_errf(err, -ENOMEM, "out of memory");
				goto out;
			}
			v = nv;
		}
		snprintf(v[n].kind, sizeof(v[n].kind), "%s",
			 (const char *)sqlite3_column_text(st, 0));
		v[n].id = sqlite3_column_int64(st, 1);
		snprintf(v[n].role, sizeof(v[n].role), "%s",
			 (const char *)sqlite3_column_text(st, 2));
		v[n].domain = dom && *dom ? strdup(dom) : NULL;
		n++;
	}
	if (rc != SQLITE_DONE)
		ret = bk_db_err(e->store, err);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&e->db_lock);
	for (i = 0; !ret && i < n; i++)
		ret = cb(arg, v[i].kind, v[i].id, v[i].role, v[i].domain);
	for (i = 0; i < n; i++)
		free(v[i].domain);
	free(v);
	return ret;
}
