package mysql

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/walship/walship/ordering"
)

var (
	truncateRE = regexp.MustCompile("(?is)^\\s*truncate\\s+(?:table\\s+)?((?:`[^`]+`|[^\\s.`;]+)(?:\\s*\\.\\s*(?:`[^`]+`|[^\\s.`;]+))?)")
	ddlRE      = regexp.MustCompile(`(?is)^\s*(create|alter|drop|rename)\s`)
)

// ddl handles a statement-based event: TRUNCATE of a captured table
// becomes a truncate change in its own transaction; other DDL makes the
// key cache forget, since later TABLE_MAP events bring the new shapes.
// Everything else (including DDL on uncaptured tables) publishes nothing
// but moves the position.
func (r *session) ddl(ctx context.Context, schema, q string, h *replication.EventHeader, gset gomysql.GTIDSet) error {
	if m := truncateRE.FindStringSubmatch(q); m != nil {
		db, table := splitName(m[1], schema)
		if matches(r.cfg().Tables, db, table) {
			t, err := r.shapeOf(ctx, db, table)
			if err != nil {
				return err
			}
			if r.cur == nil {
				r.begin(r.curGTID, r.curTime)
			}
			if err := r.cur.Add(0, ordering.Change{Table: t, Op: ordering.OpTruncate}); err != nil {
				return err
			}
			return r.commit(ctx, h, gset)
		}
	} else if ddlRE.MatchString(q) {
		r.keys.forget("")
		r.src.log.Info("DDL", "schema", schema, "statement", firstWords(q, 4))
	}
	// A standalone statement: nothing of the open buffer is kept.
	return r.commit(ctx, h, gset)
}

// shapeOf is the newest known shape of a table, from its last TABLE_MAP or
// else from the catalog.
func (r *session) shapeOf(ctx context.Context, schema, table string) (*ordering.Table, error) {
	if t, ok := r.byName[schema+"."+table]; ok {
		return r.keys.withKeys(ctx, t.table)
	}
	t, err := snapshotTableOf(ctx, r.db, schema, table)
	if err != nil {
		return nil, fmt.Errorf("source %s: shape of %s.%s for a truncate: %w", r.cfg().Name, schema, table, err)
	}
	t.rawText(r.cfg().raw)
	return r.keys.withKeys(ctx, t.table)
}

var nameRE = regexp.MustCompile("^(?:(`[^`]+`|[^.`\\s]+)\\s*\\.\\s*)?(`[^`]+`|[^.`\\s]+)$")

// splitName splits a possibly qualified, possibly quoted table name.
func splitName(name, defaultSchema string) (string, string) {
	m := nameRE.FindStringSubmatch(strings.TrimSpace(name))
	if m == nil {
		return defaultSchema, strings.Trim(name, "`")
	}
	schema := strings.Trim(m[1], "`")
	if schema == "" {
		schema = defaultSchema
	}
	return schema, strings.Trim(m[2], "`")
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}
