// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * reach.c - which rules can ever match.
 *
 * Every table is analysed on its own, once per packet family.  Packets
 * are cut into classes along twelve dimensions; in each dimension the
 * classes are the intervals between the constants the table's rules
 * mention (plus what the kernel makes special: lo, the loopback range,
 * "no socket"), so every rule treats all packets of a class alike and a
 * finite set of representatives stands for every possible packet.
 *
 * Sets of classes are unions of "cubes": one bitset of classes per
 * dimension, the set being their product.  A rule's conditions are a
 * cube too, so walking a chain is splitting cubes: the part a rule
 * matches either leaves the chain (a terminal target) or goes on, and
 * the rest goes on.  Real rule sets stay at a handful of cubes even when
 * the product of all classes would be astronomic.  Base chains start
 * with every class their hook can see; a jump walks the called chain
 * with the part that matched and continues with what comes back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reach.h"

/* Netfilter itself refuses deeper jump stacks. */
#define ST_REACH_MAX_DEPTH 32
/* More cubes than this are merged into one (an over-approximation). */
#define ST_REACH_MAX_CUBES 2048
/* Word operations allowed per table and family, for the walk ... */
#define ST_REACH_BUDGET (1ull << 28)
/* ... and for finding the rules that shadow the unreachable ones. */
#define ST_REACH_WHY_BUDGET (1ull << 26)
/* Shadowing rules named in a reason before "and N others". */
#define ST_REACH_MAX_NAMED 6

enum st_dimk {
	D_IIF,
	D_OIF,
	D_SRC,
	D_DST,
	D_PROTO,
	D_SPORT,
	D_DPORT,
	D_UID,
	D_GID,
	D_MARK,
	D_CMARK,
	D_CT,
	D__N,
};

enum st_hook { H_NONE = 0, H_PRE, H_IN, H_FWD, H_OUT, H_POST };

/*
 * The classes of one dimension.  D_SPORT/D_DPORT/D_UID/D_GID: class 0 is
 * "none" (no ports / no socket), class k >= 1 the interval starting at
 * num[k - 1].  D_SRC/D_DST: class k is the interval starting at addr[k].
 * D_PROTO/D_MARK/D_CMARK/D_CT: class k is the value num[k].  D_IIF/D_OIF:
 * class k is the name name[k]; name[0] is "" (no interface).
 */
struct st_dim {
	unsigned int n;
	unsigned int off;
	unsigned int words;
	size_t nnum;
	uint64_t *num;
	uint8_t (*addr)[16];
	bool *loop;
	char (*name)[ST_IFNAMSIZ + 1];
};

struct st_cubes {
	uint64_t **c;
	size_t n;
	size_t cap;
};

/* A rule's conditions: dimensions in @cmask are restricted to @w. */
struct st_rc {
	uint64_t *w;
	unsigned int cmask;
	bool maybe; /* some condition cannot be evaluated */
	bool empty; /* nothing can match it */
};

/* Which classes hit a rule or entered a chain: with, without a socket. */
#define ST_SOCK_YES 1u
#define ST_SOCK_NO 2u

struct st_rchain {
	const struct st_chain *c;
	int hook;
	bool referenced;
	bool entered;
	uint8_t sock;	      /* ST_SOCK_* of what entered */
	struct st_cubes seen; /* every class that entered it */
};

struct st_run {
	struct st_rule **rules; /* flat, the whole ruleset */
	bool *hit;		/* flat: reached and (maybe) matched */
	uint8_t *sock;		/* flat: ST_SOCK_* of what hit it */
	int *target;		/* flat: index of the jump target in ch */
	struct st_rchain *ch;
	size_t nch;
	uint8_t pfam;
	bool nft; /* native nftables owner semantics */
	unsigned int alen;
	struct st_dim dim[D__N];
	unsigned int words;
	unsigned int maxwords;
	uint64_t *tmp;
	uint64_t work;
	uint64_t limit;
	bool coarse;	 /* over budget: one cube per set from now on */
	bool explaining; /* naming shadowing rules: no coarse mode */
	bool gave_up;
	bool oom;
};

struct st_wopt {
	bool record;	   /* mark hits, remember what entered chains */
	unsigned int upto; /* top chain: walk rules [0, upto) */
	const bool *off;   /* top chain: rules taken as absent */
	bool *took;	   /* top chain: rule j finished some class */
};

static const struct st_wopt st_nested_rec = {true, UINT_MAX, NULL, NULL};
static const struct st_wopt st_nested_norec = {false, UINT_MAX, NULL, NULL};

/* ---- bitsets ---- */

static void st_bits_range(uint64_t *w, unsigned int a, unsigned int b)
{
	for (unsigned int i = a; i < b; i++)
		w[i / 64] |= 1ull << (i % 64);
}

static bool st_bits_any(const uint64_t *w, unsigned int words)
{
	for (unsigned int i = 0; i < words; i++)
		if (w[i] != 0)
			return true;
	return false;
}

static void st_bits_not(uint64_t *w, unsigned int n, unsigned int words)
{
	for (unsigned int i = 0; i < words; i++)
		w[i] = ~w[i];
	if (n % 64 != 0)
		w[words - 1] &= (1ull << (n % 64)) - 1;
}

static void st_bits_set(uint64_t *w, unsigned int i)
{
	w[i / 64] |= 1ull << (i % 64);
}

static void st_bits_clr(uint64_t *w, unsigned int i)
{
	w[i / 64] &= ~(1ull << (i % 64));
}

/* ---- cube lists ---- */

static void st_cubes_free(struct st_cubes *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->c[i]);
	free(l->c);
	l->c = NULL;
	l->n = 0;
	l->cap = 0;
}

static bool st_cubes_push(struct st_run *x, struct st_cubes *l, uint64_t *c)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		uint64_t **n = realloc(l->c, cap * sizeof(*n));

		if (n == NULL) {
			free(c);
			x->oom = true;
			x->gave_up = true;
			return false;
		}
		l->c = n;
		l->cap = cap;
	}
	l->c[l->n++] = c;
	return true;
}

static uint64_t *st_cube_dup(struct st_run *x, const uint64_t *c)
{
	uint64_t *d = malloc(x->words * sizeof(*d));

	if (d == NULL) {
		x->oom = true;
		x->gave_up = true;
		return NULL;
	}
	memcpy(d, c, x->words * sizeof(*d));
	return d;
}

/* Append the cubes of @src to @dst; @src ends empty. */
static void st_cubes_move(struct st_run *x, struct st_cubes *dst,
			  struct st_cubes *src)
{
	for (size_t i = 0; i < src->n; i++) {
		uint64_t *c = src->c[i];

		src->c[i] = NULL;
		if (!st_cubes_push(x, dst, c)) {
			for (size_t j = i + 1; j < src->n; j++)
				free(src->c[j]);
			break;
		}
	}
	src->n = 0;
}

static void st_cubes_copy(struct st_run *x, struct st_cubes *dst,
			  const struct st_cubes *src)
{
	for (size_t i = 0; i < src->n && !x->oom; i++) {
		uint64_t *c = st_cube_dup(x, src->c[i]);

		if (c != NULL)
			st_cubes_push(x, dst, c);
	}
}

/*
 * Too many cubes: replace them by the smallest cube holding them all.
 * That only adds classes, so no rule is ever called unreachable wrongly.
 */
static void st_cubes_bound(struct st_run *x, struct st_cubes *l)
{
	if (l->n <= (x->coarse ? 1 : ST_REACH_MAX_CUBES))
		return;
	for (size_t i = 1; i < l->n; i++) {
		for (unsigned int k = 0; k < x->words; k++)
			l->c[0][k] |= l->c[i][k];
		free(l->c[i]);
	}
	x->work += (uint64_t)l->n * x->words;
	l->n = 1;
}

static uint64_t *st_dimw(const struct st_run *x, uint64_t *c, int d)
{
	return c + x->dim[d].off;
}

/* ---- building the classes ---- */

struct st_pool {
	uint64_t *v;
	size_t n;
	size_t cap;
};

static bool st_pool_add(struct st_run *x, struct st_pool *p, uint64_t v)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		uint64_t *n = realloc(p->v, cap * sizeof(*n));

		if (n == NULL) {
			x->oom = true;
			return false;
		}
		p->v = n;
		p->cap = cap;
	}
	p->v[p->n++] = v;
	return true;
}

