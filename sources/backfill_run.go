package sources

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
)

// The parts of an incremental snapshot that do not depend on the engine:
// the state a source's decoder and its runner share (BackfillStream), and
// the runner (RunBackfills) over an engine's watermarks and reads
// (BackfillEngine).
//
// Watermark messages, written into the source's own log by the engine and
// handed back by its decoder in log order:
//
//	bs <id> <table>    the backfill's tables: their changes carry Backfilling from here
//	lw <token> <table> [prune]
//	                   a chunk's low watermark: its window opens (prune: it keeps the rows it sees)
//	hw <token>         its high watermark: the chunk's rows, less those the window saw, join this transaction
//	be <id> <table>    the table is read: its changes are plain again
//
// A token names the backfill, the chunk and the session (a random nonce):
// watermarks of an earlier session, decoded again after a restart, find
// no chunk and are passed over.

// BackfillChunkRows is the rows of one chunk (Debezium's default is 1024).
const BackfillChunkRows = 4096

// MaxBackfillChunkRows bounds a request's chunk_rows: a chunk's rows and
// the window's changes are held in memory until its high watermark.
const MaxBackfillChunkRows = 100000

// BackfillChunk is a chunk read, waiting for its high watermark.
type BackfillChunk struct {
	Table string          // schema.table
	Shape *ordering.Table // the shape it was read with
	Rows  [][]ordering.Value
	// Prune: the backfill deletes rows not seen. Lo is the key row
	// (ordering.OpPrune's Before) the chunk's rows are above, nil for
	// the first; Final: the chunk reached the table's end.
	Prune bool
	Lo    []ordering.Value
	Final bool
	// Snapshot: what the read could not see, from an engine whose commits
	// can enter the log before they are visible (visibility.go); nil
	// otherwise.
	Snapshot *XidSnapshot
	done     chan backfillResult
}

type backfillResult struct {
	seq  offsets.Seq
	kept int
	redo bool
	// hidden: read again because a transaction the log placed before the
	// low watermark was not visible to the read.
	hidden bool
}

type backfillPending struct {
	c      *BackfillChunk
	kept   int
	redo   bool
	hidden bool
}

// BackfillStream is the backfill state a session's decoder and its runner
// share. Its decoder methods run on the decoder's goroutine.
type BackfillStream struct {
	// Active: a backfill has state the decoder must look at (lenient
	// tables, windows, chunks); read without a lock on the hot path.
	Active atomic.Bool
	nonce  string

	mu      sync.Mutex
	chunks  map[string]*BackfillChunk
	windows map[string]*Window
	lenient map[string]bool
	shapes  map[*ordering.Table]*ordering.Table
	// streamed are the tables each transaction streamed before its commit
	// touched (PostgreSQL), by xid.
	streamed map[uint32]map[string]bool
	atCommit []backfillPending

	// commits are the xids of the newest transactions decoded, ncommits
	// how many were (NoteCommit; the decoder's alone).
	commits  []uint32
	ncommits uint64
}

// NewBackfillStream returns the shared state of a session, with tables
// lenient (those its backfills have yet to read: their bs may be before
// the checkpoint).
func NewBackfillStream(lenient []string) *BackfillStream {
	raw := make([]byte, 4)
	rand.Read(raw)
	b := &BackfillStream{nonce: hex.EncodeToString(raw), chunks: map[string]*BackfillChunk{}, windows: map[string]*Window{},
		lenient: map[string]bool{}, shapes: map[*ordering.Table]*ordering.Table{}, streamed: map[uint32]map[string]bool{}}
	for _, t := range lenient {
		b.lenient[t] = true
	}
	b.refresh()
	return b
}

// refresh sets Active (mu held).
func (b *BackfillStream) refresh() {
	b.Active.Store(len(b.lenient) > 0 || len(b.windows) > 0 || len(b.chunks) > 0)
}

// shape is t as changes carry it: marked Backfilling while its table is
// (mu held).
func (b *BackfillStream) shape(t *ordering.Table) *ordering.Table {
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

// See passes a decoded, committed change through the open windows and
// marks its shape (decoder).
func (b *BackfillStream) See(ch *ordering.Change) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, w := range b.windows {
		w.See(ch)
	}
	ch.Table = b.shape(ch.Table)
}

// SeeStreamed notes a change of transaction xid streamed before its
// commit, and marks its shape (decoder, PostgreSQL).
func (b *BackfillStream) SeeStreamed(xid uint32, ch *ordering.Change) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := ch.Table.Schema + "." + ch.Table.Name
	if b.streamed[xid] == nil {
		b.streamed[xid] = map[string]bool{}
	}
	b.streamed[xid][t] = true
	ch.Table = b.shape(ch.Table)
}

// StreamEnd settles a streamed transaction: committed inside a window of a
// table it touched (or one not followed: streamed before the backfill
// began), that window's chunk is read again.
func (b *BackfillStream) StreamEnd(xid uint32, committed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	touched, known := b.streamed[xid]
	delete(b.streamed, xid)
	if !committed {
		return
	}
	for _, w := range b.windows {
		if touched[w.Table] || !known {
			w.Redo = true
		}
	}
}

