// SPDX-License-Identifier: Apache-2.0
/*
 * The `kafka_input:` consumer (gateway/kafka_input.h).
 *
 * Offsets: every consumed message gets a sequence number in its partition's ring (struct kpart);
 * the ring is in offset order, because a partition is read in order. A message is done when its
 * alert is durable (or when it is malformed: at once, or once the dead-letter topic has it).
 * Done messages at the ring's head are popped and advance commit_next, the offset to commit (the
 * next one to read), so only the highest contiguous done offset is ever committed.
 *
 * After a revoke the partition's kpart is dead: done messages that arrive later no longer
 * commit anything (the new owner replays them), and it is freed with its last message.
 *
 * With the pipeline (kafka_input_new), alerts are submitted held (pipeline_submit_held): once
 * durable their record moves to its kpart's held list, a commit is sent soon (after the spool
 * marked the alerts it covers), and they are released to the sinks when the coordinator
 * acknowledges an offset past theirs. On revoke what is not acknowledged is discarded (the new
 * owner replays it); at start, decide_spooled() asks the group about the spool's leftovers.
 * So nothing this instance delivers is replayed by the group (docs/fleet.md, "Duplicates").
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "config/log.h"
#include "gateway/kafka_input.h"
#include "gateway/metrics.h"
#include "outputs/kafka_dl.h"

static const char *const sasl_choices[] = { "PLAIN", "SCRAM_SHA256", "SCRAM_SHA512", NULL };
static const char *const sasl_mechanisms[] = { "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512" };
static const char *const reset_choices[] = { "earliest", "latest", NULL };

struct kafka_input_settings {
	const char *brokers;
	struct config_strlist topics;
	const char *group;
	const char *deadletter_topic;
	const char *clientid;
	int sasl;
	const char *username;
	const char *password;
	bool tls;
	int offset_reset;
	int64_t commit_interval_ms;
	int64_t max_inflight;
	struct config_map properties;
};

#define KI(m) offsetof(struct kafka_input_settings, m)
const struct config_option kafka_input_options[] = {
	{ "brokers", CONFIG_STRING, NULL, KI(brokers), 0, 0, NULL, NULL,
	  "bootstrap brokers, comma separated (host:port,...); enables the Kafka input" },
	{ "topics", CONFIG_STRLIST, NULL, KI(topics), 0, 0, NULL, NULL,
	  "topics of Falco JSON alerts to consume (required)" },
	{ "group", CONFIG_STRING, "lanner", KI(group), 0, 0, NULL, NULL,
	  "consumer group id: instances of one group share the topics' partitions" },
	{ "deadletter_topic", CONFIG_STRING, NULL, KI(deadletter_topic), 0, 0, NULL, NULL,
	  "topic malformed messages are produced to, with their origin in headers (empty: "
	  "none)" },
	{ "clientid", CONFIG_STRING, NULL, KI(clientid), 0, 0, NULL, NULL,
	  "client.id sent to the brokers (default: librdkafka's)" },
	{ "sasl", CONFIG_ENUM, NULL, KI(sasl), 0, 0, sasl_choices, NULL,
	  "SASL mechanism, PLAIN, SCRAM_SHA256 or SCRAM_SHA512 (empty: no SASL)" },
	{ "username", CONFIG_STRING, NULL, KI(username), 0, 0, NULL, NULL, "SASL user name" },
	{ "password", CONFIG_STRING, NULL, KI(password), 0, 0, NULL, NULL, "SASL password" },
	{ "tls", CONFIG_BOOL, "false", KI(tls), 0, 0, NULL, NULL,
	  "connect with TLS (system CA store; ssl.* in kafka_input.properties for more)" },
	{ "offset_reset", CONFIG_ENUM, "earliest", KI(offset_reset), 0, 0, reset_choices, NULL,
	  "where a group without committed offsets starts: earliest or latest" },
	{ "commit_interval", CONFIG_DURATION, "200ms", KI(commit_interval_ms), 10, 60000, NULL,
	  NULL,
	  "commit durable offsets at least this often (they are committed as soon as a spool "
	  "batch is durable, and on revoke and at shutdown)" },
	{ "max_inflight", CONFIG_INT, "10000", KI(max_inflight), 1, 10000000, NULL, NULL,
	  "alerts submitted but not durable yet before consuming pauses" },
	{ "properties", CONFIG_MAP, NULL, KI(properties), 0, 0, NULL, NULL,
	  "raw librdkafka properties (k:v,...), applied last (e.g. session.timeout.ms)" },
	{ NULL },
};
#undef KI

struct kpart {
	struct kafka_input *ki;
	char *topic;
	int32_t partition;
	int64_t *off;
	unsigned char *done;
	size_t cap; /* power of 2 */
	uint64_t head, tail; /* sequence numbers: [head, tail) in the ring */
	int64_t commit_next; /* -1: nothing done yet */
	int64_t committed_next; /* requested */
	int64_t acked_next; /* acknowledged by the group coordinator */
	unsigned commits_inflight;
	unsigned refs; /* records and commits in flight */
	bool revoked;
	struct krec *held; /* durable alerts waiting for their offset's commit (hnext) */
	struct kpart *next;
};

/*
 * One message waiting for its alert to be durable, or for its dead-letter report; then, with
 * the pipeline (held alerts), for the commit of its offset to be acknowledged.
 */
struct krec {
	struct kafka_input *ki;
	struct kpart *kp;
	uint64_t seq;
	int64_t offset;
	struct pipeline_hold *hold;
	char uuid[ALERT_UUID_LEN + 1];
	struct krec *prev, *next;
	struct krec *hprev, *hnext; /* kp->held */
};

/* One commit request (async: until its result is served from ki->cq). */
struct kcommit {
	struct kafka_input *ki;
	rd_kafka_topic_partition_list_t *list;
	bool sync, sent, reported;
	struct kcommit *prev, *next;
	size_t n;
	struct kpart *kp[];
};

struct kafka_input {
	struct kafka_input_settings set;
	uv_loop_t *loop;
	kafka_input_submit_fn submit;
	void *ctx;
	struct pipeline *p; /* kafka_input_new(): alerts are held until their commit is acked */
	rd_kafka_t *rk;
	rd_kafka_queue_t *q;
	rd_kafka_queue_t *cq; /* commit results */
	struct kcommit kcs; /* list head: commits in flight */
	bool committing, commit_again;
	uv_timer_t commit_soon;
	rd_kafka_t *dlq;
	int pipefd[2];
	uv_poll_t poll;
	uv_timer_t commit_timer, kick, stop_timer;
	unsigned open_handles;
	struct kpart *parts;
	struct krec recs; /* list head */
	uint64_t pending;
	bool paused, stopping, finished, draining;
	struct metric *m_messages;
	struct kafka_input_stats st;
};

