package httpapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/walship/walship/offsets"
)

// The classified errors of Wait.
var (
	ErrNoSink     = errors.New("no such sink")
	ErrNoSource   = errors.New("the sink does not apply that source")
	ErrBadRequest = errors.New("bad request")
)

// ErrElsewhere is returned by Owner for a component another cluster
// member runs (the *ElsewhereError names it).
var ErrElsewhere = errors.New("the component runs on another cluster member")

// ElsewhereError says which member runs a component ("" for none now) and
// where that member's HTTP server is.
type ElsewhereError struct {
	Component, Member, Advertise string
}

func (e *ElsewhereError) Error() string {
	if e.Member == "" {
		return fmt.Sprintf("%s: no cluster member runs it now (a takeover is under way); try again", e.Component)
	}
	if e.Advertise == "" {
		return fmt.Sprintf("%s runs on cluster member %s, which advertises no HTTP address (cluster.advertise)", e.Component, e.Member)
	}
	return fmt.Sprintf("%s runs on cluster member %s at %s", e.Component, e.Member, e.Advertise)
}

func (e *ElsewhereError) Is(target error) bool { return target == ErrElsewhere }

// Owner returns nil when component ("source/NAME", "sink/NAME") runs here
// (or outside cluster mode), and an *ElsewhereError when another member
// runs it, or none does.
func (m *Monitor) Owner(ctx context.Context, component string) error {
	if m.cluster == nil {
		return nil
	}
	st := m.cluster.Status(ctx)
	owner, known := st.Owners[component]
	if !known || owner == st.Member {
		return nil // not a component of the cluster: the handler answers
	}
	e := &ElsewhereError{Component: component, Member: owner}
	for _, mb := range st.Members {
		if mb.Member == owner {
			e.Advertise = mb.Advertise
		}
	}
	return e
}

// WaitResult is the answer of a wait.
type WaitResult struct {
	Reached bool   `json:"reached"`
	Sink    string `json:"sink"`
	Source  string `json:"source"`
	// Applied is the sink's applied position when the wait ended.
	Applied string `json:"applied"`
	Target  string `json:"target"`
}

// Wait blocks until sink has applied position of source (a PostgreSQL
// LSN such as 0/16B3748, or a MySQL/MariaDB GTID set) or ctx ends. source
// may be empty when the sink applies one source. A sink in the middle of
// a snapshot has not reached it (every chunk carries the snapshot's
// position: sinks.Applied.Snapshotting). Waiters are woken by the apply
// loop, never by polling the follower.
func (m *Monitor) Wait(ctx context.Context, sink, source, position string) (WaitResult, error) {
	res := WaitResult{Sink: sink, Source: source, Target: position}
	sv, ok := m.sinks[sink]
	if !ok {
		return res, fmt.Errorf("%w: %q", ErrNoSink, sink)
	}
	st := sv.Status()
	idx := -1
	for i, s := range st.Sources {
		if s.Source == source || (source == "" && len(st.Sources) == 1) {
			idx = i
		}
	}
	if idx < 0 {
		if source == "" {
			return res, fmt.Errorf("%w: sink %s applies several sources: name one with source=", ErrBadRequest, sink)
		}
		return res, fmt.Errorf("%w: %s does not apply %q", ErrNoSource, sink, source)
	}
	res.Source = st.Sources[idx].Source
	engine := m.engines[res.Source]
	target, err := offsets.ParseTarget(engine, position)
	if err != nil {
		return res, fmt.Errorf("%w: position %q is not a %s position: %v", ErrBadRequest, position, engine, err)
	}
	for {
		changed := sv.Changed() // before reading, so no advance is missed
		ap := sv.Status().Sources[idx].Applied
		applied := ap.Pos
		res.Applied = applied.String()
		ok, err := applied.Reached(target)
		if err != nil {
			return res, fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		if ok && !ap.Snapshotting {
			res.Reached = true
			return res, nil
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-changed:
		}
	}
}
