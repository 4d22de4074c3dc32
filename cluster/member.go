package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Config is one member's view of its cluster.
type Config struct {
	// Name is the cluster's name: its group and topics are named after it.
	Name string
	// Member and Advertise name this member in the status (Advertise: its
	// HTTP address).
	Member, Advertise string
	// Components are every component of the configuration, "source/NAME"
	// and "sink/NAME": the same on every member.
	Components []string
	// Brokers, Dialer and Transport reach Kafka (TLS and SASL included).
	Brokers   []string
	Dialer    *kafkago.Dialer
	Transport *kafkago.Transport
	// ReplicationFactor of the topics the cluster creates.
	ReplicationFactor int
	// The group's timing (config.Cluster).
	SessionTimeout, HeartbeatInterval, RebalanceTimeout time.Duration
}

// GroupID is the Kafka consumer group of cluster name.
func GroupID(name string) string { return "walship.cluster." + name }

// ControlTopic is the topic whose partitions stand for the components of
// cluster name (nothing is written to it).
func ControlTopic(name string) string { return "_walship.cluster." + name }

// StateTopic is the compacted topic that holds the sources' checkpoints
// of cluster name (Mirror).
func StateTopic(name string) string { return "_walship.cluster." + name + ".state" }

// Member is this daemon's membership. Run joins the group; Owned wraps
// each component so that it runs only while this member owns it.
type Member struct {
	cfg  Config
	fp   string
	log  *slog.Logger
	self string // the group's id of this member, once joined

	mu      sync.Mutex
	gen     int32
	grants  map[string]*grant // this generation's components
	owned   []string          // the last generation's, for the next join
	changed chan struct{}     // closed and replaced when grants change
	joined  time.Time
	// lapse is closed when the next generation begins; it is set while
	// the member rejoins with its components still running (suspend).
	lapse chan struct{}

	view   Status
	viewAt time.Time
}

// grant is the ownership of one component for one generation.
type grant struct {
	gen    atomic.Int32
	ctx    context.Context
	cancel context.CancelFunc
	// running is closed when the component stops running under this
	// grant (or never ran).
	mu      sync.Mutex
	started bool
	stopped chan struct{}
	// after, when set, is waited for before the component starts: the
	// member that ran it last generation lets it go (awaitRelease).
	after func(ctx context.Context)
	// suspended: the generation ended and the member has not joined the
	// next one (guarded by Member.mu). The component runs on, but one that
	// fails is not started again under this grant: the group may have
	// gone on without this member, and a restart would take the
	// component back from its new owner (sinks end their predecessor's
	// session).
	suspended bool
}

// New returns the member of cfg; Run joins.
func New(cfg Config, log *slog.Logger) *Member {
	if cfg.Member == "" {
		host, _ := os.Hostname()
		cfg.Member = host + "-" + strconv.Itoa(os.Getpid())
	}
	return &Member{cfg: cfg, fp: Fingerprint(cfg.Name, cfg.Components), log: log,
		grants: map[string]*grant{}, changed: make(chan struct{})}
}

// Name is this member's name.
func (m *Member) Name() string { return m.cfg.Member }

func (m *Member) meta() memberMeta {
	m.mu.Lock()
	defer m.mu.Unlock()
	return memberMeta{Member: m.cfg.Member, Advertise: m.cfg.Advertise, Fingerprint: m.fp, Owned: slices.Clone(m.owned)}
}

// Run is the membership: it makes the cluster's topics, joins the group and
// grants this member its components generation after generation, until
// ctx ends. A generation's end does not stop the components: the member
// rejoins with them running, and the next generation keeps those it gives
// this member again, when no other generation came between (the generation
// ids follow on), and stops the others; a component that moves starts on
// its new member once the old one let it go (its release in the state
// topic), or after the rebalance timeout. A member that cannot rejoin
// within the session timeout stops them all, since the group has then
// gone on without it.
func (m *Member) Run(ctx context.Context, ready func()) error {
	if err := m.ensureTopics(ctx); err != nil {
		return err
	}
	topic := ControlTopic(m.cfg.Name)
	cg, err := kafkago.NewConsumerGroup(kafkago.ConsumerGroupConfig{
		ID: GroupID(m.cfg.Name), Brokers: m.cfg.Brokers, Dialer: m.cfg.Dialer, Topics: []string{topic},
		GroupBalancers:    []kafkago.GroupBalancer{balancer{topic: topic, components: m.cfg.Components, meta: m.meta}},
		HeartbeatInterval: m.cfg.HeartbeatInterval, SessionTimeout: m.cfg.SessionTimeout,
		RebalanceTimeout: m.cfg.RebalanceTimeout, JoinGroupBackoff: time.Second,
		// Nothing is consumed: the partitions only stand for components.
		WatchPartitionChanges: true, PartitionWatchInterval: 5 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("cluster %s: %w", m.cfg.Name, err)
	}
	defer cg.Close()
	ready()
	for {
		gen, err := cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafkago.ErrGroupClosed) {
				// A stop: the components stop before the member leaves the
				// group (deferred), so none runs here once another member
				// may start it.
				m.revoke()
				return nil
			}
			m.log.Warn("cluster: joining the group failed; retrying", "cluster", m.cfg.Name, "err", err)
			continue
		}
		var comps []string
		for _, p := range gen.Assignments[topic] {
			if p.ID >= 0 && p.ID < len(m.cfg.Components) {
				comps = append(comps, m.cfg.Components[p.ID])
			}
		}
		m.grant(ctx, gen.ID, gen.MemberID, comps, m.heldByOthers(ctx, gen.MemberID))
		gen.Start(func(gctx context.Context) {
			<-gctx.Done()
			m.suspend(ctx)
		})
	}
}

