// Package deploy holds deployment artifacts: the Grafana dashboard, the
// Prometheus alert rules and config, the systemd unit, the Docker image and
// the compose topology. This test validates what can be validated without
// any server: the files parse, they reference only metrics walship exports,
// they agree with each other (ports, paths, variables), and the external
// validators run when they are installed: promtool (check rules, check
// config, test rules; required when CI=true), systemd-analyze verify and
// docker compose config.
package deploy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.yaml.in/yaml/v3"

	"github.com/walship/walship/config"
)

// Files under test, relative to this directory.
const (
	dashboardFile   = "grafana/walship-dashboard.json"
	dsProvFile      = "grafana/provisioning/datasources/prometheus.yml"
	dashProvFile    = "grafana/provisioning/dashboards/walship.yml"
	alertsFile      = "prometheus/walship-alerts.yml"
	alertsTestFile  = "prometheus/walship-alerts.test.yml"
	promConfigFile  = "prometheus/prometheus.yml"
	unitFile        = "systemd/walship.service"
	sysusersFile    = "systemd/walship.sysusers"
	dockerfile      = "docker/Dockerfile"
	dockerignore    = "docker/Dockerfile.dockerignore"
	composeFile     = "docker/docker-compose.yml"
	dockerConfig    = "docker/walship.yaml"
	installedBinary = "/usr/local/bin/walship"
)

// walshipMetrics are the metric names walship exports (cmd/walship): the
// dashboard and the rules may use these and nothing else of walship's.
var walshipMetrics = []string{
	"walship_build_info",
	"walship_component_up",
	"walship_component_restarts_total",
	"walship_source_head_lsn_bytes",
	"walship_source_acked_lsn_bytes",
	"walship_source_lag_bytes",
	"walship_source_transactions_total",
	"walship_source_events_total",
	"walship_source_snapshot_rows_total",
	"walship_source_slot_retained_bytes",
	"walship_source_errors_total",
	"walship_source_failovers_total",
	"walship_sink_lag_seconds",
	"walship_sink_wall_lag_seconds",
	"walship_sink_applied_lsn_bytes",
	"walship_sink_lag_bytes",
	"walship_sink_queued_transactions",
	"walship_sink_kafka_lag_messages",
	"walship_sink_applied_transactions_total",
	"walship_sink_applied_changes_total",
	"walship_sink_statements_total",
	"walship_sink_errors_total",
}

// walshipHistograms are exported as histograms (_bucket, _sum, _count).
var walshipHistograms = []string{
	"walship_sink_apply_latency_seconds",
	"walship_sink_batch_transactions",
}

// knownMetrics is every name a query may select: walship's metrics, the
// process and Go collectors' (gathered from the same collectors the daemon
// registers, so the names are the real ones), and Prometheus' own "up".
func knownMetrics(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{"up": true}
	for _, m := range walshipMetrics {
		known[m] = true
	}
	for _, h := range walshipHistograms {
		for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
			known[h+suffix] = true
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather the process and Go collectors: %v", err)
	}
	for _, mf := range mfs {
		name := mf.GetName()
		known[name] = true
		switch mf.GetType().String() {
		case "HISTOGRAM", "GAUGE_HISTOGRAM":
			known[name+"_bucket"], known[name+"_sum"], known[name+"_count"] = true, true, true
		case "SUMMARY":
			known[name+"_sum"], known[name+"_count"] = true, true
		}
	}
	if !known["process_resident_memory_bytes"] || !known["go_goroutines"] {
		t.Fatalf("the process and Go collectors gave no process_resident_memory_bytes/go_goroutines")
	}
	return known
}

// ---------------------------------------------------------------------------
// A small PromQL scanner: enough to find every metric name an expression
// selects, and to reject unknown functions, without a PromQL parser (the
// module has none; promtool parses the rules properly when installed).

var (
	promFunctions = setOf("abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
		"avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh", "count_over_time",
		"day_of_month", "day_of_week", "day_of_year", "days_in_month", "deg", "delta", "deriv", "exp", "floor",
		"histogram_avg", "histogram_count", "histogram_fraction", "histogram_quantile", "histogram_stddev",
		"histogram_stdvar", "histogram_sum", "holt_winters", "hour", "idelta", "increase", "irate", "label_join",
		"label_replace", "last_over_time", "ln", "log10", "log2", "mad_over_time", "max_over_time", "min_over_time",
		"minute", "month", "pi", "predict_linear", "present_over_time", "quantile_over_time", "rad", "rate", "resets",
		"round", "scalar", "sgn", "sin", "sinh", "sort", "sort_by_label", "sort_by_label_desc", "sort_desc", "sqrt",
		"stddev_over_time", "stdvar_over_time", "sum_over_time", "tan", "tanh", "time", "timestamp", "vector", "year")
	promAggregations = setOf("sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
		"bottomk", "topk", "quantile", "limitk", "limit_ratio")
	promLabelListKeywords = setOf("by", "without", "on", "ignoring", "group_left", "group_right")
	promKeywords          = setOf("and", "or", "unless", "bool", "offset", "atan2", "inf", "nan")
	nameMatcher           = regexp.MustCompile(`__name__\s*(=~|!~|!=|=)\s*"([^"]*)"`)
)