// Watermark handles a watermark message (decoder): add joins a chunk's row
// to the transaction being decoded (nil: there is none); current is the
// decoder's shape of a table, nil when it decoded none.
func (b *BackfillStream) Watermark(msg string, current func(table string) *ordering.Table, add func(ordering.Change) error) error {
	f := strings.Fields(msg)
	if len(f) < 2 {
		return nil
	}
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
		switch {
		case len(f) == 4 && f[3] == "prune":
			b.windows[f[1]] = NewPruneWindow(f[2])
		case len(f) == 3:
			b.windows[f[1]] = NewWindow(f[2])
		}
		if w := b.windows[f[1]]; w != nil {
			w.mark = b.ncommits
		}
	case "hw":
		w, c := b.windows[f[1]], b.chunks[f[1]]
		delete(b.windows, f[1])
		delete(b.chunks, f[1])
		if c == nil {
			return nil // an earlier session's
		}
		t := c.Shape
		if cur := current(c.Table); cur != nil {
			if !sameColumns(cur, t) {
				w = nil // the table changed shape since the read
			} else {
				t = cur
			}
		}
		if w == nil || w.Redo || add == nil {
			b.atCommit = append(b.atCommit, backfillPending{c: c, redo: true})
			return nil
		}
		if c.Snapshot != nil && b.hiddenBefore(w.mark, c.Snapshot) {
			b.atCommit = append(b.atCommit, backfillPending{c: c, redo: true, hidden: true})
			return nil
		}
		var imgShapes []*ordering.Table
		var images [][]ordering.Value
		if c.Prune {
			if w.images == nil {
				w.Redo = true // opened without images: an earlier session's lw
			}
			imgShapes, images = w.Images()
			for _, s := range imgShapes {
				if !sameColumns(s, t) {
					w.Redo = true // a row of another shape
				}
			}
		}
		if w.Redo {
			b.atCommit = append(b.atCommit, backfillPending{c: c, redo: true})
			return nil
		}
		t = b.shape(t)
		kept := 0
		for _, row := range c.Rows {
			if k, ok := RowKey(t, row); !ok || w.Drop(k) {
				continue
			}
			if err := add(ordering.Change{Table: t, Op: ordering.OpRead, After: row}); err != nil {
				return err
			}
			kept++
		}
		if c.Prune {
			// The rows the window's changes left join the chunk, so that
			// every row the source has in the chunk's range at the high
			// watermark is a row of this transaction: the follower deletes
			// the others (ordering.OpPrune).
			for _, row := range images {
				if err := add(ordering.Change{Table: t, Op: ordering.OpRead, After: row}); err != nil {
					return err
				}
			}
			var hi []ordering.Value
			if !c.Final && len(c.Rows) > 0 {
				hi = KeyOnly(t, c.Rows[len(c.Rows)-1])
			}
			if err := add(ordering.Change{Table: t, Op: ordering.OpPrune, Before: c.Lo, After: hi}); err != nil {
				return err
			}
			kept++
		}
		b.atCommit = append(b.atCommit, backfillPending{c: c, kept: kept})
	}
	return nil
}

func sameColumns(a, b *ordering.Table) bool {
	if len(a.Columns) != len(b.Columns) {
		return false
	}
	for i := range a.Columns {
		if a.Columns[i].Name != b.Columns[i].Name || a.Columns[i].Type != b.Columns[i].Type {
			return false
		}
	}
	return true
}

// Committed tells the runner how the chunks of the transaction just
// decoded went: published at seq (or nothing to publish).
func (b *BackfillStream) Committed(seq offsets.Seq) {
	b.mu.Lock()
	pend := b.atCommit
	b.atCommit = nil
	b.mu.Unlock()
	for _, p := range pend {
		p.c.done <- backfillResult{seq: seq, kept: p.kept, redo: p.redo, hidden: p.hidden}
	}
}

// register records a chunk read, before its high watermark.
func (b *BackfillStream) register(token string, c *BackfillChunk) {
	b.mu.Lock()
	b.chunks[token] = c
	b.refresh()
	b.mu.Unlock()
}

// BackfillEngine is what the runner needs of a source's engine.
type BackfillEngine interface {
	// Emit writes a watermark message into the source's log, in its own
	// transaction.
	Emit(ctx context.Context, msg string) error
	// ReadChunk reads up to n rows of table after the key last (text of
	// each key column; none: from the start), in key order, matching
	// where.
	ReadChunk(ctx context.Context, table string, last []string, where string, n int) (*ChunkRead, error)
	// Durable reports whether the log holds what was published at seq.
	Durable(seq offsets.Seq) bool
}

// ChunkRead is a chunk as an engine read it.
type ChunkRead struct {
	Shape   *ordering.Table // the shape it read the rows with
	Rows    [][]ordering.Value
	LastKey []string // the text of the last row's key
	// Snapshot is what the read could not see, from an engine whose
	// commits can enter its log before they are visible (PostgreSQL).
	Snapshot *XidSnapshot
}

