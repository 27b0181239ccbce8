/* hsm.h - the engine's root of trust (issue 4, DESIGN.md section 7):
 * a state directory on a PKCS#11 token, its key versions, rotation and
 * activation, backups tied to the HSM, HSM-anchored domains.
 *
 * The configuration is appliance-local (never in a backup): the setting
 * "hsm_config" holds the token's URI without any PIN value, the table
 * rot_keys the key versions (schema migration 3).  Without "hsm_config"
 * the state directory uses the software key STATE_DIR/rot.key.
 */
#ifndef BK_HSM_H
#define BK_HSM_H

#include <json-c/json.h>

#include "engine.h"

struct bk_archive_reader;

/* bk_state_init with the root of trust on a token: hsm is its URI (see
 * hsm/rot.h; the PIN from pin-source= or pin-value=, the latter never
 * stored).  The token's key labelled object= is used if it is the only
 * one (or the one id= names), else one is created.  NULL: software. */
int bk_state_init_hsm(const char *dir, const struct bk_init_opts *o,
		      const char *hsm, struct bk_err *err);

/* bk_engine_open with an HSM URI given at run time (-o hsm=, backupctl
 * --hsm: typically to give the PIN); NULL uses the stored one. */
int bk_engine_open_hsm(const char *dir, unsigned flags, const char *hsm,
		       struct bk_engine **out, struct bk_err *err);

/* {"kind","keyId","alg","mechanism","token","label","uri",
 *  "keys":[{"id","state","createdAt","onToken"}]} - never a secret. */
int bk_hsm_status(struct bk_engine *e, char **json, struct bk_err *err);

/* Makes key_id (a key of the token with the root of trust's label) the
 * active root-of-trust key, or, key_id NULL (rotate), a new key created
 * on the token; re-wraps every secret at rest under it in one
 * transaction; the old key stays on the token, inactive.  Refused
 * (-EBUSY, naming its mount point) while another process, a daemon,
 * serves the state directory, (-EINVAL) for the software root of
 * trust.  *id_out (may be NULL): the new active id. */
int bk_hsm_activate(struct bk_engine *e, const char *key_id, char **id_out,
		    struct bk_err *err);

/* The same in a running daemon (hsm/rotate, hsm/activate of the mounted
 * tree), as an operation: req is the control file's JSON, {} for rotate
 * (activate 0), {"keyId": "..."} for activate.  Checks the request (-EINVAL
 * with the reason, also for the software root of trust), refuses (-EBUSY)
 * while a backup or restore runs (and they are refused while it runs),
 * opens or creates the new key, then re-wraps on the job thread; status
 * shows the operation "rotate" or "activate", its progress and result. */
int bk_hsm_request(struct bk_engine *e, int activate, const char *req,
		   uid_t uid, struct bk_err *err);

/* -EBUSY while a rotation or activation runs: backups and restores
 * check it first (the rotation holds the store lock, so what needs the
 * database waits for its end). */
int bk_hsm_busy(struct bk_engine *e, struct bk_err *err);

/* The mount point of a backupfs daemon serving the state directory dir
 * (from /proc/self/mountinfo) into buf; -ENOENT if none is found. */
int bk_hsm_mount_of(const char *dir, char *buf, size_t size);

/* Creates an HSM-anchored domain: its key material is wrapped by the key
 * uri names on its token (created there if the token has none). */
int bk_hsm_domain_create(struct bk_engine *e, const char *name,
			 const char *uri, struct bk_err *err);

/* *uri: the identity of the key of HSM-anchored domain name (new
 * string), NULL if the domain is not anchored. */
int bk_hsm_domain_key(struct bk_engine *e, const char *name, char **uri,
		      struct bk_err *err);

/* ---- engine-internal (core/) ---- */

/* A new state directory's database (s) on the token key rot: the
 * setting hsm_config and rot as the active key version (state.c). */
struct bk_store;
struct bk_rot;
int bk_hsm_configure(struct bk_store *s, struct bk_rot *rot,
		     struct bk_err *err);
/* Opens e->rot from the state directory's configuration and binds the
 * HSM-anchored domains. */
int bk_hsm_open(struct bk_engine *e, const char *hsm, struct bk_err *err);
/* Binds the HSM-anchored domains of the database to their keys (engine
 * open, after a system restore); an unreachable key is bound as such. */
int bk_hsm_bind_domains(struct bk_engine *e, struct bk_store *s);
/* Before a system restore: the domains bound as the header's
 * "hsmDomains" say (the others unbound), until bk_hsm_bind_domains. */
int bk_hsm_bind_header(struct bk_engine *e, json_object *header,
		       struct bk_err *err);
/* A backup header's "hsmDomains": the HSM-anchored domains of the scope
 * (domain NULL: all) as {name: identity URI}; *out NULL if none, else a
 * new object (caller puts).  -EINVAL naming a key that is not reachable
 * here. */
int bk_hsm_domains(struct bk_engine *e, const char *domain, json_object **out,
		   struct bk_err *err);
/* In a write transaction of s that stores secrets wrapped by rot: -EAGAIN
 * unless rot is the active key (another process, the daemon, may have
 * rotated since rot was opened; its rotation commits before or after
 * this transaction, never in it). */
int bk_hsm_rot_current(struct bk_store *s, struct bk_rot *rot,
		       struct bk_err *err);
/* Daemon start: a rotation that never committed is rolled back. */
int bk_hsm_recover(struct bk_engine *e, struct bk_err *err);
/* The steps of bk_hsm_activate: -EINVAL unless key_id (NULL: a new key)
 * can become the active key; the new key opened (or created on the
 * token: step 0); steps 1 and 2 and the switch of e->rot to new under
 * db_lock (new is taken, freed on failure; audited).  op_id (may be
 * NULL): the daemon's operation, marked Completed in the same
 * transaction; msg: what was done (key ids, secrets re-wrapped). */
int bk_hsm_check(struct bk_engine *e, const char *key_id, struct bk_err *err);
int bk_hsm_new_key(struct bk_engine *e, const char *key_id,
		   struct bk_rot **new, struct bk_err *err);
int bk_hsm_switch(struct bk_engine *e, struct bk_rot *new, int activate,
		  uid_t uid, const char *op_id, char *msg, size_t msglen,
		  struct bk_err *err);

/* Archives sealed by HSM keys (tie.c): a system backup tied to the HSM
 * (header "tiedToHSM", "hsmKeyId") and backups holding HSM-anchored
 * domains (header "hsmDomains": {name: identity URI}).  bk_seal_begin
 * turns the backup key (key, in place) into the seal key and prepares
 * the header's HSM wraps in s (nothing for an unsealed header);
 * bk_seal_add adds them to the writer; bk_seal_free frees s.
 * bk_tie_check: -EINVAL naming the key unless every key the header asks
 * for is active / reachable here.  bk_tie_unlock: bk_archive_unlock for
 * sealed archives or not. */
struct bk_archive_writer;
struct bk_seal {
	int n;
	char kind[15][96];
	char keyid[15][65];
	uint8_t *wrapped[15];
	size_t len[15];
};
int bk_seal_begin(struct bk_engine *e, json_object *header, uint8_t key[32],
		  struct bk_seal *s, struct bk_err *err);
int bk_seal_add(struct bk_seal *s, struct bk_archive_writer *w,
		struct bk_err *err);
void bk_seal_free(struct bk_seal *s);
int bk_tie_check(struct bk_engine *e, json_object *header,
		 struct bk_err *err);
int bk_tie_unlock(struct bk_engine *e, struct bk_archive_reader *r,
		  const uint8_t key[32], struct bk_err *err);

#endif
