package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/internal/logread"
	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sources"
	"github.com/walship/walship/sources/sourcetest"
)

// harness runs a Source against a fresh database on the real MariaDB
// source and a fresh topic prefix on the real Kafka.
type harness struct {
	*sourcetest.Harness
	db   *sql.DB // root on the test database
	addr string
	src  *Source
}

func newHarness(t *testing.T, schema ...string) *harness {
	t.Helper()
	dsn := testenv.MySQLSource(t)
	h := &harness{Harness: sourcetest.NewHarness(t, "walship_my")}
	h.addr = dsn[strings.Index(dsn, "(")+1 : strings.Index(dsn, ")")]
	root, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.Exec("CREATE DATABASE " + h.Name); err != nil {
		t.Fatal(err)
	}
	root.Close()
	if h.db, err = sql.Open("mysql", dsn+h.Name+"?multiStatements=true"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Stop()
		h.db.Exec("DROP DATABASE IF EXISTS " + h.Name)
		h.db.Close()
	})
	for _, q := range schema {
		if _, err := h.db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return h
}

func (h *harness) config() Config {
	return Config{Name: "my", Addr: h.addr, User: "root", ServerID: uint32(40000 + os.Getpid()%10000 + int(sourcetest.LastSeq())),
		Flavor: "mariadb", Tables: []string{h.Name + ".*"}, Snapshot: "initial", StateDir: h.StateDir, Heartbeat: time.Second}
}

// logFor makes the source's Logs: publishers to the harness's topics.
func (h *harness) logFor(cfg Config) sourcetest.NewLog { return h.Log(cfg.Name, "mariadb", "") }

// start runs the source until stop, restarting it after errors.
func (h *harness) start(cfg Config) {
	h.src = New(cfg, h.logFor(cfg), h.Store, h.Logger())
	h.Run(h.src.Run, 300*time.Millisecond)
}

func (h *harness) Exec(q string, args ...any) {
	h.T.Helper()
	if _, err := h.db.Exec(q, args...); err != nil {
		h.T.Fatalf("%s: %v", q, err)
	}
}

func waitStreaming(t *testing.T, h *harness) {
	t.Helper()
	sourcetest.Until(t, 60*time.Second, 10*time.Millisecond, func() bool { return h.src.Status().State == sources.StateStreaming },
		func() string { return fmt.Sprintf("source not streaming: %+v", h.src.Status()) })
}

// CaughtUp waits until the checkpoint holds the server's GTID position.
func (h *harness) CaughtUp() {
	// A liveness bound, not a measure: the default test run decodes this
	// beside the whole suite on two cores (PostgreSQL 18's run beside the
	// main one), where a big transaction's catch-up took over a minute.
	h.T.Helper()
	var pos string
	if err := h.db.QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		h.T.Fatal(err)
	}
	target, err := offsets.ParseGTIDSet(offsets.FlavorMariaDB, pos)
	if err != nil {
		h.T.Fatal(err)
	}
	var cp offsets.Checkpoint
	sourcetest.Until(h.T, 180*time.Second, 20*time.Millisecond, func() bool {
		cp, err = h.Store.Load(context.Background(), "my")
		return err == nil && cp.Position.GTIDs.Contains(target)
	}, func() string {
		return fmt.Sprintf("checkpoint %v never reached %s; status %+v", cp.Position, pos, h.src.Status())
	})
}

type state = sourcetest.State

var rowKey = sourcetest.RowKey

// fold applies the log like a sink (each transaction once, by Seq).
func fold(t *testing.T, l *logread.Log) state {
	return sourcetest.Fold(t, l, func(t *ordering.Table) string { return t.Name })
}

// sourceState reads the live tables through the snapshot's decoders.
func (h *harness) sourceState(tables ...string) state {
	h.T.Helper()
	st := state{}
	for _, name := range tables {
		rows := map[string][]ordering.Value{}
		h.sourceRows(name, func(t *ordering.Table, row []ordering.Value) { rows[rowKey(t, row)] = row })
		st[name] = rows
	}
	return st
}

// sourceRows reads the live table name through the snapshot's decoders,
// passing each row to f.
func (h *harness) sourceRows(name string, f func(t *ordering.Table, row []ordering.Value)) {
	h.T.Helper()
	t, err := snapshotTableOf(context.Background(), h.db, h.Name, name)
	if err != nil {
		h.T.Fatal(err)
	}
	rs, err := h.db.Query("SELECT " + t.selectList() + " FROM " + quoteIdent(name))
	if err != nil {
		h.T.Fatal(err)
	}
	defer rs.Close()
	raw := make([]sql.RawBytes, len(t.cols))
	ptrs := make([]any, len(t.cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			h.T.Fatal(err)
		}
		row, err := t.textRow(raw)
		if err != nil {
			h.T.Fatal(err)
		}
		f(t.table, row)
	}
}

func converged(t *testing.T, got, want state) { t.Helper(); sourcetest.Converged(t, got, want, true) }

var _ sourcetest.Source = (*harness)(nil)

// StartChunked starts the source reading the snapshot in chunks of rows
// rows, and waits until it streams.
func (h *harness) StartChunked(rows int) {
	cfg := h.config()
	cfg.SnapshotChunkRows = rows
	h.start(cfg)
	waitStreaming(h.T, h)
}

// Converged folds l and compares it with the live tables.
func (h *harness) Converged(l *logread.Log, tables ...string) {
	converged(h.T, fold(h.T, l), h.sourceState(tables...))
}
