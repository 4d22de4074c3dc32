package validate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"
)

// HotRow is a TPC-B-like workload (pgbench's default script, with foreign
// keys): every transaction adds one delta to one of a few hot branch rows,
// one of a few dozen teller rows and one random account row, and inserts a
// history row naming all three. Every committed state keeps
//
//	sum(branches.balance) = sum(tellers.balance) = sum(accounts.balance)
//
// (HotRowPoller checks it on a follower), and history holds exactly one row
// per committed transaction (HistoryCounts). Setup creates and fills the
// tables; Run runs one client until its context ends. Balances start at 0.
type HotRow struct {
	Engine string // "postgres" or "mariadb"
	DB     *sql.DB
	// Branches is the number of branch rows. Default: 5.
	Branches int
	// TellersPerBranch is the number of tellers of each branch. Default: 10.
	TellersPerBranch int
	// Accounts is the number of account rows. Default: 100000.
	Accounts int
	// Committed counts the transactions the clients committed.
	Committed atomic.Int64
	// Retries counts transactions run again after a deadlock, a
	// serialization failure or a lost connection (never committed twice).
	Retries atomic.Int64
}

// HotRowTables are the workload's tables, parents before children.
var HotRowTables = []string{"branches", "tellers", "accounts", "history"}

func (w *HotRow) branches() int { return defaultInt(w.Branches, 5) }
func (w *HotRow) tellers() int  { return w.branches() * defaultInt(w.TellersPerBranch, 10) }
func (w *HotRow) accounts() int { return defaultInt(w.Accounts, 100000) }

func defaultInt(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Rows is the number of rows Setup fills: branches, tellers and accounts.
func (w *HotRow) Rows() (branches, tellers, accounts int) {
	return w.branches(), w.tellers(), w.accounts()
}

// Setup creates the tables on the source and fills them (balances 0).
func (w *HotRow) Setup(ctx context.Context) error {
	ddl, err := HotRowDDL(w.Engine, "")
	if err != nil {
		return err
	}
	for _, q := range append(ddl, w.FillSQL(w.Engine, "")...) {
		if _, err := w.DB.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("hot-row setup: %s: %w", q, err)
		}
	}
	return nil
}

// HotRowDDL creates the workload's tables with their foreign keys, on a
// source ("postgres", "mariadb") or a follower ("postgres" in schema, or
// public when empty; "mysql"; "sqlite").
func HotRowDDL(engine, schema string) ([]string, error) {
	q := func(t string) string { return t }
	var out []string
	switch engine {
	case "postgres":
		if schema != "" {
			out = append(out, `CREATE SCHEMA IF NOT EXISTS "`+schema+`"`)
			q = func(t string) string { return `"` + schema + `".` + t }
		}
		return append(out,
			`CREATE TABLE `+q("branches")+` (id bigint PRIMARY KEY, balance bigint NOT NULL, filler text)`,
			`CREATE TABLE `+q("tellers")+` (id bigint PRIMARY KEY, branch_id bigint NOT NULL REFERENCES `+q("branches")+`(id), balance bigint NOT NULL, filler text)`,
			`CREATE TABLE `+q("accounts")+` (id bigint PRIMARY KEY, branch_id bigint NOT NULL REFERENCES `+q("branches")+`(id), balance bigint NOT NULL, filler text)`,
			`CREATE TABLE `+q("history")+` (id bigint PRIMARY KEY, teller_id bigint NOT NULL REFERENCES `+q("tellers")+`(id), branch_id bigint NOT NULL REFERENCES `+q("branches")+`(id), account_id bigint NOT NULL REFERENCES `+q("accounts")+`(id), delta bigint NOT NULL, mtime timestamp NOT NULL)`,
		), nil
	case "mariadb", "mysql":
		return []string{
			`CREATE TABLE branches (id bigint PRIMARY KEY, balance bigint NOT NULL, filler varchar(88))`,
			`CREATE TABLE tellers (id bigint PRIMARY KEY, branch_id bigint NOT NULL, balance bigint NOT NULL, filler varchar(84), FOREIGN KEY (branch_id) REFERENCES branches(id))`,
			`CREATE TABLE accounts (id bigint PRIMARY KEY, branch_id bigint NOT NULL, balance bigint NOT NULL, filler varchar(84), FOREIGN KEY (branch_id) REFERENCES branches(id))`,
			`CREATE TABLE history (id bigint PRIMARY KEY, teller_id bigint NOT NULL, branch_id bigint NOT NULL, account_id bigint NOT NULL, delta bigint NOT NULL, mtime datetime(6) NOT NULL,
			  FOREIGN KEY (teller_id) REFERENCES tellers(id), FOREIGN KEY (branch_id) REFERENCES branches(id), FOREIGN KEY (account_id) REFERENCES accounts(id))`,
		}, nil
	case "sqlite":
		return []string{
			`CREATE TABLE branches (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL, filler TEXT)`,
			`CREATE TABLE tellers (id INTEGER PRIMARY KEY, branch_id INTEGER NOT NULL REFERENCES branches(id), balance INTEGER NOT NULL, filler TEXT)`,
			`CREATE TABLE accounts (id INTEGER PRIMARY KEY, branch_id INTEGER NOT NULL REFERENCES branches(id), balance INTEGER NOT NULL, filler TEXT)`,
			`CREATE TABLE history (id INTEGER PRIMARY KEY, teller_id INTEGER NOT NULL REFERENCES tellers(id), branch_id INTEGER NOT NULL REFERENCES branches(id), account_id INTEGER NOT NULL REFERENCES accounts(id), delta INTEGER NOT NULL, mtime TEXT NOT NULL)`,
		}, nil
	}
	return nil, fmt.Errorf("hot-row: unknown engine %q", engine)
}

