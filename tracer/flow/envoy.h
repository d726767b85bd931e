/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * envoy.h - one entry of Envoy's access log as a value: the fields of
 * Istio's default format (TEXT or JSON, as Istio sets it since 1.9 in
 * EnvoyTextLogFormat and EnvoyJSONLogFormatIstio), each either present
 * with a value, present but empty (Envoy prints "-" or null), present but
 * unreadable, or absent from the line.
 * Nothing is guessed: the bitmasks say which of these a field is, and a
 * field without a readable value is left zero.
 *
 * Addresses are read into the flow stage's form (family 4 or 6, network
 * order bytes, host order port) so that entries can be put beside legs;
 * strings are copied into fixed buffers, cut at their size and marked.
 * It lives in the flow stage because flows are matched with entries; the
 * readers of the log (source/envoylog.h) fill it in.
 */
#ifndef ST_ENVOY_H
#define ST_ENVOY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common.h"

/* The fields, in the order of Istio's TEXT format. */
enum st_envoy_field {
	ST_ENVOY_START_TIME = 0,
	ST_ENVOY_METHOD,
	ST_ENVOY_PATH,
	ST_ENVOY_PROTOCOL,
	ST_ENVOY_RESPONSE_CODE,
	ST_ENVOY_RESPONSE_FLAGS,
	ST_ENVOY_CODE_DETAILS,
	ST_ENVOY_TERMINATION_DETAILS,
	ST_ENVOY_TRANSPORT_FAILURE,
	ST_ENVOY_BYTES_RECEIVED,
	ST_ENVOY_BYTES_SENT,
	ST_ENVOY_DURATION,
	ST_ENVOY_UPSTREAM_SERVICE_TIME,
	ST_ENVOY_X_FORWARDED_FOR,
	ST_ENVOY_USER_AGENT,
	ST_ENVOY_REQUEST_ID,
	ST_ENVOY_AUTHORITY,
	ST_ENVOY_UPSTREAM_HOST,
	ST_ENVOY_UPSTREAM_CLUSTER,
	ST_ENVOY_UPSTREAM_LOCAL,
	ST_ENVOY_DOWNSTREAM_LOCAL,
	ST_ENVOY_DOWNSTREAM_REMOTE,
	ST_ENVOY_SERVER_NAME,
	ST_ENVOY_ROUTE_NAME,
	ST_ENVOY__MAX,
};

/* The bit of field @f in the masks of struct st_envoy_req. */
#define ST_ENVOY_BIT(f) (UINT32_C(1) << (f))
#define ST_ENVOY_ALL (ST_ENVOY_BIT(ST_ENVOY__MAX) - 1)

/* An address Envoy printed: family 0 when the field had none. */
struct st_envoy_addr {
	uint8_t family; /* 4 or 6; 0 none */
	uint16_t port;	/* host order */
	uint8_t addr[16];
};

#define ST_ENVOY_SHORT_SIZE 24 /* method, protocol */
#define ST_ENVOY_FLAGS_SIZE 64 /* response flags ("UH,UF") */
#define ST_ENVOY_ID_SIZE 64    /* request id (a UUID is 36) */
#define ST_ENVOY_TEXT_SIZE 128 /* details, headers, names */
#define ST_ENVOY_LONG_SIZE 256 /* path, cluster */

struct st_envoy_req {
	/* ST_ENVOY_BIT()s: the line had the field (with any value). */
	uint32_t has;
	/* ... and its value was empty ("-" in TEXT, null or "" in JSON). */
	uint32_t empty;
	/* ... and its value was not of the field's kind (left zero). */
	uint32_t bad;
	/* ... and the string was longer than its buffer (cut). */
	uint32_t truncated;
	struct timespec start;	/* UTC */
	struct timespec logged; /* when the line was written (the CRI
				 * time), UTC; zero when unknown */
	uint16_t response_code; /* 0 for TCP and when none was sent */
	uint64_t bytes_received;
	uint64_t bytes_sent;
	uint64_t duration_ms;
	uint64_t upstream_service_ms;
	struct st_envoy_addr upstream_host;
	struct st_envoy_addr upstream_local;
	struct st_envoy_addr downstream_local;
	struct st_envoy_addr downstream_remote;
	char method[ST_ENVOY_SHORT_SIZE];
	char protocol[ST_ENVOY_SHORT_SIZE];
	char response_flags[ST_ENVOY_FLAGS_SIZE];
	char request_id[ST_ENVOY_ID_SIZE];
	char code_details[ST_ENVOY_TEXT_SIZE];
	char termination_details[ST_ENVOY_TEXT_SIZE];
	char transport_failure[ST_ENVOY_TEXT_SIZE];
	char x_forwarded_for[ST_ENVOY_TEXT_SIZE];
	char user_agent[ST_ENVOY_TEXT_SIZE];
	char authority[ST_ENVOY_TEXT_SIZE];
	char server_name[ST_ENVOY_TEXT_SIZE];
	char route_name[ST_ENVOY_TEXT_SIZE];
	char path[ST_ENVOY_LONG_SIZE];
	char upstream_cluster[ST_ENVOY_LONG_SIZE];
};

