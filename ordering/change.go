package ordering

import (
	"strings"
	"time"

	"github.com/walship/walship/offsets"
)

// Op is what a change did to a row. The letters are Debezium's.
type Op byte

// The operations.
const (
	OpInsert   Op = 'c'
	OpUpdate   Op = 'u'
	OpDelete   Op = 'd'
	OpRead     Op = 'r' // a snapshot row: applied as an upsert
	OpTruncate Op = 't'
	// OpPrune ends a chunk of an incremental snapshot that deletes rows
	// not seen (sources/backfill.go): the follower deletes its rows of
	// the table whose primary key is above Before's key (none: from the
	// start) and at most After's (none: to the end) and that no snapshot
	// row (op r) of the same transaction carried. Before and After hold
	// the key columns only, every other value NULL. Not a Debezium op:
	// only a snapshot asked to delete rows not seen writes it.
	OpPrune Op = 'p'
)

func (o Op) String() string { return string(o) }

// Valid reports whether o is one of the operations.
func (o Op) Valid() bool {
	switch o {
	case OpInsert, OpUpdate, OpDelete, OpRead, OpTruncate, OpPrune:
		return true
	}
	return false
}

// Column describes one column of a table as the source had it when the
// change was made.
type Column struct {
	Name string `json:"name"`
	// Kind is the logical type every value of this column has (or NULL /
	// unchanged). For arrays, Elem is the element kind.
	Kind Kind `json:"kind"`
	Elem Kind `json:"elem,omitempty"`
	// Type is the source's own type name, e.g. "numeric(12,2)",
	// "character varying(40)", "int unsigned", "enum('a','b')". Sinks use it
	// to create follower tables of the closest type.
	Type     string `json:"type"`
	Nullable bool   `json:"nullable,omitempty"`
	// Length is the declared maximum length of character or binary data,
	// 0 when unbounded. Precision and Scale are those of decimals, and
	// Precision is the fractional-second digits of temporal types; -1 means
	// not declared.
	Length    int `json:"length,omitempty"`
	Precision int `json:"precision,omitempty"`
	Scale     int `json:"scale,omitempty"`
	// Enum holds the labels of an enum or set type, in declared order.
	Enum []string `json:"enum,omitempty"`
	// Default is what rows that existed when the column was added read in
	// it at the source (see Default); nil when NULL or not known (log
	// records written before walship carried defaults).
	Default *Default `json:"default,omitempty"`
}

// ForeignKey is a reference from some columns of a table to a parent key.
type ForeignKey struct {
	Columns       []string `json:"columns"`
	ParentSchema  string   `json:"parent_schema"`
	ParentTable   string   `json:"parent_table"`
	ParentColumns []string `json:"parent_columns"`
	// OnDelete and OnUpdate are set when a change of the parent makes the
	// source's engine change this table's rows without logging them: the
	// same actions appear in the parent's Table.Cascades. Sinks index the
	// columns of such keys on the follower tables they create.
	OnDelete Action `json:"on_delete,omitempty"`
	OnUpdate Action `json:"on_update,omitempty"`
}

// Action is a referential action a parent change makes the source's
// engine perform on the child rows that reference the changed key.
type Action string

// The actions that change child rows. RESTRICT and NO ACTION change
// nothing and are not carried.
const (
	ActionCascade    Action = "CASCADE"
	ActionSetNull    Action = "SET NULL"
	ActionSetDefault Action = "SET DEFAULT"
)

// Cascade is a foreign key whose actions the source's engine performs
// without writing the child rows to its log (MariaDB, and MySQL before
// SQL-layer foreign keys: InnoDB cascades are not in the binlog). A sink
// replays them: after applying a change that deletes a parent row
// (OnDelete) or changes its referenced columns (OnUpdate), it applies the
// action to the follower's child rows whose Columns equal the parent's old
// ParentColumns, in the same follower transaction, and recursively for the
// cascades of the child table.
type Cascade struct {
	ChildSchema   string   `json:"child_schema"`
	ChildTable    string   `json:"child_table"`
	Columns       []string `json:"columns"`
	ParentSchema  string   `json:"parent_schema"`
	ParentTable   string   `json:"parent_table"`
	ParentColumns []string `json:"parent_columns"`
	// OnDelete and OnUpdate are "" when the action changes no child row.
	OnDelete Action `json:"on_delete,omitempty"`
	OnUpdate Action `json:"on_update,omitempty"`
}