func setOf(s ...string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}

func isIdentStart(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdent(c byte) bool      { return isIdentStart(c) || (c >= '0' && c <= '9') }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }

// skipString returns the index just past the string literal at s[i].
func skipString(s string, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated string at offset %d", i)
}

// skipGroup returns the index just past the bracket closing the one at s[i],
// skipping string literals.
func skipGroup(s string, i int) (int, error) {
	open, depth := s[i], 0
	closing := map[byte]byte{'(': ')', '{': '}', '[': ']'}[open]
	for j := i; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"' || c == '\'' || c == '`':
			k, err := skipString(s, j)
			if err != nil {
				return 0, err
			}
			j = k - 1
		case c == open:
			depth++
		case c == closing:
			depth--
			if depth == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, fmt.Errorf("unbalanced %q at offset %d", open, i)
}

// metricNames returns the metric names expr selects: bare names and
// __name__ matchers. Grafana variables ($x, ${x}, $__rate_interval) are
// skipped. An unknown function or unbalanced bracket is an error.
func metricNames(expr string) ([]string, error) {
	var names []string
	s, depth := expr, 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			j, err := skipString(s, i)
			if err != nil {
				return nil, err
			}
			i = j
		case c == '{' || c == '[':
			j, err := skipGroup(s, i)
			if err != nil {
				return nil, err
			}
			if c == '{' {
				for _, m := range nameMatcher.FindAllStringSubmatch(s[i:j], -1) {
					if m[1] != "=" && m[1] != "=~" {
						return nil, fmt.Errorf("negative __name__ matcher %q: name the metrics", m[0])
					}
					for _, alt := range strings.Split(m[2], "|") {
						if !regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`).MatchString(alt) {
							return nil, fmt.Errorf("__name__ matcher %q: use plain alternatives a|b", m[0])
						}
						names = append(names, alt)
					}
				}
			}
			i = j
		case c == '$':
			i++
			if i < len(s) && s[i] == '{' {
				j := strings.IndexByte(s[i:], '}')
				if j < 0 {
					return nil, fmt.Errorf("unterminated ${ at offset %d", i)
				}
				i += j + 1
			} else {
				for i < len(s) && isIdent(s[i]) {
					i++
				}
			}
		case isDigit(c) || (c == '.' && i+1 < len(s) && isDigit(s[i+1])):
			// A number, or a duration (5m, 1h30m) after offset.
			for i < len(s) && (isIdent(s[i]) || s[i] == '.' ||
				((s[i] == '+' || s[i] == '-') && (s[i-1] == 'e' || s[i-1] == 'E'))) {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			ident := s[i:j]
			k := j
			for k < len(s) && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r') {
				k++
			}
			call := k < len(s) && s[k] == '('
			lower := strings.ToLower(ident)
			switch {
			case promLabelListKeywords[lower]:
				if call { // by (a, b): label names, not metrics
					end, err := skipGroup(s, k)
					if err != nil {
						return nil, err
					}
					j = end
				}
			case promKeywords[lower], promAggregations[lower]:
			case call:
				if !promFunctions[ident] {
					return nil, fmt.Errorf("unknown function %s()", ident)
				}
			default:
				names = append(names, ident)
			}
			i = j
		case c == '(':
			depth++
			i++
		case c == ')':
			if depth--; depth < 0 {
				return nil, fmt.Errorf("unbalanced ')' at offset %d", i)
			}
			i++
		default:
			i++
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced '('")
	}
	return names, nil
}

// checkExpr reports every name expr selects that is not a known metric.
func checkExpr(t *testing.T, where, expr string, known map[string]bool) []string {
	t.Helper()
	names, err := metricNames(expr)
	if err != nil {
		t.Errorf("%s: %v in %q", where, err, expr)
		return nil
	}
	if len(names) == 0 {
		t.Errorf("%s: selects no metric: %q", where, expr)
	}
	for _, n := range names {
		if !known[n] {
			t.Errorf("%s: unknown metric %q in %q", where, n, expr)
		}
	}
	return names
}

func TestMetricNamesScanner(t *testing.T) {
	for expr, want := range map[string][]string{
		`max by (sink, source) (walship_sink_lag_seconds{sink=~"$sink"})`:                                  {"walship_sink_lag_seconds"},
		`sum(rate(a_total[$__rate_interval])) by (x) / on (x) group_left (y) b offset 5m > 1e9`:            {"a_total", "b"},
		`histogram_quantile(0.99, sum by (le) (rate(h_bucket{l="}"}[5m:1m])))`:                             {"h_bucket"},
		`label_replace(rate(c[5m]) > 0, "component", "source/$1", "source", "(.+)") unless on (x) up == 0`: {"c", "up"},
		`{__name__=~"m_one|m_two", instance=~"${instance}"}`:                                               {"m_one", "m_two"},
		`absent(up{job="walship"}) or vector(0)`:                                                           {"up"},
	} {
		got, err := metricNames(expr)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("metricNames(%q) = %q, %v; want %q", expr, got, err, want)
		}
	}
	for _, bad := range []string{`rat(x[5m])`, `sum(x`, `x{a="b}`, `{__name__!="x"}`} {
		if _, err := metricNames(bad); err == nil {
			t.Errorf("metricNames(%q): no error", bad)
		}
	}
}

// ---------------------------------------------------------------------------
// Grafana

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type grafanaPanel struct {
	ID          int                      `json:"id"`
	Type        string                   `json:"type"`
	Title       string                   `json:"title"`
	Datasource  *dsRef                   `json:"datasource"`
	GridPos     struct{ X, Y, W, H int } `json:"gridPos"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []struct {
		Expr       string `json:"expr"`
		RefID      string `json:"refId"`
		Datasource *dsRef `json:"datasource"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"` // a collapsed row's panels
}

type grafanaDashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *dsRef          `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Panels []grafanaPanel `json:"panels"`
}

const dsVar = "${DS_PROMETHEUS}"

func TestGrafanaDashboard(t *testing.T) {
	known := knownMetrics(t)
	data := readFile(t, dashboardFile)
	var d grafanaDashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: both must be set", d.UID, d.Title)
	}
	if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
		t.Errorf("schemaVersion %d, want about 39", d.SchemaVersion)
	}

	// Variables: the datasource, sink and source.
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var obj struct{ Query string }
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				t.Errorf("variable %s: query is neither a string nor {query}: %s", v.Name, v.Query)
			}
			q = obj.Query
		}
		switch v.Type {
		case "datasource":
			if v.Name != "DS_PROMETHEUS" || q != "prometheus" {
				t.Errorf("datasource variable %s of %q, want DS_PROMETHEUS of prometheus", v.Name, q)
			}
		case "query":
			if v.Datasource == nil || v.Datasource.UID != dsVar {
				t.Errorf("variable %s: datasource %+v, want uid %s", v.Name, v.Datasource, dsVar)
			}
			m := regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`).FindStringSubmatch(strings.TrimSpace(q))
			if m == nil {
				t.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, q)
				continue
			}
			checkExpr(t, "variable "+v.Name, m[1], known)
		}
	}
	for _, name := range []string{"DS_PROMETHEUS", "sink", "source"} {
		if vars[name] == "" {
			t.Errorf("no %s variable (have %v)", name, vars)
		}
	}

	// Panels: flatten collapsed rows; rows themselves carry no queries.
	var panels []grafanaPanel
	for _, p := range d.Panels {
		panels = append(panels, p)
		panels = append(panels, p.Panels...)
	}
	if len(panels) == 0 {
		t.Fatal("no panels")
	}
	ids := map[int]bool{}
	exprs := make([][]string, len(panels)) // metric names per panel
	for i, p := range panels {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if ids[p.ID] {
			t.Errorf("%s: duplicate id", where)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != dsVar || p.Datasource.Type != "prometheus" {
			t.Errorf("%s: datasource %+v, want {prometheus %s}", where, p.Datasource, dsVar)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no targets", where)
		}
		for _, tg := range p.Targets {
			if tg.Datasource != nil && tg.Datasource.UID != dsVar {
				t.Errorf("%s target %s: datasource %+v, want uid %s", where, tg.RefID, tg.Datasource, dsVar)
			}
			exprs[i] = append(exprs[i], checkExpr(t, where+" target "+tg.RefID, tg.Expr, known)...)
		}
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("%s: gridPos %+v outside the 24-column grid", where, g)
		}
		for _, q := range panels[:i] {
			h := q.GridPos
			if q.Type != "row" && g.X < h.X+h.W && h.X < g.X+g.W && g.Y < h.Y+h.H && h.Y < g.Y+g.H {
				t.Errorf("%s overlaps panel %d %q", where, q.ID, q.Title)
			}
		}
		if i > 0 { // array order is reading order
			prev := panels[i-1].GridPos
			if g.Y < prev.Y || (g.Y == prev.Y && g.X < prev.X) {
				t.Errorf("%s at %+v comes before the previous panel (%+v) on screen", where, g, prev)
			}
		}
	}

	// The lag panel is first, at the top left, in seconds.
	first := panels[0]
	if first.Type != "timeseries" || first.GridPos.X != 0 || first.GridPos.Y != 0 ||
		!slices.Contains(exprs[0], "walship_sink_lag_seconds") || first.FieldConfig.Defaults.Unit != "s" {
		t.Errorf("first panel %q (%s at %+v, unit %q, metrics %v): want the sink lag in seconds, a timeseries at the top left",
			first.Title, first.Type, first.GridPos, first.FieldConfig.Defaults.Unit, exprs[0])
	}

	// The sections come in this order.
	order := []struct {
		what    string
		metrics []string
	}{
		{"sink lag seconds", []string{"walship_sink_lag_seconds"}},
		{"lag bytes / queued transactions", []string{"walship_sink_lag_bytes", "walship_sink_queued_transactions"}},
		{"apply throughput", []string{"walship_sink_applied_transactions_total", "walship_sink_applied_changes_total"}},
		{"apply latency", []string{"walship_sink_apply_latency_seconds_bucket"}},
		{"source throughput and lag", []string{"walship_source_transactions_total", "walship_source_events_total", "walship_source_lag_bytes"}},
		{"slot retained bytes", []string{"walship_source_slot_retained_bytes"}},
		{"Kafka consumer lag", []string{"walship_sink_kafka_lag_messages"}},
		{"component up/state", []string{"walship_component_up"}},
		{"errors by class", []string{"walship_sink_errors_total", "walship_source_errors_total"}},
		{"process memory/CPU", []string{"process_resident_memory_bytes", "process_cpu_seconds_total"}},
	}
	last := -1
	for _, o := range order {
		at := -1
		for i := range panels {
			for _, m := range o.metrics {
				if slices.Contains(exprs[i], m) && (at < 0 || i < at) {
					at = i
				}
			}
		}
		switch {
		case at < 0:
			t.Errorf("no panel shows %s (%v)", o.what, o.metrics)
		case at < last:
			t.Errorf("%s (panel %q) comes before the previous section", o.what, panels[at].Title)
		default:
			last = at
		}
	}
	// Apply latency shows p50 and p99.
	var quantiles []string
	for _, p := range panels {
		for _, tg := range p.Targets {
			if strings.Contains(tg.Expr, "walship_sink_apply_latency_seconds_bucket") {
				if m := regexp.MustCompile(`histogram_quantile\(\s*([0-9.]+)`).FindStringSubmatch(tg.Expr); m != nil {
					quantiles = append(quantiles, m[1])
				}
			}
		}
	}
	if !slices.Contains(quantiles, "0.5") || !slices.Contains(quantiles, "0.99") {
		t.Errorf("apply latency quantiles %v, want 0.5 and 0.99", quantiles)
	}
}

