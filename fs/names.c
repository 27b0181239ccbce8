/* names.c - names that cannot be file names, encoded reversibly.
 *
 * '/', '%', a leading '.', and control characters (1-31, 127) become %XX
 * (upper-case hex); every other byte stays.  "a/b" -> "a%2Fb",
 * ".hidden" -> "%2Ehidden", ".." -> "%2E.".  Decoding accepts only the
 * canonical encoding, so each name has exactly one file name. */
#include "bkfs.h"

#include <errno.h>
#include <string.h>

static int needs_escape(unsigned char c, size_t pos)
{
	return c == '/' || c == '%' || (c == '.' && pos == 0) || c < 32 ||
	       c == 127;
}

int bkfs_name_encode(const char *name, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	for (i = 0; name[i]; i++) {
		unsigned char c = (unsigned char)name[i];

		if (needs_escape(c, i)) {
			if (o + 3 >= outsz)
				return -ENAMETOOLONG;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			if (o + 1 >= outsz)
				return -ENAMETOOLONG;
			out[o++] = (char)c;
		}
	}
	if (o >= outsz)
		return -ENAMETOOLONG;
	out[o] = '\0';
	return (int)o;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;		/* lower case is not canonical */
}

int bkfs_name_decode(const char *comp, size_t len, char *out, size_t outsz)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)comp[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -ENOENT;
			hi = hexval(comp[i + 1]);
			lo = hexval(comp[i + 2]);
			if (hi < 0 || lo < 0)
				return -ENOENT;
			c = (unsigned char)(hi << 4 | lo);
			if (c == 0 || !needs_escape(c, o))
				return -ENOENT;	/* not canonical */
			i += 2;
		} else if (needs_escape(c, o)) {
			return -ENOENT;	/* would have been escaped */
		}
		if (o + 1 >= outsz)
			return -ENAMETOOLONG;
		out[o++] = (char)c;
	}
	if (o == 0)
		return -ENOENT;
	out[o] = '\0';
	return (int)o;
}
