/* test_hsm_rotate.c - rotations of the root of trust by a daemon's engine
 * (bk_hsm_request, as MOUNT/hsm/rotate does) while other threads create
 * backup keys and key resources: no secret may be wrapped by an old key
 * after a rotation's commit.  Afterwards every backup key unwraps under
 * the active key and a system backup, which unwraps all
 * key material and checks each fingerprint, completes; again after the
 * engine is reopened.  The token is SoftHSM2's, made for the test. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/crypto.h"
#include "core/engine_int.h"
#include "core/hsm.h"

#define WORKERS 2
#define ROTATIONS 3

static char tmp[] = "/tmp/bk-test-hsmrot.XXXXXX";
static atomic_int stop;
static atomic_int made, failed;

static void *worker(void *arg)
{
	struct bk_engine *e = arg;
	char name[64], *id;
	int n = 0;

	while (!atomic_load(&stop)) {
		struct bk_err err = { 0 };
		int r;

		id = NULL;
		if (n % 2) {
			r = bk_key_create(e, NULL, "{}", 0, &id, &err);
		} else {
			snprintf(name, sizeof(name), "w%p-%d", (void *)&n, n);
			r = bk_engine_resource_add(e, "root", "keys", name, NULL,
						   &id, &err);
		}
		if (r) {
			fprintf(stderr, "worker: %s\n", err.msg);
			atomic_fetch_add(&failed, 1);
		} else {
			atomic_fetch_add(&made, 1);
		}
		free(id);
		n++;
	}
	return NULL;
}

/* The operation's status ("Completed", ...) once none runs. */
static void last_status(struct bk_engine *e, char *out, size_t size)
{
	json_object *o;
	char *json = NULL;

	bk_status_wait(e);
	out[0] = '\0';
	if (bk_status_json(e, &json, NULL))
		return;
	o = json_tokener_parse(json);
	snprintf(out, size, "%s", json_object_get_string(
		json_object_object_get(o, "status")));
	json_object_put(o);
	free(json);
}

static int unwrap_cb(void *arg, const char *id)
{
	struct bk_engine *e = arg;
	struct bk_err err = { 0 };
	uint8_t key[32];
	int r = bk_key_load(e, e->store, NULL, id, key, &err);

	if (r)
		fprintf(stderr, "backup key %s: %s\n", id, err.msg);
	CHECK_EQ_INT(r, 0);
	return 0;
}

/* Every backup key unwraps; a system backup (all key material) too. */
static void check_all(struct bk_engine *e)
{
	struct bk_err err = { 0 };
	char st[32];

	CHECK_EQ_INT(bk_key_ids(e, NULL, unwrap_cb, e, &err), 0);
	CHECK_EQ_INT(bk_backup_start(e, NULL, "{}", 0, NULL, &err), 0);
	last_status(e, st, sizeof(st));
	CHECK(!strcmp(st, "Completed"));
}

int main(void)
{
	char cmd[1024], state[300], uri[600], st[32];
	struct bk_engine *e = NULL;
	struct bk_err err = { 0 };
	pthread_t w[WORKERS];

	bk_crypto_init();
	if (!mkdtemp(tmp))
		return 1;
	snprintf(cmd, sizeof(cmd), "%s/softhsm2.conf", tmp);
	setenv("SOFTHSM2_CONF", cmd, 1);
	snprintf(cmd, sizeof(cmd), "mkdir %s/tokens && printf '%s' '%s/tokens'"
		 " > %s/softhsm2.conf && softhsm2-util --init-token --free"
		 " --label rotu --pin 1234 --so-pin 5678 >/dev/null &&"
		 " echo 1234 > %s/pin", tmp,
		 "directories.tokendir = %s\\nobjectstore.backend = file\\n",
		 tmp, tmp, tmp);
	CHECK_EQ_INT(system(cmd), 0);
	snprintf(state, sizeof(state), "%s/state", tmp);
	snprintf(uri, sizeof(uri), "pkcs11:token=rotu;object=rot?module-path="
		 "/usr/lib/softhsm/libsofthsm2.so&pin-source=%s/pin", tmp);
	CHECK_EQ_INT(bk_state_init_hsm(state, NULL, uri, &err), 0);
	CHECK_EQ_INT(bk_engine_open_hsm(state, BK_ENGINE_DAEMON, NULL, &e,
					&err), 0);
	if (!e) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	for (int i = 0; i < WORKERS; i++)
		pthread_create(&w[i], NULL, worker, e);
	for (int i = 0; i < ROTATIONS; i++) {
		while (atomic_load(&made) < 20 * (i + 1))
			usleep(1000);	/* secrets to re-wrap */
		CHECK_EQ_INT(bk_hsm_request(e, 0, "{}", 0, &err), 0);
		last_status(e, st, sizeof(st));
		CHECK(!strcmp(st, "Completed"));
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(w[i], NULL);
	CHECK_EQ_INT(atomic_load(&failed), 0);
	check_all(e);
	bk_engine_close(e);
	e = NULL;
	CHECK_EQ_INT(bk_engine_open_hsm(state, BK_ENGINE_DAEMON, NULL, &e,
					&err), 0);
	if (e) {
		check_all(e);
		bk_engine_close(e);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", tmp);
	return check_done("test_hsm_rotate");
}
