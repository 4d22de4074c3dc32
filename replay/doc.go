// Package replay rebuilds a sink's follower from the log in Kafka and
// exits: `walship replay -c FILE --sink NAME`. Run applies, DryRun plans;
// the command passes the config, Options from its flags, and the engine
// pieces the daemon builds (Engines), so this package imports no engine.
//
// # What a replay guarantees
//
//   - The daemon's apply path. The sink's own scheduler, applier and
//     dialect (Engines.Follower) apply whole source transactions, each
//     follower transaction writing the positions of what it applied in the
//     same transaction, committed in the order the sink's commit_order
//     sets. Nothing is applied twice: a transaction at or below the
//     recorded positions is skipped.
//   - One writer. The replay holds the sink's lock in the follower for as
//     long as it writes (a daemon applying to the same follower makes it
//     refuse with sinks.ErrLocked in the chain; Options.Into builds
//     elsewhere).
//   - Resumable. A replay stopped, killed or interrupted (InterruptedError)
//     keeps what it applied, with its positions; run again, it resumes
//     after them. A follower with positions always resumes, whatever
//     Options.From says.
//   - A bounded log. It applies what each source's log held when it
//     started (the transaction topic's end, read first), or up to
//     Options.To: a position stops after the last transaction at or before
//     it; a time stops after the last transaction, in log order, committed
//     at or before it, found by reading the transaction topic first, so the
//     follower holds a prefix of the source's history and never a hole
//     (commit times are not in log order). A log that ended before To is
//     applied whole and reported as a *ShortLogError with the Report: the
//     replay is not called done up to To.
//   - Never a partial rebuild called done, never a silent skip. A follower
//     read from the start of the log needs offset 0 of the transaction
//     topic and of every data partition it has events in; when retention
//     removed any of it, Run refuses before it applies anything, with a
//     *TrimmedLogError that says whether each source's log still holds a
//     snapshot to start from (From "snapshot") or a new one is needed
//     (Resnapshot). Records found missing later (a follower with positions
//     needs them) are a *RetentionError. Either way the apply stops at the
//     first record it cannot read and never skips past it.
//
// # Where a follower without positions starts
//
// Options.From: "earliest" (spine offset 0, where the initial snapshot
// is), "snapshot" (the first chunk of the newest snapshot in the log; a
// log without one is refused), or after the last transaction at or before
// a position or time (a follower restored from a backup taken there).
//
// # Tables
//
// Options.Tables rebuilds only the matching tables, which the user emptied:
// changes of other tables are not applied (their unlogged foreign-key
// cascades still reach the tables rebuilt), and foreign-key checks are off
// for the run. The replay records positions under a name of its own (the
// sink's name and a digest of the patterns: a rerun with the same tables
// resumes). On a follower the sink applies, the tables are rebuilt up to the
// sink's recorded positions, never past them (a sink with transactions
// applied above its watermark, or a To, is refused), and then handed back:
// the replay's positions are deleted and the sink's cover every table
// (Report.Tables).
//
// # Re-snapshot
//
// Options.Resnapshot, for a lost slot or a purged binlog, refuses a
// follower that recorded positions, then for each source: takes the
// source's lock in the state directory (a running daemon makes it refuse),
// resets it (Engines.ResetSource drops the PostgreSQL slot, refusing an
// active one), deletes its checkpoint, runs its capture (Engines.Source)
// until a new snapshot is durable in Kafka, and stops it. The follower is
// then built from that snapshot. External sources are refused.
//
// # Errors and output
//
// Errors of the options and of the sink's configuration match ErrUsage;
// the others are failures. The typed errors above carry what the command
// needs to explain them; none is recognized by its text. Progress lines
// (what the replay resolved, then a line a second) go to Options.Progress;
// the result is a Report or a Plan, which the caller prints. The package
// logs nothing itself (the sink's applier logs to Options.Log), and its
// errors and output carry positions, offsets, tables and counts, never
// row values.
package replay