/**
 * st_envoy_req_reset() - no field present: what a reader starts from.
 * @req: the entry
 */
void st_envoy_req_reset(struct st_envoy_req *req);

/**
 * st_envoy_has() - whether @req holds a value for @f: the line had the
 * field, not empty and readable.
 */
static inline bool st_envoy_has(const struct st_envoy_req *req,
				enum st_envoy_field f)
{
	uint32_t b = ST_ENVOY_BIT(f);

	return (req->has & b) && !(req->empty & b) && !(req->bad & b);
}

/**
 * st_envoy_is_tcp() - an entry of a TCP proxy connection: method, path
 * and protocol all empty ("- - -") and no response code (0).
 */
bool st_envoy_is_tcp(const struct st_envoy_req *req);

/**
 * st_envoy_field_name() - the field's key in Istio's JSON format
 * ("start_time", "method", ..., "route_name"); "?" out of range.
 */
const char *st_envoy_field_name(enum st_envoy_field f);

/**
 * st_envoy_field_by_name() - the field whose JSON key is @name (@len
 * bytes, not NUL-terminated).
 *
 * Return: the field, or -1 for a key of no field here.
 */
int st_envoy_field_by_name(const char *name, size_t len);

/**
 * st_envoy_set() - set field @f from the text Envoy printed for it.
 * @req: the entry
 * @f: the field
 * @s: the text, @n bytes, not NUL-terminated; "-" and "" are empty
 * @n: its length
 *
 * Marks @f in @req->has and, as the text is, in @req->empty, @req->bad
 * (a number, time or address that does not read) or @req->truncated.
 * Times are RFC 3339 ("2024-03-21T10:00:00.123Z", an offset allowed),
 * numbers decimal, addresses "10.0.0.1:80" or "[fd00::1]:80".
 */
void st_envoy_set(struct st_envoy_req *req, enum st_envoy_field f,
		  const char *s, size_t n);

/**
 * st_envoy_set_uint() - set a number field (code, bytes, durations)
 * from a number already read (JSON); another field is marked bad.
 */
void st_envoy_set_uint(struct st_envoy_req *req, enum st_envoy_field f,
		       uint64_t v);

/**
 * st_envoy_addr_parse() - read "10.0.0.1:80" or "[fd00::1]:80".
 * @s: the text, @n bytes
 * @n: its length
 * @a: the result (zeroed first)
 *
 * Return: 0, or -EINVAL (@a->family is 0 then).
 */
int st_envoy_addr_parse(const char *s, size_t n, struct st_envoy_addr *a);

/**
 * st_envoy_time_parse() - read an RFC 3339 time as Envoy prints
 * START_TIME ("2024-03-21T10:00:00.123Z"; any fraction, "Z" or an offset
 * "+01:00").
 *
 * Return: 0 with @ts set (UTC), or -EINVAL.
 */
int st_envoy_time_parse(const char *s, size_t n, struct timespec *ts);

/**
 * st_envoy_addr_format() - "10.0.0.1:80", "[fd00::1]:80", or "-" when
 * @a has no address.
 * @buf: at least ST_ENVOY_ADDR_SIZE bytes
 */
#define ST_ENVOY_ADDR_SIZE 56
void st_envoy_addr_format(const struct st_envoy_addr *a, char *buf,
			  size_t size);

/**
 * st_envoy_req_format() - the entry as one line of "key=value" words,
 * fields in TEXT order, for tests and diagnostics: a field the line did
 * not have is left out, an empty one is "-", an unreadable one "?", a cut
 * string ends in "...", and strings are quoted when they hold a space, a
 * quote or a backslash.  Always NUL-terminated, cut at @size.
 *
 * Return: the length the whole line needs (as snprintf()).
 */
size_t st_envoy_req_format(const struct st_envoy_req *req, char *buf,
			   size_t size);

/**
 * st_envoy_missing_format() - the JSON keys of the fields the line did
 * not have, comma-separated ("" when none): what a custom format left
 * out.  Always NUL-terminated.
 */
void st_envoy_missing_format(const struct st_envoy_req *req, char *buf,
			     size_t size);

#endif /* ST_ENVOY_H */
