package sources

import (
	"errors"
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

// Current is the table being read ("" once done).
func (b *Backfill) Current() string {
	if b.Table < len(b.Tables) {
		return b.Tables[b.Table]
	}
	return ""
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
}

// Status is b as Status shows it.
func (b *Backfill) Status() BackfillStatus {
	return BackfillStatus{ID: b.ID, Tables: append([]string(nil), b.Tables...), Table: b.Current(), Rows: b.Rows,
		Chunks: b.Chunks, Estimate: b.Estimate, Started: b.Started, Paused: b.Paused}
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
}

// NewWindow opens a window on table ("schema.table").
func NewWindow(table string) *Window {
	return &Window{Table: table, keys: map[string]struct{}{}}
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
			}
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
