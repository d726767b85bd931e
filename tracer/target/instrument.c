// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * instrument.c - a session's life in the target: take its lock, check that
 * the rules are those analysed, choose the NFLOG group, insert and verify
 * (removing everything again on failure); watch for changes; remove and
 * compare with the snapshot (see instrument.h for what and why).  The
 * parts it uses are listed in instr-int.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "instr-int.h"

/* "err; what: more", cut to the buffer (cutting is expected here). */
static void st_instr_err_append(char *err, const char *what, const char *more)
{
	const char *parts[] = {"; ", what, ": ", more};
	size_t n;

	if (err == NULL)
		return;
	n = strlen(err);
	for (size_t i = 0; i < ST_ARRAY_SIZE(parts); i++) {
		if (n + 1 >= ST_ERRBUF_SIZE)
			break;
		st_strlcpy(err + n, parts[i], ST_ERRBUF_SIZE - n);
		n += strlen(err + n);
	}
}

/* Take out whatever this session inserted, after a failed attach. */
static void st_instr_rollback(struct st_instr *in, char *err)
{
	char err2[ST_ERRBUF_SIZE];

	for (int s = 0; s < st_tool_nslots(in->backend); s++) {
		if (!in->slot[s].used)
			continue;
		err2[0] = '\0';
		if (st_tool_remove_set(in->netns_fd, in->backend, s,
				       &in->session, 1, NULL, err2) < 0)
			st_instr_err_append(
				err, "removing the inserted rules failed too",
				err2);
	}
}

static int st_instr_new(struct st_instr **out,
			const struct st_instr_config *cfg, char *err)
{
	struct st_instr *in = NULL;
	int ret = 0;

	*out = NULL;
	if (cfg->lock_dir != NULL && strlen(cfg->lock_dir) > 256)
		return st_err(err, ENAMETOOLONG,
			      "%s: lock directory name too "
			      "long",
			      cfg->lock_dir);
	in = calloc(1, sizeof(*in));
	if (in == NULL)
		return st_err(err, ENOMEM, "out of memory");
	in->lock_fd = -1;
	in->gen_fd[0] = in->gen_fd[1] = -1;
	in->backend = cfg->backend;
	in->flags = cfg->flags & ~ST_INSTR_F_FORCE;
	/* Our own reference keeps the namespace alive until detach. */
	in->netns_fd = fcntl(cfg->netns_fd, F_DUPFD_CLOEXEC, 3);
	if (in->netns_fd < 0) {
		ret = st_err(err, errno, "target namespace: %s",
			     strerror(errno));
		goto out;
	}
	ret = st_lock_ino(in->netns_fd, &in->ino, err);
	if (ret < 0)
		goto out;
	in->lock_dir = strdup(cfg->lock_dir != NULL ? cfg->lock_dir
						    : ST_INSTR_LOCK_DIR);
	if (in->lock_dir == NULL) {
		ret = st_err(err, ENOMEM, "out of memory");
		goto out;
	}
	*out = in;
	in = NULL;
out:
	st_instr_free(in);
	return ret;
}

/*
 * Note in @foreign the NFLOG groups that rules of no sidecar-trace session
 * log to (Istio's own IPTABLES_TRACE_LOGGING rules use 1337).
 */
static int st_instr_foreign_ipt(const struct st_ruleset *rs, uint8_t *foreign,
				char *err)
{
	struct st_split *sp;

	if (foreign == NULL)
		return 0;
	sp = malloc(sizeof(*sp));
	if (sp == NULL)
		return st_err(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < st_ruleset_nrules(rs); i++) {
		const struct st_rule *r = st_ruleset_rule(rs, i);

		if (r != NULL && r->text != NULL &&
		    st_split_rule(r->text, strlen(r->text), sp) == 0 &&
		    sp->nflog && !sp->session_rule && sp->group >= 0)
			st_itag_group_mark(foreign, sp->group);
	}
	free(sp);
	return 0;
}