static void count(struct kafka_input *ki, const char *topic, const char *status);

/* How long a start waits for the group's committed offsets of what its spool holds. */
#define KAFKA_INPUT_COMMITTED_TIMEOUT_MS 15000

bool kafka_input_configured(const struct config *cfg)
{
	return config_is_set(cfg, "kafka_input.brokers");
}

/* --- offsets --------------------------------------------------------------------------------- */

static struct kpart *kpart_new(struct kafka_input *ki, const char *topic, int32_t partition)
{
	struct kpart *kp = calloc(1, sizeof(*kp));

	if (!kp)
		return NULL;
	kp->ki = ki;
	kp->topic = strdup(topic);
	kp->cap = 256;
	kp->off = malloc(kp->cap * sizeof(*kp->off));
	kp->done = calloc(kp->cap, 1);
	if (!kp->topic || !kp->off || !kp->done) {
		free(kp->topic);
		free(kp->off);
		free(kp->done);
		free(kp);
		return NULL;
	}
	kp->partition = partition;
	kp->commit_next = kp->committed_next = kp->acked_next = -1;
	kp->next = ki->parts;
	ki->parts = kp;
	return kp;
}

static void kpart_free(struct kpart *kp)
{
	free(kp->topic);
	free(kp->off);
	free(kp->done);
	free(kp);
}

