// Package sinktest is the test harness the SQL follower dialects share
// (sinks/mysql, sinks/postgres, sinks/sqlite). Only tests import it.
//
// It holds what every engine's tests do the same way, so that each
// engine's test file states only what differs:
//
//   - [Follower] ([MySQLSink], [PostgresSink]), [Context], [Open] and
//     [Exec] set up a follower: a per-test database on a shared server
//     (dropped when the test ends), the dialect's pool on it, and plain
//     statements run on it.
//   - [LockOnce] is a lock taken once; [LockSessionKilled] is the lease
//     scenario: the lock's session dies with a transaction in flight. An
//     engine passes a [Lease]: how its lock session is killed and how it
//     lists the rows.
//   - [EvolveTable] creates and evolves a table ([Evolve]), checking
//     [Columns] after each step and [Count] after a truncate.
//   - [Applier], [Insert], [Col] and [CheckIncompatible] drive a
//     [sqlsink.Applier] the way the widening tests do.
//   - [FromPostgres] and [FromMySQL] are the round-trip cells: a column
//     and value as each source sends them, and the text each follower
//     engine stores ([CellsFor] picks an engine's). [CreateCells] makes
//     the table of the cells, [CellTable.Row] and [CellTable.Insert]
//     write them, and [CellTable.Check] reads them back. [RoundTrips]
//     runs a subtest per source engine; [AddedWithDefaults] adds the
//     cells as column defaults to a table holding a row.
//
// Servers are reached through internal/testenv only: the caller gets its
// DSN from testenv (which skips without WALSHIP_INTEGRATION and fails in
// CI when a server is missing) and passes it in. Failures are reported
// on the *testing.T the caller passes; nothing here logs.
//
// The package must not import a dialect package: their in-package tests
// import it.
package sinktest
