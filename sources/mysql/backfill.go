package mysql

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sources"
)

// Incremental snapshots on MySQL and MariaDB (sources/backfill.go and
// sources/backfill_run.go have the algorithm). The watermarks are writes
// to the signal table (Config.SignalTable) that the binlog carries: one row
// of type walship-watermark, whose data is the message, upserted for each
// watermark in a transaction of its own. The decoder hands them back in
// binlog order and never publishes that row. Chunks are read in a READ
// ONLY transaction on the source's pool, in primary-key order after the
// last key read, with the initial snapshot's reads (selectList, textRow).

// signalDDL creates the signal table.
const signalDDL = "CREATE TABLE IF NOT EXISTS %s (id varchar(64) NOT NULL PRIMARY KEY, type varchar(64) NOT NULL, data text)"

// Backfill implements the request of an incremental snapshot: every
// table captured, with a primary key, the condition accepted by the
// server (EXPLAIN); the source needs a signal table.
func (s *Source) Backfill(ctx context.Context, req sources.BackfillRequest) (string, error) {
	if s.cfg.SignalTable == "" {
		return "", fmt.Errorf("%w: source %s has no signal_table, where its incremental snapshots write their watermarks: set one (database.table)", sources.ErrBackfillRefused, s.cfg.Name)
	}
	if err := sources.CheckPruneRequest(req); err != nil {
		return "", err
	}
	db := s.pool()
	if db == nil {
		return "", fmt.Errorf("source %s is not connected yet; try again", s.cfg.Name)
	}
	var tables, unpruned []string
	var estimate int64
	if req.All {
		all, err := capturedTables(ctx, db, s.cfg)
		if err != nil {
			return "", err
		}
		if len(all) == 0 {
			return "", fmt.Errorf("%w: source %s captures no table", sources.ErrBackfillRefused, s.cfg.Name)
		}
		req.Tables = all
	}
	for _, name := range req.Tables {
		schema, table, ok := strings.Cut(strings.TrimSpace(name), ".")
		if !ok || !matches(s.cfg.Tables, schema, table) {
			return "", fmt.Errorf("%w: %s is not a table source %s captures (database.table, in its tables:)", sources.ErrBackfillRefused, name, s.cfg.Name)
		}
		var rows sql.NullInt64
		err := db.QueryRowContext(ctx, `SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')`,
			schema, table).Scan(&rows)
		if err == sql.ErrNoRows {
			return "", fmt.Errorf("%w: %s is not a table source %s captures (no such table)", sources.ErrBackfillRefused, name, s.cfg.Name)
		}
		if err != nil {
			return "", fmt.Errorf("source %s: %s: %w", s.cfg.Name, name, err)
		}
		var keyed int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY'`,
			schema, table).Scan(&keyed); err != nil {
			return "", fmt.Errorf("source %s: %s: %w", s.cfg.Name, name, err)
		}
		if keyed == 0 {
			return "", fmt.Errorf("%w: %s.%s has no primary key: its rows cannot be read in key order, nor a change matched to a row read", sources.ErrBackfillRefused, schema, table)
		}
		if req.DeleteUnseen {
			if err := pruneKey(ctx, db, schema, table, s.cfg.Filter); errors.Is(err, sources.ErrPruneKey) && req.All {
				unpruned = append(unpruned, schema+"."+table)
			} else if err != nil {
				return "", err
			}
		}
		if req.Where != "" {
			if _, err := db.ExecContext(ctx, "EXPLAIN SELECT 1 FROM "+quoteIdent(schema)+"."+quoteIdent(table)+" WHERE ("+req.Where+")"); err != nil {
				return "", fmt.Errorf("%w: the condition %q on %s.%s: %v", sources.ErrBackfillRefused, req.Where, schema, table, err)
			}
		}
		estimate += rows.Int64
		tables = append(tables, schema+"."+table)
	}
	return s.bfs.Add(ctx, req, tables, unpruned, estimate)
}