static int st_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a;
	uint64_t y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void st_pool_sort(struct st_pool *p)
{
	size_t k = 0;

	if (p->n == 0)
		return;
	qsort(p->v, p->n, sizeof(*p->v), st_cmp_u64);
	for (size_t i = 1; i < p->n; i++)
		if (p->v[i] != p->v[k])
			p->v[++k] = p->v[i];
	p->n = k + 1;
}

/* Index of @v in a sorted pool, or of the last value below it. */
static size_t st_pool_find(const uint64_t *v, size_t n, uint64_t key)
{
	size_t lo = 0;
	size_t hi = n;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] <= key)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

struct st_apool {
	uint8_t (*v)[16];
	size_t n;
	size_t cap;
};

static int st_cmp_addr(const void *a, const void *b, void *alen)
{
	return memcmp(a, b, *(const unsigned int *)alen);
}

static bool st_apool_add(struct st_run *x, struct st_apool *p, const uint8_t *a)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		uint8_t(*n)[16] = realloc(p->v, cap * sizeof(*n));

		if (n == NULL) {
			x->oom = true;
			return false;
		}
		p->v = n;
		p->cap = cap;
	}
	memset(p->v[p->n], 0, 16);
	memcpy(p->v[p->n], a, x->alen);
	p->n++;
	return true;
}

static void st_apool_sort(struct st_run *x, struct st_apool *p)
{
	size_t k = 0;

	if (p->n == 0)
		return;
	qsort_r(p->v, p->n, sizeof(*p->v), st_cmp_addr, &x->alen);
	for (size_t i = 1; i < p->n; i++)
		if (memcmp(p->v[i], p->v[k], x->alen) != 0)
			memcpy(p->v[++k], p->v[i], 16);
	p->n = k + 1;
}

static size_t st_apool_find(const struct st_run *x, uint8_t (*v)[16], size_t n,
			    const uint8_t *key)
{
	size_t lo = 0;
	size_t hi = n;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(v[mid], key, x->alen) <= 0)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* First address of @p. */
static void st_pfx_start(const struct st_run *x, const struct st_prefix *p,
			 uint8_t *out)
{
	memset(out, 0, 16);
	memcpy(out, p->addr, x->alen);
	for (unsigned int b = p->plen; b < x->alen * 8; b++)
		out[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
}

/* The address after the last one of @p; false when @p reaches the top. */
static bool st_pfx_end1(const struct st_run *x, const struct st_prefix *p,
			uint8_t *out)
{
	memset(out, 0, 16);
	memcpy(out, p->addr, x->alen);
	for (unsigned int b = p->plen; b < x->alen * 8; b++)
		out[b / 8] |= (uint8_t)(0x80u >> (b % 8));
	for (int i = (int)x->alen - 1; i >= 0; i--) {
		if (++out[i] != 0)
			return true;
	}
	return false;
}

struct st_npool {
	char (*v)[ST_IFNAMSIZ + 1];
	size_t n;
	size_t cap;
};

static void st_npool_add(struct st_run *x, struct st_npool *p, const char *s)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i], s) == 0)
			return;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		char(*n)[ST_IFNAMSIZ + 1] = realloc(p->v, cap * sizeof(*n));

		if (n == NULL) {
			x->oom = true;
			return;
		}
		p->v = n;
		p->cap = cap;
	}
	st_strlcpy(p->v[p->n++], s, ST_IFNAMSIZ + 1);
}

static bool st_ifname_match(const char *name, const char *pat)
{
	size_t n = strlen(pat);

	if (n > 0 && pat[n - 1] == '+')
		return strncmp(name, pat, n - 1) == 0;
	return strcmp(name, pat) == 0;
}

static bool st_is_port_proto(uint64_t p)
{
	return p == 6 || p == 17 || p == 33 || p == 132 || p == 136;
}

static bool st_rule_in_family(const struct st_run *x, const struct st_rule *r)
{
	return r->family == ST_FAMILY_ANY || r->family == x->pfam;
}

struct st_pools {
	struct st_npool names;
	struct st_apool src;
	struct st_apool dst;
	struct st_pool proto;
	struct st_pool sport;
	struct st_pool dport;
	struct st_pool uid;
	struct st_pool gid;
	struct st_pool mark;
	struct st_pool cmark;
};

static void st_pools_free(struct st_pools *p)
{
	free(p->names.v);
	free(p->src.v);
	free(p->dst.v);
	free(p->proto.v);
	free(p->sport.v);
	free(p->dport.v);
	free(p->uid.v);
	free(p->gid.v);
	free(p->mark.v);
	free(p->cmark.v);
}

static void st_pool_range(struct st_run *x, struct st_pool *p, uint64_t lo,
			  uint64_t hi, uint64_t top)
{
	st_pool_add(x, p, lo);
	if (hi < top)
		st_pool_add(x, p, hi + 1);
}

static void st_pool_addr(struct st_run *x, struct st_apool *p,
			 const struct st_prefix *pf)
{
	uint8_t a[16];

	if (pf->family != x->pfam)
		return;
	st_pfx_start(x, pf, a);
	st_apool_add(x, p, a);
	if (st_pfx_end1(x, pf, a))
		st_apool_add(x, p, a);
}

static void st_pool_mark(struct st_run *x, struct st_pool *p,
			 const struct st_match *m)
{
	st_pool_add(x, p, m->lo);
	st_pool_add(x, p, m->lo | ~m->hi);
	st_pool_add(x, p, (m->lo & m->hi) ^ m->hi);
}

static void st_collect_match(struct st_run *x, struct st_pools *p,
			     const struct st_match *m)
{
	char buf[ST_IFNAMSIZ + 1];
	size_t n = 0;

	switch (m->kind) {
	case ST_M_IIF:
	case ST_M_OIF:
		n = strlen(m->ifname);
		if (n > 0 && m->ifname[n - 1] == '+') {
			/* A name that has the prefix and is no other name. */
			snprintf(buf, sizeof(buf), "%.*s~", (int)(n - 1),
				 m->ifname);
			st_npool_add(x, &p->names, buf);
		} else {
			st_npool_add(x, &p->names, m->ifname);
		}
		break;
	case ST_M_SRC:
		st_pool_addr(x, &p->src, &m->addr);
		break;
	case ST_M_DST:
		st_pool_addr(x, &p->dst, &m->addr);
		break;
	case ST_M_PROTO:
		if (m->proto != 0)
			st_pool_add(x, &p->proto, m->proto);
		break;
	case ST_M_SPORT:
	case ST_M_DPORT:
		if (m->proto != 0)
			st_pool_add(x, &p->proto, m->proto);
		for (unsigned int i = 0; i < m->nports && i < ST_MAX_PORTS; i++)
			st_pool_range(x,
				      m->kind == ST_M_SPORT ? &p->sport
							    : &p->dport,
				      m->ports[i].lo, m->ports[i].hi, 65535);
		break;
	case ST_M_UID:
	case ST_M_GID:
		st_pool_range(x, m->kind == ST_M_UID ? &p->uid : &p->gid, m->lo,
			      m->hi, UINT32_MAX);
		break;
	case ST_M_MARK:
		st_pool_mark(x, &p->mark, m);
		break;
	case ST_M_CONNMARK:
		st_pool_mark(x, &p->cmark, m);
		break;
	default:
		break;
	}
}

static void st_dim_alloc(struct st_run *x, struct st_dim *d, unsigned int n)
{
	d->n = n;
	d->words = (n + 63) / 64;
	d->off = x->words;
	x->words += d->words;
	if (d->words > x->maxwords)
		x->maxwords = d->words;
}

