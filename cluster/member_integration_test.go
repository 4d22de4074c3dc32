package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/walship/walship/internal/testenv"
)

// ledger records which members run each component, and any overlap.
type ledger struct {
	mu       sync.Mutex
	running  map[string][]string
	starts   map[string]int
	overlaps []string
}

func (l *ledger) run(member, comp string) func(ctx context.Context, ready func()) error {
	return func(ctx context.Context, ready func()) error {
		l.mu.Lock()
		if len(l.running[comp]) > 0 {
			l.overlaps = append(l.overlaps, fmt.Sprintf("%s on %s while on %v", comp, member, l.running[comp]))
		}
		l.running[comp] = append(l.running[comp], member)
		if l.starts == nil {
			l.starts = map[string]int{}
		}
		l.starts[comp]++
		l.mu.Unlock()
		<-ctx.Done()
		l.mu.Lock()
		l.running[comp] = slices.DeleteFunc(l.running[comp], func(m string) bool { return m == member })
		l.mu.Unlock()
		return nil
	}
}

func (l *ledger) startCounts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for c, n := range l.starts {
		out[c] = n
	}
	return out
}

func (l *ledger) owners() map[string][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string][]string{}
	for c, ms := range l.running {
		out[c] = slices.Clone(ms)
	}
	return out
}

// testMember runs a member of cluster name with every component recorded
// in l, until stop.
func testMember(t *testing.T, name, member string, comps []string, l *ledger) (stop func()) {
	broker := testenv.Kafka(t)
	cfg := Config{Name: name, Member: member, Components: comps, Brokers: []string{broker},
		Dialer: &kafkago.Dialer{Timeout: 10 * time.Second}, Transport: &kafkago.Transport{},
		SessionTimeout: 6 * time.Second, HeartbeatInterval: 500 * time.Millisecond, RebalanceTimeout: 5 * time.Second}
	m := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := m.Run(ctx, func() {}); err != nil {
			t.Errorf("%s: %v", member, err)
		}
	})
	for _, c := range comps {
		run := m.Owned(c, nil, l.run(member, c))
		wg.Go(func() { run(ctx, func() {}) })
	}
	return func() { cancel(); wg.Wait() }
}

// settled waits until every component runs on exactly one member and the
// members run want components each (sorted shares).
func settled(t *testing.T, l *ledger, comps []string, want []int) map[string][]string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		own := l.owners()
		per := map[string]int{}
		ok := true
		for _, c := range comps {
			if len(own[c]) != 1 {
				ok = false
				break
			}
			per[own[c][0]]++
		}
		var shares []int
		for _, n := range per {
			shares = append(shares, n)
		}
		slices.Sort(shares)
		if ok && slices.Equal(shares, want) {
			return own
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled on shares %v: %v", want, own)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestMembersShareComponentsExactlyOnce: members join and leave one by
// one; after each change every component runs on exactly one member, the
// shares differ by at most one, a component never runs on two members at
// once, and components move only when they must: one that stays on its
// member keeps running through the rebalance, never restarted.
func TestMembersShareComponentsExactlyOnce(t *testing.T) {
	testenv.Integration(t)
	name := fmt.Sprintf("test%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	defer testenv.DropTopics(t, ControlTopic(name))
	comps := []string{"sink/a", "sink/b", "sink/c", "sink/d", "source/x"}
	l := &ledger{running: map[string][]string{}}
	stopA := testMember(t, name, "a", comps, l)
	settled(t, l, comps, []int{5})
	stopB := testMember(t, name, "b", comps, l)
	two := settled(t, l, comps, []int{2, 3})
	startsTwo := l.startCounts()
	stopC := testMember(t, name, "c", comps, l)
	three := settled(t, l, comps, []int{1, 2, 2})
	startsThree := l.startCounts()
	moved := 0
	for _, c := range comps {
		if two[c][0] != three[c][0] {
			moved++
		} else if startsThree[c] != startsTwo[c] {
			t.Errorf("%s stayed on %s when c joined, and was restarted (%d starts, then %d)", c, two[c][0], startsTwo[c], startsThree[c])
		}
	}
	if moved > 2 {
		t.Errorf("c joined and %d components moved (it takes 2 at most): %v then %v", moved, two, three)
	}
	stopB()
	after := settled(t, l, comps, []int{2, 3})
	startsAfter := l.startCounts()
	for _, c := range comps {
		if three[c][0] != "b" && after[c][0] == three[c][0] && startsAfter[c] != startsThree[c] {
			t.Errorf("%s stayed on %s when b left, and was restarted", c, three[c][0])
		}
	}
	stopA()
	stopC()
	if len(l.overlaps) > 0 {
		t.Errorf("components ran on two members at once: %v", l.overlaps)
	}
}

// TestClustersApart: two clusters with other names on one Kafka each run
// every component: they do not see each other.
func TestClustersApart(t *testing.T) {
	testenv.Integration(t)
	base := fmt.Sprintf("test%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	comps := []string{"sink/a", "source/x"}
	l1, l2 := &ledger{running: map[string][]string{}}, &ledger{running: map[string][]string{}}
	defer testenv.DropTopics(t, ControlTopic(base))
	stop1 := testMember(t, base+"_one", "m", comps, l1)
	defer stop1()
	stop2 := testMember(t, base+"_two", "m", comps, l2)
	defer stop2()
	settled(t, l1, comps, []int{2})
	settled(t, l2, comps, []int{2})
	if !strings.HasPrefix(GroupID(base+"_one"), "walship.cluster.") || GroupID(base+"_one") == GroupID(base+"_two") {
		t.Errorf("group ids %s %s", GroupID(base+"_one"), GroupID(base+"_two"))
	}
}
