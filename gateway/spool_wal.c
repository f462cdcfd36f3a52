// SPDX-License-Identifier: Apache-2.0
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/log.h"
#include "gateway/spool_wal.h"

/* Gathered bytes past which a write goes out before the next one is gathered. */
#define WAL_GATHER_MAX (1024 * 1024)

struct wal_file {
	sqlite3_file base; /* base.pMethods: &wal_methods */
	sqlite3_file *real; /* the system VFS's file, right after this struct */
	char *buf; /* bytes for [off, off + len) of the file, not written yet */
	size_t len, cap;
	sqlite3_int64 off;
	/*
	 * The file had a WAL header no SQLite would take (the spool zeroes that of a WAL it
	 * forgets): until SQLite's first header is written, and then its sync skipped (below).
	 */
	bool forgotten;
	bool header_written; /* forgotten, and SQLite's header written since: its sync is next */
};

static sqlite3_vfs *root; /* the system's default VFS */
static sqlite3_vfs wal_vfs;
static const sqlite3_io_methods wal_methods;

/*
 * Bytes per write of the system VFS: its unix xWrite masks a length to 17 bits (a write of
 * 128 KiB or more would be cut and reported as a full disk).
 */
#define WAL_WRITE_MAX (64 * 1024)

static int gather_flush(struct wal_file *w)
{
	int rc = SQLITE_OK;
	size_t done = 0;

	while (done < w->len && rc == SQLITE_OK) {
		size_t n = w->len - done < WAL_WRITE_MAX ? w->len - done : WAL_WRITE_MAX;

		rc = w->real->pMethods->xWrite(w->real, w->buf + done, (int)n,
					       w->off + (sqlite3_int64)done);
		if (rc == SQLITE_OK)
			done += n;
	}
	if (done && done < w->len) /* what is left, at its offset */
		memmove(w->buf, w->buf + done, w->len - done);
	w->off += (sqlite3_int64)done;
	w->len -= done;
	if (rc != SQLITE_OK) {
		/*
		 * Kept: SQLite may count these frames as committed, so no read may reach the
		 * file before they are in it; every read, sync or later write tries again, and
		 * fails until then (and a full buffer fails SQLite's next write itself).
		 */
		log_error("spool: writing %zu bytes of the WAL at %lld: SQLite error %d", w->len,
			  (long long)w->off, rc);
		return rc;
	}
	return rc;
}

static int wal_close(sqlite3_file *f)
{
	struct wal_file *w = (struct wal_file *)f;
	int rc = gather_flush(w), rc2;

	/* closing loses what could not be written: as a crash would, the WAL ends earlier */
	rc2 = w->real->pMethods->xClose(w->real);

	free(w->buf);
	w->buf = NULL;
	w->cap = 0;
	return rc != SQLITE_OK ? rc : rc2;
}

static int wal_read(sqlite3_file *f, void *p, int amt, sqlite3_int64 off)
{
	struct wal_file *w = (struct wal_file *)f;
	int rc = gather_flush(w);

	return rc != SQLITE_OK ? rc : w->real->pMethods->xRead(w->real, p, amt, off);
}

static int wal_write(sqlite3_file *f, const void *p, int amt, sqlite3_int64 off)
{
	struct wal_file *w = (struct wal_file *)f;
	size_t n = (size_t)amt;
	int rc;

	/* the header alone (32 bytes at 0); anything written after it ends the skip */
	if (w->forgotten && off == 0 && amt == 32)
		w->header_written = true;
	else if (w->forgotten && off >= 32)
		w->forgotten = w->header_written = false;

	/* only appends to what is gathered: anything else keeps the order of the writes */
	if (w->len && (off != w->off + (sqlite3_int64)w->len || w->len + n > WAL_GATHER_MAX)) {
		rc = gather_flush(w);
		if (rc != SQLITE_OK)
			return rc;
	}
	if (n > WAL_WRITE_MAX) /* SQLite writes pages and headers: never here */
		return w->real->pMethods->xWrite(w->real, p, amt, off);
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 64 * 1024;
		char *buf;

		while (cap < w->len + n)
			cap *= 2;
		buf = realloc(w->buf, cap);
		if (!buf) {
			rc = gather_flush(w);
			return rc != SQLITE_OK ? rc :
						 w->real->pMethods->xWrite(w->real, p, amt, off);
		}
		w->buf = buf;
		w->cap = cap;
	}
	if (!w->len)
		w->off = off;
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	return SQLITE_OK;
}