static int st_dims_build(struct st_run *x)
{
	static const uint8_t zero[16];
	static const uint32_t ct_states[] = {
		ST_CT_INVALID, ST_CT_NEW,	ST_CT_ESTABLISHED,
		ST_CT_RELATED, ST_CT_UNTRACKED,
	};
	struct st_pools p;
	uint8_t a[16];
	int ret = 0;

	memset(&p, 0, sizeof(p));
	st_npool_add(x, &p.names, "");
	st_npool_add(x, &p.names, "lo");
	st_npool_add(x, &p.names, "eth0");
	st_npool_add(x, &p.names, "~");
	st_apool_add(x, &p.src, zero);
	st_apool_add(x, &p.dst, zero);
	/* The loopback range is special to the kernel: keep it apart. */
	memset(a, 0, sizeof(a));
	if (x->pfam == ST_FAMILY_IPV4) {
		a[0] = 127;
		st_apool_add(x, &p.dst, a);
		a[0] = 128;
		st_apool_add(x, &p.dst, a);
	} else {
		a[15] = 1;
		st_apool_add(x, &p.dst, a);
		a[15] = 2;
		st_apool_add(x, &p.dst, a);
	}
	st_pool_add(x, &p.proto, 6);
	st_pool_add(x, &p.proto, 17);
	st_pool_add(x, &p.proto, x->pfam == ST_FAMILY_IPV4 ? 1 : 58);
	st_pool_add(x, &p.proto, 253); /* some protocol no rule names */
	st_pool_add(x, &p.sport, 0);
	st_pool_add(x, &p.dport, 0);
	st_pool_add(x, &p.uid, 0);
	st_pool_add(x, &p.gid, 0);
	st_pool_add(x, &p.mark, 0);
	st_pool_add(x, &p.cmark, 0);

	for (size_t k = 0; k < x->nch; k++) {
		const struct st_chain *c = x->ch[k].c;

		for (unsigned int j = 0; j < c->nrules; j++) {
			const struct st_rule *r = x->rules[c->first + j];
			const struct st_target *t = &r->target;

			if (!st_rule_in_family(x, r))
				continue;
			for (unsigned int i = 0; i < r->nmatches; i++)
				st_collect_match(x, &p, &r->matches[i]);
			if (t->kind == ST_T_MARK || t->kind == ST_T_TPROXY) {
				st_pool_add(x, &p.mark, t->mark);
			} else if (t->kind == ST_T_CONNMARK) {
				st_pool_add(x, &p.mark, t->mark);
				st_pool_add(x, &p.cmark, t->mark);
			}
		}
	}
	if (x->oom) {
		ret = -ENOMEM;
		goto out;
	}
	st_apool_sort(x, &p.src);
	st_apool_sort(x, &p.dst);
	st_pool_sort(&p.proto);
	st_pool_sort(&p.sport);
	st_pool_sort(&p.dport);
	st_pool_sort(&p.uid);
	st_pool_sort(&p.gid);
	st_pool_sort(&p.mark);
	st_pool_sort(&p.cmark);

	/* Hand the pools over to the dimensions. */
	st_dim_alloc(x, &x->dim[D_IIF], (unsigned int)p.names.n);
	st_dim_alloc(x, &x->dim[D_OIF], (unsigned int)p.names.n);
	x->dim[D_IIF].name = p.names.v;
	x->dim[D_OIF].name = p.names.v; /* shared: freed once, via D_IIF */
	p.names.v = NULL;
	st_dim_alloc(x, &x->dim[D_SRC], (unsigned int)p.src.n);
	x->dim[D_SRC].addr = p.src.v;
	x->dim[D_SRC].nnum = p.src.n;
	p.src.v = NULL;
	st_dim_alloc(x, &x->dim[D_DST], (unsigned int)p.dst.n);
	x->dim[D_DST].addr = p.dst.v;
	x->dim[D_DST].nnum = p.dst.n;
	x->dim[D_DST].loop = calloc(p.dst.n, sizeof(bool));
	p.dst.v = NULL;
	if (x->dim[D_DST].loop == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < x->dim[D_DST].nnum; i++) {
		const uint8_t *v = x->dim[D_DST].addr[i];

		if (x->pfam == ST_FAMILY_IPV4)
			x->dim[D_DST].loop[i] = v[0] == 127;
		else
			x->dim[D_DST].loop[i] =
				memcmp(v, zero, 15) == 0 && v[15] == 1;
	}
#define ST_TAKE(dk, pool, none)                                          \
	do {                                                             \
		st_dim_alloc(x, &x->dim[dk],                             \
			     (unsigned int)(pool).n + ((none) ? 1 : 0)); \
		x->dim[dk].num = (pool).v;                               \
		x->dim[dk].nnum = (pool).n;                              \
		(pool).v = NULL;                                         \
	} while (0)
	ST_TAKE(D_PROTO, p.proto, false);
	ST_TAKE(D_SPORT, p.sport, true);
	ST_TAKE(D_DPORT, p.dport, true);
	ST_TAKE(D_UID, p.uid, true);
	ST_TAKE(D_GID, p.gid, true);
	ST_TAKE(D_MARK, p.mark, false);
	ST_TAKE(D_CMARK, p.cmark, false);
#undef ST_TAKE
	st_dim_alloc(x, &x->dim[D_CT], ST_ARRAY_SIZE(ct_states));
	x->dim[D_CT].num = calloc(ST_ARRAY_SIZE(ct_states), sizeof(uint64_t));
	if (x->dim[D_CT].num == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < ST_ARRAY_SIZE(ct_states); i++)
		x->dim[D_CT].num[i] = ct_states[i];
	x->dim[D_CT].nnum = ST_ARRAY_SIZE(ct_states);
	x->tmp = calloc(x->maxwords, sizeof(uint64_t));
	if (x->tmp == NULL)
		ret = -ENOMEM;
out:
	st_pools_free(&p);
	return ret;
}

static void st_dims_free(struct st_run *x)
{
	for (int d = 0; d < D__N; d++) {
		free(x->dim[d].num);
		free(x->dim[d].addr);
		free(x->dim[d].loop);
		if (d != D_OIF)
			free(x->dim[d].name);
	}
	free(x->tmp);
}

/* ---- the conditions of a rule ---- */

static void st_rc_and(struct st_run *x, struct st_rc *rc, int d,
		      const uint64_t *t)
{
	uint64_t *w = rc->w + x->dim[d].off;

	if (!(rc->cmask & (1u << d))) {
		memcpy(w, t, x->dim[d].words * sizeof(*w));
		rc->cmask |= 1u << d;
		return;
	}
	for (unsigned int i = 0; i < x->dim[d].words; i++)
		w[i] &= t[i];
}

static void st_rc_one(struct st_run *x, struct st_rc *rc, int d, unsigned int v,
		      bool neg)
{
	const struct st_dim *dm = &x->dim[d];

	memset(x->tmp, 0, dm->words * sizeof(*x->tmp));
	if (v < dm->n)
		st_bits_set(x->tmp, v);
	if (neg)
		st_bits_not(x->tmp, dm->n, dm->words);
	st_rc_and(x, rc, d, x->tmp);
}

static unsigned int st_proto_class(const struct st_run *x, uint8_t proto)
{
	const struct st_dim *d = &x->dim[D_PROTO];
	size_t i = st_pool_find(d->num, d->nnum, proto);

	return d->num[i] == proto ? (unsigned int)i : d->n;
}

/* Classes [a, b) of an interval dimension for the values lo..hi. */
static void st_num_span(const struct st_dim *d, bool none, uint64_t lo,
			uint64_t hi, uint64_t top, unsigned int *a,
			unsigned int *b)
{
	unsigned int base = none ? 1 : 0;

	*a = base + (unsigned int)st_pool_find(d->num, d->nnum, lo);
	*b = hi < top ? base + (unsigned int)st_pool_find(d->num, d->nnum,
							  hi + 1)
		      : d->n;
}

