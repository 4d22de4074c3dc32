// Package sqlsink applies walship's change model to a SQL follower through
// an engine Dialect (sinks/postgres, sinks/mysql, sinks/sqlite). Applier
// implements sinks.Follower.
//
// Contract:
//   - Folding: the row changes of a follower transaction are written as
//     their net effect per key (fold.go): inserts per table parents first,
//     updates merged per row and, where the dialect can (MultiUpdater),
//     many rows in one statement; anything that cannot move writes what is
//     held and is applied in place. A follower that refuses the folded
//     order gets the changes one by one in log order, after a rollback to a
//     savepoint: the final state never depends on folding.
//   - Rows: inserts and snapshot rows become multi-row INSERTs (snapshot
//     rows as upserts), or, for a batch of at least 1000 rows on a
//     BulkLoader dialect, one bulk load per table of up to 10 000 rows
//     or 8 MiB, handed the decoded values (BulkRows: no parameter per
//     value; an upsert may first try a plain load inside a savepoint,
//     BulkRows.Direct, at most 24 times a transaction; a load may decline,
//     ErrBulkDeclined, and the rows then go through statements). A value the
//     follower cannot hold is found when the rows are written, at the
//     latest in Record, and fails the transaction as before. Updates are keyed by the before image's primary key
//     (so a key change works) and leave unchanged values out of SET,
//     deletes are keyed likewise, truncates empty the table (consecutive
//     truncates in one statement where the engine needs it for foreign
//     keys: TableTruncater). A table without
//     a primary key matches one row on the full before image; without a
//     before image that is an error naming the table. An update or delete
//     that finds no row is an error (the follower diverged): never skipped.
//   - Conflicts (Config.Conflicts, conflict.go): a table whose policy is
//     not PolicyError, or with counters, has each insert, update and
//     delete checked against the follower's row (its statement guarded by
//     the full before image; a locking SELECT when it changed nothing) and
//     settled by keep_local,
//     keep_remote or record; counter columns take new minus old. Conflicts
//     are counted and logged once their transaction commits; recorded
//     ones are written to MetaConflicts in it.
//   - Cascades: after an update or delete of a table whose shape carries
//     ordering.Cascade actions (a MariaDB source's unlogged foreign-key
//     actions), the same follower transaction deletes or updates the child
//     rows referencing the old key, recursively (cascade.go). Tables
//     Config.CascadeInto excludes, and missing follower tables, are left
//     alone; an action that cannot be replayed wraps ErrCascade.
//   - Schema: EnsureSchema creates a missing table from the source's columns
//     and key (types per Dialect.ColumnType), adds columns the source added,
//     and for columns the source dropped either drops them (DropColumns) or
//     makes them nullable. Every column of a shape first seen by the
//     process (so on every start, and for tables walship did not create)
//     is compared with the follower column's real type, read from the
//     follower's catalog (Dialect.Columns). A narrower follower column
//     (precision, scale, length, integer width, fractional seconds) is
//     widened with an ALTER where the engine keeps every stored value
//     (Dialect.WidenType); otherwise the sink stops with a
//     *ColumnTypeError (ErrIncompatible) naming the table, the column and
//     both types, and the scheduler adds the position. A value is never
//     rounded or truncated into a narrower column. A column the source
//     added with a constant default (ordering.Default) is added with the
//     same default (Dialect.Literal), so the follower's existing rows read
//     what the source's do. What the log cannot carry stops the sink with
//     an error wrapping ErrNotInLog, naming the table and the way out,
//     unless the follower table is empty: a column added with a default
//     whose values it lacks (Default.Expr, *DefaultError), columns added
//     while others vanish (a rename, *RenameError), a type change that
//     rounds stored values (*TypeChangeError), a rewrite of the rows by
//     an expression that the recorded shape does not carry
//     (ordering.Rewrite, *RewriteError). A shape without columns (a
//     truncate of a dropped table whose shape the source no longer knew)
//     empties the follower table if it exists and never creates or
//     changes it. A shape with RenamedFrom renames the old follower table
//     when the new one does not exist (Dialect.RenameTable). The shape each
//     follower table was last brought to is recorded in the follower
//     (MetaShapes, shapes.go), with the DDL, and is what a restarted sink
//     compares the next shape with; ChangedShapes lists the tables recorded
//     since a time (walship verify --since-ddl), ForgetShapes forgets them
//     (walship accept-ddl).
//   - Positions: applied rows are written by Tx.Record inside the data
//     transaction; Fold moves the watermark in the positions table. Both
//     tables live in the follower, so a restart reads exactly what was
//     committed, in a namespace of walship's own (MetaNames: the schema
//     walship on PostgreSQL, the prefix _walship_ elsewhere) that no
//     captured table maps onto (IsMeta refuses it). Prepare moves a sink's
//     rows out of the walship_positions and walship_applied tables of
//     earlier versions, in one transaction, and drops them once empty.
//   - Lock: Prepare takes the sink's lock (Dialect.Lock) and checks its
//     session every Config.LeaseCheck. Tx.Record, Fold and Forget prove
//     inside their transaction, last before the commit, that the lock is
//     still held (Lease.Fence); a lost lock fails them with
//     sinks.ErrLockLost (retryable: the sink stops and its restart takes
//     the lock again) and Lost tells the sink at once.
//   - Naming: Names maps a source table to its follower table; two source
//     tables mapped to one follower table is an error.
//   - Indexes: a follower table the Applier created gets the source's
//     secondary indexes (Config.Indexes), built by BuildIndexes at a point
//     the sink picks (no transaction open, the snapshot applied) and
//     dropped before the first change of a shape without them; only what
//     MetaIndexes records is ever dropped (indexes.go).
package sqlsink