// heldByOthers are the components the other members of the generation
// just joined ran when they joined (nil when the group cannot be read:
// fencing covers a start that overlaps).
func (m *Member) heldByOthers(ctx context.Context, self string) map[string]bool {
	client := &kafkago.Client{Addr: kafkago.TCP(m.cfg.Brokers...), Transport: m.cfg.Transport, Timeout: 5 * time.Second}
	resp, err := client.DescribeGroups(ctx, &kafkago.DescribeGroupsRequest{GroupIDs: []string{GroupID(m.cfg.Name)}})
	if err == nil && len(resp.Groups) == 1 && resp.Groups[0].Error != nil {
		err = resp.Groups[0].Error
	}
	if err != nil || len(resp.Groups) != 1 {
		m.log.Warn("cluster: the group's members could not be read; components that move start without waiting for their last member", "cluster", m.cfg.Name, "err", err)
		return nil
	}
	held := map[string]bool{}
	for _, gm := range resp.Groups[0].Members {
		if gm.MemberID == self {
			continue
		}
		var meta memberMeta
		if json.Unmarshal(gm.MemberMetadata.UserData, &meta) == nil {
			for _, c := range meta.Owned {
				held[c] = true
			}
		}
	}
	return held
}

// suspend is a generation's end: the components run on while the member
// rejoins, for at most the session timeout; past it the group has gone on
// without this member, so every component stops.
func (m *Member) suspend(ctx context.Context) {
	m.mu.Lock()
	lapse := make(chan struct{})
	m.lapse = lapse
	for _, g := range m.grants {
		g.suspended = true
	}
	m.mu.Unlock()
	go func() {
		select {
		case <-lapse:
		case <-ctx.Done():
		case <-time.After(m.cfg.SessionTimeout):
			m.log.Warn("cluster: not back in the group within the session timeout; stopping every component", "cluster", m.cfg.Name, "member", m.cfg.Member)
			m.revoke()
		}
	}()
}

// grant starts generation gen: comps are this member's, held the
// components other members ran when they joined. Grants of the generation
// before are kept for the components this one gives again when gen
// follows it directly; the others are cancelled, and each writes its
// release once its component stopped.
func (m *Member) grant(ctx context.Context, gen int32, self string, comps []string, held map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lapse != nil {
		close(m.lapse)
		m.lapse = nil
	}
	// The same member id in the generation right after its last: no other
	// generation came between, and the group did not drop this member.
	continuous := m.gen != 0 && gen == m.gen+1 && self == m.self
	mine := map[string]bool{}
	for _, c := range comps {
		mine[c] = true
	}
	var kept []string
	for c, g := range m.grants {
		if continuous && mine[c] && g.ctx.Err() == nil {
			g.gen.Store(gen)
			g.suspended = false
			kept = append(kept, c)
			continue
		}
		delete(m.grants, c)
		g.cancel()
		go m.release(ctx, c, g, gen)
	}
	m.gen, m.self, m.owned, m.joined = gen, self, comps, time.Now()
	for _, c := range comps {
		if m.grants[c] != nil {
			continue
		}
		gctx, cancel := context.WithCancel(context.Background())
		g := &grant{ctx: gctx, cancel: cancel, stopped: make(chan struct{})}
		g.gen.Store(gen)
		if held[c] {
			g.after = func(ctx context.Context) { m.awaitRelease(ctx, c, gen) }
		}
		m.grants[c] = g
	}
	close(m.changed)
	m.changed = make(chan struct{})
	m.viewAt = time.Time{}
	m.log.Info("cluster: generation joined", "cluster", m.cfg.Name, "member", m.cfg.Member, "generation", gen, "components", comps, "kept_running", len(kept))
}

