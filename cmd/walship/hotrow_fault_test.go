package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/internal/validate"
)

// TestFaultKillHotRow (issue 15): the hot-row workload (TPC-B-like, a few
// hot branch rows, foreign keys on) on a PostgreSQL source into the three
// followers, folding on, while the daemon is killed with SIGKILL three
// times and started again. Every follower is polled throughout for the
// atomicity invariant (the branch, teller and account balances and the
// history deltas have one sum in every state a follower shows); afterwards
// the history rows match the source's exactly and walship verify finds
// every follower equal.
func TestFaultKillHotRow(t *testing.T) {
	testenv.Integration(t)
	h := newHotRowPipe(t, "postgres", 2000)
	ctx := context.Background()
	fols := map[string]*validate.Follower{}
	var sinks strings.Builder
	for _, e := range hotRowEngines {
		f, block := h.follower(e, "")
		fols[e] = f
		fmt.Fprintf(&sinks, "  - { name: %s, from: [src], workers: 4, %s }\n", f.Sink, block)
	}
	cfg, addr := h.config("kill", false, sinks.String())
	d := h.start(cfg, addr)
	d.waitSource()

	var v validate.Violations
	pctx, pstop := context.WithCancel(ctx)
	var pollers []*validate.HotRowPoller
	var pwg sync.WaitGroup
	for _, e := range hotRowEngines {
		p := &validate.HotRowPoller{F: fols[e], V: &v, Interval: 100 * time.Millisecond}
		pollers = append(pollers, p)
		pwg.Add(1)
		go func() { defer pwg.Done(); p.Run(pctx) }()
	}
	wctx, wstop := context.WithCancel(ctx)
	var wwg sync.WaitGroup
	errs := make(chan error, 4)
	for c := 0; c < 4; c++ {
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			if _, err := h.w.Run(wctx, c, uint64(time.Now().UnixNano())); err != nil {
				errs <- err
			}
		}()
	}
	for kill := 1; kill <= 3; kill++ {
		time.Sleep(time.Duration(2000+kill*700) * time.Millisecond)
		d.cmd.Process.Signal(syscall.SIGKILL)
		d.cmd.Wait()
		d.cmd = nil
		t.Logf("kill %d after %d source transactions", kill, h.w.Committed.Load())
		d = h.start(cfg, addr)
	}
	time.Sleep(2 * time.Second)
	wstop()
	wwg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("source: %v", err)
	}
	h.catchUp(d, fols, 3*time.Minute)
	pstop()
	pwg.Wait()
	for i, e := range hotRowEngines {
		f := fols[e]
		if pollers[i].Polls() == 0 {
			t.Errorf("%s: the invariant was never polled (%d polls failed)", f.Name, pollers[i].Failed())
		}
		if err := validate.CheckHotRow(ctx, h.srcFollower(), f, &v); err != nil {
			t.Error(err)
		}
		if out, err := exec.Command(binary, "verify", "-c", cfg, "--sink", f.Sink, "--no-wait").CombinedOutput(); err != nil {
			t.Errorf("walship verify --sink %s: %v\n%s", f.Sink, err, out)
		}
	}
	if v.Count() > 0 {
		t.Fatalf("%d violations:\n%s", v.Count(), strings.Join(v.First(), "\n"))
	}
	t.Logf("%d source transactions, %d invariant polls, three SIGKILLs", h.w.Committed.Load(), pollCount(pollers))
}
