// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "config/log.h"
#include "detector/detector.h"
#include "gateway/podwatch.h"
#include "gateway/commands.h"
#include "gateway/gateway.h"
#include "gateway/http_server.h"
#include "gateway/kafka_input.h"
#include "gateway/metrics.h"
#include "gateway/pipeline.h"
#include "gateway/ui_static.h"
#include "response/responder.h"
#include "rules/rules.h"

static const char *const rule_matching_choices[] = { "first", "all", NULL };

static const struct config_option gateway_options[] = {
	{ "listenaddress", CONFIG_STRING, "0.0.0.0",
	  offsetof(struct gateway_settings, listenaddress), 0, 0, NULL, NULL,
	  "address the HTTP server listens on" },
	{ "listenport", CONFIG_INT, "2801", offsetof(struct gateway_settings, listenport), 1, 65535,
	  NULL, NULL, "port the HTTP server listens on" },
	{ "debug", CONFIG_BOOL, "false", offsetof(struct gateway_settings, debug), 0, 0, NULL, NULL,
	  "log debug lines (rejected requests, deliveries)" },
	{ "tlsserver.deploy", CONFIG_BOOL, "false", offsetof(struct gateway_settings, tls_deploy),
	  0, 0, NULL, NULL, "serve HTTPS instead of HTTP" },
	{ "tlsserver.certfile", CONFIG_STRING, NULL,
	  offsetof(struct gateway_settings, tls_certfile), 0, 0, NULL, NULL,
	  "server certificate (PEM)" },
	{ "tlsserver.keyfile", CONFIG_STRING, NULL, offsetof(struct gateway_settings, tls_keyfile),
	  0, 0, NULL, NULL, "server private key (PEM)" },
	{ "tlsserver.mutualtls", CONFIG_BOOL, "false",
	  offsetof(struct gateway_settings, tls_mutual), 0, 0, NULL, NULL,
	  "require a client certificate signed by tlsserver.cacertfile" },
	{ "tlsserver.cacertfile", CONFIG_STRING, NULL,
	  offsetof(struct gateway_settings, tls_cacertfile), 0, 0, NULL, NULL,
	  "CA that signs client certificates (mutual TLS)" },
	{ "http.bearer_token", CONFIG_STRING, NULL, offsetof(struct gateway_settings, bearer_token),
	  0, 0, NULL, NULL,
	  "require 'Authorization: Bearer <token>' on every route but /healthz and /ping" },
	{ "http.max_body", CONFIG_SIZE, "1MiB", offsetof(struct gateway_settings, max_body), 1024,
	  1073741824, NULL, NULL, "largest request body accepted (413 beyond)" },
	{ "shutdown_timeout", CONFIG_DURATION, "10s",
	  offsetof(struct gateway_settings, shutdown_timeout_ms), 0, 3600000, NULL, NULL,
	  "on SIGTERM, how long to keep delivering what is queued" },
	{ "rules_files", CONFIG_STRLIST, NULL, offsetof(struct gateway_settings, rules_files), 0, 0,
	  NULL, NULL, "rule files, loaded in order (default: the embedded rules)" },
	{ "rule_matching", CONFIG_ENUM, "first", offsetof(struct gateway_settings, rule_matching),
	  0, 0, rule_matching_choices, NULL, "alert on the first matching rule, or on all" },
	{ NULL },
};

/* Keys read by sinks through config_get (mutual TLS towards outputs, Falcosidekick's names). */
static const struct config_option mtls_client_options[] = {
	{ "mutualtlsclient.certfile", CONFIG_STRING, NULL, 0, 0, 0, NULL, NULL,
	  "client certificate outputs present when their mutualtls is on" },
	{ "mutualtlsclient.keyfile", CONFIG_STRING, NULL, 0, 0, 0, NULL, NULL,
	  "client private key for mutual TLS" },
	{ "mutualtlsclient.cacertfile", CONFIG_STRING, NULL, 0, 0, 0, NULL, NULL,
	  "CA used to verify outputs' servers under mutual TLS" },
	{ NULL },
};

