// Package mysql is the MySQL/MariaDB follower dialect of the SQL sink: it
// implements sqlsink.Dialect, everything engine-specific the generic
// applier needs. MariaDB 10.11 is the tested follower; MySQL 8 is
// supported by the same code (Open detects the flavor).
//
// The contract:
//
//   - Open parses the go-sql-driver DSN, which must name the follower
//     database (sink.password overrides its password), and connects with
//     InterpolateParams (parameters are escaped into the statement text, so
//     results and arguments are plain text), ParseTime off, charset
//     utf8mb4, time_zone '+00:00' and sql_mode
//     STRICT_TRANS_TABLES,STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,
//     NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO: strict (a value that
//     does not fit is an error), zero dates allowed, backslash escapes on.
//   - Lock takes GET_LOCK('walship_sink:<name>', 0) (names over 64
//     characters are hashed) on a connection of its own with a year's
//     wait_timeout, held until Release; a held lock is sqlsink.ErrLocked
//     naming the holder's connection id (IS_USED_LOCK) and user@host when
//     visible. Lease.Check and Lease.Fence compare IS_USED_LOCK with the
//     lock session's connection id.
//   - WidenType alters a narrower column to a type holding both with
//     MODIFY COLUMN, restating the rest of its SHOW CREATE TABLE definition.
//     In strict mode MariaDB rejects a too-long string but rounds a
//     DECIMAL's extra fraction digits with only a note: the widening is
//     what keeps 1.2345 from becoming 1.23.
//   - Target drops the source schema: the DSN's database is the namespace.
//     Identifiers are backquoted (a backquote in a name is doubled), placeholders are
//     ?, NULL-safe equality is <=>.
//   - ColumnType maps types (table at the top of types.go); tables are
//     created utf8mb4 with a binary no-pad collation, so text keys compare
//     exactly as in the source. TypeCompatible accepts the same type or a
//     wider one.
//   - BulkLoad (load.go) writes large batches with LOAD DATA LOCAL INFILE
//     from memory (a go-sql-driver Reader:: handler) when every follower
//     column's type is one whose text input stores what the statement's
//     literal stores (loadType: integers but BIT, DOUBLE, DECIMAL, the
//     character types, DATE, DATETIME, TIMESTAMP), inside a savepoint. It
//     stands only when every row was inserted without a warning or note;
//     otherwise (a key already there, a value the column cannot store,
//     local_infile off, which is remembered) it rolls back to the
//     savepoint and declines, and the applier writes the rows with
//     statements, which upsert or name the error. LOCAL would otherwise skip duplicates and truncate values
//     with a warning, as IGNORE does.
//   - Upsert is INSERT … ON DUPLICATE KEY UPDATE c = VALUES(c). Truncate is
//     DELETE FROM, because TRUNCATE commits implicitly. CREATE/ALTER also
//     commit implicitly in MySQL: run DDL outside the data transaction; on
//     MariaDB, ADD/DROP COLUMN say IF [NOT] EXISTS so a retry is harmless.
//   - Retryable is true for errors 1205, 1213, 1040, 1053, 1158-1161, 1927,
//     2006, 2013, disk full and out of memory (1021, 1037, 1038, 1041), the
//     server's own file errors (below 1000) and connection failures; Code
//     is the error number. Error messages name columns and reasons, never
//     values.
package mysql