/* Free a revoked partition once nothing refers to it. */
static void kpart_release(struct kpart *kp)
{
	struct kafka_input *ki = kp->ki;
	struct kpart **pp;

	if (!kp->revoked || kp->refs)
		return;
	for (pp = &ki->parts; *pp && *pp != kp; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = kp->next;
	kpart_free(kp);
}

static struct kpart *kpart_find(struct kafka_input *ki, const char *topic, int32_t partition)
{
	for (struct kpart *kp = ki->parts; kp; kp = kp->next)
		if (!kp->revoked && kp->partition == partition && !strcmp(kp->topic, topic))
			return kp;
	return NULL;
}

/* Append offset to the ring; returns its sequence number, or UINT64_MAX on ENOMEM. */
static uint64_t kpart_push(struct kpart *kp, int64_t offset)
{
	if (kp->tail - kp->head == kp->cap) {
		size_t ncap = kp->cap * 2;
		int64_t *noff = malloc(ncap * sizeof(*noff));
		unsigned char *ndone = calloc(ncap, 1);

		if (!noff || !ndone) {
			free(noff);
			free(ndone);
			return UINT64_MAX;
		}
		for (uint64_t s = kp->head; s < kp->tail; s++) {
			noff[s & (ncap - 1)] = kp->off[s & (kp->cap - 1)];
			ndone[s & (ncap - 1)] = kp->done[s & (kp->cap - 1)];
		}
		free(kp->off);
		free(kp->done);
		kp->off = noff;
		kp->done = ndone;
		kp->cap = ncap;
	}
	kp->off[kp->tail & (kp->cap - 1)] = offset;
	kp->done[kp->tail & (kp->cap - 1)] = 0;
	return kp->tail++;
}

static void kpart_done(struct kpart *kp, uint64_t seq)
{
	size_t mask = kp->cap - 1;

	if (seq < kp->head || seq >= kp->tail)
		return;
	kp->done[seq & mask] = 1;
	while (kp->head < kp->tail && kp->done[kp->head & mask]) {
		kp->commit_next = kp->off[kp->head & mask] + 1;
		kp->done[kp->head & mask] = 0;
		kp->head++;
	}
}

/* --- held alerts ------------------------------------------------------------------------- */

static void krec_finish(struct krec *r, bool done);

static void held_add(struct kpart *kp, struct krec *r)
{
	r->hprev = NULL;
	r->hnext = kp->held;
	if (kp->held)
		kp->held->hprev = r;
	kp->held = r;
}

static void held_remove(struct krec *r)
{
	if (r->hprev)
		r->hprev->hnext = r->hnext;
	else
		r->kp->held = r->hnext;
	if (r->hnext)
		r->hnext->hprev = r->hprev;
	r->hprev = r->hnext = NULL;
}

/* The group acknowledged offsets up to acked_next: what they cover goes to the sinks. */
static void release_acked(struct kpart *kp)
{
	struct kafka_input *ki = kp->ki;
	struct krec *r, *next;

	for (r = kp->held; r; r = next) {
		next = r->hnext;
		if (r->offset >= kp->acked_next)
			continue;
		held_remove(r);
		pipeline_release(ki->p, r->hold);
		ki->st.released++;
		krec_finish(r, false);
	}
}

/*
 * kp went to another instance and no commit of ours may still cover its held alerts: the group
 * replays them to their new owner, so this instance must not deliver them.
 */
static void discard_held(struct kpart *kp)
{
	struct kafka_input *ki = kp->ki;
	struct krec *r;
	uint64_t n = 0;

	while ((r = kp->held)) {
		held_remove(r);
		pipeline_discard(ki->p, r->hold);
		count(ki, kp->topic, "left_to_group");
		n++;
		krec_finish(r, false);
	}
	ki->st.left_to_group += n;
	if (n)
		log_info("kafka_input: %s [%" PRId32 "]: %" PRIu64
			 " alert(s) not committed yet left to the group's replay (not delivered "
			 "by this instance)",
			 kp->topic, kp->partition, n);
}

/* --- commits --------------------------------------------------------------------------------- */

static void kc_free(struct kcommit *kc)
{
	for (size_t i = 0; i < kc->n; i++) {
		kc->kp[i]->refs--;
		kpart_release(kc->kp[i]);
	}
	if (kc->prev) {
		kc->prev->next = kc->next;
		kc->next->prev = kc->prev;
	}
	kafka_fn.topic_partition_list_destroy(kc->list);
	free(kc);
}

static void commit(struct kafka_input *ki, const rd_kafka_topic_partition_list_t *only, bool sync);

static void commit_result(struct kcommit *kc, rd_kafka_resp_err_t err,
			  const rd_kafka_topic_partition_list_t *offsets)
{
	struct kafka_input *ki = kc->ki;
	rd_kafka_resp_err_t first = 0;

	kc->reported = true;
	for (size_t i = 0; i < kc->n; i++) {
		struct kpart *kp = kc->kp[i];
		rd_kafka_resp_err_t e = err;
		const rd_kafka_topic_partition_t *t =
			offsets ? kafka_fn.topic_partition_list_find(offsets, kp->topic,
								     kp->partition) :
				  NULL;

		if (!e)
			e = t ? t->err : RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
		if (!e && t->offset > kp->acked_next)
			kp->acked_next = t->offset;
		if (e) {
			if (!first)
				first = e;
			/* Sent again by the next commit. */
			kp->committed_next = kp->acked_next;
		}
		kp->commits_inflight--;
		if (ki->p) {
			release_acked(kp);
			if (kp->revoked && !kp->commits_inflight)
				discard_held(kp);
		}
	}
	if (first && first != RD_KAFKA_RESP_ERR__NO_OFFSET)
		log_warn("kafka_input: offset commit failed: %s (committed at the next one)",
			 kafka_fn.err2str(first));
	if (!kc->sync) {
		ki->committing = false;
		if (ki->commit_again && !ki->finished) {
			ki->commit_again = false;
			commit(ki, NULL, false);
		}
	}
}

/* Served from ki->cq (async), or inside rd_kafka_commit_queue (sync). */
static void on_commit_result(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			     rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
	struct kcommit *kc = opaque;

	commit_result(kc, err, offsets);
	if (!kc->sync)
		kc_free(kc);
}

static void commit_send(struct kcommit *kc)
{
	struct kafka_input *ki = kc->ki;
	rd_kafka_resp_err_t err;

	kc->sent = true;
	if (!ki->rk) {
		commit_result(kc, RD_KAFKA_RESP_ERR__DESTROY, NULL);
		if (!kc->sync)
			kc_free(kc);
		return;
	}
	err = kafka_fn.commit_queue(ki->rk, kc->list, kc->sync ? NULL : ki->cq, on_commit_result,
				    kc);
	if (err && !kc->reported) {
		commit_result(kc, err, NULL);
		if (!kc->sync)
			kc_free(kc);
	}
}

/* The spool marked the alerts this commit covers: send it. */
static void on_marked(void *data, int err)
{
	struct kcommit *kc = data;

	if (err)
		log_warn("kafka_input: spool: marking committed alerts failed: committing anyway");
	commit_send(kc);
}

/*
 * Commit the done offsets of live partitions (all, or those in only). Async commits: one at a
 * time (the next one covers what became done meanwhile), their results served from ki->cq.
 * Synchronous commits block for the round trip: on revoke and at shutdown only; they are sent
 * even when an async one for the same offset is in flight, to get a definite answer.
 *
 * With held alerts, the spool first marks the alerts a commit covers (so that a restart knows
 * which ones may have been committed), and the alerts are released once the commit is acked.
 */
static void commit(struct kafka_input *ki, const rd_kafka_topic_partition_list_t *only, bool sync)
{
	struct pipeline_origin *marks = NULL;
	struct kcommit *kc;
	size_t n = 0;

	if (!sync && ki->committing) {
		ki->commit_again = true;
		return;
	}
	for (struct kpart *kp = ki->parts; kp; kp = kp->next) {
		if (kp->revoked || kp->commit_next < 0 ||
		    kp->commit_next <= (sync ? kp->acked_next : kp->committed_next))
			continue;
		if (only && !kafka_fn.topic_partition_list_find(only, kp->topic, kp->partition))
			continue;
		n++;
	}
	if (!n)
		return;
	kc = calloc(1, sizeof(*kc) + n * sizeof(kc->kp[0]));
	if (kc)
		kc->list = kafka_fn.topic_partition_list_new((int)n);
	if (kc && ki->p)
		marks = calloc(n, sizeof(*marks));
	if (!kc || !kc->list || (ki->p && !marks)) {
		if (kc && kc->list)
			kafka_fn.topic_partition_list_destroy(kc->list);
		free(kc);
		free(marks);
		log_warn("kafka_input: commit: %s (committed at the next one)", strerror(ENOMEM));
		return;
	}
	kc->ki = ki;
	kc->sync = sync;
	for (struct kpart *kp = ki->parts; kp; kp = kp->next) {
		if (kp->revoked || kp->commit_next < 0 ||
		    kp->commit_next <= (sync ? kp->acked_next : kp->committed_next))
			continue;
		if (only && !kafka_fn.topic_partition_list_find(only, kp->topic, kp->partition))
			continue;
		kafka_fn.topic_partition_list_add(kc->list, kp->topic, kp->partition)->offset =
			kp->commit_next;
		if (marks)
			marks[kc->n] = (struct pipeline_origin){ kp->topic, kp->partition,
								 kp->commit_next, false };
		kc->kp[kc->n++] = kp;
		kp->refs++;
		kp->commits_inflight++;
		if (kp->commit_next > kp->committed_next)
			kp->committed_next = kp->commit_next;
	}
	ki->st.commits++;
	if (!sync) {
		ki->committing = true;
		kc->prev = ki->kcs.prev;
		kc->next = &ki->kcs;
		kc->prev->next = kc;
		ki->kcs.prev = kc;
	}
	if (marks &&
	    pipeline_mark_committing(ki->p, marks, kc->n, sync, sync ? NULL : on_marked, kc)) {
		log_warn("kafka_input: spool: %s marking committed alerts: committing anyway",
			 strerror(ENOMEM));
		marks[0].topic = NULL;
	}
	if (!marks || sync || !marks[0].topic)
		commit_send(kc);
	free(marks);
	if (sync)
		kc_free(kc);
}

/* --- records --------------------------------------------------------------------------------- */

static struct krec *krec_new(struct kafka_input *ki, struct kpart *kp, uint64_t seq, int64_t offset)
{
	struct krec *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->ki = ki;
	r->kp = kp;
	r->seq = seq;
	r->offset = offset;
	r->prev = ki->recs.prev;
	r->next = &ki->recs;
	r->prev->next = r;
	ki->recs.prev = r;
	kp->refs++;
	return r;
}

/* The message of r is done (or abandoned when !done). */
static void krec_finish(struct krec *r, bool done)
{
	struct kpart *kp = r->kp;

	if (done && !kp->revoked)
		kpart_done(kp, r->seq);
	kp->refs--;
	r->prev->next = r->next;
	r->next->prev = r->prev;
	free(r);
	kpart_release(kp);
}

static void on_commit_soon(uv_timer_t *t)
{
	struct kafka_input *ki = t->data;

	if (!ki->finished)
		commit(ki, NULL, false);
}

static void count(struct kafka_input *ki, const char *topic, const char *status)
{
	const char *labels[2] = { topic, status };

	if (ki->m_messages)
		metric_add(ki->m_messages, labels, 1);
}

static void finish(struct kafka_input *ki);
static void on_kick(uv_timer_t *t);
static void on_stop_timer(uv_timer_t *t);

static void pending_done(struct kafka_input *ki);

static void on_durable(void *data, int err)
{
	struct krec *r = data;
	struct kafka_input *ki = r->ki;

	krec_finish(r, true);
	pending_done(ki);
}

/*
 * The alert of r is durable and held (h), or needs nothing more (h NULL: a duplicate uuid, or
 * the pipeline was closing). Its offset is done: committed at once (not waiting for
 * commit_interval), and the alert goes to the sinks when the commit is acknowledged.
 */
static void on_held(void *data, int err, struct pipeline_hold *h)
{
	struct krec *r = data;
	struct kafka_input *ki = r->ki;
	struct kpart *kp = r->kp;

	if (!h) {
		krec_finish(r, true);
	} else if (ki->finished) {
		/* Stopped: the next start asks the group (origin_committing is 0: replayed). */
		pipeline_abandon(ki->p, h);
		krec_finish(r, false);
	} else if (kp->revoked) {
		/* Not committable any more: the partition's new owner replays it. */
		pipeline_discard(ki->p, h);
		count(ki, kp->topic, "left_to_group");
		ki->st.left_to_group++;
		krec_finish(r, false);
	} else {
		r->hold = h;
		held_add(kp, r);
		kpart_done(kp, r->seq);
		uv_timer_start(&ki->commit_soon, on_commit_soon, 0, 0);
	}
	pending_done(ki);
}

static void pending_done(struct kafka_input *ki)
{
	ki->pending--;
	ki->st.durable++;
	if (ki->paused && !ki->stopping && ki->pending <= (uint64_t)ki->set.max_inflight / 2) {
		ki->paused = false;
		uv_timer_start(&ki->kick, on_kick, 0, 0);
	}
	if (ki->stopping && !ki->pending && !ki->finished)
		uv_timer_start(&ki->stop_timer, on_stop_timer, 0, 0);
}

/* --- messages -------------------------------------------------------------------------------- */

static void deadletter(struct kafka_input *ki, const rd_kafka_message_t *m, struct kpart *kp,
		       uint64_t seq, const char *why)
{
	char part[16], off[32];
	struct krec *r = krec_new(ki, kp, seq, m->offset);
	rd_kafka_resp_err_t err;

	if (!r) {
		kpart_done(kp, seq);
		return;
	}
	snprintf(part, sizeof(part), "%" PRId32, m->partition);
	snprintf(off, sizeof(off), "%" PRId64, m->offset);
	err = kafka_fn.producev(ki->dlq, RD_KAFKA_V_TOPIC(ki->set.deadletter_topic),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				RD_KAFKA_V_VALUE(m->payload, m->len),
				RD_KAFKA_V_KEY(m->key, m->key_len),
				RD_KAFKA_V_HEADER("lanner.topic", kafka_fn.topic_name(m->rkt), -1),
				RD_KAFKA_V_HEADER("lanner.partition", part, -1),
				RD_KAFKA_V_HEADER("lanner.offset", off, -1),
				RD_KAFKA_V_HEADER("lanner.error", why, -1), RD_KAFKA_V_OPAQUE(r),
				RD_KAFKA_V_END);
	if (err) {
		log_error("kafka_input: dead-letter topic %s: %s (message %s [%" PRId32
			  "] @%" PRId64 " skipped)",
			  ki->set.deadletter_topic, kafka_fn.err2str(err),
			  kafka_fn.topic_name(m->rkt), m->partition, m->offset);
		krec_finish(r, true);
	}
}

/* Dead-letter delivery report (loop thread, from kafka_fn.poll(dlq)). */
static void on_dlq_report(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct krec *r = m->_private;
	struct kafka_input *ki = r->ki;

	if (m->err)
		log_error("kafka_input: dead-letter topic %s: %s (malformed message skipped)",
			  ki->set.deadletter_topic, kafka_fn.err2str(m->err));
	else
		ki->st.deadlettered++;
	/* Either way the message is done: a malformed message never stalls its partition. */
	krec_finish(r, true);
}

static void on_message(struct kafka_input *ki, const rd_kafka_message_t *m)
{
	const char *topic = kafka_fn.topic_name(m->rkt);
	struct alert_error aerr = { 0 };
	struct kpart *kp;
	struct krec *r;
	struct alert *a;
	uint64_t seq;
	int err;

	if (m->err) {
		if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			log_warn("kafka_input: %s [%" PRId32 "]: %s", m->rkt ? topic : "-",
				 m->partition, kafka_fn.message_errstr(m));
		return;
	}
	ki->st.consumed++;
	kp = kpart_find(ki, topic, m->partition);
	if (!kp)
		kp = kpart_new(ki, topic, m->partition);
	seq = kp ? kpart_push(kp, m->offset) : UINT64_MAX;
	if (seq == UINT64_MAX) {
		/* Not tracked: never committed, so it is read again after a restart. */
		log_error("kafka_input: %s [%" PRId32 "] @%" PRId64 ": %s", topic, m->partition,
			  m->offset, strerror(ENOMEM));
		return;
	}
	a = alert_parse(m->payload, m->len, &aerr);
	if (!a) {
		ki->st.malformed++;
		count(ki, topic, "malformed");
		log_warn("kafka_input: %s [%" PRId32 "] @%" PRId64 ": malformed alert skipped: %s",
			 topic, m->partition, m->offset, aerr.msg);
		if (ki->dlq)
			deadletter(ki, m, kp, seq, aerr.msg);
		else
			kpart_done(kp, seq);
		return;
	}
	r = krec_new(ki, kp, seq, m->offset);
	if (!r) {
		alert_unref(a);
		log_error("kafka_input: %s [%" PRId32 "] @%" PRId64 ": %s", topic, m->partition,
			  m->offset, strerror(ENOMEM));
		return;
	}
	snprintf(r->uuid, sizeof(r->uuid), "%s", alert_uuid(a));
	ki->pending++;
	ki->st.submitted++;
	/* In memory mode the callback runs before submit returns: r may be gone after this. */
	if (ki->p) {
		struct pipeline_origin o = { topic, m->partition, m->offset, false };

		err = pipeline_submit_held(ki->p, a, &o, on_held, r);
	} else {
		err = ki->submit(ki->ctx, a, on_durable, r);
	}
	if (err) {
		ki->pending--;
		count(ki, topic, "error");
		/*
		 * Shutting down: not done, so it is read again. Anything else (out of memory) was
		 * logged by the pipeline and is skipped rather than stall the partition forever.
		 */
		krec_finish(r, err != -ESHUTDOWN);
		return;
	}
	count(ki, topic, "accepted");
}

/* --- rebalance --------------------------------------------------------------------------------- */

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct kafka_input *ki = opaque;
	bool cooperative = !strcmp(kafka_fn.rebalance_protocol(rk), "COOPERATIVE");
	rd_kafka_error_t *e = NULL;
	rd_kafka_resp_err_t aerr = 0;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		for (int i = 0; i < parts->cnt; i++) {
			log_info("kafka_input: assigned %s [%" PRId32 "]", parts->elems[i].topic,
				 parts->elems[i].partition);
			if (!kpart_find(ki, parts->elems[i].topic, parts->elems[i].partition))
				kpart_new(ki, parts->elems[i].topic, parts->elems[i].partition);
		}
		if (cooperative)
			e = kafka_fn.incremental_assign(rk, parts);
		else
			aerr = kafka_fn.assign(rk, parts);
	} else {
		/* Revoked (or lost): commit what is durable, then let the partitions go. */
		if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && !kafka_fn.assignment_lost(rk))
			commit(ki, parts, true);
		/* Results of the async commits sent before the sync one are in by now. */
		while (kafka_fn.queue_poll_callback(ki->cq, 0) > 0)
			;
		for (int i = 0; i < parts->cnt; i++) {
			struct kpart *kp =
				kpart_find(ki, parts->elems[i].topic, parts->elems[i].partition);

			log_info("kafka_input: revoked %s [%" PRId32 "]", parts->elems[i].topic,
				 parts->elems[i].partition);
			if (kp) {
				kp->revoked = true;
				/*
				 * Should the group give the partition back to this instance, its
				 * replay of the alerts still undecided here must be accepted: those
				 * this instance ends up delivering are not replayed (committed).
				 */
				for (struct krec *r = ki->recs.next; ki->p && r != &ki->recs;
				     r = r->next)
					if (r->kp == kp && r->uuid[0])
						pipeline_forget_uuid(ki->p, r->uuid);
				kp->refs++;
				/* Held alerts a commit in flight may still cover wait for its result. */
				if (ki->p && !kp->commits_inflight)
					discard_held(kp);
				kp->refs--;
				kpart_release(kp);
			}
		}
		if (cooperative)
			e = kafka_fn.incremental_unassign(rk, parts);
		else
			aerr = kafka_fn.assign(rk, NULL);
	}
	if (e) {
		log_error("kafka_input: rebalance: %s", kafka_fn.error_string(e));
		kafka_fn.error_destroy(e);
	} else if (aerr) {
		log_error("kafka_input: rebalance: %s", kafka_fn.err2str(aerr));
	}
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char buf[256];

		kafka_fn.fatal_error(rk, buf, sizeof(buf));
		log_error("kafka_input: fatal: %s", buf);
	} else if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
		log_warn("kafka_input: %s", reason);
	} else {
		log_debug("kafka_input: %s: %s", kafka_fn.err2name(err), reason);
	}
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	if (level <= 4)
		log_warn("kafka_input: %s: %s", fac, buf);
	else if (level <= 6)
		log_info("kafka_input: %s: %s", fac, buf);
	else
		log_debug("kafka_input: %s: %s", fac, buf);
}

