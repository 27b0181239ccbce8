/* content.c - what generated files contain.
 *
 * Each builder returns a new buffer (caller frees) and its length.  They
 * run both at getattr (to report the exact size) and at open (the content
 * kept in the file handle), so they must be deterministic for a given
 * state.  JSON texts end with a newline, for cat.
 */
#include "bkfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bkfs_text(const char *s, char **buf, size_t *len)
{
	*len = strlen(s);
	*buf = malloc(*len + 1);
	if (!*buf)
		return -ENOMEM;
	memcpy(*buf, s, *len + 1);
	return 0;
}

/* r and s: what an engine call gave.  Takes ownership of s; appends "\n"
 * if missing. */
static int own_line(int r, char *s, char **buf, size_t *len)
{
	size_t n;
	char *t;

	if (r) {
		free(s);
		return r;
	}
	if (!s)
		return -EIO;
	n = strlen(s);
	if (n && s[n - 1] == '\n') {
		*buf = s;
		*len = n;
		return 0;
	}
	t = realloc(s, n + 2);
	if (!t) {
		free(s);
		return -ENOMEM;
	}
	t[n] = '\n';
	t[n + 1] = '\0';
	*buf = t;
	*len = n + 1;
	return 0;
}

static const char readme[] =
"backupfs - backups of this appliance as files\n"
"\n"
"  status          JSON of the current or last operation (and lastError,\n"
"                  the reason of the last refused request)\n"
"  wait            blocks until no operation runs, then prints status\n"
"  appliance.json  release, LTS releases, HSM\n"
"  passphrase      write-only: your passphrase for key export/import\n"
"  audit           read-only: the audit trail, one JSON record a line\n"
"                  (time, uid, pid, operation, scope, ids, reason)\n"
"  schedules/      scheduled backups (below)\n"
"  hsm/            the HSM root of trust (below)\n"
"  system/         the system scope\n"
"  domains/<d>/    a domain's scope (and resources/<type>/<name>.json)\n"
"\n"
"In each scope:\n"
"  backups/create                 write a JSON object: start a backup\n"
"  backups/<id>/<id>.backup       the encrypted archive: copy it out\n"
"  backups/<id>/backup.json       its metadata; status: one line\n"
"  backups/<id>/restore           write a JSON object: restore it\n"
"  backups/<id>/restore-report.json  after a restore: what was restored,\n"
"                                 skipped or conflicting\n"
"  backups/latest                 symlink to the newest Completed backup\n"
"  backups/upload/                copy an archive in: it is uploaded\n"
"  backups/restore/               copy an archive in: uploaded, restored\n"
"  backupkeys/create              write a JSON object: create a key\n"
"  backupkeys/<id>/key.json       the key's metadata (never the key)\n"
"  backupkeys/<id>/<id>.backupkey the key, wrapped with your passphrase\n"
"  backupkeys/<id>/default        write anything: make it the default\n"
"  backupkeys/default             symlink to the default key\n"
"  backupkeys/upload/             copy a .backupkey file in: imported\n"
"  rmdir backups/<id> or backupkeys/<id> deletes it.\n"
"\n"
"Scheduled backups (cron times in UTC):\n"
"  schedules/create               write a JSON object: create a schedule\n"
"  schedules/<name>/config.json   its fields and next_run_at\n"
"  schedules/<name>/runs          its runs, one JSON object a line\n"
"  schedules/<name>/run-now       write anything: run it now\n"
"  rmdir schedules/<name> deletes it (its backups stay).\n"
"Off the appliance over SFTP or SCP (system backups only):\n"
"  scp/public-key                 the appliance's SSH key: an\n"
"                                 authorized_keys line for destinations\n"
"  scp/rotate                     write anything: a new key pair\n"
"  connections/scp/create         write a JSON object: a connection\n"
"  connections/scp/<name>/connection.json  its settings and lastTest\n"
"  connections/scp/<name>/test    write anything: try it\n"
"  system/backups/<id>/scp        write {\"connection\": \"<name>\"}: copy\n"
"                                 the archive there, in the background\n"
"  system/backups/<id>/scp-status/<transfer>.json  progress and result\n"
"\n"
"The root of trust (owners and admin; with an HSM only):\n"
"  hsm/status.json                kind, active key, token, key versions\n"
"  hsm/rotate                     write {}: a new key on the token, made\n"
"                                 active, every secret re-wrapped under it\n"
"  hsm/activate                   write {\"keyId\": \"ID\"}: make key ID of\n"
"                                 the token active (tied backups need it)\n"
"  Both run as an operation (status, wait), never with a backup or\n"
"  restore (EBUSY).\n"
"\n"
"Examples:\n"
"  echo '{}' > system/backups/create && cat wait\n"
"  echo '{\"description\": \"nightly\"}' > system/backups/create\n"
"  echo '{\"filters\": [{\"resourceType\": \"Keys\",\n"
"        \"resourceQuery\": {\"name\": \"db-*\"}}]}' \\\n"
"       > domains/root/backups/create\n"
"  cp system/backups/latest/*.backup /offsite/\n"
"  cp /offsite/X.backup system/backups/upload/\n"
"  echo '{\"force\": true}' > system/backups/<id>/restore\n"
"  echo '{\"name\": \"k2\", \"default\": true}' > system/backupkeys/create\n"
"  echo 'my passphrase' > passphrase\n"
"  cp system/backupkeys/<id>/<id>.backupkey /offsite/\n"
"  rsync -a system/backups/ /offsite/backups/\n"
"  echo '{\"name\": \"nightly\", \"run_at\": \"0 2 * * *\",\n"
"        \"database_backup_params\": {\"retentionCount\": 7}}' \\\n"
"       > schedules/create\n"
"  jq 'select(.operation == \"refused\")' audit\n"
"\n"
"A request that is refused fails the write (or close) with EINVAL,\n"
"EBUSY or EACCES; the reason is in status (lastError).\n"
"Files in upload boxes whose names begin with '.' or end in .partial or\n"
".tmp wait until renamed; other files are processed when closed.\n"
"Resource names that cannot be file names are %XX-encoded ('/' '%'\n"
"a leading '.' and control characters).\n";

