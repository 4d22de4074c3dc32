package sources

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/walship/walship/ordering"
)

// Incremental snapshots (issue 17): a table re-read while the stream
// flows, with no lock, by DBLog's watermark algorithm (Netflix,
// arXiv:2010.12597). Per chunk of rows in primary-key order, the source
//  1. writes a low watermark into its own log,
//  2. reads the chunk with a plain SELECT and holds it,
//  3. writes a high watermark.
//
// The stream decodes on meanwhile. Every key a change between the two
// watermarks touches is dropped from the chunk (Window): the log's copy is
// newer. At the high watermark the rest of the chunk is published as rows
// (op r) of the transaction that wrote the watermark, in the log's order,
// so a follower never goes back to an older value of a row. Progress (the
// table, the last key read) is a note beside the checkpoint, saved once
// the chunk is durable in the log: a restart goes on from the last chunk
// done (a chunk done again publishes rows as of its new read, never older
// ones).
//
// DBLog assumes the read sees every transaction the log holds before the
// low watermark. PostgreSQL breaks that for a moment: a commit record
// enters the WAL before its transaction becomes visible, so a read can
// miss a transaction decoded just before the window. The read reports its
// snapshot, and such a chunk is read again (visibility.go). MariaDB and
// MySQL make commits visible in binlog order, so they need no check.
//
// From the request on, the table's changes carry
// ordering.Table.Backfilling, so followers apply them leniently while the
// rows arrive (an update of a row whose chunk has not come is applied by
// that chunk).

// ErrBackfillRefused is wrapped when a request for an incremental snapshot
// is refused (an unknown or uncaptured table, one without a primary key, a
// condition the server rejects, one already running): the error says why,
// and nothing changed.
var ErrBackfillRefused = errors.New("incremental snapshot refused")

// BackfillRequest asks a source for an incremental snapshot of tables
// ("schema.table"), of the rows matching Where (SQL of the source's
// engine) if set.
type BackfillRequest struct {
	Tables []string `json:"tables"`
	Where  string   `json:"where,omitempty"`
	// DeleteUnseen: each chunk also deletes the follower's rows in its
	// key range that the source no longer has (ordering.OpPrune), so a
	// follower holding rows its source lost is repaired too. It needs
	// keys of integers or uuids (PruneKind), and no Where.
	DeleteUnseen bool `json:"delete_unseen,omitempty"`
	// All asks for every table the source captures (but its signal
	// table) instead of Tables. With DeleteUnseen, a table whose key
	// cannot bound a prune is read without one (Backfill.Unpruned)
	// instead of refusing the request.
	All bool `json:"all,omitempty"`
	// ChunkRows is the rows of each chunk (Debezium's
	// incremental.snapshot.chunk.size); 0: BackfillChunkRows. Smaller
	// chunks hold the stream's changes of the window for less time;
	// larger ones read a big table with fewer round trips.
	ChunkRows int `json:"chunk_rows,omitempty"`
	// ID, when set (a signal's), names the snapshot: a request whose ID
	// is already recorded is passed over (a signal decoded again after a
	// restart).
	ID string `json:"-"`
}

// Backfill is an incremental snapshot's progress, kept in a note.
type Backfill struct {
	ID     string   `json:"id"`
	Tables []string `json:"tables"`
	Where  string   `json:"where,omitempty"`
	// Table is the index in Tables of the table being read; LastKey the
	// text of the primary key of the last row read from it (none: from
	// its start).
	Table   int      `json:"table"`
	LastKey []string `json:"last_key,omitempty"`
	// DeleteUnseen is the request's; Unpruned the tables read without
	// a prune all the same (All).
	DeleteUnseen bool     `json:"delete_unseen,omitempty"`
	Unpruned     []string `json:"unpruned,omitempty"`
	// ChunkRows is the request's (0 in notes written before it existed:
	// BackfillChunkRows).
	ChunkRows int `json:"chunk_rows,omitempty"`
	// Rows counts the rows read, Chunks the chunks done; Estimate is the
	// catalog's estimate of the rows of all its tables.
	Rows     int64     `json:"rows"`
	Chunks   int64     `json:"chunks"`
	Estimate int64     `json:"estimate"`
	Started  time.Time `json:"started"`
	// Paused: an operator paused it; Cancelled: cancelled, to be ended
	// (its tables' changes made plain again) by the runner.
	Paused    bool `json:"paused,omitempty"`
	Cancelled bool `json:"cancelled,omitempty"`
}

// Backfill controls: what an operator can do to a running or waiting
// incremental snapshot.
const (
	BackfillPause  = "pause"
	BackfillResume = "resume"
	BackfillCancel = "cancel"
)

// Chunk is the rows of each of b's chunks.
func (b *Backfill) Chunk() int {
	if b.ChunkRows > 0 {
		return b.ChunkRows
	}
	return BackfillChunkRows
}

