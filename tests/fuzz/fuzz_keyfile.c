/* fuzz_keyfile.c - libFuzzer target: the backup-key file reader
 * (core/keyfile.h).
 *
 * Every input goes through bk_keyfile_inspect (structure, metadata JSON,
 * scrypt parameters).  Only when the file asks for the cheapest scrypt
 * the reader accepts (N = 2^14, r = 1, p = 1: a few milliseconds) is it
 * also imported with the fixed passphrase, so that the check value, the
 * GCM decryption and the tamper paths are reached; the seed corpus holds
 * such files (tests/fuzz/gen_seeds.c).  Exported files use N = 2^17,
 * which would make every execution take a quarter of a second.
 */
#include <stdint.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "core/keyfile.h"
#include "core/crypto.h"
#include "fuzz_common.h"

static int kdf_int(json_object *kdf, const char *name)
{
	json_object *v;

	if (!json_object_object_get_ex(kdf, name, &v))
		return -1;
	return json_object_get_int(v);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (bk_crypto_init())
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *meta = NULL, *meta2 = NULL, *kdf;
	struct bk_err err = { 0 };
	uint8_t key[32];
	int cheap;

	if (bk_keyfile_inspect(data, size, &meta, &err))
		return 0;
	(void)json_object_to_json_string(meta);
	cheap = json_object_object_get_ex(meta, "kdf", &kdf) &&
		kdf_int(kdf, "logN") == 14 && kdf_int(kdf, "r") == 1 &&
		kdf_int(kdf, "p") == 1;
	json_object_put(meta);
	if (cheap && !bk_keyfile_import(data, size, FZ_PASSPHRASE,
					sizeof(FZ_PASSPHRASE) - 1, &meta2,
					key, &err))
		json_object_put(meta2);
	return 0;
}
