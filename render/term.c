// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * term.c - a flow's path as boxes and arrows in the terminal (see term.h).
 *
 * Each row is drawn into a grid of glyphs first and printed line by line,
 * so that the character set is chosen only when printing: box-drawing
 * glyphs are one column wide in either set.
 */
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "classify.h"
#include "path.h"
#include "term.h"

#define TM_INDENT 3 /* room for the connector from the row above */
#define TM_ARROW 3  /* "──→" between boxes, "──┐" at a row's end */
#define TM_BORDER 4 /* "│ " and " │" */
#define TM_MAX_LINES 6	 /* text lines of one box */
#define TM_TEXT_SIZE 320 /* one step's text */
#define TM_LABEL " pod " /* the brace's label */
#define TM_ROW_LINES (TM_MAX_LINES + 3)

/* Glyphs beyond ASCII's range; plain characters are their own glyph. */
enum tm_glyph {
	TM_H = 256,
	TM_V,
	TM_TL,
	TM_TR,
	TM_BL,
	TM_BR,
	TM_TO,	  /* arrow head */
	TM_POD_L, /* the brace's ends and fill */
	TM_POD_R,
	TM_POD_H,
	TM_GLYPH_END,
};

static const char *const tm_utf8[TM_GLYPH_END - TM_H] = {
	"\u2500", "\u2502", "\u250c", "\u2510", "\u2514",
	"\u2518", "\u2192", "\u2570", "\u256f", "\u2504",
};

static const char tm_ascii[TM_GLYPH_END - TM_H] = {
	'-', '|', '+', '+', '+', '+', '>', '`', '\'', '.',
};

/* A box's text, wrapped. */
struct tm_wrap {
	unsigned int w; /* widest line */
	unsigned int n;
	bool cut; /* more text than TM_MAX_LINES lines: the last ends "..." */
	uint16_t off[TM_MAX_LINES];
	uint16_t len[TM_MAX_LINES];
};

struct tm_draw {
	FILE *out;
	bool utf8;
	unsigned int width;
	const struct st_path_step *steps;
	const struct tm_wrap *wraps;
	unsigned int n;
	uint16_t grid[TM_ROW_LINES][ST_TERM_MAX_WIDTH];
};