/* --- loop ---------------------------------------------------------------------------------- */

static void drain(struct kafka_input *ki)
{
	char buf[256];

	if (ki->finished || ki->draining)
		return;
	ki->draining = true;
	while (read(ki->pipefd[0], buf, sizeof(buf)) > 0)
		;
	while (kafka_fn.queue_poll_callback(ki->cq, 0) > 0)
		;
	/* Paused: reading resumes once half of max_inflight is durable (on_kick), not before. */
	while (!ki->stopping && !ki->paused) {
		rd_kafka_message_t *m;

		if (ki->pending >= (uint64_t)ki->set.max_inflight) {
			ki->paused = true;
			break;
		}
		m = kafka_fn.consumer_poll(ki->rk, 0);
		if (!m)
			break;
		on_message(ki, m);
		kafka_fn.message_destroy(m);
	}
	if (ki->dlq)
		while (kafka_fn.poll(ki->dlq, 0) > 0)
			;
	ki->draining = false;
}

static void on_readable(uv_poll_t *h, int status, int events)
{
	struct kafka_input *ki = h->data;

	if (status < 0)
		log_warn("kafka_input: event pipe: %s", uv_strerror(status));
	drain(ki);
}

static void on_kick(uv_timer_t *t)
{
	drain(t->data);
}

