package mysql

import (
	"fmt"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/supervise"
)

// A snapshot's chunks are numbered in Seq.Sub from its first chunk. The
// high byte of Sub is the attempt at one binlog position (the generation),
// the low 24 bits the chunk within the attempt.
const (
	chunkGeneration = 1 << 24
	// maxGeneration keeps every chunk's Sub below offsets.StreamSub.
	maxGeneration = offsets.StreamSub/chunkGeneration - 1
)

// firstChunk is the Sub of the first chunk of a snapshot at base (the
// Seq.Pos of its position: binlog file and offset, or GTID sequence
// number, seqScheme.snapshotBase). prev is the checkpoint found at start,
// if any. An unfinished attempt under the binlog scheme sorts below any
// redo under the GTID scheme (offsets.GTIDSeqBit).
//
// An unfinished snapshot leaves its start marker in the checkpoint store
// (SnapshotDone false, Seq its first chunk). Its chunks may be on the
// followers: sinks skip every transaction at or below the one they
// applied, so the redo's chunks must sort above all of them. A redo at a
// later binlog position does so by Pos. One at the same position (nothing
// was written to the binlog in between) starts a new generation, after
// every chunk the unfinished attempt could have numbered. (walship replay
// --from snapshot starts at the newest chunk numbered 0: for such a redo,
// the unfinished attempt's first chunk, which the redo's truncates then
// clear.)
func firstChunk(prev offsets.Checkpoint, havePrev bool, base uint64) (uint32, error) {
	if !havePrev || prev.SnapshotDone {
		return 0, nil
	}
	switch {
	case prev.Seq.Pos < base:
		return 0, nil
	case prev.Seq.Pos > base:
		return 0, supervise.Permanent(fmt.Errorf("%w: the source position (seq %016X) is below the one the unfinished snapshot started at (%s): the server's binlogs or GTID state were reset or it is another server, so sinks would skip the new snapshot as already applied; rebuild the followers: walship replay --resnapshot",
			ErrSnapshotRedo, base, prev.Seq))
	}
	gen := prev.Seq.Sub/chunkGeneration + 1
	if gen > maxGeneration {
		return 0, fmt.Errorf("%w: %d unfinished attempts at seq %016X; the next one starts once anything is written to the server's binlog",
			ErrSnapshotRedo, gen, base)
	}
	return gen * chunkGeneration, nil
}