static void tm_text(const struct st_path_step *s, char *buf, size_t size)
{
	st_path_step_format(s, buf, size);
	for (char *p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
}

/* Greedy, at blanks; a word longer than a line is cut. */
static void tm_wrap(const char *s, unsigned int max, struct tm_wrap *w)
{
	size_t len = strlen(s);
	size_t pos = 0;

	memset(w, 0, sizeof(*w));
	while (pos < len && s[pos] == ' ')
		pos++;
	while (pos < len) {
		size_t take = len - pos;
		size_t next = len;

		if (w->n == TM_MAX_LINES) {
			w->cut = true;
			break;
		}
		if (take > max) {
			take = max;
			for (size_t k = max; k > 0; k--)
				if (s[pos + k] == ' ') {
					take = k;
					break;
				}
			next = pos + take;
		}
		w->off[w->n] = (uint16_t)pos;
		w->len[w->n] = (uint16_t)take;
		if (take > w->w)
			w->w = (unsigned int)take;
		w->n++;
		pos = next;
		while (pos < len && s[pos] == ' ')
			pos++;
	}
	if (w->cut && w->w < 3)
		w->w = 3;
}

static void tm_put(struct tm_draw *d, unsigned int line, unsigned int col,
		   uint16_t g)
{
	if (line < TM_ROW_LINES && col < d->width)
		d->grid[line][col] = g;
}

static void tm_hline(struct tm_draw *d, unsigned int line, unsigned int from,
		     unsigned int to, uint16_t g)
{
	for (unsigned int c = from; c < to; c++)
		tm_put(d, line, c, g);
}

/* Print @line of the grid, without trailing blanks; false when blank. */
static bool tm_emit(struct tm_draw *d, unsigned int line, bool always)
{
	const uint16_t *g = d->grid[line];
	unsigned int end = d->width;

	while (end > 0 && g[end - 1] == ' ')
		end--;
	if (end == 0 && !always)
		return false;
	for (unsigned int c = 0; c < end; c++) {
		if (g[c] < TM_H)
			fputc(g[c], d->out);
		else if (d->utf8)
			fputs(tm_utf8[g[c] - TM_H], d->out);
		else
			fputc(tm_ascii[g[c] - TM_H], d->out);
	}
	fputc('\n', d->out);
	return true;
}

static unsigned int tm_box_width(const struct tm_draw *d, unsigned int i)
{
	return d->wraps[i].w + TM_BORDER;
}

static bool tm_in_pod(const struct tm_draw *d, unsigned int i)
{
	const struct st_path_step *s = &d->steps[i];

	return !((s->kind == ST_PATH_START || s->kind == ST_PATH_END) &&
		 s->outside);
}

static void tm_box(struct tm_draw *d, unsigned int i, unsigned int x,
		   unsigned int h)
{
	const struct tm_wrap *w = &d->wraps[i];
	unsigned int bw = tm_box_width(d, i);
	char text[TM_TEXT_SIZE];

	tm_text(&d->steps[i], text, sizeof(text));
	tm_put(d, 0, x, TM_TL);
	tm_hline(d, 0, x + 1, x + bw - 1, TM_H);
	tm_put(d, 0, x + bw - 1, TM_TR);
	for (unsigned int l = 1; l <= h; l++) {
		tm_put(d, l, x, TM_V);
		tm_put(d, l, x + bw - 1, TM_V);
	}
	tm_put(d, h + 1, x, TM_BL);
	tm_hline(d, h + 1, x + 1, x + bw - 1, TM_H);
	tm_put(d, h + 1, x + bw - 1, TM_BR);
	for (unsigned int l = 0; l < w->n; l++)
		for (unsigned int k = 0; k < w->len[l]; k++)
			tm_put(d, l + 1, x + 2 + k,
			       (unsigned char)text[w->off[l] + k]);
	if (w->cut) {
		unsigned int at = w->len[w->n - 1];

		if (at + 3 > w->w)
			at = w->w - 3;
		tm_hline(d, w->n, x + 2 + at, x + 2 + at + 3, '.');
	}
}

/* The brace under the boxes [@i, @j) that are inside the pod. */
static void tm_brace(struct tm_draw *d, unsigned int i, unsigned int j,
		     unsigned int line)
{
	unsigned int x = TM_INDENT;
	unsigned int from = 0, to = 0; /* columns [from, to) */
	bool any = false, open_l = false, open_r = false;
	size_t ll = strlen(TM_LABEL);

	for (unsigned int k = i; k < j; k++) {
		unsigned int bw = tm_box_width(d, k);

		if (tm_in_pod(d, k)) {
			if (!any) {
				from = x;
				open_l = k == i && k > 0 && tm_in_pod(d, k - 1);
			}
			any = true;
			to = x + bw;
			open_r = k + 1 == j && j < d->n && tm_in_pod(d, j);
		}
		x += bw + TM_ARROW;
	}
	if (!any)
		return;
	tm_hline(d, line, from, to, TM_POD_H);
	if (!open_l)
		tm_put(d, line, from, TM_POD_L);
	if (!open_r)
		tm_put(d, line, to - 1, TM_POD_R);
	if (to - from >= ll + 4) {
		unsigned int at = from + (unsigned int)(to - from - ll) / 2;

		for (size_t k = 0; k < ll; k++)
			tm_put(d, line, at + (unsigned int)k,
			       (unsigned char)TM_LABEL[k]);
	}
}

/* Draw boxes [@i, @j) as one row, with the connectors in and out. */
static void tm_row(struct tm_draw *d, unsigned int i, unsigned int j)
{
	unsigned int h = 1;
	unsigned int x = TM_INDENT;
	unsigned int turn = 0;

	for (unsigned int k = i; k < j; k++)
		if (d->wraps[k].n > h)
			h = d->wraps[k].n;
	for (unsigned int l = 0; l < h + 3; l++)
		for (unsigned int c = 0; c < d->width; c++)
			d->grid[l][c] = ' ';
	if (i > 0) {
		tm_put(d, 0, 0, TM_V);
		tm_put(d, 1, 0, TM_BL);
		tm_put(d, 1, 1, TM_H);
		tm_put(d, 1, 2, TM_TO);
	}
	for (unsigned int k = i; k < j; k++) {
		unsigned int bw = tm_box_width(d, k);

		tm_box(d, k, x, h);
		x += bw;
		if (k + 1 == d->n)
			break;
		tm_hline(d, 1, x, x + TM_ARROW - 1, TM_H);
		if (k + 1 < j) {
			tm_put(d, 1, x + TM_ARROW - 1, TM_TO);
		} else {
			turn = x + TM_ARROW - 1;
			tm_put(d, 1, turn, TM_TR);
			for (unsigned int l = 2; l < h + 3; l++)
				tm_put(d, l, turn, TM_V);
		}
		x += TM_ARROW;
	}
	tm_brace(d, i, j, h + 2);
	for (unsigned int l = 0; l < h + 2; l++)
		tm_emit(d, l, true);
	tm_emit(d, h + 2, false);
	if (turn == 0)
		return;
	for (unsigned int c = 0; c < d->width; c++)
		d->grid[0][c] = ' ';
	tm_put(d, 0, 0, TM_TL);
	tm_hline(d, 0, 1, turn, TM_H);
	tm_put(d, 0, turn, TM_BR);
	tm_emit(d, 0, true);
}

static void tm_title(FILE *out, const struct st_flow *f)
{
	const struct st_flow_leg *l = &f->legs[0];
	char src[ST_FLOW_ADDR_SIZE];
	char dst[ST_FLOW_ADDR_SIZE];

	st_flow_addr_format(l->family, l->src, l->sport, src, sizeof(src));
	st_flow_addr_format(l->family, l->dst, l->dport, dst, sizeof(dst));
	fprintf(out, "[%d %s]  %s -> %s", f->type,
		st_class_name(f->klass, f->type), src, dst);
	if (f->reason[0] != '\0')
		fprintf(out, "; %s", f->reason);
	fputc('\n', out);
	/* What Envoy's access log says it carried, as the text line has it. */
	for (unsigned int i = 0; f->reqs != NULL && i < f->reqs->n; i++) {
		char req[512];

		st_path_req_format(&f->reqs->req[i], req, sizeof(req));
		fprintf(out, "  envoy: %s\n", req);
	}
}

int st_term_render(FILE *out, const struct st_flow *f,
		   const struct st_term_opts *opts, char *err)
{
	static const struct st_term_opts defaults = {.width = 80};
	struct st_path_step steps[ST_PATH_MAX_STEPS];
	struct tm_wrap wraps[ST_PATH_MAX_STEPS];
	struct tm_draw d;
	char text[TM_TEXT_SIZE];
	unsigned int i = 0;
	int ret = 0;

	if (opts == NULL)
		opts = &defaults;
	memset(&d, 0, sizeof(d));
	d.out = out;
	d.utf8 = opts->utf8;
	d.width = opts->width == 0 ? 80 : opts->width;
	if (d.width < ST_TERM_MIN_WIDTH)
		d.width = ST_TERM_MIN_WIDTH;
	if (d.width > ST_TERM_MAX_WIDTH)
		d.width = ST_TERM_MAX_WIDTH;
	d.steps = steps;
	d.wraps = wraps;
	d.n = st_path_steps(f, steps, ST_PATH_MAX_STEPS);
	if (d.n > ST_PATH_MAX_STEPS)
		d.n = ST_PATH_MAX_STEPS;
	if (d.n == 0)
		goto out;
	for (unsigned int k = 0; k < d.n; k++) {
		tm_text(&steps[k], text, sizeof(text));
		tm_wrap(text, d.width - TM_INDENT - TM_BORDER - TM_ARROW,
			&wraps[k]);
	}
	if (!opts->no_title)
		tm_title(out, f);
	while (i < d.n) {
		unsigned int x = TM_INDENT;
		unsigned int j = i;

		/* As many boxes as fit, with the arrow or turn after each. */
		while (j < d.n) {
			unsigned int need = tm_box_width(&d, j);

			if (j + 1 < d.n)
				need += TM_ARROW;
			if (j > i && x + need > d.width)
				break;
			x += tm_box_width(&d, j) + TM_ARROW;
			j++;
		}
		tm_row(&d, i, j);
		i = j;
	}
out:
	if (ferror(out))
		ret = st_err(err, EIO, "writing the boxes failed");
	return ret;
}

void st_term_detect(struct st_term_opts *opts)
{
	const char *cols = getenv("COLUMNS");
	const char *cur = setlocale(LC_CTYPE, NULL);
	char saved[128] = "";
	const char *cs = NULL;
	char *end = NULL;
	unsigned long w = 0;

	memset(opts, 0, sizeof(*opts));
	if (cols != NULL && *cols != '\0') {
		errno = 0;
		w = strtoul(cols, &end, 10);
		if (errno != 0 || *end != '\0')
			w = 0;
	}
	opts->width = w > 0 && w <= ST_TERM_MAX_WIDTH ? (unsigned int)w : 80;
	if (w > ST_TERM_MAX_WIDTH)
		opts->width = ST_TERM_MAX_WIDTH;
	/* The query needs the environment's locale; the caller's stays. */
	if (cur != NULL)
		st_strlcpy(saved, cur, sizeof(saved));
	if (setlocale(LC_CTYPE, "") != NULL) {
		cs = nl_langinfo(CODESET);
		opts->utf8 = cs != NULL && (strcasecmp(cs, "UTF-8") == 0 ||
					    strcasecmp(cs, "utf8") == 0);
	}
	if (saved[0] != '\0')
		setlocale(LC_CTYPE, saved);
}
