package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/walship/walship/config"
	"github.com/walship/walship/sinks/sqlsink"
)

// Dialect is the PostgreSQL follower dialect. It is stateless apart from
// its configuration and safe for concurrent use.
type Dialect struct {
	cfg    config.PostgresSink
	noFKey bool
	// tag: the sink whose sessions run under a replication origin of
	// their own (TagWrites); "" for none.
	tag string
}

// TagWrites makes every session Open connects run under a replication
// origin of sink's (origins.PGName), so that a source of this database
// that ignores the sink's writes can tell them (config ignore_writes_of).
// Call it before Open.
func (d *Dialect) TagWrites(sink string) { d.tag = sink }

// ForeignKeysOff makes the connections Open returns skip foreign-key
// checks (session_replication_role = replica, which also skips ordinary
// triggers, as PostgreSQL's own logical replication apply does; it needs
// superuser or the right to set it). Call it before Open. walship replay
// --tables uses it: the other tables are not at the states the log
// passes through.
func (d *Dialect) ForeignKeysOff() { d.noFKey = true }

var _ sqlsink.Dialect = (*Dialect)(nil)

// New returns the dialect of a PostgreSQL sink.
func New(cfg config.PostgresSink) *Dialect { return &Dialect{cfg: cfg} }

// Engine is "postgres".
func (d *Dialect) Engine() string { return "postgres" }

// sessionParams are sent in every connection's startup message; the value
// encodings of params.go rely on them. synchronous_commit is off, as for
// PostgreSQL's own subscriptions: commits in source order are serial, and
// a commit then does not wait for its WAL flush. It is safe because every
// follower transaction records its position in itself: a follower crash
// loses a suffix of its last commits together with their positions (WAL
// is replayed in order), and the sink applies them again on restart.
var sessionParams = map[string]string{
	"TimeZone":           "UTC",
	"DateStyle":          "ISO, MDY",
	"IntervalStyle":      "iso_8601",
	"synchronous_commit": "off",
}

// Open connects a pool through pgx's database/sql driver in simple-protocol
// mode (every parameter a text literal the server casts), with the session
// settings above, and pings the follower.
func (d *Dialect) Open(ctx context.Context) (*sql.DB, error) {
	dsn := d.cfg.DSN.Reveal()
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres sink: %s", config.DSNProblem(dsn, err))
	}
	if pw := d.cfg.Password.Reveal(); pw != "" {
		cc.Password = pw
	}
	for k, v := range sessionParams {
		cc.RuntimeParams[k] = v
	}
	if d.noFKey {
		cc.RuntimeParams["session_replication_role"] = "replica"
	}
	if cc.RuntimeParams["application_name"] == "" {
		cc.RuntimeParams["application_name"] = "walship sink"
	}
	cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	var opts []stdlib.OptionOpenDB
	if d.tag != "" {
		opts = append(opts, stdlib.OptionAfterConnect(func(ctx context.Context, conn *pgx.Conn) error {
			return setupOrigin(ctx, conn, d.tag)
		}))
	}
	db := stdlib.OpenDB(*cc, opts...)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres sink: connect to %s: %w", cc.Host, err)
	}
	return db, nil
}

// lockKey is the advisory lock key expression for sink name $1.
const lockKey = `hashtext('walship_sink:' || $1)::int8`

// lockHeld is the condition on pg_locks l of a row of sink $1's advisory
// lock in this database (the bigint key split into classid and objid).
const lockHeld = `l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
		  AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
		  AND l.classid::int8 = ((` + lockKey + ` >> 32) & 4294967295) AND l.objid::int8 = (` + lockKey + ` & 4294967295)`

