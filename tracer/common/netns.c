// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * netns.c - open, enter and leave network namespaces.
 *
 * The switch is per thread (setns() on CLONE_NEWNET only moves the calling
 * thread), so the namespace we come from is taken from /proc/thread-self,
 * not /proc/self: in a threaded caller the main thread may be elsewhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/nsfs.h>

#include "netns.h"

#define ST_NETNS_RUN_DIR "/var/run/netns"

/* A bare name must not climb out of the run directory. */
static bool st_netns_name_ok(const char *name)
{
	return name[0] != '\0' && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0 && strchr(name, '/') == NULL;
}

int st_netns_open(const char *spec, char *err)
{
	char path[PATH_MAX];
	int fd = -1;
	int type;
	int ret;

	if (spec == NULL || spec[0] == '\0')
		return st_err(err, EINVAL, "empty network namespace name");
	if (strchr(spec, '/') != NULL) {
		if (st_strlcpy(path, spec, sizeof(path)) >= sizeof(path))
			return st_err(err, ENAMETOOLONG,
				      "network namespace path too long");
	} else {
		if (!st_netns_name_ok(spec))
			return st_err(err, EINVAL,
				      "invalid network namespace name \"%s\"",
				      spec);
		ret = snprintf(path, sizeof(path), "%s/%s", ST_NETNS_RUN_DIR,
			       spec);
		if (ret < 0 || (size_t)ret >= sizeof(path))
			return st_err(err, ENAMETOOLONG,
				      "network namespace name too long");
	}

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return st_err(err, errno,
			      "cannot open network namespace \"%s\": %s", path,
			      strerror(errno));

	/*
	 * Any file opens; only an nsfs inode of the right type can be
	 * passed to setns() later, so say it now, where the name is known.
	 */
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type < 0) {
		ret = st_err(err, EINVAL, "\"%s\" is not a namespace: %s", path,
			     strerror(errno));
		goto out;
	}
	if (type != CLONE_NEWNET) {
		ret = st_err(err, EINVAL, "\"%s\" is not a network namespace",
			     path);
		goto out;
	}
	return fd;
out:
	close(fd);
	return ret;
}

bool st_netns_is_current(int fd)
{
	struct stat a, b;

	return fd >= 0 && fstat(fd, &a) == 0 &&
	       stat("/proc/thread-self/ns/net", &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int st_netns_enter(int fd, int *saved, char *err)
{
	int cur = -1;

	if (saved == NULL)
		return st_err(err, EINVAL, "st_netns_enter: no place to save");
	*saved = -1;
	if (fd < 0)
		return st_err(err, EBADF, "st_netns_enter: no namespace fd");
	if (st_netns_is_current(fd))
		return 0;

	cur = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (cur < 0)
		return st_err(err, errno,
			      "cannot open the current network namespace: %s",
			      strerror(errno));
	if (setns(fd, CLONE_NEWNET) < 0) {
		int e = errno;

		close(cur);
		return st_err(err, e, "cannot enter the network namespace: %s",
			      strerror(e));
	}
	*saved = cur;
	return 0;
}

int st_netns_leave(int saved, char *err)
{
	int ret = 0;

	if (saved < 0)
		return 0;
	if (setns(saved, CLONE_NEWNET) < 0)
		ret = st_err(
			err, errno,
			"cannot return to the original network namespace: %s",
			strerror(errno));
	close(saved);
	return ret;
}
