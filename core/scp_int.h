/* scp_int.h - what sshkey.c, conn.c, ssh.c and scp.c share. */
#ifndef BK_SCP_INT_H
#define BK_SCP_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libssh/libssh.h>

#include "engine_int.h"
#include "scp.h"

#define BK_CONN_NAME_MAX 64
#define BK_CONN_PASS_MAX 1024

/* A connection's settings, as validated (conn.c). */
struct bk_conn {
	char name[BK_CONN_NAME_MAX + 1];	/* "" for fields given inline */
	char host[256];
	int port;
	char user[256];
	int use_password;		/* auth_method "password" (else "key") */
	char *password;			/* secure heap, NUL-terminated; or NULL */
	char path_to[1024];
	char public_key[4096];		/* the pinned host key, as given */
	int scp;			/* protocol "scp" (else "sftp") */
};

/* 1 if s is a valid connection name: 1-64 of [A-Za-z0-9._-], not
 * beginning with '.'. */
int bk_conn_name_valid(const char *s);
/* Wipes and frees the password. */
void bk_conn_clear(struct bk_conn *c);

/* conn.c: the fields of connections/scp/create; inline transfers take the
 * same but "name". */
extern const struct bk_field bk_fields_conn[];
/* Validates the fields of obj (already checked by bk_request_parse) into
 * c; named: "name" is required (else refused).  The password's text in
 * obj is wiped. */
int bk_conn_from_json(json_object *obj, int named, struct bk_conn *c,
		      struct bk_err *err);
/* Loads the connection name (with its password unwrapped).  -EINVAL (for
 * a request naming it) if absent. */
int bk_conn_load(struct bk_engine *e, const char *name, struct bk_conn *c,
		 struct bk_err *err);
/* "user@host:port:path_to" into buf. */
void bk_conn_destination(const struct bk_conn *c, char *buf, size_t len);

/* scp.c: runs sql (its ?1 bound to text unless NULL, its ?2, if any, to
 * the oldest finish time still shown) under the store lock, calling cb
 * with the first column of each row; stops on non-zero. */
int bk_scp_each(struct bk_engine *e, const char *sql, const char *text,
		int (*cb)(void *arg, const char *s), void *arg,
		struct bk_err *err);

/* sshkey.c: the private key, unwrapped (*key: caller ssh_key_free()s). */
int bk_sshkey_load(struct bk_engine *e, ssh_key *key, struct bk_err *err);

/* ssh.c: one session to a destination. */
struct bk_ssh;
/* Checks that text is an SSH public key ("type base64 [comment]", or a
 * known_hosts line "host type base64"); *key (may be NULL) gets it. */
int bk_ssh_parse_pin(const char *text, ssh_key *key, struct bk_err *err);
/* Connects, checks the server's host key against the pinned one and
 * authenticates (the appliance's key or the password); opens SFTP when
 * the protocol is sftp. */
int bk_ssh_open(struct bk_engine *e, const struct bk_conn *c,
		struct bk_ssh **out, struct bk_err *err);
void bk_ssh_close(struct bk_ssh *s);
/* Creates and removes an empty temporary file in path_to: may the
 * appliance write there? */
int bk_ssh_probe(struct bk_ssh *s, const char *tmpname, struct bk_err *err);
/* Called with the bytes sent so far; non-zero stops the upload. */
typedef int (*bk_ssh_progress_fn)(void *arg, uint64_t done);
/* Copies size bytes of fd to path_to/tmpname, then renames it to
 * path_to/name; on failure the temporary file is removed (when the
 * connection still allows it). */
int bk_ssh_upload(struct bk_ssh *s, int fd, uint64_t size, const char *name,
		  const char *tmpname, bk_ssh_progress_fn progress, void *arg,
		  struct bk_err *err);

#endif
