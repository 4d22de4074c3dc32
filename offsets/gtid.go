package offsets

import (
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// Flavor of a GTID set.
type Flavor string

// The GTID flavors.
const (
	FlavorMySQL   Flavor = "mysql"
	FlavorMariaDB Flavor = "mariadb"
)

// GTIDSet is a set of executed global transaction ids. The zero value is the
// empty set of no flavor.
type GTIDSet struct {
	flavor Flavor
	set    mysql.GTIDSet
}

// ParseGTIDSet parses a MySQL ("uuid:1-5,uuid2:7") or MariaDB
// ("0-1-42,1-2-7") GTID set. The empty string is the empty set.
func ParseGTIDSet(flavor Flavor, s string) (GTIDSet, error) {
	if flavor != FlavorMySQL && flavor != FlavorMariaDB {
		return GTIDSet{}, fmt.Errorf("%w: unknown GTID flavor %q", ErrMalformed, flavor)
	}
	set, err := mysql.ParseGTIDSet(string(flavor), s)
	if err != nil {
		return GTIDSet{}, fmt.Errorf("%w: %s GTID set %q: %v", ErrMalformed, flavor, s, err)
	}
	return GTIDSet{flavor: flavor, set: set}, nil
}

// Flavor reports the set's flavor.
func (g GTIDSet) Flavor() Flavor { return g.flavor }

// IsEmpty reports whether the set holds no transaction.
func (g GTIDSet) IsEmpty() bool { return g.set == nil || g.set.IsEmpty() }

// String is the server's canonical text form.
func (g GTIDSet) String() string {
	if g.set == nil {
		return ""
	}
	return g.set.String()
}

// Contains reports whether every transaction of o is in g. Sets of
// different flavors never contain each other; the empty set is contained
// in every set.
func (g GTIDSet) Contains(o GTIDSet) bool {
	if o.IsEmpty() {
		return true
	}
	if g.IsEmpty() || g.flavor != o.flavor {
		return false
	}
	return g.set.Contain(o.set)
}

// Equal reports whether both sets hold the same transactions.
func (g GTIDSet) Equal(o GTIDSet) bool {
	if g.IsEmpty() || o.IsEmpty() {
		return g.IsEmpty() == o.IsEmpty()
	}
	return g.flavor == o.flavor && g.set.Equal(o.set)
}

// Native returns the go-mysql set for the binlog protocol; callers must not
// modify it.
func (g GTIDSet) Native() mysql.GTIDSet { return g.set }

// Domains returns, for a MariaDB set, the sequence number of the last
// transaction of each GTID domain it holds (domain-server-seq: domain →
// seq). It is nil for a MySQL set and empty for the empty set.
func (g GTIDSet) Domains() map[uint32]uint64 {
	m, ok := g.set.(*mysql.MariadbGTIDSet)
	if g.flavor != FlavorMariaDB || !ok {
		return nil
	}
	out := make(map[uint32]uint64, len(m.Sets))
	for d, gtid := range m.Sets {
		out[d] = gtid.SequenceNumber
	}
	return out
}