/* Read, compare and snapshot one iptables family before inserting. */
static int st_instr_read_ipt(struct st_instr *in,
			     const struct st_ruleset *rules, int slot,
			     struct st_ruleset **pre, char **dump,
			     uint8_t *groups, uint8_t *foreign, char *err)
{
	enum st_family fam = slot == 0 ? ST_FAMILY_IPV4 : ST_FAMILY_IPV6;
	struct st_strbuf want = {0}, have = {0};
	struct st_ipt_scan sc = {0};
	char msg[300];
	int ret = 0;

	if (rules != NULL) {
		ret = st_verify_ipt_describe(rules, fam, in->flags, &want, err);
		if (ret < 0 || want.len == 0)
			goto out; /* nothing of that family to instrument */
	}
	ret = st_tool_read_dump(in->netns_fd, in->backend, slot, dump, err);
	if (ret < 0) {
		/* Without a ruleset to go by, a missing IPv6 side is no loss. */
		if (rules == NULL && slot == 1)
			ret = 0;
		goto out;
	}
	*pre = st_ruleset_new();
	if (*pre == NULL) {
		ret = st_err(err, ENOMEM, "out of memory");
		goto out;
	}
	ret = st_rules_load_buf(*pre, *dump, strlen(*dump),
				st_tool_name(in->backend, slot, false), err);
	if (ret < 0)
		goto out;
	ret = st_verify_ipt_describe(*pre, fam, in->flags, &have, err);
	if (ret < 0)
		goto out;
	if (rules != NULL &&
	    st_instr_diff(want.p ? want.p : "", have.p ? have.p : "", msg,
			  sizeof(msg))) {
		ret = st_err(err, ESTALE,
			     "the %s rules changed since they were read (%s); "
			     "read them again",
			     st_tool_slot_name(in->backend, slot), msg);
		goto out;
	}
	if (have.len == 0)
		goto out;
	ret = st_ipt_scan(*dump, strlen(*dump), &sc, groups, err);
	if (ret == 0)
		ret = st_instr_foreign_ipt(*pre, foreign, err);
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < sc.n; i++)
		if (sc.v[i].session_rule && sc.v[i].session == in->session) {
			ret = st_err(err, EEXIST,
				     "session %08" PRIx32
				     " already has rules in the target",
				     in->session);
			goto out;
		}
	ret = st_instr_normalize(in->backend, *dump, strlen(*dump),
				 &in->slot[slot].snapshot, err);
	if (ret == 0)
		in->slot[slot].used = true;
out:
	free(sc.v);
	st_strbuf_free(&want);
	st_strbuf_free(&have);
	return ret;
}

/* Read, compare and snapshot the native rules; @pre is loaded on success. */
static int st_instr_read_nft(struct st_instr *in,
			     const struct st_ruleset *rules,
			     struct st_nft_model *pre, char **dump,
			     uint8_t *groups, uint8_t *foreign, char *err)
{
	int ret;

	memset(pre, 0, sizeof(*pre));
	ret = st_tool_read_dump(in->netns_fd, in->backend, 0, dump, err);
	if (ret < 0)
		return ret;
	ret = st_nft_model_load(*dump, strlen(*dump), pre, err);
	if (ret < 0)
		return ret;
	if (rules != NULL) {
		ret = st_verify_nft_compare(rules, pre, in->flags, err);
		if (ret < 0)
			goto out;
	}
	for (size_t ci = 0; ci < pre->nchains; ci++)
		for (size_t i = 0; i < pre->chains[ci].nrules; i++) {
			json_t *r = pre->chains[ci].rules[i];
			json_t *e = NULL;
			uint32_t s;
			size_t k;
			bool sess = st_nft_rule_session(r, &s);

			if (sess && s == in->session) {
				ret = st_err(err, EEXIST,
					     "session %08" PRIx32
					     " already has rules in the target",
					     in->session);
				goto out;
			}
			json_array_foreach(json_object_get(r, "expr"), k, e)
			{
				json_t *g = json_object_get(
					json_object_get(e, "log"), "group");

				if (!json_is_integer(g))
					continue;
				st_itag_group_mark(groups,
						   (int)json_integer_value(g));
				if (!sess && foreign != NULL)
					st_itag_group_mark(
						foreign,
						(int)json_integer_value(g));
			}
		}
	ret = st_tool_read_norm(in->netns_fd, in->backend, NULL,
				&in->slot[0].snapshot, err);
	if (ret == 0)
		in->slot[0].used = true;
out:
	if (ret < 0)
		st_nft_model_free(pre);
	return ret;
}

