package sqlsink

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks"
)

// Conflicts (multi-leader, config conflicts:). A follower that takes
// writes of its own can hold a row other than the one a change expects.
// A table whose policy is not PolicyError, or that has counters, has each
// change checked against the follower's row, in log order (resolve: the
// change's own statement guarded by its before image, and the row read
// only when that changed nothing):
//
//	insert_exists   an insert whose key is there
//	update_missing  an update whose row is not
//	update_differs  an update whose row is not its full before image
//	delete_missing  a delete whose row is not there
//	delete_differs  a delete whose row is not its full before image
//
// The _differs kinds need full before images (PostgreSQL REPLICA IDENTITY
// FULL); with a key-only before image only the key is compared. Counter
// columns are left out of the comparison, and an update's change to them
// is applied as a delta (c = c + (new - old)) whoever wins, so increments
// on two leaders both count. Conflicts are counted, logged (table, kind,
// resolution, position: never values) and, under PolicyRecord, written
// with both rows to the follower's conflicts table (MetaConflicts), in the
// transaction that met them.

// The conflict policies.
const (
	PolicyError      = "error"       // stop: today's behaviour
	PolicyKeepLocal  = "keep_local"  // the follower's row stays
	PolicyKeepRemote = "keep_remote" // the change is applied over it
	PolicyRecord     = "record"      // keep_local, and the conflict is written to MetaConflicts
)

// ErrConflict is wrapped by the error of a change that met a conflict
// under PolicyError.
var ErrConflict = errors.New("conflict")

// ErrConflictRace is wrapped when a row the probe did not find was
// inserted by the follower's own writer before the change's insert: the
// sink runs the transaction again (Applier.Retryable), and the probe then
// finds the row.
var ErrConflictRace = errors.New("the follower inserted the row meanwhile")

// raced marks a unique violation of an insert the probe cleared as
// ErrConflictRace.
func raced(err error) error {
	var ce *ChangeError
	if errors.As(err, &ce) && slices.Contains([]string{"23505", "1062", "2067", "1555"}, ce.Code) {
		return fmt.Errorf("%w: %w", ErrConflictRace, err)
	}
	return err
}

// Conflicts is a sink's conflict configuration.
type Conflicts struct {
	// Policy is the default policy ("" is PolicyError).
	Policy string
	// Tables overrides it per source table ("schema.table").
	Tables map[string]string
	// Counters are the integer columns of each source table merged by
	// delta.
	Counters map[string][]string
}

func (c Conflicts) policy(table string) string {
	if p := c.Tables[table]; p != "" {
		return p
	}
	if c.Policy == "" {
		return PolicyError
	}
	return c.Policy
}

// active reports whether some table's changes are checked.
func (c Conflicts) active() bool {
	if c.Policy != "" && c.Policy != PolicyError || len(c.Counters) > 0 {
		return true
	}
	for _, p := range c.Tables {
		if p != PolicyError {
			return true
		}
	}
	return false
}

// record reports whether some table records its conflicts.
func (c Conflicts) record() bool {
	if c.Policy == PolicyRecord {
		return true
	}
	for _, p := range c.Tables {
		if p == PolicyRecord {
			return true
		}
	}
	return false
}

// ConflictKey names a count of conflicts.
type ConflictKey struct {
	Table, Kind, Resolution string
}

// conflictCounts are the conflicts of committed transactions.
type conflictCounts struct {
	mu sync.Mutex
	n  map[ConflictKey]int64
}