static void st_rc_match(struct st_run *x, struct st_rc *rc,
			const struct st_match *m)
{
	uint64_t *t = x->tmp;
	unsigned int a = 0;
	unsigned int b = 0;
	int d = -1;

	switch (m->kind) {
	case ST_M_IIF:
	case ST_M_OIF:
		d = m->kind == ST_M_IIF ? D_IIF : D_OIF;
		memset(t, 0, x->dim[d].words * sizeof(*t));
		for (unsigned int i = 0; i < x->dim[d].n; i++)
			if (st_ifname_match(x->dim[d].name[i], m->ifname))
				st_bits_set(t, i);
		if (m->neg)
			st_bits_not(t, x->dim[d].n, x->dim[d].words);
		st_rc_and(x, rc, d, t);
		break;
	case ST_M_SRC:
	case ST_M_DST: {
		uint8_t s[16];
		uint8_t e[16];
		struct st_dim *dm = NULL;

		d = m->kind == ST_M_SRC ? D_SRC : D_DST;
		dm = &x->dim[d];
		memset(t, 0, dm->words * sizeof(*t));
		/* nft: ip daddr implies the family, negated or not. */
		if (m->addr.family != x->pfam) {
			st_rc_and(x, rc, d, t);
			break;
		}
		st_pfx_start(x, &m->addr, s);
		a = (unsigned int)st_apool_find(x, dm->addr, dm->nnum, s);
		b = st_pfx_end1(x, &m->addr, e)
			    ? (unsigned int)st_apool_find(x, dm->addr, dm->nnum,
							  e)
			    : dm->n;
		st_bits_range(t, a, b);
		if (m->neg)
			st_bits_not(t, dm->n, dm->words);
		st_rc_and(x, rc, d, t);
		break;
	}
	case ST_M_PROTO:
		if (m->proto == 0) {
			if (m->neg)
				rc->empty = true;
			break;
		}
		st_rc_one(x, rc, D_PROTO, st_proto_class(x, m->proto), m->neg);
		break;
	case ST_M_SPORT:
	case ST_M_DPORT:
		if (m->proto != 0)
			st_rc_one(x, rc, D_PROTO, st_proto_class(x, m->proto),
				  false);
		d = m->kind == ST_M_SPORT ? D_SPORT : D_DPORT;
		memset(t, 0, x->dim[d].words * sizeof(*t));
		for (unsigned int i = 0; i < m->nports && i < ST_MAX_PORTS;
		     i++) {
			st_num_span(&x->dim[d], true, m->ports[i].lo,
				    m->ports[i].hi, 65535, &a, &b);
			st_bits_range(t, a, b);
		}
		if (m->neg)
			st_bits_not(t, x->dim[d].n, x->dim[d].words);
		/* Without ports (icmp...) a port match never matches. */
		st_bits_clr(t, 0);
		st_rc_and(x, rc, d, t);
		break;
	case ST_M_UID:
	case ST_M_GID:
		d = m->kind == ST_M_UID ? D_UID : D_GID;
		memset(t, 0, x->dim[d].words * sizeof(*t));
		st_num_span(&x->dim[d], true, m->lo, m->hi, UINT32_MAX, &a, &b);
		st_bits_range(t, a, b);
		if (m->neg) {
			st_bits_not(t, x->dim[d].n, x->dim[d].words);
			/*
			 * xt_owner: a negated match is true without a socket;
			 * nft meta skuid != X breaks (no match) instead.
			 */
			if (x->nft)
				st_bits_clr(t, 0);
		}
		st_rc_and(x, rc, d, t);
		break;
	case ST_M_SOCKET_EXISTS:
		st_rc_one(x, rc, D_UID, 0, !m->neg);
		break;
	case ST_M_MARK:
	case ST_M_CONNMARK:
		d = m->kind == ST_M_MARK ? D_MARK : D_CMARK;
		memset(t, 0, x->dim[d].words * sizeof(*t));
		for (unsigned int i = 0; i < x->dim[d].n; i++)
			if ((x->dim[d].num[i] & m->hi) == m->lo)
				st_bits_set(t, i);
		if (m->neg)
			st_bits_not(t, x->dim[d].n, x->dim[d].words);
		st_rc_and(x, rc, d, t);
		break;
	case ST_M_CTSTATE:
		/* SNAT/DNAT are properties of the connection, not states. */
		if (m->lo == 0 || (m->lo & (ST_CT_SNAT | ST_CT_DNAT)) != 0) {
			rc->maybe = true;
			break;
		}
		memset(t, 0, x->dim[D_CT].words * sizeof(*t));
		for (unsigned int i = 0; i < x->dim[D_CT].n; i++)
			if ((x->dim[D_CT].num[i] & m->lo) != 0)
				st_bits_set(t, i);
		if (m->neg)
			st_bits_not(t, x->dim[D_CT].n, x->dim[D_CT].words);
		st_rc_and(x, rc, D_CT, t);
		break;
	case ST_M_COMMENT:
		break;
	case ST_M_SOCKET:
	case ST_M_STATEFUL:
	case ST_M_UNKNOWN:
	default:
		rc->maybe = true;
		break;
	}
}

static void st_rule_cube(struct st_run *x, const struct st_rule *r,
			 struct st_rc *rc)
{
	rc->cmask = 0;
	rc->maybe = false;
	rc->empty = !st_rule_in_family(x, r);
	for (unsigned int i = 0; i < r->nmatches && !rc->empty; i++)
		st_rc_match(x, rc, &r->matches[i]);
	for (int d = 0; d < D__N && !rc->empty; d++)
		if ((rc->cmask & (1u << d)) &&
		    !st_bits_any(rc->w + x->dim[d].off, x->dim[d].words))
			rc->empty = true;
	x->work += x->words;
}

static bool st_meets(const struct st_run *x, const uint64_t *c,
		     const struct st_rc *rc)
{
	for (int d = 0; d < D__N; d++) {
		const uint64_t *w = c + x->dim[d].off;
		const uint64_t *rw = rc->w + x->dim[d].off;
		bool any = false;

		if (!(rc->cmask & (1u << d)))
			continue;
		for (unsigned int k = 0; k < x->dim[d].words && !any; k++)
			any = (w[k] & rw[k]) != 0;
		if (!any)
			return false;
	}
	return true;
}

/*
 * Split the cubes of @from into the part @rc matches (@hit) and the rest
 * (@rest), both as disjoint cubes.  @from ends empty.
 */
static void st_split(struct st_run *x, struct st_cubes *from,
		     const struct st_rc *rc, struct st_cubes *hit,
		     struct st_cubes *rest)
{
	for (size_t i = 0; i < from->n; i++) {
		uint64_t *c = from->c[i];

		from->c[i] = NULL;
		x->work += x->words;
		if (x->oom) {
			free(c);
			continue;
		}
		if (!st_meets(x, c, rc)) {
			st_cubes_push(x, rest, c);
			continue;
		}
		for (int d = 0; d < D__N; d++) {
			uint64_t *w = c + x->dim[d].off;
			const uint64_t *rw = rc->w + x->dim[d].off;
			bool any = false;

			if (!(rc->cmask & (1u << d)))
				continue;
			for (unsigned int k = 0; k < x->dim[d].words; k++)
				any |= (w[k] & ~rw[k]) != 0;
			if (any) {
				uint64_t *p = st_cube_dup(x, c);

				if (p == NULL)
					break;
				for (unsigned int k = 0; k < x->dim[d].words;
				     k++)
					p[x->dim[d].off + k] = w[k] & ~rw[k];
				st_cubes_push(x, rest, p);
			}
			for (unsigned int k = 0; k < x->dim[d].words; k++)
				w[k] &= rw[k];
		}
		st_cubes_push(x, hit, c);
	}
	from->n = 0;
}

/*
 * What a mark-changing target does to the classes it matched: a full
 * --set-mark moves them to that mark's class; anything else (masks,
 * save/restore between mark and connmark) may give any value.
 */
static void st_apply_target(struct st_run *x, struct st_cubes *l,
			    const struct st_target *t)
{
	const struct st_dim *dm = &x->dim[D_MARK];
	const struct st_dim *dc = &x->dim[D_CMARK];
	size_t v = 0;

	for (size_t i = 0; i < l->n; i++) {
		uint64_t *m = st_dimw(x, l->c[i], D_MARK);
		uint64_t *cm = st_dimw(x, l->c[i], D_CMARK);

		if (t->kind == ST_T_MARK && t->mask == UINT32_MAX) {
			v = st_pool_find(dm->num, dm->nnum, t->mark);
			memset(m, 0, dm->words * sizeof(*m));
			st_bits_set(m, (unsigned int)v);
			continue;
		}
		memset(m, 0, dm->words * sizeof(*m));
		st_bits_range(m, 0, dm->n);
		if (t->kind == ST_T_CONNMARK) {
			memset(cm, 0, dc->words * sizeof(*cm));
			st_bits_range(cm, 0, dc->n);
		}
	}
}

/* ---- walking ---- */

static uint8_t st_sock_of(const struct st_run *x, const struct st_cubes *l)
{
	uint8_t s = 0;

	for (size_t i = 0; i < l->n; i++) {
		const uint64_t *w = l->c[i] + x->dim[D_UID].off;

		if (w[0] & 1u)
			s |= ST_SOCK_NO;
		if ((w[0] & ~1ull) != 0 ||
		    st_bits_any(w + 1, x->dim[D_UID].words - 1))
			s |= ST_SOCK_YES;
	}
	return s;
}

/*
 * Out of budget: go on with one cube per set, which costs little and
 * only adds classes; give up when even that takes too long.
 */
