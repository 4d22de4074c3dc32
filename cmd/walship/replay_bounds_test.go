package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
)

// logFixture is a source's log written directly with the publisher, with
// commit times and snapshots chosen by the test, for a source the config
// names external (read from the log only), and SQLite sinks.
type logFixture struct {
	t       *testing.T
	name    string
	dir     string
	prefix  string
	cfgPath string
	httpAt  string
	pub     *kafka.Publisher
	seq     uint64
	tables  map[string]*ordering.Table
}

// newLogFixture writes a config with one external source and one SQLite
// sink per name in sinks (the file <dir>/<sink>.db).
func newLogFixture(t *testing.T, sinkNames ...string) *logFixture {
	t.Helper()
	broker := testenv.Kafka(t)
	f := &logFixture{t: t, name: fmt.Sprintf("walship_rb_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6), dir: t.TempDir(),
		tables: map[string]*ordering.Table{}}
	f.prefix = f.name + ".src"
	if os.Getenv("WALSHIP_KEEP_TOPICS") != "1" {
		t.Cleanup(func() { testenv.DropTopics(t, f.name+".") })
	}
	enc := envelope.NewEncoder(envelope.Source{Name: "src", Connector: "postgresql", Logical: f.prefix}, envelope.Options{})
	// One partition per data topic: the test knows each event's offset.
	f.pub = kafka.NewPublisher(kafka.Config{Brokers: []string{broker}, TopicPrefix: f.prefix, Partitions: 1}, enc)
	t.Cleanup(func() { f.pub.Close(context.Background()) })
	f.httpAt = freePort(t)
	var sinks strings.Builder
	for _, s := range sinkNames {
		fmt.Fprintf(&sinks, "  - { name: %s, from: [src], sqlite: { path: %q } }\n", s, f.path(s))
	}
	f.cfgPath = filepath.Join(f.dir, "walship.yaml")
	os.WriteFile(f.cfgPath, []byte(fmt.Sprintf(`state_dir: %s
http: { listen: %q }
shutdown_timeout: 20s
kafka: { brokers: [%q], topic_prefix: %s, partitions: 1 }
sources:
  - name: src
    topic_prefix: %s
    external: postgres
sinks:
%s`, filepath.Join(f.dir, "state"), f.httpAt, broker, f.name, f.prefix, sinks.String())), 0o600)
	return f
}

func (f *logFixture) path(sink string) string { return filepath.Join(f.dir, sink+".db") }

func (f *logFixture) table(name string) *ordering.Table {
	if t := f.tables[name]; t != nil {
		return t
	}
	t := &ordering.Table{Schema: "public", Name: name, Columns: []ordering.Column{
		{Name: "id", Kind: ordering.KindInt, Type: "bigint"}, {Name: "note", Kind: ordering.KindString, Type: "text", Nullable: true},
	}, PrimaryKey: []string{"id"}}
	f.tables[name] = t
	return t
}

// txn publishes one transaction committed at at: a row per id into table
// (inserts; snapshot rows for a snapshot chunk), and waits until it is
// durable. It returns the transaction's Seq.
func (f *logFixture) txn(table string, at time.Time, snapshot bool, ids ...int64) offsets.Seq {
	f.t.Helper()
	f.seq += 100
	txn := &ordering.Txn{Source: "src", ID: fmt.Sprint(f.seq), Seq: offsets.Seq{Pos: f.seq, Sub: offsets.StreamSub},
		Pos: offsets.PGPosition(offsets.LSN(f.seq), offsets.LSN(f.seq)), CommitTime: at}
	op := ordering.OpInsert
	if snapshot {
		txn.Seq.Sub, txn.Snapshot, txn.LastSnapshot, op = 0, true, true, ordering.OpRead
	}
	var chs []ordering.Change
	for _, id := range ids {
		chs = append(chs, ordering.Change{Table: f.table(table), Op: op, After: []ordering.Value{ordering.Int(id), ordering.String(fmt.Sprint("row ", id))}})
	}
	seq := iter.Seq2[*ordering.Change, error](func(yield func(*ordering.Change, error) bool) {
		for i := range chs {
			if !yield(&chs[i], nil) {
				return
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.pub.Publish(ctx, txn, len(chs), seq); err != nil {
		f.t.Fatal(err)
	}
	for {
		if s, _ := f.pub.Durable(); !s.Less(txn.Seq) {
			return txn.Seq
		}
		select {
		case <-f.pub.Notify():
		case <-ctx.Done():
			f.t.Fatalf("transaction %s not durable: %v", txn.Seq, f.pub.Err())
		}
	}
}

// ids reads the ids of table in a SQLite follower (none when the table
// was never created).
func (f *logFixture) ids(sink, table string) []int64 {
	f.t.Helper()
	db, err := sql.Open("sqlite3", "file:"+f.path(sink)+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		f.t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(&n); err != nil {
		if _, serr := os.Stat(f.path(sink)); os.IsNotExist(serr) {
			return nil
		}
		f.t.Fatal(err)
	}
	if n == 0 {
		return nil
	}
	r, err := db.Query("SELECT id FROM " + table + " ORDER BY id")
	if err != nil {
		f.t.Fatal(err)
	}
	defer r.Close()
	var out []int64
	for r.Next() {
		var id int64
		r.Scan(&id)
		out = append(out, id)
	}
	return out
}

// positions counts the rows a SQLite follower recorded in walship's
// positions tables (none when they were never created).
func (f *logFixture) positions(sink string) int {
	n := 0
	for _, t := range []string{"_walship_positions", "_walship_applied"} {
		db, err := sql.Open("sqlite3", "file:"+f.path(sink)+"?mode=ro&_busy_timeout=10000")
		if err != nil {
			f.t.Fatal(err)
		}
		var k int
		if err := db.QueryRow("SELECT count(*) FROM " + t).Scan(&k); err == nil {
			n += k
		}
		db.Close()
	}
	return n
}

// run starts the daemon; stop ends it (SIGTERM) and returns its output.
func (f *logFixture) run() (stop func() string) {
	f.t.Helper()
	cmd := exec.Command(binary, "run", "-c", f.cfgPath)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	stopped := false
	stop = func() string {
		if !stopped {
			stopped = true
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
		return log.String()
	}
	f.t.Cleanup(func() { stop() })
	return stop
}

// sinkState is a sink's state and last error on the daemon's status API
// (empty while it does not answer).
func (f *logFixture) sinkState(name string) (state, lastError string) {
	_, body, err := get("http://" + f.httpAt + "/api/v1/status")
	var doc struct {
		Sinks []struct {
			Name      string `json:"name"`
			State     string `json:"state"`
			LastError string `json:"last_error"`
		} `json:"sinks"`
	}
	if err != nil || json.Unmarshal([]byte(body), &doc) != nil {
		return "", ""
	}
	for _, s := range doc.Sinks {
		if s.Name == name {
			return s.State, s.LastError
		}
	}
	return "", ""
}

// waitFailed waits until the daemon shows sink failed and done() holds,
// and returns the sink's error.
func (f *logFixture) waitFailed(sink string, done func() bool, stop func() string) string {
	f.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		state, lastErr := f.sinkState(sink)
		if state == "failed" && done() {
			return lastErr
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("sink %s: state %q (%s)\nlog:\n%s", sink, state, lastErr, stop())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (f *logFixture) replay(args ...string) (string, int) {
	f.t.Helper()
	return walship(f.t, append([]string{"replay", "-c", f.cfgPath}, args...)...)
}

func wantIDs(t *testing.T, what string, got []int64, want ...int64) {
	t.Helper()
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: ids %v, want %v", what, got, want)
	}
}

// TestReplayToTimeNotInLogOrder: commit times that are not monotonic in
// log order (as PostgreSQL's are in LSN order, and MariaDB's whole
// seconds make them look). --to TIME applies the prefix of the log up to
// the last transaction committed at or before TIME: the one at TIME that
// follows a later one is applied, with the later one before it (a
// prefix, never a hole), and nothing after it.
func TestReplayToTimeNotInLogOrder(t *testing.T) {
	f := newLogFixture(t, "lite")
	T := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	f.txn("items", T.Add(-3*time.Second), false, 1)
	f.txn("items", T.Add(time.Second), false, 2) // later clock, earlier in the log
	f.txn("items", T, false, 3)                  // at the bound, after a later one
	f.txn("items", T.Add(2*time.Second), false, 4)
	f.txn("items", T.Add(-time.Second), false, 5) // at or before the bound, last such: the bound
	f.txn("items", T.Add(3*time.Second), false, 6)
	f.txn("items", T.Add(5*time.Second), false, 7)
	bound := T.Format(time.RFC3339Nano)

	plan, code := f.replay("--sink", "lite", "--dry-run", "--to", bound)
	if code != 0 || !strings.Contains(plan, ": 5 transactions (END markers)") {
		t.Errorf("dry run --to %s: exit %d\n%s", bound, code, plan)
	}

	out, code := f.replay("--sink", "lite", "--to", bound)
	t.Logf("replay --to %s:\n%s", bound, out)
	if code != 0 {
		t.Fatalf("replay --to %s: exit %d", bound, code)
	}
	if !strings.Contains(out, "5 transactions, 2 of them committed after") {
		t.Errorf("the replay does not say where the bound resolved:\n%s", out)
	}
	wantIDs(t, "--to "+bound, f.ids("lite", "items"), 1, 2, 3, 4, 5)

	// Into another follower, a bound before all but the first: only it.
	dir := t.TempDir()
	early := T.Add(-2 * time.Second).Format(time.RFC3339Nano)
	other := filepath.Join(dir, "early.db")
	if out, code := f.replay("--sink", "lite", "--into", other, "--to", early); code != 0 {
		t.Fatalf("replay --to %s: exit %d\n%s", early, code, out)
	}
	f2 := *f
	f2.dir = dir
	wantIDs(t, "--to "+early, f2.ids("early", "items"), 1)

	// A bound before every transaction applies nothing and says so.
	none := filepath.Join(dir, "none.db")
	out, code = f.replay("--sink", "lite", "--into", none, "--to", T.Add(-time.Hour).Format(time.RFC3339Nano))
	if code != 0 || !strings.Contains(out, "no transaction committed at or before") {
		t.Errorf("replay --to before the log: exit %d\n%s", code, out)
	}
	wantIDs(t, "--to before the log", f2.ids("none", "items"))

	// The rest of the log applies on top, to the end.
	if out, code := f.replay("--sink", "lite"); code != 0 {
		t.Fatalf("replay to the end: exit %d\n%s", code, out)
	}
	wantIDs(t, "to the end", f.ids("lite", "items"), 1, 2, 3, 4, 5, 6, 7)
}

// TestTrimmedLogRefused: retention (here DeleteRecords) removed the
// beginning of a log. A follower without positions is refused by replay
// --from earliest and by the daemon's new sink, each naming the partition
// and the way out, and nothing is applied; --from snapshot (the way out
// named, the log holding a later snapshot) builds it; sinks with positions
// go on as before. A fresh log (first offset 0) builds as ever.
func TestTrimmedLogRefused(t *testing.T) {
	f := newLogFixture(t, "lite", "fresh", "late")
	spine := kafka.TransactionTopic(f.prefix)
	data := kafka.TopicName(f.prefix, "public", "items")
	now := time.Now().UTC()
	// Spine offsets (BEGIN, END): A 0,1; B 2,3; C 4,5; D 6,7. Data offsets
	// of items/0: A 0..2, B 3, C 4..7, D 8.
	f.txn("items", now, true, 1, 2, 3) // A: the initial snapshot
	f.txn("items", now, false, 4)      // B
	f.txn("items", now, true, 1, 2, 3, 4)
	f.txn("items", now, false, 5) // D

	// A fresh log builds a follower from its start.
	if out, code := f.replay("--sink", "lite"); code != 0 {
		t.Fatalf("replay of a fresh log: exit %d\n%s", code, out)
	}
	wantIDs(t, "lite from a fresh log", f.ids("lite", "items"), 1, 2, 3, 4, 5)

	// Retention removes A and B: the spine and the data partition begin
	// at snapshot C.
	testenv.DeleteRecords(t, spine, 0, 4)
	testenv.DeleteRecords(t, data, 0, 4)

	out, code := f.replay("--sink", "fresh")
	t.Logf("replay --from earliest of a trimmed log:\n%s", out)
	if code != 1 {
		t.Errorf("replay --from earliest of a trimmed log: exit %d, want 1", code)
	}
	for _, want := range []string{spine + "/0 starts at offset 4", "retention removed the beginning of the log",
		"Nothing was applied", "--sink fresh --from snapshot"} {
		if !strings.Contains(out, want) {
			t.Errorf("refusal does not say %q", want)
		}
	}
	wantIDs(t, "fresh after the refusal", f.ids("fresh", "items"))
	if n := f.positions("fresh"); n != 0 {
		t.Errorf("the refused replay recorded %d positions", n)
	}

	// The way out it names.
	if out, code := f.replay("--sink", "fresh", "--from", "snapshot"); code != 0 {
		t.Fatalf("replay --from snapshot: exit %d\n%s", code, out)
	}
	wantIDs(t, "fresh from the snapshot", f.ids("fresh", "items"), 1, 2, 3, 4, 5)

	// The daemon: lite and fresh have positions and go on; late, a sink
	// added now, has none and refuses to start.
	f.txn("items", now, false, 6)
	stop := f.run()
	lateErr := f.waitFailed("late", func() bool {
		return len(f.ids("lite", "items")) == 6 && len(f.ids("fresh", "items")) == 6
	}, stop)
	stop()
	t.Logf("late: %s", lateErr)
	for _, want := range []string{spine + "/0 starts at offset 4", "retention removed the beginning of the log", "--resnapshot", "--from snapshot"} {
		if !strings.Contains(lateErr, want) {
			t.Errorf("late's error does not say %q", want)
		}
	}
	wantIDs(t, "late", f.ids("late", "items"))
	if n := f.positions("late"); n != 0 {
		t.Errorf("the refused sink recorded %d positions", n)
	}
	wantIDs(t, "lite with positions, after the trim", f.ids("lite", "items"), 1, 2, 3, 4, 5, 6)
}

// TestTrimmedDataPartitionRefused: the spine is whole but retention
// removed the beginning of a data partition a later transaction needs.
// replay --from earliest refuses before applying the transactions before
// it, names the partition, and, the log holding no snapshot, points to
// --resnapshot.
func TestTrimmedDataPartitionRefused(t *testing.T) {
	f := newLogFixture(t, "lite")
	now := time.Now().UTC()
	f.txn("a", now, false, 1, 2)
	f.txn("b", now, false, 3, 4) // b/0 offsets 0, 1
	f.txn("a", now, false, 5)
	b := kafka.TopicName(f.prefix, "public", "b")
	testenv.DeleteRecords(t, b, 0, 1)

	out, code := f.replay("--sink", "lite")
	t.Logf("replay:\n%s", out)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{b + "/0 starts at offset 1", "Nothing was applied", "the log holds no snapshot", "--sink lite --resnapshot"} {
		if !strings.Contains(out, want) {
			t.Errorf("refusal does not say %q", want)
		}
	}
	wantIDs(t, "table a", f.ids("lite", "a"))
	wantIDs(t, "table b", f.ids("lite", "b"))
	if n := f.positions("lite"); n != 0 {
		t.Errorf("the refused replay recorded %d positions", n)
	}

	// The daemon's sink, new, finds the hole when it first needs the
	// partition, and stops there (it applied the transaction before it).
	stop := f.run()
	lastErr := f.waitFailed("lite", func() bool { return true }, stop)
	out = stop()
	t.Logf("lite: %s", lastErr)
	if !strings.Contains(lastErr, b+"/0 starts at offset 1: retention removed the beginning of the log") {
		t.Errorf("lite's error does not name %s/0 starting at offset 1:\n%s\n%s", b, lastErr, out)
	}
	wantIDs(t, "daemon: table a", f.ids("lite", "a"), 1, 2)
	wantIDs(t, "daemon: table b", f.ids("lite", "b"))
}

// TestTrimmedPartitionAfterRestart: a sink that built its follower from
// the start of the log, stopped, and restarted with positions still needs
// from offset 0 a data partition it never read; retention removed the
// partition's first record meanwhile: the sink stops at once, naming it,
// and never starts the partition at the first offset left.
func TestTrimmedPartitionAfterRestart(t *testing.T) {
	f := newLogFixture(t, "lite")
	now := time.Now().UTC()
	f.txn("a", now, false, 1, 2)
	stop := f.run()
	for deadline := time.Now().Add(60 * time.Second); len(f.ids("lite", "a")) < 2; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("lite did not apply the first transaction:\n%s", stop())
		}
	}
	stop()
	f.txn("b", now, false, 3, 4) // b/0 offsets 0, 1
	f.txn("a", now, false, 5)
	b := kafka.TopicName(f.prefix, "public", "b")
	testenv.DeleteRecords(t, b, 0, 1)

	stop = f.run()
	lastErr := f.waitFailed("lite", func() bool { return true }, stop)
	out := stop()
	t.Logf("lite: %s", lastErr)
	if !strings.Contains(lastErr, b+"/0 starts at offset 1, but the follower needs it from 0") {
		t.Errorf("lite's error does not say %s/0 is needed from 0:\n%s\n%s", b, lastErr, out)
	}
	wantIDs(t, "table a", f.ids("lite", "a"), 1, 2)
	wantIDs(t, "table b", f.ids("lite", "b"))
}
