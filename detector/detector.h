/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_DETECTOR_DETECTOR_H
#define LANNER_DETECTOR_DETECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "bpf/events.h"
#include "outputs/alert.h"
#include "rules/rules.h"

/*
 * The detector: a thread with its own libuv loop that loads the kernel programs (probe.h),
 * decodes their records (decode.h), keeps the process / fd / container tables (proctable.h)
 * current, evaluates the `syscall` rules with an evaluator of its own and turns matches into
 * alerts (source "syscall"). Alerts cross to the gateway loop through a bounded queue and a
 * uv_async on that loop, whose callback hands each to opts.submit: submit runs on the gateway
 * loop's thread only. A full queue drops the alert and counts it.
 *
 * Kernel drops and queue overflows raise an internal alert (source "internal", rule
 * "Detector dropped events", priority Warning) at most once per internal_alert_interval_ms, and
 * show in detector_get_stats().
 *
 * The captured syscalls are the union of the event types the loaded `syscall` rules need
 * (rules_event_types) and the state set (probe_set_add_state); detector_set_rules recomputes
 * them. lanner's own process is never recorded.
 *
 * Threading: detector_start, detector_set_rules and detector_stop are called from the gateway
 * loop's thread; detector_get_stats from any thread.
 */

struct detector;
struct probe_set;

/*
 * The syscalls the detector captures for compiled ruleset r: the event types its `syscall`
 * rules need that lanner has a program for, plus the state set (probe_set_add_state). Fills
 * *out (zeroed first). The same set detector_start and detector_set_rules attach.
 */
void detector_capture_set(const struct rules *r, struct probe_set *out);

/* Takes the alert (mutable, one reference): pipeline_submit. Runs on the gateway loop. */
typedef int (*detector_submit_fn)(void *ctx, struct alert *a);

struct detector_opts {
	const struct rules *rules; /* compiled; borrowed until replaced or the detector stopped */
	uv_loop_t *gateway_loop;
	detector_submit_fn submit;
	void *submit_ctx;
	const char *capture_path; /* decoded events as JSON lines (event_json.h); NULL: none */
	size_t queue_len; /* hand-off queue; 0: 8192 */
	size_t max_procs; /* process table cap; 0: 32768 */
	uint32_t ringbuf_bytes; /* per CPU; 0: the probe's default */
	bool drop_failed; /* drop failed syscalls in the kernel */
	bool precise_time; /* kernel timestamps (probe_opts.precise_time) */
	bool no_fast_reads; /* every user string by the BPF helper (probe_opts.no_fast_reads) */
	uint32_t internal_alert_interval_ms; /* 0: 60000 */
	/*
	 * Pod metadata (podmeta.h) for container.name/image/privileged and k8s.*; borrowed, must
	 * outlive the detector; NULL: none. Looked up by full container id for every event of a
	 * containerised process, on the detector thread.
	 */
	struct podmeta *podmeta;
};

struct detector_stats {
	uint64_t events; /* decoded events evaluated */
	uint64_t alerts; /* alerts queued to the gateway */
	uint64_t queue_overflows; /* alerts dropped: the hand-off queue was full */
	uint64_t kernel_drops[LANNER_DROP_MAX]; /* enum lanner_drop */
	uint64_t kernel_stats[LANNER_STAT_MAX]; /* enum lanner_stat */
	bool fast_reads; /* user strings read through the direct map (probe_fast_reads) */
	uint64_t proc_overflows; /* processes not tracked: the table was full */
	uint64_t bad_records; /* records that failed the loader's or decoder's checks */
	uint64_t internal_alerts;
	uint64_t capture_errors; /* events that could not be written to the capture file */
	uint64_t procs; /* processes in the table now */
	uint64_t syscalls; /* syscalls captured now */
};

/*
 * Starts the thread and waits until the programs are attached (or refused). Returns NULL with
 * errno set and a one-line reason in err (no BTF, no BPF rights, capture file unwritable, ...);
 * its memory is then released when the gateway loop runs next (it closes a handle there).
 */
struct detector *detector_start(const struct detector_opts *opts, char *err, size_t errlen);

/*
 * Switches to a new compiled ruleset (SIGHUP): the thread builds an evaluator for it and
 * recomputes the captured syscalls. Blocks until the thread switched: the previous ruleset is
 * then no longer used and may be freed. Returns 0, or -errno (the old rules stay in use).
 */
int detector_set_rules(struct detector *d, const struct rules *r);

void detector_get_stats(struct detector *d, struct detector_stats *out);

/*
 * Stops the thread (detaching the programs), hands the alerts still queued to submit, and
 * releases everything once the gateway loop has closed the async handle (keep running that
 * loop). Accepts NULL.
 */
void detector_stop(struct detector *d);

#endif
