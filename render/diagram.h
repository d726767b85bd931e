/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * diagram.h - writing flow diagrams (graph.h) to files: one file whose
 * extension picks the format, or a directory that receives one file per
 * observed traffic type and an index.html showing them with their path
 * texts.
 *
 * Directory mode collects while tracing: st_diagram_add() keeps a copy of
 * the first flow of each type (type 0: of each class), preferring a
 * complete one, in preallocated slots (O(1), no allocation); at the end
 * st_diagram_write() draws them.  Files are named
 * "type-2-local-to-remote.svg", type 0 "type-0-bypass.svg".
 */
#ifndef ST_DIAGRAM_H
#define ST_DIAGRAM_H

#include <stdbool.h>
#include <stddef.h>

#include "graph.h"

struct st_diagram;

/**
 * st_diagram_is_file() - true when @path names a single diagram file (its
 * extension is .svg, .png, .pdf, .dot or .gv); otherwise it is taken as
 * a directory.
 */
bool st_diagram_is_file(const char *path);

/**
 * st_diagram_check_path() - fail early on an -o PATH that cannot be
 * written, rather than after a trace: a file's directory must exist; a
 * directory must be one, or the nearest of its parents that exists must
 * be writable (the rest is created by st_diagram_write()).
 * Return: 0, or a negative errno with @err saying "-o PATH: ...".
 */
int st_diagram_check_path(const char *path, char *err);

/**
 * st_diagram_file_name() - "type-N-NAME.EXT" for @flow.
 * @flow: a classified flow
 * @ext: "svg", "png", "pdf" or "dot"
 * @buf: where to write it
 * @size: size of @buf
 *
 * Return: the length (as snprintf).
 */
int st_diagram_file_name(const struct st_flow *flow, const char *ext, char *buf,
			 size_t size);

/**
 * st_diagram_write_file() - draw one flow into @path, the format chosen
 * by its extension.
 * @flow: a classified flow
 * @opts: pod, rules and settings, or NULL
 * @path: the file
 * @err: error buffer
 *
 * Return: 0 or a negative errno (see st_graph_render()).
 */
int st_diagram_write_file(const struct st_flow *flow,
			  const struct st_graph_opts *opts, const char *path,
			  char *err);

/**
 * st_diagram_new() - a collector for directory mode.
 * @dir: the directory (created at st_diagram_write() when missing)
 * @format: "svg" (NULL), "png", "pdf" or "dot"
 * @opts: pod, rules and settings, or NULL; the strings are copied, the
 *        ruleset and settings must outlive the collector
 * @err: error buffer
 *
 * Return: the collector, or NULL with @err set.
 */
struct st_diagram *st_diagram_new(const char *dir, const char *format,
				  const struct st_graph_opts *opts, char *err);

/** st_diagram_free() - release a collector; NULL is ok. */
void st_diagram_free(struct st_diagram *d);

/**
 * st_diagram_add() - offer a classified flow; the first of its type (type
 * 0: class) is kept, replaced once by a later complete one if it was
 * incomplete.  Every flow is counted.
 *
 * Return: ST_CB_OK (usable as the body of a flow table's emit callback).
 */
int st_diagram_add(struct st_diagram *d, const struct st_flow *flow);

/** st_diagram_count() - how many distinct types (classes) are kept. */
unsigned int st_diagram_count(const struct st_diagram *d);

/**
 * st_diagram_write() - draw every kept flow into the directory and write
 * its index.html (also when no flow was kept: it says so).
 *
 * Return: 0, or a negative errno; files already written stay.
 */
int st_diagram_write(struct st_diagram *d, char *err);

#endif /* ST_DIAGRAM_H */