func TestGrafanaProvisioning(t *testing.T) {
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, Type, URL, UID string
			IsDefault            bool `yaml:"isDefault"`
		} `yaml:"datasources"`
	}
	decodeYAML(t, dsProvFile, &ds, false)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || !ds.Datasources[0].IsDefault {
		t.Errorf("%s: want one default prometheus datasource, got %+v", dsProvFile, ds.Datasources)
	} else if u := ds.Datasources[0].URL; u != "http://prometheus:9090" {
		t.Errorf("%s: url %q, want the compose service http://prometheus:9090", dsProvFile, u)
	}

	var dp struct {
		Providers []struct {
			Name, Type string
			Options    struct{ Path string }
		} `yaml:"providers"`
	}
	decodeYAML(t, dashProvFile, &dp, false)
	if len(dp.Providers) != 1 || dp.Providers[0].Type != "file" {
		t.Fatalf("%s: want one file provider, got %+v", dashProvFile, dp.Providers)
	}
	// docker-compose.yml mounts the dashboard JSON into the provider's path.
	c := loadCompose(t)
	want := filepath.Join(dp.Providers[0].Options.Path, filepath.Base(dashboardFile))
	if src, ok := c.mountSource("grafana", want); !ok || filepath.Clean(src) != filepath.Clean(dashboardFile) {
		t.Errorf("compose grafana: %s is not mounted from %s (got %q)", want, dashboardFile, src)
	}
	if src, ok := c.mountSource("grafana", "/etc/grafana/provisioning"); !ok || filepath.Clean(src) != "grafana/provisioning" {
		t.Errorf("compose grafana: /etc/grafana/provisioning is not mounted from grafana/provisioning (got %q)", src)
	}
}