// Lock takes pg_try_advisory_lock on a connection of its own, named
// "walship sink <name>" in pg_stat_activity, with idle_session_timeout
// off, kept until Release.
func (d *Dialect) Lock(ctx context.Context, db *sql.DB, sink string) (sqlsink.Lease, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres sink: lock session: %w", err)
	}
	var pid int64
	var start string
	if err := conn.QueryRowContext(ctx, `SELECT pg_catalog.set_config('application_name', $1, false),
		pg_catalog.set_config('idle_session_timeout', '0', false), a.pid, a.backend_start::text
		FROM pg_catalog.pg_stat_get_activity(pg_catalog.pg_backend_pid()) a`,
		"walship sink "+sink).Scan(new(string), new(string), &pid, &start); err != nil {
		discard(conn)
		return nil, fmt.Errorf("postgres sink: lock session: %w", err)
	}
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_catalog.pg_try_advisory_lock(`+lockKey+`)`, sink).Scan(&got); err != nil {
		discard(conn)
		return nil, fmt.Errorf("postgres sink: take advisory lock: %w", err)
	}
	if !got {
		holder := lockHolder(ctx, conn, sink)
		discard(conn)
		return nil, fmt.Errorf("%w: sink %s: PostgreSQL advisory lock held by %s", sqlsink.ErrLocked, sink, holder)
	}
	return &lease{conn: conn, sink: sink, pid: pid, start: start}, nil
}

// Evict ends the session holding sink's advisory lock
// (pg_terminate_backend), if any.
func (d *Dialect) Evict(ctx context.Context, db *sql.DB, sink string) (string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	holder := lockHolder(ctx, conn, sink)
	var pid sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT l.pid FROM pg_catalog.pg_locks l WHERE `+lockHeld+` AND l.pid <> pg_catalog.pg_backend_pid() LIMIT 1`, sink).Scan(&pid); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil
		}
		return "", err
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_catalog.pg_terminate_backend($1)`, pid.Int64); err != nil {
		return "", err
	}
	return holder, nil
}

// lease is a held advisory lock: its session, that session's pid and
// start time (a pid is reused only by a later session).
type lease struct {
	conn  *sql.Conn
	sink  string
	pid   int64
	start string
	once  sync.Once
}

// Check asks the lock's own session whether it still holds the lock.
func (l *lease) Check(ctx context.Context) error {
	var held bool
	err := l.conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks l WHERE `+lockHeld+` AND l.pid = pg_catalog.pg_backend_pid())`,
		l.sink).Scan(&held)
	return l.lost(held, err)
}

// Fence asks, inside tx, whether the lock's session still holds the lock:
// someone holds it exclusively (a shared try fails) and the lock's session
// is still there (its pid with its start time). That session never unlocks
// while it lives, so the holder is this process. (pg_locks would say so
// directly but costs over a millisecond a commit.) A lock found free stays
// free of other holders until tx ends: the shared try took it.
func (l *lease) Fence(ctx context.Context, tx *sql.Tx) error {
	var free, alive bool
	err := tx.QueryRowContext(ctx, `SELECT pg_catalog.pg_try_advisory_xact_lock_shared(`+lockKey+`),
		EXISTS (SELECT 1 FROM pg_catalog.pg_stat_get_activity($2) a WHERE a.backend_start::text = $3)`,
		l.sink, l.pid, l.start).Scan(&free, &alive)
	switch {
	case err != nil:
		return err // the transaction's own failure, classified by Retryable
	case free:
		return fmt.Errorf("%w: sink %s: the PostgreSQL advisory lock is free: its session (pid %d) ended", sqlsink.ErrLockLost, l.sink, l.pid)
	case !alive:
		return fmt.Errorf("%w: sink %s: the advisory lock's session (pid %d) ended; the lock is held by another session", sqlsink.ErrLockLost, l.sink, l.pid)
	}
	return nil
}

func (l *lease) lost(held bool, err error) error {
	switch {
	case err != nil:
		return fmt.Errorf("%w: sink %s: the advisory lock's session (pid %d) failed: %w", sqlsink.ErrLockLost, l.sink, l.pid, err)
	case !held:
		return fmt.Errorf("%w: sink %s: the PostgreSQL advisory lock is no longer held by its session (pid %d)", sqlsink.ErrLockLost, l.sink, l.pid)
	}
	return nil
}

