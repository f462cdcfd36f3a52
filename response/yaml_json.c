// SPDX-License-Identifier: Apache-2.0
#include "response/yaml_json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YJ_MAX_DEPTH 64

struct yj {
	yaml_parser_t parser;
	const char *name;
	char *err;
	size_t errlen;
};

static void yj_error(struct yj *y, const yaml_mark_t *m, const char *what)
{
	snprintf(y->err, y->errlen, "%s:%zu:%zu: %s", y->name, m->line + 1, m->column + 1, what);
}

static json_t *scalar(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	char *end;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(v, len);
	if (!len || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	    !strcmp(v, "NULL"))
		return json_null();
	if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE"))
		return json_true();
	if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE"))
		return json_false();
	if ((v[0] >= '0' && v[0] <= '9') || ((v[0] == '-' || v[0] == '+') && len > 1)) {
		long long n;

		errno = 0;
		n = strtoll(v, &end, 10);
		if (!errno && !*end)
			return json_integer(n);
	}
	return json_stringn(v, len);
}

/* Parse one node whose first event is ev (consumed by the caller's yaml_event_delete). */
static json_t *node(struct yj *y, yaml_event_t *ev, int depth)
{
	json_t *out = NULL, *key = NULL;
	yaml_event_t e;

	if (depth > YJ_MAX_DEPTH) {
		yj_error(y, &ev->start_mark, "nesting too deep");
		return NULL;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		out = scalar(ev);
		if (!out)
			yj_error(y, &ev->start_mark, "out of memory");
		return out;
	case YAML_ALIAS_EVENT:
		yj_error(y, &ev->start_mark, "aliases are not supported");
		return NULL;
	case YAML_SEQUENCE_START_EVENT:
		out = json_array();
		break;
	case YAML_MAPPING_START_EVENT:
		out = json_object();
		break;
	default:
		yj_error(y, &ev->start_mark, "unexpected YAML event");
		return NULL;
	}
	if (!out) {
		yj_error(y, &ev->start_mark, "out of memory");
		return NULL;
	}
	for (;;) {
		json_t *child;

		if (!yaml_parser_parse(&y->parser, &e)) {
			yj_error(y, &y->parser.problem_mark,
				 y->parser.problem ? y->parser.problem : "syntax error");
			goto err;
		}
		if (e.type == YAML_SEQUENCE_END_EVENT || e.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&e);
			break;
		}
		child = node(y, &e, depth + 1);
		if (!child) {
			yaml_event_delete(&e);
			goto err;
		}
		if (json_is_array(out)) {
			json_array_append_new(out, child);
		} else if (!key) {
			if (!json_is_string(child)) {
				/* keys such as 1 or true keep their text; collections are refused */
				json_decref(child);
				child = NULL;
				if (e.type == YAML_SCALAR_EVENT)
					child = json_stringn((const char *)e.data.scalar.value,
							     e.data.scalar.length);
				if (!child) {
					yj_error(y, &e.start_mark, "mapping keys must be scalars");
					yaml_event_delete(&e);
					goto err;
				}
			}
			key = child;
		} else {
			json_object_set_new(out, json_string_value(key), child);
			json_decref(key);
			key = NULL;
		}
		yaml_event_delete(&e);
	}
	json_decref(key);
	return out;
err:
	json_decref(key);
	json_decref(out);
	return NULL;
}

json_t *yaml_json_load_buffer(const char *name, const char *buf, size_t len, char *err,
			      size_t errlen)
{
	struct yj y = { .name = name, .err = err, .errlen = errlen };
	json_t *out = NULL;
	yaml_event_t e;
	bool done = false;

	err[0] = '\0';
	if (!yaml_parser_initialize(&y.parser)) {
		errno = ENOMEM;
		return NULL;
	}
	yaml_parser_set_input_string(&y.parser, (const unsigned char *)buf, len);
	while (!done) {
		if (!yaml_parser_parse(&y.parser, &e)) {
			yj_error(&y, &y.parser.problem_mark,
				 y.parser.problem ? y.parser.problem : "syntax error");
			goto err;
		}
		switch (e.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
			break;
		case YAML_DOCUMENT_END_EVENT:
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			if (out) {
				yj_error(&y, &e.start_mark, "more than one document");
				yaml_event_delete(&e);
				goto err;
			}
			out = node(&y, &e, 0);
			if (!out) {
				yaml_event_delete(&e);
				goto err;
			}
		}
		yaml_event_delete(&e);
	}
	yaml_parser_delete(&y.parser);
	return out ? out : json_null();
err:
	json_decref(out);
	yaml_parser_delete(&y.parser);
	errno = EINVAL;
	return NULL;
}

json_t *yaml_json_load_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	json_t *out;
	int e;

	if (!f) {
		e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		errno = e;
		return NULL;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			char *nb;

			if (cap > (16u << 20)) {
				snprintf(err, errlen, "%s: file too large", path);
				free(buf);
				fclose(f);
				errno = EFBIG;
				return NULL;
			}
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				snprintf(err, errlen, "%s: out of memory", path);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		if (!n)
			break;
		len += n;
	}
	e = ferror(f) ? EIO : 0;
	fclose(f);
	if (e) {
		free(buf);
		snprintf(err, errlen, "%s: read error", path);
		errno = e;
		return NULL;
	}
	out = yaml_json_load_buffer(path, buf ? buf : "", len, err, errlen);
	e = errno;
	free(buf);
	errno = e;
	return out;
}