struct run_args {
	const char *config_file;
	const char **rules;
	size_t n_rules;
	const char **overrides;
	size_t n_overrides;
	bool dry_run;
	bool help_config;
	const char *capture; /* --capture FILE: the detector's decoded events as JSON lines */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lanner [-c FILE] [-r RULES_FILE]... [-o KEY=VALUE]... [--dry-run]\n"
		"       lanner rules validate FILE...\n"
		"       lanner rules list [-r FILE]...\n"
		"       lanner fields [--source NAME]\n"
		"       lanner replay [-r FILE]... [--source NAME] EVENTS.jsonl\n"
		"       lanner spool stats [-c FILE] [--path SPOOL.db]\n"
		"       lanner response restore NS/NAME [--statefulset] | response check [FILE]\n"
		"       lanner --version | --help | --help-config\n"
		"\n"
		"  -c, --config FILE     YAML configuration (Falcosidekick keys + lanner's)\n"
		"  -r, --rules FILE      rules file; repeat to load several, in order\n"
		"  -o, --option K=V      override one configuration key (after file and env)\n"
		"      --dry-run         check configuration and rules, start nothing\n"
		"      --capture FILE    write the detector's decoded events as JSON lines\n"
		"                        (lanner replay reads them back)\n"
		"      --help-config     list every configuration key, its default and env var\n"
		"  -V, --version         print the version\n"
		"  -h, --help            this text\n");
}

static int append(const char ***v, size_t *n, const char *s)
{
	const char **nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -ENOMEM;
	nv[(*n)++] = s;
	*v = nv;
	return 0;
}

