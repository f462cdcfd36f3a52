/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_GATEWAY_SPOOL_WAL_H
#define LANNER_GATEWAY_SPOOL_WAL_H

#include <sqlite3.h>

/*
 * The spool's SQLite VFS: the system's, except that writes to a WAL file are gathered in
 * memory and written at once when the spool says a commit is done (spool_wal_flush), instead
 * of two pwrite calls per frame (its 24-byte header, then its page). Anything else that touches
 * the WAL file (a read, its size, a sync, a truncate, a write elsewhere, close) writes what is
 * gathered first, so SQLite sees the file it wrote. Durability is the caller's: a commit counts
 * once spool_wal_flush succeeded (then it is in the page cache, as after SQLite's own writes).
 * One sync is skipped: that of the first header SQLite writes over a WAL the spool forgot (its
 * header zeroed: spool.c, wal_forget), which would write out every page the WAL kept.
 */

/* Register the VFS (once) and return its name for sqlite3_open_v2, or NULL (logged). */
const char *spool_wal_vfs(void);

/* Write what db's WAL file gathered. SQLITE_OK, or the write's error (logged). */
int spool_wal_flush(sqlite3 *db);

#endif
