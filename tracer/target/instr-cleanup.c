// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * instr-cleanup.c - st_instr_cleanup(): find the rules of sessions whose
 * lock is free (the process died) and remove them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "instr-int.h"

struct st_cleanup {
	const char *dir;
	unsigned long long ino;
	unsigned int flags;
	struct st_instr_stale *v; /* per session and backend */
	size_t n;
	struct {
		uint32_t session;
		bool live;
		int fd;
	} * locks;
	size_t nlocks;
};

static int st_cleanup_lock(struct st_cleanup *cl, uint32_t s, bool *live)
{
	void *p = NULL;
	int fd = -1;

	for (size_t i = 0; i < cl->nlocks; i++)
		if (cl->locks[i].session == s) {
			*live = cl->locks[i].live;
			return 0;
		}
	p = realloc(cl->locks, (cl->nlocks + 1) * sizeof(*cl->locks));
	if (p == NULL)
		return -ENOMEM;
	cl->locks = p;
	cl->locks[cl->nlocks].session = s;
	cl->locks[cl->nlocks].live = st_lock_probe(cl->dir, cl->ino, s, &fd);
	cl->locks[cl->nlocks].fd = fd;
	*live = cl->locks[cl->nlocks].live;
	cl->nlocks++;
	return 0;
}