static bool st_over_budget(struct st_run *x)
{
	if (x->coarse || x->explaining) {
		x->gave_up = true;
		return false;
	}
	x->coarse = true;
	x->limit = x->work + ST_REACH_BUDGET;
	return true;
}

static bool st_target_marks(enum st_target_kind k)
{
	return k == ST_T_MARK || k == ST_T_CONNMARK;
}

/*
 * Walk chain @ci with the classes @in (consumed).  Classes that come back
 * to the caller go to @ret (NULL for a base chain, whose RETURN applies
 * the policy); with @left the classes still going at the end of the walk
 * go there instead.  *@ended is set when some class got a verdict.
 */
static void st_walk(struct st_run *x, size_t ci, struct st_cubes *in,
		    struct st_cubes *ret, struct st_cubes *left,
		    unsigned int depth, const struct st_wopt *o, bool *ended)
{
	struct st_rchain *ch = &x->ch[ci];
	const struct st_chain *c = ch->c;
	const struct st_wopt *no =
		o->record ? &st_nested_rec : &st_nested_norec;
	struct st_cubes rem = *in;
	struct st_cubes hit = {0};
	struct st_cubes rest = {0};
	struct st_cubes sub = {0};
	struct st_rc rc = {0};
	unsigned int lim = c->nrules < o->upto ? c->nrules : o->upto;

	memset(in, 0, sizeof(*in));
	rc.w = malloc(x->words * sizeof(*rc.w));
	if (rc.w == NULL) {
		x->oom = true;
		x->gave_up = true;
		goto out;
	}
	if (o->record && rem.n > 0) {
		ch->entered = true;
		ch->sock |= st_sock_of(x, &rem);
		st_cubes_copy(x, &ch->seen, &rem);
		st_cubes_bound(x, &ch->seen);
	}
	for (unsigned int j = 0; j < lim && rem.n > 0 && !x->gave_up; j++) {
		size_t fi = c->first + j;
		const struct st_rule *r = x->rules[fi];
		const struct st_target *t = &r->target;
		int tc = x->target[fi];
		bool e = false;

		if (o->off != NULL && o->off[j])
			continue;
		if (x->work > x->limit && !st_over_budget(x))
			break;
		st_rule_cube(x, r, &rc);
		if (rc.empty)
			continue;
		st_split(x, &rem, &rc, &hit, &rest);
		st_cubes_move(x, &rem, &rest);
		if (hit.n == 0)
			continue;
		if (o->record) {
			x->hit[fi] = true;
			x->sock[fi] |= st_sock_of(x, &hit);
		}
		if (rc.maybe) {
			/*
			 * It may or may not match: every class goes on, and
			 * so does whatever may come back changed.
			 */
			if ((t->kind == ST_T_JUMP || t->kind == ST_T_GOTO) &&
			    tc >= 0 && depth >= ST_REACH_MAX_DEPTH) {
				x->gave_up = true;
			} else if ((t->kind == ST_T_JUMP ||
				    t->kind == ST_T_GOTO) &&
				   tc >= 0) {
				st_cubes_copy(x, &sub, &hit);
				st_walk(x, (size_t)tc, &sub,
					t->kind == ST_T_GOTO && ret ? ret
								    : &rest,
					NULL, depth + 1, no, &e);
				st_cubes_move(x, &rem, &rest);
			} else if (t->kind == ST_T_RETURN && ret != NULL) {
				st_cubes_copy(x, ret, &hit);
			} else if (st_target_marks(t->kind)) {
				st_cubes_copy(x, &rest, &hit);
				st_apply_target(x, &rest, t);
				st_cubes_move(x, &rem, &rest);
			}
			st_cubes_move(x, &rem, &hit);
			st_cubes_bound(x, &rem);
			continue;
		}
		if (st_target_is_verdict(t->kind)) {
			if (o->took != NULL)
				o->took[j] = true;
			if (t->kind == ST_T_RETURN && ret != NULL) {
				st_cubes_move(x, ret, &hit);
			} else {
				*ended = true;
				st_cubes_free(&hit);
			}
		} else if ((t->kind == ST_T_JUMP || t->kind == ST_T_GOTO) &&
			   tc >= 0) {
			if (depth >= ST_REACH_MAX_DEPTH) {
				x->gave_up = true;
				st_cubes_free(&hit);
				break;
			}
			if (t->kind == ST_T_JUMP) {
				st_walk(x, (size_t)tc, &hit, &sub, NULL,
					depth + 1, no, &e);
				st_cubes_move(x, &rem, &sub);
			} else {
				/* What the goto'd chain returns leaves. */
				st_walk(x, (size_t)tc, &hit, ret ? ret : &sub,
					NULL, depth + 1, no, &e);
				if (ret == NULL && sub.n > 0)
					e = true;
				st_cubes_free(&sub);
				if (o->took != NULL)
					o->took[j] = true;
			}
			if (e) {
				*ended = true;
				if (o->took != NULL)
					o->took[j] = true;
			}
		} else if (st_target_marks(t->kind)) {
			st_apply_target(x, &hit, t);
			st_cubes_move(x, &rem, &hit);
		} else {
			/* Non-terminal (LOG, NFLOG, CT...), unknown, or a
			 * jump to a chain we do not have: all go on. */
			st_cubes_move(x, &rem, &hit);
		}
		st_cubes_bound(x, &rem);
	}
out:
	if (left != NULL) {
		st_cubes_move(x, left, &rem);
	} else if (ret != NULL) {
		st_cubes_move(x, ret, &rem);
	} else {
		if (rem.n > 0)
			*ended = true;
		st_cubes_free(&rem);
	}
	st_cubes_free(&rem);
	st_cubes_free(&hit);
	st_cubes_free(&rest);
	st_cubes_free(&sub);
	free(rc.w);
}

/* ---- what a hook sees ---- */

static void st_dim_fill(struct st_run *x, uint64_t *c, int d, bool skip0)
{
	uint64_t *w = st_dimw(x, c, d);

	memset(w, 0, x->dim[d].words * sizeof(*w));
	st_bits_range(w, skip0 ? 1 : 0, x->dim[d].n);
}

static void st_dim_only(struct st_run *x, uint64_t *c, int d, unsigned int v)
{
	uint64_t *w = st_dimw(x, c, d);

	memset(w, 0, x->dim[d].words * sizeof(*w));
	st_bits_set(w, v);
}

/*
 * Every class a base chain of @hook can see, with what the kernel
 * guarantees: only locally generated packets have a socket (uid and gid
 * both, or neither), a 127/8 or ::1 destination leaves through lo, and
 * ports exist only for port protocols.
 */
static void st_universe(struct st_run *x, int hook, struct st_cubes *out)
{
	bool local = hook == H_OUT || hook == H_POST;
	unsigned int lo_if = 0;

	for (unsigned int i = 0; i < x->dim[D_OIF].n; i++)
		if (strcmp(x->dim[D_OIF].name[i], "lo") == 0)
			lo_if = i;
	for (int route = 0; route < (local ? 2 : 1); route++) {
		for (int l4 = 0; l4 < 2; l4++) {
			for (int own = 0; own < (local ? 2 : 1); own++) {
				uint64_t *c = calloc(x->words, sizeof(*c));
				bool ok = true;

				if (c == NULL) {
					x->oom = true;
					x->gave_up = true;
					return;
				}
				for (int d = 0; d < D__N; d++)
					st_dim_fill(x, c, d, false);
				if (hook == H_OUT)
					st_dim_only(x, c, D_IIF, 0);
				else
					st_dim_fill(x, c, D_IIF,
						    hook != H_POST);
				if (hook == H_PRE || hook == H_IN ||
				    hook == H_NONE)
					st_dim_only(x, c, D_OIF, 0);
				else
					st_dim_fill(x, c, D_OIF, true);
				if (local) {
					uint64_t *w = st_dimw(x, c, D_DST);

					memset(w, 0, x->dim[D_DST].words * 8);
					for (unsigned int i = 0;
					     i < x->dim[D_DST].n; i++)
						if (x->dim[D_DST].loop[i] ==
						    (route == 1))
							st_bits_set(w, i);
					if (route == 1)
						st_dim_only(x, c, D_OIF, lo_if);
				}
				{
					uint64_t *w = st_dimw(x, c, D_PROTO);

					memset(w, 0, x->dim[D_PROTO].words * 8);
					for (unsigned int i = 0;
					     i < x->dim[D_PROTO].n; i++)
						if (st_is_port_proto(
							    x->dim[D_PROTO]
								    .num[i]) ==
						    (l4 == 0))
							st_bits_set(w, i);
				}
				if (l4 == 0) {
					st_dim_fill(x, c, D_SPORT, true);
					st_dim_fill(x, c, D_DPORT, true);
				} else {
					st_dim_only(x, c, D_SPORT, 0);
					st_dim_only(x, c, D_DPORT, 0);
				}
				if (local && own == 1) {
					st_dim_fill(x, c, D_UID, true);
					st_dim_fill(x, c, D_GID, true);
				} else {
					st_dim_only(x, c, D_UID, 0);
					st_dim_only(x, c, D_GID, 0);
				}
				for (int d = 0; d < D__N && ok; d++)
					ok = st_bits_any(st_dimw(x, c, d),
							 x->dim[d].words);
				if (ok)
					st_cubes_push(x, out, c);
				else
					free(c);
			}
		}
	}
}

