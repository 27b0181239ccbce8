/* test_release.c - release compatibility (DESIGN.md section 4). */
#include <errno.h>
#include <string.h>

#include "core/release.h"
#include "check.h"

#define LTS "2.11,2.17,2.20,2.25"

static void rule(const char *from, const char *to, const char *lts,
		 int want, int want_forced)
{
	struct bk_err err = { 0 };
	int ret;

	ret = bk_release_check(from, to, lts, 0, &err);
	if (ret != want)
		fprintf(stderr, "%s -> %s (lts %s): %d, want %d (%s)\n", from,
			to, lts ? lts : "-", ret, want, err.msg);
	CHECK_EQ_INT(ret, want);
	if (ret)
		CHECK(err.msg[0] != '\0');
	ret = bk_release_check(from, to, lts, 1, &err);
	if (ret != want_forced)
		fprintf(stderr, "%s -> %s (lts %s) forced: %d, want %d (%s)\n",
			from, to, lts ? lts : "-", ret, want_forced, err.msg);
	CHECK_EQ_INT(ret, want_forced);
}

static void message(const char *from, const char *to, const char *lts,
		    int force, const char *want)
{
	struct bk_err err = { 0 };

	bk_release_check(from, to, lts, force, &err);
	if (strcmp(err.msg, want))
		fprintf(stderr, "message: \"%s\"\n    want: \"%s\"\n", err.msg,
			want);
	CHECK(!strcmp(err.msg, want));
}

static void test_parse(void)
{
	struct bk_version v, w;

	CHECK_EQ_INT(bk_version_parse("2.11", &v), 0);
	CHECK(v.major == 2 && v.minor == 11 && v.patch == 0);
	CHECK_EQ_INT(bk_version_parse("2.11.3", &v), 0);
	CHECK(v.major == 2 && v.minor == 11 && v.patch == 3);
	CHECK_EQ_INT(bk_version_parse("9999.0.9999", &v), 0);
	CHECK(v.major == 9999 && v.patch == 9999);
	CHECK_EQ_INT(bk_version_parse("0.0", &v), 0);

	CHECK_EQ_INT(bk_version_parse(NULL, &v), -EINVAL);
	CHECK_EQ_INT(bk_version_parse("", &v), -EINVAL);
	CHECK_EQ_INT(bk_version_parse("2", &v), -EINVAL);
	CHECK_EQ_INT(bk_version_parse("2.", &v), -EINVAL);
	CHECK_EQ_INT(bk_version_parse(".2", &v), -EINVAL);
	CHECK_EQ_INT(bk_version_parse("2..1", &v), -EINVAL);
	CHECK_EQ_INT(bk_version_parse("2.11.3.4", &v), -EINVAL);
	CHECK_EQ_INT(bk_version_parse("2.11.", &v), -EINVAL);
	CHECK_EQ_INT(bk_version_parse("2.x", &v), -EINVAL);
	CHECK_EQ_INT(bk_version_parse("v2.11", &v), -EINVAL);
	CHECK_EQ_INT(bk_version_parse("-2.11", &v), -EINVAL);
	CHECK_EQ_INT(bk_version_parse("+2.11", &v), -EINVAL);
	CHECK_EQ_INT(bk_version_parse(" 2.11", &v), -EINVAL);
	CHECK_EQ_INT(bk_version_parse("2.11 ", &v), -EINVAL);
	CHECK_EQ_INT(bk_version_parse("10000.1", &v), -EINVAL);
	CHECK_EQ_INT(bk_version_parse("2.99999999999999999999", &v), -EINVAL);

	bk_version_parse("2.11.1", &v);
	bk_version_parse("2.11.3", &w);
	CHECK(bk_version_cmp(&v, &w) < 0);
	CHECK(bk_version_cmp(&w, &v) > 0);
	CHECK(bk_version_cmp(&v, &v) == 0);
	bk_version_parse("2.9", &v);
	bk_version_parse("2.10", &w);
	CHECK(bk_version_cmp(&v, &w) < 0);	/* numeric, not textual */
	bk_version_parse("3.0", &v);
	bk_version_parse("2.99.99", &w);
	CHECK(bk_version_cmp(&v, &w) > 0);
	bk_version_parse("2.11", &v);
	bk_version_parse("2.11.0", &w);
	CHECK(bk_version_cmp(&v, &w) == 0);
}

