package replay

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sinks"
)

// bound is --to: a commit time, or a position per source. A time is
// resolved on each source's log before the replay (resolveTime): the
// prefix up to the last transaction committed at or before it.
type bound struct {
	text   string
	time   time.Time
	isTime bool
	pos    map[string]offsets.Position
	ends   map[string]timeBound // a time resolved, per source
}

func parseBound(s string, srcs []*source) (*bound, error) {
	if s == "" {
		return nil, nil
	}
	b := &bound{text: s, pos: map[string]offsets.Position{}}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		b.time, b.isTime = t, true
		return b, nil
	}
	for _, src := range srcs {
		p, err := offsets.ParseTarget(src.engine, s)
		if err != nil {
			return nil, fmt.Errorf("--to %q is neither an RFC 3339 time nor a position of source %s (%s): %v", s, src.name, src.engine, err)
		}
		b.pos[src.name] = p
	}
	return b, nil
}

// limit is the time bound resolved on source's log, if the bound is a time.
func (b *bound) limit(source string) (timeBound, bool) {
	if b == nil || !b.isTime {
		return timeBound{}, false
	}
	tb, ok := b.ends[source]
	return tb, ok
}

// beyond reports whether the log of source passed the bound at txn: txn
// is a transaction after it, or a heartbeat saying every transaction up to
// the bound was sent before it. Neither it nor anything later is applied.
func (b *bound) beyond(source string, txn *kafka.Txn) bool {
	mk := txn.End
	if b.isTime {
		// --from TIME (findStart); --to TIME is resolved to an offset.
		return !mk.Time.IsZero() && mk.Time.After(b.time)
	}
	t, p := b.pos[source], mk.Pos
	if p.IsZero() || p.Engine != t.Engine && !(isMy(p.Engine) && isMy(t.Engine)) {
		return false
	}
	if p.Engine == offsets.EnginePostgres {
		limit := max(t.LSN, t.EndLSN)
		if txn.Heartbeat {
			return max(p.LSN, p.EndLSN) >= limit
		}
		return p.LSN > limit
	}
	if txn.Heartbeat {
		return !p.GTIDs.IsEmpty() && p.GTIDs.Contains(t.GTIDs)
	}
	if p.GTID != "" {
		if g, err := offsets.ParseGTIDSet(t.GTIDs.Flavor(), p.GTID); err == nil {
			return !t.GTIDs.Contains(g)
		}
	}
	return !p.GTIDs.IsEmpty() && !t.GTIDs.Contains(p.GTIDs)
}

func isMy(e offsets.Engine) bool { return e == offsets.EngineMySQL || e == offsets.EngineMariaDB }

// reached reports whether a watermark at applied covers the bound.
func (b *bound) reached(source string, applied sinks.Applied) bool {
	if b.isTime {
		return !applied.CommitTime.Before(b.time)
	}
	ok, err := applied.Pos.Reached(b.pos[source])
	return err == nil && ok
}

// timeBound is --to TIME resolved on one source's log as held at the start
// of the replay: the prefix of the log up to and including the last
// transaction committed at or before TIME, in log order.
type timeBound struct {
	end     int64           // the spine offset after that transaction's END
	last    envelope.Marker // its END; zero when the log holds none at or before TIME
	txns    int             // transactions in the prefix
	later   int             // of them, committed after TIME (commit times are not in log order)
	crossed bool            // the log holds a transaction or heartbeat after TIME
}

// resolveTime scans the source's spine (first..end as read at the start of
// the replay) for --to t. A PostgreSQL commit time is taken before the
// commit's WAL record is, so commit times are not monotonic in LSN order,
// and MariaDB's are whole seconds: stopping at the first later commit
// time would drop a transaction at or before t that follows a later one.
// The bound is therefore the last END at or before t, found by reading the
// spine to its end, and the replay applies the log up to it: a prefix of
// the source's history that holds every transaction committed at or before
// t (and those before it in log order that committed after t).
func (j *job) resolveTime(ctx context.Context, s *source, t time.Time) (timeBound, error) {
	tb := timeBound{end: s.first}
	if !s.exists {
		tb.end = 0
		return tb, nil
	}
	txns, later := 0, 0
	err := j.eachMarker(ctx, s, s.first, s.end, func(off int64, mk envelope.Marker) bool {
		after := !mk.Time.IsZero() && mk.Time.After(t)
		if after {
			tb.crossed = true
		}
		if mk.Status != envelope.StatusEnd {
			return true
		}
		txns++
		if after {
			later++
			return true
		}
		tb.end, tb.last, tb.txns, tb.later = off+1, mk, txns, later
		return true
	})
	return tb, err
}

