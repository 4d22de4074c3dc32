package postgres

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sqlsink"
)

var _ sqlsink.BulkLoader = (*Dialect)(nil)

// loadTable is the session's staging table of an upserting bulk load.
const loadTable = "pg_temp.walship_load"

// BulkLoad implements sqlsink.BulkLoader with COPY … FROM STDIN, encoded
// straight from the rows' values (no parameter per value):
//
//   - binary format when every column's follower type has an exact binary
//     form here (binary.go) and every value fits it; otherwise
//   - text format: each value is its Param text, the PostgreSQL input
//     syntax, so COPY parses it with the column type's input function
//     exactly as the statement path's literals are parsed.
//
// A plain insert copies straight into the table, its constraints and
// foreign keys checked as an INSERT checks them. An upsert (snapshot rows)
// with b.Direct copies straight into the table inside a savepoint first;
// only when a row's key is there already (unique_violation, SQLSTATE
// 23505) does it roll back to the savepoint and upsert. The upsert copies
// into a temporary staging table of the target's column types, then runs
// INSERT … SELECT … ON CONFLICT (key) DO UPDATE, the same conflict clause
// as Upsert, and drops the staging table.
func (d *Dialect) BulkLoad(ctx context.Context, conn *sql.Conn, b sqlsink.BulkRows) (sqlsink.BulkResult, error) {
	buf := copyBufs.Get().(*bytes.Buffer)
	defer copyBufs.Put(buf)
	buf.Reset()
	format := ""
	if binaryColumns(b.Columns, b.Types) {
		err := encodeBinary(buf, b.Columns, b.Types, b.Rows)
		if err == nil {
			format = " (FORMAT binary)"
		} else if !errors.Is(err, errTextOnly) {
			return sqlsink.BulkResult{}, err
		} else {
			buf.Reset()
		}
	}
	if format == "" {
		if err := encodeText(buf, b.Columns, b.Rows); err != nil {
			return sqlsink.BulkResult{}, err
		}
	}
	data := buf.Bytes()
	cols := make([]string, len(b.Columns))
	for i, c := range b.Columns {
		cols[i] = c.Name
	}
	target, list := d.QuoteName(b.Name), d.identList(cols)
	var res sqlsink.BulkResult
	err := conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("postgres sink: bulk load: driver connection is %T, not pgx", dc)
		}
		pc := sc.Conn().PgConn()
		copyInto := func(table string) error {
			_, err := pc.CopyFrom(ctx, bytes.NewReader(data), "COPY "+table+" ("+list+") FROM STDIN"+format)
			return err
		}
		if len(b.Key) == 0 {
			return copyInto(target)
		}
		stage := ""
		if b.Direct {
			if _, err := pc.Exec(ctx, "SAVEPOINT walship_bulk").ReadAll(); err != nil {
				return err
			}
			err := copyInto(target)
			if err == nil {
				_, err = pc.Exec(ctx, "RELEASE SAVEPOINT walship_bulk").ReadAll()
				return err
			}
			if !uniqueViolation(err) {
				return err
			}
			res.Conflict = true
			stage = "ROLLBACK TO SAVEPOINT walship_bulk; RELEASE SAVEPOINT walship_bulk; "
		}
		if _, err := pc.Exec(ctx, stage+"DROP TABLE IF EXISTS "+loadTable+"; CREATE TEMP TABLE walship_load ON COMMIT DROP AS SELECT "+
			list+" FROM "+target+" WITH NO DATA").ReadAll(); err != nil {
			return err
		}
		if err := copyInto(loadTable); err != nil {
			return err
		}
		_, err := pc.Exec(ctx, "INSERT INTO "+target+" ("+list+") SELECT "+list+" FROM "+loadTable+
			d.conflict(cols, b.Key)+"; DROP TABLE "+loadTable).ReadAll()
		return err
	})
	return res, err
}

// copyBufs reuses the buffers rows are encoded into.
var copyBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// uniqueViolation reports PostgreSQL's unique_violation (SQLSTATE 23505).
func uniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// encodeText writes rows in COPY's text format: tab-separated, \N for
// NULL, backslash escapes for backslash, tab, newline and carriage return.
// Each value is what Param gives (bytea: its hex input form).
func encodeText(buf *bytes.Buffer, cols []ordering.Column, rows [][]ordering.Value) error {
	bit := make([]bool, len(cols)) // parsed once, not per value
	for i, c := range cols {
		bit[i] = isBitType(c)
	}
	b := buf.AvailableBuffer()
	var err error
	for _, r := range rows {
		for i, v := range r {
			if i > 0 {
				b = append(b, '\t')
			}
			if b, err = appendCopyText(b, cols[i], bit[i], v); err != nil {
				return err
			}
		}
		b = append(b, '\n')
		if len(b) >= 64<<10 {
			buf.Write(b)
			b = buf.AvailableBuffer()
		}
	}
	buf.Write(b)
	return nil
}

// appendCopyText appends v as COPY text of column c (bit: isBitType(c)).
func appendCopyText(b []byte, c ordering.Column, bit bool, v ordering.Value) ([]byte, error) {
	switch v.Kind() {
	case ordering.KindNull:
		return append(b, `\N`...), nil
	case ordering.KindUnchanged:
		return b, fmt.Errorf("postgres sink: column %s: an unchanged (unsent) value has no parameter", c.Name)
	case ordering.KindBytes: // bytea: its hex input form, backslash escaped
		b = append(b, `\\x`...)
		return appendHex(b, v.Text()), nil
	case ordering.KindBool:
		if v.Bool() {
			return append(b, 't'), nil
		}
		return append(b, 'f'), nil
	case ordering.KindInt:
		if !bit {
			return strconv.AppendInt(b, v.Int(), 10), nil
		}
	case ordering.KindUint:
		if !bit {
			return strconv.AppendUint(b, v.Uint(), 10), nil
		}
	case ordering.KindTimestamp, ordering.KindTimestampTZ:
		if !v.IsSpecial() {
			return appendTimestamp(b, v.Int(), v.Kind() == ordering.KindTimestampTZ), nil
		}
	case ordering.KindString, ordering.KindText, ordering.KindEnum, ordering.KindJSON, ordering.KindUUID, ordering.KindDecimal:
		s := v.Text()
		if v.Kind() != ordering.KindDecimal && strings.IndexByte(s, 0) >= 0 {
			return b, unsupported(c, "PostgreSQL text cannot hold a NUL character")
		}
		return appendCopyEscaped(b, s), nil
	}
	s, err := text(c, v)
	if err != nil {
		return b, err
	}
	return appendCopyEscaped(b, s), nil
}

// appendCopyEscaped appends s with COPY text's escapes.
func appendCopyEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case '\\':
			b = append(b, `\\`...)
		case '\t':
			b = append(b, `\t`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		default:
			b = append(b, ch)
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

func appendHex(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		b = append(b, hexDigits[s[i]>>4], hexDigits[s[i]&15])
	}
	return b
}
