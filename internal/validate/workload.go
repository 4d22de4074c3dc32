package validate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// Key is a row of the workload.
type Key struct {
	Table string
	ID    int64
}

// Deleted is the version a Ledger records for a deleted row.
const Deleted = -1

// Txn is one committed source transaction: the versions it wrote, and the
// source position read right after its commit (at or past its commit:
// a PostgreSQL LSN, or a MariaDB GTID).
type Txn struct {
	After string
	Rows  map[Key]int64
}

// Ledger is the ground truth: every committed transaction of a Workload.
type Ledger struct {
	mu    sync.Mutex
	txns  []Txn
	final map[Key]int64
	// deleted records the keys deleted at any time (ids are never reused).
	deleted map[Key]bool
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{final: map[Key]int64{}, deleted: map[Key]bool{}} }

func (l *Ledger) record(t Txn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.txns = append(l.txns, t)
	for k, v := range t.Rows {
		// Versions only grow and a delete is final (ids are never reused);
		// concurrent workers may record in another order than they
		// committed.
		switch old, seen := l.final[k]; {
		case v == Deleted:
			l.final[k] = Deleted
			l.deleted[k] = true
		case !seen || old != Deleted && v > old:
			l.final[k] = v
		}
	}
}

// intend records the deletes a transaction is about to commit, before its
// COMMIT: a follower may apply a delete before the workload learns its
// commit went through (a commit whose answer was lost in a source restart
// is confirmed seconds later), and the position check must not take the
// row's absence for a loss meanwhile.
func (l *Ledger) intend(rows map[Key]int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, v := range rows {
		if v == Deleted {
			l.deleted[k] = true
		}
	}
}

// Len is the number of committed transactions.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.txns)
}

// snapshot returns the transactions so far (a copy of the slice header;
// transactions are immutable once recorded).
func (l *Ledger) snapshot() ([]Txn, map[Key]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	del := make(map[Key]bool, len(l.deleted))
	for k := range l.deleted {
		del[k] = true
	}
	return l.txns[:len(l.txns):len(l.txns)], del
}

// Workload writes the source: Setup creates the tables and the accounts,
// Run runs one worker until its context ends.
type Workload struct {
	Engine   string // "postgres" or "mariadb"
	DB       *sql.DB
	Ledger   *Ledger
	Accounts int // default 50
	// Pace is the pause between a worker's transactions (0: none).
	Pace time.Duration
	// Retries counts transactions retried after a deadlock or a lost
	// connection (the source restarting): never recorded twice.
	Retries atomic.Int64
}

// Balance is each account's starting balance.
const Balance = 100

func (w *Workload) accounts() int {
	if w.Accounts == 0 {
		return 50
	}
	return w.Accounts
}

// TotalBalance is the invariant sum of balances.
func (w *Workload) TotalBalance() int64 { return int64(w.accounts()) * Balance }

// Setup creates the tables and the accounts (version 1).
func (w *Workload) Setup(ctx context.Context) error {
	for _, q := range sourceDDL[w.Engine] {
		if _, err := w.DB.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("workload setup: %w", err)
		}
	}
	var b strings.Builder
	b.WriteString("INSERT INTO accounts VALUES ")
	for i := 1; i <= w.accounts(); i++ {
		if i > 1 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "(%d, %d, 1)", i, Balance)
	}
	if _, err := w.DB.ExecContext(ctx, b.String()); err != nil {
		return fmt.Errorf("workload setup: %w", err)
	}
	rows := map[Key]int64{}
	for i := 1; i <= w.accounts(); i++ {
		rows[Key{"accounts", int64(i)}] = 1
	}
	w.Ledger.record(Txn{Rows: rows}) // in the snapshot: no position needed
	return nil
}

// retryable reports a transaction the workload runs again: a deadlock,
// a serialization failure, or a connection lost (source restart).
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40P01" || pe.Code == "40001" || strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P03"
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1213 || me.Number == 1205 || me.Number == 1927 || me.Number == 1053
	}
	return errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, driverBadConn) ||
		isNetErr(err)
}

