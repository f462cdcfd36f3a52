#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A local HTTPS stand-in for the Kubernetes API server, for lanner's response tests.

Usage:
    k8s_standin.py --state FILE --token TOKEN --cert PEM --key PEM [--port 0]

Serves HTTPS (HTTP/1.1 keep-alive) on 127.0.0.1:PORT and prints "PORT <n>" as its first stdout
line once it accepts connections. Every API request must carry "Authorization: Bearer TOKEN",
else 401. Errors are `Status` objects as the API server sends them:
    {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":...,
     "reason":"NotFound","details":{"name":..,"group":..,"kind":..},"code":404}

State FILE: {"items": [<full Kubernetes objects>]} (Pod, ReplicaSet, Deployment, StatefulSet,
DaemonSet, NetworkPolicy); small_cluster() below builds the one the tests use.

API paths served (namespaced, and cluster-wide pods):
    /api/v1/pods?fieldSelector=spec.nodeName%3DNODE            GET: PodList (resourceVersion;
        limit=N pages it: metadata.continue, 410 for a continue older than the last expiry);
        with watch=1&resourceVersion=RV[&timeoutSeconds=N]: a watch, chunked JSON lines
        {"type":"ADDED|MODIFIED|DELETED","object":Pod} of changes after RV; RV older than the
        last expiry: one ERROR event (Status 410 Expired) and the end, as the API server does
    /api/v1/namespaces/NS/pods[/NAME]                          GET, PATCH, DELETE (list: GET)
    /api/v1/namespaces/NS/events                               POST
    /apis/apps/v1/namespaces/NS/{replicasets,deployments,statefulsets,daemonsets}[/NAME]
                                                               GET, PATCH
    /apis/apps/v1/namespaces/NS/{replicasets,deployments,statefulsets}/NAME/scale
                                                               GET, PATCH (autoscaling/v1 Scale)
    /apis/networking.k8s.io/v1/namespaces/NS/networkpolicies[/NAME]  GET, POST, DELETE
PATCH accepts application/merge-patch+json and application/strategic-merge-patch+json (for the
maps these tests patch, both merge as RFC 7386); application/json-patch+json (RFC 6902 add,
replace, remove); any other type is 415. A PATCH carrying metadata.resourceVersion that is not
current is 409 Conflict; POST of an existing name is 409 AlreadyExists; a Scale with negative
replicas is 422 Invalid.

Control endpoints (no token needed, not recorded):
    GET  /__standin/state      -> {"items": [...]} as it is now
    GET  /__standin/requests   -> [{"method","path","content_type","body","t_done"}...] API
                               requests seen; t_done: time.time() when it was answered
    POST /__standin/fail       {"method":"PATCH","path":"/apis/...","code":403,"count":1}
                               the next `count` matching requests (count -1: all) fail with a
                               Status of that code (403 Forbidden, 500, 503, 429 ...)
    POST /__standin/delay      {"ms": 5}: wait before every API answer
    POST /__standin/pod-event  {"type":"ADDED|MODIFIED|DELETED","object":Pod}: a pod change as
                               the kubelet/scheduler would make it (status included); watches
                               see it with a new resourceVersion
    POST /__standin/expire     {}: compact the history: every open watch gets ERROR 410 and
                               ends; watching from any earlier resourceVersion is 410 too
Requests also carry "t_start" (time.time() when received). Pod changes made through the API
(POST, PATCH, DELETE) are watch events too.

