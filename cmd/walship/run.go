package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/walship/walship/cluster"
	"github.com/walship/walship/config"
	"github.com/walship/walship/httpapi"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/sinks"
	"github.com/walship/walship/sources"
	mysqlsource "github.com/walship/walship/sources/mysql"
	"github.com/walship/walship/supervise"
)

func newRunCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the daemon: every configured source and sink, and the HTTP server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return withCode(exitUsage, err)
			}
			if _, err := newKafkaSecurity(cfg.Kafka); err != nil {
				return withCode(exitUsage, err)
			}
			log := newLogger(cmd.ErrOrStderr(), cfg.Log)
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return withCode(exitFailure, runDaemon(ctx, cfg, log))
		},
	}
	configFlag(cmd, &path)
	return cmd
}

// runDaemon runs until ctx is cancelled (a signal), then drains every
// component within cfg.ShutdownTimeout.
func runDaemon(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	ver, rev := buildInfo()
	log.Info("walship starting", "version", ver, "revision", rev, "config", cfg.File,
		"sources", len(cfg.Sources), "sinks", len(cfg.Sinks))
	applyMemoryLimit(cfg, log)

	group := supervise.New(context.Background(), log, supervise.Options{})
	reg := newRegistry(group)

	var store *offsets.Store
	if len(cfg.Sources) > 0 {
		var err error
		if store, err = offsets.OpenStore(cfg.StateDir); err != nil {
			return err
		}
		defer store.Close()
	}
	// In cluster mode every component runs only while this member owns it.
	var member *cluster.Member
	var mirror *cluster.Mirror
	if cfg.Cluster != nil {
		ccfg := clusterConfig(cfg)
		member = cluster.New(ccfg, log)
		if store != nil {
			mirror = cluster.NewMirror(ccfg, store, member.Name())
		}
		log.Info("cluster member", "cluster", cfg.Cluster.Name, "member", member.Name(), "components", len(ccfg.Components))
	}
	owned := func(name string, claim func(context.Context) error, run supervise.RunFunc) supervise.RunFunc {
		if member == nil {
			return run
		}
		return member.Owned(name, claim, run)
	}
	running := map[string]source{}
	// The sinks are built before any source runs: a MariaDB source that
	// finds its new leader behind names the followers ahead of it.
	runningSinks := map[string]*sinks.Sink{}
	for _, s := range cfg.Sinks {
		runningSinks[s.Name] = buildSink(cfg, s, log)
	}
	ahead := func(source string, gtids []string) []string { return sinksHolding(runningSinks, source, gtids) }
	var bad []error // every source that cannot be built, not just the first
	for _, s := range cfg.Sources {
		if s.External != "" {
			log.Info("source captured by another daemon; reading its log only", "source", s.Name, "topic_prefix", s.TopicPrefix)
			continue
		}
		var cps sources.Checkpoints = store
		if mirror != nil {
			cps = mirror.Store(s.Name)
		}
		src, err := buildSource(cfg, s, cps, log, ahead)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		running[s.Name] = src
	}
	if len(bad) > 0 {
		return errors.Join(bad...)
	}
	if member != nil {
		group.Go("cluster", member.Run)
		reg.MustRegister(clusterCollector{member})
	}
	for _, s := range cfg.Sources {
		if src, ok := running[s.Name]; ok {
			var claim func(context.Context) error
			if mirror != nil {
				name := s.Name
				claim = func(ctx context.Context) error { return mirror.Claim(ctx, name) }
			}
			group.Go("source/"+s.Name, owned("source/"+s.Name, claim, src.Run))
		}
	}
	reg.MustRegister(sourceCollector{running})
	for _, s := range cfg.Sinks {
		group.Go("sink/"+s.Name, owned("sink/"+s.Name, nil, runningSinks[s.Name].Run))
	}
	reg.MustRegister(sinkCollector{runningSinks, running})
	if cfg.HTTP.Listen != "off" {
		srcViews := map[string]httpapi.SourceView{}
		for k, v := range running {
			srcViews[k] = v
		}
		sinkViews := map[string]httpapi.SinkView{}
		for k, v := range runningSinks {
			sinkViews[k] = v
		}
		engines := map[string]offsets.Engine{}
		for _, s := range cfg.Sources {
			engines[s.Name] = s.PositionEngine()
		}
		mon := httpapi.NewMonitor(ver, srcViews, sinkViews, engines, group)
		if member != nil {
			mon.InCluster(member)
		}
		srv := httpapi.New(cfg.HTTP.Listen, cfg.HTTP.Token.Reveal(), cfg.HTTP.Pprof, log, reg, group, mon)
		// The monitor runs outside the group: it is not a pipeline, and
		// /readyz should not wait on it.
		monCtx, stopMon := context.WithCancel(context.Background())
		defer stopMon()
		go mon.Run(monCtx, func() {})
		group.Go("http", srv.Run)
	}

	<-ctx.Done()
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	if err := group.Stop(cfg.ShutdownTimeout); err != nil {
		log.Error("shutdown incomplete", "err", err)
		return err
	}
	log.Info("stopped cleanly")
	return nil
}

