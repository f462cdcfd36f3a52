#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Local HTTP receiver for lanner's tests: records every request, answers as scripted.

Usage:
    receiver.py --out FILE [--bind 127.0.0.1] [--port 0]
                [--fail-first N] [--status-429-first N --retry-after S [--retry-after-date]]
                [--delay-ms D] [--status CODE] [--response-bytes B]
                [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]]
                [--bulk [--bulk-item RULE=STATUS[:TIMES] ...]]

Starts an HTTP/1.1 (keep-alive) server on BIND:PORT (port 0 = any free port) and prints
"PORT <n>" as its first stdout line, flushed, once it accepts connections.

Every request other than the control endpoints is appended to FILE as one JSON line:
    {"n": 1, "conn": 1, "method": "POST", "path": "/", "headers": [["Host", "..."], ...],
     "body": "<utf-8 text>" | null, "body_b64": "<base64>" (when not UTF-8),
     "status": 200}
"n" numbers requests from 1, "conn" numbers TCP connections from 1 (keep-alive reuse shows as
several requests with the same conn), "status" is what the receiver answered.

Behaviour, applied in this order to request number n:
    --fail-first N          n <= N: answer 500
    --status-429-first N    next N requests: answer 429 with "Retry-After: S"
                            (--retry-after-date: as an HTTP-date S seconds ahead)
    --status CODE           otherwise answer CODE (default 200)
    --delay-ms D            wait D ms before every answer
    --response-bytes B      answer bodies of B bytes ("x" repeated) instead of a short text

Elasticsearch bulk (--bulk): a POST whose path starts with /_bulk is answered 200 with a bulk
response, one item per action line ({"create": {"status": 201}}), as Elasticsearch does.
--bulk-item RULE=STATUS[:TIMES] answers STATUS (with an error type and reason) for the documents
whose "rule" is RULE, the first TIMES times (default: always); 409 answers as a version conflict.

TLS: --tls-cert/--tls-key serve HTTPS; --tls-client-ca also requires a client certificate
signed by that CA (mutual TLS), and each record then has "client_cn", the client's common name.

Control endpoints (not recorded, never delayed):
    GET /__count        -> number of recorded requests, as text
    GET /__connections  -> number of TCP connections accepted so far, as text

Python 3 standard library only. Stops on SIGTERM/SIGINT.
"""
import argparse
import base64
import email.utils
import http.server
import json
import signal
import ssl
import sys
import threading
import time


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.requests = 0
        self.connections = 0
        self.out = open(args.out, "a", encoding="utf-8")
        self.bulk_items = {}
        for spec in args.bulk_item or []:
            rule, _, rest = spec.rpartition("=")
            code, _, times = rest.partition(":")
            self.bulk_items[rule] = [int(code), int(times) if times else None]

    def next_conn(self):
        with self.lock:
            self.connections += 1
            return self.connections

    def decide(self):
        """Number this request and choose its answer: (n, status, extra headers)."""
        a = self.args
        with self.lock:
            self.requests += 1
            n = self.requests
        if n <= a.fail_first:
            return n, 500, []
        if n <= a.fail_first + a.status_429_first:
            if a.retry_after_date:
                value = email.utils.formatdate(time.time() + a.retry_after, usegmt=True)
            else:
                value = str(a.retry_after)
            return n, 429, [("Retry-After", value)]
        return n, a.status, []

    def bulk_answer(self, body):
        """Elasticsearch's answer to an NDJSON bulk body (create actions)."""
        lines = [ln for ln in body.decode("utf-8").split("\n") if ln]
        items, errors = [], False
        for action, doc in zip(lines[0::2], lines[1::2]):
            op = next(iter(json.loads(action)))
            rule = json.loads(doc).get("rule")
            status = 201
            with self.lock:
                spec = self.bulk_items.get(rule)
                if spec and (spec[1] is None or spec[1] > 0):
                    status = spec[0]
                    if spec[1] is not None:
                        spec[1] -= 1
            item = {"status": status}
            if status >= 300:
                errors = True
                kind = {409: "version_conflict_engine_exception",
                        429: "es_rejected_execution_exception"}.get(
                            status, "document_parsing_exception")
                item["error"] = {"type": kind, "reason": "receiver says %d" % status}
            items.append({op: item})
        return {"errors": errors, "items": items}

    def record(self, rec):
        line = json.dumps(rec, ensure_ascii=False)
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # listen backlog: many clients connect at once

    def handle_error(self, request, client_address):
        # A client that gives up (timeout, shutdown) is part of the tests: stay quiet.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lanner-test-receiver"
    state = None  # set in main()

    def setup(self):
        super().setup()
        self.conn_id = self.state.next_conn()

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length", "0") or "0")
        return self.rfile.read(length) if length > 0 else b""

    def answer(self, status, body, headers=()):
        data = body.encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        body = self.read_body()
        st = self.state
        if self.command == "GET" and self.path == "/__count":
            with st.lock:
                return self.answer(200, str(st.requests))
        if self.command == "GET" and self.path == "/__connections":
            with st.lock:
                return self.answer(200, str(st.connections))
        n, status, extra = st.decide()
        bulk_answer = None
        if st.args.bulk and self.path.startswith("/_bulk") and status == 200:
            bulk_answer = st.bulk_answer(body)
        rec = {
            "t": time.monotonic(),  # when the request arrived (system-wide monotonic clock)
            "n": n,
            "conn": self.conn_id,
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "status": status,
        }
        try:
            rec["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            rec["body"] = None
            rec["body_b64"] = base64.b64encode(body).decode()
        if isinstance(self.connection, ssl.SSLSocket):
            cert = self.connection.getpeercert()
            if cert:
                rec["client_cn"] = dict(x[0] for x in cert["subject"]).get("commonName")
        st.record(rec)
        if st.args.delay_ms > 0:
            time.sleep(st.args.delay_ms / 1000.0)
        if bulk_answer is not None:
            data = json.dumps(bulk_answer)
            return self.answer(200, data, [("X-Elastic-Product", "Elasticsearch")])
        if st.args.response_bytes > 0:
            text = "x" * st.args.response_bytes
        else:
            text = "ok\n" if status < 300 else "receiver says %d\n" % status
        self.answer(status, text, extra)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="JSON lines file of recorded requests")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--status-429-first", type=int, default=0)
    p.add_argument("--retry-after", type=int, default=1)
    p.add_argument("--retry-after-date", action="store_true")
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--response-bytes", type=int, default=0)
    p.add_argument("--bulk", action="store_true")
    p.add_argument("--bulk-item", action="append")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--tls-client-ca")
    args = p.parse_args()

    Handler.state = State(args)
    server = Server((args.bind, args.port), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.tls_client_ca:
            ctx.load_verify_locations(args.tls_client_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
        server.socket = ctx.wrap_socket(server.socket, server_side=True)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
