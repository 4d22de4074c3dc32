package postgres

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sinks"
	"github.com/walship/walship/sinks/sqlsink"
)

// TestIntegrationLockSessionKilled: the lock's session is terminated
// (pg_terminate_backend) while the applier holds it, and a second process
// takes the lock at once. The transaction in flight fails its fence with
// ErrLockLost instead of committing (its row is not on the follower), the
// applier refuses to begin more, Lost fires, the error is retryable (the
// sink restarts, not fails), and once the second process lets go, Prepare
// takes the lock again and applies. With the periodic check alone (no
// write in flight), a killed session is noticed within a few intervals.
func TestIntegrationLockSessionKilled(t *testing.T) {
	d, db, ctx := follower(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := sqlsink.New(sqlsink.Config{Sink: "lease", SourceEngines: map[string]string{"pg": "postgres"}, LeaseCheck: time.Hour}, d, log)
	_, release, err := a.Prepare(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	tbl := &ordering.Table{Schema: "public", Name: "leased", PrimaryKey: []string{"id"},
		Columns: []ordering.Column{{Name: "id", Type: "bigint", Kind: ordering.KindInt, Precision: -1, Scale: -1}}}
	if err := a.EnsureSchema(ctx, "pg", []*ordering.Table{tbl}); err != nil {
		t.Fatal(err)
	}
	insert := func(id int64) error {
		tx, err := a.Begin(ctx)
		if err != nil {
			return err
		}
		ch := ordering.Change{Op: ordering.OpInsert, Table: tbl, After: []ordering.Value{ordering.Int(id)}}
		if err := tx.Apply(ctx, "pg", &ch); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Record(ctx, "pg", []sinks.Applied{}); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	}
	if err := insert(1); err != nil {
		t.Fatalf("insert with the lock: %v", err)
	}
	// A transaction in flight when the session dies.
	tx, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Apply(ctx, "pg", &ordering.Change{Op: ordering.OpInsert, Table: tbl, After: []ordering.Value{ordering.Int(2)}}); err != nil {
		t.Fatal(err)
	}
	killLockSession(t, ctx, db, "lease")
	second, err := d.Lock(ctx, db, "lease") // another daemon sneaks in
	if err != nil {
		t.Fatalf("the lock is free after its session was killed, but: %v", err)
	}
	err = tx.Record(ctx, "pg", []sinks.Applied{})
	if !errors.Is(err, sinks.ErrLockLost) || !a.Retryable(err) {
		t.Fatalf("Record after the lock was lost = %v, want a retryable ErrLockLost", err)
	}
	t.Logf("fence: %v", err)
	tx.Rollback()
	select {
	case lost := <-a.Lost():
		if !errors.Is(lost, sinks.ErrLockLost) {
			t.Errorf("Lost sent %v", lost)
		}
	case <-time.After(5 * time.Second):
		t.Error("Lost did not fire after the fence failed")
	}
	if _, err := a.Begin(ctx); !errors.Is(err, sinks.ErrLockLost) {
		t.Errorf("Begin after the lock was lost = %v", err)
	}
	if err := a.Fold(ctx, "pg", sinks.Applied{}, kafka.Offsets{}); !errors.Is(err, sinks.ErrLockLost) {
		t.Errorf("Fold after the lock was lost = %v", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM public.leased WHERE id = 2").Scan(&n); err != nil || n != 0 {
		t.Errorf("the row of the fenced transaction is on the follower (%d, %v)", n, err)
	}
	defer func() {
		var ids string
		if err := db.QueryRowContext(ctx, "SELECT string_agg(id::text, ',' ORDER BY id) FROM public.leased").Scan(&ids); err != nil || ids != "1,2" {
			t.Errorf("follower rows %s (%v), want 1,2: only the inserts made while holding the lock", ids, err)
		}
	}()
	release()
	a.Close()

	// The restart: refused while the other holds the lock, then taken.
	if _, _, err := a.Prepare(ctx); !errors.Is(err, sqlsink.ErrLocked) {
		t.Errorf("Prepare while another holds the lock = %v, want ErrLocked", err)
	}
	a.Close()
	second.Release()
	a2 := sqlsink.New(sqlsink.Config{Sink: "lease", SourceEngines: map[string]string{"pg": "postgres"}, LeaseCheck: time.Hour}, d, log)
	_, release2, err := a2.Prepare(ctx)
	if err != nil {
		t.Fatalf("Prepare after the other let go: %v", err)
	}
	a = a2
	if err := a2.EnsureSchema(ctx, "pg", []*ordering.Table{tbl}); err != nil {
		t.Fatal(err)
	}
	if err := insert(2); err != nil {
		t.Fatalf("insert after taking the lock again: %v", err)
	}
	// Killed with nobody taking the lock: the fence finds it free.
	killLockSession(t, ctx, db, "lease")
	if err := insert(3); !errors.Is(err, sinks.ErrLockLost) {
		t.Errorf("insert after the session was killed = %v", err)
	} else {
		t.Logf("fence: %v", err)
	}
	release2()
	a2.Close()

	// The periodic check alone.
	a2 = sqlsink.New(sqlsink.Config{Sink: "lease", SourceEngines: map[string]string{"pg": "postgres"}, LeaseCheck: 100 * time.Millisecond}, d, log)
	_, release2, err = a2.Prepare(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	defer release2()
	a = a2
	if err := a2.EnsureSchema(ctx, "pg", []*ordering.Table{tbl}); err != nil {
		t.Fatal(err)
	}
	killLockSession(t, ctx, db, "lease")
	select {
	case lost := <-a2.Lost():
		t.Logf("check: %v", lost)
		if !errors.Is(lost, sinks.ErrLockLost) {
			t.Errorf("Lost sent %v", lost)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a killed lock session was not noticed by the check")
	}
	if err := insert(3); !errors.Is(err, sinks.ErrLockLost) {
		t.Errorf("insert after the check noticed = %v", err)
	}
}

// killLockSession terminates the session holding sink's advisory lock.
func killLockSession(t *testing.T, ctx context.Context, db *sql.DB, sink string) {
	t.Helper()
	var ok bool
	if err := db.QueryRowContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'walship sink '||$1 AND datname = current_database()`, sink).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminate the lock session: %v, %v", ok, err)
	}
	for i := 0; i < 100; i++ { // pg_terminate_backend only signals
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n); err == nil && n == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the advisory lock outlived its session")
}