// revoke ends the generation: every grant is cancelled, and it returns once
// every component stopped, or after the rebalance timeout (a component
// that ignores its context is logged: the member then misses the
// rebalance and rejoins as a new member once it stops).
func (m *Member) revoke() {
	m.mu.Lock()
	grants := m.grants
	m.grants = map[string]*grant{}
	m.owned = nil
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()
	for _, g := range grants {
		g.cancel()
	}
	deadline := time.After(m.cfg.RebalanceTimeout)
	for c, g := range grants {
		g.mu.Lock()
		started := g.started
		g.mu.Unlock()
		if !started {
			continue
		}
		select {
		case <-g.stopped:
		case <-deadline:
			m.log.Error("cluster: a component did not stop within the rebalance timeout; waiting for it", "component", c, "timeout", m.cfg.RebalanceTimeout)
			<-g.stopped
		}
	}
}

// Owned wraps the component's run so that it runs only while this member
// owns it: it waits for a grant, runs under the grant's context (cancelled
// the moment the generation ends), and waits again after. An error while
// owned is returned (the supervisor restarts it, and it waits for a grant
// again). claim, when set, runs first under each new grant (a source takes
// over its checkpoint, Mirror.Claim). Waiting counts as running.
func (m *Member) Owned(component string, claim func(ctx context.Context) error, run func(ctx context.Context, ready func()) error) func(ctx context.Context, ready func()) error {
	return func(ctx context.Context, ready func()) error {
		ready()
		for {
			g, err := m.await(ctx, component)
			if err != nil {
				return nil // ctx is done
			}
			gctx, stop := context.WithCancel(g.ctx)
			go func() {
				select {
				case <-ctx.Done():
				case <-gctx.Done():
				}
				stop()
			}()
			err = nil
			if g.after != nil {
				g.after(gctx)
			}
			if claim != nil && gctx.Err() == nil {
				err = claim(gctx)
			}
			if err == nil && gctx.Err() == nil {
				m.log.Info("cluster: running component", "component", component, "generation", g.gen.Load())
				err = run(gctx, func() {})
			}
			stop()
			lost := g.ctx.Err() != nil
			g.mu.Lock()
			close(g.stopped)
			g.mu.Unlock()
			if ctx.Err() != nil {
				return err
			}
			if lost {
				m.log.Info("cluster: component stopped: no longer this member's", "component", component, "generation", g.gen.Load())
				continue
			}
			// A failure while owned: the supervisor retries, and the next
			// attempt runs under the same grant if it still holds.
			m.mu.Lock()
			if m.grants[component] == g {
				if g.suspended {
					// Between generations: the next one decides, and grants
					// it afresh (a source claims its state again).
					delete(m.grants, component)
					g.cancel()
				} else {
					again := &grant{ctx: g.ctx, cancel: g.cancel, stopped: make(chan struct{})}
					again.gen.Store(g.gen.Load())
					m.grants[component] = again
					// The retry runs under the same grant: no other member
					// can hold the component meanwhile, so it waits for no
					// release.
				}
			}
			m.mu.Unlock()
			return err
		}
	}
}

// await returns the grant of component once this member has one, marked
// started.
func (m *Member) await(ctx context.Context, component string) (*grant, error) {
	for {
		m.mu.Lock()
		g := m.grants[component]
		ch := m.changed
		if g != nil && g.ctx.Err() == nil {
			g.mu.Lock()
			if !g.started {
				g.started = true
				g.mu.Unlock()
				m.mu.Unlock()
				return g, nil
			}
			g.mu.Unlock()
		}
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}

// ensureTopics makes the control topic (a partition per component, more
// when the configuration grew) and the state topic (compacted).
func (m *Member) ensureTopics(ctx context.Context) error {
	client := &kafkago.Client{Addr: kafkago.TCP(m.cfg.Brokers...), Transport: m.cfg.Transport, Timeout: 30 * time.Second}
	rf := max(m.cfg.ReplicationFactor, 1)
	ctl, state := ControlTopic(m.cfg.Name), StateTopic(m.cfg.Name)
	resp, err := client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{
		{Topic: ctl, NumPartitions: max(len(m.cfg.Components), 1), ReplicationFactor: rf},
		{Topic: state, NumPartitions: 1, ReplicationFactor: rf, ConfigEntries: []kafkago.ConfigEntry{
			{ConfigName: "cleanup.policy", ConfigValue: "compact"},
		}},
	}})
	if err != nil {
		return fmt.Errorf("cluster %s: create topics: %w", m.cfg.Name, err)
	}
	for _, t := range []string{ctl, state} {
		if err := resp.Errors[t]; err != nil && !errors.Is(err, kafkago.TopicAlreadyExists) {
			return fmt.Errorf("cluster %s: create topic %s: %w", m.cfg.Name, t, err)
		}
	}
	meta, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{ctl}})
	if err != nil {
		return fmt.Errorf("cluster %s: metadata of %s: %w", m.cfg.Name, ctl, err)
	}
	for _, t := range meta.Topics {
		if t.Name == ctl && len(t.Partitions) < len(m.cfg.Components) {
			r, err := client.CreatePartitions(ctx, &kafkago.CreatePartitionsRequest{Topics: []kafkago.TopicPartitionsConfig{{Name: ctl, Count: int32(len(m.cfg.Components))}}})
			if err == nil && r.Errors[ctl] != nil {
				err = r.Errors[ctl]
			}
			if err != nil {
				return fmt.Errorf("cluster %s: grow %s to %d partitions: %w", m.cfg.Name, ctl, len(m.cfg.Components), err)
			}
		}
	}
	return nil
}

