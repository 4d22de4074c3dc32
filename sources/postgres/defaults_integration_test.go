package postgres

import (
	"testing"
)

// TestColumnDefaults: a column added with a non-volatile default carries
// the value the table's existing rows read (attmissingval); one added with
// a volatile default carries only its expression.
func TestColumnDefaults(t *testing.T) {
	h := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY);
		INSERT INTO t VALUES (1);
		ALTER TABLE t ADD COLUMN s text DEFAULT 'it''s {a,b}', ADD COLUMN n numeric(8,3) DEFAULT 1.5,
			ADD COLUMN at timestamptz DEFAULT now(), ADD COLUMN arr int[] DEFAULT '{1,NULL,3}',
			ADD COLUMN by bytea DEFAULT '\x00ff', ADD COLUMN b boolean NOT NULL DEFAULT true,
			ADD COLUMN d date DEFAULT 'infinity', ADD COLUMN j jsonb DEFAULT '{"k": [1]}', ADD COLUMN nul int;
		CREATE TABLE v (id int PRIMARY KEY);
		INSERT INTO v VALUES (1);
		ALTER TABLE v ADD COLUMN u uuid DEFAULT gen_random_uuid();`)
	h.start(h.config())
	waitStreaming(t, h)
	h.Exec("UPDATE t SET id = id WHERE id = 1")
	h.Exec("UPDATE v SET id = id WHERE id = 1")
	h.CaughtUp()
	seen := 0
	for _, txn := range h.Read().Txns {
		for _, e := range txn.Events {
			tbl := e.Change.Table
			for i, c := range tbl.Columns {
				switch {
				case c.Name == "id":
				case tbl.Name == "v":
					if c.Default == nil || c.Default.Expr != "gen_random_uuid()" || c.Default.Constant() {
						t.Errorf("v.%s: default %+v, want the expression", c.Name, c.Default)
					}
				case c.Name == "nul":
					if c.Default != nil {
						t.Errorf("nul: default %+v, want none", c.Default)
					}
				default:
					if c.Default == nil || !c.Default.Constant() || !c.Default.Value.Equal(e.Change.After[i]) {
						t.Errorf("t.%s: default %+v, the row reads %v", c.Name, c.Default, e.Change.After[i])
					}
				}
			}
			seen++
		}
	}
	if seen != 4 { // each row in the snapshot, then its update
		t.Fatalf("%d events, want 4", seen)
	}
}

// TestRewriteNoted: a rewrite by ALTER … TYPE … USING reaches the table's
// next shapes as its Rewrite, from the event trigger the source installs,
// and across a restart of the source; a type change without USING does
// not.
func TestRewriteNoted(t *testing.T) {
	h := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY, n int, m int);
		INSERT INTO t VALUES (1, 1, 1);`)
	h.start(h.config())
	waitStreaming(t, h)
	h.Exec("ALTER TABLE t ALTER COLUMN n TYPE bigint")
	h.Exec("INSERT INTO t VALUES (2, 2, 2)")
	h.Exec("ALTER TABLE t ALTER COLUMN m TYPE int USING m * 100")
	h.Exec("INSERT INTO t VALUES (3, 3, 3)")
	h.CaughtUp()
	h.Stop()
	h.Exec("INSERT INTO t VALUES (4, 4, 4)")
	h.start(h.config())
	h.CaughtUp()
	at := map[int64]string{}
	for _, txn := range h.Read().Txns {
		for _, e := range txn.Events {
			id := e.Change.After[0].Int()
			rw := e.Change.Table.Rewrite
			switch {
			case id <= 2 && rw != nil:
				t.Errorf("row %d: rewrite %+v, want none", id, rw)
			case id > 2 && (rw == nil || rw.Statement != "ALTER TABLE t ALTER COLUMN m TYPE int USING m * 100"):
				t.Errorf("row %d: rewrite %+v, want the ALTER … USING", id, rw)
			case rw != nil:
				at[id] = rw.At
			}
		}
	}
	if at[3] == "" || at[3] != at[4] {
		t.Fatalf("rewrite positions %v: want the same for rows 3 and 4", at)
	}
}
