// Package mysql is walship's MySQL and MariaDB binlog source. It keeps the
// contract of package sources:
//
//   - It streams row events with go-mysql's BinlogSyncer from a GTID set,
//     decodes them with the column names, types, signedness, charsets and
//     enum/set labels of the TABLE_MAP event's full row metadata
//     (binlog_row_metadata=FULL) — never with today's information_schema —
//     and emits each committed transaction (GTID to XID, or to COMMIT for
//     non-transactional engines) in binlog order.
//   - Positions are GTID sets (MariaDB domain-server-seq, MySQL uuid:n)
//     with the binlog file:pos kept beside them. The per-source sequence is
//     the binlog file index and the end offset of the transaction.
//   - The durable GTID set is saved in the checkpoint store only once Kafka
//     acknowledged everything up to it; a restart streams from it. Binlogs
//     purged past it stop the source with an error naming the rebuild.
//   - The initial snapshot takes a brief global read lock, records the GTID
//     set and binlog position, starts a consistent-snapshot transaction,
//     unlocks, and reads the tables; the stream starts at the recorded set.
//   - Unique and foreign keys, which the binlog does not carry, are read
//     from information_schema for dependency tracking, and re-read after
//     DDL touching the table.
//   - depends_on is the writeset bound (package ordering's Tracker); where
//     the server writes MySQL's logical clock (last_committed and
//     sequence_number in the GTID event, MySQL 5.7+), the Seq of the
//     transaction it names is an extra lower bound (logicalClock). MariaDB
//     writes no such clock.
package mysql
