package verify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/walship/walship/client"
	"github.com/walship/walship/config"
	mysqlsink "github.com/walship/walship/sinks/mysql"
	pgsink "github.com/walship/walship/sinks/postgres"
	"github.com/walship/walship/sinks/sqlite"
	"github.com/walship/walship/sinks/sqlsink"
)

// Options of a verification.
type Options struct {
	// Sink names the sink to verify. Required.
	Sink string
	// Wait makes Run first wait, through the daemon's wait API at
	// http.listen, until the sink applied each source's current position.
	Wait bool
	// WaitTimeout bounds that wait. Default: 60s.
	WaitTimeout time.Duration
	// ShowValues puts the differing values in the report; by default only
	// primary keys and column names appear.
	ShowValues bool
	// MaxListed bounds the differences listed per table (all are counted).
	// Default: 100.
	MaxListed int
	// Tables, when set, limits the comparison to the captured tables that
	// match these schema.table patterns (at the source). A pattern that
	// matches no captured table is a usage error.
	Tables []string
	// SinceDDL, when set, limits the comparison to the tables whose shape
	// the sink recorded at or after it (a schema change it applied, or a
	// table it created: sqlsink.ChangedShapes).
	SinceDDL time.Time
	// ChunkRows is the number of source rows per checksummed chunk.
	// Default: DefaultChunkRows.
	ChunkRows int
	// Progress, when set, receives one line per step.
	Progress io.Writer
}

// ErrUsage marks errors of the configuration or options (exit code 2).
var ErrUsage = errors.New("usage")

func usage(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, a...))
}

// Run verifies one sink against its sources.
func Run(ctx context.Context, cfg *config.Config, o Options) (*Report, error) {
	if o.WaitTimeout == 0 {
		o.WaitTimeout = 60 * time.Second
	}
	if o.MaxListed == 0 {
		o.MaxListed = 100
	}
	switch {
	case o.ChunkRows == 0:
		o.ChunkRows = DefaultChunkRows
	case o.ChunkRows < 0:
		return nil, usage("chunk rows must be positive, not %d", o.ChunkRows)
	}
	sink := cfg.SinkNamed(o.Sink)
	if sink == nil {
		return nil, usage("no sink named %q in %s (sinks: %s)", o.Sink, cfg.File, strings.Join(cfg.SinkNames(), ", "))
	}
	if o.Wait && cfg.HTTP.Listen == "off" {
		return nil, usage("http.listen is off, so there is no wait API to ask: pass --no-wait to compare without waiting")
	}
	var sources []*source
	defer func() {
		for _, s := range sources {
			s.db.Close()
		}
	}()
	for _, name := range sink.From {
		for _, sc := range cfg.Sources {
			if sc.Name != name {
				continue
			}
			if sc.External != "" {
				return nil, usage("source %s is external: verify needs its database (use the config of the daemon that captures it)", name)
			}
			src, err := openSource(ctx, sc)
			if err != nil {
				return nil, err
			}
			sources = append(sources, src)
		}
	}
	fol, err := openFollower(ctx, *sink)
	if err != nil {
		return nil, err
	}
	defer fol.db.Close()

	if o.Wait {
		c := client.New("http://" + cfg.HTTP.Listen)
		for _, src := range sources {
			pos, err := src.position(ctx)
			if err != nil {
				return nil, err
			}
			if pos == "" {
				continue
			}
			o.progress("waiting for sink %s to apply %s of source %s", sink.Name, pos, src.name)
			wctx, cancel := context.WithTimeout(ctx, o.WaitTimeout)
			srcName := ""
			if len(sink.From) > 1 {
				srcName = src.name
			}
			err = c.WaitForSource(wctx, sink.Name, srcName, pos)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("sink %s did not apply %s of source %s: %w", sink.Name, pos, src.name, err)
			}
		}
	}

	rep := &Report{Sink: sink.Name, ShowValues: o.ShowValues}
	var changed map[string]string
	if !o.SinceDDL.IsZero() {
		if changed, err = sqlsink.ChangedShapes(ctx, fol.db, fol.dialect, sink.Name, o.SinceDDL); err != nil {
			return nil, err
		}
		o.progress("%d table(s) changed shape since %s", len(changed), o.SinceDDL.Format(time.RFC3339))
	}
	matched := make([]bool, len(o.Tables))
	for _, src := range sources {
		tables, err := src.listTables(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range tables {
			if len(o.Tables) > 0 {
				hit := false
				for i, p := range o.Tables {
					if config.MatchTable([]string{p}, t.Schema, t.Name) {
						matched[i], hit = true, true
					}
				}
				if !hit {
					continue
				}
			}
			tr := TableReport{Source: src.name, Table: t.String()}
			name := followerName(fol.dialect, sink.Tables, t.Schema, t.Name)
			if changed != nil {
				if _, ok := changed[name.String()]; !ok {
					continue
				}
			}
			tr.Follower = name.String()
			rf := tableFilter(src.cfg, *sink, t)
			tr.Filtered = rf.notes
			if rf.keyHashed {
				tr.NotCompared = true
				rep.Tables = append(rep.Tables, tr)
				continue
			}
			o.progress("comparing %s with %s", t, name)
			if err := compareTable(ctx, src, fol, rf.apply(t), name, &tr, o, rf.where); err != nil {
				tr.Problem = err.Error()
			} else if tr.Indexes, err = indexNotes(ctx, src, fol, t, name); err != nil {
				tr.Indexes = []string{"indexes not compared: " + err.Error()}
			}
			rep.Tables = append(rep.Tables, tr)
		}
	}
	for i, ok := range matched {
		if !ok {
			return nil, usage("--tables %q matches no table captured by the sink's sources", o.Tables[i])
		}
	}
	return rep, nil
}

func (o Options) progress(format string, a ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", a...)
	}
}

type follower struct {
	engine  string
	dialect sqlsink.Dialect
	db      *sql.DB
	// catalog caches a MySQL follower's indexes and checks per database
	// (indexes.go): one information_schema read each, not one per table.
	catalog map[string]map[string]map[string]bool
}

func openFollower(ctx context.Context, s config.Sink) (*follower, error) {
	var d sqlsink.Dialect
	switch {
	case s.Postgres != nil:
		d = pgsink.New(*s.Postgres)
	case s.MySQL != nil:
		d = mysqlsink.New(*s.MySQL)
	case s.SQLite != nil:
		// Open would create a missing file: a missing follower is an error.
		if _, err := os.Stat(s.SQLite.Path); err != nil {
			return nil, fmt.Errorf("sink %s: follower %s: %w", s.Name, s.SQLite.Path, err)
		}
		d = sqlite.New(*s.SQLite)
	default:
		return nil, usage("sink %s: no engine configured", s.Name)
	}
	octx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	db, err := d.Open(octx)
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", s.Name, err)
	}
	return &follower{engine: d.Engine(), dialect: d, db: db}, nil
}

// followerName names the follower table of a source table the way the
// sink does (sinks/sqlsink: rename, else prefix).
func followerName(d sqlsink.Dialect, m config.TableMapping, schema, table string) sqlsink.Name {
	if r, ok := m.Rename[schema+"."+table]; ok {
		if s, tbl, ok := strings.Cut(r, "."); ok && d.Engine() == "postgres" {
			return sqlsink.Name{Schema: s, Table: tbl}
		}
		return d.Target(schema, r)
	}
	n := d.Target(schema, table)
	n.Table = m.Prefix + n.Table
	return n
}
