package mysql

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/supervise"
)

// seqScheme is how a run derives each transaction's Seq.Pos:
//
//   - binlog (the zero value): the binlog file index and end offset
//     (offsets.BinlogSeqPos). It orders one server's binlog only: another
//     server (a promoted replica) numbers its files differently, and a
//     RESET MASTER restarts them. MySQL sources always use it (a MySQL
//     GTID uuid:N is numbered per server).
//   - gtid (MariaDB): the sequence number N of the transaction's GTID
//     domain-server-N in one domain (offsets.GTIDSeqPos). With one domain,
//     N increases across the whole replication topology, also after a
//     replica is promoted, and the snapshot's chunks take the N of its
//     consistent point.
//
// The scheme is decided once per run, before anything is published, and
// recorded with the checkpoint (offsets.Checkpoint.SeqScheme).
type seqScheme struct {
	gtid   bool
	domain uint32
}

// String is the form kept in the checkpoint: "" or "gtid:D".
func (s seqScheme) String() string {
	if !s.gtid {
		return ""
	}
	return "gtid:" + strconv.FormatUint(uint64(s.domain), 10)
}

// describe is the human form, for logs and errors.
func (s seqScheme) describe() string {
	if !s.gtid {
		return "binlog file index and offset"
	}
	return fmt.Sprintf("GTID sequence numbers of domain %d", s.domain)
}

func parseSeqScheme(str string) (seqScheme, error) {
	if str == "" {
		return seqScheme{}, nil
	}
	d, ok := strings.CutPrefix(str, "gtid:")
	n, err := strconv.ParseUint(d, 10, 32)
	if !ok || err != nil {
		return seqScheme{}, fmt.Errorf("%w: sequence scheme %q in the checkpoint", offsets.ErrMalformed, str)
	}
	return seqScheme{gtid: true, domain: uint32(n)}, nil
}

// schemesUsed is implemented by a checkpoint store that remembers the
// sequence scheme of a source whose checkpoint was deleted
// (offsets.Store). A store without it (tests' own) does not.
type schemesUsed interface {
	SeqSchemeUsed(ctx context.Context, source string) (string, error)
}

// schemeStart is what the scheme of a run is decided from.
type schemeStart struct {
	mariadb bool
	// have, cp: the checkpoint found at start.
	have bool
	cp   offsets.Checkpoint
	// used: the scheme saved with an earlier checkpoint of the source,
	// also one deleted since (a rebuild): the log may hold its Seqs.
	used string
	// snapshot: the run starts with a (new or redone) snapshot.
	snapshot bool
	// domains of the server's gtid_binlog_pos at start (domain → N), and
	// its gtid_domain_id, followed when the binlog holds no GTID yet.
	domains      map[uint32]uint64
	serverDomain uint32
}

// chooseScheme decides the run's scheme, and says why.
//
// A Seq must not change for a transaction the log may already hold: a
// re-sent transaction with another Seq is applied twice. So a source
// keeps the scheme its checkpoint records, and switches from binlog to
// gtid only where nothing can be re-sent under the old one: a start
// without a checkpoint, a start with a snapshot (whose chunks and stream
// sort above everything before), or a start from a Clean checkpoint (saved
// at a graceful stop with nothing in the log beyond it). A source never
// switches from gtid back to binlog, also not after its checkpoint was
// deleted (used): binlog Seqs sort below GTID ones, and sinks would drop
// them as applied.
//
// gtid needs one GTID domain: the N of different domains are not ordered
// with each other. A server whose binlog holds several domains keeps (or
// gets) binlog, with a warning: such a source does not survive a change of
// server. A checkpoint already in gtid keeps it, and the stream stops at a
// captured change of another domain (ErrGTIDDomain).
func chooseScheme(s schemeStart) (seqScheme, string, error) {
	if !s.mariadb {
		return seqScheme{}, "MySQL GTIDs are numbered per server", nil
	}
	if !s.have && s.used != "" {
		used, err := parseSeqScheme(s.used)
		if err != nil {
			return seqScheme{}, "", supervise.Permanent(err)
		}
		if used.gtid {
			return used, "used before the checkpoint was deleted: the log may hold its sequence numbers, and binlog sequences would sort below them", nil
		}
	}
	if s.have {
		rec, err := parseSeqScheme(s.cp.SeqScheme)
		if err != nil {
			return seqScheme{}, "", supervise.Permanent(err)
		}
		if rec.gtid {
			return rec, "recorded with the checkpoint", nil
		}
		if !s.snapshot && !s.cp.Clean {
			return seqScheme{}, "the checkpoint was not saved at a graceful stop: transactions after it may be sent again, and keep their binlog sequence; the next start after a graceful stop switches to GTID sequence numbers", nil
		}
	}
	switch len(s.domains) {
	case 0:
		return seqScheme{gtid: true, domain: s.serverDomain}, "the binlog holds no GTID yet: the server's gtid_domain_id", nil
	case 1:
		for d := range s.domains {
			return seqScheme{gtid: true, domain: d}, "the binlog's only GTID domain", nil
		}
	}
	return seqScheme{}, fmt.Sprintf("the binlog holds several GTID domains (%s), whose sequence numbers are not ordered with each other: the sequence will not survive a change of server", domainList(s.domains)), nil
}

