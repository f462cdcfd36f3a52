/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_GATEWAY_SPOOL_H
#define LANNER_GATEWAY_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/*
 * The durable spool: what the pipeline accepted and some sink has not yet acknowledged, in
 * SQLite (WAL), so that a crash or a restart redelivers instead of losing.
 *
 * Two database files (shards: the configured path and path + ".1"), each with its own
 * connection. Alert ids come in runs of 2^20, the runs alternating between the shards, so an
 * id names its file. The loop commits to one shard, the active one, while the spool's thread
 * applies acks to the other and tidies it: neither waits for the other. Every 50 ms (or 4,000
 * WAL frames) of commits the loop moves to the other shard, if the thread is not busy with it
 * and it does not wait to be tidied, and its ids jump to that shard's next run.
 *
 * The loop stages inserts, marks and acknowledgements and, at the end of each loop iteration,
 * commits the inserts of the iteration in one transaction: on the loop itself when the shard's
 * connection is free and synchronous is NORMAL (a commit is then a few writes to the page
 * cache, no fsync; the callbacks run at once), else on the spool's thread (FULL: an fsync per
 * batch; marks, which go to both shards; or the shard is busy: the batch waits for it, and
 * callbacks keep the inserts' order), each insert's callback running on the loop once its
 * transaction has committed. Acks are applied lazily by the thread, in bulk (range deletes of
 * the small pending rows), on a shard the loop is not committing to (or once the loop was idle
 * 200 ms): a few hundred ms late at most, and a crash before then delivers those alerts again,
 * it never loses one. Tidying a shard whose WAL has grown past 8,000 frames (32 MiB), 100 ms
 * after the loop left it: when nothing in it is pending, the file is made again, empty,
 * without a checkpoint, so the WAL's pages, which only ever reached the page cache, are mostly
 * never written to the disk. A file that is still its first page (nothing ever checkpointed
 * into it) forgets its WAL in place (header zeroed; under load the next WAL is written over
 * it, reusing its pages, idle it is truncated); any other file is closed, its WAL unlinked,
 * then the file. When
 * something in it is still pending, the delivered alerts' rows are deleted and the WAL is
 * checkpointed, its long fsync done before the thread takes the connection. The WAL's writes
 * of a commit are gathered and written at once when it ends (spool_wal.h: one pwrite for what
 * SQLite writes as two per page), before any callback runs. Synchronous mode NORMAL survives a
 * crash of lanner (kill -9); FULL also a power loss. The running lanner holds the files
 * exclusively (no other process can read them meanwhile; `lanner spool stats` says so). Spools
 * of the one-file versions open as they are: rows whose ids belong to the second file move there
 * once.
 *
 *	CREATE TABLE alerts(id INTEGER PRIMARY KEY, priority INTEGER, json TEXT,
 *			    origin_topic TEXT, origin_partition INTEGER, origin_offset INTEGER,
 *			    origin_committing INTEGER);
 *	CREATE TABLE pending(id INTEGER, sink TEXT, PRIMARY KEY(id, sink));
 */

struct spool;

/*
 * Where an alert was read from when it came from the Kafka input (issue 9), kept with it so that
 * a restart can ask the consumer group whether it will replay the alert (topic NULL: no origin).
 * Spools of earlier versions gain the columns when opened.
 */
struct spool_origin {
	const char *topic;
	int32_t partition;
	int64_t offset;
	bool committing; /* loaded: a commit covering it was sent (spool_mark_committing) */
};

/* One (alert, sink) row still pending, for spool_load_rows(). Strings valid during the call. */
struct spool_row {
	int64_t id;
	int priority;
	const char *json;
	size_t len;
	const char *sink;
	struct spool_origin origin;
};

/* Runs on the loop when the insert is durable (err 0) or failed (-EIO: reported already). */
typedef void (*spool_done_fn)(void *data, int err);

/*
 * Open (creating the file and its folder when missing) and start the writer thread. Blocking:
 * call before the loop runs. NULL with errno set, after logging why.
 */
struct spool *spool_open(uv_loop_t *loop, const char *path, bool full_sync);

/* The id for the next insert (ids grow across restarts, with gaps where the shard changes). */
int64_t spool_next_id(const struct spool *s);

/*
 * Startup, before any insert: calls fn for every (alert, sink) still pending, in id order.
 * Blocking. 0 or -EIO.
 */
int spool_load(struct spool *s,
	       void (*fn)(void *ctx, int64_t id, int priority, const char *json, size_t len,
			  const char *sink),
	       void *ctx);

/* The same, with each row's Kafka origin. */
int spool_load_rows(struct spool *s, void (*fn)(void *ctx, const struct spool_row *r), void *ctx);

/*
 * Queue the insert of one alert pending for sinks[0..n) (names copied). json is not copied: it
 * must stay valid until done runs, later on the loop (the pipeline holds the alert whose
 * rendering it is). 0 or -ENOMEM.
 */
int spool_insert(struct spool *s, int64_t id, int priority, const char *json, size_t len,
		 const char *const *sinks, size_t n, spool_done_fn done, void *data);

/* The same, keeping the alert's Kafka origin (NULL or topic NULL: none). */
int spool_insert_origin(struct spool *s, int64_t id, int priority, const char *json, size_t len,
			const struct spool_origin *origin, const char *const *sinks, size_t n,
			spool_done_fn done, void *data);

/*
 * Mark the alerts of (topic, partition) with an offset below `below` as "a commit covering them
 * is being sent" (origin_committing = 1): a restart asks the group's committed offset only for
 * those; the others were never covered by a commit of ours, so the group replays them. With
 * wait, blocks the caller until applied (revoke, shutdown); else done runs on the loop once
 * durable. 0 or -ENOMEM.
 */
int spool_mark_committing(struct spool *s, const char *topic, int32_t partition, int64_t below,
			  bool wait, spool_done_fn done, void *data);

/* Queue "sink is done with alert id" (delivered, refused or dropped). */
void spool_ack(struct spool *s, int64_t id, const char *sink);

/* Inserts and acks applied so far, and failures (for metrics). */
uint64_t spool_errors(const struct spool *s);

/*
 * Apply what is queued, stop the thread, close the database and the loop handle; the memory is
 * freed in the handle's close callback. Blocking for at most one batch. Accepts NULL.
 */
void spool_close(struct spool *s);

/*
 * `lanner spool stats`: print what waits per sink in the spool at path (both its files). 0, or 1
 * on error.
 */
int spool_print_stats(const char *path, void *stream /* FILE * */);

#endif
