package preflight

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/walship/walship/config"
)

// ConnectTimeout bounds connecting to one database server (TCP, TLS and
// login). Kafka brokers use the config's kafka.dial_timeout instead.
const ConnectTimeout = 5 * time.Second

// targetTimeout bounds all the work on one database target: connecting and
// every query after it.
const targetTimeout = 3 * ConnectTimeout

// grace is how long a target may run past its deadline before its result
// is replaced by a timeout problem. Drivers honour the context, so this only
// matters if one does not.
const grace = 500 * time.Millisecond

// target is one thing to check. res holds what is known before connecting
// (Target, Engine, Addr, config problems); run adds the rest.
type target struct {
	res     Result
	timeout time.Duration
	// run checks the target. It is nil when res already says everything (a
	// DSN that does not parse). It must return soon after ctx is done.
	run func(ctx context.Context, r *Result)
	// secrets are removed from every message of the result, as a last
	// guard: messages are built so as not to contain them in the first place.
	secrets []string
}

// Check connects to every server the config names, concurrently, and
// returns every problem found. See the package documentation.
func Check(ctx context.Context, cfg *config.Config) Report {
	var targets []target
	sourceAt := map[int]string{} // target index -> source name
	for i, s := range cfg.Sources {
		key := fmt.Sprintf("sources[%d]", i)
		if s.Postgres != nil || s.MySQL != nil {
			sourceAt[len(targets)] = s.Name
		}
		switch {
		case s.Postgres != nil:
			targets = append(targets, pgSource(key+".postgres", s.Name, s.Postgres))
		case s.MySQL != nil:
			targets = append(targets, mysqlSource(key+".mysql", s.Name, s.MySQL))
		}
	}
	for i := range cfg.Sources {
		if t := rulesTarget(cfg, i); t != nil {
			targets = append(targets, *t)
		}
	}
	for i := range cfg.Sinks {
		targets = append(targets, conflictsTargets(cfg, i)...)
	}
	for i, s := range cfg.Sinks {
		key := fmt.Sprintf("sinks[%d]", i)
		switch {
		case s.Postgres != nil:
			targets = append(targets, pgSink(key+".postgres", s.Name, s.Postgres))
		case s.MySQL != nil:
			targets = append(targets, mysqlSink(key+".mysql", s.Name, s.MySQL))
		case s.SQLite != nil:
			targets = append(targets, sqliteSink(key+".sqlite", s.Name, s.SQLite))
		}
	}
	if len(cfg.Kafka.Brokers) > 0 {
		targets = append(targets, kafkaTarget(cfg.Kafka))
	}
	if len(cfg.Sources)+len(cfg.Sinks) > 0 && cfg.StateDir != "" {
		targets = append(targets, stateTarget(cfg.StateDir))
	}

	results := make([]Result, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { results[i] = runTarget(ctx, t) })
	}
	wg.Wait()
	for i, name := range sourceAt {
		reservedTargets(&results[i], name, cfg.Sinks)
	}
	return Report{Results: results}
}

// runTarget runs t.run with its own deadline, recovers a panic into a
// problem, and returns at most grace after the deadline whatever the run
// does. The result is scrubbed of t.secrets.
func runTarget(ctx context.Context, t target) Result {
	if t.run == nil {
		return scrub(t.res.clone(), t.secrets)
	}
	timeout := t.timeout
	if timeout <= 0 {
		timeout = targetTimeout
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	done := make(chan Result, 1) // buffered: a late run must not block
	go func() {
		r := t.res.clone()
		defer func() {
			if p := recover(); p != nil {
				r.problem(Other, "internal error while checking (please report it): %v", p)
			}
			done <- r
		}()
		t.run(tctx, &r)
	}()

	var r Result
	select {
	case r = <-done:
	case <-tctx.Done():
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case r = <-done:
		case <-timer.C:
			r = t.res.clone()
			r.problem(Unreachable, "no answer from %s before the deadline (%s): check that the server is up and reachable from this host",
				t.res.Addr, deadlineCause(ctx, timeout))
		}
	}
	return scrub(r, t.secrets)
}

// deadlineCause says which deadline ended a check: the caller's or ours.
func deadlineCause(ctx context.Context, timeout time.Duration) string {
	if ctx.Err() != nil {
		return "the check was cancelled or its overall deadline passed"
	}
	return "timed out after " + timeout.String()
}

// scrub replaces every secret in r's messages with "[redacted]".
func scrub(r Result, secrets []string) Result {
	var reps []string
	for _, s := range secrets {
		if s != "" {
			reps = append(reps, s, "[redacted]")
		}
	}
	if len(reps) == 0 {
		return r
	}
	rep := strings.NewReplacer(reps...)
	for i := range r.OK {
		r.OK[i] = rep.Replace(r.OK[i])
	}
	for i := range r.Problems {
		r.Problems[i].Msg = rep.Replace(r.Problems[i].Msg)
	}
	r.Addr = rep.Replace(r.Addr)
	return r
}