int bkfs_content_readme(const struct bkfs_node *n, char **buf, size_t *len)
{
	(void)n;
	return bkfs_text(readme, buf, len);
}

int bkfs_content_status(const struct bkfs_node *n, char **buf, size_t *len)
{
	char *s = NULL;
	int r;

	(void)n;
	r = bk_status_json(bkfs.engine, &s, NULL);
	return own_line(r, s, buf, len);
}

int bkfs_content_appliance(const struct bkfs_node *n, char **buf, size_t *len)
{
	char *s = NULL;
	int r;

	(void)n;
	r = bk_appliance_json(bkfs.engine, &s, NULL);
	return own_line(r, s, buf, len);
}

int bkfs_content_backup_json(const struct bkfs_node *n, char **buf,
			     size_t *len)
{
	char *s = NULL;
	int r;

	r = bk_backup_json(bkfs.engine, bkfs_dom(n), n->id, &s, NULL);
	return own_line(r, s, buf, len);
}

int bkfs_content_backup_report(const struct bkfs_node *n, char **buf,
				size_t *len)
{
	char *s = NULL;
	int r;

	r = bk_backup_report_json(bkfs.engine, bkfs_dom(n), n->id, &s, NULL,
				  NULL);
	return own_line(r, s, buf, len);
}

int bkfs_content_backup_status(const struct bkfs_node *n, char **buf,
			       size_t *len)
{
	char *s = NULL;
	int r;

	r = bk_backup_status_line(bkfs.engine, bkfs_dom(n), n->id, &s, NULL);
	return own_line(r, s, buf, len);
}

int bkfs_content_key_json(const struct bkfs_node *n, char **buf, size_t *len)
{
	char *s = NULL;
	int r;

	r = bk_key_json(bkfs.engine, bkfs_dom(n), n->id, &s, NULL);
	return own_line(r, s, buf, len);
}

int bkfs_content_resource(const struct bkfs_node *n, char **buf, size_t *len)
{
	char *s = NULL;
	int r;

	r = bk_engine_resource_get(bkfs.engine, bkfs_dom(n), n->type, n->name,
				   &s, NULL);
	return own_line(r, s, buf, len);
}

/* Symlink targets: relative ids, no newline. */
static int own_target(int r, char *id, char **buf, size_t *len)
{
	if (r) {
		free(id);
		return r;
	}
	if (!id)
		return -EIO;
	*buf = id;
	*len = strlen(id);
	return 0;
}

int bkfs_content_latest(const struct bkfs_node *n, char **buf, size_t *len)
{
	char *id = NULL;
	int r;

	r = bk_backup_latest(bkfs.engine, bkfs_dom(n), &id, NULL);
	return own_target(r, id, buf, len);
}

int bkfs_content_default_link(const struct bkfs_node *n, char **buf,
			      size_t *len)
{
	char *id = NULL;
	int r;

	r = bk_key_default(bkfs.engine, bkfs_dom(n), &id, NULL);
	return own_target(r, id, buf, len);
}

/* ---- usage texts: what reading a control file shows ---- */

int bkfs_usage_backups_create(const struct bkfs_node *n, char **buf,
			      size_t *len)
{
	if (!n->has_domain)
		return bkfs_text(
"# Write a JSON object here to start a system backup, e.g.\n"
"#   echo '{}' > create\n"
"#   echo '{\"description\": \"nightly\", \"backupKey\": \"<key-id>\",\n"
"#          \"tiedToHSM\": false}' > create\n"
"# All fields are optional; then: cat ../../wait\n", buf, len);
	return bkfs_text(
"# Write a JSON object here to start a backup of this domain, e.g.\n"
"#   echo '{}' > create\n"
"#   echo '{\"description\": \"keys only\", \"backupKey\": \"<key-id>\",\n"
"#          \"filters\": [{\"resourceType\": \"Keys\",\n"
"#                       \"resourceQuery\": {\"name\": \"db-*\"}}]}' > create\n"
"# Filter types: Keys, cte_policies, users_groups, customer_fragments.\n"
"# All fields are optional; then: cat ../../../wait\n", buf, len);
}

int bkfs_usage_restore(const struct bkfs_node *n, char **buf, size_t *len)
{
	(void)n;
	return bkfs_text(
"# Write a JSON object here to restore this backup:\n"
"#   echo '{}' > restore\n"
"#   echo '{\"force\": true}' > restore   (lifts the forward release limit)\n",
			 buf, len);
}

int bkfs_usage_keys_create(const struct bkfs_node *n, char **buf, size_t *len)
{
	(void)n;
	return bkfs_text(
"# Write a JSON object here to create a backup key, e.g.\n"
"#   echo '{\"name\": \"offsite-2025\", \"default\": true}' > create\n"
"# All fields are optional.\n", buf, len);
}

int bkfs_usage_key_default(const struct bkfs_node *n, char **buf, size_t *len)
{
	(void)n;
	return bkfs_text(
"# Write anything here to make this key the default of its scope:\n"
"#   echo 1 > default\n", buf, len);
}