// ---------------------------------------------------------------------------
// Prometheus

type alertRule struct {
	Alert         string            `yaml:"alert"`
	Record        string            `yaml:"record"`
	Expr          string            `yaml:"expr"`
	For           *string           `yaml:"for"`
	KeepFiringFor string            `yaml:"keep_firing_for"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
}

type ruleFile struct {
	Groups []struct {
		Name     string      `yaml:"name"`
		Interval string      `yaml:"interval"`
		Rules    []alertRule `yaml:"rules"`
	} `yaml:"groups"`
}

var promDuration = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`)

// Prometheus renders annotations as Go templates with these functions and
// this preamble (rules/alerting.go, template/template.go).
var promTemplateFuncs = func() template.FuncMap {
	stub := func(...any) any { return "" }
	fm := template.FuncMap{}
	for _, f := range []string{"query", "first", "label", "value", "strvalue", "args", "reReplaceAll", "safeHtml",
		"match", "title", "toUpper", "toLower", "graphLink", "tableLink", "sortByLabel", "humanize", "humanize1024",
		"humanizeDuration", "humanizePercentage", "humanizeTimestamp", "toTime", "pathPrefix", "externalURL",
		"parseDuration", "stripPort", "stripDomain", "urlQueryEscape"} {
		fm[f] = stub
	}
	return fm
}()