// Release unlocks and closes the session.
func (l *lease) Release() {
	l.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = l.conn.ExecContext(ctx, `SELECT pg_catalog.pg_advisory_unlock(`+lockKey+`)`, l.sink)
		discard(l.conn) // closing the session releases the lock in any case
	})
}

// lockHolder describes the session holding sink's lock, as far as
// pg_locks and pg_stat_activity tell.
func lockHolder(ctx context.Context, conn *sql.Conn, sink string) string {
	var pid int64
	var app, client string
	err := conn.QueryRowContext(ctx, `SELECT l.pid, COALESCE(a.application_name, ''), COALESCE(host(a.client_addr), 'local socket')
		FROM pg_catalog.pg_locks l LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
		WHERE `+lockHeld+`
		LIMIT 1`, sink).Scan(&pid, &app, &client)
	if err != nil {
		return "another session (not visible in pg_locks)"
	}
	return fmt.Sprintf("pid %d (application_name %q, client %s)", pid, app, client)
}

// discard closes conn's session instead of returning it to the pool.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}

// Target keeps the source's schema and table.
func (d *Dialect) Target(schema, table string) sqlsink.Name {
	return sqlsink.Name{Schema: schema, Table: table}
}

// QuoteIdent double-quotes s, doubling embedded quotes.
func (d *Dialect) QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// QuoteName quotes schema and table.
func (d *Dialect) QuoteName(n sqlsink.Name) string {
	if n.Schema == "" {
		return d.QuoteIdent(n.Table)
	}
	return d.QuoteIdent(n.Schema) + "." + d.QuoteIdent(n.Table)
}

// Placeholder is $i+1.
func (d *Dialect) Placeholder(i int) string { return "$" + strconv.Itoa(i+1) }

// NullSafeEqual is IS NOT DISTINCT FROM.
func (d *Dialect) NullSafeEqual(col, ph string) string { return col + " IS NOT DISTINCT FROM " + ph }

// Columns reads the columns of n (a table or partitioned table) with
// format_type names. Names resolve like the DML does (to_regclass), so an
// over-long identifier truncated by the server still matches.
func (d *Dialect) Columns(ctx context.Context, tx *sql.Tx, n sqlsink.Name) ([]sqlsink.FollowerColumn, bool, error) {
	var oid int64
	err := tx.QueryRowContext(ctx, `SELECT c.oid::int8 FROM pg_catalog.pg_class c
		WHERE c.oid = pg_catalog.to_regclass($1) AND c.relkind IN ('r', 'p')`, d.QuoteName(n)).Scan(&oid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("postgres sink: look up table %s: %w", n, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), NOT a.attnotnull
		FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, oid)
	if err != nil {
		return nil, false, fmt.Errorf("postgres sink: read columns of %s: %w", n, err)
	}
	defer rows.Close()
	var cols []sqlsink.FollowerColumn
	for rows.Next() {
		var c sqlsink.FollowerColumn
		if err := rows.Scan(&c.Name, &c.Type, &c.Nullable); err != nil {
			return nil, false, fmt.Errorf("postgres sink: read columns of %s: %w", n, err)
		}
		c.Type = lowerUnquoted(c.Type)
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("postgres sink: read columns of %s: %w", n, err)
	}
	return cols, true, nil
}

