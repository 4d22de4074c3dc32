package sinks

// Folding: recording each source's watermark and resume offsets in the
// follower (on a goroutine of its own beside the dispatcher), and the lag
// figures of the status.

import (
	"context"
	"fmt"

	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/supervise"
)

// foldJob is one source's watermark to record.
type foldJob struct {
	st   *stream
	w    Applied
	offs kafka.Offsets
	pos  string
}

type foldResult struct {
	jobs []foldJob
	err  error
}

// fold records each source's watermark when it moved.
func (r *run) fold(ctx context.Context) error {
	if err := r.waitFold(); err != nil {
		return err
	}
	jobs := r.foldJobs()
	return r.folded(foldResult{jobs, r.writeFold(ctx, jobs)})
}

// foldAsync starts recording the watermarks that moved, unless a fold is
// still running.
func (r *run) foldAsync(ctx context.Context) {
	if r.folding {
		return
	}
	jobs := r.foldJobs()
	if len(jobs) == 0 {
		return
	}
	r.folding = true
	go func() { r.foldDone <- foldResult{jobs, r.writeFold(ctx, jobs)} }()
}

// waitFold waits for a running fold and takes its result.
func (r *run) waitFold() error {
	if !r.folding {
		return nil
	}
	r.folding = false
	return r.folded(<-r.foldDone)
}

// foldJobs lists the sources whose watermark moved since it was recorded.
func (r *run) foldJobs() []foldJob {
	var jobs []foldJob
	for _, st := range r.streams {
		pos := st.w.Pos.String()
		if !st.folded.Less(st.w.Seq) && pos == st.foldedAt {
			continue
		}
		jobs = append(jobs, foldJob{st: st, w: st.w, offs: st.wOffsets, pos: pos})
	}
	return jobs
}

// writeFold records the jobs' watermarks in the follower. It touches no
// run state: it may run beside the dispatcher.
func (r *run) writeFold(ctx context.Context, jobs []foldJob) error {
	for _, j := range jobs {
		if err := r.s.f.Fold(ctx, j.st.name, j.w, j.offs); err != nil {
			if r.s.f.Retryable(err) {
				return fmt.Errorf("sink %s: record position: %w", r.s.cfg.Name, err)
			}
			return supervise.Permanent(fmt.Errorf("sink %s: record position: %w", r.s.cfg.Name, err))
		}
	}
	return nil
}

// folded notes what a fold recorded.
func (r *run) folded(res foldResult) error {
	if res.err != nil {
		return res.err
	}
	for _, j := range res.jobs {
		j.st.folded, j.st.foldedAt = j.w.Seq, j.pos
	}
	return nil
}

func (r *run) lag() {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	ib, _ := r.s.f.(IndexBuilder)
	for i, st := range r.streams {
		ss := &r.s.status.Sources[i]
		ss.Applied, ss.Newest, ss.Queued = st.w, st.newest, len(st.items)
		if st.indexing && (ib == nil || !ib.IndexesDue(st.name)) {
			st.indexing = false
		}
		// The snapshot's tables are reported snapshotted once their
		// indexes are built.
		ss.Applied.Snapshotting = ss.Applied.Snapshotting || st.indexing
		ss.LagSeconds = 0
		if st.w.Seq.Less(st.newest.Seq) && st.newest.CommitTime.After(st.w.CommitTime) {
			ss.LagSeconds = st.newest.CommitTime.Sub(st.w.CommitTime).Seconds()
		}
	}
}
