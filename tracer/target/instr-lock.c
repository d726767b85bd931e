// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * instr-lock.c - session lock files: <lock_dir>/<netns inode>-<session>.lock,
 * held with flock() for a session's lifetime; they record its group and
 * backend, and tell a live session from a dead one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "instr-int.h"

void st_lock_name(char *buf, size_t size, const char *dir,
		  unsigned long long ino, uint32_t session)
{
	snprintf(buf, size, "%s/%llu-%08" PRIx32 ".lock", dir, ino, session);
}

static int st_lock_random(uint32_t *s)
{
	do {
		if (getrandom(s, sizeof(*s), 0) != (ssize_t)sizeof(*s))
			return -errno;
	} while (*s == 0);
	return 0;
}

/* Take the lock of a new session; a random id is redrawn when taken. */
int st_lock_take(struct st_instr *in, uint32_t fixed, char *err)
{
	char path[512];
	int ret = 0;

	if (mkdir(in->lock_dir, 0700) < 0 && errno != EEXIST)
		return st_err(err, errno, "%s: %s", in->lock_dir,
			      strerror(errno));
	for (int tries = 0; tries < 16; tries++) {
		struct stat a, b;
		uint32_t s = fixed;
		int fd;

		if (s == 0) {
			ret = st_lock_random(&s);
			if (ret < 0)
				return st_err(err, -ret, "getrandom: %s",
					      strerror(-ret));
		}
		st_lock_name(path, sizeof(path), in->lock_dir, in->ino, s);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			  0600);
		if (fd < 0)
			return st_err(err, errno, "%s: %s", path,
				      strerror(errno));
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int e = errno;

			close(fd);
			if (e != EWOULDBLOCK)
				return st_err(err, e, "%s: flock: %s", path,
					      strerror(e));
			if (fixed != 0)
				return st_err(err, EBUSY,
					      "session %08" PRIx32
					      " is running on this target",
					      fixed);
			continue;
		}
		/* A cleanup may have unlinked it between open and flock. */
		if (fstat(fd, &a) < 0 || stat(path, &b) < 0 ||
		    a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
			close(fd);
			continue;
		}
		in->lock_path = strdup(path);
		if (in->lock_path == NULL) {
			close(fd);
			return st_err(err, ENOMEM, "out of memory");
		}
		in->lock_fd = fd;
		in->session = s;
		return 0;
	}
	return st_err(err, EBUSY, "%s: could not take a session lock",
		      in->lock_dir);
}

int st_lock_write(struct st_instr *in, char *err)
{
	char buf[160];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "session=%08" PRIx32 "\ngroup=%u\nbackend=%s\npid=%ld\n",
		     in->session, (unsigned int)in->group,
		     st_backend_name(in->backend), (long)getpid());
	if (ftruncate(in->lock_fd, 0) < 0 ||
	    pwrite(in->lock_fd, buf, (size_t)n, 0) != n)
		return st_err(err, errno, "%s: %s", in->lock_path,
			      strerror(errno));
	return 0;
}

void st_lock_release(struct st_instr *in, bool remove)
{
	if (in->lock_fd < 0)
		return;
	/* Unlink while still holding it: nobody can take a stale file. */
	if (remove && in->lock_path != NULL)
		unlink(in->lock_path);
	close(in->lock_fd);
	in->lock_fd = -1;
}

/* Groups named by the lock files of other sessions on this target. */
void st_lock_groups(const char *dir, unsigned long long ino, uint32_t self,
		    uint8_t *groups)
{
	char prefix[32], own[64];
	struct dirent *de = NULL;
	DIR *d = NULL;

	d = opendir(dir);
	if (d == NULL)
		return;
	snprintf(prefix, sizeof(prefix), "%llu-", ino);
	snprintf(own, sizeof(own), "%llu-%08" PRIx32 ".lock", ino, self);
	while ((de = readdir(d)) != NULL) {
		char buf[256];
		const char *g = NULL;
		ssize_t n;
		int fd;

		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 ||
		    strcmp(de->d_name, own) == 0)
			continue;
		fd = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		g = strstr(buf, "group=");
		if (g != NULL)
			st_itag_group_mark(groups, atoi(g + 6));
	}
	closedir(d);
}

/*
 * Is a session alive?  1: another process holds its lock.  0: dead; its
 * lock is now held through *fd (or *fd = -1 when there is no lock file).
 */
int st_lock_probe(const char *dir, unsigned long long ino, uint32_t session,
		  int *fd)
{
	char path[512];

	*fd = -1;
	st_lock_name(path, sizeof(path), dir, ino, session);
	*fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (*fd < 0)
		return 0;
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		close(*fd);
		*fd = -1;
		return 1;
	}
	return 0;
}

int st_lock_ino(int fd, unsigned long long *ino, char *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return st_err(err, errno, "target namespace: %s",
			      strerror(errno));
	*ino = (unsigned long long)st.st_ino;
	return 0;
}