// lowerUnquoted lower-cases s outside double quotes.
func lowerUnquoted(s string) string {
	b, quoted := []byte(s), false
	for i, c := range b {
		switch {
		case c == '"':
			quoted = !quoted
		case !quoted && c >= 'A' && c <= 'Z':
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func (d *Dialect) columnDef(c sqlsink.ColumnDef) string {
	s := d.QuoteIdent(c.Name) + " " + c.Type
	if c.NotNull {
		s += " NOT NULL"
	}
	return s
}

func (d *Dialect) identList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = d.QuoteIdent(n)
	}
	return strings.Join(q, ", ")
}

// CreateTable creates the schema if needed, then the table.
func (d *Dialect) CreateTable(n sqlsink.Name, cols []sqlsink.ColumnDef, primaryKey []string) []string {
	var stmts []string
	if n.Schema != "" {
		stmts = append(stmts, "CREATE SCHEMA IF NOT EXISTS "+d.QuoteIdent(n.Schema))
	}
	defs := make([]string, 0, len(cols)+1)
	for _, c := range cols {
		defs = append(defs, d.columnDef(c))
	}
	if len(primaryKey) > 0 {
		defs = append(defs, "PRIMARY KEY ("+d.identList(primaryKey)+")")
	}
	return append(stmts, "CREATE TABLE IF NOT EXISTS "+d.QuoteName(n)+" ("+strings.Join(defs, ", ")+")")
}

// AddColumn is ALTER TABLE … ADD COLUMN IF NOT EXISTS [DEFAULT literal]
// (a constant default is stored once, not written into every row).
func (d *Dialect) AddColumn(n sqlsink.Name, c sqlsink.ColumnDef) string {
	s := "ALTER TABLE " + d.QuoteName(n) + " ADD COLUMN IF NOT EXISTS " + d.columnDef(c)
	if c.Default != "" {
		s += " DEFAULT " + c.Default
	}
	return s
}

// DropNotNull is ALTER COLUMN … DROP NOT NULL.
func (d *Dialect) DropNotNull(n sqlsink.Name, c sqlsink.ColumnDef) string {
	return "ALTER TABLE " + d.QuoteName(n) + " ALTER COLUMN " + d.QuoteIdent(c.Name) + " DROP NOT NULL"
}

// DropColumn is ALTER TABLE … DROP COLUMN IF EXISTS.
func (d *Dialect) DropColumn(n sqlsink.Name, column string) string {
	return "ALTER TABLE " + d.QuoteName(n) + " DROP COLUMN IF EXISTS " + d.QuoteIdent(column)
}

// Truncate is TRUNCATE TABLE, which is transactional in PostgreSQL.
func (d *Dialect) Truncate(n sqlsink.Name) string { return "TRUNCATE TABLE " + d.QuoteName(n) }

// RenameTable is ALTER TABLE … RENAME TO, within one schema.
func (d *Dialect) RenameTable(from, to sqlsink.Name) string {
	if from.Schema != to.Schema {
		return ""
	}
	return "ALTER TABLE " + d.QuoteName(from) + " RENAME TO " + d.QuoteIdent(to.Table)
}

// TruncateTables is one TRUNCATE TABLE of every table in ns: PostgreSQL
// refuses to truncate a table a foreign key references unless the
// referencing table is named in the same statement.
func (d *Dialect) TruncateTables(ns []sqlsink.Name) string {
	names := make([]string, len(ns))
	for i, n := range ns {
		names[i] = d.QuoteName(n)
	}
	return "TRUNCATE TABLE " + strings.Join(names, ", ")
}

// Upsert is a multi-row INSERT … ON CONFLICT (key) DO UPDATE SET c =
// EXCLUDED.c for the non-key columns (DO NOTHING when every column is a
// key column); a plain INSERT without a key. One statement must not carry
// two rows with the same key (PostgreSQL rejects it).
func (d *Dialect) Upsert(n sqlsink.Name, cols []string, key []string, rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + d.QuoteName(n) + " (" + d.identList(cols) + ") VALUES ")
	p := 0
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for i := range cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(d.Placeholder(p))
			p++
		}
		b.WriteByte(')')
	}
	if len(key) > 0 {
		b.WriteString(d.conflict(cols, key))
	}
	return b.String()
}

