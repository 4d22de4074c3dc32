package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/mattn/go-sqlite3"

	"github.com/walship/walship/config"
	"github.com/walship/walship/sinks/sqlsink"
)

// Dialect is the SQLite follower dialect: stateless apart from its
// configuration, safe for concurrent use.
type Dialect struct {
	cfg    config.SQLiteSink
	noFKey bool
}

// ForeignKeysOff makes the connection Open returns skip foreign-key
// checks (PRAGMA foreign_keys = OFF). Call it before Open (replay
// --tables).
func (d *Dialect) ForeignKeysOff() { d.noFKey = true }

var _ sqlsink.Dialect = (*Dialect)(nil)

// New returns the dialect of a SQLite sink.
func New(cfg config.SQLiteSink) *Dialect { return &Dialect{cfg: cfg} }

// Engine is "sqlite".
func (d *Dialect) Engine() string { return "sqlite" }

// connParams are go-sqlite3's DSN parameters: WAL, full fsync at commit,
// foreign keys on, 10 s of waiting for a busy file, and BEGIN IMMEDIATE so
// a transaction takes the write lock up front instead of failing later.
const connParams = "_journal_mode=WAL&_synchronous=FULL&_foreign_keys=on&_busy_timeout=10000&_txlock=immediate"

// uriEscaper escapes what a file: URI would misread in a path.
var uriEscaper = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// Open opens (creating if needed) the database file with one connection:
// SQLite has one writer, so the sink's workers take turns.
func (d *Dialect) Open(ctx context.Context) (*sql.DB, error) {
	if d.cfg.Path == "" {
		return nil, errors.New("sqlite sink: no path")
	}
	params := connParams
	if d.noFKey {
		params = strings.Replace(params, "_foreign_keys=on", "_foreign_keys=off", 1)
	}
	db, err := sql.Open("sqlite3", "file:"+uriEscaper.Replace(d.cfg.Path)+"?"+params)
	if err != nil {
		return nil, fmt.Errorf("sqlite sink: open %s: %w", d.cfg.Path, err)
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite sink: open %s: %w", d.cfg.Path, err)
	}
	return db, nil
}

// Lock takes an exclusive flock on <path>.walship-lock, held until Release
// (or until the process exits). The lock is per database file, whatever
// the sink's name: one walship sink writes a SQLite file. The holder's pid
// is written into the file for the ErrLocked message.
func (d *Dialect) Lock(_ context.Context, _ *sql.DB, sink string) (sqlsink.Lease, error) {
	path := d.cfg.Path + ".walship-lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sqlite sink: lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := "another process"
		if b, rerr := os.ReadFile(path); rerr == nil && len(b) > 0 && len(b) < 100 {
			holder = strings.TrimSpace(string(b))
		}
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: sink %s: %s is locked by %s", sqlsink.ErrLocked, sink, path, holder)
		}
		return nil, fmt.Errorf("sqlite sink: lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte("pid "+strconv.Itoa(os.Getpid())+" (sink "+sink+")\n"), 0)
	}
	return &lease{f: f, path: path, sink: sink}, nil
}

// lease is a held flock. The lock is the process's own and cannot be
// taken from it; what can happen is the lock file being removed or
// replaced, after which another process would lock the new file.
type lease struct {
	f          *os.File
	path, sink string
	once       sync.Once
}

// Check verifies that the path still names the locked file.
func (l *lease) Check(context.Context) error {
	held, err := l.f.Stat()
	if err != nil {
		return fmt.Errorf("%w: sink %s: lock file %s: %w", sqlsink.ErrLockLost, l.sink, l.path, err)
	}
	now, err := os.Stat(l.path)
	if err != nil || !os.SameFile(held, now) {
		return fmt.Errorf("%w: sink %s: lock file %s was removed or replaced", sqlsink.ErrLockLost, l.sink, l.path)
	}
	return nil
}

// Fence is Check: the flock is the process's, not a session's.
func (l *lease) Fence(ctx context.Context, _ *sql.Tx) error { return l.Check(ctx) }

// Release unlocks and closes the lock file.
func (l *lease) Release() {
	l.once.Do(func() {
		_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		_ = l.f.Close()
	})
}

// Target is the table name alone: the file is the namespace.
func (d *Dialect) Target(_, table string) sqlsink.Name { return sqlsink.Name{Table: table} }

// QuoteIdent double-quotes s, doubling embedded quotes.
func (d *Dialect) QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// QuoteName quotes [schema.]table (a schema is an attached database).
func (d *Dialect) QuoteName(n sqlsink.Name) string {
	if n.Schema == "" {
		return d.QuoteIdent(n.Table)
	}
	return d.QuoteIdent(n.Schema) + "." + d.QuoteIdent(n.Table)
}

// Placeholder is ?.
func (d *Dialect) Placeholder(int) string { return "?" }

// NullSafeEqual is IS.
func (d *Dialect) NullSafeEqual(col, ph string) string { return col + " IS " + ph }

