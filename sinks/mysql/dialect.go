package mysql

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/walship/walship/config"
	"github.com/walship/walship/sinks/sqlsink"
)

// Dialect is the MySQL/MariaDB follower dialect. Open learns the server's
// flavor, which picks the table collation, DECIMAL's largest scale and
// whether DDL may say IF [NOT] EXISTS; until then it assumes MariaDB.
type Dialect struct {
	cfg    config.MySQLSink
	noFKey bool
	mu     sync.Mutex
	srv    serverInfo
	// noLoad: the server or client refused LOAD DATA LOCAL (loadRefused);
	// BulkLoad declines at once from then on.
	noLoad atomic.Bool
	// serverID: every session writes with this server_id (TagWrites); 0
	// for the server's own.
	serverID uint32
}

// TagWrites makes every session Open connects write with server_id id
// (SET SESSION server_id, which needs SUPER or, on MariaDB, the right to
// set it), carried by each binlog event, so that a source of this
// database that ignores the sink's writes can tell them (config
// ignore_writes_of, origins.ServerID). Call it before Open.
func (d *Dialect) TagWrites(id uint32) { d.serverID = id }

// ForeignKeysOff makes the connections Open returns skip foreign-key
// checks (foreign_key_checks = 0). Call it before Open (replay --tables).
func (d *Dialect) ForeignKeysOff() { d.noFKey = true }

type serverInfo struct {
	mariadb   bool
	collation string // the tables' binary collation
	maxScale  int    // DECIMAL's largest scale
}

var mariaDB = serverInfo{mariadb: true, collation: "utf8mb4_nopad_bin", maxScale: 38}

var _ sqlsink.Dialect = (*Dialect)(nil)

// New returns the dialect of a MySQL or MariaDB sink.
func New(cfg config.MySQLSink) *Dialect { return &Dialect{cfg: cfg, srv: mariaDB} }

func (d *Dialect) server() serverInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.srv
}

// Engine is "mysql".
func (d *Dialect) Engine() string { return "mysql" }

// sqlMode is strict (errors instead of truncation), keeps zero dates
// possible (no NO_ZERO_DATE/NO_ZERO_IN_DATE), stores 0 into AUTO_INCREMENT
// columns as 0, and leaves backslash escapes and backtick quoting on.
const sqlMode = "STRICT_TRANS_TABLES,STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO"

// Open connects a pool to the DSN's database with interpolated parameters,
// text results, charset utf8mb4, time_zone '+00:00' and the strict
// sql_mode above, pings it and reads the server's flavor.
func (d *Dialect) Open(ctx context.Context) (*sql.DB, error) {
	dsn := d.cfg.DSN.Reveal()
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("mysql sink: dsn (%s) is not a go-sql-driver DSN like user:password@tcp(host:3306)/db",
			config.RedactDSN(dsn))
	}
	if mc.DBName == "" {
		return nil, fmt.Errorf("mysql sink: dsn (%s) names no database: end it with the follower database, as in user@tcp(%s)/replica",
			config.RedactDSN(dsn), mc.Addr)
	}
	if pw := d.cfg.Password.Reveal(); pw != "" {
		mc.Passwd = pw
	}
	mc.ParseTime, mc.InterpolateParams, mc.Loc = false, true, time.UTC
	// Rows affected counts matched rows, so an UPDATE that sets the values a
	// row already has still proves the row is there.
	mc.ClientFoundRows = true
	if mc.Params == nil {
		mc.Params = map[string]string{}
	}
	mc.Params["time_zone"] = "'+00:00'"
	mc.Params["sql_mode"] = "'" + sqlMode + "'"
	if d.noFKey {
		mc.Params["foreign_key_checks"] = "0"
	}
	if d.serverID != 0 {
		mc.Params["server_id"] = strconv.FormatUint(uint64(d.serverID), 10)
	}
	if err := mc.Apply(mysql.Charset("utf8mb4", "")); err != nil {
		return nil, fmt.Errorf("mysql sink: %w", err)
	}
	connector, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("mysql sink: %w", err)
	}
	db := sql.OpenDB(connector)
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		_ = db.Close()
		var me *mysql.MySQLError
		if d.serverID != 0 && errors.As(err, &me) && me.Number == 1227 {
			return nil, fmt.Errorf("mysql sink: connect to %s: a source ignores this sink's writes (ignore_writes_of), so its sessions write with server_id %d, which the follower's user may not set: %w; grant SUPER (MariaDB: or run the sink as a user that may set session server_id)", mc.Addr, d.serverID, err)
		}
		return nil, fmt.Errorf("mysql sink: connect to %s: %w", mc.Addr, err)
	}
	srv := mariaDB
	if !strings.Contains(strings.ToLower(version), "mariadb") {
		srv = serverInfo{collation: "utf8mb4_bin", maxScale: 30}
		if major, _, _ := strings.Cut(version, "."); atoi(major) >= 8 {
			srv.collation = "utf8mb4_0900_bin"
		}
	}
	d.mu.Lock()
	d.srv = srv
	d.mu.Unlock()
	return db, nil
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// lockName is the GET_LOCK name of a sink; MySQL limits names to 64
// characters, so long sink names are hashed.
func lockName(sink string) string {
	name := "walship_sink:" + sink
	if len(name) > 64 {
		sum := sha256.Sum256([]byte(sink))
		name = "walship_sink:" + hex.EncodeToString(sum[:])[:40]
	}
	return name
}

