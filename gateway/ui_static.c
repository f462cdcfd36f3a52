// SPDX-License-Identifier: Apache-2.0
/*
 * Static files of the web UI under /ui/ (docs/ui-api.md): served from the table embedded at
 * build time, so a single lanner binary carries its pages and nothing is read from disk.
 * Exact names only (no path is ever joined to a directory: no traversal), 404 for the rest,
 * ETag revalidation, year-long caching for content-hashed assets and a strict
 * Content-Security-Policy (everything from this origin: no request leaves the machine).
 */
#include <errno.h>
#include <string.h>

#include "config/log.h"
#include "gateway/gateway.h"
#include "gateway/http_server.h"
#include "gateway/pipeline.h"
#include "gateway/ui_static.h"

#define UI_PREFIX "/ui/"

static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
			  "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
			  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
			  "form-action 'self'";

const struct ui_asset *ui_asset_find(const char *path)
{
	const struct ui_asset *a;

	if (!*path)
		path = "index.html";
	for (a = lanner_ui_assets; a->path; a++)
		if (!strcmp(a->path, path))
			return a;
	return NULL;
}

const char *ui_content_type(const char *path)
{
	static const struct {
		const char *ext;
		const char *type;
	} types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".mjs", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".json", "application/json" },
		{ ".map", "application/json" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
		{ ".ico", "image/x-icon" },
		{ ".woff2", "font/woff2" },
		{ ".txt", "text/plain; charset=utf-8" },
	};
	const char *dot = strrchr(path, '.');

	if (dot && !strchr(dot, '/')) {
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (!strcmp(dot, types[i].ext))
				return types[i].type;
	}
	return "application/octet-stream";
}

/* If-None-Match holds the asset's ETag (a list, or "*"). */
static bool not_modified(struct http_req *r, const struct ui_asset *a)
{
	size_t len, n = strlen(a->etag);
	const char *v = http_req_header(r, "if-none-match", &len);

	if (!v)
		return false;
	if (len == 1 && v[0] == '*')
		return true;
	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(v + i, a->etag, n))
			return true;
	return false;
}

static void on_file(void *data, struct http_req *r)
{
	const char *path = http_req_path(r);
	const struct ui_asset *a;
	const char *headers[12];
	size_t n = 0;

	a = strncmp(path, UI_PREFIX, strlen(UI_PREFIX)) ? NULL :
							  ui_asset_find(path + strlen(UI_PREFIX));
	if (!a) {
		static const char msg[] = "not found\n";

		http_reply(r, 404, "text/plain; charset=utf-8", msg, sizeof(msg) - 1);
		return;
	}
	headers[n++] = "Cache-Control";
	headers[n++] = a->immutable ? "public, max-age=31536000, immutable" : "no-cache";
	headers[n++] = "ETag";
	headers[n++] = a->etag;
	headers[n++] = "X-Content-Type-Options";
	headers[n++] = "nosniff";
	headers[n++] = "Referrer-Policy";
	headers[n++] = "no-referrer";
	headers[n++] = "Content-Security-Policy";
	headers[n++] = csp;
	headers[n++] = "X-Frame-Options";
	headers[n++] = "DENY";
	if (not_modified(r, a)) {
		http_reply_headers(r, 304, NULL, headers, n / 2, NULL, 0);
		return;
	}
	http_reply_headers(r, 200, ui_content_type(a->path), headers, n / 2, (const char *)a->data,
			   a->len);
}

static void on_redirect(void *data, struct http_req *r)
{
	static const char *const headers[] = { "Location", UI_PREFIX };
	static const char msg[] = "see /ui/\n";

	http_reply_headers(r, 301, "text/plain; charset=utf-8", headers, 1, msg, sizeof(msg) - 1);
}

int ui_static_register(struct gateway *g)
{
	static const char *const methods[] = { "GET", "HEAD" };
	int err;

	if (!pipeline_sink_find(g->pipeline, "ui"))
		return 0;
	err = http_server_public_prefix(g->http, "/ui");
	for (size_t m = 0; !err && m < 2; m++) {
		err = http_server_route_prefix(g->http, methods[m], UI_PREFIX, on_file, g);
		if (!err)
			err = http_server_route(g->http, methods[m], "/ui", on_redirect, g);
	}
	if (!err)
		log_info("web UI on /ui/ (%s)", lanner_ui_origin);
	return err;
}
