package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/walship/walship/origins"
	"log/slog"
	"slices"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/walship/walship/config"
	"github.com/walship/walship/filter"
	"github.com/walship/walship/httpapi"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sources"
	mysqlsource "github.com/walship/walship/sources/mysql"
	pgsource "github.com/walship/walship/sources/postgres"
	"github.com/walship/walship/supervise"
)

// source is what the daemon runs and reports for each configured source.
type source interface {
	Run(ctx context.Context, ready func()) error
	Status() sources.Status
}

// lockedSource runs a source under its lock in the state directory, so a
// second process with the same state directory (another daemon, replay
// --resnapshot) is refused instead of capturing the source twice.
type lockedSource struct {
	source
	dir, name string
}

func (s lockedSource) Run(ctx context.Context, ready func()) error {
	release, err := offsets.LockSource(s.dir, s.name)
	if err != nil {
		if errors.Is(err, offsets.ErrSourceLocked) {
			return supervise.Permanent(err)
		}
		return err
	}
	defer release()
	return s.source.Run(ctx, ready)
}

// Backfill passes a request for an incremental snapshot to the source, if
// it takes them (httpapi.Backfiller).
func (s lockedSource) Backfill(ctx context.Context, req sources.BackfillRequest) (string, error) {
	b, ok := s.source.(httpapi.Backfiller)
	if !ok {
		return "", httpapi.ErrNoBackfill
	}
	return b.Backfill(ctx, req)
}

// ControlBackfill passes a pause, resume or cancel to the source.
func (s lockedSource) ControlBackfill(ctx context.Context, id, action string) error {
	b, ok := s.source.(httpapi.Backfiller)
	if !ok {
		return httpapi.ErrNoBackfill
	}
	return b.ControlBackfill(ctx, id, action)
}

// buildSource wires one configured source: its engine, its log on Kafka
// and the shared checkpoint store, under the source's lock.
func buildSource(cfg *config.Config, s config.Source, store sources.Checkpoints, log *slog.Logger, ahead followersAhead) (source, error) {
	src, err := buildEngineSource(cfg, s, store, log, ahead)
	if err != nil {
		return nil, err
	}
	return lockedSource{source: src, dir: cfg.StateDir, name: s.Name}, nil
}

// followersAhead names the followers whose applied position on source
// holds any of gtids (nil: not known here).
type followersAhead func(source string, gtids []string) []string

func buildEngineSource(cfg *config.Config, s config.Source, store sources.Checkpoints, log *slog.Logger, ahead followersAhead) (source, error) {
	switch {
	case s.Postgres != nil:
		pg := s.Postgres
		pc, err := pgconn.ParseConfig(pg.DSN.Reveal())
		if err != nil {
			return nil, fmt.Errorf("source %s: %s", s.Name, config.DSNProblem(pg.DSN.Reveal(), err))
		}
		var acceptGap offsets.LSN
		if pg.AcceptSlotGapAt != "" {
			if acceptGap, err = offsets.ParseLSN(pg.AcceptSlotGapAt); err != nil {
				return nil, fmt.Errorf("source %s: accept_slot_gap_at: %w", s.Name, err)
			}
		}
		enc := envelope.NewEncoder(envelope.Source{
			Name: s.Name, Connector: "postgresql", Logical: s.TopicPrefix, Database: pc.Database,
		}, envelopeOptions(cfg))
		newLog := func() (sources.Log, error) { return kafka.NewPublisher(sourceLogConfig(cfg, s, store), enc), nil }
		flt, err := sourceFilter(s)
		if err != nil {
			return nil, err
		}
		return pgsource.New(pgsource.Config{
			Filter: flt, Name: s.Name, DSN: pg.DSN.Reveal(), Password: pg.Password.Reveal(),
			Slot: pg.Slot, Publication: pg.Publication, Tables: pg.Tables, Snapshot: pg.Snapshot, SignalTable: pg.SignalTable,
			StateDir: cfg.StateDir, HeartbeatInterval: pg.HeartbeatInterval, Sync: pg.Durability == "sync",
			DecodingWorkMem: pg.DecodingWorkMem, AcceptSlotGapAt: acceptGap, AcceptSystemID: pg.AcceptSystemID, FailoverSlot: pg.FailoverSlot, SnapshotWorkers: pg.SnapshotWorkers, SnapshotChunkRows: pg.SnapshotChunkRows,
			TakeSlot: cfg.Cluster != nil, IgnoreOrigin: ignoreOrigin(s),
		}, newLog, store, log), nil
	case s.MySQL != nil:
		my := s.MySQL
		// TLS verifies each address's own host name (the source sets it
		// per connection), or tls.server_name when set.
		tlsConf, err := my.TLS.Config("")
		if err != nil {
			return nil, fmt.Errorf("source %s: mysql.%w", s.Name, err)
		}
		enc := envelope.NewEncoder(envelope.Source{
			Name: s.Name, Connector: my.Flavor, Logical: s.TopicPrefix,
		}, envelopeOptions(cfg))
		newLog := func() (sources.Log, error) { return kafka.NewPublisher(sourceLogConfig(cfg, s, store), enc), nil }
		flt, err := sourceFilter(s)
		if err != nil {
			return nil, err
		}
		return mysqlsource.New(mysqlsource.Config{
			Filter: flt, Name: s.Name, Addr: my.Addr, User: my.User, Password: my.Password.Reveal(), ServerID: my.ServerID,
			Flavor: my.Flavor, Tables: my.Tables, Snapshot: my.Snapshot, StateDir: cfg.StateDir,
			IgnoreServerIDs: ignoreServerIDs(cfg, s),
			Semisync:        my.Durability == "semisync", FromReplica: my.StreamFrom == "replica", SignalTable: my.SignalTable, TLS: tlsConf, RawCharsets: my.RawCharsets, SnapshotWorkers: my.SnapshotWorkers, SnapshotChunkRows: my.SnapshotChunkRows,
			FollowersAhead: func(missing []string) []string {
				if ahead == nil {
					return nil
				}
				return ahead(s.Name, missing)
			},
		}, newLog, store, log), nil
	}
	return nil, fmt.Errorf("source %s: no engine configured", s.Name)
}

