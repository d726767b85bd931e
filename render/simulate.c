// SPDX-License-Identifier: GPL-2.0-or-later
/* simulate.c - a predicted flow and its legs' fates, as text or JSON. */
#include <errno.h>
#include <string.h>

#include "flowjson.h"
#include "path.h"
#include "simulate.h"

/* What happened to one leg, after its spec line. */
static void st_simulate_fate(FILE *out, const struct st_flow_leg *l,
			     const struct st_simulate_leg *s)
{
	if (strcmp(s->verdict, "sent") == 0)
		fprintf(out, "sent to %s via %s", s->to, s->via);
	else if (strcmp(s->verdict, "local") == 0)
		fprintf(out, "delivered to %s%s", s->to,
			s->via_lo ? " (looped back over lo)" : "");
	else if (strcmp(s->verdict, "dropped") == 0)
		fprintf(out, "dropped at %s", s->at);
	else if (strcmp(s->verdict, "undecidable") == 0)
		fprintf(out, "undecidable at %s", s->at);
	else if (strcmp(s->verdict, "forwarded") == 0)
		fprintf(out, "forwarded to %s (not followed)", s->to);
	if (l->redirect_port != 0)
		fprintf(out, ", redirected to port %u", l->redirect_port);
	fputc('\n', out);
}

int st_simulate_text(FILE *out, const struct st_simulate_view *v)
{
	const struct st_flow *f = v->flow;

	if (st_path_print(out, f) < 0)
		return -EIO;
	for (unsigned int i = 0; i < f->nlegs; i++) {
		const struct st_flow_leg *l = &f->legs[i];

		fprintf(out, "  leg %u: %s\n         ", i + 1, v->legs[i].spec);
		if (l->incomplete) {
			fprintf(out, "incomplete: %s\n", l->why);
			continue;
		}
		st_simulate_fate(out, l, &v->legs[i]);
	}
	if (v->note[0] != '\0')
		fprintf(out, "note: %s\n", v->note);
	return ferror(out) ? -EIO : 0;
}

json_t *st_simulate_json(const struct st_simulate_view *v, const char *spec)
{
	json_t *j = NULL, *legs = NULL, *sim = NULL;

	j = st_flowjson_flow(v->flow, NULL);
	legs = json_array();
	if (j == NULL || legs == NULL)
		goto fail;
	for (unsigned int i = 0; i < v->flow->nlegs; i++) {
		const struct st_simulate_leg *s = &v->legs[i];

		if (json_array_append_new(
			    legs, json_pack("{s:s, s:s, s:s?, s:b, s:s?}",
					    "verdict", s->verdict, "to", s->to,
					    "via", s->via[0] ? s->via : NULL,
					    "via_lo", s->via_lo, "at",
					    s->at[0] ? s->at : NULL)) < 0)
			goto fail;
	}
	sim = json_pack("{s:s?, s:s?, s:o}", "spec", spec, "note",
			v->note[0] ? v->note : NULL, "legs", legs);
	legs = NULL;
	if (sim == NULL || json_object_set_new(j, "simulate", sim) < 0)
		goto fail;
	return j;
fail:
	json_decref(legs);
	json_decref(j);
	return NULL;
}

int st_simulate_write_json(FILE *out, const struct st_simulate_view *v,
			   const char *spec)
{
	json_t *j = st_simulate_json(v, spec);
	int ret;

	if (j == NULL)
		return -ENOMEM;
	ret = json_dumpf(j, out, JSON_COMPACT);
	json_decref(j);
	if (ret < 0 || fputc('\n', out) == EOF)
		return -EIO;
	return 0;
}
