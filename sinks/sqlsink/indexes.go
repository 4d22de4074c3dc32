package sqlsink

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/walship/walship/ordering"
)

// Secondary indexes (issue 26). A follower table walship created gets the
// source table's secondary indexes (ordering.Table.Indexes), unique ones
// included, translated by the dialect (Indexer); what the engine cannot
// express is logged once, naming the index, and not built. A follower table
// walship did not create keeps its own indexes: walship never builds or
// drops an index on it.
//
// What walship built is recorded in the follower (MetaIndexes): one row
// per index (sink, follower table, name, the DDL that built it), and one
// row with an empty name for each table walship created. Only recorded
// indexes are ever dropped.
//
// When:
//   - building is deferred to a quiet point the sink picks (BuildIndexes:
//     no follower transaction open, the source's snapshot applied), so an
//     initial load writes the rows first and builds each index once, and a
//     build never waits for (or blocks) a transaction in flight;
//   - dropping is immediate: when a shape arrives without an index the
//     follower has (dropped at the source, or made non-unique), ensure
//     drops it before the change that needs the new shape, which the old
//     index could refuse.
//
// A build that fails is logged with the engine's error code (never its
// text, which may quote row values) and tried again at the table's next
// shape or the sink's next start. A unique index fails to build when the
// follower holds duplicates: the source catalog is read as of when the
// source decoded the shape, so a sink far behind a source that removed
// duplicates and then created the index sees it early; it builds once the
// follower caught up past the removal.
//
// Format: the indexes table is new (CREATE TABLE IF NOT EXISTS at
// Prepare); a follower of an earlier version has no row, so its existing
// tables count as not created by walship and get no index, as before. The
// log's Table.Indexes is additive JSON: shapes written before it carry
// none, and a sink builds nothing for them.

// indexesTable is the name of the table in MetaIndexes.
const indexesTable = "indexes"

// MetaIndexes is where a follower of engine records the indexes and
// constraints its sinks built. Columns: sink, tbl (follower table), kind
// (index, check, fkey; table for the row, with an empty name, that marks a
// table walship created), name (the follower name), ddl; primary key
// (sink, tbl, kind, name).
func MetaIndexes(engine string) Name {
	if engine == "postgres" {
		return Name{Schema: MetaSchema, Table: indexesTable}
	}
	return Name{Table: MetaPrefix + indexesTable}
}

func (a *Applier) indexesDDL() string {
	return "CREATE TABLE IF NOT EXISTS " + a.d.QuoteName(a.indexT) + " (sink varchar(191) NOT NULL, tbl varchar(191) NOT NULL, " +
		"kind varchar(16) NOT NULL, name varchar(191) NOT NULL, ddl text NOT NULL, PRIMARY KEY (sink, tbl, kind, name))"
}

// Indexer is implemented by a Dialect that builds secondary indexes.
type Indexer interface {
	// CreateIndex is the DDL building ix (of a table of a source of
	// engine srcEngine) on follower table n, whose columns are cols, under
	// the follower name name. weaker, when not empty, says how the index
	// built is weaker than the source's (not unique where the source's
	// is): it never refuses a row the source accepted. An index the engine
	// cannot express is an error wrapping ErrUnsupported saying why.
	CreateIndex(n Name, name string, ix *ordering.Index, srcEngine string, cols map[string]FollowerColumn) (ddl, weaker string, err error)
	// DropIndex is the DDL dropping index name of n; dropping one that
	// is not there is not an error (IF EXISTS), or IndexGone says so.
	DropIndex(n Name, name string) string
	// IndexGone reports an error of DropIndex saying the index is not
	// there, and of CreateIndex saying one of that name is (MySQL, which
	// has neither IF EXISTS nor IF NOT EXISTS for them).
	IndexGone(err error) bool
	// IndexNameMax is the engine's longest index name, in bytes.
	IndexNameMax() int
	// CreateCheck is the DDL adding check constraint c (of a source of
	// engine srcEngine) to n as name; ErrUnsupported where its SQL is not
	// the follower's.
	CreateCheck(n Name, name string, c *ordering.Check, srcEngine string) (string, error)
	// CreateForeignKey is the DDL adding foreign key fk to n as name,
	// referencing follower table parent; ErrUnsupported where the engine
	// cannot add one to an existing table.
	CreateForeignKey(n Name, name string, fk *ordering.ForeignKey, parent Name) (string, error)
	// DropConstraint is the DDL dropping constraint name (kind check or
	// fkey) of n; one not there is not an error (IF EXISTS), or IndexGone
	// says so.
	DropConstraint(n Name, kind, name string) string
}

