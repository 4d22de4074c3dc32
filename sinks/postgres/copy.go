package postgres

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/walship/walship/sinks/sqlsink"
)

var _ sqlsink.BulkLoader = (*Dialect)(nil)

// loadTable is the session's staging table of an upserting bulk load.
const loadTable = "pg_temp.walship_load"

// BulkLoad implements sqlsink.BulkLoader with COPY … FROM STDIN in text
// format: the rows are the Param texts, which are PostgreSQL input syntax
// already, so COPY parses each value with the column type's input function
// exactly as the statement path's literals are parsed.
//
// A plain insert copies straight into the table, its constraints and
// foreign keys checked as an INSERT checks them. An upsert (snapshot rows)
// copies into a temporary staging table of the target's column types,
// then runs INSERT … SELECT … ON CONFLICT (key) DO UPDATE, the same
// conflict clause as Upsert, and drops the staging table.
func (d *Dialect) BulkLoad(ctx context.Context, conn *sql.Conn, n sqlsink.Name, cols, key []string, rows [][]any) error {
	var buf bytes.Buffer
	if err := encodeCopy(&buf, rows); err != nil {
		return err
	}
	target, list := d.QuoteName(n), d.identList(cols)
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("postgres sink: bulk load: driver connection is %T, not pgx", dc)
		}
		pc := sc.Conn().PgConn()
		if len(key) == 0 {
			_, err := pc.CopyFrom(ctx, &buf, "COPY "+target+" ("+list+") FROM STDIN")
			return err
		}
		if _, err := pc.Exec(ctx, "DROP TABLE IF EXISTS "+loadTable+"; CREATE TEMP TABLE walship_load ON COMMIT DROP AS SELECT "+
			list+" FROM "+target+" WITH NO DATA").ReadAll(); err != nil {
			return err
		}
		if _, err := pc.CopyFrom(ctx, &buf, "COPY "+loadTable+" ("+list+") FROM STDIN"); err != nil {
			return err
		}
		_, err := pc.Exec(ctx, "INSERT INTO "+target+" ("+list+") SELECT "+list+" FROM "+loadTable+
			d.conflict(cols, key)+"; DROP TABLE "+loadTable).ReadAll()
		return err
	})
}

// encodeCopy writes rows in COPY's text format: tab-separated, \N for
// NULL, backslash escapes for backslash, tab, newline and carriage return.
func encodeCopy(b *bytes.Buffer, rows [][]any) error {
	for _, r := range rows {
		for i, v := range r {
			if i > 0 {
				b.WriteByte('\t')
			}
			switch v := v.(type) {
			case nil:
				b.WriteString(`\N`)
			case string:
				copyEscape(b, v)
			case []byte: // bytea: its hex input form, backslash escaped
				b.WriteString(`\\x`)
				fmt.Fprintf(b, "%x", v)
			default:
				return fmt.Errorf("postgres sink: bulk load: unexpected parameter type %T", v)
			}
		}
		b.WriteByte('\n')
	}
	return nil
}

var copyEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)

func copyEscape(b *bytes.Buffer, s string) {
	if !strings.ContainsAny(s, "\\\t\n\r") {
		b.WriteString(s)
		return
	}
	copyEscaper.WriteString(b, s)
}
