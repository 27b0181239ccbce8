/* rot_bind.c - the keys of HSM-anchored domains, kept by the appliance's
 * root of trust: keys resolved from their URIs (each opened once, sharing
 * the root of trust's session when on its token), and which domain is
 * bound to which.  Every key resolved stays until the root of trust is
 * freed, so the borrowed pointers bk_rot_for hands out never dangle. */
#include "rot_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bk_rot_link {
	char *name;			/* a URI (keys), a domain (bindings),
					 * a token label (connections) */
	struct bk_rot *rot;
	char *conn;			/* connections: the URI */
};

struct bk_rot_links {
	pthread_mutex_t lock;
	struct bk_rot_link *keys, *binds, *conns;
	size_t nkeys, nbinds, nconns;
};

int bk_rot_links_new(struct bk_rot *rot)
{
	rot->links = calloc(1, sizeof(*rot->links));
	if (!rot->links)
		return -ENOMEM;
	pthread_mutex_init(&rot->links->lock, NULL);
	return 0;
}

static struct bk_rot_links *links(struct bk_rot *rot)
{
	return rot->links;
}

static int add(struct bk_rot_link **arr, size_t *n, const char *name,
	       struct bk_rot *r)
{
	struct bk_rot_link *a = realloc(*arr, (*n + 1) * sizeof(**arr));

	if (!a)
		return -ENOMEM;
	*arr = a;
	a[*n].name = strdup(name);
	a[*n].rot = r;
	a[*n].conn = NULL;
	if (!a[*n].name)
		return -ENOMEM;
	(*n)++;
	return 0;
}

static struct bk_rot_link *find(struct bk_rot_link *arr, size_t n,
				const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (arr[i].name && !strcmp(arr[i].name, name))
			return &arr[i];
	return NULL;
}

int bk_rot_connection(struct bk_rot *rot, const char *token,
		      const char *conn, struct bk_err *err)
{
	struct bk_rot_links *l = links(rot);
	struct bk_rot_link *c;
	char *copy = strdup(conn);
	int ret = 0;

	if (!l || !copy) {
		free(copy);
		return bk_errf(err, -ENOMEM, "out of memory");
	}
	pthread_mutex_lock(&l->lock);
	c = find(l->conns, l->nconns, token);
	if (!c && add(&l->conns, &l->nconns, token, NULL) == 0)
		c = &l->conns[l->nconns - 1];
	if (c) {
		free(c->conn);
		c->conn = copy;
	} else {
		free(copy);
		ret = bk_errf(err, -ENOMEM, "out of memory");
	}
	pthread_mutex_unlock(&l->lock);
	return ret;
}

int bk_rot_open_uri(struct bk_rot *rot, const char *uri, int create,
		    struct bk_rot **out, struct bk_err *err)
{
	struct bk_rot_links *l = links(rot);
	struct bk_rot_link *c;
	char tok[33], *merged = NULL;
	int ret = bk_rot_p11_same_token(rot, uri, create, out, err);

	if (ret != -ENODEV)
		return ret;
	if (l && !bk_rot_uri_token(uri, tok)) {
		pthread_mutex_lock(&l->lock);
		c = find(l->conns, l->nconns, tok);
		if (c && c->conn)
			merged = bk_rot_uri_merge(uri, c->conn);
		pthread_mutex_unlock(&l->lock);
	}
	ret = bk_rot_p11_open(merged ? merged : uri, NULL, create, out, err);
	free(merged);
	return ret;
}

int bk_rot_resolve(struct bk_rot *rot, const char *uri, struct bk_rot **out,
		   struct bk_err *err)
{
	struct bk_rot_links *l = links(rot);
	struct bk_rot_link *k;
	struct bk_rot *r = NULL;
	int ret;

