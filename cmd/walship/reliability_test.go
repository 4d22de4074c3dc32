package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/walship/walship/internal/faultproxy"
	"github.com/walship/walship/internal/testenv"
)

// The reliability suite: each test runs the workload of internal/validate
// against a pipeline whose connections go through fault proxies, injects
// the faults of ../shared/TESTING.md while it runs, then checks every
// validator: no atomicity, dependency, order or position violation seen
// by the follower pollers or on the slot, every follower converged row by
// row, every committed transaction on every follower, per-key order on the
// log. The seed is printed; WALSHIP_CHAOS_SEED replays a schedule.

// TestFaultKillSchedule: kill -9 of the daemon at random points (after
// source reads, after Kafka acks, mid sink transaction, after sink
// commits: the points fall where the schedule lands under load), and
// SIGTERM, which must drain and exit 0.
func TestFaultKillSchedule(t *testing.T) {
	c := newChaos(t, chaosSeed(), "postgres")
	c.run(chaosPlan{d: 14 * time.Second, gap: [2]int{400, 1800}, schedule: []fault{
		killFault(), killFault(), termFault(), killFault(), killFault(), killFault(), termFault(),
	}})
}

// TestFaultKillScheduleMariaDB: the same kills and SIGTERMs with a MariaDB
// source, whose transactions take their Seq from their GTIDs: what a kill
// makes the source send again carries the Seq it had, so no follower
// applies it twice (the validators' order and convergence checks). Only
// the daemon is killed, never a server.
func TestFaultKillScheduleMariaDB(t *testing.T) {
	c := newChaos(t, chaosSeed(), "mariadb")
	c.run(chaosPlan{d: 14 * time.Second, gap: [2]int{400, 1800}, schedule: []fault{
		killFault(), killFault(), termFault(), killFault(), killFault(), termFault(),
	}})
}

// TestFaultKillScheduleRows: the kill schedule with the log in row batches
// (kafka.envelope: rows), both sources at once.
func TestFaultKillScheduleRows(t *testing.T) {
	c := newChaosLog(t, chaosSeed(), true, "postgres", "mariadb")
	c.run(chaosPlan{d: 14 * time.Second, gap: [2]int{400, 1800}, schedule: []fault{
		killFault(), killFault(), termFault(), killFault(), killFault(), termFault(),
	}})
}

// TestFaultNetwork: stalls, resets, cuts, delays and refusals of the
// connections to the PostgreSQL source, Kafka and both follower servers.
func TestFaultNetwork(t *testing.T) {
	c := newChaos(t, chaosSeed(), "postgres")
	var s []fault
	for _, target := range []string{"pg-source", "kafka", "pg-follower", "mariadb-follower"} {
		s = append(s, c.netFault("stall", target, 3*time.Second), c.netFault("reset", target, 0))
	}
	s = append(s, c.netFault("cut", "kafka", 0), c.netFault("refuse", "pg-follower", 4*time.Second),
		c.netFault("delay", "pg-source", 2*time.Second), c.netFault("refuse", "pg-source", 3*time.Second))
	c.run(chaosPlan{d: 32 * time.Second, gap: [2]int{300, 1000}, pace: time.Millisecond, schedule: s})
}

// TestFaultServerRestarts: the real Kafka broker, the PostgreSQL source
// and both follower servers are stopped and started again, one after the
// other, while the workload runs.
func TestFaultServerRestarts(t *testing.T) {
	c := newChaos(t, chaosSeed(), "postgres")
	c.run(chaosPlan{d: 45 * time.Second, gap: [2]int{1000, 2000}, pace: time.Millisecond, schedule: []fault{
		restartFault("pg-source", time.Second), restartFault("pg-follower", 2*time.Second),
		restartFault("kafka", 3*time.Second), restartFault("mariadb-follower", 2*time.Second),
	}})
}

// TestFaultMariaDBSource: a MariaDB binlog source under kill -9, network
// faults on its connection and on Kafka, and a restart of the server.
func TestFaultMariaDBSource(t *testing.T) {
	c := newChaos(t, chaosSeed(), "mariadb")
	c.run(chaosPlan{d: 30 * time.Second, gap: [2]int{500, 1500}, schedule: []fault{
		c.netFault("stall", "mariadb-source", 3*time.Second), killFault(), c.netFault("reset", "mariadb-source", 0),
		c.netFault("reset", "kafka", 0), restartFault("mariadb-source", time.Second), killFault(),
		c.netFault("refuse", "mariadb-source", 3*time.Second), termFault(),
	}})
}

