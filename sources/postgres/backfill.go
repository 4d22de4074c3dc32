package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sources"
	"github.com/walship/walship/supervise"
)

// Incremental snapshots on PostgreSQL (sources/backfill.go has the
// algorithm). The watermarks are transactional logical decoding messages
// (pg_logical_emit_message, prefix walship.backfill) that the stream
// receives (messages 'true'):
//
//	bs <id> <table>   the backfill's tables: their changes carry Backfilling from here
//	lw <token> <table> a chunk's low watermark: its window opens
//	hw <token>         its high watermark: the chunk's rows, less those the window saw, join this transaction
//	be <id> <table>   the table is read: its changes are plain again
//
// A token names the backfill, the chunk and the session (a random nonce):
// watermarks of an earlier session, decoded again after a restart, find
// no chunk and are passed over. The chunk is read on a connection of its
// own, in a REPEATABLE READ, READ ONLY transaction, in primary-key order
// after the last key read, LIMIT BackfillChunkRows. The read reports its
// snapshot: a chunk that missed a transaction the stream decoded before
// its low watermark (committed, not yet visible) is read again
// (sources/visibility.go).

// backfillPrefix is the prefix of the watermark messages.
const backfillPrefix = "walship.backfill"

// bfMessage handles a watermark message (decoder).
func (r *session) bfMessage(m *pglogrepl.LogicalDecodingMessageV2) error {
	if !m.Transactional || m.Prefix != backfillPrefix {
		return nil
	}
	var add func(ordering.Change) error
	if r.cur != nil {
		add = func(ch ordering.Change) error { return r.cur.Add(r.cur.XID(), ch) }
	}
	return r.bf.Watermark(string(m.Content), func(table string) *ordering.Table {
		if rel := r.relationOf(table); rel != nil {
			return rel.table
		}
		return nil
	}, add)
}

// relationOf is the stream's relation of table, if it decoded one.
func (r *session) relationOf(table string) *relation {
	for _, rel := range r.relations {
		if rel.table.Schema+"."+rel.table.Name == table {
			return rel
		}
	}
	return nil
}

