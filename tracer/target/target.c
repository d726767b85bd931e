// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * target.c - which backend holds a pod's Istio rules, and its rules.
 *
 * Istio (1.22+) decides per pod: iptables-legacy if legacy already has
 * rules (its save prints >= 3 lines), else iptables-nft; since 1.27 the
 * rules may instead be native nftables tables.  The wrong tool prints
 * nothing, so the detection reads every candidate and looks for Istio's
 * chains, rather than trusting the node's default iptables.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "netns.h"
#include "rules-int.h"
#include "spawn.h"
#include "target.h"

#define ST_TGT_SHOW_MAX 120 /* characters of a program's stderr in messages */

struct st_tgt {
	enum st_backend backend;
	struct st_ruleset *rs;
	char *text[3]; /* [0] nft JSON, [1] v4 save, [2] v6 save */
	size_t len[3];
	char note[ST_ERRBUF_SIZE];
};

/* Detection state: what ran, what was missing, what failed. */
struct st_probe {
	int netns_fd;
	int timeout_ms;
	char missing[128];
	char failed[ST_ERRBUF_SIZE];
	char *note; /* the result's note buffer */
};

enum { ST_TXT_NFT = 0, ST_TXT_V4 = 1, ST_TXT_V6 = 2 };

static void st_tgt_append(char *buf, size_t size, const char *sep,
			  const char *fmt, ...) __st_printf(4, 5);

static void st_tgt_append(char *buf, size_t size, const char *sep,
			  const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n > 0 && n + strlen(sep) < size) {
		memcpy(buf + n, sep, strlen(sep) + 1);
		n += strlen(sep);
	}
	if (n + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, size - n, fmt, ap);
	va_end(ap);
}

/*
 * Run a listing program in the target.  1: it ran and exited 0 (@res
 * filled); 0: not installed (noted in @p->missing) or it failed (noted in
 * @failed); < 0: st_spawn() itself failed (the namespace could not be
 * entered...), @err set.
 */
static int st_tgt_run(struct st_probe *p, char *const argv[], char *failed,
		      size_t fsize, struct st_spawn_result *res, char *err)
{
	char line[ST_TGT_SHOW_MAX + 1];
	char lerr[ST_ERRBUF_SIZE];
	int ret;

	ret = st_spawn(argv, p->netns_fd, NULL, 0, p->timeout_ms, res, lerr);
	if (ret == -ENOENT) {
		st_tgt_append(p->missing, sizeof(p->missing), ", ", "%s",
			      argv[0]);
		return 0;
	}
	if (ret < 0) {
		if (err != NULL)
			st_strlcpy(err, lerr, ST_ERRBUF_SIZE);
		return ret;
	}
	if (res->status != 0) {
		st_tgt_append(failed, fsize, "; ", "%s failed (exit %d): %s",
			      argv[0], res->status,
			      st_spawn_errline(res, line, sizeof(line)));
		st_spawn_result_free(res);
		return 0;
	}
	return 1;
}

static size_t st_tgt_count_lines(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (s[i] == '\n')
			n++;
	if (len > 0 && s[len - 1] != '\n')
		n++;
	return n;
}

/* Does save output declare one of Istio's chains (":ISTIO_OUTPUT - [0:0]")? */
static bool st_tgt_has_istio_chain(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *line = s + i;
		const char *nl = memchr(line, '\n', len - i);
		size_t n = nl != NULL ? (size_t)(nl - line) : len - i;

		if (n > 7 && memcmp(line, ":ISTIO_", 7) == 0)
			return true;
		i += n + 1;
	}
	return false;
}

/* Istio's "has rules": >= 3 lines, and ours: an ISTIO_ chain. */
static bool st_tgt_save_has_istio(const char *s, size_t len)
{
	return s != NULL && st_tgt_count_lines(s, len) >= 3 &&
	       st_tgt_has_istio_chain(s, len);
}

static bool st_tgt_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; s != NULL && i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return false;
	return true;
}

