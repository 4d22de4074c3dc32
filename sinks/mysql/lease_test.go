package mysql

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/walship/walship/config"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sinks"
	"github.com/walship/walship/sinks/sqlsink"
)

// TestIntegrationLockSessionKilled: the lock's session is KILLed while the
// applier holds it, and a second process takes the lock at once. The
// transaction in flight fails its fence with ErrLockLost instead of
// committing (its row is not on the follower), the applier refuses to
// begin more, Lost fires, the error is retryable (the sink restarts, not
// fails), and once the second process lets go, Prepare takes the lock
// again and applies. With the periodic check alone, a killed session is
// noticed within a few intervals.
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
	insert := func(a *sqlsink.Applier, id int64) error {
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
	if err := insert(a, 1); err != nil {
		t.Fatalf("insert with the lock: %v", err)
	}
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
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM leased WHERE id = 2").Scan(&n); err != nil || n != 0 {
		t.Errorf("the row of the fenced transaction is on the follower (%d, %v)", n, err)
	}
	release()
	a.Close()
	if _, _, err := a.Prepare(ctx); !errors.Is(err, sqlsink.ErrLocked) {
		t.Errorf("Prepare while another holds the lock = %v, want ErrLocked", err)
	}
	a.Close()
	second.Release()

	// The restart takes the lock again. The pool's sessions have a
	// wait_timeout of 2s; the lock's session outlives it.
	mc, err := mysql.ParseDSN(d.cfg.DSN.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	if mc.Params == nil {
		mc.Params = map[string]string{}
	}
	mc.Params["wait_timeout"] = "2"
	d2 := New(config.MySQLSink{DSN: config.Secret(mc.FormatDSN())})
	a2 := sqlsink.New(sqlsink.Config{Sink: "lease", SourceEngines: map[string]string{"pg": "postgres"}, LeaseCheck: time.Hour}, d2, log)
	_, release2, err := a2.Prepare(ctx)
	if err != nil {
		t.Fatalf("Prepare after the other let go: %v", err)
	}
	if err := a2.EnsureSchema(ctx, "pg", []*ordering.Table{tbl}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // no check meanwhile: only the session's own wait_timeout keeps it
	if err := insert(a2, 2); err != nil {
		t.Fatalf("insert after taking the lock again and idling past wait_timeout: %v", err)
	}
	// Killed with nobody taking the lock: the fence finds it free.
	killLockSession(t, ctx, db, "lease")
	if err := insert(a2, 3); !errors.Is(err, sinks.ErrLockLost) {
		t.Errorf("insert after the session was killed = %v", err)
	} else {
		t.Logf("fence: %v", err)
	}
	release2()
	a2.Close()

	// The periodic check alone notices a killed session.
	a2 = sqlsink.New(sqlsink.Config{Sink: "lease", SourceEngines: map[string]string{"pg": "postgres"}, LeaseCheck: 100 * time.Millisecond}, d2, log)
	_, release2, err = a2.Prepare(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	defer release2()
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
	if err := insert(a2, 3); !errors.Is(err, sinks.ErrLockLost) {
		t.Errorf("insert after the check noticed = %v", err)
	}
	var ids string
	if err := db.QueryRowContext(ctx, "SELECT GROUP_CONCAT(id ORDER BY id) FROM leased").Scan(&ids); err != nil || ids != "1,2" {
		t.Errorf("follower rows %s (%v), want 1,2: only the inserts made while holding the lock", ids, err)
	}
}

// killLockSession KILLs the session holding sink's GET_LOCK.
func killLockSession(t *testing.T, ctx context.Context, db *sql.DB, sink string) {
	t.Helper()
	var id sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT IS_USED_LOCK(CONCAT('walship_sink:', DATABASE(), ':', ?))", sink).Scan(&id); err != nil || !id.Valid {
		t.Fatalf("find the lock session: %v, %v", id, err)
	}
	if _, err := db.ExecContext(ctx, "KILL ?", id.Int64); err != nil {
		t.Fatalf("KILL %d: %v", id.Int64, err)
	}
	for i := 0; i < 100; i++ {
		var holder sql.NullInt64
		if err := db.QueryRowContext(ctx, "SELECT IS_USED_LOCK(CONCAT('walship_sink:', DATABASE(), ':', ?))", sink).Scan(&holder); err == nil && !holder.Valid {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the lock outlived its session")
}
