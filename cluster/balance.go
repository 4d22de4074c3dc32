package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"

	kafkago "github.com/segmentio/kafka-go"
)

// memberMeta is what a member tells the group when it joins (the group
// protocol's user data): who it is, the components its configuration has
// (as a fingerprint), and what it ran in the last generation, so the
// assignment can leave components where they are.
type memberMeta struct {
	Member      string   `json:"member"`
	Advertise   string   `json:"advertise,omitempty"`
	Fingerprint string   `json:"fingerprint"`
	Owned       []string `json:"owned,omitempty"`
}

// Fingerprint identifies a cluster's set of components: members whose
// configurations name other components get none of them.
func Fingerprint(cluster string, components []string) string {
	c := slices.Clone(components)
	slices.Sort(c)
	sum := sha256.Sum256([]byte(cluster + "\n" + strings.Join(c, "\n")))
	return hex.EncodeToString(sum[:8])
}

// joined is one member as the leader sees it.
type joined struct {
	id   string
	meta memberMeta
}

// assign gives each component to exactly one member and returns, by
// member id, the components of each (every member present, with none if
// it gets none). Only members with the fingerprint most of them share
// (ties: the one of the lowest member id) get components. It is sticky
// and balanced: each member keeps what it owned, up to its fair share
// (the component count divided by the members, rounded up for as many
// members as the division leaves over), and what is left goes to the
// members with the fewest. The result depends only on its inputs, so any
// leader computes the same.
func assign(components []string, members []joined) map[string][]string {
	out := make(map[string][]string, len(members))
	for _, m := range members {
		out[m.id] = nil
	}
	members = slices.Clone(members)
	slices.SortFunc(members, func(a, b joined) int { return strings.Compare(a.id, b.id) })
	count := map[string]int{}
	for _, m := range members {
		count[m.meta.Fingerprint]++
	}
	best := ""
	for _, m := range members {
		if best == "" || count[m.meta.Fingerprint] > count[best] {
			best = m.meta.Fingerprint
		}
	}
	var eligible []joined
	for _, m := range members {
		if m.meta.Fingerprint == best {
			eligible = append(eligible, m)
		}
	}
	if len(eligible) == 0 || len(components) == 0 {
		return out
	}
	floor, extra := len(components)/len(eligible), len(components)%len(eligible)
	owner := make(map[string]string, len(components))
	known := make(map[string]bool, len(components))
	for _, c := range components {
		known[c] = true
	}
	atCeil := 0
	keep := func(m joined, limit int) {
		for _, c := range m.meta.Owned {
			if len(out[m.id]) >= limit {
				return
			}
			if known[c] && owner[c] == "" {
				owner[c] = m.id
				out[m.id] = append(out[m.id], c)
			}
		}
	}
	for _, m := range eligible {
		keep(m, floor)
	}
	for _, m := range eligible {
		if atCeil < extra && len(out[m.id]) == floor {
			keep(m, floor+1)
			if len(out[m.id]) > floor {
				atCeil++
			}
		}
	}
	for _, c := range components {
		if owner[c] != "" {
			continue
		}
		var to *joined
		for i := range eligible {
			m := &eligible[i]
			n := len(out[m.id])
			if n > floor || n == floor && atCeil >= extra {
				continue
			}
			if to == nil || n < len(out[to.id]) {
				to = m
			}
		}
		if to == nil {
			break // cannot happen: the shares add up to the components
		}
		if len(out[to.id]) == floor {
			atCeil++
		}
		owner[c] = to.id
		out[to.id] = append(out[to.id], c)
	}
	for id := range out {
		slices.SortFunc(out[id], func(a, b string) int { return slices.Index(components, a) - slices.Index(components, b) })
	}
	return out
}

// balancer is the group's assignor: components are the control topic's
// partitions, component i on partition i.
type balancer struct {
	topic      string
	components []string
	meta       func() memberMeta
}

func (b balancer) ProtocolName() string { return "walship-components-v1" }

func (b balancer) UserData() ([]byte, error) { return json.Marshal(b.meta()) }

func (b balancer) AssignGroups(members []kafkago.GroupMember, partitions []kafkago.Partition) kafkago.GroupMemberAssignments {
	js := make([]joined, 0, len(members))
	for _, m := range members {
		j := joined{id: m.ID}
		if json.Unmarshal(m.UserData, &j.meta) != nil {
			j.meta = memberMeta{} // an unreadable member gets nothing
		}
		js = append(js, j)
	}
	// Only components whose partition exists can be handed out; the
	// member that creates the topic makes one per component.
	have := map[int]bool{}
	for _, p := range partitions {
		if p.Topic == b.topic {
			have[p.ID] = true
		}
	}
	var comps []string
	for i, c := range b.components {
		if have[i] {
			comps = append(comps, c)
		}
	}
	out := kafkago.GroupMemberAssignments{}
	for id, cs := range assign(comps, js) {
		parts := []int{}
		for _, c := range cs {
			parts = append(parts, slices.Index(b.components, c))
		}
		out[id] = map[string][]int{b.topic: parts}
	}
	return out
}
