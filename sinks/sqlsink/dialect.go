package sqlsink

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks"
)

// Name is a follower table name. Schema is empty where the engine has one
// namespace per connection (MySQL/MariaDB database, SQLite file).
type Name struct {
	Schema, Table string
}

func (n Name) String() string {
	if n.Schema == "" {
		return n.Table
	}
	return n.Schema + "." + n.Table
}

// FollowerColumn is a column as the follower has it.
type FollowerColumn struct {
	Name     string
	Type     string // the engine's type name, lower case, as introspected
	Nullable bool
}

// Evictor is a Dialect that can end the session holding a sink's lock.
// A cluster member that took a sink over (Config.TakeOver) ends its
// previous owner's, which may be paused or cut off and so never let go by
// itself; that owner cannot commit after (Lease.Fence).
type Evictor interface {
	// Evict ends the session holding sink's lock and says whose it was
	// ("" when none held it).
	Evict(ctx context.Context, db *sql.DB, sink string) (string, error)
}

// ErrLocked is returned by Dialect.Lock when another process holds the
// sink's lock.
var ErrLocked = sinks.ErrLocked

// ErrLockLost is wrapped by Lease.Check and Lease.Fence when the lock is
// no longer held.
var ErrLockLost = sinks.ErrLockLost

// Lease is a sink's lock held in the follower by a session of its own.
type Lease interface {
	// Check runs a statement on the lock's session, which keeps it from
	// idle timeouts, and returns an error wrapping ErrLockLost unless that
	// session still holds the lock. Called from one goroutine at a time,
	// never after Release.
	Check(ctx context.Context) error
	// Fence returns an error wrapping ErrLockLost unless the lock's
	// session still holds the lock, asked inside tx, the follower
	// transaction about to commit. Safe for concurrent use.
	Fence(ctx context.Context, tx *sql.Tx) error
	// Release gives the lock back and ends its session. Idempotent.
	Release()
}

// ErrUnsupported marks a value or type the follower engine cannot hold;
// the message names the column and the reason (see the README's type
// mapping).
var ErrUnsupported = errors.New("not representable on this follower")

