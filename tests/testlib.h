/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * testlib.h - helpers shared by the cmocka tests (linked into every
 * tests/test_<unit>.c by tests/CMakeLists.txt).  They fail the running
 * test through cmocka's assertions instead of returning errors, except
 * where a cmocka setup/teardown needs a return value.
 */
#ifndef ST_TESTLIB_H
#define ST_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "istio.h"
#include "rules.h"

/* An argument vector literal for st_spawn(). */
#define TL_ARGV(...) ((char *const[]){__VA_ARGS__, NULL})

/**
 * tl_build() - build a rule set from iptables-save-like lines
 * @b:    backend recorded in the rule set
 * @fam:  family of every chain and rule (a rule's -s/-d may refine it)
 * @text: "*table" selects the table (nat at first), ":CHAIN" declares a
 *        chain, "-A CHAIN matches -j T" appends a rule (declaring its chain
 *        on first use)
 *
 * Uses the builder API (rules-int.h) so that tests do not depend on the
 * parsers.  Fails the test on a malformed line.
 *
 * Return: the rule set; free it with st_ruleset_free().
 */
struct st_ruleset *tl_build(enum st_backend b, enum st_family fam,
			    const char *text);

/**
 * tl_read_file() - read a whole file
 * @path: file to read
 * @len:  set to its length if not NULL
 *
 * Return: the NUL-terminated contents (free() it), or NULL if @path
 * cannot be opened.  A failed read fails the test.
 */
char *tl_read_file(const char *path, size_t *len);

/**
 * tl_read_into() - read a file into a fixed buffer
 * @path: file to read; failing to open it fails the test
 * @buf:  receives its bytes
 * @size: size of @buf; the file must be shorter
 *
 * Return: the number of bytes read.
 */
size_t tl_read_into(const char *path, void *buf, size_t size);

/**
 * tl_write_file() - write @text to @path, failing the test on error
 * @path: file to (re)create
 * @text: its contents
 */
void tl_write_file(const char *path, const char *text);

/**
 * tl_regen() - whether goldens are to be rewritten
 *
 * Return: true if ST_REGEN (or the older ST_UPDATE_GOLDEN) is set to
 * anything but "0".
 */
bool tl_regen(void);

/**
 * tl_golden() - compare @got with the golden file @path
 * @path: golden file; with tl_regen() it is (re)written from @got, its
 *        directory created if missing
 * @got:  the output under test
 *
 * Fails the test, printing @got, when the file is missing or differs.
 */
void tl_golden(const char *path, const char *got);

/**
 * tl_load_rules() - load samples/rules/@name into a new rule set
 * @name: file name under samples/rules/
 *
 * Return: the rule set (free it with st_ruleset_free()); failures fail the
 * test.
 */
struct st_ruleset *tl_load_rules(const char *name);

/**
 * tl_load_text() - load rules from @text (any format the loader knows)
 * @text: iptables-save output or nft JSON
 *
 * Return: the rule set (free it with st_ruleset_free()); failures fail the
 * test.
 */
struct st_ruleset *tl_load_text(const char *text);

/**
 * tl_load_analyze() - tl_load_rules(), then st_istio_analyze() into @set
 * @name: file name under samples/rules/
 * @set:  filled with the recognised settings
 *
 * Return: the rule set; failures fail the test.
 */
struct st_ruleset *tl_load_analyze(const char *name,
				   struct st_istio_settings *set);

/**
 * tl_parse_addr() - parse "a.b.c.d:port" or "[v6]:port"
 * @s:      the text
 * @family: set to 4 or 6
 * @addr:   16 bytes, zero-padded
 * @port:   the port
 */
void tl_parse_addr(const char *s, uint8_t *family, uint8_t *addr,
		   uint16_t *port);

/**
 * tl_run() - run a command, quietly unless it fails
 * @ns_fd:      network namespace to run it in, or -1
 * @argv:       argument vector (TL_ARGV)
 * @timeout_ms: st_spawn() timeout
 *
 * Return: 0 if it ran and exited 0, else -1 (the reason printed).
 */
int tl_run(int ns_fd, char *const argv[], int timeout_ms);

/* A NULL-terminated list of program names for tl_need_root(). */
#define TL_TOOLS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The exit status by which a test program tells ctest it was skipped. */
#define TL_SKIPPED 77

/**
 * tl_have() - whether @prog can be run
 * @prog: a program name looked up in PATH, or a path
 *
 * Return: true if an executable file by that name was found.
 */
bool tl_have(const char *prog);

/**
 * tl_need_root() - exit TL_SKIPPED unless root and every tool is there
 * @prog:  the test program's name, for the message
 * @tools: NULL-terminated list of programs (see tl_have(); TL_TOOLS),
 *         or NULL
 *
 * Called first in main() by the tests/test_<unit>_root.c programs, whose
 * every case needs root: without it the program skips as a whole, while
 * the ordinary tests/test_<unit>.c programs always run.
 */
void tl_need_root(const char *prog, const char *const *tools);

/**
 * tl_cur_netns() - the inode of the calling thread's network namespace
 *
 * Return: the inode of /proc/thread-self/ns/net; failing to stat it
 * fails the test.
 */
ino_t tl_cur_netns(void);

/* A throwaway named network namespace. */
struct tl_netns {
	char name[64];
	int fd;
};

/**
 * tl_netns_add() - create the namespace "@prefix-PID" and open it
 * @ns:     filled with its name and an fd on it
 * @prefix: unique per test program
 *
 * Return: 0, or -1 (printed, nothing left behind); fit for a cmocka
 * group setup.
 */
int tl_netns_add(struct tl_netns *ns, const char *prefix);

/**
 * tl_netns_del() - close and remove a namespace made by tl_netns_add()
 * @ns: the namespace; an unused one (empty name) is fine
 *
 * Return: 0, or -1 if "ip netns del" failed.
 */
int tl_netns_del(struct tl_netns *ns);

/**
 * tl_tmpdir_make() - create the program's scratch directory
 * @prefix: its name is /tmp/@prefix-XXXXXX
 *
 * Return: 0 or -1; fit for a cmocka group setup.
 */
int tl_tmpdir_make(const char *prefix);

/**
 * tl_tmpdir() - the directory made by tl_tmpdir_make()
 *
 * Return: its path.
 */
const char *tl_tmpdir(void);

/**
 * tl_tmp_path() - the path of @name inside tl_tmpdir()
 * @buf:  receives the path
 * @size: size of @buf
 * @name: file name
 */
void tl_tmp_path(char *buf, size_t size, const char *name);

/**
 * tl_tmpdir_remove() - remove tl_tmpdir() and everything in it
 *
 * Return: 0 or -1; fit for a cmocka group teardown.
 */
int tl_tmpdir_remove(void);

#endif /* ST_TESTLIB_H */
