// SPDX-License-Identifier: Apache-2.0
/*
 * The web UI's event store (store.h). One writer thread owns the write connection: the loop
 * queues alerts, the thread inserts them in one transaction per wake-up, runs retention between
 * batches, and hands the callbacks back through a uv_async. Readers (API queries on worker
 * threads) take connections from a small pool; WAL lets them read while the writer writes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/log.h"
#include "gateway/store.h"

#define NS_PER_MS 1000000LL
#define NS_PER_MINUTE 60000000000LL
#define READERS_MAX 4
#define DELETE_BATCH 500
#define MAX_BATCH 4096
#define MAX_BUCKETS 10000
#define SEARCH_WINDOW 20000 /* events walked in time order before the other plan */
#define ANALYZE_EVERY 200000 /* rows written between two ANALYZE */

struct op {
	struct op *next;
	int64_t id;
	struct alert *a; /* a reference, released on the loop */
	const char *raw; /* alert_json(a), rendered on the loop */
	size_t raw_len;
	store_done_fn done;
	void *data;
	int err;
};

struct op_list {
	struct op *head, *tail;
	size_t n;
};

struct store {
	uv_loop_t *loop;
	uv_async_t async;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock; /* todo, done, stop, stats */
	pthread_cond_t cond;
	struct op_list todo, done;
	bool stop;
	bool closing;

	char *path;
	struct store_opts opts;
	bool fts;
	sqlite3 *db; /* the writer's */
	sqlite3_stmt *ins_event, *ins_tag, *ins_field, *ins_fts, *up_rollup, *up_rollup_tag;
	int64_t next_id;
	uint64_t since_analyze;
	struct timespec last_retention;

	struct store_stats stats; /* under lock */

	pthread_mutex_t rlock; /* readers */
	pthread_cond_t rcond;
	sqlite3 *free_readers[READERS_MAX];
	size_t n_free, n_readers;
};

/* ---- helpers ---- */

