package validate

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// HotRowSums is one read of the hot-row workload's invariant on a
// database: the balance sums of branches, tellers and accounts, the sum of
// history deltas and the history row count. Every committed state of the
// source has Branches = Tellers = Accounts = Deltas.
type HotRowSums struct {
	Branches, Tellers, Accounts, Deltas, History int64
}

// Holds reports whether the invariant holds.
func (s HotRowSums) Holds() bool {
	return s.Branches == s.Tellers && s.Tellers == s.Accounts && s.Accounts == s.Deltas
}

func (s HotRowSums) String() string {
	return fmt.Sprintf("branches %d, tellers %d, accounts %d, history deltas %d (%d rows)", s.Branches, s.Tellers, s.Accounts, s.Deltas, s.History)
}

// ReadHotRowSums reads the sums on f in one statement (one snapshot on
// every engine).
func ReadHotRowSums(ctx context.Context, f *Follower) (HotRowSums, error) {
	sum := func(t, col string) string {
		return "(SELECT coalesce(sum(" + col + "), 0) FROM " + f.table(t) + ")"
	}
	q := "SELECT " + sum("branches", "balance") + ", " + sum("tellers", "balance") + ", " + sum("accounts", "balance") + ", " +
		sum("history", "delta") + ", (SELECT count(*) FROM " + f.table("history") + ")"
	var s HotRowSums
	err := f.DB.QueryRowContext(ctx, q).Scan(&s.Branches, &s.Tellers, &s.Accounts, &s.Deltas, &s.History)
	return s, err
}

// HotRowPoller polls the hot-row invariant on a follower while the
// workload runs: every poll reads ReadHotRowSums, and a poll whose sums
// differ is a violation (a reader saw part of a source transaction).
// Polls that fail (the follower down, the tables not there yet) are
// counted, not reported. Run is not safe for concurrent use with itself;
// Polls and Failed may be read once Run returned.
type HotRowPoller struct {
	F *Follower
	V *Violations
	// Interval is the pause between polls. Default: 250ms.
	Interval time.Duration

	polls, failed int
	last          HotRowSums
}

// Run polls until ctx ends.
func (p *HotRowPoller) Run(ctx context.Context) {
	iv := p.Interval
	if iv == 0 {
		iv = 250 * time.Millisecond
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s, err := ReadHotRowSums(ctx, p.F)
		if err != nil {
			if ctx.Err() == nil {
				p.failed++
			}
			continue
		}
		p.polls++
		if !s.Holds() {
			p.V.Add("%s: atomicity: %s: a reader saw part of a source transaction", p.F.Name, s)
		}
		if s.History < p.last.History {
			p.V.Add("%s: history went back from %d rows to %d", p.F.Name, p.last.History, s.History)
		}
		p.last = s
	}
}

// Polls is how many polls read the follower.
func (p *HotRowPoller) Polls() int { return p.polls }

// Failed is how many polls could not read it.
func (p *HotRowPoller) Failed() int { return p.failed }

// CheckHotRow compares the follower with the source once both are still:
// the same history row count, and the invariant holding on both with the
// same sums. It adds what differs to v.
func CheckHotRow(ctx context.Context, source, follower *Follower, v *Violations) error {
	want, err := ReadHotRowSums(ctx, source)
	if err != nil {
		return fmt.Errorf("hot-row check: source: %w", err)
	}
	got, err := ReadHotRowSums(ctx, follower)
	if err != nil {
		return fmt.Errorf("hot-row check: %s: %w", follower.Name, err)
	}
	if !want.Holds() {
		v.Add("source: the invariant does not hold: %s", want)
	}
	if got.History != want.History {
		v.Add("%s: history holds %d rows, the source %d", follower.Name, got.History, want.History)
	}
	if got != want {
		v.Add("%s: %s; the source %s", follower.Name, got, want)
	}
	return nil
}

// CountRows is count(*) of table on f.
func CountRows(ctx context.Context, f *Follower, table string) (int64, error) {
	var n sql.NullInt64
	err := f.DB.QueryRowContext(ctx, "SELECT count(*) FROM "+f.table(table)).Scan(&n)
	return n.Int64, err
}