// Current is the table being read ("" once done).
func (b *Backfill) Current() string {
	if b.Table < len(b.Tables) {
		return b.Tables[b.Table]
	}
	return ""
}

// Prunes reports whether b deletes the rows not seen of table.
func (b *Backfill) Prunes(table string) bool {
	return b.DeleteUnseen && !slices.Contains(b.Unpruned, table)
}

// Reads reports whether the backfill has yet to read table.
func (b *Backfill) Reads(table string) bool {
	for _, t := range b.Tables[min(b.Table, len(b.Tables)):] {
		if t == table {
			return true
		}
	}
	return false
}

// BackfillStatus is a running incremental snapshot in Status.
type BackfillStatus struct {
	ID       string
	Tables   []string
	Table    string // being read
	Rows     int64
	Chunks   int64
	Estimate int64
	Started  time.Time
	Paused   bool
	// DeleteUnseen and Unpruned are the Backfill's.
	DeleteUnseen bool
	Unpruned     []string
}

// Status is b as Status shows it.
func (b *Backfill) Status() BackfillStatus {
	return BackfillStatus{ID: b.ID, Tables: append([]string(nil), b.Tables...), Table: b.Current(), Rows: b.Rows,
		Chunks: b.Chunks, Estimate: b.Estimate, Started: b.Started, Paused: b.Paused,
		DeleteUnseen: b.DeleteUnseen, Unpruned: slices.Clone(b.Unpruned)}
}

// ErrPruneKey is wrapped when a table's primary key is not one whose order
// every follower engine shares, which deleting rows not seen needs.
var ErrPruneKey = errors.New("deleting rows not seen needs a primary key of integers or uuids, whose order every follower engine shares")

// PruneKind reports whether a key column of kind k can bound the range of
// a prune (ordering.OpPrune): integers and uuids sort alike on every
// engine; text, decimals and times may not (collations, formats).
func PruneKind(k ordering.Kind) bool {
	return k == ordering.KindInt || k == ordering.KindUint || k == ordering.KindUUID
}

// CheckPruneRequest refuses a request that names no table, or names
// tables and asks for all, or deletes rows not seen with a condition (the
// follower cannot tell which of its rows the condition leaves out), or
// whose chunk_rows is out of range.
func CheckPruneRequest(req BackfillRequest) error {
	if req.All && len(req.Tables) > 0 {
		return fmt.Errorf("%w: name tables or ask for all of them, not both", ErrBackfillRefused)
	}
	if !req.All && len(req.Tables) == 0 {
		return fmt.Errorf("%w: no table named", ErrBackfillRefused)
	}
	if req.DeleteUnseen && req.Where != "" {
		return fmt.Errorf("%w: deleting rows not seen reads whole tables: it cannot be used with a condition (where)", ErrBackfillRefused)
	}
	if req.ChunkRows < 0 || req.ChunkRows > MaxBackfillChunkRows {
		return fmt.Errorf("%w: chunk_rows %d: want 1 to %d (0: %d)", ErrBackfillRefused, req.ChunkRows, MaxBackfillChunkRows, BackfillChunkRows)
	}
	return nil
}

// PruneKeyRefused is the refusal of deleting rows not seen in table,
// whose key column col is of the source's type typ.
func PruneKeyRefused(table, col, typ string) error {
	return fmt.Errorf("%w: %w: %s's key column %s is %s", ErrBackfillRefused, ErrPruneKey, table, col, typ)
}

// PruneHashed refuses deleting rows not seen in table when f hashes one
// of its key columns: the hashed values lose the key order a prune's
// range needs.
func PruneHashed(f ChangeFilter, table string, key []string) error {
	h, ok := f.(interface{ HashesKey(string, []string) bool })
	if ok && h.HashesKey(table, key) {
		return fmt.Errorf("%w: %w: %s's key is hashed (columns: hash), which loses its order", ErrBackfillRefused, ErrPruneKey, table)
	}
	return nil
}

// KeyOnly is row with every column but t's primary key NULL.
func KeyOnly(t *ordering.Table, row []ordering.Value) []ordering.Value {
	out := make([]ordering.Value, len(t.Columns))
	for _, k := range t.PrimaryKey {
		if i := t.ColumnIndex(k); i >= 0 && i < len(row) {
			out[i] = row[i]
		}
	}
	return out
}