static int exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error("store: %s: %s", sql, msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int64_t query_int(sqlite3 *db, const char *sql, int64_t def)
{
	sqlite3_stmt *st;
	int64_t v = def;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return def;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void list_push(struct op_list *l, struct op *o)
{
	o->next = NULL;
	if (l->tail)
		l->tail->next = o;
	else
		l->head = o;
	l->tail = o;
	l->n++;
}

static int64_t elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - since->tv_sec) * 1000 +
	       (now.tv_nsec - since->tv_nsec) / 1000000;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* An output field's value in string form: strings as they are, the rest as JSON. */
static char *field_text(const json_t *v)
{
	if (json_is_string(v))
		return strdup(json_string_value(v));
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* ---- schema ---- */

static const char *const schema[] = {
	"CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, "
	"time_ns INTEGER NOT NULL, priority INTEGER NOT NULL, rule TEXT NOT NULL, "
	"source TEXT NOT NULL, hostname TEXT NOT NULL, output TEXT NOT NULL, raw TEXT NOT NULL)",
	"CREATE INDEX IF NOT EXISTS events_time ON events(time_ns)",
	"CREATE INDEX IF NOT EXISTS events_priority ON events(priority, time_ns)",
	"CREATE INDEX IF NOT EXISTS events_rule ON events(rule, time_ns)",
	"CREATE INDEX IF NOT EXISTS events_source ON events(source, time_ns)",
	"CREATE INDEX IF NOT EXISTS events_hostname ON events(hostname, time_ns)",
	"CREATE TABLE IF NOT EXISTS tags(event INTEGER NOT NULL, tag TEXT NOT NULL, "
	"PRIMARY KEY(event, tag)) WITHOUT ROWID",
	"CREATE INDEX IF NOT EXISTS tags_tag ON tags(tag)",
	"CREATE TABLE IF NOT EXISTS fields(event INTEGER NOT NULL, name TEXT NOT NULL, "
	"value TEXT NOT NULL, PRIMARY KEY(event, name)) WITHOUT ROWID",
	"CREATE INDEX IF NOT EXISTS fields_value ON fields(name, value)",
	"CREATE TABLE IF NOT EXISTS rollup(minute INTEGER NOT NULL, priority INTEGER NOT NULL, "
	"rule TEXT NOT NULL, source TEXT NOT NULL, hostname TEXT NOT NULL, n INTEGER NOT NULL, "
	"PRIMARY KEY(minute, priority, rule, source, hostname)) WITHOUT ROWID",
	"CREATE TABLE IF NOT EXISTS rollup_tags(minute INTEGER NOT NULL, tag TEXT NOT NULL, "
	"priority INTEGER NOT NULL, rule TEXT NOT NULL, source TEXT NOT NULL, "
	"hostname TEXT NOT NULL, n INTEGER NOT NULL, "
	"PRIMARY KEY(minute, tag, priority, rule, source, hostname)) WITHOUT ROWID",
	/* side tables and counts follow the events out (retention) */
	"CREATE TRIGGER IF NOT EXISTS events_gone AFTER DELETE ON events BEGIN "
	"UPDATE rollup SET n = n - 1 WHERE minute = old.time_ns / 60000000000 AND "
	"priority = old.priority AND rule = old.rule AND source = old.source AND "
	"hostname = old.hostname; "
	"UPDATE rollup_tags SET n = n - 1 WHERE minute = old.time_ns / 60000000000 AND "
	"tag IN (SELECT tag FROM tags WHERE event = old.id) AND priority = old.priority AND "
	"rule = old.rule AND source = old.source AND hostname = old.hostname; "
	"DELETE FROM tags WHERE event = old.id; "
	"DELETE FROM fields WHERE event = old.id; END",
	NULL,
};

static const char *const fts_schema[] = {
	"CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5(output, content='events', "
	"content_rowid='id', tokenize='trigram')",
	"CREATE TRIGGER IF NOT EXISTS events_fts_gone AFTER DELETE ON events BEGIN "
	"INSERT INTO events_fts(events_fts, rowid, output) VALUES('delete', old.id, old.output); "
	"END",
	NULL,
};

static int create_schema(struct store *s)
{
	int err = 0;

	for (size_t i = 0; !err && schema[i]; i++)
		err = exec(s->db, schema[i]);
	for (size_t i = 0; !err && s->fts && fts_schema[i]; i++)
		err = exec(s->db, fts_schema[i]);
	return err;
}

static int prepare(struct store *s)
{
	const char *sql[] = {
		"INSERT OR IGNORE INTO events(id, uuid, time_ns, priority, rule, source, hostname, "
		"output, raw) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
		"INSERT OR IGNORE INTO tags(event, tag) VALUES (?1, ?2)",
		"INSERT OR IGNORE INTO fields(event, name, value) VALUES (?1, ?2, ?3)",
		s->fts ? "INSERT INTO events_fts(rowid, output) VALUES (?1, ?2)" : NULL,
		"INSERT INTO rollup VALUES (?1, ?2, ?3, ?4, ?5, 1) ON CONFLICT(minute, priority, "
		"rule, source, hostname) DO UPDATE SET n = n + 1",
		"INSERT INTO rollup_tags VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1) ON CONFLICT(minute, tag, "
		"priority, rule, source, hostname) DO UPDATE SET n = n + 1",
	};
	sqlite3_stmt **st[] = { &s->ins_event, &s->ins_tag,   &s->ins_field,
				&s->ins_fts,   &s->up_rollup, &s->up_rollup_tag };

	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		if (!sql[i])
			continue;
		if (sqlite3_prepare_v2(s->db, sql[i], -1, st[i], NULL) != SQLITE_OK) {
			log_error("store: %s", sqlite3_errmsg(s->db));
			return -EIO;
		}
	}
	return 0;
}

static void finalize_all(struct store *s)
{
	sqlite3_finalize(s->ins_event);
	sqlite3_finalize(s->ins_tag);
	sqlite3_finalize(s->ins_field);
	sqlite3_finalize(s->ins_fts);
	sqlite3_finalize(s->up_rollup);
	sqlite3_finalize(s->up_rollup_tag);
}

/* ---- the writer thread ---- */

static int step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* 1 when inserted, 0 when the uuid was already there, -EIO. */
static int insert(struct store *s, struct op *o)
{
	const struct alert *a = o->a;
	int64_t t = alert_time_ns(a), minute = t / NS_PER_MINUTE;
	int prio = (int)alert_priority(a);
	const char *rule = alert_rule(a), *src = alert_source(a), *host = alert_hostname(a);
	const char *output = alert_output(a);
	const json_t *tags = alert_tags(a), *fields = alert_output_fields(a), *v;
	const char *name;
	size_t i;
	int err;

	sqlite3_bind_int64(s->ins_event, 1, o->id);
	sqlite3_bind_text(s->ins_event, 2, alert_uuid(a), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->ins_event, 3, t);
	sqlite3_bind_int(s->ins_event, 4, prio);
	sqlite3_bind_text(s->ins_event, 5, rule, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->ins_event, 6, src, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->ins_event, 7, host, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->ins_event, 8, output, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->ins_event, 9, o->raw, (int)o->raw_len, SQLITE_STATIC);
	err = step(s->ins_event);
	if (err)
		return err;
	if (sqlite3_changes(s->db) == 0)
		return 0;
	json_array_foreach(tags, i, v) {
		if (!json_is_string(v))
			continue;
		sqlite3_bind_int64(s->ins_tag, 1, o->id);
		sqlite3_bind_text(s->ins_tag, 2, json_string_value(v), -1, SQLITE_STATIC);
		err = step(s->ins_tag);
		if (!err) {
			sqlite3_bind_int64(s->up_rollup_tag, 1, minute);
			sqlite3_bind_text(s->up_rollup_tag, 2, json_string_value(v), -1,
					  SQLITE_STATIC);
			sqlite3_bind_int(s->up_rollup_tag, 3, prio);
			sqlite3_bind_text(s->up_rollup_tag, 4, rule, -1, SQLITE_STATIC);
			sqlite3_bind_text(s->up_rollup_tag, 5, src, -1, SQLITE_STATIC);
			sqlite3_bind_text(s->up_rollup_tag, 6, host, -1, SQLITE_STATIC);
			err = step(s->up_rollup_tag);
		}
		if (err)
			return err;
	}
	json_object_foreach((json_t *)fields, name, v) {
		char *text = field_text(v);

		if (!text)
			return -ENOMEM;
		sqlite3_bind_int64(s->ins_field, 1, o->id);
		sqlite3_bind_text(s->ins_field, 2, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s->ins_field, 3, text, -1, SQLITE_STATIC);
		err = step(s->ins_field);
		free(text);
		if (err)
			return err;
	}
	if (s->fts) {
		sqlite3_bind_int64(s->ins_fts, 1, o->id);
		sqlite3_bind_text(s->ins_fts, 2, output, -1, SQLITE_STATIC);
		err = step(s->ins_fts);
		if (err)
			return err;
	}
	sqlite3_bind_int64(s->up_rollup, 1, minute);
	sqlite3_bind_int(s->up_rollup, 2, prio);
	sqlite3_bind_text(s->up_rollup, 3, rule, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->up_rollup, 4, src, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->up_rollup, 5, host, -1, SQLITE_STATIC);
	err = step(s->up_rollup);
	return err ? err : 1;
}

/* One transaction: 0 when committed; on any failure it is rolled back whole. */
static int write_txn(struct store *s, struct op *first, struct op *end, uint64_t *added)
{
	struct op *o;
	int rc, err = exec(s->db, "BEGIN IMMEDIATE");

	*added = 0;
	for (o = first; !err && o != end; o = o->next) {
		rc = insert(s, o);
		if (rc < 0) {
			log_error("store: alert %s not stored: %s", alert_uuid(o->a),
				  sqlite3_errmsg(s->db));
			err = rc;
		} else {
			*added += (uint64_t)rc;
		}
	}
	if (!err)
		err = exec(s->db, "COMMIT");
	if (err) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		*added = 0;
	}
	return err;
}

/*
 * One transaction for the whole batch (no savepoint per alert: FTS5 flushes its pending terms
 * into a new segment at every savepoint). When it fails, each alert is tried alone, so one bad
 * row does not cost the others.
 */
static void write_batch(struct store *s, struct op *batch)
{
	uint64_t added = 0, n, failed = 0;
	struct op *o;

	if (write_txn(s, batch, NULL, &added)) {
		for (o = batch; o; o = o->next) {
			o->err = write_txn(s, o, o->next, &n) ? -EIO : 0;
			added += n;
			failed += o->err != 0;
		}
	}
	s->since_analyze += added;
	pthread_mutex_lock(&s->lock);
	s->stats.alerts += added;
	s->stats.written += added;
	s->stats.errors += failed;
	pthread_mutex_unlock(&s->lock);
}

static uint64_t used_bytes(sqlite3 *db)
{
	int64_t pages = query_int(db, "PRAGMA page_count", 0);
	int64_t free_pages = query_int(db, "PRAGMA freelist_count", 0);
	int64_t size = query_int(db, "PRAGMA page_size", 4096);

	return (uint64_t)((pages - free_pages) * size);
}