Python 3 standard library only. Stops on SIGTERM/SIGINT.
"""
import argparse
import base64
import copy
import datetime
import http.server
import json
import re
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

RESOURCES = {
    # plural: (group, version, kind, core)
    "pods": ("", "v1", "Pod"),
    "events": ("", "v1", "Event"),
    "replicasets": ("apps", "v1", "ReplicaSet"),
    "deployments": ("apps", "v1", "Deployment"),
    "statefulsets": ("apps", "v1", "StatefulSet"),
    "daemonsets": ("apps", "v1", "DaemonSet"),
    "networkpolicies": ("networking.k8s.io", "v1", "NetworkPolicy"),
}
PLURAL = {v[2]: k for k, v in RESOURCES.items()}
SCALABLE = ("replicasets", "deployments", "statefulsets")

PATH_RE = re.compile(
    r"^/(?:api/v1|apis/(?P<group>[a-z0-9.]+)/(?P<version>v1))/namespaces/(?P<ns>[a-z0-9-]+)"
    r"/(?P<plural>[a-z]+)(?:/(?P<name>[a-z0-9.-]+)(?:/(?P<sub>scale))?)?$")


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name, ns, labels=None, owner=None, annotations=None):
    m = {"name": name, "namespace": ns, "uid": str(uuid.uuid4()), "resourceVersion": "1",
         "generation": 1, "creationTimestamp": "2026-01-01T00:00:00Z",
         "labels": dict(labels or {})}
    if annotations:
        m["annotations"] = dict(annotations)
    if owner:
        m["ownerReferences"] = [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                 "name": owner["metadata"]["name"],
                                 "uid": owner["metadata"]["uid"], "controller": True,
                                 "blockOwnerDeletion": True}]
    return m


def pod_template(labels):
    return {"metadata": {"labels": dict(labels)},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}


def deployment(ns, name, replicas):
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(name, ns, labels),
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": pod_template(labels)},
            "status": {"replicas": replicas, "readyReplicas": replicas,
                       "availableReplicas": replicas, "updatedReplicas": replicas,
                       "observedGeneration": 1}}


def replicaset(dep, hash_="5d4f8c7b9"):
    ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
    labels = {"app": name, "pod-template-hash": hash_}
    n = dep["spec"]["replicas"]
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": meta("%s-%s" % (name, hash_), ns, labels, dep,
                             {"deployment.kubernetes.io/revision": "1"}),
            "spec": {"replicas": n, "selector": {"matchLabels": labels},
                     "template": pod_template(labels)},
            "status": {"replicas": n, "readyReplicas": n, "availableReplicas": n,
                       "fullyLabeledReplicas": n, "observedGeneration": 1}}


def statefulset(ns, name, replicas):
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta(name, ns, labels),
            "spec": {"replicas": replicas, "serviceName": name,
                     "selector": {"matchLabels": labels}, "template": pod_template(labels)},
            "status": {"replicas": replicas, "readyReplicas": replicas,
                       "availableReplicas": replicas, "currentReplicas": replicas}}


def daemonset(ns, name):
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta(name, ns, labels),
            "spec": {"selector": {"matchLabels": labels}, "template": pod_template(labels)},
            "status": {"desiredNumberScheduled": 1, "numberReady": 1,
                       "currentNumberScheduled": 1, "numberAvailable": 1}}


def pod(ns, name, owner=None, labels=None):
    lb = dict(labels or (owner["spec"]["template"]["metadata"]["labels"] if owner else
                         {"run": name}))
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta(name, ns, lb, owner),
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}],
                     "nodeName": "node-1", "restartPolicy": "Always",
                     "terminationGracePeriodSeconds": 30},
            "status": {"phase": "Running", "podIP": "10.0.0.%d" % (hash(name) % 250 + 2),
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def small_cluster(extra_deployments=0):
    """shop/web (Deployment, 3 replicas, pod web-5d4f8c7b9-abcde), shop/db (StatefulSet, pod
    db-0), shop/agent (DaemonSet, pod agent-x1), shop/debug (standalone pod), kube-system/coredns
    (Deployment, pod coredns-5d4f8c7b9-kube1), and extra Deployments bench/app-N with one pod
    app-N-5d4f8c7b9-p each."""
    items = []

    def add_deploy(ns, name, n, podname):
        d = deployment(ns, name, n)
        rs = replicaset(d)
        items.extend([d, rs, pod(ns, podname, rs)])

    add_deploy("shop", "web", 3, "web-5d4f8c7b9-abcde")
    add_deploy("kube-system", "coredns", 2, "coredns-5d4f8c7b9-kube1")
    ss = statefulset("shop", "db", 1)
    ds = daemonset("shop", "agent")
    items.extend([ss, pod("shop", "db-0", ss), ds, pod("shop", "agent-x1", ds),
                  pod("shop", "debug")])
    for i in range(extra_deployments):
        add_deploy("bench", "app-%d" % i, 2, "app-%d-5d4f8c7b9-p" % i)
    return {"items": items}


def status(code, reason, message, name=None, group=None, kind=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason, "code": code}
    if name is not None or kind is not None:
        d = {}
        if name is not None:
            d["name"] = name
        if group:
            d["group"] = group
        if kind:
            d["kind"] = kind
        s["details"] = d
    return s


REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
           405: "MethodNotAllowed", 409: "Conflict", 415: "UnsupportedMediaType",
           422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
           503: "ServiceUnavailable"}


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target


def json_pointer(doc, ptr):
    parts = [p.replace("~1", "/").replace("~0", "~") for p in ptr.split("/")[1:]]
    for p in parts[:-1]:
        doc = doc[int(p)] if isinstance(doc, list) else doc[p]
    return doc, parts[-1]


def json_patch(doc, ops):
    for op in ops:
        parent, key = json_pointer(doc, op["path"])
        if isinstance(parent, list):
            key = len(parent) if key == "-" else int(key)
        if op["op"] in ("add", "replace"):
            if isinstance(parent, list) and op["op"] == "add":
                parent.insert(key, op["value"])
            else:
                if op["op"] == "replace" and isinstance(parent, dict) and key not in parent:
                    raise KeyError(op["path"])
                parent[key] = op["value"]
        elif op["op"] == "remove":
            del parent[key]
        else:
            raise ValueError("unsupported op %s" % op["op"])
    return doc


class Cluster:
    def __init__(self, state):
        self.lock = threading.Lock()
        self.objects = {}
        self.requests = []
        self.faults = []
        self.delay_ms = 0
        self.rv = 100
        self.cond = threading.Condition(self.lock)
        self.pod_events = []  # (rv, type, pod) after self.compacted
        self.compacted = 0
        for o in state.get("items", []):
            key = (PLURAL[o["kind"]], o["metadata"]["namespace"], o["metadata"]["name"])
            self.objects[key] = o

    def dump(self):
        return {"items": list(self.objects.values())}

    def bump(self, o, spec_changed):
        self.rv += 1
        o["metadata"]["resourceVersion"] = str(self.rv)
        if spec_changed:
            o["metadata"]["generation"] = o["metadata"].get("generation", 1) + 1

    def pod_event(self, type_, pod):
        """A watch event for a pod change (lock held); returns the pod as stored."""
        self.rv += 1
        pod = copy.deepcopy(pod)
        pod["metadata"]["resourceVersion"] = str(self.rv)
        key = ("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
        if type_ == "DELETED":
            self.objects.pop(key, None)
        else:
            self.objects[key] = pod
        self.pod_events.append((self.rv, type_, copy.deepcopy(pod)))
        self.cond.notify_all()
        return pod

    def expire(self):
        self.rv += 1
        self.compacted = self.rv
        self.pod_events = []
        self.cond.notify_all()

    def fault(self, method, path):
        for f in self.faults:
            if f["count"] != 0 and f.get("method", method) == method and \
                    f.get("path", path) == path:
                if f["count"] > 0:
                    f["count"] -= 1
                return f["code"]
        return 0


def scale_of(o, plural):
    m = o["metadata"]
    sel = o["spec"].get("selector", {}).get("matchLabels", {})
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
                         "resourceVersion": m["resourceVersion"],
                         "creationTimestamp": m["creationTimestamp"]},
            "spec": {"replicas": o["spec"].get("replicas", 1)},
            "status": {"replicas": o.get("status", {}).get("replicas", 0),
                       "selector": ",".join("%s=%s" % kv for kv in sorted(sel.items()))}}


def set_replicas(o, n):
    o["spec"]["replicas"] = n
    st = o.setdefault("status", {})
    for k in ("replicas", "readyReplicas", "availableReplicas", "updatedReplicas",
              "currentReplicas", "fullyLabeledReplicas"):
        if k in st or k in ("replicas", "readyReplicas", "availableReplicas"):
            st[k] = n


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "k8s-standin/1"

    def setup(self):
        # headers and body go out as separate writes: without TCP_NODELAY, Nagle plus the
        # client's delayed ACK adds ~40 ms to every answer
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request.settimeout(30)
        try:
            self.request.do_handshake()
        except (OSError, ssl.SSLError):
            pass  # handle() then sees the broken connection and ends
        super().setup()

    def log_message(self, *args):
        pass

    def send_json(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def fail(self, code, message, **details):
        self.send_json(code, status(code, REASONS.get(code, "Unknown"), message, **details))

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def do_PUT(self):
        self.handle_any("PUT")

    def handle_any(self, method):
        cl = self.server.cluster
        raw = self.body()
        path, _, query = self.path.partition("?")
        if path.startswith("/__standin/"):
            return self.control(method, path, raw)
        if cl.delay_ms:
            time.sleep(cl.delay_ms / 1000.0)
        with cl.lock:
            rec = {"method": method, "path": self.path, "t_start": time.time(),
                   "content_type": self.headers.get("Content-Type"),
                   "body": raw.decode("utf-8", "replace") if raw else None}
            cl.requests.append(rec)
            try:
                self.locked_api(cl, method, path, query, raw)
            finally:
                rec["t_done"] = time.time()  # answered (benchmarks: alert -> PATCH done)

    def locked_api(self, cl, method, path, query, raw):
        if self.headers.get("Authorization") != "Bearer " + self.server.token:
            return self.fail(401, "Unauthorized")
        if path == "/api/v1/pods":
            code = cl.fault(method, path)
            if code:
                return self.fail(code, "injected failure %d" % code)
            if method != "GET":
                return self.fail(405, "method not allowed")
            return self.all_pods(cl, urllib.parse.parse_qs(query))
        m = PATH_RE.match(path)
        if not m or m.group("plural") not in RESOURCES:
            return self.fail(404, "the server could not find the requested resource")
        code = cl.fault(method, path)
        if code:
            return self.injected(code, method, m)
        try:
            self.api(method, m, query, raw)
        except (ValueError, KeyError, IndexError, TypeError) as e:
            self.fail(400, "invalid request: %s" % e)

    def all_pods(self, cl, q):
        """Cluster-wide pods: list, or watch (lock held; a watch waits on cl.cond)."""
        node = None
        for sel in q.get("fieldSelector", []):
            for term in sel.split(","):
                k, _, v = term.partition("=")
                if k == "spec.nodeName":
                    node = v
                elif term:
                    return self.fail(400, "field label not supported: %s" % k)

        def mine(p):
            return node is None or p.get("spec", {}).get("nodeName") == node

        if q.get("watch", ["0"])[0] not in ("1", "true"):
            items = sorted((o for (p, _, _), o in cl.objects.items() if p == "pods" and mine(o)),
                           key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))
            rv, start = cl.rv, 0
            if q.get("continue"):
                tok = json.loads(base64.urlsafe_b64decode(q["continue"][0]).decode())
                rv, start = tok["rv"], tok["start"]
                if rv < cl.compacted:
                    return self.fail(410, "The provided continue parameter is too old to "
                                     "display a consistent list result. You can start a new "
                                     "list without the continue parameter.")
            md = {"resourceVersion": str(rv)}
            limit = int(q.get("limit", ["0"])[0] or 0)
            page = items[start:start + limit] if limit > 0 else items[start:]
            if limit > 0 and start + limit < len(items):
                md["continue"] = base64.urlsafe_b64encode(json.dumps(
                    {"rv": rv, "start": start + limit}).encode()).decode()
                md["remainingItemCount"] = len(items) - start - limit
            return self.send_json(200, {"kind": "PodList", "apiVersion": "v1",
                                        "metadata": md, "items": page})
        since = int(q.get("resourceVersion", [str(cl.rv)])[0] or cl.rv)
        deadline = time.monotonic() + int(q.get("timeoutSeconds", ["1800"])[0])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(obj):
            data = (json.dumps(obj) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        try:
            while True:
                if since < cl.compacted:
                    chunk({"type": "ERROR", "object": status(
                        410, "Expired", "too old resource version: %d (%d)" %
                        (since, cl.compacted))})
                    break
                for rv, type_, pod in cl.pod_events:
                    if rv > since:
                        since = rv
                        if mine(pod):
                            chunk({"type": type_, "object": pod})
                left = deadline - time.monotonic()
                if left <= 0 or getattr(self.server, "stopping", False):
                    break
                cl.cond.wait(min(left, 1.0))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        return None

    def injected(self, code, method, m):
        plural, name, ns = m.group("plural"), m.group("name"), m.group("ns")
        group = RESOURCES[plural][0]
        res = plural + ("/" + m.group("sub") if m.group("sub") else "")
        if code == 403:
            msg = ('%s%s "%s" is forbidden: User "system:serviceaccount:lanner:lanner" cannot '
                   '%s resource "%s" in API group "%s" in the namespace "%s"' %
                   (plural, "." + group if group else "", name or "", method.lower(), res,
                    group, ns))
            return self.fail(403, msg, name=name, group=group, kind=plural)
        if code == 429:
            self.send_response(429)
            data = json.dumps(status(429, "TooManyRequests", "too many requests")).encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return None
        return self.fail(code, "injected failure %d" % code)

    def api(self, method, m, query, raw):
        cl = self.server.cluster
        plural, ns, name, sub = m.group("plural"), m.group("ns"), m.group("name"), m.group("sub")
        group, version, kind = RESOURCES[plural]
        if (m.group("group") or "") != group:
            return self.fail(404, "the server could not find the requested resource")
        gk = plural + ("." + group if group else "")
        key = (plural, ns, name)
        if name is None:
            if method == "GET":
                items = [o for (p, n, _), o in cl.objects.items() if p == plural and n == ns]
                sel = dict(x.split("=", 1) for x in re.findall(r"labelSelector=([^&]*)", query)
                           [0].replace("%3D", "=").replace("%2C", ",").split(",") if x) \
                    if "labelSelector=" in query else {}
                items = [o for o in items
                         if all(o["metadata"].get("labels", {}).get(k) == v
                                for k, v in sel.items())]
                return self.send_json(200, {"kind": kind + "List",
                                            "apiVersion": (group + "/" if group else "") +
                                            version,
                                            "metadata": {"resourceVersion": str(cl.rv)},
                                            "items": items})
            if method == "POST":
                obj = json.loads(raw)
                if obj.get("kind") != kind:
                    return self.fail(400, "the body kind %r does not match %s" %
                                     (obj.get("kind"), kind))
                oname = obj.get("metadata", {}).get("name")
                if not oname:
                    return self.fail(422, '%s "" is invalid: metadata.name: Required value'
                                     % kind, kind=kind)
                if (plural, ns, oname) in cl.objects:
                    self.send_json(409, status(409, "AlreadyExists", '%s "%s" already exists'
                                               % (gk, oname), name=oname, group=group,
                                               kind=plural))
                    return None
                md = obj.setdefault("metadata", {})
                md.setdefault("namespace", ns)
                if md["namespace"] != ns:
                    return self.fail(400, "the namespace of the provided object does not "
                                     "match the namespace sent on the request")
                md["uid"] = str(uuid.uuid4())
                md["creationTimestamp"] = now_rfc3339()
                md["generation"] = 1
                obj["apiVersion"] = (group + "/" if group else "") + version
                cl.bump(obj, False)
                if plural == "pods":
                    obj = cl.pod_event("ADDED", obj)
                elif plural != "events":
                    cl.objects[(plural, ns, oname)] = obj
                return self.send_json(201, obj)
            return self.fail(405, "method not allowed")
        o = cl.objects.get(key)
        if o is None:
            return self.fail(404, '%s "%s" not found' % (gk, name), name=name, group=group,
                             kind=plural)
        if sub == "scale":
            if plural not in SCALABLE:
                return self.fail(404, "the server could not find the requested resource")
            if method == "GET":
                return self.send_json(200, scale_of(o, plural))
            if method in ("PATCH", "PUT"):
                sc = scale_of(o, plural)
                new = self.apply(sc, raw, method)
                if new is None:
                    return None
                rv = new.get("metadata", {}).get("resourceVersion")
                if rv != o["metadata"]["resourceVersion"] and \
                        (method == "PUT" or rv != sc["metadata"]["resourceVersion"]):
                    return self.conflict(gk, name)
                n = new.get("spec", {}).get("replicas")
                if not isinstance(n, int) or n < 0:
                    return self.fail(422, 'Scale.autoscaling "%s" is invalid: spec.replicas: '
                                     'Invalid value: %s: must be greater than or equal to 0'
                                     % (name, json.dumps(n)), name=name,
                                     group="autoscaling", kind="Scale")
                set_replicas(o, n)
                cl.bump(o, True)
                return self.send_json(200, scale_of(o, plural))
            return self.fail(405, "method not allowed")
        if method == "GET":
            return self.send_json(200, o)
        if method == "PATCH":
            before = json.dumps(o.get("spec"), sort_keys=True)
            new = self.apply(copy.deepcopy(o), raw, method)
            if new is None:
                return None
            if new["metadata"].get("resourceVersion") != o["metadata"]["resourceVersion"]:
                return self.conflict(gk, name)
            if new["metadata"].get("name") != name or new.get("kind") != kind:
                return self.fail(422, "%s \"%s\" is invalid: metadata.name: field is "
                                 "immutable" % (kind, name), name=name, kind=kind)
            cl.objects[key] = new
            cl.bump(new, before != json.dumps(new.get("spec"), sort_keys=True))
            if plural == "pods":
                new = cl.pod_event("MODIFIED", new)
            return self.send_json(200, new)
        if method == "DELETE":
            del cl.objects[key]
            o = copy.deepcopy(o)
            o["metadata"]["deletionTimestamp"] = now_rfc3339()
            gp = re.search(r"gracePeriodSeconds=(\d+)", query)
            if raw:
                opts = json.loads(raw)
                if "gracePeriodSeconds" in opts:
                    gp = re.match(r"(\d+)", str(opts["gracePeriodSeconds"]))
            o["metadata"]["deletionGracePeriodSeconds"] = int(gp.group(1)) if gp else \
                o["spec"].get("terminationGracePeriodSeconds", 30)
            if plural == "pods":
                cl.pod_event("DELETED", o)
            return self.send_json(200, o)
        return self.fail(405, "method not allowed")

    def conflict(self, gk, name):
        return self.fail(409, 'Operation cannot be fulfilled on %s "%s": the object has been '
                         'modified; please apply your changes to the latest version and try '
                         'again' % (gk, name), name=name, kind=gk.split(".")[0])

    def apply(self, doc, raw, method):
        ct = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        try:
            body = json.loads(raw)
        except ValueError as e:
            self.fail(400, "error decoding patch: %s" % e)
            return None
        if method == "PUT":
            return body
        if ct in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            if not isinstance(body, dict):
                self.fail(400, "a merge patch must be a JSON object")
                return None
            return merge_patch(doc, body)
        if ct == "application/json-patch+json":
            try:
                return json_patch(doc, body)
            except (KeyError, IndexError, ValueError) as e:
                self.fail(422, "the server rejected our request due to an error in our "
                          "request: %s" % e)
                return None
        self.send_json(415, status(415, "UnsupportedMediaType",
                                   "the body of the request was in an unknown format - "
                                   "accepted media types include: application/json-patch+json"
                                   ", application/merge-patch+json, application/apply-patch+"
                                   "yaml, application/strategic-merge-patch+json"))
        return None

    def control(self, method, path, raw):
        cl = self.server.cluster
        with cl.lock:
            if method == "GET" and path == "/__standin/state":
                return self.send_json(200, cl.dump())
            if method == "GET" and path == "/__standin/requests":
                return self.send_json(200, cl.requests)
            if method == "POST" and path == "/__standin/fail":
                f = json.loads(raw)
                f.setdefault("count", 1)
                cl.faults.append(f)
                return self.send_json(200, {"ok": True})
            if method == "POST" and path == "/__standin/delay":
                cl.delay_ms = json.loads(raw).get("ms", 0)
                return self.send_json(200, {"ok": True})
            if method == "POST" and path == "/__standin/pod-event":
                ev = json.loads(raw)
                if ev.get("type") not in ("ADDED", "MODIFIED", "DELETED"):
                    return self.fail(400, "type must be ADDED, MODIFIED or DELETED")
                return self.send_json(200, cl.pod_event(ev["type"], ev["object"]))
            if method == "POST" and path == "/__standin/expire":
                cl.expire()
                return self.send_json(200, {"ok": True, "compacted": cl.compacted})
        return self.fail(404, "no such control endpoint")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


class StandIn:
    """Start the stand-in in a subprocess with a fresh self-signed certificate (openssl) for
    127.0.0.1; `ca` is the certificate to trust, `url` the server. close() stops it."""

    def __init__(self, tmp, state, token="lanner-test-token"):
        import os
        import subprocess
        self.tmp, self.token = tmp, token
        self.ca = os.path.join(tmp, "standin-cert.pem")
        self.key = os.path.join(tmp, "standin-key.pem")
        if not os.path.exists(self.ca):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", self.key, "-out", self.ca, "-days", "2",
                            "-subj", "/CN=127.0.0.1", "-addext",
                            "subjectAltName=IP:127.0.0.1"],
                           check=True, capture_output=True)
        self.state_file = os.path.join(tmp, "standin-state-%d.json" % time.monotonic_ns())
        with open(self.state_file, "w", encoding="utf-8") as f:
            json.dump(state, f)
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--state", self.state_file, "--token", token,
             "--cert", self.ca, "--key", self.key], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.close()
            raise RuntimeError("stand-in did not start: %r" % line)
        self.port = int(line.split()[1])
        self.url = "https://127.0.0.1:%d" % self.port

    def _call(self, method, path, body=None):
        import http.client
        ctx = ssl.create_default_context(cafile=self.ca)
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=10)
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = json.loads(r.read() or b"null")
        c.close()
        return data

    def state(self):
        return self._call("GET", "/__standin/state")

    def get(self, plural, ns, name):
        for o in self.state()["items"]:
            if PLURAL[o["kind"]] == plural and o["metadata"]["namespace"] == ns and \
                    o["metadata"]["name"] == name:
                return o
        return None

    def requests(self):
        return self._call("GET", "/__standin/requests")

    def pod_event(self, type_, pod):
        return self._call("POST", "/__standin/pod-event", {"type": type_, "object": pod})

    def expire(self):
        return self._call("POST", "/__standin/expire", {})

    def inject(self, code, method=None, path=None, count=1):
        f = {"code": code, "count": count}
        if method:
            f["method"] = method
        if path:
            f["path"] = path
        return self._call("POST", "/__standin/fail", f)

    def kubeconfig(self, path, token=None):
        with open(path, "w", encoding="utf-8") as f:
            f.write("apiVersion: v1\nkind: Config\ncurrent-context: test\n"
                    "clusters:\n- name: standin\n  cluster:\n    server: %s\n"
                    "    certificate-authority: %s\n"
                    "users:\n- name: lanner\n  user:\n    token: %s\n"
                    "contexts:\n- name: test\n  context:\n    cluster: standin\n"
                    "    user: lanner\n" % (self.url, self.ca, token or self.token))
        return path

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except Exception:  # noqa: BLE001 - last resort on a stuck child we started
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--state", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    with open(args.state, encoding="utf-8") as f:
        state = json.load(f)
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.cluster = Cluster(state)
    srv.token = args.token
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    # The handshake runs in the connection's thread (Handler.setup), not in the accept loop, so
    # one slow client cannot hold up every other connection.
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)

    def stop(*_):
        srv.stopping = True
        with srv.cluster.lock:
            srv.cluster.cond.notify_all()
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
