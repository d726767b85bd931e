// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iptsave.c - iptables-save / ip6tables-save text (legacy and nft backends)
 * into the rule model.
 *
 * Each "-A" line is split by a tokenizer that honours double quotes the way
 * iptables-restore does, then grouped into items (an option with its
 * arguments, maybe negated).  Options after "-m NAME" belong to that module
 * and options after "-j NAME" to the target, as in iptables itself; a
 * module or target we do not understand is kept as text, never dropped.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules-int.h"

/* iptables-restore itself stops at 1024 arguments; 64 KiB is generous. */
#define IPT_MAX_LINE (64u * 1024u)
#define IPT_MAX_CHAIN_NAME 28 /* XT_EXTENSION_MAXNAMELEN - 1 */

#define IPT_OWNER_NONE -1
#define IPT_OWNER_GENERIC -2

struct ipt_tok {
	const char *s; /* unescaped, NUL-terminated, in the scratch buffer */
	bool quoted;
	size_t start; /* offsets into the rule text */
	size_t end;
};

struct ipt_item {
	bool neg;
	const char *opt;
	unsigned int arg0; /* index of the first argument token */
	unsigned int nargs;
	size_t start; /* from the "!" if any */
	size_t end;
	int owner; /* item that opened its module/target context, or < 0 */
	int first; /* for openers: first child item, or -1 */
	int last;  /* for openers: last child item */
	int next;  /* next child of the same opener, or -1 */
};

struct ipt_parser {
	struct st_ruleset *rs;
	const char *name;
	char *err;
	unsigned int lineno;
	enum st_family family;
	enum st_backend backend;

	const char *table; /* interned; NULL outside *table ... COMMIT */
	unsigned int table_line;
	struct st_chain **chains; /* declared in the current table */
	size_t nchains;
	size_t chains_cap;

	/* Per-line work areas, reused. */
	const char *text; /* the rule text ("-A ..."), not NUL-terminated */
	size_t textlen;
	char *scratch;
	size_t scratch_cap;
	struct ipt_tok *toks;
	size_t ntoks;
	size_t toks_cap;
	struct ipt_item *items;
	size_t nitems;
	size_t items_cap;
};

static int ipt_fail(struct ipt_parser *p, const char *fmt, ...)
	__st_printf(2, 3);

