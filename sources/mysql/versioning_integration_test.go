package mysql

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/internal/logread"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/supervise"
)

// svTables are system-versioned tables with implicit period columns (sv,
// with a unique key the server extends with row_end too) and explicit
// invisible ones (sx), each with history rows before the source starts.
var svTables = []string{
	`CREATE TABLE sv (id int PRIMARY KEY, v int, u int UNIQUE) WITH SYSTEM VERSIONING`,
	`CREATE TABLE sx (id int PRIMARY KEY, v varchar(10),
		rs TIMESTAMP(6) GENERATED ALWAYS AS ROW START INVISIBLE, re TIMESTAMP(6) GENERATED ALWAYS AS ROW END INVISIBLE,
		PERIOD FOR SYSTEM_TIME (rs, re)) WITH SYSTEM VERSIONING`,
	`INSERT INTO sv (id, v) VALUES (1, 1), (2, 2), (3, 3)`,
	`UPDATE sv SET v = 20 WHERE id = 2`,
	`DELETE FROM sv WHERE id = 3`,
	`INSERT INTO sx (id, v) VALUES (1, 'a'), (2, 'b')`,
	`UPDATE sx SET v = 'bb' WHERE id = 2`,
	`DELETE FROM sx WHERE id = 1`,
}

// svChanges are the log's changes of the system-versioned tables, one
// transaction a line: "table op before → after", images as id,v, ops
// as the envelope writes them (c, u, d, r).
func svChanges(l *logread.Log, snapshot bool) []string {
	img := func(row []ordering.Value) string {
		if row == nil {
			return "-"
		}
		return row[0].String() + "," + row[1].String()
	}
	var out []string
	for _, txn := range l.Txns {
		if txn.End.Snapshot != snapshot {
			continue
		}
		var evs []string
		for _, e := range txn.Events {
			ch := e.Change
			if ch.Table.Name != "sv" && ch.Table.Name != "sx" {
				continue
			}
			evs = append(evs, fmt.Sprintf("%s %s %s → %s", ch.Table.Name, ch.Op, img(ch.Before), img(ch.After)))
		}
		if len(evs) > 0 {
			out = append(out, strings.Join(evs, "; "))
		}
	}
	return out
}

// TestSystemVersionedTables: the snapshot and the stream of MariaDB
// system-versioned tables carry their current rows only, in the shape
// without the period columns (implicit or explicit), keyed by the user's
// primary key: an insert, an update, an u of the key, a delete, a
// multi-row update, DELETE HISTORY and an insert, u and d in one
// transaction each become what the follower of the current rows needs,
// and the history rows the binlog also holds are dropped. Folded, the log
// equals SELECT * of each table.
func TestSystemVersionedTables(t *testing.T) {
	h := newHarness(t, svTables...)
	h.start(h.config())
	waitStreaming(t, h)
	for _, q := range []string{
		"INSERT INTO sv (id, v) VALUES (4, 4)",
		"UPDATE sv SET v = 41 WHERE id = 4",
		"DELETE FROM sv WHERE id = 1",
		"UPDATE sv SET id = 40 WHERE id = 4",
		"UPDATE sv SET v = v + 1",
		"DELETE HISTORY FROM sv",
		"BEGIN; INSERT INTO sv (id, v) VALUES (5, 5); UPDATE sv SET v = 6 WHERE id = 5; DELETE FROM sv WHERE id = 5; COMMIT",
		"INSERT INTO sx (id, v) VALUES (3, 'c')",
		"UPDATE sx SET v = 'cc' WHERE id = 3",
		"DELETE FROM sx WHERE id = 2",
		"DELETE HISTORY FROM sx",
		// A duplicate of a current key is refused, of a history key not.
		"INSERT INTO sv (id, v) VALUES (1, 100)",
	} {
		h.Exec(q)
	}
	var history int
	if err := h.db.QueryRow("SELECT count(*) FROM sv FOR SYSTEM_TIME ALL WHERE row_end < '2038-01-01'").Scan(&history); err != nil {
		t.Fatal(err)
	}
	if history == 0 {
		t.Fatal("no history rows at the source: the test tests nothing")
	}
	h.CaughtUp()
	l := h.Read()

	sameShapes(t, svChanges(l, true), []string{"sv r - → 1,1; sv r - → 2,20", "sx r - → 2,bb"})
	sameShapes(t, svChanges(l, false), []string{
		"sv c - → 4,4",
		"sv u 4,4 → 4,41",
		"sv d 1,1 → -",
		"sv u 4,41 → 40,41",
		"sv u 2,20 → 2,21; sv u 40,41 → 40,42",
		// DELETE HISTORY: nothing.
		"sv c - → 5,5; sv u 5,5 → 5,6; sv d 5,6 → -",
		"sx c - → 3,c",
		"sx u 3,c → 3,cc",
		"sx d 2,bb → -",
		"sv c - → 1,100",
	})
	for _, txn := range l.Txns {
		for _, e := range txn.Events {
			tbl := e.Change.Table
			var cols []string
			for _, c := range tbl.Columns {
				cols = append(cols, c.Name)
			}
			want := []string{"id", "v"}
			if tbl.Name == "sv" {
				want = []string{"id", "v", "u"}
			}
			if !reflect.DeepEqual(cols, want) || !reflect.DeepEqual(tbl.PrimaryKey, []string{"id"}) || tbl.Serial {
				t.Fatalf("%s (snapshot %v): columns %v, key %v, serial %v; want %v keyed by id", tbl.Name, txn.End.Snapshot, cols, tbl.PrimaryKey, tbl.Serial, want)
			}
			if tbl.Name == "sv" && !reflect.DeepEqual(tbl.UniqueKeys, [][]string{{"u"}}) {
				t.Fatalf("sv (snapshot %v): unique keys %v, want [[u]]", txn.End.Snapshot, tbl.UniqueKeys)
			}
		}
	}
	converged(t, fold(t, l), h.sourceState("sv", "sx"))
}

