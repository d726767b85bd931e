// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * attach-bench - time inserting and removing sidecar-trace's rules in a
 * network namespace, through the library calls the CLI uses.
 *
 *   attach-bench [-n REPEAT] [-b legacy|nft|nftables] NETNS
 *   attach-bench -H [-b ...] NETNS
 *
 * NETNS is a path or a name under /var/run/netns.  Each repetition reads
 * the rules (st_tgt_read(), as a session does before attaching), then
 * st_instr_attach() and st_instr_detach(), each timed with
 * CLOCK_MONOTONIC.  One JSON line per repetition (milliseconds):
 *   {"read_ms":X,"attach_ms":X,"detach_ms":X,"rules":N,"backend":"..."}
 * Locks go to a directory of its own under /tmp, so that a benchmark
 * never meets a real session's lock.  Exit 0 when every repetition
 * attached and detached (rules verified identical), 1 otherwise.
 *
 * -H (hold): attach once, print {"group":G,"session":"XXXXXXXX"}, keep
 * the rules in place until SIGTERM or SIGINT, then detach.  bench/run
 * uses it to let another reader (tcpdump -i nflog:G) read the very rules
 * and group sidecar-trace would use.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "instrument.h"
#include "rules.h"
#include "target.h"

static double ab_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int ab_open_netns(const char *ns, char *err)
{
	char path[512];
	int fd;

	if (strchr(ns, '/') != NULL)
		snprintf(path, sizeof(path), "%s", ns);
	else
		snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return st_err(err, errno, "%s", path);
	return fd;
}

static enum st_backend ab_backend(const char *s)
{
	if (s == NULL)
		return ST_BACKEND_UNKNOWN;
	if (strcmp(s, "legacy") == 0)
		return ST_BACKEND_LEGACY;
	if (strcmp(s, "nft") == 0)
		return ST_BACKEND_NFT;
	if (strcmp(s, "nftables") == 0)
		return ST_BACKEND_NFTABLES;
	return (enum st_backend) - 1;
}

/* One read + attach + detach. */
/* -F, -A: which records, as sidecar-trace's --instrument and default. */
static unsigned int ab_flags;

static int ab_once(int fd, enum st_backend want, const char *lock_dir,
		   char *err)
{
	struct st_tgt_opts to = {.backend = want};
	struct st_instr_config cfg;
	struct st_instr_report rep;
	struct st_instr *in = NULL;
	struct st_tgt *tgt = NULL;
	double t0, t1, t2, t3;
	unsigned int nrules;
	int ret;

	t0 = ab_now_ms();
	ret = st_tgt_read(fd, &to, &tgt, err);
	if (ret < 0)
		goto out;
	t1 = ab_now_ms();
	memset(&cfg, 0, sizeof(cfg));
	cfg.netns_fd = fd;
	cfg.backend = st_tgt_backend(tgt);
	cfg.rules = st_tgt_rules(tgt);
	cfg.group = -1;
	cfg.lock_dir = lock_dir;
	cfg.flags = ab_flags;
	ret = st_instr_attach(&in, &cfg, err);
	if (ret < 0)
		goto out;
	t2 = ab_now_ms();
	nrules = st_instr_summary(in)->nrules;
	ret = st_instr_detach(in, &rep, err);
	if (ret < 0)
		goto out;
	t3 = ab_now_ms();
	printf("{\"read_ms\":%.3f,\"attach_ms\":%.3f,\"detach_ms\":%.3f,"
	       "\"rules\":%u,\"backend\":\"%s\"}\n",
	       t1 - t0, t2 - t1, t3 - t2, nrules, st_backend_name(cfg.backend));
	fflush(stdout);
out:
	st_instr_free(in);
	st_tgt_free(tgt);
	return ret;
}

/* Attach, hold until SIGTERM/SIGINT, detach. */
static int ab_hold(int fd, enum st_backend want, const char *lock_dir,
		   char *err)
{
	struct st_tgt_opts to = {.backend = want};
	struct st_instr_config cfg;
	struct st_instr *in = NULL;
	struct st_tgt *tgt = NULL;
	sigset_t set;
	int sig = 0;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	ret = st_tgt_read(fd, &to, &tgt, err);
	if (ret < 0)
		goto out;
	memset(&cfg, 0, sizeof(cfg));
	cfg.netns_fd = fd;
	cfg.backend = st_tgt_backend(tgt);
	cfg.rules = st_tgt_rules(tgt);
	cfg.group = -1;
	cfg.lock_dir = lock_dir;
	cfg.flags = ab_flags;
	ret = st_instr_attach(&in, &cfg, err);
	if (ret < 0)
		goto out;
	printf("{\"group\":%u,\"session\":\"%08x\",\"rules\":%u}\n",
	       (unsigned int)st_instr_group(in),
	       (unsigned int)st_instr_session(in),
	       st_instr_summary(in)->nrules);
	fflush(stdout);
	sigwait(&set, &sig);
	ret = st_instr_detach(in, NULL, err);
out:
	st_instr_free(in);
	st_tgt_free(tgt);
	return ret;
}

int main(int argc, char **argv)
{
	char lock_dir[] = "/tmp/st-attach-bench.XXXXXX";
	char err[ST_ERRBUF_SIZE] = "";
	enum st_backend want = ST_BACKEND_UNKNOWN;
	bool hold = false;
	int repeat = 5;
	int fd = -1;
	int rc = 1;
	int c;

	while ((c = getopt(argc, argv, "n:b:HFA")) != -1) {
		switch (c) {
		case 'F':
			ab_flags |= ST_INSTR_F_FULL;
			break;
		case 'A':
			ab_flags |= ST_INSTR_F_ALL_BUILTIN;
			break;
		case 'H':
			hold = true;
			break;
		case 'n':
			repeat = atoi(optarg);
			break;
		case 'b':
			want = ab_backend(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind + 1 != argc || repeat < 1 || want == (enum st_backend) - 1)
		goto usage;
	if (mkdtemp(lock_dir) == NULL) {
		perror("attach-bench: mkdtemp");
		return 1;
	}
	fd = ab_open_netns(argv[optind], err);
	if (fd < 0)
		goto out;
	if (hold) {
		if (ab_hold(fd, want, lock_dir, err) < 0)
			goto out;
		rc = 0;
		goto out;
	}
	for (int i = 0; i < repeat; i++)
		if (ab_once(fd, want, lock_dir, err) < 0)
			goto out;
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "attach-bench: %s\n", err);
	if (fd >= 0)
		close(fd);
	rmdir(lock_dir);
	return rc;
usage:
	fprintf(stderr,
		"usage: attach-bench [-n REPEAT | -H] [-b legacy|nft|nftables] "
		"[-F] [-A] NETNS\n"
		"  -F  full instrumentation (sidecar-trace --instrument full)\n"
		"  -A  also empty built-in chains (sidecar-trace's default)\n");
	return 2;
}
