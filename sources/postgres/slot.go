package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/offsets"

	"github.com/walship/walship/supervise"
)

// ensurePublication creates the publication from the table patterns when
// it is missing; an existing publication is used as it is. A pattern
// "schema.*" publishes the whole schema (FOR TABLES IN SCHEMA), so tables
// created later are captured too; other patterns publish the tables that
// match now.
func (s *Source) ensurePublication(ctx context.Context, conn *pgx.Conn) error {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, s.cfg.Publication).Scan(&exists); err != nil {
		return fmt.Errorf("source %s: look up publication: %w", s.cfg.Name, err)
	}
	if exists {
		return nil
	}
	var parts []string
	var listed []string
	for _, p := range s.cfg.Tables {
		schema, table, _ := strings.Cut(p, ".")
		if table == "*" && !strings.Contains(schema, "*") {
			parts = append(parts, "TABLES IN SCHEMA "+pgx.Identifier{schema}.Sanitize())
			continue
		}
		listed = append(listed, p)
	}
	if len(listed) > 0 {
		tables, err := listTables(ctx, conn, listed)
		if err != nil {
			return fmt.Errorf("source %s: %w", s.cfg.Name, err)
		}
		var names []string
		for _, t := range tables {
			names = append(names, t.quoted())
		}
		if len(names) > 0 {
			parts = append([]string{"TABLE " + strings.Join(names, ", ")}, parts...)
		}
	}
	if len(parts) == 0 {
		return supervise.Permanent(fmt.Errorf("source %s: no table matches %s: create the tables or fix sources.postgres.tables",
			s.cfg.Name, strings.Join(s.cfg.Tables, ", ")))
	}
	sql := "CREATE PUBLICATION " + pgx.Identifier{s.cfg.Publication}.Sanitize() + " FOR " + strings.Join(parts, ", ")
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("source %s: create publication %s: %w", s.cfg.Name, s.cfg.Publication, err)
	}
	s.log.Info("created publication", "publication", s.cfg.Publication, "tables", strings.Join(s.cfg.Tables, ","))
	return nil
}

// slotState is a row of pg_replication_slots.
type slotState struct {
	found     bool
	plugin    string
	database  string
	active    bool
	pid       int32
	walStatus string
	confirmed offsets.LSN // confirmed_flush_lsn
}

func (s *Source) slotState(ctx context.Context, conn *pgx.Conn) (slotState, error) {
	var st slotState
	var pid *int32
	var plugin, db, wal, confirmed *string
	err := conn.QueryRow(ctx, `SELECT plugin, database, active, active_pid, wal_status, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`,
		s.cfg.Slot).Scan(&plugin, &db, &st.active, &pid, &wal, &confirmed)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("source %s: look up slot %s: %w", s.cfg.Name, s.cfg.Slot, err)
	}
	st.found = true
	if plugin != nil {
		st.plugin = *plugin
	}
	if db != nil {
		st.database = *db
	}
	if pid != nil {
		st.pid = *pid
	}
	if wal != nil {
		st.walStatus = *wal
	}
	if confirmed != nil {
		if st.confirmed, err = offsets.ParseLSN(*confirmed); err != nil {
			return st, fmt.Errorf("source %s: slot %s: %w", s.cfg.Name, s.cfg.Slot, err)
		}
	}
	return st, nil
}

// waitSlotFree waits briefly for an active slot to be released (a killed
// predecessor's walsender needs a moment to notice); then the slot is busy.
func (s *Source) waitSlotFree(ctx context.Context, conn *pgx.Conn) (slotState, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := s.slotState(ctx, conn)
		if err != nil || !st.found || !st.active {
			return st, err
		}
		if time.Now().After(deadline) {
			var app, addr string
			_ = conn.QueryRow(ctx, `SELECT coalesce(application_name, ''), coalesce(client_addr::text, 'local') FROM pg_stat_replication WHERE pid = $1`, st.pid).Scan(&app, &addr)
			return st, supervise.Permanent(fmt.Errorf("source %s: %w: slot %s is streaming to process %d (application %q from %s); stop the other consumer (another walship?) or configure another slot",
				s.cfg.Name, ErrSlotBusy, s.cfg.Slot, st.pid, app, addr))
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (r *session) dropSlot(ctx context.Context) error {
	if err := pglogrepl.DropReplicationSlot(ctx, r.repl, r.src.cfg.Slot, pglogrepl.DropReplicationSlotOptions{Wait: true}); err != nil {
		return fmt.Errorf("source %s: drop slot %s to redo the snapshot: %w", r.src.cfg.Name, r.src.cfg.Slot, err)
	}
	return nil
}
