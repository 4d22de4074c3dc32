package preflight

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/config"
	"github.com/walship/walship/internal/testenv"
)

// TestCheckAllGood runs one Check over every kind of target, all healthy.
func TestCheckAllGood(t *testing.T) {
	pgSrc, pgFol := testenv.PGSource(t), testenv.PGFollower(t)
	mySrc, myFol := testenv.MySQLSource(t), testenv.MySQLFollower(t)
	brokers := strings.Split(testenv.Kafka(t), ",")
	s := suffix(t)
	db := "walship_pf_" + s
	myDatabase(t, myFol, db)

	cfg := &config.Config{
		Kafka: config.Kafka{Brokers: brokers, DialTimeout: 5 * time.Second},
		Sources: []config.Source{
			pgSourceConfig(pgSrc, "", "walship_pf_"+s).Sources[0],
			mySourceConfig(t, mySrc, "", "", "mariadb").Sources[0],
		},
		Sinks: []config.Sink{
			pgSinkConfig(pgFol, "").Sinks[0],
			mySinkConfig(t, myFol, db, "").Sinks[0],
			sqliteConfig(filepath.Join(t.TempDir(), "lite.db")).Sinks[0],
		},
	}
	rep := runCheck(t, cfg)
	want := []struct{ target, engine string }{
		{"source pg-main", "postgres"}, {"source shop", "mariadb"},
		{"sink pg-replica", "postgres"}, {"sink my-replica", "mysql"}, {"sink lite", "sqlite"},
		{"kafka", "kafka"},
	}
	if len(rep.Results) != len(want) {
		t.Fatalf("got %d results, want %d", len(rep.Results), len(want))
	}
	for i, w := range want {
		res := rep.Results[i]
		if res.Target != w.target || res.Engine != w.engine || res.Addr == "" {
			t.Errorf("result %d: %q %q %q, want %q %q", i, res.Target, res.Engine, res.Addr, w.target, w.engine)
		}
		wantNoProblems(t, res)
		if len(res.OK) == 0 {
			t.Errorf("%s: no fact verified", res.Target)
		}
	}
	if !rep.OK() {
		t.Error("Report.OK() is false")
	}
}
