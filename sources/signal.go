package sources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Signals: a row inserted into a source's signal table (signal_table) is a
// request to the source, taken in log order, in the format of Debezium's
// signal table. Columns id, type and data (JSON):
//
//	execute-snapshot  {"data-collections": ["schema.table"], "type": "incremental",
//	                   "additional-conditions": [{"data-collection": "schema.table", "filter": "condition"}]}
//	pause-snapshot, resume-snapshot, stop-snapshot  (the running incremental snapshots)
//
// A request the source refuses is logged with the signal's id (the
// operator's name for the request, like the API's snapshot id) and why;
// never with the data's text, which a JSON error would quote.

// SignalWatermark is the type of the signal table's row that carries a
// MariaDB/MySQL source's watermarks: never a request, never published.
const SignalWatermark = "walship-watermark"

// Backfiller takes incremental snapshot requests.
type Backfiller interface {
	Backfill(ctx context.Context, req BackfillRequest) (string, error)
	ControlBackfill(ctx context.Context, id, action string) error
}

// ActOnSignal carries out one signal of source b (id, type, data).
func ActOnSignal(ctx context.Context, b Backfiller, running []BackfillStatus, id, kind, data string, log *slog.Logger) {
	log = log.With("signal", id, "type", kind)
	switch kind {
	case "execute-snapshot":
		var d struct {
			Collections []string `json:"data-collections"`
			Type        string   `json:"type"`
			Conditions  []struct {
				Collection string `json:"data-collection"`
				Filter     string `json:"filter"`
			} `json:"additional-conditions"`
		}
		if err := json.Unmarshal([]byte(data), &d); err != nil || len(d.Collections) == 0 {
			log.Warn("signal refused: data must be JSON with data-collections", "reason", jsonReason(err))
			return
		}
		if d.Type != "" && !strings.EqualFold(d.Type, "incremental") {
			log.Warn("signal refused: only incremental snapshots are taken", "snapshot_type", d.Type)
			return
		}
		req := BackfillRequest{Tables: d.Collections, ID: "sig-" + id}
		for _, c := range d.Conditions {
			if req.Where != "" && req.Where != c.Filter {
				log.Warn("signal refused: one filter for all the snapshot's tables (send one signal per table)")
				return
			}
			req.Where = c.Filter
		}
		got, err := b.Backfill(ctx, req)
		if err != nil {
			log.Warn("signal refused", "err", err)
			return
		}
		log.Info("incremental snapshot requested by signal", "id", got)
	case "pause-snapshot", "resume-snapshot", "stop-snapshot":
		action := map[string]string{"pause-snapshot": BackfillPause, "resume-snapshot": BackfillResume, "stop-snapshot": BackfillCancel}[kind]
		for _, r := range running {
			if err := b.ControlBackfill(ctx, r.ID, action); err != nil {
				log.Warn("signal not carried out", "id", r.ID, "err", err)
			}
		}
	default:
		log.Warn("signal of an unknown type passed over (execute-snapshot, pause-snapshot, resume-snapshot, stop-snapshot)")
	}
}

// jsonReason says why data is not the JSON a signal needs without quoting
// any of it (encoding/json's messages quote the offending bytes).
func jsonReason(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return "no data-collections"
	case errors.As(err, &syntax):
		return fmt.Sprintf("not JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("%s is not a %s", typ.Field, typ.Type)
	default:
		return "not a JSON object"
	}
}