// Table is the shape of a captured table at one point of its history. A
// Table value is immutable: a schema change makes a new one, so a change
// always points at the shape its row images were decoded with.
type Table struct {
	// Schema is the PostgreSQL schema or the MySQL database.
	Schema  string   `json:"schema"`
	Name    string   `json:"table"`
	Columns []Column `json:"columns"`
	// PrimaryKey names the key columns in key order; empty when the table
	// has none. Then updates and deletes can only match on a full before
	// image, and the writeset cannot be computed (the transaction runs
	// after its predecessor).
	PrimaryKey  []string     `json:"primary_key,omitempty"`
	UniqueKeys  [][]string   `json:"unique_keys,omitempty"`
	ForeignKeys []ForeignKey `json:"foreign_keys,omitempty"`
	// Serial marks a table whose conflicts cannot be keyed (an expression
	// or partial unique index): its changes make writesets barriers.
	Serial bool `json:"serial,omitempty"`
	// Cascades are the unlogged referential actions a change of this table
	// can set off: those of the foreign keys referencing it, and
	// transitively those referencing their child tables (see Cascade).
	// Only captured child tables are listed. Empty for sources whose log
	// holds the cascaded rows (PostgreSQL).
	Cascades []Cascade `json:"cascades,omitempty"`
	// Recreated marks the shape of a table the source dropped and created
	// again under the same name: a truncate of it comes before its first
	// row in the log, so the follower's rows of the old table do not
	// survive, and sinks do not take the new columns for renamed ones.
	Recreated bool `json:"recreated,omitempty"`
	// RenamedFrom is "schema.table", the name the source table had before
	// a rename the source saw: a sink whose follower table of the new name
	// does not exist renames the old one. Such a shape is Serial, so the
	// rename runs after every earlier transaction on the old name.
	RenamedFrom string `json:"renamed_from,omitempty"`
	// Rewrite is the newest rewrite of the table's stored rows by an
	// expression that the source knows of and its log does not carry
	// (PostgreSQL's ALTER … TYPE … USING). Every shape after it carries
	// it, until a newer one: a sink whose follower recorded a shape with
	// another Rewrite (or none) stops rather than keep the old values.
	// Absent from log records written before walship noted rewrites.
	Rewrite *Rewrite `json:"rewrite,omitempty"`
	// Indexes are the table's secondary indexes (unique ones included,
	// the primary key's not), as of the source catalog when the shape was
	// read: what a sink builds on a follower table it created. Absent
	// from log records written before walship carried them: a sink then
	// builds none.
	Indexes []Index `json:"indexes,omitempty"`
	// Checks are the table's check constraints (validated ones), as of
	// the source catalog when the shape was read. Absent from log records
	// written before walship carried them.
	Checks []Check `json:"checks,omitempty"`
	// Backfilling marks the shapes of a table's changes while an
	// incremental snapshot reads it (sources/backfill.go): its rows reach
	// the followers in chunks, each read after the changes before it, so a
	// follower may lack a row a change updates or deletes (its chunk, which
	// comes later, holds the result) or already hold one it inserts. Sinks
	// apply such changes leniently: an insert as an upsert, an update or
	// delete of a missing row as nothing. Absent otherwise.
	Backfilling bool `json:"backfilling,omitempty"`
}

// Check is a check constraint of a source table (Table.Checks).
type Check struct {
	Name string `json:"name"`
	// Def is its definition in the source engine's SQL: CHECK (...).
	Def string `json:"def"`
}

// Index is a secondary index of a source table (Table.Indexes).
type Index struct {
	Name   string `json:"name"`
	Unique bool   `json:"unique,omitempty"`
	// Deferrable: a PostgreSQL unique constraint checked at commit (or
	// deferrable to it), which no other engine can express.
	Deferrable bool `json:"deferrable,omitempty"`
	// Method is the access method when not a B-tree: PostgreSQL's hash,
	// gin, gist, brin, ...; MySQL's FULLTEXT, SPATIAL, HASH.
	Method string      `json:"method,omitempty"`
	Parts  []IndexPart `json:"parts"`
	// Where is a partial index's predicate, in the source engine's SQL.
	Where string `json:"where,omitempty"`
	// Def is PostgreSQL's definition from USING on (pg_get_indexdef),
	// exact for a PostgreSQL follower: operator classes, collations,
	// INCLUDE, NULLS NOT DISTINCT, storage parameters.
	Def string `json:"def,omitempty"`
	// Exclusion: a PostgreSQL exclusion constraint's index; no follower
	// builds it.
	Exclusion bool `json:"exclusion,omitempty"`
}