// Columns reads PRAGMA table_info; declared types are lower-cased.
func (d *Dialect) Columns(ctx context.Context, tx *sql.Tx, n sqlsink.Name) ([]sqlsink.FollowerColumn, bool, error) {
	schema := "main"
	if n.Schema != "" {
		schema = n.Schema
	}
	var one int
	err := tx.QueryRowContext(ctx, "SELECT 1 FROM "+d.QuoteIdent(schema)+".sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
		n.Table).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("sqlite sink: look up table %s: %w", n, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT name, type, "notnull" FROM pragma_table_info(?, ?) ORDER BY cid`, n.Table, schema)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite sink: read columns of %s: %w", n, err)
	}
	defer rows.Close()
	var cols []sqlsink.FollowerColumn
	for rows.Next() {
		var c sqlsink.FollowerColumn
		var notNull bool
		if err := rows.Scan(&c.Name, &c.Type, &notNull); err != nil {
			return nil, false, fmt.Errorf("sqlite sink: read columns of %s: %w", n, err)
		}
		c.Type, c.Nullable = strings.ToLower(c.Type), !notNull
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("sqlite sink: read columns of %s: %w", n, err)
	}
	return cols, true, nil
}

func (d *Dialect) identList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = d.QuoteIdent(n)
	}
	return strings.Join(q, ", ")
}

// CreateTable creates every column nullable, whatever NotNull says: SQLite
// cannot drop a NOT NULL constraint without rebuilding the table, and the
// source already enforces it.
func (d *Dialect) CreateTable(n sqlsink.Name, cols []sqlsink.ColumnDef, primaryKey []string) []string {
	defs := make([]string, 0, len(cols)+1)
	for _, c := range cols {
		defs = append(defs, d.QuoteIdent(c.Name)+" "+c.Type)
	}
	if len(primaryKey) > 0 {
		defs = append(defs, "PRIMARY KEY ("+d.identList(primaryKey)+")")
	}
	return []string{"CREATE TABLE IF NOT EXISTS " + d.QuoteName(n) + " (" + strings.Join(defs, ", ") + ")"}
}

// AddColumn adds a nullable column (SQLite DDL is transactional), with a
// constant default its existing rows read (converted by the column's
// affinity, as a bound value is).
func (d *Dialect) AddColumn(n sqlsink.Name, c sqlsink.ColumnDef) string {
	s := "ALTER TABLE " + d.QuoteName(n) + " ADD COLUMN " + d.QuoteIdent(c.Name) + " " + c.Type
	if c.Default != "" {
		s += " DEFAULT " + c.Default
	}
	return s
}

// DropNotNull does nothing ("SELECT 1"): walship's SQLite columns are never
// NOT NULL (see CreateTable), and SQLite cannot drop the constraint of a
// table created elsewhere; a NULL then fails that table's inserts loudly.
func (d *Dialect) DropNotNull(sqlsink.Name, sqlsink.ColumnDef) string { return "SELECT 1" }

// DropColumn is ALTER TABLE … DROP COLUMN (SQLite 3.35+).
func (d *Dialect) DropColumn(n sqlsink.Name, column string) string {
	return "ALTER TABLE " + d.QuoteName(n) + " DROP COLUMN " + d.QuoteIdent(column)
}

// Truncate is DELETE FROM (SQLite has no TRUNCATE).
func (d *Dialect) Truncate(n sqlsink.Name) string { return "DELETE FROM " + d.QuoteName(n) }

// RenameTable is ALTER TABLE … RENAME TO.
func (d *Dialect) RenameTable(from, to sqlsink.Name) string {
	return "ALTER TABLE " + d.QuoteName(from) + " RENAME TO " + d.QuoteName(to)
}

// Upsert is a multi-row INSERT … ON CONFLICT (key) DO UPDATE SET c =
// excluded.c (DO NOTHING when every column is a key column); a plain
// INSERT without a key.
func (d *Dialect) Upsert(n sqlsink.Name, cols []string, key []string, rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + d.QuoteName(n) + " (" + d.identList(cols) + ") VALUES ")
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	if len(key) == 0 {
		return b.String()
	}
	var sets []string
	for _, c := range cols {
		if !slices.Contains(key, c) {
			q := d.QuoteIdent(c)
			sets = append(sets, q+" = excluded."+q)
		}
	}
	b.WriteString(" ON CONFLICT (" + d.identList(key) + ") DO ")
	if len(sets) == 0 {
		b.WriteString("NOTHING")
	} else {
		b.WriteString("UPDATE SET " + strings.Join(sets, ", "))
	}
	return b.String()
}

// MetaTables creates walship's positions and applied tables.
func (d *Dialect) MetaTables() []string {
	q := d.QuoteIdent
	pos, app := sqlsink.MetaNames("sqlite")
	keys := q("sink") + " TEXT NOT NULL, " + q("source") + " TEXT NOT NULL, " + q("seq") + " TEXT NOT NULL, "
	return []string{
		"CREATE TABLE IF NOT EXISTS " + d.QuoteName(pos) + " (" + keys + q("position") + " TEXT, " +
			q("commit_ts") + " TEXT, " + q("offsets") + " TEXT, " + q("applied_at") + " TEXT, " +
			"PRIMARY KEY (" + q("sink") + ", " + q("source") + "))",
		"CREATE TABLE IF NOT EXISTS " + d.QuoteName(app) + " (" + keys + q("position") + " TEXT, " +
			q("commit_ts") + " TEXT, PRIMARY KEY (" + q("sink") + ", " + q("source") + ", " + q("seq") + "))",
	}
}

// Retryable is true for SQLITE_BUSY and SQLITE_LOCKED (another
// connection or process holds the file): anything else is not.
func (d *Dialect) Retryable(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked
	}
	return false
}

// Code is SQLite's extended result code, e.g. "2067" for
// SQLITE_CONSTRAINT_UNIQUE, or "".
func (d *Dialect) Code(err error) string {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return strconv.Itoa(int(se.ExtendedCode))
	}
	return ""
}
