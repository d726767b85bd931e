// SPDX-License-Identifier: GPL-2.0-or-later
/* flowout.c - flows and the summary as text or JSON Lines, as a sink. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>

#include "flowjson.h"
#include "flowout.h"
#include "path.h"

struct st_flowout {
	FILE *out;
	FILE *diag;
	unsigned int flags;
	bool unflushed; /* written since the last sync */
};

struct st_flowout *st_flowout_new(FILE *out, FILE *diag, unsigned int flags)
{
	struct st_flowout *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->out = out;
	w->diag = diag;
	w->flags = flags;
	return w;
}

void st_flowout_free(struct st_flowout *w)
{
	free(w);
}

/* The flow's JSON object with "inferred" added, as one line. */
static int st_fo_json_notes(FILE *out, const struct st_flow *f,
			    const struct st_sink_notes *nt)
{
	json_t *j, *arr;
	int ret = 0;

	j = st_flowjson_flow(f, NULL);
	arr = json_array();
	if (j == NULL || arr == NULL) {
		json_decref(arr);
		ret = -ENOMEM;
		goto out;
	}
	for (unsigned int i = 0; i < nt->n; i++)
		json_array_append_new(arr, json_string(nt->note[i]));
	json_object_set_new(j, "inferred", arr);
	if (json_dumpf(j, out, JSON_COMPACT | JSON_PRESERVE_ORDER) < 0 ||
	    fputc('\n', out) == EOF)
		ret = -EIO;
out:
	json_decref(j);
	return ret;
}

static int st_fo_notes(struct st_flowout *w, const struct st_flow *f,
		       const struct st_sink_notes *nt)
{
	for (unsigned int i = 0; i < nt->n; i++) {
		if (w->flags & ST_FLOWOUT_NOTES_TO_DIAG) {
			if (w->diag != NULL)
				fprintf(w->diag,
					"sidecar-trace: flow %" PRIu64
					": inferred: %s\n",
					f->id, nt->note[i]);
		} else if (fprintf(w->out, "    inferred: %s\n", nt->note[i]) <
			   0) {
			return -EIO;
		}
	}
	return 0;
}

/* The errno of a failed write, as the sinks return it. */
static int st_fo_failed(int ret)
{
	return -(errno != 0 ? errno : -ret);
}

static int st_fo_flow(void *data, const struct st_flow *f,
		      const struct st_sink_notes *nt)
{
	struct st_flowout *w = data;
	bool json = w->flags & ST_FLOWOUT_JSON;
	int ret;

	errno = 0;
	if (json && nt != NULL && !(w->flags & ST_FLOWOUT_NOTES_TO_DIAG)) {
		ret = st_fo_json_notes(w->out, f, nt);
	} else {
		ret = json ? st_flowjson_write(w->out, f)
			   : st_path_print(w->out, f);
		if (ret == 0 && nt != NULL)
			ret = st_fo_notes(w, f, nt);
	}
	if (ret == 0)
		w->unflushed = true;
	/* A stream that failed unnoticed: its error is this write's. */
	if (ret == 0 && ferror(w->out) && fflush(w->out) != 0)
		ret = -EIO;
	return ret < 0 ? st_fo_failed(ret) : 0;
}

static int st_fo_summary(void *data, const struct st_flow_stats *st)
{
	struct st_flowout *w = data;
	int ret;

	errno = 0;
	ret = (w->flags & ST_FLOWOUT_JSON)
		      ? st_flowjson_write_summary(w->out, st)
		      : st_path_summary(w->out, st);
	if (ret < 0)
		return st_fo_failed(ret);
	w->unflushed = true;
	return 0;
}

static int st_fo_sync(void *data)
{
	struct st_flowout *w = data;

	if (!w->unflushed)
		return 0;
	w->unflushed = false;
	errno = 0;
	if (fflush(w->out) != 0)
		return -(errno != 0 ? errno : EIO);
	return 0;
}

static const struct st_sink_ops st_fo_ops = {
	.flow = st_fo_flow,
	.summary = st_fo_summary,
	.sync = st_fo_sync,
};

const struct st_sink_ops *st_flowout_ops(void)
{
	return &st_fo_ops;
}
