// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * instr-gen.c - a cheap sign that the target's rules changed, cheap enough
 * to read several times a second: no program is run.
 *
 * iptables-nft and native nftables: nf_tables' generation id
 * (NFT_MSG_GETGEN), which every committed transaction in the namespace
 * moves (istio-cni's iptables-restore or `nft -f` included).
 * iptables-legacy has no generation: the kernel's description of each
 * table (IPT_SO_GET_INFO: number of entries, size, hook offsets) changes
 * whenever a rule is added or removed, which is what a rewrite of the
 * Istio chains does to this session's rules; only the tables of the
 * snapshot are asked for, since asking for a missing one would make the
 * kernel create it in the target.
 *
 * The sockets are made in the target's namespace once and stay bound to
 * it; the namespace is entered only for that and always left.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* After <netinet/in.h>, whose definitions these then leave alone. */
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <linux/netlink.h>

#include "instr-int.h"
#include "netns.h"

#define ST_GEN_BUF 8192
#define ST_GEN_TIMEOUT_MS 1000
#define ST_GEN_MAX_TABLES 8

/* A socket of @domain/@proto made inside the target's namespace. */
static int st_gen_socket(struct st_instr *in, int domain, int type, int proto,
			 char *err)
{
	struct timeval tv = {ST_GEN_TIMEOUT_MS / 1000,
			     (ST_GEN_TIMEOUT_MS % 1000) * 1000};
	int saved = -1, fd, e, ret;

	ret = st_netns_enter(in->netns_fd, &saved, err);
	if (ret < 0)
		return ret;
	fd = socket(domain, type | SOCK_CLOEXEC, proto);
	e = errno;
	ret = st_netns_leave(saved, err);
	if (fd < 0)
		return st_err(err, e, "socket in the target: %s", strerror(e));
	if (ret < 0) {
		close(fd);
		return ret;
	}
	/* A kernel that does not answer must not stop the trace. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* nf_tables' generation id, asked of the kernel. */
static int st_gen_nft(struct st_instr *in, uint64_t *gen, char *err)
{
	static uint32_t seq;
	uint8_t req[NLMSG_SPACE(sizeof(struct nfgenmsg))];
	uint8_t *buf = NULL;
	struct nlmsghdr nlh;
	struct nfgenmsg nfg;
	int ret = -EIO;

	if (in->gen_fd[0] < 0) {
		in->gen_fd[0] = st_gen_socket(in, AF_NETLINK, SOCK_RAW,
					      NETLINK_NETFILTER, err);
		if (in->gen_fd[0] < 0)
			return in->gen_fd[0];
	}
	memset(req, 0, sizeof(req));
	memset(&nlh, 0, sizeof(nlh));
	nlh.nlmsg_len = NLMSG_LENGTH(sizeof(nfg));
	nlh.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
	nlh.nlmsg_flags = NLM_F_REQUEST;
	nlh.nlmsg_seq = ++seq;
	memset(&nfg, 0, sizeof(nfg));
	nfg.nfgen_family = AF_UNSPEC;
	nfg.version = NFNETLINK_V0;
	memcpy(req, &nlh, sizeof(nlh));
	memcpy(req + NLMSG_HDRLEN, &nfg, sizeof(nfg));
	if (send(in->gen_fd[0], req, nlh.nlmsg_len, 0) < 0)
		return st_err(err, errno,
			      "asking for the nftables generation: %s",
			      strerror(errno));
	buf = malloc(ST_GEN_BUF);
	if (buf == NULL)
		return st_err(err, ENOMEM, "out of memory");
	for (;;) {
		ssize_t n = recv(in->gen_fd[0], buf, ST_GEN_BUF, 0);
		size_t off = 0;

		if (n < 0) {
			ret = st_err(err, errno,
				     "reading the nftables generation: %s",
				     strerror(errno));
			goto out;
		}
		while (st_have(off, NLMSG_HDRLEN, (size_t)n)) {
			struct nlmsghdr h;
			size_t a;

			memcpy(&h, buf + off, sizeof(h));
			if (h.nlmsg_len < NLMSG_HDRLEN ||
			    h.nlmsg_len > (size_t)n - off)
				break;
			if (h.nlmsg_seq != seq) {
				off += NLMSG_ALIGN(h.nlmsg_len);
				continue; /* an answer to an earlier question */
			}
			if (h.nlmsg_type == NLMSG_ERROR) {
				int32_t e = 0;

				if (st_have(off + NLMSG_HDRLEN, sizeof(e),
					    off + h.nlmsg_len))
					memcpy(&e, buf + off + NLMSG_HDRLEN,
					       sizeof(e));
				ret = st_err(err, e < 0 ? -e : EIO,
					     "the nftables generation: %s",
					     strerror(e < 0 ? -e : EIO));
				goto out;
			}
			/* Attributes after the nfgenmsg: NFTA_GEN_ID. */
			a = off + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfg));
			while (st_have(a, NLA_HDRLEN, off + h.nlmsg_len)) {
				uint16_t alen = st_get_he16(buf + a);
				uint16_t type = st_get_he16(buf + a + 2) &
						NLA_TYPE_MASK;

				if (alen < NLA_HDRLEN ||
				    !st_have(a, alen, off + h.nlmsg_len))
					break;
				if (type == NFTA_GEN_ID &&
				    alen >= NLA_HDRLEN + 4) {
					*gen = st_get_be32(buf + a +
							   NLA_HDRLEN);
					ret = 0;
					goto out;
				}
				a += NLA_ALIGN(alen);
			}
			ret = st_err(err, EIO,
				     "the nftables generation: no id in the "
				     "answer");
			goto out;
		}
	}
out:
	free(buf);
	return ret;
}

