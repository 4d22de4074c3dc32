package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
// own, in a READ ONLY transaction, in primary-key order after the last key
// read, LIMIT BackfillChunkRows.

// backfillPrefix is the prefix of the watermark messages.
const backfillPrefix = "walship.backfill"

// backfillNote names the note of the backfills' progress (JSON
// []sources.Backfill).
const backfillNote = "backfills"

// backfillChunkRows is the rows of one chunk (Debezium's default is 1024).
const backfillChunkRows = 4096

// bfChunk is a chunk read, waiting for its high watermark.
type bfChunk struct {
	table string // schema.table
	rel   *relation
	rows  [][]ordering.Value
	done  chan bfResult // receives once, when the decoder handled the high watermark
}

// bfResult is what the decoder made of a chunk: published at seq with kept
// rows, or to be read again (redo: a change the window could not see
// precisely, a streamed transaction, or a shape that changed).
type bfResult struct {
	seq  offsets.Seq
	kept int
	redo bool
}

// bfSession is the backfill state a session's decoder and its runner
// share.
type bfSession struct {
	// active: a backfill has state the decoder must look at (lenient
	// tables, windows, chunks); read without mu on the hot path.
	active  atomic.Bool
	mu      sync.Mutex
	nonce   string
	chunks  map[string]*bfChunk
	windows map[string]*sources.Window
	// lenient are the tables whose changes carry Backfilling; shapes the
	// copies made for them.
	lenient map[string]bool
	shapes  map[*ordering.Table]*ordering.Table
	// streamed are the tables each streamed transaction touched, by xid:
	// one that commits inside a window makes its chunk read again.
	streamed map[uint32]map[string]bool
	// atCommit are the chunks joined to the transaction being received.
	atCommit []bfPending
}

type bfPending struct {
	c    *bfChunk
	kept int
	redo bool
}

func newBFSession() *bfSession {
	b := make([]byte, 4)
	rand.Read(b)
	return &bfSession{nonce: hex.EncodeToString(b), chunks: map[string]*bfChunk{}, windows: map[string]*sources.Window{},
		lenient: map[string]bool{}, shapes: map[*ordering.Table]*ordering.Table{}, streamed: map[uint32]map[string]bool{}}
}

// refresh sets active (mu held).
func (b *bfSession) refresh() {
	b.active.Store(len(b.lenient) > 0 || len(b.windows) > 0 || len(b.chunks) > 0)
}

// shape is t as changes carry it: marked Backfilling while its table is.
func (b *bfSession) shape(t *ordering.Table) *ordering.Table {
	if !b.lenient[t.Schema+"."+t.Name] {
		return t
	}
	if s, ok := b.shapes[t]; ok {
		return s
	}
	s := *t
	s.Backfilling = true
	b.shapes[t] = &s
	return &s
}

// see passes a decoded change through the open windows (decoder only).
// Changes of a streamed transaction are noted by table instead: only its
// commit says whether they happened.
func (r *session) bfSee(ch *ordering.Change) {
	b := r.bf
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.inStream {
		t := ch.Table.Schema + "." + ch.Table.Name
		if b.streamed[r.streamXid] == nil {
			b.streamed[r.streamXid] = map[string]bool{}
		}
		b.streamed[r.streamXid][t] = true
	} else {
		for _, w := range b.windows {
			w.See(ch)
		}
	}
	ch.Table = b.shape(ch.Table)
}

// bfStreamEnd settles a streamed transaction: committed inside a window
// of a table it touched, that window's chunk is read again.
func (r *session) bfStreamEnd(xid uint32, committed bool) {
	b := r.bf
	b.mu.Lock()
	defer b.mu.Unlock()
	touched, known := b.streamed[xid]
	delete(b.streamed, xid)
	if !committed {
		return
	}
	for _, w := range b.windows {
		// A transaction streamed before the backfill began was not
		// followed table by table: any window may have missed it.
		if touched[w.Table] || !known {
			w.Redo = true
		}
	}
}

