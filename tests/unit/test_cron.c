/* test_cron.c - cron parsing (valid and invalid expressions, with the
 * reason) and due-time computation in UTC (month ends, leap years); the
 * RFC 3339 times of schedules. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "../../core/cron.h"
#include "../../core/schedule.h"

/* "YYYY-MM-DDTHH:MMZ" to epoch seconds. */
static long long at(const char *s)
{
	struct tm tm = { 0 };

	if (!strptime(s, "%Y-%m-%dT%H:%MZ", &tm))
		return -1;
	return (long long)timegm(&tm);
}

static void fmt(long long t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%MZ", &tm);
}

struct due_case {
	const char *expr, *after;
	const char *next[3];		/* the next three due times */
};

static const struct due_case due[] = {
	{ "* * * * *", "2026-03-01T10:07Z",
	  { "2026-03-01T10:08Z", "2026-03-01T10:09Z", "2026-03-01T10:10Z" } },
	{ "0 2 * * *", "2026-01-30T03:00Z",
	  { "2026-01-31T02:00Z", "2026-02-01T02:00Z", "2026-02-02T02:00Z" } },
	{ "*/15 * * * *", "2026-12-31T23:31Z",
	  { "2026-12-31T23:45Z", "2027-01-01T00:00Z", "2027-01-01T00:15Z" } },
	/* day 31: months without one are skipped */
	{ "30 4 31 * *", "2026-01-31T05:00Z",
	  { "2026-03-31T04:30Z", "2026-05-31T04:30Z", "2026-07-31T04:30Z" } },
	/* Feb 29: leap years only */
	{ "0 0 29 2 *", "2026-01-01T00:00Z",
	  { "2028-02-29T00:00Z", "2032-02-29T00:00Z", "2036-02-29T00:00Z" } },
	{ "0 12 29-31 1,feb *", "2028-01-30T13:00Z",
	  { "2028-01-31T12:00Z", "2028-02-29T12:00Z", "2029-01-29T12:00Z" } },
	{ "0 9 ? * MON-FRI", "2026-11-27T10:00Z",	/* a Friday */
	  { "2026-11-30T09:00Z", "2026-12-01T09:00Z", "2026-12-02T09:00Z" } },
	{ "0 9 * * sun,Sat", "2026-11-27T10:00Z",
	  { "2026-11-28T09:00Z", "2026-11-29T09:00Z", "2026-12-05T09:00Z" } },
	/* both day fields restricted: either matches (Vixie cron) */
	{ "0 0 1 * MON", "2026-11-28T00:00Z",
	  { "2026-11-30T00:00Z", "2026-12-01T00:00Z", "2026-12-07T00:00Z" } },
	{ "5-10/5,50 1/12 * jan-MAR ?", "2026-12-31T23:59Z",
	  { "2027-01-01T01:05Z", "2027-01-01T01:10Z", "2027-01-01T01:50Z" } },
	{ "59 23 31 12 *", "2026-12-31T23:59Z",
	  { "2027-12-31T23:59Z", "2028-12-31T23:59Z", "2029-12-31T23:59Z" } },
	/* no DST in UTC: 2026-03-29 01:30 exists */
	{ "30 1 29 3 *", "2026-03-28T00:00Z",
	  { "2026-03-29T01:30Z", "2027-03-29T01:30Z", "2028-03-29T01:30Z" } },
};

struct bad_case {
	const char *expr, *reason;	/* a part of the message */
};

static const struct bad_case bad[] = {
	{ "", "expected 5 fields" },
	{ "* * * *", "found 4" },
	{ "* * * * * *", "found more than 5" },
	{ "60 * * * *", "minute: 60 is out of range 0-59" },
	{ "* 24 * * *", "hour: 24 is out of range 0-23" },
	{ "* * 0 * *", "day of month: 0 is out of range 1-31" },
	{ "* * 32 * *", "day of month: 32 is out of range 1-31" },
	{ "* * * 13 *", "month: 13 is out of range 1-12" },
	{ "* * * * 7", "day of week: 7 is out of range 0-6" },
	{ "* * * FOO *", "month: unknown name \"FOO\"" },
	{ "* * * * MONDAY", "day of week: unknown name \"MONDAY\"" },
	{ "? * * * *", "minute: \"?\" is only allowed" },
	{ "* * * ? *", "month: \"?\" is only allowed" },
	{ "5-2 * * * *", "minute: range 5-2 goes backwards" },
	{ "*/0 * * * *", "minute: step \"0\" must be a number from 1 to 60" },
	{ "*/x * * * *", "minute: step \"x\"" },
	{ "1,,2 * * * *", "minute: empty item" },
	{ "1, * * * *", "minute: empty item" },
	{ "a * * * *", "minute: \"a\" is not a number" },
	{ "1-2-3 * * * *", "minute: unexpected \"-3\"" },
	{ "* * 30 2 *", "never due" },
	{ "0 0 31 4,6,9,11 ?", "never due" },
	{ "*/5# * * * *", "minute: unexpected \"#\"" },
};

