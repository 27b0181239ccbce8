/* cron.h - 5-field cron expressions and their due times, in UTC.
 *
 * "minute hour day-of-month month day-of-week": minute 0-59, hour 0-23,
 * day of month 1-31, month 1-12 or JAN-DEC, day of week 0-6 (0 is Sunday)
 * or SUN-SAT.  Each field is a comma list of items; an item is "*", a
 * value or a range "a-b", optionally followed by "/step" ("*" and a range
 * step through their span, "a/step" steps from a to the field's end).
 * Names are case-insensitive.  "?" (no specific value, the same as "*")
 * is allowed in the two day fields only.  As in Vixie cron, when both day
 * fields are restricted a day matches if either matches.
 */
#ifndef BK_CRON_H
#define BK_CRON_H

#include <stdint.h>

#include "err.h"

struct bk_cron {
	uint64_t minute;	/* bit n: minute n */
	uint32_t hour;
	uint32_t dom;		/* bit n: day n (1-31) */
	uint16_t month;		/* bit n: month n (1-12) */
	uint8_t dow;		/* bit n: weekday n (0 = Sunday) */
	int dom_any, dow_any;	/* the field was "*" or "?" */
};

/* Parses text.  -EINVAL with the reason in words naming the field
 * ("day of month: 32 is out of range 1-31"); an expression that is never
 * due (e.g. "0 0 30 2 *") is -EINVAL too. */
int bk_cron_parse(const char *text, struct bk_cron *c, struct bk_err *err);

/* The first due time strictly after `after` (epoch seconds, UTC), on a
 * minute boundary.  -ERANGE if there is none within nine years. */
int bk_cron_next(const struct bk_cron *c, int64_t after, int64_t *next);

#endif
