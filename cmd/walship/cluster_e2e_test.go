package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/walship/walship/client"
	"github.com/walship/walship/httpapi"
	"github.com/walship/walship/internal/faultproxy"
	"github.com/walship/walship/internal/testenv"
)

// clusterMember is one daemon of a test cluster.
type clusterMember struct {
	name, cfg, dir, addr string
	cmd                  *exec.Cmd
	logf                 *os.File
}

func (m *clusterMember) start(t *testing.T) {
	m.logf, _ = os.OpenFile(filepath.Join(m.dir, "walship.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	m.cmd = exec.Command(binary, "run", "-c", m.cfg)
	m.cmd.Stdout, m.cmd.Stderr = m.logf, m.logf
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
}

func (m *clusterMember) kill() {
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGKILL)
	m.cmd.Wait()
	m.logf.Close()
	m.cmd = nil
}

func (m *clusterMember) status() (httpapi.StatusDoc, error) {
	var doc httpapi.StatusDoc
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + m.addr + "/api/v1/status")
	if err != nil {
		return doc, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return doc, fmt.Errorf("status %s", resp.Status)
	}
	return doc, json.NewDecoder(resp.Body).Decode(&doc)
}

func (m *clusterMember) logTail() string {
	b, _ := os.ReadFile(filepath.Join(m.dir, "walship.log"))
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// newCluster makes three members of e's pipeline: the same components,
// each member its own state directory and HTTP port.
func newCluster(t *testing.T, e *e2e) []*clusterMember { return newClusterOf(t, e, 3, testTiming, "") }

// testTiming makes takeovers quicker than the defaults do.
const testTiming = "session_timeout: 6s, heartbeat_interval: 500ms, rebalance_timeout: 5s"

// newClusterVia is newCluster with the last member reaching Kafka through
// kafkaVia (a fault proxy's address).
func newClusterVia(t *testing.T, e *e2e, kafkaVia string) []*clusterMember {
	return newClusterOf(t, e, 3, testTiming, kafkaVia)
}

// newClusterOf makes n members with the cluster settings timing ("" for
// the defaults); the last reaches Kafka through kafkaVia when set.
func newClusterOf(t *testing.T, e *e2e, n int, timing, kafkaVia string) []*clusterMember {
	base, err := os.ReadFile(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var ms []*clusterMember
	for i := range n {
		m := &clusterMember{name: fmt.Sprintf("m%d", i), dir: filepath.Join(e.dir, fmt.Sprintf("m%d", i)), addr: freePort(t)}
		os.MkdirAll(m.dir, 0o700)
		text := strings.Replace(string(base), "state_dir: "+filepath.Join(e.dir, "state"), "state_dir: "+filepath.Join(m.dir, "state"), 1)
		text = strings.Replace(text, `http: { listen: "off" }`, `http: { listen: "`+m.addr+`", token: cluster-test-token }`, 1)
		if timing != "" {
			timing = ", " + strings.TrimPrefix(timing, ", ")
		}
		text += fmt.Sprintf("cluster: { name: %s, member: %s%s }\n", e.name, m.name, timing)
		if kafkaVia != "" && i == n-1 {
			text = strings.Replace(text, "brokers: ["+strconv.Quote(testenv.Kafka(t))+"]", "brokers: ["+strconv.Quote(kafkaVia)+"]", 1)
			if !strings.Contains(text, kafkaVia) {
				t.Fatalf("no broker list to replace in:\n%s", text)
			}
		}
		m.cfg = filepath.Join(m.dir, "walship.yaml")
		if err := os.WriteFile(m.cfg, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	t.Cleanup(func() {
		for _, m := range ms {
			m.kill()
		}
		if os.Getenv("WALSHIP_KEEP_TOPICS") != "1" {
			testenv.DropTopics(t, "_walship.cluster."+e.name)
		}
	})
	return ms
}

// running reports which live member runs component, once one does: it
// owns it and the component is streaming (a source) or applying (a sink).
func running(live []*clusterMember, component string) string {
	for _, m := range live {
		doc, err := m.status()
		if err != nil || doc.Cluster == nil {
			continue
		}
		kind, name, _ := strings.Cut(component, "/")
		if kind == "source" {
			for _, s := range doc.Sources {
				if s.Name == name && s.Owner == m.name && s.State == "streaming" {
					return m.name
				}
			}
		}
		for _, s := range doc.Sinks {
			if kind == "sink" && s.Name == name && s.Owner == m.name && s.State == "applying" {
				return m.name
			}
		}
	}
	return ""
}

// TestClusterTakeover runs three daemons as one cluster (cluster:) with a
// PostgreSQL source and three followers under a steady workload, and kills
// with SIGKILL the member that runs each component in turn. Each time
// another member takes the component over (the time is reported), and the
// killed one comes back. The validators hold throughout: every follower
// shows only whole transactions and no order without its customer, each
// account update fires the follower's trigger exactly once, and at the end
// every follower equals the source (walship verify).
func TestClusterTakeover(t *testing.T) { clusterTakeover(t, "postgres") }

// TestClusterTakeoverFromMariaDB is TestClusterTakeover with a MariaDB
// source, killing its owner only: its checkpoint (a GTID position no
// server keeps for walship) moves between members through the cluster's
// state topic.
func TestClusterTakeoverFromMariaDB(t *testing.T) { clusterTakeover(t, "mariadb") }

func clusterTakeover(t *testing.T, engine string) {
	testenv.Integration(t)
	e := newE2EFrom(t, engine, 2)
	e.sinkOption("fold: false")
	ms := newCluster(t, e)
	for _, m := range ms {
		m.start(t)
	}
	components := []string{"source/src", "sink/pgf", "sink/myf", "sink/lite"}
	waitAll := func(live []*clusterMember, why string) {
		deadline := time.Now().Add(90 * time.Second)
		for _, c := range components {
			for running(live, c) == "" {
				if time.Now().After(deadline) {
					var tails strings.Builder
					for _, m := range live {
						fmt.Fprintf(&tails, "--- %s:\n%s\n", m.name, m.logTail())
					}
					t.Fatalf("%s: no member runs %s\n%s", why, c, tails.String())
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	waitAll(ms, "start")
	e.waitRows("accounts", accounts, 60*time.Second)

	stopLoad := steadyLoad(t, e, 15485863)
	var takeovers []time.Duration
	targets := []string{"source/src", "sink/pgf", "sink/myf"}
	if engine == "mariadb" {
		// What differs from PostgreSQL is the source, whose checkpoint
		// only the state topic holds: the sinks' takeovers are the same.
		targets = targets[:1]
	}
	for _, target := range targets {
		time.Sleep(time.Second)
		owner := running(ms, target)
		if owner == "" {
			t.Fatalf("no member runs %s", target)
		}
		victim, live := splitOff(ms, owner)
		victim.kill()
		killed := time.Now()
		deadline := killed.Add(60 * time.Second)
		var now string
		for now = running(live, target); now == ""; now = running(live, target) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no member took it over from %s within 60s\n--- %s:\n%s\n--- %s:\n%s", target, owner,
					live[0].name, live[0].logTail(), live[1].name, live[1].logTail())
			}
			time.Sleep(100 * time.Millisecond)
		}
		took := time.Since(killed)
		takeovers = append(takeovers, took)
		t.Logf("kill -9 of %s (running %s): %s runs it after %s", owner, target, now, took.Round(10*time.Millisecond))
		waitAll(live, "after the kill of "+owner)
		victim.start(t)
		// It rejoins: the components settle again over three members.
		deadline = time.Now().Add(60 * time.Second)
		for {
			doc, err := victim.status()
			if err == nil && doc.Cluster != nil && len(doc.Cluster.Members) == 3 && doc.Cluster.Error == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not rejoin:\n%s", victim.name, victim.logTail())
			}
			time.Sleep(200 * time.Millisecond)
		}
		waitAll(ms, "after "+victim.name+" rejoined")
	}
	waitAll(ms, "after the restarts")
	var pause time.Duration
	if engine == "postgres" {
		pause = rollingRestart(t, e, ms)
	}
	time.Sleep(time.Second)
	updates, violations := stopLoad()
	settled(t, e, ms[0], updates, violations)
	// Every member lists the same three members and owners.
	doc, err := ms[0].status()
	if err != nil || doc.Cluster == nil {
		t.Fatalf("status of m0: %v", err)
	}
	var names []string
	for _, m := range doc.Cluster.Members {
		names = append(names, m.Member)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"m0", "m1", "m2"}) {
		t.Errorf("members %v", names)
	}
	if engine == "postgres" {
		clusterDashboard(t, e, ms[0])
		clusterAPI(t, e, ms)
	}
	slices.Sort(takeovers)
	t.Logf("takeover after kill -9: %v (max %s); rolling restart: longest pause in apply %s; %d account updates, three followers equal",
		takeovers, takeovers[len(takeovers)-1].Round(10*time.Millisecond), pause.Round(10*time.Millisecond), updates)
}

// TestClusterFrozenAndCutOff freezes (SIGSTOP), in turn, the members that
// run the source and the PostgreSQL and MariaDB sinks, longer than the
// session timeout, under a steady workload; then it cuts one member's
// connections to Kafka (the fault proxy) and heals them. The
// others take its components over while it is frozen: the new owner of
// the source ends its walsender (the slot is taken over), a new owner of a
// PostgreSQL or MariaDB sink ends its lock session. Then the frozen one
// resumes (SIGCONT): it learns its generation ended and stops everything
// it ran, and whatever it still tried is fenced (a sink's commit by the
// lost lock; the source's last records are copies of what the new owner
// publishes, and readers ignore them: envelope.HeaderEpoch). A SQLite
// sink's lock is a file lock on this machine: it moves only once the
// frozen member resumes and lets go. A member cut off from Kafka loses its
// generation the same way. The validators hold throughout, and every
// follower equals the source at the end.
func TestClusterFrozenAndCutOff(t *testing.T) {
	testenv.Integration(t)
	e := newE2EFrom(t, "postgres", 2)
	e.sinkOption("fold: false")
	kafkaFault, kafkaProxy := os.Getenv("WALSHIP_TEST_KAFKA_FAULT"), os.Getenv("WALSHIP_TEST_KAFKA_FAULT_PROXY")
	if kafkaFault == "" || kafkaProxy == "" {
		t.Fatal("WALSHIP_TEST_KAFKA_FAULT(_PROXY) unset: source deploy/local/env.sh")
	}
	proxy, err := faultproxy.Listen(kafkaProxy, kafkaFault)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	ms := newClusterVia(t, e, kafkaProxy)
	for _, m := range ms {
		m.start(t)
	}
	components := []string{"source/src", "sink/pgf", "sink/myf", "sink/lite"}
	for _, c := range components {
		deadline := time.Now().Add(90 * time.Second)
		for running(ms, c) == "" {
			if time.Now().After(deadline) {
				t.Fatalf("no member runs %s:\n%s", c, ms[0].logTail())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	e.waitRows("accounts", accounts, 60*time.Second)
	stopLoad := steadyLoad(t, e, 32452843)
	var took []string
	for _, target := range []string{"source/src", "sink/pgf", "sink/myf"} {
		time.Sleep(2 * time.Second)
		took = append(took, freezeOwner(t, ms, target)...)
	}
	// m2 reaches Kafka through the proxy: cut it off, and what it ran runs
	// elsewhere; heal it, and it joins again.
	time.Sleep(2 * time.Second)
	took = append(took, cutFromKafka(t, ms, proxy)...)
	time.Sleep(2 * time.Second)
	updates, violations := stopLoad()
	settled(t, e, ms[0], updates, violations)
	evicted := 0
	for _, m := range ms {
		log, _ := os.ReadFile(filepath.Join(m.dir, "walship.log"))
		evicted += strings.Count(string(log), "took the sink's lock over") + strings.Count(string(log), "took the slot over")
	}
	if evicted == 0 {
		t.Error("no member took a lock or the slot over from a frozen one")
	}
	t.Logf("takeovers while frozen: %v; %d locks or slots taken over; %d account updates", took, evicted, updates)
}

// freezeOwner freezes the member that runs target until the others run
// every component it held (but a SQLite sink, whose file lock moves only
// once it resumes), then resumes it and waits until it rejoined. It
// returns the takeover times.
func freezeOwner(t *testing.T, ms []*clusterMember, target string) []string {
	t.Helper()
	owner := ""
	for deadline := time.Now().Add(60 * time.Second); owner == ""; owner = running(ms, target) {
		if time.Now().After(deadline) {
			t.Fatalf("no member runs %s", target)
		}
		time.Sleep(200 * time.Millisecond)
	}
	frozen, live := splitOff(ms, owner)
	doc, err := frozen.status()
	if err != nil || doc.Cluster == nil {
		t.Fatalf("status of %s: %v", frozen.name, err)
	}
	var held []string
	for c, o := range doc.Cluster.Owners {
		if o == frozen.name {
			held = append(held, c)
		}
	}
	slices.Sort(held)
	if err := frozen.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	defer frozen.cmd.Process.Signal(syscall.SIGCONT)
	var took []string
	for _, c := range held {
		if c == "sink/lite" {
			continue
		}
		deadline := time.Now().Add(60 * time.Second)
		for running(live, c) == "" {
			if time.Now().After(deadline) {
				t.Fatalf("%s (of frozen %s): not taken over within 60s\n--- %s:\n%s\n--- %s:\n%s", c, frozen.name,
					live[0].name, live[0].logTail(), live[1].name, live[1].logTail())
			}
			time.Sleep(100 * time.Millisecond)
		}
		d := time.Since(stopped).Round(10 * time.Millisecond)
		took = append(took, c+" "+d.String())
		t.Logf("%s frozen: %s runs elsewhere after %s", frozen.name, c, d)
	}
	time.Sleep(2 * time.Second) // the new owners apply while the old one is still frozen
	frozen.cmd.Process.Signal(syscall.SIGCONT)
	t.Logf("%s (ran %v) resumed after %s", frozen.name, held, time.Since(stopped).Round(10*time.Millisecond))
	deadline := time.Now().Add(60 * time.Second)
	for {
		doc, err := frozen.status()
		if err == nil && doc.Cluster != nil && len(doc.Cluster.Members) == 3 && doc.Cluster.Error == "" && running(ms, "sink/lite") != "" {
			return took
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not rejoin after SIGCONT:\n%s", frozen.name, frozen.logTail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// cutFromKafka refuses and cuts every connection of m2 (ms[2]) to Kafka
// until the others run what it ran (a SQLite sink's file lock moves once
// m2 has stopped it), then heals the link and waits until m2 rejoined.
func cutFromKafka(t *testing.T, ms []*clusterMember, proxy *faultproxy.Proxy) []string {
	t.Helper()
	cut, live := ms[2], ms[:2]
	doc, err := cut.status()
	if err != nil || doc.Cluster == nil {
		t.Fatalf("status of %s: %v", cut.name, err)
	}
	var held []string
	for c, o := range doc.Cluster.Owners {
		if o == cut.name {
			held = append(held, c)
		}
	}
	slices.Sort(held)
	proxy.Set(faultproxy.Refuse, 0)
	proxy.Reset()
	at := time.Now()
	var took []string
	for _, c := range held {
		deadline := time.Now().Add(60 * time.Second)
		for running(live, c) == "" {
			if time.Now().After(deadline) {
				t.Fatalf("%s (of %s, cut from Kafka): not taken over within 60s\n--- %s:\n%s\n--- %s:\n%s", c, cut.name,
					live[0].name, live[0].logTail(), cut.name, cut.logTail())
			}
			time.Sleep(100 * time.Millisecond)
		}
		d := time.Since(at).Round(10 * time.Millisecond)
		took = append(took, c+" "+d.String()+" (cut)")
		t.Logf("%s cut from Kafka: %s runs elsewhere after %s", cut.name, c, d)
	}
	time.Sleep(2 * time.Second)
	proxy.Set(faultproxy.Pass, 0)
	deadline := time.Now().Add(60 * time.Second)
	for {
		doc, err := cut.status()
		if err == nil && doc.Cluster != nil && len(doc.Cluster.Members) == 3 && doc.Cluster.Error == "" && running(ms, "sink/lite") != "" {
			t.Logf("%s (ran %v) rejoined once the link healed, %s after the cut", cut.name, held, time.Since(at).Round(10*time.Millisecond))
			return took
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not rejoin after the link healed:\n%s", cut.name, cut.logTail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// rollingRestart restarts every member in turn (SIGTERM, start again, wait
// until it rejoined) while the workload runs, and returns the longest time
// the PostgreSQL follower's count of applied account updates stood still.
// A member that stops leaves the group at once, so what it ran moves
// without waiting for the session timeout: no pause may last longer than
// a takeover after a kill.
func rollingRestart(t *testing.T, e *e2e, ms []*clusterMember) time.Duration {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	longest := make(chan time.Duration)
	go func() {
		var last int64 = -1
		since, worst := time.Now(), time.Duration(0)
		for ctx.Err() == nil {
			var n int64
			if e.followers["postgres"].QueryRow("SELECT n FROM update_count").Scan(&n) == nil {
				if n != last {
					last, since = n, time.Now()
				} else {
					worst = max(worst, time.Since(since))
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		longest <- worst
	}()
	for _, m := range ms {
		m.cmd.Process.Signal(syscall.SIGTERM)
		if err := m.cmd.Wait(); err != nil {
			t.Errorf("%s: exit after SIGTERM: %v\n%s", m.name, err, m.logTail())
		}
		m.logf.Close()
		m.cmd = nil
		m.start(t)
		deadline := time.Now().Add(60 * time.Second)
		for {
			doc, err := m.status()
			if err == nil && doc.Cluster != nil && len(doc.Cluster.Members) == 3 && doc.Cluster.Error == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not rejoin after its restart:\n%s", m.name, m.logTail())
			}
			time.Sleep(200 * time.Millisecond)
		}
		for _, c := range []string{"source/src", "sink/pgf", "sink/myf", "sink/lite"} {
			for running(ms, c) == "" {
				if time.Now().After(deadline) {
					t.Fatalf("after the restart of %s no member runs %s", m.name, c)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	time.Sleep(time.Second)
	stop()
	worst := <-longest
	t.Logf("rolling restart of %d members: the longest pause in apply was %s", len(ms), worst.Round(10*time.Millisecond))
	if worst > 15*time.Second {
		t.Errorf("a pause of %s in apply during the rolling restart: over the takeover bound", worst)
	}
	return worst
}

// clusterDashboard opens m's dashboard in headless Chromium: its cluster
// panel lists the three members and what each runs, and a component m
// does not run shows as standby on its owner.
func clusterDashboard(t *testing.T, e *e2e, m *clusterMember) {
	t.Helper()
	b := startChromium(t, chromiumPath(t), e.dir)
	page := b.open(t, "http://"+m.addr+"/")
	deadline := time.Now().Add(30 * time.Second)
	var got string
	for {
		var err error
		got, err = page.eval(`(() => {
			const p = document.querySelector('#cluster-panel');
			if (!p || p.hidden) return 'hidden';
			const rows = [...document.querySelectorAll('#cluster-table tbody tr')].map((r) => r.textContent);
			const standby = [...document.querySelectorAll('.owner')].map((o) => o.textContent);
			return rows.length + ' members|' + rows.join('|') + '|standby ' + standby.join(',');
		})()`)
		if err == nil && strings.HasPrefix(got, "3 members|") && strings.Contains(got, "standby on m") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard of %s shows %q (%v)", m.name, got, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	shot := filepath.Join(artifactDir(t), "cluster-dashboard.png")
	if err := page.screenshot(shot); err != nil {
		t.Errorf("screenshot: %v", err)
	}
	if errs := page.jsErrors(); len(errs) > 0 {
		t.Errorf("dashboard script errors: %v", errs)
	}
	t.Logf("dashboard of %s: %s (screenshot %s)", m.name, got, shot)
}

// clusterAPI asks members that do not run them for what only the owner
// can answer: walship snapshot on a member that does not run the source
// is taken by the one that does (and its wait follows it there), and a
// read-your-writes wait on a member that does not run the sink is
// redirected to the one that does.
func clusterAPI(t *testing.T, e *e2e, ms []*clusterMember) {
	t.Helper()
	var other *clusterMember
	for _, m := range ms {
		if running([]*clusterMember{m}, "source/src") == "" {
			other = m
			break
		}
	}
	owner := running(ms, "source/src")
	for _, m := range ms {
		resp, err := http.Get("http://" + m.addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := `walship_cluster_owned{component="source/src"} 0`
		if m.name == owner {
			want = `walship_cluster_owned{component="source/src"} 1`
		}
		if !strings.Contains(string(b), want) || !strings.Contains(string(b), "walship_cluster_members 3") {
			t.Errorf("/metrics of %s lacks %s or walship_cluster_members 3", m.name, want)
		}
	}
	out, code := walship(t, "snapshot", "-c", other.cfg, "--source", "src", "--tables", "public.customers", "--wait")
	if code != 0 || !strings.Contains(out, "done") {
		t.Fatalf("walship snapshot through %s (which does not run the source): exit %d:\n%s", other.name, code, out)
	}
	var lsn string
	if err := e.src.QueryRow("SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if running([]*clusterMember{m}, "sink/pgf") != "" {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := client.New("http://"+m.addr).WaitForSource(ctx, "pgf", "src", lsn)
		cancel()
		if err != nil {
			t.Fatalf("wait for %s on %s, which does not run sink pgf: %v", lsn, m.name, err)
		}
		t.Logf("snapshot through %s taken by the source's owner; a wait on %s for %s followed sink pgf to its owner", other.name, m.name, lsn)
		return
	}
}

// splitOff is the member named owner and the others.
func splitOff(ms []*clusterMember, owner string) (*clusterMember, []*clusterMember) {
	var one *clusterMember
	var rest []*clusterMember
	for _, m := range ms {
		if m.name == owner {
			one = m
		} else {
			rest = append(rest, m)
		}
	}
	return one, rest
}

// settled checks the end of a cluster test once the workload stopped:
// every follower converges on the source, each account update fired each
// follower's trigger exactly once, no invariant broke, and walship verify
// (through member m's config) says each sink equal.
func settled(t *testing.T, e *e2e, m *clusterMember, updates, violations int64) {
	t.Helper()
	e.converge(120 * time.Second)
	for engine, db := range e.followers {
		var n int64
		if err := db.QueryRow("SELECT n FROM update_count").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != updates {
			t.Errorf("%s follower: the trigger counted %d account updates, the source made %d", engine, n, updates)
		}
	}
	if violations > 0 {
		t.Errorf("%d invariant violations observed", violations)
	}
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", m.cfg, "--sink", sink)
		if code != 0 || !strings.Contains(out, "sink "+sink+": equal:") {
			t.Fatalf("verify %s: exit %d:\n%s", sink, code, out)
		}
	}
}

// steadyLoad runs two workload connections and the invariant poller on e
// until the returned stop, which gives the account updates made and the
// invariant violations seen.
func steadyLoad(t *testing.T, e *e2e, seed uint64) (stop func() (updates, violations int64)) {
	ctx, cancel := context.WithCancel(context.Background())
	var violations, updates atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() { e.poll(ctx, &violations) })
	for w := range 2 {
		wg.Go(func() {
			n, err := e.workload(ctx, uint64(w+1)*seed, int64(w)*1_000_000_000)
			if err != nil && ctx.Err() == nil {
				t.Error(err)
			}
			updates.Add(n)
		})
	}
	return func() (int64, int64) {
		cancel()
		wg.Wait()
		return updates.Load(), violations.Load()
	}
}
