// Package sources defines what every walship source guarantees; the
// engines live in sources/postgres (WAL via pgoutput) and sources/mysql
// (MySQL and MariaDB binlog).
//
// The contract (DESIGN §3), which every source implementation must keep:
//
//  1. A source emits committed transactions only, in commit order, as
//     ordering.Txn values. Each carries its source position
//     (offsets.Position: PostgreSQL commit and end LSN; MySQL/MariaDB GTID,
//     executed GTID set and binlog file:pos), commit time, transaction id and
//     every row change with its before and after images where the source has
//     them. An unchanged TOASTed value is ordering.Unchanged, never NULL.
//     Nothing of an uncommitted or aborted transaction is ever emitted.
//  2. A source acknowledges upstream (the PostgreSQL standby status flush
//     LSN; the saved MySQL GTID set) only positions whose every message the
//     log has durably acknowledged (Kafka acks=all). On any write failure
//     the stream restarts from the last durable position: duplicates in the
//     log are allowed, gaps and reordering are not.
//  3. A source starts with a snapshot consistent with its stream start:
//     PostgreSQL reads inside the snapshot exported at slot creation,
//     MySQL/MariaDB inside a consistent snapshot taken at a recorded GTID
//     set. Snapshot rows are op=r changes in synthetic transactions whose
//     offsets.Seq sorts before the first streamed transaction. Several
//     connections may read a snapshot at once, all in the one consistent
//     snapshot (ReadSnapshot); its chunks are published in one order, as
//     one connection reading the tables one after another would give them.
//  4. Schema changes are data: a source decodes each event with the table
//     shape in force when it was written (PostgreSQL Relation messages,
//     MySQL DDL and TABLE_MAP full metadata), never with today's catalog.
//  5. What a source cannot continue from (a dropped slot, purged binlogs)
//     stops it with a permanent error that names the recovery path
//     (walship replay --resnapshot); it never skips ahead.
//
// Wire formats (pgoutput messages, binlog row events) never leave the
// engine packages.
package sources
