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
// it is missing. A pattern "schema.*" publishes the whole schema (FOR
// TABLES IN SCHEMA), so tables created later are captured too; other
// patterns publish the tables that match now. The publication publishes
// partitioned tables by their root (publish_via_partition_root): the
// stream then names the root for a change to any of its partitions, and
// pg_publication_tables lists the root, not its partitions, so nothing is
// captured twice.
//
// An existing publication is used as it is, but for one thing: when a
// configured partitioned table would be streamed as its partitions (an
// earlier walship, or someone else, created the publication without
// publish_via_partition_root), migrate says whether it may be switched
// over. That is safe only before the snapshot (which then reads the roots)
// or without one; otherwise the followers never got the partitions' rows
// and the source stops with ErrPartitionsAsTables naming the fix.
func (s *Source) ensurePublication(ctx context.Context, conn *pgx.Conn, migrate bool) error {
	var exists, viaRoot bool
	err := conn.QueryRow(ctx, `SELECT pubviaroot FROM pg_publication WHERE pubname = $1`, s.cfg.Publication).Scan(&viaRoot)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return fmt.Errorf("source %s: look up publication: %w", s.cfg.Name, err)
	default:
		exists = true
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
	all, err := listTables(ctx, conn, s.cfg.Tables)
	if err != nil {
		return fmt.Errorf("source %s: %w", s.cfg.Name, err)
	}
	var roots []string
	for _, t := range all {
		if t.Partitioned {
			roots = append(roots, t.String())
		}
	}
	if exists {
		if viaRoot || len(roots) == 0 {
			return nil
		}
		return s.migratePublication(ctx, conn, roots, migrate)
	}
	if len(listed) > 0 {
		var names []string
		for _, t := range all {
			if matches(listed, t.tableName) {
				names = append(names, t.quoted())
			}
		}
		if len(names) > 0 {
			parts = append([]string{"TABLE " + strings.Join(names, ", ")}, parts...)
		}
	}
	if len(parts) == 0 {
		return supervise.Permanent(fmt.Errorf("source %s: no table matches %s: create the tables or fix sources.postgres.tables",
			s.cfg.Name, strings.Join(s.cfg.Tables, ", ")))
	}
	sql := "CREATE PUBLICATION " + pgx.Identifier{s.cfg.Publication}.Sanitize() + " FOR " + strings.Join(parts, ", ") +
		" WITH (publish_via_partition_root = true)"
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("source %s: create publication %s: %w", s.cfg.Name, s.cfg.Publication, err)
	}
	s.log.Info("created publication", "publication", s.cfg.Publication, "tables", strings.Join(s.cfg.Tables, ","), "partitioned", len(roots))
	return nil
}

// migratePublication switches an existing publication to publish the
// configured partitioned tables by their root, or refuses (see ensurePublication).
func (s *Source) migratePublication(ctx context.Context, conn *pgx.Conn, roots []string, migrate bool) error {
	pub := pgx.Identifier{s.cfg.Publication}.Sanitize()
	if !migrate {
		return supervise.Permanent(fmt.Errorf("source %s: %w: publication %s has publish_via_partition_root off, so the partitioned tables %s were streamed as their partitions, which are not captured, and the followers lack their rows: run ALTER PUBLICATION %s SET (publish_via_partition_root = true), then rebuild the followers (walship replay --resnapshot)",
			s.cfg.Name, ErrPartitionsAsTables, s.cfg.Publication, strings.Join(roots, ", "), pub))
	}
	if _, err := conn.Exec(ctx, "ALTER PUBLICATION "+pub+" SET (publish_via_partition_root = true)"); err != nil {
		return fmt.Errorf("source %s: %w: publication %s has publish_via_partition_root off, so the partitioned tables %s would be streamed as their partitions; switching it on failed (run ALTER PUBLICATION %s SET (publish_via_partition_root = true) as its owner): %w",
			s.cfg.Name, ErrPartitionsAsTables, s.cfg.Publication, strings.Join(roots, ", "), pub, err)
	}
	s.log.Info("publication now publishes partitioned tables by their root", "publication", s.cfg.Publication, "partitioned", strings.Join(roots, ","))
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
	failover  bool        // PostgreSQL 17+: synced to standbys
}

func (s *Source) slotState(ctx context.Context, conn *pgx.Conn) (slotState, error) {
	var st slotState
	var pid *int32
	var plugin, db, wal, confirmed *string
	err := conn.QueryRow(ctx, `SELECT plugin, database, active, active_pid, wal_status, confirmed_flush_lsn::text,
			COALESCE((to_jsonb(s) ->> 'failover')::bool, false)
		FROM pg_replication_slots s WHERE slot_name = $1`,
		s.cfg.Slot).Scan(&plugin, &db, &st.active, &pid, &wal, &confirmed, &st.failover)
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
	ended := int32(0)
	for {
		st, err := s.slotState(ctx, conn)
		if err != nil || !st.found || !st.active {
			return st, err
		}
		if s.cfg.TakeSlot && st.pid != 0 && st.pid != ended {
			var ok bool
			if err := conn.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, st.pid).Scan(&ok); err != nil {
				return st, fmt.Errorf("source %s: end process %d, which streams from slot %s: %w", s.cfg.Name, st.pid, s.cfg.Slot, err)
			}
			s.log.Warn("took the slot over: ended the process streaming from it (a previous owner)", "source", s.cfg.Name, "slot", s.cfg.Slot, "pid", st.pid)
			ended = st.pid
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
