/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cli.h - the command line, callable from tests. */
#ifndef ST_CLI_H
#define ST_CLI_H

#include <stdio.h>

/**
 * st_cli_run() - parse @argv and run the requested job.
 * @argc: argument count
 * @argv: arguments
 * @out: where results go (stdout)
 * @err: where diagnostics go (stderr)
 *
 * Return: the exit status: 0 success, 1 runtime error, 2 usage error.
 */
int st_cli_run(int argc, char **argv, FILE *out, FILE *err);

#endif /* ST_CLI_H */
