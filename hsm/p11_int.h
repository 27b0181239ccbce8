/* p11_int.h - private to rot_p11.c and rot_p11_wrap.c: a PKCS#11
 * token's shared session. */
#ifndef BK_P11_INT_H
#define BK_P11_INT_H

#include <pthread.h>

#include "rot_int.h"

#define MECH_KWP ((CK_MECHANISM_TYPE)0x210B)	/* CKM_AES_KEY_WRAP_KWP */
#define MECH_PAD ((CK_MECHANISM_TYPE)0x210A)	/* CKM_AES_KEY_WRAP_PAD */

/* Every PKCS#11 call of the process, and the tokens' reference counts,
 * under one lock.  Per-token locks are not enough: SoftHSM 2.6 crashes
 * when two threads use it at once even on separate sessions or module
 * handles (C_GetSlotList in one while another initialises or finalises;
 * a session closed in one while another opens one on the same slot:
 * softhsm/SoftHSMv2#688, #464).  Calls are few (a key wrapped or
 * unwrapped per operation), so the lock costs nothing measurable. */
extern pthread_mutex_t bk_p11_lock;

struct bk_p11_token {
	int refs;
	CK_FUNCTION_LIST *m;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE sess;
	int have_sess;
	CK_MECHANISM_TYPE mech;		/* 0 until one worked */
	char *pin;			/* secure heap, or NULL */
	size_t pinlen;
	char token[33];			/* its label, trimmed */
	char *uri;			/* without pin-value, id */
};

/* -EIO (-EACCES for PIN errors) naming the token, what failed and rv. */
int bk_p11_err(struct bk_p11_token *t, CK_RV rv, const char *what,
	       struct bk_err *err);
/* Does rv mean the session or the key handle is gone (a new session
 * and a new look for the key may work)? */
int bk_p11_session_lost(CK_RV rv);
/* Opens a new session (closing the old one) and logs in.  bk_p11_lock
 * held. */
int bk_p11_login(struct bk_p11_token *t, struct bk_err *err);
/* Sets rot->obj and key_id: the key key_id, or the only one labelled as
 * the token's keys, or a new one (create 1: if none; 2: always).  Lock
 * held. */
int bk_p11_select_key(struct bk_rot *rot, const char *key_id, int create,
		      struct bk_err *err);
/* A space-padded PKCS#11 label into dst (n bytes), trimmed. */
void bk_p11_trim_copy(char *dst, size_t n, const CK_UTF8CHAR *src,
		      size_t len);
/* Hex to bytes: 0, or -EINVAL. */
int bk_p11_unhex(const char *s, uint8_t *b, size_t max, size_t *n);

#endif