// Backfill implements the request of an incremental snapshot: it checks
// every table (captured, with a primary key, the condition accepted by
// the server), records the request, and the running session reads it.
func (s *Source) Backfill(ctx context.Context, req sources.BackfillRequest) (string, error) {
	if err := sources.CheckPruneRequest(req); err != nil {
		return "", err
	}
	conn, err := s.connect(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	captured, err := publicationTables(ctx, conn, s.cfg.Publication, s.cfg.Tables)
	if err != nil {
		return "", fmt.Errorf("source %s: %w", s.cfg.Name, err)
	}
	return s.backfillOn(ctx, conn, req, captured)
}

// backfillOn records req for the tables captured (or about to be).
func (s *Source) backfillOn(ctx context.Context, conn *pgx.Conn, req sources.BackfillRequest, captured []tableName) (string, error) {
	var estimate int64
	var unpruned []string
	seen := map[string]bool{}
	if req.All {
		req.Tables = nil
		for _, t := range captured {
			if t.String() != s.cfg.SignalTable {
				req.Tables = append(req.Tables, t.String())
			}
		}
		if len(req.Tables) == 0 {
			return "", fmt.Errorf("%w: source %s captures no table", sources.ErrBackfillRefused, s.cfg.Name)
		}
	}
	for _, name := range req.Tables {
		schema, table, ok := strings.Cut(strings.TrimSpace(name), ".")
		t := tableName{schema, table}
		if !ok || !slices.Contains(captured, t) {
			return "", fmt.Errorf("%w: %s is not a table source %s captures (schema.table, in its publication and tables:)", sources.ErrBackfillRefused, name, s.cfg.Name)
		}
		if seen[t.String()] {
			return "", fmt.Errorf("%w: %s is named twice", sources.ErrBackfillRefused, t)
		}
		seen[t.String()] = true
		var keyed bool
		var rows float64
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = c.oid AND indisprimary), greatest(c.reltuples, 0)
			FROM pg_class c WHERE c.oid = $1::regclass`, t.quoted()).Scan(&keyed, &rows); err != nil {
			return "", fmt.Errorf("source %s: %s: %w", s.cfg.Name, t, err)
		}
		if !keyed {
			return "", fmt.Errorf("%w: %s has no primary key: its rows cannot be read in key order, nor a change matched to a row read", sources.ErrBackfillRefused, t)
		}
		estimate += int64(rows)
		if req.DeleteUnseen {
			if err := pruneKey(ctx, conn, t, s.cfg.Filter); errors.Is(err, sources.ErrPruneKey) && req.All {
				unpruned = append(unpruned, t.String())
			} else if err != nil {
				return "", err
			}
		}
		if req.Where != "" {
			tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
			if err != nil {
				return "", err
			}
			_, err = tx.Exec(ctx, "EXPLAIN SELECT 1 FROM "+t.quoted()+" WHERE ("+req.Where+")")
			tx.Rollback(ctx)
			if err != nil {
				return "", fmt.Errorf("%w: the condition %q on %s: %v", sources.ErrBackfillRefused, req.Where, t, err)
			}
		}
	}
	var tables []string
	for _, t := range req.Tables {
		schema, table, _ := strings.Cut(strings.TrimSpace(t), ".")
		tables = append(tables, schema+"."+table)
	}
	return s.bfs.Add(ctx, req, tables, unpruned, estimate)
}

// pruneKey refuses deleting rows not seen in t unless its key columns are
// integers or uuids (sources.PruneKind).
func pruneKey(ctx context.Context, conn *pgx.Conn, t tableName, f sources.ChangeFilter) error {
	rows, err := conn.Query(ctx, `SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		WHERE i.indrelid = $1::regclass AND i.indisprimary`, t.quoted())
	if err != nil {
		return fmt.Errorf("%s: its key columns: %w", t, err)
	}
	defer rows.Close()
	var key []string
	for rows.Next() {
		var col, typ string
		if err := rows.Scan(&col, &typ); err != nil {
			return err
		}
		switch typ {
		case "smallint", "integer", "bigint", "uuid":
		default:
			return sources.PruneKeyRefused(t.String(), col, typ)
		}
		key = append(key, col)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return sources.PruneHashed(f, t.String(), key)
}

// ControlBackfill pauses, resumes or cancels incremental snapshot id
// (sources.BackfillPause, ...). A pause or a cancel takes effect after the
// chunk being read.
func (s *Source) ControlBackfill(ctx context.Context, id, action string) error {
	return s.bfs.Control(ctx, id, action)
}

// pgBackfill is the PostgreSQL side of the backfill runner
// (sources.BackfillEngine), on a connection of its own.
type pgBackfill struct {
	r    *session
	conn *pgx.Conn
}

func (e *pgBackfill) Emit(ctx context.Context, msg string) error {
	if _, err := e.conn.Exec(ctx, "SELECT pg_logical_emit_message(true, $1, $2)", backfillPrefix, msg); err != nil {
		return fmt.Errorf("source %s: write an incremental snapshot watermark: %w", e.r.cfg().Name, err)
	}
	return nil
}

func (e *pgBackfill) ReadChunk(ctx context.Context, table string, last []string, where string, n int) (*sources.ChunkRead, error) {
	schema, tbl, _ := strings.Cut(table, ".")
	tn := tableName{schema, tbl}
	relid, cols, err := catalogColumns(ctx, e.conn, tn)
	if err != nil {
		return nil, err
	}
	rel, err := buildRelation(ctx, e.conn, relid, tn, cols, e.r.cfg().Tables, nil, 0)
	if err != nil {
		return nil, err
	}
	if _, rel.partitioned, err = catalogTableOf(ctx, e.conn, tn); err != nil {
		return nil, err
	}
	read, err := readChunk(ctx, e.conn, rel, last, where, n)
	if err != nil {
		return nil, err
	}
	read.Shape = rel.table
	return read, nil
}

func (e *pgBackfill) Durable(seq offsets.Seq) bool { return e.r.src.durable.Load() >= seq.Pos }

// readChunk reads the next rows of rel after the key last (text of each
// key column; none: from the start) in key order, matching where, in a
// REPEATABLE READ, READ ONLY transaction whose snapshot it reports
// (sources.XidSnapshot: the stream can place a commit before the low
// watermark that the read does not see yet).
func readChunk(ctx context.Context, conn *pgx.Conn, rel *relation, last []string, where string, n int) (*sources.ChunkRead, error) {
	t := rel.table
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = pgx.Identifier{c.Name}.Sanitize()
	}
	keys := make([]string, len(t.PrimaryKey))
	keyIdx := make([]int, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		keys[i] = pgx.Identifier{k}.Sanitize()
		keyIdx[i] = t.ColumnIndex(k)
	}
	from := " FROM ONLY "
	if rel.partitioned {
		from = " FROM "
	}
	q := "SELECT " + strings.Join(names, ", ") + from + pgx.Identifier{t.Schema, t.Name}.Sanitize()
	var conds []string
	var args []any
	if len(last) == len(keys) {
		ph := make([]string, len(last))
		for i, v := range last {
			args = append(args, v)
			ph[i] = fmt.Sprintf("$%d::%s", i+1, t.Columns[keyIdx[i]].Type)
		}
		conds = append(conds, "("+strings.Join(keys, ", ")+") > ("+strings.Join(ph, ", ")+")")
	}
	if where != "" {
		conds = append(conds, "("+where+")")
	}
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY %s LIMIT %d", strings.Join(keys, ", "), n)
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// The first statement takes the transaction's snapshot, which the
	// chunk's SELECT reads with.
	var xmin, xmax int64
	var xip []int64
	if err := tx.QueryRow(ctx, `SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint,
		ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) x) FROM pg_current_snapshot() s`).Scan(&xmin, &xmax, &xip); err != nil {
		return nil, fmt.Errorf("the read's snapshot: %w", err)
	}
	snap := &sources.XidSnapshot{Xmin: uint32(xmin), Xmax: uint32(xmax), Xip: make(map[uint32]bool, len(xip))}
	for _, x := range xip {
		snap.Xip[uint32(x)] = true
	}
	textArgs := make([][]byte, len(args))
	for i, a := range args {
		textArgs[i] = []byte(a.(string))
	}
	rr := tx.Conn().PgConn().ExecParams(ctx, q, textArgs, nil, nil, nil)
	var out [][]ordering.Value
	var lastKey []string
	for rr.NextRow() {
		vals := rr.Values()
		row, err := rel.decodeRow(vals)
		if err != nil {
			rr.Close()
			return nil, err
		}
		out = append(out, row)
		lastKey = lastKey[:0]
		for _, i := range keyIdx {
			lastKey = append(lastKey, string(vals[i]))
		}
	}
	if _, err := rr.Close(); err != nil {
		return nil, err
	}
	return &sources.ChunkRead{Rows: out, LastKey: slices.Clone(lastKey), Snapshot: snap}, tx.Commit(ctx)
}

// runBackfills runs the backfills until ctx ends (the session's); an
// error is logged and retried after a pause (the progress kept says where
// to go on).
func (r *session) runBackfills(ctx context.Context) {
	sources.RunBackfillsRetrying(ctx, r.src.bfs, r.bf, r.src.log, func() (sources.BackfillEngine, func(), error) {
		conn, err := r.src.connect(ctx)
		if err != nil {
			return nil, nil, err
		}
		return &pgBackfill{r: r, conn: conn}, func() { conn.Close(context.WithoutCancel(ctx)) }, nil
	})
}

// addTables brings tables matching tables: that the publication lacks
// (added to tables: since it was created) into it, once the initial
// snapshot is done (before, it reads them anyway). Their rows are read by
// an incremental snapshot, recorded first, so their changes carry
// Backfilling from the moment the publication has them. A table without a
// primary key cannot be read that way: the source stops, naming it.
func (s *Source) addTables(ctx context.Context, conn *pgx.Conn) error {
	all, err := listTables(ctx, conn, s.cfg.Tables)
	if err != nil {
		return fmt.Errorf("source %s: %w", s.cfg.Name, err)
	}
	published, err := publicationTables(ctx, conn, s.cfg.Publication, s.cfg.Tables)
	if err != nil {
		return fmt.Errorf("source %s: %w", s.cfg.Name, err)
	}
	var added []tableName
	var names, quoted []string
	for _, t := range all {
		if !slices.Contains(published, t.tableName) {
			added = append(added, t.tableName)
			names = append(names, t.String())
			quoted = append(quoted, t.quoted())
		}
	}
	if len(added) == 0 {
		return nil
	}
	id := "none (snapshot: never)"
	if s.cfg.Snapshot != "never" {
		sum := sha256.Sum256([]byte(strings.Join(names, ",")))
		id, err = s.backfillOn(ctx, conn, sources.BackfillRequest{Tables: names, ID: "added-" + hex.EncodeToString(sum[:4])}, append(published, added...))
		if err != nil {
			return supervise.Permanent(fmt.Errorf("source %s: tables %s were added to tables: but their rows cannot be read while streaming: %w; "+
				"give them a primary key, or rebuild the followers with them (walship replay --resnapshot)", s.cfg.Name, strings.Join(names, ", "), err))
		}
	}
	if _, err := conn.Exec(ctx, "ALTER PUBLICATION "+pgx.Identifier{s.cfg.Publication}.Sanitize()+" ADD TABLE "+strings.Join(quoted, ", ")); err != nil {
		err = fmt.Errorf("source %s: tables %s match tables: but publication %s lacks them, and adding them failed: %w; "+
			"add them as the publication's owner (ALTER PUBLICATION %s ADD TABLE ...), or narrow tables:", s.cfg.Name, strings.Join(names, ", "),
			s.cfg.Publication, err, s.cfg.Publication)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42501" { // insufficient_privilege
			return supervise.Permanent(err)
		}
		return err
	}
	s.log.Info("tables added to tables: are captured from now on, and their rows read by an incremental snapshot", "tables", strings.Join(names, ","), "id", id)
	return nil
}