static void on_commit_timer(uv_timer_t *t)
{
	struct kafka_input *ki = t->data;

	if (!ki->finished)
		commit(ki, NULL, false);
}

static void on_stop_timer(uv_timer_t *t)
{
	struct kafka_input *ki = t->data;

	if (ki->pending)
		log_warn("kafka_input: stopping with %" PRIu64
			 " alert(s) not durable yet: their offsets stay uncommitted (read again "
			 "at the next start)",
			 ki->pending);
	finish(ki);
}

/* --- life cycle ---------------------------------------------------------------------------- */

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, const char *why)
{
	char errstr[512];

	if (kafka_fn.conf_set(conf, name, value, errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK)
		return 0;
	log_error("%s: librdkafka refused %s=%s: %s", why, name, value, errstr);
	return -EINVAL;
}

/* Connection settings shared by the consumer and the dead-letter producer. */
static rd_kafka_conf_t *base_conf(struct kafka_input *ki, struct config *cfg, bool consumer)
{
	const struct kafka_input_settings *set = &ki->set;
	const char *proto = set->tls ? (set->sasl >= 0 ? "SASL_SSL" : "SSL") :
				       (set->sasl >= 0 ? "SASL_PLAINTEXT" : "PLAINTEXT");
	rd_kafka_conf_t *conf = kafka_fn.conf_new();
	char where[300];
	int err = 0;

	err |= conf_set(conf, "bootstrap.servers", set->brokers, "kafka_input.brokers");
	if (set->clientid)
		err |= conf_set(conf, "client.id", set->clientid, "kafka_input.clientid");
	err |= conf_set(conf, "security.protocol", proto, "kafka_input.tls/kafka_input.sasl");
	if (set->sasl >= 0) {
		err |= conf_set(conf, "sasl.mechanisms", sasl_mechanisms[set->sasl],
				"kafka_input.sasl");
		if (set->username)
			err |= conf_set(conf, "sasl.username", set->username,
					"kafka_input.username");
		if (set->password)
			err |= conf_set(conf, "sasl.password", set->password,
					"kafka_input.password");
	}
	kafka_fn.conf_set_opaque(conf, ki);
	kafka_fn.conf_set_error_cb(conf, on_error);
	kafka_fn.conf_set_log_cb(conf, on_log);
	if (consumer) {
		err |= conf_set(conf, "group.id", set->group, "kafka_input.group");
		err |= conf_set(conf, "enable.auto.commit", "false", "kafka_input");
		err |= conf_set(conf, "enable.auto.offset.store", "false", "kafka_input");
		err |= conf_set(conf, "auto.offset.reset", reset_choices[set->offset_reset],
				"kafka_input.offset_reset");
		kafka_fn.conf_set_rebalance_cb(conf, on_rebalance);
	} else {
		err |= conf_set(conf, "acks", "all", "kafka_input.deadletter_topic");
		kafka_fn.conf_set_dr_msg_cb(conf, on_dlq_report);
	}
	snprintf(where, sizeof(where), "%s: kafka_input.properties",
		 config_origin(cfg, "kafka_input.properties") ?
			 config_origin(cfg, "kafka_input.properties") :
			 "config");
	for (size_t i = 0; i < set->properties.n; i++) {
		const char *k = set->properties.keys[i];

		/* Consumer-only properties would only make the producer complain. */
		if (!consumer && (!strncmp(k, "session.", 8) || !strncmp(k, "heartbeat.", 10) ||
				  !strncmp(k, "group.", 6) || !strncmp(k, "auto.", 5) ||
				  !strncmp(k, "fetch.", 6) || !strncmp(k, "max.poll", 8) ||
				  !strncmp(k, "partition.assignment", 20) ||
				  !strncmp(k, "enable.auto", 11) || !strncmp(k, "queued.", 7)))
			continue;
		err |= conf_set(conf, k, set->properties.values[i], where);
	}
	if (err) {
		kafka_fn.conf_destroy(conf);
		return NULL;
	}
	return conf;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct kafka_input *ki = h->data;

	if (--ki->open_handles == 0) {
		close(ki->pipefd[0]);
		close(ki->pipefd[1]);
		ki->pipefd[0] = ki->pipefd[1] = -1;
	}
}

static void declare_metrics(struct kafka_input *ki, struct metrics *m);

/* --- startup: what the last run spooled ------------------------------------------------------ */

struct spooled_held {
	struct pipeline_hold *h;
	char *topic;
	int32_t partition;
	int64_t offset;
	bool committing;
};

struct spooled_set {
	struct spooled_held *v;
	size_t n, cap;
	bool enomem;
};

static void collect_spooled(void *ctx, struct pipeline_hold *h, const struct pipeline_origin *o)
{
	struct spooled_set *set = ctx;

	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		struct spooled_held *v = realloc(set->v, cap * sizeof(*v));

		if (!v) {
			set->enomem = true;
			return;
		}
		set->v = v;
		set->cap = cap;
	}
	set->v[set->n] = (struct spooled_held){ h, strdup(o->topic), o->partition, o->offset,
						o->committing };
	if (!set->v[set->n].topic) {
		set->enomem = true;
		return;
	}
	set->n++;
}

