// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nflog.c - the live collector on libnetfilter_log (STYLE-ANCHORS 9a).
 *
 * The netlink socket is created inside the target namespace and keeps
 * talking to it after we leave. Interface indexes in the records are that
 * namespace's, so their names are resolved there too: a table filled by
 * if_nameindex() while inside, refreshed (inside again) when a record
 * names an index the table does not know.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <libnetfilter_log/libnetfilter_log.h>

#include "netns.h"
#include "nflog.h"

/*
 * One datagram. The kernel fills an skb allocated for ST_NFLOG_NLBUFSIZ up
 * to its tailroom, which the allocator can round up beyond nlbufsiz
 * (nlbufsiz plus the skb's shared info, to a power of two): below twice
 * nlbufsiz.
 * A larger one would be counted as malformed and its tail lost.
 */
#define ST_NFLOG_BUFSIZE (2u * ST_NFLOG_NLBUFSIZ)
_Static_assert(ST_NFLOG_NLBUFSIZ <= 131072,
	       "the kernel refuses an NFLOG nlbufsiz above 128 KiB");
/* Unknown indexes below the highest known one refresh at most this often. */
#define ST_IFNAMES_REFRESH_MS 1000

struct st_ifname {
	uint32_t index;
	char name[IF_NAMESIZE];
};

enum st_cb_state {
	ST_NFLOG_GO = 0,
	ST_NFLOG_STOPPED,
	ST_NFLOG_FAILED, /* the user callback said ST_CB_ERROR */
	ST_NFLOG_FATAL,	 /* we could not leave the namespace */
};

struct st_nflog {
	struct nflog_handle *h;
	struct nflog_g_handle *gh;
	int fd;
	int netns_fd; /* our duplicate, for refreshing interface names */
	uint16_t group;

	/* The datagram being handed out, kept across a STOP. */
	uint8_t *buf;
	size_t buf_len;
	size_t buf_off;

	/* Per call of st_nflog_read(). */
	int (*cb)(const struct st_rec *rec, void *data);
	void *cb_data;
	enum st_cb_state state;
	int delivered;
	char *err;
	int fatal;

	struct st_rec rec;
	struct st_tagcache *tags; /* each distinct prefix decoded once */

	/* Loss accounting. */
	struct st_rec_seq seq; /* the kernel numbers from 0 at bind */
	uint64_t arrival;
	uint64_t pending_enobufs;
	struct st_nflog_stats stats;

	struct st_ifname *ifs;
	size_t nifs;
	uint32_t ifs_max;
	int64_t ifs_when_ms;
};

