package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestSoak is make soak: both sources (PostgreSQL and MariaDB) into
// followers on all three engines under a paced mixed workload for
// WALSHIP_SOAK_DURATION, with a random fault every few seconds (kill -9,
// SIGTERM, stalls, resets, cuts, delays and refusals on every server
// connection, restarts of every real server), then every validator. It
// prints a summary: transactions, faults by kind, the largest sink lag,
// and divergences, which must be 0. Skipped unless the duration is set.
func TestSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("WALSHIP_SOAK_DURATION"))
	if err != nil || d <= 0 {
		t.Skip("make soak DURATION=30m runs this (WALSHIP_SOAK_DURATION)")
	}
	c := newChaos(t, chaosSeed(), "postgres", "mariadb")
	var menu []fault
	add := func(weight int, f fault) {
		for i := 0; i < weight; i++ {
			menu = append(menu, f)
		}
	}
	add(6, killFault())
	add(3, termFault())
	for _, target := range []string{"pg-source", "mariadb-source", "kafka", "pg-follower", "mariadb-follower"} {
		add(2, c.netFault("stall", target, 2*time.Second))
		add(2, c.netFault("reset", target, 0))
		add(1, c.netFault("cut", target, 0))
		add(1, c.netFault("delay", target, 2*time.Second))
		add(1, c.netFault("refuse", target, 2*time.Second))
	}
	add(1, restartFault("pg-source", time.Second))
	add(1, restartFault("mariadb-source", time.Second))
	add(1, restartFault("pg-follower", time.Second))
	add(1, restartFault("mariadb-follower", time.Second))
	add(1, restartFault("kafka", 2*time.Second))
	start := time.Now()
	res := c.run(chaosPlan{d: d, gap: [2]int{1000, 3000}, pace: 8 * time.Millisecond, random: true, schedule: menu, converge: 10 * time.Minute})
	var lags []string
	for s, l := range res.lagBySink {
		lags = append(lags, fmt.Sprintf("%s %.1fs", s, l))
	}
	sort.Strings(lags)
	var kinds []string
	for k, n := range res.byKind {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	summary := fmt.Sprintf("soak summary: %s of faults (%s total with convergence); seed %d\n"+
		"  transactions: %d committed at the sources (%d retried by the workload after a source fault)\n"+
		"  faults injected: %d (%s)\n"+
		"  max lag: %.1fs (sink %s; per sink: %s)\n"+
		"  divergences: %d (validator violations; every follower converged row by row)",
		d, time.Since(start).Round(time.Second), c.seed, res.txns, res.retries, res.faults, strings.Join(kinds, ", "), res.maxLag, res.maxLagSink, strings.Join(lags, ", "), c.v.Count())
	t.Log(summary)
	fmt.Println(summary)
	if res.faults < int(d/(6*time.Second)) {
		t.Errorf("only %d faults in %s", res.faults, d)
	}
}
