package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/walship/walship/config"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
)

// eachMarker calls fn with each END and HEARTBEAT marker on the source's
// spine at offsets from..to-1, in log order, until fn returns false.
func eachMarker(ctx context.Context, cfg *config.Config, s *replaySource, from, to int64, fn func(off int64, mk envelope.Marker) bool) error {
	if from >= to {
		return nil
	}
	topic := kafka.TransactionTopic(s.prefix)
	kr := kafkago.NewReader(kafkago.ReaderConfig{Brokers: cfg.Kafka.Brokers, Topic: topic, Partition: 0,
		Dialer:   kafkaSecurity(cfg).Dialer(10 * time.Second),
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond,
		// Records deleted under the scan are an error, not a silent jump.
		OffsetOutOfRangeError: true})
	defer kr.Close()
	if err := kr.SetOffset(from); err != nil {
		return err
	}
	for next := from; next < to; {
		m, err := kr.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("%s/0 offset %d: %w", topic, next, err)
		}
		if m.Offset != next {
			return fmt.Errorf("%w: %s/0 gave offset %d where the scan expected %d: records were deleted meanwhile", kafka.ErrRetention, topic, m.Offset, next)
		}
		next = m.Offset + 1
		rec := envelope.Record{Key: m.Key, Value: m.Value}
		for _, h := range m.Headers {
			rec.Headers = append(rec.Headers, envelope.Header{Key: h.Key, Value: h.Value})
		}
		mk, err := envelope.DecodeMarker(rec)
		if err != nil {
			return fmt.Errorf("%s/0 offset %d: %w", topic, m.Offset, err)
		}
		if mk.Status != envelope.StatusEnd && mk.Status != envelope.StatusHeartbeat {
			continue
		}
		if !fn(m.Offset, mk) {
			return nil
		}
	}
	return nil
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
func resolveTime(ctx context.Context, cfg *config.Config, s *replaySource, t time.Time) (timeBound, error) {
	tb := timeBound{end: s.first}
	if !s.exists {
		tb.end = 0
		return tb, nil
	}
	txns, later := 0, 0
	err := eachMarker(ctx, cfg, s, s.first, s.end, func(off int64, mk envelope.Marker) bool {
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
func checkLogStart(ctx context.Context, cfg *config.Config, s *replaySource, end int64) error {
	if !s.exists || end <= 0 {
		return nil
	}
	if s.first > 0 {
		return &kafka.TrimmedError{Topic: kafka.TransactionTopic(s.prefix), Partition: 0, First: s.first}
	}
	need := map[string]map[int]bool{}
	err := eachMarker(ctx, cfg, s, 0, end, func(_ int64, mk envelope.Marker) bool {
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
	firsts, err := kafka.FirstOffsets(ctx, cfg.Kafka.Brokers, kafkaSecurity(cfg), 10*time.Second, parts)
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

// explainTrimmed tells the user how to build a follower whose log lost its
// beginning: from the newest snapshot in the log when each source's log
// still holds one, with a new snapshot otherwise.
// applied is how many transactions this run applied before the refusal.
func explainTrimmed(ctx context.Context, w io.Writer, cfg *config.Config, o replayOpts, srcs []*replaySource, applied int64, err error) {
	fmt.Fprintf(w, "replay: %v\n", err)
	fmt.Fprintln(w, "The log no longer begins at offset 0: retention removed its beginning (the snapshot and the changes")
	fmt.Fprintln(w, "after it), which a follower without recorded positions needs. Only a start from a snapshot can")
	fmt.Fprintln(w, "build this follower.")
	if applied == 0 {
		fmt.Fprintln(w, "Nothing was applied.")
	} else {
		fmt.Fprintf(w, "%d transactions were applied before the hole was found: empty the follower database first.\n", applied)
	}
	// A replay that started from the newest snapshot and was refused
	// needs a new one.
	held := o.from != "snapshot"
	for _, s := range srcs {
		_, what, ferr := findStart(ctx, cfg, s, "snapshot", nil)
		switch {
		case errors.Is(ferr, errNoSnapshot):
			held = false
			fmt.Fprintf(w, "  source %s: the log holds no snapshot\n", s.name)
			continue
		case ferr != nil:
			held = false
			fmt.Fprintf(w, "  source %s: could not look for a snapshot in the log: %v\n", s.name, ferr)
			continue
		}
		fmt.Fprintf(w, "  source %s: the log holds a snapshot: %s\n", s.name, what)
	}
	into := ""
	if o.into != "" {
		into = " --into DB" // not printed: a DSN may hold a password
	}
	if o.tables != "" {
		into += " --tables " + o.tables
	}
	if held {
		fmt.Fprintf(w, "Start from the newest snapshot the log holds:\n  walship replay -c %s --sink %s%s --from snapshot\n", o.path, o.sink, into)
		fmt.Fprintln(w, "(or take a new one: stop the daemon, empty the follower database, and run replay --resnapshot)")
		return
	}
	fmt.Fprintf(w, "Take a new snapshot: stop the daemon, empty the follower database, and run\n  walship replay -c %s --sink %s --resnapshot\n", o.path, o.sink)
}
