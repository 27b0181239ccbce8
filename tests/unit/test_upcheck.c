/* test_upcheck.c - an archive authenticated as it arrives (core/upcheck.c):
 * the verdict is "every chunk authenticated" for an intact archive written
 * front to back, and "not checked" for everything else: a changed byte,
 * bytes written again after they came, a size other than the archive's,
 * an archive that stops half-way, a key that is not here.  None of them
 * hangs.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"
#include "core/engine.h"

static char tmp[] = "/tmp/bk-upcheck.XXXXXX";
static char upload[512];

static void must(int ret, const char *what, const struct bk_err *err)
{
	if (ret)
		fprintf(stderr, "%s: %s (%d)\n", what, err->msg, ret);
	CHECK_EQ_INT(ret, 0);
	if (ret)
		exit(check_done("test_upcheck"));
}

enum how { INTACT, TAMPERED, SPOILED, HALF, HEADER_PART, EXTRA_BYTE };

/* Writes data into a new upload file the way the daemon's writes do,
 * piece after piece, reporting each; then the verdict for a file of size
 * bytes. */
static int feed(struct bk_engine *e, const char *domain, const uint8_t *data,
		size_t len, enum how how)
{
	struct bk_upcheck *c = NULL;
	size_t stop = how == HALF ? len / 2 : how == HEADER_PART ? 10 : len;
	size_t off = 0, size = how == EXTRA_BYTE ? len + 1 : len;
	uint8_t *copy = malloc(len + 1);
	int fd, ok;

	if (!copy)
		return -1;
	memcpy(copy, data, len);
	copy[len] = 0;
	if (how == TAMPERED)
		copy[len - 100] ^= 0x01;
	fd = open(upload, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK_EQ_INT(bk_upcheck_start(e, domain, upload, &c), 0);
	if (fd < 0 || !c)
		exit(check_done("test_upcheck"));
	while (off < stop) {
		size_t n = stop - off < 7001 ? stop - off : 7001;

		CHECK_EQ_INT(pwrite(fd, copy + off, n, (off_t)off), n);
		off += n;
		bk_upcheck_advance(c, off);
	}
	if (how == EXTRA_BYTE)
		CHECK_EQ_INT(pwrite(fd, copy + len, 1, (off_t)len), 1);
	if (how == SPOILED) {
		usleep(200 * 1000);	/* it has read everything */
		copy[len - 100] ^= 0x01;
		CHECK_EQ_INT(pwrite(fd, copy + len - 100, 1,
				    (off_t)len - 100), 1);
		bk_upcheck_spoil(c);
	}
	close(fd);
	ok = bk_upcheck_finish(c, size);
	bk_upcheck_free(c);
	free(copy);
	return ok;
}

int main(void)
{
	struct bk_init_opts o = { .demo = 1 };
	struct bk_engine *e = NULL;
	struct bk_err err = { 0 };
	struct bk_backup_info info;
	struct bk_upcheck *c = NULL;
	char state[400], *frag, name[32], *attrs, *id = NULL;
	uint8_t *data;
	size_t len;
	struct stat st;
	FILE *f;

	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(state, sizeof(state), "%s/state", tmp);
	snprintf(upload, sizeof(upload), "%s/upload", tmp);
	must(bk_state_init(state, &o, &err), "state init", &err);
	must(bk_engine_open(state, BK_ENGINE_DAEMON, &e, &err), "open", &err);

	/* A payload of several chunks (64 KiB each). */
	frag = malloc(40001);
	attrs = malloc(40100);
	CHECK(frag && attrs);
	if (!frag || !attrs)
		return check_done("test_upcheck");
	for (int i = 0; i < 40000; i++)
		frag[i] = "abcdefghijklmnopqrstuvwxyz"[(i * 7) % 26];
	frag[40000] = '\0';
	snprintf(attrs, 40100, "{\"fragment\":\"%s\"}", frag);
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "frag-%d", i);
		must(bk_engine_resource_add(e, "root", "customer_fragments",
					    name, attrs, NULL, &err),
		     name, &err);
	}
	free(frag);
	free(attrs);
	must(bk_backup_start(e, NULL, "{}", 0, &id, &err), "backup", &err);
	bk_status_wait(e);
	must(bk_backup_get(e, NULL, id, &info, &err), "backup get", &err);
	CHECK(stat(info.archive_path, &st) == 0 && st.st_size > 4 * 65536);
	len = (size_t)st.st_size;
	data = malloc(len);
	f = fopen(info.archive_path, "rb");
	CHECK(data && f && fread(data, 1, len, f) == len);
	if (f)
		fclose(f);
	if (!data)
		return check_done("test_upcheck");

	CHECK_EQ_INT(feed(e, NULL, data, len, INTACT), 1);
	CHECK_EQ_INT(feed(e, NULL, data, len, TAMPERED), 0);
	CHECK_EQ_INT(feed(e, NULL, data, len, SPOILED), 0);
	CHECK_EQ_INT(feed(e, NULL, data, len, HALF), 0);
	CHECK_EQ_INT(feed(e, NULL, data, len, HEADER_PART), 0);
	CHECK_EQ_INT(feed(e, NULL, data, len, EXTRA_BYTE), 0);
	/* a system archive as an upload into a domain: its key is not the
	 * domain's */
	CHECK_EQ_INT(feed(e, "root", data, len, INTACT), 0);
	/* intact again: nothing above stuck */
	CHECK_EQ_INT(feed(e, NULL, data, len, INTACT), 1);
	/* freed while it waits for more: returns, no verdict asked */
	CHECK_EQ_INT(bk_upcheck_start(e, NULL, upload, &c), 0);
	bk_upcheck_advance(c, 5);
	bk_upcheck_free(c);
	/* a finish without a check is "not checked" */
	CHECK_EQ_INT(bk_upcheck_finish(NULL, len), 0);

	free(data);
	free(id);
	bk_engine_close(e);
	tu_rmtree(tmp);
	return check_done("test_upcheck");
}