/* `nft -j list tables`: any table named istio-*? */
static int st_tgt_nft_istio_tables(const char *s, size_t len, char *names,
				   size_t size, char *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(s, len, 0, &jerr);
	json_t *items, *it;
	size_t i;
	int found = 0;

	if (root == NULL)
		return st_err(err, EINVAL,
			      "nft -j list tables: not JSON (line %d: %s)",
			      jerr.line, jerr.text);
	items = json_object_get(root, "nftables");
	json_array_foreach(items, i, it)
	{
		json_t *t = json_object_get(it, "table");
		const char *name =
			json_string_value(json_object_get(t, "name"));
		const char *fam =
			json_string_value(json_object_get(t, "family"));

		if (name == NULL || fam == NULL ||
		    strncmp(name, "istio-", 6) != 0)
			continue;
		found++;
		st_tgt_append(names, size, ", ", "%.16s %.64s", fam, name);
	}
	json_decref(root);
	return found;
}

static void st_tgt_keep(struct st_tgt *t, int which,
			struct st_spawn_result *res)
{
	free(t->text[which]);
	t->text[which] = res->out;
	t->len[which] = res->out_len;
	res->out = NULL;
	res->out_len = 0;
	st_spawn_result_free(res);
}

static int st_tgt_probe_nftables(struct st_probe *p, struct st_tgt *t,
				 bool *found, char *err)
{
	char *const list_tables[] = {"nft", "-j", "list", "tables", NULL};
	char *const list_ruleset[] = {"nft", "-j", "list", "ruleset", NULL};
	struct st_spawn_result res = {0};
	char names[256] = "";
	int ret;

	*found = false;
	ret = st_tgt_run(p, list_tables, p->failed, sizeof(p->failed), &res,
			 err);
	if (ret <= 0)
		goto out;
	ret = st_tgt_nft_istio_tables(res.out, res.out_len, names,
				      sizeof(names), err);
	if (ret <= 0)
		goto out;
	st_spawn_result_free(&res);
	ret = st_tgt_run(p, list_ruleset, p->failed, sizeof(p->failed), &res,
			 err);
	if (ret < 0)
		goto out;
	if (ret == 0) {
		ret = st_err(
			err, EIO,
			"nftables tables %s are there but cannot be listed: %s%s",
			names, p->failed, p->missing);
		goto out;
	}
	st_tgt_keep(t, ST_TXT_NFT, &res);
	*found = true;
	ret = 0;
out:
	st_spawn_result_free(&res);
	return ret < 0 ? ret : 0;
}

/*
 * One iptables backend: both families' save output.  *@found when either
 * declares an Istio chain with Istio's ">= 3 lines"; *@any when either
 * printed rules at all (for the message when nothing is Istio's).
 */
static int st_tgt_probe_ipt(struct st_probe *p, struct st_tgt *t, bool legacy,
			    bool keep, bool *found, bool *any, char *err)
{
	char *const v4[] = {
		legacy ? "iptables-legacy-save" : "iptables-nft-save", NULL};
	char *const v6[] = {
		legacy ? "ip6tables-legacy-save" : "ip6tables-nft-save", NULL};
	struct st_spawn_result r4 = {0}, r6 = {0};
	char v6failed[ST_ERRBUF_SIZE] = "";
	int ret;

	*found = false;
	*any = false;
	ret = st_tgt_run(p, v4, p->failed, sizeof(p->failed), &r4, err);
	if (ret < 0)
		goto out;
	/* IPv6 may be off in the kernel: a failure there is only noted. */
	ret = st_tgt_run(p, v6, v6failed, sizeof(v6failed), &r6, err);
	if (ret < 0)
		goto out;
	if (v6failed[0] != '\0')
		st_tgt_append(p->note, ST_ERRBUF_SIZE, "; ", "%s", v6failed);
	*found = st_tgt_save_has_istio(r4.out, r4.out_len) ||
		 st_tgt_save_has_istio(r6.out, r6.out_len);
	*any = st_tgt_count_lines(r4.out, r4.out_len) >= 3 ||
	       st_tgt_count_lines(r6.out, r6.out_len) >= 3;
	if (*found && keep) {
		st_tgt_keep(t, ST_TXT_V4, &r4);
		st_tgt_keep(t, ST_TXT_V6, &r6);
	}
	ret = 0;
out:
	st_spawn_result_free(&r4);
	st_spawn_result_free(&r6);
	return ret;
}