// FillSQL fills branches, tellers and accounts with the workload's
// starting rows (balances 0, filler NULL) on engine, in schema on
// PostgreSQL (public when empty): the same rows the source starts with,
// for a follower that starts from them instead of a snapshot.
func (w *HotRow) FillSQL(engine, schema string) []string {
	b, t, a := w.Rows()
	q := func(tbl string) string { return tbl }
	if engine == "postgres" && schema != "" {
		q = func(tbl string) string { return `"` + schema + `".` + tbl }
	}
	// series(n) is 1..n; a teller's and an account's branch is (id-1) % b + 1.
	series := func(n int) (from, col string) {
		switch engine {
		case "postgres":
			return fmt.Sprintf("generate_series(1, %d) g", n), "g"
		case "mariadb", "mysql":
			return fmt.Sprintf("seq_1_to_%d", n), "seq"
		}
		return fmt.Sprintf("(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < %d) SELECT g FROM s)", n), "g"
	}
	var out []string
	for _, tbl := range []struct {
		name string
		n    int
	}{{"branches", b}, {"tellers", t}, {"accounts", a}} {
		from, g := series(tbl.n)
		if tbl.name == "branches" {
			out = append(out, fmt.Sprintf("INSERT INTO %s (id, balance) SELECT %s, 0 FROM %s", q(tbl.name), g, from))
			continue
		}
		out = append(out, fmt.Sprintf("INSERT INTO %s (id, branch_id, balance) SELECT %s, (%s - 1) %% %d + 1, 0 FROM %s", q(tbl.name), g, g, b, from))
	}
	return out
}

// Run runs client n until ctx ends, and returns the transactions it
// committed. Its history ids are its own (n+1)·10¹² + i, so a COMMIT
// whose answer was lost is told committed or not by looking its history
// row up. Errors that are not retryable end it.
func (w *HotRow) Run(ctx context.Context, n int, seed uint64) (int64, error) {
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	conn, err := w.DB.Conn(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil
		}
		return 0, fmt.Errorf("hot-row client %d: %w", n, err)
	}
	defer func() { conn.Close() }()
	base := int64(n+1) * 1_000_000_000_000
	var done int64
	for i := int64(1); ctx.Err() == nil; i++ {
		b, t, a := w.Rows()
		teller := rng.Int64N(int64(t)) + 1
		branch := (teller-1)%int64(b) + 1
		account := rng.Int64N(int64(a)) + 1
		delta := rng.Int64N(10001) - 5000
		for attempt := 0; ; attempt++ {
			err := w.txn(ctx, conn, base+i, branch, teller, account, delta)
			var ce *commitError
			if errors.As(err, &ce) {
				// The COMMIT's answer was lost: look for its history row.
				if ok, cerr := w.committed(base + i); cerr != nil {
					return done, fmt.Errorf("hot-row client %d: commit of %d unknown: %v; and checking failed: %w", n, base+i, err, cerr)
				} else if ok {
					err = nil
				}
			}
			if err == nil {
				w.Committed.Add(1)
				done++
				break
			}
			if ctx.Err() != nil {
				return done, nil
			}
			if !retryable(err) || attempt > 200 {
				return done, fmt.Errorf("hot-row client %d: %w", n, err)
			}
			w.Retries.Add(1)
			if isNetErr(err) || errors.Is(err, driverBadConn) || errors.Is(err, sql.ErrConnDone) {
				conn.Close()
				if conn, err = w.DB.Conn(ctx); err != nil {
					if ctx.Err() != nil {
						return done, nil
					}
					return done, fmt.Errorf("hot-row client %d: %w", n, err)
				}
			}
			select {
			case <-ctx.Done():
				return done, nil
			case <-time.After(time.Duration(min(attempt+1, 20)) * 20 * time.Millisecond):
			}
		}
	}
	return done, nil
}

// txn is pgbench's TPC-B script: account, teller, branch, history. The
// statements run without the context: a client stops between
// transactions, never inside one.
func (w *HotRow) txn(ctx context.Context, conn *sql.Conn, hid, branch, teller, account, delta int64) error {
	bg := context.WithoutCancel(ctx)
	tx, err := conn.BeginTx(bg, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := "now()"
	if w.Engine != "postgres" {
		now = "now(6)"
	}
	for _, s := range []struct {
		q    string
		args []any
	}{
		{"UPDATE accounts SET balance = balance + ? WHERE id = ?", []any{delta, account}},
		{"UPDATE tellers SET balance = balance + ? WHERE id = ?", []any{delta, teller}},
		{"UPDATE branches SET balance = balance + ? WHERE id = ?", []any{delta, branch}},
		{"INSERT INTO history (id, teller_id, branch_id, account_id, delta, mtime) VALUES (?, ?, ?, ?, ?, " + now + ")", []any{hid, teller, branch, account, delta}},
	} {
		if _, err := tx.ExecContext(bg, rebind(w.Engine, s.q), s.args...); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return &commitError{err}
	}
	return nil
}

// committed reports whether the transaction with history id made it,
// asking again until the source answers.
func (w *HotRow) committed(id int64) (bool, error) {
	var err error
	for i := 0; i < 100; i++ {
		var n int
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = w.DB.QueryRowContext(ctx, rebind(w.Engine, "SELECT count(*) FROM history WHERE id = ?"), id).Scan(&n)
		cancel()
		if err == nil {
			return n == 1, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false, err
}

// rebind turns ? placeholders into $n for PostgreSQL.
func rebind(engine, q string) string {
	if engine != "postgres" {
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
