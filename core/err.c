#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

int bk_errf(struct bk_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

int bk_err_ssl(struct bk_err *err, int code, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "unknown error";

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return bk_errf(err, code, "%s: %s", what, buf);
}

void bk_err_clear(struct bk_err *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}