static int wal_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct wal_file *w = (struct wal_file *)f;
	int rc = gather_flush(w);

	return rc != SQLITE_OK ? rc : w->real->pMethods->xTruncate(w->real, size);
}

/*
 * SQLite syncs a new WAL header before any frame follows it, so that after a WAL restart that
 * followed a checkpoint the old frames cannot be replayed over newer pages of the database
 * (its ticket ff5be73dee). A forgotten WAL (spool.c, wal_forget) follows no checkpoint: its
 * database is as it was made, and any later checkpoint syncs the WAL before it writes the
 * database. That first sync is skipped: it would write out every dirty page the WAL kept.
 */
static int wal_sync(sqlite3_file *f, int flags)
{
	struct wal_file *w = (struct wal_file *)f;
	int rc = gather_flush(w);

	if (rc == SQLITE_OK && w->header_written) {
		w->forgotten = w->header_written = false;
		return SQLITE_OK;
	}
	return rc != SQLITE_OK ? rc : w->real->pMethods->xSync(w->real, flags);
}

static int wal_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	struct wal_file *w = (struct wal_file *)f;
	int rc = gather_flush(w);

	return rc != SQLITE_OK ? rc : w->real->pMethods->xFileSize(w->real, size);
}

static int wal_lock(sqlite3_file *f, int level)
{
	struct wal_file *w = (struct wal_file *)f;

	return w->real->pMethods->xLock(w->real, level);
}

static int wal_unlock(sqlite3_file *f, int level)
{
	struct wal_file *w = (struct wal_file *)f;

	return w->real->pMethods->xUnlock(w->real, level);
}

static int wal_check_reserved(sqlite3_file *f, int *out)
{
	struct wal_file *w = (struct wal_file *)f;

	return w->real->pMethods->xCheckReservedLock(w->real, out);
}

static int wal_file_control(sqlite3_file *f, int op, void *arg)
{
	struct wal_file *w = (struct wal_file *)f;

	return w->real->pMethods->xFileControl(w->real, op, arg);
}

static int wal_sector_size(sqlite3_file *f)
{
	struct wal_file *w = (struct wal_file *)f;

	return w->real->pMethods->xSectorSize(w->real);
}

static int wal_device_characteristics(sqlite3_file *f)
{
	struct wal_file *w = (struct wal_file *)f;

	return w->real->pMethods->xDeviceCharacteristics(w->real);
}

/* Version 1: a WAL file is never memory-mapped nor given shared memory (the database is). */
static const sqlite3_io_methods wal_methods = {
	.iVersion = 1,
	.xClose = wal_close,
	.xRead = wal_read,
	.xWrite = wal_write,
	.xTruncate = wal_truncate,
	.xSync = wal_sync,
	.xFileSize = wal_file_size,
	.xLock = wal_lock,
	.xUnlock = wal_unlock,
	.xCheckReservedLock = wal_check_reserved,
	.xFileControl = wal_file_control,
	.xSectorSize = wal_sector_size,
	.xDeviceCharacteristics = wal_device_characteristics,
};

