// Package postgres is the PostgreSQL source: logical decoding with
// pgoutput (jackc/pglogrepl) into walship's change model, published to
// the log (sources.Log).
//
// Contract:
//   - Start: the slot and publication are created when missing
//     (slot.go); a first start snapshots the captured tables at the slot's
//     consistent point (snapshot.go) and streams from there, so the
//     snapshot and the stream meet with nothing lost or repeated.
//   - Order: transactions are published in commit order, each whole (big
//     ones streamed by the server are buffered, spilled to disk past
//     SpillBytes), with Seq from the commit LSN and DependsOn from the
//     writeset tracker (primary, unique and foreign keys).
//   - Durability: the slot is confirmed, and the checkpoint saved, only up
//     to what the log holds durably (acknowledge): the newest durable END,
//     or a durable heartbeat. A restart resumes from the checkpoint, and
//     transactions the log already holds are not published again.
//   - Shapes: each Relation message rebuilds a table's shape (catalog.go,
//     types.go); column defaults are read from the catalog with it. A
//     table dropped and created again under its name, and a table renamed,
//     are recognised by oid (recreate.go): the first change of the new
//     table follows a truncate of it, a renamed table's shape names its old
//     name. The oids as of the checkpoint are a note beside it, so this
//     holds across a restart between the DDL and the table's next row.
//   - Rewrites: an event trigger the source installs (superuser) notes
//     each table rewrite in walship.rewrites in the source database; the
//     newest one by an expression (ALTER … TYPE … USING) before the
//     decoded transaction becomes the shape's ordering.Rewrite
//     (rewrites.go), across restarts too. Without the privilege the source
//     warns and walship check prints the statements to run.
//   - Partitions: partitioned tables are published by their root; the
//     accepted partitions are a note beside the checkpoint, and a
//     partition detached or dropped with rows stops the source
//     (ErrPartitionDetached), since no delete of its rows is streamed.
//   - Leader: the server's system identifier and timeline are a note
//     beside the checkpoint (leader.go); another cluster (ErrOtherLeader)
//     or an older timeline (ErrOldTimeline, an old primary come back) is
//     refused, a newer one (a promotion) followed. On PostgreSQL 17+ the
//     slot is a failover slot (failover.go, failover_slot), so a standby
//     with sync_replication_slots keeps it and a multi-host DSN
//     (target_session_attrs=primary) goes on from the promoted standby.
//   - Incremental snapshots (backfill.go, sources/backfill.go): a table is
//     read again chunk by chunk between watermarks the source writes into
//     the WAL, while the stream goes on; requested over the API, by a row
//     in the signal table (signal.go), or by a table added to tables:;
//     progress is a note kept once durable in the log.
//   - Multi-leader: a transaction whose pgoutput Origin message names a
//     replication origin Config.IgnoreOrigin matches (a sink of this
//     database the source ignores, package origins) is left out, streamed
//     ones too, and counted (Status.IgnoredTxns); its position advances.
//   - Errors name the source, the table and the position; row values are
//     never logged.
package postgres
