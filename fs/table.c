/* table.c - the layout of the mounted tree, as data.
 *
 * One row per kind of node.  A row names its parent kind and either a
 * literal name or a bind() that recognises a variable name (a domain, a
 * backup id, "<id>.backup", ...).  The parser walks a path from the root
 * matching each component against the rows whose parent is the current
 * kind; listing a directory walks the same rows.  Scope is data too:
 * "system" and "domains/<d>" are both K_SCOPE nodes, the first with no
 * domain, so backups/ and backupkeys/ rows serve both.
 */
#include "bkfs.h"
#include "scpfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


struct bkfs_lister {
	void *buf;
	fuse_fill_dir_t filler;
	int plus;
	const char *dirpath;
	/* bkfs_visible() of the last child (its row and domain decide):
	 * one access check (SQL) serves a listing of 10,000 backups */
	const struct bkfs_row *seen_row;
	int seen_dom;			/* has_domain */
	char seen_domain[NAME_MAX + 1];
	int seen;
};

/* bkfs_visible(child), remembered for the next child of the same row
 * and domain. */
static int list_visible(struct bkfs_lister *l, const struct bkfs_node *child)
{
	if (l->seen_row != child->row || l->seen_dom != child->has_domain ||
	    (child->has_domain && strcmp(l->seen_domain, child->domain))) {
		l->seen = bkfs_visible(child);
		l->seen_row = child->row;
		l->seen_dom = child->has_domain;
		if (child->has_domain)
			snprintf(l->seen_domain, sizeof(l->seen_domain), "%s",
				 child->domain);
	}
	return l->seen;
}

/* ---- binders: a variable component of a path ---- */

static int ok_id(const char *comp)
{
	return comp[0] && strcmp(comp, ".") && strcmp(comp, "..") &&
	       !strchr(comp, '/') &&
	       strlen(comp) < sizeof(((struct bk_backup_info *)0)->id);
}

static int bind_domain(struct bkfs_node *n, const char *comp)
{
	if (bkfs_name_decode(comp, strlen(comp), n->domain,
			     sizeof(n->domain)) < 0)
		return -ENOENT;
	if (!bk_engine_domain_exists(bkfs.engine, n->domain))
		return -ENOENT;
	n->has_domain = 1;
	return 0;
}

static int bind_backup(struct bkfs_node *n, const char *comp)
{
	if (!ok_id(comp))
		return -ENOENT;
	if (bk_backup_get(bkfs.engine, bkfs_dom(n), comp, &n->backup, NULL))
		return -ENOENT;
	snprintf(n->id, sizeof(n->id), "%s", comp);
	return 0;
}

static int bind_archive(struct bkfs_node *n, const char *comp)
{
	size_t il = strlen(n->id);

	if (strncmp(comp, n->id, il) || strcmp(comp + il, ".backup"))
		return -ENOENT;
	return strcmp(n->backup.status, "Completed") ? -ENOENT : 0;
}

static int bind_key(struct bkfs_node *n, const char *comp)
{
	if (!ok_id(comp))
		return -ENOENT;
	if (bk_key_time(bkfs.engine, bkfs_dom(n), comp, &n->key_epoch, NULL))
		return -ENOENT;
	snprintf(n->id, sizeof(n->id), "%s", comp);
	return 0;
}

static int bind_key_export(struct bkfs_node *n, const char *comp)
{
	size_t il = strlen(n->id);

	if (strncmp(comp, n->id, il) || strcmp(comp + il, ".backupkey"))
		return -ENOENT;
	return 0;
}

static int bind_restype(struct bkfs_node *n, const char *comp)
{
	int i;

	for (i = 0; bkfs_resource_types[i]; i++)
		if (!strcmp(comp, bkfs_resource_types[i])) {
			snprintf(n->type, sizeof(n->type), "%s", comp);
			return 0;
		}
	return -ENOENT;
}