static int st_hook_of(const struct st_chain *c)
{
	static const char *const names[] = {
		[H_PRE] = "prerouting",	  [H_IN] = "input",
		[H_FWD] = "forward",	  [H_OUT] = "output",
		[H_POST] = "postrouting",
	};
	const char *h = c->hook != NULL ? c->hook : NULL;

	if (h == NULL && c->builtin)
		h = c->name;
	if (h == NULL)
		return H_NONE;
	for (int i = H_PRE; i <= H_POST; i++)
		if (strcasecmp(h, names[i]) == 0)
			return i;
	return H_NONE;
}

/* ---- one table, one family ---- */

static void st_run_free(struct st_run *x)
{
	if (x->ch != NULL)
		for (size_t i = 0; i < x->nch; i++)
			st_cubes_free(&x->ch[i].seen);
	free(x->ch);
	st_dims_free(x);
	memset(x, 0, sizeof(*x));
}

static int st_run_init(struct st_run *x, struct st_ruleset *rs,
		       struct st_rule **rules, bool *hit, uint8_t *sock,
		       int *target, const size_t *chains, size_t nch,
		       uint8_t pfam)
{
	memset(x, 0, sizeof(*x));
	x->rules = rules;
	x->hit = hit;
	x->sock = sock;
	x->target = target;
	x->pfam = pfam;
	x->alen = pfam == ST_FAMILY_IPV4 ? 4 : 16;
	x->nft = st_ruleset_backend(rs) == ST_BACKEND_NFTABLES;
	x->limit = ST_REACH_BUDGET;
	x->ch = calloc(nch, sizeof(*x->ch));
	if (x->ch == NULL)
		return -ENOMEM;
	x->nch = nch;
	for (size_t i = 0; i < nch; i++) {
		x->ch[i].c = st_ruleset_chain(rs, chains[i]);
		x->ch[i].hook = st_hook_of(x->ch[i].c);
	}
	for (size_t i = 0; i < nch; i++) {
		const struct st_chain *c = x->ch[i].c;

		for (unsigned int j = 0; j < c->nrules; j++) {
			size_t fi = c->first + j;
			const struct st_target *t = &rules[fi]->target;

			target[fi] = -1;
			if ((t->kind != ST_T_JUMP && t->kind != ST_T_GOTO) ||
			    t->chain == NULL)
				continue;
			for (size_t k = 0; k < nch; k++) {
				if (strcmp(x->ch[k].c->name, t->chain) != 0)
					continue;
				target[fi] = (int)k;
				x->ch[k].referenced = true;
				break;
			}
		}
	}
	return st_dims_build(x);
}

static void st_run_walk(struct st_run *x)
{
	static const struct st_wopt top = {true, UINT_MAX, NULL, NULL};

	for (size_t i = 0; i < x->nch && !x->gave_up; i++) {
		struct st_cubes u = {0};
		bool e = false;

		if (!x->ch[i].c->builtin || x->ch[i].hook == H_NONE)
			continue;
		st_universe(x, x->ch[i].hook, &u);
		st_walk(x, i, &u, NULL, NULL, 0, &top, &e);
		st_cubes_free(&u);
	}
}

/* ---- saying why ---- */

struct st_sb {
	char *buf;
	size_t size;
	size_t len;
};