const promTemplatePreamble = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"

func TestAlertRules(t *testing.T) {
	known := knownMetrics(t)
	var rf ruleFile
	decodeYAML(t, alertsFile, &rf, true)
	if len(rf.Groups) == 0 {
		t.Fatal("no rule groups")
	}
	seen := map[string]bool{}
	for _, g := range rf.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: needs a name and rules", g.Name)
		}
		for _, r := range g.Rules {
			where := "rule " + r.Alert
			if r.Alert == "" {
				t.Errorf("a rule in group %s is not an alert (record %q)", g.Name, r.Record)
				continue
			}
			seen[r.Alert] = true
			if strings.TrimSpace(r.Expr) == "" {
				t.Errorf("%s: no expr", where)
			} else {
				checkExpr(t, where, r.Expr, known)
			}
			if r.For == nil || !promDuration.MatchString(*r.For) {
				t.Errorf("%s: for %v: want a duration such as 5m", where, r.For)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" && s != "info" {
				t.Errorf("%s: labels.severity %q: want critical, warning or info", where, s)
			}
			for _, a := range []string{"summary", "description"} {
				text := r.Annotations[a]
				if strings.TrimSpace(text) == "" {
					t.Errorf("%s: no annotations.%s", where, a)
					continue
				}
				if _, err := template.New(a).Funcs(promTemplateFuncs).Option("missingkey=zero").Parse(promTemplatePreamble + text); err != nil {
					t.Errorf("%s: annotations.%s: %v", where, a, err)
				}
			}
		}
	}
	for _, name := range []string{"WalshipSinkLagHigh", "WalshipSinkFailed", "WalshipSinkPaused",
		"WalshipSourceDisconnected", "WalshipSlotRetentionGrowing", "WalshipSourceFailover", "WalshipDown"} {
		if !seen[name] {
			t.Errorf("no alert %s", name)
		}
	}
}

type promConfig struct {
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

func TestPrometheusConfig(t *testing.T) {
	var pc promConfig
	decodeYAML(t, promConfigFile, &pc, false)
	// rule_files are relative to the config file: in compose the directory
	// is mounted whole, so they must be files of this directory.
	var rules bool
	for _, rf := range pc.RuleFiles {
		matches, err := filepath.Glob(filepath.Join(filepath.Dir(promConfigFile), rf))
		if err != nil || len(matches) == 0 {
			t.Errorf("rule_files %q matches no file beside %s", rf, promConfigFile)
		}
		rules = rules || slices.Contains(matches, alertsFile)
	}
	if !rules {
		t.Errorf("rule_files %v does not load %s", pc.RuleFiles, alertsFile)
	}
	// The walship job (WalshipDown selects up{job="walship"}) scrapes the
	// compose service on the port walship.yaml listens on.
	cfg := loadDockerConfig(t)
	_, port, _ := net.SplitHostPort(cfg.HTTP.Listen)
	var job bool
	for _, sc := range pc.ScrapeConfigs {
		if sc.JobName != "walship" {
			continue
		}
		job = true
		if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
			t.Errorf("job walship: metrics_path %q, want /metrics", sc.MetricsPath)
		}
		var targets []string
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
		if !slices.Contains(targets, "walship:"+port) {
			t.Errorf("job walship: targets %v, want walship:%s (compose service, http.listen of %s)", targets, port, dockerConfig)
		}
	}
	if !job {
		t.Error(`no scrape job "walship" (WalshipDown selects up{job="walship"})`)
	}
	if !strings.Contains(string(readFile(t, alertsFile)), `up{job="walship"}`) {
		t.Errorf(`%s: WalshipDown must select up{job="walship"}`, alertsFile)
	}
}

