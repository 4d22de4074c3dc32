// Package sinks defines what every walship sink guarantees and holds the
// parts they share (consuming the log, the dependency-aware scheduler,
// batching); the engines live in sinks/postgres, sinks/mysql and
// sinks/sqlite.
//
// The contract (DESIGN §3), which every sink implementation must keep:
//
//  5. A sink hands a transaction to the scheduler only when it holds all of
//     it: the transaction topic's END marker counts the transaction's events
//     per topic-partition. Huge transactions are streamed into one follower
//     transaction instead of being held in memory.
//  6. A sink applies a whole transaction, or a batch of whole transactions,
//     in one follower transaction, and that same follower transaction
//     records the applied position in the follower's positions table. On
//     start the sink reads that position and skips every transaction at or
//     below it, so a restart neither loses nor repeats anything. Kafka
//     consumer offsets are committed only after the follower commit, and
//     are a hint, not the truth.
//  7. A sink never starts a transaction before every transaction it depends
//     on (depends_on, or its predecessor when it has no key) has committed
//     on the follower. Independent transactions run in parallel workers,
//     and with CommitSource (the default) commit in each source's log
//     order, so the follower only ever shows a prefix of each source's
//     commits (order.go); CommitDependencies lets them commit as they
//     finish.
//  9. Before the first row that needs a new table shape, the sink evolves
//     the follower table; what it cannot apply stops that table with a
//     clear error and never corrupts it.
//
// A sink that meets a gap in the log (retention deleted offsets it needs)
// stops with a permanent error that tells the operator to rebuild with
// walship replay. A source the follower recorded nothing of is read from
// the beginning of its log (spine offset 0), which must all be there: a
// sink added after retention trimmed the log stops with a
// kafka.TrimmedError instead of starting at the first offset left, and is
// built from a snapshot (walship replay --from snapshot, or --resnapshot).
package sinks