/* The live rules of every slot, read just before inserting. */
struct st_instr_pre {
	struct st_ruleset *ipt[2];
	struct st_nft_model nm;
	bool nm_loaded;
	char *dump[2];
	char *txn[2];
};

static void st_instr_pre_free(struct st_instr_pre *p)
{
	if (p->nm_loaded)
		st_nft_model_free(&p->nm);
	for (int s = 0; s < 2; s++) {
		st_ruleset_free(p->ipt[s]);
		free(p->dump[s]);
		free(p->txn[s]);
	}
	memset(p, 0, sizeof(*p));
}

/* Forget what the last insertion put in (after it was all removed). */
static void st_instr_slots_reset(struct st_instr *in)
{
	for (int s = 0; s < 2; s++) {
		free(in->slot[s].snapshot);
		memset(&in->slot[s], 0, sizeof(in->slot[s]));
	}
	memset(&in->sum, 0, sizeof(in->sum));
}

/*
 * Read every slot, compare it with @rules and snapshot it; the groups in
 * use go to @groups, those of rules of no session to @foreign (may be
 * NULL).
 */
static int st_instr_read(struct st_instr *in, const struct st_ruleset *rules,
			 struct st_instr_pre *pre, uint8_t *groups,
			 uint8_t *foreign, char *err)
{
	int ret = 0;

	if (in->backend == ST_BACKEND_NFTABLES) {
		ret = st_instr_read_nft(in, rules, &pre->nm, &pre->dump[0],
					groups, foreign, err);
		pre->nm_loaded = ret == 0;
		return ret;
	}
	for (int s = 0; s < 2 && ret == 0; s++)
		ret = st_instr_read_ipt(in, rules, s, &pre->ipt[s],
					&pre->dump[s], groups, foreign, err);
	return ret;
}

/*
 * Render, apply and verify the rules of every used slot with the group
 * chosen; on failure whatever this session inserted is taken out again.
 */
static int st_instr_insert(struct st_instr *in, struct st_instr_pre *pre,
			   char *err)
{
	struct st_instr_opts o;
	bool any = false;
	int ret = 0;

	o.session = in->session;
	o.group = in->group;
	o.flags = in->flags;
	for (int s = 0; s < st_tool_nslots(in->backend); s++) {
		struct st_instr_summary sum;

		if (!in->slot[s].used)
			continue;
		memset(&sum, 0, sizeof(sum));
		if (in->backend == ST_BACKEND_NFTABLES)
			ret = st_nft_render_model(&pre->nm, &o, &pre->txn[s],
						  &sum, err);
		else
			ret = st_instr_render_insert(
				pre->ipt[s],
				s == 0 ? ST_FAMILY_IPV4 : ST_FAMILY_IPV6, &o,
				&pre->txn[s], &sum, err);
		if (ret < 0)
			return ret;
		if (pre->txn[s][0] == '\0') {
			in->slot[s].used = false;
			continue;
		}
		any = true;
		in->slot[s].nrules = sum.nrules;
		in->sum.nchains += sum.nchains;
		in->sum.nrules += sum.nrules;
		in->sum.nhits += sum.nhits;
		in->sum.nskipped += sum.nskipped;
		in->sum.minimal = in->sum.minimal || sum.minimal;
		if (sum.skipped[0] != '\0') {
			size_t used = strlen(in->sum.skipped);

			snprintf(in->sum.skipped + used,
				 sizeof(in->sum.skipped) - used, "%s%s",
				 used ? "; " : "", sum.skipped);
		}
	}
	if (!any)
		return st_err(
			err, ENOENT,
			"no Istio chains to instrument in the target's %s "
			"rules",
			st_backend_name(in->backend));
	for (int s = 0; s < st_tool_nslots(in->backend); s++) {
		if (!in->slot[s].used)
			continue;
		ret = st_tool_apply(in->netns_fd, in->backend, s, pre->txn[s],
				    err);
		if (ret == 0)
			ret = st_verify_slot(in, s, pre->ipt[s],
					     pre->nm_loaded ? &pre->nm : NULL,
					     &o, err);
		if (ret < 0) {
			st_instr_rollback(in, err);
			return ret;
		}
	}
	/* What the watch compares with: the rules as we left them. */
	in->gen_known = st_gen_read(in, &in->gen, NULL) == 0;
	return 0;
}

