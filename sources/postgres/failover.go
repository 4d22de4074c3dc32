package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pglogrepl"

	"github.com/walship/walship/supervise"
)

// Failover slots (PostgreSQL 17+). A slot created with FAILOVER is synced
// to standbys that run with sync_replication_slots, so a promoted standby
// holds it at a position walship confirmed, and the source goes on there
// (a multi-host DSN, target_session_attrs=primary, finds it; the leader
// guard follows its new timeline). With synchronized_standby_slots on the
// primary naming the standby's physical slot, the primary sends walship
// nothing the standby lacks, so no follower is ahead of a promoted standby.
//
// failover_slot: auto (default) creates the slot with FAILOVER where the
// server has it, and turns it on for an existing slot; on requires it (an
// older server is refused); off never asks for it.

// ErrNoFailoverSlots: failover_slot: on, on a server before PostgreSQL 17.
var ErrNoFailoverSlots = errors.New("failover slots need PostgreSQL 17 or later")

// failoverVersion is the first server_version_num with failover slots.
const failoverVersion = 170000

// wantFailover reports whether the slot should be a failover slot on a
// server of version v (server_version_num).
func (s *Source) wantFailover(v int) (bool, error) {
	switch s.cfg.FailoverSlot {
	case "off":
		return false, nil
	case "on":
		if v < failoverVersion {
			return false, supervise.Permanent(fmt.Errorf("source %s: %w (failover_slot: on; the server is %d): upgrade, or set failover_slot: auto or off",
				s.cfg.Name, ErrNoFailoverSlots, v))
		}
		return true, nil
	}
	return v >= failoverVersion, nil
}

// createSlot creates the logical slot over the replication connection,
// with FAILOVER when failover; action is EXPORT_SNAPSHOT or
// NOEXPORT_SNAPSHOT.
func (r *session) createSlot(ctx context.Context, action string, failover bool) (pglogrepl.CreateReplicationSlotResult, error) {
	cfg := r.cfg()
	if !failover {
		return pglogrepl.CreateReplicationSlot(ctx, r.repl, cfg.Slot, "pgoutput",
			pglogrepl.CreateReplicationSlotOptions{SnapshotAction: action, Mode: pglogrepl.LogicalReplication})
	}
	snap := map[string]string{"EXPORT_SNAPSHOT": "export", "NOEXPORT_SNAPSHOT": "nothing"}[action]
	sql := fmt.Sprintf("CREATE_REPLICATION_SLOT %s LOGICAL pgoutput (SNAPSHOT '%s', FAILOVER true)", cfg.Slot, snap)
	return pglogrepl.ParseCreateReplicationSlot(r.repl.Exec(ctx, sql))
}

// makeFailover turns FAILOVER on for an existing slot that lacks it.
func (r *session) makeFailover(ctx context.Context) error {
	cfg := r.cfg()
	if _, err := r.repl.Exec(ctx, fmt.Sprintf("ALTER_REPLICATION_SLOT %s (FAILOVER true)", cfg.Slot)).ReadAll(); err != nil {
		return fmt.Errorf("source %s: make slot %s a failover slot: %w", cfg.Name, cfg.Slot, err)
	}
	r.src.log.Info("slot made a failover slot: standbys with sync_replication_slots keep it", "slot", cfg.Slot)
	return nil
}
