package verify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/walship/walship/config"
	mysqlsource "github.com/walship/walship/sources/mysql"
)

// Column is a source column.
type Column struct {
	Name string
	Type string // as the catalog names it (format_type, COLUMN_TYPE)
	Kind Kind
}

// Table is a captured source table.
type Table struct {
	Schema, Name string
	Columns      []Column
	Key          []string // primary key columns, in key order
}

func (t Table) String() string { return t.Schema + "." + t.Name }

// source is an open source database.
type source struct {
	cfg    config.Source
	name   string
	engine string // "postgres" or "mysql"
	flavor string // "mariadb" or "mysql" for a MySQL source
	db     *sql.DB
	tables []string
	// raw reports a MySQL character set whose text the source captures
	// as bytes (raw_charsets): such columns are compared as bytes.
	raw func(charset string) bool
	// signal is a MySQL source's signal table, whose rows it never
	// publishes.
	signal string
	// catalog caches a MySQL source's indexes and checks per database
	// (indexes.go).
	catalog map[string]map[string]map[string]bool
}

// openSource connects to a configured source for catalog queries and reads,
// with the session settings of the source's decoding (UTC, ISO dates).
func openSource(ctx context.Context, s config.Source) (*source, error) {
	switch {
	case s.Postgres != nil:
		cc, err := pgx.ParseConfig(s.Postgres.DSN.Reveal())
		if err != nil {
			return nil, fmt.Errorf("source %s: %s", s.Name, config.DSNProblem(s.Postgres.DSN.Reveal(), err))
		}
		if pw := s.Postgres.Password.Reveal(); pw != "" {
			cc.Password = pw
		}
		for k, v := range map[string]string{"TimeZone": "UTC", "DateStyle": "ISO, MDY", "IntervalStyle": "iso_8601",
			"application_name": "walship verify"} {
			cc.RuntimeParams[k] = v
		}
		if cc.ConnectTimeout == 0 {
			cc.ConnectTimeout = 10 * time.Second
		}
		db := stdlib.OpenDB(*cc)
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("source %s: connect to %s: %w", s.Name, cc.Host, err)
		}
		return &source{cfg: s, name: s.Name, engine: "postgres", db: db, tables: s.Postgres.Tables}, nil
	case s.MySQL != nil:
		// The source's TLS, each address verified against its own name
		// (or tls.server_name), as the source connects.
		tlsConf, err := s.MySQL.TLS.Config("")
		if err != nil {
			return nil, fmt.Errorf("source %s: mysql.%w", s.Name, err)
		}
		open := func(addr string) (*sql.DB, error) {
			mc := gomysql.NewConfig()
			mc.User, mc.Passwd, mc.Net, mc.Addr = s.MySQL.User, s.MySQL.Password.Reveal(), "tcp", addr
			mc.TLS = mysqlsource.TLSFor(tlsConf, addr)
			mc.Timeout = 10 * time.Second
			mc.Loc, mc.ParseTime = time.UTC, false
			mc.Params = map[string]string{"time_zone": "'+00:00'"}
			mc.Collation = "utf8mb4_general_ci"
			connector, err := gomysql.NewConnector(mc)
			if err != nil {
				return nil, err
			}
			db := sql.OpenDB(connector)
			if err := db.PingContext(ctx); err != nil {
				db.Close()
				return nil, fmt.Errorf("connect to %s: %w", addr, err)
			}
			return db, nil
		}
		// The server among the source's addresses that the source streams
		// from, picked as the source picks it.
		addrs := strings.Split(s.MySQL.Addr, ",")
		for i := range addrs {
			addrs[i] = strings.TrimSpace(addrs[i])
		}
		_, db, err := mysqlsource.OpenLeader(ctx, addrs, s.MySQL.Flavor, s.MySQL.StreamFrom == "replica", open)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", s.Name, err)
		}
		return &source{cfg: s, name: s.Name, engine: "mysql", flavor: s.MySQL.Flavor, db: db, tables: s.MySQL.Tables, raw: s.MySQL.RawCharset, signal: s.MySQL.SignalTable}, nil
	case s.External != "":
		return nil, fmt.Errorf("source %s is external (captured by another daemon): verify needs its database; run verify with that daemon's config", s.Name)
	}
	return nil, fmt.Errorf("source %s: no engine configured", s.Name)
}

// position is the source's current position: what the sink must have
// applied before the comparison starts.
func (s *source) position(ctx context.Context) (string, error) {
	q := "SELECT pg_current_wal_lsn()::text"
	if s.engine == "mysql" {
		q = "SELECT @@gtid_executed"
		if s.flavor == "mariadb" {
			q = "SELECT @@gtid_binlog_pos"
		}
	}
	var p sql.NullString
	if err := s.db.QueryRowContext(ctx, q).Scan(&p); err != nil {
		return "", fmt.Errorf("source %s: read the current position: %w", s.name, err)
	}
	return p.String, nil
}

// matches reports whether schema.table matches one of the source's table
// patterns.
func matches(patterns []string, schema, table string) bool {
	return config.MatchTable(patterns, schema, table)
}

