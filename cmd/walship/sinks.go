package main

import (
	"github.com/walship/walship/origins"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/walship/walship/config"
	"github.com/walship/walship/httpapi"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sinks"
	mysqlsink "github.com/walship/walship/sinks/mysql"
	pgsink "github.com/walship/walship/sinks/postgres"
	"github.com/walship/walship/sinks/sqlite"
	"github.com/walship/walship/sinks/sqlsink"
	"github.com/walship/walship/sources"
)

// brokenFilter fails every change with the error that made the sink's
// filter.
type brokenFilter struct{ err error }

func (b brokenFilter) Filter(*ordering.Change) (bool, error) { return false, b.err }

// buildSink wires one configured sink: its dialect, the SQL applier and
// the scheduler reading its sources' logs.
func buildSink(cfg *config.Config, s config.Sink, log *slog.Logger) *sinks.Sink {
	d := writerDialect(cfg, s)
	engines := map[string]string{}
	var logs []sinks.SourceLog
	for _, name := range s.From {
		for _, src := range cfg.Sources {
			if src.Name == name {
				engines[name] = src.Engine()
				if engines[name] == "mariadb" {
					engines[name] = "mysql" // one type family
				}
				logs = append(logs, sinks.SourceLog{Name: name, Prefix: src.TopicPrefix})
			}
		}
	}
	ac := applierConfig(s, engines)
	// A cluster member that owns the sink ends a previous owner's hold on
	// the follower (package cluster).
	ac.TakeOver = cfg.Cluster != nil
	applier := sqlsink.New(ac, d, log.With("sink", s.Name))
	workers := s.Workers
	if s.SQLite != nil {
		// SQLite has one writer: parallel workers would only queue on its
		// single connection. One worker still batches transactions.
		workers = 1
	}
	sc := sinks.Config{
		Name: s.Name, Sources: logs, Brokers: cfg.Kafka.Brokers, Workers: workers, DialTimeout: cfg.Kafka.DialTimeout, MaxMessageBytes: cfg.Kafka.MaxMessageBytes,
		Observer: newSinkMetrics(s.Name), KafkaSecurity: kafkaSecurity(cfg), CommitOrder: sinks.CommitOrder(s.CommitOrder),
	}
	if flt, err := s.Filter(); err != nil {
		// The config was checked when it loaded: the sink stops with it.
		sc.Filter = brokenFilter{err}
	} else if flt != nil {
		sc.Filter = flt
	}
	if s.DeadLetterTopic != "" {
		prefixes := map[string]string{}
		for _, l := range logs {
			prefixes[l.Name] = l.Prefix
		}
		sc.DeadLetter = kafka.NewDeadLetters(kafka.DeadLetterConfig{
			Brokers: cfg.Kafka.Brokers, Topic: s.DeadLetterTopic, Sink: s.Name, Prefixes: prefixes,
			ReplicationFactor: cfg.Kafka.ReplicationFactor, DialTimeout: cfg.Kafka.DialTimeout, Security: kafkaSecurity(cfg),
		})
	}
	return sinks.New(sc, applier, log)
}

// dialectFor is the follower engine of a sink.
func dialectFor(s config.Sink) sqlsink.Dialect {
	switch {
	case s.Postgres != nil:
		return pgsink.New(*s.Postgres)
	case s.MySQL != nil:
		return mysqlsink.New(*s.MySQL)
	}
	return sqlite.New(*s.SQLite)
}

// writerDialect is the dialect of a sink that writes: when a source
// ignores the sink's writes, its sessions name them (package origins).
func writerDialect(cfg *config.Config, s config.Sink) sqlsink.Dialect {
	d := dialectFor(s)
	if !cfg.Ignored(s.Name) {
		return d
	}
	switch d := d.(type) {
	case *pgsink.Dialect:
		d.TagWrites(s.Name)
	case *mysqlsink.Dialect:
		d.TagWrites(origins.ServerID(s.Name, s.MySQL.OriginServerID))
	}
	return d
}

// applierFor is the SQL applier of a sink, as the daemon and replay use it.
func applierFor(s config.Sink, engines map[string]string, d sqlsink.Dialect, log *slog.Logger) *sqlsink.Applier {
	return sqlsink.New(applierConfig(s, engines), d, log.With("sink", s.Name))
}

func applierConfig(s config.Sink, engines map[string]string) sqlsink.Config {
	c := sqlsink.Config{
		Sink: s.Name, SourceEngines: engines, Prefix: s.Tables.Prefix, Rename: s.Tables.Rename, DropColumns: s.DropColumns,
		NoFold: s.Fold != nil && !*s.Fold, Indexes: s.Indexes, TableIndexes: s.Tables.Indexes, ForeignKeys: s.FollowerForeignKeys,
	}
	if s.Conflicts != nil {
		c.Conflicts = sqlsink.Conflicts{Policy: s.Conflicts.Policy, Tables: s.Conflicts.Tables, Counters: s.Conflicts.Counters}
	}
	return c
}

