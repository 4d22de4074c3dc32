package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"

	"github.com/walship/walship/sinks/sqlsink"
)

var _ sqlsink.BulkLoader = (*Dialect)(nil)

// BulkLoad implements sqlsink.BulkLoader with LOAD DATA LOCAL INFILE
// from an in-memory reader (go-sql-driver's Reader:: handlers), for tables
// whose every follower column is of a type listed in loadType: there the
// text of each Param is what the interpolated statement's literal stores.
//
// LOCAL makes the server treat duplicate keys and values it cannot store
// as IGNORE does (skip the row, store a truncated value, with a warning),
// so the load runs inside a savepoint and stands only when every row was
// inserted and the server raised nothing, not even a note (warning_count
// 0). Otherwise, and on a server or client that refuses LOCAL, it rolls
// back to the savepoint and declines (sqlsink.ErrBulkDeclined): the
// statements then write the rows (upserting the snapshot rows whose key is
// there) or name the error, as without a bulk path.
func (d *Dialect) BulkLoad(ctx context.Context, conn *sql.Conn, b sqlsink.BulkRows) (sqlsink.BulkResult, error) {
	var res sqlsink.BulkResult
	if d.noLoad.Load() {
		return res, sqlsink.ErrBulkDeclined
	}
	for _, c := range b.Columns {
		if !loadType(b.Types[c.Name]) {
			return res, sqlsink.ErrBulkDeclined
		}
	}
	var buf bytes.Buffer
	for _, r := range b.Rows {
		for i, v := range r {
			if i > 0 {
				buf.WriteByte('\t')
			}
			p, err := d.Param(b.Columns[i], v)
			if err != nil {
				return res, err
			}
			if !appendLoadText(&buf, p) {
				return res, sqlsink.ErrBulkDeclined
			}
		}
		buf.WriteByte('\n')
	}
	cols := make([]string, len(b.Columns))
	for i, c := range b.Columns {
		cols[i] = d.QuoteIdent(c.Name)
	}
	name := "walship-load-" + strconv.FormatUint(loadSeq.Add(1), 10)
	data := buf.Bytes()
	mysql.RegisterReaderHandler(name, func() io.Reader { return bytes.NewReader(data) })
	defer mysql.DeregisterReaderHandler(name)
	q := "LOAD DATA LOCAL INFILE 'Reader::" + name + "' INTO TABLE " + d.QuoteName(b.Name) +
		` CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n' (` + strings.Join(cols, ", ") + ")"
	err := conn.Raw(func(dc any) error {
		ex, ok1 := dc.(driver.ExecerContext)
		qu, ok2 := dc.(driver.QueryerContext)
		if !ok1 || !ok2 {
			return fmt.Errorf("mysql sink: bulk load: driver connection is %T", dc)
		}
		exec := func(q string) (driver.Result, error) { return ex.ExecContext(ctx, q, nil) }
		if _, err := exec("SAVEPOINT walship_bulk"); err != nil {
			return err
		}
		decline := func() error {
			if _, err := exec("ROLLBACK TO SAVEPOINT walship_bulk"); err != nil {
				return err
			}
			if _, err := exec("RELEASE SAVEPOINT walship_bulk"); err != nil {
				return err
			}
			return sqlsink.ErrBulkDeclined
		}
		r, err := exec(q)
		if err != nil {
			if d.Retryable(err) {
				return err
			}
			if loadRefused(err) {
				d.noLoad.Store(true)
			}
			return decline() // LOCAL refused, or an error the statements will name
		}
		n, err := r.RowsAffected()
		if err != nil {
			return err
		}
		warnings, err := warningCount(ctx, qu)
		if err != nil {
			return err
		}
		if n != int64(len(b.Rows)) || warnings != 0 {
			return decline()
		}
		_, err = exec("RELEASE SAVEPOINT walship_bulk")
		return err
	})
	return res, err
}

// loadRefused reports the errors of a server or client that does not
// allow LOAD DATA LOCAL: ER_NOT_ALLOWED_COMMAND (1148), MySQL's
// ER_CLIENT_LOCAL_FILES_DISABLED (3948) and MariaDB's
// ER_LOAD_INFILE_CAPABILITY_DISABLED (4166).
func loadRefused(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Number {
	case 1148, 3948, 4166:
		return true
	}
	return false
}

// loadSeq numbers the reader handlers of bulk loads.
var loadSeq atomic.Uint64

// warningCount reads @@warning_count of the statement before.
func warningCount(ctx context.Context, q driver.QueryerContext) (int64, error) {
	rows, err := q.QueryContext(ctx, "SELECT @@warning_count", nil)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	v := make([]driver.Value, 1)
	if err := rows.Next(v); err != nil {
		return 0, err
	}
	switch w := v[0].(type) {
	case int64:
		return w, nil
	case uint64:
		return int64(min(w, 1<<62)), nil
	case []byte:
		return strconv.ParseInt(string(w), 10, 64)
	}
	return 0, errors.New("mysql sink: @@warning_count is not a number")
}

// loadType reports a follower column type (COLUMN_TYPE, lower case) whose
// LOAD DATA text input stores what the statement path's literal stores:
// integers (not BIT), DOUBLE, DECIMAL, the character types (utf8mb4, as
// walship creates them) and DATE, DATETIME, TIMESTAMP. Binary strings,
// BIT, FLOAT, TIME, YEAR, ENUM, SET, JSON and the rest keep the
// statements.
func loadType(t string) bool {
	base, _, _ := strings.Cut(t, "(")
	base, _, _ = strings.Cut(base, " ")
	switch base {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "double", "decimal",
		"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "date", "datetime", "timestamp":
		return !strings.Contains(t, "binary") && !strings.Contains(t, "[")
	}
	return false
}

// appendLoadText appends parameter p as a LOAD DATA field (tab-separated,
// backslash escapes, \N for NULL), or reports false for a parameter of
// another type.
func appendLoadText(b *bytes.Buffer, p any) bool {
	switch v := p.(type) {
	case nil:
		b.WriteString(`\N`)
	case int64:
		b.Write(strconv.AppendInt(b.AvailableBuffer(), v, 10))
	case uint64:
		b.Write(strconv.AppendUint(b.AvailableBuffer(), v, 10))
	case float64:
		b.Write(strconv.AppendFloat(b.AvailableBuffer(), v, 'g', -1, 64))
	case string:
		loadEscape(b, v)
	default:
		return false
	}
	return true
}

func loadEscape(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
}