func domainList(domains map[uint32]uint64) string {
	var parts []string
	for _, d := range slices.Sorted(maps.Keys(domains)) {
		parts = append(parts, strconv.FormatUint(uint64(d), 10))
	}
	return strings.Join(parts, ", ")
}

// snapshotBase is the Seq.Pos of a snapshot's chunks at pos, the
// consistent point: under gtid the N of the followed domain in its GTID
// set (0 when the domain has none yet), so the stream after it sorts
// after the chunks.
func (s seqScheme) snapshotBase(pos offsets.Position) (uint64, error) {
	if !s.gtid {
		return offsets.BinlogSeqPos(pos.Binlog)
	}
	return offsets.GTIDSeqPos(pos.GTIDs.Domains()[s.domain])
}

// streamSeq is the Seq of the transaction that ends at p: under gtid, its
// GTID's N (from its GTID event: gtidOK says there was one; without, the
// zero Seq, which checkGTIDOrder refuses to publish).
func (s seqScheme) streamSeq(p offsets.Position, n uint64, gtidOK bool) (offsets.Seq, error) {
	var pos uint64
	var err error
	if s.gtid {
		if !gtidOK {
			return offsets.Seq{}, nil
		}
		pos, err = offsets.GTIDSeqPos(n)
	} else {
		pos, err = offsets.BinlogSeqPos(p.Binlog)
	}
	return offsets.Seq{Pos: pos, Sub: offsets.StreamSub}, err
}

// checkGTIDOrder is called, under gtid, for each transaction about to be
// published: it must be of the followed domain and sort after the last
// one published (or the checkpoint). Either failure is permanent: a
// restart meets the same binlog.
func (r *session) checkGTIDOrder(seq offsets.Seq, at offsets.Position) error {
	if !r.curHasGTID {
		return fmt.Errorf("source %s: transaction ending at binlog %s had no MariaDB GTID event to take its sequence from", r.cfg().Name, at.Binlog)
	}
	if r.curDomain != r.scheme.domain {
		return supervise.Permanent(fmt.Errorf("source %s: %w: transaction %s (binlog %s) changed captured tables in GTID domain %d, and this source orders its transactions by the GTID sequence numbers of domain %d, which are not ordered with another domain's; the source stops here on every start. If that write was a one-off, rebuild the followers from a snapshot taken after it (walship replay --resnapshot), which keeps this sequence, and write to the captured tables in domain %d only. To capture several domains for good, rebuild every follower of this source from a new snapshot under a new source name, which takes the binlog file sequence while the binlog holds several domains (that sequence does not survive a change of server)",
			r.cfg().Name, ErrGTIDDomain, r.curGTID, at.Binlog, r.curDomain, r.scheme.domain, r.scheme.domain))
	}
	if !r.lastSeq.Less(seq) {
		return supervise.Permanent(fmt.Errorf("source %s: %w: transaction %s (binlog %s) has a GTID sequence number not above the last one published (seq %s): sinks would drop it as applied. Turn on gtid_strict_mode on every server of the topology, then rebuild every follower of this source from a new snapshot under a new source name",
			r.cfg().Name, ErrGTIDOrder, r.curGTID, at.Binlog, r.lastSeq))
	}
	r.lastSeq = seq
	return nil
}

// binlogSeqBackwards is the stop of a source under binlog whose
// transaction to publish sorts at or below its checkpoint: the binlog
// files were numbered anew (another server, or RESET MASTER). Before, the
// source dropped such transactions as durable; sinks would have too.
func (r *session) binlogSeqBackwards(seq offsets.Seq, at offsets.Position) error {
	return supervise.Permanent(fmt.Errorf("source %s: %w: transaction %s at binlog %s has seq %s, not above the checkpoint's %s (at %s): the server numbers its binlog files anew (another server, a promoted replica, or RESET MASTER), and this source orders by binlog file and offset, so sinks would drop it as applied. Rebuild the followers from a new snapshot (walship replay --resnapshot), which orders by GTID sequence numbers on a MariaDB binlog with one GTID domain",
		r.cfg().Name, ErrSeqBackwards, r.curGTID, at.Binlog, seq, r.saved, r.savedPos))
}
