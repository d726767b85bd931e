// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * instr-tool.c - the backends' programs (iptables-*-save/-restore, nft)
 * run in the target's namespace through st_spawn(): reading dumps,
 * applying transactions, removing the rules of given sessions.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "instr-int.h"
#include "spawn.h"

#define ST_TOOL_TIMEOUT_MS 30000

int st_tool_nslots(enum st_backend b)
{
	return b == ST_BACKEND_NFTABLES ? 1 : 2;
}

const char *st_tool_name(enum st_backend b, int slot, bool restore)
{
	static const char *const names[2][2][2] = {
		{{"iptables-legacy-save", "iptables-legacy-restore"},
		 {"ip6tables-legacy-save", "ip6tables-legacy-restore"}},
		{{"iptables-nft-save", "iptables-nft-restore"},
		 {"ip6tables-nft-save", "ip6tables-nft-restore"}},
	};

	if (b == ST_BACKEND_NFTABLES)
		return "nft";
	return names[b == ST_BACKEND_NFT][slot][restore];
}

const char *st_tool_slot_name(enum st_backend b, int slot)
{
	if (b == ST_BACKEND_NFTABLES)
		return "nftables";
	return st_tool_name(b, slot, false);
}

static int st_tool_run(int netns_fd, const char *const *argv, const char *input,
		       size_t inlen, char **out, char *err)
{
	struct st_spawn_result res;
	int ret;

	if (out != NULL)
		*out = NULL;
	ret = st_spawn((char *const *)argv, netns_fd, input, inlen,
		       ST_TOOL_TIMEOUT_MS, &res, err);
	if (ret < 0)
		return ret;
	if (res.status != 0) {
		char msg[300];

		ret = st_err(err, EIO, "%s failed (exit status %d): %s",
			     argv[0], res.status,
			     st_spawn_errline(&res, msg, sizeof(msg)));
		goto out;
	}
	if (out != NULL) {
		*out = res.out != NULL ? res.out : strdup("");
		res.out = NULL;
		if (*out == NULL)
			ret = st_err(err, ENOMEM, "out of memory");
	}
out:
	st_spawn_result_free(&res);
	return ret;
}

/* What removal works from: save text, or nft JSON. */
int st_tool_read_dump(int fd, enum st_backend b, int slot, char **out,
		      char *err)
{
	const char *save[] = {st_tool_name(b, slot, false), NULL};
	const char *nft[] = {"nft", "-j", "list", "ruleset", NULL};

	return st_tool_run(fd, b == ST_BACKEND_NFTABLES ? nft : save, NULL, 0,
			   out, err);
}

/* The comparable form of the rules (the dump itself for iptables). */
int st_tool_read_norm(int fd, enum st_backend b, const char *dump, char **out,
		      char *err)
{
	const char *nft[] = {"nft", "-s", "list", "ruleset", NULL};
	char *text = NULL;
	int ret;

	if (b != ST_BACKEND_NFTABLES) {
		if (dump == NULL)
			return st_err(err, EINVAL, "no rules to normalise");
		return st_instr_normalize(b, dump, strlen(dump), out, err);
	}
	ret = st_tool_run(fd, nft, NULL, 0, &text, err);
	if (ret == 0)
		ret = st_instr_normalize(b, text, strlen(text), out, err);
	free(text);
	return ret;
}

int st_tool_apply(int fd, enum st_backend b, int slot, const char *txn,
		  char *err)
{
	const char *restore[] = {st_tool_name(b, slot, true), "--noflush", "-w",
				 "10", NULL};
	const char *nft[] = {"nft", "-j", "-f", "-", NULL};

	return st_tool_run(fd, b == ST_BACKEND_NFTABLES ? nft : restore, txn,
			   strlen(txn), NULL, err);
}

/* Removal, by backend: for one session (public) or a set (cleanup). */
int st_instr_render_remove(enum st_backend backend, const char *live,
			   size_t len, uint32_t session, char **out,
			   unsigned int *nrules, char *err)
{
	unsigned int dummy;

	if (nrules == NULL)
		nrules = &dummy;
	if (live == NULL || out == NULL)
		return st_err(err, EINVAL, "render: bad arguments");
	switch (backend) {
	case ST_BACKEND_LEGACY:
	case ST_BACKEND_NFT:
		return st_ipt_render_remove(live, len, &session, 1, out, nrules,
					    err);
	case ST_BACKEND_NFTABLES:
		return st_nft_render_remove(live, len, &session, 1, out, nrules,
					    err);
	default:
		return st_err(err, EINVAL, "render: unknown backend");
	}
}

int st_tool_removal(enum st_backend b, const char *dump, const uint32_t *set,
		    size_t nset, char **out, unsigned int *n, char *err)
{
	if (b == ST_BACKEND_NFTABLES)
		return st_nft_render_remove(dump, strlen(dump), set, nset, out,
					    n, err);
	return st_ipt_render_remove(dump, strlen(dump), set, nset, out, n, err);
}

/*
 * Remove every rule of the sessions in @set from one slot and check that
 * none is left.
 */
int st_tool_remove_set(int fd, enum st_backend b, int slot, const uint32_t *set,
		       size_t nset, unsigned int *removed, char *err)
{
	char *dump = NULL, *txn = NULL;
	unsigned int n = 0, left = 0;
	int ret;

	if (removed != NULL)
		*removed = 0;
	ret = st_tool_read_dump(fd, b, slot, &dump, err);
	if (ret == 0)
		ret = st_tool_removal(b, dump, set, nset, &txn, &n, err);
	if (ret < 0 || n == 0)
		goto out;
	ret = st_tool_apply(fd, b, slot, txn, err);
	if (ret < 0)
		goto out;
	free(dump);
	free(txn);
	dump = txn = NULL;
	ret = st_tool_read_dump(fd, b, slot, &dump, err);
	if (ret == 0)
		ret = st_tool_removal(b, dump, set, nset, &txn, &left, err);
	if (ret == 0 && left > 0)
		ret = st_err(err, EIO,
			     "%u sidecar-trace rules are still in the %s rules "
			     "after removing them",
			     left, st_tool_slot_name(b, slot));
	if (ret == 0 && removed != NULL)
		*removed = n;
out:
	free(dump);
	free(txn);
	return ret;
}