/*
 * The alerts a previous run of this instance spooled from Kafka and did not deliver. Each is
 * delivered from the spool only when the group will not replay it: a commit covering it had been
 * sent (origin_committing) and the group's committed offset is past it. Otherwise the group
 * replays it to the owner of its partition (maybe this instance, whose uuid window then accepts
 * it again), so it is dropped from the spool. Blocking (bounded), before consuming.
 */
static void decide_spooled(struct kafka_input *ki)
{
	struct spooled_set set = { 0 };
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__NO_OFFSET;
	size_t delivered = 0, left = 0;
	bool latest = ki->set.offset_reset == 1;

	pipeline_take_spooled(ki->p, collect_spooled, &set);
	if (set.enomem) {
		/* Untaken holds are released by pipeline_release_spooled(): never lost. */
		log_error("kafka_input: %s deciding spooled alerts: delivering them all",
			  strerror(ENOMEM));
	}
	if (!set.n) {
		free(set.v);
		return;
	}
	l = kafka_fn.topic_partition_list_new(16);
	for (size_t i = 0; l && i < set.n; i++)
		if (!kafka_fn.topic_partition_list_find(l, set.v[i].topic, set.v[i].partition))
			kafka_fn.topic_partition_list_add(l, set.v[i].topic, set.v[i].partition);
	if (l) {
		uint64_t t0 = uv_hrtime();

		err = kafka_fn.committed(ki->rk, l, KAFKA_INPUT_COMMITTED_TIMEOUT_MS);
		log_info("kafka_input: %zu spooled alert(s) from Kafka: committed offsets of %d "
			 "partition(s) asked in %" PRIu64 " ms%s%s",
			 set.n, l->cnt, (uv_hrtime() - t0) / 1000000, err ? ": " : "",
			 err ? kafka_fn.err2str(err) : "");
	}
	for (size_t i = 0; i < set.n; i++) {
		struct spooled_held *sh = &set.v[i];
		const rd_kafka_topic_partition_t *t =
			l && !err ?
				kafka_fn.topic_partition_list_find(l, sh->topic, sh->partition) :
				NULL;
		bool deliver;

		if (!t || t->err) {
			/* Unknown: a commit sent may have succeeded, so deliver (never lose). */
			deliver = sh->committing || latest;
		} else if (t->offset < 0) {
			/* No committed offset: with "latest" the group would skip it. */
			deliver = latest;
		} else {
			deliver = sh->committing && t->offset > sh->offset;
		}
		if (deliver) {
			pipeline_release(ki->p, sh->h);
			delivered++;
		} else {
			pipeline_discard(ki->p, sh->h);
			count(ki, sh->topic, "left_to_group");
			left++;
		}
		free(sh->topic);
	}
	ki->st.left_to_group += left;
	log_info("kafka_input: spooled alerts from Kafka: %zu delivered from the spool (the group "
		 "committed past them), %zu left to the group's replay",
		 delivered, left);
	if (l)
		kafka_fn.topic_partition_list_destroy(l);
	free(set.v);
}

