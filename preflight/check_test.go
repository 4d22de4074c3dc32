package preflight

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/config"
	"github.com/walship/walship/internal/testenv"
)

// These tests need no database server: they use closed ports and local
// listeners that never answer.

func TestUnreachableClosedPort(t *testing.T) {
	pg, my, sink, kafka := closedAddr(t), closedAddr(t), closedAddr(t), closedAddr(t)
	cfg := &config.Config{
		Kafka: config.Kafka{Brokers: []string{kafka}, DialTimeout: 2 * time.Second},
		Sources: []config.Source{
			{Name: "pg", Postgres: &config.PostgresSource{DSN: config.Secret("postgres://walship:pg-pass-1@" + pg + "/app?sslmode=disable"), Slot: "s"}},
			{Name: "my", MySQL: &config.MySQLSource{Addr: my, User: "walship", Password: "my-pass-2", ServerID: 9, Flavor: "mariadb", Tables: []string{"shop.*"}, Snapshot: "initial"}},
		},
		Sinks: []config.Sink{
			{Name: "replica", MySQL: &config.MySQLSink{DSN: config.Secret("walship:sink-pass-3@tcp(" + sink + ")/replica"), Password: "sink-pass-4"}},
		},
	}
	rep := runCheck(t, cfg, "pg-pass-1", "my-pass-2", "sink-pass-3", "sink-pass-4")
	if len(rep.Results) != 4 {
		t.Fatalf("got %d results, want 4", len(rep.Results))
	}
	for i, want := range []struct{ target, addr string }{{"source pg", pg}, {"source my", my}, {"sink replica", sink}, {"kafka", kafka}} {
		res := rep.Results[i]
		if res.Target != want.target || res.Addr != want.addr {
			t.Errorf("result %d is %q at %q, want %q at %q", i, res.Target, res.Addr, want.target, want.addr)
		}
		wantProblem(t, res, Unreachable, "cannot connect to "+want.addr, "connection refused")
	}
	wantProblem(t, rep.Results[3], Unreachable, "none of the 1 configured brokers answered")
	if rep.OK() {
		t.Error("OK() with unreachable servers")
	}
}

// A server that accepts connections and never answers must not hold Check
// past the caller's deadline.
func TestSilentServersBoundedByContext(t *testing.T) {
	pg, my, kafka := silentAddr(t), silentAddr(t), silentAddr(t)
	cfg := &config.Config{
		Kafka: config.Kafka{Brokers: []string{kafka}, DialTimeout: time.Minute},
		Sources: []config.Source{
			{Name: "pg", Postgres: &config.PostgresSource{DSN: config.Secret("postgres://u@" + pg + "/db?sslmode=disable"), Slot: "s"}},
			{Name: "my", MySQL: &config.MySQLSource{Addr: my, User: "u", ServerID: 9, Flavor: "mysql", Tables: []string{"a.*"}}},
		},
	}
	const deadline = 700 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	got := make(chan Report, 1)
	go func() { got <- Check(ctx, cfg) }()
	var rep Report
	select {
	case rep = <-got:
	case <-time.After(deadline + grace + 3*time.Second):
		t.Fatal("Check did not return after its context's deadline")
	}
	var buf strings.Builder
	if err := rep.Print(&buf); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", buf.String())
	for _, res := range rep.Results {
		if len(res.Problems) == 0 || res.Problems[0].Code != Unreachable {
			t.Errorf("%s: want an unreachable problem, got %+v", res.Target, res.Problems)
		}
		if !strings.Contains(res.Problems[0].Msg, res.Addr) {
			t.Errorf("%s: the problem does not name %s: %s", res.Target, res.Addr, res.Problems[0].Msg)
		}
	}
}

// A silent server delays only its own result, by its own timeout.
func TestSilentServerOwnTimeout(t *testing.T) {
	testenv.Integration(t) // slow: waits out ConnectTimeout
	pg := silentAddr(t)
	cfg := &config.Config{
		Kafka: config.Kafka{Brokers: []string{closedAddr(t)}, DialTimeout: time.Second},
		Sources: []config.Source{
			{Name: "pg", Postgres: &config.PostgresSource{DSN: config.Secret("postgres://u@" + pg + "/db?sslmode=disable"), Slot: "s"}},
		},
	}
	start := time.Now()
	rep := runCheck(t, cfg)
	if took := time.Since(start); took > ConnectTimeout+grace+2*time.Second {
		t.Errorf("Check took %s with one silent server, want about ConnectTimeout (%s)", took, ConnectTimeout)
	}
	wantProblem(t, rep.Results[0], Unreachable, "no answer from "+pg)
	wantProblem(t, rep.Results[1], Unreachable, "connection refused")
}

func TestConfigProblemsWithoutConnecting(t *testing.T) {
	cfg := &config.Config{
		Sources: []config.Source{
			{Name: "bad-dsn", Postgres: &config.PostgresSource{DSN: "postgres://u:dsn-pass-5@host:notaport/db", Slot: "s"}},
		},
		Sinks: []config.Sink{
			{Name: "bad-my", MySQL: &config.MySQLSink{DSN: "u:my-dsn-pass-6@tcp(127.0.0.1:3306)"}},
			{Name: "no-db", MySQL: &config.MySQLSink{DSN: config.Secret("u:my-dsn-pass-7@tcp(" + closedAddr(t) + ")/")}},
		},
	}
	rep := runCheck(t, cfg, "dsn-pass-5", "my-dsn-pass-6", "my-dsn-pass-7")
	wantProblem(t, rep.Results[0], Config, "sources[0].postgres.dsn", "is not a libpq URL")
	wantProblem(t, rep.Results[1], Config, "sinks[0].mysql.dsn", "missing the slash")
	wantProblem(t, rep.Results[2], Config, "names no database", "/replica")
	wantProblem(t, rep.Results[2], Unreachable, "connection refused")
}

func TestNothingToCheck(t *testing.T) {
	rep := Check(context.Background(), &config.Config{})
	if len(rep.Results) != 0 || !rep.OK() {
		t.Errorf("empty config: %+v", rep)
	}
}

func TestPanicBecomesProblem(t *testing.T) {
	tg := target{res: Result{Target: "sink x", Addr: "a"}, secrets: []string{"pw-8"},
		run: func(context.Context, *Result) { panic("boom pw-8") }}
	res := runTarget(context.Background(), tg)
	p := wantProblem(t, res, Other, "internal error", "boom [redacted]")
	if strings.Contains(p.Msg, "pw-8") {
		t.Error("secret in the panic message")
	}
}
