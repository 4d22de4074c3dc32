// Package postgres is the PostgreSQL follower dialect of the SQL sink: it
// implements sqlsink.Dialect, everything engine-specific the generic
// applier needs.
//
// The contract:
//
//   - Open connects through pgx's database/sql driver (jackc/pgx/v5/stdlib)
//     with TimeZone=UTC, DateStyle=ISO, IntervalStyle=iso_8601 and
//     application_name "walship sink" (unless the DSN names one) in every
//     session's startup message, and pgx's simple protocol: every parameter
//     is sent as a quoted text literal which the server casts to the target
//     column's type. Param therefore returns PostgreSQL input text
//     (params.go), and values keep their exact text form (numeric scale,
//     BC dates, infinity, intervals, arrays, network types). Statements must
//     be run with Exec/Query and arguments, not prepared.
//   - Lock takes pg_try_advisory_lock(hashtext('walship_sink:' || name)) on
//     a session of its own (application_name "walship sink <name>"), held
//     until Release, with idle_session_timeout off; a held lock is
//     sqlsink.ErrLocked naming the holder's pid, application_name and
//     client address. The lock lives in the follower database: it dies
//     with the session. Lease.Check asks pg_locks on that session;
//     Lease.Fence asks inside the committing transaction (a shared try-lock
//     fails, and the session's pid with its start time is still there).
//   - WidenType alters a narrower column to a type holding both (ALTER
//     COLUMN … TYPE): never character(n), whose cast drops spaces.
//   - Target keeps schema and table; CreateTable creates the schema first.
//     Identifiers are double-quoted ("" doubles a quote), placeholders are
//     $1, $2, …, NULL-safe equality is IS NOT DISTINCT FROM.
//   - ColumnType keeps a PostgreSQL source's built-in types verbatim and
//     maps the rest by kind; the table is at the top of types.go.
//     TypeCompatible accepts the same type or a strictly wider one.
//   - BulkLoad (copy.go) writes large batches with COPY … FROM STDIN
//     encoded straight from the values: binary format when every
//     follower column's type and value has an exact binary form
//     (binary.go lists them), else text format whose values are Param's
//     text. Snapshot rows (upserts) are copied straight into the table
//     inside a savepoint, and only when a key is there already (SQLSTATE
//     23505) through a staging table and INSERT … ON CONFLICT.
//   - Upsert is INSERT … ON CONFLICT (key) DO UPDATE SET c = EXCLUDED.c;
//     Truncate is TRUNCATE (transactional); DDL uses IF [NOT] EXISTS so a
//     repeated statement is harmless. The meta tables live in the first
//     schema of the follower's search_path.
//   - Retryable is true for SQLSTATE class 08, 57P01-57P03, 40001, 40P01,
//     55P03, 53300 and connection failures; Code is the SQLSTATE. Error
//     messages name columns and reasons, never values.
package postgres