static struct kafka_input *kafka_input_new_p(uv_loop_t *loop, struct config *cfg, struct metrics *m,
					     kafka_input_submit_fn submit, void *ctx,
					     struct pipeline *p)
{
	struct kafka_input *ki = calloc(1, sizeof(*ki));
	rd_kafka_topic_partition_list_t *topics = NULL;
	rd_kafka_conf_t *conf;
	rd_kafka_resp_err_t rerr;
	char errstr[512];
	int err = -EINVAL;

	if (!ki)
		return NULL;
	ki->loop = loop;
	ki->submit = submit;
	ki->ctx = ctx;
	ki->p = p;
	ki->recs.next = ki->recs.prev = &ki->recs;
	ki->kcs.next = ki->kcs.prev = &ki->kcs;
	ki->pipefd[0] = ki->pipefd[1] = -1;
	if (config_bind(cfg, "kafka_input", kafka_input_options, &ki->set))
		goto err;
	if (!ki->set.brokers || !ki->set.topics.n) {
		log_error("kafka_input: kafka_input.brokers and kafka_input.topics are required");
		goto err;
	}
	if (ki->set.sasl >= 0 && (!ki->set.username || !ki->set.password)) {
		log_error("kafka_input.sasl: %s needs kafka_input.username and "
			  "kafka_input.password",
			  sasl_choices[ki->set.sasl]);
		goto err;
	}
	if (kafka_dl_load()) {
		log_error("kafka_input: %s", kafka_dl_error());
		err = -ELIBACC;
		goto err;
	}
	conf = base_conf(ki, cfg, true);
	if (!conf)
		goto err;
	ki->rk = kafka_fn.new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!ki->rk) {
		log_error("kafka_input: %s", errstr);
		kafka_fn.conf_destroy(conf);
		goto err;
	}
	if (ki->set.deadletter_topic) {
		conf = base_conf(ki, cfg, false);
		if (!conf)
			goto err;
		ki->dlq = kafka_fn.new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
		if (!ki->dlq) {
			log_error("kafka_input.deadletter_topic: %s", errstr);
			kafka_fn.conf_destroy(conf);
			goto err;
		}
	}
	kafka_fn.poll_set_consumer(ki->rk);
	ki->q = kafka_fn.queue_get_consumer(ki->rk);
	ki->cq = kafka_fn.queue_new(ki->rk);
	if (!ki->q || !ki->cq || pipe2(ki->pipefd, O_NONBLOCK | O_CLOEXEC)) {
		err = -errno;
		goto err;
	}
	topics = kafka_fn.topic_partition_list_new((int)ki->set.topics.n);
	for (size_t i = 0; i < ki->set.topics.n; i++)
		kafka_fn.topic_partition_list_add(topics, ki->set.topics.v[i],
						  RD_KAFKA_PARTITION_UA);
	rerr = kafka_fn.subscribe(ki->rk, topics);
	kafka_fn.topic_partition_list_destroy(topics);
	if (rerr) {
		log_error("kafka_input.topics: %s", kafka_fn.err2str(rerr));
		goto err;
	}
	declare_metrics(ki, m);
	/*
	 * Before consuming and committing (the rebalance callback and the messages are served by
	 * the loop only): what the last run spooled, the group may replay.
	 */
	if (ki->p)
		decide_spooled(ki);
	uv_poll_init(loop, &ki->poll, ki->pipefd[0]);
	uv_timer_init(loop, &ki->commit_timer);
	uv_timer_init(loop, &ki->kick);
	uv_timer_init(loop, &ki->stop_timer);
	uv_timer_init(loop, &ki->commit_soon);
	ki->poll.data = ki->commit_timer.data = ki->kick.data = ki->stop_timer.data = ki;
	ki->commit_soon.data = ki;
	ki->open_handles = 5;
	uv_poll_start(&ki->poll, UV_READABLE, on_readable);
	uv_timer_start(&ki->commit_timer, on_commit_timer, (uint64_t)ki->set.commit_interval_ms,
		       (uint64_t)ki->set.commit_interval_ms);
	kafka_fn.queue_io_event_enable(ki->q, ki->pipefd[1], "c", 1);
	kafka_fn.queue_io_event_enable(ki->cq, ki->pipefd[1], "k", 1);
	if (ki->dlq) {
		rd_kafka_queue_t *mq = kafka_fn.queue_get_main(ki->dlq);

		kafka_fn.queue_io_event_enable(mq, ki->pipefd[1], "d", 1);
		kafka_fn.queue_destroy(mq);
	}
	/* What librdkafka queued before the pipe was attached would never wake us. */
	uv_timer_start(&ki->kick, on_kick, 0, 0);
	log_info("kafka_input: consuming %zu topic(s) from %s as group %s%s%s", ki->set.topics.n,
		 ki->set.brokers, ki->set.group, ki->dlq ? ", dead letters to " : "",
		 ki->dlq ? ki->set.deadletter_topic : "");
	return ki;

err:
	if (ki->cq)
		kafka_fn.queue_destroy(ki->cq);
	if (ki->q)
		kafka_fn.queue_destroy(ki->q);
	if (ki->rk)
		kafka_fn.destroy(ki->rk);
	if (ki->dlq)
		kafka_fn.destroy(ki->dlq);
	if (ki->pipefd[0] >= 0) {
		close(ki->pipefd[0]);
		close(ki->pipefd[1]);
	}
	free(ki);
	errno = -err;
	return NULL;
}

static int pipeline_submit_fn(void *ctx, struct alert *a, pipeline_done_fn cb, void *data)
{
	return pipeline_submit_cb(ctx, a, cb, data);
}

struct kafka_input *kafka_input_new(uv_loop_t *loop, struct config *cfg, struct pipeline *p,
				    struct metrics *m)
{
	return kafka_input_new_p(loop, cfg, m, pipeline_submit_fn, p, p);
}

struct kafka_input *kafka_input_new_with(uv_loop_t *loop, struct config *cfg, struct metrics *m,
					 kafka_input_submit_fn submit, void *ctx)
{
	return kafka_input_new_p(loop, cfg, m, submit, ctx, NULL);
}

