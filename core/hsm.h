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
 * (-EBUSY) while a daemon serves the state directory, (-EINVAL) for the
 * software root of trust.  *id_out (may be NULL): the new active id. */
int bk_hsm_activate(struct bk_engine *e, const char *key_id, char **id_out,
		    struct bk_err *err);

/* Creates an HSM-anchored domain: its key material is wrapped by the key
 * uri names on its token (created there if the token has none). */
int bk_hsm_domain_create(struct bk_engine *e, const char *name,
			 const char *uri, struct bk_err *err);

/* ---- engine-internal (core/) ---- */

/* A new state directory's database (s) on the token key rot: the
 * setting hsm_config and rot as the active key version (state.c). */
struct bk_store;
struct bk_rot;
int bk_hsm_configure(struct bk_store *s, struct bk_rot *rot,
		     struct bk_err *err);
/* Opens e->rot from the state directory's configuration. */
int bk_hsm_rot_open(struct bk_engine *e, const char *hsm,
		    struct bk_err *err);
/* Daemon start: a rotation that never committed is rolled back. */
int bk_hsm_recover(struct bk_engine *e, struct bk_err *err);

/* Tied backups.  bk_tie_key: for a backup tied to the active HSM key,
 * turns the backup key (key, in place) into the archive's key-wrapping
 * key, HKDF(backup key || T), T 32 random bytes wrapped by the HSM key
 * into *wrapped (new; caller frees).  bk_tie_check: -EINVAL naming the
 * key unless a tied header's key is the active one here.
 * bk_tie_unlock: bk_archive_unlock for tied archives or not. */
int bk_tie_key(struct bk_engine *e, uint8_t key[32], uint8_t **wrapped,
	       size_t *wlen, struct bk_err *err);
int bk_tie_check(struct bk_engine *e, json_object *header,
		 struct bk_err *err);
int bk_tie_unlock(struct bk_engine *e, struct bk_archive_reader *r,
		  const uint8_t key[32], struct bk_err *err);

#endif
