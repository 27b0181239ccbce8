/* cron.c - 5-field cron expressions (see cron.h). */
#include "cron.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct field {
	const char *what;		/* for messages */
	int lo, hi;
	const char *const *names;	/* names[i] is value lo + i, or NULL */
	int day;			/* "?" allowed */
};

static const char *const month_names[] = {
	"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
	"NOV", "DEC", NULL };
static const char *const dow_names[] = {
	"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL };

static const struct field fields[5] = {
	{ "minute", 0, 59, NULL, 0 },
	{ "hour", 0, 23, NULL, 0 },
	{ "day of month", 1, 31, NULL, 1 },
	{ "month", 1, 12, month_names, 0 },
	{ "day of week", 0, 6, dow_names, 1 },
};

/* One value (a number or, where the field has them, a name) at *p. */
static int value(const struct field *f, const char **p, int *v,
		 struct bk_err *err)
{
	const char *s = *p;
	char tok[16];
	size_t n = 0;

	while (isalnum((unsigned char)s[n]) && n < sizeof(tok) - 1) {
		tok[n] = s[n];
		n++;
	}
	tok[n] = '\0';
	if (!n)
		return bk_errf(err, -EINVAL, "%s: expected a value at \"%s\"",
			       f->what, s);
	if (isdigit((unsigned char)tok[0])) {
		char *end;
		long x = strtol(tok, &end, 10);

		if (*end)
			return bk_errf(err, -EINVAL, "%s: \"%s\" is not a number",
				       f->what, tok);
		if (x < f->lo || x > f->hi)
			return bk_errf(err, -EINVAL,
				       "%s: %ld is out of range %d-%d",
				       f->what, x, f->lo, f->hi);
		*v = (int)x;
	} else {
		int i;

		for (i = 0; f->names && f->names[i]; i++)
			if (!strcasecmp(tok, f->names[i]))
				break;
		if (!f->names || !f->names[i])
			return bk_errf(err, -EINVAL,
				       f->names ? "%s: unknown name \"%s\" (%s-%s or %d-%d)"
						: "%s: \"%s\" is not a number%s%s (%d-%d)",
				       f->what, tok,
				       f->names ? f->names[0] : "",
				       f->names ? f->names[f->hi - f->lo] : "",
				       f->lo, f->hi);
		*v = f->lo + i;
	}
	*p = s + n;
	return 0;
}

/* One comma-separated item: "*", "?", v, a-b, each with an optional
 * "/step".  Sets the bits in *bits; *any = 1 for a bare "*" or "?". */
static int item(const struct field *f, const char *s, uint64_t *bits,
		int *any, struct bk_err *err)
{
	const char *p = s;
	int lo = f->lo, hi = f->hi, step = 1, star = 0, ret;

	if (!*p)
		return bk_errf(err, -EINVAL, "%s: empty item in the list",
			       f->what);
	if (*p == '*' || *p == '?') {
		if (*p == '?' && !f->day)
			return bk_errf(err, -EINVAL,
				       "%s: \"?\" is only allowed in the day-of-month and day-of-week fields",
				       f->what);
		star = 1;
		p++;
	} else {
		ret = value(f, &p, &lo, err);
		if (ret)
			return ret;
		hi = lo;
		if (*p == '-') {
			p++;
			ret = value(f, &p, &hi, err);
			if (ret)
				return ret;
			if (hi < lo)
				return bk_errf(err, -EINVAL,
					       "%s: range %d-%d goes backwards",
					       f->what, lo, hi);
		}
	}
	if (*p == '/') {
		char *end;
		long x;

		p++;
		x = isdigit((unsigned char)*p) ? strtol(p, &end, 10) : -1;
		if (x < 1 || x > f->hi - f->lo + 1 || end == p)
			return bk_errf(err, -EINVAL,
				       "%s: step \"%s\" must be a number from 1 to %d",
				       f->what, p, f->hi - f->lo + 1);
		step = (int)x;
		p = end;
		if (!star && hi == lo)
			hi = f->hi;	/* "a/step": from a to the end */
	}
	if (*p)
		return bk_errf(err, -EINVAL, "%s: unexpected \"%s\" in \"%s\"",
			       f->what, p, s);
	if (star && step == 1)
		*any = 1;
	for (int v = lo; v <= hi; v += step)
		*bits |= 1ull << v;
	return 0;
}

static int parse_field(const struct field *f, const char *text,
		       uint64_t *bits, int *any, struct bk_err *err)
{
	char buf[256], *save = NULL, *tok;
	size_t len = strlen(text);
	int ret;

	if (len >= sizeof(buf))
		return bk_errf(err, -EINVAL, "%s: too long", f->what);
	if (text[0] == ',' || text[len - 1] == ',' || strstr(text, ",,"))
		return bk_errf(err, -EINVAL, "%s: empty item in the list \"%s\"",
			       f->what, text);
	memcpy(buf, text, len + 1);
	*bits = 0;
	*any = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		int star = 0;

		ret = item(f, tok, bits, &star, err);
		if (ret)
			return ret;
		*any |= star;
	}
	return 0;
}

