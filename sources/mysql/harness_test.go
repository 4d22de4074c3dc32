package mysql

import (
	"context"
	"database/sql"
	"fmt"
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
	"github.com/walship/walship/sources"
	"github.com/walship/walship/sources/sourcetest"
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
	run      sourcetest.Runner
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

func (h *harness) srcLog() *slog.Logger { return sourcetest.Logger() }

// logFor makes the source's Logs: publishers to the harness's topics.
func (h *harness) logFor(cfg Config) func() (sources.Log, error) {
	return sourcetest.Publisher(h.broker, h.name,
		envelope.NewEncoder(envelope.Source{Name: cfg.Name, Connector: "mariadb", Logical: h.name}, envelope.Options{}))
}

// start runs the source until stop, restarting it after errors.
func (h *harness) start(cfg Config) {
	h.src = New(cfg, h.logFor(cfg), h.store, h.srcLog())
	h.run.Start(h.t, h.src.Run, 300*time.Millisecond)
}

func (h *harness) stop() { h.run.Stop(h.t) }

func (h *harness) exec(q string, args ...any) {
	h.t.Helper()
	if _, err := h.db.Exec(q, args...); err != nil {
		h.t.Fatalf("%s: %v", q, err)
	}
}

func waitStreaming(t *testing.T, h *harness) {
	t.Helper()
	sourcetest.Until(t, 60*time.Second, 10*time.Millisecond, func() bool { return h.src.Status().State == sources.StateStreaming },
		func() string { return fmt.Sprintf("source not streaming: %+v", h.src.Status()) })
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
	var cp offsets.Checkpoint
	sourcetest.Until(h.t, 60*time.Second, 20*time.Millisecond, func() bool {
		cp, err = h.store.Load(context.Background(), "my")
		return err == nil && cp.Position.GTIDs.Contains(target)
	}, func() string {
		return fmt.Sprintf("checkpoint %v never reached %s; status %+v", cp.Position, pos, h.src.Status())
	})
}

func (h *harness) read() *logread.Log { h.t.Helper(); return sourcetest.Read(h.t, h.broker, h.name) }

type state = sourcetest.State

var rowKey = sourcetest.RowKey

// fold applies the log like a sink (each transaction once, by Seq).
func fold(t *testing.T, l *logread.Log) state {
	return sourcetest.Fold(t, l, func(t *ordering.Table) string { return t.Name })
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

func converged(t *testing.T, got, want state) { t.Helper(); sourcetest.Converged(t, got, want, true) }
