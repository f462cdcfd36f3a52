// SPDX-License-Identifier: Apache-2.0
/*
 * sink_server: the webhook end of the outputs benchmark (outputs_bench.sh). An h2o-on-libuv
 * HTTP/1.1 server (keep-alive) that answers 200 to every POST or PUT on any path and counts the
 * bodies it received; GET /count answers "<bodies> <bytes> <connections accepted>\n". Much
 * faster than the Python receiver of the integration tests, so the benchmark measures lanner,
 * not its receiver.
 *
 *	sink_server [PORT]	(0 or none: a free port; the port is printed on stdout)
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <h2o.h>

static h2o_globalconf_t config;
static h2o_context_t ctx;
static h2o_accept_ctx_t accept_ctx;
static uint64_t bodies;
static uint64_t body_bytes;
static uint64_t connections;

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
	static const char ok[] = "{}\n";
	char buf[64];
	int n;

	(void)self;
	if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
	    h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/count"))) {
		n = snprintf(buf, sizeof(buf), "%llu %llu %llu\n", (unsigned long long)bodies,
			     (unsigned long long)body_bytes, (unsigned long long)connections);
		req->res.status = 200;
		req->res.reason = "OK";
		req->res.content_length = (size_t)n;
		/* h2o_send_inline copies the body into the request's pool. */
		h2o_send_inline(req, buf, (size_t)n);
		return 0;
	}
	if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")) &&
	    !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("PUT")))
		return -1;
	bodies++;
	body_bytes += req->entity.len;
	req->res.status = 200;
	req->res.reason = "OK";
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
		       H2O_STRLIT("application/json"));
	req->res.content_length = sizeof(ok) - 1;
	h2o_send_inline(req, ok, sizeof(ok) - 1);
	return 0;
}

static void on_close(uv_handle_t *h)
{
	free(h);
}

static void on_connection(uv_stream_t *listener, int status)
{
	uv_tcp_t *conn;

	if (status < 0)
		return;
	conn = h2o_mem_alloc(sizeof(*conn));
	uv_tcp_init(listener->loop, conn);
	if (uv_accept(listener, (uv_stream_t *)conn) != 0) {
		uv_close((uv_handle_t *)conn, on_close);
		return;
	}
	connections++;
	uv_tcp_nodelay(conn, 1);
	h2o_accept(&accept_ctx, h2o_uv_socket_create((uv_stream_t *)conn, on_close));
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	struct sockaddr_in addr;
	h2o_hostconf_t *host;
	h2o_handler_t *handler;
	uv_tcp_t listener;
	uv_loop_t loop;
	int err, len = sizeof(ss);

	signal(SIGPIPE, SIG_IGN);
	h2o_config_init(&config);
	host = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	handler = h2o_create_handler(h2o_config_register_path(host, "/", 0), sizeof(*handler));
	handler->on_req = on_req;

	uv_loop_init(&loop);
	h2o_context_init(&ctx, &loop, &config);
	accept_ctx.ctx = &ctx;
	accept_ctx.hosts = config.hosts;

	uv_tcp_init(&loop, &listener);
	uv_ip4_addr("127.0.0.1", argc > 1 ? atoi(argv[1]) : 0, &addr);
	err = uv_tcp_bind(&listener, (struct sockaddr *)&addr, 0);
	if (!err)
		err = uv_listen((uv_stream_t *)&listener, 1024, on_connection);
	if (!err)
		err = uv_tcp_getsockname(&listener, (struct sockaddr *)&ss, &len);
	if (err) {
		fprintf(stderr, "sink_server: listen: %s\n", uv_strerror(err));
		return 1;
	}
	printf("%d\n", ntohs(((struct sockaddr_in *)&ss)->sin_port));
	fflush(stdout);
	uv_run(&loop, UV_RUN_DEFAULT);
	return 0;
}
