package mysql

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/walship/walship/offsets"
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
	return supervise.Permanent(fmt.Errorf("source %s: %w: the server at %s lacks %s, which walship already shipped to the log (its "+
		"gtid_binlog_state is %q). It is not the leader walship followed, or a replica promoted without them (lost in asynchronous "+
		"replication): followers that applied them are ahead of it. Point the source back at a server that holds them, or rebuild "+
		"the followers from this one (walship replay --resnapshot); durability: semisync keeps a replica from missing what walship ships",
		cfg.Name, ErrLeaderBehind, cfg.Addr, strings.Join(missing, ", "), state))
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
