package preflight

import (
	"slices"
	"sort"
	"strings"

	"github.com/walship/walship/config"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sinks/sqlsink"
)

// topicCollisions reports the captured tables (schema, table pairs) whose
// topics coincide: their names differ only in characters Kafka does not
// allow, which become '_', so the log would mix their rows. The source
// stops on them too (kafka.ErrTopicCollision); check names them first.
func topicCollisions(r *Result, tables [][2]string) {
	byTopic := map[string][]string{}
	for _, t := range tables {
		topic := kafka.TopicName("", t[0], t[1])
		byTopic[topic] = append(byTopic[topic], `"`+t[0]+`"."`+t[1]+`"`)
	}
	var clashes []string
	for topic, names := range byTopic {
		if len(names) > 1 {
			clashes = append(clashes, strings.Join(names, " and ")+" → <prefix>"+topic)
		}
	}
	r.captured = tables
	sort.Strings(clashes)
	for _, c := range clashes {
		r.problem(Config, "tables map to the same topic (Kafka allows letters, digits, '.', '_' and '-' in a topic name; walship writes '_' for the rest): %s; exclude or rename one", c)
	}
}

// unmatchedPatterns notes each pattern that matches none of tables (a
// typo, or tables still to be created) and returns how many tables the
// patterns match in all.
func unmatchedPatterns(r *Result, key string, patterns []string, tables [][2]string) int {
	total := 0
	for _, t := range tables {
		if config.MatchTable(patterns, t[0], t[1]) {
			total++
		}
	}
	for i, p := range patterns {
		found := false
		for _, t := range tables {
			if config.MatchTable([]string{p}, t[0], t[1]) {
				found = true
				break
			}
		}
		if !found {
			r.note("%s.tables[%d] %q matches no table now", key, i, p)
		}
	}
	return total
}

// reservedTargets reports, on a source's result, each captured table that
// a sink of that source would write into walship's own positions tables
// (the sink stops on it): by its name, unless tables.rename maps it, with
// tables.prefix.
func reservedTargets(r *Result, source string, sinks []config.Sink) {
	for _, sk := range sinks {
		if !slices.Contains(sk.From, source) {
			continue
		}
		engine := sk.Engine()
		for _, t := range r.captured {
			n := sqlsink.Name{Table: sk.Tables.Prefix + t[1]}
			if engine == "postgres" {
				n.Schema = t[0]
			}
			if to, ok := sk.Tables.Rename[t[0]+"."+t[1]]; ok {
				n.Table = to
				if s, tbl, ok := strings.Cut(to, "."); ok {
					n.Table = tbl
					if engine == "postgres" {
						n.Schema = s
					}
				}
			}
			if sqlsink.IsMeta(engine, n) {
				r.problem(Config, "sink %s would write captured table %q.%q into %s, walship's own positions table: map it to another name (the sink's tables.rename or tables.prefix)",
					sk.Name, t[0], t[1], n)
			}
		}
	}
}
