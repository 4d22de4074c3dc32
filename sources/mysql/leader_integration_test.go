package mysql

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/supervise"
)

// TestLeaderLacksShippedGTID: a MariaDB source whose log holds a
// transaction past its checkpoint that the server lacks (as after a
// replica was promoted without a write asynchronous replication lost)
// stops before it streams, naming the missing GTID; so does one whose
// checkpoint the server lacks. The server it followed passes.
func TestLeaderLacksShippedGTID(t *testing.T) {
	h := newHarness(t, "CREATE TABLE t (id int PRIMARY KEY, v int)")
	cfg := h.config()
	h.start(cfg)
	waitStreaming(t, h)
	h.Exec("INSERT INTO t VALUES (1, 0)")
	h.CaughtUp()
	h.Stop()
	cp := h.checkpoint()
	run := func(c Config) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return New(c, h.logFor(c), h.Store, h.Logger()).Run(ctx, func() { cancel() })
	}
	if err := run(cfg); err != nil {
		t.Fatalf("the leader it followed: %v", err)
	}

	// A checkpoint behind the log, and the log's newest transaction
	// beyond what the server holds: as if walship had shipped it from a
	// leader that died before its replica got it.
	var d, s, n uint64
	if _, err := fmt.Sscanf(cp.Position.GTID, "%d-%d-%d", &d, &s, &n); err != nil {
		t.Fatalf("checkpoint GTID %q: %v", cp.Position.GTID, err)
	}
	lost := fmt.Sprintf("%d-%d-%d", d, s, n+1_000_000)
	gs, err := offsets.ParseGTIDSet(offsets.FlavorMariaDB, lost)
	if err != nil {
		t.Fatal(err)
	}
	pub := h.logFor(cfg)
	l, err := pub()
	if err != nil {
		t.Fatal(err)
	}
	pos := cp.Position
	pos.GTID, pos.GTIDs = lost, gs
	publishEnd(t, l, cfg.Name, pos)
	err = run(cfg)
	if !errors.Is(err, ErrLeaderBehind) || !supervise.IsPermanent(err) || !strings.Contains(err.Error(), lost) {
		t.Fatalf("a lost transaction in the log: %v", err)
	}
	// A checkpoint the server lacks (another server's history, or a
	// promoted replica behind it).
	ahead := fmt.Sprintf("%d-%d-%d", d, s+1000, n)
	ags, err := offsets.ParseGTIDSet(offsets.FlavorMariaDB, ahead)
	if err != nil {
		t.Fatal(err)
	}
	cp.Position.GTID, cp.Position.GTIDs = ahead, ags
	h.forceCheckpoint(cp)
	err = run(cfg)
	if !errors.Is(err, ErrLeaderBehind) || !strings.Contains(err.Error(), ahead) {
		t.Fatalf("a checkpoint the server lacks: %v", err)
	}
}

// publishEnd writes an empty transaction at pos to l, durably.
func publishEnd(t *testing.T, l interface {
	Publish(context.Context, *ordering.Txn, int, iter.Seq2[*ordering.Change, error]) error
	Close(context.Context) error
}, source string, pos offsets.Position) {
	t.Helper()
	ctx := context.Background()
	txn := &ordering.Txn{Source: source, ID: pos.GTID, Seq: offsets.Seq{Pos: 1 << 62, Sub: offsets.StreamSub}, Pos: pos, CommitTime: time.Now()}
	if err := l.Publish(ctx, txn, 0, func(func(*ordering.Change, error) bool) {}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