// Status is the cluster as one member sees it.
type Status struct {
	Name string `json:"name"`
	// Member is the member that answered, Generation its generation.
	Member     string `json:"member"`
	Generation int32  `json:"generation"`
	// Members are every member of the group, Owners each component's
	// member ("" while none runs it).
	Members []MemberStatus    `json:"members"`
	Owners  map[string]string `json:"owners"`
	// Error says why the members could not be listed (Members is then
	// this member alone).
	Error string `json:"error,omitempty"`
}

// MemberStatus is one member.
type MemberStatus struct {
	Member     string   `json:"member"`
	Advertise  string   `json:"advertise,omitempty"`
	ID         string   `json:"id"`
	Components []string `json:"components"`
	// Mismatch: its configuration names other components, so it runs
	// none.
	Mismatch bool `json:"config_mismatch,omitempty"`
	Self     bool `json:"self,omitempty"`
}

// Status describes the group (cached for a second).
func (m *Member) Status(ctx context.Context) Status {
	m.mu.Lock()
	if !m.viewAt.IsZero() && time.Since(m.viewAt) < time.Second {
		v := m.view
		m.mu.Unlock()
		return v
	}
	st := Status{Name: m.cfg.Name, Member: m.cfg.Member, Generation: m.gen, Owners: map[string]string{}}
	self := MemberStatus{Member: m.cfg.Member, Advertise: m.cfg.Advertise, ID: m.self, Components: slices.Clone(m.owned), Self: true}
	m.mu.Unlock()
	for _, c := range m.cfg.Components {
		st.Owners[c] = ""
	}
	client := &kafkago.Client{Addr: kafkago.TCP(m.cfg.Brokers...), Transport: m.cfg.Transport, Timeout: 5 * time.Second}
	resp, err := client.DescribeGroups(ctx, &kafkago.DescribeGroupsRequest{GroupIDs: []string{GroupID(m.cfg.Name)}})
	if err == nil && len(resp.Groups) == 1 && resp.Groups[0].Error != nil {
		err = resp.Groups[0].Error
	}
	if err != nil || len(resp.Groups) != 1 {
		if err == nil {
			err = errors.New("the group is not known to Kafka")
		}
		st.Error = err.Error()
		st.Members = []MemberStatus{self}
		for _, c := range self.Components {
			st.Owners[c] = self.Member
		}
		return st
	}
	for _, gm := range resp.Groups[0].Members {
		var meta memberMeta
		json.Unmarshal(gm.MemberMetadata.UserData, &meta)
		ms := MemberStatus{Member: meta.Member, Advertise: meta.Advertise, ID: gm.MemberID, Components: []string{},
			Mismatch: meta.Fingerprint != m.fp, Self: gm.MemberID == self.ID}
		if ms.Member == "" {
			ms.Member = gm.ClientHost
		}
		for _, t := range gm.MemberAssignments.Topics {
			if t.Topic != ControlTopic(m.cfg.Name) {
				continue
			}
			for _, p := range t.Partitions {
				if p >= 0 && p < len(m.cfg.Components) {
					c := m.cfg.Components[p]
					ms.Components = append(ms.Components, c)
					st.Owners[c] = ms.Member
				}
			}
		}
		st.Members = append(st.Members, ms)
	}
	slices.SortFunc(st.Members, func(a, b MemberStatus) int {
		if a.Member != b.Member {
			if a.Member < b.Member {
				return -1
			}
			return 1
		}
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	m.mu.Lock()
	m.view, m.viewAt = st, time.Now()
	m.mu.Unlock()
	return st
}
