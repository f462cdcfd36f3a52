// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/log.h"
#include "gateway/spool.h"
#include "gateway/spool_wal.h"

enum op_kind { OP_INSERT, OP_ACK, OP_MARK };

struct op {
	struct op *next;
	enum op_kind kind;
	int64_t id;
	int priority;
	const char *json; /* the caller's, valid until done runs */
	char *origin_topic; /* NULL: no Kafka origin */
	int32_t origin_partition;
	int64_t origin_offset;
	size_t len;
	const char **sinks; /* interned names (intern); &sink1 for one */
	const char *sink1;
	size_t n_sinks;
	spool_done_fn done;
	void *data;
	bool *applied; /* spool_mark_committing(wait): set under lock once applied */
	int err;
};

struct name {
	struct name *next;
	char s[];
};

struct op_list {
	struct op *head, *tail;
};

/*
 * The spool is two SQLite files (shards): the loop commits its inserts to one (the active
 * shard) while the writer thread applies the acks of the other and checkpoints it, each shard
 * with its own connection, so neither waits for the other. Alert ids come in runs of
 * SPOOL_RUN ids, the runs alternating between the shards: an id says its shard, on disk and
 * after a restart. The loop moves to the other shard (its ids jump to that shard's next run)
 * once the active one has taken commits for SPOOL_SWITCH_MS or SPOOL_SWITCH_FRAMES frames,
 * and only when the writer is not working on it.
 */
#define SPOOL_SHARDS 2
#define SPOOL_RUN_SHIFT 20
#define SPOOL_SWITCH_MS 50
#define SPOOL_SWITCH_FRAMES 4000

static unsigned shard_of(int64_t id)
{
	return (unsigned)((uint64_t)id >> SPOOL_RUN_SHIFT) & 1U;
}

/* The first id of the run after id's: the other shard's. */
static int64_t next_run(int64_t id)
{
	return (int64_t)((((uint64_t)id >> SPOOL_RUN_SHIFT) + 1) << SPOOL_RUN_SHIFT);
}

struct shard {
	sqlite3 *db;
	sqlite3_stmt *ins_alert, *ins_pending, *del_pending, *purge, *any, *mark, *begin, *commit;
	int page_size; /* the file's (PRAGMA page_size), read at connect */
	pthread_mutex_t db_lock; /* whoever uses the connection: the writer, or commit_inline */
	int wal_frames; /* in the WAL since the last checkpoint (atomic) */
	char *path, *wal_path;
	bool in_use; /* under spool.lock: the writer works on it, the loop does not move to it */
	bool broken; /* under spool.lock: db is NULL (it could not be made again): ops fail */
	bool wal_kept; /* writer thread: its WAL was forgotten under load, its size kept (idle: tidied) */
	uint64_t kept_retry_at; /* writer thread: a kept WAL still holding pending alerts: next look */
	uint64_t retry_at; /* writer thread: when to try to make it again (mono_ns) */
	uint64_t left_at; /* under spool.lock: when the loop last moved away from it (mono_ns) */
	struct op_list lazy; /* writer thread: acks not applied yet (SPOOL_ACK_BULK) */
	size_t n_lazy;
	uint64_t lazy_since; /* when the oldest of lazy was queued (mono_ns) */
};

struct spool {
	uv_loop_t *loop;
	uv_async_t async; /* the thread -> loop: inserts committed */
	uv_check_t check; /* end of each loop iteration: hand staged ops to the thread */
	uv_idle_t idle; /* active while ops are staged: the loop's poll must not block */
	int open_handles;
	struct op_list staged; /* loop only: queued during this loop iteration */
	struct name *names; /* loop only: interned sink names, freed at close */
	unsigned staged_urgent; /* loop only: inserts and marks in staged */
	unsigned staged_shards; /* loop only: bit k: an insert of shard k is staged */
	bool staged_mark; /* loop only: a mark is staged (it goes to both shards) */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_cond_t applied_cond;
	struct op_list todo; /* loop -> thread */
	unsigned urgent; /* inserts and marks in todo: they end the writer's wait, acks alone not */
	bool inflight; /* the writer holds inserts or marks whose callbacks are not queued yet */
	struct op_list done; /* thread -> loop */
	bool stop;
	bool sleeping; /* the writer waits without a deadline (for a signal) */
	bool thread_started;
	unsigned active; /* the shard of next_id: written by the loop under lock */
	uint64_t active_since; /* loop only: when the loop moved to the active shard (mono_ns) */
	int active_frames; /* loop only: the active shard's WAL frames then */
	struct shard sh[SPOOL_SHARDS];
	bool inline_commit; /* synchronous NORMAL: commits on the loop when db_lock is free */
	bool full_sync;
	uint64_t idle_since; /* when the last batch was committed (mono_ns, atomic) */
	struct op **acks; /* writer thread: the lazy acks being applied, sorted */
	size_t acks_cap;
	int64_t next_id;
	uint64_t errors;
};

static void list_push(struct op_list *l, struct op *o)
{
	o->next = NULL;
	if (l->tail)
		l->tail->next = o;
	else
		l->head = o;
	l->tail = o;
}

static void op_free(struct op *o)
{
	if (o->sinks != &o->sink1)
		free(o->sinks);
	free(o->origin_topic);
	free(o);
}

