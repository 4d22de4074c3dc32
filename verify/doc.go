// Package verify compares a follower with its sources, in checksummed
// primary-key chunks and row by row where they differ, the way Vitess's
// VDiff does: `walship verify -c FILE --sink NAME`.
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
// # Design: checksummed key chunks, merged where they differ
//
// Like VDiff, verify walks the source's primary key in chunks of
// Options.ChunkRows rows (default 1000) by keyset pagination: the upper
// end of a chunk is the key of the N-th row after the previous chunk's
// (WHERE (pk...) > (last...) ORDER BY pk LIMIT 2 OFFSET N-1). A chunk is
// the key range after its lower end (exclusive) through its upper end
// (inclusive); the first chunk is open below, and the chunk holding the
// source's last key (no (N+1)-th row) is the last and open above, so
// follower rows before the first or after the last source key are found
// too. Both sides select each range with the same condition (PostgreSQL a
// row comparison, which its btree indexes serve; MySQL the same spelled
// out with AND/OR; integer bounds passed as integers and decimals cast to
// the column's DECIMAL, since MySQL compares an integer or decimal column
// with a string as doubles). Bounds are the key columns' exact text forms
// on the source (bytes as hex, decoded by the query).
//
// Each chunk gets a checksum on both sides: its row count and the MD5 of
// the concatenated MD5s of its rows, in key order, over the text of every
// compared column. A row's fields are framed as "N" for NULL, else the
// value's length in bytes, ":" and the value, so NULL, the empty string,
// the text 'NULL' and values that run into the next column all differ.
//
//   - Same-engine pairs compute it in the databases, so rows of equal
//     chunks never cross the network: PostgreSQL takes count(*) and md5 of
//     string_agg of the rows' md5s (no separator, ORDER BY the key) over
//     the columns' ::text forms (bytea as hex), the texts the row
//     comparison reads; MySQL/MariaDB takes COUNT(*) and MD5 of
//     GROUP_CONCAT of the rows' MD5s (no separator, ORDER BY the key) over
//     CAST(... AS BINARY), text columns first converted to utf8mb4 (the
//     driver's text), on one connection per side whose
//     group_concat_max_len is raised to hold the row hashes (64 MiB, or 32
//     bytes × 4 × ChunkRows if more); a chunk with more rows than that
//     holds is never taken as equal. Both sides run the same expressions
//     on the same engine, so texts that differ make checksums that differ.
//   - Cross-engine pairs make values canonical in Go (see below), so the
//     checksum is computed in Go with the same framing over the canonical
//     texts: the source's chunk is read by its range, the follower's rows
//     in one stream ordered by key, split at each chunk's last source key
//     (the source's key texts need not parse as bounds on the follower's
//     engine). Here every row crosses the network; the checksum only
//     decides which chunks are merged.
//
// Chunks whose counts and checksums are equal are skipped. A chunk whose
// checksums differ is descended into: both sides' rows of its range are
// read ordered by key and merged like a sort-merge join: the smaller key
// is a row missing on the follower (only at the source) or an extra row
// (only on the follower); equal keys compare every column. The report
// counts chunks and the chunks that differed.
//
// Memory is bounded by the chunk: same-engine pairs hold one row per side
// while merging a differing chunk (both sides stream); cross-engine pairs
// hold a chunk's source rows and the follower's rows in the same key range
// (more than ChunkRows only when the follower has extra rows there), plus
// the first Options.MaxListed differences of each table (all are counted).
//
// The databases must order keys the way the comparison does: text keys
// are ordered by bytes (PostgreSQL COLLATE "C", MySQL CAST(... AS
// BINARY), SQLite's BINARY collation), numbers numerically. Every side's
// rows are checked to ascend strictly; a side that does not (for example
// a decimal key stored as TEXT on SQLite) fails the table with an error
// instead of reporting false differences. Text keys whose index does not
// use that byte order (MySQL, PostgreSQL databases with a collation other
// than C) are sorted by the database for every chunk.
//
// Rows with a NULL in a key column (a follower table without the
// source's primary key can hold them) are in no chunk: every chunk's
// condition excludes them, and one query per side reads them as extra
// (follower) or missing (source) rows.
//
// # Tables without a primary key
//
// They are compared as multisets of rows (compareKeyless): each side's
// rows are read whole, hashed over every compared column with the chunk
// framing, and counted per hash; a hash whose counts differ is that many
// missing or extra rows. Only hashes and counts are held, in passes of
// KeylessPassRows rows (a pass takes the rows whose hash falls in its
// bucket). No table is skipped: one that cannot be compared is a Problem,
// which counts as a difference.
//
// # Sessions
//
// Every statement of a table runs on one connection per side whose
// settings are pinned (pinSession): PostgreSQL extra_float_digits = 3
// (floats print exactly), TimeZone UTC, DateStyle ISO, IntervalStyle
// iso_8601, bytea_output hex; MySQL time_zone +00:00 and sql_mode without
// PAD_CHAR_TO_FULL_LENGTH. A database or role default cannot change a
// text form under verify.
//
// The source is read live: rows written after the position verify waited
// for may show as differences. Run it on a quiet source, or run it again.
//
// # Values
//
// Every value is read in an exact form: PostgreSQL output functions
// (char(n) keeps its padding through bpcharout, inet through inet_out; a
// ::text cast would strip or add), MySQL floats by their IEEE bits
// (HEX(ST_AsBinary(POINT(x, 0))): MySQL prints FLOAT to 6 and DOUBLE to 15
// significant digits), bytes as hex. Same-engine pairs compare these
// texts exactly. Cross-engine pairs normalize both sides to one canonical
// form per source column kind, strictly: a text that does not parse as
// its kind exactly is compared as it is, so it equals only itself.
//
//	integers     decimal integer text, as the engines print it (no spaces, signs or leading zeros)
//	boolean      1 / 0 (t/true/1, f/false/0)
//	numeric      exact value: no leading zeros, no trailing fraction zeros (1.50 = 1.5000), exponents
//	             expanded exactly (1e-50 is not 0); NaN, Infinity, -Infinity as PostgreSQL spells them
//	float/double exact binary value, shortest round-trip text; a real also matches a follower double
//	             holding the float32's shortest decimal; signed zeros equal (IEEE 754)
//	text         exact; on SQLite a value of another storage class is different
//	bytea/blob   lower-case hex of the bytes
//	date         YYYY-MM-DD, the whole text (1 BC = 0000, signed years before)
//	time         microseconds (a PostgreSQL interval holding a MySQL TIME: its epoch, only when it has no
//	             months or days)
//	timestamp    YYYY-MM-DD HH:MM:SS.ffffff ("T" or " "); a zone only on timestamptz, applied to UTC
//	json         exact text (duplicate keys and key order kept)
//	jsonb        normalized as PostgreSQL's jsonb: last duplicate wins, keys by length then bytes,
//	             ", " and ": ", numbers as numeric prints them
//	arrays       JSON (PostgreSQL reads array_to_json) re-encoded with sorted keys, numbers as written
//	MySQL BIT    its unsigned value (a PostgreSQL bit string read as binary digits)
//	uuid, interval, other  the text forms, exactly
//
// Where two engines cannot hold the same value (a -0 aside), the
// difference is reported, not hidden.
package verify
