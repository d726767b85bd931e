// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_fuzz_regress.c - every input the fuzzers found a bug with, replayed
 * through the fuzz targets' own code (tests/fuzz/fuzz_*.c, included here
 * without their libFuzzer entry points): each must end in success or a
 * clean error, never a crash, a sanitizer report or a broken invariant.
 *
 * The inputs are the files under samples/fuzz-regress/; the prefix of a
 * file's name says which target it is for: rules-*, filter-*, simspec-*.
 * The seed corpora (tests/fuzz/corpus-fuzz_*) are replayed too, so that
 * the targets' checks also run in builds without clang.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define ST_FUZZ_NO_MAIN
#include "fuzz/fuzz_filter.c"
#include "fuzz/fuzz_rules.c"
#include "fuzz/fuzz_simspec.c"

#define ST_REGRESS_DIR ST_SAMPLES "/fuzz-regress"
#define ST_CORPUS_DIR ST_SAMPLES "/../tests/fuzz"
#define ST_MAX_INPUT (1u << 20)

typedef int (*st_fuzz_fn)(const uint8_t *data, size_t size, char *err);

static const struct {
	const char *prefix; /* of a file in samples/fuzz-regress/ */
	const char *corpus; /* directory under tests/fuzz/ */
	st_fuzz_fn run;
} st_targets[] = {
	{"rules-", "corpus-fuzz_rules", st_fuzz_rules},
	{"filter-", "corpus-fuzz_filter", st_fuzz_filter},
	{"simspec-", "corpus-fuzz_simspec", st_fuzz_simspec},
};

static uint8_t *st_read_all(const char *path, size_t *len)
{
	uint8_t *buf = malloc(ST_MAX_INPUT);
	FILE *f = fopen(path, "rb");

	if (buf == NULL || f == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	*len = fread(buf, 1, ST_MAX_INPUT, f);
	if (ferror(f) || !feof(f))
		fail_msg("%s: read error or larger than %u bytes", path,
			 ST_MAX_INPUT);
	fclose(f);
	return buf;
}

/* Success, or a negative errno with a message: nothing else. */
static void st_replay(st_fuzz_fn run, const char *path)
{
	char err[ST_ERRBUF_SIZE];
	uint8_t *buf;
	size_t len;
	int ret;

	buf = st_read_all(path, &len);
	ret = run(buf, len, err);
	if (ret > 0 || (ret < 0 && err[0] == '\0'))
		fail_msg("%s: returned %d, err \"%s\"", path, ret, err);
	free(buf);
}

/* Replays every regular file in @dir; Return: how many. */
static unsigned int st_replay_dir(const char *dir, const char *prefix,
				  st_fuzz_fn run)
{
	unsigned int n = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		fail_msg("%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char path[1024];

		if (de->d_name[0] == '.' ||
		    strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		st_replay(run, path);
		n++;
	}
	closedir(d);
	return n;
}

static void test_regressions(void **state)
{
	unsigned int n = 0;
	struct dirent *de;
	DIR *d;

	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(st_targets); i++)
		n += st_replay_dir(ST_REGRESS_DIR, st_targets[i].prefix,
				   st_targets[i].run);
	/* A file no target claims would silently never be replayed. */
	d = opendir(ST_REGRESS_DIR);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		bool known = de->d_name[0] == '.';

		for (size_t i = 0; i < ST_ARRAY_SIZE(st_targets); i++)
			known |= strncmp(de->d_name, st_targets[i].prefix,
					 strlen(st_targets[i].prefix)) == 0;
		if (!known)
			fail_msg("samples/fuzz-regress/%s: no target for it "
				 "(rules-, filter-, simspec-)",
				 de->d_name);
	}
	closedir(d);
	assert_true(n > 0);
}

static void test_seed_corpora(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(st_targets); i++) {
		char dir[512];

		snprintf(dir, sizeof(dir), "%s/%s", ST_CORPUS_DIR,
			 st_targets[i].corpus);
		if (st_replay_dir(dir, "", st_targets[i].run) == 0)
			fail_msg("%s: empty seed corpus", dir);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_regressions),
		cmocka_unit_test(test_seed_corpora),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