static int exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error("spool: %s: %s", sql, msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int apply(struct spool *s, struct shard *sh, struct op *o)
{
	int rc = SQLITE_OK;

	if (o->kind == OP_INSERT) {
		sqlite3_bind_int64(sh->ins_alert, 1, o->id);
		sqlite3_bind_int(sh->ins_alert, 2, o->priority);
		sqlite3_bind_text(sh->ins_alert, 3, o->json, (int)o->len, SQLITE_STATIC);
		if (o->origin_topic) {
			sqlite3_bind_text(sh->ins_alert, 4, o->origin_topic, -1, SQLITE_STATIC);
			sqlite3_bind_int64(sh->ins_alert, 5, o->origin_partition);
			sqlite3_bind_int64(sh->ins_alert, 6, o->origin_offset);
		} else {
			sqlite3_bind_null(sh->ins_alert, 4);
			sqlite3_bind_null(sh->ins_alert, 5);
			sqlite3_bind_null(sh->ins_alert, 6);
		}
		rc = sqlite3_step(sh->ins_alert);
		sqlite3_reset(sh->ins_alert);
		for (size_t i = 0; rc == SQLITE_DONE && i < o->n_sinks; i++) {
			sqlite3_bind_int64(sh->ins_pending, 1, o->id);
			sqlite3_bind_text(sh->ins_pending, 2, o->sinks[i], -1, SQLITE_STATIC);
			rc = sqlite3_step(sh->ins_pending);
			sqlite3_reset(sh->ins_pending);
		}
	} else {
		sqlite3_bind_text(sh->mark, 1, o->origin_topic, -1, SQLITE_STATIC);
		sqlite3_bind_int64(sh->mark, 2, o->origin_partition);
		sqlite3_bind_int64(sh->mark, 3, o->origin_offset);
		rc = sqlite3_step(sh->mark);
		sqlite3_reset(sh->mark);
	}
	if (rc != SQLITE_DONE) {
		if (o->kind == OP_INSERT)
			log_error("spool: insert of alert %lld: %s", (long long)o->id,
				  sqlite3_errmsg(sh->db));
		else
			log_error("spool: marking %s[%d] below %lld: %s", o->origin_topic,
				  (int)o->origin_partition, (long long)o->origin_offset,
				  sqlite3_errmsg(sh->db));
		return -EIO;
	}
	return 0;
}

static int ack_cmp(const void *a, const void *b)
{
	const struct op *x = *(struct op *const *)a, *y = *(struct op *const *)b;

	/* sink names are interned: one pointer per sink */
	if (x->sinks[0] != y->sinks[0])
		return (uintptr_t)x->sinks[0] < (uintptr_t)y->sinks[0] ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * The acks of a batch (all of one shard), sorted by (sink, id): one range delete of pending rows
 * per run of consecutive ids of a sink (a sink delivers in order, so a batch's acks are mostly
 * one run per sink). The alerts rows stay until their whole file goes (shard_tidy): a restart
 * reads only the alerts some sink still holds, and deletes the others.
 */
static void apply_acks(struct shard *sh, struct op **acks, size_t n)
{
	qsort(acks, n, sizeof(*acks), ack_cmp);
	for (size_t i = 0, j; i < n; i = j) {
		int rc;

		for (j = i + 1; j < n && acks[j]->id <= acks[j - 1]->id + 1 &&
				acks[j]->sinks[0] == acks[i]->sinks[0];
		     j++)
			;
		sqlite3_bind_int64(sh->del_pending, 1, acks[i]->id);
		sqlite3_bind_int64(sh->del_pending, 2, acks[j - 1]->id);
		sqlite3_bind_text(sh->del_pending, 3, acks[i]->sinks[0], -1, SQLITE_STATIC);
		rc = sqlite3_step(sh->del_pending);
		sqlite3_reset(sh->del_pending);
		if (rc == SQLITE_DONE)
			continue;
		log_error("spool: ack of alerts %lld-%lld for %s: %s", (long long)acks[i]->id,
			  (long long)acks[j - 1]->id, acks[i]->sinks[0], sqlite3_errmsg(sh->db));
		for (size_t k = i; k < j; k++)
			acks[k]->err = -EIO;
	}
}

static int step_once(struct shard *sh, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_error("spool: %s: %s", sqlite3_sql(st), sqlite3_errmsg(sh->db));
		return -EIO;
	}
	return 0;
}

/*
 * COMMIT, and the WAL's frames written out (spool_wal.h): only then is the transaction
 * durable. A failed write is a failed commit: the caller's callbacks report it.
 */
static int commit(struct shard *sh)
{
	int err = step_once(sh, sh->commit);

	if (!err && spool_wal_flush(sh->db) != SQLITE_OK)
		err = -EIO;
	if (err && !sqlite3_get_autocommit(sh->db))
		exec(sh->db, "ROLLBACK");
	return err;
}

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/*
 * Acks are applied lazily: they wait in their shard's list and go in bulk, once SPOOL_ACK_BULK
 * are waiting or the oldest has waited SPOOL_ACK_DELAY_MS, in a transaction of the writer on
 * that shard when the loop is committing to the other one (or has been idle SPOOL_IDLE_MS, or
 * SPOOL_ACK_MAX are waiting), and at close. So the loop's commits carry inserts only, and a
 * sink delivering in order makes one range delete of many acks. What a crash loses is at most
 * that: alerts delivered again, never lost.
 */
#define SPOOL_ACK_BULK 1024
#define SPOOL_ACK_DELAY_MS 100
#define SPOOL_ACK_MAX 65536

/*
 * Checkpoints run on the writer thread, not inside a commit (wal_autocheckpoint is off): on a
 * shard the loop has moved away from, past SPOOL_CHECKPOINT_SHARD frames (32 MiB of WAL with
 * 4 KiB pages: the file is reused, not grown); on any shard past SPOOL_CHECKPOINT_IDLE frames
 * once the loop was idle SPOOL_IDLE_MS; and on the active one past SPOOL_CHECKPOINT_MAX, when the
 * loop could not move. Most of a checkpoint's time is its fsync of the WAL: the writer does that
 * fsync first, on its own descriptor and without db_lock, so that the checkpoint proper
 * (SQLite's own syncs, which then find little to write, and the copy of the pages back) holds
 * the connection less.
 */
#define SPOOL_CHECKPOINT_IDLE 1000
#define SPOOL_CHECKPOINT_SHARD 8000
#define SPOOL_CHECKPOINT_MAX 16000
#define SPOOL_TIDY_DELAY_MS 100
#define SPOOL_IDLE_MS 200

static void lazy_push(struct spool *s, struct op *o)
{
	struct shard *sh = &s->sh[shard_of(o->id)];

	if (!sh->lazy.head)
		sh->lazy_since = mono_ns();
	list_push(&sh->lazy, o);
	sh->n_lazy++;
}

/* The shard's lazy acks, applied in its open transaction (err: it could not be opened). */
static void apply_lazy(struct spool *s, struct shard *sh, int err)
{
	size_t n = 0;
	struct op *o;

	if (sh->n_lazy > s->acks_cap) {
		struct op **acks = realloc(s->acks, sh->n_lazy * sizeof(*acks));

		if (acks) {
			s->acks = acks;
			s->acks_cap = sh->n_lazy;
		}
	}
	for (o = sh->lazy.head; o; o = o->next) {
		if (err)
			o->err = err;
		else if (n < s->acks_cap)
			s->acks[n++] = o;
		else /* no memory for the array: one by one */
			apply_acks(sh, &o, 1);
	}
	if (n)
		apply_acks(sh, s->acks, n);
}

/* An op of work goes to shard k: an insert to its id's shard, a mark to both. */
static bool op_in(const struct op *o, unsigned k)
{
	return o->kind == OP_MARK || shard_of(o->id) == k;
}

/*
 * db_lock of shard k held: one transaction for the ops of work that go to k (inserts and marks;
 * one commit, and with FULL sync one fsync, for many alerts) and, with flush, k's lazy acks.
 * An op that fails gets its err; the ops stay where they are.
 */
static void commit_work(struct spool *s, unsigned k, struct op *work, bool flush)
{
	struct shard *sh = &s->sh[k];
	struct op_list acks = { 0 };
	struct op *o, *next;
	int err = sh->db ? step_once(sh, sh->begin) : -EIO;

	for (o = work; o; o = o->next)
		if (op_in(o, k) && !o->err)
			o->err = err ? err : apply(s, sh, o);
	if (flush) {
		apply_lazy(s, sh, err);
		acks = sh->lazy;
		sh->lazy.head = sh->lazy.tail = NULL;
		sh->n_lazy = 0;
	}
	if (!err && commit(sh)) {
		for (o = work; o; o = o->next)
			if (op_in(o, k))
				o->err = -EIO;
		for (o = acks.head; o; o = o->next)
			o->err = -EIO;
	}
	for (o = acks.head; o; o = next) {
		next = o->next;
		if (o->err)
			__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
		op_free(o);
	}
	/* the loop's activity: inserts and marks, not the writer's own acks */
	if (work)
		__atomic_store_n(&s->idle_since, mono_ns(), __ATOMIC_RELAXED);
}

/* After commit_work on every shard: the ops whose callbacks are due, in order; others freed. */
static struct op *finish_work(struct spool *s, struct op *work)
{
	struct op_list finished = { 0 };
	struct op *o, *next;

	for (o = work; o; o = next) {
		next = o->next;
		if (o->err)
			__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
		if (o->applied) {
			pthread_mutex_lock(&s->lock);
			*o->applied = true;
			pthread_cond_broadcast(&s->applied_cond);
			pthread_mutex_unlock(&s->lock);
			op_free(o);
		} else if (o->done) {
			list_push(&finished, o);
		} else {
			op_free(o);
		}
	}
	return finished.head;
}

/*
 * Writer thread: a batch handed over by the loop. Its acks join their shard's lazy ones; its
 * inserts and marks are committed, shard by shard, with force the lazy acks too. The callbacks
 * are queued for the loop before inflight is cleared, so that a commit on the loop
 * (commit_inline) cannot overtake them.
 */
static void apply_batch(struct spool *s, struct op *batch, bool force)
{
	struct op_list work = { 0 };
	struct op *o, *next, *finished;

	for (o = batch; o; o = next) {
		next = o->next;
		if (o->kind == OP_ACK)
			lazy_push(s, o);
		else
			list_push(&work, o);
	}
	for (unsigned k = 0; k < SPOOL_SHARDS; k++) {
		struct shard *sh = &s->sh[k];
		bool flush = force && sh->lazy.head;

		for (o = work.head; o && !flush; o = o->next)
			if (op_in(o, k))
				break;
		if (!o && !flush)
			continue;
		pthread_mutex_lock(&sh->db_lock);
		commit_work(s, k, work.head, flush);
		pthread_mutex_unlock(&sh->db_lock);
	}
	finished = finish_work(s, work.head);
	pthread_mutex_lock(&s->lock);
	if (finished) {
		for (o = finished; o->next; o = o->next)
			;
		if (s->done.tail)
			s->done.tail->next = finished;
		else
			s->done.head = finished;
		s->done.tail = o;
	}
	s->inflight = false;
	pthread_mutex_unlock(&s->lock);
	if (finished)
		uv_async_send(&s->async);
}

/* After every commit (db_lock held): how many frames the shard's WAL holds. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct shard *sh = arg;

	__atomic_store_n(&sh->wal_frames, frames, __ATOMIC_RELAXED);
	return SQLITE_OK;
}

static void checkpoint(struct shard *sh)
{
	int fd = open(sh->wal_path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		/* only to make the checkpoint's own fsync short: SQLite still syncs */
		fdatasync(fd);
		close(fd);
	}
	pthread_mutex_lock(&sh->db_lock);
	sh->wal_kept = false;
	if (sqlite3_wal_checkpoint_v2(sh->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) !=
	    SQLITE_OK)
		log_warn("spool: checkpoint of %s: %s", sh->path, sqlite3_errmsg(sh->db));
	__atomic_store_n(&sh->wal_frames, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&sh->db_lock);
}