// lockWaitTimeout is the lock session's wait_timeout: the server's idle
// timeout must not end it (Lease.Check also runs a statement on it every
// few seconds).
const lockWaitTimeout = 31536000

// Lock takes GET_LOCK('walship_sink:<database>:<name>', 0) on a connection
// of its own, with a year's wait_timeout, held until Release.
func (d *Dialect) Lock(ctx context.Context, db *sql.DB, sink string) (sqlsink.Lease, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("mysql sink: lock session: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION wait_timeout = "+strconv.Itoa(lockWaitTimeout)); err != nil {
		discard(conn)
		return nil, fmt.Errorf("mysql sink: lock session: %w", err)
	}
	// GET_LOCK names are server-wide: the database is part of the name, so
	// sinks of the same name on other databases do not collide.
	var database sql.NullString
	var id int64
	if err := conn.QueryRowContext(ctx, "SELECT DATABASE(), CONNECTION_ID()").Scan(&database, &id); err != nil {
		discard(conn)
		return nil, fmt.Errorf("mysql sink: lock session: %w", err)
	}
	name := lockName(database.String + ":" + sink)
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", name).Scan(&got); err != nil || !got.Valid {
		discard(conn)
		return nil, fmt.Errorf("mysql sink: GET_LOCK: %w", errors.Join(err, errors.New("lock not granted")))
	}
	if got.Int64 != 1 {
		holder := lockHolder(ctx, conn, name)
		discard(conn)
		return nil, fmt.Errorf("%w: sink %s: MySQL lock %s held by %s", sqlsink.ErrLocked, sink, name, holder)
	}
	return &lease{conn: conn, sink: sink, name: name, id: id}, nil
}

// Evict ends the connection holding sink's lock (KILL), if any.
func (d *Dialect) Evict(ctx context.Context, db *sql.DB, sink string) (string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	var database sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&database); err != nil {
		return "", err
	}
	name := lockName(database.String + ":" + sink)
	holder := lockHolder(ctx, conn, name)
	var id sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", name).Scan(&id); err != nil {
		return "", err
	}
	if !id.Valid {
		return "", nil
	}
	if _, err := conn.ExecContext(ctx, "KILL CONNECTION "+strconv.FormatInt(id.Int64, 10)); err != nil {
		return "", err
	}
	return holder, nil
}

// lease is a held GET_LOCK: its session and that session's connection id.
type lease struct {
	conn       *sql.Conn
	sink, name string
	id         int64
	once       sync.Once
}

// Check asks the lock's own session whether it still holds the lock.
func (l *lease) Check(ctx context.Context) error {
	var holder sql.NullInt64
	err := l.conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", l.name).Scan(&holder)
	if err != nil {
		return fmt.Errorf("%w: sink %s: the session of lock %s (connection id %d) failed: %w", sqlsink.ErrLockLost, l.sink, l.name, l.id, err)
	}
	return l.heldBy(holder)
}

// Fence asks, inside tx, whether the lock's session (by connection id)
// still holds the lock.
func (l *lease) Fence(ctx context.Context, tx *sql.Tx) error {
	var holder sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", l.name).Scan(&holder); err != nil {
		return err // the transaction's own failure, classified by Retryable
	}
	return l.heldBy(holder)
}

func (l *lease) heldBy(holder sql.NullInt64) error {
	switch {
	case !holder.Valid:
		return fmt.Errorf("%w: sink %s: lock %s is free: its session (connection id %d) ended", sqlsink.ErrLockLost, l.sink, l.name, l.id)
	case holder.Int64 != l.id:
		return fmt.Errorf("%w: sink %s: lock %s is held by connection id %d, not by its session (connection id %d)",
			sqlsink.ErrLockLost, l.sink, l.name, holder.Int64, l.id)
	}
	return nil
}

// Release gives the lock back and closes the session.
func (l *lease) Release() {
	l.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = l.conn.ExecContext(ctx, "DO RELEASE_LOCK(?)", l.name)
		discard(l.conn) // a closed session releases the lock in any case
	})
}

// lockHolder names the connection holding the lock (IS_USED_LOCK), with its
// user and host when PROCESSLIST shows them.
func lockHolder(ctx context.Context, conn *sql.Conn, name string) string {
	var id sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", name).Scan(&id); err != nil || !id.Valid {
		return "another session (released meanwhile?)"
	}
	var user, host string
	err := conn.QueryRowContext(ctx, "SELECT USER, HOST FROM information_schema.PROCESSLIST WHERE ID = ?", id.Int64).Scan(&user, &host)
	if err != nil {
		return fmt.Sprintf("connection id %d", id.Int64)
	}
	return fmt.Sprintf("connection id %d (%s@%s)", id.Int64, user, host)
}