// Conflicts implements sinks.ConflictCounter: the conflicts met by
// committed follower transactions since start.
func (a *Applier) Conflicts() []sinks.ConflictCount {
	a.conflicts.mu.Lock()
	defer a.conflicts.mu.Unlock()
	out := make([]sinks.ConflictCount, 0, len(a.conflicts.n))
	for k, n := range a.conflicts.n {
		out = append(out, sinks.ConflictCount{Table: k.Table, Kind: k.Kind, Resolution: k.Resolution, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Resolution < b.Resolution
	})
	return out
}

// metConflict is a conflict of a transaction not yet committed.
type metConflict struct {
	key    ConflictKey
	source string
	txn    sinks.Applied
}

// MetaConflicts is where a follower of engine keeps the conflicts its
// sinks recorded (PolicyRecord): sink, tbl (follower table), kind,
// resolution, source, position and commit_time (of the source
// transaction), local_row and remote_row (JSON; local_row null when the
// follower had no row), recorded_at.
func MetaConflicts(engine string) Name {
	if engine == "postgres" {
		return Name{Schema: MetaSchema, Table: "conflicts"}
	}
	return Name{Table: MetaPrefix + "conflicts"}
}

// conflictsDDL creates the conflicts table.
func (a *Applier) conflictsDDL() string {
	id := "id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
	switch a.d.Engine() {
	case "mysql":
		id = "id bigint AUTO_INCREMENT PRIMARY KEY"
	case "sqlite":
		id = "id INTEGER PRIMARY KEY AUTOINCREMENT"
	}
	return "CREATE TABLE IF NOT EXISTS " + a.d.QuoteName(MetaConflicts(a.d.Engine())) + " (" + id + ", sink varchar(191) NOT NULL, " +
		"tbl varchar(400) NOT NULL, kind varchar(40) NOT NULL, resolution varchar(40) NOT NULL, source varchar(191) NOT NULL, " +
		"position varchar(400) NOT NULL, commit_time varchar(40) NOT NULL, local_row text, remote_row text, recorded_at varchar(40) NOT NULL)"
}

// resolution is the policy and the counter columns (indexes in the source
// shape) of sh's table; ok is false when its changes take the plain path.
func (a *Applier) resolution(sh *shape) (policy string, counters []int, ok bool) {
	name := sh.src.QualifiedName()
	policy = a.cfg.Conflicts.policy(name)
	for _, c := range a.cfg.Conflicts.Counters[name] {
		if i := sh.src.ColumnIndex(c); i >= 0 {
			counters = append(counters, i)
		}
	}
	return policy, counters, policy != PolicyError || len(counters) > 0
}

// Txn implements sinks.TxnMarker: the changes that follow are source
// transaction ap's.
func (t *Tx) Txn(ap sinks.Applied) { t.cur = ap }

// resolve applies ch to a table with a conflict policy or counters. The
// common case, no conflict, costs one statement: an insert that does
// nothing on an existing key (PostgreSQL, SQLite; MySQL reads the key
// first), an update or delete guarded by the full before image. Only when
// it changes no row is the row read (probe) to tell the kind.
func (t *Tx) resolve(ctx context.Context, source string, sh *shape, ch *ordering.Change, policy string, counters []int) error {
	record := policy == PolicyRecord
	switch ch.Op {
	case ordering.OpInsert:
		if len(sh.key) == 0 {
			return t.writeRows(ctx, sh, ordering.OpInsert, [][]ordering.Value{ch.After})
		}
		if t.a.d.Engine() != "mysql" {
			inserted, err := t.insertIfAbsent(ctx, sh, ch.After)
			if err != nil || inserted {
				return err
			}
		}
		// MySQL: read the key first (ON DUPLICATE KEY cannot tell an
		// insert from a row found under CLIENT_FOUND_ROWS); elsewhere the
		// insert did nothing, and the row tells the conflict.
		p, err := t.probe(ctx, sh, ch, ch.After, nil, nil, record)
		if err != nil {
			return err
		}
		if !p.found {
			if t.a.d.Engine() != "mysql" {
				// Deleted since the insert did nothing: the follower's own
				// writer raced it; the transaction runs again.
				return &ChangeError{Table: sh.name.String(), Op: ch.Op, Err: ErrConflictRace}
			}
			return raced(t.writeRows(ctx, sh, ordering.OpInsert, [][]ordering.Value{ch.After}))
		}
		return t.conflict(ctx, source, sh, ch, "insert_exists", policy, p.local, func() error {
			return t.writeRows(ctx, sh, ordering.OpRead, [][]ordering.Value{ch.After})
		}, nil)
	case ordering.OpUpdate:
		keyImg := ch.Before
		if keyImg == nil || len(sh.key) > 0 && keyImg[sh.key[0]].IsUnchanged() {
			keyImg = ch.After
		}
		deltas, err := counterDeltas(sh, ch, counters)
		if err != nil {
			return err
		}
		rest := ch
		if len(counters) > 0 {
			c := *ch
			c.After = slices.Clone(ch.After)
			for _, i := range counters {
				c.After[i] = ordering.Unchanged()
			}
			rest = &c
		}
		n, err := t.guarded(ctx, sh, rest, keyImg, ch.Before, counters, deltas)
		if err != nil {
			return err
		}
		if n > 0 {
			return t.cascade(ctx, sh, ch)
		}
		p, err := t.probe(ctx, sh, ch, keyImg, ch.Before, counters, record)
		if err != nil {
			return err
		}
		if !p.found {
			return t.conflict(ctx, source, sh, ch, "update_missing", policy, p.local, func() error {
				if !complete(ch.After) {
					return &ChangeError{Table: sh.name.String(), Op: ch.Op, Err: fmt.Errorf("%w: update_missing under keep_remote, and the change does not carry the whole row to insert", ErrConflict)}
				}
				return t.writeRows(ctx, sh, ordering.OpInsert, [][]ordering.Value{ch.After})
			}, nil)
		}
		addDeltas := func() error { return t.addDeltas(ctx, sh, keyImg, deltas) }
		return t.conflict(ctx, source, sh, ch, "update_differs", policy, p.local, func() error {
			if err := t.update(ctx, sh, rest); err != nil {
				return err
			}
			return addDeltas()
		}, addDeltas)
	case ordering.OpDelete:
		n, err := t.guarded(ctx, sh, ch, ch.Before, ch.Before, counters, nil)
		if err != nil {
			return err
		}
		if n > 0 {
			return t.cascade(ctx, sh, ch)
		}
		p, err := t.probe(ctx, sh, ch, ch.Before, ch.Before, counters, record)
		if err != nil {
			return err
		}
		if !p.found {
			return t.conflict(ctx, source, sh, ch, "delete_missing", policy, p.local, func() error { return nil }, nil)
		}
		return t.conflict(ctx, source, sh, ch, "delete_differs", policy, p.local, func() error { return t.delete(ctx, sh, ch) }, nil)
	}
	return fmt.Errorf("apply to %s: unknown op %q", sh.name, ch.Op)
}

// insertIfAbsent inserts row unless its key is there (ON CONFLICT DO
// NOTHING), and reports whether it did.
func (t *Tx) insertIfAbsent(ctx context.Context, sh *shape, row []ordering.Value) (bool, error) {
	d := t.a.d
	cols := make([]string, len(sh.src.Columns))
	for i, c := range sh.src.Columns {
		cols[i] = c.Name
	}
	keys := make([]string, len(sh.src.PrimaryKey))
	for i, k := range sh.src.PrimaryKey {
		keys[i] = d.QuoteIdent(k)
	}
	args := make([]any, 0, len(row))
	for i, v := range row {
		p, err := t.param(sh, i, v, ordering.OpInsert)
		if err != nil {
			return false, err
		}
		args = append(args, p)
	}
	q := t.insert(sh.name, cols, 1) + " ON CONFLICT (" + strings.Join(keys, ", ") + ") DO NOTHING"
	t.a.stats.statements.Add(1)
	res, err := t.run(ctx, q, args)
	if err != nil {
		return false, t.fail(sh, ordering.OpInsert, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, t.fail(sh, ordering.OpInsert, err)
	}
	return n > 0, nil
}

// guarded runs ch (an update without its counter columns, or a delete)
// on the row of keyImg only while it is match (every column but the
// counters, when match holds them all), adding deltas to the counters in
// the same statement, and returns the rows it changed (0: no such row, or
// not as match says).
func (t *Tx) guarded(ctx context.Context, sh *shape, ch *ordering.Change, keyImg, match []ordering.Value, counters []int, deltas map[int]int64) (int64, error) {
	d := t.a.d
	var sets []string
	var args []any
	if ch.Op == ordering.OpUpdate {
		var err error
		if sets, args, _, err = t.setList(sh, ch); err != nil {
			return 0, err
		}
		cols := make([]int, 0, len(deltas))
		for i := range deltas {
			cols = append(cols, i)
		}
		slices.Sort(cols)
		for _, i := range cols {
			q := d.QuoteIdent(sh.src.Columns[i].Name)
			sets = append(sets, q+" = "+q+" + "+d.Placeholder(len(args)))
			args = append(args, deltas[i])
		}
		if len(sets) == 0 {
			if len(sh.key) == 0 {
				return 1, nil // nothing the source sent changed
			}
			// Nothing but the key: the row must still be there.
			k := sh.key[0]
			p, err := t.param(sh, k, keyImg[k], ch.Op)
			if err != nil {
				return 0, err
			}
			sets, args = []string{d.QuoteIdent(sh.src.Columns[k].Name) + " = " + d.Placeholder(0)}, []any{p}
		}
	}
	cond, wargs, err := t.where(sh, &ordering.Change{Table: ch.Table, Op: ch.Op, Before: keyImg}, len(args))
	if err != nil {
		return 0, err
	}
	args = append(args, wargs...)
	if match != nil && complete(match) && len(sh.key) > 0 {
		for i, v := range match {
			if slices.Contains(counters, i) || slices.Contains(sh.key, i) {
				continue
			}
			p, err := t.param(sh, i, v, ch.Op)
			if err != nil {
				return 0, err
			}
			cond += " AND " + d.NullSafeEqual(d.QuoteIdent(sh.src.Columns[i].Name), d.Placeholder(len(args)))
			args = append(args, p)
		}
	}
	var q string
	if ch.Op == ordering.OpUpdate {
		q = "UPDATE " + d.QuoteName(sh.name) + " SET " + strings.Join(sets, ", ") + " WHERE " + cond
	} else {
		q = "DELETE FROM " + d.QuoteName(sh.name) + " WHERE " + cond
	}
	if len(sh.key) == 0 && d.Engine() == "mysql" {
		q += " LIMIT 1"
	}
	t.a.stats.statements.Add(1)
	res, err := t.run(ctx, q, args)
	if err != nil {
		return 0, t.fail(sh, ch.Op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, t.fail(sh, ch.Op, err)
	}
	return n, nil
}

// probed is what the follower holds of a change's row.
type probed struct {
	found, matches bool
	local          *string // the row as JSON (PolicyRecord)
}

// probe reads, and locks, the follower's row of keyImg's key: whether it
// is there, whether it matches match (every column but the counters; a
// match image that is nil or left values out matches any row), and with
// withRow the row as JSON.
func (t *Tx) probe(ctx context.Context, sh *shape, ch *ordering.Change, keyImg, match []ordering.Value, counters []int, withRow bool) (probed, error) {
	d := t.a.d
	var p probed
	if keyImg == nil {
		return p, &ChangeError{Table: sh.name.String(), Op: ch.Op, Err: fmt.Errorf("no image holds the primary key")}
	}
	sel := "1"
	var args []any
	if match != nil && complete(match) {
		var conds []string
		for i, v := range match {
			if slices.Contains(counters, i) {
				continue
			}
			arg, err := t.param(sh, i, v, ch.Op)
			if err != nil {
				return p, err
			}
			conds = append(conds, d.NullSafeEqual(d.QuoteIdent(sh.src.Columns[i].Name), d.Placeholder(len(args))))
			args = append(args, arg)
		}
		if len(conds) > 0 {
			sel = "CASE WHEN " + strings.Join(conds, " AND ") + " THEN 1 ELSE 0 END"
		}
	}
	if withRow {
		sel += ", " + t.rowJSON(sh)
	}
	cond, wargs, err := t.where(sh, &ordering.Change{Table: ch.Table, Op: ch.Op, Before: keyImg}, len(args))
	if err != nil {
		return p, err
	}
	q := "SELECT " + sel + " FROM " + d.QuoteName(sh.name) + " x WHERE " + cond
	if d.Engine() != "sqlite" {
		q += " FOR UPDATE"
	}
	t.a.stats.statements.Add(1)
	var m int
	var row sql.NullString
	dest := []any{&m}
	if withRow {
		dest = append(dest, &row)
	}
	err = t.tx.QueryRowContext(ctx, q, append(args, wargs...)...).Scan(dest...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return p, nil
	case err != nil:
		return p, t.fail(sh, ch.Op, err)
	}
	p.found, p.matches = true, m == 1
	if row.Valid {
		p.local = &row.String
	}
	return p, nil
}

// rowJSON is the expression of the follower row x as a JSON object of the
// source's columns.
func (t *Tx) rowJSON(sh *shape) string {
	d := t.a.d
	if d.Engine() == "postgres" {
		return "row_to_json(x)::text"
	}
	var b strings.Builder
	if d.Engine() == "mysql" {
		b.WriteString("JSON_OBJECT(")
	} else {
		b.WriteString("json_object(")
	}
	for i, c := range sh.src.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("'" + strings.ReplaceAll(c.Name, "'", "''") + "', " + d.QuoteIdent(c.Name))
	}
	b.WriteString(")")
	return b.String()
}

// counterDeltas are new minus old of ch's counter columns (nil: none
// changed).
func counterDeltas(sh *shape, ch *ordering.Change, counters []int) (map[int]int64, error) {
	var out map[int]int64
	for _, i := range counters {
		if ch.After == nil || i >= len(ch.After) || ch.After[i].IsUnchanged() {
			continue
		}
		name := sh.src.Columns[i].Name
		if ch.Before == nil || i >= len(ch.Before) || ch.Before[i].IsUnchanged() {
			return nil, &ChangeError{Table: sh.name.String(), Op: ch.Op, Err: fmt.Errorf("counter column %s: the change does not carry its old value, so its delta is unknown (the source must send full before images: PostgreSQL REPLICA IDENTITY FULL)", name)}
		}
		before, after := ch.Before[i], ch.After[i]
		if before.IsNull() || after.IsNull() {
			return nil, &ChangeError{Table: sh.name.String(), Op: ch.Op, Err: fmt.Errorf("counter column %s: NULL has no delta", name)}
		}
		var delta int64
		switch after.Kind() {
		case ordering.KindInt:
			delta = after.Int() - before.Int()
		case ordering.KindUint:
			delta = int64(after.Uint() - before.Uint())
		default:
			return nil, &ChangeError{Table: sh.name.String(), Op: ch.Op, Err: fmt.Errorf("counter column %s is %s: counters merge integer columns", name, after.Kind())}
		}
		if delta != 0 {
			if out == nil {
				out = map[int]int64{}
			}
			out[i] = delta
		}
	}
	return out, nil
}

// addDeltas adds deltas to the counter columns of the row of keyImg.
func (t *Tx) addDeltas(ctx context.Context, sh *shape, keyImg []ordering.Value, deltas map[int]int64) error {
	if len(deltas) == 0 {
		return nil
	}
	d := t.a.d
	cols := make([]int, 0, len(deltas))
	for i := range deltas {
		cols = append(cols, i)
	}
	slices.Sort(cols)
	var sets []string
	var args []any
	for _, i := range cols {
		q := d.QuoteIdent(sh.src.Columns[i].Name)
		sets = append(sets, q+" = "+q+" + "+d.Placeholder(len(args)))
		args = append(args, deltas[i])
	}
	cond, wargs, err := t.where(sh, &ordering.Change{Op: ordering.OpUpdate, Before: keyImg}, len(args))
	if err != nil {
		return err
	}
	return t.exec(ctx, sh, ordering.OpUpdate, "UPDATE "+d.QuoteName(sh.name)+" SET "+strings.Join(sets, ", ")+" WHERE "+cond, append(args, wargs...))
}

// conflict settles a conflict of kind by policy: remote applies the
// change over the follower's row (keep_remote), always runs whoever wins
// (counter deltas). It is counted and logged when the transaction
// commits, and recorded under PolicyRecord.
func (t *Tx) conflict(ctx context.Context, source string, sh *shape, ch *ordering.Change, kind, policy string, local *string, remote, always func() error) error {
	resolution := "kept_local"
	switch policy {
	case PolicyError:
		return &ChangeError{Table: sh.name.String(), Op: ch.Op, Err: fmt.Errorf("%w: %s (conflicts: error stops the sink; keep_local, keep_remote or record settle it)", ErrConflict, kind)}
	case PolicyKeepRemote:
		resolution = "applied_remote"
		if err := remote(); err != nil {
			return err
		}
	case PolicyRecord:
		resolution = "recorded"
		if err := t.recordConflict(ctx, source, sh, ch, kind, local); err != nil {
			return err
		}
	}
	if always != nil {
		if err := always(); err != nil {
			return err
		}
	}
	t.met = append(t.met, metConflict{key: ConflictKey{Table: sh.name.String(), Kind: kind, Resolution: resolution}, source: source, txn: t.cur})
	return nil
}

// recordConflict writes the conflict, with both rows, to MetaConflicts.
func (t *Tx) recordConflict(ctx context.Context, source string, sh *shape, ch *ordering.Change, kind string, local *string) error {
	d := t.a.d
	remote := ch.After
	if remote == nil {
		remote = ch.Before
	}
	rj, err := valuesJSON(sh.src, remote, ch.Op == ordering.OpDelete)
	if err != nil {
		return err
	}
	var lj any
	if local != nil {
		lj = *local
	}
	cols := []string{"sink", "tbl", "kind", "resolution", "source", "position", "commit_time", "local_row", "remote_row", "recorded_at"}
	ph := make([]string, len(cols))
	for i := range cols {
		ph[i] = d.Placeholder(i)
	}
	ct := ""
	if !t.cur.CommitTime.IsZero() {
		ct = t.cur.CommitTime.UTC().Format(time.RFC3339Nano)
	}
	q := "INSERT INTO " + d.QuoteName(MetaConflicts(d.Engine())) + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(ph, ", ") + ")"
	t.a.stats.statements.Add(1)
	if _, err := t.tx.ExecContext(ctx, q, t.a.cfg.Sink, sh.name.String(), kind, "recorded", source, t.cur.Pos.String(), ct, lj, rj,
		time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("record a conflict of %s in %s: %w", sh.name, MetaConflicts(d.Engine()), err)
	}
	return nil
}

// valuesJSON is row as a JSON object of t's columns, values as text
// (null: NULL); a delete's remote row is its before image, marked.
func valuesJSON(t *ordering.Table, row []ordering.Value, deleted bool) (string, error) {
	m := make(map[string]any, len(row)+1)
	for i, v := range row {
		if i >= len(t.Columns) || v.IsUnchanged() {
			continue
		}
		if v.IsNull() {
			m[t.Columns[i].Name] = nil
		} else {
			m[t.Columns[i].Name] = v.String()
		}
	}
	if deleted {
		m["_walship_deleted"] = true
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// settle counts and logs the conflicts of a committed transaction.
func (t *Tx) settle() {
	if len(t.met) == 0 {
		return
	}
	a := t.a
	a.conflicts.mu.Lock()
	if a.conflicts.n == nil {
		a.conflicts.n = map[ConflictKey]int64{}
	}
	type group struct {
		n     int
		first metConflict
	}
	groups := map[ConflictKey]*group{}
	var order []ConflictKey
	for _, m := range t.met {
		a.conflicts.n[m.key]++
		g := groups[m.key]
		if g == nil {
			g = &group{first: m}
			groups[m.key] = g
			order = append(order, m.key)
		}
		g.n++
	}
	a.conflicts.mu.Unlock()
	for _, k := range order {
		g := groups[k]
		a.log.Info("conflicts settled", "table", k.Table, "kind", k.Kind, "resolution", k.Resolution, "count", g.n,
			"source", g.first.source, "first_position", g.first.txn.Pos.String())
	}
	t.met = nil
}