// conflict is the ON CONFLICT clause of an upsert of cols by key.
func (d *Dialect) conflict(cols, key []string) string {
	var sets []string
	for _, c := range cols {
		if !contains(key, c) {
			q := d.QuoteIdent(c)
			sets = append(sets, q+" = EXCLUDED."+q)
		}
	}
	if len(sets) == 0 {
		return " ON CONFLICT (" + d.identList(key) + ") DO NOTHING"
	}
	return " ON CONFLICT (" + d.identList(key) + ") DO UPDATE SET " + strings.Join(sets, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// BlocksOthersQuery implements sqlsink.LockProbe: a backend waiting for a
// lock that this session holds (pg_blocking_pids of each waiting lock).
func (d *Dialect) BlocksOthersQuery() string {
	return `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks l WHERE NOT l.granted AND l.pid <> pg_backend_pid()
		AND pg_backend_pid() = ANY (pg_catalog.pg_blocking_pids(l.pid)))`
}

// MetaTables creates the schema walship and its positions and applied
// tables. Key columns use the "C" collation: byte order (seq text order is
// sequence order) and exact equality, whatever the database's default
// collation.
func (d *Dialect) MetaTables() []string {
	q := d.QuoteIdent
	pos, app := sqlsink.MetaNames("postgres")
	keys := q("sink") + ` text COLLATE "C" NOT NULL, ` + q("source") + ` text COLLATE "C" NOT NULL, ` +
		q("seq") + ` text COLLATE "C" NOT NULL, `
	return []string{
		"CREATE SCHEMA IF NOT EXISTS " + q(sqlsink.MetaSchema),
		"CREATE TABLE IF NOT EXISTS " + d.QuoteName(pos) + " (" + keys + q("position") + " text, " +
			q("commit_ts") + " text, " + q("offsets") + " text, " + q("applied_at") + " text, " +
			"PRIMARY KEY (" + q("sink") + ", " + q("source") + "))",
		"CREATE TABLE IF NOT EXISTS " + d.QuoteName(app) + " (" + keys + q("position") + " text, " +
			q("commit_ts") + " text, PRIMARY KEY (" + q("sink") + ", " + q("source") + ", " + q("seq") + "))",
	}
}

// retryableCodes are SQLSTATEs of the server's state, not of the statement.
var retryableCodes = map[string]bool{
	"57P01": true, "57P02": true, "57P03": true, // admin/crash shutdown, cannot connect now
	"40001": true, "40P01": true, // serialization failure, deadlock
	"55P03": true, // lock not available
	"53300": true, // too many connections
}

// Retryable: SQLSTATE class 08 and the codes above, and connection-level
// failures (network errors, EOF, a bad or closed connection, pgx's
// safe-to-retry and timeout errors). Data (22), integrity (23), syntax and
// undefined objects (42) and every other server error are not.
func (d *Dialect) Retryable(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || retryableCodes[pe.Code]
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	return errors.As(err, &ne) || errors.As(err, &ce)
}

// Redact describes a server error without row values. PostgreSQL puts a
// conflicting row's values in the error's detail, which is never shown;
// only data exceptions (SQLSTATE class 22: invalid input syntax, out of
// range) quote the value in the message itself, after a colon: that part
// is dropped. "" for errors that are not the server's.
func (d *Dialect) Redact(err error) string {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return ""
	}
	msg := pe.Message
	if strings.HasPrefix(pe.Code, "22") {
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[:i] + ": (value redacted)"
		}
	}
	return fmt.Sprintf("%s: %s (SQLSTATE %s)", pe.Severity, msg, pe.Code)
}

// Code is the SQLSTATE of a server error, or "".
func (d *Dialect) Code(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// MultiUpdate implements sqlsink.MultiUpdater: UPDATE … FROM (VALUES …),
// each value cast to its column's follower type.
func (d *Dialect) MultiUpdate(n sqlsink.Name, key, cols []string, types map[string]string, rows int) string {
	var b strings.Builder
	b.WriteString("UPDATE " + d.QuoteName(n) + " AS _w SET ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.QuoteIdent(c) + " = _v." + d.QuoteIdent(c))
	}
	b.WriteString(" FROM (VALUES ")
	all := append(slices.Clone(key), cols...)
	p := 0
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for i, c := range all {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(d.Placeholder(p))
			if typ := types[c]; typ != "" {
				b.WriteString("::" + typ)
			}
			p++
		}
		b.WriteByte(')')
	}
	b.WriteString(") AS _v (" + d.identList(all) + ") WHERE ")
	for i, k := range key {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString("_w." + d.QuoteIdent(k) + " = _v." + d.QuoteIdent(k))
	}
	return b.String()
}
