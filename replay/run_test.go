package replay

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/config"
	"github.com/walship/walship/internal/logfixture"
	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sinks/sqlite"
	"github.com/walship/walship/sinks/sqlsink"
)

// runFixture is a log written by hand (logfixture) for an external source
// src, and a config with one SQLite sink, lite, replayed by Run.
type runFixture struct {
	t      *testing.T
	dir    string
	prefix string
	cfg    *config.Config
	log    *logfixture.Log
}

func newRunFixture(t *testing.T) *runFixture {
	t.Helper()
	broker := testenv.Kafka(t)
	name := fmt.Sprintf("walship_rp_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	f := &runFixture{t: t, dir: t.TempDir(), prefix: name + ".src"}
	if os.Getenv("WALSHIP_KEEP_TOPICS") != "1" {
		t.Cleanup(func() { testenv.DropTopics(t, name+".") })
	}
	f.log = logfixture.New(t, broker, f.prefix)
	path := filepath.Join(f.dir, "walship.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`state_dir: %s
http: { listen: "off" }
kafka: { brokers: [%q], topic_prefix: %s, partitions: 1 }
sources:
  - { name: src, topic_prefix: %s, external: postgres }
sinks:
  - { name: lite, from: [src], sqlite: { path: %q } }
`, filepath.Join(f.dir, "state"), broker, name, f.prefix, f.path("lite"))), 0o600)
	var err error
	if f.cfg, err = config.Load(path); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *runFixture) path(db string) string { return filepath.Join(f.dir, db+".db") }

// engines are the SQLite pieces the command would build.
func testEngines() Engines {
	return Engines{Follower: func(sk config.Sink, engines map[string]string) (sqlsink.Config, sqlsink.Dialect) {
		return sqlsink.Config{Sink: sk.Name, SourceEngines: engines}, sqlite.New(*sk.SQLite)
	}}
}

// run replays sink lite with o (into o.Into, a name under the fixture's
// directory, when set) and returns the report, the error and the
// progress written.
func (f *runFixture) run(o Options) (*Report, error, string) {
	f.t.Helper()
	var progress bytes.Buffer
	o.Sink, o.Progress, o.Log = "lite", &progress, slog.New(slog.DiscardHandler)
	if o.Into != "" {
		o.Into = f.path(o.Into)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, f.cfg, o, testEngines())
	f.t.Logf("replay into %s, to %q, from %q, tables %v: %v\n%s", o.Into, o.To, o.From, o.Tables, err, progress.String())
	return rep, err, progress.String()
}

func (f *runFixture) ids(db, table string) []int64 {
	f.t.Helper()
	ids := logfixture.IDs(f.t, f.path(db), table)
	slices.Sort(ids)
	return ids
}

func wantIDs(t *testing.T, what string, got []int64, want ...int64) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: ids %v, want %v", what, got, want)
	}
}

// To TIME applies the prefix of the log up to the last transaction
// committed at or before TIME, whose commit times are not in log order (as
// PostgreSQL's are not in LSN order, and MariaDB's whole seconds make them
// look): the one at TIME that follows a later one is applied, with the
// later one before it (a prefix, never a hole), and nothing after it.
func TestRunToTimeNotInLogOrder(t *testing.T) {
	f := newRunFixture(t)
	T := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	f.log.Txn("items", T.Add(-3*time.Second), false, 1)
	f.log.Txn("items", T.Add(time.Second), false, 2) // later clock, earlier in the log
	f.log.Txn("items", T, false, 3)                  // at the bound, after a later one
	f.log.Txn("items", T.Add(2*time.Second), false, 4)
	f.log.Txn("items", T.Add(-time.Second), false, 5) // at or before the bound, last such: the bound
	f.log.Txn("items", T.Add(3*time.Second), false, 6)
	f.log.Txn("items", T.Add(5*time.Second), false, 7)
	bound := T.Format(time.RFC3339Nano)

	plan, err := DryRun(context.Background(), f.cfg, Options{Sink: "lite", To: bound}, testEngines())
	if err != nil || !plan.Complete || len(plan.Sources) != 1 || plan.Sources[0].Txns != 5 || plan.Sources[0].UpTo != 9 {
		t.Errorf("dry run --to %s: %v, %+v", bound, err, plan)
	}
	rep, err, progress := f.run(Options{To: bound})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress, "5 transactions, 2 of them committed after") {
		t.Errorf("the replay does not say where the bound resolved:\n%s", progress)
	}
	if rep.Txns != 5 || rep.Sources[0].Applied.Seq.Pos != 500 {
		t.Errorf("report: %d transactions, applied up to %s; want 5, up to 500", rep.Txns, rep.Sources[0].Applied.Seq)
	}
	wantIDs(t, "--to "+bound, f.ids("lite", "items"), 1, 2, 3, 4, 5)

	// Into another follower, a bound before all but the first: only it.
	if _, err, _ := f.run(Options{Into: "early", To: T.Add(-2 * time.Second).Format(time.RFC3339Nano)}); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "a bound after the first only", f.ids("early", "items"), 1)

	// A bound before every transaction applies nothing and says so.
	_, err, progress = f.run(Options{Into: "none", To: T.Add(-time.Hour).Format(time.RFC3339Nano)})
	if err != nil || !strings.Contains(progress, "no transaction committed at or before") {
		t.Errorf("a bound before the log: %v\n%s", err, progress)
	}
	wantIDs(t, "a bound before the log", f.ids("none", "items"))

	// The rest of the log applies on top, to the end.
	if rep, err, _ := f.run(Options{}); err != nil || rep.Txns != 2 {
		t.Fatalf("to the end: %v, %+v", err, rep)
	}
	wantIDs(t, "to the end", f.ids("lite", "items"), 1, 2, 3, 4, 5, 6, 7)
}

// A log that ends before To is applied whole, and the replay is not
// called done: a Report with a *ShortLogError.
func TestRunShortLog(t *testing.T) {
	f := newRunFixture(t)
	now := time.Now().UTC().Add(-time.Minute)
	f.log.Txn("items", now, false, 1)
	f.log.Txn("items", now, false, 2) // LSN 0/C8

	for _, c := range []struct{ into, to string }{
		{"pos", "0/1000"},
		{"time", time.Now().UTC().Add(time.Hour).Format(time.RFC3339Nano)},
	} {
		rep, err, _ := f.run(Options{Into: c.into, To: c.to})
		var short *ShortLogError
		if !errors.As(err, &short) || rep == nil || rep.Txns != 2 || !slices.Equal(short.Sources, []string{"src"}) || short.To != c.to {
			t.Errorf("--to %s past the log: %v, %+v; want a report of 2 transactions and a ShortLogError", c.to, err, rep)
		}
		wantIDs(t, "--to "+c.to, f.ids(c.into, "items"), 1, 2)
	}
	// A bound inside the log is reached.
	if _, err, _ := f.run(Options{Into: "in", To: "0/C8"}); err != nil {
		t.Errorf("--to the last transaction: %v", err)
	}
}

// Retention removed the beginning of the log: a follower without
// positions is refused before anything is applied, with what the way out
// is; From snapshot then builds it. A hole in a data partition is found
// before anything is applied too, and with no snapshot in the log only a
// new one helps.
func TestRunRefusesTrimmedLog(t *testing.T) {
	f := newRunFixture(t)
	now := time.Now().UTC()
	// Spine offsets (BEGIN, END): A 0,1; B 2,3; C 4,5; D 6,7. Data offsets
	// of items/0: A 0..2, B 3, C 4..7, D 8.
	f.log.Txn("items", now, true, 1, 2, 3) // A: the initial snapshot
	f.log.Txn("items", now, false, 4)      // B
	f.log.Txn("items", now, true, 1, 2, 3, 4)
	f.log.Txn("items", now, false, 5) // D
	testenv.DeleteRecords(t, kafka.TransactionTopic(f.prefix), 0, 4)
	testenv.DeleteRecords(t, kafka.TopicName(f.prefix, "public", "items"), 0, 4)

	_, err, _ := f.run(Options{})
	var trimmed *TrimmedLogError
	var te *kafka.TrimmedError
	if !errors.As(err, &trimmed) || !errors.As(err, &te) || te.Topic != kafka.TransactionTopic(f.prefix) || te.First != 4 {
		t.Fatalf("a trimmed log: %v, want a TrimmedLogError naming the transaction topic from offset 4", err)
	}
	if trimmed.Applied != 0 || !trimmed.FromSnapshot || len(trimmed.Snapshots) != 1 || !trimmed.Snapshots[0].Held ||
		!strings.Contains(trimmed.Snapshots[0].Where, "spine offset 5") {
		t.Errorf("refusal: %+v; want nothing applied, the newest snapshot (its END at spine offset 5) the way out", trimmed)
	}
	wantIDs(t, "after the refusal", f.ids("lite", "items"))
	if n := logfixture.Positions(t, f.path("lite")); n != 0 {
		t.Errorf("the refused replay recorded %d positions", n)
	}
	// The way out it names.
	if _, err, _ := f.run(Options{From: "snapshot"}); err != nil {
		t.Fatalf("--from snapshot: %v", err)
	}
	wantIDs(t, "from the snapshot", f.ids("lite", "items"), 1, 2, 3, 4, 5)
}

func TestRunRefusesTrimmedDataPartition(t *testing.T) {
	f := newRunFixture(t)
	now := time.Now().UTC()
	f.log.Txn("a", now, false, 1, 2)
	f.log.Txn("b", now, false, 3, 4) // b/0 offsets 0, 1
	f.log.Txn("a", now, false, 5)
	b := kafka.TopicName(f.prefix, "public", "b")
	testenv.DeleteRecords(t, b, 0, 1)

	_, err, _ := f.run(Options{})
	var trimmed *TrimmedLogError
	var te *kafka.TrimmedError
	if !errors.As(err, &trimmed) || !errors.As(err, &te) || te.Topic != b || te.First != 1 {
		t.Fatalf("a trimmed data partition: %v, want a TrimmedLogError naming %s/0 from offset 1", err, b)
	}
	if trimmed.Applied != 0 || trimmed.FromSnapshot || len(trimmed.Snapshots) != 1 || trimmed.Snapshots[0].Held || trimmed.Snapshots[0].Err != nil {
		t.Errorf("refusal: %+v; want nothing applied, no snapshot in the log", trimmed)
	}
	wantIDs(t, "table a", f.ids("lite", "a"))
	if n := logfixture.Positions(t, f.path("lite")); n != 0 {
		t.Errorf("the refused replay recorded %d positions", n)
	}
}

// A Tables replay into the follower the sink applies rebuilds those
// tables up to the sink's positions, then hands them back: its own
// positions are deleted.
func TestRunTablesHandBack(t *testing.T) {
	f := newRunFixture(t)
	now := time.Now().UTC()
	f.log.Txn("a", now, false, 1)
	f.log.Txn("b", now, false, 2)
	if _, err, _ := f.run(Options{}); err != nil {
		t.Fatal(err)
	}
	positions := logfixture.Positions(t, f.path("lite"))
	f.log.Txn("a", now, false, 3) // after the sink's positions: not for the tables replay
	emptyTable(t, f.path("lite"), "a")

	rep, err, _ := f.run(Options{Tables: []string{"public.a"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Tables, []string{"public.a"}) || rep.Txns != 2 {
		t.Errorf("report: %+v; want table public.a handed back after the sink's 2 transactions", rep)
	}
	wantIDs(t, "table a, up to the sink's positions", f.ids("lite", "a"), 1)
	wantIDs(t, "table b, untouched", f.ids("lite", "b"), 2)
	if n := logfixture.Positions(t, f.path("lite")); n != positions {
		t.Errorf("%d positions rows after the hand-back, want the sink's %d", n, positions)
	}
}

// emptyTable deletes every row of table in the SQLite follower at path.
func emptyTable(t *testing.T, path, table string) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("DELETE FROM " + table); err != nil {
		t.Fatal(err)
	}
}
