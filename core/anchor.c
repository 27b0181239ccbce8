/* anchor.c - HSM-anchored domains: a domain whose key material is wrapped
 * by a key on a PKCS#11 token (the domain's "hsm" column holds its URI,
 * with the key's id and without any PIN value). */
#include "hsm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

int bk_hsm_domain_create(struct bk_engine *e, const char *name,
			 const char *uri, struct bk_err *err)
{
	struct bk_rot *rot = NULL;
	char *stored = NULL;
	int ret;

	ret = bk_rot_p11_open(uri, NULL, 1, &rot, err);
	if (ret)
		return ret;
	stored = bk_rot_uri(rot);
	if (!stored) {
		ret = bk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	pthread_mutex_lock(&e->db_lock);
	ret = bk_store_begin(e->store, err);
	if (!ret) {
		ret = bk_domain_add(e->store, name, stored, err);
		if (!ret)
			ret = bk_key_create_in(e, e->store, name, NULL, 1, NULL,
					       err);
		if (ret)
			bk_store_rollback(e->store);
		else
			ret = bk_store_commit(e->store, err);
	}
	pthread_mutex_unlock(&e->db_lock);
out:
	free(stored);
	bk_rot_free(rot);
	return ret;
}