// The kinds of objects walship builds on its follower tables.
const (
	kindIndex = "index"
	kindCheck = "check"
	kindFKey  = "fkey"
	kindTable = "table" // the marker of a table walship created
)

// Index modes (Config.Indexes).
const (
	IndexesCopy           = "copy"
	IndexesPrimaryKeyOnly = "primary_key_only"
)

// indexMode is the mode of the source table t: its override, or the
// sink's.
func (a *Applier) indexMode(t *ordering.Table) string {
	if m, ok := a.cfg.TableIndexes[t.Schema+"."+t.Name]; ok {
		return m
	}
	if a.cfg.Indexes == "" {
		return IndexesCopy
	}
	return a.cfg.Indexes
}

// FollowerIndexName is the name a follower of engine gives source index
// name (of a source of engine srcEngine) on follower table n: the
// source's name where the follower's namespace for index names is the
// source's (MySQL: per table; PostgreSQL: per schema), otherwise prefixed
// with the table's name (a MySQL source's names are per table, PostgreSQL's
// and SQLite's per schema and database); shortened with a hash to max
// bytes (0: no limit).
func FollowerIndexName(engine, srcEngine string, n Name, name string, max int) string {
	out := name
	if engine != "mysql" && srcEngine != "postgres" {
		out = n.Table + "_" + name
	}
	if max > 0 && len(out) > max {
		sum := sha256.Sum256([]byte(out))
		h := hex.EncodeToString(sum[:4])
		cut := max - len(h) - 1
		for cut > 0 && !validCut(out, cut) {
			cut--
		}
		out = out[:cut] + "_" + h
	}
	return out
}

// validCut reports whether s may be cut at byte i without splitting a
// UTF-8 sequence.
func validCut(s string, i int) bool { return i >= len(s) || s[i]&0xC0 != 0x80 }

// wantIndex is an index or constraint a follower table should have.
type wantIndex struct{ kind, name, ddl string }

// key identifies w in table.built.
func (w wantIndex) key() string { return w.kind + " " + w.name }

// splitKey is the kind and name of a table.built key.
func splitKey(k string) (kind, name string) {
	kind, name, _ = strings.Cut(k, " ")
	return kind, name
}

// wantIndexes is what t's follower table ft should have, by the sink's
// mode; indexes the engine cannot express are logged once and left out.
func (a *Applier) wantIndexes(ft *table, t *ordering.Table, srcEngine string) []wantIndex {
	ixr, ok := a.d.(Indexer)
	if !ok || a.indexMode(t) != IndexesCopy {
		return nil
	}
	cols := ft.cols
	var out []wantIndex
	seen := map[string]bool{}
	for i := range t.Indexes {
		ix := &t.Indexes[i]
		name := FollowerIndexName(a.d.Engine(), srcEngine, ft.name, ix.Name, ixr.IndexNameMax())
		if seen[name] {
			continue
		}
		seen[name] = true
		ddl, weaker, err := ixr.CreateIndex(ft.name, name, ix, srcEngine, cols)
		key := ft.name.String() + "\x00" + ix.Name
		switch {
		case err != nil:
			if !a.warned[key] {
				a.warned[key] = true
				a.log.Warn("source index not built on the follower", "table", ft.name.String(), "index", ix.Name, "why", err.Error())
			}
			continue
		case weaker != "" && !a.warned[key]:
			a.warned[key] = true
			a.log.Info("source index built weaker on the follower", "table", ft.name.String(), "index", ix.Name, "how", weaker)
		}
		out = append(out, wantIndex{kindIndex, name, ddl})
	}
	out = append(out, a.wantChecks(ixr, ft, t, srcEngine)...)
	return append(out, a.wantForeignKeys(ixr, ft, t)...)
}

// wantChecks is t's check constraints the follower can take (the source's
// engine's), named as at the source.
func (a *Applier) wantChecks(ixr Indexer, ft *table, t *ordering.Table, srcEngine string) []wantIndex {
	var out []wantIndex
	for i := range t.Checks {
		c := &t.Checks[i]
		ddl, err := ixr.CreateCheck(ft.name, c.Name, c, srcEngine)
		if err != nil {
			if key := ft.name.String() + "\x00check " + c.Name; !a.warned[key] {
				a.warned[key] = true
				a.log.Warn("source check constraint not built on the follower", "table", ft.name.String(), "constraint", c.Name, "why", err.Error())
			}
			continue
		}
		out = append(out, wantIndex{kindCheck, c.Name, ddl})
	}
	return out
}

