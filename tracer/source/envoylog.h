/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * envoylog.h - Envoy's access log as a source of entries (envoy.h).
 *
 * Lines are read in three layers:
 *  - The kubelet's CRI wrapping, "<RFC3339Nano time> stdout|stderr F|P
 *    <text>": a P piece is the start of a longer line, joined with the
 *    pieces of its stream that follow up to the F one (bounded by the
 *    line limit; stdout and stderr interleave in the file).  A
 *    line that is not wrapped is taken as it is (a file Envoy writes
 *    itself).
 *  - Istio's formats: the TEXT format of Istio 1.9 and later (22 fields,
 *    from "[%START_TIME%]" to "%ROUTE_NAME%"), the one of Istio 1.5 to 1.8
 *    (a quoted mixer status where 1.9 has the two details fields) and
 *    Envoy's own default (13 fields, to "%UPSTREAM_HOST%"), told apart by
 *    the shape of the line; the JSON format by its keys (Istio's
 *    EnvoyJSONLogFormat).  A TEXT line of another shape gives what every
 *    Envoy format starts with, "[time] "METHOD PATH PROTOCOL" CODE", and
 *    a JSON object the keys it has; the entry's masks say which fields
 *    are missing.  Nothing else is guessed: a line that is neither is
 *    counted as unparsed.
 *  - A follower for a file: opened non-blocking, read from where it was on
 *    each st_envoylog_poll(); a rename (the path names another file: the
 *    old one is read to its end, then the new one from its start), a
 *    truncation (read again from the start) and a deletion are noticed;
 *    lines over the bound are skipped and counted, binary ones counted.
 *    Every kind of anomaly is counted in the stats and said once, as a
 *    short sentence, through st_envoylog_news().
 *
 * The memory is allocated at st_envoylog_new(): three buffers of the line
 * bound (the lines read, the pieces of stdout and those of stderr).
 * Reading a TEXT line allocates nothing, nor does a JSON line of plain
 * strings, nulls and integers (what Envoy writes); other JSON is read
 * with jansson.
 */
#ifndef ST_ENVOYLOG_H
#define ST_ENVOYLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common.h"
#include "envoy.h"

/* Longest line kept (without its newline); longer ones are skipped. */
#define ST_ENVOYLOG_MAX_LINE (64u << 10)
#define ST_ENVOYLOG_MIN_LINE 256u
#define ST_ENVOYLOG_MAX_MAX_LINE (16u << 20)

/* What a line was read as. */
enum st_envoylog_format {
	ST_ENVOYLOG_TEXT = 1,	/* Istio 1.9+ TEXT */
	ST_ENVOYLOG_TEXT_OLD,	/* Istio 1.5-1.8 TEXT */
	ST_ENVOYLOG_TEXT_ENVOY, /* Envoy's default */
	ST_ENVOYLOG_TEXT_OTHER, /* another shape: its first fields only */
	ST_ENVOYLOG_JSON,
	ST_ENVOYLOG__MAX,
};

/* The kinds of anomaly, each said once. */
enum st_envoylog_anomaly {
	ST_ENVOYLOG_A_UNPARSED = 0,
	ST_ENVOYLOG_A_MISSING,	 /* entries without some of Istio's fields */
	ST_ENVOYLOG_A_OVERSIZE,	 /* lines over the bound */
	ST_ENVOYLOG_A_BINARY,	 /* NUL or control bytes */
	ST_ENVOYLOG_A_CRI,	 /* P pieces without their F piece */
	ST_ENVOYLOG_A_ROTATED,	 /* the path names another file */
	ST_ENVOYLOG_A_TRUNCATED, /* the file got shorter */
	ST_ENVOYLOG_A_DELETED,	 /* the file is gone */
	ST_ENVOYLOG_A_READ,	 /* read() failed */
	ST_ENVOYLOG_A__MAX,
};

struct st_envoylog_stats {
	uint64_t bytes;	  /* read or fed */
	uint64_t lines;	  /* physical lines, CRI pieces included */
	uint64_t entries; /* handed to the callback */
	uint64_t by_format[ST_ENVOYLOG__MAX];
	uint64_t missing;    /* entries lacking some of Istio's fields */
	uint64_t unparsed;   /* neither format */
	uint64_t own_logs;   /* Envoy's and pilot-agent's own log lines,
			      * which share the istio-proxy container's
			      * log with the access log: not anomalies */
	uint64_t oversize;   /* over the line bound, skipped */
	uint64_t binary;     /* NUL or control bytes, skipped */
	uint64_t joined;     /* CRI P pieces joined into longer lines */
	uint64_t cri_broken; /* P pieces whose F piece never came */
	uint64_t rotations;
	uint64_t truncations;
	uint64_t deletions;
	uint64_t read_errors;
};

/*
 * Called for each entry: ST_CB_OK to go on, ST_CB_STOP to make the
 * current call return ST_CB_STOP (the rest is read by the next call), or
 * ST_CB_ERROR / a negative errno to fail it.  @req is valid during the
 * call only.
 */
typedef int (*st_envoylog_fn)(void *data, const struct st_envoy_req *req);

