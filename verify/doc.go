// Package verify compares a follower with its sources, row by row, the way
// Vitess's VDiff does: `walship verify -c FILE --sink NAME`.
//
// # What is compared
//
// For every source the sink applies (external sources cannot be read and
// are refused), the captured tables are listed from the source catalog
// with the source's table patterns. Each maps to a follower table the way
// the sink names it (PostgreSQL follower: schema.table; MariaDB and
// SQLite: the table name; then tables.rename, or tables.prefix). Columns
// are the source's columns; a column missing on the follower is a
// difference, extra follower columns are ignored.
//
// # Design: merge-join over two ordered cursors
//
// Both sides are read with one streaming SELECT each, ordered by the
// source's primary key, and merged like a sort-merge join: the smaller key
// is a row missing on the follower (only at the source) or an extra row
// (only on the follower); equal keys compare every column. Memory is one
// row per side plus the first 100 differences of each table (all are
// counted). The databases must order keys the way the comparison does:
// text keys are ordered by bytes (PostgreSQL COLLATE "C", MySQL
// CAST(... AS BINARY), SQLite's BINARY collation), numbers numerically.
// Every cursor is checked to be strictly ascending; a side that is not
// (for example a decimal key stored as TEXT on SQLite) fails the table
// with an error instead of reporting false differences.
//
// Tables without a primary key are skipped and reported as such.
//
// The source is read live: rows written after the position verify waited
// for may show as differences. Run it on a quiet source, or run it again.
//
// # Canonical values
//
// Same-engine pairs (PostgreSQL → PostgreSQL, MySQL/MariaDB →
// MySQL/MariaDB) compare the servers' text forms exactly. Cross-engine
// pairs normalize both sides to one canonical form per source column kind,
// following the README's type mapping:
//
//	integers     decimal integer text
//	boolean      1 / 0 (t/true/1, f/false/0)
//	numeric      sign, no leading zeros, no trailing fraction zeros (1.50 = 1.5000); NaN, Infinity kept
//	float/double shortest round-trip text; real/FLOAT rounded to 6 significant digits; -0 = 0
//	text         exact
//	bytea/blob   lower-case hex of the bytes
//	date         YYYY-MM-DD (1 BC = 0000, signed years before)
//	time         microseconds (PostgreSQL interval from a MySQL TIME: its epoch)
//	timestamp[tz] YYYY-MM-DD HH:MM:SS.ffffff in UTC (offsets applied, "T" or " ")
//	json, arrays JSON re-encoded with sorted keys and exact numbers (PostgreSQL arrays read as array_to_json)
//	uuid         lower case
//	other        the text forms, exactly
//
// Approximate: float32 columns (6 significant digits), intervals,
// timetz, bit strings, network, geometric and other types compared as text
// (their text forms may differ between engines and show as differences),
// dates outside years 0000-9999 and PostgreSQL array bounds.
package verify