static struct st_instr_stale *st_cleanup_entry(struct st_cleanup *cl,
					       uint32_t s, enum st_backend b)
{
	struct st_instr_stale *v = NULL;

	for (size_t i = 0; i < cl->n; i++)
		if (cl->v[i].session == s && cl->v[i].backend == b)
			return &cl->v[i];
	v = realloc(cl->v, (cl->n + 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	cl->v = v;
	v = &cl->v[cl->n++];
	memset(v, 0, sizeof(*v));
	v->session = s;
	v->backend = b;
	return v;
}

/* Sessions with rules in one dump, and how many rules each has. */
static int st_cleanup_collect(struct st_cleanup *cl, enum st_backend b,
			      const char *dump, uint32_t **set, size_t *nset,
			      char *err)
{
	uint32_t *list = NULL;
	size_t n = 0;
	int ret = 0;

	*set = NULL;
	*nset = 0;
	if (b == ST_BACKEND_NFTABLES) {
		struct st_nft_model m;

		ret = st_nft_model_load(dump, strlen(dump), &m, err);
		if (ret < 0)
			return ret;
		for (size_t ci = 0; ci < m.nchains && ret == 0; ci++)
			for (size_t i = 0; i < m.chains[ci].nrules; i++) {
				uint32_t s;
				uint32_t *l = NULL;

				if (!st_nft_table_native(
					    &m.tables[m.chains[ci].table]) ||
				    !st_nft_rule_session(m.chains[ci].rules[i],
							 &s))
					continue;
				l = realloc(list, (n + 1) * sizeof(*l));
				if (l == NULL) {
					ret = st_err(err, ENOMEM,
						     "out of memory");
					break;
				}
				list = l;
				list[n++] = s;
			}
		st_nft_model_free(&m);
	} else {
		struct st_ipt_scan sc;

		ret = st_ipt_scan(dump, strlen(dump), &sc, NULL, err);
		if (ret < 0)
			return ret;
		for (size_t i = 0; i < sc.n; i++) {
			uint32_t *l = NULL;

			if (!sc.v[i].session_rule)
				continue;
			l = realloc(list, (n + 1) * sizeof(*l));
			if (l == NULL) {
				ret = st_err(err, ENOMEM, "out of memory");
				break;
			}
			list = l;
			list[n++] = sc.v[i].session;
		}
		free(sc.v);
	}
	if (ret < 0) {
		free(list);
		return ret;
	}
	/* Count per session, then keep each session once. */
	for (size_t i = 0; i < n; i++) {
		struct st_instr_stale *e = st_cleanup_entry(cl, list[i], b);

		if (e == NULL) {
			free(list);
			return st_err(err, ENOMEM, "out of memory");
		}
		e->nrules++;
	}
	for (size_t i = 0; i < n; i++)
		if (!st_itag_in_set(list, *nset, list[i]))
			list[(*nset)++] = list[i];
	*set = list;
	return 0;
}

static int st_cleanup_slot(struct st_cleanup *cl, int netns_fd,
			   enum st_backend b, int slot, bool tolerant,
			   char *err)
{
	uint32_t *found = NULL, *dead = NULL;
	size_t nfound = 0, ndead = 0;
	char *dump = NULL;
	int ret;

	ret = st_tool_read_dump(netns_fd, b, slot, &dump, err);
	if (ret < 0) {
		/* Looking everywhere: a backend that is not there is fine. */
		if (tolerant)
			ret = 0;
		goto out;
	}
	ret = st_cleanup_collect(cl, b, dump, &found, &nfound, err);
	if (ret < 0 || nfound == 0)
		goto out;
	dead = calloc(nfound, sizeof(*dead));
	if (dead == NULL) {
		ret = st_err(err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nfound; i++) {
		bool live = false;

		if (st_cleanup_lock(cl, found[i], &live) < 0) {
			ret = st_err(err, ENOMEM, "out of memory");
			goto out;
		}
		st_cleanup_entry(cl, found[i], b)->live = live;
		if (!live || (cl->flags & ST_INSTR_F_FORCE))
			dead[ndead++] = found[i];
	}
	if (ndead == 0)
		goto out;
	ret = st_tool_remove_set(netns_fd, b, slot, dead, ndead, NULL, err);
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < ndead; i++)
		st_cleanup_entry(cl, dead[i], b)->removed = true;
out:
	free(dump);
	free(found);
	free(dead);
	return ret;
}

int st_instr_cleanup(int netns_fd, enum st_backend backend, unsigned int flags,
		     const char *lock_dir, struct st_instr_stale *found,
		     size_t max, size_t *nfound, char *err)
{
	static const enum st_backend all[] = {
		ST_BACKEND_LEGACY,
		ST_BACKEND_NFT,
		ST_BACKEND_NFTABLES,
	};
	struct st_cleanup cl;
	bool tolerant = backend == ST_BACKEND_UNKNOWN;
	int ret = 0;

	if (nfound != NULL)
		*nfound = 0;
	if (netns_fd < 0 || (found == NULL && max > 0))
		return st_err(err, EINVAL, "cleanup: bad arguments");
	memset(&cl, 0, sizeof(cl));
	cl.dir = lock_dir != NULL ? lock_dir : ST_INSTR_LOCK_DIR;
	if (strlen(cl.dir) > 256)
		return st_err(err, ENAMETOOLONG,
			      "%s: lock directory name too long", cl.dir);
	cl.flags = flags;
	ret = st_lock_ino(netns_fd, &cl.ino, err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < ST_ARRAY_SIZE(all); i++) {
		if (!tolerant && all[i] != backend)
			continue;
		for (int s = 0; s < st_tool_nslots(all[i]); s++) {
			ret = st_cleanup_slot(&cl, netns_fd, all[i], s,
					      tolerant, err);
			if (ret < 0)
				goto out;
		}
	}
out:
	/* A dead session whose rules are all gone needs no lock file. */
	for (size_t i = 0; i < cl.nlocks; i++) {
		bool left = false;
		char path[512];

		if (cl.locks[i].fd < 0)
			continue;
		for (size_t k = 0; k < cl.n; k++)
			if (cl.v[k].session == cl.locks[i].session &&
			    !cl.v[k].removed)
				left = true;
		if (!left && ret == 0) {
			st_lock_name(path, sizeof(path), cl.dir, cl.ino,
				     cl.locks[i].session);
			unlink(path);
		}
		close(cl.locks[i].fd);
	}
	for (size_t i = 0; i < cl.n && i < max; i++)
		found[i] = cl.v[i];
	if (nfound != NULL)
		*nfound = cl.n;
	free(cl.locks);
	free(cl.v);
	return ret;
}
