package preflight

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/config"
	"github.com/walship/walship/filter"
	"github.com/walship/walship/ordering"
	mysqlsource "github.com/walship/walship/sources/mysql"
)

// The columns: and where: rules of a source (issue 18), checked against
// its tables: each table exists; each column named exists, and no key
// column is excluded, masked or truncated; each where rule compiles
// against the columns' types (a string compared with a number is found
// here, not at the first row); a rule that reads non-key columns has the
// before images it needs (PostgreSQL REPLICA IDENTITY FULL, MySQL
// binlog_row_image=FULL). Problems name the rule's place in the file.

// rulesTarget is the target checking source i's rules, nil without any.
func rulesTarget(cfg *config.Config, i int) *target {
	s := cfg.Sources[i]
	rules := config.FilterRules(s.Columns, s.Where)
	if rules == nil {
		return nil
	}
	return shapesTarget(cfg, i, "columns:, where:", func(r *Result, shape shapeFunc) {
		checkRules(r, cfg, fmt.Sprintf("sources[%d]", i), s, rules, shape)
	})
}

// shapeFunc reads a source table's shape, with whether the source sends
// full before images of it.
type shapeFunc func(schema, table string) (*ordering.Table, bool, error)

// shapesTarget is a target that runs check on source i's database (nil
// for a source this daemon does not capture); what names what it checks.
func shapesTarget(cfg *config.Config, i int, what string, check func(r *Result, shape shapeFunc)) *target {
	s := cfg.Sources[i]
	key := fmt.Sprintf("sources[%d]", i)
	var t target
	switch {
	case s.Postgres != nil:
		var cc *pgx.ConnConfig
		t, cc = pgTarget(key+".postgres", "source "+s.Name+" ("+what+")", s.Postgres.DSN, s.Postgres.Password)
		if cc == nil {
			return &t
		}
		t.run = func(ctx context.Context, r *Result) {
			conn := pgConnect(ctx, r, cc, key+".postgres")
			if conn == nil {
				return
			}
			defer pgClose(conn)
			check(r, func(schema, table string) (*ordering.Table, bool, error) {
				return pgShape(ctx, conn, schema, table)
			})
		}
	case s.MySQL != nil:
		mc := mysql.NewConfig()
		mc.User, mc.Passwd, mc.Net = s.MySQL.User, s.MySQL.Password.Reveal(), "tcp"
		mc.Addr = splitAddrs(s.MySQL.Addr)[0]
		mc.Timeout = ConnectTimeout
		mc.Logger = &mysql.NopLogger{}
		tlsConf, tlsErr := s.MySQL.TLS.Config("")
		mc.TLS = mysqlsource.TLSFor(tlsConf, mc.Addr)
		t = target{res: Result{Target: "source " + s.Name + " (" + what + ")", Engine: s.MySQL.Flavor, Addr: s.MySQL.Addr}, secrets: []string{mc.Passwd}}
		t.run = func(ctx context.Context, r *Result) {
			if tlsErr != nil {
				return // the source's own target says so
			}
			db, conn := mysqlConnect(ctx, r, mc, key+".mysql", key+".mysql.addr")
			if conn == nil {
				return
			}
			defer db.Close()
			defer conn.Close()
			var image string
			conn.QueryRowContext(ctx, "SELECT @@binlog_row_image").Scan(&image)
			check(r, func(schema, table string) (*ordering.Table, bool, error) {
				t, err := mysqlShape(ctx, conn, schema, table)
				return t, strings.EqualFold(image, "FULL"), err
			})
		}
	default:
		return nil
	}
	return &t
}

// errNoTable is returned by a shape reader for a table that does not exist.
var errNoTable = errors.New("no such table")