// TestFaultSlowSink: the PostgreSQL follower answers slowly (every chunk
// of bytes held 40ms) for a while. Its sink's lag shows on the status API
// while the others keep up, the daemon's memory stays bounded, and every
// validator passes once it is fast again.
func TestFaultSlowSink(t *testing.T) {
	c := newChaos(t, chaosSeed(), "postgres")
	slow := fault{"slow pg-follower", func(c *chaos) {
		p := c.proxies["pg-follower"]
		p.Set(faultproxy.Delay, 40*time.Millisecond)
		defer p.Set(faultproxy.Pass, 0)
		var maxLag, otherLag float64
		var maxRSS int64
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
			_, body, err := get("http://" + c.httpAddr + "/api/v1/status")
			if err != nil {
				continue
			}
			var doc struct {
				Sinks []struct {
					Name       string  `json:"name"`
					LagSeconds float64 `json:"lag_seconds"`
				} `json:"sinks"`
			}
			json.Unmarshal([]byte(body), &doc)
			for _, s := range doc.Sinks {
				if s.Name == "pgf" {
					maxLag = max(maxLag, s.LagSeconds)
				} else {
					otherLag = max(otherLag, s.LagSeconds)
				}
			}
			maxRSS = max(maxRSS, procBytes(c.pid(), "VmRSS"))
		}
		c.t.Logf("slow follower: pgf lag up to %.1fs, other sinks up to %.1fs; daemon RSS up to %d MiB", maxLag, otherLag, maxRSS>>20)
		if maxLag < 1 {
			c.v.Add("slow sink: pgf's lag never showed (max %.2fs)", maxLag)
		}
		if maxRSS > 512<<20 {
			c.v.Add("slow sink: the daemon grew to %d MiB", maxRSS>>20)
		}
	}}
	c.run(chaosPlan{d: 14 * time.Second, gap: [2]int{1500, 1500}, pace: time.Millisecond, schedule: []fault{slow}})
}

// procBytes reads a size field of /proc/<pid>/status (VmRSS, VmHWM).
func procBytes(pid int, field string) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}

// TestTopicDeletedMidRun: the source's topics are deleted under a running
// pipeline. The source writes on into recreated topics from its durable
// position; a sink whose log vanished from under its recorded offsets
// stops with an error that says so and names walship replay, and applies
// nothing it cannot prove is next: nothing is skipped silently.
func TestTopicDeletedMidRun(t *testing.T) {
	e := newE2E(t, 2)
	addr := freePort(t)
	cfg, _ := os.ReadFile(e.cfgPath)
	os.WriteFile(e.cfgPath, []byte(strings.Replace(string(cfg), `http: { listen: "off" }`, `http: { listen: "`+addr+`" }`, 1)), 0o600)
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	e.runWorkload(1, 2*time.Second, 0)
	e.converge(60 * time.Second)
	// The running source recreates the topics at once, so "gone" may never
	// be seen: wait until the spine is new (shorter than before).
	spine := e.name + ".src.transaction"
	spineEnd := func() int64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := kafkago.DialLeader(ctx, "tcp", testenv.Kafka(t), spine, 0)
		if err != nil {
			return -1
		}
		defer conn.Close()
		last, err := conn.ReadLastOffset()
		if err != nil {
			return -1
		}
		return last
	}
	before := spineEnd()
	testenv.DropTopics(t, e.name+".")
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if n := spineEnd(); n < before {
			break
		}
		if time.Now().After(deadline) {
			// Not walship's doing: in a full run the broker works through the
			// earlier tests' topic deletions first.
			t.Skipf("the broker did not delete %s within 60s (end offset still >= %d): nothing to test", spine, before)
		}
	}
	e.runWorkload(1, 3*time.Second, 100_000_000)
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, body, _ := get("http://" + addr + "/api/v1/status")
		if strings.Count(body, `"state": "failed"`) >= 3 && strings.Contains(body, "replay") {
			t.Logf("status after the topics were deleted:\n%s", body)
			break
		}
		if time.Now().After(deadline) {
			e.cmd.Process.Signal(syscall.SIGQUIT) // a goroutine dump into the log
			time.Sleep(time.Second)
			b, _ := os.ReadFile(filepath.Join(e.dir, "walship.log"))
			t.Fatalf("sinks did not stop with a replay hint:\n%s\nlog:\n%s", body, b)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
