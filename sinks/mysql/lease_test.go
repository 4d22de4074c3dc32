package mysql

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/walship/walship/config"
	"github.com/walship/walship/sinks/sinktest"
)

// TestIntegrationLockSessionKilled: [sinktest.LockSessionKilled], the
// lock's session KILLed. The restarted applier's pool sessions have a
// wait_timeout of 2s and it idles 3s before writing: the lock's session
// outlives them.
func TestIntegrationLockSessionKilled(t *testing.T) {
	d, db, ctx := follower(t)
	mc, err := mysql.ParseDSN(d.cfg.DSN.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	if mc.Params == nil {
		mc.Params = map[string]string{}
	}
	mc.Params["wait_timeout"] = "2"
	sinktest.LockSessionKilled(t, ctx, sinktest.Lease{Dialect: d, DB: db, Table: "leased",
		IDs:  "SELECT GROUP_CONCAT(id ORDER BY id) FROM leased",
		Kill: killLockSession, Restart: New(config.MySQLSink{DSN: config.Secret(mc.FormatDSN())}), Idle: 3 * time.Second})
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
