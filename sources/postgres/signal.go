package postgres

import (
	"context"
	"time"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sources"
)

// Signals (Config.SignalTable): a row inserted into the signal table is a
// request to the source, taken once its transaction is decoded, in WAL
// order, like Debezium's signal table. Columns id, type and data (JSON):
//
//	execute-snapshot  {"data-collections": ["public.orders"], "additional-conditions":
//	                   [{"data-collection": "public.orders", "filter": "id > 1000"}]}
//	pause-snapshot, resume-snapshot, stop-snapshot  (the running incremental snapshots)
//
// A request the source refuses is logged with the signal's id and why; the
// stream goes on. The signal rows themselves are captured like any row.

// signal is a decoded signal row.
type signal struct{ id, kind, data string }

// seeSignal notes ch if it is an insert into the signal table (decoder,
// outside a streamed transaction); commit acts on it.
func (r *session) seeSignal(rel *relation, ch *ordering.Change) {
	if ch.Op != ordering.OpInsert || r.inStream || rel.table.Schema+"."+rel.table.Name != r.cfg().SignalTable {
		return
	}
	col := func(name string) string {
		if i := rel.table.ColumnIndex(name); i >= 0 && i < len(ch.After) && !ch.After[i].IsNull() {
			return ch.After[i].String()
		}
		return ""
	}
	r.signals = append(r.signals, signal{id: col("id"), kind: col("type"), data: col("data")})
}

// actOnSignals takes the signals of the transaction just committed.
func (r *session) actOnSignals() {
	sigs := r.signals
	r.signals = nil
	for _, sig := range sigs {
		go r.src.actOnSignal(sig)
	}
}

// actOnSignal carries out one signal (on its own goroutine: a request
// reads the catalog).
func (s *Source) actOnSignal(sig signal) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sources.ActOnSignal(ctx, s, s.bfs.Status(), sig.id, sig.kind, sig.data, s.log)
}