/* What is due on shard k (lock held): its acks, a checkpoint; else *deadline (0: none). */
struct due {
	bool acks, checkpoint;
	uint64_t deadline;
};

static struct due shard_due(struct spool *s, unsigned k, uint64_t now)
{
	struct shard *sh = &s->sh[k];
	int frames = __atomic_load_n(&sh->wal_frames, __ATOMIC_RELAXED);
	uint64_t idle =
		__atomic_load_n(&s->idle_since, __ATOMIC_RELAXED) + SPOOL_IDLE_MS * 1000000ULL;
	bool active = k == s->active, idle_now = now >= idle, quiet = !active || idle_now;
	struct due d = { false, false, 0 };

	if (!sh->db) {
		/* not there (shard_recycle could not make it again): retry every second */
		d.checkpoint = now >= sh->retry_at;
		d.deadline = d.checkpoint ? 0 : sh->retry_at;
		return d;
	}
	if (sh->lazy.head) {
		uint64_t at = sh->lazy_since + SPOOL_ACK_DELAY_MS * 1000000ULL;

		if (active && idle > at)
			at = idle;
		d.acks = sh->n_lazy >= SPOOL_ACK_MAX ||
			 (quiet && (sh->n_lazy >= SPOOL_ACK_BULK || now >= at));
		if (!d.acks)
			d.deadline = at;
	}
	/*
	 * A shard the loop left is tidied SPOOL_TIDY_DELAY_MS later: the acks of its last alerts,
	 * still at their sinks when it was left, have come by then, and with nothing pending the
	 * file is dropped rather than checkpointed (shard_tidy).
	 */
	if (!active && frames >= SPOOL_CHECKPOINT_SHARD) {
		uint64_t at = sh->left_at + SPOOL_TIDY_DELAY_MS * 1000000ULL;

		if (now >= at)
			d.checkpoint = true;
		else if (!d.deadline || at < d.deadline)
			d.deadline = at;
	}
	/* idle, a WAL kept at its size (wal_forget) is tidied too: given back */
	if (frames >= SPOOL_CHECKPOINT_IDLE || (sh->wal_kept && now >= sh->kept_retry_at)) {
		if (frames >= SPOOL_CHECKPOINT_MAX || idle_now)
			d.checkpoint = true;
		else if (!d.checkpoint && (!d.deadline || idle < d.deadline))
			d.deadline = idle;
	} else if (sh->wal_kept && !d.checkpoint &&
		   (!d.deadline || sh->kept_retry_at < d.deadline)) {
		d.deadline = sh->kept_retry_at;
	}
	return d;
}

/*
 * Writer thread, lock held: wait until an insert or a mark is queued (acks alone join the lazy
 * ones and do not end the wait) or stop (*k = -1), or until a shard's acks or checkpoint are
 * due (*k: that shard, marked in_use).
 */
static void wait_for_work(struct spool *s, int *k)
{
	for (;;) {
		uint64_t now = mono_ns(), deadline = 0;
		struct timespec ts;
		struct op *o, *next;

		*k = -1;
		if (s->urgent || s->stop)
			return;
		for (o = s->todo.head; o; o = next) {
			next = o->next;
			lazy_push(s, o);
		}
		s->todo.head = s->todo.tail = NULL;
		for (unsigned i = 0; i < SPOOL_SHARDS; i++) {
			struct due d = shard_due(s, i, now);

			if (d.acks || d.checkpoint) {
				s->sh[i].in_use = true;
				*k = (int)i;
				return;
			}
			if (d.deadline && (!deadline || d.deadline < deadline))
				deadline = d.deadline;
		}
		if (!deadline) {
			s->sleeping = true;
			pthread_cond_wait(&s->cond, &s->lock);
			s->sleeping = false;
			continue;
		}
		ts.tv_sec = (time_t)(deadline / 1000000000ULL);
		ts.tv_nsec = (long)(deadline % 1000000000ULL);
		pthread_cond_timedwait(&s->cond, &s->lock, &ts);
	}
}

static int shard_connect(struct spool *s, struct shard *sh);
static bool one_page(const struct shard *sh);
static void shard_disconnect(struct shard *sh);

/* fsync the folder of path. 0, or -1 with errno set. */
static int sync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, rc = -1;

	if (!copy)
		return -1;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	free(copy);
	return rc;
}

/*
 * The WAL of a file that is still its first page (one_page) forgotten, its connection closed:
 * SQLite then reads the file as it was made, empty.
 * - Under load (keep): the WAL's header is zeroed. SQLite reads it as empty and writes the next
 *   WAL over this one from its start (new salts: the old frames behind can never pass for it).
 *   Its pages stay in the page cache and are written over, instead of being freed with the file
 *   and allocated again for the next (the kernel's folio and block reservation for each page
 *   written). The price: the kernel writes these dirty pages out from time to time
 *   (dirty_expire_centisecs), and the WAL keeps its size while the load lasts.
 * - Idle: the WAL is truncated, its pages and blocks given back.
 * 0, or -1 with errno set.
 */