// TestSystemVersionedTrxPreciseRefused: a transaction-precise
// system-versioned table, whose DML MariaDB binlogs as statements, stops
// the snapshot permanently, naming the table; and, captured without a
// snapshot, its first change stops the stream (ErrStatement).
func TestSystemVersionedTrxPreciseRefused(t *testing.T) {
	h := newHarness(t, `CREATE TABLE st (id int PRIMARY KEY, v int,
		s BIGINT UNSIGNED GENERATED ALWAYS AS ROW START, e BIGINT UNSIGNED GENERATED ALWAYS AS ROW END,
		PERIOD FOR SYSTEM_TIME (s, e)) ENGINE=InnoDB WITH SYSTEM VERSIONING`, `INSERT INTO st (id, v) VALUES (1, 1)`)
	cfg := h.config()
	run := func(cfg Config) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return New(cfg, h.logFor(cfg), h.Store, h.Logger()).Run(ctx, func() {})
	}
	err := run(cfg)
	if !errors.Is(err, ErrTrxPrecise) || !supervise.IsPermanent(err) || !strings.Contains(err.Error(), h.Name+".st") {
		t.Fatalf("snapshot: err = %v", err)
	}
	t.Logf("snapshot: %v", err)

	cfg.Snapshot = "never"
	h.start(cfg)
	waitStreaming(t, h)
	h.Stop()
	h.Exec("UPDATE st SET v = 2 WHERE id = 1")
	err = run(cfg)
	if !errors.Is(err, ErrStatement) || !supervise.IsPermanent(err) || !strings.Contains(err.Error(), "transaction-precise") {
		t.Fatalf("stream: err = %v", err)
	}
	t.Logf("stream: %v", err)
}

// TestSystemVersioningAddedAndDropped: ALTER TABLE ... ADD SYSTEM
// VERSIONING on a captured table, and later DROP SYSTEM VERSIONING, keep
// its changes in one shape (id, v) with the rows it holds: rows written
// before the ALTER decode as they were, those after it are translated,
// and after the DROP they are plain again.
func TestSystemVersioningAddedAndDropped(t *testing.T) {
	h := newHarness(t, `CREATE TABLE p (id int PRIMARY KEY, v int)`, `INSERT INTO p VALUES (1, 1), (2, 2)`)
	h.start(h.config())
	waitStreaming(t, h)
	h.Exec("UPDATE p SET v = 10 WHERE id = 1")
	h.Exec("ALTER TABLE p ADD SYSTEM VERSIONING")
	h.Exec("UPDATE p SET v = 20 WHERE id = 2")
	h.Exec("DELETE FROM p WHERE id = 1")
	h.Exec("INSERT INTO p VALUES (3, 3)")
	// The source reads the catalog after DDL: let it pass the versioned
	// rows before versioning goes (see versioning.go).
	h.CaughtUp()
	h.Exec("ALTER TABLE p DROP SYSTEM VERSIONING")
	h.Exec("UPDATE p SET v = 30 WHERE id = 3")
	h.CaughtUp()
	l := h.Read()
	var got []string
	for _, txn := range l.Txns {
		if txn.End.Snapshot {
			continue
		}
		for _, e := range txn.Events {
			ch := e.Change
			if len(ch.Table.Columns) != 2 || !reflect.DeepEqual(ch.Table.PrimaryKey, []string{"id"}) {
				t.Fatalf("shape %+v", ch.Table)
			}
			row := ch.After
			if row == nil {
				row = ch.Before
			}
			got = append(got, fmt.Sprintf("%s %s,%s", ch.Op, row[0], row[1]))
		}
	}
	sameShapes(t, got, []string{"u 1,10", "u 2,20", "d 1,10", "c 3,3", "u 3,30"})
	converged(t, fold(t, l), h.sourceState("p"))
}
