package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
)

// An ALTER TABLE … ALTER COLUMN … TYPE … USING expr rewrites every row of
// a table with values the log never carries: logical decoding skips the
// rewrite, and pgoutput then describes the table again with the same
// columns (into the same type) or with a type the followers can hold.
// Nothing in the stream tells it from a plain type change. So the source
// database keeps its own record: an event trigger on table_rewrite
// (superuser only) notes each rewrite in walship.rewrites, in the
// rewriting transaction, with the WAL position at that point and the
// statement. When the session builds a table's shape, the newest noted
// rewrite by an expression (reason: a column's values rewritten, and a
// USING clause in the statement, or a statement that does not show the
// ALTER itself: a DO block, a function) that happened before the
// transaction being decoded becomes the shape's ordering.Rewrite. A sink
// whose follower recorded another one stops (sqlsink.RewriteError).
//
// The record lives in the source database, so it holds across restarts:
// a daemon restarted between the ALTER and the table's next row finds it
// when pgoutput describes the table again. Only rewrites before the
// decoded transaction's commit count; for a transaction streamed while in
// progress (whose commit position is not known yet) every noted rewrite
// counts, which can stop a sink earlier than needed, never later. A
// snapshot reads the record through its own snapshot.
//
// Without the privilege to create the trigger, the source logs a warning
// naming the statements a superuser runs, and walship check says so.

// rewriteTrigger is the event trigger's name; rewritesTable its record.
const (
	rewriteTrigger = "walship_rewrites"
	rewritesTable  = "walship.rewrites"
)

// rewriteDDL installs the record and the trigger (idempotent but for the
// trigger, which is created only when absent). The function runs as its
// owner, so a user whose ALTER fires it needs no privilege on the table.
var rewriteDDL = []string{
	`CREATE SCHEMA IF NOT EXISTS walship`,
	`CREATE TABLE IF NOT EXISTS walship.rewrites (
		lsn pg_lsn NOT NULL, relid oid NOT NULL, reason int NOT NULL, statement text NOT NULL,
		at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (lsn, relid))`,
	`CREATE OR REPLACE FUNCTION walship.note_rewrite() RETURNS event_trigger
		LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
		BEGIN
			INSERT INTO walship.rewrites (lsn, relid, reason, statement)
			VALUES (pg_current_wal_insert_lsn(), pg_event_trigger_table_rewrite_oid(),
				pg_event_trigger_table_rewrite_reason(), left(current_query(), 4000))
			ON CONFLICT DO NOTHING;
		END $$`,
	`GRANT USAGE ON SCHEMA walship TO PUBLIC`,
	`GRANT SELECT ON walship.rewrites TO PUBLIC`,
}

// RewriteTriggerSQL is what a superuser runs on a source database for
// walship to detect ALTER … USING (walship check prints it).
func RewriteTriggerSQL() string {
	return strings.Join(append(append([]string{}, rewriteDDL...),
		"CREATE EVENT TRIGGER "+rewriteTrigger+" ON table_rewrite EXECUTE FUNCTION walship.note_rewrite()"), ";\n") + ";"
}

