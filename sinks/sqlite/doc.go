// Package sqlite is the SQLite follower dialect of the SQL sink: it
// implements sqlsink.Dialect, everything engine-specific the generic
// applier needs.
//
// The contract:
//
//   - Open opens (creating) the file with mattn/go-sqlite3 in WAL mode with
//     synchronous=FULL (a commit survives power loss), foreign keys on, a
//     10 s busy timeout and BEGIN IMMEDIATE transactions, and limits the
//     pool to one connection: SQLite has one writer, so the sink's
//     parallel workers serialize.
//   - Lock takes an exclusive flock on <path>.walship-lock, held until
//     Release; the lock is per file, so one walship sink writes a file. A
//     held lock is sqlsink.ErrLocked with the holder's pid, which the
//     holder writes into the lock file. flock does not work across NFS.
//     Lease.Check and Fence report a lock file removed or replaced (another
//     process could lock the new one) as a lost lock.
//   - WidenType never widens: SQLite cannot alter a column's declared type,
//     so a column whose affinity would convert values stops the sink.
//   - Target is the table alone (the file is the namespace). Identifiers
//     are double-quoted ("" doubles a quote), placeholders are ?, NULL-safe
//     equality is IS.
//   - ColumnType maps kinds onto INTEGER, REAL, TEXT and BLOB, the four
//     storage classes, so SQLite never converts a value; dates and times
//     are ISO 8601 text, decimals exact text, arrays JSON text. The table
//     and the value encodings are at the top of types.go. TypeCompatible
//     compares affinities.
//   - Columns are always created nullable (SQLite cannot drop NOT NULL
//     later without rebuilding the table), so DropNotNull is a no-op.
//     Upsert is INSERT … ON CONFLICT (key) DO UPDATE SET c = excluded.c;
//     Truncate is DELETE FROM. All DDL is transactional.
//   - Retryable is true for SQLITE_BUSY and SQLITE_LOCKED only; Code is the
//     extended result code. Error messages name columns and reasons, never
//     values.
package sqlite
