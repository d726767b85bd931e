// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_capwrite_root.c - the --write capture writer stopped by a full
 * disk (root: a tmpfs mounted in a mount namespace).
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "capwrite.h"
#include "testlib.h"

/* Feed a capture's records into a writer until it fails. */
static int fill(struct st_capwrite *w, char *err)
{
	const struct st_sink_ops *ops = st_capwrite_ops();
	struct st_rec rec;
	int ret = 0;

	memset(&rec, 0, sizeof(rec));
	st_strlcpy(rec.prefix, "st:00000001:h:nat:OUTPUT:1",
		   sizeof(rec.prefix));
	rec.family = 4;
	rec.hook = 3;
	rec.caplen = rec.payload_len = 60;
	rec.payload[0] = 0x45;
	for (int i = 0; i < 100000 && ret == 0; i++) {
		rec.seq = (uint64_t)i;
		rec.ts.tv_sec = 1700000000 + i / 100;
		ret = ops->rec(w, &rec, err);
	}
	return ret;
}

/*
 * A full disk stops --write: the record sink reports ENOSPC (which stops
 * the session, whose rules are then removed).  A small tmpfs in a mount
 * namespace of a child.
 */
static void test_write_full(void **state)
{
	char dir[] = "/tmp/st-test-replay.XXXXXX";
	char path[600], cmd[700];
	pid_t pid;
	int status;

	(void)state;
	assert_non_null(mkdtemp(dir));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct st_capwrite *w = NULL;
		char err[ST_ERRBUF_SIZE];
		int ret;

		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("tmpfs", dir, "tmpfs", 0, "size=64k") < 0)
			_exit(77);
		snprintf(path, sizeof(path), "%s/full.pcap", dir);
		if (st_capwrite_open(&w, path, NULL, err) < 0)
			_exit(2);
		ret = fill(w, err);
		if (ret != -ENOSPC || st_capwrite_failed(w) != -ENOSPC)
			_exit(3);
		/* Once failed, it refuses more. */
		if (fill(w, err) >= 0)
			_exit(4);
		st_capwrite_close(w, err);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		rmdir(dir);
		skip();
		return;
	}
	assert_int_equal(WEXITSTATUS(status), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_full),
	};

	tl_need_root("capwrite", NULL);
	return cmocka_run_group_tests_name("capwrite", tests, NULL, NULL);
}
