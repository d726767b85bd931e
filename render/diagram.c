// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * diagram.c - flow diagrams into a file, or one per observed type into a
 * directory with an index.html (see diagram.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "classify.h"
#include "diagram.h"
#include "path.h"

/* Types 1-6, then type 0 by class. */
#define DG_SLOTS (ST_TYPE_MAX + ST_CLASS__MAX)

struct dg_slot {
	bool used;
	uint64_t count;
	struct st_flow flow;
	struct st_flow_reqs reqs; /* what flow.reqs points to when set */
};

struct st_diagram {
	char dir[PATH_MAX];
	char format[8];
	char pod_name[256];
	char pod_ip[64];
	struct st_graph_opts opts;
	struct dg_slot slots[DG_SLOTS];
};

bool st_diagram_is_file(const char *path)
{
	return st_graph_format_of(path) != NULL;
}

int st_diagram_check_path(const char *path, char *ebuf)
{
	char parent[PATH_MAX];
	struct stat st;
	char *slash;

	if (st_strlcpy(parent, path, sizeof(parent)) >= sizeof(parent))
		return st_err(ebuf, ENAMETOOLONG, "-o %s: name too long", path);
	if (!st_diagram_is_file(path) && stat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return st_err(
				ebuf, ENOTDIR,
				"-o %s: not a directory (one file needs .svg, .png, .pdf or .dot)",
				path);
		if (access(path, W_OK) != 0)
			return st_err(ebuf, errno, "-o %s: %s", path,
				      strerror(errno));
		return 0;
	}
	if (st_diagram_is_file(path) && stat(path, &st) == 0 &&
	    access(path, W_OK) != 0)
		return st_err(ebuf, errno, "-o %s: %s", path, strerror(errno));
	/* A directory is created with its parents: look at the first that is. */
	do {
		while (strlen(parent) > 1 && parent[strlen(parent) - 1] == '/')
			parent[strlen(parent) - 1] = '\0';
		slash = strrchr(parent, '/');
		if (slash == NULL)
			snprintf(parent, sizeof(parent), ".");
		else if (slash == parent)
			parent[1] = '\0';
		else
			*slash = '\0';
	} while (!st_diagram_is_file(path) && stat(parent, &st) != 0 &&
		 errno == ENOENT && strcmp(parent, ".") != 0 &&
		 strcmp(parent, "/") != 0);
	if (stat(parent, &st) != 0)
		return st_err(ebuf, errno, "-o %s: %s: %s", path, parent,
			      strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return st_err(ebuf, ENOTDIR, "-o %s: %s: %s", path, parent,
			      strerror(ENOTDIR));
	if (access(parent, W_OK) != 0)
		return st_err(ebuf, errno, "-o %s: %s: %s", path, parent,
			      strerror(errno));
	return 0;
}

int st_diagram_file_name(const struct st_flow *flow, const char *ext, char *buf,
			 size_t size)
{
	return snprintf(buf, size, "type-%d-%s.%s", flow->type,
			st_class_name(flow->klass, flow->type), ext);
}

int st_diagram_write_file(const struct st_flow *flow,
			  const struct st_graph_opts *opts, const char *path,
			  char *err)
{
	struct st_graph *g = NULL;
	int rc = 0;

	if (!st_diagram_is_file(path))
		return st_err(err, EINVAL,
			      "%s: the extension must be .svg, .png, .pdf or "
			      ".dot",
			      path);
	g = st_graph_new(flow, opts, err);
	if (g == NULL)
		return -EINVAL;
	rc = st_graph_render_file(g, path, err);
	st_graph_free(g);
	return rc;
}

struct st_diagram *st_diagram_new(const char *dir, const char *format,
				  const struct st_graph_opts *opts, char *err)
{
	struct st_diagram *d = NULL;

	if (format == NULL)
		format = "svg";
	if (strcmp(format, "svg") != 0 && strcmp(format, "png") != 0 &&
	    strcmp(format, "pdf") != 0 && strcmp(format, "dot") != 0) {
		st_err(err, EINVAL, "unknown diagram format '%s'", format);
		return NULL;
	}
	if (dir == NULL || dir[0] == '\0') {
		st_err(err, EINVAL, "no diagram directory");
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		st_err(err, ENOMEM, "out of memory");
		return NULL;
	}
	if (st_strlcpy(d->dir, dir, sizeof(d->dir)) >= sizeof(d->dir)) {
		st_err(err, ENAMETOOLONG, "%s: name too long", dir);
		free(d);
		return NULL;
	}
	st_strlcpy(d->format, format, sizeof(d->format));
	if (opts != NULL) {
		d->opts = *opts;
		if (opts->pod_name != NULL)
			st_strlcpy(d->pod_name, opts->pod_name,
				   sizeof(d->pod_name));
		if (opts->pod_ip != NULL)
			st_strlcpy(d->pod_ip, opts->pod_ip, sizeof(d->pod_ip));
	}
	d->opts.pod_name = d->pod_name;
	d->opts.pod_ip = d->pod_ip;
	return d;
}

void st_diagram_free(struct st_diagram *d)
{
	free(d);
}

static bool dg_complete(const struct st_flow *f)
{
	if (f->evicted || f->klass == ST_CLASS_INCOMPLETE)
		return false;
	for (unsigned int i = 0; i < f->nlegs; i++)
		if (f->legs[i].incomplete)
			return false;
	return true;
}

static int dg_slot_of(const struct st_flow *f)
{
	if (f->type >= 1 && f->type <= ST_TYPE_MAX)
		return f->type - 1;
	if (f->type == 0 && f->klass < ST_CLASS__MAX)
		return ST_TYPE_MAX + (int)f->klass;
	return -1;
}

int st_diagram_add(struct st_diagram *d, const struct st_flow *flow)
{
	int i = dg_slot_of(flow);
	struct dg_slot *s = NULL;

	if (d == NULL || i < 0 || flow->nlegs == 0)
		return ST_CB_OK;
	s = &d->slots[i];
	s->count++;
	if (!s->used || (!dg_complete(&s->flow) && dg_complete(flow))) {
		s->flow = *flow;
		s->used = true;
		/* The requests are the pipeline's until the call returns. */
		if (flow->reqs != NULL) {
			s->reqs = *flow->reqs;
			s->flow.reqs = &s->reqs;
		}
	}
	return ST_CB_OK;
}

unsigned int st_diagram_count(const struct st_diagram *d)
{
	unsigned int n = 0;

	for (unsigned int i = 0; d != NULL && i < DG_SLOTS; i++)
		n += d->slots[i].used;
	return n;
}

static int dg_mkdir(const char *dir, char *err)
{
	char tmp[PATH_MAX];
	struct stat st;

	st_strlcpy(tmp, dir, sizeof(tmp));
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return st_err(err, errno, "%s: %s", tmp,
				      strerror(errno));
		*p = '/';
	}
	if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
		return st_err(err, errno, "%s: %s", tmp, strerror(errno));
	if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
		return st_err(err, ENOTDIR, "%s: not a directory", tmp);
	return 0;
}

static void dg_index_entry(FILE *f, const struct dg_slot *s, const char *file,
			   const char *format)
{
	const struct st_flow *fl = &s->flow;
	const struct st_flow_leg *l = &fl->legs[0];
	char path[1024];
	char src[ST_FLOW_ADDR_SIZE], dst[ST_FLOW_ADDR_SIZE];
	char title[96];

	st_path_format(fl, path, sizeof(path));
	st_flow_addr_format(l->family, l->src, l->sport, src, sizeof(src));
	st_flow_addr_format(l->family, l->dst, l->dport, dst, sizeof(dst));
	if (fl->type == 0)
		snprintf(title, sizeof(title), "Type 0: other (%s)",
			 st_class_name(fl->klass, 0));
	else
		snprintf(title, sizeof(title), "Type %d: %s", fl->type,
			 st_class_type_name(fl->type));
	/* The heading opens the picture alone, at its full size. */
	fputs("<section>\n<h2><a href=\"", f);
	st_graph_escape(f, file);
	fputs("\">", f);
	st_graph_escape(f, title);
	fputs("</a></h2>\n<p class=\"path\"><code>", f);
	st_graph_escape(f, path);
	fputs("</code></p>\n<p>", f);
	fprintf(f, "%" PRIu64 " flow%s observed; drawn: ", s->count,
		s->count == 1 ? "" : "s");
	st_graph_escape(f, src);
	fputs(" &#8594; ", f);
	st_graph_escape(f, dst);
	if (fl->type == 0 && fl->reason[0] != '\0') {
		fputs(" (", f);
		st_graph_escape(f, fl->reason);
		fputs(")", f);
	}
	fputs("</p>\n", f);
	if (strcmp(format, "svg") == 0) {
		/* <object> keeps the SVG's tooltips (rule texts) working. */
		fputs("<object type=\"image/svg+xml\" data=\"", f);
		st_graph_escape(f, file);
		fputs("\">", f);
		fputs("<img src=\"", f);
		st_graph_escape(f, file);
		fputs("\" alt=\"", f);
		st_graph_escape(f, title);
		fputs("\"></object>\n", f);
	} else if (strcmp(format, "png") == 0) {
		fputs("<img src=\"", f);
		st_graph_escape(f, file);
		fputs("\" alt=\"", f);
		st_graph_escape(f, title);
		fputs("\">\n", f);
	} else {
		fputs("<p><a href=\"", f);
		st_graph_escape(f, file);
		fputs("\">", f);
		st_graph_escape(f, file);
		fputs("</a></p>\n", f);
	}
	fputs("</section>\n", f);
}

int st_diagram_write(struct st_diagram *d, char *err)
{
	char path[PATH_MAX + 128];
	char file[96];
	FILE *f = NULL;
	int rc = 0;

	rc = dg_mkdir(d->dir, err);
	if (rc < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/index.html", d->dir);
	f = fopen(path, "w");
	if (f == NULL) {
		rc = st_err(err, errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	      "<meta charset=\"utf-8\">\n<title>sidecar-trace: ",
	      f);
	if (d->pod_name[0] != '\0')
		st_graph_escape(f, d->pod_name);
	else
		fputs("pod", f);
	/*
	 * A grid of the diagrams, each scaled to its cell with its path as
	 * text; nothing is fetched from elsewhere, so it works offline.
	 */
	fputs(" traffic types</title>\n<style>\n"
	      "body{font-family:sans-serif;margin:1.5em}\n"
	      "main{display:grid;gap:1.5em;"
	      "grid-template-columns:repeat(auto-fill,minmax(36em,1fr))}\n"
	      "section{border:1px solid #ccc;border-radius:6px;padding:.8em;"
	      "min-width:0}\n"
	      "h2{font-size:1.1em;margin:0 0 .4em}\n"
	      "p{margin:.3em 0}\n"
	      "code{white-space:pre-wrap;font-size:.85em}\n"
	      "object,img{display:block;width:100%;height:auto}\n"
	      "</style>\n</head>\n<body>\n<h1>",
	      f);
	fputs("Sidecar traffic types", f);
	if (d->pod_name[0] != '\0' || d->pod_ip[0] != '\0') {
		fputs(" of pod ", f);
		st_graph_escape(f, d->pod_name[0] != '\0' ? d->pod_name
							  : d->pod_ip);
		if (d->pod_name[0] != '\0' && d->pod_ip[0] != '\0') {
			fputs(" (", f);
			st_graph_escape(f, d->pod_ip);
			fputs(")", f);
		}
	}
	fputs("</h1>\n<main>\n", f);
	if (st_diagram_count(d) == 0)
		fputs("<p>No flow was observed.</p>\n", f);
	for (unsigned int i = 0; i < DG_SLOTS; i++) {
		struct dg_slot *s = &d->slots[i];

		if (!s->used)
			continue;
		st_diagram_file_name(&s->flow, d->format, file, sizeof(file));
		snprintf(path, sizeof(path), "%s/%s", d->dir, file);
		rc = st_diagram_write_file(&s->flow, &d->opts, path, err);
		if (rc < 0)
			goto out;
		dg_index_entry(f, s, file, d->format);
	}
	fputs("</main>\n</body>\n</html>\n", f);
out:
	if (f != NULL && fclose(f) != 0 && rc == 0)
		rc = st_err(err, EIO, "%s/index.html: %s", d->dir,
			    strerror(errno));
	return rc;
}