/* The tables of a slot's snapshot ("*nat" lines). */
static size_t st_gen_tables(const char *snap, char names[][XT_TABLE_MAXNAMELEN],
			    size_t max)
{
	size_t n = 0;

	for (const char *l = snap; l != NULL && *l != '\0' && n < max;) {
		const char *e = strchr(l, '\n');
		size_t len = e != NULL ? (size_t)(e - l) : strlen(l);

		if (len > 1 && l[0] == '*' && len - 1 < XT_TABLE_MAXNAMELEN) {
			memcpy(names[n], l + 1, len - 1);
			names[n][len - 1] = '\0';
			n++;
		}
		l = e != NULL ? e + 1 : NULL;
	}
	return n;
}

/* iptables-legacy: the kernel's description of every table we know of. */
static int st_gen_legacy(struct st_instr *in, uint64_t *gen, char *err)
{
	char names[ST_GEN_MAX_TABLES][XT_TABLE_MAXNAMELEN];
	uint64_t h = ST_FNV64_INIT;

	for (int s = 0; s < 2; s++) {
		/* Both families' descriptions have the same layout. */
		uint8_t info[sizeof(struct ipt_getinfo)];
		size_t nt;

		if (!in->slot[s].used || in->slot[s].snapshot == NULL)
			continue;
		if (in->gen_fd[s] < 0) {
			in->gen_fd[s] =
				st_gen_socket(in, s == 0 ? AF_INET : AF_INET6,
					      SOCK_RAW, IPPROTO_RAW, err);
			if (in->gen_fd[s] < 0)
				return in->gen_fd[s];
		}
		nt = st_gen_tables(in->slot[s].snapshot, names,
				   ST_GEN_MAX_TABLES);
		for (size_t t = 0; t < nt; t++) {
			socklen_t len = sizeof(info);
			int r, e = 0;

			memset(info, 0, sizeof(info));
			memcpy(info, names[t], strlen(names[t]));
			r = s == 0 ? getsockopt(in->gen_fd[s], IPPROTO_IP,
						IPT_SO_GET_INFO, info, &len)
				   : getsockopt(in->gen_fd[s], IPPROTO_IPV6,
						IP6T_SO_GET_INFO, info, &len);
			if (r < 0) {
				e = errno;
				if (e != ENOENT)
					return st_err(err, e,
						      "describing table %s: %s",
						      names[t], strerror(e));
				len = 0; /* gone: that is a change too */
			}
			h = st_fnv64(h, &s, sizeof(s));
			h = st_fnv64(h, names[t], strlen(names[t]) + 1);
			h = st_fnv64(h, &e, sizeof(e));
			h = st_fnv64(h, info, len);
		}
	}
	*gen = h;
	return 0;
}

int st_gen_read(struct st_instr *in, uint64_t *gen, char *err)
{
	if (in->backend == ST_BACKEND_LEGACY)
		return st_gen_legacy(in, gen, err);
	return st_gen_nft(in, gen, err);
}

void st_gen_close(struct st_instr *in)
{
	for (int i = 0; i < 2; i++) {
		if (in->gen_fd[i] >= 0)
			close(in->gen_fd[i]);
		in->gen_fd[i] = -1;
	}
}
