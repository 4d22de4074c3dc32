package replay

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/walship/walship/ordering/kafka"
)

// The command tells the refusals apart by type, never by text.
func TestErrorsClassified(t *testing.T) {
	cause := fmt.Errorf("sink lite: %w", &kafka.TrimmedError{Topic: "p.transaction", First: 4})
	var err error = &TrimmedLogError{Err: cause}
	var te *kafka.TrimmedError
	if !errors.As(err, &te) || te.First != 4 || !errors.Is(err, kafka.ErrRetention) || errors.Is(err, ErrUsage) {
		t.Errorf("TrimmedLogError chain: %v", err)
	}
	err = &RetentionError{Err: fmt.Errorf("x: %w", kafka.ErrRetention)}
	var tle *TrimmedLogError
	if !errors.Is(err, kafka.ErrRetention) || errors.As(err, &tle) {
		t.Errorf("RetentionError chain: %v", err)
	}
	err = &InterruptedError{Applied: 3, Err: context.Canceled}
	if !errors.Is(err, context.Canceled) || err.Error() != "replay interrupted after 3 transactions; run it again to resume where it stopped" {
		t.Errorf("InterruptedError: %v", err)
	}
	err = &ShortLogError{Sources: []string{"a", "b"}, To: "0/5"}
	if err.Error() != "the log of a, b ended (as of the start of the replay) before --to 0/5: everything it held is applied; run again later to go further" {
		t.Errorf("ShortLogError: %v", err)
	}
	u := usagef("bad %s", "flag")
	if !errors.Is(u, ErrUsage) || u.Error() != "bad flag" {
		t.Errorf("usage error %q", u)
	}
}
