package sqlsink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/walship/walship/ordering"
)

// Deleting rows not seen (ordering.OpPrune): an incremental snapshot's
// chunk that asked for it ends with a prune of its key range. Every row
// the source held in that range at the chunk's high watermark is a
// snapshot row of the same source transaction; the follower's rows of the
// range with another key are deleted. Only keys of integers and uuids are
// pruned: their order is the same on every engine, so the range the source
// read is the range the follower selects.

// errPruneValue is wrapped when a follower key value does not read as the
// key's kind (a follower table not made by walship, of another type):
// nothing is deleted rather than compare what cannot be compared.
var errPruneValue = errors.New("the follower's key value does not read as the source's key type: no row was deleted")

// seeRead notes the key of a snapshot row of an incremental snapshot
// (a prune of its range keeps it).
func (t *Tx) seeRead(sh *shape, row []ordering.Value) {
	k, ok := pruneValueKey(sh, row)
	if !ok {
		return
	}
	if t.seen == nil {
		t.seen = map[Name]map[string]struct{}{}
	}
	m := t.seen[sh.name]
	if m == nil {
		m = map[string]struct{}{}
		t.seen[sh.name] = m
	}
	m[k] = struct{}{}
}

// pruneValueKey is the text of row's key for a prune: integers in decimal,
// uuids in lower case; ok is false for another kind.
func pruneValueKey(sh *shape, row []ordering.Value) (string, bool) {
	var b strings.Builder
	for _, k := range sh.key {
		v := row[k]
		switch v.Kind() {
		case ordering.KindInt:
			b.WriteString(strconv.FormatInt(v.Int(), 10))
		case ordering.KindUint:
			b.WriteString(strconv.FormatUint(v.Uint(), 10))
		case ordering.KindUUID:
			b.WriteString(strings.ToLower(v.Text()))
		default:
			return "", false
		}
		b.WriteByte(0)
	}
	return b.String(), true
}

// pruneDriverKey is pruneValueKey of a key read from the follower.
func pruneDriverKey(sh *shape, vals []any) (string, error) {
	var b strings.Builder
	for n, k := range sh.key {
		c := sh.src.Columns[k]
		var s string
		switch x := vals[n].(type) {
		case int64:
			s = strconv.FormatInt(x, 10)
		case int32:
			s = strconv.FormatInt(int64(x), 10)
		case uint64:
			s = strconv.FormatUint(x, 10)
		case []byte:
			s = string(x)
		case string:
			s = x
		case [16]byte:
			s = fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])
		default:
			return "", fmt.Errorf("key column %s: a %T: %w", c.Name, vals[n], errPruneValue)
		}
		switch c.Kind {
		case ordering.KindInt:
			if _, err := strconv.ParseInt(s, 10, 64); err != nil {
				return "", fmt.Errorf("key column %s: %w", c.Name, errPruneValue)
			}
		case ordering.KindUint:
			if _, err := strconv.ParseUint(s, 10, 64); err != nil {
				return "", fmt.Errorf("key column %s: %w", c.Name, errPruneValue)
			}
		case ordering.KindUUID:
			s = strings.ToLower(s)
			if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
				return "", fmt.Errorf("key column %s: %w", c.Name, errPruneValue)
			}
		default:
			return "", fmt.Errorf("key column %s is %s: %w", c.Name, c.Type, errPruneValue)
		}
		b.WriteString(s)
		b.WriteByte(0)
	}
	return b.String(), nil
}

// prune deletes the follower's rows of sh in ch's key range whose key no
// snapshot row of this transaction carried.
func (t *Tx) prune(ctx context.Context, sh *shape, ch *ordering.Change) error {
	seen := t.seen[sh.name]
	delete(t.seen, sh.name)
	if sh.absent {
		return nil
	}
	if len(sh.key) == 0 {
		return &ChangeError{Table: sh.name.String(), Op: ch.Op, Err: fmt.Errorf("a prune of a table without a primary key")}
	}
	for _, k := range sh.key {
		if c := sh.src.Columns[k]; c.Kind != ordering.KindInt && c.Kind != ordering.KindUint && c.Kind != ordering.KindUUID {
			return &ChangeError{Table: sh.name.String(), Op: ch.Op, Err: fmt.Errorf("key column %s is %s: %w", c.Name, c.Type, errPruneValue)}
		}
	}
	d := t.a.d
	var conds []string
	var args []any
	bound := func(row []ordering.Value, lower bool) error {
		// (k1 > v1) OR (k1 = v1 AND k2 > v2) ...: the key order, without
		// row values (not every engine compares them).
		var ors []string
		for n := range sh.key {
			var ands []string
			for m := 0; m <= n; m++ {
				k := sh.key[m]
				p, err := t.param(sh, k, row[k], ch.Op)
				if err != nil {
					return err
				}
				op := "="
				if m == n {
					op = "<"
					if lower {
						op = ">"
					} else if n == len(sh.key)-1 {
						op = "<="
					}
				}
				ands = append(ands, d.QuoteIdent(sh.src.Columns[k].Name)+" "+op+" "+d.Placeholder(len(args)))
				args = append(args, p)
			}
			ors = append(ors, "("+strings.Join(ands, " AND ")+")")
		}
		conds = append(conds, "("+strings.Join(ors, " OR ")+")")
		return nil
	}
	if ch.Before != nil {
		if err := bound(ch.Before, true); err != nil {
			return err
		}
	}
	if ch.After != nil {
		if err := bound(ch.After, false); err != nil {
			return err
		}
	}
	cols := make([]string, len(sh.key))
	for i, k := range sh.key {
		cols[i] = d.QuoteIdent(sh.src.Columns[k].Name)
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + d.QuoteName(sh.name)
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	rows, err := t.query(ctx, q, args, len(sh.key))
	if err != nil {
		return t.fail(sh, ch.Op, err)
	}
	var del string
	for _, r := range rows {
		k, err := pruneDriverKey(sh, r)
		if err != nil {
			return &ChangeError{Table: sh.name.String(), Op: ch.Op, Err: err}
		}
		if _, ok := seen[k]; ok {
			continue
		}
		if del == "" {
			conds := make([]string, len(cols))
			for i, c := range cols {
				conds[i] = c + " = " + d.Placeholder(i)
			}
			del = "DELETE FROM " + d.QuoteName(sh.name) + " WHERE " + strings.Join(conds, " AND ")
		}
		t.a.stats.statements.Add(1)
		if _, err := t.run(ctx, del, r); err != nil {
			return t.fail(sh, ch.Op, err)
		}
		t.a.stats.pruned.Add(1)
	}
	return nil
}