/* 0 to go on, 1 when done (help printed), 2 on a usage error. */
static int parse_args(int argc, char **argv, struct run_args *a)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "rules", required_argument, NULL, 'r' },
		{ "option", required_argument, NULL, 'o' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help-config", no_argument, NULL, 'C' },
		{ "capture", required_argument, NULL, 'P' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:r:o:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a->config_file = optarg;
			break;
		case 'r':
			if (append(&a->rules, &a->n_rules, optarg))
				return 2;
			break;
		case 'o':
			if (!strchr(optarg, '=')) {
				fprintf(stderr, "lanner: -o %s: expected KEY=VALUE\n", optarg);
				return 2;
			}
			if (append(&a->overrides, &a->n_overrides, optarg))
				return 2;
			break;
		case 'n':
			a->dry_run = true;
			break;
		case 'C':
			a->help_config = true;
			break;
		case 'P':
			a->capture = optarg;
			break;
		case 'V':
			printf("lanner %s\n", LANNER_VERSION);
			return 1;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "lanner: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return 0;
}

/* ---- detector (owner: detector; the eBPF detector thread, see detector/detector.h) ---- */

struct detector_settings {
	bool enabled;
	bool required;
	bool drop_failed;
	bool precise_time;
	bool fast_user_reads;
	int64_t queue_len;
	int64_t max_procs;
	uint64_t ringbuf_bytes;
	int64_t internal_alert_interval_ms;
};

static const struct config_option detector_options[] = {
	{ "detector.enabled", CONFIG_BOOL, "true", offsetof(struct detector_settings, enabled), 0,
	  0, NULL, NULL,
	  "watch this node's system calls with eBPF and alert on the syscall rules (off: a pure "
	  "gateway)" },
	{ "detector.required", CONFIG_BOOL, "false", offsetof(struct detector_settings, required),
	  0, 0, NULL, NULL,
	  "refuse to start when the kernel refuses the detector (else run as a pure gateway)" },
	{ "detector.drop_failed", CONFIG_BOOL, "false",
	  offsetof(struct detector_settings, drop_failed), 0, 0, NULL, NULL,
	  "drop failed system calls in the kernel (rules on failed opens then never match)" },
	{ "detector.precise_time", CONFIG_BOOL, "false",
	  offsetof(struct detector_settings, precise_time), 0, 0, NULL, NULL,
	  "stamp each event in the kernel (~80 ns more per event; off: the detector dates each "
	  "event between two of its ring-buffer drains, within 10 ms idle, closer under load)" },
	{ "detector.fast_user_reads", CONFIG_BOOL, "true",
	  offsetof(struct detector_settings, fast_user_reads), 0, 0, NULL, NULL,
	  "read paths and other user strings through the kernel's direct map (~100 ns less per "
	  "path; checked at start, and left off with a warning when the check fails; off: the BPF "
	  "helper reads them)" },
	{ "detector.queue_len", CONFIG_INT, "8192", offsetof(struct detector_settings, queue_len),
	  16, 1048576, NULL, NULL, "alerts waiting between the detector and the outputs" },
	{ "detector.max_procs", CONFIG_INT, "32768", offsetof(struct detector_settings, max_procs),
	  64, 4194304, NULL, NULL, "processes tracked at most (exited ones are evicted first)" },
	{ "detector.ringbuf_bytes", CONFIG_SIZE, "4MiB",
	  offsetof(struct detector_settings, ringbuf_bytes), 65536, 1073741824, NULL, NULL,
	  "kernel record ring per CPU (a power of two; 28 KiB more are reserved)" },
	{ "detector.internal_alert_interval", CONFIG_DURATION, "60s",
	  offsetof(struct detector_settings, internal_alert_interval_ms), 1000, 86400000, NULL,
	  NULL, "at most one internal alert about dropped events per interval" },
	{ NULL },
};

static struct {
	struct detector *d;
	struct podwatch *podwatch; /* pod metadata (podwatch.h), gateway loop */
	struct podmeta *podmeta; /* shared with the detector thread; freed after it stopped */
	struct detector_settings set;
	const struct run_args *args;
} det;

static int detector_submit(void *ctx, struct alert *a)
{
	struct gateway *g = ctx;

	return pipeline_submit(g->pipeline, a);
}

static void detector_metrics(void *data, metrics_emit_fn emit, void *emit_ctx)
{
	static const char *const reasons[LANNER_DROP_MAX] = { "ringbuf_full", "truncated",
							      "read_fault", "no_ringbuf",
							      "ring_busy" };
	const char *which = data;
	struct detector_stats st;

	if (!det.d)
		return;
	detector_get_stats(det.d, &st);
	if (!strcmp(which, "events"))
		emit(emit_ctx, NULL, (double)st.events);
	else if (!strcmp(which, "alerts"))
		emit(emit_ctx, NULL, (double)st.alerts);
	else if (!strcmp(which, "overflows"))
		emit(emit_ctx, NULL, (double)st.queue_overflows);
	else if (!strcmp(which, "procs"))
		emit(emit_ctx, NULL, (double)st.procs);
	else if (!strcmp(which, "drops"))
		for (int i = 0; i < LANNER_DROP_MAX; i++)
			emit(emit_ctx, &reasons[i], (double)st.kernel_drops[i]);
	else if (!strcmp(which, "helper_reads"))
		emit(emit_ctx, NULL, (double)st.kernel_stats[LANNER_STAT_USER_HELPER]);
	else if (!strcmp(which, "fast_reads"))
		emit(emit_ctx, NULL, st.fast_reads ? 1 : 0);
}

/* Pod metadata (podwatch.h); runs on the gateway loop, like the watcher. */
static void podmeta_metrics(void *data, metrics_emit_fn emit, void *emit_ctx)
{
	const char *which = data;
	struct podwatch_stats st;

	if (!det.podwatch)
		return;
	podwatch_get_stats(det.podwatch, &st);
	if (!strcmp(which, "containers"))
		emit(emit_ctx, NULL, (double)podmeta_count(det.podmeta));
	else if (!strcmp(which, "lists"))
		emit(emit_ctx, NULL, (double)st.lists);
	else if (!strcmp(which, "events"))
		emit(emit_ctx, NULL, (double)st.events);
	else if (!strcmp(which, "errors"))
		emit(emit_ctx, NULL, (double)st.errors);
}

static int declare_detector_metrics(struct metrics *m)
{
	static const char *const reason[] = { "reason" };
	int err;

	err = metrics_counter_fn(m, "lanner_detector_events_total",
				 "System call events the detector evaluated", NULL, 0,
				 detector_metrics, "events");
	if (!err)
		err = metrics_counter_fn(m, "lanner_detector_alerts_total",
					 "Alerts the detector handed to the outputs", NULL, 0,
					 detector_metrics, "alerts");
	if (!err)
		err = metrics_counter_fn(m, "lanner_detector_queue_overflows_total",
					 "Alerts dropped: the detector's hand-off queue was full",
					 NULL, 0, detector_metrics, "overflows");
	if (!err)
		err = metrics_counter_fn(
			m, "lanner_detector_kernel_drops_total",
			"Kernel-side drops by reason (ringbuf_full, no_ringbuf and "
			"ring_busy lose events)",
			reason, 1, detector_metrics, "drops");
	if (!err)
		err = metrics_counter_fn(
			m, "lanner_detector_kernel_helper_reads_total",
			"User strings the kernel programs read with the BPF helper, because the "
			"direct map could not serve them or direct-map reads are off",
			NULL, 0, detector_metrics, "helper_reads");
	if (!err)
		err = metrics_gauge(m, "lanner_detector_fast_user_reads",
				    "1 when the kernel programs read user strings through the "
				    "direct map (detector.fast_user_reads and its start-up check)",
				    NULL, 0, detector_metrics, "fast_reads");
	if (!err)
		err = metrics_gauge(m, "lanner_detector_processes",
				    "Processes in the detector's process table", NULL, 0,
				    detector_metrics, "procs");
	if (!err)
		err = metrics_gauge(m, "lanner_k8s_metadata_containers",
				    "Containers of this node whose pod metadata is cached", NULL, 0,
				    podmeta_metrics, "containers");
	if (!err)
		err = metrics_counter_fn(m, "lanner_k8s_metadata_lists_total",
					 "Pod lists of this node completed (start, relists)", NULL,
					 0, podmeta_metrics, "lists");
	if (!err)
		err = metrics_counter_fn(m, "lanner_k8s_metadata_watch_events_total",
					 "Pod watch events applied", NULL, 0, podmeta_metrics,
					 "events");
	if (!err)
		err = metrics_counter_fn(m, "lanner_k8s_metadata_errors_total",
					 "Failed pod list/watch requests (retried with backoff)",
					 NULL, 0, podmeta_metrics, "errors");
	return err;
}

/* After the pipeline: 0, or -errno when the detector is required and refused. */
static int start_detector(struct gateway *g, const struct run_args *a)
{
	struct detector_opts o = { 0 };
	char err[256] = "";
	int e;

	det.args = a;
	e = config_bind(g->cfg, "", detector_options, &det.set);
	if (e)
		return e;
	if (!det.set.enabled) {
		log_info("detector disabled (detector.enabled: false): pure gateway");
		return 0;
	}
	o.rules = g->rules;
	o.gateway_loop = g->loop;
	o.submit = detector_submit;
	o.submit_ctx = g;
	o.capture_path = a->capture;
	o.queue_len = (size_t)det.set.queue_len;
	o.max_procs = (size_t)det.set.max_procs;
	o.ringbuf_bytes = (uint32_t)det.set.ringbuf_bytes;
	o.drop_failed = det.set.drop_failed;
	o.no_fast_reads = !det.set.fast_user_reads;
	o.precise_time = det.set.precise_time;
	o.internal_alert_interval_ms = (uint32_t)det.set.internal_alert_interval_ms;
	e = podwatch_start(g->loop, g->cfg, &det.podmeta, &det.podwatch);
	if (e)
		return e;
	o.podmeta = det.podmeta;
	det.d = detector_start(&o, err, sizeof(err));
	if (!det.d) {
		e = -errno;
		podwatch_stop(det.podwatch); /* nobody to read the metadata */
		det.podwatch = NULL;
		if (det.set.required) {
			log_error("detector refused (detector.required is on): %s", err);
			return e ? e : -EINVAL;
		}
		log_warn("detector off, running as a pure gateway: %s", err);
		return 0;
	}
	log_info("detector started%s%s", a->capture ? ", capturing events to " : "",
		 a->capture ? a->capture : "");
	return 0;
}

static int load_rules(struct gateway *g, const struct run_args *a);
static int register_rule_actions(const struct rules *r);

/* SIGHUP: reload the rules; the detector switches to them and recomputes its syscalls. */
static void reload_rules(struct gateway *g)
{
	struct rules *old = g->rules;
	int err;

	if (!det.args)
		return;
	g->rules = NULL;
	err = load_rules(g, det.args);
	if (err) {
		log_error("SIGHUP: rules have errors: keeping the previous rules");
		rules_free(g->rules);
		g->rules = old;
		register_rule_actions(old);
		return;
	}
	if (det.d && detector_set_rules(det.d, g->rules)) {
		log_error(
			"SIGHUP: the detector could not switch rules: keeping the previous rules");
		rules_free(g->rules);
		g->rules = old;
		register_rule_actions(old);
		return;
	}
	rules_free(old);
	log_info("SIGHUP: %zu rule(s) loaded", rules_count(g->rules));
}

static void stop_detector(void)
{
	detector_stop(det.d);
	det.d = NULL;
	podwatch_stop(det.podwatch);
	det.podwatch = NULL;
}

/* After the loop ended: the detector thread is gone, nobody reads the table any more. */
static void free_podmeta(void)
{
	podmeta_free(det.podmeta);
	det.podmeta = NULL;
}

/* ---- end of detector block ---- */

int gateway_declare(struct config *cfg)
{
	int err = config_declare(cfg, "", gateway_options);

	if (!err)
		err = config_declare(cfg, "", mtls_client_options);
	if (!err)
		err = pipeline_declare_with(cfg, gateway_sinks());
	if (!err)
		err = config_declare(cfg, "", detector_options);
	if (!err)
		err = config_declare(cfg, "kubernetes", podwatch_options);
	if (!err)
		err = config_declare(cfg, "kafka_input", kafka_input_options);
	return err;
}

/* Load configuration: defaults < file < environment < -o. 0 or -EINVAL (reported). */
static int load_config(struct gateway *g, const struct run_args *a)
{
	int err;

	err = gateway_declare(g->cfg);
	if (err) {
		log_error("configuration tables: %s", strerror(-err));
		return err;
	}
	if (a->config_file) {
		err = config_load_file(g->cfg, a->config_file);
		if (err)
			return err;
	}
	err = config_load_env(g->cfg, NULL);
	for (size_t i = 0; !err && i < a->n_overrides; i++)
		err = config_set(g->cfg, a->overrides[i]);
	if (!err)
		err = config_check(g->cfg);
	if (!err)
		err = config_bind(g->cfg, "", gateway_options, &g->set);
	return err;
}

/* The rules' `actions: [...]`, for the responder. 0 or -ENOMEM. */
static int register_rule_actions(const struct rules *r)
{
	responder_clear_rule_actions();
	for (size_t i = 0; i < rules_count(r); i++) {
		const struct rule *rule = rules_at(r, i);
		size_t n = rule_action_count(rule);
		const char *actions[64];
		int err;

		if (!n)
			continue;
		if (n > 64)
			n = 64;
		for (size_t j = 0; j < n; j++)
			actions[j] = rule_action(rule, j);
		err = responder_set_rule_actions(rule_name(rule), actions, n);
		if (err)
			return err;
	}
	return 0;
}

/* Rules: -r files, else rules_files, else the embedded defaults. 0 or -EINVAL (reported). */
static int load_rules(struct gateway *g, const struct run_args *a)
{
	int err = 0;

	g->rules = rules_new();
	if (!g->rules)
		return -errno;
	rules_set_matching(g->rules, g->set.rule_matching ? RULES_MATCH_ALL : RULES_MATCH_FIRST);
	for (size_t i = 0; lanner_field_sources[i]; i++) {
		err = rules_add_source(g->rules, lanner_field_sources[i]);
		if (err < 0)
			return err;
	}
	err = 0;
	if (a->n_rules) {
		for (size_t i = 0; !err && i < a->n_rules; i++)
			err = rules_load_file(g->rules, a->rules[i]);
	} else if (g->set.rules_files.n) {
		for (size_t i = 0; !err && i < g->set.rules_files.n; i++)
			err = rules_load_file(g->rules, g->set.rules_files.v[i]);
	} else {
		for (size_t i = 0; !err && lanner_default_rules[i].name; i++)
			err = rules_load_buffer(g->rules, lanner_default_rules[i].name,
						lanner_default_rules[i].data,
						lanner_default_rules[i].len);
	}
	if (!err)
		err = rules_compile(g->rules);
	if (!err)
		err = register_rule_actions(g->rules);
	return err;
}

struct response_emit {
	metrics_emit_fn emit;
	void *ctx;
};

static void emit_response_count(void *ctx, const char *action, const char *outcome, uint64_t n)
{
	struct response_emit *e = ctx;
	const char *labels[] = { action, outcome };

	e->emit(e->ctx, labels, (double)n);
}

static void response_counts(void *data, metrics_emit_fn emit, void *emit_ctx)
{
	struct response_emit e = { emit, emit_ctx };

	responder_counters(emit_response_count, &e);
}

static int declare_response_metrics(struct metrics *m)
{
	static const char *const labels[] = { "action", "outcome" };

	return metrics_counter_fn(
		m, "lanner_response_actions_total",
		"Response decisions by action and outcome (done, dry-run, skipped, "
		"failed)",
		labels, 2, response_counts, NULL);
}

static void on_pipeline_closed(void *data)
{
	struct gateway *g = data;

	log_info("all outputs closed");
	(void)g;
}

static void stop(struct gateway *g, const char *why)
{
	if (g->stopping)
		return;
	g->stopping = true;
	log_info("%s: stop accepting, delivering what is queued (up to %lld ms)", why,
		 (long long)g->set.shutdown_timeout_ms);
	stop_detector(); /* first: its last alerts go to the pipeline */
	/* Closing the signal watchers restores the default action: a second signal kills. */
	uv_close((uv_handle_t *)&g->sig_int, NULL);
	uv_close((uv_handle_t *)&g->sig_term, NULL);
	uv_close((uv_handle_t *)&g->sig_hup, NULL);
	http_server_stop(g->http);
	kafka_input_stop(g->kafka_input, g->set.shutdown_timeout_ms);
	gateway_stop_pipeline(g);
}

void gateway_stop_pipeline(struct gateway *g)
{
	/* an alert received before the signal is still accepted: its parse ends first */
	g->pipeline_stop_due = g->parsing > 0;
	if (!g->pipeline_stop_due)
		pipeline_shutdown(g->pipeline, g->set.shutdown_timeout_ms, on_pipeline_closed, g);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct gateway *g = h->data;

	if (signum == SIGHUP) {
		log_info("SIGHUP: reopening output files");
		pipeline_reopen(g->pipeline);
		reload_rules(g);
		return;
	}
	stop(g, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static int start_http(struct gateway *g)
{
	int err;
	struct http_server_opts opts = {
		.address = g->set.listenaddress,
		.port = (int)g->set.listenport,
		.max_body = (size_t)g->set.max_body,
		.bearer_token = g->set.bearer_token && *g->set.bearer_token ? g->set.bearer_token :
									      NULL,
	};

	if (g->set.tls_deploy) {
		if (!g->set.tls_certfile || !g->set.tls_keyfile) {
			log_error("tlsserver.deploy is on: tlsserver.certfile and "
				  "tlsserver.keyfile are required");
			return -EINVAL;
		}
		opts.tls_cert = g->set.tls_certfile;
		opts.tls_key = g->set.tls_keyfile;
		if (g->set.tls_mutual) {
			if (!g->set.tls_cacertfile) {
				log_error("tlsserver.mutualtls is on: tlsserver.cacertfile is "
					  "required");
				return -EINVAL;
			}
			opts.tls_client_ca = g->set.tls_cacertfile;
		}
	}
	g->http = http_server_new(g->loop, &opts);
	if (!g->http) {
		err = -errno;

		log_error("cannot listen on %s:%lld: %s", g->set.listenaddress,
			  (long long)g->set.listenport, strerror(errno));
		return err;
	}
	log_info("listening on %s://%s:%d", opts.tls_cert ? "https" : "http", g->set.listenaddress,
		 http_server_port(g->http));
	err = routes_register(g);
	err = err ? err : ui_static_register(g);
	return err ? err : api_routes_register(g);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

int cmd_run(int argc, char **argv)
{
	struct run_args a = { 0 };
	struct gateway g = { 0 };
	uv_loop_t loop;
	int rc = 1, err;

	err = parse_args(argc, argv, &a);
	if (err)
		return err == 1 ? 0 : 2;
	g.cfg = config_new();
	if (!g.cfg)
		goto out;
	err = load_config(&g, &a);
	if (a.help_config) {
		config_print_reference(g.cfg, stdout);
		rc = 0;
		goto out;
	}
	if (err) {
		log_error("configuration has errors: nothing started");
		goto out;
	}
	if (g.set.debug)
		log_set_level(LOG_LEVEL_DEBUG);
	err = load_rules(&g, &a);
	if (err) {
		log_error("rules have errors: nothing started");
		goto out;
	}
	if (a.dry_run) {
		printf("configuration and rules OK: %zu rules loaded\n", rules_count(g.rules));
		rc = 0;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&loop);
	g.loop = &loop;
	g.metrics = metrics_new(0);
	if (!g.metrics || declare_response_metrics(g.metrics))
		goto out_loop;
	g.pipeline = pipeline_new_with(&loop, g.cfg, g.metrics, gateway_sinks());
	if (!g.pipeline)
		goto out_loop;
	if (start_http(&g))
		goto out_stop;
	if (kafka_input_configured(g.cfg) &&
	    !(g.kafka_input = kafka_input_new(&loop, g.cfg, g.pipeline, g.metrics)))
		goto out_stop;
	/* Spooled alerts read from Kafka that no Kafka input decided (none configured now). */
	pipeline_release_spooled(g.pipeline);
	if (declare_detector_metrics(g.metrics) || start_detector(&g, &a))
		goto out_stop;
	uv_signal_init(&loop, &g.sig_int);
	uv_signal_init(&loop, &g.sig_term);
	uv_signal_init(&loop, &g.sig_hup);
	g.sig_int.data = g.sig_term.data = g.sig_hup.data = &g;
	uv_signal_start(&g.sig_int, on_signal, SIGINT);
	uv_signal_start(&g.sig_term, on_signal, SIGTERM);
	uv_signal_start(&g.sig_hup, on_signal, SIGHUP);
	log_info("lanner %s started: %zu output(s), %zu rule(s)", LANNER_VERSION,
		 pipeline_sink_count(g.pipeline), rules_count(g.rules));
	uv_run(&loop, UV_RUN_DEFAULT);
	rc = 0;
	goto out_loop;

out_stop:
	g.stopping = true;
	stop_detector();
	http_server_stop(g.http);
	pipeline_shutdown(g.pipeline, 0, NULL, NULL);
out_loop:
	uv_run(&loop, UV_RUN_DEFAULT);
	routes_free(&g);
	/* h2o closes its context's (unreferenced) handles itself: before the walk below. */
	http_server_free(g.http);
	/* Anything still open is a bug of ours: close it so the loop can be released. */
	uv_walk(&loop, close_walk, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	pipeline_free(g.pipeline);
	kafka_input_free(g.kafka_input);
	metrics_free(g.metrics);
	free_podmeta();
	if (uv_loop_close(&loop))
		log_error("event loop still had handles at exit");
	log_info("stopped");
out:
	rules_free(g.rules);
	config_free(g.cfg);
	free(a.rules);
	free(a.overrides);
	return rc;
}