/* Existence is checked when the content is built (stat, open). */
static int bind_resource(struct bkfs_node *n, const char *comp)
{
	size_t len = strlen(comp);

	if (len <= 5 || strcmp(comp + len - 5, ".json"))
		return -ENOENT;
	return bkfs_name_decode(comp, len - 5, n->name, sizeof(n->name)) < 0 ?
	       -ENOENT : 0;
}

/* n is still the box (its path is the box's path). */
static int bind_staged(struct bkfs_node *n, const char *comp)
{
	if (bkfs_box_lookup(n, comp))
		return -ENOENT;
	snprintf(n->name, sizeof(n->name), "%s", comp);
	return 0;
}

/* ---- listers: the children of a variable row ----
 *
 * The engine calls its callbacks with its database lock held, so they only
 * collect; stat'ing the children (which calls the engine) comes after. */

struct strvec {
	char **v;
	size_t n, cap;
};

static int strvec_add(void *arg, const char *s)
{
	struct strvec *sv = arg;

	if (sv->n == sv->cap) {
		size_t cap = sv->cap ? sv->cap * 2 : 64;
		char **v = realloc(sv->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		sv->v = v;
		sv->cap = cap;
	}
	sv->v[sv->n] = strdup(s);
	if (!sv->v[sv->n])
		return -ENOMEM;
	sv->n++;
	return 0;
}

static void strvec_free(struct strvec *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
}

static int list_domains(const struct bkfs_node *dir,
			const struct bkfs_row *row, struct bkfs_lister *l)
{
	struct strvec sv = { 0 };
	struct bkfs_node child;
	char comp[NAME_MAX + 1];
	size_t i;
	int r;

	r = bk_engine_domain_names(bkfs.engine, strvec_add, &sv, NULL);
	for (i = 0; !r && i < sv.n; i++) {
		if (bkfs_name_encode(sv.v[i], comp, sizeof(comp)) <= 0)
			continue;
		bkfs_child(dir, row, &child);
		snprintf(child.domain, sizeof(child.domain), "%s", sv.v[i]);
		child.has_domain = 1;
		r = bkfs_list_add(l, &child, comp);
	}
	strvec_free(&sv);
	return r;
}

/* What a listing needs of a backup (not its 4 KiB archive path). */
struct bref {
	char id[sizeof(((struct bk_backup_info *)0)->id)];
	char status[sizeof(((struct bk_backup_info *)0)->status)];
	long long created_epoch, size;
};

struct brefs {
	struct bref *v;
	size_t n, cap;
};

static int list_backup_cb(void *arg, const struct bk_backup_info *b)
{
	struct brefs *bv = arg;

	if (!ok_id(b->id))
		return 0;
	if (bv->n == bv->cap) {
		size_t cap = bv->cap ? bv->cap * 2 : 64;
		struct bref *v = realloc(bv->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		bv->v = v;
		bv->cap = cap;
	}
	memcpy(bv->v[bv->n].id, b->id, sizeof(b->id));
	memcpy(bv->v[bv->n].status, b->status, sizeof(b->status));
	bv->v[bv->n].created_epoch = b->created_epoch;
	bv->v[bv->n].size = b->size;
	bv->n++;
	return 0;
}

static int list_backups(const struct bkfs_node *dir,
			const struct bkfs_row *row, struct bkfs_lister *l)
{
	struct brefs bv = { 0 };
	struct bkfs_node child;
	size_t i;
	int r;

	r = bk_backup_list(bkfs.engine, bkfs_dom(dir), list_backup_cb, &bv,
			   NULL);
	for (i = 0; !r && i < bv.n; i++) {
		bkfs_child(dir, row, &child);
		memset(&child.backup, 0, sizeof(child.backup));
		memcpy(child.backup.id, bv.v[i].id, sizeof(bv.v[i].id));
		memcpy(child.backup.status, bv.v[i].status,
		       sizeof(bv.v[i].status));
		child.backup.created_epoch = bv.v[i].created_epoch;
		child.backup.size = bv.v[i].size;
		snprintf(child.id, sizeof(child.id), "%s", bv.v[i].id);
		r = bkfs_list_add(l, &child, bv.v[i].id);
	}
	free(bv.v);
	return r;
}

static int list_archive(const struct bkfs_node *dir,
			const struct bkfs_row *row, struct bkfs_lister *l)
{
	struct bkfs_node child;
	char comp[NAME_MAX + 1];

	if (strcmp(dir->backup.status, "Completed"))
		return 0;
	snprintf(comp, sizeof(comp), "%s.backup", dir->id);
	bkfs_child(dir, row, &child);
	return bkfs_list_add(l, &child, comp);
}

static int list_keys(const struct bkfs_node *dir, const struct bkfs_row *row,
		     struct bkfs_lister *l)
{
	struct strvec sv = { 0 };
	struct bkfs_node child;
	size_t i;
	int r;

	r = bk_key_ids(bkfs.engine, bkfs_dom(dir), strvec_add, &sv, NULL);
	for (i = 0; !r && i < sv.n; i++) {
		if (!ok_id(sv.v[i]))
			continue;
		bkfs_child(dir, row, &child);
		snprintf(child.id, sizeof(child.id), "%s", sv.v[i]);
		if (bk_key_time(bkfs.engine, bkfs_dom(dir), sv.v[i],
				&child.key_epoch, NULL))
			continue;	/* deleted meanwhile */
		r = bkfs_list_add(l, &child, sv.v[i]);
	}
	strvec_free(&sv);
	return r;
}

static int list_key_export(const struct bkfs_node *dir,
			   const struct bkfs_row *row, struct bkfs_lister *l)
{
	struct bkfs_node child;
	char comp[NAME_MAX + 1];

	snprintf(comp, sizeof(comp), "%s.backupkey", dir->id);
	bkfs_child(dir, row, &child);
	return bkfs_list_add(l, &child, comp);
}

static int list_restypes(const struct bkfs_node *dir,
			 const struct bkfs_row *row, struct bkfs_lister *l)
{
	struct bkfs_node child;
	int i, r;

	for (i = 0; bkfs_resource_types[i]; i++) {
		bkfs_child(dir, row, &child);
		snprintf(child.type, sizeof(child.type), "%s",
			 bkfs_resource_types[i]);
		r = bkfs_list_add(l, &child, bkfs_resource_types[i]);
		if (r)
			return r;
	}
	return 0;
}

static int list_resources(const struct bkfs_node *dir,
			  const struct bkfs_row *row, struct bkfs_lister *l)
{
	struct strvec sv = { 0 };
	struct bkfs_node child;
	char comp[NAME_MAX + 1];
	size_t i;
	int r, len;

	r = bk_engine_resource_names(bkfs.engine, bkfs_dom(dir), dir->type,
				     strvec_add, &sv, NULL);
	for (i = 0; !r && i < sv.n; i++) {
		if (i && !strcmp(sv.v[i], sv.v[i - 1]))
			continue;	/* one file per name */
		len = bkfs_name_encode(sv.v[i], comp, sizeof(comp) - 5);
		if (len <= 0)
			continue;	/* unnamed or too long for a file name */
		strcat(comp, ".json");
		bkfs_child(dir, row, &child);
		snprintf(child.name, sizeof(child.name), "%s", sv.v[i]);
		r = bkfs_list_add(l, &child, comp);
	}
	strvec_free(&sv);
	return r;
}

static int list_staged(const struct bkfs_node *dir,
		       const struct bkfs_row *row, struct bkfs_lister *l)
{
	return bkfs_box_list(dir, row, l);
}

/* ---- literal rows that may be absent ---- */

static int exists_latest(const struct bkfs_node *n)
{
	char *id = NULL;
	int r = bk_backup_latest(bkfs.engine, bkfs_dom(n), &id, NULL);

	free(id);
	return r;
}

static int exists_report(const struct bkfs_node *n)
{
	return bk_backup_report_json(bkfs.engine, bkfs_dom(n), n->id, NULL,
				     NULL, NULL);
}

static int exists_default(const struct bkfs_node *n)
{
	char *id = NULL;
	int r = bk_key_default(bkfs.engine, bkfs_dom(n), &id, NULL);

	free(id);
	return r;
}

/* ---- the table ---- */

#define DIR_MODE	(S_IFDIR | 0755)
#define RO_MODE		(S_IFREG | 0444)
#define CTL_MODE	(S_IFREG | 0644)
#define LNK_MODE	(S_IFLNK | 0777)

static const struct bkfs_row rows[] = {
	{ .kind = K_ROOT, .parent = K_NONE, .name = "", .mode = DIR_MODE,
	  .io = IO_DIR },
	{ .kind = K_README, .parent = K_ROOT, .name = "README",
	  .mode = RO_MODE, .io = IO_CONTENT, .size = SZ_CONTENT,
	  .content = bkfs_content_readme },
	{ .kind = K_STATUS, .parent = K_ROOT, .name = "status",
	  .mode = RO_MODE, .io = IO_CONTENT, .size = SZ_CONTENT,
	  .mtime = MT_NOW, .content = bkfs_content_status },
	{ .kind = K_WAIT, .parent = K_ROOT, .name = "wait", .mode = RO_MODE,
	  .io = IO_WAIT, .size = SZ_CONTENT, .mtime = MT_NOW,
	  .content = bkfs_content_status },
	{ .kind = K_APPLIANCE, .parent = K_ROOT, .name = "appliance.json",
	  .mode = RO_MODE, .io = IO_CONTENT, .size = SZ_CONTENT,
	  .content = bkfs_content_appliance },
	{ .kind = K_PASSPHRASE, .parent = K_ROOT, .name = "passphrase",
	  .mode = S_IFREG | 0222, .io = IO_PASS, .size = SZ_ZERO },
	{ .kind = K_SCOPE, .parent = K_ROOT, .name = "system",
	  .mode = DIR_MODE, .io = IO_DIR },
	{ .kind = K_DOMAINS, .parent = K_ROOT, .name = "domains",
	  .mode = DIR_MODE, .io = IO_DIR },
	{ .kind = K_SCOPE, .parent = K_DOMAINS, .mode = DIR_MODE,
	  .io = IO_DIR, .bind = bind_domain, .list = list_domains },

	/* <scope>/backups/ */
	{ .kind = K_BACKUPS, .parent = K_SCOPE, .name = "backups",
	  .mode = DIR_MODE, .io = IO_DIR },
	{ .kind = K_BACKUPS_CREATE, .parent = K_BACKUPS, .name = "create",
	  .mode = CTL_MODE, .io = IO_CTL_JSON, .size = SZ_CONTENT,
	  .content = bkfs_usage_backups_create,
	  .act = bkfs_act_backup_create },
	{ .kind = K_UPLOAD, .parent = K_BACKUPS, .name = "upload",
	  .mode = DIR_MODE, .io = IO_DIR },
	{ .kind = K_RESTORE, .parent = K_BACKUPS, .name = "restore",
	  .mode = DIR_MODE, .io = IO_DIR },
	{ .kind = K_LATEST, .parent = K_BACKUPS, .name = "latest",
	  .mode = LNK_MODE, .io = IO_LINK, .size = SZ_CONTENT,
	  .exists = exists_latest, .content = bkfs_content_latest },
	{ .kind = K_BACKUP, .parent = K_BACKUPS, .mode = DIR_MODE,
	  .io = IO_DIR, .mtime = MT_BACKUP, .bind = bind_backup,
	  .list = list_backups, .remove = bkfs_remove_backup },
	{ .kind = K_BACKUP_JSON, .parent = K_BACKUP, .name = "backup.json",
	  .mode = RO_MODE, .io = IO_CONTENT, .size = SZ_CONTENT,
	  .mtime = MT_BACKUP, .content = bkfs_content_backup_json },
	{ .kind = K_BACKUP_STATUS, .parent = K_BACKUP, .name = "status",
	  .mode = RO_MODE, .io = IO_CONTENT, .size = SZ_CONTENT,
	  .mtime = MT_BACKUP, .content = bkfs_content_backup_status },
	{ .kind = K_BACKUP_RESTORE, .parent = K_BACKUP, .name = "restore",
	  .mode = CTL_MODE, .io = IO_CTL_JSON, .size = SZ_CONTENT,
	  .content = bkfs_usage_restore,
	  .act = bkfs_act_restore },
	{ .kind = K_BACKUP_REPORT, .parent = K_BACKUP,
	  .name = "restore-report.json", .mode = RO_MODE, .io = IO_CONTENT,
	  .size = SZ_CONTENT, .mtime = MT_REPORT, .exists = exists_report,
	  .content = bkfs_content_backup_report },
	{ .kind = K_ARCHIVE, .parent = K_BACKUP, .mode = RO_MODE,
	  .io = IO_ARCHIVE, .size = SZ_ARCHIVE, .mtime = MT_BACKUP,
	  .bind = bind_archive, .list = list_archive },

	/* <scope>/backupkeys/ */
	{ .kind = K_KEYS, .parent = K_SCOPE, .name = "backupkeys",
	  .mode = DIR_MODE, .io = IO_DIR },
	{ .kind = K_KEYS_CREATE, .parent = K_KEYS, .name = "create",
	  .mode = CTL_MODE, .io = IO_CTL_JSON, .size = SZ_CONTENT,
	  .content = bkfs_usage_keys_create, .act = bkfs_act_key_create },
	{ .kind = K_KEY_UPLOAD, .parent = K_KEYS, .name = "upload",
	  .mode = DIR_MODE, .io = IO_DIR },
	{ .kind = K_KEY_DEFAULT_LINK, .parent = K_KEYS, .name = "default",
	  .mode = LNK_MODE, .io = IO_LINK, .size = SZ_CONTENT,
	  .exists = exists_default, .content = bkfs_content_default_link },
	{ .kind = K_KEY, .parent = K_KEYS, .mode = DIR_MODE, .io = IO_DIR,
	  .mtime = MT_KEY, .bind = bind_key, .list = list_keys,
	  .remove = bkfs_remove_key },
	{ .kind = K_KEY_JSON, .parent = K_KEY, .name = "key.json",
	  .mode = RO_MODE, .io = IO_CONTENT, .size = SZ_CONTENT,
	  .mtime = MT_KEY, .content = bkfs_content_key_json },
	{ .kind = K_KEY_EXPORT, .parent = K_KEY, .mode = S_IFREG | 0400,
	  .io = IO_EXPORT, .size = SZ_EXPORT, .mtime = MT_KEY,
	  .bind = bind_key_export, .list = list_key_export },
	{ .kind = K_KEY_DEFAULT, .parent = K_KEY, .name = "default",
	  .mode = CTL_MODE, .io = IO_CTL_ANY, .size = SZ_CONTENT,
	  .content = bkfs_usage_key_default,
	  .act = bkfs_act_key_default },

	/* domains/<d>/resources/ */
	{ .kind = K_RESOURCES, .parent = K_SCOPE, .name = "resources",
	  .flags = BKFS_R_DOMAIN_ONLY, .mode = DIR_MODE, .io = IO_DIR },
	{ .kind = K_RESTYPE, .parent = K_RESOURCES, .mode = DIR_MODE,
	  .io = IO_DIR, .bind = bind_restype, .list = list_restypes },
	{ .kind = K_RESOURCE, .parent = K_RESTYPE, .mode = RO_MODE,
	  .io = IO_CONTENT, .size = SZ_CONTENT,
	  .content = bkfs_content_resource, .bind = bind_resource,
	  .list = list_resources },

	/* upload boxes: entries live in upload.c's table */
	{ .kind = K_STAGED, .parent = K_UPLOAD, .mode = S_IFREG | 0644,
	  .io = IO_STAGED, .size = SZ_STAGED, .mtime = MT_STAGED,
	  .bind = bind_staged, .list = list_staged },
	{ .kind = K_STAGED, .parent = K_RESTORE, .mode = S_IFREG | 0644,
	  .io = IO_STAGED, .size = SZ_STAGED, .mtime = MT_STAGED,
	  .bind = bind_staged, .list = list_staged },
	{ .kind = K_STAGED, .parent = K_KEY_UPLOAD, .mode = S_IFREG | 0644,
	  .io = IO_STAGED, .size = SZ_STAGED, .mtime = MT_STAGED,
	  .bind = bind_staged, .list = list_staged },

	/* issue 4 (HSM) rows: */
	{ .kind = K_HSM, .parent = K_ROOT, .name = "hsm", .mode = DIR_MODE,
	  .io = IO_DIR },
	{ .kind = K_HSM_STATUS, .parent = K_HSM, .name = "status.json",
	  .mode = RO_MODE, .io = IO_CONTENT, .size = SZ_CONTENT,
	  .mtime = MT_NOW, .content = bkfs_content_hsm_status },
	{ .kind = K_HSM_ROTATE, .parent = K_HSM, .name = "rotate",
	  .mode = CTL_MODE, .io = IO_CTL_JSON, .size = SZ_CONTENT,
	  .content = bkfs_usage_hsm_rotate, .act = bkfs_act_hsm_rotate },
	{ .kind = K_HSM_ACTIVATE, .parent = K_HSM, .name = "activate",
	  .mode = CTL_MODE, .io = IO_CTL_JSON, .size = SZ_CONTENT,
	  .content = bkfs_usage_hsm_activate, .act = bkfs_act_hsm_activate },

	/* issue 5 (schedules, audit) rows: */
	{ .kind = K_SCHEDULES, .parent = K_ROOT, .name = "schedules",
	  .mode = DIR_MODE, .io = IO_DIR },
	{ .kind = K_SCHEDULES_CREATE, .parent = K_SCHEDULES, .name = "create",
	  .mode = CTL_MODE, .io = IO_CTL_JSON, .size = SZ_CONTENT,
	  .content = bkfs_usage_sched_create, .act = bkfs_act_sched_create },
	{ .kind = K_SCHEDULE, .parent = K_SCHEDULES, .mode = DIR_MODE,
	  .io = IO_DIR, .bind = bkfs_bind_schedule,
	  .list = bkfs_list_schedules, .remove = bkfs_remove_schedule },
	{ .kind = K_SCHEDULE_CONFIG, .parent = K_SCHEDULE,
	  .name = "config.json", .mode = RO_MODE, .io = IO_CONTENT,
	  .size = SZ_CONTENT, .mtime = MT_NOW,
	  .content = bkfs_content_sched_config },
	{ .kind = K_SCHEDULE_RUN_NOW, .parent = K_SCHEDULE, .name = "run-now",
	  .mode = CTL_MODE, .io = IO_CTL_ANY, .size = SZ_CONTENT,
	  .content = bkfs_usage_sched_run_now,
	  .act = bkfs_act_sched_run_now },
	{ .kind = K_SCHEDULE_RUNS, .parent = K_SCHEDULE, .name = "runs",
	  .mode = RO_MODE, .io = IO_CONTENT, .size = SZ_CONTENT,
	  .mtime = MT_NOW, .content = bkfs_content_sched_runs },
	{ .kind = K_AUDIT, .parent = K_ROOT, .name = "audit", .mode = RO_MODE,
	  .io = IO_STREAM, .size = SZ_STREAM, .mtime = MT_NOW,
	  .stream_size = bkfs_audit_size, .stream_read = bkfs_audit_read },

	/* issue 5 (SCP/SFTP, connections) rows: */
	{ .kind = K_SCP_DIR, .parent = K_ROOT, .name = "scp",
	  .mode = DIR_MODE, .io = IO_DIR },
	{ .kind = K_SCP_PUBKEY, .parent = K_SCP_DIR, .name = "public-key",
	  .mode = RO_MODE, .io = IO_CONTENT, .size = SZ_CONTENT,
	  .content = bkfs_scp_public_key },
	{ .kind = K_SCP_ROTATE, .parent = K_SCP_DIR, .name = "rotate",
	  .mode = CTL_MODE, .io = IO_CTL_ANY, .size = SZ_CONTENT,
	  .content = bkfs_scp_usage, .act = bkfs_scp_act_rotate },
	{ .kind = K_CONNS, .parent = K_ROOT, .name = "connections",
	  .mode = DIR_MODE, .io = IO_DIR },
	{ .kind = K_CONNS_SCP, .parent = K_CONNS, .name = "scp",
	  .mode = DIR_MODE, .io = IO_DIR },
	{ .kind = K_CONN_CREATE, .parent = K_CONNS_SCP, .name = "create",
	  .mode = CTL_MODE, .io = IO_CTL_JSON, .size = SZ_CONTENT,
	  .content = bkfs_scp_usage, .act = bkfs_scp_act_create },
	{ .kind = K_CONN, .parent = K_CONNS_SCP, .mode = DIR_MODE,
	  .io = IO_DIR, .bind = bkfs_scp_bind_conn,
	  .list = bkfs_scp_list_conns, .remove = bkfs_scp_remove_conn },
	{ .kind = K_CONN_JSON, .parent = K_CONN, .name = "connection.json",
	  .mode = RO_MODE, .io = IO_CONTENT, .size = SZ_CONTENT,
	  .content = bkfs_scp_conn_json },
	{ .kind = K_CONN_TEST, .parent = K_CONN, .name = "test",
	  .mode = CTL_MODE, .io = IO_CTL_ANY, .size = SZ_CONTENT,
	  .content = bkfs_scp_usage, .act = bkfs_scp_act_test },
	{ .kind = K_BACKUP_SCP, .parent = K_BACKUP, .name = "scp",
	  .mode = CTL_MODE, .io = IO_CTL_JSON, .size = SZ_CONTENT,
	  .mtime = MT_BACKUP, .content = bkfs_scp_usage,
	  .act = bkfs_scp_act_transfer },
	{ .kind = K_SCP_STATUS_DIR, .parent = K_BACKUP, .name = "scp-status",
	  .mode = DIR_MODE, .io = IO_DIR, .mtime = MT_BACKUP,
	  .exists = bkfs_scp_exists_status },
	{ .kind = K_SCP_STATUS, .parent = K_SCP_STATUS_DIR, .mode = RO_MODE,
	  .io = IO_CONTENT, .size = SZ_CONTENT, .mtime = MT_NOW,
	  .content = bkfs_scp_xfer_json, .bind = bkfs_scp_bind_xfer,
	  .list = bkfs_scp_list_xfers },
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

static int row_applies(const struct bkfs_row *r, const struct bkfs_node *dir)
{
	return !(r->flags & BKFS_R_DOMAIN_ONLY) || dir->has_domain;
}

void bkfs_child(const struct bkfs_node *dir, const struct bkfs_row *r,
		struct bkfs_node *child)
{
	*child = *dir;
	child->row = r;
}

/* ---- the parser ---- */

static int step(struct bkfs_node *n, const char *comp)
{
	const struct bkfs_row *parent = n->row;
	size_t i;

	for (i = 0; i < NROWS; i++) {
		const struct bkfs_row *r = &rows[i];

		if (r->parent != parent->kind || !r->name ||
		    strcmp(r->name, comp) || !row_applies(r, n))
			continue;
		n->row = r;
		if (r->exists && r->exists(n))
			return -ENOENT;
		return 0;
	}
	for (i = 0; i < NROWS; i++) {
		const struct bkfs_row *r = &rows[i];

		if (r->parent != parent->kind || r->name || !r->bind ||
		    !row_applies(r, n))
			continue;
		if (r->bind(n, comp) == 0) {
			n->row = r;
			return 0;
		}
	}
	return -ENOENT;
}

int bkfs_parse(const char *path, struct bkfs_node *n)
{
	const char *p = path, *end;
	char comp[NAME_MAX + 1];
	size_t len;
	int r;

	memset(n, 0, sizeof(*n));
	n->row = &rows[0];
	if (!path || path[0] != '/')
		return -ENOENT;
	if (strlen(path) >= sizeof(n->path))
		return -ENAMETOOLONG;
	n->path[0] = '\0';
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		if (len >= sizeof(comp))
			return -ENAMETOOLONG;
		if (n->row->io != IO_DIR)
			return -ENOTDIR;
		memcpy(comp, p, len);
		comp[len] = '\0';
		/* bind() sees the parent's path (upload boxes need it) */
		r = step(n, comp);
		if (r)
			return r;
		strcat(n->path, "/");
		strcat(n->path, comp);
		p = end;
	}
	if (!n->path[0])
		strcpy(n->path, "/");
	/* A caller without any role gets EACCES on everything below the
	 * root (the same answer for every path, so it reveals nothing);
	 * for the others, what they may not see does not exist. */
	if (bkfs_visible(n))
		return 0;
	return bkfs_allowed(BK_ACT_SEE_ANY, NULL) ? -ENOENT : -EACCES;
}

int bkfs_parse_parent(const char *path, struct bkfs_node *dir,
		      const char **base)
{
	char parent[PATH_MAX];
	const char *slash = path ? strrchr(path, '/') : NULL;
	size_t len;

	if (!slash || !slash[1])
		return -ENOENT;
	len = (size_t)(slash - path);
	if (len >= sizeof(parent))
		return -ENAMETOOLONG;
	memcpy(parent, path, len);
	parent[len] = '\0';
	*base = slash + 1;
	if (strlen(*base) > NAME_MAX)
		return -ENAMETOOLONG;
	return bkfs_parse(len ? parent : "/", dir);
}

/* ---- listing ---- */

int bkfs_list_add(struct bkfs_lister *l, struct bkfs_node *child,
		  const char *comp)
{
	struct stat st;
	int n;

	n = snprintf(child->path, sizeof(child->path), "%s/%s",
		     strcmp(l->dirpath, "/") ? l->dirpath : "", comp);
	if (n < 0 || (size_t)n >= sizeof(child->path))
		return 0;
	if (!list_visible(l, child))
		return 0;		/* never reveal a hidden name */
	if (l->plus) {
		if (bkfs_stat(child, &st))
			return 0;	/* vanished meanwhile */
		return l->filler(l->buf, comp, &st, 0, FUSE_FILL_DIR_PLUS) ?
		       -ENOBUFS : 0;
	}
	memset(&st, 0, sizeof(st));
	st.st_mode = child->row->mode;
	st.st_ino = bk_path_ino(child->path);
	return l->filler(l->buf, comp, &st, 0, 0) ? -ENOBUFS : 0;
}

int bkfs_list(const struct bkfs_node *dir, void *buf, fuse_fill_dir_t filler,
	      int plus)
{
	struct bkfs_lister l = { .buf = buf, .filler = filler, .plus = plus,
				 .dirpath = dir->path };
	struct bkfs_node child;
	struct stat st;
	size_t i;
	int r;

	if (dir->row->io != IO_DIR)
		return -ENOTDIR;
	if (bkfs_stat(dir, &st))
		return -ENOENT;
	filler(buf, ".", &st, 0, plus ? FUSE_FILL_DIR_PLUS : 0);
	{				/* glibc hides entries with ino 0 */
		char parent[PATH_MAX];
		char *slash;

		snprintf(parent, sizeof(parent), "%s", dir->path);
		slash = strrchr(parent, '/');
		if (slash)
			slash[slash == parent] = '\0';
		st.st_ino = bk_path_ino(parent);
	}
	filler(buf, "..", &st, 0, 0);
	for (i = 0; i < NROWS; i++) {
		const struct bkfs_row *row = &rows[i];

		if (row->parent != dir->row->kind || !row_applies(row, dir))
			continue;
		if (row->name) {
			bkfs_child(dir, row, &child);
			if (row->exists && row->exists(&child))
				continue;
			r = bkfs_list_add(&l, &child, row->name);
		} else {
			r = row->list ? row->list(dir, row, &l) : 0;
		}
		if (r == -ENOBUFS)
			return 0;
		if (r)
			return r;
	}
	return 0;
}
