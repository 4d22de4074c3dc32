package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/internal/logread"
	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sources/sourcetest"
)

// harness runs a Source against a fresh database on the real PostgreSQL
// source server and a fresh topic prefix on the real Kafka.
type harness struct {
	*sourcetest.Harness // Name: database, slot, publication and topic prefix
	dsn                 string
	admin               *pgx.Conn // on the test database
	src                 *Source
	stopRun             func() // stops the newest runUntilError and waits for it
}

func newHarness(t *testing.T, schema string) *harness {
	t.Helper()
	base := testenv.PGSource(t)
	ctx := context.Background()
	h := &harness{Harness: sourcetest.NewHarness(t, "walship_it")}
	root, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.Exec(ctx, "CREATE DATABASE "+h.Name); err != nil {
		t.Fatal(err)
	}
	root.Close(ctx)
	h.dsn = strings.Replace(base, "/postgres?", "/"+h.Name+"?", 1)
	if h.admin, err = pgx.Connect(ctx, h.dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.cleanup)
	if schema != "" {
		if _, err := h.admin.Exec(ctx, schema); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// cleanup stops the source and drops the slot and the database; the
// embedded Harness then closes the store and drops the topics.
func (h *harness) cleanup() {
	h.Stop()
	ctx := context.Background()
	h.admin.Close(ctx)
	root, err := pgx.Connect(ctx, testenv.PGSource(h.T))
	if err != nil {
		return
	}
	defer root.Close(ctx)
	root.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", h.Name)
	root.Exec(ctx, "DROP DATABASE IF EXISTS "+h.Name+" WITH (FORCE)")
}

func (h *harness) config() Config {
	return Config{Name: "pg", DSN: h.dsn, Slot: h.Name, Publication: h.Name, Tables: []string{"public.*"},
		Snapshot: "initial", StateDir: h.StateDir, HeartbeatInterval: 100 * time.Millisecond, StatusInterval: 100 * time.Millisecond}
}

// start runs the source until stop, restarting it after errors like the
// supervisor would; errors are reported to the test as logs.
func (h *harness) start(cfg Config) {
	h.T.Helper()
	h.src = New(cfg, h.logFor(cfg), h.Store, h.Logger())
	h.Run(h.src.Run, 200*time.Millisecond)
}

// logFor makes the source's Logs: publishers to the harness's topics.
func (h *harness) logFor(cfg Config) sourcetest.NewLog { return h.Log(cfg.Name, "postgresql", h.Name) }

func (h *harness) Exec(sql string, args ...any) {
	h.T.Helper()
	if _, err := h.admin.Exec(context.Background(), sql, args...); err != nil {
		h.T.Fatalf("%s: %v", sql, err)
	}
}

// CaughtUp waits until the source acknowledged everything written so far.
func (h *harness) CaughtUp() {
	// A liveness bound, not a measure: the default test run decodes this
	// beside the whole suite on two cores (PostgreSQL 18's run beside the
	// main one), where a big transaction's catch-up took over a minute.
	h.T.Helper()
	var target offsets.LSN
	if err := h.admin.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()").Scan(&target); err != nil {
		h.T.Fatal(err)
	}
	sourcetest.Until(h.T, 180*time.Second, 20*time.Millisecond, func() bool { return h.src.Status().AckedBytes >= uint64(target) },
		func() string { return fmt.Sprintf("source never acknowledged %s; status %+v", target, h.src.Status()) })
}

type state = sourcetest.State

var rowKey = sourcetest.RowKey

// fold applies the log like a sink, tables by qualified name.
func fold(t *testing.T, l *logread.Log) state {
	return sourcetest.Fold(t, l, (*ordering.Table).QualifiedName)
}

// sourceState reads the live tables through the same decoders.
func (h *harness) sourceState(tables ...string) state {
	h.T.Helper()
	ctx := context.Background()
	conn, err := h.src.connect(ctx)
	if err != nil {
		h.T.Fatal(err)
	}
	defer conn.Close(ctx)
	st := state{}
	for _, name := range tables {
		schema, tbl, _ := strings.Cut(name, ".")
		tn := tableName{schema, tbl}
		relid, cols, err := catalogColumns(ctx, conn, tn)
		if err != nil {
			h.T.Fatal(err)
		}
		rel, err := buildRelation(ctx, conn, relid, tn, cols, []string{"*.*"}, nil, 0)
		if err != nil {
			h.T.Fatal(err)
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
						h.T.Fatal(err)
					}
				}
			}
			rows[rowKey(rel.table, row)] = row
		}
		if _, err := rr.Close(); err != nil {
			h.T.Fatal(err)
		}
		st[name] = rows
	}
	return st
}

// converged compares the folded log with the source, table by table.
func converged(t *testing.T, got, want state) { t.Helper(); sourcetest.Converged(t, got, want, false) }

var _ sourcetest.Source = (*harness)(nil)

// Converged folds l and compares it with the live tables (schema.table).
func (h *harness) Converged(l *logread.Log, tables ...string) {
	converged(h.T, fold(h.T, l), h.sourceState(tables...))
}