// TestPromtool runs promtool's own checks and the rules' unit tests. CI
// (CI=true) requires promtool: deploy/local/install-deps.sh installs
// Debian's prometheus package, which ships it.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not on the PATH (CI=true requires it): apt-get install prometheus, as deploy/local/install-deps.sh does")
		}
		t.Skip("promtool is not on the PATH: the rules and config were only parsed (apt-get install prometheus to run promtool)")
	}
	// Read here too, so that go test's cache sees a change to any of them.
	for _, f := range []string{alertsFile, alertsTestFile, promConfigFile} {
		readFile(t, f)
	}
	for _, args := range [][]string{
		{"check", "rules", filepath.Base(alertsFile)},
		{"check", "config", filepath.Base(promConfigFile)},
		{"test", "rules", filepath.Base(alertsTestFile)},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = filepath.Dir(alertsFile)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		} else {
			t.Logf("promtool %s: ok", strings.Join(args, " "))
		}
	}
}

// ---------------------------------------------------------------------------
// systemd

// unitSettings parses a unit file into section -> key -> values.
func unitSettings(t *testing.T, data []byte) map[string]map[string][]string {
	t.Helper()
	units := map[string]map[string][]string{}
	var section string
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			units[section] = map[string][]string{}
		case section != "" && strings.Contains(line, "="):
			k, v, _ := strings.Cut(line, "=")
			units[section][strings.TrimSpace(k)] = append(units[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		default:
			t.Errorf("%s:%d: cannot parse %q", unitFile, n+1, line)
		}
	}
	return units
}

func TestSystemdUnit(t *testing.T) {
	data := readFile(t, unitFile)
	u := unitSettings(t, data)
	svc := u["Service"]
	if svc == nil || u["Unit"] == nil || u["Install"] == nil {
		t.Fatalf("%s: want [Unit], [Service] and [Install]", unitFile)
	}
	const conf = "/etc/walship/walship.yaml"
	want := map[string]string{
		"User":             "walship",
		"ExecStartPre":     installedBinary + " check -c " + conf,
		"ExecStart":        installedBinary + " run -c " + conf,
		"Restart":          "on-failure",
		"KillSignal":       "SIGTERM",
		"StateDirectory":   "walship",
		"NoNewPrivileges":  "yes",
		"ProtectSystem":    "strict",
		"ProtectHome":      "yes",
		"PrivateTmp":       "yes",
		"ReadWritePaths":   "/var/lib/walship",
		"WorkingDirectory": "/var/lib/walship",
	}
	for k, v := range want {
		if !slices.Contains(svc[k], v) {
			t.Errorf("[Service] %s=%v, want %s", k, svc[k], v)
		}
	}
	for _, k := range []string{"RestartSec", "LoadCredential", "EnvironmentFile"} {
		if len(svc[k]) == 0 {
			t.Errorf("[Service] has no %s=", k)
		}
	}
	// systemd must wait longer than walship's graceful drain.
	stop := svc["TimeoutStopSec"]
	if len(stop) != 1 {
		t.Fatalf("[Service] TimeoutStopSec=%v: want one value", stop)
	}
	d, err := time.ParseDuration(stop[0])
	if err != nil {
		if n, err2 := strconv.Atoi(stop[0]); err2 == nil {
			d, err = time.Duration(n)*time.Second, nil
		}
	}
	if err != nil || d <= config.DefaultShutdownTimeout {
		t.Errorf("TimeoutStopSec=%s: want more than shutdown_timeout's default %s", stop[0], config.DefaultShutdownTimeout)
	}
	if sysusers := string(readFile(t, sysusersFile)); !regexp.MustCompile(`(?m)^u\s+walship\s`).MatchString(sysusers) {
		t.Errorf("%s: no sysusers line for user walship", sysusersFile)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not on the PATH: the unit was only parsed")
	}
	// verify checks that every Exec command is an executable file, and the
	// binary is not installed on a build machine. The copy under test runs
	// this test's own executable instead: an existing executable is all
	// verify looks at, and nothing is started.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyUnit := filepath.Join(dir, filepath.Base(unitFile))
	if err := os.WriteFile(copyUnit, bytes.ReplaceAll(data, []byte(installedBinary), []byte(self)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(analyze, "verify", "--man=no", copyUnit)
	out, err := cmd.CombinedOutput()
	var problems []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, filepath.Base(unitFile)) {
			problems = append(problems, line)
		} else if strings.TrimSpace(line) != "" {
			t.Logf("systemd-analyze verify (not about walship.service): %s", line)
		}
	}
	if err != nil || len(problems) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unitFile, err, strings.Join(problems, "\n"))
	}
}

