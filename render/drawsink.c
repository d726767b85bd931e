// SPDX-License-Identifier: GPL-2.0-or-later
/* drawsink.c - the flows shown, drawn into a file or a directory. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "diagram.h"
#include "drawsink.h"

struct st_drawsink {
	char *path;
	bool file;		/* one file: the first flow shown */
	bool file_done;		/* ... drawn (or tried) */
	struct st_diagram *dir; /* directory: first flow of each type */
	char *pod_name;		/* for the frame; NULL: none */
	struct st_ruleset *rs;	/* the frame's rules; NULL: none */
	struct st_istio_settings set;
	/* The flows that shape the layout, copied; they point into rs. */
	struct st_flow *frame;
	const struct st_flow *framep[ST_DRAWSINK_MAX_FRAME];
	unsigned int nframe;
	bool summarised; /* the end was reached: the directory is drawn */
	int failed;	 /* negative errno of the first drawing error */
	char ebuf[ST_ERRBUF_SIZE];
};

struct st_drawsink *st_drawsink_new(const char *path, const char *pod_name,
				    char *err)
{
	struct st_drawsink *d;

	if (st_diagram_check_path(path, err) < 0)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		goto nomem;
	d->path = strdup(path);
	d->pod_name = pod_name ? strdup(pod_name) : NULL;
	if (d->path == NULL || (pod_name != NULL && d->pod_name == NULL))
		goto nomem;
	d->file = st_diagram_is_file(path);
	return d;
nomem:
	st_drawsink_free(d);
	st_err(err, ENOMEM, "out of memory");
	return NULL;
}

void st_drawsink_free(struct st_drawsink *d)
{
	if (d == NULL)
		return;
	st_diagram_free(d->dir);
	st_ruleset_free(d->rs);
	free(d->frame);
	free(d->path);
	free(d->pod_name);
	free(d);
}

void st_drawsink_set_frame(struct st_drawsink *d, struct st_ruleset *rs,
			   const struct st_istio_settings *set,
			   const struct st_flow *const *flows,
			   unsigned int nflows)
{
	if (d->rs != NULL || d->dir != NULL || d->file_done) {
		st_ruleset_free(rs);
		return;
	}
	d->rs = rs;
	d->set = *set;
	if (nflows > ST_DRAWSINK_MAX_FRAME)
		nflows = ST_DRAWSINK_MAX_FRAME;
	/* Without room for them the diagrams are still drawn, unframed. */
	d->frame = nflows > 0 ? calloc(nflows, sizeof(*d->frame)) : NULL;
	for (unsigned int i = 0; d->frame != NULL && i < nflows; i++) {
		if (flows[i] == NULL || flows[i]->nlegs == 0)
			continue;
		d->frame[d->nframe] = *flows[i];
		/* The requests are their owner's; they do not shape it. */
		d->frame[d->nframe].reqs = NULL;
		d->framep[d->nframe] = &d->frame[d->nframe];
		d->nframe++;
	}
}

bool st_drawsink_has_frame(const struct st_drawsink *d)
{
	return d->rs != NULL || d->dir != NULL || d->file_done;
}

int st_drawsink_failed(const struct st_drawsink *d, const char **msg)
{
	*msg = d->ebuf;
	return d->failed;
}

bool st_drawsink_nothing(const struct st_drawsink *d)
{
	return d->summarised && d->file && !d->file_done;
}

static void st_ds_graph_opts(const struct st_drawsink *d,
			     struct st_graph_opts *g)
{
	memset(g, 0, sizeof(*g));
	g->pod_name = d->pod_name;
	g->rs = d->rs;
	g->set = d->rs ? &d->set : NULL;
	g->frame = d->nframe > 0 ? d->framep : NULL;
	g->nframe = d->nframe;
}

/* The directory collector, once the rules of the frame are known. */
static int st_ds_dir_new(struct st_drawsink *d)
{
	struct st_graph_opts g;

	if (d->file || d->dir != NULL)
		return 0;
	st_ds_graph_opts(d, &g);
	d->dir = st_diagram_new(d->path, NULL, &g, d->ebuf);
	return d->dir != NULL ? 0 : -ENOMEM;
}

static int st_ds_flow(void *data, const struct st_flow *flow,
		      const struct st_sink_notes *notes)
{
	struct st_drawsink *d = data;
	struct st_graph_opts g;
	int ret;

	(void)notes;
	if (d->file && !d->file_done) {
		d->file_done = true;
		st_ds_graph_opts(d, &g);
		ret = st_diagram_write_file(flow, &g, d->path, d->ebuf);
		if (ret < 0 && d->failed == 0)
			d->failed = ret;
	} else if (!d->file) {
		if (d->dir == NULL && st_ds_dir_new(d) < 0) {
			if (d->failed == 0)
				d->failed = -ENOMEM;
			return 0;
		}
		st_diagram_add(d->dir, flow);
	}
	return 0;
}

static int st_ds_summary(void *data, const struct st_flow_stats *stats)
{
	struct st_drawsink *d = data;

	(void)stats;
	d->summarised = true;
	if (d->file || d->failed < 0)
		return 0;
	if (d->dir == NULL && st_ds_dir_new(d) < 0)
		d->failed = -ENOMEM;
	else if (st_diagram_write(d->dir, d->ebuf) < 0)
		d->failed = -EIO;
	return 0;
}

static const struct st_sink_ops st_ds_ops = {
	.flow = st_ds_flow,
	.summary = st_ds_summary,
};

const struct st_sink_ops *st_drawsink_ops(void)
{
	return &st_ds_ops;
}
