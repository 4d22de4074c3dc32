package httpapi

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/walship/walship/cluster"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/sinks"
	"github.com/walship/walship/sources"
	"github.com/walship/walship/supervise"
)

// SourceView is a running source as the monitor reads it.
type SourceView interface {
	Status() sources.Status
}

// SinkView is a running sink as the monitor and the wait API read it.
type SinkView interface {
	Status() sinks.Status
	// Changed is closed the next time an applied position advances.
	Changed() <-chan struct{}
}

// Pauser is a sink an operator can pause and resume.
type Pauser interface {
	Pause()
	Resume()
}

// Backfiller is a source that takes incremental snapshots.
type Backfiller interface {
	Backfill(ctx context.Context, req sources.BackfillRequest) (string, error)
	// ControlBackfill pauses, resumes or cancels one
	// (sources.BackfillPause, ...).
	ControlBackfill(ctx context.Context, id, action string) error
}

// ErrUnknownSource is returned for a source the daemon does not run.
var ErrUnknownSource = errors.New("no such source")

// ErrNoBackfill is returned for a source that cannot take incremental
// snapshots.
var ErrNoBackfill = errors.New("this source cannot take incremental snapshots")

// Backfill asks source name for an incremental snapshot.
func (m *Monitor) Backfill(ctx context.Context, name string, req sources.BackfillRequest) (string, error) {
	v, ok := m.sources[name]
	if !ok {
		return "", ErrUnknownSource
	}
	b, ok := v.(Backfiller)
	if !ok {
		return "", ErrNoBackfill
	}
	return b.Backfill(ctx, req)
}

// ControlBackfill pauses, resumes or cancels incremental snapshot id of
// source name.
func (m *Monitor) ControlBackfill(ctx context.Context, name, id, action string) error {
	v, ok := m.sources[name]
	if !ok {
		return ErrUnknownSource
	}
	b, ok := v.(Backfiller)
	if !ok {
		return ErrNoBackfill
	}
	return b.ControlBackfill(ctx, id, action)
}

// ErrNotPausable is returned for a sink that cannot be paused.
var ErrNotPausable = errors.New("this sink cannot be paused")

// SetPaused pauses or resumes sink name.
func (m *Monitor) SetPaused(name string, paused bool) error {
	m.mu.Lock()
	v, ok := m.sinks[name]
	m.mu.Unlock()
	if !ok {
		return ErrNoSink
	}
	p, ok := v.(Pauser)
	if !ok {
		return ErrNotPausable
	}
	if paused {
		p.Pause()
	} else {
		p.Resume()
	}
	return nil
}

// Components is the supervisor's view of every component.
type Components interface {
	Status() []supervise.Status
	Ready() (bool, []string)
}

// ClusterView is the cluster this daemon is a member of
// (cluster.Member).
type ClusterView interface {
	Status(ctx context.Context) cluster.Status
	Name() string
}

// InCluster makes the status documents show the cluster and each
// component's owner.
func (m *Monitor) InCluster(c ClusterView) *Monitor {
	m.cluster = c
	return m
}

// Monitor assembles the status documents, samples rates and lag history
// once a second, and answers read-your-writes waits. Safe for concurrent
// use.
type Monitor struct {
	version string
	sources map[string]SourceView
	sinks   map[string]SinkView
	engines map[string]offsets.Engine // source name -> engine
	comps   Components
	cluster ClusterView // nil outside cluster mode

	mu      sync.Mutex
	prev    map[string]counts // last sample's counters, by "source/x" or "sink/x"
	rates   map[string][2]float64
	history map[string][]LagSample
}

type counts struct {
	at         time.Time
	txns, rows int64
}

// StateStandby is the state of a component another cluster member runs.
const StateStandby = "standby"

// historyLen is ten minutes of one-second samples.
const historyLen = 600

// NewMonitor returns a monitor over the daemon's sources and sinks.
// engines maps every configured source (running here or external) to its
// engine, for parsing wait positions.
func NewMonitor(version string, srcs map[string]SourceView, snks map[string]SinkView, engines map[string]offsets.Engine, comps Components) *Monitor {
	return &Monitor{version: version, sources: srcs, sinks: snks, engines: engines, comps: comps,
		prev: map[string]counts{}, rates: map[string][2]float64{}, history: map[string][]LagSample{}}
}

