package verify

import (
	"context"
	"crypto/md5"
	"fmt"
	"sort"
	"strings"
)

// KeylessPassRows bounds the distinct rows a keyless table's comparison
// holds at once: a table with more rows on either side is compared in
// several passes, each taking the rows whose hash falls in its bucket.
const KeylessPassRows = 1_000_000

// compareKeyless compares a table without a primary key as two multisets
// of rows: each side's rows are read whole (in no order), hashed over the
// compared columns with the chunk framing, and counted per hash; a hash
// whose counts differ is a row missing on the follower (more at the
// source) or extra on it, as many times as the counts differ. Only the
// rows' hashes and counts are held, in passes of KeylessPassRows rows
// (each pass is reported as a chunk). Differing rows are listed by their
// hash, with their values under ShowValues.
func compareKeyless(ctx context.Context, tp *tablePlan, tr *TableReport, o Options) error {
	var most int64
	for _, s := range []*side{tp.src, tp.fol} {
		var n int64
		if err := s.q.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.table).Scan(&n); err != nil {
			return fmt.Errorf("%s: count rows: %w", s.label, err)
		}
		most = max(most, n)
	}
	passes := int((most + KeylessPassRows - 1) / KeylessPassRows)
	passes = max(passes, 1)
	for pass := 0; pass < passes; pass++ {
		tr.Chunks++
		counts := map[[md5.Size]byte]int64{}
		var rows [2]int64
		for i, s := range []*side{tp.src, tp.fol} {
			n, err := tp.eachRow(ctx, s, pass, passes, func(h [md5.Size]byte, _ *row) {
				if i == 0 {
					counts[h]++
				} else {
					counts[h]--
				}
			})
			if err != nil {
				return err
			}
			rows[i] = n
		}
		tr.SourceRows += rows[0]
		tr.FollowerRows += rows[1]
		differ := map[[md5.Size]byte]int64{}
		for h, n := range counts {
			switch {
			case n > 0:
				tr.Missing += n
				differ[h] = n
			case n < 0:
				tr.Extra -= n
				differ[h] = n
			}
		}
		if len(differ) == 0 {
			continue
		}
		tr.ChunksDiffered++
		o.progress("  %s pass %d: %d row hashes differ: listing them", tp.name, pass+1, len(differ))
		if err := tp.listKeyless(ctx, pass, passes, differ, tr, o); err != nil {
			return err
		}
	}
	return nil
}

// eachRow reads every row of s whose hash falls in pass and calls fn
// with its hash; it returns how many it read.
func (tp *tablePlan) eachRow(ctx context.Context, s *side, pass, passes int, fn func([md5.Size]byte, *row)) (int64, error) {
	sel := make([]string, len(s.exprs))
	for i, e := range s.exprs {
		sel[i] = fmt.Sprintf("%s AS c%d", e, i)
	}
	cur, err := tp.openCursor(ctx, s, "SELECT "+strings.Join(sel, ", ")+" FROM "+s.table+" AS t", nil, nil)
	if err != nil {
		return 0, fmt.Errorf("%s: read rows: %w", s.label, err)
	}
	defer cur.close()
	var n int64
	var buf []byte
	for {
		r, err := cur.next()
		if err != nil {
			return 0, fmt.Errorf("%s: read rows: %w", s.label, err)
		}
		if r == nil {
			return n, nil
		}
		buf = buf[:0]
		for i, v := range r.cmp {
			buf = field(buf, v, r.valid[i])
		}
		h := md5.Sum(buf)
		if passes > 1 && int(uint32(h[0])<<8|uint32(h[1]))%passes != pass {
			continue
		}
		n++
		fn(h, r)
	}
}

// listKeyless lists up to MaxListed of the differing rows: missing rows
// from the source, extra ones from the follower, each once with its count.
func (tp *tablePlan) listKeyless(ctx context.Context, pass, passes int, differ map[[md5.Size]byte]int64, tr *TableReport, o Options) error {
	type listed struct {
		df  Diff
		key string
	}
	var out []listed
	for i, s := range []*side{tp.src, tp.fol} {
		_, err := tp.eachRow(ctx, s, pass, passes, func(h [md5.Size]byte, r *row) {
			n, ok := differ[h]
			if !ok || (i == 0) != (n > 0) {
				return
			}
			delete(differ, h)
			if len(tr.Diffs)+len(out) >= o.MaxListed {
				return
			}
			kind := "missing"
			if n < 0 {
				kind, n = "extra", -n
			}
			key := fmt.Sprintf("row %x", h[:6])
			if n > 1 {
				key += fmt.Sprintf(" (%d times)", n)
			}
			df := Diff{Kind: kind, Key: key}
			if o.ShowValues {
				for j, c := range tp.cols {
					cd := ColDiff{Column: c.Name}
					if i == 0 {
						cd.Source = r.display(j)
					} else {
						cd.Follower = r.display(j)
					}
					df.Columns = append(df.Columns, cd)
				}
			}
			out = append(out, listed{df: df, key: key})
		})
		if err != nil {
			return err
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].key < out[b].key })
	for _, l := range out {
		tr.Diffs = append(tr.Diffs, l.df)
	}
	return nil
}