// Dialect is everything engine-specific about a SQL follower. The
// implementations live in sinks/postgres, sinks/mysql and sinks/sqlite.
// A Dialect is safe for concurrent use; it holds no connection itself
// except the lock session Lock opens.
type Dialect interface {
	// Engine is "postgres", "mysql" or "sqlite".
	Engine() string
	// Open connects to the follower. Every connection of the returned pool
	// uses the session settings the dialect's Param encodings rely on
	// (time zone UTC, strict modes).
	Open(ctx context.Context) (*sql.DB, error)
	// Lock takes the sink's exclusive lock in the follower (PostgreSQL
	// advisory lock, MySQL GET_LOCK, SQLite lock file) on a session of its
	// own. It returns ErrLocked, wrapped with who holds it when known, if
	// another process has it.
	Lock(ctx context.Context, db *sql.DB, sink string) (Lease, error)

	// Target is the default follower name of a source table: PostgreSQL
	// keeps schema and table, MySQL and SQLite keep the table name.
	Target(schema, table string) Name
	// QuoteName and QuoteIdent quote a table name and a column name.
	QuoteName(n Name) string
	QuoteIdent(s string) string
	// Placeholder is the i-th (0-based) parameter marker of a statement.
	Placeholder(i int) string
	// NullSafeEqual is a condition true when column equals the parameter,
	// NULLs equal to NULLs (IS NOT DISTINCT FROM, <=>, IS).
	NullSafeEqual(quotedColumn, placeholder string) string

	// ColumnType maps a source column (of a source of engine srcEngine,
	// "postgres" or "mysql") to the follower column type used to create
	// it. An unrepresentable column is an error wrapping ErrUnsupported.
	ColumnType(c ordering.Column, srcEngine string) (string, error)
	// Param converts a value of column c into a driver argument. A value
	// the follower cannot hold is an error wrapping ErrUnsupported that
	// names the column and why; it never silently changes the value.
	Param(c ordering.Column, v ordering.Value) (any, error)
	// Literal is v (of column c, never NULL) as a constant of the
	// engine's SQL, for a DEFAULT clause: the value Param would bind, so a
	// row reading it holds what a row bound with Param does. Errors as
	// Param's.
	Literal(c ordering.Column, v ordering.Value) (string, error)

	// Columns introspects a follower table inside tx; exists is false when
	// the table is missing.
	Columns(ctx context.Context, tx *sql.Tx, n Name) (cols []FollowerColumn, exists bool, err error)
	// CreateTable is the DDL creating n with the given columns (name and
	// follower type, in order) and primary key (may be empty). Columns are
	// nullable unless notNull says otherwise.
	CreateTable(n Name, cols []ColumnDef, primaryKey []string) []string
	// AddColumn, DropNotNull and DropColumn are the DDL for evolving n.
	AddColumn(n Name, c ColumnDef) string
	DropNotNull(n Name, c ColumnDef) string
	DropColumn(n Name, column string) string
	// Truncate empties n (DELETE FROM on SQLite).
	Truncate(n Name) string
	// RenameTable is the DDL renaming follower table from to to, or ""
	// when the engine cannot (PostgreSQL: another schema).
	RenameTable(from, to Name) string
	// Upsert is an INSERT of rows rows of cols that replaces the row with
	// the same primary key (snapshot rows and idempotent inserts).
	Upsert(n Name, cols []string, key []string, rows int) string
	// TypeCompatible reports whether a follower column of type have can
	// take values of a source column now mapped to want.
	TypeCompatible(have, want string) bool
	// WidenType is a follower type taking every value of a column of type
	// have and of one created as want, into which the engine can alter
	// have without changing a stored value; ok is false when there is
	// none (SQLite, or a change that would round, truncate or re-encode).
	// Called only when TypeCompatible(have, want) is false.
	WidenType(have, want string) (typ string, ok bool)
	// AlterType is the DDL changing column c of n to typ, keeping its
	// nullability and, on MySQL, the rest of its definition (collation,
	// default, comment), which it reads inside tx.
	AlterType(ctx context.Context, tx *sql.Tx, n Name, c FollowerColumn, typ string) (string, error)

	// MetaTables is the DDL (IF NOT EXISTS) of walship's positions and
	// applied tables, named by MetaNames (and on PostgreSQL of their
	// schema). Columns: sink, source, seq (text up to
	// 32 chars), position (text), commit_ts (text, RFC 3339 UTC), and for
	// positions also offsets (text, JSON) and applied_at (text); primary
	// keys (sink, source) and (sink, source, seq).
	MetaTables() []string

	// Retryable reports errors of the connection or the server's state
	// (the follower is down, restarting, a deadlock, a lock timeout): the
	// sink pauses and retries. Any other error is a rejected row or
	// statement and stops the sink.
	Retryable(err error) bool
	// Code is the SQLSTATE or error number of err for messages, or "".
	Code(err error) string
}

// MultiUpdater is implemented by a Dialect that updates many rows of a
// table in one statement, each to its own values: rows rows of the key
// columns then cols, in that order per row, joined to n on key. types
// holds the follower type of each key and value column (PostgreSQL casts
// its VALUES list to them). The statement's rows affected must be the
// rows matched.
type MultiUpdater interface {
	MultiUpdate(n Name, key, cols []string, types map[string]string, rows int) string
}

// BulkLoader is implemented by a Dialect with a bulk path that beats
// multi-row statements on large batches (PostgreSQL COPY). The applier
// uses it for batches of at least bulkMinRows inserts or snapshot rows.
type BulkLoader interface {
	// BulkLoad writes b.Rows into b.Name, inside the transaction open on
	// conn. With b.Key set, a row whose key exists replaces it, as Upsert
	// does; without, it is a plain insert. A value the dialect cannot
	// write is an error naming the column, never the value.
	BulkLoad(ctx context.Context, conn *sql.Conn, b BulkRows) (BulkResult, error)
}

// BulkRows is one bulk load into one follower table.
type BulkRows struct {
	Name Name
	// Columns are the source columns, in the order of each row's values.
	Columns []ordering.Column
	// Types are the follower's column types by column name, as
	// Dialect.Columns read them (or as created); a column may be missing.
	Types map[string]string
	// Key, when set, makes the load an upsert by these columns. Rows never
	// holds two rows with the same key.
	Key []string
	// Rows are after images: no value is unchanged. The loader must not
	// keep or change them.
	Rows [][]ordering.Value
	// Direct lets an upsert load the rows into the table as plain inserts
	// inside a savepoint first, and upsert them only when one's key is
	// there already (BulkResult.Conflict). The applier sets it at most
	// maxBulkSavepoints times a transaction.
	Direct bool
}