static int wal_forget(const struct shard *sh, bool keep, bool full_sync)
{
	static const char zero[32]; /* the WAL header: its magic number first */
	int fd = open(sh->wal_path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	errno = 0;
	if (keep ? pwrite(fd, zero, sizeof(zero), 0) != (ssize_t)sizeof(zero) : ftruncate(fd, 0))
		err = errno ? errno : EIO; /* a short write sets none */
	else if (full_sync && fdatasync(fd))
		err = errno;
	close(fd);
	errno = err;
	return err ? -1 : 0;
}

/*
 * Writer thread, db_lock held: a file whose every alert was delivered is not checkpointed but
 * made again, empty, and no row is deleted one by one. The WAL's pages, written to the page
 * cache only (synchronous NORMAL), are then mostly never written to the disk at all.
 * - A file still its first page (one_page: nothing was ever checkpointed into it): its WAL is
 *   forgotten (wal_forget), kept for the next while alerts keep coming. A crash before that
 *   leaves the WAL whole: its delivered alerts and their acks.
 * - Else its connection is closed without a checkpoint, its WAL unlinked, then the file (the new
 *   one is a first page again). A crash between the two unlinks leaves the file as of its last
 *   checkpoint: alerts delivered again, never lost (a WAL without its file is what must never be
 *   left: it would be applied to a new one).
 */
static void shard_recycle(struct spool *s, unsigned k)
{
	struct shard *sh = &s->sh[k];
	uint64_t idle =
		__atomic_load_n(&s->idle_since, __ATOMIC_RELAXED) + SPOOL_IDLE_MS * 1000000ULL;
	bool drop = true, busy = mono_ns() < idle;

	if (sh->db) { /* else a retry: a failed attempt left at most a file with nothing in it */
		sqlite3_db_config(sh->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
		shard_disconnect(sh);
	}
	sh->wal_kept = false;
	if (one_page(sh)) {
		if (!wal_forget(sh, busy, s->full_sync)) {
			drop = false; /* nothing to remove: the file is as it was made */
			sh->wal_kept = busy;
		} else {
			log_warn("spool: cannot reset %s: %s (removing it)", sh->wal_path,
				 strerror(errno));
		}
	}
	if (drop && unlink(sh->wal_path) && errno != ENOENT) {
		log_error("spool: cannot remove %s: %s", sh->wal_path, strerror(errno));
		drop = false;
	}
	/* FULL also survives a power loss: the WAL's removal must be on disk before the file's */
	if (drop && s->full_sync && sync_dir(sh->path)) {
		log_error("spool: cannot sync the folder of %s: %s (the file is kept)", sh->path,
			  strerror(errno));
		drop = false;
	}
	if (drop && unlink(sh->path) && errno != ENOENT)
		log_error("spool: cannot remove %s: %s (it is reused as it is)", sh->path,
			  strerror(errno));
	if (!shard_connect(s, sh)) {
		pthread_mutex_lock(&s->lock);
		sh->broken = false;
		pthread_mutex_unlock(&s->lock);
		return;
	}
	/* ops on it fail (their alerts go out from memory) until it can be made again */
	shard_disconnect(sh);
	sh->retry_at = mono_ns() + 1000000000ULL;
	pthread_mutex_lock(&s->lock);
	sh->broken = true;
	pthread_mutex_unlock(&s->lock);
}

/*
 * Writer thread: the WAL of shard k is due for a checkpoint. With nothing pending, the file is
 * made again instead (shard_recycle); else the alerts no sink holds are deleted, then the WAL is
 * checkpointed.
 */
static void shard_tidy(struct spool *s, unsigned k)
{
	struct shard *sh = &s->sh[k];
	int rc;

	pthread_mutex_lock(&sh->db_lock);
	if (!sh->db) {
		shard_recycle(s, k);
		pthread_mutex_unlock(&sh->db_lock);
		return;
	}
	rc = sqlite3_step(sh->any);
	if (rc == SQLITE_ROW && !sqlite3_column_int(sh->any, 0)) {
		sqlite3_reset(sh->any);
		shard_recycle(s, k);
		pthread_mutex_unlock(&sh->db_lock);
		return;
	}
	sqlite3_reset(sh->any);
	/*
	 * A kept WAL tidied for its size alone, with something in it still pending: not
	 * checkpointed (the sync before it would write out the old WAL's pages behind the new
	 * one); looked at again a second later.
	 */
	if (sh->wal_kept &&
	    __atomic_load_n(&sh->wal_frames, __ATOMIC_RELAXED) < SPOOL_CHECKPOINT_IDLE) {
		sh->kept_retry_at = mono_ns() + 1000000000ULL;
		pthread_mutex_unlock(&sh->db_lock);
		return;
	}
	if (!step_once(sh, sh->begin) && !step_once(sh, sh->purge))
		commit(sh);
	else if (!sqlite3_get_autocommit(sh->db))
		exec(sh->db, "ROLLBACK");
	pthread_mutex_unlock(&sh->db_lock);
	checkpoint(sh);
}

/* Writer thread: shard k's due acks and checkpoint (k is marked in_use). */
static void shard_work(struct spool *s, unsigned k)
{
	struct shard *sh = &s->sh[k];
	struct due d;

	pthread_mutex_lock(&s->lock);
	d = shard_due(s, k, mono_ns());
	pthread_mutex_unlock(&s->lock);
	/* before a checkpoint, all its acks: the file may then hold nothing (shard_tidy) */
	if (d.acks || (d.checkpoint && sh->lazy.head)) {
		pthread_mutex_lock(&sh->db_lock);
		commit_work(s, k, NULL, true);
		pthread_mutex_unlock(&sh->db_lock);
	}
	pthread_mutex_lock(&s->lock);
	d = shard_due(s, k, mono_ns());
	pthread_mutex_unlock(&s->lock);
	if (d.checkpoint)
		shard_tidy(s, k);
	pthread_mutex_lock(&s->lock);
	sh->in_use = false;
	pthread_mutex_unlock(&s->lock);
}

static void *writer(void *arg)
{
	struct spool *s = arg;

	for (;;) {
		struct op *batch;
		bool stop;
		int k;

		pthread_mutex_lock(&s->lock);
		wait_for_work(s, &k);
		if (k >= 0) {
			pthread_mutex_unlock(&s->lock);
			shard_work(s, (unsigned)k);
			continue;
		}
		batch = s->todo.head;
		s->todo.head = s->todo.tail = NULL;
		s->inflight = s->urgent > 0;
		s->urgent = 0;
		stop = s->stop;
		pthread_mutex_unlock(&s->lock);
		/* stopping: everything, lazy acks too (spool_close queues nothing after stop) */
		apply_batch(s, batch, stop);
		if (stop)
			break;
		/*
		 * Batches one after the other (FULL sync: every commit is the writer's) end each
		 * wait at once, before it looks at the shards: what is due on them goes first.
		 */
		for (unsigned i = 0; i < SPOOL_SHARDS; i++) {
			struct due d;

			pthread_mutex_lock(&s->lock);
			d = shard_due(s, i, mono_ns());
			if (d.acks || d.checkpoint)
				s->sh[i].in_use = true;
			pthread_mutex_unlock(&s->lock);
			if (d.acks || d.checkpoint)
				shard_work(s, i);
		}
	}
	return NULL;
}

/* On the loop: run the callbacks of committed inserts. */
static void on_async(uv_async_t *h)
{
	struct spool *s = h->data;
	struct op *o, *next;

	pthread_mutex_lock(&s->lock);
	o = s->done.head;
	s->done.head = s->done.tail = NULL;
	pthread_mutex_unlock(&s->lock);
	for (; o; o = next) {
		next = o->next;
		o->done(o->data, o->err);
		op_free(o);
	}
}

static void on_check(uv_check_t *h);
static void on_idle(uv_idle_t *h);

static int mkdir_parent(const char *path)
{
	char *copy = strdup(path), *dir;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	dir = dirname(copy);
	if (mkdir(dir, 0750) && errno != EEXIST)
		err = -errno;
	free(copy);
	return err;
}

/*
 * Spools written before issue 9's origin columns get them (NULL: no Kafka origin). ALTER TABLE
 * ADD COLUMN only touches the schema, so even a large spool migrates at once.
 */
static int migrate_origin(sqlite3 *db)
{
	static const char *const cols[] = { "origin_topic", "origin_partition", "origin_offset",
					    "origin_committing" };
	static const char *const types[] = { "TEXT", "INTEGER", "INTEGER",
					     "INTEGER NOT NULL DEFAULT 0" };
	bool have[4] = { false, false, false, false };
	sqlite3_stmt *st;
	char sql[128];
	int err = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA table_info(alerts)", -1, &st, NULL) != SQLITE_OK) {
		log_error("spool: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 1);

		for (size_t i = 0; name && i < 4; i++)
			if (!strcmp(name, cols[i]))
				have[i] = true;
	}
	sqlite3_finalize(st);
	for (size_t i = 0; !err && i < 4; i++) {
		if (have[i])
			continue;
		snprintf(sql, sizeof(sql), "ALTER TABLE alerts ADD COLUMN %s %s", cols[i],
			 types[i]);
		err = exec(db, sql);
		if (!err && i == 0)
			log_info("spool: added the Kafka origin columns (origin_topic, "
				 "origin_partition, origin_offset, origin_committing)");
	}
	if (!err)
		err = exec(db, "CREATE INDEX IF NOT EXISTS alerts_origin ON alerts(origin_topic, "
			       "origin_partition, origin_offset) WHERE origin_topic IS NOT NULL");
	return err;
}

static int prepare(struct shard *sh)
{
	static const char *const sql[] = {
		"INSERT INTO alerts(id, priority, json, origin_topic, origin_partition, "
		"origin_offset) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
		"INSERT OR IGNORE INTO pending(id, sink) VALUES (?1, ?2)",
		"DELETE FROM pending WHERE id BETWEEN ?1 AND ?2 AND sink = ?3",
		"DELETE FROM alerts WHERE id NOT IN (SELECT id FROM pending)",
		"SELECT EXISTS (SELECT 1 FROM pending)",
		"UPDATE alerts SET origin_committing = 1 WHERE origin_topic = ?1 AND "
		"origin_partition = ?2 AND origin_offset < ?3 AND origin_committing = 0",
		"BEGIN IMMEDIATE",
		"COMMIT",
	};
	sqlite3_stmt **stmts[] = { &sh->ins_alert, &sh->ins_pending, &sh->del_pending, &sh->purge,
				   &sh->any,	   &sh->mark,	     &sh->begin,       &sh->commit };

	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		if (sqlite3_prepare_v2(sh->db, sql[i], -1, stmts[i], NULL) != SQLITE_OK) {
			log_error("spool: %s: %s", sh->path, sqlite3_errmsg(sh->db));
			return -EIO;
		}
	}
	return 0;
}

static int read_page_size(struct shard *sh)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(sh->db, "PRAGMA page_size", -1, &st, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		sh->page_size = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		log_error("spool: %s: page size: %s", sh->path, sqlite3_errmsg(sh->db));
		return -EIO;
	}
	return 0;
}

