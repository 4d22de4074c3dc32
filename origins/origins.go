package origins

import (
	"hash/fnv"
	"strconv"
	"strings"
)

// pgPrefix starts the replication origins of walship's sinks.
const pgPrefix = "walship_"

// PGName is the replication origin of a session of sink: slot tells the
// sink's sessions apart.
func PGName(sink string, slot int) string {
	return pgPrefix + sink + "_" + strconv.Itoa(slot)
}

// PGMatcher returns whether a replication origin is one of sinks'
// sessions.
func PGMatcher(sinks []string) func(origin string) bool {
	prefixes := make([]string, len(sinks))
	for i, s := range sinks {
		prefixes[i] = pgPrefix + s + "_"
	}
	return func(origin string) bool {
		for _, p := range prefixes {
			rest, ok := strings.CutPrefix(origin, p)
			if ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
				return true
			}
		}
		return false
	}
}

// ServerID is the server_id a MySQL or MariaDB sink writes with:
// configured when set, otherwise one derived from the sink's name, from
// 3000000000 up (far from the small ids servers are usually given).
func ServerID(sink string, configured uint32) uint32 {
	if configured != 0 {
		return configured
	}
	h := fnv.New32a()
	h.Write([]byte(sink))
	return 3_000_000_000 + h.Sum32()%1_000_000_000
}