// checkRules checks rules against the shapes shape reads (with whether
// the source sends full before images of the table).
func checkRules(r *Result, cfg *config.Config, key string, s config.Source, rules filter.Rules, shape shapeFunc) {
	names := make([]string, 0, len(rules))
	for name := range rules {
		names = append(names, name)
	}
	slices.Sort(names)
	ok := 0
	for _, name := range names {
		rule := rules[name]
		at := key + ".where." + name
		if _, found := s.Columns[name]; found {
			at = key + ".columns." + name
		}
		schema, table, _ := strings.Cut(name, ".")
		t, full, err := shape(schema, table)
		if errors.Is(err, errNoTable) {
			r.problem(Config, "%s: %s: no such table on the source", cfg.At(at), name)
			continue
		}
		if err != nil {
			r.problem(Other, "%s: read the columns of %s: %v", cfg.At(at), name, err)
			continue
		}
		if err := filter.CheckTable(t, rule); err != nil {
			r.problem(Config, "%s: %s: %v", cfg.At(at), name, err)
			continue
		}
		if rule.Where != "" && !full {
			cols, _ := filter.WhereColumns(t, rule.Where)
			var nonKey []string
			for _, c := range cols {
				if !slices.Contains(t.PrimaryKey, c) {
					nonKey = append(nonKey, c)
				}
			}
			if len(nonKey) > 0 {
				how := "ALTER TABLE " + name + " REPLICA IDENTITY FULL"
				if s.MySQL != nil {
					how = "SET GLOBAL binlog_row_image = FULL"
				}
				r.problem(Setting, "%s: the where rule of %s reads %s, which updates and deletes do not carry without full before images: %s",
					cfg.At(key+".where."+name), name, strings.Join(nonKey, ", "), how)
				continue
			}
		}
		ok++
	}
	if ok > 0 {
		r.fact("columns: and where: rules fit %d table(s)", ok)
	}
}

// pgShape reads a PostgreSQL table's columns (by their kinds in a where
// rule), key, and whether its replica identity is FULL.
func pgShape(ctx context.Context, conn *pgx.Conn, schema, table string) (*ordering.Table, bool, error) {
	var ident string
	err := conn.QueryRow(ctx, `SELECT c.relreplident::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`, schema, table).Scan(&ident)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, errNoTable
	}
	if err != nil {
		return nil, false, err
	}
	t := &ordering.Table{Schema: schema, Name: table}
	rows, err := conn.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typcategory::text,
			COALESCE((SELECT true FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary AND a.attnum = ANY(i.indkey)), false)
		FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
		WHERE a.attrelid = ($1 || '.' || $2)::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
		pgx.Identifier{schema}.Sanitize(), pgx.Identifier{table}.Sanitize())
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var name, typ, cat string
		var key bool
		if err := rows.Scan(&name, &typ, &cat, &key); err != nil {
			return nil, false, err
		}
		t.Columns = append(t.Columns, ordering.Column{Name: name, Type: typ, Kind: kindOf(typ, cat)})
		if key {
			t.PrimaryKey = append(t.PrimaryKey, name)
		}
	}
	return t, ident == "f", rows.Err()
}

// mysqlShape reads a MySQL/MariaDB table's columns and key.
func mysqlShape(ctx context.Context, conn *sql.Conn, schema, table string) (*ordering.Table, error) {
	rows, err := conn.QueryContext(ctx, `SELECT COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, COLUMN_KEY FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, schema, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	t := &ordering.Table{Schema: schema, Name: table}
	for rows.Next() {
		var name, typ, data, key string
		if err := rows.Scan(&name, &typ, &data, &key); err != nil {
			return nil, err
		}
		t.Columns = append(t.Columns, ordering.Column{Name: name, Type: typ, Kind: kindOf(strings.ToLower(data), "")})
		if key == "PRI" {
			t.PrimaryKey = append(t.PrimaryKey, name)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(t.Columns) == 0 {
		return nil, errNoTable
	}
	return t, nil
}

// kindOf is the kind a column of type typ (PostgreSQL: its type category
// cat) has in a where rule.
func kindOf(typ, cat string) ordering.Kind {
	base, _, _ := strings.Cut(typ, "(")
	switch base = strings.TrimSpace(base); {
	case strings.HasSuffix(typ, "[]") || cat == "A":
		return ordering.KindArray
	case base == "boolean" || base == "bool":
		return ordering.KindBool
	case slices.Contains([]string{"smallint", "integer", "bigint", "tinyint", "mediumint", "int", "year"}, base):
		return ordering.KindInt
	case slices.Contains([]string{"numeric", "decimal"}, base):
		return ordering.KindDecimal
	case slices.Contains([]string{"real", "double precision", "double", "float"}, base):
		return ordering.KindFloat
	case base == "date":
		return ordering.KindDate
	case strings.HasPrefix(base, "timestamp") || base == "datetime":
		return ordering.KindTimestamp
	case strings.HasPrefix(base, "time"):
		return ordering.KindTime
	case base == "uuid":
		return ordering.KindUUID
	case slices.Contains([]string{"bytea", "blob", "binary", "varbinary", "tinyblob", "mediumblob", "longblob"}, base):
		return ordering.KindBytes
	}
	return ordering.KindString
}
