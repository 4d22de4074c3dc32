package sources

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Notes is a checkpoint store that keeps notes beside the checkpoint
// (offsets.Store).
type Notes interface {
	SaveNote(ctx context.Context, source, name string, value []byte) error
	LoadNote(ctx context.Context, source, name string) ([]byte, error)
}

// BackfillNote names the note of a source's incremental snapshots (JSON
// []Backfill, each with its progress durable in the log).
const BackfillNote = "backfills"

// Backfills is a source's incremental snapshots, in the order they were
// requested, each with what its engine's runner read and what of that is
// durable in the log (the note keeps the latter). Safe for concurrent use.
type Backfills struct {
	source string
	notes  Notes // nil: kept for the process only
	log    *slog.Logger
	// Kick receives when a request or an operator's control arrives.
	Kick chan struct{}

	mu      sync.Mutex
	loaded  bool
	list    []*Backfill
	durable map[string]Backfill
}

// NewBackfills returns the backfills of source, kept in store's notes when
// it keeps notes.
func NewBackfills(source string, store any, log *slog.Logger) *Backfills {
	n, _ := store.(Notes)
	return &Backfills{source: source, notes: n, log: log, Kick: make(chan struct{}, 1)}
}

func (bs *Backfills) kick() {
	select {
	case bs.Kick <- struct{}{}:
	default:
	}
}

// Reload reads the note again: a session goes on from the progress durable
// in the log, never from what an earlier one read ahead of it.
func (bs *Backfills) Reload(ctx context.Context) error {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	bs.loaded = false
	return bs.load(ctx)
}

// load reads the note once (mu held).
func (bs *Backfills) load(ctx context.Context) error {
	if bs.loaded {
		return nil
	}
	bs.list, bs.durable = nil, map[string]Backfill{}
	if bs.notes != nil {
		raw, err := bs.notes.LoadNote(ctx, bs.source, BackfillNote)
		if err != nil {
			return fmt.Errorf("source %s: read the incremental snapshots' progress: %w", bs.source, err)
		}
		if raw != nil {
			if err := json.Unmarshal(raw, &bs.list); err != nil {
				return fmt.Errorf("source %s: the incremental snapshots' progress: %w", bs.source, err)
			}
		}
		for _, b := range bs.list {
			bs.durable[b.ID] = *b
		}
	}
	bs.loaded = true
	return nil
}

// save writes the note (mu held): each backfill's durable progress, with
// its operator's flags as they are now.
func (bs *Backfills) save(ctx context.Context) error {
	if bs.notes == nil {
		return nil
	}
	out := make([]Backfill, len(bs.list))
	for i, b := range bs.list {
		out[i] = *b
		if d, ok := bs.durable[b.ID]; ok {
			out[i].Table, out[i].LastKey, out[i].Rows, out[i].Chunks = d.Table, d.LastKey, d.Rows, d.Chunks
		} else {
			out[i].Table, out[i].LastKey, out[i].Rows, out[i].Chunks = 0, nil, 0, 0
		}
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return err
	}
	if err := bs.notes.SaveNote(ctx, bs.source, BackfillNote, raw); err != nil {
		return fmt.Errorf("source %s: save the incremental snapshots' progress: %w", bs.source, err)
	}
	return nil
}

// Add records a request the engine checked (tables "schema.table" it
// captures, with primary keys; unpruned those of them read without
// deleting rows not seen; estimate the rows in all). A table a
// recorded backfill has yet to read is refused; a request whose ID is
// recorded is passed over (a signal decoded again).
func (bs *Backfills) Add(ctx context.Context, req BackfillRequest, tables, unpruned []string, estimate int64) (string, error) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if err := bs.load(ctx); err != nil {
		return "", err
	}
	for _, b := range bs.list {
		if req.ID != "" && b.ID == req.ID {
			return b.ID, nil
		}
		for _, t := range tables {
			if b.Reads(t) && !b.Cancelled {
				return "", fmt.Errorf("%w: an incremental snapshot of %s is already running (%s)", ErrBackfillRefused, t, b.ID)
			}
		}
	}
	id := req.ID
	if id == "" {
		raw := make([]byte, 4)
		rand.Read(raw)
		id = hex.EncodeToString(raw)
	}
	b := &Backfill{ID: id, Tables: tables, Where: req.Where, DeleteUnseen: req.DeleteUnseen, Unpruned: unpruned, ChunkRows: req.ChunkRows, Estimate: estimate, Started: time.Now().UTC()}
	bs.list = append(bs.list, b)
	if err := bs.save(ctx); err != nil {
		bs.list = bs.list[:len(bs.list)-1]
		return "", err
	}
	bs.log.Info("incremental snapshot requested", "id", id, "tables", tables, "estimated_rows", estimate)
	bs.kick()
	return id, nil
}