/* Delete up to limit of the oldest events (older than cutoff_ns). Rows deleted, or -EIO. */
static int delete_oldest(struct store *s, int64_t cutoff_ns, int limit)
{
	sqlite3_stmt *st;
	int n, rc;

	if (sqlite3_prepare_v2(s->db,
			       "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE "
			       "time_ns < ?1 ORDER BY time_ns LIMIT ?2)",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, cutoff_ns);
	sqlite3_bind_int(st, 2, limit);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_error("store: retention: %s", sqlite3_errmsg(s->db));
		return -EIO;
	}
	n = sqlite3_changes(s->db);
	pthread_mutex_lock(&s->lock);
	s->stats.alerts -= s->stats.alerts >= (uint64_t)n ? (uint64_t)n : s->stats.alerts;
	s->stats.deleted += (uint64_t)n;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static bool todo_waiting(struct store *s)
{
	bool w;

	pthread_mutex_lock(&s->lock);
	w = s->todo.head != NULL && !s->stop;
	pthread_mutex_unlock(&s->lock);
	return w;
}

/*
 * After deletes: drop empty rollup rows, and let FTS5 rewrite a bounded amount of its index
 * without the deleted rows (a negative merge also merges lone segments; deletes alone only add
 * tombstones, so the index would grow while the table shrinks).
 */
static void reclaim(struct store *s)
{
	exec(s->db, "DELETE FROM rollup WHERE n <= 0");
	exec(s->db, "DELETE FROM rollup_tags WHERE n <= 0");
	if (s->fts)
		exec(s->db, "INSERT INTO events_fts(events_fts, rank) VALUES('merge', -2000)");
}

/*
 * Retention, in small transactions so inserts never wait long: by age, then by size (oldest
 * first) until the pages in use fit, then the freed pages go back to the file system.
 */
static void retention(struct store *s)
{
	int64_t cutoff = s->opts.max_age_ms > 0 ? now_ns() - s->opts.max_age_ms * NS_PER_MS :
						  INT64_MIN;
	bool deleted = false;
	uint64_t used;
	int n, rounds;

	for (rounds = 0; cutoff != INT64_MIN && rounds < 40; rounds++) {
		n = delete_oldest(s, cutoff, DELETE_BATCH);
		deleted |= n > 0;
		if (n < DELETE_BATCH || todo_waiting(s))
			break;
	}
	if (deleted)
		reclaim(s);
	/*
	 * By size: pages of deleted rows come back only once FTS5 merges its tombstones in, so
	 * the pages in use lag behind. Each pass deletes the share of rows the excess suggests,
	 * at most a quarter of them, then reclaims; the next pass looks again. This converges
	 * without deleting everything on the way.
	 */
	used = s->opts.max_bytes ? used_bytes(s->db) : 0;
	if (used > s->opts.max_bytes) {
		uint64_t alerts, want;

		pthread_mutex_lock(&s->lock);
		alerts = s->stats.alerts;
		pthread_mutex_unlock(&s->lock);
		want = (uint64_t)((double)alerts * (double)(used - s->opts.max_bytes) /
				  (double)used) +
		       1;
		if (want > alerts / 4 + 1)
			want = alerts / 4 + 1;
		while (want > 0) {
			n = delete_oldest(s, INT64_MAX,
					  want < DELETE_BATCH ? (int)want : DELETE_BATCH);
			if (n <= 0)
				break;
			deleted = true;
			want -= (uint64_t)n < want ? (uint64_t)n : want;
		}
		reclaim(s);
	}
	if (deleted) {
		exec(s->db, "PRAGMA incremental_vacuum");
		/* the file shrinks when a checkpoint copies the whole WAL back */
		sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	}
}

static void refresh_stats(struct store *s)
{
	uint64_t bytes = used_bytes(s->db);
	int64_t oldest = query_int(s->db, "SELECT MIN(time_ns) FROM events", 0);

	pthread_mutex_lock(&s->lock);
	s->stats.bytes = bytes;
	s->stats.oldest_ns = oldest;
	pthread_mutex_unlock(&s->lock);
}

static void *writer(void *arg)
{
	struct store *s = arg;
	int64_t interval = s->opts.retention_interval_ms > 0 ? s->opts.retention_interval_ms : 1000;

	for (;;) {
		struct op_list batch = { 0 }, finished = { 0 };
		struct op *o, *next;
		bool stop;

		pthread_mutex_lock(&s->lock);
		if (!s->todo.head && !s->stop) {
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += interval / 1000;
			until.tv_nsec += (interval % 1000) * 1000000;
			if (until.tv_nsec >= 1000000000) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&s->cond, &s->lock, &until);
		}
		/* at most MAX_BATCH per transaction, so retention and readers get their turn */
		while (s->todo.head && batch.n < MAX_BATCH) {
			o = s->todo.head;
			s->todo.head = o->next;
			if (!s->todo.head)
				s->todo.tail = NULL;
			s->todo.n--;
			list_push(&batch, o);
		}
		s->stats.queued = s->todo.n;
		stop = s->stop && !s->todo.head;
		pthread_mutex_unlock(&s->lock);

		if (batch.head) {
			write_batch(s, batch.head);
			for (o = batch.head; o; o = next) {
				next = o->next;
				list_push(&finished, o);
			}
			pthread_mutex_lock(&s->lock);
			if (s->done.tail)
				s->done.tail->next = finished.head;
			else
				s->done.head = finished.head;
			s->done.tail = finished.tail;
			pthread_mutex_unlock(&s->lock);
			uv_async_send(&s->async);
			refresh_stats(s);
		}
		if (stop)
			break;
		if (elapsed_ms(&s->last_retention) >= interval) {
			retention(s);
			if (s->since_analyze >= ANALYZE_EVERY) {
				exec(s->db, "PRAGMA analysis_limit=1000; ANALYZE");
				s->since_analyze = 0;
			}
			refresh_stats(s);
			clock_gettime(CLOCK_MONOTONIC, &s->last_retention);
		}
	}
	return NULL;
}

/* On the loop: callbacks of written alerts, and the references they held. */
static void on_async(uv_async_t *h)
{
	struct store *s = h->data;
	struct op *o, *next;

	pthread_mutex_lock(&s->lock);
	o = s->done.head;
	s->done.head = s->done.tail = NULL;
	pthread_mutex_unlock(&s->lock);
	for (; o; o = next) {
		next = o->next;
		if (o->done)
			o->done(o->data, o->err);
		alert_unref(o->a);
		free(o);
	}
}

/* ---- life cycle ---- */

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

static sqlite3 *open_db(const char *path, bool create)
{
	sqlite3 *db = NULL;
	int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);

	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		log_error("store: cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "no memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 10000);
	/* index pages stay in memory: inserts and queries touch them all the time */
	sqlite3_exec(db, "PRAGMA cache_size=-65536; PRAGMA mmap_size=1073741824", NULL, NULL, NULL);
	return db;
}

