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
//
// The package is a leaf: it imports no other walship package. Values are
// immutable and safe to share between goroutines.
package offsets
