package supervise

import (
	"errors"
	"fmt"
)

// permanent marks an error that retrying cannot fix (a dropped slot, a
// purged binlog, a bad config value found at run time).
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent wraps err so the supervisor does not retry it. Permanent(nil)
// is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked
// Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// PanicError is the error a recovered panic becomes.
type PanicError struct {
	Value any
	Stack []byte
}

func (p *PanicError) Error() string { return fmt.Sprintf("panic: %v", p.Value) }

// ErrStopTimeout is returned by Stop when components did not finish before
// the deadline.
var ErrStopTimeout = errors.New("components did not stop before the shutdown timeout")
