package sinktest

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sinks"
	"github.com/walship/walship/sinks/sqlsink"
)

// Lease is how one engine's follower takes part in [LockSessionKilled].
type Lease struct {
	Dialect sqlsink.Dialect
	DB      *sql.DB // a pool on the follower database, for checks and Kill
	// Table is the SQL name of the follower table "leased" (qualified
	// where the engine has schemas).
	Table string
	// IDs is a query of Table's ids, comma-separated in order.
	IDs string
	// Kill ends the session that holds sink's lock, and returns once the
	// lock is free.
	Kill func(t *testing.T, ctx context.Context, db *sql.DB, sink string)
	// Restart is the dialect the applier is restarted with (Dialect when
	// nil), and Idle how long the restarted applier waits, with no check,
	// before it writes: an engine whose pool sessions time out sooner
	// proves that the lock's session outlives them.
	Restart sqlsink.Dialect
	Idle    time.Duration
}

// LockSessionKilled: the lock's session is killed while the applier holds
// it, and a second process takes the lock at once. The transaction in
// flight fails its fence with ErrLockLost instead of committing (its row
// is not on the follower), the applier refuses to begin more, Lost fires,
// the error is retryable (the sink restarts, not fails), and once the
// second process lets go, Prepare takes the lock again and applies. A
// session killed with nobody taking the lock is found by the fence too.
// With the periodic check alone (no write in flight), a killed session is
// noticed within a few intervals.
func LockSessionKilled(t *testing.T, ctx context.Context, e Lease) {
	d, db := e.Dialect, e.DB
	restart := e.Restart
	if restart == nil {
		restart = d
	}
	a := NewApplier(d, "lease", time.Hour)
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
	if err := Insert(ctx, a, tbl, ordering.Int(1)); err != nil {
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
	e.Kill(t, ctx, db, "lease")
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
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+e.Table+" WHERE id = 2").Scan(&n); err != nil || n != 0 {
		t.Errorf("the row of the fenced transaction is on the follower (%d, %v)", n, err)
	}
	defer func() {
		var ids string
		if err := db.QueryRowContext(ctx, e.IDs).Scan(&ids); err != nil || ids != "1,2" {
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
	a2 := NewApplier(restart, "lease", time.Hour)
	_, release2, err := a2.Prepare(ctx)
	if err != nil {
		t.Fatalf("Prepare after the other let go: %v", err)
	}
	if err := a2.EnsureSchema(ctx, "pg", []*ordering.Table{tbl}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(e.Idle) // no check meanwhile: only the lock session's own settings keep it
	if err := Insert(ctx, a2, tbl, ordering.Int(2)); err != nil {
		t.Fatalf("insert after taking the lock again and idling %v: %v", e.Idle, err)
	}
	// Killed with nobody taking the lock: the fence finds it free.
	e.Kill(t, ctx, db, "lease")
	if err := Insert(ctx, a2, tbl, ordering.Int(3)); !errors.Is(err, sinks.ErrLockLost) {
		t.Errorf("insert after the session was killed = %v", err)
	} else {
		t.Logf("fence: %v", err)
	}
	release2()
	a2.Close()

	// The periodic check alone notices a killed session.
	a2 = NewApplier(restart, "lease", 100*time.Millisecond)
	_, release2, err = a2.Prepare(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	defer release2()
	if err := a2.EnsureSchema(ctx, "pg", []*ordering.Table{tbl}); err != nil {
		t.Fatal(err)
	}
	e.Kill(t, ctx, db, "lease")
	select {
	case lost := <-a2.Lost():
		t.Logf("check: %v", lost)
		if !errors.Is(lost, sinks.ErrLockLost) {
			t.Errorf("Lost sent %v", lost)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a killed lock session was not noticed by the check")
	}
	if err := Insert(ctx, a2, tbl, ordering.Int(3)); !errors.Is(err, sinks.ErrLockLost) {
		t.Errorf("insert after the check noticed = %v", err)
	}
}

// LockOnce: the sink's lock is held once. A second Lock is ErrLocked, and
// its message names the holder (it holds each of holder); the lock of
// sink other is another one (with perFile, the same one: refused too);
// Release is idempotent and frees the lock.
func LockOnce(t testing.TB, ctx context.Context, d sqlsink.Dialect, db *sql.DB, sink, other string, perFile bool, holder ...string) {
	t.Helper()
	release, err := d.Lock(ctx, db, sink)
	if err != nil {
		t.Fatalf("first Lock(%s): %v", sink, err)
	}
	_, err = d.Lock(ctx, db, sink)
	if !errors.Is(err, sqlsink.ErrLocked) {
		t.Fatalf("second Lock(%s) = %v, want ErrLocked", sink, err)
	}
	t.Logf("ErrLocked: %v", err)
	for _, h := range holder {
		if !strings.Contains(err.Error(), h) {
			t.Errorf("ErrLocked does not name the holder (%s): %v", h, err)
		}
	}
	if perFile {
		if _, err := d.Lock(ctx, db, other); !errors.Is(err, sqlsink.ErrLocked) {
			t.Errorf("the lock is per file: Lock(%s) = %v", other, err)
		}
	} else {
		o, err := d.Lock(ctx, db, other)
		if err != nil {
			t.Fatalf("Lock of another sink: %v", err)
		}
		o.Release()
	}
	release.Release()
	release.Release() // idempotent
	again, err := d.Lock(ctx, db, sink)
	if err != nil {
		t.Fatalf("Lock(%s) after release: %v", sink, err)
	}
	again.Release()
}