// describe says what the bound resolved to, for the replay's log.
func (tb timeBound) describe(t time.Time) string {
	if tb.last.Seq.IsZero() {
		return fmt.Sprintf("the log holds no transaction committed at or before %s", t.Format(time.RFC3339Nano))
	}
	s := fmt.Sprintf("applies the log up to spine offset %d, the last transaction committed at or before it (%s at %s, commit %s): %d transactions",
		tb.end-1, tb.last.Seq, tb.last.Pos, tb.last.Time.Format(time.RFC3339Nano), tb.txns)
	if tb.later > 0 {
		s += fmt.Sprintf(", %d of them committed after %s but before it in log order", tb.later, t.Format(time.RFC3339Nano))
	}
	return s
}

// checkLogStart checks that the log of s holds its beginning, as a
// follower read from spine offset 0 needs: offset 0 of the spine and of
// every data partition the transactions before spine offset end have
// events in. Retention removes a partition's oldest records first, so
// a first offset above 0 means records the follower needs are gone: a
// *kafka.TrimmedError.
func (j *job) checkLogStart(ctx context.Context, s *source, end int64) error {
	if !s.exists || end <= 0 {
		return nil
	}
	if s.first > 0 {
		return &kafka.TrimmedError{Topic: kafka.TransactionTopic(s.prefix), Partition: 0, First: s.first}
	}
	need := map[string]map[int]bool{}
	err := j.eachMarker(ctx, s, 0, end, func(_ int64, mk envelope.Marker) bool {
		if mk.Status != envelope.StatusEnd {
			return true
		}
		for _, pc := range mk.Partitions {
			if need[pc.Topic] == nil {
				need[pc.Topic] = map[int]bool{}
			}
			need[pc.Topic][pc.Partition] = true
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("source %s: read the log's transaction topic: %w", s.name, err)
	}
	parts := map[string][]int{}
	for topic, ps := range need {
		for p := range ps {
			parts[topic] = append(parts[topic], p)
		}
	}
	firsts, err := kafka.FirstOffsets(ctx, j.cfg.Kafka.Brokers, j.o.Kafka, 10*time.Second, parts)
	if err != nil {
		return fmt.Errorf("source %s: %w", s.name, err)
	}
	topics := make([]string, 0, len(firsts))
	for topic := range firsts {
		topics = append(topics, topic)
	}
	sort.Strings(topics)
	for _, topic := range topics {
		ps := parts[topic]
		sort.Ints(ps)
		for _, p := range ps {
			if first := firsts[topic][p]; first > 0 {
				return &kafka.TrimmedError{Topic: topic, Partition: p, First: first}
			}
		}
	}
	return nil
}

// trimmedLog is the refusal of a follower whose log lost its beginning:
// it looks for a snapshot in each source's log, the way out when every
// log holds one. applied is how many transactions this run applied before
// the refusal.
func (j *job) trimmedLog(ctx context.Context, applied int64, err error) *TrimmedLogError {
	e := &TrimmedLogError{Err: err, Applied: applied}
	// A replay that started from the newest snapshot and was refused
	// needs a new one.
	e.FromSnapshot = j.o.From != "snapshot"
	for _, s := range j.srcs {
		_, what, ferr := j.findStart(ctx, s, "snapshot", nil)
		ls := LogSnapshot{Source: s.name, Held: ferr == nil, Where: what}
		if ferr != nil && !errors.Is(ferr, errNoSnapshot) {
			ls.Err = ferr
		}
		e.FromSnapshot = e.FromSnapshot && ls.Held
		e.Snapshots = append(e.Snapshots, ls)
	}
	return e
}
