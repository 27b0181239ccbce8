/* err.h - error reporting for backupfs.
 *
 * Functions return 0 on success or a negative errno on failure.  When they
 * take a struct bk_err *, the failure's reason, in words a user
 * understands, is written there.  A NULL err is allowed everywhere.
 */
#ifndef BK_ERR_H
#define BK_ERR_H

#include <stddef.h>

struct bk_err {
	int code;		/* negative errno, 0 if none */
	char msg[512];		/* reason in words; "" if none */
};

/* Sets err (if not NULL) and returns code (a negative errno). */
int bk_errf(struct bk_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Appends OpenSSL's queued error text to the message and clears the queue. */
int bk_err_ssl(struct bk_err *err, int code, const char *what);

void bk_err_clear(struct bk_err *err);

#endif