/*
 * The file is still its first page: nothing was ever checkpointed into it (a checkpoint of the
 * tables alone writes their root pages after it), so everything it holds is in its WAL, and
 * forgetting the WAL leaves it as it was made, with no table. Only an unlink makes a file
 * shorter: the spool never vacuums.
 */
static bool one_page(const struct shard *sh)
{
	struct stat st;

	return sh->page_size > 0 && !stat(sh->path, &st) && S_ISREG(st.st_mode) &&
	       st.st_size <= sh->page_size;
}

/* Shard k's connection to its file, made (and its tables) if missing. 0 or an error (logged). */
static int shard_connect(struct spool *s, struct shard *sh)
{
	int err;

	/*
	 * No mutex: one thread at a time uses a connection (the loop while opening and loading,
	 * before any op is queued; then the writer thread or the loop, under db_lock; the loop
	 * again once the writer is joined).
	 */
	if (sqlite3_open_v2(sh->path, &sh->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    spool_wal_vfs()) != SQLITE_OK) {
		log_error("spool: cannot open %s: %s", sh->path,
			  sh->db ? sqlite3_errmsg(sh->db) : "out of memory");
		sqlite3_close(sh->db);
		sh->db = NULL;
		return -EIO;
	}
	sqlite3_busy_timeout(sh->db, 5000);
	/*
	 * One process owns the spool: an exclusive lock, taken by the first transaction and held
	 * until close, saves the file-lock calls of every transaction, and set before WAL mode
	 * it keeps the WAL index in memory instead of a shared -shm file.
	 */
	err = exec(sh->db, "PRAGMA locking_mode=EXCLUSIVE");
	if (!err)
		err = exec(sh->db, "PRAGMA journal_mode=WAL");
	if (!err)
		err = exec(sh->db,
			   s->full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
	/*
	 * Distributions build SQLite with SECURE_DELETE, which overwrites every deleted alert
	 * and freed page with zeros: one more page write per batch for content that the WAL
	 * holds anyway until the next checkpoint.
	 */
	if (!err)
		err = exec(sh->db, "PRAGMA secure_delete=OFF");
	if (!err)
		err = exec(sh->db,
			   "CREATE TABLE IF NOT EXISTS alerts(id INTEGER PRIMARY KEY, "
			   "priority INTEGER NOT NULL, json TEXT NOT NULL, origin_topic TEXT, "
			   "origin_partition INTEGER, origin_offset INTEGER, "
			   "origin_committing INTEGER NOT NULL DEFAULT 0)");
	if (!err)
		err = migrate_origin(sh->db);
	if (!err)
		err = exec(sh->db, "CREATE TABLE IF NOT EXISTS pending(id INTEGER NOT NULL, "
				   "sink TEXT NOT NULL, PRIMARY KEY(id, sink)) WITHOUT ROWID");
	if (!err)
		err = prepare(sh);
	if (!err)
		err = read_page_size(sh);
	if (err)
		return err;
	/* The writer checkpoints on its own terms (shard_due), never inside a commit. */
	sqlite3_wal_autocheckpoint(sh->db, 0);
	sqlite3_wal_hook(sh->db, on_wal_commit, sh);
	__atomic_store_n(&sh->wal_frames, 0, __ATOMIC_RELAXED);
	return 0;
}

static void shard_disconnect(struct shard *sh)
{
	sqlite3_finalize(sh->ins_alert);
	sqlite3_finalize(sh->ins_pending);
	sqlite3_finalize(sh->del_pending);
	sqlite3_finalize(sh->purge);
	sqlite3_finalize(sh->any);
	sqlite3_finalize(sh->mark);
	sqlite3_finalize(sh->begin);
	sqlite3_finalize(sh->commit);
	sh->ins_alert = sh->ins_pending = sh->del_pending = sh->purge = sh->any = sh->mark =
		sh->begin = sh->commit = NULL;
	sqlite3_close(sh->db);
	sh->db = NULL;
}

/* Shard k's file: the configured path for shard 0, path + ".1" for shard 1. */
static int shard_open(struct spool *s, unsigned k, const char *path)
{
	struct shard *sh = &s->sh[k];

	pthread_mutex_init(&sh->db_lock, NULL);
	if ((k ? asprintf(&sh->path, "%s.1", path) : asprintf(&sh->path, "%s", path)) < 0) {
		sh->path = NULL;
		log_error("spool: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	if (asprintf(&sh->wal_path, "%s-wal", sh->path) < 0) {
		sh->wal_path = NULL;
		log_error("spool: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	return shard_connect(s, sh);
}

static void shard_close(struct shard *sh)
{
	shard_disconnect(sh);
	pthread_mutex_destroy(&sh->db_lock);
	free(sh->path);
	free(sh->wal_path);
}

#define MISPLACED "((id >> 20) & 1) != ?1"
_Static_assert(SPOOL_RUN_SHIFT == 20, "MISPLACED spells the shard of an id");

/*
 * Rows in the wrong shard for their id (a spool of a version with one file, whose ids may lie
 * in shard 1's runs) move to the other shard: copied there first (OR IGNORE: a copy left by a
 * crash halfway is not doubled), then deleted here. 0 or -EIO.
 */
static int move_misplaced(struct shard *from, struct shard *to, unsigned k)
{
	sqlite3_stmt *sel = NULL, *ins = NULL;
	int rc = SQLITE_DONE, err = 0, moved = 0;

	if (sqlite3_prepare_v2(from->db,
			       "SELECT id, priority, json, origin_topic, origin_partition, "
			       "origin_offset, origin_committing FROM alerts WHERE " MISPLACED,
			       -1, &sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(to->db,
			       "INSERT OR IGNORE INTO alerts(id, priority, json, origin_topic, "
			       "origin_partition, origin_offset, origin_committing) VALUES "
			       "(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
			       -1, &ins, NULL) != SQLITE_OK) {
		log_error("spool: moving rows from %s to %s: %s; %s", from->path, to->path,
			  sqlite3_errmsg(from->db), sqlite3_errmsg(to->db));
		err = -EIO;
		goto out;
	}
	sqlite3_bind_int(sel, 1, (int)k);
	err = exec(to->db, "BEGIN IMMEDIATE");
	while (!err && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
		for (int i = 0; i < 7; i++)
			sqlite3_bind_value(ins, i + 1, sqlite3_column_value(sel, i));
		if (sqlite3_step(ins) != SQLITE_DONE)
			err = -EIO;
		sqlite3_reset(ins);
		moved++;
	}
	if (!err && rc != SQLITE_DONE)
		err = -EIO;
	sqlite3_finalize(sel);
	sel = NULL;
	if (!err && sqlite3_prepare_v2(from->db, "SELECT id, sink FROM pending WHERE " MISPLACED,
				       -1, &sel, NULL) != SQLITE_OK)
		err = -EIO;
	sqlite3_finalize(ins);
	ins = NULL;
	if (!err && sqlite3_prepare_v2(to->db,
				       "INSERT OR IGNORE INTO pending(id, sink) VALUES "
				       "(?1, ?2)",
				       -1, &ins, NULL) != SQLITE_OK)
		err = -EIO;
	if (!err)
		sqlite3_bind_int(sel, 1, (int)k);
	while (!err && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
		sqlite3_bind_value(ins, 1, sqlite3_column_value(sel, 0));
		sqlite3_bind_value(ins, 2, sqlite3_column_value(sel, 1));
		if (sqlite3_step(ins) != SQLITE_DONE)
			err = -EIO;
		sqlite3_reset(ins);
	}
	if (!err && rc != SQLITE_DONE)
		err = -EIO;
	if (err) {
		log_error("spool: moving rows from %s to %s: %s", from->path, to->path,
			  sqlite3_errmsg(to->db));
		exec(to->db, "ROLLBACK");
		goto out;
	}
	err = exec(to->db, "COMMIT");
	/*
	 * Durable there before it goes from here, power loss included (these are old alerts, not
	 * the last commit that synchronous NORMAL may lose): a FULL checkpoint syncs both files.
	 */
	if (!err && spool_wal_flush(to->db) != SQLITE_OK)
		err = -EIO;
	if (!err && moved &&
	    sqlite3_wal_checkpoint_v2(to->db, NULL, SQLITE_CHECKPOINT_FULL, NULL, NULL) !=
		    SQLITE_OK) {
		log_error("spool: checkpoint of %s: %s", to->path, sqlite3_errmsg(to->db));
		err = -EIO;
	}
	if (!err) {
		char sql[160];

		snprintf(sql, sizeof(sql),
			 "BEGIN; DELETE FROM pending WHERE ((id >> 20) & 1) != %u; "
			 "DELETE FROM alerts WHERE ((id >> 20) & 1) != %u; COMMIT",
			 k, k);
		err = exec(from->db, sql);
	}
	if (!err && moved)
		log_info("spool: moved %d alert(s) from %s to %s, the file of their ids", moved,
			 from->path, to->path);
out:
	sqlite3_finalize(sel);
	sqlite3_finalize(ins);
	return err;
}

struct spool *spool_open(uv_loop_t *loop, const char *path, bool full_sync)
{
	struct spool *s = calloc(1, sizeof(*s));
	sqlite3_stmt *st;
	unsigned opened = 0;
	int err;

	if (!s)
		return NULL;
	s->loop = loop;
	pthread_mutex_init(&s->lock, NULL);
	s->inline_commit = !full_sync;
	s->full_sync = full_sync;
	{
		pthread_condattr_t attr;

		/* wait_for_work's deadline: the monotonic clock */
		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&s->cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	pthread_cond_init(&s->applied_cond, NULL);
	err = mkdir_parent(path);
	if (err) {
		log_error("spool: cannot create the folder of %s: %s", path, strerror(-err));
		goto err_free;
	}
	for (; !err && opened < SPOOL_SHARDS; opened++)
		err = shard_open(s, opened, path);
	for (unsigned k = 0; !err && k < SPOOL_SHARDS; k++)
		err = move_misplaced(&s->sh[k], &s->sh[1 - k], k);
	/* Alerts whose every sink acknowledged but whose row survived a crash mid-batch. */
	for (unsigned k = 0; !err && k < SPOOL_SHARDS; k++)
		err = exec(s->sh[k].db,
			   "DELETE FROM alerts WHERE id NOT IN (SELECT id FROM pending)");
	if (err)
		goto err_close;
	s->next_id = 1;
	for (unsigned k = 0; k < SPOOL_SHARDS; k++) {
		if (sqlite3_prepare_v2(s->sh[k].db, "SELECT MAX(id) FROM alerts", -1, &st, NULL) !=
		    SQLITE_OK)
			continue;
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL &&
		    sqlite3_column_int64(st, 0) >= s->next_id)
			s->next_id = sqlite3_column_int64(st, 0) + 1;
		sqlite3_finalize(st);
	}
	s->active = shard_of(s->next_id);
	s->active_since = mono_ns();
	uv_async_init(loop, &s->async, on_async);
	s->async.data = s;
	if (pthread_create(&s->thread, NULL, writer, s)) {
		log_error("spool: cannot start its thread");
		uv_close((uv_handle_t *)&s->async, NULL);
		err = -EAGAIN;
		goto err_close;
	}
	s->thread_started = true;
	uv_check_init(loop, &s->check);
	s->check.data = s;
	uv_check_start(&s->check, on_check);
	/* The spool alone must not keep the loop running. */
	uv_unref((uv_handle_t *)&s->check);
	uv_idle_init(loop, &s->idle);
	s->idle.data = s;
	s->open_handles = 3;
	return s;

err_close:
	for (unsigned k = 0; k < opened; k++)
		shard_close(&s->sh[k]);
err_free:
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	pthread_cond_destroy(&s->applied_cond);
	/* The async handle (if initialised) is closed; its memory must outlive the close. */
	if (uv_is_closing((uv_handle_t *)&s->async))
		uv_run(loop, UV_RUN_NOWAIT);
	free(s);
	errno = -err;
	return NULL;
}

int64_t spool_next_id(const struct spool *s)
{
	return s->next_id;
}

struct load_adapter {
	void (*fn)(void *ctx, int64_t id, int priority, const char *json, size_t len,
		   const char *sink);
	void *ctx;
};

static void load_without_origin(void *ctx, const struct spool_row *r)
{
	struct load_adapter *l = ctx;

	l->fn(l->ctx, r->id, r->priority, r->json, r->len, r->sink);
}

int spool_load(struct spool *s,
	       void (*fn)(void *ctx, int64_t id, int priority, const char *json, size_t len,
			  const char *sink),
	       void *ctx)
{
	struct load_adapter l = { fn, ctx };

	return spool_load_rows(s, load_without_origin, &l);
}

static void load_row(sqlite3_stmt *st, void (*fn)(void *ctx, const struct spool_row *r), void *ctx)
{
	struct spool_row r = {
		.id = sqlite3_column_int64(st, 0),
		.priority = sqlite3_column_int(st, 1),
		.json = (const char *)sqlite3_column_text(st, 2),
		.len = (size_t)sqlite3_column_bytes(st, 2),
		.sink = (const char *)sqlite3_column_text(st, 3),
	};

	if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
		r.origin.topic = (const char *)sqlite3_column_text(st, 4);
		r.origin.partition = (int32_t)sqlite3_column_int64(st, 5);
		r.origin.offset = sqlite3_column_int64(st, 6);
		r.origin.committing = sqlite3_column_int(st, 7) != 0;
	}
	fn(ctx, &r);
}

/* Both shards' rows, merged in id order (a shard holds whole runs of ids). */
int spool_load_rows(struct spool *s, void (*fn)(void *ctx, const struct spool_row *r), void *ctx)
{
	sqlite3_stmt *st[SPOOL_SHARDS] = { NULL };
	int rc[SPOOL_SHARDS], err = 0;

	/* The writer thread has nothing queued yet, so the connections are ours for a moment. */
	for (unsigned k = 0; k < SPOOL_SHARDS; k++) {
		if (sqlite3_prepare_v2(s->sh[k].db,
				       "SELECT a.id, a.priority, a.json, p.sink, a.origin_topic, "
				       "a.origin_partition, a.origin_offset, a.origin_committing "
				       "FROM pending p "
				       "JOIN alerts a ON a.id = p.id ORDER BY a.id, p.sink",
				       -1, &st[k], NULL) != SQLITE_OK) {
			log_error("spool: %s: %s", s->sh[k].path, sqlite3_errmsg(s->sh[k].db));
			err = -EIO;
			goto out;
		}
		rc[k] = sqlite3_step(st[k]);
	}
	for (;;) {
		int k = -1;

		for (unsigned i = 0; i < SPOOL_SHARDS; i++)
			if (rc[i] == SQLITE_ROW &&
			    (k < 0 ||
			     sqlite3_column_int64(st[i], 0) < sqlite3_column_int64(st[k], 0)))
				k = (int)i;
		if (k < 0)
			break;
		load_row(st[k], fn, ctx);
		rc[k] = sqlite3_step(st[k]);
	}
	for (unsigned k = 0; k < SPOOL_SHARDS; k++) {
		if (rc[k] != SQLITE_DONE) {
			log_error("spool: reading pending alerts of %s: %s", s->sh[k].path,
				  sqlite3_errmsg(s->sh[k].db));
			err = -EIO;
		}
	}
out:
	for (unsigned k = 0; k < SPOOL_SHARDS; k++)
		sqlite3_finalize(st[k]);
	return err;
}

/*
 * Inserts and acks of one loop iteration go to the writer together, when the iteration ends:
 * one wake-up and one transaction for everything the iteration accepted (group commit without
 * a timer), instead of a transaction for the first alert and another for the rest.
 */
static void enqueue(struct spool *s, struct op *o)
{
	/* Staged from a timer or before the loop runs: the check phase must come without I/O. */
	if (!s->staged.head && s->open_handles)
		uv_idle_start(&s->idle, on_idle);
	list_push(&s->staged, o);
	if (o->kind != OP_ACK)
		s->staged_urgent++;
	if (o->kind == OP_INSERT)
		s->staged_shards |= 1U << shard_of(o->id);
	else if (o->kind == OP_MARK)
		s->staged_mark = true;
}

static void staged_clear(struct spool *s)
{
	s->staged.head = s->staged.tail = NULL;
	s->staged_urgent = 0;
	s->staged_shards = 0;
	s->staged_mark = false;
}

/* Loop thread, lock held: the shard of next_id becomes the active one. */
static void set_active(struct spool *s, unsigned k)
{
	s->sh[s->active].left_at = mono_ns();
	s->active = k;
	s->active_since = s->sh[s->active].left_at;
	s->active_frames = __atomic_load_n(&s->sh[k].wal_frames, __ATOMIC_RELAXED);
	/* the writer may now work on the other shard */
	pthread_cond_signal(&s->cond);
}

/*
 * Lock held: the loop may move to shard k: the writer is not working on it, it is there, and its
 * WAL does not wait to be tidied (shard_due: it would be tidied in the way).
 */
static bool shard_usable(struct spool *s, unsigned k)
{
	return !s->sh[k].in_use && !s->sh[k].broken &&
	       __atomic_load_n(&s->sh[k].wal_frames, __ATOMIC_RELAXED) < SPOOL_CHECKPOINT_SHARD;
}

/*
 * Loop thread, after a commit: move to the other shard once the active one has taken commits
 * for SPOOL_SWITCH_MS or SPOOL_SWITCH_FRAMES frames, unless the writer works on it (the loop
 * would then wait for it). Its ids jump to the next run, which is the other shard's.
 */
static void maybe_switch(struct spool *s, int frames)
{
	unsigned other = 1 - s->active;
	/* frames committed since the move (fewer than then: the WAL was checkpointed, restarted) */
	int taken = frames >= s->active_frames ? frames - s->active_frames : frames;

	if (taken < SPOOL_SWITCH_FRAMES &&
	    mono_ns() - s->active_since < SPOOL_SWITCH_MS * 1000000ULL)
		return;
	pthread_mutex_lock(&s->lock);
	if (shard_usable(s, other)) {
		s->next_id = next_run(s->next_id);
		set_active(s, other);
	} else if (frames >= SPOOL_CHECKPOINT_MAX) {
		/* stuck on this shard: the writer is to checkpoint it all the same */
		pthread_cond_signal(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
}

/*
 * With synchronous NORMAL a commit is a few writes to the page cache, no fsync: the loop
 * commits the inserts it staged itself when their shard's connection is free, and runs their
 * callbacks at once, instead of waking the writer and being woken back (two thread switches
 * on the path of every 200, each worth more than the commit on a loaded machine). The writer
 * keeps what may take long: checkpoints (two fsyncs), the bulk acks, FULL sync commits, marks
 * (they go to both shards), and the batches that find a shard busy. Only when the writer has
 * nothing queued, in hand or called back pending, so that callbacks keep the order of the
 * inserts. False: nothing done.
 */
static bool commit_inline(struct spool *s)
{
	struct op_list work = { 0 }, acks = { 0 };
	struct op *o, *next;
	struct shard *sh;
	unsigned k;
	bool ok;

	/* inserts of one shard, no mark */
	if (!s->inline_commit || !s->staged_urgent || s->staged_mark ||
	    (s->staged_shards & (s->staged_shards - 1)))
		return false;
	k = s->staged_shards == 2;
	sh = &s->sh[k];
	if (pthread_mutex_trylock(&sh->db_lock))
		return false;
	if (!sh->db) { /* the writer fails them, and tries to make the file again */
		pthread_mutex_unlock(&sh->db_lock);
		return false;
	}
	pthread_mutex_lock(&s->lock);
	ok = !s->urgent && !s->inflight && !s->done.head;
	if (ok) {
		for (o = s->staged.head; o; o = next) {
			next = o->next;
			list_push(o->kind == OP_ACK ? &acks : &work, o);
		}
		if (acks.head) {
			if (s->todo.tail)
				s->todo.tail->next = acks.head;
			else
				s->todo.head = acks.head;
			s->todo.tail = acks.tail;
			/* asleep, the writer is to set the acks' deadline */
			if (s->sleeping)
				pthread_cond_signal(&s->cond);
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (!ok) {
		pthread_mutex_unlock(&sh->db_lock);
		return false;
	}
	staged_clear(s);
	commit_work(s, k, work.head, false);
	pthread_mutex_unlock(&sh->db_lock);
	o = finish_work(s, work.head);
	if (__atomic_load_n(&sh->wal_frames, __ATOMIC_RELAXED) >= SPOOL_CHECKPOINT_IDLE) {
		/* asleep without a deadline, the writer is to set the idle checkpoint's */
		pthread_mutex_lock(&s->lock);
		if (s->sleeping)
			pthread_cond_signal(&s->cond);
		pthread_mutex_unlock(&s->lock);
	}
	maybe_switch(s, __atomic_load_n(&sh->wal_frames, __ATOMIC_RELAXED));
	/* the callbacks may stage more: the next iteration takes them (enqueue) */
	for (; o; o = next) {
		next = o->next;
		o->done(o->data, o->err);
		op_free(o);
	}
	return true;
}

/*
 * Acks alone wake the writer only when it sleeps without a deadline: it then sets theirs.
 * may_inline: from the check phase only, where callbacks may run (not from inside a caller's
 * spool_mark_committing or spool_close).
 */
static void hand_over(struct spool *s, bool may_inline)
{
	if (!s->staged.head)
		return;
	if (s->open_handles)
		uv_idle_stop(&s->idle);
	if (may_inline && commit_inline(s))
		return;
	pthread_mutex_lock(&s->lock);
	if (s->todo.tail)
		s->todo.tail->next = s->staged.head;
	else
		s->todo.head = s->staged.head;
	s->todo.tail = s->staged.tail;
	s->urgent += s->staged_urgent;
	if (s->staged_urgent || s->sleeping)
		pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	/* inserts handed to the writer (FULL sync, a busy shard): the shards turn all the same */
	if (may_inline && s->staged_shards)
		maybe_switch(s, __atomic_load_n(&s->sh[s->active].wal_frames, __ATOMIC_RELAXED));
	staged_clear(s);
}

static void on_check(uv_check_t *h)
{
	hand_over(h->data, true);
}

static void on_idle(uv_idle_t *h)
{
}

int spool_insert(struct spool *s, int64_t id, int priority, const char *json, size_t len,
		 const char *const *sinks, size_t n, spool_done_fn done, void *data)
{
	return spool_insert_origin(s, id, priority, json, len, NULL, sinks, n, done, data);
}

/*
 * Loop thread: the spool's copy of a sink name, kept until close. Ops point to it, so that
 * queueing an insert or an ack copies no string, and acks of one sink compare by pointer.
 */
static const char *intern(struct spool *s, const char *name)
{
	struct name *n;
	size_t len;

	for (n = s->names; n; n = n->next)
		if (!strcmp(n->s, name))
			return n->s;
	len = strlen(name);
	n = malloc(sizeof(*n) + len + 1);
	if (!n)
		return NULL;
	memcpy(n->s, name, len + 1);
	n->next = s->names;
	s->names = n;
	return n->s;
}

int spool_insert_origin(struct spool *s, int64_t id, int priority, const char *json, size_t len,
			const struct spool_origin *origin, const char *const *sinks, size_t n,
			spool_done_fn done, void *data)
{
	struct op *o = calloc(1, sizeof(*o));

	if (!o)
		return -ENOMEM;
	if (origin && origin->topic) {
		o->origin_topic = strdup(origin->topic);
		if (!o->origin_topic)
			goto err;
		o->origin_partition = origin->partition;
		o->origin_offset = origin->offset;
	}
	o->kind = OP_INSERT;
	o->id = id;
	o->priority = priority;
	o->json = json;
	o->len = len;
	o->sinks = n > 1 ? calloc(n, sizeof(*o->sinks)) : &o->sink1;
	if (!o->sinks)
		goto err;
	for (; o->n_sinks < n; o->n_sinks++) {
		o->sinks[o->n_sinks] = intern(s, sinks[o->n_sinks]);
		if (!o->sinks[o->n_sinks])
			goto err;
	}
	o->done = done;
	o->data = data;
	if (id >= s->next_id) {
		s->next_id = id + 1;
		/*
		 * The ids ran into the next run: its shard is the active one now, if the loop may
		 * move to it; else the ids jump on to the active shard's next run.
		 */
		if (shard_of(s->next_id) != s->active) {
			pthread_mutex_lock(&s->lock);
			if (shard_usable(s, shard_of(s->next_id)))
				set_active(s, shard_of(s->next_id));
			else
				s->next_id = next_run(s->next_id);
			pthread_mutex_unlock(&s->lock);
		}
	}
	enqueue(s, o);
	return 0;
err:
	op_free(o);
	return -ENOMEM;
}

void spool_ack(struct spool *s, int64_t id, const char *sink)
{
	struct op *o = calloc(1, sizeof(*o));

	if (o)
		o->sink1 = intern(s, sink);
	if (!o || !o->sink1) {
		/* The row stays: the alert is delivered again after a restart, never lost. */
		log_error("spool: out of memory acknowledging alert %lld for %s", (long long)id,
			  sink);
		free(o);
		return;
	}
	o->sinks = &o->sink1;
	o->n_sinks = 1;
	o->kind = OP_ACK;
	o->id = id;
	enqueue(s, o);
}

int spool_mark_committing(struct spool *s, const char *topic, int32_t partition, int64_t below,
			  bool wait, spool_done_fn done, void *data)
{
	struct op *o = calloc(1, sizeof(*o));
	bool applied = false;

	if (!o || !(o->origin_topic = strdup(topic))) {
		free(o);
		return -ENOMEM;
	}
	o->kind = OP_MARK;
	o->origin_partition = partition;
	o->origin_offset = below;
	if (wait) {
		o->applied = &applied;
		enqueue(s, o);
		/* staged ops wait for the end of the loop iteration: this one cannot */
		hand_over(s, false);
		pthread_mutex_lock(&s->lock);
		while (!applied)
			pthread_cond_wait(&s->applied_cond, &s->lock);
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	o->done = done;
	o->data = data;
	enqueue(s, o);
	return 0;
}

uint64_t spool_errors(const struct spool *s)
{
	return __atomic_load_n(&s->errors, __ATOMIC_RELAXED);
}

static void on_closed(uv_handle_t *h)
{
	struct spool *s = h->data;

	if (--s->open_handles == 0)
		free(s);
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	hand_over(s, false);
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->thread_started)
		pthread_join(s->thread, NULL);
	/* Inserts committed in the last batch still get their callbacks. */
	on_async(&s->async);
	for (unsigned k = 0; k < SPOOL_SHARDS; k++)
		shard_close(&s->sh[k]);
	free(s->acks);
	while (s->names) {
		struct name *n = s->names;

		s->names = n->next;
		free(n);
	}
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	pthread_cond_destroy(&s->applied_cond);
	uv_close((uv_handle_t *)&s->check, on_closed);
	uv_close((uv_handle_t *)&s->idle, on_closed);
	uv_close((uv_handle_t *)&s->async, on_closed);
}

/* A running lanner holds its spool exclusively (locking_mode EXCLUSIVE): say so plainly. */
static void stats_error(sqlite3 *db, const char *path)
{
	int rc = sqlite3_errcode(db);

	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		fprintf(stderr,
			"lanner: spool %s is in use by a running lanner, which holds it "
			"exclusively: stop it first (while it runs, /metrics shows lanner_spool)\n",
			path);
	else
		fprintf(stderr, "lanner: spool %s: %s\n", path, sqlite3_errmsg(db));
}

struct sink_stat {
	char *sink;
	long long alerts, bytes;
};

static int stat_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sink_stat *)a)->sink, ((const struct sink_stat *)b)->sink);
}

/* One shard file's counts, added to *st. 0, or 1 on error (told). A missing file holds none. */
static int shard_stats(const char *path, struct sink_stat **st, size_t *n)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	int rc, err = 0;

	if (access(path, F_OK) && errno == ENOENT)
		return 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "lanner: spool %s: %s\n", path,
			db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return 1;
	}
	if (sqlite3_prepare_v2(db,
			       "SELECT p.sink, COUNT(*), SUM(LENGTH(a.json)) FROM pending p "
			       "JOIN alerts a ON a.id = p.id GROUP BY p.sink",
			       -1, &q, NULL) != SQLITE_OK) {
		stats_error(db, path);
		sqlite3_close(db);
		return 1;
	}
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *sink = (const char *)sqlite3_column_text(q, 0);
		size_t i;

		for (i = 0; i < *n && strcmp((*st)[i].sink, sink); i++)
			;
		if (i == *n) {
			struct sink_stat *more = realloc(*st, (*n + 1) * sizeof(**st));

			if (!more || !(more[i].sink = strdup(sink))) {
				*st = more ? more : *st;
				fprintf(stderr, "lanner: spool %s: %s\n", path, strerror(ENOMEM));
				err = 1;
				break;
			}
			*st = more;
			more[i].alerts = more[i].bytes = 0;
			(*n)++;
		}
		(*st)[i].alerts += sqlite3_column_int64(q, 1);
		(*st)[i].bytes += sqlite3_column_int64(q, 2);
	}
	sqlite3_finalize(q);
	if (!err && rc != SQLITE_DONE) {
		stats_error(db, path);
		err = 1;
	}
	sqlite3_close(db);
	return err;
}

int spool_print_stats(const char *path, void *stream)
{
	FILE *f = stream;
	struct sink_stat *st = NULL;
	size_t n = 0;
	char *path1 = NULL;
	int err;

	if (asprintf(&path1, "%s.1", path) < 0) {
		fprintf(stderr, "lanner: spool %s: %s\n", path, strerror(ENOMEM));
		return 1;
	}
	/* the first file must be there: a wrong path is an error, not an empty spool */
	if (access(path, F_OK)) {
		fprintf(stderr, "lanner: spool %s: %s\n", path, strerror(errno));
		err = 1;
	} else {
		err = shard_stats(path, &st, &n);
	}
	if (!err)
		err = shard_stats(path1, &st, &n);
	if (!err) {
		if (n)
			qsort(st, n, sizeof(*st), stat_cmp);
		fprintf(f, "%-16s %10s %12s\n", "sink", "alerts", "bytes");
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%-16s %10lld %12lld\n", st[i].sink, st[i].alerts, st[i].bytes);
		if (!n)
			fprintf(f, "(nothing waiting)\n");
	}
	for (size_t i = 0; i < n; i++)
		free(st[i].sink);
	free(st);
	free(path1);
	return err;
}