int main(void)
{
	struct bk_err err;
	struct bk_cron c;
	size_t i;
	int k;

	for (i = 0; i < sizeof(due) / sizeof(due[0]); i++) {
		int64_t t = at(due[i].after), next;

		memset(&err, 0, sizeof(err));
		CHECK_EQ_INT(bk_cron_parse(due[i].expr, &c, &err), 0);
		if (err.msg[0])
			fprintf(stderr, "%s: %s\n", due[i].expr, err.msg);
		for (k = 0; k < 3; k++) {
			char got[32] = "none";

			if (bk_cron_next(&c, t, &next) == 0)
				fmt(next, got);
			if (strcmp(got, due[i].next[k]))
				fprintf(stderr, "\"%s\" after %lld: got %s, expected %s\n",
					due[i].expr, (long long)t, got,
					due[i].next[k]);
			CHECK(!strcmp(got, due[i].next[k]));
			t = next;
		}
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret;

		memset(&err, 0, sizeof(err));
		ret = bk_cron_parse(bad[i].expr, &c, &err);
		CHECK_EQ_INT(ret, -EINVAL);
		if (!strstr(err.msg, bad[i].reason))
			fprintf(stderr, "\"%s\": message \"%s\" lacks \"%s\"\n",
				bad[i].expr, err.msg, bad[i].reason);
		CHECK(strstr(err.msg, bad[i].reason) != NULL);
	}
	/* next is strictly after, on a minute boundary */
	{
		int64_t next;

		CHECK_EQ_INT(bk_cron_parse("0 * * * *", &c, NULL), 0);
		CHECK_EQ_INT(bk_cron_next(&c, at("2026-05-05T10:00Z"), &next), 0);
		CHECK_EQ_INT(next, at("2026-05-05T11:00Z"));
		CHECK_EQ_INT(bk_cron_next(&c, at("2026-05-05T09:59Z") + 59,
					  &next), 0);
		CHECK_EQ_INT(next, at("2026-05-05T10:00Z"));
	}
	/* RFC 3339 (start_date, end_date, the test clock) */
	{
		static const struct { const char *s; long long t; } ok[] = {
			{ "2030-01-01T00:00:00Z", 1893456000 },
			{ "2030-01-01t00:00:00z", 1893456000 },
			{ "2030-01-01T02:30:00+02:30", 1893456000 },
			{ "2029-12-31T23:00:00-01:00", 1893456000 },
			{ "2030-01-01T00:00:00.123456Z", 1893456000 },
			{ "2028-02-29T12:00:00Z", 1835438400 },
		};
		static const char *const bad[] = {
			"2030-01-01", "2030-01-01 00:00:00Z",
			"2030-01-01T00:00:00", "2030-01-01T00:00Z",
			"2030-01-01T00:00:00+0200", "2030-01-01T00:00:00.Z",
			"2030-01-01T00:00:00Zjunk", "2030-13-01T00:00:00Z",
			"2030-01-01T00:00:00+24:00", "tomorrow", "",
		};
		int64_t t;
		char out[32];

		for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
			t = -1;
			CHECK_EQ_INT(bk_rfc3339_parse(ok[i].s, &t), 0);
			CHECK_EQ_INT(t, ok[i].t);
		}
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			if (bk_rfc3339_parse(bad[i], &t) != -EINVAL)
				fprintf(stderr, "\"%s\" accepted\n", bad[i]);
			CHECK_EQ_INT(bk_rfc3339_parse(bad[i], &t), -EINVAL);
		}
		bk_rfc3339_fmt(1835438400, out);
		CHECK(!strcmp(out, "2028-02-29T12:00:00Z"));
	}
	return check_done("test_cron");
}