static int64_t st_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int st_ifname_cmp(const void *a, const void *b)
{
	const struct st_ifname *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/* Rebuild the index table from the current namespace of this thread. */
static int st_ifnames_load(struct st_nflog *n)
{
	struct if_nameindex *list, *it;
	struct st_ifname *ifs;
	size_t cnt = 0, i = 0;

	list = if_nameindex();
	if (list == NULL)
		return -errno;
	for (it = list; it->if_index != 0; it++)
		cnt++;
	ifs = calloc(cnt ? cnt : 1, sizeof(*ifs));
	if (ifs == NULL) {
		if_freenameindex(list);
		return -ENOMEM;
	}
	n->ifs_max = 0;
	for (it = list; it->if_index != 0; it++, i++) {
		ifs[i].index = it->if_index;
		st_strlcpy(ifs[i].name, it->if_name, sizeof(ifs[i].name));
		if (it->if_index > n->ifs_max)
			n->ifs_max = it->if_index;
	}
	if_freenameindex(list);
	qsort(ifs, cnt, sizeof(*ifs), st_ifname_cmp);
	free(n->ifs);
	n->ifs = ifs;
	n->nifs = cnt;
	n->ifs_when_ms = st_mono_ms();
	return 0;
}

static const struct st_ifname *st_ifname_find(const struct st_nflog *n,
					      uint32_t index)
{
	struct st_ifname key = {.index = index};

	if (n->nifs == 0)
		return NULL;
	return bsearch(&key, n->ifs, n->nifs, sizeof(*n->ifs), st_ifname_cmp);
}

/*
 * Refresh from inside the namespace. Only a failure to come back is
 * reported (as the fatal error it is); a failed lookup leaves names empty.
 */
static int st_ifnames_refresh(struct st_nflog *n, char *err)
{
	int saved = -1;
	int ret;

	if (n->netns_fd >= 0 && st_netns_enter(n->netns_fd, &saved, NULL) < 0)
		return 0;
	st_ifnames_load(n);
	ret = st_netns_leave(saved, err);
	return ret;
}

static int st_ifname_resolve(struct st_nflog *n, uint32_t index, char *name,
			     size_t size)
{
	const struct st_ifname *f;
	int ret;

	name[0] = '\0';
	if (index == 0)
		return 0;
	f = st_ifname_find(n, index);
	/*
	 * New interfaces get higher indexes: refresh for those at once; for
	 * a vanished one, not on every record.
	 */
	if (f == NULL &&
	    (index > n->ifs_max ||
	     st_mono_ms() - n->ifs_when_ms >= ST_IFNAMES_REFRESH_MS)) {
		ret = st_ifnames_refresh(n, n->err);
		if (ret < 0)
			return ret;
		if (index > n->ifs_max)
			n->ifs_max = index; /* do not retry it per record */
		f = st_ifname_find(n, index);
	}
	if (f != NULL)
		st_strlcpy(name, f->name, size);
	return 0;
}

/* Sequence numbers: the missing ones are lost records. */
static void st_nflog_account_seq(struct st_nflog *n, struct nflog_data *nfd)
{
	uint32_t seq, missing;

	if (nflog_get_seq(nfd, &seq) != 0) {
		n->rec.seq = n->arrival;
		return;
	}
	n->rec.seq = st_rec_seq_next(&n->seq, seq, &missing);
	if (missing > 0) {
		n->stats.seq_gaps++;
		n->stats.seq_missing += missing;
		/* The gap tells how much the ENOBUFS events cost. */
		n->pending_enobufs = 0;
	}
}

static int st_nflog_fill(struct st_nflog *n, struct nfgenmsg *nfmsg,
			 struct nflog_data *nfd)
{
	struct st_rec *r = &n->rec;
	struct nfulnl_msg_packet_hdr *ph;
	struct timeval tv;
	char *pfx, *pl = NULL;
	int plen, ret;

	memset(r, 0, sizeof(*r));
	st_nflog_account_seq(n, nfd);
	n->arrival++;
	r->group = ntohs(nfmsg->res_id);

	ph = nflog_get_msg_packet_hdr(nfd);
	r->hook = ph != NULL ? ph->hook : 0xff;

	pfx = nflog_get_prefix(nfd);
	if (pfx != NULL) {
		size_t l = strnlen(pfx, sizeof(r->prefix) - 1);

		memcpy(r->prefix, pfx, l);
		r->prefix[l] = '\0';
	}
	if (st_tagcache_parse(n->tags, r->prefix, &r->hit) < 0)
		n->stats.bad_tags++;

	r->has_uid = nflog_get_uid(nfd, &r->uid) == 0;
	r->has_gid = nflog_get_gid(nfd, &r->gid) == 0;
	r->mark = nflog_get_nfmark(nfd);
	r->indev = nflog_get_indev(nfd);
	r->outdev = nflog_get_outdev(nfd);
	ret = st_ifname_resolve(n, r->indev, r->indev_name,
				sizeof(r->indev_name));
	if (ret == 0)
		ret = st_ifname_resolve(n, r->outdev, r->outdev_name,
					sizeof(r->outdev_name));
	if (ret < 0)
		return ret;

	/* OUTPUT-hook records come without a timestamp (STYLE-ANCHORS 9a). */
	if (nflog_get_timestamp(nfd, &tv) == 0 && tv.tv_sec != 0) {
		r->ts.tv_sec = tv.tv_sec;
		r->ts.tv_nsec = tv.tv_usec * 1000;
		r->ts_kernel = true;
	} else {
		clock_gettime(CLOCK_REALTIME, &r->ts);
	}

	plen = nflog_get_payload(nfd, &pl);
	if (plen > 0 && pl != NULL) {
		r->payload_len = (uint32_t)plen;
		r->caplen = r->payload_len < ST_REC_SNAPLEN ? r->payload_len
							    : ST_REC_SNAPLEN;
		memcpy(r->payload, pl, r->caplen);
	}
	/* A payload that does not decode is still a hit: keep it. */
	st_rec_decode_l3(r);
	return 0;
}

static int st_nflog_on_packet(struct nflog_g_handle *gh, struct nfgenmsg *nfmsg,
			      struct nflog_data *nfd, void *data)
{
	struct st_nflog *n = data;
	int ret;

	(void)gh;
	ret = st_nflog_fill(n, nfmsg, nfd);
	if (ret < 0) {
		n->fatal = ret;
		n->state = ST_NFLOG_FATAL;
		return 0;
	}
	n->stats.records++;
	n->delivered++;
	ret = n->cb(&n->rec, n->cb_data);
	if (ret == ST_CB_STOP)
		n->state = ST_NFLOG_STOPPED;
	else if (ret != ST_CB_OK)
		n->state = ST_NFLOG_FAILED;
	return 0;
}

/* Hand out the messages of the current datagram from buf_off on. */
static void st_nflog_dispatch(struct st_nflog *n)
{
	const uint16_t pkt_type = NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_PACKET;

	while (n->state == ST_NFLOG_GO &&
	       st_have(n->buf_off, NLMSG_HDRLEN, n->buf_len)) {
		uint8_t *msg = n->buf + n->buf_off;
		size_t left = n->buf_len - n->buf_off;
		struct nlmsghdr nlh;
		size_t step;
		int before;

		memcpy(&nlh, msg, sizeof(nlh));
		if (nlh.nlmsg_len < NLMSG_HDRLEN || nlh.nlmsg_len > left) {
			/* Cannot find the next message: drop the rest. */
			n->stats.malformed++;
			n->buf_off = n->buf_len;
			break;
		}
		step = NLMSG_ALIGN(nlh.nlmsg_len);
		n->buf_off += step < left ? step : left;
		/* ACKs, errors, NOOP: nothing asked, nothing to hand out. */
		if (nlh.nlmsg_type != pkt_type)
			continue;
		before = n->delivered;
		if (nflog_handle_packet(n->h, (char *)msg, (int)nlh.nlmsg_len) <
			    0 &&
		    n->delivered == before && n->state == ST_NFLOG_GO)
			n->stats.malformed++;
	}
	if (n->buf_off >= n->buf_len)
		n->buf_off = n->buf_len = 0;
}

int st_nflog_read(struct st_nflog *n,
		  int (*cb)(const struct st_rec *rec, void *data), void *data,
		  char *err)
{
	ssize_t r;

	if (n == NULL || cb == NULL)
		return st_err(err, EINVAL, "st_nflog_read: no handle");

	if (n->buf_len == 0) {
		r = recv(n->fd, n->buf, ST_NFLOG_BUFSIZE, MSG_TRUNC);
		if (r < 0) {
			switch (errno) {
			case EAGAIN:
			case EINTR:
				return 0;
			case ENOBUFS:
				/*
				 * The kernel dropped records; the socket is
				 * fine. How many shows in the next seq.
				 */
				n->stats.enobufs++;
				n->pending_enobufs++;
				return 0;
			default:
				return st_err(err, errno,
					      "receiving NFLOG group %u: %s",
					      n->group, strerror(errno));
			}
		}
		if ((size_t)r > ST_NFLOG_BUFSIZE) {
			n->stats.malformed++;
			r = ST_NFLOG_BUFSIZE;
		}
		n->buf_len = (size_t)r;
		n->buf_off = 0;
	}

	n->cb = cb;
	n->cb_data = data;
	n->state = ST_NFLOG_GO;
	n->delivered = 0;
	n->err = err;
	n->fatal = 0;
	st_nflog_dispatch(n);
	n->err = NULL;

	switch (n->state) {
	case ST_NFLOG_FATAL:
		return n->fatal;
	case ST_NFLOG_FAILED:
		return st_err(err, ECANCELED,
			      "the NFLOG record callback failed");
	default:
		return n->delivered;
	}
}

/* Do we hold CAP_NET_ADMIN? Tells EPERM-by-owner from EPERM-by-rights. */
static bool st_have_net_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &hdr, d) < 0)
		return true; /* cannot tell: assume the common case */
	return (d[CAP_TO_INDEX(CAP_NET_ADMIN)].effective &
		CAP_TO_MASK(CAP_NET_ADMIN)) != 0;
}

