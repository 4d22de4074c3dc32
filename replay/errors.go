package replay

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUsage marks errors of the options or of the sink's configuration:
// nothing was read or written. `walship replay` exits 2 on them.
var ErrUsage = errors.New("usage")

// usageError is an ErrUsage whose message is its cause's.
type usageError struct{ err error }

func (e usageError) Error() string        { return e.err.Error() }
func (e usageError) Unwrap() error        { return e.err }
func (e usageError) Is(target error) bool { return target == ErrUsage }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// errNoSnapshot is findStart's answer to --from snapshot on a log that
// holds no snapshot.
var errNoSnapshot = errors.New("no snapshot in the log")

// TrimmedLogError refuses a follower that needs the beginning of a log
// whose beginning retention removed: a follower without positions read
// from offset 0, whose snapshot and first changes are gone. Only a start
// from a snapshot can build it. The refusal comes before anything is
// applied (Applied 0), unless a data partition's hole was found only
// when the replay reached it.
type TrimmedLogError struct {
	// Err is the reader's error; a *kafka.TrimmedError is in its chain.
	Err error
	// Applied counts the transactions this run applied before the hole.
	Applied int64
	// Snapshots says, per source, whether its log still holds a snapshot.
	Snapshots []LogSnapshot
	// FromSnapshot: every source's log holds a snapshot, and this replay
	// did not start from one: From "snapshot" can build the follower.
	// Otherwise only Resnapshot can.
	FromSnapshot bool
}

// LogSnapshot is whether a source's log holds a snapshot.
type LogSnapshot struct {
	Source string
	// Held: the log holds one; Where says where the newest starts.
	Held  bool
	Where string
	// Err is why the log could not be searched (Held is then false).
	Err error
}

func (e *TrimmedLogError) Error() string {
	return "the log no longer holds its beginning, which this follower needs: start from a snapshot"
}

func (e *TrimmedLogError) Unwrap() error { return e.Err }

// RetentionError: retention removed records of the log this follower
// needs after its positions. A replay cannot rebuild it; a new snapshot
// (Resnapshot, into an empty follower) can.
type RetentionError struct {
	// Err is the reader's error; kafka.ErrRetention is in its chain.
	Err error
}

func (e *RetentionError) Error() string { return "the log no longer holds what the replay needs" }
func (e *RetentionError) Unwrap() error { return e.Err }

// InterruptedError: the context was cancelled before the replay applied
// what it was to apply. What it applied is kept; a replay run again
// resumes where it stopped.
type InterruptedError struct {
	Applied int64
	Err     error // the context's error
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("replay interrupted after %d transactions; run it again to resume where it stopped", e.Applied)
}

func (e *InterruptedError) Unwrap() error { return e.Err }

// ShortLogError: the log of these sources, as it was when the replay
// started, ended before To. Everything it held is applied; a replay run
// later goes further.
type ShortLogError struct {
	Sources []string
	To      string
}

func (e *ShortLogError) Error() string {
	return fmt.Sprintf("the log of %s ended (as of the start of the replay) before --to %s: everything it held is applied; run again later to go further",
		strings.Join(e.Sources, ", "), e.To)
}
