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
	*sourcetest.Harness
	db   *sql.DB // root on the test database
	addr string
	src  *Source
}

func newHarness(t *testing.T, schema ...string) *harness {
	t.Helper()
	dsn := testenv.MySQLSource(t)
	h := &harness{Harness: sourcetest.NewHarness(t, fmt.Sprintf("walship_my_%d_%d", os.Getpid(), harnessSeq.Add(1)))}
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
	return Config{Name: "my", Addr: h.addr, User: "root", ServerID: uint32(40000 + os.Getpid()%10000 + int(harnessSeq.Load())),
		Flavor: "mariadb", Tables: []string{h.Name + ".*"}, Snapshot: "initial", StateDir: h.StateDir, Heartbeat: time.Second}
}

func (h *harness) srcLog() *slog.Logger { return sourcetest.Logger() }

// logFor makes the source's Logs: publishers to the harness's topics.
func (h *harness) logFor(cfg Config) func() (sources.Log, error) {
	return sourcetest.Publisher(h.Broker, h.Name,
		envelope.NewEncoder(envelope.Source{Name: cfg.Name, Connector: "mariadb", Logical: h.Name}, envelope.Options{}))
}

// start runs the source until stop, restarting it after errors.
func (h *harness) start(cfg Config) {
	h.src = New(cfg, h.logFor(cfg), h.Store, h.srcLog())
	h.Run(h.src.Run, 300*time.Millisecond)
}

func (h *harness) exec(q string, args ...any) {
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

// caughtUp waits until the checkpoint holds the server's GTID position.
func (h *harness) caughtUp() {
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
	sourcetest.Until(h.T, 60*time.Second, 20*time.Millisecond, func() bool {
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
	ctx := context.Background()
	st := state{}
	for _, name := range tables {
		t, err := snapshotTableOf(ctx, h.db, h.Name, name)
		if err != nil {
			h.T.Fatal(err)
		}
		cols := t.cols
		rs, err := h.db.Query("SELECT " + t.selectList() + " FROM " + quoteIdent(name))
		if err != nil {
			h.T.Fatal(err)
		}
		rows := map[string][]ordering.Value{}
		raw := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
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
			rows[rowKey(t.table, row)] = row
		}
		rs.Close()
		st[name] = rows
	}
	return st
}

func converged(t *testing.T, got, want state) { t.Helper(); sourcetest.Converged(t, got, want, true) }
