package replay

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/walship/walship/config"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
)

// Plan is what a replay would apply: per source, the spine range and what
// it holds up to the bound.
type Plan struct {
	Sink, Target string
	// To is Options.To; "" stops at the end of the log as of now.
	To      string
	Sources []PlanSource
	// Complete is false when reading a source's log failed: Sources holds
	// the sources read before it.
	Complete bool
}

// PlanSource is one source's part of a Plan.
type PlanSource struct {
	Name, Topic string
	// Empty: the spine holds nothing; the fields below are zero.
	Empty bool
	// First and Last are the spine offsets held; UpTo the last one within
	// the bound.
	First, Last, UpTo int64
	// Txns counts END markers up to the bound, Heartbeats heartbeats.
	Txns, Heartbeats int64
	// Events counts events per data topic-partition ("topic/partition").
	Events map[string]int64
}

// DryRun surveys the log the way Run does and returns its plan, writing
// nothing. With an error it returns the plan of the sources read before
// it (Complete false), or none when the options are refused.
func DryRun(ctx context.Context, cfg *config.Config, o Options, eng Engines) (*Plan, error) {
	if err := o.CheckDryRun(); err != nil {
		return nil, err
	}
	j, err := newJob(cfg, o, eng)
	if err != nil {
		return nil, err
	}
	if err := j.survey(ctx); err != nil {
		return nil, err
	}
	p := &Plan{Sink: j.sk.Name, Target: j.target}
	if j.to != nil {
		p.To = j.to.text
	}
	for _, s := range j.srcs {
		ps := PlanSource{Name: s.name, Topic: kafka.TransactionTopic(s.prefix)}
		if !s.exists || s.end <= s.first {
			ps.Empty = true
			p.Sources = append(p.Sources, ps)
			continue
		}
		ps.First, ps.Last = s.first, s.end-1
		if err := j.scanSpine(ctx, s, &ps); err != nil {
			return p, fmt.Errorf("source %s: %w", s.name, err)
		}
		p.Sources = append(p.Sources, ps)
	}
	p.Complete = true
	return p, nil
}

// Print writes the plan as `walship replay --dry-run` prints it.
func (p *Plan) Print(w io.Writer) {
	fmt.Fprintf(w, "replay plan for sink %s into %s (dry run: nothing is written)\n", p.Sink, p.Target)
	if p.To != "" {
		fmt.Fprintf(w, "  stop after the last transaction at or before %s\n", p.To)
	} else {
		fmt.Fprintf(w, "  stop at the end of the log as of now\n")
	}
	for _, s := range p.Sources {
		if s.Empty {
			fmt.Fprintf(w, "source %s: %s holds nothing\n", s.Name, s.Topic)
			continue
		}
		fmt.Fprintf(w, "source %s: topic %s offsets %d..%d (up to %d with the bound): %d transactions (END markers), %d heartbeats\n",
			s.Name, s.Topic, s.First, s.Last, s.UpTo, s.Txns, s.Heartbeats)
		keys := make([]string, 0, len(s.Events))
		for k := range s.Events {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %s: %d events\n", k, s.Events[k])
		}
	}
	if p.Complete {
		fmt.Fprintln(w, "a replay resumes after the positions the follower recorded; on an empty follower it applies all of the above")
	}
}

// scanSpine reads a source's transaction topic from first to end, or to
// the bound, into ps.
func (j *job) scanSpine(ctx context.Context, s *source, ps *PlanSource) error {
	b := j.to
	ps.Events = map[string]int64{}
	ps.UpTo = s.first - 1
	end := s.end
	if tb, ok := b.limit(s.name); ok {
		end = min(end, tb.end)
	}
	return j.eachMarker(ctx, s, s.first, end, func(off int64, mk envelope.Marker) bool {
		hb := mk.Status == envelope.StatusHeartbeat
		if b != nil && !b.isTime && b.beyond(s.name, &kafka.Txn{End: mk, Heartbeat: hb}) {
			return false
		}
		ps.UpTo = off
		if hb {
			ps.Heartbeats++
			return true
		}
		ps.Txns++
		for _, pc := range mk.Partitions {
			ps.Events[fmt.Sprintf("%s/%d", pc.Topic, pc.Partition)] += int64(pc.Count)
		}
		return true
	})
}