static void test_design_table(void)
{
	/* DESIGN.md section 4: LTS 2.11, 2.17, 2.20, 2.25; a 2.11 backup. */
	rule("2.11", "2.11", LTS, 0, 0);
	rule("2.11", "2.12", LTS, 0, 0);
	rule("2.11", "2.13", LTS, 0, 0);
	rule("2.11", "2.14", LTS, 0, 0);
	rule("2.11", "2.15", LTS, -EPERM, 0);
	rule("2.11", "2.16", LTS, -EPERM, 0);
	rule("2.11", "2.17", LTS, 0, 0);	/* next LTS */
	rule("2.11", "2.18", LTS, -EPERM, 0);
	rule("2.11", "2.19", LTS, -EPERM, 0);
	rule("2.11", "2.20", LTS, 0, 0);	/* LTS after next */
	rule("2.11", "2.21", LTS, -EPERM, 0);
	rule("2.11", "2.25", LTS, -EPERM, 0);	/* third LTS: force */
	/* Patch releases within the allowed minors. */
	rule("2.11.0", "2.17.4", LTS, 0, 0);
	rule("2.11.2", "2.14.9", LTS, 0, 0);
	rule("2.11.2", "2.15.0", LTS, -EPERM, 0);
	/* Older: never, even with force. */
	rule("2.10", "2.9", LTS, -EPERM, -EPERM);
	rule("2.11", "2.10", LTS, -EPERM, -EPERM);
	rule("2.20", "2.17", LTS, -EPERM, -EPERM);
	rule("3.0", "2.25", LTS, -EPERM, -EPERM);

	message("2.11", "2.15", LTS, 0,
		"release 2.15.0 is more than three minor releases after 2.11.0 and not one of the next two LTS releases; use force to restore anyway");
	message("2.10", "2.9", LTS, 1,
		"restoring a backup of release 2.10.0 onto older release 2.9.0 is not supported");
	message("2.10.0", "2.9.0", NULL, 0,
		"restoring a backup of release 2.10.0 onto older release 2.9.0 is not supported");
	message("2.11", "2.14", LTS, 0, "");
}

static void test_patch_and_lts(void)
{
	/* Patch releases. */
	rule("2.11.3", "2.11.1", LTS, -EPERM, -EPERM);
	rule("2.11.1", "2.11.3", LTS, 0, 0);
	rule("2.11.3", "2.11.3", LTS, 0, 0);
	rule("2.11.3", "2.11", LTS, -EPERM, -EPERM);
	message("2.11.3", "2.11.1", LTS, 1,
		"restoring a backup of release 2.11.3 onto older release 2.11.1 is not supported");

	/* Other LTS releases as the source. */
	rule("2.17", "2.20", LTS, 0, 0);
	rule("2.17", "2.25", LTS, 0, 0);
	rule("2.17", "2.26", LTS, -EPERM, 0);
	rule("2.20", "2.25", LTS, 0, 0);
	rule("2.25", "2.28", LTS, 0, 0);	/* three minors */
	rule("2.25", "2.29", LTS, -EPERM, 0);	/* no LTS after 2.25 */

	/* A non-LTS backup with an LTS list present: only three minors. */
	rule("2.12", "2.15", LTS, 0, 0);
	rule("2.12", "2.17", LTS, -EPERM, 0);
	rule("2.12", "2.20", LTS, -EPERM, 0);
	rule("2.18", "2.20", LTS, 0, 0);	/* within three minors anyway */
	rule("2.18", "2.25", LTS, -EPERM, 0);
	message("2.12", "2.17", LTS, 0,
		"release 2.17.0 is more than three minor releases after 2.12.0; use force to restore anyway");

	/* The LTS list: unsorted, blanks, duplicates, patch numbers, empty. */
	rule("2.11", "2.20", " 2.25 , 2.20,2.11.4,, 2.17 ,2.17", 0, 0);
	rule("2.11", "2.25", "2.25,2.20,2.11,2.17", -EPERM, 0);
	rule("2.11", "2.17", "", -EPERM, 0);
	rule("2.11", "2.17", NULL, -EPERM, 0);
	rule("2.11", "2.14", NULL, 0, 0);
	/* LTS entries not after the source do not count. */
	rule("2.11", "2.20", "2.5,2.8,2.11,2.20", 0, 0);
	rule("2.11", "2.30", "2.5,2.8,2.11,2.20,2.25", -EPERM, 0);
}

static void test_majors_and_errors(void)
{
	struct bk_err err = { 0 };

	rule("2.25", "3.0", LTS, -EPERM, 0);
	rule("2.25", "3.0", "2.25,3.0", -EPERM, 0);	/* majors: force */
	rule("2.28", "3.1", LTS, -EPERM, 0);
	rule("3.0", "3.3", LTS, 0, 0);
	rule("3.0", "3.4", LTS, -EPERM, 0);
	message("2.25", "3.0", LTS, 0,
		"release 3.0.0 is a different major release than 2.25.0; use force to restore anyway");

	CHECK_EQ_INT(bk_release_check("2.x", "2.11", LTS, 0, &err), -EINVAL);
	CHECK(strstr(err.msg, "2.x") != NULL);
	CHECK_EQ_INT(bk_release_check("2.11", "", LTS, 1, &err), -EINVAL);
	CHECK_EQ_INT(bk_release_check(NULL, "2.11", LTS, 0, &err), -EINVAL);
	CHECK_EQ_INT(bk_release_check("2.11", "2.20", "2.11,two", 0, &err),
		     -EINVAL);
	CHECK(strstr(err.msg, "two") != NULL);
	CHECK_EQ_INT(bk_release_check("2.11", "2.20", "2.11;2.20", 0, &err),
		     -EINVAL);
	/* The LTS list is checked even when it is not needed. */
	CHECK_EQ_INT(bk_release_check("2.11", "2.12", "garbage", 0, NULL),
		     -EINVAL);
}

int main(void)
{
	test_parse();
	test_design_table();
	test_patch_and_lts();
	test_majors_and_errors();
	return check_done("test_release");
}