// bfMessage handles a watermark message (decoder only).
func (r *session) bfMessage(m *pglogrepl.LogicalDecodingMessageV2) error {
	if !m.Transactional || m.Prefix != backfillPrefix {
		return nil
	}
	f := strings.Fields(string(m.Content))
	if len(f) < 2 {
		return nil
	}
	b := r.bf
	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.refresh()
	switch f[0] {
	case "bs":
		if len(f) == 3 {
			b.lenient[f[2]] = true
		}
	case "be":
		if len(f) == 3 {
			delete(b.lenient, f[2])
		}
	case "lw":
		if len(f) == 3 {
			b.windows[f[1]] = sources.NewWindow(f[2])
		}
	case "hw":
		w, c := b.windows[f[1]], b.chunks[f[1]]
		delete(b.windows, f[1])
		delete(b.chunks, f[1])
		if c == nil {
			return nil // an earlier session's
		}
		if w == nil || w.Redo || r.cur == nil {
			b.atCommit = append(b.atCommit, bfPending{c: c, redo: true})
			return nil
		}
		t := c.rel.table
		if cur := r.relationOf(c.table); cur != nil {
			if !sameColumns(cur.table, t) {
				b.atCommit = append(b.atCommit, bfPending{c: c, redo: true}) // the table changed shape since the read
				return nil
			}
			t = cur.table
		}
		t = b.shape(t)
		kept := 0
		for _, row := range c.rows {
			if k, ok := sources.RowKey(t, row); !ok || w.Drop(k) {
				continue
			}
			if err := r.cur.Add(r.cur.XID(), ordering.Change{Table: t, Op: ordering.OpRead, After: row}); err != nil {
				return err
			}
			kept++
		}
		b.atCommit = append(b.atCommit, bfPending{c: c, kept: kept})
	}
	return nil
}