// ---------------------------------------------------------------------------
// Docker

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command         []string          `yaml:"command"`
	Environment     map[string]string `yaml:"environment"`
	Volumes         []string          `yaml:"volumes"`
	StopGracePeriod string            `yaml:"stop_grace_period"`
}

type compose struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

func loadCompose(t *testing.T) compose {
	t.Helper()
	var c compose
	decodeYAML(t, composeFile, &c, false)
	return c
}

// mountSource returns the source of service's volume mounted at target,
// relative to this directory for bind mounts.
func (c compose) mountSource(service, target string) (string, bool) {
	for _, v := range c.Services[service].Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == target {
			src := parts[0]
			if strings.HasPrefix(src, ".") {
				src = filepath.Join(filepath.Dir(composeFile), src)
			}
			return src, true
		}
	}
	return "", false
}

// composeEnv resolves ${NAME:-default} in a compose environment value to its
// default (what compose uses when the variable is not set).
var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-([^}]*))?\}`)

func composeEnv(t *testing.T, env map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		out[k] = composeVar.ReplaceAllStringFunc(v, func(ref string) string {
			m := composeVar.FindStringSubmatch(ref)
			if m[2] == "" {
				t.Errorf("compose environment %s=%s: ${%s} has no default", k, v, m[1])
			}
			return m[3]
		})
	}
	return out
}

func loadDockerConfig(t *testing.T) *config.Config {
	t.Helper()
	env := composeEnv(t, loadCompose(t).Services["walship"].Environment)
	cfg, err := config.Parse(dockerConfig, readFile(t, dockerConfig), func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
	if err != nil {
		t.Fatalf("%s with the walship service's environment: %v", dockerConfig, err)
	}
	return cfg
}

func TestCompose(t *testing.T) {
	c := loadCompose(t)
	for _, name := range []string{"postgres", "mysql", "kafka", "walship", "prometheus", "grafana"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("no service %s", name)
		}
	}
	// Every bind-mounted file and the build exist; named volumes are declared.
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src := strings.Split(v, ":")[0]
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				if _, err := os.Stat(filepath.Join(filepath.Dir(composeFile), src)); err != nil {
					t.Errorf("service %s: volume %s: %v", name, v, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("service %s: named volume %s is not declared", name, src)
			}
		}
		if s.Build != nil {
			df := filepath.Join(filepath.Dir(composeFile), s.Build.Context, s.Build.Dockerfile)
			if filepath.Clean(df) != filepath.Clean(filepath.Join("..", "deploy", dockerfile)) {
				t.Errorf("service %s builds %s, want %s", name, df, dockerfile)
			}
		}
	}

	pg := strings.Join(c.Services["postgres"].Command, " ")
	if !strings.Contains(pg, "wal_level=logical") {
		t.Errorf("postgres command %q: no wal_level=logical", pg)
	}
	my := c.Services["mysql"]
	if !strings.HasPrefix(my.Image, "mysql:8") {
		t.Errorf("mysql image %q, want mysql:8.x", my.Image)
	}
	for _, flag := range []string{"--binlog-format=ROW", "--binlog-row-image=FULL", "--binlog-row-metadata=FULL",
		"--gtid-mode=ON", "--enforce-gtid-consistency=ON", "--server-id=1"} {
		if !slices.Contains(my.Command, flag) {
			t.Errorf("mysql command %v: no %s", my.Command, flag)
		}
	}
	k := c.Services["kafka"]
	// Kafka 4 removed protocol versions segmentio/kafka-go uses.
	if !strings.HasPrefix(k.Image, "apache/kafka:3.") {
		t.Errorf("kafka image %q, want apache/kafka:3.x", k.Image)
	}
	if !strings.Contains(k.Environment["KAFKA_PROCESS_ROLES"], "controller") {
		t.Errorf("kafka: KAFKA_PROCESS_ROLES %q, want KRaft broker,controller", k.Environment["KAFKA_PROCESS_ROLES"])
	}
	if id, err := base64.RawURLEncoding.DecodeString(k.Environment["CLUSTER_ID"]); err != nil || len(id) != 16 {
		t.Errorf("kafka: CLUSTER_ID %q is not a base64 UUID", k.Environment["CLUSTER_ID"])
	}

	// walship.yaml agrees with the topology.
	cfg := loadDockerConfig(t)
	w := c.Services["walship"]
	if _, ok := c.mountSource("walship", cfg.StateDir); !ok {
		t.Errorf("walship: state_dir %s is not a volume", cfg.StateDir)
	}
	if src, ok := c.mountSource("walship", "/etc/walship/walship.yaml"); !ok || filepath.Clean(src) != dockerConfig {
		t.Errorf("walship: /etc/walship/walship.yaml is not mounted from %s", dockerConfig)
	}
	if strings.Join(w.Command, " ") != "run -c /etc/walship/walship.yaml" {
		t.Errorf("walship command %v", w.Command)
	}
	if grace, err := time.ParseDuration(w.StopGracePeriod); err != nil || grace <= cfg.ShutdownTimeout {
		t.Errorf("walship stop_grace_period %q: want more than shutdown_timeout %s", w.StopGracePeriod, cfg.ShutdownTimeout)
	}
	host, port, err := net.SplitHostPort(cfg.HTTP.Listen)
	if err != nil || (host != "0.0.0.0" && host != "") {
		t.Errorf("http.listen %q: must listen on all interfaces to be scraped", cfg.HTTP.Listen)
	}
	advertised := strings.TrimPrefix(k.Environment["KAFKA_ADVERTISED_LISTENERS"], "PLAINTEXT://")
	if !slices.Equal(cfg.Kafka.Brokers, []string{advertised}) {
		t.Errorf("kafka.brokers %v, want the advertised listener %s", cfg.Kafka.Brokers, advertised)
	}
	for _, s := range cfg.Sources {
		switch {
		case s.Postgres != nil:
			if u, err := url.Parse(s.Postgres.DSN.Reveal()); err != nil || u.Hostname() != "postgres" {
				t.Errorf("source %s: the DSN's host is not the postgres service", s.Name)
			}
		case s.MySQL != nil:
			if h, _, _ := net.SplitHostPort(s.MySQL.Addr); h != "mysql" {
				t.Errorf("source %s: addr %s is not the mysql service", s.Name, s.MySQL.Addr)
			}
		}
	}

	// The image's health check asks the port walship.yaml listens on.
	df := string(readFile(t, dockerfile))
	if !strings.Contains(df, "http://127.0.0.1:"+port+"/healthz") {
		t.Errorf("%s: HEALTHCHECK does not ask http://127.0.0.1:%s/healthz", dockerfile, port)
	}
}

func TestDockerfile(t *testing.T) {
	df := string(readFile(t, dockerfile))
	var froms []string
	var user string
	for _, line := range strings.Split(df, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "FROM" {
			froms = append(froms, f[1])
		}
		if len(f) >= 2 && f[0] == "USER" {
			user = f[1]
		}
	}
	if len(froms) != 2 || !strings.HasPrefix(froms[0], "golang:${GO_VERSION}") || !strings.HasPrefix(froms[1], "debian:") ||
		!strings.HasSuffix(froms[1], "-slim") {
		t.Errorf("FROM %v: want a golang builder and a debian slim runtime", froms)
	}
	if !regexp.MustCompile(`(?m)^ARG GO_VERSION=1\.26`).MatchString(df) {
		t.Error("the builder is not golang:1.26")
	}
	for _, s := range []string{"CGO_ENABLED=1", "HEALTHCHECK", "/healthz", "ENTRYPOINT", "COPY --from=build"} {
		if !strings.Contains(df, s) {
			t.Errorf("%s: no %s", dockerfile, s)
		}
	}
	if user == "" || strings.HasPrefix(user, "root") || strings.HasPrefix(user, "0") {
		t.Errorf("%s: runs as %q, want a non-root USER", dockerfile, user)
	}
	ignore := strings.Fields(string(readFile(t, dockerignore)))
	for _, p := range []string{".local-env", ".git", "bin"} {
		if !slices.Contains(ignore, p) {
			t.Errorf("%s: %s is not excluded from the build context", dockerignore, p)
		}
	}
}

// TestComposeConfig runs `docker compose config -q`: it resolves and
// validates the file without a Docker engine. Skipped without the compose
// plugin (the standalone v1 docker-compose is not used: it predates the
// top-level name key).
func TestComposeConfig(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("no docker client: docker-compose.yml was only parsed")
	}
	if out, err := exec.Command(docker, "compose", "version").CombinedOutput(); err != nil {
		t.Skipf("the docker client has no compose plugin (%s): docker-compose.yml was only parsed",
			strings.TrimSpace(firstLine(out)))
	}
	cmd := exec.Command(docker, "compose", "-f", filepath.Base(composeFile), "config", "-q")
	cmd.Dir = filepath.Dir(composeFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("docker compose config -q: %v\n%s", err, out)
	}
}

// ---------------------------------------------------------------------------

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// decodeYAML decodes path into v; strict rejects keys v does not have.
func decodeYAML(t *testing.T, path string, v any, strict bool) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readFile(t, path)))
	dec.KnownFields(strict)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}
