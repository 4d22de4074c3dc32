package preflight

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/walship/walship/config"
	"github.com/walship/walship/ordering"
)

// The conflicts: of a sink (issue 20), checked against the sources it
// applies: a counter column must exist and be an integer, and its table
// must have full before images (an update's delta is new minus old);
// the policy's update_differs and delete_differs are found only on tables
// with full before images, which the facts list.

// conflictsTargets are the targets checking sink k's conflicts: one per
// source of this file it applies, none without conflicts:.
func conflictsTargets(cfg *config.Config, k int) []target {
	sk := cfg.Sinks[k]
	c := sk.Conflicts
	if c == nil || (c.Policy == "" || c.Policy == "error") && len(c.Counters) == 0 && len(c.Tables) == 0 {
		return nil
	}
	var out []target
	for i, s := range cfg.Sources {
		if !slices.Contains(sk.From, s.Name) {
			continue
		}
		t := shapesTarget(cfg, i, "conflicts: of sink "+sk.Name, func(r *Result, shape shapeFunc) {
			checkConflicts(r, cfg, k, c, shape)
		})
		if t != nil {
			out = append(out, *t)
		}
	}
	return out
}

func checkConflicts(r *Result, cfg *config.Config, k int, c *config.Conflicts, shape shapeFunc) {
	key := fmt.Sprintf("sinks[%d].conflicts", k)
	names := make([]string, 0, len(c.Counters)+len(c.Tables))
	for t := range c.Counters {
		names = append(names, t)
	}
	for t := range c.Tables {
		if _, dup := c.Counters[t]; !dup {
			names = append(names, t)
		}
	}
	slices.Sort(names)
	var partial []string
	for _, name := range names {
		schema, table, _ := strings.Cut(name, ".")
		t, full, err := shape(schema, table)
		at := key + ".tables." + name
		if _, ok := c.Counters[name]; ok {
			at = key + ".counters." + name
		}
		if errors.Is(err, errNoTable) {
			r.problem(Config, "%s: %s: no such table on the source", cfg.At(at), name)
			continue
		}
		if err != nil {
			r.problem(Other, "%s: read the columns of %s: %v", cfg.At(at), name, err)
			continue
		}
		if cols, ok := c.Counters[name]; ok {
			for _, col := range cols {
				i := t.ColumnIndex(col)
				switch {
				case i < 0:
					r.problem(Config, "%s: %s has no column %s", cfg.At(at), name, col)
				case slices.Contains(t.PrimaryKey, col):
					r.problem(Config, "%s: %s is part of the primary key of %s: a counter cannot be", cfg.At(at), col, name)
				case t.Columns[i].Kind != ordering.KindInt:
					r.problem(Config, "%s: %s.%s is %s: counters merge integer columns", cfg.At(at), name, col, t.Columns[i].Type)
				}
			}
			if !full {
				r.problem(Setting, "%s: the counters of %s need the old values of updates, which the source sends only with full before images: %s",
					cfg.At(at), name, fullImageHow(name))
				continue
			}
		}
		if !full {
			partial = append(partial, name)
		}
	}
	if len(partial) > 0 {
		r.fact("conflicts: %s without full before images: update_differs and delete_differs are not found there (only missing and existing rows)", strings.Join(partial, ", "))
	} else if len(names) > 0 {
		r.fact("conflicts: %d table(s) named have full before images", len(names))
	}
}

// fullImageHow says how a table gets full before images.
func fullImageHow(name string) string {
	return "ALTER TABLE " + name + " REPLICA IDENTITY FULL (PostgreSQL), binlog_row_image = FULL (MySQL, MariaDB)"
}