int st_instr_attach(struct st_instr **out, const struct st_instr_config *cfg,
		    char *err)
{
	struct st_instr *in = NULL;
	struct st_instr_pre pre;
	uint8_t *groups = NULL, *foreign = NULL;
	int ret = 0;

	memset(&pre, 0, sizeof(pre));
	if (out != NULL)
		*out = NULL;
	if (out == NULL || cfg == NULL || cfg->netns_fd < 0 ||
	    cfg->group < -1 || cfg->group > 65535)
		return st_err(err, EINVAL, "attach: bad arguments");
	if (cfg->backend != ST_BACKEND_LEGACY &&
	    cfg->backend != ST_BACKEND_NFT &&
	    cfg->backend != ST_BACKEND_NFTABLES)
		return st_err(err, EINVAL, "attach: no backend given");
	if (cfg->rules != NULL &&
	    st_ruleset_backend(cfg->rules) != ST_BACKEND_UNKNOWN &&
	    st_ruleset_backend(cfg->rules) != cfg->backend)
		return st_err(err, EINVAL,
			      "attach: the rules were read from %s, not %s",
			      st_backend_name(st_ruleset_backend(cfg->rules)),
			      st_backend_name(cfg->backend));
	ret = st_instr_new(&in, cfg, err);
	if (ret < 0)
		return ret;
	groups = calloc(ST_GROUP_BITS / 8, 1);
	foreign = calloc(ST_GROUP_BITS / 8, 1);
	if (groups == NULL || foreign == NULL) {
		ret = st_err(err, ENOMEM, "out of memory");
		goto out;
	}
	ret = st_lock_take(in, cfg->session, err);
	if (ret < 0)
		goto out;
	ret = st_instr_read(in, cfg->rules, &pre, groups, foreign, err);
	if (ret < 0)
		goto out;
	st_lock_groups(in->lock_dir, in->ino, in->session, groups);
	if (cfg->group >= 0) {
		/*
		 * A group the pod's own NFLOG rules log to would mix their
		 * records with ours, and ours would reach their reader.
		 */
		if (st_itag_group_used(foreign, (unsigned int)cfg->group)) {
			ret = st_err(
				err, EBUSY,
				"NFLOG group %d is used by NFLOG rules of the "
				"target itself%s: their records would mix "
				"with the trace's; choose another group, or "
				"none to take a free one",
				cfg->group,
				cfg->group == ST_INSTR_GROUP_ISTIO
					? " (Istio's IPTABLES_TRACE_LOGGING)"
					: "");
			goto out;
		}
		in->group = (uint16_t)cfg->group;
	} else {
		unsigned int g = ST_INSTR_GROUP_BASE;

		while (g < ST_GROUP_BITS && (st_itag_group_used(groups, g) ||
					     g == ST_INSTR_GROUP_ISTIO))
			g++;
		if (g >= ST_GROUP_BITS) {
			ret = st_err(err, EBUSY, "no free NFLOG group");
			goto out;
		}
		in->group = (uint16_t)g;
	}
	ret = st_lock_write(in, err);
	if (ret < 0)
		goto out;
	if (cfg->on_group != NULL) {
		ret = cfg->on_group(in->group, cfg->on_group_data, err);
		if (ret < 0)
			goto out;
	}
	ret = st_instr_insert(in, &pre, err);
	if (ret < 0)
		goto out;
	in->attached = true;
	*out = in;
	in = NULL;
out:
	if (in != NULL)
		st_lock_release(in, true);
	st_instr_free(in);
	st_instr_pre_free(&pre);
	free(groups);
	free(foreign);
	return ret;
}

