package preflight

import (
	"sort"
	"strings"

	"github.com/walship/walship/ordering/kafka"
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
	sort.Strings(clashes)
	for _, c := range clashes {
		r.problem(Config, "tables map to the same topic (Kafka allows letters, digits, '.', '_' and '-' in a topic name; walship writes '_' for the rest): %s; exclude or rename one", c)
	}
}
