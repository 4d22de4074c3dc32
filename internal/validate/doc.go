// Package validate holds the validators of ../shared/TESTING.md, for any
// end-to-end test (and make soak) to attach to a pipeline it runs:
//
//   - Workload writes a source with every transaction recorded in a
//     Ledger (ground truth: the rows it wrote, their per-key versions, and
//     the source position after its commit). Accounts move money between
//     them (the sum is constant), customers and their orders come and go
//     under a foreign key, and every row carries a version that only grows.
//   - Poller watches a follower while the workload runs, each poll in one
//     read snapshot: the balance sum (atomicity), orders without their
//     customer (dependencies), per-key versions never going back (order),
//     the sink's stored position against the ledger (a follower's stored
//     position never passes what it applied), and a consistent prefix:
//     RunSequence has one session insert ids 1, 2, 3, ... into prefix_seq,
//     so every state of the source is 1..k and so must every follower's
//     be (a gap is a state the source never had).
//   - SlotCheck polls a PostgreSQL slot's confirmed_flush_lsn against the
//     positions the log holds in Kafka: the slot is never acknowledged past
//     what Kafka acknowledged.
//   - CheckLog reads the log's data topics and checks per-key versions on
//     the log: duplicates of a re-sent run are allowed, gaps and reorders
//     are not.
//   - Converge compares a follower with the source row by row in primary
//     key order (missing, extra, different), and CheckLedger that every
//     committed transaction reached the follower (no lost acknowledgement).
//   - HotRow is a TPC-B-like hot-row workload (a few branch rows, tellers,
//     accounts and an insert-only history, with foreign keys) for the OLTP
//     apply benchmark; HotRowPoller polls its invariant on a follower (the
//     branch, teller and account balances and the history deltas have one
//     sum at every committed state) and CheckHotRow compares the history
//     row counts and sums with the source afterwards.
//
// Every check returns its violations as text (positions, tables and keys,
// never row values beyond ids and versions), for the test to report.
package validate
