package sourcetest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/walship/walship/internal/logread"
	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/sources"
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

var seq atomic.Int64

// NextSeq counts the test binary's harnesses (and whatever else takes a
// number from it: benchmarks name their databases with one).
func NextSeq() int64 { return seq.Add(1) }

// LastSeq is the newest number NextSeq gave.
func LastSeq() int64 { return seq.Load() }

// NewHarness is a Harness named prefix_<pid>_<NextSeq> on the Kafka broker
// of internal/testenv (skipped or failed without it). When the test ends
// it stops the run, closes the store and drops the topics under Name,
// after the cleanups the engine registers later.
func NewHarness(t *testing.T, prefix string) *Harness {
	t.Helper()
	h := &Harness{T: t, Name: fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), NextSeq()), Broker: testenv.Kafka(t), StateDir: t.TempDir()}
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

// Logger is the source's logger ([Logger]).
func (h *Harness) Logger() *slog.Logger { return Logger() }

// Stop stops the run and waits for it; its error fails the test.
func (h *Harness) Stop() { h.run.Stop(h.T) }

// NewLog makes a source's Logs.
type NewLog = func() (sources.Log, error)

// Log makes a source's Logs: publishers to the test's topics ([Publisher])
// of envelopes from source name through connector, with the test's name
// as the logical name, and database (when not empty).
func (h *Harness) Log(name, connector, database string) NewLog {
	return Publisher(h.Broker, h.Name, envelope.NewEncoder(
		envelope.Source{Name: name, Connector: connector, Logical: h.Name, Database: database}, envelope.Options{}))
}

// Read reads the test's log back ([Read]).
func (h *Harness) Read() *logread.Log {
	h.T.Helper()
	return Read(h.T, h.Broker, h.Name)
}
