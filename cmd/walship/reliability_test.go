package main

import (
	"testing"
	"time"
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