int st_nflog_set_rcvbuf(struct st_nflog *n, unsigned int bytes, char *err)
{
	int v = bytes > 0x7fffffffu ? 0x7fffffff : (int)bytes;
	socklen_t len = sizeof(v);

	if (n == NULL)
		return st_err(err, EINVAL, "st_nflog_set_rcvbuf: no handle");
	/* FORCE passes rmem_max, but needs CAP_NET_ADMIN. */
	if (setsockopt(n->fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0 &&
	    setsockopt(n->fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)) < 0)
		return st_err(err, errno,
			      "cannot set the NFLOG receive buffer: %s",
			      strerror(errno));
	if (getsockopt(n->fd, SOL_SOCKET, SO_RCVBUF, &v, &len) < 0)
		return st_err(err, errno,
			      "cannot read the NFLOG receive buffer: %s",
			      strerror(errno));
	return v;
}

int st_nflog_set_batch(struct st_nflog *n, unsigned int qthresh,
		       unsigned int flush_ms, char *err)
{
	uint32_t cs = flush_ms / 10 + (flush_ms % 10 != 0);

	if (n == NULL || n->gh == NULL)
		return st_err(err, EINVAL, "st_nflog_set_batch: no handle");
	if (qthresh == 0)
		qthresh = 1;
	if (nflog_set_qthresh(n->gh, qthresh) < 0)
		return st_err(err, errno ? errno : EIO,
			      "cannot set the NFLOG queue threshold: %s",
			      strerror(errno));
	if (nflog_set_timeout(n->gh, cs) < 0)
		return st_err(err, errno ? errno : EIO,
			      "cannot set the NFLOG flush timeout: %s",
			      strerror(errno));
	return 0;
}

