package supervise

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var fast = Options{InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}

// waitFor polls cond; the deadline only bounds a hung test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func state(g *Group, name string) Status {
	for _, s := range g.Status() {
		if s.Name == name {
			return s
		}
	}
	return Status{}
}

func TestRestartsAfterErrorAndPanic(t *testing.T) {
	g := New(context.Background(), quiet, fast)
	var runs atomic.Int32
	g.Go("flaky", func(ctx context.Context, ready func()) error {
		switch runs.Add(1) {
		case 1:
			return errors.New("connection reset")
		case 2:
			panic("boom")
		}
		ready()
		<-ctx.Done()
		return nil
	})
	waitFor(t, "running after two failures", func() bool { return state(g, "flaky").State == Running })
	st := state(g, "flaky")
	if st.Restarts != 2 || st.LastError != "panic: boom" {
		t.Errorf("status = %+v", st)
	}
	if ok, _ := g.Ready(); !ok {
		t.Error("not ready")
	}
	if err := g.Stop(time.Second); err != nil {
		t.Fatal(err)
	}
	if s := state(g, "flaky").State; s != Stopped {
		t.Errorf("state after stop = %s", s)
	}
}

func TestPermanentErrorIsSticky(t *testing.T) {
	g := New(context.Background(), quiet, fast)
	var runs atomic.Int32
	g.Go("slot", func(ctx context.Context, ready func()) error {
		runs.Add(1)
		return Permanent(errors.New("replication slot was dropped"))
	})
	g.Go("other", func(ctx context.Context, ready func()) error {
		ready()
		<-ctx.Done()
		return nil
	})
	waitFor(t, "failed", func() bool { return state(g, "slot").State == Failed })
	waitFor(t, "other running", func() bool { return state(g, "other").State == Running })
	time.Sleep(20 * time.Millisecond)
	if runs.Load() != 1 {
		t.Errorf("permanent error retried %d times", runs.Load())
	}
	ok, not := g.Ready()
	if ok || len(not) != 1 || not[0] != "slot (failed)" {
		t.Errorf("ready = %v %v", ok, not)
	}
	if !IsPermanent(errors.Join(errors.New("x"), Permanent(io.EOF))) || IsPermanent(io.EOF) || Permanent(nil) != nil {
		t.Error("IsPermanent classification wrong")
	}
	_ = g.Stop(time.Second)
}

func TestStopTimeout(t *testing.T) {
	g := New(context.Background(), quiet, fast)
	release := make(chan struct{})
	g.Go("stuck", func(ctx context.Context, ready func()) error {
		<-release
		return nil
	})
	err := g.Stop(10 * time.Millisecond)
	if !errors.Is(err, ErrStopTimeout) {
		t.Fatalf("err = %v", err)
	}
	close(release)
}
