/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * load.c - reading a rule dump: the file, then the parser whose format it
 * is.  The model (rules.c) knows no parser; the parsers build through
 * rules-int.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules-int.h"

/* A rule file larger than this is not a pod's rules. */
#define ST_RULES_MAX_FILE (64u << 20)

static bool st_looks_like_json(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' ||
		    buf[i] == '\r')
			continue;
		return buf[i] == '{' || buf[i] == '[';
	}
	return false;
}

/*
 * The parsers the model knows, tried in order: the first whose probe says
 * yes (or that has none) reads the text.
 */
static const struct st_rules_parser {
	bool (*probe)(const char *buf, size_t len);
	int (*parse)(struct st_ruleset *rs, const char *buf, size_t len,
		     const char *name, char *err);
} st_rules_parsers[] = {
	{st_looks_like_json, st_nftjson_parse}, /* nft -j list ruleset */
	{NULL, st_iptsave_parse},		/* iptables-save */
};

int st_rules_load_buf(struct st_ruleset *rs, const char *buf, size_t len,
		      const char *name, char *err)
{
	const struct st_rules_parser *p = st_rules_parsers;

	while (p->probe != NULL && !p->probe(buf, len))
		p++;
	return p->parse(rs, buf, len, name, err);
}

/* The whole of @path (a file, pipe or device) into *@out. */
static int st_read_file(const char *path, char **out, size_t *outlen, char *err)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd = -1;
	int ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = st_err(err, errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		ret = st_err(err, errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) &&
	    !S_ISCHR(st.st_mode)) {
		ret = st_err(err, EINVAL, "%s: not a regular file", path);
		goto out;
	}
	buf = malloc(ST_RULES_MAX_FILE);
	if (buf == NULL) {
		ret = st_err(err, ENOMEM, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, ST_RULES_MAX_FILE - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = st_err(err, errno, "%s: %s", path,
				     strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == ST_RULES_MAX_FILE) {
			ret = st_err(err, EFBIG,
				     "%s: larger than %u MiB, not a rule dump",
				     path, ST_RULES_MAX_FILE >> 20);
			goto out;
		}
	}
	*out = buf;
	*outlen = len;
	buf = NULL;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* @len bytes at @buf hold @s. */
static bool st_buf_has(const char *buf, size_t len, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; n <= len && i <= len - n; i++)
		if (memcmp(buf + i, s, n) == 0)
			return true;
	return false;
}

/*
 * A text dump that declares no table is not a rule set: iptables-save
 * prints a "*table" line for every table the namespace has, so an empty
 * file (or one with only comments) means the dump was not taken, or came
 * from the wrong tool.  An nft JSON ruleset without tables is a real
 * answer (the namespace has none) and stays one.
 */
static int st_refuse_empty(const char *path, const char *buf, size_t len,
			   char *err)
{
	if (st_buf_has(buf, len, "iptables-legacy tables present"))
		return st_err(err, ENODATA,
			      "%s: holds no rules, only iptables-nft-save's "
			      "note that iptables-legacy tables exist: dump "
			      "the pod's rules with iptables-legacy-save",
			      path);
	return st_err(err, ENODATA,
		      "%s: %s, not a rule dump: write one with "
		      "iptables-legacy-save, iptables-nft-save or nft -j list "
		      "ruleset in the pod's network namespace",
		      path, len == 0 ? "empty" : "no table in it");
}

int st_rules_load_dump(struct st_ruleset *rs, const char *path, char *err)
{
	size_t before = st_ruleset_nchains(rs);
	char *buf = NULL;
	size_t len = 0;
	int ret;

	ret = st_read_file(path, &buf, &len, err);
	if (ret < 0)
		goto out;
	ret = st_rules_load_buf(rs, buf, len, path, err);
	if (ret == 0 && !st_looks_like_json(buf, len) &&
	    st_ruleset_nchains(rs) == before)
		ret = st_refuse_empty(path, buf, len, err);
out:
	free(buf);
	return ret;
}

int st_rules_load_file(struct st_ruleset *rs, const char *path, char *err)
{
	char *buf = NULL;
	size_t len = 0;
	int ret;

	ret = st_read_file(path, &buf, &len, err);
	if (ret == 0)
		ret = st_rules_load_buf(rs, buf, len, path, err);
	free(buf);
	return ret;
}
