/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * capwrite.h - --write FILE: save a live trace's records and rules
 * (pcapout.h) so that --replay FILE can trace them again.
 *
 * The writer is two things to a session (session.h): a tap that learns
 * the rules as read and the session attached (FILE.rules, FILE.rules6,
 * FILE.meta.json), and a record sink (sink.h) that writes every record as
 * it arrives.  Records are pushed out every 256 records or every second of
 * record time, so that a full disk stops the trace soon and a killed run
 * leaves a usable capture.  A failed write is the record sink's error:
 * the trace stops with it.
 *
 * With st_capwrite_keep_envoy() the entries of Envoy's access log read
 * while tracing go to FILE.envoy.log, one line each as the kubelet writes
 * them (CRI, the time the line was read) around Istio's JSON format with
 * the fields the line had: --replay FILE reads them with the records.
 * Lines that were no entry are not kept.
 */
#ifndef ST_CAPWRITE_H
#define ST_CAPWRITE_H

#include <stdint.h>

#include "session.h"
#include "sink.h"

struct st_capwrite;

/**
 * st_capwrite_open() - create the capture, before the trace touches the
 * target (an existing file is refused).
 * @out: receives the writer
 * @path: the capture; the side files go beside it (pcapout.h)
 * @target: what is traced, for FILE.meta.json
 * @err: error buffer
 *
 * Return: 0, or a negative errno (-EEXIST, -ELOOP, -ENOSPC...).
 */
int st_capwrite_open(struct st_capwrite **out, const char *path,
		     const struct st_session_target *target, char *err);

/**
 * st_capwrite_keep_envoy() - also keep the access log's entries, in
 * @path.envoy.log (created now; an existing file is refused).
 * @w: the writer
 * @path: the capture's path
 * @err: error buffer
 *
 * Return: 0, or a negative errno.
 */
int st_capwrite_keep_envoy(struct st_capwrite *w, const char *path, char *err);

/**
 * st_capwrite_tap() - the session tap of the writer (rules and start);
 * pass it with the writer as tap_data in struct st_session_opts.
 */
const struct st_session_tap *st_capwrite_tap(void);

/** st_capwrite_ops() - the record sink; the writer is its data. */
const struct st_sink_ops *st_capwrite_ops(void);

/**
 * st_capwrite_failed() - did a write fail (the trace was stopped by it)?
 * Return: the negative errno, or 0.
 */
int st_capwrite_failed(const struct st_capwrite *w);

/** st_capwrite_records() - records written so far; 0 for NULL. */
uint64_t st_capwrite_records(const struct st_capwrite *w);

/**
 * st_capwrite_close() - flush, finish FILE.meta.json and free.
 * @w: the writer, or NULL
 * @err: error buffer
 *
 * Return: 0, or the first negative errno met (the writer is freed anyway).
 */
int st_capwrite_close(struct st_capwrite *w, char *err);

#endif /* ST_CAPWRITE_H */