int st_instr_clear(struct st_instr *in, unsigned int *removed, char *err)
{
	int ret;

	if (removed != NULL)
		*removed = 0;
	if (in == NULL || !in->attached)
		return st_err(err, EINVAL, "clear: no attached session");
	for (int s = 0; s < st_tool_nslots(in->backend); s++) {
		unsigned int n = 0;

		/* A family we never used may hold nothing of ours. */
		ret = st_tool_remove_set(in->netns_fd, in->backend, s,
					 &in->session, 1, &n, err);
		if (ret < 0 && in->slot[s].used)
			return ret;
		if (removed != NULL && ret == 0)
			*removed += n;
	}
	st_instr_slots_reset(in);
	return 0;
}

int st_instr_reattach(struct st_instr *in, const struct st_ruleset *rules,
		      char *err)
{
	struct st_instr_pre pre;
	uint8_t *groups = NULL;
	int ret;

	memset(&pre, 0, sizeof(pre));
	if (in == NULL || !in->attached)
		return st_err(err, EINVAL, "re-attach: no attached session");
	ret = st_instr_clear(in, NULL, err);
	if (ret < 0)
		return ret;
	groups = calloc(ST_GROUP_BITS / 8, 1);
	if (groups == NULL)
		return st_err(err, ENOMEM, "out of memory");
	ret = st_instr_read(in, rules, &pre, groups, NULL, err);
	if (ret == 0)
		ret = st_instr_insert(in, &pre, err);
	if (ret < 0)
		st_instr_slots_reset(in); /* nothing of ours is in there */
	st_instr_pre_free(&pre);
	free(groups);
	return ret;
}

int st_instr_probe(struct st_instr *in, bool *changed, char *err)
{
	uint64_t gen = 0;
	int ret;

	*changed = false;
	if (in == NULL || !in->attached)
		return st_err(err, EINVAL, "probe: no attached session");
	ret = st_gen_read(in, &gen, err);
	if (ret < 0)
		return ret;
	*changed = !in->gen_known || gen != in->gen;
	in->gen = gen;
	in->gen_known = true;
	return 0;
}

int st_instr_check(struct st_instr *in, struct st_instr_report *rep, char *err)
{
	char *dump = NULL, *norm = NULL, *txn = NULL;
	char msg[200];
	int ret = 0;

	if (rep != NULL)
		memset(rep, 0, sizeof(*rep));
	if (in == NULL || rep == NULL)
		return st_err(err, EINVAL, "check: bad arguments");
	if (!in->attached)
		return 0;
	for (int s = 0; s < st_tool_nslots(in->backend); s++) {
		unsigned int n = 0;

		if (!in->slot[s].used || in->slot[s].done)
			continue;
		ret = st_tool_read_dump(in->netns_fd, in->backend, s, &dump,
					err);
		if (ret == 0)
			ret = st_tool_read_norm(in->netns_fd, in->backend, dump,
						&norm, err);
		if (ret == 0)
			ret = st_tool_removal(in->backend, dump, &in->session,
					      1, &txn, &n, err);
		if (ret < 0)
			goto out;
		rep->present += n;
		if (st_instr_diff(in->slot[s].snapshot, norm, msg,
				  sizeof(msg)) &&
		    !rep->changed) {
			rep->changed = true;
			snprintf(rep->change, sizeof(rep->change), "%s: %s",
				 st_tool_slot_name(in->backend, s), msg);
		}
		free(dump);
		free(norm);
		free(txn);
		dump = norm = txn = NULL;
	}
out:
	free(dump);
	free(norm);
	free(txn);
	return ret;
}