// Run runs worker number n (its ids are its own) until ctx ends; it
// returns the transactions it committed. Errors that are not retryable
// end it.
func (w *Workload) Run(ctx context.Context, n int, seed uint64) (int64, error) {
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	st := &workerState{base: int64(n+1) * 1_000_000_000}
	var done int64
	for i := 0; ctx.Err() == nil; i++ {
		op := rng.IntN(10)
		for attempt := 0; ; attempt++ {
			st.txid++
			t, err := w.txn(ctx, rng, st, op)
			var ce *commitError
			if errors.As(err, &ce) {
				// The commit's answer was lost: look for its txlog row.
				if ok, cerr := w.committed(st.base + st.txid); cerr == nil && ok {
					err = nil
				} else if cerr != nil {
					return done, fmt.Errorf("workload worker %d: commit of transaction %d unknown: %v; and checking failed: %w", n, st.txid, err, cerr)
				}
			}
			if err == nil {
				w.Ledger.record(t)
				st.commit()
				done++
				break
			}
			st.rollback()
			if ctx.Err() != nil {
				return done, nil
			}
			if !retryable(err) || attempt > 200 {
				return done, fmt.Errorf("workload worker %d: %w", n, err)
			}
			w.Retries.Add(1)
			select {
			case <-ctx.Done():
				return done, nil
			case <-time.After(time.Duration(min(attempt+1, 20)) * 50 * time.Millisecond):
			}
		}
		if w.Pace > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(w.Pace):
			}
		}
	}
	return done, nil
}

// workerState is what one worker owns: its customers with their orders.
type workerState struct {
	base    int64
	txid    int64 // the transaction's txlog id, base + txid
	next    int64
	live    []int64 // customer ids with one order each (order id = 10*customer id)
	version map[int64]int64
	// pending changes of the transaction in flight
	pendLive []int64
	pendNext int64
}

func (s *workerState) commit() {
	if s.pendLive != nil {
		s.live = s.pendLive
	}
	if s.pendNext != 0 {
		s.next = s.pendNext
	}
	s.pendLive, s.pendNext = nil, 0
}

func (s *workerState) rollback() { s.pendLive, s.pendNext = nil, 0 }

// txn runs one transaction; on success it returns it for the ledger.
func (w *Workload) txn(ctx context.Context, rng *rand.Rand, st *workerState, op int) (Txn, error) {
	conn, err := w.DB.Conn(ctx)
	if err != nil {
		return Txn{}, err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return Txn{}, err
	}
	defer tx.Rollback()
	ph := func(q string) string { return w.rebind(q) }
	rows := map[Key]int64{}
	bump := func(table string, id int64) error {
		var v int64
		if err := tx.QueryRowContext(ctx, ph("SELECT version FROM "+table+" WHERE id = ? FOR UPDATE"), id).Scan(&v); err != nil {
			return err
		}
		rows[Key{table, id}] = v + 1
		return nil
	}
	switch {
	case op < 5 || len(st.live) == 0 && op >= 7: // transfer
		a, b := rng.Int64N(int64(w.accounts()))+1, rng.Int64N(int64(w.accounts()))+1
		if a == b {
			b = a%int64(w.accounts()) + 1
		}
		if a > b {
			a, b = b, a
		}
		amt := rng.Int64N(10) + 1
		if rng.IntN(2) == 0 {
			amt = -amt
		}
		if err := bump("accounts", a); err != nil {
			return Txn{}, err
		}
		if err := bump("accounts", b); err != nil {
			return Txn{}, err
		}
		if _, err := tx.ExecContext(ctx, ph("UPDATE accounts SET balance = balance - ?, version = version + 1 WHERE id = ?"), amt, a); err != nil {
			return Txn{}, err
		}
		if _, err := tx.ExecContext(ctx, ph("UPDATE accounts SET balance = balance + ?, version = version + 1 WHERE id = ?"), amt, b); err != nil {
			return Txn{}, err
		}
	case op < 7: // a new customer with an order
		next := st.next + 1
		id := st.base + next
		name := fmt.Sprintf("c%d 'q' \\ \t ünï", id)
		if next%5 == 0 {
			name = "NULL"
		}
		if _, err := tx.ExecContext(ctx, ph("INSERT INTO customers VALUES (?, ?, 1)"), id, name); err != nil {
			return Txn{}, err
		}
		if _, err := tx.ExecContext(ctx, ph("INSERT INTO orders VALUES (?, ?, ?, 1)"), id*10, id, fmt.Sprintf("%d.%02d", next%1000, next%100)); err != nil {
			return Txn{}, err
		}
		rows[Key{"customers", id}], rows[Key{"orders", id * 10}] = 1, 1
		st.pendNext = next
		st.pendLive = append(append([]int64(nil), st.live...), id)
	case op < 9: // update an order and its customer
		id := st.live[rng.IntN(len(st.live))]
		if err := bump("orders", id*10); err != nil {
			return Txn{}, err
		}
		if _, err := tx.ExecContext(ctx, ph("UPDATE orders SET amount = amount + 1, version = version + 1 WHERE id = ?"), id*10); err != nil {
			return Txn{}, err
		}
		if rng.IntN(2) == 0 {
			if err := bump("customers", id); err != nil {
				return Txn{}, err
			}
			if _, err := tx.ExecContext(ctx, ph("UPDATE customers SET name = ?, version = version + 1 WHERE id = ?"), fmt.Sprintf("renamed %d", rng.IntN(1000)), id); err != nil {
				return Txn{}, err
			}
		}
	default: // delete an order and then its customer
		i := rng.IntN(len(st.live))
		id := st.live[i]
		if _, err := tx.ExecContext(ctx, ph("DELETE FROM orders WHERE id = ?"), id*10); err != nil {
			return Txn{}, err
		}
		if _, err := tx.ExecContext(ctx, ph("DELETE FROM customers WHERE id = ?"), id); err != nil {
			return Txn{}, err
		}
		rows[Key{"orders", id * 10}], rows[Key{"customers", id}] = Deleted, Deleted
		live := append([]int64(nil), st.live[:i]...)
		st.pendLive = append(live, st.live[i+1:]...)
		if len(st.pendLive) == 0 {
			st.pendLive = []int64{}
		}
	}
	if _, err := tx.ExecContext(ctx, ph("INSERT INTO txlog VALUES (?)"), st.base+st.txid); err != nil {
		return Txn{}, err
	}
	w.Ledger.intend(rows)
	if err := tx.Commit(); err != nil {
		return t0(rows), &commitError{err}
	}
	// The position after the commit, on the same session.
	q := "SELECT pg_current_wal_lsn()::text"
	if w.Engine == "mariadb" {
		q = "SELECT @@last_gtid"
	}
	var after string
	if err := conn.QueryRowContext(ctx, q).Scan(&after); err != nil {
		// Committed, but the position is unknown: record it without one
		// (the position check skips it; the rest still counts it).
		after = ""
	}
	return Txn{After: after, Rows: rows}, nil
}

