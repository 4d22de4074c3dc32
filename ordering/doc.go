// Package ordering is walship's engine-neutral change model and the
// ordering layer between sources and sinks.
//
// The model: a Txn is one committed source transaction (or one snapshot
// chunk) with its per-source offsets.Seq, the Seq it depends on, its source
// offsets.Position and commit time, and its Changes. A Change is one row
// change (Op c/u/d/r/t) with before and after images aligned with the
// columns of the Table shape it was decoded with. A Value is a typed
// column value; NULL, unchanged (not sent by the source) and actual values
// are always distinct.
//
// Contracts kept here (DESIGN §3):
//
//   - Per-key order: every change to one row (table and primary key) goes
//     to one partition, in commit order.
//   - Dependencies: each transaction depends on the greatest earlier Seq
//     whose writeset (primary key, unique keys and referenced parent keys,
//     before and after images) overlaps its own; when a key cannot be
//     computed it depends on its predecessor. An edge is never dropped.
//     A change that sets off a foreign-key action the source did not log
//     (Table.Cascades, replayed by sinks) cannot be keyed either: its
//     transaction is a barrier.
//   - Transaction boundaries travel with the log (subpackage envelope:
//     BEGIN/END markers with per-partition event counts).
//
// Nothing engine-specific crosses into this package: sources map their
// wire formats onto the model before it gets here.
package ordering
