package config

import (
	"slices"
	"testing"

	"github.com/walship/walship/offsets"
)

func TestSinkNamed(t *testing.T) {
	c := &Config{Sinks: []Sink{{Name: "b"}, {Name: "a"}}}
	if s := c.SinkNamed("a"); s != &c.Sinks[1] {
		t.Errorf("SinkNamed(a) = %p, want the config's own sink %p", s, &c.Sinks[1])
	}
	if s := c.SinkNamed("c"); s != nil {
		t.Errorf("SinkNamed(c) = %+v, want none", s)
	}
	if got := c.SinkNames(); !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("SinkNames() = %v, want file order", got)
	}
}

func TestPositionEngine(t *testing.T) {
	for _, c := range []struct {
		s    Source
		want offsets.Engine
	}{
		{Source{Postgres: &PostgresSource{}}, offsets.EnginePostgres},
		{Source{External: "postgres"}, offsets.EnginePostgres},
		{Source{MySQL: &MySQLSource{Flavor: "mariadb"}}, offsets.EngineMariaDB},
		{Source{External: "mariadb"}, offsets.EngineMariaDB},
		{Source{MySQL: &MySQLSource{Flavor: "mysql"}}, offsets.EngineMySQL},
		{Source{External: "mysql"}, offsets.EngineMySQL},
	} {
		if got := c.s.PositionEngine(); got != c.want {
			t.Errorf("%+v: %s, want %s", c.s, got, c.want)
		}
	}
}
