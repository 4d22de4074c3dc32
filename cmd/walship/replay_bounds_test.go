package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/walship/walship/internal/logfixture"
	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/offsets"
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
	log     *logfixture.Log
}

// newLogFixture writes a config with one external source and one SQLite
// sink per name in sinks (the file <dir>/<sink>.db).
func newLogFixture(t *testing.T, sinkNames ...string) *logFixture {
	t.Helper()
	broker := testenv.Kafka(t)
	f := &logFixture{t: t, name: fmt.Sprintf("walship_rb_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6), dir: t.TempDir()}
	f.prefix = f.name + ".src"
	if os.Getenv("WALSHIP_KEEP_TOPICS") != "1" {
		t.Cleanup(func() { testenv.DropTopics(t, f.name+".") })
	}
	f.log = logfixture.New(t, broker, f.prefix)
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

// txn publishes one transaction (logfixture.Log.Txn).
func (f *logFixture) txn(table string, at time.Time, snapshot bool, ids ...int64) offsets.Seq {
	f.t.Helper()
	return f.log.Txn(table, at, snapshot, ids...)
}

// ids reads the ids of table in a SQLite follower.
func (f *logFixture) ids(sink, table string) []int64 {
	f.t.Helper()
	return logfixture.IDs(f.t, f.path(sink), table)
}

// positions counts the positions rows of a SQLite follower.
func (f *logFixture) positions(sink string) int {
	f.t.Helper()
	return logfixture.Positions(f.t, f.path(sink))
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
