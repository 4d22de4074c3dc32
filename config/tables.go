package config

import "path"

// MatchTable reports whether schema.table matches one of the table
// patterns of a source's tables list (or replay --tables): each pattern is
// schema.table with each part a glob (path.Match: * is any run of
// characters). The parts match on their own, so "a*.b" never matches
// schema "ax.y" with table "b" by spanning the dot; a pattern whose schema
// contains a dot is tried at every dot.
func MatchTable(patterns []string, schema, table string) bool {
	for _, p := range patterns {
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