// bfCommitted tells the runner how the chunks of the transaction just
// published (at seq) went.
func (r *session) bfCommitted(seq offsets.Seq) {
	b := r.bf
	b.mu.Lock()
	pend := b.atCommit
	b.atCommit = nil
	b.mu.Unlock()
	for _, p := range pend {
		p.c.done <- bfResult{seq: seq, kept: p.kept, redo: p.redo}
	}
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

func sameColumns(a, b *ordering.Table) bool {
	return slices.EqualFunc(a.Columns, b.Columns, func(x, y ordering.Column) bool { return x.Name == y.Name && x.Type == y.Type })
}

// Backfill implements the request of an incremental snapshot: it checks
// every table (captured, with a primary key, the condition accepted by
// the server), records the request, and the running session reads it.
func (s *Source) Backfill(ctx context.Context, req sources.BackfillRequest) (string, error) {
	if len(req.Tables) == 0 {
		return "", fmt.Errorf("%w: no table named", sources.ErrBackfillRefused)
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
	seen := map[string]bool{}
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
	s.bfMu.Lock()
	defer s.bfMu.Unlock()
	if err := s.loadBackfills(ctx); err != nil {
		return "", err
	}
	for _, b := range s.bfs {
		if req.ID != "" && b.ID == req.ID {
			return b.ID, nil // a signal decoded again
		}
		for t := range seen {
			if b.Reads(t) {
				return "", fmt.Errorf("%w: an incremental snapshot of %s is already running (%s)", sources.ErrBackfillRefused, t, b.ID)
			}
		}
	}
	id := make([]byte, 4)
	rand.Read(id)
	b := &sources.Backfill{ID: hex.EncodeToString(id), Where: req.Where, Estimate: estimate, Started: time.Now().UTC()}
	if req.ID != "" {
		b.ID = req.ID
	}
	for _, t := range req.Tables {
		schema, table, _ := strings.Cut(strings.TrimSpace(t), ".")
		b.Tables = append(b.Tables, schema+"."+table)
	}
	s.bfs = append(s.bfs, b)
	if err := s.saveBackfills(ctx); err != nil {
		s.bfs = s.bfs[:len(s.bfs)-1]
		return "", err
	}
	s.log.Info("incremental snapshot requested", "id", b.ID, "tables", strings.Join(b.Tables, ","), "estimated_rows", estimate)
	select {
	case s.bfKick <- struct{}{}:
	default:
	}
	return b.ID, nil
}

// ControlBackfill pauses, resumes or cancels incremental snapshot id
// (sources.BackfillPause, ...). A pause or a cancel takes effect after the
// chunk being read.
func (s *Source) ControlBackfill(ctx context.Context, id, action string) error {
	s.bfMu.Lock()
	defer s.bfMu.Unlock()
	if err := s.loadBackfills(ctx); err != nil {
		return err
	}
	var b *sources.Backfill
	for _, x := range s.bfs {
		if x.ID == id && !x.Cancelled {
			b = x
		}
	}
	if b == nil {
		return fmt.Errorf("%w: source %s runs no incremental snapshot %q", sources.ErrBackfillRefused, s.cfg.Name, id)
	}
	switch action {
	case sources.BackfillPause:
		b.Paused = true
	case sources.BackfillResume:
		b.Paused = false
	case sources.BackfillCancel:
		b.Cancelled = true
	default:
		return fmt.Errorf("%w: %q is not pause, resume or cancel", sources.ErrBackfillRefused, action)
	}
	if err := s.saveBackfills(ctx); err != nil {
		return err
	}
	s.log.Info("incremental snapshot "+action, "id", id)
	select {
	case s.bfKick <- struct{}{}:
	default:
	}
	return nil
}

// loadBackfills reads the note once (bfMu held).
func (s *Source) loadBackfills(ctx context.Context) error {
	if s.bfLoaded {
		return nil
	}
	s.bfs, s.bfDurable = nil, map[string]sources.Backfill{}
	if n, ok := s.store.(partitionNotes); ok {
		raw, err := n.LoadNote(ctx, s.cfg.Name, backfillNote)
		if err != nil {
			return fmt.Errorf("source %s: read the incremental snapshots' progress: %w", s.cfg.Name, err)
		}
		if raw != nil {
			if err := json.Unmarshal(raw, &s.bfs); err != nil {
				return fmt.Errorf("source %s: the incremental snapshots' progress: %w", s.cfg.Name, err)
			}
			for _, b := range s.bfs {
				s.bfDurable[b.ID] = *b
			}
		}
	}
	s.bfLoaded = true
	return nil
}

// saveBackfills writes the note (bfMu held).
func (s *Source) saveBackfills(ctx context.Context) error {
	n, ok := s.store.(partitionNotes)
	if !ok {
		return nil
	}
	// The note keeps each one's durable progress (bfDurable), with its
	// operator's flags as they are now.
	out := make([]sources.Backfill, len(s.bfs))
	for i, b := range s.bfs {
		out[i] = *b
		if d, ok := s.bfDurable[b.ID]; ok {
			out[i].Table, out[i].LastKey, out[i].Rows, out[i].Chunks = d.Table, d.LastKey, d.Rows, d.Chunks
		} else if b.Chunks > 0 {
			out[i].Table, out[i].LastKey, out[i].Rows, out[i].Chunks = 0, nil, 0, 0
		}
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return err
	}
	if err := n.SaveNote(ctx, s.cfg.Name, backfillNote, raw); err != nil {
		return fmt.Errorf("source %s: save the incremental snapshots' progress: %w", s.cfg.Name, err)
	}
	return nil
}

// backfillStatus lists the backfills for Status.
func (s *Source) backfillStatus() []sources.BackfillStatus {
	s.bfMu.Lock()
	defer s.bfMu.Unlock()
	var out []sources.BackfillStatus
	for _, b := range s.bfs {
		out = append(out, b.Status())
	}
	return out
}

// backfills runs the recorded incremental snapshots, one after another,
// until ctx ends (the session's). Its errors end the session (the
// supervisor restarts it, and the backfill goes on from its progress).
func (r *session) backfills(ctx context.Context) error {
	s := r.src
	s.bfMu.Lock()
	err := s.loadBackfills(ctx)
	// The tables still to read carry Backfilling from the start: their
	// "bs" may be before the checkpoint.
	r.bf.mu.Lock()
	for _, b := range s.bfs {
		for _, t := range b.Tables[min(b.Table, len(b.Tables)):] {
			r.bf.lenient[t] = true
		}
	}
	r.bf.refresh()
	r.bf.mu.Unlock()
	s.bfMu.Unlock()
	if err != nil {
		return err
	}
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.WithoutCancel(ctx))
		}
	}()
	for {
		s.bfMu.Lock()
		var b, cancelled *sources.Backfill
		for _, x := range s.bfs {
			switch {
			case x.Cancelled && cancelled == nil:
				cancelled = x
			case !x.Cancelled && !x.Paused && b == nil:
				b = x
			}
		}
		s.bfMu.Unlock()
		if cancelled != nil {
			if conn == nil {
				if conn, err = s.connect(ctx); err != nil {
					return err
				}
			}
			if err := r.endBackfill(ctx, conn, cancelled); err != nil {
				return err
			}
			continue
		}
		if b == nil {
			select {
			case <-ctx.Done():
				return nil
			case <-s.bfKick:
				continue
			}
		}
		if conn == nil {
			if conn, err = s.connect(ctx); err != nil {
				return err
			}
		}
		if err := r.backfill(ctx, conn, b); err != nil {
			return err
		}
	}
}