/* Rename a corrupt database (and drop its WAL) so a fresh one can start. 0 or -errno. */
static int set_aside(const char *path)
{
	char aside[PATH_MAX], side[PATH_MAX];
	int err = 0;

	snprintf(aside, sizeof(aside), "%s.corrupt-%lld", path, (long long)(now_ns() / 1000000000));
	if (rename(path, aside)) {
		err = -errno;
		log_error("store: %s is corrupt and cannot be set aside: %s", path,
			  strerror(errno));
		return err;
	}
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	log_error("store: %s was corrupt: moved to %s, starting an empty store", path, aside);
	return 0;
}

static void store_release(struct store *s)
{
	for (size_t i = 0; i < s->n_free; i++)
		sqlite3_close(s->free_readers[i]);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->rlock);
	pthread_cond_destroy(&s->rcond);
	free(s->path);
	free(s);
}

struct store *store_open(uv_loop_t *loop, const struct store_opts *o)
{
	struct store *s = calloc(1, sizeof(*s));
	int err = -EIO;

	if (!s)
		return NULL;
	s->loop = loop;
	s->opts = *o;
	s->path = strdup(o->path);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	pthread_mutex_init(&s->rlock, NULL);
	pthread_cond_init(&s->rcond, NULL);
	if (!s->path) {
		err = -ENOMEM;
		goto err_free;
	}
	s->opts.path = s->path;
	err = mkdir_parent(o->path);
	if (err) {
		log_error("store: cannot create the folder of %s: %s", o->path, strerror(-err));
		goto err_free;
	}
	err = -EIO;
	s->fts = sqlite3_compileoption_used("ENABLE_FTS5") == 1;
	for (int attempt = 0;; attempt++) {
		int code;

		s->db = open_db(o->path, true);
		if (!s->db)
			goto err_free;
		/* before the first table (a no-op after): lets retention give pages back */
		if (!exec(s->db, "PRAGMA auto_vacuum=INCREMENTAL") &&
		    !exec(s->db, "PRAGMA journal_mode=WAL") &&
		    !exec(s->db, "PRAGMA synchronous=NORMAL") &&
		    !exec(s->db, "PRAGMA journal_size_limit=4194304") && !create_schema(s) &&
		    !prepare(s))
			break;
		code = sqlite3_errcode(s->db) & 0xff;
		finalize_all(s);
		s->ins_event = s->ins_tag = s->ins_field = s->ins_fts = s->up_rollup =
			s->up_rollup_tag = NULL;
		sqlite3_close(s->db);
		s->db = NULL;
		/* the store is a view of what was delivered: a broken file is set aside, not fatal */
		if (attempt || (code != SQLITE_CORRUPT && code != SQLITE_NOTADB) ||
		    set_aside(o->path))
			goto err_free;
	}
	s->next_id = query_int(s->db, "SELECT MAX(id) FROM events", 0) + 1;
	s->stats.alerts = (uint64_t)query_int(s->db, "SELECT COUNT(*) FROM events", 0);
	exec(s->db, "PRAGMA analysis_limit=1000; ANALYZE");
	refresh_stats(s);
	clock_gettime(CLOCK_MONOTONIC, &s->last_retention);
	/* retention at once, not after the first interval */
	s->last_retention.tv_sec -= 3600;
	uv_async_init(loop, &s->async, on_async);
	s->async.data = s;
	if (pthread_create(&s->thread, NULL, writer, s)) {
		log_error("store: cannot start its thread");
		uv_close((uv_handle_t *)&s->async, NULL);
		uv_run(loop, UV_RUN_NOWAIT);
		err = -EAGAIN;
		goto err_close;
	}
	s->thread_started = true;
	log_info("store: %s: %" PRIu64 " alert(s), free text %s", o->path, s->stats.alerts,
		 s->fts ? "by FTS5 trigram index" : "by scan (no FTS5 in this SQLite)");
	return s;

err_close:
	finalize_all(s);
	sqlite3_close(s->db);
err_free:
	store_release(s);
	errno = -err;
	return NULL;
}

int64_t store_add(struct store *s, struct alert *a, store_done_fn done, void *data)
{
	struct op *o;
	const char *raw;
	size_t len;

	if (s->closing)
		return -ESHUTDOWN;
	raw = alert_json(a, &len);
	o = calloc(1, sizeof(*o));
	if (!raw || !o) {
		free(o);
		return -ENOMEM;
	}
	o->id = s->next_id++;
	o->a = alert_ref(a);
	o->raw = raw;
	o->raw_len = len;
	o->done = done;
	o->data = data;
	pthread_mutex_lock(&s->lock);
	list_push(&s->todo, o);
	s->stats.queued = s->todo.n;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return o->id;
}

void store_get_stats(struct store *s, struct store_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
}

bool store_has_fts(const struct store *s)
{
	return s->fts;
}

static void on_async_closed(uv_handle_t *h)
{
	store_release(h->data);
}

void store_close(struct store *s)
{
	if (!s || s->closing)
		return;
	s->closing = true;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->thread_started)
		pthread_join(s->thread, NULL);
	finalize_all(s);
	sqlite3_close(s->db);
	s->db = NULL;
	/* the callbacks of the last batch, then the handle */
	on_async(&s->async);
	uv_close((uv_handle_t *)&s->async, on_async_closed);
}

/* ---- readers ---- */

static sqlite3 *reader_get(struct store *s)
{
	sqlite3 *db = NULL;

	pthread_mutex_lock(&s->rlock);
	while (!s->n_free && s->n_readers >= READERS_MAX)
		pthread_cond_wait(&s->rcond, &s->rlock);
	if (s->n_free) {
		db = s->free_readers[--s->n_free];
	} else {
		s->n_readers++;
		pthread_mutex_unlock(&s->rlock);
		db = open_db(s->path, false);
		if (db)
			sqlite3_exec(db, "PRAGMA query_only=1", NULL, NULL, NULL);
		pthread_mutex_lock(&s->rlock);
		if (!db) {
			s->n_readers--;
			pthread_cond_signal(&s->rcond);
		}
	}
	pthread_mutex_unlock(&s->rlock);
	return db;
}

static void reader_put(struct store *s, sqlite3 *db)
{
	pthread_mutex_lock(&s->rlock);
	s->free_readers[s->n_free++] = db;
	pthread_cond_signal(&s->rcond);
	pthread_mutex_unlock(&s->rlock);
}

/* ---- filters ---- */

void store_filter_init(struct store_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->since_ns = INT64_MIN;
	f->until_ns = INT64_MAX;
}

