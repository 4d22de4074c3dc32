package replay

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/config"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/sinks"
)

func testConfig() *config.Config {
	return &config.Config{File: "walship.yaml",
		Sources: []config.Source{{Name: "pg", External: "postgres", TopicPrefix: "p"}, {Name: "maria", External: "mariadb", TopicPrefix: "m"}},
		Sinks: []config.Sink{
			{Name: "pgf", From: []string{"pg"}, Postgres: &config.PostgresSink{DSN: "postgres://u:secret@db/replica"}},
			{Name: "lite", From: []string{"pg", "maria"}, SQLite: &config.SQLiteSink{Path: "replica.db"}},
			{Name: "none", From: []string{"pg"}},
		}}
}

func TestOptionsCheck(t *testing.T) {
	for _, c := range []struct {
		o  Options
		ok bool
	}{
		{Options{Resnapshot: true}, true},
		{Options{Resnapshot: true, From: "snapshot"}, true},
		{Options{Resnapshot: true, From: "resume"}, true},
		{Options{Resnapshot: true, From: "0/16B3748"}, false},
		{Options{From: "0/16B3748"}, true},
	} {
		err := c.o.Check()
		if (err == nil) != c.ok || err != nil && !errors.Is(err, ErrUsage) {
			t.Errorf("Check(%+v) = %v", c.o, err)
		}
	}
}

// Every refusal before the log is read is an ErrUsage, with the message
// `walship replay` prints.
func TestNewJobUsage(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Sink: "nope"}, `no sink "nope" in walship.yaml (sinks: pgf, lite, none)`},
		{Options{Sink: "none"}, "sink none has no engine block"},
		{Options{Sink: "pgf", To: "soon"}, `--to "soon" is neither an RFC 3339 time nor a position of source pg`},
		{Options{Sink: "lite", To: "0/1"}, "source maria (mariadb)"},
		{Options{Sink: "pgf", From: "soon"}, "--from: want earliest, snapshot, a position or a time"},
		{Options{Sink: "pgf", Resnapshot: true, From: "0/1"}, "--resnapshot rebuilds from the new snapshot: --from 0/1 does not apply"},
	} {
		_, err := newJob(testConfig(), c.o, Engines{})
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), c.want) || strings.HasPrefix(err.Error(), "usage") {
			t.Errorf("%+v: %v, want an ErrUsage saying %q", c.o, err, c.want)
		}
	}
	_, err := DryRun(context.Background(), testConfig(), Options{Sink: "pgf", Resnapshot: true}, Engines{})
	if !errors.Is(err, ErrUsage) {
		t.Errorf("a dry run of a re-snapshot: %v, want an ErrUsage", err)
	}
}

func TestNewJob(t *testing.T) {
	cfg := testConfig()
	j, err := newJob(cfg, Options{Sink: "lite", Into: "/tmp/other.db", From: "resume"}, Engines{})
	if err != nil {
		t.Fatal(err)
	}
	if j.target != "SQLite /tmp/other.db" || j.sk.SQLite.Path != "/tmp/other.db" || cfg.Sinks[1].SQLite.Path != "replica.db" {
		t.Errorf("Into: target %q, sink path %q, config's %q", j.target, j.sk.SQLite.Path, cfg.Sinks[1].SQLite.Path)
	}
	if j.o.From != "earliest" || len(j.srcs) != 2 || j.srcs[1].engine != offsets.EngineMariaDB {
		t.Errorf("from %q, sources %+v", j.o.From, j.srcs)
	}
	if e := j.sinkEngines(); e["pg"] != "postgres" || e["maria"] != "mysql" {
		t.Errorf("type families %v", e)
	}
	j, err = newJob(cfg, Options{Sink: "pgf", Into: "postgres://u:other@db2/x"}, Engines{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(j.target, "other") || !strings.Contains(j.target, "db2") {
		t.Errorf("target %q: want the Into database, its password redacted", j.target)
	}
	if j.sk.Postgres.DSN.Reveal() != "postgres://u:other@db2/x" || cfg.Sinks[0].Postgres.DSN.Reveal() != "postgres://u:secret@db/replica" {
		t.Error("Into replaces the job's DSN, not the config's")
	}
}

func TestReportPrint(t *testing.T) {
	T := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &Report{Sink: "lite", Target: "SQLite x.db", Txns: 3, Rows: 7, Elapsed: 1500 * time.Microsecond,
		Sources: []sinks.SourceStatus{
			{Source: "pg", Applied: sinks.Applied{Pos: offsets.PGPosition(0x500, 0x500), CommitTime: T}},
			{Source: "maria"},
		}, Tables: []string{"public.a", "public.b"}}
	var b bytes.Buffer
	r.Print(&b)
	want := `replayed sink lite into SQLite x.db: 3 transactions, 7 rows in 2ms
  source pg: applied up to 0/500 (commit 2026-01-01T00:00:00Z)
  source maria: nothing applied
  tables public.a, public.b are at the sink's recorded positions; the daemon goes on with every table
`
	if b.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestPlanPrint(t *testing.T) {
	p := &Plan{Sink: "lite", Target: "SQLite x.db", To: "0/500", Sources: []PlanSource{
		{Name: "pg", Topic: "p.transaction", First: 0, Last: 9, UpTo: 7, Txns: 3, Heartbeats: 1,
			Events: map[string]int64{"p.public.b/0": 2, "p.public.a/1": 4}},
		{Name: "maria", Topic: "m.transaction", Empty: true},
	}}
	var b bytes.Buffer
	p.Print(&b)
	want := `replay plan for sink lite into SQLite x.db (dry run: nothing is written)
  stop after the last transaction at or before 0/500
source pg: topic p.transaction offsets 0..9 (up to 7 with the bound): 3 transactions (END markers), 1 heartbeats
  p.public.a/1: 4 events
  p.public.b/0: 2 events
source maria: m.transaction holds nothing
`
	if b.String() != want {
		t.Errorf("incomplete plan:\n%s\nwant:\n%s", b.String(), want)
	}
	p.Complete, p.To = true, ""
	b.Reset()
	p.Print(&b)
	if !strings.Contains(b.String(), "stop at the end of the log as of now") || !strings.HasSuffix(b.String(), "on an empty follower it applies all of the above\n") {
		t.Errorf("complete plan:\n%s", b.String())
	}
}