// pruneKey refuses deleting rows not seen in schema.table unless its key
// columns are integers (sources.PruneKind; MariaDB's uuid type sorts
// otherwise than its text).
func pruneKey(ctx context.Context, db *sql.DB, schema, table string, f sources.ChangeFilter) error {
	rows, err := db.QueryContext(ctx, `SELECT c.COLUMN_NAME, c.COLUMN_TYPE, c.DATA_TYPE FROM information_schema.STATISTICS s
		JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME
		WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? AND s.INDEX_NAME = 'PRIMARY'`, schema, table)
	if err != nil {
		return fmt.Errorf("%s.%s: its key columns: %w", schema, table, err)
	}
	defer rows.Close()
	var key []string
	for rows.Next() {
		var col, typ, data string
		if err := rows.Scan(&col, &typ, &data); err != nil {
			return err
		}
		switch strings.ToLower(data) {
		case "tinyint", "smallint", "mediumint", "int", "bigint":
		default:
			return sources.PruneKeyRefused(schema+"."+table, col, typ)
		}
		key = append(key, col)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return sources.PruneHashed(f, schema+"."+table, key)
}

// ControlBackfill pauses, resumes or cancels incremental snapshot id.
func (s *Source) ControlBackfill(ctx context.Context, id, action string) error {
	return s.bfs.Control(ctx, id, action)
}

// signalRows handles the rows of the signal table in a transaction being
// decoded: the watermark row's message, and signals taken at commit.
func (r *session) signalRows(t *binlogTable, images [][]ordering.Value) error {
	col := func(row []ordering.Value, name string) string {
		if i := t.table.ColumnIndex(name); i >= 0 && i < len(row) && !row[i].IsNull() && !row[i].IsUnchanged() {
			return row[i].String()
		}
		return ""
	}
	for _, row := range images {
		if col(row, "type") == sources.SignalWatermark {
			var add func(ordering.Change) error
			if r.cur != nil {
				seg := r.sp.segment()
				add = func(ch ordering.Change) error { return r.cur.Add(seg, ch) }
			}
			if err := r.bf.Watermark(col(row, "data"), func(string) *ordering.Table { return nil }, add); err != nil {
				return err
			}
			continue
		}
		r.signals = append(r.signals, [3]string{col(row, "id"), col(row, "type"), col(row, "data")})
	}
	return nil
}

// actOnSignals takes the signals of the transaction just committed.
func (r *session) actOnSignals() {
	sigs := r.signals
	r.signals = nil
	for _, sig := range sigs {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			sources.ActOnSignal(ctx, r.src, r.src.bfs.Status(), sig[0], sig[1], sig[2], r.src.log)
		}()
	}
}

// myBackfill is the MySQL side of the backfill runner
// (sources.BackfillEngine).
type myBackfill struct {
	r       *session
	db      *sql.DB
	keys    *keyCache
	created bool
}

func (e *myBackfill) Emit(ctx context.Context, msg string) error {
	cfg := e.r.cfg()
	schema, table, _ := strings.Cut(cfg.SignalTable, ".")
	name := quoteIdent(schema) + "." + quoteIdent(table)
	if !e.created {
		if _, err := e.db.ExecContext(ctx, fmt.Sprintf(signalDDL, name)); err != nil {
			return fmt.Errorf("source %s: create the signal table %s (or create it: %s): %w", cfg.Name, cfg.SignalTable, fmt.Sprintf(signalDDL, name), err)
		}
		e.created = true
	}
	_, err := e.db.ExecContext(ctx, "INSERT INTO "+name+" (id, type, data) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE data = VALUES(data)",
		sources.SignalWatermark, sources.SignalWatermark, msg)
	if err != nil {
		return fmt.Errorf("source %s: write an incremental snapshot watermark into %s: %w", cfg.Name, cfg.SignalTable, err)
	}
	return nil
}