// backfill reads b to its end, chunk by chunk.
func (r *session) backfill(ctx context.Context, conn *pgx.Conn, b *sources.Backfill) error {
	s, name := r.src, r.cfg().Name
	emit := func(msg string) error {
		_, err := conn.Exec(ctx, "SELECT pg_logical_emit_message(true, $1, $2)", backfillPrefix, msg)
		if err != nil {
			return fmt.Errorf("source %s: incremental snapshot %s: write a watermark: %w", name, b.ID, err)
		}
		return nil
	}
	s.bfMu.Lock()
	first := b.Table == 0 && b.LastKey == nil && b.Chunks == 0
	s.bfMu.Unlock()
	if first {
		s.log.Info("incremental snapshot started", "id", b.ID, "tables", strings.Join(b.Tables, ","))
		for _, t := range b.Tables {
			if err := emit("bs " + b.ID + " " + t); err != nil {
				return err
			}
		}
	}
	var pending uint64 // the newest chunk published, durable before progress is kept
	lastSave := time.Now()
	for {
		s.bfMu.Lock()
		table, last, chunkNo, stop := b.Current(), slices.Clone(b.LastKey), b.Chunks, b.Paused || b.Cancelled
		s.bfMu.Unlock()
		if table == "" || stop {
			break
		}
		schema, tbl, _ := strings.Cut(table, ".")
		tn := tableName{schema, tbl}
		relid, cols, err := catalogColumns(ctx, conn, tn)
		if err != nil {
			return fmt.Errorf("source %s: incremental snapshot %s: %w", name, b.ID, err)
		}
		rel, err := buildRelation(ctx, conn, relid, tn, cols, r.cfg().Tables, nil, 0)
		if err != nil {
			return fmt.Errorf("source %s: incremental snapshot %s: %w", name, b.ID, err)
		}
		if len(rel.table.PrimaryKey) == 0 {
			return fmt.Errorf("source %s: incremental snapshot %s: %s lost its primary key", name, b.ID, table)
		}
		token := fmt.Sprintf("%s.%d.%s", b.ID, chunkNo, r.bf.nonce)
		if err := emit("lw " + token + " " + table); err != nil {
			return err
		}
		rows, lastKey, err := readChunk(ctx, conn, rel, last, b.Where)
		if err != nil {
			return fmt.Errorf("source %s: incremental snapshot %s of %s: %w", name, b.ID, table, err)
		}
		c := &bfChunk{table: table, rel: rel, rows: rows, done: make(chan bfResult, 1)}
		r.bf.mu.Lock()
		r.bf.chunks[token] = c
		r.bf.refresh()
		r.bf.mu.Unlock()
		if err := emit("hw " + token); err != nil {
			return err
		}
		var res bfResult
		select {
		case <-ctx.Done():
			return nil
		case res = <-c.done:
		}
		if res.redo {
			s.log.Info("incremental snapshot chunk read again", "id", b.ID, "table", table, "chunk", chunkNo)
			continue
		}
		if res.kept > 0 {
			pending = max(pending, res.seq.Pos)
		}
		done := len(rows) < backfillChunkRows
		if done {
			if err := emit("be " + b.ID + " " + table); err != nil {
				return err
			}
		}
		s.bfMu.Lock()
		b.Rows += int64(len(rows))
		b.Chunks++
		if len(rows) > 0 {
			b.LastKey = lastKey
		}
		if done {
			b.Table, b.LastKey = b.Table+1, nil
			s.log.Info("incremental snapshot read a table", "id", b.ID, "table", table, "rows", b.Rows)
		}
		finished := b.Current() == ""
		s.bfMu.Unlock()
		if !done && time.Since(lastSave) < time.Second {
			continue // the next chunk; progress is kept about once a second
		}
		// Progress is kept once the chunks read are durable in the log.
		for s.durable.Load() < pending {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(20 * time.Millisecond):
			}
		}
		s.bfMu.Lock()
		if finished {
			s.bfs = slices.DeleteFunc(s.bfs, func(x *sources.Backfill) bool { return x == b })
			delete(s.bfDurable, b.ID)
		} else {
			d := *b
			d.LastKey = slices.Clone(b.LastKey)
			s.bfDurable[b.ID] = d
		}
		err = s.saveBackfills(ctx)
		s.bfMu.Unlock()
		lastSave = time.Now()
		if err != nil {
			return err
		}
		if finished {
			s.log.Info("incremental snapshot done", "id", b.ID, "rows", b.Rows, "chunks", b.Chunks, "took", time.Since(b.Started).Round(time.Millisecond))
			return nil
		}
	}
	return nil
}

