package mysql

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/walship/walship/offsets"
)

// A RENAME TABLE is a query event; the table's next shapes carry the old
// name (ordering.Table.RenamedFrom) so that sinks rename their follower
// table. A restart between the RENAME and the table's first row would
// lose that (the checkpoint may pass the query event with nothing
// published), so the pending renames are a note kept beside the
// checkpoint: saved when the RENAME is decoded, before its position can be
// checkpointed. A rename stays in the note after the shape that carried it
// was published, until the checkpoint holds that transaction; loaded again
// before then, the next shape carries it once more, which a sink whose
// follower table has the new name already ignores.

// renamesNote names the note: JSON, new "schema.table" -> renameNote.
const renamesNote = "renames"

// renameNote is one rename: the table's name before it, and the GTID of
// the transaction whose shape carried it ("" while none did).
type renameNote struct {
	From string `json:"from"`
	Used string `json:"used,omitempty"`
}

// notes is implemented by a checkpoint store that keeps notes beside the
// checkpoint (offsets.Store). Without it, renames are kept for the
// session only.
type notes interface {
	SaveNote(ctx context.Context, source, name string, value []byte) error
	LoadNote(ctx context.Context, source, name string) ([]byte, error)
}

// loadRenames starts the session with the renames of the note.
func (r *session) loadRenames(ctx context.Context) error {
	r.renamed, r.renameNotes = map[string]string{}, map[string]renameNote{}
	n, ok := r.src.store.(notes)
	if !ok {
		return nil
	}
	b, err := n.LoadNote(ctx, r.cfg().Name, renamesNote)
	if err != nil || b == nil {
		return err
	}
	if err := json.Unmarshal(b, &r.renameNotes); err != nil {
		return fmt.Errorf("source %s: the renames kept with the checkpoint: %w", r.cfg().Name, err)
	}
	for to, rn := range r.renameNotes {
		r.renamed[to] = rn.From
		rn.Used = ""
		r.renameNotes[to] = rn
	}
	return nil
}

// saveRenames records the renames not yet known to be in the log.
func (r *session) saveRenames(ctx context.Context) error {
	n, ok := r.src.store.(notes)
	if !ok {
		return nil
	}
	b, err := json.Marshal(r.renameNotes)
	if err != nil {
		return err
	}
	if err := n.SaveNote(ctx, r.cfg().Name, renamesNote, b); err != nil {
		return fmt.Errorf("source %s: %w", r.cfg().Name, err)
	}
	return nil
}

// renameUsed records that the transaction being decoded carries the
// rename of table to.
func (r *session) renameUsed(to string) {
	if rn, ok := r.renameNotes[to]; ok {
		rn.Used = r.curGTID
		r.renameNotes[to] = rn
	}
}

// pruneRenames forgets the renames whose carrying transaction checkpoint
// position cp holds.
func (r *session) pruneRenames(ctx context.Context, cp offsets.Position) error {
	pruned := false
	for to, rn := range r.renameNotes {
		if rn.Used == "" {
			continue
		}
		g, err := offsets.ParseGTIDSet(cp.GTIDs.Flavor(), rn.Used)
		if err != nil || !cp.GTIDs.Contains(g) {
			continue
		}
		delete(r.renameNotes, to)
		pruned = true
	}
	if !pruned {
		return nil
	}
	return r.saveRenames(ctx)
}
