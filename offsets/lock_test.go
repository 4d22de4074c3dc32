package offsets

import (
	"errors"
	"strings"
	"testing"
)

func TestLockSource(t *testing.T) {
	dir := t.TempDir()
	release, err := LockSource(dir, "pg main")
	if err != nil {
		t.Fatal(err)
	}
	// flock is per open file description: a second open in this process
	// conflicts as a second process would.
	if _, err := LockSource(dir, "pg main"); !errors.Is(err, ErrSourceLocked) || !strings.Contains(err.Error(), "pid ") {
		t.Fatalf("second lock: %v", err)
	}
	other, err := LockSource(dir, "other")
	if err != nil {
		t.Fatalf("another source: %v", err)
	}
	other()
	release()
	again, err := LockSource(dir, "pg main")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again()
}
