/* rot_p11_uri.c - PKCS#11 URIs of keys: the URI to store (no PIN value),
 * a key's identity (token, label, id: what an anchored domain records),
 * and merging an identity with how to reach its token. */
#include "p11_int.h"

#include <errno.h>
#include <string.h>

#include <p11-kit/uri.h>

/* rot's key as a URI: the token's URI with the key's label and id, and
 * (identity) without anything but token, object and id. */
static char *key_uri(const struct bk_rot *rot, int identity)
{
	P11KitUri *u = p11_kit_uri_new();
	uint8_t id[32];
	char *s = NULL;
	size_t n;

	if (u && rot->tok->uri && p11_kit_uri_parse(rot->tok->uri,
			P11_KIT_URI_FOR_ANY, u) == P11_KIT_URI_OK &&
	    !bk_p11_unhex(rot->key_id, id, sizeof(id), &n)) {
		CK_ATTRIBUTE a = { CKA_ID, id, n };
		CK_ATTRIBUTE l = { CKA_LABEL, (void *)rot->label,
				   strlen(rot->label) };

		if (identity) {
			p11_kit_uri_set_pin_source(u, NULL);
			p11_kit_uri_set_module_name(u, NULL);
			p11_kit_uri_set_module_path(u, NULL);
		}
		if (p11_kit_uri_set_attribute(u, &a) != P11_KIT_URI_OK ||
		    p11_kit_uri_set_attribute(u, &l) != P11_KIT_URI_OK ||
		    p11_kit_uri_format(u, identity ?
				       P11_KIT_URI_FOR_OBJECT_ON_TOKEN :
				       P11_KIT_URI_FOR_ANY, &s) !=
		    P11_KIT_URI_OK)
			s = NULL;
	}
	if (u)
		p11_kit_uri_free(u);
	return s;
}

char *bk_rot_p11_uri(const struct bk_rot *rot)
{
	return key_uri(rot, 0);
}

char *bk_rot_identity(const struct bk_rot *rot)
{
	return rot->p11 ? key_uri(rot, 1) : NULL;
}

int bk_rot_uri_token(const char *uri, char token[33])
{
	P11KitUri *u = p11_kit_uri_new();
	int ret = -EINVAL;

	if (u && p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, u) ==
	    P11_KIT_URI_OK) {
		CK_TOKEN_INFO *ti = p11_kit_uri_get_token_info(u);

		bk_p11_trim_copy(token, 33, ti->label, sizeof(ti->label));
		ret = token[0] ? 0 : -EINVAL;
	}
	if (u)
		p11_kit_uri_free(u);
	return ret;
}

char *bk_rot_uri_merge(const char *identity, const char *conn)
{
	P11KitUri *u = p11_kit_uri_new(), *c = p11_kit_uri_new();
	char *s = NULL;

	if (u && c && p11_kit_uri_parse(identity, P11_KIT_URI_FOR_ANY, u) ==
	    P11_KIT_URI_OK && p11_kit_uri_parse(conn, P11_KIT_URI_FOR_ANY,
						c) == P11_KIT_URI_OK) {
		p11_kit_uri_set_module_name(u, p11_kit_uri_get_module_name(c));
		p11_kit_uri_set_module_path(u, p11_kit_uri_get_module_path(c));
		p11_kit_uri_set_pin_source(u, p11_kit_uri_get_pin_source(c));
		p11_kit_uri_set_pin_value(u, p11_kit_uri_get_pin_value(c));
		if (p11_kit_uri_format(u, P11_KIT_URI_FOR_ANY, &s) !=
		    P11_KIT_URI_OK)
			s = NULL;
	}
	if (u)
		p11_kit_uri_free(u);
	if (c)
		p11_kit_uri_free(c);
	return s;
}
