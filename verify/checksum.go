package verify

import (
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// chunkSum is the checksum of a chunk on one side: its row count and the
// MD5 of its rows ("" when it has none).
type chunkSum struct {
	rows int64
	hash string
	// partial marks a sum that does not cover every row (MySQL's
	// group_concat_max_len was too small): it matches nothing.
	partial bool
}

// matches reports whether two sides' chunks hold the same rows.
func (a chunkSum) matches(b chunkSum) bool {
	return !a.partial && !b.partial && a.rows == b.rows && a.hash == b.hash
}

// Row framing, the same in Go and in SQL: a field is "N" for NULL, else
// the value's length in bytes, ":" and the value; a row's hash is the hex
// MD5 of its fields in column order; a chunk's hash is the hex MD5 of its
// rows' hashes in key order. Lengths make the framing unambiguous: NULL,
// the empty string, the text "NULL" and "N" all differ, and no value can
// run into the next column.

// field appends the frame of one value to b.
func field(b []byte, v string, valid bool) []byte {
	if !valid {
		return append(b, 'N')
	}
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, ':')
	return append(b, v...)
}

// digest computes a chunkSum in Go, row by row.
type digest struct {
	chunk hash.Hash
	buf   []byte
	rows  int64
}

func newDigest() *digest { return &digest{chunk: md5.New()} }

// add hashes one row's fields (valid[i] false: NULL).
func (d *digest) add(vals []string, valid []bool) {
	d.buf = d.buf[:0]
	for i, v := range vals {
		d.buf = field(d.buf, v, valid[i])
	}
	rh := md5.Sum(d.buf)
	var hx [2 * md5.Size]byte
	hex.Encode(hx[:], rh[:])
	d.chunk.Write(hx[:])
	d.rows++
}

func (d *digest) sum() chunkSum {
	if d.rows == 0 {
		return chunkSum{}
	}
	return chunkSum{rows: d.rows, hash: hex.EncodeToString(d.chunk.Sum(nil))}
}

// sumRows is the Go checksum of rows over their comparison forms.
func sumRows(rows []*row) chunkSum {
	d := newDigest()
	for _, r := range rows {
		d.add(r.cmp, r.valid)
	}
	return d.sum()
}

// rowHashSQL is the SQL of a row's hash: MD5 of its framed fields. On
// MySQL every field is hashed as bytes: text columns as UTF-8 (the
// driver's text), so that a chunk checksums equal exactly when the values
// read would compare equal.
func rowHashSQL(engine string, exprs []string, kinds []Kind) string {
	fields := make([]string, len(exprs))
	for i, e := range exprs {
		switch engine {
		case "postgres":
			fields[i] = "coalesce(octet_length(" + e + ")::text || ':' || " + e + ", 'N')"
		default:
			x := "CAST(" + e + " AS BINARY)"
			if kinds[i] == KindText {
				x = "CAST(CONVERT(" + e + " USING utf8mb4) AS BINARY)"
			}
			fields[i] = "COALESCE(CONCAT(LENGTH(" + x + "), ':', " + x + "), 'N')"
		}
	}
	if engine == "postgres" {
		return "md5(" + strings.Join(fields, " || ") + ")"
	}
	return "MD5(CONCAT(" + strings.Join(fields, ", ") + "))"
}

// sumSQL is the statement computing the checksum of chunk c on s (in the
// database: only the count and one hash cross the network).
func (s *side) sumSQL(c chunk) (string, []any, error) {
	a := &sqlArgs{engine: s.engine}
	cond, err := s.rangeCond(c, a)
	if err != nil {
		return "", nil, err
	}
	rh := rowHashSQL(s.engine, s.exprs, s.kinds)
	order := strings.Join(s.order, ", ")
	var agg string
	switch s.engine {
	case "postgres":
		agg = "count(*), md5(string_agg(" + rh + ", '' ORDER BY " + order + "))"
	case "mysql":
		agg = "COUNT(*), MD5(GROUP_CONCAT(" + rh + " ORDER BY " + order + " SEPARATOR ''))"
	default:
		return "", nil, fmt.Errorf("%s: no checksum in %s", s.label, s.engine)
	}
	return "SELECT " + agg + " FROM " + s.table + " AS t WHERE " + cond, a.vals, nil
}

// checksum computes the checksum of chunk c in s's database.
func (s *side) checksum(ctx context.Context, c chunk) (chunkSum, error) {
	q, args, err := s.sumSQL(c)
	if err != nil {
		return chunkSum{}, err
	}
	var sum chunkSum
	var h sql.NullString
	if err := s.q.QueryRowContext(ctx, q, args...).Scan(&sum.rows, &h); err != nil {
		return chunkSum{}, fmt.Errorf("%s: checksum of chunk %d: %w", s.label, c.n, err)
	}
	sum.hash = h.String
	if s.concatMax > 0 && sum.rows*2*md5.Size > s.concatMax {
		sum.partial = true
	}
	return sum, nil
}

// pinSession takes one connection of db for a table's statements, with
// every session setting that changes a text form pinned: on PostgreSQL
// floats print exactly (extra_float_digits), timestamps in UTC and ISO,
// intervals in ISO 8601, bytea as hex; on MySQL times in UTC, CHAR
// without padding as stored, and group_concat_max_len raised so a
// chunk's row hashes fit. It returns the group_concat limit in effect (0:
// none).
func pinSession(ctx context.Context, db *sql.DB, engine string, chunkRows int) (*sql.Conn, int64, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, 0, err
	}
	var stmts []string
	want := max(int64(64<<20), 4*int64(chunkRows)*2*md5.Size)
	switch engine {
	case "postgres":
		stmts = []string{"SET extra_float_digits = 3", "SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, MDY'",
			"SET IntervalStyle = 'iso_8601'", "SET bytea_output = 'hex'"}
	case "mysql":
		stmts = []string{"SET time_zone = '+00:00'",
			"SET SESSION sql_mode = TRIM(BOTH ',' FROM REPLACE(REPLACE(@@SESSION.sql_mode, 'PAD_CHAR_TO_FULL_LENGTH', ''), ',,', ','))",
			"SET SESSION group_concat_max_len = " + strconv.FormatInt(want, 10)}
	}
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			conn.Close()
			return nil, 0, fmt.Errorf("pin the session (%s): %w", q, err)
		}
	}
	if engine != "mysql" {
		return conn, 0, nil
	}
	var got int64
	if err := conn.QueryRowContext(ctx, "SELECT @@SESSION.group_concat_max_len").Scan(&got); err != nil {
		conn.Close()
		return nil, 0, fmt.Errorf("read group_concat_max_len: %w", err)
	}
	return conn, got, nil
}
