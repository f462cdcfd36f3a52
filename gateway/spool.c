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

struct spool {
	uv_loop_t *loop;
	uv_async_t async; /* the thread -> loop: inserts committed */
	uv_check_t check; /* end of each loop iteration: hand staged ops to the thread */
	uv_idle_t idle; /* active while ops are staged: the loop's poll must not block */
	int open_handles;
	struct op_list staged; /* loop only: queued during this loop iteration */
	struct name *names; /* loop only: interned sink names, freed at close */
	unsigned staged_urgent; /* loop only: inserts and marks in staged */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_cond_t applied_cond;
	struct op_list todo; /* loop -> thread */
	unsigned urgent; /* inserts and marks in todo: they end the writer's wait, acks alone not */
	struct op_list done; /* thread -> loop */
	bool stop;
	bool sleeping; /* the writer waits without a deadline (for a signal) */
	bool acks_due; /* the writer waits with lazy acks, so with their deadline */
	bool checkpoint_asked; /* commit_inline signalled SPOOL_CHECKPOINT_MAX frames */
	bool thread_started;
	sqlite3 *db;
	sqlite3_stmt *ins_alert, *ins_pending, *del_pending, *del_alert, *mark, *begin, *commit;
	pthread_mutex_t db_lock; /* whoever uses the connection: the writer, or commit_inline */
	bool inline_commit; /* synchronous NORMAL: commits on the loop when db_lock is free */
	int wal_frames; /* in the WAL since the last checkpoint (atomic) */
	char *wal_path; /* the database's path + "-wal" */
	struct op_list lazy; /* writer thread: acks not applied yet (SPOOL_ACK_BULK) */
	size_t n_lazy;
	uint64_t lazy_since; /* when the oldest of lazy was queued (mono_ns) */
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

static int apply(struct spool *s, struct op *o)
{
	int rc = SQLITE_OK;

	if (o->kind == OP_INSERT) {
		sqlite3_bind_int64(s->ins_alert, 1, o->id);
		sqlite3_bind_int(s->ins_alert, 2, o->priority);
		sqlite3_bind_text(s->ins_alert, 3, o->json, (int)o->len, SQLITE_STATIC);
		if (o->origin_topic) {
			sqlite3_bind_text(s->ins_alert, 4, o->origin_topic, -1, SQLITE_STATIC);
			sqlite3_bind_int64(s->ins_alert, 5, o->origin_partition);
			sqlite3_bind_int64(s->ins_alert, 6, o->origin_offset);
		} else {
			sqlite3_bind_null(s->ins_alert, 4);
			sqlite3_bind_null(s->ins_alert, 5);
			sqlite3_bind_null(s->ins_alert, 6);
		}
		rc = sqlite3_step(s->ins_alert);
		sqlite3_reset(s->ins_alert);
		for (size_t i = 0; rc == SQLITE_DONE && i < o->n_sinks; i++) {
			sqlite3_bind_int64(s->ins_pending, 1, o->id);
			sqlite3_bind_text(s->ins_pending, 2, o->sinks[i], -1, SQLITE_STATIC);
			rc = sqlite3_step(s->ins_pending);
			sqlite3_reset(s->ins_pending);
		}
	} else {
		sqlite3_bind_text(s->mark, 1, o->origin_topic, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s->mark, 2, o->origin_partition);
		sqlite3_bind_int64(s->mark, 3, o->origin_offset);
		rc = sqlite3_step(s->mark);
		sqlite3_reset(s->mark);
	}
	if (rc != SQLITE_DONE) {
		if (o->kind == OP_INSERT)
			log_error("spool: insert of alert %lld: %s", (long long)o->id,
				  sqlite3_errmsg(s->db));
		else
			log_error("spool: marking %s[%d] below %lld: %s", o->origin_topic,
				  (int)o->origin_partition, (long long)o->origin_offset,
				  sqlite3_errmsg(s->db));
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
 * The acks of a batch, sorted by (sink, id): one range delete per run of consecutive ids of a
 * sink (a sink delivers in order, so a batch's acks are mostly one run per sink), and the
 * alerts of the range no sink holds any more go with it.
 */
static void apply_acks(struct spool *s, struct op **acks, size_t n)
{
	qsort(acks, n, sizeof(*acks), ack_cmp);
	for (size_t i = 0, j; i < n; i = j) {
		int rc;

		for (j = i + 1; j < n && acks[j]->id <= acks[j - 1]->id + 1 &&
				acks[j]->sinks[0] == acks[i]->sinks[0];
		     j++)
			;
		sqlite3_bind_int64(s->del_pending, 1, acks[i]->id);
		sqlite3_bind_int64(s->del_pending, 2, acks[j - 1]->id);
		sqlite3_bind_text(s->del_pending, 3, acks[i]->sinks[0], -1, SQLITE_STATIC);
		rc = sqlite3_step(s->del_pending);
		sqlite3_reset(s->del_pending);
		if (rc == SQLITE_DONE) {
			sqlite3_bind_int64(s->del_alert, 1, acks[i]->id);
			sqlite3_bind_int64(s->del_alert, 2, acks[j - 1]->id);
			rc = sqlite3_step(s->del_alert);
			sqlite3_reset(s->del_alert);
		}
		if (rc == SQLITE_DONE)
			continue;
		log_error("spool: ack of alerts %lld-%lld for %s: %s", (long long)acks[i]->id,
			  (long long)acks[j - 1]->id, acks[i]->sinks[0], sqlite3_errmsg(s->db));
		for (size_t k = i; k < j; k++)
			acks[k]->err = -EIO;
	}
}

static int step_once(struct spool *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_error("spool: %s: %s", sqlite3_sql(st), sqlite3_errmsg(s->db));
		return -EIO;
	}
	return 0;
}

/*
 * COMMIT, and the WAL's frames written out (spool_wal.h): only then is the transaction
 * durable. A failed write is a failed commit: the caller's callbacks report it.
 */
static int commit(struct spool *s)
{
	int err = step_once(s, s->commit);

	if (!err && spool_wal_flush(s->db) != SQLITE_OK)
		err = -EIO;
	return err;
}

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/*
 * Acks are applied lazily: they wait in the writer's list and go in bulk, in the transaction
 * of a later batch, once SPOOL_ACK_BULK are waiting or the oldest has waited SPOOL_ACK_DELAY_MS
 * (on their own then, if no insert comes), and at close. So the commit that 200s wait for
 * carries inserts only most of the time, and a sink delivering in order makes one range delete
 * of many acks. What a crash loses is at most that: alerts delivered again, never lost.
 */
#define SPOOL_ACK_BULK 1024
#define SPOOL_ACK_DELAY_MS 100

static void lazy_push(struct spool *s, struct op *o)
{
	if (!s->lazy.head)
		s->lazy_since = mono_ns();
	list_push(&s->lazy, o);
	s->n_lazy++;
}

/* The lazy acks, in the open transaction (err: it could not be opened). */
static void apply_lazy(struct spool *s, int err)
{
	size_t n = 0;
	struct op *o;

	if (s->n_lazy > s->acks_cap) {
		struct op **acks = realloc(s->acks, s->n_lazy * sizeof(*acks));

		if (acks) {
			s->acks = acks;
			s->acks_cap = s->n_lazy;
		}
	}
	for (o = s->lazy.head; o; o = o->next) {
		if (err)
			o->err = err;
		else if (n < s->acks_cap)
			s->acks[n++] = o;
		else /* no memory for the array: one by one */
			apply_acks(s, &o, 1);
	}
	if (n)
		apply_acks(s, s->acks, n);
}

/*
 * db_lock held: one transaction for work (inserts and marks; one commit, and with FULL sync one
 * fsync, for many alerts) and, with flush, the lazy acks. Returns the ops whose callbacks are
 * due, in order; the others are freed.
 */
static struct op *commit_work(struct spool *s, struct op *work, bool flush)
{
	struct op_list finished = { 0 }, acks = { 0 };
	struct op *o, *next;
	int err = step_once(s, s->begin);

	for (o = work; o; o = o->next)
		o->err = err ? err : apply(s, o);
	if (flush) {
		apply_lazy(s, err);
		acks = s->lazy;
		s->lazy.head = s->lazy.tail = NULL;
		s->n_lazy = 0;
	}
	if (!err && commit(s)) {
		if (!sqlite3_get_autocommit(s->db))
			exec(s->db, "ROLLBACK");
		for (o = work; o; o = o->next)
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
	__atomic_store_n(&s->idle_since, mono_ns(), __ATOMIC_RELAXED);
	return finished.head;
}

/*
 * Writer thread: a batch handed over by the loop. Its acks join the lazy ones, which go in the
 * same transaction when due or with force. The callbacks are queued for the loop before
 * db_lock is released, so that a commit on the loop (commit_inline) cannot overtake them.
 */
static void apply_batch(struct spool *s, struct op *batch, bool force)
{
	struct op_list work = { 0 };
	struct op *o, *next, *finished;
	bool flush;

	for (o = batch; o; o = next) {
		next = o->next;
		if (o->kind == OP_ACK)
			lazy_push(s, o);
		else
			list_push(&work, o);
	}
	flush = s->lazy.head && (force || s->n_lazy >= SPOOL_ACK_BULK ||
				 mono_ns() - s->lazy_since >= SPOOL_ACK_DELAY_MS * 1000000ULL);
	if (!work.head && !flush)
		return;
	pthread_mutex_lock(&s->db_lock);
	finished = commit_work(s, work.head, flush);
	if (finished) {
		for (o = finished; o->next; o = o->next)
			;
		pthread_mutex_lock(&s->lock);
		if (s->done.tail)
			s->done.tail->next = finished;
		else
			s->done.head = finished;
		s->done.tail = o;
		pthread_mutex_unlock(&s->lock);
		uv_async_send(&s->async);
	}
	pthread_mutex_unlock(&s->db_lock);
}

/* After every commit (db_lock held): how many frames the WAL holds. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct spool *s = arg;

	__atomic_store_n(&s->wal_frames, frames, __ATOMIC_RELAXED);
	return SQLITE_OK;
}

/*
 * Checkpoints run on the writer thread, not inside a commit (wal_autocheckpoint is off). Most
 * of a checkpoint's time is its fsync of the WAL (all the frames written since the last one):
 * the writer does that fsync first, on its own descriptor and without db_lock, so commits on
 * the loop go on meanwhile, and the checkpoint proper (SQLite's own syncs, which then find
 * little to write, and the copy of the pages back) holds the connection for less. Measured
 * here, alone: 18 ms held for 1,000 frames and 65 ms for 4,000 without the early fsync, 2-4.5
 * ms with it; under the outputs benchmark on a loaded machine, 7-35 ms held after an early
 * fsync of 35-220 ms (the database file's fsync remains). A checkpoint runs past
 * SPOOL_CHECKPOINT_MAX frames (32 MiB of WAL with 4 KiB pages: the file is reused, not grown),
 * or with SPOOL_CHECKPOINT_IDLE frames once nothing was committed for SPOOL_IDLE_MS.
 */
#define SPOOL_CHECKPOINT_IDLE 1000
#define SPOOL_CHECKPOINT_MAX 8000
#define SPOOL_IDLE_MS 200

static void checkpoint(struct spool *s)
{
	int fd = open(s->wal_path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		/* only to make the checkpoint's own fsync short: SQLite still syncs */
		fdatasync(fd);
		close(fd);
	}
	pthread_mutex_lock(&s->db_lock);
	if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) !=
	    SQLITE_OK)
		log_warn("spool: checkpoint: %s", sqlite3_errmsg(s->db));
	__atomic_store_n(&s->wal_frames, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&s->db_lock);
	pthread_mutex_lock(&s->lock);
	s->checkpoint_asked = false;
	pthread_mutex_unlock(&s->lock);
}

enum wake { WAKE_WORK, WAKE_ACKS, WAKE_CHECKPOINT };

/*
 * Writer thread, lock held: wait until an insert or a mark is queued (acks alone join the lazy
 * ones and do not end the wait) or stop, or until the lazy acks are due, or until a checkpoint
 * is due after SPOOL_IDLE_MS without work.
 */
static enum wake wait_for_work(struct spool *s)
{
	for (;;) {
		int frames = __atomic_load_n(&s->wal_frames, __ATOMIC_RELAXED);
		uint64_t deadline = 0;
		struct timespec ts;
		struct op *o, *next;

		if (s->urgent || s->stop)
			return WAKE_WORK;
		for (o = s->todo.head; o; o = next) {
			next = o->next;
			lazy_push(s, o);
		}
		s->todo.head = s->todo.tail = NULL;
		if (frames >= SPOOL_CHECKPOINT_MAX)
			return WAKE_CHECKPOINT;
		s->acks_due = s->lazy.head != NULL;
		if (s->lazy.head)
			deadline = s->lazy_since + SPOOL_ACK_DELAY_MS * 1000000ULL;
		else if (frames >= SPOOL_CHECKPOINT_IDLE)
			deadline = __atomic_load_n(&s->idle_since, __ATOMIC_RELAXED) +
				   SPOOL_IDLE_MS * 1000000ULL;
		if (!deadline) {
			s->sleeping = true;
			pthread_cond_wait(&s->cond, &s->lock);
			s->sleeping = false;
			continue;
		}
		if (mono_ns() >= deadline)
			return s->lazy.head ? WAKE_ACKS : WAKE_CHECKPOINT;
		ts.tv_sec = (time_t)(deadline / 1000000000ULL);
		ts.tv_nsec = (long)(deadline % 1000000000ULL);
		pthread_cond_timedwait(&s->cond, &s->lock, &ts);
	}
}

static void *writer(void *arg)
{
	struct spool *s = arg;

	for (;;) {
		struct op *batch;
		enum wake wake;
		bool stop;

		pthread_mutex_lock(&s->lock);
		wake = wait_for_work(s);
		batch = s->todo.head;
		s->todo.head = s->todo.tail = NULL;
		s->urgent = 0;
		stop = s->stop;
		pthread_mutex_unlock(&s->lock);
		if (wake == WAKE_CHECKPOINT) {
			checkpoint(s);
			continue;
		}
		/* stopping: everything, lazy acks too (spool_close queues nothing after stop) */
		apply_batch(s, batch, stop || wake == WAKE_ACKS);
		if (stop)
			break;
		if (__atomic_load_n(&s->wal_frames, __ATOMIC_RELAXED) >= SPOOL_CHECKPOINT_MAX)
			checkpoint(s);
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

static int prepare(struct spool *s)
{
	static const char *const sql[] = {
		"INSERT INTO alerts(id, priority, json, origin_topic, origin_partition, "
		"origin_offset) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
		"INSERT OR IGNORE INTO pending(id, sink) VALUES (?1, ?2)",
		"DELETE FROM pending WHERE id BETWEEN ?1 AND ?2 AND sink = ?3",
		"DELETE FROM alerts WHERE id BETWEEN ?1 AND ?2 AND NOT EXISTS "
		"(SELECT 1 FROM pending p WHERE p.id = alerts.id)",
		"UPDATE alerts SET origin_committing = 1 WHERE origin_topic = ?1 AND "
		"origin_partition = ?2 AND origin_offset < ?3 AND origin_committing = 0",
		"BEGIN IMMEDIATE",
		"COMMIT",
	};
	sqlite3_stmt **stmts[] = { &s->ins_alert, &s->ins_pending, &s->del_pending, &s->del_alert,
				   &s->mark,	  &s->begin,	   &s->commit };

	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		if (sqlite3_prepare_v2(s->db, sql[i], -1, stmts[i], NULL) != SQLITE_OK) {
			log_error("spool: %s", sqlite3_errmsg(s->db));
			return -EIO;
		}
	}
	return 0;
}

struct spool *spool_open(uv_loop_t *loop, const char *path, bool full_sync)
{
	struct spool *s = calloc(1, sizeof(*s));
	sqlite3_stmt *st;
	int err;

	if (!s)
		return NULL;
	s->loop = loop;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->db_lock, NULL);
	s->inline_commit = !full_sync;
	{
		pthread_condattr_t attr;

		/* wait_for_work's deadline: the monotonic clock */
		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&s->cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	pthread_cond_init(&s->applied_cond, NULL);
	if (asprintf(&s->wal_path, "%s-wal", path) < 0) {
		s->wal_path = NULL;
		err = -ENOMEM;
		log_error("spool: %s", strerror(ENOMEM));
		goto err_free;
	}
	err = mkdir_parent(path);
	if (err) {
		log_error("spool: cannot create the folder of %s: %s", path, strerror(-err));
		goto err_free;
	}
	/*
	 * No mutex: one thread at a time uses the connection (the loop while opening and loading,
	 * before any op is queued; the writer thread; the loop again once the writer is joined).
	 */
	if (sqlite3_open_v2(path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    spool_wal_vfs()) != SQLITE_OK) {
		log_error("spool: cannot open %s: %s", path,
			  s->db ? sqlite3_errmsg(s->db) : "out of memory");
		err = -EIO;
		goto err_close;
	}
	sqlite3_busy_timeout(s->db, 5000);
	/*
	 * One process owns the spool: an exclusive lock, taken by the first transaction and held
	 * until close, saves the file-lock calls of every transaction, and set before WAL mode
	 * it keeps the WAL index in memory instead of a shared -shm file.
	 */
	err = exec(s->db, "PRAGMA locking_mode=EXCLUSIVE");
	if (!err)
		err = exec(s->db, "PRAGMA journal_mode=WAL");
	if (!err)
		err = exec(s->db,
			   full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
	/*
	 * Distributions build SQLite with SECURE_DELETE, which overwrites every deleted alert
	 * and freed page with zeros: one more page write per batch for content that the WAL
	 * holds anyway until the next checkpoint.
	 */
	if (!err)
		err = exec(s->db, "PRAGMA secure_delete=OFF");
	if (!err)
		err = exec(s->db, "CREATE TABLE IF NOT EXISTS alerts(id INTEGER PRIMARY KEY, "
				  "priority INTEGER NOT NULL, json TEXT NOT NULL)");
	if (!err)
		err = migrate_origin(s->db);
	if (!err)
		err = exec(s->db, "CREATE TABLE IF NOT EXISTS pending(id INTEGER NOT NULL, "
				  "sink TEXT NOT NULL, PRIMARY KEY(id, sink)) WITHOUT ROWID");
	/* Alerts whose every sink acknowledged but whose row survived a crash mid-batch. */
	if (!err)
		err = exec(s->db, "DELETE FROM alerts WHERE id NOT IN (SELECT id FROM pending)");
	if (!err)
		err = prepare(s);
	if (err)
		goto err_close;
	/* The writer checkpoints on its own terms (maybe_checkpoint), never inside a commit. */
	sqlite3_wal_autocheckpoint(s->db, 0);
	sqlite3_wal_hook(s->db, on_wal_commit, s);
	s->next_id = 1;
	if (sqlite3_prepare_v2(s->db, "SELECT MAX(id) FROM alerts", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
			s->next_id = sqlite3_column_int64(st, 0) + 1;
		sqlite3_finalize(st);
	}
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
	sqlite3_finalize(s->ins_alert);
	sqlite3_finalize(s->ins_pending);
	sqlite3_finalize(s->del_pending);
	sqlite3_finalize(s->del_alert);
	sqlite3_finalize(s->mark);
	sqlite3_finalize(s->begin);
	sqlite3_finalize(s->commit);
	sqlite3_close(s->db);
err_free:
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->db_lock);
	pthread_cond_destroy(&s->cond);
	pthread_cond_destroy(&s->applied_cond);
	/* The async handle (if initialised) is closed; its memory must outlive the close. */
	if (uv_is_closing((uv_handle_t *)&s->async))
		uv_run(loop, UV_RUN_NOWAIT);
	free(s->wal_path);
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

int spool_load_rows(struct spool *s, void (*fn)(void *ctx, const struct spool_row *r), void *ctx)
{
	sqlite3_stmt *st;
	int rc;

	/* The writer thread has nothing queued yet, so the connection is ours for a moment. */
	if (sqlite3_prepare_v2(s->db,
			       "SELECT a.id, a.priority, a.json, p.sink, a.origin_topic, "
			       "a.origin_partition, a.origin_offset, a.origin_committing "
			       "FROM pending p "
			       "JOIN alerts a ON a.id = p.id ORDER BY a.id, p.sink",
			       -1, &st, NULL) != SQLITE_OK) {
		log_error("spool: %s", sqlite3_errmsg(s->db));
		return -EIO;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
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
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_error("spool: reading pending alerts: %s", sqlite3_errmsg(s->db));
		return -EIO;
	}
	return 0;
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
}

/*
 * With synchronous NORMAL a commit is a few writes to the page cache, no fsync: the loop
 * commits the inserts and marks it staged itself when the connection is free, and runs their
 * callbacks at once, instead of waking the writer and being woken back (two thread switches
 * on the path of every 200, each worth more than the commit on a loaded machine). The writer
 * keeps what may take long: checkpoints (two fsyncs), the bulk acks, FULL sync commits, and the
 * batches that find it busy. Only when the writer has nothing queued or called back pending,
 * so that callbacks keep the order of the inserts. False: nothing done.
 */
static bool commit_inline(struct spool *s)
{
	struct op_list work = { 0 }, acks = { 0 };
	struct op *o, *next;
	bool ok;
	int frames;

	if (!s->inline_commit || !s->staged_urgent || pthread_mutex_trylock(&s->db_lock))
		return false;
	pthread_mutex_lock(&s->lock);
	ok = !s->urgent && !s->done.head;
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
			if (!s->acks_due)
				pthread_cond_signal(&s->cond);
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (!ok) {
		pthread_mutex_unlock(&s->db_lock);
		return false;
	}
	s->staged.head = s->staged.tail = NULL;
	s->staged_urgent = 0;
	o = commit_work(s, work.head, false);
	frames = __atomic_load_n(&s->wal_frames, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&s->db_lock);
	if (frames >= SPOOL_CHECKPOINT_IDLE) {
		/* the writer, asleep without a deadline, is to set the checkpoint's; past the
		 * bound, the checkpoint is due now */
		pthread_mutex_lock(&s->lock);
		if (s->sleeping || (frames >= SPOOL_CHECKPOINT_MAX && !s->checkpoint_asked)) {
			s->checkpoint_asked = frames >= SPOOL_CHECKPOINT_MAX;
			pthread_cond_signal(&s->cond);
		}
		pthread_mutex_unlock(&s->lock);
	}
	/* the callbacks may stage more: the next iteration takes them (enqueue) */
	for (; o; o = next) {
		next = o->next;
		o->done(o->data, o->err);
		op_free(o);
	}
	return true;
}

/*
 * Acks alone wake the writer only when it has none waiting: it then sets their deadline.
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
	if (s->staged_urgent || !s->acks_due)
		pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	s->staged.head = s->staged.tail = NULL;
	s->staged_urgent = 0;
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
	if (id >= s->next_id)
		s->next_id = id + 1;
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
	sqlite3_finalize(s->ins_alert);
	sqlite3_finalize(s->ins_pending);
	sqlite3_finalize(s->del_pending);
	sqlite3_finalize(s->del_alert);
	sqlite3_finalize(s->mark);
	sqlite3_finalize(s->begin);
	sqlite3_finalize(s->commit);
	sqlite3_close(s->db);
	free(s->acks);
	free(s->wal_path);
	while (s->names) {
		struct name *n = s->names;

		s->names = n->next;
		free(n);
	}
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->db_lock);
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

int spool_print_stats(const char *path, void *stream)
{
	FILE *f = stream;
	sqlite3 *db;
	sqlite3_stmt *st;
	int rc, rows = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "lanner: spool %s: %s\n", path,
			db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return 1;
	}
	if (sqlite3_prepare_v2(db,
			       "SELECT p.sink, COUNT(*), SUM(LENGTH(a.json)), MIN(a.id), "
			       "MAX(a.id) FROM pending p JOIN alerts a ON a.id = p.id "
			       "GROUP BY p.sink ORDER BY p.sink",
			       -1, &st, NULL) != SQLITE_OK) {
		stats_error(db, path);
		sqlite3_close(db);
		return 1;
	}
	fprintf(f, "%-16s %10s %12s\n", "sink", "alerts", "bytes");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		fprintf(f, "%-16s %10lld %12lld\n", (const char *)sqlite3_column_text(st, 0),
			(long long)sqlite3_column_int64(st, 1),
			(long long)sqlite3_column_int64(st, 2));
		rows++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		stats_error(db, path);
		sqlite3_close(db);
		return 1;
	}
	if (!rows)
		fprintf(f, "(nothing waiting)\n");
	sqlite3_close(db);
	return 0;
}
