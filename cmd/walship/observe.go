package main

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/supervise"
)

// sinkMetrics implements sinks.Observer for one sink.
type sinkMetrics struct {
	latency prometheus.Observer
	batch   prometheus.Observer
	rows    map[ordering.Op]prometheus.Counter
}

var (
	applyLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "walship_sink_apply_latency_seconds",
		Help:    "Time from a transaction's commit on the source to its commit on the follower (snapshot chunks excluded).",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
	}, []string{"sink"})
	batchSize = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "walship_sink_batch_transactions",
		Help:    "Source transactions grouped in one follower transaction.",
		Buckets: []float64{1, 2, 5, 10, 20, 50, 100},
	}, []string{"sink"})
	appliedRows = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "walship_sink_applied_rows_total",
		Help: "Row changes applied to the follower, by operation (insert, update, delete, truncate, snapshot).",
	}, []string{"sink", "op"})
)

func newSinkMetrics(sink string) *sinkMetrics {
	m := &sinkMetrics{latency: applyLatency.WithLabelValues(sink), batch: batchSize.WithLabelValues(sink), rows: map[ordering.Op]prometheus.Counter{}}
	for op, name := range map[ordering.Op]string{ordering.OpInsert: "insert", ordering.OpUpdate: "update", ordering.OpDelete: "delete",
		ordering.OpTruncate: "truncate", ordering.OpRead: "snapshot"} {
		m.rows[op] = appliedRows.WithLabelValues(sink, name)
	}
	return m
}

func (m *sinkMetrics) Batch(txns int, changes map[ordering.Op]int, latencies []time.Duration) {
	m.batch.Observe(float64(txns))
	for op, n := range changes {
		if c, ok := m.rows[op]; ok {
			c.Add(float64(n))
		}
	}
	for _, l := range latencies {
		m.latency.Observe(l.Seconds())
	}
}

var (
	sourceErrorsDesc = prometheus.NewDesc("walship_source_errors_total",
		"Errors that stopped a source run, by class: retryable (restarted with backoff) or permanent (stopped for good).", []string{"source", "class"}, nil)
	sinkErrorsDesc = prometheus.NewDesc("walship_sink_errors_total",
		"Errors that stopped a sink run, by class: unavailable (the follower; retried) or rejected (a change or a lock; stopped for good).", []string{"sink", "class"}, nil)
)

// errorCollector exports error counts from the supervisor's view.
type errorCollector struct{ group *supervise.Group }

func (c errorCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sourceErrorsDesc
	ch <- sinkErrorsDesc
}

func (c errorCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.group.Status() {
		failed := 0.0
		if s.State == supervise.Failed {
			failed = 1
		}
		switch {
		case strings.HasPrefix(s.Name, "source/"):
			name := strings.TrimPrefix(s.Name, "source/")
			ch <- prometheus.MustNewConstMetric(sourceErrorsDesc, prometheus.CounterValue, float64(s.Restarts), name, "retryable")
			ch <- prometheus.MustNewConstMetric(sourceErrorsDesc, prometheus.CounterValue, failed, name, "permanent")
		case strings.HasPrefix(s.Name, "sink/"):
			name := strings.TrimPrefix(s.Name, "sink/")
			ch <- prometheus.MustNewConstMetric(sinkErrorsDesc, prometheus.CounterValue, float64(s.Restarts), name, "unavailable")
			ch <- prometheus.MustNewConstMetric(sinkErrorsDesc, prometheus.CounterValue, failed, name, "rejected")
		}
	}
}
