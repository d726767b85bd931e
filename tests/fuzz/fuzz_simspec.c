// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_simspec.c - libFuzzer target for the --simulate SPEC parser
 * (tracer/simspec.c): the input is the spec as given on the command line.
 *
 * Besides what the sanitizers catch, a spec that parses must describe one
 * packet (a family, ports, a direction) and survive a round trip: the
 * canonical text st_simspec_format() writes parses to the same packet.
 * A spec that does not parse gives -EINVAL and a message.
 *
 * tests/test_fuzz_regress.c includes this file with ST_FUZZ_NO_MAIN to
 * replay the crashes kept under samples/fuzz-regress/.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "simspec.h"

#define ST_FUZZ_MAX_SPEC 4096

static bool st_fuzz_same_spec(const struct st_simspec *a,
			      const struct st_simspec *b)
{
	return a->family == b->family && a->proto == b->proto &&
	       memcmp(a->src, b->src, sizeof(a->src)) == 0 &&
	       memcmp(a->dst, b->dst, sizeof(a->dst)) == 0 &&
	       a->sport == b->sport && a->dport == b->dport &&
	       a->outgoing == b->outgoing && a->has_uid == b->has_uid &&
	       a->has_gid == b->has_gid && a->uid == b->uid &&
	       a->gid == b->gid && a->has_mark == b->has_mark &&
	       a->mark == b->mark && strcmp(a->iif, b->iif) == 0 &&
	       strcmp(a->oif, b->oif) == 0;
}

static void st_fuzz_check_spec(const struct st_simspec *s)
{
	if ((s->family != 4 && s->family != 6) || s->proto == 0 ||
	    s->sport == 0 || s->dport == 0 ||
	    memchr(s->iif, '\0', sizeof(s->iif)) == NULL ||
	    memchr(s->oif, '\0', sizeof(s->oif)) == NULL ||
	    s->outgoing != (s->iif[0] == '\0') ||
	    (s->outgoing && !s->has_uid && s->oif[0] == '\0') ||
	    (!s->outgoing && (s->has_uid || s->has_gid || s->oif[0])) ||
	    s->has_uid != s->has_gid)
		__builtin_trap();
}

/*
 * st_fuzz_simspec() - parse @data as a spec, check it, format it and
 * parse that again.  Return: what st_simspec_parse() returned, with @err.
 */
static int st_fuzz_simspec(const uint8_t *data, size_t size, char *err)
{
	struct st_simspec a;
	struct st_simspec b;
	char text[512];
	char *s = NULL;
	int ret;

	err[0] = '\0';
	if (size > ST_FUZZ_MAX_SPEC)
		return 0;
	/* argv strings end at the first NUL, so does the spec. */
	s = strndup((const char *)data, size);
	if (s == NULL)
		__builtin_trap();
	ret = st_simspec_parse(s, &a, err);
	if (ret < 0) {
		if (ret != -EINVAL ||
		    memchr(err, '\0', ST_ERRBUF_SIZE) == NULL ||
		    strncmp(err, "simulate spec", 13) != 0)
			__builtin_trap();
		goto out;
	}
	if (ret != 0)
		__builtin_trap();
	st_fuzz_check_spec(&a);
	st_simspec_format(&a, text, sizeof(text));
	if (memchr(text, '\0', sizeof(text)) == NULL ||
	    st_simspec_parse(text, &b, err) != 0 || !st_fuzz_same_spec(&a, &b))
		__builtin_trap();
out:
	free(s);
	return ret;
}

#ifndef ST_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[ST_ERRBUF_SIZE];

	st_fuzz_simspec(data, size, err);
	return 0;
}
#endif