	if (!l)
		return bk_errf(err, -ENOMEM, "out of memory");
	pthread_mutex_lock(&l->lock);
	k = find(l->keys, l->nkeys, uri);
	if (k)
		*out = k->rot;
	pthread_mutex_unlock(&l->lock);
	if (k)
		return 0;
	ret = bk_rot_open_uri(rot, uri, 0, &r, err);
	if (ret)
		return ret;
	pthread_mutex_lock(&l->lock);
	k = find(l->keys, l->nkeys, uri);
	if (k) {		/* another thread was quicker */
		bk_rot_free(r);
		r = k->rot;
	} else if (add(&l->keys, &l->nkeys, uri, r)) {
		bk_rot_free(r);
		r = NULL;
	}
	pthread_mutex_unlock(&l->lock);
	if (!r)
		return bk_errf(err, -ENOMEM, "out of memory");
	*out = r;
	return 0;
}

int bk_rot_bind(struct bk_rot *rot, const char *domain, const char *uri,
		struct bk_err *err)
{
	struct bk_rot_links *l = links(rot);
	struct bk_rot_link *b;
	struct bk_rot *r = NULL, *dead = NULL;
	struct bk_err e = { 0 };
	int ret = 0;

	if (!l)
		return bk_errf(err, -ENOMEM, "out of memory");
	if (uri && (ret = bk_rot_resolve(rot, uri, &r, &e))) {
		/* Bound all the same, to a key whose calls give the reason. */
		dead = bk_rot_alloc();
		if (!dead || asprintf(&dead->why,
				      "domain %s is anchored to an HSM key that is not reachable here (%s): %s",
				      domain, uri, e.msg) < 0) {
			bk_rot_free(dead);
			return bk_errf(err, -ENOMEM, "out of memory");
		}
		bk_errf(err, ret, "%s", dead->why);
		r = dead;
	}
	pthread_mutex_lock(&l->lock);
	/* Kept with the keys (under a name no URI has) until rot is freed. */
	if (dead && add(&l->keys, &l->nkeys, "!unreachable", dead)) {
		bk_rot_free(dead);	/* out of memory: left unbound */
		r = NULL;
	}
	b = find(l->binds, l->nbinds, domain);
	if (b)
		b->rot = r;		/* NULL: unbound */
	else if (r && add(&l->binds, &l->nbinds, domain, r))
		ret = bk_errf(err, -ENOMEM, "out of memory");
	pthread_mutex_unlock(&l->lock);
	return ret;
}

void bk_rot_unbind_all(struct bk_rot *rot)
{
	struct bk_rot_links *l = links(rot);

	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < l->nbinds; i++)
		l->binds[i].rot = NULL;
	pthread_mutex_unlock(&l->lock);
}

struct bk_rot *bk_rot_for(struct bk_rot *rot, const char *domain)
{
	struct bk_rot_links *l = rot->links;
	struct bk_rot_link *b;
	struct bk_rot *r = rot;

	if (!l || !domain)
		return rot;
	pthread_mutex_lock(&l->lock);
	b = find(l->binds, l->nbinds, domain);
	if (b && b->rot)
		r = b->rot;
	pthread_mutex_unlock(&l->lock);
	return r;
}

void bk_rot_move_links(struct bk_rot *from, struct bk_rot *to)
{
	struct bk_rot_links *l = to->links;

	to->links = from->links;
	from->links = l;
}

void bk_rot_links_free(struct bk_rot *rot)
{
	struct bk_rot_links *l = rot->links;

	if (!l)
		return;
	for (size_t i = 0; i < l->nkeys; i++) {
		free(l->keys[i].name);
		bk_rot_free(l->keys[i].rot);
	}
	for (size_t i = 0; i < l->nbinds; i++)
		free(l->binds[i].name);
	for (size_t i = 0; i < l->nconns; i++) {
		free(l->conns[i].name);
		free(l->conns[i].conn);
	}
	free(l->keys);
	free(l->binds);
	free(l->conns);
	pthread_mutex_destroy(&l->lock);
	free(l);
	rot->links = NULL;
}
