package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/walship/walship/sources"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/internal/logread"
	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
)

var harnessSeq atomic.Int64

// harness runs a Source against a fresh database on the real PostgreSQL
// source server and a fresh topic prefix on the real Kafka.
type harness struct {
	t        *testing.T
	name     string // database, slot, publication and topic prefix
	dsn      string
	admin    *pgx.Conn // on the test database
	broker   string
	stateDir string
	store    *offsets.Store
	src      *Source
	cancel   context.CancelFunc
	done     chan error
	stopRun  func() // stops the newest runUntilError and waits for it
}

func newHarness(t *testing.T, schema string) *harness {
	t.Helper()
	base := testenv.PGSource(t)
	broker := testenv.Kafka(t)
	ctx := context.Background()
	h := &harness{t: t, broker: broker, stateDir: t.TempDir(),
		name: fmt.Sprintf("walship_it_%d_%d", os.Getpid(), harnessSeq.Add(1))}
	root, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.Exec(ctx, "CREATE DATABASE "+h.name); err != nil {
		t.Fatal(err)
	}
	root.Close(ctx)
	h.dsn = strings.Replace(base, "/postgres?", "/"+h.name+"?", 1)
	if h.admin, err = pgx.Connect(ctx, h.dsn); err != nil {
		t.Fatal(err)
	}
	if schema != "" {
		if _, err := h.admin.Exec(ctx, schema); err != nil {
			t.Fatal(err)
		}
	}
	if h.store, err = offsets.OpenStore(h.stateDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.cleanup)
	return h
}

func (h *harness) cleanup() {
	h.stop()
	if h.broker != "" {
		defer testenv.DropTopics(h.t, h.name+".")
	}
	ctx := context.Background()
	h.admin.Close(ctx)
	h.store.Close()
	root, err := pgx.Connect(ctx, testenv.PGSource(h.t))
	if err != nil {
		return
	}
	defer root.Close(ctx)
	root.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", h.name)
	root.Exec(ctx, "DROP DATABASE IF EXISTS "+h.name+" WITH (FORCE)")
}

func (h *harness) config() Config {
	return Config{Name: "pg", DSN: h.dsn, Slot: h.name, Publication: h.name, Tables: []string{"public.*"},
		Snapshot: "initial", StateDir: h.stateDir, HeartbeatInterval: 100 * time.Millisecond, StatusInterval: 100 * time.Millisecond}
}

// start runs the source until stop, restarting it after errors like the
// supervisor would; errors are reported to the test as logs.
func (h *harness) start(cfg Config) {
	h.t.Helper()
	enc := envelope.NewEncoder(envelope.Source{Name: cfg.Name, Connector: "postgresql", Logical: h.name, Database: h.name}, envelope.Options{})
	newLog := func() (sources.Log, error) {
		return kafka.NewPublisher(kafka.Config{Brokers: []string{h.broker}, TopicPrefix: h.name, Partitions: 3}, enc), nil
	}
	h.src = New(cfg, newLog, h.store, h.srcLog())
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
			time.Sleep(200 * time.Millisecond)
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

func (h *harness) exec(sql string, args ...any) {
	h.t.Helper()
	if _, err := h.admin.Exec(context.Background(), sql, args...); err != nil {
		h.t.Fatalf("%s: %v", sql, err)
	}
}

// caughtUp waits until the source acknowledged everything written so far.
func (h *harness) caughtUp() {
	h.t.Helper()
	var target offsets.LSN
	if err := h.admin.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()").Scan(&target); err != nil {
		h.t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if h.src.Status().AckedBytes >= uint64(target) {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("source never acknowledged %s; status %+v", target, h.src.Status())
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

// state folds the log into table -> key -> row, applying each transaction
// once (a re-sent one is skipped by Seq), like a sink would.
type state map[string]map[string][]ordering.Value

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
			name := ch.Table.QualifiedName()
			rows := st[name]
			if rows == nil {
				rows = map[string][]ordering.Value{}
				st[name] = rows
			}
			switch ch.Op {
			case ordering.OpTruncate:
				clear(rows)
			case ordering.OpDelete:
				delete(rows, rowKey(ch.Table, ch.Before))
			default:
				// Unchanged columns keep the value of the row the update
				// found: the before image's key when there is one.
				k := rowKey(ch.Table, ch.After)
				old := rows[k]
				if ch.Before != nil {
					bk := rowKey(ch.Table, ch.Before)
					old = rows[bk]
					delete(rows, bk)
				}
				row := append([]ordering.Value(nil), ch.After...)
				for i, v := range row {
					if v.IsUnchanged() {
						if old == nil {
							t.Fatalf("%s %s: unchanged column %s with no earlier value", name, k, ch.Table.Columns[i].Name)
						}
						row[i] = old[i]
					}
				}
				rows[k] = row
			}
		}
	}
	return st
}

// rowKey is the primary key, or the whole row for keyless tables.
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

// sourceState reads the live tables through the same decoders.
func (h *harness) sourceState(tables ...string) state {
	h.t.Helper()
	ctx := context.Background()
	conn, err := h.src.connect(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	defer conn.Close(ctx)
	st := state{}
	for _, name := range tables {
		schema, tbl, _ := strings.Cut(name, ".")
		tn := tableName{schema, tbl}
		relid, cols, err := catalogColumns(ctx, conn, tn)
		if err != nil {
			h.t.Fatal(err)
		}
		rel, err := buildRelation(ctx, conn, relid, tn, cols, []string{"*.*"})
		if err != nil {
			h.t.Fatal(err)
		}
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = pgx.Identifier{c.Name}.Sanitize()
		}
		rr := conn.PgConn().ExecParams(ctx, "SELECT "+strings.Join(names, ",")+" FROM "+tn.quoted(), nil, nil, nil, nil)
		rows := map[string][]ordering.Value{}
		for rr.NextRow() {
			row := make([]ordering.Value, len(cols))
			for i, v := range rr.Values() {
				if v != nil {
					if row[i], err = rel.types[i].decode(v); err != nil {
						h.t.Fatal(err)
					}
				}
			}
			rows[rowKey(rel.table, row)] = row
		}
		if _, err := rr.Close(); err != nil {
			h.t.Fatal(err)
		}
		st[name] = rows
	}
	return st
}

// converged compares the folded log with the source, table by table.
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
					t.Errorf("%s %s differs", table, k)
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

func (h *harness) srcLog() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