/* A file that has a WAL header's room but not its magic number (0x377f0682 or 0x377f0683). */
static bool was_forgotten(sqlite3_file *real)
{
	sqlite3_int64 size = 0;
	unsigned char magic[4];
	uint32_t m;

	if (real->pMethods->xFileSize(real, &size) != SQLITE_OK || size < 32 ||
	    real->pMethods->xRead(real, magic, sizeof(magic), 0) != SQLITE_OK)
		return false;
	m = (uint32_t)magic[0] << 24 | (uint32_t)magic[1] << 16 | (uint32_t)magic[2] << 8 |
	    magic[3];
	return (m & 0xFFFFFFFEU) != 0x377f0682U;
}

static int vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
	struct wal_file *w = (struct wal_file *)f;
	int rc;

	/* the database and other files: the system's file, in place */
	if (!(flags & SQLITE_OPEN_WAL))
		return root->xOpen(root, name, f, flags, out);
	memset(w, 0, sizeof(*w));
	w->real = (sqlite3_file *)(w + 1);
	rc = root->xOpen(root, name, w->real, flags, out);
	/* a failed xOpen leaves pMethods NULL: SQLite then does not close it */
	if (rc == SQLITE_OK) {
		w->base.pMethods = &wal_methods;
		w->forgotten = was_forgotten(w->real);
	} else if (w->real->pMethods) {
		w->real->pMethods->xClose(w->real);
	}
	return rc;
}

/* The rest: the system VFS's, called with its own object. */
static int vfs_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	return root->xDelete(root, name, sync_dir);
}

static int vfs_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	return root->xAccess(root, name, flags, out);
}

static int vfs_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	return root->xFullPathname(root, name, n, out);
}

static void *vfs_dlopen(sqlite3_vfs *vfs, const char *name)
{
	return root->xDlOpen(root, name);
}

static void vfs_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
	root->xDlError(root, n, msg);
}

static void (*vfs_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	return root->xDlSym(root, h, sym);
}

static void vfs_dlclose(sqlite3_vfs *vfs, void *h)
{
	root->xDlClose(root, h);
}

static int vfs_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	return root->xRandomness(root, n, out);
}

static int vfs_sleep(sqlite3_vfs *vfs, int us)
{
	return root->xSleep(root, us);
}

static int vfs_current_time(sqlite3_vfs *vfs, double *out)
{
	return root->xCurrentTime(root, out);
}

static int vfs_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	return root->xGetLastError(root, n, out);
}

static int vfs_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	return root->xCurrentTimeInt64(root, out);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int registered = SQLITE_ERROR;

static void do_register(void)
{
	root = sqlite3_vfs_find(NULL);
	if (!root || root->iVersion < 2) {
		log_error("spool: no default SQLite VFS to build on");
		return;
	}
	wal_vfs = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)sizeof(struct wal_file) + root->szOsFile,
		.mxPathname = root->mxPathname,
		.zName = "lanner-spool",
		.xOpen = vfs_open,
		.xDelete = vfs_delete,
		.xAccess = vfs_access,
		.xFullPathname = vfs_full_pathname,
		.xDlOpen = vfs_dlopen,
		.xDlError = vfs_dlerror,
		.xDlSym = vfs_dlsym,
		.xDlClose = vfs_dlclose,
		.xRandomness = vfs_randomness,
		.xSleep = vfs_sleep,
		.xCurrentTime = vfs_current_time,
		.xGetLastError = vfs_last_error,
		.xCurrentTimeInt64 = vfs_current_time64,
	};
	registered = sqlite3_vfs_register(&wal_vfs, 0);
	if (registered != SQLITE_OK)
		log_error("spool: registering its SQLite VFS: error %d", registered);
}

const char *spool_wal_vfs(void)
{
	pthread_once(&once, do_register);
	return registered == SQLITE_OK ? wal_vfs.zName : NULL;
}

int spool_wal_flush(sqlite3 *db)
{
	sqlite3_file *f = NULL;

	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f) != SQLITE_OK || !f ||
	    f->pMethods != &wal_methods)
		return SQLITE_OK; /* no WAL open (yet), or not ours: nothing gathered */
	return gather_flush((struct wal_file *)f);
}
