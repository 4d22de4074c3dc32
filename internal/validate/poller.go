package validate

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/sinks/sqlsink"
)

// Violations collects what the checks found, bounded in what it keeps.
type Violations struct {
	mu    sync.Mutex
	count int
	first []string
}

// Add records one violation.
func (v *Violations) Add(format string, a ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.count++
	if len(v.first) < 20 {
		v.first = append(v.first, fmt.Sprintf(format, a...))
	}
}

// Count is how many were found.
func (v *Violations) Count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.count
}

// First returns the first ones, as text.
func (v *Violations) First() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.first...)
}

// Follower is a follower database of the workload's tables.
type Follower struct {
	Name   string // for messages: the sink's name
	Engine string // "postgres", "mysql" or "sqlite"
	DB     *sql.DB
	// Schema qualifies the tables on a PostgreSQL follower.
	Schema string
	// Sink and Source name the row of walship's positions table to check; Source
	// engine is offsets.EnginePostgres or offsets.EngineMariaDB.
	Sink, Source string
	SourceEngine offsets.Engine
}

func (f *Follower) table(t string) string {
	if f.Engine == "postgres" {
		return `"` + f.Schema + `".` + t
	}
	return t
}

// Poller polls a follower while the workload runs. Each poll reads, in one
// snapshot of the follower: the sum of balances, orders without their
// customer, every row's version, the sink's stored position, and whether
// prefix_seq is 1..k (RunSequence: a consistent prefix of the source).
type Poller struct {
	F        *Follower
	W        *Workload
	Ledger   *Ledger
	V        *Violations
	Interval time.Duration // default 200ms

	polls int
	// prefixPolls counts polls that read prefix_seq (it exists on the
	// follower once the sink created it).
	prefixPolls int
	seen        map[Key]int64 // newest version seen per key
	checked     int           // ledger transactions checked against stored positions
	next        int           // ledger transactions taken into pending
	pending     []int         // ledger transactions not yet covered by a stored position
}

// Polls is how many polls completed.
func (p *Poller) Polls() int { return p.polls }

// PrefixPolls is how many polls checked the consistent prefix.
func (p *Poller) PrefixPolls() int { return p.prefixPolls }

// Run polls until ctx ends. A follower that is down (a fault) is retried.
func (p *Poller) Run(ctx context.Context) {
	if p.Interval == 0 {
		p.Interval = 200 * time.Millisecond
	}
	p.seen = map[Key]int64{}
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := p.poll(ctx); err == nil {
			p.polls++
		}
	}
}