var (
	sinkLagDesc = prometheus.NewDesc("walship_sink_lag_seconds",
		"Source commit time of the newest transaction in the log minus that of the last one applied; 0 when caught up.", []string{"sink", "source"}, nil)
	sinkWallLagDesc = prometheus.NewDesc("walship_sink_wall_lag_seconds",
		"Now minus the source commit time of the last applied transaction, while behind; 0 when caught up.", []string{"sink", "source"}, nil)
	sinkAppliedLSNDesc = prometheus.NewDesc("walship_sink_applied_lsn_bytes",
		"Source WAL position (PostgreSQL sources) of the last applied transaction, as a byte offset.", []string{"sink", "source"}, nil)
	sinkByteLagDesc = prometheus.NewDesc("walship_sink_lag_bytes",
		"WAL bytes between the newest transaction in the log and the last applied one (PostgreSQL sources).", []string{"sink", "source"}, nil)
	sinkQueuedDesc = prometheus.NewDesc("walship_sink_queued_transactions",
		"Transactions read from the log and not yet applied.", []string{"sink", "source"}, nil)
	sinkKafkaLagDesc = prometheus.NewDesc("walship_sink_kafka_lag_messages",
		"Messages between the sink's read position and the end of each topic-partition.", []string{"sink", "source", "partition"}, nil)
	sinkTxnsDesc = prometheus.NewDesc("walship_sink_applied_transactions_total",
		"Source transactions applied to the follower.", []string{"sink"}, nil)
	sinkChangesDesc = prometheus.NewDesc("walship_sink_applied_changes_total",
		"Row changes applied to the follower.", []string{"sink"}, nil)
	sinkDeadLetteredDesc = prometheus.NewDesc("walship_sink_dead_lettered_transactions_total",
		"Transactions the follower rejected that went to the sink's dead-letter topic.", []string{"sink"}, nil)
	sinkStatementsDesc = prometheus.NewDesc("walship_sink_statements_total",
		"Data statements sent to the follower (changes folded per key and gathered into multi-row statements).", []string{"sink"}, nil)
	sinkConflictsDesc = prometheus.NewDesc("walship_sink_conflicts_total",
		"Conflicts met by committed follower transactions (config conflicts:), by follower table, kind and resolution.", []string{"sink", "table", "kind", "resolution"}, nil)
	sinkYieldsDesc = prometheus.NewDesc("walship_sink_commit_yields_total",
		"Follower transactions that gave way to an earlier one waiting for their locks (commit_order source) and ran again.", []string{"sink"}, nil)
)

// sinkCollector exports every sink's Status; lag also counts what the
// sources running in this daemon captured.
type sinkCollector struct {
	sinks   map[string]*sinks.Sink
	sources map[string]source
}

func (c sinkCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{sinkLagDesc, sinkWallLagDesc, sinkAppliedLSNDesc, sinkByteLagDesc, sinkQueuedDesc, sinkKafkaLagDesc, sinkTxnsDesc, sinkChangesDesc, sinkDeadLetteredDesc, sinkYieldsDesc, sinkStatementsDesc, sinkConflictsDesc} {
		ch <- d
	}
}

func (c sinkCollector) Collect(ch chan<- prometheus.Metric) {
	for name, s := range c.sinks {
		st := s.Status()
		ch <- prometheus.MustNewConstMetric(sinkTxnsDesc, prometheus.CounterValue, float64(st.AppliedTxns), name)
		ch <- prometheus.MustNewConstMetric(sinkChangesDesc, prometheus.CounterValue, float64(st.AppliedChanges), name)
		ch <- prometheus.MustNewConstMetric(sinkDeadLetteredDesc, prometheus.CounterValue, float64(st.DeadLettered), name)
		ch <- prometheus.MustNewConstMetric(sinkYieldsDesc, prometheus.CounterValue, float64(st.CommitYields), name)
		ch <- prometheus.MustNewConstMetric(sinkStatementsDesc, prometheus.CounterValue, float64(st.Statements), name)
		for _, c := range st.Conflicts {
			ch <- prometheus.MustNewConstMetric(sinkConflictsDesc, prometheus.CounterValue, float64(c.Count), name, c.Table, c.Kind, c.Resolution)
		}
		for _, src := range st.Sources {
			var srcStatus *sources.Status
			if v, ok := c.sources[src.Source]; ok {
				st := v.Status()
				srcStatus = &st
			}
			ch <- prometheus.MustNewConstMetric(sinkLagDesc, prometheus.GaugeValue, httpapi.LagSeconds(src, srcStatus), name, src.Source)
			wall := 0.0
			if src.Applied.Seq.Less(src.Newest.Seq) && !src.Applied.CommitTime.IsZero() {
				wall = time.Since(src.Applied.CommitTime).Seconds()
			}
			ch <- prometheus.MustNewConstMetric(sinkWallLagDesc, prometheus.GaugeValue, wall, name, src.Source)
			ch <- prometheus.MustNewConstMetric(sinkQueuedDesc, prometheus.GaugeValue, float64(src.Queued), name, src.Source)
			if src.Applied.Pos.Engine == "postgres" || src.Newest.Pos.Engine == "postgres" {
				ch <- prometheus.MustNewConstMetric(sinkAppliedLSNDesc, prometheus.GaugeValue, float64(src.Applied.Pos.EndLSN), name, src.Source)
				lag := 0.0
				if src.Newest.Pos.EndLSN > src.Applied.Pos.EndLSN {
					lag = float64(src.Newest.Pos.EndLSN - src.Applied.Pos.EndLSN)
				}
				ch <- prometheus.MustNewConstMetric(sinkByteLagDesc, prometheus.GaugeValue, lag, name, src.Source)
			}
			for part, n := range src.KafkaLag {
				ch <- prometheus.MustNewConstMetric(sinkKafkaLagDesc, prometheus.GaugeValue, float64(n), name, src.Source, part)
			}
		}
	}
}