// IndexPart is one key part of an Index: a column, or an expression.
type IndexPart struct {
	Column string `json:"column,omitempty"`
	// Expr is the part's expression in the source engine's SQL, when it
	// is not a column.
	Expr string `json:"expr,omitempty"`
	Desc bool   `json:"desc,omitempty"`
	// Prefix is a MySQL prefix length (characters, bytes for binary
	// columns); 0 for the whole value.
	Prefix int `json:"prefix,omitempty"`
}

// Plain reports whether the index is on columns only: no expression, no
// predicate, no method other than a B-tree, not an exclusion constraint.
func (ix *Index) Plain() bool {
	if ix.Where != "" || ix.Exclusion || ix.Method != "" && !strings.EqualFold(ix.Method, "btree") {
		return false
	}
	for _, p := range ix.Parts {
		if p.Column == "" {
			return false
		}
	}
	return len(ix.Parts) > 0
}

// Rewrite is one rewrite of a table's rows at the source (Table.Rewrite).
type Rewrite struct {
	// At is the source's log position of the rewrite, its identity.
	At string `json:"at"`
	// Statement is the statement that ran it, as the source recorded it.
	Statement string `json:"statement"`
}

// Cascading reports whether ch sets off one of t's cascades: it deletes a
// row of a table referenced by a foreign key with an ON DELETE action, or
// changes (or may change: no before image) referenced columns of one with
// an ON UPDATE action.
func (t *Table) Cascading(ch *Change) bool {
	for i := range t.Cascades {
		c := &t.Cascades[i]
		if c.ParentSchema != t.Schema || c.ParentTable != t.Name {
			continue
		}
		switch {
		case ch.Op == OpDelete && c.OnDelete != "":
			return true
		case ch.Op == OpUpdate && c.OnUpdate != "" && KeyChanged(t, c.ParentColumns, ch):
			return true
		}
	}
	return false
}

// KeyChanged reports whether an update changes any of cols, comparing the
// before and after images exactly. Without a before image, or with a value
// not sent, it reports true: the change may have.
func KeyChanged(t *Table, cols []string, ch *Change) bool {
	if ch.Before == nil || ch.After == nil {
		return true
	}
	for _, c := range cols {
		i := t.ColumnIndex(c)
		if i < 0 || i >= len(ch.Before) || i >= len(ch.After) {
			return true
		}
		b, a := ch.Before[i], ch.After[i]
		if b.IsUnchanged() || a.IsUnchanged() || !b.Equal(a) {
			return true
		}
	}
	return false
}

// ColumnIndex returns the position of the named column, or -1.
func (t *Table) ColumnIndex(name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// QualifiedName is "schema.table".
func (t *Table) QualifiedName() string { return t.Schema + "." + t.Name }

// Change is one row change. Before and After are aligned with
// Table.Columns. Before is nil when the source did not send a before image
// (an insert; an update whose key did not change under default replica
// identity). After is nil for deletes and truncates.
type Change struct {
	Table  *Table
	Op     Op
	Before []Value
	After  []Value
}

// Txn is one committed source transaction, or one snapshot chunk, in the
// order the source committed it.
type Txn struct {
	// Source is the configured source name.
	Source string
	// ID is the source's transaction id: the PostgreSQL xid, or the GTID.
	ID string
	// Seq orders and deduplicates the log (see offsets.Seq).
	Seq offsets.Seq
	// DependsOn is the greatest earlier Seq this transaction must follow on
	// a follower; the zero Seq means none.
	DependsOn offsets.Seq
	// Pos is where the transaction ends in the source's log.
	Pos offsets.Position
	// CommitTime is the source's commit timestamp.
	CommitTime time.Time
	// Snapshot marks a snapshot chunk; LastSnapshot its final chunk.
	Snapshot     bool
	LastSnapshot bool
	Changes      []Change
}