static void __st_printf(2, 3) st_sb_add(struct st_sb *sb, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (sb->len + 1 >= sb->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(sb->buf + sb->len, sb->size - sb->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb->len += (size_t)n;
	if (sb->len >= sb->size)
		sb->len = sb->size - 1;
}

/* A protocol as the explainer prints it: "all", its name, or its number. */
static const char *st_proto_str(uint8_t p, char *buf, size_t size)
{
	const char *name = st_proto_name(p);

	if (p == 0)
		return "all";
	if (name != NULL)
		return name;
	snprintf(buf, size, "%u", p);
	return buf;
}

static void st_sb_ports(struct st_sb *sb, const struct st_match *m)
{
	for (unsigned int i = 0; i < m->nports && i < ST_MAX_PORTS; i++) {
		if (m->ports[i].lo == m->ports[i].hi)
			st_sb_add(sb, "%s%u", i ? "," : "", m->ports[i].lo);
		else
			st_sb_add(sb, "%s%u:%u", i ? "," : "", m->ports[i].lo,
				  m->ports[i].hi);
	}
}

static void st_sb_ids(struct st_sb *sb, const struct st_match *m)
{
	if (m->lo == m->hi)
		st_sb_add(sb, "%u", m->lo);
	else
		st_sb_add(sb, "%u-%u", m->lo, m->hi);
}

static void st_sb_mark(struct st_sb *sb, const struct st_match *m)
{
	if (m->hi == UINT32_MAX)
		st_sb_add(sb, "%#x", m->lo);
	else
		st_sb_add(sb, "%#x/%#x", m->lo, m->hi);
}

static void st_sb_ct(struct st_sb *sb, uint32_t bits)
{
	static const char *const names[] = {
		"INVALID",   "NEW",  "ESTABLISHED", "RELATED",
		"UNTRACKED", "SNAT", "DNAT",
	};
	bool first = true;

	for (unsigned int i = 0; i < ST_ARRAY_SIZE(names); i++) {
		if (!(bits & (1u << i)))
			continue;
		st_sb_add(sb, "%s%s", first ? "" : ",", names[i]);
		first = false;
	}
}

void st_reach_rule_summary(const struct st_rule *r, char *buf, size_t size)
{
	struct st_sb sb = {buf, size, 0};
	char a[INET6_ADDRSTRLEN + 8];
	char pb[8];

	if (size == 0)
		return;
	buf[0] = '\0';
	for (unsigned int i = 0; i < r->nmatches; i++) {
		const struct st_match *m = &r->matches[i];
		const char *neg = m->neg ? "! " : "";
		const char *sp = sb.len ? " " : "";

		switch (m->kind) {
		case ST_M_IIF:
		case ST_M_OIF:
			st_sb_add(&sb, "%s%s-%c %s", sp, neg,
				  m->kind == ST_M_IIF ? 'i' : 'o', m->ifname);
			break;
		case ST_M_SRC:
		case ST_M_DST:
			st_prefix_format(&m->addr, true, a, sizeof(a));
			st_sb_add(&sb, "%s%s-%c %s", sp, neg,
				  m->kind == ST_M_SRC ? 's' : 'd', a);
			break;
		case ST_M_PROTO:
			st_sb_add(&sb, "%s%s-p %s", sp, neg,
				  st_proto_str(m->proto, pb, sizeof(pb)));
			break;
		case ST_M_SPORT:
		case ST_M_DPORT:
			st_sb_add(&sb, "%s%s--%s%s ", sp, neg,
				  m->kind == ST_M_SPORT ? "sport" : "dport",
				  m->nports > 1 ? "s" : "");
			st_sb_ports(&sb, m);
			break;
		case ST_M_UID:
		case ST_M_GID:
			st_sb_add(&sb, "%s%s%s ", sp, neg,
				  m->kind == ST_M_UID ? "uid" : "gid");
			st_sb_ids(&sb, m);
			break;
		case ST_M_SOCKET_EXISTS:
			st_sb_add(&sb, "%s%ssocket-exists", sp, neg);
			break;
		case ST_M_MARK:
		case ST_M_CONNMARK:
			st_sb_add(&sb, "%s%s%s ", sp, neg,
				  m->kind == ST_M_MARK ? "mark" : "connmark");
			st_sb_mark(&sb, m);
			break;
		case ST_M_CTSTATE:
			st_sb_add(&sb, "%s%sctstate ", sp, neg);
			st_sb_ct(&sb, m->lo);
			break;
		case ST_M_COMMENT:
			break;
		case ST_M_SOCKET:
			st_sb_add(&sb, "%s%s-m socket", sp, neg);
			break;
		default:
			st_sb_add(&sb, "%s%s", sp, m->text ? m->text : "?");
			break;
		}
	}
	if (sb.len == 0)
		st_sb_add(&sb, "any packet");
}

static bool st_prefix_is_loopback(const struct st_prefix *p)
{
	static const uint8_t one[16] = {[15] = 1};

	if (p->family == ST_FAMILY_IPV4)
		return p->addr[0] == 127 && p->plen >= 8;
	return p->plen == 128 && memcmp(p->addr, one, 16) == 0;
}

static unsigned int st_phrase_rank(enum st_match_kind k)
{
	switch (k) {
	case ST_M_IIF:
	case ST_M_OIF:
		return 0;
	case ST_M_SRC:
	case ST_M_DST:
		return 1;
	case ST_M_PROTO:
	case ST_M_SPORT:
	case ST_M_DPORT:
		return 2;
	case ST_M_UID:
	case ST_M_GID:
	case ST_M_SOCKET_EXISTS:
		return 3;
	default:
		return 4;
	}
}

/* "every tcp packet leaving via lo, not to 127.0.0.1, of gid 1337" */
static void st_rule_phrase(const struct st_rule *r, struct st_sb *sb)
{
	static const unsigned int order[] = {0, 1, 2, 3, 4};
	char a[INET6_ADDRSTRLEN + 8];
	char pb[8];
	const char *proto = NULL;
	bool has_oif = false;
	bool first = true;

	for (unsigned int i = 0; i < r->nmatches; i++) {
		if (r->matches[i].kind == ST_M_OIF)
			has_oif = true;
		if (r->matches[i].kind == ST_M_PROTO && !r->matches[i].neg &&
		    proto == NULL)
			proto = st_proto_str(r->matches[i].proto, pb,
					     sizeof(pb));
	}
	st_sb_add(sb, "every %s%spacket", proto ? proto : "", proto ? " " : "");
	/* Where it goes first, then what it is, then whose it is. */
	for (unsigned int pass = 0; pass < ST_ARRAY_SIZE(order); pass++) {
		for (unsigned int i = 0; i < r->nmatches; i++) {
			const struct st_match *m = &r->matches[i];
			const char *no = m->neg ? "not " : "";
			const char *sep = first ? " " : ", ";

			if (st_phrase_rank(m->kind) != order[pass])
				continue;
			switch (m->kind) {
			case ST_M_IIF:
				st_sb_add(sb, "%s%sarriving on %s", sep, no,
					  m->ifname);
				break;
			case ST_M_OIF:
				st_sb_add(sb, "%s%sleaving via %s", sep, no,
					  m->ifname);
				break;
			case ST_M_SRC:
			case ST_M_DST:
				st_prefix_format(&m->addr, true, a, sizeof(a));
				st_sb_add(sb, "%s%s%s %s", sep, no,
					  m->kind == ST_M_SRC ? "from" : "to",
					  a);
				if (m->kind == ST_M_DST && !m->neg &&
				    !has_oif && st_prefix_is_loopback(&m->addr))
					st_sb_add(sb, " (always via lo)");
				break;
			case ST_M_PROTO:
				if (!m->neg)
					continue;
				st_sb_add(
					sb, "%snot %s", sep,
					st_proto_str(m->proto, pb, sizeof(pb)));
				break;
			case ST_M_SPORT:
			case ST_M_DPORT:
				st_sb_add(sb, "%s%s%s port%s ", sep, no,
					  m->kind == ST_M_SPORT ? "from" : "to",
					  m->nports > 1 ? "s" : "");
				st_sb_ports(sb, m);
				break;
			case ST_M_UID:
			case ST_M_GID:
				st_sb_add(sb, "%s%sof %s ", sep, no,
					  m->kind == ST_M_UID ? "uid" : "gid");
				st_sb_ids(sb, m);
				break;
			case ST_M_SOCKET_EXISTS:
				st_sb_add(sb, "%s%s a socket", sep,
					  m->neg ? "without" : "with");
				break;
			case ST_M_MARK:
			case ST_M_CONNMARK:
				st_sb_add(sb, "%s%s %s ", sep,
					  m->neg ? "without" : "with",
					  m->kind == ST_M_MARK ? "mark"
							       : "connmark");
				st_sb_mark(sb, m);
				break;
			case ST_M_CTSTATE:
				st_sb_add(sb, "%s%sin state ", sep, no);
				st_sb_ct(sb, m->lo);
				break;
			case ST_M_COMMENT:
				continue;
			default:
				st_sb_add(sb, "%smatching '%s'", sep,
					  m->text ? m->text : "?");
				break;
			}
			first = false;
		}
	}
}

/* Walk the top of chain @ci up to rule @upto with @in; true if covered. */
static bool st_covered(struct st_run *x, size_t ci, const struct st_cubes *in,
		       unsigned int upto, const bool *off, bool *took)
{
	struct st_wopt o = {false, upto, off, took};
	struct st_cubes copy = {0};
	struct st_cubes ret = {0};
	struct st_cubes left = {0};
	bool e = false;
	bool covered = false;

	st_cubes_copy(x, &copy, in);
	st_walk(x, ci, &copy, x->ch[ci].c->builtin ? NULL : &ret, &left, 0, &o,
		&e);
	covered = left.n == 0 && !x->gave_up;
	st_cubes_free(&copy);
	st_cubes_free(&ret);
	st_cubes_free(&left);
	return covered;
}

/*
 * The rules of chain @ci before rule @i that together take every class
 * of @x that enters the chain and matches rule @i: all rules that took
 * some in the real chain, then dropped greedily (earliest first) while
 * the rest still take them all.  Returns -1 when the budget ran out, 0
 * when no entering class can match rule @i at all, 1 with @cover filled.
 */
static int st_shadowers(struct st_run *x, size_t ci, unsigned int i,
			bool *cover)
{
	const struct st_chain *c = x->ch[ci].c;
	const struct st_rule *r = x->rules[c->first + i];
	struct st_cubes in = {0};
	struct st_rc rc = {0};
	bool *took = NULL;
	bool *off = NULL;
	int ret = 0;

	rc.w = malloc(x->words * sizeof(*rc.w));
	took = calloc(c->nrules + 1, sizeof(*took));
	off = calloc(c->nrules + 1, sizeof(*off));
	if (rc.w == NULL || took == NULL || off == NULL) {
		x->oom = true;
		ret = -1;
		goto out;
	}
	st_rule_cube(x, r, &rc);
	if (rc.empty)
		goto out;
	for (size_t k = 0; k < x->ch[ci].seen.n; k++) {
		uint64_t *cube = NULL;

		if (!st_meets(x, x->ch[ci].seen.c[k], &rc))
			continue;
		cube = st_cube_dup(x, x->ch[ci].seen.c[k]);
		if (cube == NULL)
			break;
		for (int d = 0; d < D__N; d++) {
			if (!(rc.cmask & (1u << d)))
				continue;
			for (unsigned int w = 0; w < x->dim[d].words; w++)
				cube[x->dim[d].off + w] &=
					rc.w[x->dim[d].off + w];
		}
		st_cubes_push(x, &in, cube);
	}
	if (x->oom) {
		ret = -1;
		goto out;
	}
	if (in.n == 0)
		goto out;
	if (!st_covered(x, ci, &in, i, NULL, took)) {
		ret = -1;
		goto out;
	}
	/*
	 * Name only rules that really take some of these packets, and of
	 * those as few as still take them all.
	 */
	for (unsigned int j = 0; j < i; j++)
		off[j] = !took[j];
	for (unsigned int j = 0; j < i; j++) {
		if (!took[j])
			continue;
		off[j] = true;
		if (st_covered(x, ci, &in, i, off, NULL))
			continue;
		off[j] = false;
		if (x->gave_up) {
			ret = -1;
			goto out;
		}
	}
	for (unsigned int j = 0; j < i; j++)
		if (!off[j])
			cover[j] = true;
	ret = 1;
out:
	st_cubes_free(&in);
	free(rc.w);
	free(took);
	free(off);
	return ret;
}

static char *st_why(struct st_run *runs, size_t nruns, size_t ci,
		    unsigned int i)
{
	const struct st_chain *c = runs[0].ch[ci].c;
	const struct st_rule *r = runs[0].rules[c->first + i];
	struct st_sb sb = {NULL, 1024, 0};
	bool entered = false;
	bool can = false;
	bool unsure = false;
	bool *cover = NULL;
	unsigned int ncover = 0;
	unsigned int named = 0;

	sb.buf = malloc(sb.size);
	cover = calloc(i + 1, sizeof(*cover));
	if (sb.buf == NULL || cover == NULL) {
		free(sb.buf);
		free(cover);
		return NULL;
	}
	sb.buf[0] = '\0';
	for (size_t k = 0; k < nruns; k++)
		entered |= runs[k].ch[ci].entered;
	if (!entered) {
		if (c->builtin)
			st_sb_add(&sb,
				  "never matches: chain %s is attached to no "
				  "hook this tool knows",
				  c->name);
		else if (!runs[0].ch[ci].referenced)
			st_sb_add(&sb,
				  "never matches: nothing jumps to chain %s "
				  "in table %s",
				  c->name, c->table);
		else
			st_sb_add(&sb,
				  "never matches: chain %s is entered only "
				  "from rules that never match",
				  c->name);
		goto out;
	}
	for (size_t k = 0; k < nruns; k++) {
		struct st_run *x = &runs[k];
		int s = 0;

		if (!x->ch[ci].entered)
			continue;
		if (x->gave_up) {
			unsure = true;
			continue;
		}
		s = st_shadowers(x, ci, i, cover);
		if (s < 0)
			unsure = true;
		if (s != 0)
			can = true;
		/* A budget that ran out only stops the naming. */
		x->gave_up = false;
	}
	for (unsigned int j = 0; j < i; j++)
		ncover += cover[j];
	if (!can) {
		st_sb_add(&sb,
			  "never matches: no packet that enters chain %s can "
			  "match it",
			  c->name);
		goto out;
	}
	if (unsure || ncover == 0) {
		st_sb_add(&sb, "never matches: the rules before it already "
			       "take every packet it would match");
		goto out;
	}
	st_sb_add(&sb, "never matches: ");
	st_rule_phrase(r, &sb);
	st_sb_add(&sb, " already left at rule%s ", ncover > 1 ? "s" : "");
	for (unsigned int j = 0; j < i; j++) {
		char sum[256];

		if (!cover[j])
			continue;
		if (named == ST_REACH_MAX_NAMED) {
			st_sb_add(&sb, " and %u others", ncover - named);
			break;
		}
		st_reach_rule_summary(runs[0].rules[c->first + j], sum,
				      sizeof(sum));
		if (named > 0)
			st_sb_add(&sb, "%s",
				  named + 1 == ncover ? " and " : ", ");
		st_sb_add(&sb, "%u (%s)", j + 1, sum);
		named++;
	}
out:
	free(cover);
	return sb.buf;
}

/* ---- the whole ruleset ---- */

static bool st_same_unit(const struct st_chain *a, const struct st_chain *b)
{
	return a->family == b->family && strcmp(a->table, b->table) == 0;
}

/*
 * A reachable rule that only socketless packets reach, in a chain where
 * packets with a socket pass: worth saying, as the iptables backends and
 * native nftables differ exactly there (doc/ISTIO-RULES.md, item 11 of
 * "Things a parser or tracer must not assume").
 */
static char *st_socketless_note(bool nft)
{
	return strdup(nft ? "only packets without a socket (kernel-made "
			    "resets, ICMP errors) reach it: every packet "
			    "from a socket leaves earlier, and nft's "
			    "\"skuid != X\" does not match socketless "
			    "packets (iptables' \"! --uid-owner X\" does)"
			  : "only packets without a socket (kernel-made "
			    "resets, ICMP errors) reach it: every packet "
			    "from a socket leaves earlier");
}

static int st_reach_unit(struct st_ruleset *rs, struct st_rule **rules,
			 bool *hit, uint8_t *sock, int *target,
			 const size_t *chains, size_t nch, char *err)
{
	const struct st_chain *c0 = st_ruleset_chain(rs, chains[0]);
	struct st_run runs[2];
	size_t nruns = 0;
	bool gave_up = false;
	int ret = 0;

	memset(runs, 0, sizeof(runs));
	if (c0->family == ST_FAMILY_ANY) {
		runs[nruns++].pfam = ST_FAMILY_IPV4;
		runs[nruns++].pfam = ST_FAMILY_IPV6;
	} else {
		runs[nruns++].pfam = (uint8_t)c0->family;
	}
	for (size_t k = 0; k < nruns; k++) {
		ret = st_run_init(&runs[k], rs, rules, hit, sock, target,
				  chains, nch, runs[k].pfam);
		if (ret < 0)
			goto out;
		st_run_walk(&runs[k]);
		if (runs[k].oom) {
			ret = -ENOMEM;
			goto out;
		}
		gave_up |= runs[k].gave_up;
	}
	for (size_t k = 0; k < nruns; k++) {
		runs[k].work = 0;
		runs[k].limit = ST_REACH_WHY_BUDGET;
		runs[k].explaining = true;
	}
	for (size_t ci = 0; ci < nch; ci++) {
		const struct st_chain *c = runs[0].ch[ci].c;
		uint8_t chsock = 0;

		for (size_t k = 0; k < nruns; k++)
			chsock |= runs[k].ch[ci].sock;
		for (unsigned int j = 0; j < c->nrules; j++) {
			struct st_rule *r = rules[c->first + j];

			free(r->why);
			r->why = NULL;
			r->reachable = gave_up || hit[c->first + j];
			if (r->reachable && !gave_up &&
			    sock[c->first + j] == ST_SOCK_NO &&
			    (chsock & ST_SOCK_YES))
				r->why = st_socketless_note(runs[0].nft);
			else if (r->reachable)
				continue;
			else
				r->why = st_why(runs, nruns, ci, j);
			if (r->why == NULL) {
				ret = -ENOMEM;
				goto out;
			}
		}
	}
	for (size_t k = 0; k < nruns; k++)
		if (runs[k].oom)
			ret = -ENOMEM;
out:
	for (size_t k = 0; k < nruns; k++)
		st_run_free(&runs[k]);
	if (ret < 0)
		st_err(err, -ret, "reachability analysis: out of memory");
	return ret;
}

int st_reach_analyze(struct st_ruleset *rs, char *err)
{
	size_t nrules = st_ruleset_nrules(rs);
	size_t nchains = st_ruleset_nchains(rs);
	struct st_rule **rules = NULL;
	bool *hit = NULL;
	uint8_t *sock = NULL;
	int *target = NULL;
	bool *done = NULL;
	size_t *unit = NULL;
	int ret = 0;

	rules = calloc(nrules + 1, sizeof(*rules));
	hit = calloc(nrules + 1, sizeof(*hit));
	sock = calloc(nrules + 1, sizeof(*sock));
	target = calloc(nrules + 1, sizeof(*target));
	done = calloc(nchains + 1, sizeof(*done));
	unit = calloc(nchains + 1, sizeof(*unit));
	if (rules == NULL || hit == NULL || sock == NULL || target == NULL ||
	    done == NULL || unit == NULL) {
		ret = st_err(err, ENOMEM,
			     "reachability analysis: out of memory");
		goto out;
	}
	for (size_t i = 0; i < nrules; i++)
		rules[i] = st_ruleset_rule_mut(rs, i);
	for (size_t i = 0; i < nchains; i++) {
		const struct st_chain *c = st_ruleset_chain(rs, i);
		size_t n = 0;

		if (done[i])
			continue;
		for (size_t k = i; k < nchains; k++) {
			if (done[k] ||
			    !st_same_unit(c, st_ruleset_chain(rs, k)))
				continue;
			done[k] = true;
			unit[n++] = k;
		}
		ret = st_reach_unit(rs, rules, hit, sock, target, unit, n, err);
		if (ret < 0)
			goto out;
	}
out:
	free(rules);
	free(hit);
	free(sock);
	free(target);
	free(done);
	free(unit);
	return ret;
}
