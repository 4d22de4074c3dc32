package cluster

import (
	"context"
	"encoding/json"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Hand-over of a component that moves between live members. The member
// that ran it stops it when the generation that moves it begins, then
// writes its release into the state topic (key "release/<component>"); the
// member it moved to waits for a release of that generation or a later
// one before it starts the component, for at most the rebalance timeout.
// Past that (the old member froze, or cannot reach Kafka), it starts
// anyway: the fencing of doc.go keeps the old one from writing.

// releaseKey is the state topic's key of component's releases.
func releaseKey(component string) string { return "release/" + component }

// releaseRecord is a release's value.
type releaseRecord struct {
	Generation int32     `json:"generation"`
	Member     string    `json:"member"`
	At         time.Time `json:"at"`
}

// releaseWait is how often a member that waits for a release reads the
// state topic again.
const releaseWait = 100 * time.Millisecond

// release writes component's release for generation gen once its run
// under g stopped.
func (m *Member) release(ctx context.Context, component string, g *grant, gen int32) {
	g.mu.Lock()
	started := g.started
	g.mu.Unlock()
	if started {
		select {
		case <-g.stopped:
		case <-ctx.Done():
			return
		}
	}
	b, err := json.Marshal(releaseRecord{Generation: gen, Member: m.cfg.Member, At: time.Now().UTC()})
	if err != nil {
		return
	}
	client := &kafkago.Client{Addr: kafkago.TCP(m.cfg.Brokers...), Transport: m.cfg.Transport, Timeout: 10 * time.Second}
	if err := produceState(ctx, client, m.cfg, kafkago.Record{Key: kafkago.NewBytes([]byte(releaseKey(component))), Value: kafkago.NewBytes(b)}); err != nil {
		m.log.Warn("cluster: the release of a component that moved could not be written; its next member starts it after the rebalance timeout", "component", component, "generation", gen, "err", err)
		return
	}
	m.log.Info("cluster: component released", "component", component, "generation", gen)
}

// awaitRelease waits until component's last member released it for
// generation gen or a later one, ctx ends, or the rebalance timeout
// passes.
func (m *Member) awaitRelease(ctx context.Context, component string, gen int32) {
	t0 := time.Now()
	deadline := time.After(m.cfg.RebalanceTimeout)
	from := int64(-1)
	for {
		recs, next, err := readState(ctx, m.cfg, from)
		if err == nil {
			from = next
			for _, r := range recs {
				var v releaseRecord
				if r.key == releaseKey(component) && r.value != nil && json.Unmarshal(r.value, &v) == nil && v.Generation >= gen {
					m.log.Info("cluster: component handed over", "component", component, "generation", gen, "from", v.Member, "waited", time.Since(t0).Round(time.Millisecond))
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-deadline:
			m.log.Warn("cluster: no release of a component that moved within the rebalance timeout; starting it, its last member fenced", "component", component, "generation", gen, "timeout", m.cfg.RebalanceTimeout)
			return
		case <-time.After(releaseWait):
		}
	}
}
