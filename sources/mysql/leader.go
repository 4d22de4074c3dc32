package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/sources"
	"github.com/walship/walship/supervise"
)

// Before it streams from a checkpoint, a MariaDB source checks that the
// server holds every GTID walship already shipped: the checkpoint's, and
// the newest END the log holds (which a crash may have left past the
// checkpoint). A server that lacks one is not the leader walship followed,
// or a replica promoted without a transaction that asynchronous
// replication lost: followers that applied it are ahead of it, and its own
// later transactions could reuse the lost one's sequence number (which
// the followers would then drop as a duplicate). The source stops
// (ErrLeaderBehind) naming the missing GTIDs. The check reads
// gtid_binlog_state, which holds the last GTID of every domain and server
// id in the server's binlog history. MySQL's server-UUID GTIDs are not
// checked yet.

// ErrLeaderBehind: the server lacks transactions walship already shipped.
// Permanent.
var ErrLeaderBehind = errors.New("the server lacks transactions walship already shipped")

// shippedLog is a log that can say the newest position it holds
// (kafka.Publisher).
type shippedLog interface {
	LastShipped(ctx context.Context, source string) (offsets.Position, bool, error)
}

// checkLeaderHolds stops the source when the server lacks a GTID of the
// checkpoint cp or of the newest transaction in the log.
func (r *session) checkLeaderHolds(ctx context.Context, cp offsets.Position) error {
	cfg := r.cfg()
	if cfg.Flavor != "mariadb" {
		return nil
	}
	positions := []offsets.Position{cp}
	if l, ok := r.out.(shippedLog); ok {
		pos, found, err := l.LastShipped(ctx, cfg.Name)
		if err != nil {
			return fmt.Errorf("source %s: read what the log holds: %w", cfg.Name, err)
		}
		if found {
			positions = append(positions, pos)
		}
	}
	var shipped []string
	for _, p := range positions {
		if p.GTID != "" {
			shipped = append(shipped, p.GTID)
		}
		if s := p.GTIDs.String(); s != "" {
			shipped = append(shipped, strings.Split(s, ",")...)
		}
	}
	if len(shipped) == 0 {
		return nil
	}
	var state string
	if err := r.db.QueryRowContext(ctx, "SELECT @@gtid_binlog_state").Scan(&state); err != nil {
		return fmt.Errorf("source %s: read gtid_binlog_state: %w", cfg.Name, err)
	}
	missing, err := missingGTIDs(state, shipped)
	if err != nil {
		return fmt.Errorf("source %s: %w", cfg.Name, err)
	}
	if len(missing) == 0 {
		return nil
	}
	ahead := "followers that applied them are ahead of it"
	if cfg.FollowersAhead != nil {
		if names := cfg.FollowersAhead(missing); len(names) > 0 {
			ahead = "followers ahead of it, which applied them: " + strings.Join(names, ", ")
		} else {
			ahead = "no follower of this daemon reports them applied yet (the log holds them: a follower that applies them, or one whose position was not read yet, is ahead of it)"
		}
	}
	return supervise.Permanent(fmt.Errorf("source %s: %w: the server at %s lacks %s, which walship already shipped to the log (its "+
		"gtid_binlog_state is %q). It is not the leader walship followed, or a replica promoted without them (lost in asynchronous "+
		"replication): %s. Point the source back at a server that holds them, or rebuild "+
		"the followers from this one (walship replay --resnapshot)",
		cfg.Name, ErrLeaderBehind, r.src.addr, strings.Join(missing, ", "), state, ahead))
}

// HeldGTIDs returns those of gtids (MariaDB "domain-server-seq") that
// positions cover: a GTID, or a GTID set, of the same domain and server id
// with a sequence number at least as high. A follower's applied position
// that holds one of a new leader's missing GTIDs is ahead of that leader.
func HeldGTIDs(positions []offsets.Position, gtids []string) ([]string, error) {
	var state []string
	for _, p := range positions {
		if p.GTID != "" {
			state = append(state, p.GTID)
		}
		if s := p.GTIDs.String(); s != "" {
			state = append(state, s)
		}
	}
	if len(state) == 0 {
		return nil, nil
	}
	missing, err := missingGTIDs(strings.Join(state, ","), gtids)
	if err != nil {
		return nil, err
	}
	var held []string
	for _, g := range gtids {
		if !slices.Contains(missing, strings.TrimSpace(g)) {
			held = append(held, g)
		}
	}
	return held, nil
}

// missingGTIDs returns the GTIDs of shipped ("domain-server-seq") that the
// server's gtid_binlog_state does not cover: no GTID of the same domain
// and server id with a sequence number at least as high.
func missingGTIDs(state string, shipped []string) ([]string, error) {
	have := map[[2]uint32]uint64{}
	for _, s := range strings.Split(state, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		g, err := gomysql.ParseMariadbGTID(s)
		if err != nil {
			return nil, fmt.Errorf("gtid_binlog_state %q: %w", state, err)
		}
		k := [2]uint32{g.DomainID, g.ServerID}
		have[k] = max(have[k], g.SequenceNumber)
	}
	seen := map[string]bool{}
	var missing []string
	for _, s := range shipped {
		if s = strings.TrimSpace(s); s == "" || seen[s] {
			continue
		}
		seen[s] = true
		g, err := gomysql.ParseMariadbGTID(s)
		if err != nil {
			return nil, fmt.Errorf("shipped GTID %q: %w", s, err)
		}
		if n, ok := have[[2]uint32{g.DomainID, g.ServerID}]; !ok || n < g.SequenceNumber {
			missing = append(missing, s)
		}
	}
	sort.Strings(missing)
	return missing, nil
}

