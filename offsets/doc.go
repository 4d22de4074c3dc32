// Package offsets holds the position value types of walship and, later, the
// checkpoint store.
//
// Contract:
//   - LSN is a PostgreSQL WAL position ("16/B374D848"), totally ordered.
//   - GTIDSet is a MySQL (uuid:interval) or MariaDB (domain-server-seq) GTID
//     set; sets are partially ordered by containment.
//   - BinlogPos is a binlog file:pos, ordered by the file's numeric suffix
//     and then the offset, within one server's binlog.
//   - Position is the engine-neutral source position of a transaction. Its
//     text form (MarshalText) is stable: it is stored in follower positions
//     tables and checkpoints, so a change to it needs a migration.
//   - Seq is the per-source transaction sequence that orders and
//     deduplicates the log: strictly increasing with commit order, derived
//     from the source position so a re-sent transaction has the same Seq.
//     Its Pos is a commit LSN (PostgreSQL), a binlog file index and offset
//     (BinlogSeqPos: MySQL, and MariaDB sources that keep it), or a MariaDB
//     GTID sequence number with the high bit set (GTIDSeqPos), so every
//     GTID-derived Seq sorts above every binlog-derived one. Outside the
//     source that made it, a Seq is only compared, never decoded.
//   - Store keeps each source's Checkpoint (SQLite, <state_dir>/
//     checkpoints.db) and small notes beside it. Columns added later
//     (covers_slot, seq_scheme, clean) are added in place on open, with
//     defaults that mean what checkpoints saved before them meant. The
//     sequence scheme a source used outlives Delete (SeqSchemeUsed).
//
// The package is a leaf: it imports no other walship package. Values are
// immutable and safe to share between goroutines.
package offsets