// commitError is a failed COMMIT: the transaction may have committed.
type commitError struct{ err error }

func (e *commitError) Error() string { return "commit: " + e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

func t0(rows map[Key]int64) Txn { return Txn{Rows: rows} }

// committed reports whether the transaction with txlog id made it, asking
// again until the source answers.
func (w *Workload) committed(id int64) (bool, error) {
	var err error
	for i := 0; i < 100; i++ {
		var n int
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = w.DB.QueryRowContext(ctx, w.rebind("SELECT count(*) FROM txlog WHERE id = ?"), id).Scan(&n)
		cancel()
		if err == nil {
			return n == 1, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false, err
}

// rebind turns ? placeholders into $n for PostgreSQL.
func (w *Workload) rebind(q string) string {
	if w.Engine != "postgres" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// RunSequence is the consistent-prefix probe: one session inserting ids
// 1, 2, 3, ... into prefix_seq, one transaction each, until ctx ends. Every
// state of the source is then {1..k}: a follower that ever shows rows
// with a gap (count below max id) showed a state the source never had
// (Poller checks it). It returns how many it committed.
func (w *Workload) RunSequence(ctx context.Context) (int64, error) {
	var next int64 = 1
	for attempt := 0; ctx.Err() == nil; {
		_, err := w.DB.ExecContext(ctx, w.rebind("INSERT INTO prefix_seq VALUES (?)"), next)
		if duplicateKey(err) {
			// This session is prefix_seq's only writer: an earlier attempt
			// committed and its answer was lost.
			err = nil
		}
		if err != nil && ctx.Err() == nil && retryable(err) {
			// The answer may be lost with the insert committed.
			var n int
			if qerr := w.DB.QueryRowContext(ctx, w.rebind("SELECT count(*) FROM prefix_seq WHERE id = ?"), next).Scan(&n); qerr == nil && n == 1 {
				err = nil
			}
		}
		if err == nil {
			next, attempt = next+1, 0
			if w.Pace > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(w.Pace):
				}
			}
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if !retryable(err) || attempt > 200 {
			return next - 1, fmt.Errorf("sequence writer: %w", err)
		}
		attempt++
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(min(attempt, 20)) * 50 * time.Millisecond):
		}
	}
	return next - 1, nil
}

// duplicateKey reports a unique violation (PostgreSQL 23505, MySQL 1062).
func duplicateKey(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}