// OpenLeader opens the server a source streams from among addrs (host:port,
// in order): the only one, or else the first that is a primary
// (IsPrimary); with fromReplica, the first that is not a primary (a
// replica, stream_from: replica), and only when none answers the first
// primary (the replica promoted). open connects to one address and checks
// that it answers. With several addresses, one that does not answer is
// passed over; the error names every address tried.
func OpenLeader(ctx context.Context, addrs []string, flavor string, fromReplica bool, open func(addr string) (*sql.DB, error)) (string, *sql.DB, error) {
	if len(addrs) == 1 {
		db, err := open(addrs[0])
		return addrs[0], db, err
	}
	var why []string
	firstPrimary := -1
	var primaryDB *sql.DB
	for i, a := range addrs {
		db, err := open(a)
		if err != nil {
			why = append(why, fmt.Sprintf("%s: %v", a, err))
			continue
		}
		primary, err := IsPrimary(ctx, db, flavor)
		switch {
		case err != nil:
			why = append(why, fmt.Sprintf("%s: %v", a, err))
		case primary && !fromReplica:
			return a, db, nil
		case !primary && fromReplica:
			if primaryDB != nil {
				primaryDB.Close()
			}
			return a, db, nil
		case primary && firstPrimary < 0:
			firstPrimary, primaryDB = i, db
			continue
		case primary:
			why = append(why, a+": a primary too")
		default:
			why = append(why, a+": not a primary (read_only, or replicating)")
		}
		db.Close()
	}
	if primaryDB != nil {
		return addrs[firstPrimary], primaryDB, nil
	}
	return "", nil, fmt.Errorf("%w: %s", ErrNoPrimary, strings.Join(why, "; "))
}

// ErrNoPrimary: none of a source's addresses is a primary (yet: a failover
// may be under way). Retryable.
var ErrNoPrimary = errors.New("no primary among the source's addresses")

// IsPrimary reports whether the server takes writes as a leader: not
// read_only, and replicating from no one (a replica promoted by hand has
// its replication stopped and reset).
func IsPrimary(ctx context.Context, db *sql.DB, flavor string) (bool, error) {
	var readOnly bool
	if err := db.QueryRowContext(ctx, "SELECT @@global.read_only").Scan(&readOnly); err != nil {
		return false, fmt.Errorf("read read_only: %w", err)
	}
	if readOnly {
		return false, nil
	}
	q := "SHOW REPLICA STATUS"
	if flavor == "mariadb" {
		q = "SHOW ALL SLAVES STATUS"
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return false, fmt.Errorf("%s: %w", q, err)
	}
	defer rows.Close()
	for rows.Next() {
		row, err := namedRow(rows)
		if err != nil {
			return false, err
		}
		for _, c := range []string{"Slave_IO_Running", "Slave_SQL_Running", "Replica_IO_Running", "Replica_SQL_Running"} {
			if row[c] == "Yes" || row[c] == "Connecting" {
				return false, nil
			}
		}
	}
	return true, rows.Err()
}

// leaderNoteName names the note of the server the source last streamed
// from: its server_id, to count failovers.
const leaderNoteName = "leader"

// noteLeader shows the server in the status, and counts a failover when
// its server_id is not the one noted.
func (s *Source) noteLeader(ctx context.Context, db *sql.DB, addr string) error {
	var id uint32
	if err := db.QueryRowContext(ctx, "SELECT @@server_id").Scan(&id); err != nil {
		return fmt.Errorf("source %s: read server_id: %w", s.cfg.Name, err)
	}
	s.update(func(st *sources.Status) { st.Leader = fmt.Sprintf("%s (server_id %d)", addr, id) })
	n, ok := s.store.(notes)
	if !ok {
		return nil
	}
	b, err := n.LoadNote(ctx, s.cfg.Name, leaderNoteName)
	if err != nil {
		return fmt.Errorf("source %s: read the leader note: %w", s.cfg.Name, err)
	}
	now := strconv.FormatUint(uint64(id), 10)
	if string(b) == now {
		return nil
	}
	if b != nil {
		s.log.Info("streaming from another server than last time: a new leader", "addr", addr, "server_id", id, "previous_server_id", string(b))
		s.update(func(st *sources.Status) { st.Failovers, st.LastFailover = st.Failovers+1, time.Now() })
	}
	if err := n.SaveNote(ctx, s.cfg.Name, leaderNoteName, []byte(now)); err != nil {
		return fmt.Errorf("source %s: save the leader note: %w", s.cfg.Name, err)
	}
	return nil
}