static bool in_list(const char *v, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v, list[i]))
			return true;
	return false;
}

static bool has_tag(const json_t *tags, const char *tag)
{
	size_t i;
	const json_t *v;

	json_array_foreach(tags, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), tag))
			return true;
	return false;
}

bool store_filter_match(const struct store_filter *f, const struct alert *a)
{
	int64_t t = alert_time_ns(a);
	size_t i;

	if (t < f->since_ns || t >= f->until_ns)
		return false;
	if (f->priorities && !(f->priorities & (1u << alert_priority(a))))
		return false;
	if (f->n_rules && !in_list(alert_rule(a), f->rules, f->n_rules))
		return false;
	if (f->n_sources && !in_list(alert_source(a), f->sources, f->n_sources))
		return false;
	if (f->n_hosts && !in_list(alert_hostname(a), f->hosts, f->n_hosts))
		return false;
	for (i = 0; i < f->n_tags; i++)
		if (!has_tag(alert_tags(a), f->tags[i]))
			return false;
	for (i = 0; i < f->n_fields; i++) {
		const json_t *v = json_object_get(alert_output_fields(a), f->field_names[i]);
		char *text;
		bool eq;

		if (!v)
			return false;
		text = field_text(v);
		eq = text && !strcmp(text, f->field_values[i]);
		free(text);
		if (!eq)
			return false;
	}
	for (i = 0; i < f->n_words; i++)
		if (!strcasestr(alert_output(a), f->words[i]))
			return false;
	return true;
}

/* ---- SQL building ---- */

struct sql {
	char *text;
	size_t len, cap;
	bool oom;
	struct bind {
		bool is_text;
		int64_t i;
		const char *t;
		char *owned;
	} * binds;
	size_t n_binds, cap_binds;
};

static void sql_add(struct sql *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sql_add(struct sql *q, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (q->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(q->text ? q->text + q->len : NULL, q->text ? q->cap - q->len : 0, fmt,
			      ap);
		va_end(ap);
		if (n < 0) {
			q->oom = true;
			return;
		}
		if (q->text && q->len + (size_t)n < q->cap) {
			q->len += (size_t)n;
			return;
		}
		size_t cap = q->cap ? q->cap * 2 : 1024;
		while (cap <= q->len + (size_t)n)
			cap *= 2;
		char *p = realloc(q->text, cap);
		if (!p) {
			q->oom = true;
			return;
		}
		q->text = p;
		q->cap = cap;
	}
}

static struct bind *sql_bind(struct sql *q)
{
	if (q->n_binds == q->cap_binds) {
		size_t cap = q->cap_binds ? q->cap_binds * 2 : 16;
		struct bind *b = realloc(q->binds, cap * sizeof(*b));

		if (!b) {
			q->oom = true;
			return NULL;
		}
		q->binds = b;
		q->cap_binds = cap;
	}
	memset(&q->binds[q->n_binds], 0, sizeof(q->binds[0]));
	return &q->binds[q->n_binds++];
}

static void bind_text(struct sql *q, const char *t)
{
	struct bind *b = sql_bind(q);

	if (b) {
		b->is_text = true;
		b->t = t;
	}
}

static void bind_owned(struct sql *q, char *t)
{
	struct bind *b = t ? sql_bind(q) : NULL;

	if (!b) {
		free(t);
		q->oom = true;
		return;
	}
	b->is_text = true;
	b->t = t;
	b->owned = t;
}

static void bind_int(struct sql *q, int64_t i)
{
	struct bind *b = sql_bind(q);

	if (b)
		b->i = i;
}

static void sql_free(struct sql *q)
{
	for (size_t i = 0; i < q->n_binds; i++)
		free(q->binds[i].owned);
	free(q->binds);
	free(q->text);
}

static void in_list_sql(struct sql *q, const char *col, const char *const *v, size_t n)
{
	if (!n)
		return;
	sql_add(q, " AND %s IN (", col);
	for (size_t i = 0; i < n; i++) {
		sql_add(q, i ? ",?" : "?");
		bind_text(q, v[i]);
	}
	sql_add(q, ")");
}

static void priorities_sql(struct sql *q, const char *col, unsigned mask)
{
	bool first = true;

	if (!mask || mask == (1u << PRIORITY__COUNT) - 1)
		return;
	if (!(mask & ((1u << PRIORITY__COUNT) - 1))) {
		sql_add(q, " AND 0");
		return;
	}
	sql_add(q, " AND %s IN (", col);
	for (int p = 0; p < PRIORITY__COUNT; p++) {
		if (!(mask & (1u << p)))
			continue;
		sql_add(q, first ? "%d" : ",%d", p);
		first = false;
	}
	sql_add(q, ")");
}

/* "%word%" for LIKE, with its wildcards escaped. */
static char *like_pattern(const char *w)
{
	size_t n = strlen(w);
	char *p = malloc(2 * n + 3), *o = p;

	if (!p)
		return NULL;
	*o++ = '%';
	for (; *w; w++) {
		if (*w == '%' || *w == '_' || *w == '\\')
			*o++ = '\\';
		*o++ = *w;
	}
	*o++ = '%';
	*o = '\0';
	return p;
}

/* An FTS5 string: the word between double quotes, its quotes doubled. */
static char *fts_phrase(const char *const *words, size_t n, bool fts)
{
	size_t len = 1, k = 0;
	char *p, *o;

	for (size_t i = 0; i < n; i++)
		len += 2 * strlen(words[i]) + 3;
	p = o = malloc(len);
	if (!p)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (strlen(words[i]) < 3 || !fts)
			continue;
		if (k++)
			*o++ = ' ';
		*o++ = '"';
		for (const char *w = words[i]; *w; w++) {
			if (*w == '"')
				*o++ = '"';
			*o++ = *w;
		}
		*o++ = '"';
	}
	*o = '\0';
	return p;
}

/*
 * The filters on events e, except time. Words of 3 bytes or more go to the trigram index (a
 * substring match, case-insensitive), shorter ones (and all without FTS5) to LIKE, which
 * SQLite evaluates only on the rows the other filters left.
 */