// ignoreOrigin tells a PostgreSQL source the replication origins of the
// sinks whose writes it ignores (nil: none).
func ignoreOrigin(s config.Source) func(string) bool {
	if len(s.IgnoreWritesOf) == 0 {
		return nil
	}
	return origins.PGMatcher(s.IgnoreWritesOf)
}

// ignoreServerIDs are the server ids of the sinks whose writes a MySQL or
// MariaDB source ignores.
func ignoreServerIDs(cfg *config.Config, s config.Source) map[uint32]string {
	if len(s.IgnoreWritesOf) == 0 {
		return nil
	}
	ids := map[uint32]string{}
	for _, sk := range cfg.Sinks {
		if slices.Contains(s.IgnoreWritesOf, sk.Name) && sk.MySQL != nil {
			ids[origins.ServerID(sk.Name, sk.MySQL.OriginServerID)] = sk.Name
		}
	}
	return ids
}

// sourceFilter is the filter of s's columns: and where: rules, nil
// without any.
func sourceFilter(s config.Source) (sources.ChangeFilter, error) {
	rules := config.FilterRules(s.Columns, s.Where)
	if rules == nil {
		return nil, nil
	}
	f, err := filter.New(rules, []byte(s.HashKey.Reveal()))
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", s.Name, err)
	}
	return f, nil
}

// sourceLogConfig is the log of source s. A cluster member writes the
// epoch it owns the source under (cluster.SourceStore) on every record,
// read when the source (re)starts its log: after it took the source over.
func sourceLogConfig(cfg *config.Config, s config.Source, store sources.Checkpoints) kafka.Config {
	kc := kafkaConfig(cfg, s.TopicPrefix)
	if e, ok := store.(interface{ Epoch() int64 }); ok {
		kc.Epoch = e.Epoch()
	}
	return kc
}

func kafkaConfig(cfg *config.Config, prefix string) kafka.Config {
	return kafka.Config{
		Brokers: cfg.Kafka.Brokers, TopicPrefix: prefix,
		Partitions: cfg.Kafka.Partitions, ReplicationFactor: cfg.Kafka.ReplicationFactor,
		DialTimeout: cfg.Kafka.DialTimeout, Security: kafkaSecurity(cfg), MaxMessageBytes: cfg.Kafka.MaxMessageBytes,
		Rows: cfg.Kafka.Envelope == "rows",
	}
}

// kafkaSecurity is the configured TLS and SASL to the brokers. The files
// were checked when the config loaded; one that broke since fails every
// connection with its error, never a plaintext one.
func kafkaSecurity(cfg *config.Config) kafka.Security {
	sec, err := newKafkaSecurity(cfg.Kafka)
	if err != nil {
		return kafka.Security{TLS: brokenTLS(err)}
	}
	return sec
}