int bk_cron_parse(const char *text, struct bk_cron *c, struct bk_err *err)
{
	char buf[512], *save = NULL, *tok, *part[5];
	uint64_t bits[5];
	int any[5], n = 0, ret;
	int64_t next;

	if (!text || strlen(text) >= sizeof(buf))
		return bk_errf(err, -EINVAL, "%s", text ?
			       "too long" : "missing");
	snprintf(buf, sizeof(buf), "%s", text);
	for (tok = strtok_r(buf, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save)) {
		if (n == 5) {
			n++;
			break;
		}
		part[n++] = tok;
	}
	if (n != 5)
		return bk_errf(err, -EINVAL,
			       "\"%s\": expected 5 fields (minute hour day-of-month month day-of-week), found %s%d",
			       text, n > 5 ? "more than " : "", n > 5 ? 5 : n);
	for (int i = 0; i < 5; i++) {
		ret = parse_field(&fields[i], part[i], &bits[i], &any[i], err);
		if (ret)
			return ret;
	}
	memset(c, 0, sizeof(*c));
	c->minute = bits[0];
	c->hour = (uint32_t)bits[1];
	c->dom = (uint32_t)bits[2];
	c->month = (uint16_t)bits[3];
	c->dow = (uint8_t)bits[4];
	c->dom_any = any[2];
	c->dow_any = any[4];
	/* 2000-01-01: the nine years after it hold two Feb 29ths */
	if (bk_cron_next(c, 946684800, &next))
		return bk_errf(err, -EINVAL,
			       "\"%s\" is never due (no such day)", text);
	return 0;
}

static int day_matches(const struct bk_cron *c, const struct tm *tm)
{
	int dom = !!(c->dom & (1u << tm->tm_mday));
	int dow = !!(c->dow & (1u << tm->tm_wday));

	if (c->dom_any && c->dow_any)
		return 1;
	if (c->dom_any)
		return dow;
	if (c->dow_any)
		return dom;
	return dom || dow;
}

int bk_cron_next(const struct bk_cron *c, int64_t after, int64_t *next)
{
	int64_t limit = after + 9LL * 366 * 86400;
	time_t t = (time_t)((after / 60) * 60 + 60);
	struct tm tm;

	if (after < 0)
		t = 0;
	while ((int64_t)t <= limit) {
		gmtime_r(&t, &tm);
		if (!(c->month & (1u << (tm.tm_mon + 1)))) {
			tm.tm_mon++;	/* first minute of the next month */
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = 0;
		} else if (!day_matches(c, &tm)) {
			tm.tm_mday++;
			tm.tm_hour = tm.tm_min = 0;
		} else if (!(c->hour & (1u << tm.tm_hour))) {
			tm.tm_hour++;
			tm.tm_min = 0;
		} else if (!(c->minute & (1ull << tm.tm_min))) {
			tm.tm_min++;
		} else {
			*next = (int64_t)t;
			return 0;
		}
		tm.tm_sec = 0;
		t = timegm(&tm);	/* normalises the overflow */
	}
	return -ERANGE;
}