static bool st_tgt_want(const struct st_tgt_opts *o, enum st_backend b)
{
	return o == NULL || o->backend == ST_BACKEND_UNKNOWN || o->backend == b;
}

/* Nothing found: say why as precisely as we can. */
static int st_tgt_probe_fail(struct st_probe *p, const struct st_tgt_opts *o,
			     bool legacy_any, bool nft_any, char *err)
{
	const char *where =
		o != NULL && o->backend != ST_BACKEND_UNKNOWN
			? st_backend_name(o->backend)
			: "nftables, iptables-legacy or iptables-nft";

	if (p->missing[0] != '\0')
		return st_err(
			err, ENOENT,
			"cannot read this network namespace's rules: not installed: %s (install the iptables and nftables packages)%s%s",
			p->missing, p->failed[0] ? "; " : "", p->failed);
	if (p->failed[0] != '\0')
		return st_err(err, EIO, "cannot read the rules: %s", p->failed);
	return st_err(
		err, ENODATA,
		"no Istio rules in this network namespace (looked in %s)%s%s",
		where,
		legacy_any
			? "; iptables-legacy holds rules, but no ISTIO_ chain"
			: "",
		nft_any ? "; iptables-nft holds rules, but no ISTIO_ chain"
			: "");
}

static int st_tgt_probe(int netns_fd, const struct st_tgt_opts *o,
			struct st_tgt *t, char *err)
{
	struct st_probe p = {.netns_fd = netns_fd, .note = t->note};
	bool found = false, legacy_any = false, nft_any = false;
	bool nft_found = false, any;
	int ret;

	if (netns_fd < 0)
		return st_err(err, EBADF, "no target network namespace");
	p.timeout_ms = o != NULL ? o->timeout_ms : 0;

	if (st_tgt_want(o, ST_BACKEND_NFTABLES)) {
		ret = st_tgt_probe_nftables(&p, t, &found, err);
		if (ret < 0)
			return ret;
		if (found) {
			t->backend = ST_BACKEND_NFTABLES;
			goto done;
		}
	}
	if (st_tgt_want(o, ST_BACKEND_LEGACY)) {
		ret = st_tgt_probe_ipt(&p, t, true, true, &found, &legacy_any,
				       err);
		if (ret < 0)
			return ret;
		if (found) {
			t->backend = ST_BACKEND_LEGACY;
			/* Istio would stay on legacy too; say if nft has some. */
			if (st_tgt_want(o, ST_BACKEND_NFT) &&
			    st_tgt_probe_ipt(&p, t, false, false, &nft_found,
					     &any, err) == 0 &&
			    nft_found)
				st_tgt_append(
					t->note, sizeof(t->note), "; ",
					"iptables-nft also holds Istio rules; using iptables-legacy as Istio does");
			goto done;
		}
	}
	if (st_tgt_want(o, ST_BACKEND_NFT)) {
		ret = st_tgt_probe_ipt(&p, t, false, true, &found, &nft_any,
				       err);
		if (ret < 0)
			return ret;
		if (found) {
			t->backend = ST_BACKEND_NFT;
			goto done;
		}
	}
	return st_tgt_probe_fail(&p, o, legacy_any, nft_any, err);
done:
	if (p.missing[0] != '\0')
		st_tgt_append(t->note, sizeof(t->note), "; ",
			      "not installed: %s", p.missing);
	return 0;
}

void st_tgt_free(struct st_tgt *t)
{
	size_t i;

	if (t == NULL)
		return;
	st_ruleset_free(t->rs);
	for (i = 0; i < ST_ARRAY_SIZE(t->text); i++)
		free(t->text[i]);
	free(t);
}

static int st_tgt_load(struct st_tgt *t, int which, const char *name, char *err)
{
	if (st_tgt_blank(t->text[which], t->len[which]))
		return 0;
	return st_rules_load_buf(t->rs, t->text[which], t->len[which], name,
				 err);
}