static int st_nflog_configure(struct st_nflog *n, char *err)
{
	int fl, ret;

	errno = 0;
	n->gh = nflog_bind_group(n->h, n->group);
	if (n->gh == NULL) {
		int e = errno ? errno : EIO;

		/* The kernel says EPERM when another socket owns it. */
		if (e == EPERM && st_have_net_admin())
			return st_err(
				err, EBUSY,
				"NFLOG group %u is already in use in this network namespace",
				n->group);
		if (e == EPERM)
			return st_err(
				err, EPERM,
				"binding NFLOG group %u needs CAP_NET_ADMIN",
				n->group);
		return st_err(err, e, "cannot bind NFLOG group %u: %s",
			      n->group, strerror(e));
	}
	if (nflog_set_mode(n->gh, NFULNL_COPY_PACKET, ST_REC_SNAPLEN) < 0)
		return st_err(err, errno ? errno : EIO,
			      "cannot set NFLOG copy mode: %s",
			      strerror(errno));
	if (nflog_set_flags(n->gh, NFULNL_CFG_F_SEQ) < 0)
		return st_err(err, errno ? errno : EIO,
			      "cannot enable NFLOG sequence numbers: %s",
			      strerror(errno));
	if (nflog_callback_register(n->gh, st_nflog_on_packet, n) < 0)
		return st_err(err, EIO, "cannot register the NFLOG callback");
	/*
	 * Before the receive buffer: libnetfilter_log resizes that to ten
	 * times nlbufsiz here, and ST_NFLOG_RCVBUF must be what stays.
	 */
	if (nflog_set_nlbufsiz(n->gh, ST_NFLOG_NLBUFSIZ) < 0)
		return st_err(err, errno ? errno : EIO,
			      "cannot set the NFLOG netlink buffer: %s",
			      strerror(errno));
	ret = st_nflog_set_batch(n, ST_NFLOG_QTHRESH, ST_NFLOG_FLUSH_MS, err);
	if (ret < 0)
		return ret;
	ret = st_nflog_set_rcvbuf(n, ST_NFLOG_RCVBUF, err);
	if (ret < 0)
		return ret;
	/* Only now: libnfnetlink waits for the ACKs of the calls above. */
	fl = fcntl(n->fd, F_GETFL);
	if (fl < 0 || fcntl(n->fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return st_err(err, errno, "fcntl: %s", strerror(errno));
	return 0;
}

/*
 * Unbinding waits for an ACK that a full receive buffer can lose; make
 * room and try again a few times rather than leak the group handle.
 */
static void st_nflog_unbind(struct st_nflog *n)
{
	int i, j;

	for (i = 0; i < 4 && n->gh != NULL; i++) {
		/* Bounded: the records may keep coming while we drain. */
		for (j = 0; j < 4096; j++) {
			if (recv(n->fd, n->buf, ST_NFLOG_BUFSIZE,
				 MSG_DONTWAIT) < 0 &&
			    errno != ENOBUFS && errno != EINTR)
				break;
		}
		if (nflog_unbind_group(n->gh) == 0)
			n->gh = NULL;
	}
}

int st_nflog_open(struct st_nflog **out, int netns_fd, uint16_t group,
		  char *err)
{
	struct st_nflog *n = NULL;
	int saved = -1;
	int open_errno = 0, names_ret = 0;
	int ret;

	if (out == NULL)
		return st_err(err, EINVAL, "st_nflog_open: no result pointer");
	*out = NULL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return st_err(err, ENOMEM, "out of memory");
	n->fd = -1;
	n->netns_fd = -1;
	n->group = group;
	n->seq.from_zero = true;
	n->buf = malloc(ST_NFLOG_BUFSIZE);
	n->tags = st_tagcache_new();
	if (n->buf == NULL || n->tags == NULL) {
		ret = st_err(err, ENOMEM, "out of memory");
		goto out;
	}
	if (netns_fd >= 0) {
		n->netns_fd = fcntl(netns_fd, F_DUPFD_CLOEXEC, 3);
		if (n->netns_fd < 0) {
			ret = st_err(err, errno, "dup: %s", strerror(errno));
			goto out;
		}
		ret = st_netns_enter(n->netns_fd, &saved, err);
		if (ret < 0)
			goto out;
	}
	/* Inside: the socket and the interface names belong here. */
	n->h = nflog_open();
	if (n->h == NULL)
		open_errno = errno ? errno : EIO;
	else
		names_ret = st_ifnames_load(n);
	/* Leave before looking at anything, whatever happened. */
	ret = st_netns_leave(saved, err);
	if (ret < 0)
		goto out;
	if (n->h == NULL) {
		ret = st_err(err, open_errno, "cannot open NFLOG socket: %s",
			     strerror(open_errno));
		goto out;
	}
	if (names_ret < 0) {
		ret = st_err(err, -names_ret,
			     "cannot list the interfaces of the namespace: %s",
			     strerror(-names_ret));
		goto out;
	}
	n->fd = nflog_fd(n->h);
	/* libnfnetlink opens it without SOCK_CLOEXEC. */
	if (fcntl(n->fd, F_SETFD, FD_CLOEXEC) < 0) {
		ret = st_err(err, errno, "fcntl: %s", strerror(errno));
		goto out;
	}
	ret = st_nflog_configure(n, err);
	if (ret < 0)
		goto out;
	*out = n;
	return 0;
out:
	st_nflog_close(n);
	return ret;
}

int st_nflog_fd(const struct st_nflog *n)
{
	return n != NULL ? n->fd : -1;
}

uint64_t st_nflog_lost(const struct st_nflog *n)
{
	return n != NULL ? n->stats.seq_missing + n->pending_enobufs : 0;
}

void st_nflog_stats(const struct st_nflog *n, struct st_nflog_stats *st)
{
	if (st == NULL)
		return;
	memset(st, 0, sizeof(*st));
	if (n == NULL)
		return;
	*st = n->stats;
	st->lost = n->stats.seq_missing + n->pending_enobufs;
}

void st_nflog_close(struct st_nflog *n)
{
	if (n == NULL)
		return;
	if (n->gh != NULL)
		st_nflog_unbind(n);
	if (n->h != NULL)
		nflog_close(n->h);
	if (n->netns_fd >= 0)
		close(n->netns_fd);
	free(n->ifs);
	free(n->buf);
	st_tagcache_free(n->tags);
	free(n);
}