// ensureRewriteTrigger installs the trigger when it is missing and reports
// whether rewrites are recorded. A role that may not create it gets a
// warning, once per start, and no detection.
func (s *Source) ensureRewriteTrigger(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var installed, readable bool
	err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = $1 AND evtenabled <> 'D'),
		COALESCE(has_table_privilege(to_regclass($2), 'SELECT'), false)`, rewriteTrigger, rewritesTable).Scan(&installed, &readable)
	if err != nil {
		return false, fmt.Errorf("source %s: look up the rewrite trigger: %w", s.cfg.Name, err)
	}
	if installed && readable {
		return true, nil
	}
	var super bool
	if err := conn.QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil {
		return false, fmt.Errorf("source %s: read the role: %w", s.cfg.Name, err)
	}
	if !super {
		s.log.Warn("ALTER TABLE … TYPE … USING rewrites the rows of a table without logging them, and walship cannot detect it on this source: "+
			"its role may not create the event trigger that records rewrites; a superuser runs the statements walship check prints",
			"source", s.cfg.Name, "trigger", rewriteTrigger, "installed", installed)
		return false, nil
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("source %s: install the rewrite trigger: %w", s.cfg.Name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	stmts := rewriteDDL
	if !installed {
		stmts = append(append([]string{}, stmts...), "CREATE EVENT TRIGGER "+rewriteTrigger+" ON table_rewrite EXECUTE FUNCTION walship.note_rewrite()")
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "42710" { // duplicate_object: another source installed it meanwhile
				return true, nil
			}
			return false, fmt.Errorf("source %s: install the rewrite trigger: %w", s.cfg.Name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("source %s: install the rewrite trigger: %w", s.cfg.Name, err)
	}
	s.log.Info("installed the event trigger that records table rewrites", "source", s.cfg.Name, "trigger", rewriteTrigger)
	return true, nil
}

// rewrites reads walship.rewrites; a nil *rewrites reads nothing (the
// trigger is not installed).
type rewrites struct{}

// last returns the newest rewrite by an expression of table relid (or of
// one of its partitions) before position before (0: any), or nil.
func (*rewrites) last(ctx context.Context, conn *pgx.Conn, relid uint32, before offsets.LSN) (*ordering.Rewrite, error) {
	rows, err := conn.Query(ctx, `SELECT lsn, statement FROM walship.rewrites
		WHERE (relid = $1 OR relid IN (SELECT relid FROM pg_partition_tree($1::oid::regclass))) AND reason & 4 <> 0
		  AND ($2::pg_lsn = '0/0' OR lsn < $2::pg_lsn)
		ORDER BY lsn DESC`, relid, pglogrepl.LSN(before).String())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rewritesTable, err)
	}
	defer rows.Close()
	for rows.Next() {
		var at pglogrepl.LSN
		var stmt string
		if err := rows.Scan(&at, &stmt); err != nil {
			return nil, fmt.Errorf("read %s: %w", rewritesTable, err)
		}
		if byExpression(stmt) {
			return &ordering.Rewrite{At: at.String(), Statement: stmt}, nil
		}
	}
	return nil, rows.Err()
}

// byExpression reports whether a statement that rewrote a table's rows
// may have given them new values: it has a USING clause, or it does not
// show an ALTER at its top level (dynamic SQL in a DO block or a function,
// where the ALTER itself cannot be read). It reads only top-level tokens:
// text in string literals, quoted identifiers and comments is skipped.
func byExpression(stmt string) bool {
	sawAlter, first := false, true
	for _, tok := range sqlTokens(stmt) {
		switch {
		case tok == ";":
			first = true
			continue
		case tok == "":
			return true // an unterminated literal or comment: cannot tell
		case strings.EqualFold(tok, "using"):
			return true
		case first && strings.EqualFold(tok, "alter"):
			sawAlter = true
		}
		first = false
	}
	return !sawAlter
}

// sqlTokens splits PostgreSQL SQL into its words and the ";" between
// statements, dropping literals, quoted identifiers, comments and other
// punctuation; an unterminated literal or comment ends the list with "".
func sqlTokens(s string) []string {
	var out []string
	word := func(c byte) bool {
		return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ';':
			out = append(out, ";")
			i++
		case c == '-' && strings.HasPrefix(s[i:], "--"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return out
			}
			i += j + 1
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			depth, j := 1, i+2
			for depth > 0 && j < len(s) {
				switch {
				case strings.HasPrefix(s[j:], "/*"):
					depth, j = depth+1, j+2
				case strings.HasPrefix(s[j:], "*/"):
					depth, j = depth-1, j+2
				default:
					j++
				}
			}
			if depth > 0 {
				return append(out, "")
			}
			i = j
		case c == '\'' || c == '"':
			// E'…' (backslash escapes) when the word before it was E.
			esc := c == '\'' && len(out) > 0 && i > 0 && (s[i-1] == 'e' || s[i-1] == 'E') && strings.EqualFold(out[len(out)-1], "e")
			if esc {
				out = out[:len(out)-1]
			}
			j := i + 1
			for ; j < len(s); j++ {
				if esc && s[j] == '\\' {
					j++
					continue
				}
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						j++
						continue
					}
					break
				}
			}
			if j >= len(s) {
				return append(out, "")
			}
			i = j + 1
		case c == '$' && (i == 0 || !word(s[i-1])):
			// A dollar-quoted literal: $tag$ … $tag$ (tag may be empty).
			j := i + 1
			for j < len(s) && word(s[j]) && s[j] != '$' {
				j++
			}
			if j >= len(s) || s[j] != '$' || (j > i+1 && s[i+1] >= '0' && s[i+1] <= '9') {
				i = j // a parameter ($1) or a lone $
				continue
			}
			tag := s[i : j+1]
			end := strings.Index(s[j+1:], tag)
			if end < 0 {
				return append(out, "")
			}
			i = j + 1 + end + len(tag)
		case word(c):
			j := i
			for j < len(s) && word(s[j]) {
				j++
			}
			out = append(out, s[i:j])
			i = j
		default:
			i++
		}
	}
	return out
}