// brokenTLS fails every TLS handshake with err: TLS was asked for and its
// files could not be loaded, so no connection may be made at all.
func brokenTLS(err error) *tls.Config {
	return &tls.Config{VerifyConnection: func(tls.ConnectionState) error { return err }}
}

func newKafkaSecurity(k config.Kafka) (kafka.Security, error) { return kafka.NewSecurity(k) }

var (
	srcHeadDesc    = prometheus.NewDesc("walship_source_head_lsn_bytes", "Newest WAL position the PostgreSQL server reported, as a byte offset.", []string{"source"}, nil)
	srcAckedDesc   = prometheus.NewDesc("walship_source_acked_lsn_bytes", "WAL position acknowledged to the server (durable in Kafka), as a byte offset.", []string{"source"}, nil)
	srcLagDesc     = prometheus.NewDesc("walship_source_lag_bytes", "WAL bytes between the server's head and the acknowledged position.", []string{"source"}, nil)
	srcTxnsDesc    = prometheus.NewDesc("walship_source_transactions_total", "Transactions written to the log.", []string{"source"}, nil)
	srcIgnoredDesc = prometheus.NewDesc("walship_source_ignored_transactions_total", "Transactions left out: written by sinks the source ignores (ignore_writes_of).", []string{"source"}, nil)
	srcEventsDesc  = prometheus.NewDesc("walship_source_events_total", "Row changes written to the log.", []string{"source"}, nil)
	srcSnapDesc    = prometheus.NewDesc("walship_source_snapshot_rows_total", "Rows read by initial snapshots.", []string{"source"}, nil)
	srcRetainDesc  = prometheus.NewDesc("walship_source_slot_retained_bytes", "Bytes of WAL the PostgreSQL slot holds back on the server (current WAL position minus restart_lsn).", []string{"source"}, nil)
	srcFailDesc    = prometheus.NewDesc("walship_source_failovers_total", "New leaders the source went on with (a promoted standby on a newer timeline) since the daemon started.", []string{"source"}, nil)
)

// sourceCollector exports every source's Status.
type sourceCollector struct{ sources map[string]source }

func (c sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{srcHeadDesc, srcAckedDesc, srcLagDesc, srcTxnsDesc, srcIgnoredDesc, srcEventsDesc, srcSnapDesc, srcRetainDesc, srcFailDesc} {
		ch <- d
	}
}

func (c sourceCollector) Collect(ch chan<- prometheus.Metric) {
	for name, s := range c.sources {
		st := s.Status()
		ch <- prometheus.MustNewConstMetric(srcHeadDesc, prometheus.GaugeValue, float64(st.HeadBytes), name)
		ch <- prometheus.MustNewConstMetric(srcAckedDesc, prometheus.GaugeValue, float64(st.AckedBytes), name)
		lag := 0.0
		if st.HeadBytes > st.AckedBytes {
			lag = float64(st.HeadBytes - st.AckedBytes)
		}
		ch <- prometheus.MustNewConstMetric(srcLagDesc, prometheus.GaugeValue, lag, name)
		ch <- prometheus.MustNewConstMetric(srcTxnsDesc, prometheus.CounterValue, float64(st.Txns), name)
		ch <- prometheus.MustNewConstMetric(srcIgnoredDesc, prometheus.CounterValue, float64(st.IgnoredTxns), name)
		ch <- prometheus.MustNewConstMetric(srcEventsDesc, prometheus.CounterValue, float64(st.Events), name)
		ch <- prometheus.MustNewConstMetric(srcSnapDesc, prometheus.CounterValue, float64(st.SnapshotRows), name)
		ch <- prometheus.MustNewConstMetric(srcFailDesc, prometheus.CounterValue, float64(st.Failovers), name)
		if st.Engine == "postgres" {
			ch <- prometheus.MustNewConstMetric(srcRetainDesc, prometheus.GaugeValue, float64(st.RetainedBytes), name)
		}
	}
}

// envelopeOptions is the record format the config asks for. The config was
// validated, so the decimal mode parses.
func envelopeOptions(cfg *config.Config) envelope.Options {
	mode, _ := envelope.ParseDecimalMode(cfg.Kafka.DecimalHandling)
	return envelope.Options{Schemas: cfg.Kafka.Envelope == "json-schema", Version: "walship-" + version, Decimal: mode}
}