static void filter_sql(struct sql *q, const struct store *s, const struct store_filter *f,
		       bool correlated)
{
	size_t i;
	char *phrase;

	priorities_sql(q, "e.priority", f->priorities);
	in_list_sql(q, "e.rule", f->rules, f->n_rules);
	in_list_sql(q, "e.source", f->sources, f->n_sources);
	in_list_sql(q, "e.hostname", f->hosts, f->n_hosts);
	for (i = 0; i < f->n_tags; i++) {
		sql_add(q,
			correlated ?
				" AND EXISTS (SELECT 1 FROM tags WHERE event = e.id AND tag = ?)" :
				" AND e.id IN (SELECT event FROM tags WHERE tag = ?)");
		bind_text(q, f->tags[i]);
	}
	for (i = 0; i < f->n_fields; i++) {
		sql_add(q, correlated ? " AND EXISTS (SELECT 1 FROM fields WHERE event = e.id AND "
					"name = ? AND value = ?)" :
					" AND e.id IN (SELECT event FROM fields WHERE name = ? AND "
					"value = ?)");
		bind_text(q, f->field_names[i]);
		bind_text(q, f->field_values[i]);
	}
	if (!f->n_words)
		return;
	phrase = fts_phrase(f->words, f->n_words, s->fts);
	if (phrase && *phrase) {
		sql_add(q, correlated ?
				   " AND EXISTS (SELECT 1 FROM events_fts WHERE events_fts "
				   "MATCH ? AND rowid = e.id)" :
				   " AND e.id IN (SELECT rowid FROM events_fts WHERE events_fts "
				   "MATCH ?)");
		bind_owned(q, phrase);
	} else {
		free(phrase);
	}
	for (i = 0; i < f->n_words; i++) {
		if (s->fts && strlen(f->words[i]) >= 3)
			continue;
		sql_add(q, " AND e.output LIKE ? ESCAPE '\\'");
		bind_owned(q, like_pattern(f->words[i]));
	}
}

static sqlite3_stmt *sql_prepare(sqlite3 *db, struct sql *q)
{
	sqlite3_stmt *st;

	if (q->oom)
		return NULL;
	if (sqlite3_prepare_v2(db, q->text, (int)q->len, &st, NULL) != SQLITE_OK) {
		log_error("store: query: %s", sqlite3_errmsg(db));
		return NULL;
	}
	for (size_t i = 0; i < q->n_binds; i++) {
		if (q->binds[i].is_text)
			sqlite3_bind_text(st, (int)i + 1, q->binds[i].t, -1, SQLITE_STATIC);
		else
			sqlite3_bind_int64(st, (int)i + 1, q->binds[i].i);
	}
	return st;
}

/* ---- events ---- */

json_t *store_event_json(int64_t id, const char *raw, size_t len)
{
	static const char *const keys[] = { "uuid",   "time",	  "priority", "rule",
					    "source", "hostname", "output",   NULL };
	json_t *in = json_loadb(raw, len, 0, NULL), *out, *v;

	if (!in)
		return NULL;
	out = json_object();
	if (!out) {
		json_decref(in);
		return NULL;
	}
	json_object_set_new(out, "id", json_integer(id));
	for (size_t i = 0; keys[i]; i++) {
		v = json_object_get(in, keys[i]);
		json_object_set(out, keys[i], v ? v : json_string(""));
		if (!v)
			json_decref(json_object_get(out, keys[i]));
	}
	v = json_object_get(in, "tags");
	json_object_set_new(out, "tags", json_is_array(v) ? json_incref(v) : json_array());
	v = json_object_get(in, "output_fields");
	json_object_set_new(out, "output_fields",
			    json_is_object(v) ? json_incref(v) : json_object());
	json_decref(in);
	return out;
}

/* The time range and the cursor, on events e. */
static void range_sql(struct sql *q, const struct store_filter *f, const struct store_cursor *after)
{
	sql_add(q, " WHERE e.time_ns >= ? AND e.time_ns < ?");
	bind_int(q, f->since_ns);
	bind_int(q, f->until_ns);
	if (after) {
		sql_add(q, " AND (e.time_ns < ? OR (e.time_ns = ? AND e.id < ?))");
		bind_int(q, after->time_ns);
		bind_int(q, after->time_ns);
		bind_int(q, after->id);
	}
}

static bool has_filters(const struct store_filter *f)
{
	return f->priorities || f->n_rules || f->n_sources || f->n_hosts || f->n_tags ||
	       f->n_fields || f->n_words;
}

/*
 * The time of the window-th newest event of the range: an index-only walk. false when
 * the range holds fewer (then the window is the whole range).
 */
static bool window_floor(sqlite3 *db, const struct store_filter *f,
			 const struct store_cursor *after, int64_t window, int64_t *floor_ns)
{
	struct sql q = { 0 };
	sqlite3_stmt *st;
	bool found = false;

	sql_add(&q, "SELECT e.time_ns FROM events e INDEXED BY events_time");
	range_sql(&q, f, after);
	sql_add(&q, " ORDER BY e.time_ns DESC LIMIT 1 OFFSET ?");
	bind_int(&q, window - 1);
	st = sql_prepare(db, &q);
	if (st && sqlite3_step(st) == SQLITE_ROW) {
		*floor_ns = sqlite3_column_int64(st, 0);
		found = true;
	}
	sqlite3_finalize(st);
	sql_free(&q);
	return found;
}

/* Run a search statement into events (at most limit, then *next). Rows read, or -errno. */
static int search_rows(sqlite3 *db, struct sql *q, size_t limit, json_t *events, json_t **next)
{
	sqlite3_stmt *st = sql_prepare(db, q);
	int64_t last_t = 0, last_id = 0;
	int rc, n = 0;

	if (!st)
		return q->oom ? -ENOMEM : -EIO;
	*next = NULL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *ev;

		n++;
		if ((size_t)n == limit + 1) {
			char cur[64];

			snprintf(cur, sizeof(cur), "%" PRId64 ".%" PRId64, last_t, last_id);
			*next = json_string(cur);
			break;
		}
		last_id = sqlite3_column_int64(st, 0);
		last_t = sqlite3_column_int64(st, 1);
		ev = store_event_json(last_id, (const char *)sqlite3_column_text(st, 2),
				      (size_t)sqlite3_column_bytes(st, 2));
		if (ev)
			json_array_append_new(events, ev);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_error("store: search: %s", sqlite3_errmsg(db));
		n = -EIO;
	}
	sqlite3_finalize(st);
	return n;
}

/*
 * Two plans, because SQLite cannot know how many rows a filter keeps:
 *  1. walk the newest SEARCH_WINDOW events of the range in time order, testing each (tags,
 *     fields and words by correlated lookups), and stop at limit + 1: fast when matches are
 *     common, bounded when they are not;
 *  2. when the window held too few, let the planner start from the filters' indexes and sort
 *     what they select: fast precisely because matches are then rare.
 */
