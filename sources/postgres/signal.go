package postgres

import (
	"context"
	"encoding/json"
	"strings"
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
	log := s.log.With("signal", sig.id, "type", sig.kind)
	switch sig.kind {
	case "execute-snapshot":
		var d struct {
			Collections []string `json:"data-collections"`
			Type        string   `json:"type"`
			Conditions  []struct {
				Collection string `json:"data-collection"`
				Filter     string `json:"filter"`
			} `json:"additional-conditions"`
		}
		if err := json.Unmarshal([]byte(sig.data), &d); err != nil || len(d.Collections) == 0 {
			log.Warn("signal refused: data must be JSON with data-collections", "err", err)
			return
		}
		if d.Type != "" && !strings.EqualFold(d.Type, "incremental") {
			log.Warn("signal refused: only incremental snapshots are taken", "snapshot_type", d.Type)
			return
		}
		req := sources.BackfillRequest{Tables: d.Collections, ID: "sig-" + sig.id}
		for _, c := range d.Conditions {
			if req.Where != "" && req.Where != c.Filter {
				log.Warn("signal refused: one filter for all the snapshot's tables (send one signal per table)")
				return
			}
			req.Where = c.Filter
		}
		id, err := s.Backfill(ctx, req)
		if err != nil {
			log.Warn("signal refused", "err", err)
			return
		}
		log.Info("incremental snapshot requested by signal", "id", id)
	case "pause-snapshot", "resume-snapshot", "stop-snapshot":
		action := map[string]string{"pause-snapshot": sources.BackfillPause, "resume-snapshot": sources.BackfillResume,
			"stop-snapshot": sources.BackfillCancel}[sig.kind]
		for _, b := range s.backfillStatus() {
			if err := s.ControlBackfill(ctx, b.ID, action); err != nil {
				log.Warn("signal not carried out", "id", b.ID, "err", err)
			}
		}
	default:
		log.Warn("signal of an unknown type passed over (execute-snapshot, pause-snapshot, resume-snapshot, stop-snapshot)")
	}
}