static int st_instr_detach_slot(struct st_instr *in, int s,
				struct st_instr_report *rep, char *err)
{
	char *dump = NULL, *norm1 = NULL, *norm2 = NULL, *txn = NULL;
	const char *name = st_tool_slot_name(in->backend, s);
	unsigned int n = 0, left = 0;
	char msg[200];
	int ret;

	ret = st_tool_read_dump(in->netns_fd, in->backend, s, &dump, err);
	if (ret == 0)
		ret = st_tool_read_norm(in->netns_fd, in->backend, dump, &norm1,
					err);
	if (ret == 0)
		ret = st_tool_removal(in->backend, dump, &in->session, 1, &txn,
				      &n, err);
	if (ret < 0)
		goto out;
	if (st_instr_diff(in->slot[s].snapshot, norm1, msg, sizeof(msg)) &&
	    !rep->changed) {
		rep->changed = true;
		snprintf(rep->change, sizeof(rep->change), "%s: %s", name, msg);
	}
	if (n > 0) {
		ret = st_tool_apply(in->netns_fd, in->backend, s, txn, err);
		if (ret < 0)
			goto out;
	}
	free(dump);
	free(txn);
	dump = txn = NULL;
	ret = st_tool_read_dump(in->netns_fd, in->backend, s, &dump, err);
	if (ret == 0)
		ret = st_tool_read_norm(in->netns_fd, in->backend, dump, &norm2,
					err);
	if (ret == 0)
		ret = st_tool_removal(in->backend, dump, &in->session, 1, &txn,
				      &left, err);
	if (ret < 0)
		goto out;
	if (left > 0) {
		ret = st_err(err, EIO,
			     "%u rules of session %08" PRIx32
			     " are still in the %s rules after removal",
			     left, in->session, name);
		goto out;
	}
	rep->removed += n;
	in->slot[s].done = true;
	/* Only our rules may have gone: anything else is our fault. */
	if (st_instr_diff(norm1, norm2, msg, sizeof(msg)))
		ret = st_err(err, EIO,
			     "after removing session %08" PRIx32
			     ", the %s rules are not as before: %s",
			     in->session, name, msg);
out:
	free(dump);
	free(norm1);
	free(norm2);
	free(txn);
	return ret;
}

int st_instr_detach(struct st_instr *in, struct st_instr_report *rep, char *err)
{
	struct st_instr_report local;
	char err2[ST_ERRBUF_SIZE];
	int first = 0;

	if (rep == NULL)
		rep = &local;
	memset(rep, 0, sizeof(*rep));
	if (in == NULL || !in->attached)
		return 0;
	for (int s = 0; s < st_tool_nslots(in->backend); s++) {
		int ret;

		if (!in->slot[s].used || in->slot[s].done)
			continue;
		err2[0] = '\0';
		ret = st_instr_detach_slot(in, s, rep, err2);
		if (ret < 0 && first == 0) {
			first = ret;
			if (err != NULL)
				memcpy(err, err2, ST_ERRBUF_SIZE);
		}
	}
	for (int s = 0; s < st_tool_nslots(in->backend); s++)
		if (in->slot[s].used && !in->slot[s].done)
			return first; /* still attached: may be retried */
	in->attached = false;
	st_lock_release(in, true);
	return first;
}

void st_instr_free(struct st_instr *in)
{
	if (in == NULL)
		return;
	st_lock_release(in, false);
	st_gen_close(in);
	if (in->netns_fd >= 0)
		close(in->netns_fd);
	for (int s = 0; s < 2; s++)
		free(in->slot[s].snapshot);
	free(in->lock_dir);
	free(in->lock_path);
	free(in);
}

uint32_t st_instr_session(const struct st_instr *in)
{
	return in != NULL ? in->session : 0;
}

uint16_t st_instr_group(const struct st_instr *in)
{
	return in != NULL ? in->group : 0;
}

const struct st_instr_summary *st_instr_summary(const struct st_instr *in)
{
	return in != NULL ? &in->sum : NULL;
}