// Run samples until ctx is done. It fits supervise.RunFunc.
func (m *Monitor) Run(ctx context.Context, ready func()) error {
	ready()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	m.sample()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			m.sample()
		}
	}
}

func (m *Monitor) sample() {
	now := time.Now()
	doc := m.Status()
	m.mu.Lock()
	defer m.mu.Unlock()
	rate := func(key string, txns, rows int64) {
		if p, ok := m.prev[key]; ok {
			if d := now.Sub(p.at).Seconds(); d > 0 {
				m.rates[key] = [2]float64{float64(max(txns-p.txns, 0)) / d, float64(max(rows-p.rows, 0)) / d}
			}
		}
		m.prev[key] = counts{now, txns, rows}
	}
	for _, s := range doc.Sources {
		rate("source/"+s.Name, s.Transactions, s.Events)
	}
	for _, s := range doc.Sinks {
		rate("sink/"+s.Name, s.Applied, s.Changes)
		var bytes uint64
		txns := 0
		for _, src := range s.Sources {
			bytes += src.LagBytes
			txns += src.LagTxns
		}
		h := append(m.history[s.Name], LagSample{Time: now, LagSeconds: s.LagSeconds, LagBytes: bytes, LagTxns: txns,
			TxnsPerSec: m.rates["sink/"+s.Name][0], State: s.State})
		if len(h) > historyLen {
			h = h[len(h)-historyLen:]
		}
		m.history[s.Name] = h
	}
}

// Status builds the status document.
func (m *Monitor) Status() StatusDoc {
	doc := StatusDoc{Version: m.version, Time: time.Now().UTC()}
	var cl *cluster.Status
	if m.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st := m.cluster.Status(ctx)
		cancel()
		cl, doc.Cluster = &st, &st
	}
	comp := map[string]supervise.Status{}
	for _, c := range m.comps.Status() {
		comp[c.Name] = c
	}
	m.mu.Lock()
	rates := make(map[string][2]float64, len(m.rates))
	for k, v := range m.rates {
		rates[k] = v
	}
	m.mu.Unlock()
	for _, name := range sortedKeys(m.sources) {
		st := m.sources[name].Status()
		s := SourceStatus{Name: name, Engine: st.Engine, State: string(st.State), Leader: st.Leader, FailoverSlot: st.FailoverSlot, Head: st.Head, Acked: st.Acked,
			Transactions: st.Txns, IgnoredTransactions: st.IgnoredTxns, Events: st.Events, SnapshotRows: st.SnapshotRows,
			TxnsPerSec: rates["source/"+name][0], RowsPerSec: rates["source/"+name][1]}
		if st.HeadBytes > st.AckedBytes {
			s.LagBytes = st.HeadBytes - st.AckedBytes
		}
		s.Failovers = st.Failovers
		if !st.LastFailover.IsZero() {
			at := st.LastFailover.UTC()
			s.LastFailover = &at
		}
		for _, b := range st.Backfills {
			ss := SnapshotStatus{ID: b.ID, Tables: b.Tables, Table: b.Table, Rows: b.Rows, Chunks: b.Chunks, Estimate: b.Estimate, Started: b.Started, Paused: b.Paused,
				DeleteUnseen: b.DeleteUnseen, Unpruned: b.Unpruned}
			if secs := time.Since(b.Started).Seconds(); secs > 0 {
				ss.RowsPerSec = float64(b.Rows) / secs
				if ss.RowsPerSec > 0 && b.Estimate > b.Rows {
					ss.ETASeconds = float64(b.Estimate-b.Rows) / ss.RowsPerSec
				}
			}
			s.Snapshots = append(s.Snapshots, ss)
		}
		mergeComponent(&s.State, &s.LastError, &s.ErrorTime, comp["source/"+name], st.LastError, st.ErrorTime)
		if cl != nil {
			s.Owner = cl.Owners["source/"+name]
			if s.Owner != cl.Member {
				s.State = StateStandby
			}
		}
		doc.Sources = append(doc.Sources, s)
	}
	for _, name := range sortedKeys(m.sinks) {
		st := m.sinks[name].Status()
		s := SinkStatus{Name: name, State: string(st.State), Applied: st.AppliedTxns, Changes: st.AppliedChanges, DeadLettered: st.DeadLettered,
			CommitYields: st.CommitYields, OperatorPaused: st.OperatorPaused, Building: st.Building, FollowerTxns: st.FollowerTxns, Statements: st.Statements,
			TxnsPerSec: rates["sink/"+name][0], RowsPerSec: rates["sink/"+name][1]}
		for _, c := range st.Conflicts {
			s.Conflicts = append(s.Conflicts, ConflictCount{Table: c.Table, Kind: c.Kind, Resolution: c.Resolution, Count: c.Count})
			s.ConflictsTotal += c.Count
		}
		if st.OperatorPaused && st.State == sinks.StateApplying {
			s.State = string(sinks.StatePaused)
		}
		mergeComponent(&s.State, &s.LastError, &s.ErrorTime, comp["sink/"+name], st.LastError, st.ErrorTime)
		if cl != nil {
			s.Owner = cl.Owners["sink/"+name]
			if s.Owner != cl.Member {
				s.State = StateStandby
			}
		}
		for _, src := range st.Sources {
			var srcStatus *sources.Status
			if v, ok := m.sources[src.Source]; ok {
				ss := v.Status()
				srcStatus = &ss
			}
			ss := SinkSource{Source: src.Source, Applied: src.Applied.Pos.String(), AppliedSeq: src.Applied.Seq.String(),
				Newest: src.Newest.Pos.String(), LagSeconds: LagSeconds(src, srcStatus), LagTxns: src.Queued, KafkaLag: src.KafkaLag}
			if !src.Applied.CommitTime.IsZero() {
				t := src.Applied.CommitTime.UTC()
				ss.AppliedCommit = &t
			}
			if src.Newest.Pos.EndLSN > src.Applied.Pos.EndLSN {
				ss.LagBytes = uint64(src.Newest.Pos.EndLSN - src.Applied.Pos.EndLSN)
			}
			s.LagSeconds = max(s.LagSeconds, ss.LagSeconds)
			s.Sources = append(s.Sources, ss)
		}
		doc.Sinks = append(doc.Sinks, s)
	}
	return doc
}