// RunBackfills runs bs's backfills one after another until ctx ends
// (returning nil) or an error.
func RunBackfills(ctx context.Context, bs *Backfills, stream *BackfillStream, eng BackfillEngine, log *slog.Logger) error {
	for {
		b, cancelled := bs.Next()
		switch {
		case cancelled != nil:
			left := bs.Left(cancelled)
			for _, t := range left {
				if err := eng.Emit(ctx, "be "+cancelled.ID+" "+t); err != nil {
					return err
				}
			}
			if err := bs.Forget(ctx, cancelled); err != nil {
				return err
			}
			log.Info("incremental snapshot cancelled", "id", cancelled.ID, "tables_left", strings.Join(left, ","))
		case b != nil:
			if err := runBackfill(ctx, bs, stream, eng, log, b); err != nil || ctx.Err() != nil {
				return err
			}
		default:
			select {
			case <-ctx.Done():
				return nil
			case <-bs.Kick:
			}
		}
	}
}

// runBackfill reads b chunk by chunk until it ends, stops (paused,
// cancelled) or ctx ends.
func runBackfill(ctx context.Context, bs *Backfills, stream *BackfillStream, eng BackfillEngine, log *slog.Logger, b *Backfill) error {
	if bs.Fresh(b) {
		log.Info("incremental snapshot started", "id", b.ID, "tables", strings.Join(b.Tables, ","))
		for _, t := range b.Tables {
			if err := eng.Emit(ctx, "bs "+b.ID+" "+t); err != nil {
				return err
			}
		}
	}
	var pending offsets.Seq // the newest chunk published: durable before progress is kept
	lastSave := time.Now()
	for {
		table, last, chunkNo, stop := bs.Position(b)
		if table == "" || stop {
			return nil
		}
		token := fmt.Sprintf("%s.%d.%s", b.ID, chunkNo, stream.nonce)
		lw := "lw " + token + " " + table
		prune := b.Prunes(table)
		if prune {
			lw += " prune"
		}
		if err := eng.Emit(ctx, lw); err != nil {
			return err
		}
		read, err := eng.ReadChunk(ctx, table, last, b.Where, b.Chunk())
		if err != nil {
			return fmt.Errorf("incremental snapshot %s of %s: %w", b.ID, table, err)
		}
		shape, rows, lastKey := read.Shape, read.Rows, read.LastKey
		if len(shape.PrimaryKey) == 0 {
			return fmt.Errorf("incremental snapshot %s: %s has no primary key any more", b.ID, table)
		}
		c := &BackfillChunk{Table: table, Shape: shape, Rows: rows, Snapshot: read.Snapshot, done: make(chan backfillResult, 1)}
		if prune {
			c.Prune, c.Final = true, len(rows) < b.Chunk()
			if c.Lo, err = KeyFromText(shape, last); err != nil {
				return fmt.Errorf("incremental snapshot %s of %s: %w", b.ID, table, err)
			}
		}
		stream.register(token, c)
		if err := eng.Emit(ctx, "hw "+token); err != nil {
			return err
		}
		var res backfillResult
		select {
		case <-ctx.Done():
			return nil
		case res = <-c.done:
		}
		if res.redo {
			reason := "a change the window could not place"
			if res.hidden {
				reason = "a transaction committed before the low watermark was not yet visible to the read"
			}
			log.Info("incremental snapshot chunk read again", "id", b.ID, "table", table, "chunk", chunkNo, "reason", reason)
			continue
		}
		if res.kept > 0 && pending.Less(res.seq) {
			pending = res.seq
		}
		done := len(rows) < b.Chunk()
		if done {
			if err := eng.Emit(ctx, "be "+b.ID+" "+table); err != nil {
				return err
			}
		}
		finished := bs.Read(b, len(rows), lastKey, done)
		if done {
			log.Info("incremental snapshot read a table", "id", b.ID, "table", table)
		}
		if !done && time.Since(lastSave) < time.Second {
			continue // the next chunk; progress is kept about once a second
		}
		// Progress is kept once the chunks read are durable in the log.
		for !pending.IsZero() && !eng.Durable(pending) {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(20 * time.Millisecond):
			}
		}
		if err := bs.Durable(ctx, b, finished); err != nil {
			return err
		}
		lastSave = time.Now()
		if finished {
			log.Info("incremental snapshot done", "id", b.ID, "took", time.Since(b.Started).Round(time.Millisecond))
			return nil
		}
	}
}

// RunBackfillsRetrying runs the backfills until ctx ends (a session's),
// with an engine from open: an error is logged and retried after a pause
// (the progress kept says where to go on).
func RunBackfillsRetrying(ctx context.Context, bs *Backfills, stream *BackfillStream, log *slog.Logger, open func() (BackfillEngine, func(), error)) {
	for ctx.Err() == nil {
		eng, release, err := open()
		if err == nil {
			err = RunBackfills(ctx, bs, stream, eng, log)
			release()
		}
		if err == nil || ctx.Err() != nil {
			return
		}
		log.Warn("incremental snapshot failed; retrying", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}