int store_search(struct store *s, const struct store_filter *f, size_t limit,
		 const struct store_cursor *after, json_t **out)
{
	json_t *res = json_object(), *events = json_array(), *next = NULL;
	struct sql q = { 0 };
	int64_t floor_ns = 0;
	bool windowed = false;
	sqlite3 *db;
	int n, err = 0;

	if (!res || !events) {
		json_decref(res);
		json_decref(events);
		return -ENOMEM;
	}
	db = reader_get(s);
	if (!db) {
		err = -EIO;
		goto out;
	}
	/* one read transaction: both plans see the same rows */
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	sql_add(&q, "SELECT e.id, e.time_ns, e.raw FROM events e INDEXED BY events_time");
	range_sql(&q, f, after);
	if (has_filters(f)) {
		windowed = window_floor(db, f, after,
					s->opts.search_window ? (int64_t)s->opts.search_window :
								SEARCH_WINDOW,
					&floor_ns);
		if (windowed) {
			sql_add(&q, " AND e.time_ns >= ?");
			bind_int(&q, floor_ns);
		}
		filter_sql(&q, s, f, true);
	}
	sql_add(&q, " ORDER BY e.time_ns DESC, e.id DESC LIMIT ?");
	bind_int(&q, (int64_t)limit + 1);
	n = search_rows(db, &q, limit, events, &next);
	sql_free(&q);
	memset(&q, 0, sizeof(q));
	if (n >= 0 && (size_t)n <= limit && windowed) {
		json_array_clear(events);
		sql_add(&q, "SELECT e.id, e.time_ns, e.raw FROM events e");
		range_sql(&q, f, after);
		filter_sql(&q, s, f, false);
		sql_add(&q, " ORDER BY e.time_ns DESC, e.id DESC LIMIT ?");
		bind_int(&q, (int64_t)limit + 1);
		n = search_rows(db, &q, limit, events, &next);
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	reader_put(s, db);
	if (n < 0)
		err = n;
out:
	sql_free(&q);
	if (err) {
		json_decref(res);
		json_decref(events);
		json_decref(next);
		return err;
	}
	json_object_set_new(res, "events", events);
	json_object_set_new(res, "next", next ? next : json_null());
	*out = res;
	return 0;
}

int store_get(struct store *s, const char *uuid, json_t **out)
{
	sqlite3 *db = reader_get(s);
	sqlite3_stmt *st;
	int rc, err = -ENOENT;

	if (!db)
		return -EIO;
	if (sqlite3_prepare_v2(db, "SELECT id, raw FROM events WHERE uuid = ?", -1, &st, NULL) !=
	    SQLITE_OK) {
		reader_put(s, db);
		return -EIO;
	}
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *raw = (const char *)sqlite3_column_text(st, 1);
		size_t len = (size_t)sqlite3_column_bytes(st, 1);
		json_t *ev = store_event_json(sqlite3_column_int64(st, 0), raw, len);

		err = -ENOMEM;
		if (ev) {
			json_object_set_new(ev, "raw", json_stringn(raw, len));
			*out = ev;
			err = 0;
		}
	} else if (rc != SQLITE_DONE) {
		err = -EIO;
	}
	sqlite3_finalize(st);
	reader_put(s, db);
	return err;
}

/* ---- counts ---- */

struct group {
	char *key;
	int64_t count;
	int64_t *series; /* n_buckets */
};

struct tally {
	struct group *v;
	size_t n, cap;
	size_t n_buckets;
	int64_t first_bucket_ms, bucket_ms;
	bool oom;
};

static struct group *tally_group(struct tally *t, const char *key)
{
	/* groups are few (priorities, rules, hosts): a linear scan is enough */
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].key, key))
			return &t->v[i];
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct group *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		t->v = v;
		t->cap = cap;
	}
	struct group *g = &t->v[t->n];

	g->key = strdup(key);
	g->count = 0;
	g->series = t->n_buckets ? calloc(t->n_buckets, sizeof(*g->series)) : NULL;
	if (!g->key || (t->n_buckets && !g->series)) {
		free(g->key);
		free(g->series);
		return NULL;
	}
	t->n++;
	return g;
}

static void tally_free(struct tally *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].key);
		free(t->v[i].series);
	}
	free(t->v);
}

static const char *group_column(enum store_group by, bool rollup)
{
	switch (by) {
	case STORE_BY_PRIORITY:
		return rollup ? "r.priority" : "e.priority";
	case STORE_BY_RULE:
		return rollup ? "r.rule" : "e.rule";
	case STORE_BY_SOURCE:
		return rollup ? "r.source" : "e.source";
	case STORE_BY_TAG:
		return rollup ? "r.tag" : "t.tag";
	case STORE_BY_HOST:
		return rollup ? "r.hostname" : "e.hostname";
	}
	return "NULL";
}

