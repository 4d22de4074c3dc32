package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/walship/walship/sources"
	"github.com/walship/walship/supervise"
)

// The split-brain guard. A session notes, beside the checkpoint, the
// identity of the server it streams from: IDENTIFY_SYSTEM's system
// identifier (one per database cluster, kept by its physical standbys)
// and timeline (which a promotion increments). At every start it compares
// the server with the note:
//   - another system identifier is another cluster, not the leader nor a
//     standby of it: refused (ErrOtherLeader);
//   - an older timeline is an old primary that came back after a standby
//     was promoted, whose writes since are not the leader's history:
//     refused (ErrOldTimeline);
//   - a newer timeline is a promoted standby: followed, and noted.
//
// A cluster that keeps the history under a new identifier (pg_upgrade, a
// restore) is accepted knowingly with accept_system_id. Sources started
// before the note existed take the server they meet as theirs.

// leaderNoteName names the note.
const leaderNoteName = "leader"

// ErrOtherLeader: the server is another database cluster than the one the
// source followed. ErrOldTimeline: it is on an older timeline than one the
// source followed (split brain). Both are permanent.
var (
	ErrOtherLeader = errors.New("the server is another database cluster than the one walship followed")
	ErrOldTimeline = errors.New("the server is on an older timeline than one walship followed")
)

// leaderNote is the note's JSON.
type leaderNote struct {
	SystemID string `json:"system_id"`
	Timeline int32  `json:"timeline"`
}

// checkLeader compares the server behind the replication connection with
// the note, and notes it.
func (r *session) checkLeader(ctx context.Context) error {
	cfg := r.cfg()
	sys, err := pglogrepl.IdentifySystem(ctx, r.repl)
	if err != nil {
		return fmt.Errorf("source %s: IDENTIFY_SYSTEM: %w", cfg.Name, err)
	}
	host := r.repl.Conn().RemoteAddr().String()
	r.src.update(func(s *sources.Status) {
		s.Leader = fmt.Sprintf("%s (system %s, timeline %d)", host, sys.SystemID, sys.Timeline)
	})
	notes, ok := r.src.store.(partitionNotes)
	if !ok {
		return nil
	}
	b, err := notes.LoadNote(ctx, cfg.Name, leaderNoteName)
	if err != nil {
		return fmt.Errorf("source %s: read the leader note: %w", cfg.Name, err)
	}
	now := leaderNote{SystemID: sys.SystemID, Timeline: sys.Timeline}
	var prev leaderNote
	if b != nil {
		if err := json.Unmarshal(b, &prev); err != nil {
			return fmt.Errorf("source %s: leader note: %w", cfg.Name, err)
		}
	}
	switch {
	case b == nil:
	case prev.SystemID != now.SystemID && cfg.AcceptSystemID == now.SystemID:
		r.src.log.Warn("following another database cluster as configured (accept_system_id)", "host", host,
			"system_id", now.SystemID, "followed", prev.SystemID)
	case prev.SystemID != now.SystemID:
		return supervise.Permanent(fmt.Errorf("source %s: %w: %s is cluster %s (timeline %d), but walship followed cluster %s (up to "+
			"timeline %d). It is neither that leader nor a standby of it, and its history is not the one the followers hold. Point the "+
			"source back at the leader; or, if this cluster holds that history under a new identifier (pg_upgrade, a restore) and every "+
			"change walship streamed, set accept_system_id: %q on this source; or rebuild the followers from it (walship replay --resnapshot)",
			cfg.Name, ErrOtherLeader, host, now.SystemID, now.Timeline, prev.SystemID, prev.Timeline, now.SystemID))
	case now.Timeline < prev.Timeline:
		return supervise.Permanent(fmt.Errorf("source %s: %w: %s is on timeline %d, but walship followed cluster %s up to timeline %d: "+
			"this is an old primary that came back after a standby was promoted (split brain), and what it took since is not the "+
			"leader's history. Point the source at the current primary (timeline %d or later)",
			cfg.Name, ErrOldTimeline, host, now.Timeline, prev.SystemID, prev.Timeline, prev.Timeline))
	case now.Timeline > prev.Timeline:
		r.promoted = fmt.Sprintf("timeline %d to %d", prev.Timeline, now.Timeline)
		r.src.update(func(s *sources.Status) { s.Failovers, s.LastFailover = s.Failovers+1, time.Now() })
		r.src.log.Info("the server was promoted since walship last streamed: following its new timeline", "host", host,
			"timeline", now.Timeline, "previous_timeline", prev.Timeline)
	default:
		return nil // as noted
	}
	nb, err := json.Marshal(now)
	if err != nil {
		return err
	}
	if err := notes.SaveNote(ctx, cfg.Name, leaderNoteName, nb); err != nil {
		return fmt.Errorf("source %s: save the leader note: %w", cfg.Name, err)
	}
	return nil
}