int st_tgt_read(int netns_fd, const struct st_tgt_opts *o, struct st_tgt **out,
		char *err)
{
	struct st_tgt *t = NULL;
	bool legacy;
	int ret;

	if (out == NULL)
		return st_err(err, EINVAL, "st_tgt_read: no result pointer");
	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return st_err(err, ENOMEM, "out of memory");
	ret = st_tgt_probe(netns_fd, o, t, err);
	if (ret < 0)
		goto out;
	t->rs = st_ruleset_new();
	if (t->rs == NULL) {
		ret = st_err(err, ENOMEM, "out of memory");
		goto out;
	}
	if (t->backend == ST_BACKEND_NFTABLES) {
		ret = st_tgt_load(t, ST_TXT_NFT, "nft -j list ruleset", err);
	} else {
		legacy = t->backend == ST_BACKEND_LEGACY;
		ret = st_tgt_load(t, ST_TXT_V4,
				  legacy ? "iptables-legacy-save"
					 : "iptables-nft-save",
				  err);
		if (ret == 0)
			ret = st_tgt_load(t, ST_TXT_V6,
					  legacy ? "ip6tables-legacy-save"
						 : "ip6tables-nft-save",
					  err);
	}
	if (ret < 0)
		goto out;
	/* We know which tool printed it, whatever its header says. */
	if (st_ruleset_backend(t->rs) != t->backend)
		st_ruleset_set_backend(t->rs, t->backend);
	*out = t;
	t = NULL;
out:
	st_tgt_free(t);
	return ret;
}

int st_tgt_detect(int netns_fd, const struct st_tgt_opts *o,
		  enum st_backend *backend, char *err)
{
	struct st_tgt *t = NULL;
	int ret;

	if (backend == NULL)
		return st_err(err, EINVAL, "st_tgt_detect: no result pointer");
	*backend = ST_BACKEND_UNKNOWN;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return st_err(err, ENOMEM, "out of memory");
	ret = st_tgt_probe(netns_fd, o, t, err);
	if (ret == 0)
		*backend = t->backend;
	st_tgt_free(t);
	return ret;
}

int st_tgt_open_pid(int pid, const char *proc_root, char *err)
{
	char path[PATH_MAX];
	char lerr[ST_ERRBUF_SIZE];
	int fd;

	if (pid <= 0)
		return st_err(err, EINVAL, "invalid pid %d", pid);
	snprintf(path, sizeof(path), "%s/%d/ns/net",
		 proc_root != NULL ? proc_root : "/proc", pid);
	fd = st_netns_open(path, lerr);
	if (fd == -ENOENT)
		return st_err(err, ESRCH, "no process %d", pid);
	if (fd < 0)
		return st_err(err, -fd, "%s", lerr);
	return fd;
}

enum st_backend st_tgt_backend(const struct st_tgt *t)
{
	return t == NULL ? ST_BACKEND_UNKNOWN : t->backend;
}

const struct st_ruleset *st_tgt_rules(const struct st_tgt *t)
{
	return t == NULL ? NULL : t->rs;
}

struct st_ruleset *st_tgt_take_rules(struct st_tgt *t)
{
	struct st_ruleset *rs;

	if (t == NULL)
		return NULL;
	rs = t->rs;
	t->rs = NULL;
	return rs;
}

const char *st_tgt_text(const struct st_tgt *t, enum st_family family,
			size_t *len)
{
	int which;

	if (len != NULL)
		*len = 0;
	if (t == NULL)
		return "";
	if (family == ST_FAMILY_IPV6)
		which = ST_TXT_V6;
	else if (family == ST_FAMILY_IPV4 || t->backend != ST_BACKEND_NFTABLES)
		which = ST_TXT_V4;
	else
		which = ST_TXT_NFT;
	if (t->text[which] == NULL)
		return "";
	if (len != NULL)
		*len = t->len[which];
	return t->text[which];
}

const char *st_tgt_note(const struct st_tgt *t)
{
	return t == NULL ? "" : t->note;
}

int st_tgt_set_text(struct st_tgt *t, enum st_family family, char *text)
{
	int which;

	if (t == NULL || text == NULL)
		return -EINVAL;
	if (family == ST_FAMILY_IPV6)
		which = ST_TXT_V6;
	else if (family == ST_FAMILY_IPV4 || t->backend != ST_BACKEND_NFTABLES)
		which = ST_TXT_V4;
	else
		which = ST_TXT_NFT;
	free(t->text[which]);
	t->text[which] = text;
	t->len[which] = strlen(text);
	return 0;
}
