package sourcetest

import (
	"context"
	"testing"
	"time"
)

// Runner runs a source's Run until Stop, restarting it after errors like
// the supervisor would; errors are reported to the test as logs. The zero
// Runner is stopped. It is used by one goroutine, the test's.
type Runner struct {
	cancel context.CancelFunc
	done   chan error
}

// Start runs run in a goroutine, again pause after each error, until Stop.
func (r *Runner) Start(t *testing.T, run func(ctx context.Context, ready func()) error, pause time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() {
		for {
			err := run(ctx, func() {})
			if ctx.Err() != nil {
				r.done <- err
				return
			}
			t.Logf("source run ended: %v", err)
			time.Sleep(pause)
		}
	}()
}

// Stop cancels the run and waits for it; the run's error fails the test.
// Stopping a stopped Runner does nothing.
func (r *Runner) Stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	if err := <-r.done; err != nil {
		t.Errorf("source stopped with %v", err)
	}
	r.cancel = nil
}

// Until calls cond every poll until it holds, and after timeout fails the
// test with why's message.
func Until(t testing.TB, timeout, poll time.Duration, cond func() bool, why func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(why())
		}
		time.Sleep(poll)
	}
}