func (p *Poller) poll(ctx context.Context) error {
	opts := &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	if p.F.Engine == "sqlite" {
		opts = nil // a deferred read transaction: one WAL snapshot
	}
	tx, err := p.F.DB.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// The stored position first, then the rows: the snapshot holds both.
	var pos sql.NullString
	perr := tx.QueryRowContext(ctx, "SELECT position FROM "+positionsTable(p.F.Engine)+" WHERE sink = "+ph(p.F.Engine, 1)+" AND source = "+ph(p.F.Engine, 2),
		p.F.Sink, p.F.Source).Scan(&pos)
	if perr != nil && perr != sql.ErrNoRows {
		pos.Valid = false // the table may not exist yet
	}
	var sum sql.NullInt64
	var n int64
	if err := tx.QueryRowContext(ctx, "SELECT sum(balance), count(*) FROM "+p.F.table("accounts")).Scan(&sum, &n); err != nil {
		return err
	}
	var orphans int64
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+p.F.table("orders")+" o LEFT JOIN "+p.F.table("customers")+
		" c ON c.id = o.customer_id WHERE c.id IS NULL").Scan(&orphans); err != nil {
		return err
	}
	rows := map[Key]int64{}
	for _, t := range Tables {
		rs, err := tx.QueryContext(ctx, "SELECT id, version FROM "+p.F.table(t))
		if err != nil {
			return err
		}
		for rs.Next() {
			var id, v int64
			if err := rs.Scan(&id, &v); err != nil {
				rs.Close()
				return err
			}
			rows[Key{t, id}] = v
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return err
		}
	}
	if n > 0 && n == int64(p.W.accounts()) && sum.Int64 != p.W.TotalBalance() {
		p.V.Add("%s: atomicity: balances sum to %d, want %d", p.F.Name, sum.Int64, p.W.TotalBalance())
	}
	if orphans > 0 {
		p.V.Add("%s: dependencies: %d orders without their customer", p.F.Name, orphans)
	}
	for k, v := range rows {
		if old, ok := p.seen[k]; ok && v < old {
			p.V.Add("%s: order: %s %d went back from version %d to %d", p.F.Name, k.Table, k.ID, old, v)
		}
		p.seen[k] = v
	}
	for k, old := range p.seen {
		if _, ok := rows[k]; !ok && old != Deleted {
			p.seen[k] = Deleted
		} else if ok && old == Deleted {
			p.V.Add("%s: order: %s %d came back after it was deleted", p.F.Name, k.Table, k.ID)
		}
	}
	if pos.Valid && pos.String != "" {
		p.checkPosition(pos.String, rows)
	}
	// Consistent prefix: prefix_seq's rows are 1..k at every source state.
	var seqRows, seqMax int64
	if err := tx.QueryRowContext(ctx, "SELECT count(*), coalesce(max(id), 0) FROM "+p.F.table("prefix_seq")).Scan(&seqRows, &seqMax); err == nil {
		if seqRows != seqMax {
			p.V.Add("%s: consistent prefix: prefix_seq holds %d rows up to id %d, a state the source never had", p.F.Name, seqRows, seqMax)
		}
		p.prefixPolls++
	} // else not on the follower yet
	return nil
}

// checkPosition: every ledger transaction at or below the stored position
// must be visible in the same snapshot (a stored position never passes
// what was applied).
func (p *Poller) checkPosition(stored string, rows map[Key]int64) {
	applied, err := offsets.ParsePosition(stored)
	if err != nil {
		p.V.Add("%s: positions: stored position %q does not parse: %v", p.F.Name, stored, err)
		return
	}
	txns, deleted := p.Ledger.snapshot()
	for ; p.next < len(txns); p.next++ {
		if txns[p.next].After != "" {
			p.pending = append(p.pending, p.next)
		}
	}
	keep := p.pending[:0]
	for _, i := range p.pending {
		t := txns[i]
		target, err := offsets.ParseTarget(p.F.SourceEngine, t.After)
		if err != nil {
			continue
		}
		if ok, err := applied.Reached(target); err != nil || !ok {
			keep = append(keep, i)
			continue
		}
		// Covered: checked once; the order check keeps it true after.
		p.checked++
		for k, v := range t.Rows {
			have, present := rows[k]
			switch {
			case v == Deleted && present:
				p.V.Add("%s: positions: stored %s covers the delete of %s %d (source at %s), but the row is there", p.F.Name, stored, k.Table, k.ID, t.After)
			case v != Deleted && !present && !deleted[k]:
				p.V.Add("%s: positions: stored %s covers %s %d version %d (source at %s), but the row is missing", p.F.Name, stored, k.Table, k.ID, v, t.After)
			case v != Deleted && present && have < v:
				p.V.Add("%s: positions: stored %s covers %s %d version %d (source at %s), but the follower has version %d", p.F.Name, stored, k.Table, k.ID, v, t.After, have)
			}
		}
	}
	p.pending = keep
}

// Checked is how many ledger transactions were checked against stored
// positions.
func (p *Poller) Checked() int { return p.checked }

func ph(engine string, i int) string {
	if engine == "postgres" {
		return fmt.Sprintf("$%d", i)
	}
	return "?"
}

// positionsTable is walship's positions table on a follower of engine,
// quoted.
func positionsTable(engine string) string {
	n, _ := sqlsink.MetaNames(engine)
	if n.Schema != "" {
		return `"` + n.Schema + `"."` + n.Table + `"`
	}
	return n.Table
}
