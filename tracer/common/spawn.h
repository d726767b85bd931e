/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * spawn.h - running iptables-save/-restore, nft and crictl: always
 * posix_spawn with an argument vector, never a shell; optionally inside a
 * network namespace; with input fed on stdin and output captured.
 */
#ifndef ST_SPAWN_H
#define ST_SPAWN_H

#include <stddef.h>

#include "common.h"

struct st_spawn_result {
	int status; /* exit code, or 128 + signal */
	char *out;  /* captured stdout, NUL-terminated (malloc'd) */
	size_t out_len;
	char *errout; /* captured stderr, NUL-terminated (malloc'd) */
	size_t err_len;
};

/**
 * st_spawn() - run @argv[0] (looked up in PATH) and wait for it.
 * @argv: NULL-terminated argument vector
 * @netns_fd: network namespace to run it in, or -1 for the current one
 * @input: bytes to write to its stdin, or NULL for /dev/null
 * @input_len: their length
 * @timeout_ms: kill it after this long (0 = 30 s)
 * @res: exit status and captured output; free with st_spawn_result_free()
 * @err: error buffer
 *
 * A non-zero exit status is not an error of st_spawn(): look at
 * @res->status.
 *
 * Return: 0 when the program ran, or a negative errno (-ENOENT when it is
 * not installed, -ETIMEDOUT when it was killed).
 */
int st_spawn(char *const argv[], int netns_fd, const char *input,
	     size_t input_len, int timeout_ms, struct st_spawn_result *res,
	     char *err);

/**
 * st_spawn_errline() - what a child said when it failed, as one line for an
 * error message.
 * @res: the result of st_spawn()
 * @buf: where the line goes
 * @size: its size; the text is cut to @size - 1 characters
 *
 * The child's stderr, or its stdout when stderr is empty.  Line breaks and
 * tabs become blanks, so that a later line ("Error occurred at line: 3")
 * stays in the message; other bytes outside printable ASCII become '?', so
 * that a child cannot send escape sequences to the user's terminal;
 * trailing blanks are dropped.
 *
 * Return: @buf ("" when the child printed nothing).
 */
const char *st_spawn_errline(const struct st_spawn_result *res, char *buf,
			     size_t size);

/** st_spawn_result_free() - free captured output; accepts NULL. */
void st_spawn_result_free(struct st_spawn_result *res);

#endif /* ST_SPAWN_H */