// readChunk reads the next rows of rel after the key last (text of each
// key column; none: from the start) in key order, matching where, in a
// READ ONLY transaction; lastKey is the text of the last row's key.
func readChunk(ctx context.Context, conn *pgx.Conn, rel *relation, last []string, where string) ([][]ordering.Value, []string, error) {
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
	q += fmt.Sprintf(" ORDER BY %s LIMIT %d", strings.Join(keys, ", "), backfillChunkRows)
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	textArgs := make([][]byte, len(args))
	for i, a := range args {
		textArgs[i] = []byte(a.(string))
	}
	rr := tx.Conn().PgConn().ExecParams(ctx, q, textArgs, nil, nil, nil)
	var out [][]ordering.Value
	var lastKey []string
	for rr.NextRow() {
		vals := rr.Values()
		row := make([]ordering.Value, len(vals))
		for i, v := range vals {
			if v == nil {
				continue
			}
			dv, err := rel.types[i].decode(v)
			if err != nil {
				rr.Close()
				return nil, nil, fmt.Errorf("column %s: %w", t.Columns[i].Name, err)
			}
			row[i] = dv
		}
		out = append(out, row)
		lastKey = lastKey[:0]
		for _, i := range keyIdx {
			lastKey = append(lastKey, string(vals[i]))
		}
	}
	if _, err := rr.Close(); err != nil {
		return nil, nil, err
	}
	return out, slices.Clone(lastKey), tx.Commit(ctx)
}

// runBackfills runs backfills until ctx ends; an error is logged and
// retried after a pause (the progress kept says where to go on).
func (r *session) runBackfills(ctx context.Context) {
	for ctx.Err() == nil {
		err := r.backfills(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		r.src.log.Warn("incremental snapshot failed; retrying", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}

// endBackfill ends a cancelled backfill: its tables still to read are made
// plain again in the log (be), and it is forgotten. What it read stays on
// the followers.
func (r *session) endBackfill(ctx context.Context, conn *pgx.Conn, b *sources.Backfill) error {
	s := r.src
	s.bfMu.Lock()
	left := slices.Clone(b.Tables[min(b.Table, len(b.Tables)):])
	s.bfMu.Unlock()
	for _, t := range left {
		if _, err := conn.Exec(ctx, "SELECT pg_logical_emit_message(true, $1, $2)", backfillPrefix, "be "+b.ID+" "+t); err != nil {
			return fmt.Errorf("source %s: end incremental snapshot %s: %w", s.cfg.Name, b.ID, err)
		}
	}
	s.bfMu.Lock()
	s.bfs = slices.DeleteFunc(s.bfs, func(x *sources.Backfill) bool { return x == b })
	err := s.saveBackfills(ctx)
	s.bfMu.Unlock()
	if err == nil {
		s.log.Info("incremental snapshot cancelled", "id", b.ID, "rows", b.Rows, "tables_left", strings.Join(left, ","))
	}
	return err
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
