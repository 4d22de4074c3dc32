package sqlite

import (
	"errors"
	"os"
	"testing"

	"github.com/walship/walship/sinks"
)

// TestFileLeaseLockFileRemoved: the flock cannot be taken from the
// process, but a removed lock file would let another process lock a new
// one: Check and Fence then report ErrLockLost.
func TestFileLeaseLockFileRemoved(t *testing.T) {
	d, db, ctx := follower(t)
	l, err := d.Lock(ctx, db, "s1")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := l.Check(ctx); err != nil {
		t.Fatalf("Check while held: %v", err)
	}
	if err := os.Remove(d.cfg.Path + ".walship-lock"); err != nil {
		t.Fatal(err)
	}
	other, err := d.Lock(ctx, db, "s1")
	if err != nil {
		t.Fatalf("a new lock file is lockable: %v", err)
	}
	defer other.Release()
	if err := l.Check(ctx); !errors.Is(err, sinks.ErrLockLost) {
		t.Errorf("Check after the lock file was replaced = %v", err)
	}
	if err := l.Fence(ctx, nil); !errors.Is(err, sinks.ErrLockLost) {
		t.Errorf("Fence after the lock file was replaced = %v", err)
	}
	if err := other.Check(ctx); err != nil {
		t.Errorf("the new holder's Check: %v", err)
	}
}