/* Run one grouping query (key, bucket_ms, n) and add its rows into t. */
static int tally_run(struct tally *t, sqlite3 *db, struct sql *q, enum store_group by)
{
	sqlite3_stmt *st = sql_prepare(db, q);
	int rc;

	if (!st)
		return q->oom ? -ENOMEM : -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char prio[16];
		const char *key;
		struct group *g;
		int64_t n = sqlite3_column_int64(st, 2);

		if (by == STORE_BY_PRIORITY) {
			snprintf(prio, sizeof(prio), "%s",
				 priority_name((enum priority)sqlite3_column_int(st, 0)));
			key = prio;
		} else {
			key = (const char *)sqlite3_column_text(st, 0);
		}
		if (!key || n <= 0)
			continue;
		g = tally_group(t, key);
		if (!g) {
			sqlite3_finalize(st);
			return -ENOMEM;
		}
		g->count += n;
		if (t->n_buckets) {
			int64_t b =
				(sqlite3_column_int64(st, 1) - t->first_bucket_ms) / t->bucket_ms;

			if (b >= 0 && (size_t)b < t->n_buckets)
				g->series[b] += n;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_error("store: counts: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Counts over the raw events of [from_ms, to_ms). */
static int tally_raw(struct tally *t, sqlite3 *db, const struct store *s,
		     const struct store_filter *f, enum store_group by, int64_t from_ms,
		     int64_t to_ms)
{
	struct sql q = { 0 };
	int err;

	if (from_ms >= to_ms)
		return 0;
	sql_add(&q, "SELECT %s, ", group_column(by, false));
	if (t->n_buckets) {
		sql_add(&q, "((e.time_ns / 1000000) / ?) * ?, COUNT(*)");
		bind_int(&q, t->bucket_ms);
		bind_int(&q, t->bucket_ms);
	} else {
		sql_add(&q, "0, COUNT(*)");
	}
	sql_add(&q, " FROM events e%s WHERE e.time_ns >= ? AND e.time_ns < ?",
		by == STORE_BY_TAG ? " JOIN tags t ON t.event = e.id" : "");
	bind_int(&q, from_ms * NS_PER_MS);
	bind_int(&q, to_ms * NS_PER_MS);
	filter_sql(&q, s, f, false);
	sql_add(&q, " GROUP BY 1, 2");
	err = tally_run(t, db, &q, by);
	sql_free(&q);
	return err;
}

/* Counts from the per-minute rollups over the whole minutes [m0, m1). */
static int tally_rollup(struct tally *t, sqlite3 *db, const struct store_filter *f,
			enum store_group by, int64_t m0, int64_t m1)
{
	bool tags = by == STORE_BY_TAG || f->n_tags;
	struct sql q = { 0 };
	int err;

	if (m0 >= m1)
		return 0;
	sql_add(&q, "SELECT %s, ", group_column(by, true));
	if (t->n_buckets) {
		sql_add(&q, "((r.minute * 60000) / ?) * ?, SUM(r.n)");
		bind_int(&q, t->bucket_ms);
		bind_int(&q, t->bucket_ms);
	} else {
		sql_add(&q, "0, SUM(r.n)");
	}
	sql_add(&q, " FROM %s r WHERE r.minute >= ? AND r.minute < ?",
		tags ? "rollup_tags" : "rollup");
	bind_int(&q, m0);
	bind_int(&q, m1);
	if (f->n_tags) {
		sql_add(&q, " AND r.tag = ?");
		bind_text(&q, f->tags[0]);
	}
	priorities_sql(&q, "r.priority", f->priorities);
	in_list_sql(&q, "r.rule", f->rules, f->n_rules);
	in_list_sql(&q, "r.source", f->sources, f->n_sources);
	in_list_sql(&q, "r.hostname", f->hosts, f->n_hosts);
	sql_add(&q, " GROUP BY 1, 2");
	err = tally_run(t, db, &q, by);
	sql_free(&q);
	return err;
}

/*
 * The rollups answer when the filters are among priority, rule, source, hostname and at most
 * one tag (not with by=tag: that needs every tag of each alert), and buckets are whole minutes.
 * The partial minutes at both ends of the range come from the events.
 */
static int tally_all(struct tally *t, sqlite3 *db, const struct store *s,
		     const struct store_filter *f, enum store_group by, int64_t since_ms,
		     int64_t until_ms)
{
	bool rollup = !f->n_words && !f->n_fields &&
		      (f->n_tags == 0 || (f->n_tags == 1 && by != STORE_BY_TAG)) &&
		      (t->bucket_ms == 0 || t->bucket_ms % 60000 == 0);
	int64_t m0, m1;
	int err;

	if (!rollup)
		return tally_raw(t, db, s, f, by, since_ms, until_ms);
	m0 = -floor_div(-since_ms, 60000); /* ceil */
	m1 = floor_div(until_ms, 60000);
	if (m0 >= m1)
		return tally_raw(t, db, s, f, by, since_ms, until_ms);
	err = tally_raw(t, db, s, f, by, since_ms, m0 * 60000);
	if (!err)
		err = tally_rollup(t, db, f, by, m0, m1);
	if (!err)
		err = tally_raw(t, db, s, f, by, m1 * 60000, until_ms);
	return err;
}

static int cmp_group(const void *a, const void *b)
{
	const struct group *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->key, y->key);
}

int store_counts(struct store *s, const struct store_filter *f, enum store_group by,
		 int64_t since_ms, int64_t until_ms, int64_t bucket_ms, size_t top, json_t **out)
{
	struct tally t = { 0 };
	struct store_filter ff = *f;
	json_t *res, *groups;
	int64_t total = 0;
	sqlite3 *db;
	int err;

	/* the filter's own time range narrows the one asked */
	if (f->since_ns != INT64_MIN && f->since_ns / NS_PER_MS > since_ms)
		since_ms = f->since_ns / NS_PER_MS;
	if (f->until_ns != INT64_MAX && f->until_ns / NS_PER_MS < until_ms)
		until_ms = f->until_ns / NS_PER_MS;
	ff.since_ns = INT64_MIN;
	ff.until_ns = INT64_MAX;
	if (until_ms < since_ms)
		until_ms = since_ms;
	if (bucket_ms > 0) {
		int64_t first = floor_div(since_ms, bucket_ms) * bucket_ms;
		int64_t last = until_ms > since_ms ?
				       floor_div(until_ms - 1, bucket_ms) * bucket_ms :
				       first;

		if ((last - first) / bucket_ms + 1 > MAX_BUCKETS)
			return -ERANGE;
		t.bucket_ms = bucket_ms;
		t.first_bucket_ms = first;
		t.n_buckets = (size_t)((last - first) / bucket_ms + 1);
	}
	db = reader_get(s);
	if (!db)
		return -EIO;
	/* one read transaction: groups and total see the same rows */
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	err = tally_all(&t, db, s, &ff, by, since_ms, until_ms);
	if (!err && by == STORE_BY_TAG) {
		/* an alert has several tags: the total counts alerts, not tags */
		struct tally all = { 0 };

		err = tally_all(&all, db, s, &ff, STORE_BY_SOURCE, since_ms, until_ms);
		for (size_t i = 0; i < all.n; i++)
			total += all.v[i].count;
		tally_free(&all);
	} else {
		for (size_t i = 0; i < t.n; i++)
			total += t.v[i].count;
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	reader_put(s, db);
	if (err) {
		tally_free(&t);
		return err;
	}
	qsort(t.v, t.n, sizeof(*t.v), cmp_group);
	res = json_object();
	groups = json_array();
	if (!res || !groups) {
		json_decref(res);
		json_decref(groups);
		tally_free(&t);
		return -ENOMEM;
	}
	json_object_set_new(res, "by",
			    json_string((const char *[]){ "priority", "rule", "source", "tag",
							  "hostname" }[by]));
	json_object_set_new(res, "since", json_integer(since_ms));
	json_object_set_new(res, "until", json_integer(until_ms));
	json_object_set_new(res, "total", json_integer(total));
	json_object_set_new(res, "bucket_ms",
			    bucket_ms > 0 ? json_integer(bucket_ms) : json_null());
	for (size_t i = 0; i < t.n && (!top || i < top); i++) {
		json_t *g = json_object();

		json_object_set_new(g, "key", json_string(t.v[i].key));
		json_object_set_new(g, "count", json_integer(t.v[i].count));
		if (t.n_buckets) {
			json_t *series = json_array();

			for (size_t b = 0; b < t.n_buckets; b++)
				json_array_append_new(
					series, json_pack("[II]",
							  (json_int_t)(t.first_bucket_ms +
								       (int64_t)b * bucket_ms),
							  (json_int_t)t.v[i].series[b]));
			json_object_set_new(g, "series", series);
		}
		json_array_append_new(groups, g);
	}
	json_object_set_new(res, "groups", groups);
	tally_free(&t);
	*out = res;
	return 0;
}