// Control pauses, resumes or cancels backfill id (BackfillPause, ...).
func (bs *Backfills) Control(ctx context.Context, id, action string) error {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if err := bs.load(ctx); err != nil {
		return err
	}
	var b *Backfill
	for _, x := range bs.list {
		if x.ID == id && !x.Cancelled {
			b = x
		}
	}
	if b == nil {
		return fmt.Errorf("%w: source %s runs no incremental snapshot %q", ErrBackfillRefused, bs.source, id)
	}
	switch action {
	case BackfillPause:
		b.Paused = true
	case BackfillResume:
		b.Paused = false
	case BackfillCancel:
		b.Cancelled = true
	default:
		return fmt.Errorf("%w: %q is not pause, resume or cancel", ErrBackfillRefused, action)
	}
	if err := bs.save(ctx); err != nil {
		return err
	}
	bs.log.Info("incremental snapshot "+action, "id", id)
	bs.kick()
	return nil
}

// Status lists the backfills.
func (bs *Backfills) Status() []BackfillStatus {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	var out []BackfillStatus
	for _, b := range bs.list {
		out = append(out, b.Status())
	}
	return out
}

// Unread are the tables the backfills have yet to read: their changes
// carry Backfilling.
func (bs *Backfills) Unread() []string {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	var out []string
	for _, b := range bs.list {
		out = append(out, b.Tables[min(b.Table, len(b.Tables)):]...)
	}
	return out
}

// Next is the first backfill to run (neither paused nor cancelled) and
// the first cancelled one to end, nil if none.
func (bs *Backfills) Next() (run, cancelled *Backfill) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	for _, x := range bs.list {
		switch {
		case x.Cancelled && cancelled == nil:
			cancelled = x
		case !x.Cancelled && !x.Paused && run == nil:
			run = x
		}
	}
	return run, cancelled
}

// Position is where b is: the table being read ("" once done), the last
// key read, the chunks done, and whether it must stop (paused, cancelled).
func (bs *Backfills) Position(b *Backfill) (table string, last []string, chunks int64, stop bool) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return b.Current(), slices.Clone(b.LastKey), b.Chunks, b.Paused || b.Cancelled
}

// Fresh reports whether b read nothing yet.
func (bs *Backfills) Fresh(b *Backfill) bool {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return b.Table == 0 && b.LastKey == nil && b.Chunks == 0
}

// Read records a chunk of rows read from b's table (lastKey: the text of
// the last row's key), and with done the end of the table; it reports
// whether b read all its tables.
func (bs *Backfills) Read(b *Backfill, rows int, lastKey []string, done bool) (finished bool) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b.Rows += int64(rows)
	b.Chunks++
	if rows > 0 {
		b.LastKey = lastKey
	}
	if done {
		b.Table, b.LastKey = b.Table+1, nil
	}
	return b.Current() == ""
}

// Durable records what b read as durable in the log, forgetting b once
// finished, and saves the note.
func (bs *Backfills) Durable(ctx context.Context, b *Backfill, finished bool) error {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if finished {
		bs.list = slices.DeleteFunc(bs.list, func(x *Backfill) bool { return x == b })
		delete(bs.durable, b.ID)
	} else {
		d := *b
		d.LastKey = slices.Clone(b.LastKey)
		bs.durable[b.ID] = d
	}
	return bs.save(ctx)
}

// Left is the tables b has yet to read.
func (bs *Backfills) Left(b *Backfill) []string {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return slices.Clone(b.Tables[min(b.Table, len(b.Tables)):])
}

// Forget drops b (cancelled, its tables made plain again) and saves the
// note.
func (bs *Backfills) Forget(ctx context.Context, b *Backfill) error {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	bs.list = slices.DeleteFunc(bs.list, func(x *Backfill) bool { return x == b })
	delete(bs.durable, b.ID)
	return bs.save(ctx)
}
