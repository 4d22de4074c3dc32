// Package filter decides which columns and rows of a change go on: the
// columns: and where: rules of a source (what enters the log) and of a
// sink (what a follower applies), issue 18.
//
// The contract:
//
//   - Column rules rewrite a table's shape and its rows. exclude removes a
//     column from the shape and from both images; hash replaces a value by
//     the hex HMAC-SHA-256 of its text under the configured key (the same
//     value always hashes the same, in every table, so keys and joins
//     still work; the column becomes varchar(64)); mask replaces a value by
//     MaskText (the column becomes text); truncate cuts text to N
//     characters. NULL stays NULL and a value the source did not send
//     (unchanged TOAST) stays unsent. A primary-key column may be hashed,
//     never excluded, masked or truncated (the rows would lose their
//     identity). Indexes, unique keys, foreign keys, cascades and checks
//     that involve a rewritten column are left out of the shape: they no
//     longer hold on the values that go on.
//   - A where rule is an expr-lang expression over the row's values by
//     column name (expr-lang/expr), compiled against the table's shape so
//     that an unknown column or a type error is found before any row. A
//     change is kept when its row matches: an insert or snapshot row by its
//     after image, a delete by its before image; an update that moves a
//     row into the predicate becomes an insert, one that moves it out a
//     delete, one that stays out is dropped. A follower then holds exactly
//     the rows that match. Updates need the before image of the columns the
//     predicate reads (PostgreSQL REPLICA IDENTITY FULL unless it reads key
//     columns only; binlog_row_image=FULL): without it, or when evaluating
//     fails on a value, Filter returns an error (ErrNoBefore,
//     ErrPredicate) and the pipeline stops; a row is never dropped for
//     it.
//   - Truncates and the prunes of incremental snapshots (ordering.OpPrune)
//     pass, rewritten to the new shape. A prune's bounds are key values:
//     a table whose key is hashed cannot be pruned (HashesKey).
//   - Errors name the table and the rule, never a value.
//
// A Filter is safe for concurrent use (snapshot readers share one).
package filter