// clusterConfig is this daemon's view of its cluster: the components are
// every source it captures and every sink, named as the supervisor names
// them.
func clusterConfig(cfg *config.Config) cluster.Config {
	var comps []string
	for _, s := range cfg.Sources {
		if s.External == "" {
			comps = append(comps, "source/"+s.Name)
		}
	}
	for _, s := range cfg.Sinks {
		comps = append(comps, "sink/"+s.Name)
	}
	sort.Strings(comps)
	sec := kafkaSecurity(cfg)
	c := cfg.Cluster
	return cluster.Config{
		Name: c.Name, Member: c.Member, Advertise: c.Advertise, Components: comps,
		Brokers: cfg.Kafka.Brokers, Dialer: sec.Dialer(cfg.Kafka.DialTimeout), Transport: sec.Transport(cfg.Kafka.DialTimeout, 0),
		ReplicationFactor: cfg.Kafka.ReplicationFactor,
		SessionTimeout:    c.SessionTimeout, HeartbeatInterval: c.HeartbeatInterval, RebalanceTimeout: c.RebalanceTimeout,
	}
}

// newRegistry builds the Prometheus registry: process and Go runtime
// metrics, build info, and each component's state.
func newRegistry(group *supervise.Group) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	ver, rev := buildInfo()
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "walship_build_info",
		Help: "Build information; the value is always 1.",
	}, []string{"version", "revision"})
	build.WithLabelValues(ver, rev).Set(1)
	reg.MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
		build,
		componentCollector{group},
		errorCollector{group},
		applyLatency, batchSize, appliedRows,
	)
	return reg
}

var (
	componentUpDesc = prometheus.NewDesc("walship_component_up",
		"1 when the component (http, source/NAME, sink/NAME) is running, 0 otherwise.", []string{"component", "state"}, nil)
	componentRestartsDesc = prometheus.NewDesc("walship_component_restarts_total",
		"Times the supervisor restarted the component after an error.", []string{"component"}, nil)
)

// componentCollector exports the supervisor's view of each component.
type componentCollector struct{ group *supervise.Group }

func (c componentCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- componentUpDesc
	ch <- componentRestartsDesc
}

func (c componentCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.group.Status() {
		up := 0.0
		if s.State == supervise.Running {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(componentUpDesc, prometheus.GaugeValue, up, s.Name, string(s.State))
		ch <- prometheus.MustNewConstMetric(componentRestartsDesc, prometheus.CounterValue, float64(s.Restarts), s.Name)
	}
}

var (
	clusterOwnedDesc = prometheus.NewDesc("walship_cluster_owned",
		"1 for each component (source/NAME, sink/NAME) this cluster member runs, 0 for those another member runs (cluster mode).", []string{"component"}, nil)
	clusterGenerationDesc = prometheus.NewDesc("walship_cluster_generation",
		"The Kafka group generation this cluster member is in: it grows by one at each membership change (cluster mode).", nil, nil)
	clusterMembersDesc = prometheus.NewDesc("walship_cluster_members",
		"Members of the cluster, as this member sees them (cluster mode).", nil, nil)
)

// clusterCollector exports this member's view of its cluster.
type clusterCollector struct{ m *cluster.Member }

func (c clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- clusterOwnedDesc
	ch <- clusterGenerationDesc
	ch <- clusterMembersDesc
}

func (c clusterCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st := c.m.Status(ctx)
	for comp, owner := range st.Owners {
		v := 0.0
		if owner == st.Member {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(clusterOwnedDesc, prometheus.GaugeValue, v, comp)
	}
	ch <- prometheus.MustNewConstMetric(clusterGenerationDesc, prometheus.GaugeValue, float64(st.Generation))
	ch <- prometheus.MustNewConstMetric(clusterMembersDesc, prometheus.GaugeValue, float64(len(st.Members)))
}

// sinksHolding names the sinks whose applied position on source holds any
// of gtids (MariaDB GTIDs a new leader lacks), with the GTIDs each holds.
func sinksHolding(running map[string]*sinks.Sink, source string, gtids []string) []string {
	var names []string
	for name, sk := range running {
		for _, ss := range sk.Status().Sources {
			if ss.Source != source {
				continue
			}
			if held, err := mysqlsource.HeldGTIDs([]offsets.Position{ss.Applied.Pos}, gtids); err == nil && len(held) > 0 {
				names = append(names, fmt.Sprintf("%s (%s)", name, strings.Join(held, ", ")))
			}
		}
	}
	sort.Strings(names)
	return names
}

// applyMemoryLimit sets the runtime's soft memory limit from memory_limit,
// unless GOMEMLIMIT set one (the runtime applied it at start).
func applyMemoryLimit(cfg *config.Config, log *slog.Logger) {
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		log.Info("memory limit from GOMEMLIMIT", "limit", v)
		return
	}
	n, ok, err := cfg.MemoryLimitBytes()
	if err != nil || !ok {
		return // validated when the config loaded; off
	}
	debug.SetMemoryLimit(n)
}