struct st_envoylog_opts {
	const char *path; /* the file to follow; NULL: st_envoylog_feed() */
	bool from_end;	  /* start at the file's end (a live trace) */
	size_t max_line;  /* 0: ST_ENVOYLOG_MAX_LINE */
	st_envoylog_fn fn;
	void *data;
};

struct st_envoylog;

/* One line with its CRI wrapping taken apart. */
struct st_envoylog_cri {
	struct timespec ts; /* UTC */
	bool is_stderr;
	bool partial;	  /* tag P: more of the line follows */
	const char *text; /* points into the line */
	size_t len;
};

/**
 * st_envoylog_cri_split() - take the CRI wrapping off one line.
 * @line: the line without its newline, @len bytes
 * @len: its length
 * @out: the parts; @out->text points into @line
 *
 * Return: 0, or -EINVAL when @line is not CRI-wrapped.
 */
int st_envoylog_cri_split(const char *line, size_t len,
			  struct st_envoylog_cri *out);

/**
 * st_envoylog_parse() - read one access-log line (no CRI wrapping, no
 * newline) in any of the formats above.
 * @line: the text, @len bytes
 * @len: its length
 * @req: the entry, reset first
 *
 * Return: the format (enum st_envoylog_format), or -EBADMSG when the line
 * is in none (@req then holds nothing).
 */
int st_envoylog_parse(const char *line, size_t len, struct st_envoy_req *req);

/**
 * st_envoylog_format_name() - "text", "text-1.5", "text-envoy",
 * "text-other", "json"; "?" out of range.
 */
const char *st_envoylog_format_name(enum st_envoylog_format f);

/**
 * st_envoylog_anomaly_name() - "unparsed", "missing-fields", "oversize",
 * "binary", "cri-partial", "rotated", "truncated", "deleted", "read".
 */
const char *st_envoylog_anomaly_name(enum st_envoylog_anomaly a);

/**
 * st_envoylog_new() - a reader of lines, following a file or fed.
 * @out: receives the reader
 * @o: the file (opened now, non-blocking; NULL path: none), where to
 *	start, the line bound, the callback
 * @err: error buffer
 *
 * Return: 0; -EINVAL for a bad bound or no callback; -ENOMEM; the errno
 * of open() or fstat(); -EISDIR when @o->path is a directory.
 */
int st_envoylog_new(struct st_envoylog **out, const struct st_envoylog_opts *o,
		    char *err);

/**
 * st_envoylog_poll() - read what the file has now, handing out the
 * entries, then check whether it was renamed, truncated or deleted (and
 * go on with the new file in the same call).
 * @l: the reader (with a path)
 * @err: error buffer
 *
 * A line without its newline yet waits for the next call.
 *
 * Return: ST_CB_OK when everything there was is read, ST_CB_STOP when the
 * callback asked to stop, or a negative errno: the callback's failure
 * (-ECANCELED for ST_CB_ERROR), -EINVAL without a path, a read error (the
 * next call tries again).
 */
int st_envoylog_poll(struct st_envoylog *l, char *err);

/**
 * st_envoylog_feed() - hand bytes of a log to the reader, as a file
 * would give them (replay, tests, benchmarks).
 * @l: the reader
 * @buf: the bytes
 * @len: how many
 * @err: error buffer
 *
 * Return: as st_envoylog_poll(); after ST_CB_STOP the rest of @buf is not
 * read.
 */
int st_envoylog_feed(struct st_envoylog *l, const void *buf, size_t len,
		     char *err);

/**
 * st_envoylog_finish() - the end of the input: a last line without its
 * newline is read, P pieces without their F are counted.
 *
 * Return: as st_envoylog_poll().
 */
int st_envoylog_finish(struct st_envoylog *l, char *err);

/**
 * st_envoylog_stats() - what the reader saw so far.
 */
void st_envoylog_stats(const struct st_envoylog *l,
		       struct st_envoylog_stats *st);

/**
 * st_envoylog_news() - the next anomaly not said yet, as a short sentence
 * ("line 12: not an access-log entry ...", "... was rotated ..."), each
 * kind once per reader; NULL when there is none.  Valid until the next
 * call on @l.
 */
const char *st_envoylog_news(struct st_envoylog *l);

/** st_envoylog_free() - close the file and free; NULL is fine. */
void st_envoylog_free(struct st_envoylog *l);

/**
 * st_envoylog_auto_path() - the istio-proxy container's log of a pod as
 * the kubelet writes it:
 * ROOT/var/log/pods/NAMESPACE_POD_UID/istio-proxy/RESTART.log, the
 * highest RESTART.
 * @root: the node's root ("/", or a copy of it)
 * @ns: the pod's namespace
 * @pod: the pod's name
 * @path: receives the path
 * @size: size of @path
 * @err: error buffer
 *
 * Return: 0; -EINVAL for a name that is not a Kubernetes name (lower
 * case letters, digits, '-' and '.') or a root with a glob character;
 * -ENOENT when no such log exists; -ENOTUNIQ when several pods of that
 * name have logs (@err names their directories); -ENAMETOOLONG.
 */
int st_envoylog_auto_path(const char *root, const char *ns, const char *pod,
			  char *path, size_t size, char *err);

#endif /* ST_ENVOYLOG_H */