static int ipt_fail(struct ipt_parser *p, const char *fmt, ...)
{
	char msg[ST_ERRBUF_SIZE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return st_err(p->err, EINVAL, "%s:%u: %s", p->name, p->lineno, msg);
}

static int ipt_nomem(struct ipt_parser *p)
{
	return st_err(p->err, ENOMEM, "%s:%u: out of memory", p->name,
		      p->lineno);
}

/* ---- number parsing ------------------------------------------------- */

static bool ipt_u64(const char *s, int base, uint64_t max, uint64_t *out)
{
	unsigned long long v = 0;
	char *end = NULL;

	if (s[0] == '\0' || s[0] == '-' || s[0] == '+' ||
	    isspace((unsigned char)s[0]))
		return false;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

static bool ipt_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;

	if (!ipt_u64(s, 0, UINT32_MAX, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool ipt_port(const char *s, uint16_t *out)
{
	uint64_t v = 0;

	if (!ipt_u64(s, 10, 65535, &v))
		return false;
	*out = (uint16_t)v;
	return true;
}

/* "P", "P:Q", ":Q", "P:" (tcp/udp/multiport use ':'; REDIRECT uses '-'). */
static bool ipt_port_range(const char *s, char sep, struct st_port_range *r)
{
	char buf[32];
	char *colon = NULL;

	if (st_strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return false;
	colon = strchr(buf, sep);
	if (colon == NULL) {
		if (!ipt_port(buf, &r->lo))
			return false;
		r->hi = r->lo;
		return true;
	}
	*colon = '\0';
	if (buf[0] == '\0')
		r->lo = 0;
	else if (!ipt_port(buf, &r->lo))
		return false;
	if (colon[1] == '\0')
		r->hi = 65535;
	else if (!ipt_port(colon + 1, &r->hi))
		return false;
	return r->lo <= r->hi;
}

/* "V" or "V/M", hex or decimal; mask 0xffffffff when absent. */
static bool ipt_mark(const char *s, uint32_t *val, uint32_t *mask)
{
	char buf[48];
	char *slash = NULL;

	if (st_strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return false;
	*mask = UINT32_MAX;
	slash = strchr(buf, '/');
	if (slash != NULL) {
		*slash = '\0';
		if (!ipt_u32(slash + 1, mask))
			return false;
	}
	return ipt_u32(buf, val);
}

/* "N" or "N-M" (owner match). */
static bool ipt_id_range(const char *s, uint32_t *lo, uint32_t *hi)
{
	char buf[32];
	char *dash = NULL;
	uint64_t v = 0;

	if (st_strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return false;
	dash = strchr(buf, '-');
	if (dash != NULL)
		*dash = '\0';
	if (!ipt_u64(buf, 10, UINT32_MAX, &v))
		return false;
	*lo = *hi = (uint32_t)v;
	if (dash != NULL) {
		if (!ipt_u64(dash + 1, 10, UINT32_MAX, &v))
			return false;
		*hi = (uint32_t)v;
	}
	return *lo <= *hi;
}

static bool ipt_proto(const char *s, uint8_t *proto, bool *any)
{
	uint64_t v = 0;

	*any = false;
	if (strcasecmp(s, "all") == 0 || strcmp(s, "0") == 0) {
		*any = true;
		*proto = 0;
		return true;
	}
	if (st_proto_parse(s, proto))
		return true;
	if (!ipt_u64(s, 10, 255, &v))
		return false;
	*proto = (uint8_t)v;
	return true;
}

static bool ipt_ctstate(const char *s, uint32_t *bits)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} names[] = {
		{"INVALID", ST_CT_INVALID},
		{"NEW", ST_CT_NEW},
		{"ESTABLISHED", ST_CT_ESTABLISHED},
		{"RELATED", ST_CT_RELATED},
		{"UNTRACKED", ST_CT_UNTRACKED},
		{"SNAT", ST_CT_SNAT},
		{"DNAT", ST_CT_DNAT},
	};
	const char *p = s;

	*bits = 0;
	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		bool found = false;

		for (size_t i = 0; i < ST_ARRAY_SIZE(names); i++) {
			if (strlen(names[i].name) == n &&
			    strncasecmp(p, names[i].name, n) == 0) {
				*bits |= names[i].bit;
				found = true;
			}
		}
		if (!found)
			return false;
		p += n;
		if (*p == ',') {
			p++;
			if (*p == '\0')
				return false;
		}
	}
	return *bits != 0;
}

/* ---- tokenizer ------------------------------------------------------ */

/*
 * Split p->text into p->toks.  Like iptables-restore: blanks separate,
 * double quotes group (and are dropped), a backslash inside quotes escapes
 * the next character.
 */
static int ipt_tokenize(struct ipt_parser *p)
{
	const char *s = p->text;
	size_t n = p->textlen;
	size_t i = 0;
	char *w = NULL;

	if (st_grow((void **)&p->scratch, &p->scratch_cap, n * 2 + 2, 1) < 0)
		return ipt_nomem(p);
	w = p->scratch;
	p->ntoks = 0;
	while (i < n) {
		struct ipt_tok *t = NULL;
		bool inq = false;

		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == n)
			break;
		if (st_grow((void **)&p->toks, &p->toks_cap, p->ntoks + 1,
			    sizeof(*p->toks)) < 0)
			return ipt_nomem(p);
		t = &p->toks[p->ntoks++];
		t->s = w;
		t->quoted = false;
		t->start = i;
		while (i < n && (inq || (s[i] != ' ' && s[i] != '\t'))) {
			if (s[i] == '"') {
				inq = !inq;
				t->quoted = true;
				i++;
				continue;
			}
			if (inq && s[i] == '\\' && i + 1 < n) {
				*w++ = s[i + 1];
				i += 2;
				continue;
			}
			*w++ = s[i++];
		}
		if (inq)
			return ipt_fail(p, "unterminated quote");
		*w++ = '\0';
		t->end = i;
	}
	return 0;
}

static bool ipt_is_opt(const struct ipt_tok *t)
{
	if (t->quoted)
		return false;
	if (strcmp(t->s, "!") == 0)
		return true;
	return t->s[0] == '-' && t->s[1] != '\0' &&
	       !isdigit((unsigned char)t->s[1]);
}

static const char *ipt_arg(const struct ipt_parser *p,
			   const struct ipt_item *it, unsigned int k)
{
	return p->toks[it->arg0 + k].s;
}

/* ---- generic options ------------------------------------------------ */

enum ipt_gopt {
	IPT_G_NONE = 0,
	IPT_G_SRC,
	IPT_G_DST,
	IPT_G_IIF,
	IPT_G_OIF,
	IPT_G_PROTO,
	IPT_G_FRAG,
	IPT_G_MATCH,
	IPT_G_JUMP,
	IPT_G_GOTO,
	IPT_G_COUNTERS,
	IPT_G_FAMILY,
};

static const struct {
	const char *s;
	const char *l;
	enum ipt_gopt g;
	unsigned int nargs;
} ipt_generic[] = {
	{"-s", "--source", IPT_G_SRC, 1},
	{"-d", "--destination", IPT_G_DST, 1},
	{"-i", "--in-interface", IPT_G_IIF, 1},
	{"-o", "--out-interface", IPT_G_OIF, 1},
	{"-p", "--protocol", IPT_G_PROTO, 1},
	{"-f", "--fragment", IPT_G_FRAG, 0},
	{"-m", "--match", IPT_G_MATCH, 1},
	{"-j", "--jump", IPT_G_JUMP, 1},
	{"-g", "--goto", IPT_G_GOTO, 1},
	{"-c", "--set-counters", IPT_G_COUNTERS, 2},
	{"-4", "--ipv4", IPT_G_FAMILY, 0},
	{"-6", "--ipv6", IPT_G_FAMILY, 0},
};

static int ipt_generic_index(const char *opt)
{
	/* iptables accepts the unambiguous abbreviations of long options
	 * too, but iptables-save never writes them. */
	for (size_t i = 0; i < ST_ARRAY_SIZE(ipt_generic); i++)
		if (strcmp(opt, ipt_generic[i].s) == 0 ||
		    strcmp(opt, ipt_generic[i].l) == 0)
			return (int)i;
	return -1;
}

/* Options of the protocol modules that "-p tcp" / "-p udp" load implicitly. */
static bool ipt_implicit_opt(const char *proto, const char *opt)
{
	static const char *const tcp[] = {
		"--dport",	 "--destination-port", "--sport",
		"--source-port", "--tcp-flags",	       "--syn",
		"--tcp-option",
	};
	static const char *const udp[] = {
		"--dport",
		"--destination-port",
		"--sport",
		"--source-port",
	};

	if (strcmp(proto, "tcp") == 0) {
		for (size_t i = 0; i < ST_ARRAY_SIZE(tcp); i++)
			if (strcmp(opt, tcp[i]) == 0)
				return true;
	} else if (strcmp(proto, "udp") == 0) {
		for (size_t i = 0; i < ST_ARRAY_SIZE(udp); i++)
			if (strcmp(opt, udp[i]) == 0)
				return true;
	}
	return false;
}

/* ---- text of modules and targets ------------------------------------ */

/* @prefix, then each child of @opener as written, space-separated. */
static char *ipt_children_text(const struct ipt_parser *p, const char *prefix,
			       int opener, int only)
{
	size_t n = strlen(prefix) + 1;
	char *buf = NULL;
	char *w = NULL;

	for (int c = p->items[opener].first; c >= 0; c = p->items[c].next)
		if (only < 0 || c == only)
			n += p->items[c].end - p->items[c].start + 1;
	buf = malloc(n);
	if (buf == NULL)
		return NULL;
	w = buf;
	memcpy(w, prefix, strlen(prefix));
	w += strlen(prefix);
	for (int c = p->items[opener].first; c >= 0; c = p->items[c].next) {
		const struct ipt_item *it = &p->items[c];

		if (only >= 0 && c != only)
			continue;
		if (w != buf)
			*w++ = ' ';
		memcpy(w, p->text + it->start, it->end - it->start);
		w += it->end - it->start;
	}
	*w = '\0';
	return buf;
}

static int ipt_add_text_match(struct ipt_parser *p, struct st_rule *r,
			      enum st_match_kind kind, bool neg,
			      const char *prefix, int opener, int only)
{
	struct st_match *m = st_rule_add_match(r, kind);

	if (m == NULL)
		return ipt_nomem(p);
	m->neg = neg;
	m->text = ipt_children_text(p, prefix, opener, only);
	if (m->text == NULL)
		return ipt_nomem(p);
	return 0;
}

/* ---- modules -------------------------------------------------------- */

static bool ipt_streq2(const char *s, const char *a, const char *b)
{
	return strcmp(s, a) == 0 || (b != NULL && strcmp(s, b) == 0);
}

static int ipt_need_args(struct ipt_parser *p, const char *mod,
			 const struct ipt_item *it, unsigned int n)
{
	if (it->nargs < n)
		return ipt_fail(p, "%s%s%s needs an argument (truncated line?)",
				mod, *mod ? " " : "", it->opt);
	if (it->nargs > n)
		return ipt_fail(p, "unexpected '%s' after %s%s%s",
				ipt_arg(p, it, n), mod, *mod ? " " : "",
				it->opt);
	return 0;
}

static int ipt_ports_match(struct ipt_parser *p, struct st_rule *r,
			   const struct ipt_item *it, bool dst, bool multi)
{
	struct st_match *m = NULL;
	const char *s = ipt_arg(p, it, 0);

	m = st_rule_add_match(r, dst ? ST_M_DPORT : ST_M_SPORT);
	if (m == NULL)
		return ipt_nomem(p);
	m->neg = it->neg;
	while (*s != '\0') {
		char buf[32];
		size_t n = strcspn(s, ",");

		if (!multi && s[n] == ',')
			return ipt_fail(p, "bad port '%s'", ipt_arg(p, it, 0));
		if (m->nports == 15)
			return ipt_fail(p, "more than 15 ports in '%s'",
					ipt_arg(p, it, 0));
		if (n == 0 || n >= sizeof(buf))
			return ipt_fail(p, "bad port list '%s'",
					ipt_arg(p, it, 0));
		memcpy(buf, s, n);
		buf[n] = '\0';
		if (!ipt_port_range(buf, ':', &m->ports[m->nports]))
			return ipt_fail(p, "bad port '%s'", buf);
		m->nports++;
		s += n;
		if (*s == ',' && *++s == '\0')
			return ipt_fail(p, "bad port list '%s'",
					ipt_arg(p, it, 0));
	}
	if (m->nports == 0)
		return ipt_fail(p, "empty port list");
	return 0;
}

static bool ipt_is_stateful(const char *mod)
{
	static const char *const names[] = {
		"statistic", "limit",	  "recent",
		"quota",     "connlimit", "hashlimit",
	};

	for (size_t i = 0; i < ST_ARRAY_SIZE(names); i++)
		if (strcmp(mod, names[i]) == 0)
			return true;
	return false;
}

/* One option of a known module; *known = false to keep it as text. */
static int ipt_module_opt(struct ipt_parser *p, struct st_rule *r,
			  const char *mod, const struct ipt_item *it,
			  bool *known)
{
	struct st_match *m = NULL;
	const char *o = it->opt;
	int ret = 0;

	*known = true;
	if (strcmp(mod, "tcp") == 0 || strcmp(mod, "udp") == 0 ||
	    strcmp(mod, "sctp") == 0 || strcmp(mod, "udplite") == 0 ||
	    strcmp(mod, "dccp") == 0) {
		bool dst = ipt_streq2(o, "--dport", "--destination-port");

		if (!dst && !ipt_streq2(o, "--sport", "--source-port"))
			goto unknown;
		ret = ipt_need_args(p, mod, it, 1);
		return ret < 0 ? ret : ipt_ports_match(p, r, it, dst, false);
	}
	if (strcmp(mod, "multiport") == 0) {
		bool dst = ipt_streq2(o, "--dports", "--destination-ports");

		if (!dst && !ipt_streq2(o, "--sports", "--source-ports"))
			goto unknown; /* --ports: either side */
		ret = ipt_need_args(p, mod, it, 1);
		return ret < 0 ? ret : ipt_ports_match(p, r, it, dst, true);
	}
	if (strcmp(mod, "owner") == 0) {
		enum st_match_kind k = ST_M_UID;

		if (strcmp(o, "--socket-exists") == 0) {
			ret = ipt_need_args(p, mod, it, 0);
			if (ret < 0)
				return ret;
			m = st_rule_add_match(r, ST_M_SOCKET_EXISTS);
			if (m == NULL)
				return ipt_nomem(p);
			m->neg = it->neg;
			return 0;
		}
		if (strcmp(o, "--gid-owner") == 0)
			k = ST_M_GID;
		else if (strcmp(o, "--uid-owner") != 0)
			goto unknown;
		ret = ipt_need_args(p, mod, it, 1);
		if (ret < 0)
			return ret;
		m = st_rule_add_match(r, k);
		if (m == NULL)
			return ipt_nomem(p);
		m->neg = it->neg;
		/* A user or group name (not what -save prints): keep text. */
		if (!ipt_id_range(ipt_arg(p, it, 0), &m->lo, &m->hi)) {
			r->nmatches--;
			goto unknown;
		}
		return 0;
	}
	if (strcmp(mod, "mark") == 0 || strcmp(mod, "connmark") == 0) {
		if (strcmp(o, "--mark") != 0)
			goto unknown;
		ret = ipt_need_args(p, mod, it, 1);
		if (ret < 0)
			return ret;
		m = st_rule_add_match(r, strcmp(mod, "mark") == 0
						 ? ST_M_MARK
						 : ST_M_CONNMARK);
		if (m == NULL)
			return ipt_nomem(p);
		m->neg = it->neg;
		if (!ipt_mark(ipt_arg(p, it, 0), &m->lo, &m->hi))
			return ipt_fail(p, "bad mark '%s'", ipt_arg(p, it, 0));
		return 0;
	}
	if ((strcmp(mod, "conntrack") == 0 && strcmp(o, "--ctstate") == 0) ||
	    (strcmp(mod, "state") == 0 && strcmp(o, "--state") == 0)) {
		ret = ipt_need_args(p, mod, it, 1);
		if (ret < 0)
			return ret;
		m = st_rule_add_match(r, ST_M_CTSTATE);
		if (m == NULL)
			return ipt_nomem(p);
		m->neg = it->neg;
		if (!ipt_ctstate(ipt_arg(p, it, 0), &m->lo))
			return ipt_fail(p, "bad conntrack state '%s'",
					ipt_arg(p, it, 0));
		m->hi = 0;
		return 0;
	}
	if (strcmp(mod, "comment") == 0 && strcmp(o, "--comment") == 0) {
		ret = ipt_need_args(p, mod, it, 1);
		if (ret < 0)
			return ret;
		m = st_rule_add_match(r, ST_M_COMMENT);
		if (m == NULL)
			return ipt_nomem(p);
		m->text = strdup(ipt_arg(p, it, 0));
		return m->text == NULL ? ipt_nomem(p) : 0;
	}
unknown:
	*known = false;
	return 0;
}

static bool ipt_module_known(const char *mod)
{
	static const char *const names[] = {
		"tcp",	 "udp",	 "sctp",     "udplite",	  "dccp",  "multiport",
		"owner", "mark", "connmark", "conntrack", "state", "comment",
	};

	for (size_t i = 0; i < ST_ARRAY_SIZE(names); i++)
		if (strcmp(mod, names[i]) == 0)
			return true;
	return false;
}

/*
 * The module opened by item @opener: "-m NAME" (explicit) or "-p tcp"
 * followed by tcp options (implicit, @mod is the protocol).
 */
static int ipt_module(struct ipt_parser *p, struct st_rule *r, int opener,
		      const char *mod, bool implicit)
{
	char prefix[64] = "";
	int ret = 0;

	if (!implicit && snprintf(prefix, sizeof(prefix), "-m %s", mod) >=
				 (int)sizeof(prefix))
		return ipt_fail(p, "module name too long");
	if (strcmp(mod, "socket") == 0)
		return ipt_add_text_match(p, r, ST_M_SOCKET, false, prefix,
					  opener, -1);
	if (ipt_is_stateful(mod))
		return ipt_add_text_match(p, r, ST_M_STATEFUL, false, prefix,
					  opener, -1);
	if (!ipt_module_known(mod))
		return ipt_add_text_match(p, r, ST_M_UNKNOWN, false, prefix,
					  opener, -1);
	if (strcmp(mod, "comment") == 0 && p->items[opener].first < 0)
		return ipt_fail(p, "-m comment without --comment");
	for (int c = p->items[opener].first; c >= 0; c = p->items[c].next) {
		bool known = true;

		ret = ipt_module_opt(p, r, mod, &p->items[c], &known);
		if (ret < 0)
			return ret;
		if (!known) {
			ret = ipt_add_text_match(p, r, ST_M_UNKNOWN,
						 p->items[c].neg, prefix,
						 opener, c);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

/* ---- targets -------------------------------------------------------- */

static const struct {
	const char *name;
	enum st_target_kind kind;
} ipt_targets[] = {
	{"ACCEPT", ST_T_ACCEPT},
	{"DROP", ST_T_DROP},
	{"RETURN", ST_T_RETURN},
	{"REJECT", ST_T_REJECT},
	{"REDIRECT", ST_T_REDIRECT},
	{"TPROXY", ST_T_TPROXY},
	{"MARK", ST_T_MARK},
	{"CONNMARK", ST_T_CONNMARK},
	{"CT", ST_T_CT},
	{"DNAT", ST_T_DNAT},
	{"SNAT", ST_T_SNAT},
	{"MASQUERADE", ST_T_MASQUERADE},
	{"NFLOG", ST_T_NFLOG},
	{"LOG", ST_T_LOG},
	{"TRACE", ST_T_TRACE},
};

/* "1.2.3.4", "1.2.3.4:80", "1.2.3.4:80-90", "[::1]:80", "::1". */
static int ipt_nat_to(struct ipt_parser *p, struct st_target *t, const char *s)
{
	char buf[INET6_ADDRSTRLEN + 24];
	char *addr = buf;
	char *port = NULL;
	struct st_port_range pr;

	if (st_strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return ipt_fail(p, "bad NAT address '%s'", s);
	if (buf[0] == '[') {
		char *rb = strchr(buf, ']');

		if (rb == NULL)
			return ipt_fail(p, "bad NAT address '%s'", s);
		*rb = '\0';
		addr = buf + 1;
		if (rb[1] == ':')
			port = rb + 2;
		else if (rb[1] != '\0')
			return ipt_fail(p, "bad NAT address '%s'", s);
	} else if (strchr(buf, ':') == strrchr(buf, ':') &&
		   strchr(buf, ':') != NULL) {
		port = strchr(buf, ':');
		*port++ = '\0';
	}
	if (addr[0] != '\0') {
		/* A range "A-B" keeps only its first address. */
		char *dash = strchr(addr, '-');

		if (dash != NULL)
			*dash = '\0';
		if (st_prefix_parse(&t->addr, addr) < 0 || strchr(addr, '/'))
			return ipt_fail(p, "bad NAT address '%s'", s);
	}
	if (port != NULL) {
		if (!ipt_port_range(port, '-', &pr))
			return ipt_fail(p, "bad NAT port '%s'", s);
		t->port_lo = pr.lo;
		t->port_hi = pr.hi;
	}
	return 0;
}

static int ipt_target_opt(struct ipt_parser *p, struct st_target *t,
			  const char *tname, const struct ipt_item *it)
{
	const char *o = it->opt;
	struct st_port_range pr;
	uint64_t v = 0;
	int ret = 0;

	if (it->neg)
		return ipt_fail(p, "'!' before target option %s", o);
	switch (t->kind) {
	case ST_T_REDIRECT:
	case ST_T_MASQUERADE:
		if (strcmp(o, "--to-ports") != 0)
			break;
		ret = ipt_need_args(p, tname, it, 1);
		if (ret < 0)
			return ret;
		if (!ipt_port_range(ipt_arg(p, it, 0), '-', &pr))
			return ipt_fail(p, "bad port '%s'", ipt_arg(p, it, 0));
		t->port_lo = pr.lo;
		t->port_hi = pr.hi;
		break;
	case ST_T_TPROXY:
		ret = ipt_need_args(p, tname, it, 1);
		if (ret < 0)
			return ret;
		if (strcmp(o, "--on-port") == 0) {
			if (!ipt_port(ipt_arg(p, it, 0), &t->port_lo))
				return ipt_fail(p, "bad port '%s'",
						ipt_arg(p, it, 0));
			t->port_hi = t->port_lo;
		} else if (strcmp(o, "--on-ip") == 0) {
			if (st_prefix_parse(&t->addr, ipt_arg(p, it, 0)) < 0)
				return ipt_fail(p, "bad address '%s'",
						ipt_arg(p, it, 0));
		} else if (strcmp(o, "--tproxy-mark") == 0) {
			if (!ipt_mark(ipt_arg(p, it, 0), &t->mark, &t->mask))
				return ipt_fail(p, "bad mark '%s'",
						ipt_arg(p, it, 0));
		}
		break;
	case ST_T_MARK:
	case ST_T_CONNMARK:
		if (strcmp(o, "--set-xmark") == 0 ||
		    strcmp(o, "--set-mark") == 0) {
			ret = ipt_need_args(p, tname, it, 1);
			if (ret < 0)
				return ret;
			if (!ipt_mark(ipt_arg(p, it, 0), &t->mark, &t->mask))
				return ipt_fail(p, "bad mark '%s'",
						ipt_arg(p, it, 0));
		} else if (strcmp(o, "--and-mark") == 0 ||
			   strcmp(o, "--or-mark") == 0 ||
			   strcmp(o, "--xor-mark") == 0) {
			uint32_t bits = 0;

			ret = ipt_need_args(p, tname, it, 1);
			if (ret < 0)
				return ret;
			if (!ipt_u32(ipt_arg(p, it, 0), &bits))
				return ipt_fail(p, "bad mark '%s'",
						ipt_arg(p, it, 0));
			/* As --set-xmark value/mask, the kernel's form. */
			t->mark = o[2] == 'a' ? 0 : bits;
			t->mask = o[2] == 'a' ? ~bits : o[2] == 'o' ? bits : 0;
		}
		break;
	case ST_T_CT:
		if (strcmp(o, "--zone") != 0)
			break;
		ret = ipt_need_args(p, tname, it, 1);
		if (ret < 0)
			return ret;
		if (!ipt_u64(ipt_arg(p, it, 0), 10, 65535, &v))
			return ipt_fail(p, "bad zone '%s'", ipt_arg(p, it, 0));
		t->zone = (uint16_t)v;
		break;
	case ST_T_DNAT:
	case ST_T_SNAT:
		if (strcmp(o, "--to-destination") != 0 &&
		    strcmp(o, "--to-source") != 0)
			break;
		ret = ipt_need_args(p, tname, it, 1);
		if (ret < 0)
			return ret;
		return ipt_nat_to(p, t, ipt_arg(p, it, 0));
	case ST_T_NFLOG:
		if (strcmp(o, "--nflog-group") == 0) {
			ret = ipt_need_args(p, tname, it, 1);
			if (ret < 0)
				return ret;
			if (!ipt_u64(ipt_arg(p, it, 0), 10, 65535, &v))
				return ipt_fail(p, "bad group '%s'",
						ipt_arg(p, it, 0));
			t->group = (uint16_t)v;
		} else if (strcmp(o, "--nflog-prefix") == 0) {
			ret = ipt_need_args(p, tname, it, 1);
			if (ret < 0)
				return ret;
			free(t->text);
			t->text = strdup(ipt_arg(p, it, 0));
			if (t->text == NULL)
				return ipt_nomem(p);
		}
		break;
	default:
		break;
	}
	return 0;
}

static bool ipt_chain_declared(const struct ipt_parser *p, const char *name)
{
	for (size_t i = 0; i < p->nchains; i++)
		if (strcmp(p->chains[i]->name, name) == 0)
			return true;
	return false;
}

static int ipt_target(struct ipt_parser *p, struct st_rule *r, int opener,
		      bool is_goto)
{
	const struct ipt_item *op = &p->items[opener];
	const char *tname = ipt_arg(p, op, 0);
	struct st_target *t = &r->target;
	int ret = 0;

	t->kind = ST_T_UNKNOWN;
	for (size_t i = 0; i < ST_ARRAY_SIZE(ipt_targets); i++)
		if (strcmp(tname, ipt_targets[i].name) == 0)
			t->kind = ipt_targets[i].kind;
	if (is_goto ||
	    (t->kind == ST_T_UNKNOWN && ipt_chain_declared(p, tname))) {
		if (!ipt_chain_declared(p, tname))
			return ipt_fail(p, "goto to undeclared chain '%s'",
					tname);
		if (op->first >= 0)
			return ipt_fail(p, "unexpected '%s' after -%c %s",
					p->items[op->first].opt,
					is_goto ? 'g' : 'j', tname);
		t->kind = is_goto ? ST_T_GOTO : ST_T_JUMP;
		t->chain = strdup(tname);
		if (t->chain == NULL)
			return ipt_nomem(p);
	}
	/* NFLOG's text is its prefix (filled in below), as rules.h says. */
	if (t->kind == ST_T_NFLOG)
		t->text = strdup("");
	else
		t->text = ipt_children_text(p, tname, opener, -1);
	if (t->text == NULL)
		return ipt_nomem(p);
	if (t->kind == ST_T_UNKNOWN)
		return 0;
	if (t->kind == ST_T_TPROXY)
		t->mask = UINT32_MAX;
	if (t->kind == ST_T_MARK || t->kind == ST_T_CONNMARK)
		t->mask = UINT32_MAX;
	for (int c = op->first; c >= 0; c = p->items[c].next) {
		ret = ipt_target_opt(p, t, tname, &p->items[c]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ---- one rule ------------------------------------------------------- */

static int ipt_build_items(struct ipt_parser *p, unsigned int from)
{
	unsigned int i = from;
	int ctx = IPT_OWNER_NONE;
	int proto_item = -1;

	p->nitems = 0;
	while (i < p->ntoks) {
		struct ipt_item *it = NULL;
		unsigned int j = 0;
		int g = -1;

		if (st_grow((void **)&p->items, &p->items_cap, p->nitems + 1,
			    sizeof(*p->items)) < 0)
			return ipt_nomem(p);
		it = &p->items[p->nitems];
		memset(it, 0, sizeof(*it));
		it->start = p->toks[i].start;
		it->first = it->last = it->next = -1;
		if (!p->toks[i].quoted && strcmp(p->toks[i].s, "!") == 0) {
			it->neg = true;
			if (++i == p->ntoks)
				return ipt_fail(p, "'!' at end of line");
		}
		if (!ipt_is_opt(&p->toks[i]) || strcmp(p->toks[i].s, "!") == 0)
			return ipt_fail(p, "unexpected '%s'", p->toks[i].s);
		it->opt = p->toks[i].s;
		j = i + 1;
		while (j < p->ntoks && !ipt_is_opt(&p->toks[j]))
			j++;
		it->arg0 = i + 1;
		it->nargs = j - i - 1;
		it->end = p->toks[j - 1].end;
		i = j;

		g = ipt_generic_index(it->opt);
		if (g >= 0) {
			enum ipt_gopt go = ipt_generic[g].g;

			if (it->nargs < ipt_generic[g].nargs)
				return ipt_fail(p,
						"%s needs an argument "
						"(truncated line?)",
						it->opt);
			if (it->nargs > ipt_generic[g].nargs)
				return ipt_fail(
					p, "unexpected '%s' after %s",
					ipt_arg(p, it, ipt_generic[g].nargs),
					it->opt);
			it->owner = IPT_OWNER_GENERIC;
			if (go == IPT_G_MATCH || go == IPT_G_JUMP ||
			    go == IPT_G_GOTO) {
				if (it->neg)
					return ipt_fail(p, "'!' before %s",
							it->opt);
				ctx = (int)p->nitems;
			}
			if (go == IPT_G_PROTO)
				proto_item = (int)p->nitems;
		} else if (it->opt[1] != '-') {
			return ipt_fail(p, "unknown option '%s'", it->opt);
		} else {
			int owner = ctx;

			if (owner == IPT_OWNER_NONE && proto_item >= 0 &&
			    ipt_implicit_opt(
				    ipt_arg(p, &p->items[proto_item], 0),
				    it->opt))
				owner = proto_item;
			if (owner == IPT_OWNER_NONE)
				return ipt_fail(p,
						"unknown option '%s' "
						"(not inside any -m module)",
						it->opt);
			it->owner = owner;
			if (p->items[owner].first < 0)
				p->items[owner].first = (int)p->nitems;
			else
				p->items[p->items[owner].last].next =
					(int)p->nitems;
			p->items[owner].last = (int)p->nitems;
		}
		p->nitems++;
	}
	return 0;
}

static int ipt_generic_item(struct ipt_parser *p, struct st_rule *r, int idx,
			    bool *have_target)
{
	struct ipt_item *it = &p->items[idx];
	enum ipt_gopt go = ipt_generic[ipt_generic_index(it->opt)].g;
	const char *a = it->nargs ? ipt_arg(p, it, 0) : NULL;
	struct st_match *m = NULL;
	uint64_t v = 0;
	bool any = false;
	uint8_t proto = 0;
	switch (go) {
	case IPT_G_SRC:
	case IPT_G_DST:
		m = st_rule_add_match(r, go == IPT_G_SRC ? ST_M_SRC : ST_M_DST);
		if (m == NULL)
			return ipt_nomem(p);
		m->neg = it->neg;
		if (st_prefix_parse(&m->addr, a) < 0)
			return ipt_fail(p, "bad address '%s'", a);
		if ((enum st_family)m->addr.family != p->family)
			return ipt_fail(p,
					"IPv%d address '%s' in an IPv%d "
					"rule set",
					m->addr.family, a, p->family);
		return 0;
	case IPT_G_IIF:
	case IPT_G_OIF:
		if (strlen(a) == 0 || strlen(a) > ST_IFNAMSIZ - 1)
			return ipt_fail(p, "bad interface name '%s'", a);
		m = st_rule_add_match(r, go == IPT_G_IIF ? ST_M_IIF : ST_M_OIF);
		if (m == NULL)
			return ipt_nomem(p);
		m->neg = it->neg;
		st_strlcpy(m->ifname, a, sizeof(m->ifname));
		return 0;
	case IPT_G_PROTO:
		if (!ipt_proto(a, &proto, &any))
			return ipt_fail(p, "unknown protocol '%s'", a);
		if (!any) {
			m = st_rule_add_match(r, ST_M_PROTO);
			if (m == NULL)
				return ipt_nomem(p);
			m->neg = it->neg;
			m->proto = proto;
		} else if (it->neg) {
			m = st_rule_add_match(r, ST_M_UNKNOWN);
			if (m == NULL)
				return ipt_nomem(p);
			m->neg = true;
			m->text = strndup(p->text + it->start,
					  it->end - it->start);
			if (m->text == NULL)
				return ipt_nomem(p);
		}
		if (it->first >= 0)
			return ipt_module(p, r, idx, a, true);
		return 0;
	case IPT_G_FRAG:
		m = st_rule_add_match(r, ST_M_UNKNOWN);
		if (m == NULL)
			return ipt_nomem(p);
		m->neg = it->neg;
		m->text = strndup(p->text + it->start, it->end - it->start);
		return m->text == NULL ? ipt_nomem(p) : 0;
	case IPT_G_MATCH:
		return ipt_module(p, r, idx, a, false);
	case IPT_G_JUMP:
	case IPT_G_GOTO:
		if (*have_target)
			return ipt_fail(p, "more than one target");
		*have_target = true;
		return ipt_target(p, r, idx, go == IPT_G_GOTO);
	case IPT_G_COUNTERS:
		if (!ipt_u64(a, 10, UINT64_MAX, &v))
			return ipt_fail(p, "bad counter '%s'", a);
		r->packets = v;
		if (!ipt_u64(ipt_arg(p, it, 1), 10, UINT64_MAX, &v))
			return ipt_fail(p, "bad counter '%s'",
					ipt_arg(p, it, 1));
		r->bytes = v;
		r->has_counters = true;
		return 0;
	case IPT_G_FAMILY:
	case IPT_G_NONE:
		break;
	}
	return 0;
}

static bool ipt_parse_counters(const char *s, size_t n, uint64_t *pk,
			       uint64_t *by, size_t *used)
{
	char buf[64];
	char *colon = NULL;
	const char *rb = memchr(s, ']', n);

	if (n == 0 || s[0] != '[' || rb == NULL)
		return false;
	if ((size_t)(rb - s - 1) >= sizeof(buf))
		return false;
	memcpy(buf, s + 1, (size_t)(rb - s - 1));
	buf[rb - s - 1] = '\0';
	colon = strchr(buf, ':');
	if (colon == NULL)
		return false;
	*colon = '\0';
	if (!ipt_u64(buf, 10, UINT64_MAX, pk) ||
	    !ipt_u64(colon + 1, 10, UINT64_MAX, by))
		return false;
	*used = (size_t)(rb - s) + 1;
	return true;
}

static int ipt_rule(struct ipt_parser *p, const char *s, size_t n)
{
	struct st_rule *r = NULL;
	uint64_t pk = 0;
	uint64_t by = 0;
	size_t used = 0;
	bool counters = false;
	bool have_target = false;
	const char *chain = NULL;
	int ret = 0;

	if (s[0] == '[') {
		if (!ipt_parse_counters(s, n, &pk, &by, &used))
			return ipt_fail(
				p, "bad counters, expected [packets:bytes]");
		counters = true;
		s += used;
		n -= used;
		while (n > 0 && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
	}
	p->text = s;
	p->textlen = n;
	ret = ipt_tokenize(p);
	if (ret < 0)
		return ret;
	if (p->ntoks == 0 || p->toks[0].quoted ||
	    (strcmp(p->toks[0].s, "-A") != 0 &&
	     strcmp(p->toks[0].s, "--append") != 0))
		return ipt_fail(p, "expected -A, found '%s'",
				p->ntoks ? p->toks[0].s : "");
	if (p->table == NULL)
		return ipt_fail(p, "rule before any *table line");
	if (p->ntoks < 2)
		return ipt_fail(p, "-A without a chain name (truncated line?)");
	chain = p->toks[1].s;
	if (!ipt_chain_declared(p, chain))
		return ipt_fail(p, "-A for undeclared chain '%s' in table '%s'",
				chain, p->table);
	ret = ipt_build_items(p, 2);
	if (ret < 0)
		return ret;
	r = st_ruleset_add_rule(p->rs, p->table, chain, p->family);
	if (r == NULL)
		return ipt_nomem(p);
	r->line = p->lineno;
	r->has_counters = counters;
	r->packets = pk;
	r->bytes = by;
	r->text = strndup(s, n);
	if (r->text == NULL)
		return ipt_nomem(p);
	for (size_t i = 0; i < p->nitems; i++) {
		if (p->items[i].owner != IPT_OWNER_GENERIC)
			continue;
		ret = ipt_generic_item(p, r, (int)i, &have_target);
		if (ret < 0)
			return ret;
	}
	/* No -j: ST_T_NONE, with an empty text that callers may strcmp. */
	if (!have_target) {
		r->target.text = strdup("");
		if (r->target.text == NULL)
			return ipt_nomem(p);
	}
	return 0;
}

/* ---- table, chain and header lines ---------------------------------- */

static int ipt_table_prio(const char *table)
{
	static const struct {
		const char *name;
		int prio;
	} prios[] = {
		{"raw", -300}, {"mangle", -150}, {"nat", -100},
		{"filter", 0}, {"security", 50},
	};

	for (size_t i = 0; i < ST_ARRAY_SIZE(prios); i++)
		if (strcmp(table, prios[i].name) == 0)
			return prios[i].prio;
	return 0;
}

static int ipt_table(struct ipt_parser *p, const char *s, size_t n)
{
	static const char *const tables[] = {
		"raw", "mangle", "nat", "filter", "security",
	};
	char name[32];
	bool ok = false;

	if (p->table != NULL)
		return ipt_fail(p,
				"table '%s' (line %u) has no COMMIT before "
				"the next table",
				p->table, p->table_line);
	if (n - 1 == 0 || n - 1 >= sizeof(name))
		return ipt_fail(p, "bad table line");
	memcpy(name, s + 1, n - 1);
	name[n - 1] = '\0';
	for (size_t i = 0; i < ST_ARRAY_SIZE(tables); i++)
		if (strcmp(name, tables[i]) == 0)
			ok = true;
	if (!ok)
		return ipt_fail(p, "unknown table '%s'", name);
	p->table = st_ruleset_intern(p->rs, name);
	if (p->table == NULL)
		return ipt_nomem(p);
	p->table_line = p->lineno;
	p->nchains = 0;
	return 0;
}

static int ipt_chain(struct ipt_parser *p, const char *s, size_t n)
{
	char name[IPT_MAX_CHAIN_NAME + 2];
	char policy[16];
	struct st_chain *c = NULL;
	uint64_t pk = 0;
	uint64_t by = 0;
	size_t used = 0;
	size_t k = 1;
	size_t w = 0;

	if (p->table == NULL)
		return ipt_fail(p, "chain declared before any *table line");
	while (k < n && s[k] != ' ' && s[k] != '\t') {
		if (w == sizeof(name) - 1)
			return ipt_fail(p, "chain name too long");
		name[w++] = s[k++];
	}
	name[w] = '\0';
	if (w == 0 || w > IPT_MAX_CHAIN_NAME)
		return ipt_fail(p, "bad chain name");
	while (k < n && (s[k] == ' ' || s[k] == '\t'))
		k++;
	w = 0;
	while (k < n && s[k] != ' ' && s[k] != '\t') {
		if (w == sizeof(policy) - 1)
			return ipt_fail(p, "bad policy");
		policy[w++] = s[k++];
	}
	policy[w] = '\0';
	if (strcmp(policy, "ACCEPT") != 0 && strcmp(policy, "DROP") != 0 &&
	    strcmp(policy, "-") != 0)
		return ipt_fail(p,
				"bad policy '%s' for chain '%s' "
				"(truncated line?)",
				policy, name);
	while (k < n && (s[k] == ' ' || s[k] == '\t'))
		k++;
	if (k < n) {
		if (!ipt_parse_counters(s + k, n - k, &pk, &by, &used) ||
		    k + used != n)
			return ipt_fail(p, "bad chain counters");
	}
	if (ipt_chain_declared(p, name))
		return ipt_fail(p, "chain '%s' declared twice", name);
	/* Another file of the same family would double every chain. */
	if (st_ruleset_find_chain(p->rs, p->table, name, p->family) != NULL)
		return ipt_fail(p,
				"chain '%s' of table %s (%s) was already read: "
				"the same table twice, or two dumps of one "
				"family",
				name, p->table, st_family_name(p->family));
	if (st_grow((void **)&p->chains, &p->chains_cap, p->nchains + 1,
		    sizeof(*p->chains)) < 0)
		return ipt_nomem(p);
	c = st_ruleset_add_chain(p->rs, p->table, name, p->family, policy);
	if (c == NULL)
		return ipt_nomem(p);
	c->prio = ipt_table_prio(p->table);
	/* SNAT hooks of the nat table run at NF_IP_PRI_NAT_SRC, after
	 * filter; DNAT ones at NF_IP_PRI_NAT_DST. */
	if (strcmp(p->table, "nat") == 0 &&
	    (strcmp(name, "POSTROUTING") == 0 || strcmp(name, "INPUT") == 0))
		c->prio = 100;
	if (c->builtin && c->hook == NULL) {
		c->hook = strdup(name);
		if (c->hook == NULL)
			return ipt_nomem(p);
		for (char *h = c->hook; *h; h++)
			*h = (char)tolower((unsigned char)*h);
	}
	p->chains[p->nchains++] = c;
	return 0;
}

static bool ipt_starts(const char *s, size_t n, const char *pfx)
{
	size_t k = strlen(pfx);

	return n >= k && memcmp(s, pfx, k) == 0;
}

static int ipt_comment(struct ipt_parser *p, const char *s, size_t n)
{
	char *w = NULL;
	int ret = 0;

	/* iptables-nft-save notes what it cannot show as comments. */
	if (ipt_starts(s, n, "# Warning:") ||
	    (ipt_starts(s, n, "# Table `") &&
	     memmem(s, n, "incompatible", 12) != NULL)) {
		w = strndup(s, n);
		if (w == NULL)
			return ipt_nomem(p);
		ret = st_ruleset_add_warning(p->rs, w);
		free(w);
		return ret < 0 ? ipt_nomem(p) : 0;
	}
	return 0;
}

/* ---- the whole text ------------------------------------------------- */

/* Which tool wrote the text: from the "# Generated by" header. */
static void ipt_header(const char *s, size_t n, enum st_backend *backend,
		       enum st_family *family)
{
	static const char hdr[] = "# Generated by ";
	const char *prog = s + sizeof(hdr) - 1;
	size_t plen = 0;

	if (!ipt_starts(s, n, hdr))
		return;
	n -= sizeof(hdr) - 1;
	while (plen < n && prog[plen] != ' ')
		plen++;
	if (*family == ST_FAMILY_ANY)
		*family = ipt_starts(prog, plen, "ip6tables") ? ST_FAMILY_IPV6
							      : ST_FAMILY_IPV4;
	if (*backend == ST_BACKEND_UNKNOWN) {
		bool nft = memmem(prog, plen, "-nft", 4) != NULL ||
			   memmem(prog, n, "(nf_tables)", 11) != NULL;

		*backend = nft ? ST_BACKEND_NFT : ST_BACKEND_LEGACY;
	}
}

/* Without a header: an "-s"/"-d" argument with a ':' makes it IPv6. */
static bool ipt_line_has_v6(const char *s, size_t n)
{
	for (size_t i = 0; i + 3 < n; i++) {
		if ((i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t') &&
		    s[i] == '-' && (s[i + 1] == 's' || s[i + 1] == 'd') &&
		    s[i + 2] == ' ') {
			size_t k = i + 3;

			while (k < n && s[k] != ' ' && s[k] != '\t') {
				if (s[k] == ':')
					return true;
				k++;
			}
		}
	}
	return false;
}

/* Returns the length of the line at @s (without the newline). */
static size_t ipt_line_len(const char *s, size_t left)
{
	const char *nl = memchr(s, '\n', left);

	return nl != NULL ? (size_t)(nl - s) : left;
}

static void ipt_prescan(struct ipt_parser *p, const char *buf, size_t len)
{
	enum st_family fam = ST_FAMILY_ANY;
	bool v6 = false;
	bool warned_legacy = false;
	size_t off = 0;

	while (off < len) {
		size_t n = ipt_line_len(buf + off, len - off);
		const char *s = buf + off;

		ipt_header(s, n, &p->backend, &fam);
		if (ipt_starts(s, n,
			       "# Warning: iptables-legacy tables present"))
			warned_legacy = true;
		if (!v6 && n > 0 && (s[0] == '-' || s[0] == '['))
			v6 = ipt_line_has_v6(s, n);
		off += n + 1;
	}
	if (fam == ST_FAMILY_ANY)
		fam = v6 ? ST_FAMILY_IPV6 : ST_FAMILY_IPV4;
	/* Only iptables-nft-save prints that warning. */
	if (p->backend == ST_BACKEND_UNKNOWN && warned_legacy)
		p->backend = ST_BACKEND_NFT;
	p->family = fam;
}

static int ipt_check_text(struct ipt_parser *p, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0')
			return ipt_fail(p,
					"binary data (NUL byte at column "
					"%zu), not iptables-save text",
					i + 1);
		if (c < 0x20 && c != '\t' && !(c == '\r' && i == n - 1))
			return ipt_fail(p,
					"binary data (byte 0x%02x at column "
					"%zu), not iptables-save text",
					c, i + 1);
		if (c == 0x7f)
			return ipt_fail(p,
					"binary data (byte 0x7f at column "
					"%zu), not iptables-save text",
					i + 1);
	}
	return 0;
}

static int ipt_line(struct ipt_parser *p, const char *s, size_t n)
{
	while (n > 0 &&
	       (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (n > 0 && (s[0] == ' ' || s[0] == '\t')) {
		s++;
		n--;
	}
	if (n == 0)
		return 0;
	switch (s[0]) {
	case '#':
		return ipt_comment(p, s, n);
	case '*':
		return ipt_table(p, s, n);
	case ':':
		return ipt_chain(p, s, n);
	case '-':
	case '[':
		return ipt_rule(p, s, n);
	default:
		break;
	}
	if (n == 6 && memcmp(s, "COMMIT", 6) == 0) {
		if (p->table == NULL)
			return ipt_fail(p, "COMMIT outside any table");
		p->table = NULL;
		p->nchains = 0;
		return 0;
	}
	return ipt_fail(p, "unexpected line '%.*s'", n > 40 ? 40 : (int)n, s);
}

int st_iptsave_parse(struct st_ruleset *rs, const char *buf, size_t len,
		     const char *name, char *err)
{
	struct ipt_parser p;
	size_t off = 0;
	int ret = 0;

	memset(&p, 0, sizeof(p));
	p.rs = rs;
	p.name = name;
	p.err = err;
	p.backend = ST_BACKEND_UNKNOWN;
	ipt_prescan(&p, buf, len);
	while (off < len) {
		size_t n = ipt_line_len(buf + off, len - off);

		p.lineno++;
		if (n > IPT_MAX_LINE) {
			ret = ipt_fail(&p,
				       "line too long (%zu bytes, limit "
				       "%u)",
				       n, IPT_MAX_LINE);
			goto out;
		}
		ret = ipt_check_text(&p, buf + off, n);
		if (ret < 0)
			goto out;
		ret = ipt_line(&p, buf + off, n);
		if (ret < 0)
			goto out;
		off += n + 1;
	}
	if (p.table != NULL) {
		ret = ipt_fail(&p,
			       "end of file inside table '%s' (line %u): "
			       "missing COMMIT",
			       p.table, p.table_line);
		goto out;
	}
	if (p.backend != ST_BACKEND_UNKNOWN)
		st_ruleset_set_backend(rs, p.backend);
out:
	free(p.chains);
	free(p.scratch);
	free(p.toks);
	free(p.items);
	return ret;
}