// ErrBulkDeclined is returned by a BulkLoad that wrote nothing and leaves
// the rows to the statement path (multi-row INSERTs and upserts), which
// then writes them or names their error: a load the dialect could not do
// exactly as the statements would.
var ErrBulkDeclined = errors.New("bulk load declined: the rows go through statements")

// BulkResult is what a bulk load reports.
type BulkResult struct {
	// Conflict: a Direct load found a key there already and upserted.
	Conflict bool
}

// LockProbe is implemented by a Dialect that can ask, inside a
// transaction, whether another session waits for a lock the transaction
// holds (sinks.LockProber).
type LockProbe interface {
	// BlocksOthersQuery returns one boolean row.
	BlocksOthersQuery() string
}

// TableTruncater is implemented by a Dialect whose truncate of a table
// that a foreign key references fails unless the referencing table is
// truncated in the same statement, even when it is empty (PostgreSQL).
// The applier gathers a transaction's consecutive truncates (a redone
// snapshot's first chunk truncates every captured table, children first;
// a PostgreSQL source's TRUNCATE of several tables) into one statement.
// Other dialects get one Truncate per table, each table before the tables
// its foreign keys reference (else in the order received).
type TableTruncater interface {
	// TruncateTables empties ns (at least one) in one statement.
	TruncateTables(ns []Name) string
}

// ColumnDef is a column to create.
type ColumnDef struct {
	Name    string
	Type    string
	NotNull bool
	// Default is a Literal the column's existing rows take when it is
	// added (AddColumn only), or "".
	Default string
}

// Meta tables, created by Applier.Prepare in every follower, in a
// namespace of walship's own so that no captured table can take their
// place: the schema walship on PostgreSQL, the prefix _walship_ on MySQL
// and SQLite (whose tables of one database share one namespace). Sequences
// are offsets.Seq text (fixed width, so text order is sequence order).
//
//	positions (sink, source, seq, position, commit_ts, offsets, applied_at)
//	    the watermark: every transaction of source with Seq <= seq is
//	    applied; offsets (JSON) is where the log reader resumes.
//	applied (sink, source, seq, position, commit_ts)
//	    transactions above the watermark applied out of order by parallel
//	    workers; folded into the watermark as it advances.
//
// Versions before this layout kept them as walship_positions and
// walship_applied in the connection's default schema or database;
// Applier.Prepare moves a sink's rows from there (see migrate.go).
const (
	// MetaSchema is the PostgreSQL schema of walship's tables.
	MetaSchema = "walship"
	// MetaPrefix begins the names of walship's tables where they share a
	// namespace with the follower's tables (MySQL, SQLite).
	MetaPrefix = "_walship_"

	// LegacyPositionsTable and LegacyAppliedTable are the earlier names,
	// unqualified.
	LegacyPositionsTable = "walship_positions"
	LegacyAppliedTable   = "walship_applied"
)

// MetaNames is where a follower of engine ("postgres", "mysql",
// "sqlite") keeps walship's positions and applied tables.
func MetaNames(engine string) (positions, applied Name) {
	if engine == "postgres" {
		return Name{Schema: MetaSchema, Table: "positions"}, Name{Schema: MetaSchema, Table: "applied"}
	}
	return Name{Table: MetaPrefix + "positions"}, Name{Table: MetaPrefix + "applied"}
}

// IsMeta reports whether the follower table n of engine is one of
// walship's own (compared as the engines compare names: without regard
// to case, which is the stricter choice where a server folds it).
func IsMeta(engine string, n Name) bool {
	p, a := MetaNames(engine)
	for _, m := range []Name{p, a, MetaShapes(engine), MetaIndexes(engine), MetaConflicts(engine)} {
		if strings.EqualFold(n.Schema, m.Schema) && strings.EqualFold(n.Table, m.Table) {
			return true
		}
	}
	return false
}
