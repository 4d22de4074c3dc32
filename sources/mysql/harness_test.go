package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/walship/walship/internal/logread"
	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sources"
)

var harnessSeq atomic.Int64

// harness runs a Source against a fresh database on the real MariaDB
// source and a fresh topic prefix on the real Kafka.
type harness struct {
	t        *testing.T
	name     string
	db       *sql.DB // root on the test database
	addr     string
	broker   string
	stateDir string
	store    *offsets.Store
	src      *Source
	cancel   context.CancelFunc
	done     chan error
}

func newHarness(t *testing.T, schema ...string) *harness {
	t.Helper()
	dsn := testenv.MySQLSource(t)
	h := &harness{t: t, broker: testenv.Kafka(t), stateDir: t.TempDir(),
		name: fmt.Sprintf("walship_my_%d_%d", os.Getpid(), harnessSeq.Add(1))}
	h.addr = dsn[strings.Index(dsn, "(")+1 : strings.Index(dsn, ")")]
	root, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.Exec("CREATE DATABASE " + h.name); err != nil {
		t.Fatal(err)
	}
	root.Close()
	if h.db, err = sql.Open("mysql", dsn+h.name+"?multiStatements=true"); err != nil {
		t.Fatal(err)
	}
	for _, q := range schema {
		if _, err := h.db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if h.store, err = offsets.OpenStore(h.stateDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.stop()
		if h.broker != "" {
			defer testenv.DropTopics(t, h.name+".")
		}
		h.db.Exec("DROP DATABASE IF EXISTS " + h.name)
		h.db.Close()
		h.store.Close()
	})
	return h
}

func (h *harness) config() Config {
	return Config{Name: "my", Addr: h.addr, User: "root", ServerID: uint32(40000 + os.Getpid()%10000 + int(harnessSeq.Load())),
		Flavor: "mariadb", Tables: []string{h.name + ".*"}, Snapshot: "initial", StateDir: h.stateDir, Heartbeat: time.Second}
}

func (h *harness) srcLog() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// logFor makes the source's Logs: publishers to the harness's topics.
func (h *harness) logFor(cfg Config) func() (sources.Log, error) {
	enc := envelope.NewEncoder(envelope.Source{Name: cfg.Name, Connector: "mariadb", Logical: h.name}, envelope.Options{})
	return func() (sources.Log, error) {
		return kafka.NewPublisher(kafka.Config{Brokers: []string{h.broker}, TopicPrefix: h.name, Partitions: 3}, enc), nil
	}
}

func (h *harness) start(cfg Config) {
	h.src = New(cfg, h.logFor(cfg), h.store, h.srcLog())
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() {
		for {
			err := h.src.Run(ctx, func() {})
			if ctx.Err() != nil {
				h.done <- err
				return
			}
			h.t.Logf("source run ended: %v", err)
			time.Sleep(300 * time.Millisecond)
		}
	}()
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("source stopped with %v", err)
	}
	h.cancel = nil
}

func (h *harness) exec(q string, args ...any) {
	h.t.Helper()
	if _, err := h.db.Exec(q, args...); err != nil {
		h.t.Fatalf("%s: %v", q, err)
	}
}

func waitStreaming(t *testing.T, h *harness) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for h.src.Status().State != sources.StateStreaming {
		if time.Now().After(deadline) {
			t.Fatalf("source not streaming: %+v", h.src.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// caughtUp waits until the checkpoint holds the server's GTID position.
func (h *harness) caughtUp() {
	h.t.Helper()
	var pos string
	if err := h.db.QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		h.t.Fatal(err)
	}
	target, err := offsets.ParseGTIDSet(offsets.FlavorMariaDB, pos)
	if err != nil {
		h.t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		cp, err := h.store.Load(context.Background(), "my")
		if err == nil && cp.Position.GTIDs.Contains(target) {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("checkpoint %v never reached %s; status %+v", cp.Position, pos, h.src.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) read() *logread.Log {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := logread.Read(ctx, h.broker, h.name)
	if err != nil {
		h.t.Fatal(err)
	}
	return l
}

type state map[string]map[string][]ordering.Value

// fold applies the log like a sink (each transaction once, by Seq).
func fold(t *testing.T, l *logread.Log) state {
	st := state{}
	var applied offsets.Seq
	for _, txn := range l.Txns {
		if !applied.Less(txn.End.Seq) {
			continue
		}
		applied = txn.End.Seq
		for _, e := range txn.Events {
			ch := e.Change
			rows := st[ch.Table.Name]
			if rows == nil {
				rows = map[string][]ordering.Value{}
				st[ch.Table.Name] = rows
			}
			switch ch.Op {
			case ordering.OpTruncate:
				clear(rows)
			case ordering.OpDelete:
				delete(rows, rowKey(ch.Table, ch.Before))
			default:
				if ch.Before != nil {
					delete(rows, rowKey(ch.Table, ch.Before))
				}
				rows[rowKey(ch.Table, ch.After)] = ch.After
			}
		}
	}
	return st
}

func rowKey(t *ordering.Table, row []ordering.Value) string {
	var parts []string
	if len(t.PrimaryKey) == 0 {
		for _, v := range row {
			parts = append(parts, v.String())
		}
	} else {
		for _, k := range t.PrimaryKey {
			parts = append(parts, row[t.ColumnIndex(k)].String())
		}
	}
	b, _ := json.Marshal(parts)
	return string(b)
}

// sourceState reads the live tables through the snapshot's decoders.
func (h *harness) sourceState(tables ...string) state {
	h.t.Helper()
	ctx := context.Background()
	st := state{}
	for _, name := range tables {
		t, err := snapshotTableOf(ctx, h.db, h.name, name)
		if err != nil {
			h.t.Fatal(err)
		}
		cols := t.cols
		rs, err := h.db.Query("SELECT " + t.selectList() + " FROM " + quoteIdent(name))
		if err != nil {
			h.t.Fatal(err)
		}
		rows := map[string][]ordering.Value{}
		raw := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		for rs.Next() {
			if err := rs.Scan(ptrs...); err != nil {
				h.t.Fatal(err)
			}
			row, err := t.textRow(raw)
			if err != nil {
				h.t.Fatal(err)
			}
			rows[rowKey(t.table, row)] = row
		}
		rs.Close()
		st[name] = rows
	}
	return st
}

func converged(t *testing.T, got, want state) {
	t.Helper()
	for table, rows := range want {
		g := got[table]
		missing, extra, diff := 0, 0, 0
		for k, row := range rows {
			gr, ok := g[k]
			switch {
			case !ok:
				missing++
			case !rowsEqual(gr, row):
				diff++
				if diff <= 3 {
					t.Errorf("%s %s differs: %v vs %v", table, k, gr, row)
				}
			}
		}
		for k := range g {
			if _, ok := rows[k]; !ok {
				extra++
			}
		}
		if missing+extra+diff > 0 {
			t.Errorf("%s: %d missing, %d extra, %d different (of %d)", table, missing, extra, diff, len(rows))
		}
	}
}

func rowsEqual(a, b []ordering.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}