// LagSeconds is a sink's time lag on one source: the commit time of the
// newest transaction known — in the log as the sink read it, or captured by
// the source when it runs in this daemon (so a paused sink's lag keeps
// growing) — minus that of the last applied one; 0 when caught up.
func LagSeconds(sink sinks.SourceStatus, src *sources.Status) float64 {
	lag := sink.LagSeconds
	if src != nil && !sink.Applied.CommitTime.IsZero() && src.LastCommit.After(sink.Applied.CommitTime) {
		lag = max(lag, src.LastCommit.Sub(sink.Applied.CommitTime).Seconds())
	}
	return lag
}

// mergeComponent lets the supervisor's view win where it knows more: a
// component in backoff or failed, and its error.
func mergeComponent(state, lastErr *string, errTime **time.Time, c supervise.Status, ownErr string, ownTime time.Time) {
	switch c.State {
	case supervise.Failed:
		*state = "failed"
	case supervise.Backoff:
		if *state != "paused" {
			*state = "backoff"
		}
	}
	msg, at := ownErr, ownTime
	if c.LastError != "" && c.ErrorTime.After(at) {
		msg, at = c.LastError, c.ErrorTime
	}
	if msg != "" && (*state != "streaming" && *state != "applying" || time.Since(at) < time.Minute) {
		*lastErr = msg
		t := at.UTC()
		*errTime = &t
	}
}

// History returns the lag history of every sink, the samples after since
// (all when since is zero).
func (m *Monitor) History(since time.Time) HistoryDoc {
	m.mu.Lock()
	defer m.mu.Unlock()
	doc := HistoryDoc{Sinks: map[string][]LagSample{}}
	for k, v := range m.history {
		i := sort.Search(len(v), func(i int) bool { return v[i].Time.After(since) })
		doc.Sinks[k] = append([]LagSample(nil), v[i:]...)
	}
	return doc
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
