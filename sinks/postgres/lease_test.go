package postgres

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/walship/walship/sinks/sinktest"
)

// TestIntegrationLockSessionKilled: [sinktest.LockSessionKilled], the
// lock's session terminated (pg_terminate_backend).
func TestIntegrationLockSessionKilled(t *testing.T) {
	d, db, ctx := follower(t)
	sinktest.LockSessionKilled(t, ctx, sinktest.Lease{Dialect: d, DB: db, Table: "public.leased",
		IDs:  "SELECT string_agg(id::text, ',' ORDER BY id) FROM public.leased",
		Kill: killLockSession})
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
