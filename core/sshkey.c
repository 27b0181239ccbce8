/* sshkey.c - the appliance's own SSH key pair (ed25519), the one it
 * authenticates with at SCP/SFTP destinations.
 *
 * One row of scp_identity: the public key as an authorized_keys line, and
 * the private key (OpenSSH format text, with its NUL) wrapped by the root
 * of trust.  Unwrapped, the text only ever lives in the secure heap; libssh
 * holds the parsed key for the length of one connection (and wipes it when
 * freed).  The pair is made on the daemon's first start (or on first use);
 * rotation replaces it in one statement, so the old key stops working for
 * every later connection.
 */
#include "scp_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto.h"
#include "hsm.h"
#include "store_int.h"

#define KEY_COMMENT "backupfs"

/* A new pair: *pub new ("ssh-ed25519 AAAA... backupfs"), *wrapped new. */
static int keypair_new(struct bk_engine *e, char **pub, uint8_t **wrapped,
		       size_t *wlen, struct bk_err *err)
{
	ssh_key key = NULL;
	char *priv = NULL, *b64 = NULL;
	int ret;

	*pub = NULL;
	if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK)
		return bk_errf(err, -EIO, "cannot generate an ed25519 key");
	if (ssh_pki_export_privkey_base64(key, NULL, NULL, NULL, &priv) !=
	    SSH_OK || ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK) {
		ret = bk_errf(err, -EIO, "cannot export the new SSH key");
		goto out;
	}
	if (asprintf(pub, "ssh-ed25519 %s %s", b64, KEY_COMMENT) < 0) {
		*pub = NULL;
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	ret = bk_rot_wrap(e->rot, (const uint8_t *)priv, strlen(priv) + 1,
			  wrapped, wlen, err);
out:
	if (priv) {
		OPENSSL_cleanse(priv, strlen(priv));
		ssh_string_free_char(priv);
	}
	ssh_string_free_char(b64);
	ssh_key_free(key);
	if (ret) {
		free(*pub);
		*pub = NULL;
	}
	return ret;
}

/* replace: rotation (else only when there is none yet).  db_lock held. */
static int keypair_store(struct bk_engine *e, int replace, struct bk_err *err)
{
	struct bk_tx tx;
	sqlite3_stmt *st = NULL;
	uint8_t *wrapped = NULL;
	size_t wlen = 0;
	char *pub = NULL, now[32];
	int ret;

	ret = bk_tx_begin(e->store, &tx, err);
	if (ret)
		return ret;
	/* the key active now (another process may have rotated) */
	ret = bk_hsm_rot_current(e->store, e->rot, err);
	if (!ret)
		ret = keypair_new(e, &pub, &wrapped, &wlen, err);
	if (ret)
		goto out;
	bk_now(now);
	if (sqlite3_prepare_v2(bk_store_db(e->store), replace ?
		"INSERT OR REPLACE INTO scp_identity(id, public_key, wrapped,"
		" created_at) VALUES(1, ?1, ?2, ?3)" :
		"INSERT OR IGNORE INTO scp_identity(id, public_key, wrapped,"
		" created_at) VALUES(1, ?1, ?2, ?3)", -1, &st, NULL) !=
	    SQLITE_OK) {
		ret = bk_db_err(e->store, err);
		goto out;
	}
	sqlite3_bind_text(st, 1, pub, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, wrapped, (int)wlen, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, now, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		ret = bk_db_err(e->store, err);
out:
	sqlite3_finalize(st);
	if (ret)
		bk_tx_rollback(e->store, &tx);
	else
		ret = bk_tx_commit(e->store, &tx, err);
	free(pub);
	free(wrapped);
	return ret;
}

/* Column col (0: public_key, 1: wrapped) of the identity, made if
 * missing, as a new buffer.  db_lock held. */
static int identity_get(struct bk_engine *e, int col, uint8_t **out,
			size_t *len, struct bk_err *err)
{
	sqlite3_stmt *st;
	int ret, tries;

	for (tries = 0; tries < 2; tries++) {
		if (sqlite3_prepare_v2(bk_store_db(e->store),
			"SELECT public_key, wrapped FROM scp_identity"
			" WHERE id = 1", -1, &st, NULL) != SQLITE_OK)
			return bk_db_err(e->store, err);
		ret = sqlite3_step(st);
		if (ret == SQLITE_ROW) {
			*len = (size_t)sqlite3_column_bytes(st, col);
			*out = malloc(*len + 1);
			if (*out) {
				memcpy(*out, sqlite3_column_blob(st, col),
				       *len);
				(*out)[*len] = 0;
			}
			sqlite3_finalize(st);
			return *out ? 0 : bk_errf(err, -ENOMEM,
						  "out of memory");
		}
		sqlite3_finalize(st);
		if (ret != SQLITE_DONE)
			return bk_db_err(e->store, err);
		ret = keypair_store(e, 0, err);
		if (ret)
			return ret;
	}
	return bk_errf(err, -EIO, "the appliance's SSH key cannot be made");
}

int bk_scp_public_key(struct bk_engine *e, char **line, struct bk_err *err)
{
	uint8_t *pub = NULL;
	size_t len;
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = identity_get(e, 0, &pub, &len, err);
	pthread_mutex_unlock(&e->db_lock);
	if (ret)
		return ret;
	if (asprintf(line, "%s\n", (char *)pub) < 0) {
		*line = NULL;
		ret = bk_errf(err, -ENOMEM, "out of memory");
	}
	free(pub);
	return ret;
}

int bk_scp_rotate(struct bk_engine *e, uid_t uid, struct bk_err *err)
{
	int ret;

	pthread_mutex_lock(&e->db_lock);
	ret = keypair_store(e, 1, err);
	pthread_mutex_unlock(&e->db_lock);
	bk_audit(e, uid, "scp-rotate", "scp/public-key",
		 ret ? "Failed" : "Completed",
		 ret ? (err ? err->msg : "") : "new SSH key pair; the old one no longer "
		 "works");
	return ret;
}

int bk_sshkey_load(struct bk_engine *e, ssh_key *key, struct bk_err *err)
{
	uint8_t *wrapped = NULL, *text = NULL;
	size_t wlen = 0, tlen = 0;
	int ret;

	*key = NULL;
	/* read and unwrapped under one hold of db_lock, so by the key that
	 * wrapped it (a rotation swaps e->rot under db_lock) */
	pthread_mutex_lock(&e->db_lock);
	ret = identity_get(e, 1, &wrapped, &wlen, err);
	if (!ret)
		ret = bk_rot_unwrap(e->rot, wrapped, wlen, &text, &tlen, err);
	pthread_mutex_unlock(&e->db_lock);
	free(wrapped);
	if (ret)
		return ret;
	if (!tlen || text[tlen - 1] != 0 ||
	    ssh_pki_import_privkey_base64((const char *)text, NULL, NULL,
					  NULL, key) != SSH_OK) {
		*key = NULL;
		ret = bk_errf(err, -EBADMSG,
			      "the appliance's SSH key is damaged");
	}
	bk_secure_free(text, tlen);
	return ret;
}
