// Package mysql is walship's MySQL and MariaDB binlog source. It keeps the
// contract of package sources:
//
//   - It streams row events with go-mysql's BinlogSyncer from a GTID set,
//     decodes them with the column names, types, signedness, charsets and
//     enum/set labels of the TABLE_MAP event's full row metadata
//     (binlog_row_metadata=FULL) — never with today's information_schema —
//     and emits each committed transaction (GTID to XID, or to COMMIT for
//     non-transactional engines) in binlog order.
//   - A transaction is whole or absent, never split. Inside a binlog
//     transaction (a MariaDB GTID event without FL_STANDALONE, or BEGIN or
//     XA START) the QUERY_EVENTs are parsed (keywords in any case,
//     comments, whitespace and backquoted names) and belong to it:
//     SAVEPOINT, RELEASE SAVEPOINT and ROLLBACK TO [SAVEPOINT] never end
//     it. ROLLBACK TO drops the changes made since the savepoint: MariaDB
//     writes it (after the rolled-back rows) only when the transaction
//     also changed a non-transactional table; with InnoDB alone the
//     rolled-back rows are not in the binlog at all. A group that ends in
//     ROLLBACK is dropped. CREATE TABLE ... SELECT, which MariaDB writes
//     as a transaction holding the CREATE TABLE and the copied rows, is one
//     transaction. Any other statement inside a transaction (a session
//     with binlog_format=STATEMENT or MIXED writes DML as statements), or
//     a ROLLBACK TO or RELEASE of a savepoint the binlog never set, stops
//     the source permanently with ErrStatement, naming the GTID and the
//     binlog file:pos; a restart stops there again.
//   - XA: a transaction committed in one phase (XA COMMIT ... ONE PHASE,
//     which MariaDB binlogs as an ordinary transaction) is replicated. A
//     two-phase one is binlogged as two event groups, XA START ... XA
//     PREPARE and, any time later, XA COMMIT or XA ROLLBACK; walship does
//     not replicate those. One that changed a captured table stops the
//     source permanently at its XA PREPARE with ErrXA, naming the GTID,
//     the binlog file:pos and the tables; nothing of it is published. One
//     that changed no captured table only moves the position. A start
//     position (the snapshot's, or the first stream's without one) is not
//     recorded while XA transactions are prepared (XA RECOVER): prepared
//     before it and committed after it, one would be in neither the
//     snapshot nor the stream. The source retries (ErrXAPending) until
//     they end.
//   - Positions are GTID sets (MariaDB domain-server-seq, MySQL uuid:n)
//     with the binlog file:pos kept beside them.
//   - The per-source sequence (seqscheme.go) is, on MariaDB with one GTID
//     domain, the transaction's GTID sequence number with the high bit set
//     (offsets.GTIDSeqPos): it survives a change of server. Snapshot chunks
//     take the sequence number of the consistent point. MySQL sources, and
//     MariaDB sources whose binlog holds several domains when the sequence
//     is chosen, use the binlog file index and end offset
//     (offsets.BinlogSeqPos), which orders one server's binlog only. The
//     choice is made once per run before anything is published and
//     recorded with the checkpoint (SeqScheme). A source moves from the
//     binlog sequence to the GTID one only at a start that can send
//     nothing again under the old one: no checkpoint, a new or redone
//     snapshot, or a checkpoint marked Clean, which a graceful stop saves
//     once everything published is durable and checkpointed and the
//     checkpoint is past the server's position at the run's start. It
//     never moves back, also not after its checkpoint was deleted
//     (offsets.Store.SeqSchemeUsed). Under the GTID sequence, a captured
//     change of another domain (ErrGTIDDomain) or a sequence number that
//     goes backwards (ErrGTIDOrder) stops the source permanently; under
//     the binlog sequence, so does a transaction to publish at or below
//     the checkpoint (ErrSeqBackwards: binlog files numbered anew), which
//     was dropped as durable before.
//   - The durable GTID set is saved in the checkpoint store only once Kafka
//     acknowledged everything up to it; a restart streams from it. Binlogs
//     purged past it stop the source with an error naming the rebuild.
//   - The initial snapshot takes a brief global read lock, records the GTID
//     set and binlog position, starts a consistent-snapshot transaction,
//     unlocks, and reads the tables; the stream starts at the recorded set.
//     Its start is checkpointed (SnapshotDone false) before the first
//     chunk; a start that finds that mark redoes the snapshot, beginning
//     with a chunk that truncates every captured table (children first) and
//     numbering its chunks after the unfinished attempt's (firstChunk).
//   - Unique and foreign keys, which the binlog does not carry, are read
//     from information_schema for dependency tracking, and re-read after
//     DDL touching the table. So are the column defaults (defaults.go),
//     carried with each column (ordering.Default) so a sink adding a
//     column gives the follower's existing rows what the source's read.
//   - TRUNCATE of a captured table becomes a truncate change in its own
//     transaction, and so does DROP TABLE (ddl.go), with the shape marked
//     Recreated: a table created again under the name starts empty on the
//     followers too. A RENAME TABLE makes the table's next shape carry its
//     old name (RenamedFrom); pending renames are a note beside the
//     checkpoint (renames.go), so a restart between the RENAME and the
//     table's first row still carries it.
//   - So are the foreign-key actions InnoDB performs without logging the
//     child rows (ON DELETE/UPDATE CASCADE, SET NULL): each shape carries
//     those of the captured tables referencing it, transitively
//     (ordering.Table.Cascades), for sinks to replay; none when MySQL's SQL
//     layer performs foreign keys (9.6+, innodb_native_foreign_keys=OFF)
//     and logs the child rows itself.
//   - A system-versioned table (MariaDB WITH SYSTEM VERSIONING) is
//     published as its current rows, what SELECT * returns: changes carry
//     neither the period columns (implicit row_start and row_end, or
//     explicit GENERATED ALWAYS AS ROW START / ROW END columns, named by
//     information_schema with the keys) nor ROW END in the primary and
//     unique keys, in the snapshot and in the stream alike. A row image is
//     current when its ROW END is the maximum; the binlog's row changes
//     translate by that (versioning.go): an insert of a current row is an
//     insert, of a history row (the old row an UPDATE keeps) nothing; an
//     update of a current row to a current row is an update, to a history
//     row (how a DELETE is logged) a delete; a delete of a current row is
//     a delete, of a history row (DELETE HISTORY) nothing. A
//     transaction-precise table (BIGINT UNSIGNED periods), whose DML
//     MariaDB binlogs as statements, stops the snapshot with
//     ErrTrxPrecise, and the stream, at its first change, with
//     ErrStatement.
//   - depends_on is the writeset bound (package ordering's Tracker); where
//     the server writes MySQL's logical clock (last_committed and
//     sequence_number in the GTID event, MySQL 5.7+), the Seq of the
//     transaction it names is an extra lower bound (logicalClock). MariaDB
//     writes no such clock.
//   - Before streaming from a checkpoint, a MariaDB source checks that the
//     server's gtid_binlog_state holds every GTID walship shipped (the
//     checkpoint's and the log's newest END: kafka.Publisher.LastShipped);
//     a server that lacks one (a replica promoted without a write that
//     asynchronous replication lost) stops it with ErrLeaderBehind
//     (leader.go), naming the followers ahead of it (Config.FollowersAhead,
//     HeldGTIDs).
//   - Incremental snapshots (backfill.go): chunks read between watermarks
//     upserted into the signal table (Config.SignalTable), whose rows are
//     never published; its other rows are signals (sources/signal.go).
//     Requests over the API and by signal; progress is a note kept once
//     durable in the log.
//   - Multi-leader: rows events whose server_id is one of
//     Config.IgnoreServerIDs (a sink of this database the source ignores,
//     package origins) are left out, and their transaction counted
//     (Status.IgnoredTxns) when it changed a captured table.
package mysql
