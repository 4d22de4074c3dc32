package sourcetest

import (
	"context"
	"testing"
	"time"

	"github.com/walship/walship/internal/logread"
	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/offsets"
)

// Harness is the half of a source test harness that is the same for
// every engine: a name for the test's database, topics and the like, the
// Kafka broker, a state directory with its checkpoint store, and a source
// run until stopped. An engine's harness embeds it.
type Harness struct {
	T        *testing.T
	Name     string // unique to the test: database, topic prefix, slot, publication
	Broker   string
	StateDir string
	Store    *offsets.Store
	run      Runner
}

// NewHarness is a Harness named name on the Kafka broker of
// internal/testenv (skipped or failed without it). When the test ends it
// stops the run, closes the store and drops the topics under Name, after
// the cleanups the engine registers later.
func NewHarness(t *testing.T, name string) *Harness {
	t.Helper()
	h := &Harness{T: t, Name: name, Broker: testenv.Kafka(t), StateDir: t.TempDir()}
	var err error
	if h.Store, err = offsets.OpenStore(h.StateDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Stop()
		h.Store.Close()
		testenv.DropTopics(t, h.Name+".")
	})
	return h
}

// Run runs a source's Run until Stop, restarting it pause after each error
// ([Runner]).
func (h *Harness) Run(run func(ctx context.Context, ready func()) error, pause time.Duration) {
	h.run.Start(h.T, run, pause)
}

// Stop stops the run and waits for it; its error fails the test.
func (h *Harness) Stop() { h.run.Stop(h.T) }

// Read reads the test's log back ([Read]).
func (h *Harness) Read() *logread.Log {
	h.T.Helper()
	return Read(h.T, h.Broker, h.Name)
}