func (e *myBackfill) ReadChunk(ctx context.Context, table string, last []string, where string, n int) (*sources.ChunkRead, error) {
	schema, name, _ := strings.Cut(table, ".")
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	t, err := snapshotTableOf(ctx, conn, schema, name)
	if err != nil {
		return nil, err
	}
	t.rawText(e.r.cfg().raw)
	if t.table, err = e.keys.withKeys(ctx, t.table); err != nil {
		return nil, err
	}
	keys := make([]string, len(t.table.PrimaryKey))
	keyIdx := make([]int, len(keys))
	for i, k := range t.table.PrimaryKey {
		keys[i] = quoteIdent(k)
		keyIdx[i] = t.table.ColumnIndex(k)
	}
	if len(keys) == 0 {
		return &sources.ChunkRead{Shape: t.table}, nil
	}
	q := "SELECT " + t.selectList() + " FROM " + quoteIdent(schema) + "." + quoteIdent(name)
	var conds []string
	var args []any
	if len(last) == len(keys) {
		ph := strings.TrimSuffix(strings.Repeat("?, ", len(keys)), ", ")
		conds = append(conds, "("+strings.Join(keys, ", ")+") > ("+ph+")")
		for _, v := range last {
			args = append(args, v)
		}
	}
	if where != "" {
		conds = append(conds, "("+where+")")
	}
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY %s LIMIT %d", strings.Join(keys, ", "), n)
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	raw := make([]sql.RawBytes, len(t.cols))
	ptrs := make([]any, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var out [][]ordering.Value
	var lastKey []string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row, err := t.textRow(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, row)
		lastKey = lastKey[:0]
		for _, i := range keyIdx {
			lastKey = append(lastKey, string(raw[i]))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return &sources.ChunkRead{Shape: t.table, Rows: out, LastKey: slices.Clone(lastKey)}, tx.Commit()
}

func (e *myBackfill) Durable(seq offsets.Seq) bool {
	e.r.src.mu.Lock()
	defer e.r.src.mu.Unlock()
	return !e.r.src.durableSeq.Less(seq)
}

// runBackfills runs the backfills until ctx ends (the session's); an
// error is logged and retried after a pause.
func (r *session) runBackfills(ctx context.Context) {
	if r.cfg().SignalTable == "" {
		return
	}
	sources.RunBackfillsRetrying(ctx, r.src.bfs, r.bf, r.src.log, func() (sources.BackfillEngine, func(), error) {
		eng := &myBackfill{r: r, db: r.db, keys: newKeyCache(r.db, func(schema, table string) bool { return matches(r.cfg().Tables, schema, table) })}
		eng.keys.mariadb = r.cfg().Flavor == "mariadb"
		return eng, func() {}, nil
	})
}

// isSignal reports whether schema.table is the signal table.
func (r *session) isSignal(schema, table string) bool {
	return r.cfg().SignalTable != "" && r.cfg().SignalTable == schema+"."+table
}

// pool is the connection pool of the current run, nil between runs.
func (s *Source) pool() *sql.DB {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db
}

// tablesNote names the note of the tables the source captured at its last
// start (JSON []string).
const tablesNote = "tables"

// addedTables finds the tables that match tables: now and did not at the
// last start (added to tables: since): their rows from before the restart
// are not on the followers. With a signal table they are read by an
// incremental snapshot (requested before the stream starts, so their
// changes carry Backfilling from it); without one the source says so and
// how to get them. A table created while the daemon ran looks added too:
// reading it again is harmless. Then the note is brought up to date.
func (r *session) addedTables(ctx context.Context, snapshotDone bool) error {
	notes, ok := r.src.store.(sources.Notes)
	if !ok {
		return nil
	}
	cfg := r.cfg()
	now, err := r.capturedTables(ctx)
	if err != nil {
		return err
	}
	raw, err := notes.LoadNote(ctx, cfg.Name, tablesNote)
	if err != nil {
		return fmt.Errorf("source %s: read the tables note: %w", cfg.Name, err)
	}
	if raw != nil && snapshotDone {
		var before []string
		if err := json.Unmarshal(raw, &before); err != nil {
			return fmt.Errorf("source %s: the tables note: %w", cfg.Name, err)
		}
		var added []string
		for _, t := range now {
			if !slices.Contains(before, t) {
				added = append(added, t)
			}
		}
		if len(added) > 0 {
			if cfg.SignalTable == "" {
				r.src.log.Warn("tables added to tables: are captured from now on, but their earlier rows are not on the followers: "+
					"set signal_table to have them read by an incremental snapshot (walship snapshot), or rebuild the followers (walship replay --resnapshot)",
					"tables", strings.Join(added, ","))
			} else {
				sum := sha256.Sum256([]byte(strings.Join(added, ",")))
				id, err := r.src.Backfill(ctx, sources.BackfillRequest{Tables: added, ID: "added-" + hex.EncodeToString(sum[:4])})
				if err != nil {
					r.src.log.Warn("tables added to tables: are captured from now on, but their earlier rows cannot be read while streaming: "+
						"give them a primary key, or rebuild the followers (walship replay --resnapshot)", "tables", strings.Join(added, ","), "err", err)
				} else {
					r.src.log.Info("tables added to tables: are captured from now on, and their rows read by an incremental snapshot", "tables", strings.Join(added, ","), "id", id)
				}
			}
		}
	}
	return r.saveTables(ctx, notes, now)
}

// capturedTables lists the tables that match tables: now.
func (r *session) capturedTables(ctx context.Context) ([]string, error) {
	return capturedTables(ctx, r.db, *r.cfg())
}

// capturedTables lists the tables of the server that match cfg's tables:,
// but its signal table.
func capturedTables(ctx context.Context, db *sql.DB, cfg Config) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND TABLE_SCHEMA NOT IN ('mysql', 'sys', 'information_schema', 'performance_schema')
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("source %s: list tables: %w", cfg.Name, err)
	}
	defer rows.Close()
	var now []string
	for rows.Next() {
		var s, t string
		if err := rows.Scan(&s, &t); err != nil {
			return nil, err
		}
		if matches(cfg.Tables, s, t) && cfg.SignalTable != s+"."+t {
			now = append(now, s+"."+t)
		}
	}
	return now, rows.Err()
}

func (r *session) saveTables(ctx context.Context, notes sources.Notes, tables []string) error {
	b, err := json.Marshal(tables)
	if err != nil {
		return err
	}
	if err := notes.SaveNote(ctx, r.cfg().Name, tablesNote, b); err != nil {
		return fmt.Errorf("source %s: save the tables note: %w", r.cfg().Name, err)
	}
	return nil
}

// tablesChanged brings the tables note up to date after DDL, so a table
// created while the daemon runs is not taken for one added to tables: at
// the next start.
func (r *session) tablesChanged(ctx context.Context) error {
	notes, ok := r.src.store.(sources.Notes)
	if !ok {
		return nil
	}
	now, err := r.capturedTables(ctx)
	if err != nil {
		return err
	}
	return r.saveTables(ctx, notes, now)
}