// KeyFromText is the key row (KeyOnly) of the text of t's key values
// (BackfillEngine.ReadChunk's last key); nil for none.
func KeyFromText(t *ordering.Table, last []string) ([]ordering.Value, error) {
	if len(last) == 0 {
		return nil, nil
	}
	if len(last) != len(t.PrimaryKey) {
		return nil, fmt.Errorf("the last key read has %d values for %d key columns", len(last), len(t.PrimaryKey))
	}
	out := make([]ordering.Value, len(t.Columns))
	for n, k := range t.PrimaryKey {
		i := t.ColumnIndex(k)
		if i < 0 {
			return nil, fmt.Errorf("key column %s is not a column", k)
		}
		var err error
		switch t.Columns[i].Kind {
		case ordering.KindInt:
			var v int64
			v, err = strconv.ParseInt(last[n], 10, 64)
			out[i] = ordering.Int(v)
		case ordering.KindUint:
			var v uint64
			v, err = strconv.ParseUint(last[n], 10, 64)
			out[i] = ordering.Uint(v)
		case ordering.KindUUID:
			out[i] = ordering.UUID(strings.ToLower(last[n]))
		default:
			return nil, fmt.Errorf("%w: %s.%s's key column %s is %s", ErrPruneKey, t.Schema, t.Name, k, t.Columns[i].Type)
		}
		if err != nil {
			return nil, fmt.Errorf("key column %s: %w", k, err)
		}
	}
	return out, nil
}

// Window collects what the changes between a chunk's watermarks touched
// of its table.
type Window struct {
	Table string // schema.table
	keys  map[string]struct{}
	// all: a truncate of the table: no row of the chunk is current.
	all bool
	// Redo: a change the window could not see key by key (a transaction
	// streamed before its commit) touched the table: the chunk must be
	// read again.
	Redo bool
	// images, kept for a chunk that deletes rows not seen (NewPruneWindow):
	// the newest row of each key the window touched, nil once deleted.
	images map[string]windowImage
	// mark is how many transactions the stream had decoded at the low
	// watermark (BackfillStream.NoteCommit).
	mark uint64
}

type windowImage struct {
	t   *ordering.Table
	row []ordering.Value
}

// NewWindow opens a window on table ("schema.table").
func NewWindow(table string) *Window {
	return &Window{Table: table, keys: map[string]struct{}{}}
}

// NewPruneWindow opens a window on table that also keeps the newest row of
// each key it sees (Images).
func NewPruneWindow(table string) *Window {
	w := NewWindow(table)
	w.images = map[string]windowImage{}
	return w
}

// Images are the rows the window's changes left, in key text order,
// each with the shape it was decoded with (a key whose newest change
// deleted it is left out).
func (w *Window) Images() ([]*ordering.Table, [][]ordering.Value) {
	keys := make([]string, 0, len(w.images))
	for k, img := range w.images {
		if img.row != nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	ts, rows := make([]*ordering.Table, len(keys)), make([][]ordering.Value, len(keys))
	for i, k := range keys {
		ts[i], rows[i] = w.images[k].t, w.images[k].row
	}
	return ts, rows
}

// See records the keys ch touches, if it is a change of the window's
// table: those of its old and new rows (a key update touches both).
func (w *Window) See(ch *ordering.Change) {
	t := ch.Table
	if t.Schema+"."+t.Name != w.Table {
		return
	}
	if ch.Op == ordering.OpTruncate {
		w.all = true
		if w.images != nil {
			w.Redo = true // the rows after it are read again
		}
		return
	}
	if ch.Op == ordering.OpUpdate {
		for _, v := range ch.After {
			if v.IsUnchanged() {
				// Followers cannot write this row from the change alone
				// (a value left out, such as an unchanged TOAST value):
				// the chunk is read again rather than lose it.
				w.Redo = true
				return
			}
		}
	}
	for _, row := range [][]ordering.Value{ch.Before, ch.After} {
		if row != nil {
			if k, ok := RowKey(t, row); ok {
				w.keys[k] = struct{}{}
				if w.images != nil {
					// The old key of a key update and a deleted row are
					// gone; an inserted or updated row is as After holds.
					w.images[k] = windowImage{}
				}
			} else if w.images != nil {
				w.Redo = true // a row the window cannot place
			}
		}
	}
	if w.images != nil && ch.After != nil && ch.Op != ordering.OpDelete {
		if k, ok := RowKey(t, ch.After); ok {
			w.images[k] = windowImage{t: t, row: ch.After}
		}
	}
}

// Drop reports whether a chunk row with this key must be left out: a
// change in the window touched it, so the log holds a newer copy.
func (w *Window) Drop(key string) bool {
	if w.all {
		return true
	}
	_, ok := w.keys[key]
	return ok
}

// RowKey is the text of row's primary key, the same for a row decoded
// from the stream and from a read of the table; ok is false for a table
// without one, or a row that does not carry it.
func RowKey(t *ordering.Table, row []ordering.Value) (string, bool) {
	if len(t.PrimaryKey) == 0 {
		return "", false
	}
	var b strings.Builder
	for i, k := range t.PrimaryKey {
		c := t.ColumnIndex(k)
		if c < 0 || c >= len(row) || row[c].IsUnchanged() {
			return "", false
		}
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(row[c].Kind().String())
		b.WriteByte(':')
		b.WriteString(row[c].String())
	}
	return b.String(), true
}
