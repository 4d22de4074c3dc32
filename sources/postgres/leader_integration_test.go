package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/supervise"
)

// TestLeaderGuard: the source notes the server's system identifier and
// timeline beside its checkpoint, and refuses, naming both, a server on an
// older timeline (an old primary come back) or of another cluster, unless
// accept_system_id names it.
func TestLeaderGuard(t *testing.T) {
	h := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);`)
	cfg := h.config()
	h.start(cfg)
	waitStreaming(t, h)
	if l := h.src.Status().Leader; !strings.Contains(l, "timeline") {
		t.Errorf("status leader %q", l)
	}
	h.Stop()
	ctx := context.Background()
	b, err := h.Store.LoadNote(ctx, cfg.Name, leaderNoteName)
	var n leaderNote
	if err != nil || json.Unmarshal(b, &n) != nil || n.SystemID == "" || n.Timeline < 1 {
		t.Fatalf("leader note %s: %v", b, err)
	}
	note := func(l leaderNote) {
		b, _ := json.Marshal(l)
		if err := h.Store.SaveNote(ctx, cfg.Name, leaderNoteName, b); err != nil {
			t.Fatal(err)
		}
	}
	run := func(c Config) error {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return New(c, h.logFor(c), h.Store, h.Logger()).Run(rctx, func() { cancel() })
	}

	note(leaderNote{SystemID: n.SystemID, Timeline: n.Timeline + 1})
	err = run(cfg)
	if !errors.Is(err, ErrOldTimeline) || !supervise.IsPermanent(err) || !strings.Contains(err.Error(), "split brain") {
		t.Fatalf("older timeline: %v", err)
	}
	note(leaderNote{SystemID: "1234", Timeline: n.Timeline})
	err = run(cfg)
	if !errors.Is(err, ErrOtherLeader) || !supervise.IsPermanent(err) || !strings.Contains(err.Error(), "accept_system_id: \""+n.SystemID+"\"") {
		t.Fatalf("other cluster: %v", err)
	}
	accept := cfg
	accept.AcceptSystemID = n.SystemID
	if err := run(accept); err != nil {
		t.Fatalf("accepted: %v", err)
	}
	if b, _ := h.Store.LoadNote(ctx, cfg.Name, leaderNoteName); !strings.Contains(string(b), n.SystemID) {
		t.Fatalf("the accepted cluster was not noted: %s", b)
	}
	// A newer timeline than noted (a promoted standby) is followed.
	note(leaderNote{SystemID: n.SystemID, Timeline: n.Timeline - 1})
	if err := run(cfg); err != nil {
		t.Fatalf("newer timeline: %v", err)
	}
}

// TestFailoverSlotSetting: failover_slot: auto makes a failover slot on a
// server that has them (PostgreSQL 17+; make test-pg18 runs this there),
// and failover_slot: on is refused, naming the cause, on one that has not.
func TestFailoverSlotSetting(t *testing.T) {
	h := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY)`)
	ctx := context.Background()
	var version int
	if err := h.admin.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		t.Fatal(err)
	}
	cfg := h.config()
	if version < failoverVersion {
		cfg.FailoverSlot = "on"
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		err := New(cfg, h.logFor(cfg), h.Store, h.Logger()).Run(rctx, func() { cancel() })
		if !errors.Is(err, ErrNoFailoverSlots) || !supervise.IsPermanent(err) {
			t.Fatalf("failover_slot: on, server %d: %v", version, err)
		}
		return
	}
	h.start(cfg)
	waitStreaming(t, h)
	var failover bool
	if err := h.admin.QueryRow(ctx, "SELECT failover FROM pg_replication_slots WHERE slot_name = $1", cfg.Slot).Scan(&failover); err != nil || !failover {
		t.Fatalf("slot failover %v: %v", failover, err)
	}
	if !h.src.Status().FailoverSlot {
		t.Error("the status does not say the slot is a failover slot")
	}
}