/* Commit, close the consumer (blocking, bounded), flush the dead letters, close the handles. */
static void finish(struct kafka_input *ki)
{
	uint64_t end;

	if (ki->finished)
		return;
	ki->finished = true;
	kafka_fn.queue_io_event_enable(ki->q, -1, NULL, 0);
	kafka_fn.queue_io_event_enable(ki->cq, -1, NULL, 0);
	commit(ki, NULL, true);
	/* Results of async commits sent before the sync one are in by now. */
	while (kafka_fn.queue_poll_callback(ki->cq, 0) > 0)
		;
	/* Serves the revoke (our rebalance callback commits again: nothing new by now). */
	kafka_fn.consumer_close(ki->rk);
	while (kafka_fn.queue_poll_callback(ki->cq, 0) > 0)
		;
	/* Commits whose result will never come: undecided, like their alerts. */
	for (struct kcommit *kc = ki->kcs.next, *next; kc != &ki->kcs; kc = next) {
		next = kc->next;
		if (kc->sent && !kc->reported) {
			commit_result(kc, RD_KAFKA_RESP_ERR__DESTROY, NULL);
			kc_free(kc);
		}
	}
	/* Held alerts still undecided stay in the spool: the next start asks the group. */
	for (struct kpart *kp = ki->parts; kp; kp = kp->next) {
		struct krec *r;

		while ((r = kp->held)) {
			held_remove(r);
			pipeline_abandon(ki->p, r->hold);
			krec_finish(r, false);
		}
	}
	kafka_fn.queue_destroy(ki->cq);
	ki->cq = NULL;
	kafka_fn.queue_destroy(ki->q);
	ki->q = NULL;
	kafka_fn.destroy(ki->rk);
	ki->rk = NULL;
	if (ki->dlq) {
		rd_kafka_queue_t *mq = kafka_fn.queue_get_main(ki->dlq);

		kafka_fn.queue_io_event_enable(mq, -1, NULL, 0);
		kafka_fn.queue_destroy(mq);
		kafka_fn.flush(ki->dlq, 1000);
		kafka_fn.purge(ki->dlq, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		end = uv_hrtime() + 1000000000ull;
		while (kafka_fn.outq_len(ki->dlq) > 0 && uv_hrtime() < end)
			kafka_fn.poll(ki->dlq, 100);
		kafka_fn.poll(ki->dlq, 0);
		kafka_fn.destroy(ki->dlq);
		ki->dlq = NULL;
	}
	ki->st.stopped = true;
	uv_close((uv_handle_t *)&ki->poll, on_handle_closed);
	uv_close((uv_handle_t *)&ki->commit_timer, on_handle_closed);
	uv_close((uv_handle_t *)&ki->kick, on_handle_closed);
	uv_close((uv_handle_t *)&ki->stop_timer, on_handle_closed);
	uv_close((uv_handle_t *)&ki->commit_soon, on_handle_closed);
	log_info("kafka_input: closed");
}

void kafka_input_stop(struct kafka_input *ki, int64_t timeout_ms)
{
	if (!ki || ki->stopping)
		return;
	ki->stopping = true;
	uv_poll_stop(&ki->poll);
	uv_timer_stop(&ki->kick);
	uv_timer_stop(&ki->commit_timer);
	uv_timer_stop(&ki->commit_soon);
	if (!ki->pending) {
		finish(ki);
		return;
	}
	log_info("kafka_input: stopped consuming; waiting for %" PRIu64 " alert(s) to be durable",
		 ki->pending);
	uv_timer_start(&ki->stop_timer, on_stop_timer, (uint64_t)(timeout_ms > 0 ? timeout_ms : 0),
		       0);
}

void kafka_input_get_stats(const struct kafka_input *ki, struct kafka_input_stats *st)
{
	*st = ki->st;
	st->pending = ki->pending;
}

void kafka_input_free(struct kafka_input *ki)
{
	if (!ki)
		return;
	while (ki->kcs.next != &ki->kcs) {
		struct kcommit *kc = ki->kcs.next;

		kc->prev->next = kc->next;
		kc->next->prev = kc->prev;
		kafka_fn.topic_partition_list_destroy(kc->list);
		free(kc);
	}
	/* Records the pipeline never answered (it was freed first): nothing to commit any more. */
	while (ki->recs.next != &ki->recs) {
		struct krec *r = ki->recs.next;

		r->prev->next = r->next;
		r->next->prev = r->prev;
		free(r);
	}
	while (ki->parts) {
		struct kpart *kp = ki->parts;

		ki->parts = kp->next;
		kpart_free(kp);
	}
	if (ki->pipefd[0] >= 0) {
		close(ki->pipefd[0]);
		close(ki->pipefd[1]);
	}
	free(ki);
}

/* --- metrics ----------------------------------------------------------------------------------- */

/* Lag by committed offset, as Kafka tools report it: high watermark - committed offset. */
static void gauge_lag(void *data, metrics_emit_fn emit, void *ctx)
{
	struct kafka_input *ki = data;

	if (ki->finished)
		return;
	for (struct kpart *kp = ki->parts; kp; kp = kp->next) {
		int64_t lo = -1, hi = -1, pos;
		char part[16];
		const char *labels[2] = { kp->topic, part };

		if (kp->revoked ||
		    kafka_fn.get_watermark_offsets(ki->rk, kp->topic, kp->partition, &lo, &hi) ||
		    hi < 0)
			continue;
		pos = kp->committed_next >= 0 ? kp->committed_next : lo;
		snprintf(part, sizeof(part), "%" PRId32, kp->partition);
		emit(ctx, labels, (double)(hi > pos ? hi - pos : 0));
	}
}

static void gauge_pending(void *data, metrics_emit_fn emit, void *ctx)
{
	struct kafka_input *ki = data;

	emit(ctx, NULL, (double)ki->pending);
}

static void declare_metrics(struct kafka_input *ki, struct metrics *m)
{
	static const char *const msg[] = { "topic", "status" };
	static const char *const lag[] = { "topic", "partition" };

	if (!m)
		return;
	ki->m_messages = metrics_counter(m, "lanner_kafka_input_messages_total",
					 "Kafka input messages by topic and status (accepted, "
					 "malformed, error)",
					 msg, 2);
	if (metrics_gauge(m, "lanner_kafka_input_lag",
			  "Kafka input lag per assigned partition: high watermark - committed "
			  "offset",
			  lag, 2, gauge_lag, ki) ||
	    metrics_gauge(m, "lanner_kafka_input_pending",
			  "Kafka input alerts submitted and not durable yet", NULL, 0,
			  gauge_pending, ki))
		log_warn("kafka_input: metrics: %s", strerror(ENOMEM));
}
