package replay

import (
	"context"
	"fmt"

	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sinks"
)

// findStart scans a source's transaction topic for where --from starts:
// "snapshot" is the first chunk of the newest snapshot in the log; a
// position or time starts after the last transaction at or before it.
// The state returned starts a follower without positions there.
func (j *job) findStart(ctx context.Context, s *source, from string, b *bound) (sinks.SourceState, string, error) {
	st := sinks.SourceState{}
	if s.exists && s.end <= s.first && s.first > 0 && from == "snapshot" {
		return st, "", fmt.Errorf("%w: the log of source %s (%s) is empty: retention removed every record up to offset %d: take one with replay --resnapshot",
			errNoSnapshot, s.name, kafka.TransactionTopic(s.prefix), s.first)
	}
	if !s.exists || s.end <= s.first {
		return st, "the log is empty", nil
	}
	snapAt := int64(-1)
	var prev sinks.Applied
	what := ""
	err := j.eachMarker(ctx, s, s.first, s.end, func(off int64, mk envelope.Marker) bool {
		hb := mk.Status == envelope.StatusHeartbeat
		if from != "snapshot" {
			if b.beyond(s.name, &kafka.Txn{End: mk, Heartbeat: hb}) {
				st.Watermark = sinks.Applied{Seq: prev.Seq, Pos: b.pos[s.name], CommitTime: prev.CommitTime}
				st.Offsets.Spine = off
				what = fmt.Sprintf("starts at spine offset %d (after transaction %s)", off, prev.Seq)
				return false
			}
		} else if !hb && mk.Snapshot && mk.Seq.Sub == 0 {
			snapAt = off
		}
		if !hb {
			prev = sinks.Applied{Seq: mk.Seq, Pos: mk.Pos, CommitTime: mk.Time}
		}
		return true
	})
	if err != nil || what != "" {
		return st, what, err
	}
	if from != "snapshot" {
		st.Watermark = sinks.Applied{Seq: prev.Seq, Pos: b.pos[s.name], CommitTime: prev.CommitTime}
		st.Offsets.Spine = s.end
		return st, "the log holds nothing after it", nil
	}
	if snapAt < 0 && s.first > 0 {
		return st, "", fmt.Errorf("%w: the log of source %s (%s offsets %d..%d) holds none: take one with replay --resnapshot",
			errNoSnapshot, s.name, kafka.TransactionTopic(s.prefix), s.first, s.end-1)
	}
	if snapAt < 0 {
		return st, "", fmt.Errorf("%w: the log of source %s (%s offsets %d..%d) holds none: replay --from earliest, or take one with replay --resnapshot",
			errNoSnapshot, s.name, kafka.TransactionTopic(s.prefix), s.first, s.end-1)
	}
	// The watermark stays zero: nothing before the snapshot is applied.
	st.Offsets.Spine = snapAt
	return st, fmt.Sprintf("starts at the newest snapshot, spine offset %d", snapAt), nil
}
