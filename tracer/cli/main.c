// SPDX-License-Identifier: GPL-2.0-or-later
/* main.c - the sidecar-trace program: a thin wrapper over st_cli_run(). */
#include <stdio.h>

#include "cli.h"

int main(int argc, char **argv)
{
	return st_cli_run(argc, argv, stdout, stderr);
}