// wantForeignKeys is t's foreign keys, with follower_foreign_keys, to
// parents this sink applies (their follower tables), named
// <table>_<columns>_fkey.
func (a *Applier) wantForeignKeys(ixr Indexer, ft *table, t *ordering.Table) []wantIndex {
	if !a.cfg.ForeignKeys {
		return nil
	}
	var out []wantIndex
	for i := range t.ForeignKeys {
		fk := &t.ForeignKeys[i]
		parent := a.target(&ordering.Table{Schema: fk.ParentSchema, Name: fk.ParentTable})
		name := FollowerIndexName(a.d.Engine(), "postgres", ft.name, ft.name.Table+"_"+strings.Join(fk.Columns, "_")+"_fkey", ixr.IndexNameMax())
		ddl, err := ixr.CreateForeignKey(ft.name, name, fk, parent)
		if err != nil {
			if key := ft.name.String() + "\x00fkey " + name; !a.warned[key] {
				a.warned[key] = true
				a.log.Warn("source foreign key not built on the follower", "table", ft.name.String(), "foreign_key", name, "why", err.Error())
			}
			continue
		}
		out = append(out, wantIndex{kindFKey, name, ddl})
	}
	return out
}

// loadIndexes reads what walship recorded of ft's indexes.
func (a *Applier) loadIndexes(ctx context.Context, tx *sql.Tx, ft *table) error {
	ft.built = map[string]string{}
	if a.cfg.Sink == "" {
		return nil
	}
	q := fmt.Sprintf("SELECT kind, name, ddl FROM %s WHERE sink = %s AND tbl = %s", a.d.QuoteName(a.indexT), a.d.Placeholder(0), a.d.Placeholder(1))
	var rows *sql.Rows
	var err error
	if tx != nil {
		rows, err = tx.QueryContext(ctx, q, a.cfg.Sink, ft.name.String())
	} else {
		rows, err = a.db.QueryContext(ctx, q, a.cfg.Sink, ft.name.String())
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", a.indexT, err)
	}
	defer rows.Close()
	for rows.Next() {
		var w wantIndex
		if err := rows.Scan(&w.kind, &w.name, &w.ddl); err != nil {
			return fmt.Errorf("read %s: %w", a.indexT, err)
		}
		if w.kind == kindTable {
			ft.created = true
			continue
		}
		ft.built[w.key()] = w.ddl
	}
	return rows.Err()
}

// recordIndex records w (forget: deletes its record) of ft.
func (a *Applier) recordIndex(ctx context.Context, ex execer, ft *table, w wantIndex, forget bool) error {
	if a.cfg.Sink == "" {
		return nil
	}
	var err error
	if forget {
		_, err = ex.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE sink = %s AND tbl = %s AND kind = %s AND name = %s", a.d.QuoteName(a.indexT),
			a.d.Placeholder(0), a.d.Placeholder(1), a.d.Placeholder(2), a.d.Placeholder(3)), a.cfg.Sink, ft.name.String(), w.kind, w.name)
	} else {
		_, err = ex.ExecContext(ctx, a.d.Upsert(a.indexT, []string{"sink", "tbl", "kind", "name", "ddl"}, []string{"sink", "tbl", "kind", "name"}, 1),
			a.cfg.Sink, ft.name.String(), w.kind, w.name, w.ddl)
	}
	if err != nil {
		return fmt.Errorf("record %s %s of %s in %s: %w", w.kind, w.name, ft.name, a.indexT, err)
	}
	return nil
}

// dropDDL is the DDL dropping the built object of key from ft.
func dropDDL(ixr Indexer, ft *table, key string) string {
	kind, name := splitKey(key)
	if kind == kindIndex {
		return ixr.DropIndex(ft.name, name)
	}
	return ixr.DropConstraint(ft.name, kind, name)
}