// discard closes conn's session instead of returning it to the pool.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}

// Target drops the source schema: the sink's database is the namespace.
func (d *Dialect) Target(_, table string) sqlsink.Name { return sqlsink.Name{Table: table} }

// QuoteIdent backquotes s, doubling embedded backquotes.
func (d *Dialect) QuoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// QuoteName quotes [database.]table.
func (d *Dialect) QuoteName(n sqlsink.Name) string {
	if n.Schema == "" {
		return d.QuoteIdent(n.Table)
	}
	return d.QuoteIdent(n.Schema) + "." + d.QuoteIdent(n.Table)
}

// Placeholder is ?.
func (d *Dialect) Placeholder(int) string { return "?" }

// NullSafeEqual is <=>.
func (d *Dialect) NullSafeEqual(col, ph string) string { return col + " <=> " + ph }

// Columns reads information_schema.COLUMNS of n in the current database
// (or n.Schema). Table names match exactly when such a table exists, else
// case-insensitively (lower_case_table_names).
func (d *Dialect) Columns(ctx context.Context, tx *sql.Tx, n sqlsink.Name) ([]sqlsink.FollowerColumn, bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT t.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE
		FROM information_schema.TABLES t LEFT JOIN information_schema.COLUMNS c
		  ON c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME
		WHERE t.TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND t.TABLE_NAME = ? AND t.TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')
		ORDER BY t.TABLE_NAME, c.ORDINAL_POSITION`, n.Schema, n.Table)
	if err != nil {
		return nil, false, fmt.Errorf("mysql sink: read columns of %s: %w", n, err)
	}
	defer rows.Close()
	byTable := map[string][]sqlsink.FollowerColumn{}
	for rows.Next() {
		var table string
		var name, typ, nullable sql.NullString
		if err := rows.Scan(&table, &name, &typ, &nullable); err != nil {
			return nil, false, fmt.Errorf("mysql sink: read columns of %s: %w", n, err)
		}
		col := sqlsink.FollowerColumn{Name: name.String, Type: lowerUnquoted(typ.String), Nullable: nullable.String == "YES"}
		byTable[table] = append(byTable[table], col)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("mysql sink: read columns of %s: %w", n, err)
	}
	cols, ok := byTable[n.Table]
	if !ok && len(byTable) == 1 {
		for _, c := range byTable {
			cols, ok = c, true
		}
	}
	return cols, ok, nil
}

// lowerUnquoted lower-cases s outside single quotes (enum labels keep case).
func lowerUnquoted(s string) string {
	b, quoted := []byte(s), false
	for i, c := range b {
		switch {
		case c == '\'':
			quoted = !quoted
		case !quoted && c >= 'A' && c <= 'Z':
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Retryable numbers: lock wait timeout, deadlock, too many connections,
// server shutdown, server gone away / lost connection, connection killed,
// network read/write errors, disk full (1021), out of memory (1037, 1038,
// 1041). Below 1000 are the server's own file and memory failures
// (mysys's EE_*: error 6 is "Error on delete of '…#sql-temptable…'", met
// here on an information_schema read): conditions of the server, not of
// the data, so they are retried too.
var retryableNumbers = map[uint16]bool{
	1205: true, 1213: true, 1040: true, 1053: true, 2006: true, 2013: true, 1927: true,
	1158: true, 1159: true, 1160: true, 1161: true,
	1021: true, 1037: true, 1038: true, 1041: true,
}

// Retryable: the server error numbers above, and connection failures
// (driver.ErrBadConn, mysql.ErrInvalidConn, network errors, EOF). Every
// other server error (duplicate key, data too long, bad value, syntax) is
// not.
func (d *Dialect) Retryable(err error) bool {
	if err == nil {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number < 1000 || retryableNumbers[me.Number]
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// Code is the server's error number, or "".
func (d *Dialect) Code(err error) string {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return strconv.Itoa(int(me.Number))
	}
	return ""
}

// MultiUpdate implements sqlsink.MultiUpdater: UPDATE … JOIN a derived
// table of the rows' keys and values (types are not needed).
func (d *Dialect) MultiUpdate(n sqlsink.Name, key, cols []string, _ map[string]string, rows int) string {
	var b strings.Builder
	b.WriteString("UPDATE " + d.QuoteName(n) + " AS _w JOIN (")
	all := append(slices.Clone(key), cols...)
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(" UNION ALL ")
		}
		b.WriteString("SELECT ")
		for i, c := range all {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("?")
			if r == 0 {
				b.WriteString(" AS " + d.QuoteIdent(c))
			}
		}
	}
	b.WriteString(") AS _v ON ")
	for i, k := range key {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString("_w." + d.QuoteIdent(k) + " = _v." + d.QuoteIdent(k))
	}
	b.WriteString(" SET ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("_w." + d.QuoteIdent(c) + " = _v." + d.QuoteIdent(c))
	}
	return b.String()
}
