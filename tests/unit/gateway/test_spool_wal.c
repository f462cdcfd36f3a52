// SPDX-License-Identifier: Apache-2.0
#include <dlfcn.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "gateway/spool_wal.h"

/*
 * The spool's VFS (gateway/spool_wal.c) and the syncs of a WAL. SQLite's unix VFS syncs with
 * fdatasync(); the test binary's own fdatasync() comes first in symbol lookup, counts the calls
 * on files whose name ends in "-wal", and calls the C library's.
 */

static int wal_syncs;

int fdatasync(int fd)
{
	static int (*real)(int);
	char link[64], name[512];
	ssize_t n;

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, name, sizeof(name) - 1);
	if (n > 4 && !memcmp(name + n - 4, "-wal", 4))
		wal_syncs++;
	return real(fd);
}

static sqlite3 *open_spool_db_sync(const char *path, const char *sync)
{
	sqlite3 *db = NULL;
	char sql[256];

	assert_non_null(spool_wal_vfs());
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
					 spool_wal_vfs()),
			 SQLITE_OK);
	/* as the spool: exclusive (no -shm), WAL, its synchronous mode, checkpoints its own */
	snprintf(sql, sizeof(sql),
		 "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; "
		 "CREATE TABLE IF NOT EXISTS t(x INTEGER)",
		 sync);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_wal_autocheckpoint(db, 0);
	return db;
}

static sqlite3 *open_spool_db(const char *path)
{
	return open_spool_db_sync(path, "NORMAL");
}

static void forget_wal(sqlite3 *db, const char *wal)
{
	static const char zero[32];
	int fd;

	sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	fd = open(wal, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, zero, sizeof(zero), 0), (ssize_t)sizeof(zero));
	close(fd);
}

static void insert(sqlite3 *db, int n)
{
	char sql[96];

	for (int i = 0; i < n; i++) {
		snprintf(sql, sizeof(sql), "INSERT INTO t VALUES (%d)", i);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		assert_int_equal(spool_wal_flush(db), SQLITE_OK);
	}
}

static int rows(sqlite3 *db)
{
	sqlite3_stmt *st;
	int n;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM t", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* A new folder dir (a mkdtemp template), path a database in it, wal its WAL's name. */
static void temp_db(char *dir, char path[96], char wal[112])
{
	assert_non_null(mkdtemp(dir));
	snprintf(path, 96, "%s/s.db", dir);
	snprintf(wal, 112, "%s-wal", path);
}

static void remove_dir(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * A WAL whose header the spool zeroed (spool.c, wal_forget) is read as empty, and the first
 * header SQLite writes over it is not synced (it would write out every page the WAL kept); a
 * new WAL and a WAL restarted after a checkpoint are synced as SQLite does.
 */
static void test_forgotten_wal_header_not_synced(void **state)
{
	char dir[] = "/tmp/lanner-spool-wal-XXXXXX", path[96], wal[112];
	sqlite3 *db;

	temp_db(dir, path, wal);

	wal_syncs = 0;
	db = open_spool_db(path);
	insert(db, 50);
	assert_true(wal_syncs >= 1); /* a new WAL's header */
	forget_wal(db, wal);

	wal_syncs = 0;
	db = open_spool_db(path);
	assert_int_equal(rows(db), 0); /* the forgotten WAL's rows (and table) are gone */
	insert(db, 20);
	assert_int_equal(rows(db), 20);
	assert_int_equal(wal_syncs, 0);

	/* a checkpoint syncs the WAL; the WAL restarted after it has its header synced again */
	assert_int_equal(sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL),
			 SQLITE_OK);
	assert_true(wal_syncs >= 1);
	wal_syncs = 0;
	insert(db, 1);
	assert_true(wal_syncs >= 1);
	assert_int_equal(rows(db), 21);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);

	remove_dir(dir);
}

/*
 * synchronous FULL: over a forgotten WAL the header's sync is skipped, never a commit's: the
 * first commit syncs the WAL once (twice without the skip), every commit after it once.
 */
static void test_forgotten_wal_full_sync_commits_synced(void **state)
{
	char dir[] = "/tmp/lanner-spool-wal-XXXXXX", path[96], wal[112];
	sqlite3 *db;

	temp_db(dir, path, wal);
	db = open_spool_db_sync(path, "FULL");
	insert(db, 10);
	forget_wal(db, wal);

	wal_syncs = 0;
	db = open_spool_db_sync(path, "FULL"); /* its CREATE TABLE: the first commit */
	assert_int_equal(wal_syncs, 1);
	insert(db, 3);
	assert_int_equal(wal_syncs, 4);
	assert_int_equal(rows(db), 3);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	remove_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forgotten_wal_header_not_synced),
		cmocka_unit_test(test_forgotten_wal_full_sync_commits_synced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