type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// indexShape brings ft's indexes to shape t of source: drops at once the
// recorded indexes t no longer wants (or wants built otherwise), and marks
// the table for BuildIndexes when it wants one not built. Only for tables
// walship created. Runs in tx when given (engines with transactional DDL).
func (a *Applier) indexShape(ctx context.Context, tx *sql.Tx, source string, ft *table, t *ordering.Table) error {
	if !ft.created {
		return nil
	}
	ixr, ok := a.d.(Indexer)
	if !ok {
		return nil
	}
	want := a.wantIndexes(ft, t, a.cfg.SourceEngines[source])
	wanted := map[string]string{}
	for _, w := range want {
		wanted[w.key()] = w.ddl
	}
	var ex execer = a.db
	if tx != nil {
		ex = tx
	}
	for key, ddl := range ft.built {
		if wanted[key] == ddl {
			continue
		}
		kind, name := splitKey(key)
		if _, err := ex.ExecContext(ctx, dropDDL(ixr, ft, key)); err != nil && !ixr.IndexGone(err) {
			return fmt.Errorf("drop %s %s of follower table %s (the source dropped or changed it): %w", kind, name, ft.name, err)
		}
		if err := a.recordIndex(ctx, ex, ft, wantIndex{kind: kind, name: name}, true); err != nil {
			return err
		}
		delete(ft.built, key)
		a.log.Info("dropped follower "+kind, "table", ft.name.String(), "name", name)
	}
	ft.want = want
	for _, w := range want {
		if _, ok := ft.built[w.key()]; !ok {
			a.mu.Lock()
			if a.pending[source] == nil {
				a.pending[source] = map[Name]*table{}
			}
			a.pending[source][ft.name] = ft
			a.mu.Unlock()
			break
		}
	}
	return nil
}

// IndexesDue implements sinks.IndexBuilder.
func (a *Applier) IndexesDue(source string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pending[source]) > 0
}

// BuildIndexes implements sinks.IndexBuilder: it builds the indexes that
// source's follower tables want and lack, one at a time. Each build and
// its record are one follower transaction where the engine's DDL is
// transactional. A build the follower refuses is logged and left for the
// table's next shape or the next start; an unavailable follower is an
// error (the sink retries).
func (a *Applier) BuildIndexes(ctx context.Context, source string, building func(table, index string)) error {
	ixr, ok := a.d.(Indexer)
	if !ok {
		return nil
	}
	a.schemaMu.Lock()
	defer a.schemaMu.Unlock()
	a.mu.Lock()
	tables := a.pending[source]
	delete(a.pending, source)
	a.mu.Unlock()
	for _, ft := range tables {
		for _, w := range ft.want {
			if _, ok := ft.built[w.key()]; ok {
				continue
			}
			if building != nil {
				building(ft.name.String(), w.name)
			}
			err := a.buildIndex(ctx, ixr, ft, w)
			switch {
			case err == nil:
				ft.built[w.key()] = w.ddl
				a.log.Info("built follower "+w.kind, "table", ft.name.String(), "name", w.name)
			case ctx.Err() != nil || a.d.Retryable(err):
				a.mu.Lock()
				if a.pending[source] == nil {
					a.pending[source] = map[Name]*table{}
				}
				a.pending[source][ft.name] = ft
				a.mu.Unlock()
				return fmt.Errorf("build %s %s of follower table %s: %w", w.kind, w.name, ft.name, err)
			default:
				a.log.Warn("follower "+w.kind+" not built; tried again at the table's next shape or the next start (a unique index, a check or a foreign key fails while the follower holds rows the source changed before creating it)",
					"table", ft.name.String(), "name", w.name, "code", a.d.Code(err))
			}
		}
	}
	if building != nil {
		building("", "")
	}
	return nil
}

// buildIndex runs w's DDL and records it: in one transaction where DDL is
// transactional, else (MySQL) one after the other, an index already there
// under that name (a build whose record a crash lost) taken as built.
func (a *Applier) buildIndex(ctx context.Context, ixr Indexer, ft *table, w wantIndex) error {
	if a.d.Engine() == "mysql" {
		if _, err := a.db.ExecContext(ctx, w.ddl); err != nil && !ixr.IndexGone(err) {
			return err
		}
		return a.recordIndex(ctx, a.db, ft, w, false)
	}
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, w.ddl); err != nil {
		return err
	}
	if err := a.recordIndex(ctx, tx, ft, w, false); err != nil {
		return err
	}
	return tx.Commit()
}

// dropsIndexes reports whether shape t makes walship drop an index it
// built on follower table name.
func (a *Applier) dropsIndexes(name Name, t *ordering.Table, srcEngine string) bool {
	a.schemaMu.Lock()
	defer a.schemaMu.Unlock()
	a.mu.Lock()
	ft := a.tables[name]
	a.mu.Unlock()
	if ft == nil || !ft.created || len(ft.built) == 0 {
		return false
	}
	wanted := map[string]string{}
	for _, w := range a.wantIndexes(ft, t, srcEngine) {
		wanted[w.key()] = w.ddl
	}
	for key, ddl := range ft.built {
		if wanted[key] != ddl {
			return true
		}
	}
	return false
}
