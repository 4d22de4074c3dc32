package offsets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// ErrSourceLocked is returned by LockSource when another process runs the
// source with the same state directory.
var ErrSourceLocked = errors.New("source is run by another walship process")

// LockSource takes an exclusive flock on <dir>/source-<name>.lock, so only
// one process at a time captures a source into one checkpoint store (a
// daemon, or replay --resnapshot). The holder's pid is written into the
// file for the error of the next one. release gives the lock back; it is
// also released when the process exits. flock does not work across NFS.
func LockSource(dir, name string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	path := filepath.Join(dir, "source-"+safeName(name)+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("source %s: lock file: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := "another process"
		if b, rerr := os.ReadFile(path); rerr == nil && len(b) > 0 && len(b) < 100 {
			holder = strings.TrimSpace(string(b))
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: source %s: %s is held by %s; stop that process first", ErrSourceLocked, name, path, holder)
		}
		return nil, fmt.Errorf("source %s: lock %s: %w", name, path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte("pid "+strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			f.Close()
		})
	}, nil
}

// safeName keeps a source name usable in a file name.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}
