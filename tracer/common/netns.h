/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netns.h - entering a pod's network namespace and always leaving it.
 */
#ifndef ST_NETNS_H
#define ST_NETNS_H

#include <stdbool.h>

#include "common.h"

/**
 * st_netns_open() - open a namespace: a path (/proc/PID/ns/net,
 * /var/run/netns/NAME) or a bare name under /var/run/netns.
 * @spec: path or name
 * @err: error buffer
 *
 * Return: an O_CLOEXEC fd, or a negative errno.
 */
int st_netns_open(const char *spec, char *err);

/**
 * st_netns_is_current() - is @fd the network namespace this thread is in?
 * Entering it would change nothing, but setns() would still demand
 * CAP_SYS_ADMIN, which a tracer running inside the pod (CAP_NET_ADMIN and
 * CAP_NET_RAW only) does not have: callers skip the switch then.
 * @fd: namespace fd
 *
 * Return: true when it is; false when not or when it cannot be told.
 */
bool st_netns_is_current(int fd);

/**
 * st_netns_enter() - switch this thread into @fd's namespace.
 * @fd: namespace fd
 * @saved: receives an fd of the namespace we were in, for st_netns_leave()
 * @err: error buffer
 *
 * Already there (st_netns_is_current()): nothing is switched, *@saved is
 * -1 and st_netns_leave() does nothing.
 *
 * Return: 0, or a negative errno (nothing changed then).
 */
int st_netns_enter(int fd, int *saved, char *err);

/**
 * st_netns_leave() - switch back to @saved and close it; accepts -1.
 *
 * Return: 0, or a negative errno (a failure here is fatal for the caller).
 */
int st_netns_leave(int saved, char *err);

#endif /* ST_NETNS_H */