// underMatched reports whether one of a partition's ancestors (schema
// US name, joined by RS) matches the patterns: its rows are captured
// under that ancestor.
func underMatched(patterns []string, ancestors string) bool {
	if ancestors == "" {
		return false
	}
	for _, a := range strings.Split(ancestors, "\x1e") {
		if schema, name, ok := strings.Cut(a, "\x1f"); ok && matches(patterns, schema, name) {
			return true
		}
	}
	return false
}

// listTables reads the captured tables with their columns and keys: on
// PostgreSQL the permanent tables and partitioned roots (unlogged and
// temporary tables are never in the WAL: walship check notes them), on
// MySQL base and system-versioned tables.
func (s *source) listTables(ctx context.Context) ([]Table, error) {
	var q string
	if s.engine == "postgres" {
		// A partition is captured on its own only when none of its
		// ancestors matches the patterns (as the source decides): its
		// ancestors come as schema US name, joined by RS.
		q = `SELECT n.nspname::text, c.relname::text,
				coalesce((SELECT string_agg(an.nspname || chr(31) || ac.relname, chr(30))
				          FROM pg_partition_ancestors(c.oid) a JOIN pg_class ac ON ac.oid = a.relid
				          JOIN pg_namespace an ON an.oid = ac.relnamespace WHERE a.relid <> c.oid), '')
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p'
			  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
			ORDER BY 1, 2`
	} else {
		q = `SELECT TABLE_SCHEMA, TABLE_NAME, '' FROM information_schema.TABLES WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')
			AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') ORDER BY 1, 2`
	}
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("source %s: list tables: %w", s.name, err)
	}
	var out []Table
	for rows.Next() {
		var t Table
		var ancestors string
		if err := rows.Scan(&t.Schema, &t.Name, &ancestors); err != nil {
			rows.Close()
			return nil, err
		}
		if matches(s.tables, t.Schema, t.Name) && !underMatched(s.tables, ancestors) && t.String() != s.signal {
			out = append(out, t)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if err := s.describe(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *source) describe(ctx context.Context, t *Table) error {
	if s.engine == "postgres" {
		rel := pgx.Identifier{t.Schema, t.Name}.Sanitize()
		rows, err := s.db.QueryContext(ctx, `SELECT a.attname::text, format_type(a.atttypid, a.atttypmod),
				bt.typname::text, bt.typtype::text, bt.typcategory = 'A'
			FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
			JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
			WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, rel)
		if err != nil {
			return fmt.Errorf("source %s: columns of %s: %w", s.name, t, err)
		}
		for rows.Next() {
			var c Column
			var typname, typtype string
			var isArray bool
			if err := rows.Scan(&c.Name, &c.Type, &typname, &typtype, &isArray); err != nil {
				rows.Close()
				return err
			}
			c.Kind = pgKind(typname, isArray, typtype)
			t.Columns = append(t.Columns, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		krows, err := s.db.QueryContext(ctx, `SELECT a.attname::text FROM pg_index i
			CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
			JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
			WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY k.ord`, rel)
		if err != nil {
			return fmt.Errorf("source %s: primary key of %s: %w", s.name, t, err)
		}
		return scanNames(krows, &t.Key)
	}
	// A MariaDB system-versioned table is compared by its current rows,
	// as the source publishes them: without the period columns (explicit
	// ones have GENERATION_EXPRESSION 'ROW START' / 'ROW END'; implicit
	// ones are not in COLUMNS), keyed without ROW END.
	rows, err := s.db.QueryContext(ctx, `SELECT COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, COALESCE(CHARACTER_SET_NAME, '') FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COALESCE(GENERATION_EXPRESSION, '') NOT IN ('ROW START', 'ROW END')
		ORDER BY ORDINAL_POSITION`, t.Schema, t.Name)
	if err != nil {
		return fmt.Errorf("source %s: columns of %s: %w", s.name, t, err)
	}
	for rows.Next() {
		var c Column
		var dataType, charset string
		if err := rows.Scan(&c.Name, &c.Type, &dataType, &charset); err != nil {
			rows.Close()
			return err
		}
		c.Kind = mysqlKind(dataType)
		if c.Kind == KindText && charset != "" && s.raw != nil && s.raw(charset) && !slices.Contains([]string{"enum", "set"}, strings.ToLower(dataType)) {
			c.Kind = KindBytes // captured as its bytes: read by readExpr as CAST(... AS BINARY)
		}
		t.Columns = append(t.Columns, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	krows, err := s.db.QueryContext(ctx, `SELECT s.COLUMN_NAME FROM information_schema.STATISTICS s
		WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? AND s.INDEX_NAME = 'PRIMARY'
		  AND NOT EXISTS (SELECT 1 FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = s.TABLE_SCHEMA
			AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME AND c.GENERATION_EXPRESSION IN ('ROW START', 'ROW END'))
		ORDER BY s.SEQ_IN_INDEX`, t.Schema, t.Name)
	if err != nil {
		return fmt.Errorf("source %s: primary key of %s: %w", s.name, t, err)
	}
	return scanNames(krows, &t.Key)
}

func scanNames(rows *sql.Rows, out *[]string) error {
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return err
		}
		*out = append(*out, n)
	}
	return rows.Err()
}

var errNoTable = errors.New("follower table missing")

// quoteMySQL quotes a MySQL identifier.
func quoteMySQL(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
