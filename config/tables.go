package config

import (
	"path"
	"strings"
)

// MatchTable reports whether schema.table matches one of the table
// patterns of a source's tables list (or replay --tables): each pattern is
// schema.table with each part a glob (path.Match: * is any run of
// characters). The parts match on their own, so "a*.b" never matches
// schema "ax.y" with table "b" by spanning the dot; a pattern whose schema
// contains a dot is tried at every dot.
//
// walship's own tables on a follower (OwnTable) match only a pattern that
// names them without wildcards: a follower that is itself a source does not
// capture its positions through "public.*".
func MatchTable(patterns []string, schema, table string) bool {
	own := OwnTable(schema, table)
	for _, p := range patterns {
		if own && strings.ContainsAny(p, `*?[\`) {
			continue
		}
		for i := 0; i < len(p); i++ {
			if p[i] != '.' {
				continue
			}
			ms, _ := path.Match(p[:i], schema)
			mt, _ := path.Match(p[i+1:], table)
			if ms && mt {
				return true
			}
		}
	}
	return false
}

// OwnTable reports whether schema.table is one of the tables walship keeps
// on its followers (sinks/sqlsink.MetaNames, MetaShapes, MetaIndexes):
// positions, applied, shapes, indexes and conflicts in the schema walship
// on PostgreSQL, the same names prefixed _walship_ on MySQL and SQLite. Names compare without regard to
// case.
func OwnTable(schema, table string) bool {
	switch strings.ToLower(table) {
	case "_walship_positions", "_walship_applied", "_walship_shapes", "_walship_indexes", "_walship_conflicts":
		return true
	case "positions", "applied", "shapes", "indexes", "conflicts":
		return strings.EqualFold(schema, "walship")
	}
	return false
}
